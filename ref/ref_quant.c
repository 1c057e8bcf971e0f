/* Reference implementation of the quant family. */
#include "ref_real.h"

/*
 * Fake quantization and its gradients (clgrad.h, core/ops.h's FAKE_QUANT):
 *   zp = clamp(rint(zero_point), qmin, qmax), y = (clamp(rint(x (1/s)) + zp,
 *   qmin, qmax) - zp) s.
 * x's gradient, as fake_quantize_per_*_affine: dy where rint(x (1/s)) + zp
 * lies in [qmin, qmax], else 0. Learnable (scale or zero point a
 * parameter), as _fake_quantize_learnable_*'s backward, which rounds
 * x (1/s) + zp as one: xq = rint(x (1/s) + zp); inside, dx = dy, scale's
 * term dy (xfq - x) (1/s) gf with xfq = (xq - zp) s, the zero point's 0;
 * below (above), dx = 0, scale's dy (qmin - zp) gf (dy (qmax - zp) gf),
 * the zero point's -dy s gf. PyTorch's expressions, in its order.
 * In float whatever real is: PyTorch defines it in float arithmetic (the
 * rounding boundaries are those of a float product), so the double
 * reference must follow it, not refine it.
 */
static void fake_quant(const clg_node *nodes, const clg_node *n)
{
    const real *x = ref_data(&nodes[n->src[0]]), *sc = ref_data(&nodes[n->src[1]]);
    const real *zpt = ref_data(&nodes[n->src[2]]) + (n->i[7] ? n->i[3] : 0); /* packed: an observer's [2, C] */
    const real *dy = n->op == CLG_OP_FAKE_QUANT_GRAD ? ref_data(&nodes[n->src[3]]) : NULL;
    real *y = ref_data(n);
    const float qmin = (float)n->i[1], qmax = (float)n->i[2], gf = n->f[0];
    const int64_t channels = n->i[3], inner = n->i[4];
    const bool learnable = dy && n->i[6];
    for (int64_t i = 0; i < n->numel; i++) {
        const int64_t c = n->i[0] < 0 ? 0 : (i / inner) % channels;
        const float s = (float)sc[c], inv = 1.0f / s;
        const float zp = fminf(fmaxf(nearbyintf((float)zpt[c]), qmin), qmax);
        const float xi = (float)x[i], xs = xi * inv;
        if (!dy) {
            y[i] = (fminf(fmaxf(nearbyintf(xs) + zp, qmin), qmax) - zp) * s;
            continue;
        }
        const float t = xs + zp, xq = learnable ? nearbyintf(t) : nearbyintf(xs) + zp, d = (float)dy[i];
        const bool below = xq < qmin, above = xq > qmax;
        switch (n->i[5]) {
        case 0: y[i] = below || above ? 0.0f : d; break;
        case 1: y[i] = below ? d * (qmin - zp) * gf : above ? d * (qmax - zp) * gf : d * ((xq - zp) * s - xi) * inv * gf; break;
        default: y[i] = below || above ? d * -1.0f * s * gf : 0.0f; break;
        }
    }
}

/* min and max as torch.min / torch.max: a NaN on either side wins */
static float nan_min(float a, float b) { return isnan(a) || a < b ? a : b; }
static float nan_max(float a, float b) { return isnan(a) || a > b ? a : b; }

/*
 * Observers (clgrad.h, core/ops.h's OBSERVE): in training, min_val and
 * max_val take x's per-channel minimum and maximum (a running min/max, or
 * a moving average whose first observation sets them); then scale and
 * zero point from them, as PyTorch's _calculate_qparams, in float (C's
 * float division is rounded to nearest, as PyTorch's).
 */
static void observe(const clg_node *nodes, const clg_node *n)
{
    const clg_node *X = &nodes[n->src[0]];
    const real *x = ref_data(X);
    real *lo = ref_data(&nodes[n->src[1]]), *hi = ref_data(&nodes[n->src[2]]), *out = ref_data(n);
    const int64_t C = n->i[3], inner = n->i[4];
    const float qmin = (float)n->i[1], qmax = (float)n->i[2], c_avg = n->f[0], eps = n->f[1];
    for (int64_t c = 0; c < C; c++) {
        float mn = (float)lo[c], mx = (float)hi[c];
        if (n->training) {
            float m = INFINITY, M = -INFINITY;
            const int64_t outer = X->numel / (C * inner);
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < inner; j++) {
                    const float v = (float)x[(o * C + c) * inner + j];
                    m = nan_min(m, v);
                    M = nan_max(M, v);
                }
            if (!n->i[5]) {
                mn = nan_min(mn, m);
                mx = nan_max(mx, M);
            } else if (mn == INFINITY && mx == -INFINITY) {
                mn = m;
                mx = M;
            } else {
                float d = m - mn;
                d = c_avg * d;
                mn = mn + d;
                d = M - mx;
                d = c_avg * d;
                mx = mx + d;
            }
            lo[c] = mn;
            hi[c] = mx;
        }
        float scale = 1.0f, zp = 0.0f;
        if (!(mn == INFINITY && mx == -INFINITY)) {
            const float neg = nan_min(mn, 0.0f), pos = nan_max(mx, 0.0f);
            if (n->i[6]) {
                scale = nan_max(nan_max(-neg, pos) / ((qmax - qmin) / 2.0f), eps);
                zp = (float)n->i[7];
            } else {
                scale = nan_max((pos - neg) / (qmax - qmin), eps);
                zp = fminf(fmaxf(qmin - nearbyintf(neg / scale), qmin), qmax);
            }
        }
        out[c] = scale;
        out[C + c] = zp;
    }
}

/*
 * Casts (core/ops.h's CAST): float32 values as floats (the double
 * reference's too: the 16-bit formats are defined on floats), 16-bit ones
 * as their bits, two to an element (core/backend.h); conversions as
 * core/half.h's.
 */
static void cast(const clg_node *nodes, const clg_node *n)
{
    const clg_node *x = &nodes[n->src[0]];
    const clg_dtype through = (clg_dtype)n->i[0];
    for (int64_t i = 0; i < n->numel; i++) {
        const float v = ref_load_float(x, i);
        if (clg_dtype_16(n->dtype)) ref_data16(n)[i] = ref_narrow16(n->dtype, v);
        else ref_data(n)[i] = clg_dtype_16(through) ? ref_widen16(through, ref_narrow16(through, v)) : v;
    }
}

clg_status REF(clg_ref_quant)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    (void)be;
    if (n->op == CLG_OP_CAST) cast(nodes, n);
    else if (n->op == CLG_OP_OBSERVE) observe(nodes, n);
    else fake_quant(nodes, n);
    return CLG_OK;
}
