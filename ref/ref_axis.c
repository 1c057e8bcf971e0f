/* Reference implementation of the axis family: x viewed as
 * [outer, extent, inner] (core/shape_layout.h), y as [outer, inner]. */
#include "ref_real.h"
#include "../core/shape_layout.h"

#include <string.h>

/* y[o, r] = sum_a x[o, a, r] (divided by the extent for mean), in double */
static void sum_axis(const clg_node *x, const clg_node *y, bool mean)
{
    int axis = (int)y->i[0];
    int64_t outer = clg_outer(x, axis), len = x->shape[axis], inner = clg_inner(x, axis);
    const real *xd = ref_data(x);
    real *yd = ref_data(y);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t r = 0; r < inner; r++) {
            double acc = 0.0;
            for (int64_t a = 0; a < len; a++) acc += xd[(o * len + a) * inner + r];
            yd[o * inner + r] = (real)(mean ? acc / (double)len : acc);
        }
}

/* y[o, r] = max_a x[o, a, r], idx[o, r] = its a: the first maximum, or the
 * first NaN */
static void max_axis(const clg_node *x, const clg_node *y)
{
    int axis = (int)y->i[0];
    int64_t outer = clg_outer(x, axis), len = x->shape[axis], inner = clg_inner(x, axis);
    const real *xd = ref_data(x);
    real *yd = ref_data(y);
    int32_t *idx = ref_aux_i32(y, 0);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t r = 0; r < inner; r++) {
            const real *p = xd + o * len * inner + r;
            real best = p[0];
            int32_t at = 0;
            for (int64_t a = 1; a < len && !isnan(best); a++)
                if (p[a * inner] > best || isnan(p[a * inner])) {
                    best = p[a * inner];
                    at = (int32_t)a;
                }
            yd[o * inner + r] = best;
            idx[o * inner + r] = at;
        }
}

/* dx[o, a, r] = dy[o, r] where a is the saved arg-max, else 0 */
static void max_axis_grad(const clg_node *dy, const clg_node *max, const clg_node *dx)
{
    int axis = (int)max->i[0];
    int64_t outer = clg_outer(dx, axis), len = dx->shape[axis], inner = clg_inner(dx, axis);
    const real *g = ref_data(dy);
    const int32_t *idx = ref_aux_i32(max, 0);
    real *out = ref_data(dx);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t a = 0; a < len; a++)
            for (int64_t r = 0; r < inner; r++)
                out[(o * len + a) * inner + r] = idx[o * inner + r] == a ? g[o * inner + r] : (real)0;
}

clg_status REF(clg_ref_axis)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = &nodes[n->src[0]];
    switch (n->op) {
    case CLG_OP_SUM_AXIS: sum_axis(s0, n, false); return CLG_OK;
    case CLG_OP_MEAN_AXIS: sum_axis(s0, n, true); return CLG_OK;
    case CLG_OP_MAX_AXIS: max_axis(s0, n); return CLG_OK;
    case CLG_OP_MAX_AXIS_GRAD: max_axis_grad(s0, &nodes[n->src[1]], n); return CLG_OK;
    case CLG_OP_ARGMAX: memcpy(ref_i32(n), ref_aux_i32(s0, 0), (size_t)n->numel * sizeof(int32_t)); return CLG_OK;
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
