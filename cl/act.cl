/*
 * Activations, forward and backward side by side. Every kernel is
 * elementwise over n items with a grid-stride loop; the backward ones take
 * (x, dy) and give dx = dy * f'(x). The math is common.cl's EW_ macros
 * (shared with the fused kernels).
 */

/* CLG_VW elements per work-item, as elementwise.cl's kernels (exprv: the
 * math on vectors, EWV_) */
#define ACT_KERNEL(name, expr, exprv)                                                               \
    __kernel void name(__global const float *X, __global float *Y, long n, float slope)            \
    {                                                                                              \
        const long nv = n / CLG_VW;                                                                \
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {                         \
            const floatv x = VLOAD(q, X);                                                          \
            VSTORE((exprv), q, Y);                                                                 \
        }                                                                                          \
        for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {            \
            const float x = X[i];                                                                  \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }

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
ACT_KERNEL(leaky_relu, EW_LEAKY_RELU(x, 0.0f, slope), EWV_LEAKY_RELU(x, VSPLAT(0.0f), slope))
ACT_GRAD_KERNEL(leaky_relu_backward, EW_LEAKY_RELU_GRAD(x, dy, slope), EWV_LEAKY_RELU_GRAD(x, dy, slope))

/* gelu and its gradient: act_gelu, act_gelu_grad in common.cl */
ACT_KERNEL(gelu, EW_GELU(x, 0.0f, slope), EWV_GELU(x, VSPLAT(0.0f), slope))
ACT_GRAD_KERNEL(gelu_backward, EW_GELU_GRAD(x, dy, slope), EWV_GELU_GRAD(x, dy, slope))

/* silu(x) = x sigmoid(x): act_silu, act_silu_grad in common.cl */
ACT_KERNEL(silu, EW_SILU(x, 0.0f, slope), EWV_SILU(x, VSPLAT(0.0f), slope))
ACT_GRAD_KERNEL(silu_backward, EW_SILU_GRAD(x, dy, slope), EWV_SILU_GRAD(x, dy, slope))

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy sigmoid(x) */
ACT_KERNEL(softplus, EW_SOFTPLUS(x, 0.0f, slope), EWV_SOFTPLUS(x, VSPLAT(0.0f), slope))
ACT_GRAD_KERNEL(softplus_backward, EW_SOFTPLUS_GRAD(x, dy, slope), EWV_SOFTPLUS_GRAD(x, dy, slope))
