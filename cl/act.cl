/*
 * Activations, forward and backward side by side. Every kernel is
 * elementwise over n items with a grid-stride loop; the backward ones take
 * (x, dy) and give dx = dy * f'(x).
 */

/* sqrt(2 / pi) and the cubic coefficient of GELU's tanh approximation */
#define ACT_GELU_K 0.7978845608028654f
#define ACT_GELU_C 0.044715f

/* sigmoid(z) in *s and 1 - sigmoid(z) in *r, from t = e^-|z| <= 1: no
 * overflow for any z, and no cancellation in 1 - s. */
inline void act_sigmoid_pair(float z, float *s, float *r)
{
    const float t = exp(-fabs(z)), big = 1.0f / (1.0f + t), small = t / (1.0f + t);
    *s = z >= 0.0f ? big : small;
    *r = z >= 0.0f ? small : big;
}

#define ACT_KERNEL(name, expr)                                                                      \
    __kernel void name(__global const float *X, __global float *Y, long n, float slope)            \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float x = X[i];                                                                  \
            Y[i] = (expr);                                                                         \
        }                                                                                          \
    }

#define ACT_GRAD_KERNEL(name, expr)                                                                 \
    __kernel void name(__global const float *X, __global const float *DY, __global float *DX,     \
                       long n, float slope)                                                        \
    {                                                                                              \
        for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                          \
            const float x = X[i], dy = DY[i];                                                      \
            DX[i] = (expr);                                                                        \
        }                                                                                          \
    }

/* y = x if x > 0 else slope x;  dx = dy if x > 0 else slope dy */
ACT_KERNEL(leaky_relu, x > 0.0f ? x : slope * x)
ACT_GRAD_KERNEL(leaky_relu_backward, x > 0.0f ? dy : slope * dy)

/*
 * gelu(x) = 0.5 x (1 + tanh u), u = k (x + c x^3), computed as x s with
 * s = sigmoid(2u) = 0.5 (1 + tanh u), which does not cancel for x < 0;
 * dx = dy (s + 2 x s (1 - s) u'),  u' = k (1 + 3 c x^2)
 */
inline float act_gelu(float x)
{
    float s, r;
    act_sigmoid_pair(2.0f * ACT_GELU_K * (x + ACT_GELU_C * x * x * x), &s, &r);
    return x * s;
}

inline float act_gelu_grad(float x)
{
    float s, r;
    act_sigmoid_pair(2.0f * ACT_GELU_K * (x + ACT_GELU_C * x * x * x), &s, &r);
    return s + 2.0f * x * s * r * ACT_GELU_K * (1.0f + 3.0f * ACT_GELU_C * x * x);
}

ACT_KERNEL(gelu, act_gelu(x))
ACT_GRAD_KERNEL(gelu_backward, dy * act_gelu_grad(x))

/* silu(x) = x s, s = sigmoid(x);  dx = dy s (1 + x (1 - s)) */
inline float act_silu(float x)
{
    float s, r;
    act_sigmoid_pair(x, &s, &r);
    return x * s;
}

inline float act_silu_grad(float x)
{
    float s, r;
    act_sigmoid_pair(x, &s, &r);
    return s * (1.0f + x * r);
}

ACT_KERNEL(silu, act_silu(x))
ACT_GRAD_KERNEL(silu_backward, dy * act_silu_grad(x))

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy sigmoid(x) */
inline float act_sigmoid(float x)
{
    float s, r;
    act_sigmoid_pair(x, &s, &r);
    return s;
}

ACT_KERNEL(softplus, fmax(x, 0.0f) + log1p(exp(-fabs(x))))
ACT_GRAD_KERNEL(softplus_backward, dy * act_sigmoid(x))
