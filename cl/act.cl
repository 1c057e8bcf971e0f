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
