/* Reference implementation of the shape family (see core/shape_layout.h
 * for the [outer, extent, inner] view along an axis). */
#include "ref_real.h"
#include "../core/shape_layout.h"

/* y[o, a, r] = x[o, start + a, r] */
static void slice(const clg_node *x, const clg_node *y)
{
    int axis = (int)y->i[0];
    int64_t inner = clg_inner(y, axis), row = y->shape[axis] * inner, xrow = x->shape[axis] * inner;
    const real *xd = ref_data(x) + y->i[1] * inner;
    real *yd = ref_data(y);
    for (int64_t o = 0; o < clg_outer(y, axis); o++)
        for (int64_t k = 0; k < row; k++) yd[o * row + k] = xd[o * xrow + k];
}

/* dx[o, a, r] = dy[o, a - start, r] inside the slice, 0 elsewhere */
static void slice_grad(const clg_node *dy, const clg_node *dx)
{
    int axis = (int)dx->i[0];
    int64_t inner = clg_inner(dx, axis), row = dy->shape[axis] * inner, xrow = dx->shape[axis] * inner;
    int64_t begin = dx->i[1] * inner;
    const real *g = ref_data(dy);
    real *out = ref_data(dx);
    for (int64_t o = 0; o < clg_outer(dx, axis); o++)
        for (int64_t k = 0; k < xrow; k++)
            out[o * xrow + k] = k >= begin && k < begin + row ? g[o * row + k - begin] : (real)0;
}

/* y[o, :, r] = a[o, :, r] followed by b[o, :, r] */
static void concat(const clg_node *a, const clg_node *b, const clg_node *y)
{
    int axis = (int)y->i[0];
    int64_t inner = clg_inner(y, axis), ra = a->shape[axis] * inner, rb = b->shape[axis] * inner;
    const real *ad = ref_data(a), *bd = ref_data(b);
    real *yd = ref_data(y);
    for (int64_t o = 0; o < clg_outer(y, axis); o++) {
        for (int64_t k = 0; k < ra; k++) yd[o * (ra + rb) + k] = ad[o * ra + k];
        for (int64_t k = 0; k < rb; k++) yd[o * (ra + rb) + ra + k] = bd[o * rb + k];
    }
}

clg_status REF(clg_ref_shape)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = &nodes[n->src[0]];
    switch (n->op) {
    case CLG_OP_RESHAPE: return CLG_OK; /* a view of s0's buffer */
    case CLG_OP_PERMUTE: {
        int64_t dims[CLG_MAX_DIMS], st[CLG_MAX_DIMS];
        clg_permute_layout(s0, n, dims, st);
        const real *x = ref_data(s0);
        real *y = ref_data(n);
        for (int64_t i = 0; i < n->numel; i++) y[i] = x[ref_bcast_offset(i, dims, st)];
        return CLG_OK;
    }
    case CLG_OP_SLICE: slice(s0, n); return CLG_OK;
    case CLG_OP_SLICE_GRAD: slice_grad(s0, n); return CLG_OK;
    case CLG_OP_CONCAT: concat(s0, &nodes[n->src[1]], n); return CLG_OK;
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
