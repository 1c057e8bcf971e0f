/* Op constructors: shape checks and recording. Nothing runs here. */
#include "internal.h"

#include <string.h>

clg_tensor clg_shape_error(clg_graph *g, const char *op, const clg_node *a, const clg_node *b, const char *why)
{
    char sa[96], sb[96] = "";
    clg_shape_string(a->ndim, a->shape, sa, sizeof sa);
    if (b) clg_shape_string(b->ndim, b->shape, sb, sizeof sb);
    clg_error(g->ctx, CLG_ERR_SHAPE, "%s: shapes %s%s%s %s", op, sa, b ? " and " : "", sb, why);
    return clg_graph_fail(g, CLG_ERR_SHAPE);
}

static bool begin(clg_graph *g, const char *op)
{
    return clg_graph_check(g, op) == CLG_OK;
}

/* An elementwise op's dtype, as PyTorch promotes: its sources' 16-bit type
 * when they share one, else float32. */
static clg_dtype promoted(const clg_graph *g, const clg_node *proto, int nsrc)
{
    clg_dtype d = CLG_F32;
    for (int i = 0; i < nsrc; i++) {
        if (proto->src[i] < 0) continue;
        const clg_dtype s = g->nodes[proto->src[i]].dtype;
        if (!clg_dtype_16(s) || (i > 0 && s != d)) return CLG_F32;
        d = s;
    }
    return d;
}

bool clg_tensor_ok_for(clg_graph *g, clg_tensor t, clg_op op)
{
    const char *name = clg_op_name(op);
    return clg_op_elementwise(op) ? clg_tensor_ok_float(g, t, name) : clg_tensor_ok(g, t, name);
}

clg_tensor clg_record(clg_graph *g, clg_node *proto, int nsrc)
{
    if (clg_op_elementwise(proto->op)) proto->dtype = promoted(g, proto, nsrc);
    proto->phase = g->phase;
    for (int i = 0; i < nsrc; i++) {
        if (proto->src[i] < 0) continue;
        const clg_node *s = &g->nodes[proto->src[i]];
        if (s->phase > proto->phase) proto->phase = s->phase;
        proto->requires_grad |= s->requires_grad;
    }
    if (proto->dtype == CLG_I32) proto->requires_grad = false; /* integers have no gradient */
    for (int i = nsrc; i < CLG_MAX_SRC; i++) proto->src[i] = -1;
    /* planned: the buffer comes at prepare (core/plan.c) */
    clg_tensor t = clg_tref(g, clg_graph_add_node(g, proto, !g->plan_on));
    if (t.id >= 0) {
        g->nodes[t.id].training = g->training;
        g->nodes[t.id].deferred = g->plan_on;
    }
    return t;
}

/* NumPy broadcasting of a and b into out's ndim and shape: align on the
 * right; extents equal or one of them 1. */
static bool broadcast_shape(const clg_node *na, const clg_node *nb, clg_node *out)
{
    int ndim = na->ndim > nb->ndim ? na->ndim : nb->ndim;
    int64_t shape[CLG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        int ia = na->ndim - ndim + d, ib = nb->ndim - ndim + d;
        int64_t ea = ia >= 0 ? na->shape[ia] : 1, eb = ib >= 0 ? nb->shape[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1) return false;
        shape[d] = ea == 1 ? eb : ea;
    }
    out->ndim = ndim;
    memcpy(out->shape, shape, (size_t)ndim * sizeof *shape);
    return true;
}

clg_tensor clg_op_binary(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b)
{
    const char *name = clg_op_name(op);
    if (!begin(g, name)) return CLG_FAILED;
    if (!clg_tensor_ok_for(g, a, op) || !clg_tensor_ok_for(g, b, op)) return CLG_FAILED;
    const clg_node *na = &g->nodes[a.id], *nb = &g->nodes[b.id];
    clg_node proto = {.op = op, .src = {a.id, b.id}};

    if (!broadcast_shape(na, nb, &proto)) return clg_shape_error(g, name, na, nb, "cannot be broadcast together");
    if (op == CLG_OP_MSE) {
        if (na->ndim != nb->ndim || memcmp(na->shape, nb->shape, (size_t)na->ndim * sizeof(int64_t)))
            return clg_shape_error(g, name, na, nb, "differ (pred and target must have the same shape)");
        proto.ndim = 0; /* a scalar, as PyTorch's */
    }
    return clg_record(g, &proto, 2);
}

clg_tensor clg_op_unary(clg_graph *g, clg_op op, clg_tensor x, float c)
{
    const char *name = clg_op_name(op);
    if (!begin(g, name)) return CLG_FAILED;
    if (!clg_tensor_ok_for(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    clg_node proto = {.op = op, .src = {x.id}, .f = {c}};
    if (op == CLG_OP_SUM || op == CLG_OP_MEAN) {
        proto.ndim = 0;
    } else {
        proto.ndim = nx->ndim;
        memcpy(proto.shape, nx->shape, sizeof proto.shape);
    }
    return clg_record(g, &proto, 1);
}

/* EXPAND (x broadcast up to shape) and REDUCE_TO (x summed down to shape). */
clg_tensor clg_op_shaped(clg_graph *g, clg_op op, clg_tensor x, int ndim, const int64_t *shape)
{
    const char *name = clg_op_name(op);
    if (!begin(g, name)) return CLG_FAILED;
    if (!clg_tensor_ok_for(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    clg_node proto = {.op = op, .src = {x.id}, .ndim = ndim};
    memcpy(proto.shape, shape, (size_t)ndim * sizeof *shape);
    const clg_node *big = op == CLG_OP_EXPAND ? &proto : nx, *small = op == CLG_OP_EXPAND ? nx : &proto;
    bool ok = small->ndim <= big->ndim;
    for (int d = 0; ok && d < small->ndim; d++) {
        int64_t es = small->shape[small->ndim - 1 - d], eb = big->shape[big->ndim - 1 - d];
        ok = es == eb || es == 1;
    }
    if (!ok) return clg_shape_error(g, name, nx, &proto, "are not broadcast-compatible");
    return clg_record(g, &proto, 1);
}

/* Gradient ops with two or three same-shaped sources (except MSE_GRAD's
 * one-element dloss): the output takes the first source's shape. */
static clg_tensor grad_op(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, clg_tensor c)
{
    int nsrc = clg_op_nsrc(op);
    if (!clg_tensor_ok_for(g, a, op) || !clg_tensor_ok_for(g, b, op)) return CLG_FAILED;
    if (nsrc > 2 && !clg_tensor_ok_for(g, c, op)) return CLG_FAILED;
    const clg_node *na = &g->nodes[a.id];
    clg_node proto = {.op = op, .src = {a.id, b.id, c.id}, .ndim = na->ndim};
    memcpy(proto.shape, na->shape, sizeof proto.shape);
    return clg_record(g, &proto, nsrc);
}

clg_tensor clg_op_grad2(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b)
{
    return grad_op(g, op, a, b, CLG_FAILED);
}

clg_tensor clg_op_grad3(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, clg_tensor c)
{
    return grad_op(g, op, a, b, c);
}

clg_tensor clg_op_update(clg_graph *g, clg_op op, clg_tensor w, clg_tensor grad, float lr)
{
    const clg_node *nw = &g->nodes[w.id];
    clg_node proto = {.op = op, .src = {w.id, grad.id, -1, -1}, .ndim = nw->ndim, .f = {lr}};
    memcpy(proto.shape, nw->shape, sizeof proto.shape);
    proto.buf = nw->buf; /* in place: the update writes the parameter */
    proto.phase = CLG_RUN_UPDATE;
    return clg_tref(g, clg_graph_add_node(g, &proto, false));
}

clg_tensor clg_add(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_ADD, a, b); }
clg_tensor clg_sub(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_SUB, a, b); }
clg_tensor clg_mul(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_MUL, a, b); }
clg_tensor clg_div(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_DIV, a, b); }
clg_tensor clg_mse_loss(clg_graph *g, clg_tensor p, clg_tensor t) { return clg_op_binary(g, CLG_OP_MSE, p, t); }

clg_tensor clg_maximum(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_MAXIMUM, a, b); }
clg_tensor clg_minimum(clg_graph *g, clg_tensor a, clg_tensor b) { return clg_op_binary(g, CLG_OP_MINIMUM, a, b); }

/* A mask of a and b: 0/1 (compare) or maximum's tie weights. Neither is
 * differentiable: the result never requires a gradient, so backward
 * stops there (its derivative is zero wherever it exists). */
static clg_tensor mask_op(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, int code)
{
    clg_tensor t = clg_op_binary(g, op, a, b);
    if (t.id >= 0) {
        g->nodes[t.id].requires_grad = false;
        g->nodes[t.id].f[0] = (float)code;
        g->nodes[t.id].i[0] = code;
    }
    return t;
}

clg_tensor clg_compare(clg_graph *g, clg_tensor a, clg_tensor b, clg_comparison op)
{
    if (clg_graph_check(g, "compare") != CLG_OK) return CLG_FAILED;
    if ((unsigned)op > (unsigned)CLG_NE) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "compare: comparison %d is not a clg_comparison (CLG_LT..CLG_NE)",
                  (int)op);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    return mask_op(g, CLG_OP_COMPARE, a, b, (int)op);
}

clg_tensor clg_tie_weight(clg_graph *g, clg_tensor a, clg_tensor b) { return mask_op(g, CLG_OP_TIE_WEIGHT, a, b, 0); }

clg_tensor clg_where(clg_graph *g, clg_tensor c, clg_tensor a, clg_tensor b)
{
    const char *name = "where";
    if (!begin(g, name)) return CLG_FAILED;
    if (!clg_tensor_ok(g, c, name) || !clg_tensor_ok(g, a, name) || !clg_tensor_ok(g, b, name)) return CLG_FAILED;
    const clg_node *nc = &g->nodes[c.id], *na = &g->nodes[a.id], *nb = &g->nodes[b.id];
    if (nc->dtype != CLG_F32 || na->dtype != CLG_F32 || nb->dtype != CLG_F32) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "where: the condition and both values must be float tensors");
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    clg_node ab = {0}, proto = {.op = CLG_OP_WHERE, .src = {c.id, a.id, b.id}};
    if (!broadcast_shape(na, nb, &ab)) return clg_shape_error(g, name, na, nb, "cannot be broadcast together");
    if (!broadcast_shape(nc, &ab, &proto))
        return clg_shape_error(g, name, nc, &ab, "(the condition's, and the values' broadcast) cannot be broadcast together");
    const bool grad = na->requires_grad || nb->requires_grad; /* recording may move the nodes */
    clg_tensor t = clg_record(g, &proto, 3);
    /* the condition gets no gradient: only the values make it require one */
    if (t.id >= 0) g->nodes[t.id].requires_grad = grad;
    return t;
}

clg_tensor clg_neg(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_NEG, x, 0.f); }
clg_tensor clg_scale(clg_graph *g, clg_tensor x, float c) { return clg_op_unary(g, CLG_OP_SCALE, x, c); }
clg_tensor clg_square(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_SQUARE, x, 0.f); }
clg_tensor clg_exp(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_EXP, x, 0.f); }
clg_tensor clg_log(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_LOG, x, 0.f); }
clg_tensor clg_sqrt(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_SQRT, x, 0.f); }
clg_tensor clg_relu(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_RELU, x, 0.f); }
clg_tensor clg_sigmoid(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_SIGMOID, x, 0.f); }
clg_tensor clg_tanh(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_TANH, x, 0.f); }
clg_tensor clg_sum(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_SUM, x, 0.f); }
clg_tensor clg_mean(clg_graph *g, clg_tensor x) { return clg_op_unary(g, CLG_OP_MEAN, x, 0.f); }

bool clg_axis_ok(clg_graph *g, const char *op, const clg_node *x, int axis, const char *what, int *out)
{
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a >= 0 && a < x->ndim) {
        *out = a;
        return true;
    }
    if (x->ndim == 0) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: the input is 0-d (a scalar) and has no %s %d; reshape it to [1]", op,
                  what, axis);
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    char xs[160];
    clg_shape_string(x->ndim, x->shape, xs, sizeof xs);
    clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %s %d is out of range for shape %s (valid: %d..%d)", op, what,
              axis, xs, -x->ndim, x->ndim - 1);
    clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    return false;
}
