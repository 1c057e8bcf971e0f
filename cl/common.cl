/* Shared helpers; this file is compiled first, ahead of every other .cl. */

/*
 * Index splitting, in every file: where a kernel needs both q = a / b and
 * a % b, it writes the remainder as a - q * b. Given the pair, LLVM's
 * DivRemPairs pass rewrites the % so itself on targets without a joint
 * divide-remainder instruction, and adds a `freeze` of a; Oclgrind 21.10's
 * uninitialised-value check stops at any freeze ("Unsupported
 * instruction"), leaving the kernel's output unwritten. Written out, the
 * pass has nothing to do: the same code on GPUs, and on CPUs it turns
 * the pair back into one division.
 */

/* Offset of a broadcast source for linear output index i. dims are the
 * output's extents padded to 4-D (s0 outermost); st the source's strides
 * against them, 0 along broadcast axes. */
inline long bcast_offset(long i, long4 dims, long4 st)
{
    long q = i / dims.s3;
    long off = (i - q * dims.s3) * st.s3;
    i = q;
    q = i / dims.s2;
    off += (i - q * dims.s2) * st.s2;
    i = q;
    q = i / dims.s1;
    off += (i - q * dims.s1) * st.s1;
    return off + q * st.s0;
}

/* Tree reduction of one value per work-item across the work-group; the
 * local size must be a power of two. Returns the sum in every item. */
/* Compensated running sum (Kahan): *s + v, the lost low part kept in *c;
 * the sum is *s - *c. Its error does not grow with the count of terms. */
inline void kahan_add(float *s, float *c, float v)
{
    const float y = v - *c;
    const float t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

inline float group_sum(float v, __local float *tmp)
{
    const int lid = get_local_id(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] += tmp[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* y[i] = v: new buffers (v = 0) and clg_tensor_fill. Here, in every build
 * (see CLGRAD_CL_FILES), since every buffer needs it; a kernel rather than
 * clEnqueueFillBuffer so that every store is a kernel's: Oclgrind 21.10's
 * uninitialised-value check misjudges buffers the host filled. */
__kernel void fill(__global float *Y, long n, float v)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = v;
}

/*
 * Vector width of the elementwise kernels: CLG_VW floats per work-item
 * (-DCLG_VW at build: the device's preferred float vector width, 1, 2, 4,
 * 8 or 16). PoCL does not vectorise exp and its kin across work-items;
 * explicit vectors run them 5-12 times faster (bench/experiments). The
 * op kernels and the fused kernels share the layout: elements below
 * n / CLG_VW * CLG_VW go through vectors, the tail through floats, so an
 * element rounds alike in both. VEACH applies a scalar-only op (gelu,
 * silu, softplus's gradient) to each lane: the same float math.
 */
#ifndef CLG_VW
#define CLG_VW 1
#endif
#define CLG_CAT_(a, b) a##b
#define CLG_CAT(a, b) CLG_CAT_(a, b)
#if CLG_VW == 1
typedef float floatv;
#define VLOAD(q, p) ((p)[q])
#define VSTORE(v, q, p) ((p)[q] = (v))
#define VEACH(f, a, b, c) f(a, b, c)
#else
typedef CLG_CAT(float, CLG_VW) floatv;
#define VLOAD(q, p) CLG_CAT(vload, CLG_VW)(q, p)
#define VSTORE(v, q, p) CLG_CAT(vstore, CLG_VW)(v, q, p)
#define VL_(f, a, b, c, k) f((a).s##k, (b).s##k, c)
#if CLG_VW == 2
#define VEACH(f, a, b, c) ((floatv)(VL_(f, a, b, c, 0), VL_(f, a, b, c, 1)))
#elif CLG_VW == 4
#define VEACH(f, a, b, c) ((floatv)(VL_(f, a, b, c, 0), VL_(f, a, b, c, 1), VL_(f, a, b, c, 2), VL_(f, a, b, c, 3)))
#elif CLG_VW == 8
#define VEACH(f, a, b, c)                                                                                   \
    ((floatv)(VL_(f, a, b, c, 0), VL_(f, a, b, c, 1), VL_(f, a, b, c, 2), VL_(f, a, b, c, 3), VL_(f, a, b, c, 4), \
              VL_(f, a, b, c, 5), VL_(f, a, b, c, 6), VL_(f, a, b, c, 7)))
#else
#define VEACH(f, a, b, c)                                                                                   \
    ((floatv)(VL_(f, a, b, c, 0), VL_(f, a, b, c, 1), VL_(f, a, b, c, 2), VL_(f, a, b, c, 3), VL_(f, a, b, c, 4), \
              VL_(f, a, b, c, 5), VL_(f, a, b, c, 6), VL_(f, a, b, c, 7), VL_(f, a, b, c, 8), VL_(f, a, b, c, 9), \
              VL_(f, a, b, c, A), VL_(f, a, b, c, B), VL_(f, a, b, c, C), VL_(f, a, b, c, D), VL_(f, a, b, c, E), \
              VL_(f, a, b, c, F)))
#endif
#endif
/* the vector of x (a vector, or a float to broadcast) */
#define VSPLAT(x) ((floatv)(x))

/*
 * The elementwise math of every op that fuses, one macro per op, named after
 * it in core/ops.h: EW_<OP>(a, b, c) with a = src[0], b = src[1] (binary
 * ops and gradients) and c the op's constant (f[0]: scale's factor, leaky
 * relu's slope). elementwise.cl's and act.cl's kernels and the kernels that
 * host/cl_fuse.c generates all expand these, so that a fused chain rounds
 * exactly as its ops one by one.
 */
#define EW_ADD(a, b, c) ((a) + (b))
#define EW_SUB(a, b, c) ((a) - (b))
#define EW_MUL(a, b, c) ((a) * (b))
#define EW_DIV(a, b, c) ((a) / (b))
#define EW_NEG(a, b, c) (-(a))
#define EW_SCALE(a, b, c) ((c) * (a))
#define EW_SQUARE(a, b, c) ((a) * (a))
#define EW_EXP(a, b, c) exp(a)
#define EW_LOG(a, b, c) log(a)
#define EW_SQRT(a, b, c) sqrt(a)
/* y = max(x, 0);  dx = dy where x > 0, else 0   (a = x, b = dy) */
#define EW_RELU(a, b, c) ((a) > 0.0f ? (a) : 0.0f)
#define EW_RELU_GRAD(a, b, c) ((a) > 0.0f ? (b) : 0.0f)
/* y = 1 / (1 + e^-x): for x -> -inf e^-x overflows to inf and y to 0, as it
 * should;  dx = dy y (1 - y)   (a = y, b = dy) */
#define EW_SIGMOID(a, b, c) (1.0f / (1.0f + exp(-(a))))
#define EW_SIGMOID_GRAD(a, b, c) ((b) * (a) * (1.0f - (a)))
/* y = tanh x;  dx = dy (1 - y^2)   (a = y, b = dy) */
#define EW_TANH(a, b, c) tanh(a)
#define EW_TANH_GRAD(a, b, c) ((b) * (1.0f - (a) * (a)))
/* y = x if x > 0 else slope x;  dx = dy if x > 0 else slope dy   (a = x, b = dy) */
#define EW_LEAKY_RELU(a, b, c) ((a) > 0.0f ? (a) : (c) * (a))
#define EW_LEAKY_RELU_GRAD(a, b, c) ((a) > 0.0f ? (b) : (c) * (b))
#define EW_GELU(a, b, c) act_gelu(a)
#define EW_GELU_GRAD(a, b, c) ((b) * act_gelu_grad(a))
#define EW_SILU(a, b, c) act_silu(a)
#define EW_SILU_GRAD(a, b, c) ((b) * act_silu_grad(a))
/* on vectors (EWV_<OP>): the macro itself where its math takes vectors,
 * else lane by lane; b is a vector (VSPLAT it for unary ops) */
#define EWV_ADD EW_ADD
#define EWV_SUB EW_SUB
#define EWV_MUL EW_MUL
#define EWV_DIV EW_DIV
#define EWV_NEG EW_NEG
#define EWV_SCALE EW_SCALE
#define EWV_SQUARE EW_SQUARE
#define EWV_EXP EW_EXP
#define EWV_LOG EW_LOG
#define EWV_SQRT EW_SQRT
#define EWV_RELU EW_RELU
#define EWV_RELU_GRAD EW_RELU_GRAD
#define EWV_SIGMOID EW_SIGMOID
#define EWV_SIGMOID_GRAD EW_SIGMOID_GRAD
#define EWV_TANH EW_TANH
#define EWV_TANH_GRAD EW_TANH_GRAD
#define EWV_LEAKY_RELU EW_LEAKY_RELU
#define EWV_LEAKY_RELU_GRAD EW_LEAKY_RELU_GRAD
#define EWV_SOFTPLUS EW_SOFTPLUS
#define EWV_GELU(a, b, c) VEACH(EW_GELU, a, b, c)
#define EWV_GELU_GRAD(a, b, c) VEACH(EW_GELU_GRAD, a, b, c)
#define EWV_SILU(a, b, c) VEACH(EW_SILU, a, b, c)
#define EWV_SILU_GRAD(a, b, c) VEACH(EW_SILU_GRAD, a, b, c)
#define EWV_SOFTPLUS_GRAD(a, b, c) VEACH(EW_SOFTPLUS_GRAD, a, b, c)
/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy sigmoid(x) */
#define EW_SOFTPLUS(a, b, c) (fmax((a), 0.0f) + log1p(exp(-fabs(a))))
#define EW_SOFTPLUS_GRAD(a, b, c) ((b) * act_sigmoid(a))

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

/* sigmoid(x) without overflow (softplus's gradient) */
inline float act_sigmoid(float x)
{
    float s, r;
    act_sigmoid_pair(x, &s, &r);
    return s;
}

/* A unary elementwise kernel (elementwise.cl, act.cl): CLG_VW floats per
 * work-item, then the tail one by one; c is the op's constant. expr is the
 * math on floats, exprv on vectors (EWV_). */
#define UNARY_KERNEL(name, expr, exprv)                                                            \
    __kernel void name(__global const float *X, __global float *Y, long n, float c)               \
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
