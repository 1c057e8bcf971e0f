/* OpenCL dispatch of the shape family (kernels in cl/shape.cl). */
#include "cl_backend.h"
#include "../core/shape_layout.h"

static clg_status permute(clg_cl_backend *b, const clg_node *x, const clg_node *y)
{
    int64_t dims[CLG_MAX_DIMS], st[CLG_MAX_DIMS];
    clg_permute_layout(x, y, dims, st);
    clg_collapse_axes(dims, 1, (int64_t *const[]){st});
    cl_mem xm = MEM(x->buf), ym = MEM(y->buf);
    cl_long n = y->numel;
    cl_long8 d8 = clg_cl_long8(dims), s8 = clg_cl_long8(st);
    clg_karg args[] = {ARG(xm), ARG(ym), ARG(n), ARG(d8), ARG(s8)};
    return clg_cl_launch(b, K_shape_permute, args, 5, (size_t)n, 0);
}

/* slice (small = y) and its backward (small = dy, big = dx) share the
 * geometry: rows of the small tensor placed at begin in rows of the big. */
static clg_status window(clg_cl_backend *b, int k, const clg_node *src, const clg_node *dst, const clg_node *small,
                         const clg_node *big, int axis, int64_t start)
{
    cl_long inner = clg_inner(big, axis);
    cl_long row = small->shape[axis] * inner, xrow = big->shape[axis] * inner, begin = start * inner;
    cl_long n = dst->numel;
    cl_mem s = MEM(src->buf), d = MEM(dst->buf);
    clg_karg args[] = {ARG(s), ARG(d), ARG(n), ARG(row), ARG(xrow), ARG(begin)};
    return clg_cl_launch(b, k, args, 6, (size_t)n, 0);
}

static clg_status concat(clg_cl_backend *b, const clg_node *a, const clg_node *bb, const clg_node *y)
{
    int axis = (int)y->i[0];
    cl_long inner = clg_inner(y, axis);
    cl_long ra = a->shape[axis] * inner, rb = bb->shape[axis] * inner, n = y->numel;
    cl_mem am = MEM(a->buf), bm = MEM(bb->buf), ym = MEM(y->buf);
    clg_karg args[] = {ARG(am), ARG(bm), ARG(ym), ARG(n), ARG(ra), ARG(rb)};
    return clg_cl_launch(b, K_shape_concat, args, 6, (size_t)n, 0);
}

clg_status clg_cl_shape(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = &nodes[n->src[0]];
    switch (n->op) {
    case CLG_OP_RESHAPE: return CLG_OK; /* a view of s0's buffer */
    case CLG_OP_PERMUTE: return permute(b, s0, n);
    case CLG_OP_SLICE: return window(b, K_shape_slice, s0, n, n, s0, (int)n->i[0], n->i[1]);
    case CLG_OP_SLICE_GRAD: return window(b, K_shape_slice_backward, s0, n, s0, n, (int)n->i[0], n->i[1]);
    case CLG_OP_CONCAT: return concat(b, s0, &nodes[n->src[1]], n);
    default: return clg_cl_unsupported(b, n);
    }
}
