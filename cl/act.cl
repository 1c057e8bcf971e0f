/*
 * Activations, forward and backward side by side. Every kernel is
 * elementwise over n items with a grid-stride loop; the backward ones take
 * (x, dy) and give dx = dy * f'(x). The math is common.cl's EW_ macros
 * (shared with the fused kernels).
 */

/* The forward kernels are common.cl's UNARY_KERNEL (c: the slope); the
 * backward ones take (x, dy), CLG_VW floats per work-item as well. */
#define ACT_GRAD_KERNEL(name, expr, exprv)                                                          \
    __kernel void name(__global const float *X, __global const float *DY, __global float *DX,     \
                       long n, float slope)                                                        \
    {                                                                                              \
        const long nv = n / CLG_VW;                                                                \
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {                         \
            const floatv x = VLOAD(q, X), dy = VLOAD(q, DY);                                       \
            VSTORE((exprv), q, DX);                                                                \
        }                                                                                          \
        for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {            \
            const float x = X[i], dy = DY[i];                                                      \
            DX[i] = (expr);                                                                        \
        }                                                                                          \
    }

/* y = x if x > 0 else slope x;  dx = dy if x > 0 else slope dy */
UNARY_KERNEL(leaky_relu, EW_LEAKY_RELU(x, 0.0f, c), EWV_LEAKY_RELU(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(leaky_relu_backward, EW_LEAKY_RELU_GRAD(x, dy, slope), EWV_LEAKY_RELU_GRAD(x, dy, slope))

/* gelu and its gradient: act_gelu, act_gelu_grad in common.cl */
UNARY_KERNEL(gelu, EW_GELU(x, 0.0f, c), EWV_GELU(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(gelu_backward, EW_GELU_GRAD(x, dy, slope), EWV_GELU_GRAD(x, dy, slope))

/* silu(x) = x sigmoid(x): act_silu, act_silu_grad in common.cl */
UNARY_KERNEL(silu, EW_SILU(x, 0.0f, c), EWV_SILU(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(silu_backward, EW_SILU_GRAD(x, dy, slope), EWV_SILU_GRAD(x, dy, slope))

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy sigmoid(x) */
UNARY_KERNEL(softplus, EW_SOFTPLUS(x, 0.0f, c), EWV_SOFTPLUS(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(softplus_backward, EW_SOFTPLUS_GRAD(x, dy, slope), EWV_SOFTPLUS_GRAD(x, dy, slope))

/* gelu_erf(x) = x Phi(x);  dx = dy (Phi(x) + x phi(x)): EW_GELU_ERF in common.cl */
UNARY_KERNEL(gelu_erf, EW_GELU_ERF(x, 0.0f, c), EWV_GELU_ERF(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(gelu_erf_backward, EW_GELU_ERF_GRAD(x, dy, slope), EWV_GELU_ERF_GRAD(x, dy, slope))

/* y = |x|;  dx = sign(x) dy */
UNARY_KERNEL(abs_forward, EW_ABS(x, 0.0f, c), EWV_ABS(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(abs_backward, EW_ABS_GRAD(x, dy, slope), EWV_ABS_GRAD(x, dy, slope))

/* y = x^p;  dx = dy p x^(p - 1)   (c, slope: p) */
UNARY_KERNEL(pow_forward, EW_POW(x, 0.0f, c), EWV_POW(x, VSPLAT(0.0f), c))
ACT_GRAD_KERNEL(pow_backward, EW_POW_GRAD(x, dy, slope), EWV_POW_GRAD(x, dy, slope))

/* y = lo if x < lo, hi if x > hi, else x (a NaN fails both tests and stays);
 * dx = dy where lo <= x <= hi, else 0. Two constants: its own kernels. */
__kernel void clamp_forward(__global const float *X, __global float *Y, long n, float lo, float hi)
{
    const long nv = n / CLG_VW;
    for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
        const floatv x = VLOAD(q, X);
        VSTORE(select(select(x, VSPLAT(hi), x > hi), VSPLAT(lo), x < lo), q, Y);
    }
    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {
        const float x = X[i];
        Y[i] = x < lo ? lo : x > hi ? hi : x;
    }
}

__kernel void clamp_backward(__global const float *X, __global const float *DY, __global float *DX, long n, float lo,
                             float hi)
{
    const long nv = n / CLG_VW;
    for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
        const floatv x = VLOAD(q, X), dy = VLOAD(q, DY);
        VSTORE(select(VSPLAT(0.0f), dy, x >= lo && x <= hi), q, DX);
    }
    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {
        const float x = X[i];
        DX[i] = x >= lo && x <= hi ? DY[i] : 0.0f;
    }
}

/* softplus_beta(x) = log(1 + e^z) / beta, z = beta x, as softplus's stable
 * form max(z, 0) + log1p(e^-|z|); x where z > threshold (PyTorch's
 * reversion to linear);  dx = dy sigmoid(z), dy beyond the threshold.
 * Two constants: its own kernels, not fused. */
__kernel void softplus_beta_forward(__global const float *X, __global float *Y, long n, float beta, float thr)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float x = X[i], z = beta * x;
        Y[i] = z > thr ? x : EW_SOFTPLUS(z, 0.0f, 0.0f) / beta;
    }
}

__kernel void softplus_beta_backward(__global const float *X, __global const float *DY, __global float *DX, long n,
                                     float beta, float thr)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float z = beta * X[i];
        DX[i] = z > thr ? DY[i] : DY[i] * act_sigmoid(z);
    }
}

/*
 * Fake quantization (clgrad.h; PyTorch's definition, in float):
 *   zp = clamp(rint(zero_point), qmin, qmax),
 *   y  = (clamp(rint(x (1/s)) + zp, qmin, qmax) - zp) s
 * backward, `which`: 0 dx, 1 scale's terms, 2 the zero point's (summed to
 * the parameter's shape after). Not learnable (scale and zero point
 * constants): dx = dy where rint(x (1/s)) + zp lies in [qmin, qmax], else 0.
 * Learnable, as PyTorch's learnable ops' backward, which rounds
 * x (1/s) + zp as one: xq = rint(x (1/s) + zp); inside dx = dy, scale's
 * dy (xfq - x) (1/s) gf with xfq = (xq - zp) s, the zero point's 0; below
 * (above) dx = 0, scale's dy (qmin - zp) gf (dy (qmax - zp) gf), the zero
 * point's -dy s gf. Products and sums in separate statements: contracting
 * x (1/s) + zp into an fma would move a rounding boundary.
 * Scale and zero point: one element (per_tensor) or one per channel,
 * channel (i / inner) % channels.
 */

/* 1 / s rounded to nearest, as C's division gives it: OpenCL 1.2 lets a
 * single-precision division be off by 2.5 ulp, which would move rounding
 * boundaries. A Newton step brings it within an ulp; then the neighbours'
 * residuals r s - 1 (fma: rounded once) say which float is nearest
 * (|r - 1/s| = |r s - 1| / s). No calls, so that it vectorises. */
inline float recip_nearest(float s)
{
    float r = 1.0f / s;
    if (!isfinite(r)) return r;
    r = fma(r, fma(-s, r, 1.0f), r);
    const float lo = as_float(as_int(r) - 1), hi = as_float(as_int(r) + 1);
    const float e = fabs(fma(r, s, -1.0f)), el = fabs(fma(lo, s, -1.0f)), eh = fabs(fma(hi, s, -1.0f));
    return el < e && el <= eh ? lo : (eh < e ? hi : r);
}

/* channel c's scale, its reciprocal and its zero point */
inline void fq_channel(__global const float *S, __global const float *Z, long c, float qmin, float qmax, float *s,
                       float *inv, float *zp)
{
    *s = S[c];
    *inv = recip_nearest(*s);
    *zp = clamp(rint(Z[c]), qmin, qmax);
}

__kernel void fake_quant_forward(__global const float *X, __global const float *S, __global const float *Z,
                                 __global float *Y, long n, long channels, long inner, int per_tensor, float qmin,
                                 float qmax)
{
    float s, inv, zp;
    fq_channel(S, Z, 0, qmin, qmax, &s, &inv, &zp);
    long i0 = 0;
    if (per_tensor) { /* CLG_VW at a time, the tail below */
        const long nv = n / CLG_VW;
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
            const floatv r = rint(VLOAD(q, X) * inv) + zp;
            VSTORE((fmin(fmax(r, qmin), qmax) - zp) * s, q, Y);
        }
        i0 = nv * CLG_VW;
    }
    for (long i = i0 + get_global_id(0); i < n; i += get_global_size(0)) {
        if (!per_tensor) fq_channel(S, Z, (i / inner) % channels, qmin, qmax, &s, &inv, &zp);
        const float q = rint(X[i] * inv) + zp;
        Y[i] = (fmin(fmax(q, qmin), qmax) - zp) * s;
    }
}

__kernel void fake_quant_backward(__global const float *X, __global const float *S, __global const float *Z,
                                  __global const float *DY, __global float *OUT, long n, long channels, long inner,
                                  int per_tensor, float qmin, float qmax, float gf, int which, int learnable)
{
    float s, inv, zp;
    fq_channel(S, Z, 0, qmin, qmax, &s, &inv, &zp);
    long i0 = 0;
    if (per_tensor) { /* CLG_VW at a time, the tail below; the same expressions */
        const long nv = n / CLG_VW;
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
            const floatv x = VLOAD(q, X), d = VLOAD(q, DY);
            const floatv xs = x * inv;
            const floatv t = xs + zp;
            const floatv xq = learnable ? rint(t) : rint(xs) + zp;
            floatv out;
            if (which == 0) {
                out = select(d, VSPLAT(0.0f), xq < qmin || xq > qmax);
            } else if (which == 1) {
                const floatv xfq = (xq - zp) * s;
                const floatv e = xfq - x;
                const floatv de = d * e;
                const floatv in = de * inv;
                const floatv dq = select(select(in, d * (qmax - zp), xq > qmax), d * (qmin - zp), xq < qmin);
                out = dq * gf;
            } else {
                const floatv ds = d * -1.0f * s;
                out = select(VSPLAT(0.0f), ds * gf, xq < qmin || xq > qmax);
            }
            VSTORE(out, q, OUT);
        }
        i0 = nv * CLG_VW;
    }
    for (long i = i0 + get_global_id(0); i < n; i += get_global_size(0)) {
        if (!per_tensor) fq_channel(S, Z, (i / inner) % channels, qmin, qmax, &s, &inv, &zp);
        const float x = X[i], d = DY[i];
        const float xs = x * inv;
        const float t = xs + zp;
        const float xq = learnable ? rint(t) : rint(xs) + zp;
        const int below = xq < qmin, above = xq > qmax;
        float out;
        if (which == 0) {
            out = below || above ? 0.0f : d;
        } else if (which == 1) {
            const float xfq = (xq - zp) * s;
            const float e = xfq - x;
            const float de = d * e;
            const float dq = below ? d * (qmin - zp) : above ? d * (qmax - zp) : de * inv;
            out = dq * gf;
        } else {
            const float ds = d * -1.0f * s;
            out = below || above ? ds * gf : 0.0f;
        }
        OUT[i] = out;
    }
}
