/* OpenCL dispatch of the basic family: elementwise, sum/mean, mse, expand,
 * reduce_to, sgd. */
#include "cl_backend.h"


cl_long8 clg_cl_long8(const int64_t v[CLG_MAX_DIMS])
{
    cl_long8 r;
    for (int d = 0; d < CLG_MAX_DIMS; d++) r.s[d] = v[d];
    return r;
}

bool clg_same_shape(const clg_node *a, const clg_node *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* y = f(a, b) with the op's constant f[0] (clg_compare's comparison) */
static clg_status run_binary(clg_cl_backend *be, int k, const clg_node *A, const clg_node *B, const clg_node *Y)
{
    cl_mem a = MEM(A->buf), b = MEM(B->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    float c = Y->f[0];
    bool fa = clg_same_shape(A, Y), fb = clg_same_shape(B, Y);
    if ((fa || A->numel == 1) && (fb || B->numel == 1)) {
        cl_long sa = fa ? 1 : 0, sb = fb ? 1 : 0;
        clg_karg args[] = {ARG(a), ARG(b), ARG(y), ARG(n), ARG(sa), ARG(sb), ARG(c)};
        return clg_cl_launch(be, k, args, 7, clg_cl_vector_items(be, n), 0);
    }
    int64_t dims[CLG_MAX_DIMS], sa[CLG_MAX_DIMS], sb[CLG_MAX_DIMS];
    clg_padded_shape(Y, dims);
    clg_broadcast_strides(A, Y, sa);
    clg_broadcast_strides(B, Y, sb);
    clg_collapse_axes(dims, 2, (int64_t *const[]){sa, sb});
    cl_long8 d8 = clg_cl_long8(dims), a8 = clg_cl_long8(sa), b8 = clg_cl_long8(sb);
    clg_karg args[] = {ARG(a), ARG(b), ARG(y), ARG(n), ARG(d8), ARG(a8), ARG(b8), ARG(c)};
    return clg_cl_launch(be, k + 1, args, 8, (size_t)n, 0);
}

static clg_status run_where(clg_cl_backend *be, const clg_node *C, const clg_node *A, const clg_node *B,
                            const clg_node *Y)
{
    cl_mem c = MEM(C->buf), a = MEM(A->buf), b = MEM(B->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    bool fc = clg_same_shape(C, Y), fa = clg_same_shape(A, Y), fb = clg_same_shape(B, Y);
    if ((fc || C->numel == 1) && (fa || A->numel == 1) && (fb || B->numel == 1)) {
        cl_long sc = fc, sa = fa, sb = fb;
        clg_karg args[] = {ARG(c), ARG(a), ARG(b), ARG(y), ARG(n), ARG(sc), ARG(sa), ARG(sb)};
        return clg_cl_launch(be, K_where_f, args, 8, (size_t)n, 0);
    }
    int64_t dims[CLG_MAX_DIMS], sc[CLG_MAX_DIMS], sa[CLG_MAX_DIMS], sb[CLG_MAX_DIMS];
    clg_padded_shape(Y, dims);
    clg_broadcast_strides(C, Y, sc);
    clg_broadcast_strides(A, Y, sa);
    clg_broadcast_strides(B, Y, sb);
    clg_collapse_axes(dims, 3, (int64_t *const[]){sc, sa, sb});
    cl_long8 d8 = clg_cl_long8(dims), c8 = clg_cl_long8(sc), a8 = clg_cl_long8(sa), b8 = clg_cl_long8(sb);
    clg_karg args[] = {ARG(c), ARG(a), ARG(b), ARG(y), ARG(n), ARG(d8), ARG(c8), ARG(a8), ARG(b8)};
    return clg_cl_launch(be, K_where_bc, args, 9, (size_t)n, 0);
}

static clg_status run_unary(clg_cl_backend *b, int k, const clg_node *X, const clg_node *Y, float c)
{
    cl_mem x = MEM(X->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    clg_karg args[] = {ARG(x), ARG(y), ARG(n), ARG(c)};
    return clg_cl_launch(b, k, args, 4, clg_cl_vector_items(b, n), 0);
}

/* y[0] = scale * sum over n elements of x (or of (x - x2)^2 when x2 is set). */
clg_status clg_cl_reduce_all(clg_cl_backend *b, cl_mem x, cl_mem x2, cl_long n, float scale, cl_mem y)
{
    cl_int m;
    clg_status s;
    if (x2) {
        clg_karg args[] = {ARG(x), ARG(x2), ARG(n), {0}, {0}};
        s = clg_cl_partials(b, K_sqdiff_partial, args, 5, n, &m);
    } else {
        clg_karg args[] = {ARG(x), ARG(n), {0}, {0}};
        s = clg_cl_partials(b, K_sum_partial, args, 4, n, &m);
    }
    if (s != CLG_OK) return s;
    clg_karg fin[] = {ARG(b->partials), ARG(m), ARG(scale), ARG(y), {0}};
    return clg_cl_final(b, K_sum_final, fin, 5);
}

clg_status clg_cl_partials(clg_cl_backend *b, int k, clg_karg *args, int nargs, cl_long n, cl_int *groups)
{
    const size_t w = b->kwg[k];
    size_t g = ((size_t)n + w - 1) / w;
    if (g > CLG_MAX_PARTIALS) g = CLG_MAX_PARTIALS;
    if (g > b->max_global / w) g = b->max_global / w;
    if (g < 1) g = 1; /* a launch is at least one work-group (clg_cl_launch) */
    args[nargs - 2] = (clg_karg)ARG(b->partials);
    args[nargs - 1] = (clg_karg)LOCAL_ARG(w * sizeof(float));
    *groups = (cl_int)g;
    return clg_cl_launch(b, k, args, nargs, g * w, w);
}

clg_status clg_cl_final(clg_cl_backend *b, int k, clg_karg *args, int nargs)
{
    const size_t w = b->kwg[k];
    args[nargs - 1] = (clg_karg)LOCAL_ARG(w * sizeof(float));
    return clg_cl_launch(b, k, args, nargs, w, w);
}

int64_t clg_cl_reduce_to_geometry(const clg_node *X, const clg_node *Y, int64_t od[CLG_MAX_DIMS],
                                   int64_t st[CLG_MAX_DIMS], int64_t rd[CLG_MAX_DIMS])
{
    int64_t sd[CLG_MAX_DIMS], stride = 1, k = 1;
    clg_padded_shape(X, sd);
    clg_padded_shape(Y, od);
    for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
        st[d] = stride;
        stride *= sd[d];
        rd[d] = od[d] == 1 ? sd[d] : 1;
        k *= rd[d];
    }
    return k;
}

static clg_status run_reduce_to(clg_cl_backend *b, const clg_node *X, const clg_node *Y)
{
    if (Y->numel == 1) return clg_cl_reduce_all(b, MEM(X->buf), NULL, X->numel, 1.0f, MEM(Y->buf));
    int64_t od[CLG_MAX_DIMS], st[CLG_MAX_DIMS], rd[CLG_MAX_DIMS];
    cl_long k = clg_cl_reduce_to_geometry(X, Y, od, st, rd);
    cl_mem x = MEM(X->buf), y = MEM(Y->buf);
    cl_long m = Y->numel;
    cl_long8 o8 = clg_cl_long8(od), s8 = clg_cl_long8(st), r8 = clg_cl_long8(rd);
    clg_karg args[] = {ARG(x), ARG(y), ARG(m), ARG(o8), ARG(s8), ARG(r8), ARG(k)};
    return clg_cl_launch(b, K_reduce_to, args, 7, (size_t)m, 0);
}

clg_status clg_cl_basic(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = n->src[0] >= 0 ? &nodes[n->src[0]] : NULL;
    const clg_node *s1 = n->src[1] >= 0 ? &nodes[n->src[1]] : NULL;
    switch (n->op) {
    case CLG_OP_ADD: return run_binary(b, K_add, s0, s1, n);
    case CLG_OP_SUB: return run_binary(b, K_sub, s0, s1, n);
    case CLG_OP_MUL: return run_binary(b, K_mul, s0, s1, n);
    case CLG_OP_DIV: return run_binary(b, K_div, s0, s1, n);
    case CLG_OP_MAXIMUM: return run_binary(b, K_maximum, s0, s1, n);
    case CLG_OP_MINIMUM: return run_binary(b, K_minimum, s0, s1, n);
    case CLG_OP_TIE_WEIGHT: return run_binary(b, K_tie_weight, s0, s1, n);
    case CLG_OP_COMPARE: return run_binary(b, K_compare, s0, s1, n);
    case CLG_OP_WHERE: return run_where(b, s0, s1, &nodes[n->src[2]], n);
    case CLG_OP_RELU_GRAD: return run_binary(b, K_relu_backward, s0, s1, n);
    case CLG_OP_SIGMOID_GRAD: return run_binary(b, K_sigmoid_backward, s0, s1, n);
    case CLG_OP_TANH_GRAD: return run_binary(b, K_tanh_backward, s0, s1, n);
    case CLG_OP_NEG: return run_unary(b, K_neg, s0, n, 0.0f);
    case CLG_OP_SCALE: return run_unary(b, K_scale, s0, n, n->f[0]);
    case CLG_OP_SQUARE: return run_unary(b, K_square, s0, n, 0.0f);
    case CLG_OP_EXP: return run_unary(b, K_exp_f, s0, n, 0.0f);
    case CLG_OP_LOG: return run_unary(b, K_log_f, s0, n, 0.0f);
    case CLG_OP_SQRT: return run_unary(b, K_sqrt_f, s0, n, 0.0f);
    case CLG_OP_RELU: return run_unary(b, K_relu, s0, n, 0.0f);
    case CLG_OP_SIGMOID: return run_unary(b, K_sigmoid, s0, n, 0.0f);
    case CLG_OP_TANH: return run_unary(b, K_tanh_f, s0, n, 0.0f);
    case CLG_OP_SUM: return clg_cl_reduce_all(b, MEM(s0->buf), NULL, s0->numel, 1.0f, MEM(n->buf));
    case CLG_OP_MEAN:
        return clg_cl_reduce_all(b, MEM(s0->buf), NULL, s0->numel, (float)(1.0 / (double)s0->numel), MEM(n->buf));
    case CLG_OP_MSE:
        return clg_cl_reduce_all(b, MEM(s0->buf), MEM(s1->buf), s0->numel, (float)(1.0 / (double)s0->numel),
                              MEM(n->buf));
    case CLG_OP_MSE_GRAD: {
        cl_mem p = MEM(s0->buf), t = MEM(s1->buf), gy = MEM(nodes[n->src[2]].buf), y = MEM(n->buf);
        cl_long cnt = n->numel;
        clg_karg args[] = {ARG(p), ARG(t), ARG(gy), ARG(y), ARG(cnt)};
        return clg_cl_launch(b, K_mse_backward, args, 5, (size_t)cnt, 0);
    }
    case CLG_OP_EXPAND: {
        int64_t dims[CLG_MAX_DIMS], st[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, st);
        clg_collapse_axes(dims, 1, (int64_t *const[]){st});
        cl_mem x = MEM(s0->buf), y = MEM(n->buf);
        cl_long cnt = n->numel;
        cl_long8 d8 = clg_cl_long8(dims), s8 = clg_cl_long8(st);
        clg_karg args[] = {ARG(x), ARG(y), ARG(cnt), ARG(d8), ARG(s8)};
        return clg_cl_launch(b, K_expand, args, 5, (size_t)cnt, 0);
    }
    case CLG_OP_REDUCE_TO: return run_reduce_to(b, s0, n);
    case CLG_OP_SGD: {
        cl_mem w = MEM(n->buf), gr = MEM(s1->buf);
        cl_long cnt = n->numel;
        float lr = n->f[0];
        clg_karg args[] = {ARG(w), ARG(gr), ARG(cnt), ARG(lr)};
        return clg_cl_launch(b, K_sgd_update, args, 4, (size_t)cnt, 0);
    }
    default:
        return clg_cl_unsupported(b, n);
    }
}

