/*
 * Elementwise ops, forward and backward together.
 *
 * Binary ops come in two forms:
 *   NAME     y[i] = f(a[i*sa], b[i*sb]), sa and sb in {0, 1}: same shapes,
 *            or a one-element tensor on either side (the common case, so
 *            it skips the index arithmetic);
 *   NAME_bc  y[i] = f(a[off_a(i)], b[off_b(i)]): NumPy broadcasting.
 * The backward of a broadcast input is a reduction (reduce.cl). The math
 * of each op is common.cl's EW_ macro, shared with the fused kernels.
 */

/* NAME runs CLG_VW elements per work-item (common.cl): launched over
 * ceil(n / CLG_VW) work-items (clg_cl_launch_vec). exprv is expr on
 * vectors (the EWV_ form); c is the op's constant (clg_compare's comparison;
 * 0 for the others). */
#define BINARY_KERNELS(name, expr, exprv)                                                          \
    __kernel void name(__global const float *A, __global const float *B, __global float *Y,       \
                       long n, long sa, long sb, float c)                                          \
    {                                                                                              \
        const long nv = n / CLG_VW;                                                                \
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {                         \
            const floatv a = sa ? VLOAD(q, A) : VSPLAT(A[0]), b = sb ? VLOAD(q, B) : VSPLAT(B[0]); \
            VSTORE((exprv), q, Y);                                                                 \
        }                                                                                          \
        for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {            \
            const float a = A[i * sa], b = B[i * sb];                                              \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }                                                                                              \
    __kernel void name##_bc(__global const float *A, __global const float *B, __global float *Y,  \
                            long n, axes8 dims, axes8 st_a, axes8 st_b, float c)                   \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float a = A[bcast_offset(i, dims, st_a)], b = B[bcast_offset(i, dims, st_b)];    \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }

/* y = a + b;  da = dy, db = dy */
BINARY_KERNELS(add, EW_ADD(a, b, 0.0f), EWV_ADD(a, b, 0.0f))
/* y = a - b;  da = dy, db = -dy */
BINARY_KERNELS(sub, EW_SUB(a, b, 0.0f), EWV_SUB(a, b, 0.0f))
/* y = a * b;  da = dy * b, db = dy * a */
BINARY_KERNELS(mul, EW_MUL(a, b, 0.0f), EWV_MUL(a, b, 0.0f))
/* y = a / b;  da = dy / b, db = -(dy / b) * y */
BINARY_KERNELS(div, EW_DIV(a, b, 0.0f), EWV_DIV(a, b, 0.0f))

/* y = max(a, b) (min(a, b)), NaN if either is;
 * da = dy w(a, b), db = dy w(b, a) (for min: da = dy w(b, a), db = dy w(a, b))
 * with w(p, q) = 1 if p > q, 1/2 if p == q, 0 if p < q: the tie_weight kernels */
BINARY_KERNELS(maximum, EW_MAXIMUM(a, b, 0.0f), EWV_MAXIMUM(a, b, 0.0f))
BINARY_KERNELS(minimum, EW_MINIMUM(a, b, 0.0f), EWV_MINIMUM(a, b, 0.0f))
BINARY_KERNELS(tie_weight, EW_TIE_WEIGHT(a, b, 0.0f), EWV_TIE_WEIGHT(a, b, 0.0f))
/* y = 1 if a op b else 0, op = c (clg_comparison); no gradient */
BINARY_KERNELS(compare, EW_COMPARE(a, b, c), EWV_COMPARE(a, b, c))

/* y = c != 0 ? a : b (C the condition);  da = c != 0 ? dy : 0, db = c != 0 ? 0 : dy
 * (where(c, dy, 0) and where(c, 0, dy)). Same shapes or one-element sources
 * (sc, sa, sb in {0, 1}); where_bc broadcasts. */
__kernel void where_f(__global const float *C, __global const float *A, __global const float *B,
                      __global float *Y, long n, long sc, long sa, long sb)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0))
        Y[i] = C[i * sc] != 0.0f ? A[i * sa] : B[i * sb];
}
__kernel void where_bc(__global const float *C, __global const float *A, __global const float *B,
                       __global float *Y, long n, axes8 dims, axes8 st_c, axes8 st_a, axes8 st_b)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0))
        Y[i] = C[bcast_offset(i, dims, st_c)] != 0.0f ? A[bcast_offset(i, dims, st_a)]
                                                        : B[bcast_offset(i, dims, st_b)];
}

/* y = -x;  dx = -dy */
UNARY_KERNEL(neg, EW_NEG(x, 0.0f, c), EWV_NEG(x, VSPLAT(0.0f), c))
/* y = c x;  dx = c dy */
UNARY_KERNEL(scale, EW_SCALE(x, 0.0f, c), EWV_SCALE(x, VSPLAT(0.0f), c))
/* y = x^2;  dx = 2 x dy */
UNARY_KERNEL(square, EW_SQUARE(x, 0.0f, c), EWV_SQUARE(x, VSPLAT(0.0f), c))
/* y = e^x;  dx = y dy */
UNARY_KERNEL(exp_f, EW_EXP(x, 0.0f, c), EWV_EXP(x, VSPLAT(0.0f), c))
/* y = ln x;  dx = dy / x */
UNARY_KERNEL(log_f, EW_LOG(x, 0.0f, c), EWV_LOG(x, VSPLAT(0.0f), c))
/* y = sqrt x;  dx = dy / (2 y) */
UNARY_KERNEL(sqrt_f, EW_SQRT(x, 0.0f, c), EWV_SQRT(x, VSPLAT(0.0f), c))

/* y = max(x, 0) */
UNARY_KERNEL(relu, EW_RELU(x, 0.0f, c), EWV_RELU(x, VSPLAT(0.0f), c))
/* dx = dy where x > 0, else 0   (a = x, b = dy) */
BINARY_KERNELS(relu_backward, EW_RELU_GRAD(a, b, 0.0f), EWV_RELU_GRAD(a, b, 0.0f))

/* y = 1 / (1 + e^-x): for x -> -inf e^-x overflows to inf and y to 0, as it should */
UNARY_KERNEL(sigmoid, EW_SIGMOID(x, 0.0f, c), EWV_SIGMOID(x, VSPLAT(0.0f), c))
/* dx = dy y (1 - y)   (a = y, b = dy) */
BINARY_KERNELS(sigmoid_backward, EW_SIGMOID_GRAD(a, b, 0.0f), EWV_SIGMOID_GRAD(a, b, 0.0f))

/* y = tanh x */
UNARY_KERNEL(tanh_f, EW_TANH(x, 0.0f, c), EWV_TANH(x, VSPLAT(0.0f), c))
/* dx = dy (1 - y^2)   (a = y, b = dy) */
BINARY_KERNELS(tanh_backward, EW_TANH_GRAD(a, b, 0.0f), EWV_TANH_GRAD(a, b, 0.0f))

/* Broadcast X up to Y's shape: y[i] = x[off(i)] (the backward of a sum). */
__kernel void expand(__global const float *X, __global float *Y, long n, axes8 dims, axes8 st)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = X[bcast_offset(i, dims, st)];
}
