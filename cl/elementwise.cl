/*
 * Elementwise ops, forward and backward together.
 *
 * Binary ops come in two forms:
 *   NAME     y[i] = f(a[i*sa], b[i*sb]), sa and sb in {0, 1}: same shapes,
 *            or a one-element tensor on either side (the common case, so
 *            it skips the index arithmetic);
 *   NAME_bc  y[i] = f(a[off_a(i)], b[off_b(i)]): NumPy broadcasting.
 * The backward of a broadcast input is a reduction (reduce.cl).
 */

#define BINARY_KERNELS(name, expr)                                                                 \
    __kernel void name(__global const float *A, __global const float *B, __global float *Y,       \
                       long n, long sa, long sb)                                                   \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float a = A[i * sa], b = B[i * sb];                                              \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }                                                                                              \
    __kernel void name##_bc(__global const float *A, __global const float *B, __global float *Y,  \
                            long n, long4 dims, long4 st_a, long4 st_b)                            \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float a = A[bcast_offset(i, dims, st_a)], b = B[bcast_offset(i, dims, st_b)];    \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }

#define UNARY_KERNEL(name, expr)                                                                   \
    __kernel void name(__global const float *X, __global float *Y, long n, float c)               \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float x = X[i];                                                                  \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }

/* y = a + b;  da = dy, db = dy */
BINARY_KERNELS(add, a + b)
/* y = a - b;  da = dy, db = -dy */
BINARY_KERNELS(sub, a - b)
/* y = a * b;  da = dy * b, db = dy * a */
BINARY_KERNELS(mul, a * b)
/* y = a / b;  da = dy / b, db = -(dy / b) * y */
BINARY_KERNELS(div, a / b)

/* y = -x;  dx = -dy */
UNARY_KERNEL(neg, -x)
/* y = c x;  dx = c dy */
UNARY_KERNEL(scale, c * x)
/* y = x^2;  dx = 2 x dy */
UNARY_KERNEL(square, x * x)
/* y = e^x;  dx = y dy */
UNARY_KERNEL(exp_f, exp(x))
/* y = ln x;  dx = dy / x */
UNARY_KERNEL(log_f, log(x))
/* y = sqrt x;  dx = dy / (2 y) */
UNARY_KERNEL(sqrt_f, sqrt(x))

/* y = max(x, 0) */
UNARY_KERNEL(relu, x > 0.0f ? x : 0.0f)
/* dx = dy where x > 0, else 0   (a = x, b = dy) */
BINARY_KERNELS(relu_backward, a > 0.0f ? b : 0.0f)

/* y = 1 / (1 + e^-x): for x -> -inf e^-x overflows to inf and y to 0, as it should */
UNARY_KERNEL(sigmoid, 1.0f / (1.0f + exp(-x)))
/* dx = dy y (1 - y)   (a = y, b = dy) */
BINARY_KERNELS(sigmoid_backward, b * a * (1.0f - a))

/* y = tanh x */
UNARY_KERNEL(tanh_f, tanh(x))
/* dx = dy (1 - y^2)   (a = y, b = dy) */
BINARY_KERNELS(tanh_backward, b * (1.0f - a * a))

/* Broadcast X up to Y's shape: y[i] = x[off(i)] (the backward of a sum). */
__kernel void expand(__global const float *X, __global float *Y, long n, long4 dims, long4 st)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = X[bcast_offset(i, dims, st)];
}
