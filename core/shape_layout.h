/*
 * Index arithmetic shared by the reference and OpenCL code of the shape and
 * axis families. Along one axis a row-major tensor is a 3-D block
 * [outer, extent, inner]: element (o, a, r) sits at (o * extent + a) * inner + r.
 */
#ifndef CLG_SHAPE_LAYOUT_H
#define CLG_SHAPE_LAYOUT_H

#include "backend.h"

static inline int64_t clg_outer(const clg_node *n, int axis)
{
    int64_t p = 1;
    for (int d = 0; d < axis; d++) p *= n->shape[d];
    return p;
}

static inline int64_t clg_inner(const clg_node *n, int axis)
{
    int64_t p = 1;
    for (int d = axis + 1; d < n->ndim; d++) p *= n->shape[d];
    return p;
}

/* For a permute node y of x: y's extents padded to 4-D (outermost first)
 * and, for each, the stride in x of the axis it comes from (0 in padding),
 * so that x's offset of y's element i is sum_d coord_d(i) * strides[d]. */
static inline void clg_permute_layout(const clg_node *x, const clg_node *y, int64_t dims[CLG_MAX_DIMS],
                                      int64_t strides[CLG_MAX_DIMS])
{
    int64_t xs[CLG_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->shape[d];
    }
    int pad = CLG_MAX_DIMS - y->ndim;
    for (int d = 0; d < CLG_MAX_DIMS; d++) {
        dims[d] = d < pad ? 1 : y->shape[d - pad];
        strides[d] = d < pad ? 0 : xs[y->i[d - pad]];
    }
}

#endif
