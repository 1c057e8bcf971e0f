/*
 * Parameter updates: one pass over each parameter tensor, in place, reading
 * its gradient and optimizer state and writing the new parameter and state.
 * The equations are those of PyTorch's torch.optim documentation; the step
 * dependent factors (scheduled lr, bias corrections) come as arguments.
 *
 * Every fused update starts from g = c G[i], c the clip coefficient
 * (optim_clip_coef's output) when OPTIM_CLIP is set, else 1, negated
 * when OPTIM_MAXIMIZE is. In accumulate
 * mode G is the accumulator, zeroed once read (OPTIM_ZERO_GRAD). State
 * buffers a flag leaves unused may alias W and are never touched.
 */

/* Flags: the same values as OPTIM_F_* in core/optim.h. */
#define OPTIM_CLIP 1
#define OPTIM_ZERO_GRAD 2
#define OPTIM_MOMENTUM 4
#define OPTIM_NESTEROV 8
#define OPTIM_FIRST 16
#define OPTIM_AMSGRAD 32
#define OPTIM_DECOUPLED 64
#define OPTIM_CENTERED 128
#define OPTIM_MAXIMIZE 256
#define OPTIM_SCALED 512

/* c: the clip coefficient or 1, negated to maximize (the negated gradient
 * enters weight decay and the state, as PyTorch's maximize) */
inline float optim_clip_scale(__global const float *clip, int flags)
{
    const float c = (flags & OPTIM_CLIP) ? clip[0] : 1.0f;
    return (flags & OPTIM_MAXIMIZE) ? -c : c;
}

/*
 * Loss scaling (OPTIM_SCALED, core/optim.h): clip holds {factor, t}, t this
 * update's number among those taken, 0 when a gradient was not finite:
 * returns false, and the kernel changes nothing. Where t is not the host's
 * step count a7 (a step was skipped before), the step-dependent arguments
 * again from t, in float: SGD's first step (t == 1), and Adam's
 * step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t) with
 * 1 - b^t = -expm1(t log b) (no cancellation). Where t is the host's, the
 * host's factors (computed in double) stand: the same bits as unscaled.
 */
inline bool optim_scaled_args(__global const float *clip, int *flags, float a0, float b1, float b2,
                              float *step_size, float *bc2_sqrt, float a7)
{
    if (!(*flags & OPTIM_SCALED)) return true;
    const float t = clip[1];
    if (t == 0.0f) return false;
    if (t == a7) return true;
    *flags = t == 1.0f ? (*flags | OPTIM_FIRST) : (*flags & ~OPTIM_FIRST);
    *step_size = a0 / -expm1(t * log(b1));
    *bc2_sqrt = sqrt(-expm1(t * log(b2)));
    return true;
}

/* Plain gradient descent: w <- w - lr * grad */
__kernel void sgd_update(__global float *W, __global const float *G, long n, float lr)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) W[i] -= lr * G[i];
}

/*
 * One element of each update, defined once for floats (suffix none: P[i])
 * and once for CLG_VW-float vectors (suffix _v: vector i of P), so that the
 * kernels below walk a tensor in vectors and finish its last n % CLG_VW
 * elements a float at a time, as do the multi-tensor kernels
 * host/cl_fuse.c generates over several tensors. The arithmetic is the
 * same on both (+ - * / sqrt max, each rounded once): the same bits.
 * The arguments after the buffers are the update's (core/optim.h), c the
 * clip factor.
 *
 * Every update starts from g = c G[i] (optim_take_grad), zeroing an
 * accumulator.
 *
 * SGD:  g += wd w
 *       momentum: b = g on the first step, else b = mu b + damp1 g  (damp1 = 1 - dampening)
 *                 g = nesterov ? g + mu b : b
 *       w -= lr g
 *
 * Adam / AdamW (OPTIM_DECOUPLED):
 *   Adam:  g += wd w            AdamW: w *= decay   (decay = 1 - lr wd)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   amsgrad: vmax = max(vmax, v), v' = vmax; else v' = v
 *   w -= step_size m / (sqrt(v') / bc2_sqrt + eps)
 * with step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t).
 *
 * RMSProp:  g += wd w;  v = alpha v + (1 - alpha) g^2;  v' = v
 *           centered: ga = alpha ga + (1 - alpha) g, v' = v - ga^2
 *           momentum: b = mu b + g / (sqrt(v') + eps), w -= lr b
 *           else      w -= lr g / (sqrt(v') + eps)
 *
 * Adagrad:  g += wd w;  s += g^2;  w -= clr g / (sqrt(s) + eps)
 * with clr = lr / (1 + (t - 1) lr_decay).
 */
#define OPTIM_LD1(i, p) ((p)[i])
#define OPTIM_ST1(v, i, p) ((p)[i] = (v))
#define OPTIM_FUNCTIONS(T, sfx, LD, ST)                                                                        \
    inline T optim_take_grad##sfx(__global float *G, long i, float c, int flags)                               \
    {                                                                                                          \
        const T g = c * LD(i, G);                                                                              \
        if (flags & OPTIM_ZERO_GRAD) ST((T)(0.0f), i, G);                                                      \
        return g;                                                                                              \
    }                                                                                                          \
    inline void optim_sgd_at##sfx(__global float *W, __global float *G, __global float *B, long i, float c,     \
                                  float lr, float wd, float mu, float damp1, int flags)                        \
    {                                                                                                          \
        const T w = LD(i, W);                                                                                  \
        T g = optim_take_grad##sfx(G, i, c, flags) + wd * w;                                                   \
        if (flags & OPTIM_MOMENTUM) {                                                                          \
            const T b = (flags & OPTIM_FIRST) ? g : mu * LD(i, B) + damp1 * g;                                 \
            ST(b, i, B);                                                                                       \
            g = (flags & OPTIM_NESTEROV) ? g + mu * b : b;                                                     \
        }                                                                                                      \
        ST(w - lr * g, i, W);                                                                                  \
    }                                                                                                          \
    inline void optim_adam_at##sfx(__global float *W, __global float *G, __global float *M, __global float *V, \
                                   __global float *VMAX, long i, float c, float wd_or_decay, float b1,         \
                                   float b2, float eps, float step_size, float bc2_sqrt, int flags)            \
    {                                                                                                          \
        T w = LD(i, W);                                                                                        \
        T g = optim_take_grad##sfx(G, i, c, flags);                                                            \
        if (flags & OPTIM_DECOUPLED) w *= wd_or_decay;                                                         \
        else g += wd_or_decay * w;                                                                             \
        const T m = b1 * LD(i, M) + (1.0f - b1) * g;                                                           \
        const T v = b2 * LD(i, V) + (1.0f - b2) * g * g;                                                       \
        ST(m, i, M);                                                                                           \
        ST(v, i, V);                                                                                           \
        T vv = v;                                                                                              \
        if (flags & OPTIM_AMSGRAD) {                                                                           \
            vv = fmax(LD(i, VMAX), v);                                                                         \
            ST(vv, i, VMAX);                                                                                   \
        }                                                                                                      \
        ST(w - step_size * m / (sqrt(vv) / bc2_sqrt + eps), i, W);                                             \
    }                                                                                                          \
    inline void optim_rmsprop_at##sfx(__global float *W, __global float *G, __global float *V, __global float *B, \
                                      __global float *GA, long i, float c, float lr, float wd, float alpha,    \
                                      float eps, float mu, int flags)                                          \
    {                                                                                                          \
        const T w = LD(i, W);                                                                                  \
        const T g = optim_take_grad##sfx(G, i, c, flags) + wd * w;                                             \
        const T v = alpha * LD(i, V) + (1.0f - alpha) * g * g;                                                 \
        ST(v, i, V);                                                                                           \
        T vc = v;                                                                                              \
        if (flags & OPTIM_CENTERED) {                                                                          \
            const T ga = alpha * LD(i, GA) + (1.0f - alpha) * g;                                               \
            ST(ga, i, GA);                                                                                     \
            vc = v - ga * ga;                                                                                  \
        }                                                                                                      \
        const T step = g / (sqrt(vc) + eps);                                                                   \
        if (flags & OPTIM_MOMENTUM) {                                                                          \
            const T b = mu * LD(i, B) + step;                                                                  \
            ST(b, i, B);                                                                                       \
            ST(w - lr * b, i, W);                                                                              \
        } else {                                                                                               \
            ST(w - lr * step, i, W);                                                                           \
        }                                                                                                      \
    }                                                                                                          \
    inline void optim_adagrad_at##sfx(__global float *W, __global float *G, __global float *S, long i, float c, \
                                      float clr, float wd, float eps, int flags)                               \
    {                                                                                                          \
        const T w = LD(i, W);                                                                                  \
        const T g = optim_take_grad##sfx(G, i, c, flags) + wd * w;                                             \
        const T s = LD(i, S) + g * g;                                                                          \
        ST(s, i, S);                                                                                           \
        ST(w - clr * g / (sqrt(s) + eps), i, W);                                                               \
    }
OPTIM_FUNCTIONS(float, , OPTIM_LD1, OPTIM_ST1)
#if CLG_VW > 1
OPTIM_FUNCTIONS(floatv, _v, VLOAD, VSTORE)
#else
#define optim_sgd_at_v optim_sgd_at
#define optim_adam_at_v optim_adam_at
#define optim_rmsprop_at_v optim_rmsprop_at
#define optim_adagrad_at_v optim_adagrad_at
#endif

/* A tensor of n elements: vectors i < n / CLG_VW, then the floats after them */
#define OPTIM_WALK(n, vec_call, float_call)                                                                    \
    do {                                                                                                       \
        const long nv_ = (n) / CLG_VW;                                                                         \
        for (long i = get_global_id(0); i < nv_; i += get_global_size(0)) vec_call;                            \
        for (long i = nv_ * CLG_VW + get_global_id(0); i < (n); i += get_global_size(0)) float_call;          \
    } while (0)

__kernel void optim_sgd(__global float *W, __global float *G, __global float *B, __global const float *clip, long n,
                        float lr, float wd, float mu, float damp1, int flags, float a7)
{
    float unused0 = 0.0f, unused1 = 0.0f;
    if (!optim_scaled_args(clip, &flags, lr, 0.5f, 0.5f, &unused0, &unused1, a7)) return;
    const float c = optim_clip_scale(clip, flags);
    OPTIM_WALK(n, optim_sgd_at_v(W, G, B, i, c, lr, wd, mu, damp1, flags),
               optim_sgd_at(W, G, B, i, c, lr, wd, mu, damp1, flags));
}

__kernel void optim_adam(__global float *W, __global float *G, __global float *M, __global float *V,
                         __global float *VMAX, __global const float *clip, long n, float wd_or_decay, float b1,
                         float b2, float eps, float step_size, float bc2_sqrt, int flags, float a0, float a7)
{
    if (!optim_scaled_args(clip, &flags, a0, b1, b2, &step_size, &bc2_sqrt, a7)) return;
    const float c = optim_clip_scale(clip, flags);
    OPTIM_WALK(n, optim_adam_at_v(W, G, M, V, VMAX, i, c, wd_or_decay, b1, b2, eps, step_size, bc2_sqrt, flags),
               optim_adam_at(W, G, M, V, VMAX, i, c, wd_or_decay, b1, b2, eps, step_size, bc2_sqrt, flags));
}

__kernel void optim_rmsprop(__global float *W, __global float *G, __global float *V, __global float *B,
                            __global float *GA, __global const float *clip, long n, float lr, float wd, float alpha,
                            float eps, float mu, int flags, float a7)
{
    float unused0 = 0.0f, unused1 = 0.0f;
    if (!optim_scaled_args(clip, &flags, lr, 0.5f, 0.5f, &unused0, &unused1, a7)) return;
    const float c = optim_clip_scale(clip, flags);
    OPTIM_WALK(n, optim_rmsprop_at_v(W, G, V, B, GA, i, c, lr, wd, alpha, eps, mu, flags),
               optim_rmsprop_at(W, G, V, B, GA, i, c, lr, wd, alpha, eps, mu, flags));
}

__kernel void optim_adagrad(__global float *W, __global float *G, __global float *S, __global const float *clip,
                            long n, float clr, float wd, float eps, int flags, float a7)
{
    float unused0 = 0.0f, unused1 = 0.0f;
    if (!optim_scaled_args(clip, &flags, clr, 0.5f, 0.5f, &unused0, &unused1, a7)) return;
    const float c = optim_clip_scale(clip, flags);
    OPTIM_WALK(n, optim_adagrad_at_v(W, G, S, i, c, clr, wd, eps, flags),
               optim_adagrad_at(W, G, S, i, c, clr, wd, eps, flags));
}

/* Gradient accumulation over micro-batches: acc += grad */
__kernel void optim_accumulate(__global float *A, __global const float *G, long n)
{
    OPTIM_WALK(n, VSTORE(VLOAD(i, A) + VLOAD(i, G), i, A), A[i] += G[i]);
}

/*
 * The global gradient norm, in two passes per gradient like reduce.cl:
 *   partial[g] = sum of x[i]^2 over the group's slice;
 *   y = prev + sum(partial)   (prev: the total over the gradients before).
 */
__kernel void optim_sqnorm_partial(__global const float *X, long n, __global float *partial, __local float *tmp)
{
    float acc = 0.0f, c = 0.0f; /* compensated, as in reduce.cl */
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) kahan_add(&acc, &c, X[i] * X[i]);
    acc = group_sum(acc - c, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = acc;
}

__kernel void optim_sqnorm_final(__global const float *partial, int m, __global const float *prev, int has_prev,
                                 __global float *Y, __local float *tmp)
{
    float acc = 0.0f;
    for (int i = get_local_id(0); i < m; i += get_local_size(0)) acc += partial[i];
    acc = group_sum(acc, tmp);
    if (get_local_id(0) == 0) Y[0] = has_prev ? prev[0] + acc : acc;
}

/* The count of X's elements that are not finite, as optim_sqnorm_partial
 * (then optim_sqnorm_final adds the partial counts: exact below 2^24).
 * An all-ones exponent on the bits, a vector at a time: the host gives it
 * few work-groups (host/cl_optim.c), so each item walks many elements. */
__kernel void optim_nonfinite_partial(__global const float *X, long n, __global float *partial, __local float *tmp)
{
    uint count = 0;
    long i = get_global_id(0);
#if CLG_VW > 1
    /* a vector comparison is -1 where true: each lane counts down */
    intv lanes = (intv)(0);
    const long nv = n / CLG_VW;
    for (; i < nv; i += get_global_size(0)) lanes += (CAST_AS_UINTV(VLOAD(i, X)) & 0x7f800000u) == 0x7f800000u;
    count = (uint)(-vsum(CLG_CAT(convert_float, CLG_VW)(lanes)));
    i = nv * CLG_VW + get_global_id(0);
#endif
    for (; i < n; i += get_global_size(0)) count += (as_uint(X[i]) & 0x7f800000u) == 0x7f800000u;
    float acc = group_sum((float)count, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = acc;
}

/* Loss scaling's update factor {1 / scale times clip_grad_norm_'s
 * coefficient of the unscaled norm (max_norm 0: none), t} (core/optim.h) */
__kernel void optim_unscale_coef(__global const float *bad, __global const float *scale, __global const float *steps,
                                 __global const float *S, int has_clip, float max_norm, __global float *Y)
{
    if (get_global_id(0) != 0) return;
    float c = 1.0f / scale[0];
    if (has_clip) c *= fmin(1.0f, max_norm / (sqrt(S[0]) / scale[0] + 1e-6f));
    Y[0] = c;
    Y[1] = bad[0] > 0.0f ? 0.0f : steps[0] + 1.0f;
}

/* PyTorch's _amp_update_scale_: after a non-finite gradient the scale
 * backs off and the tracker restarts; after `interval` good steps in a
 * row it grows (unless that overflows); good steps are counted in steps */
__kernel void optim_scaler_update(__global float *scale, __global const float *bad, __global float *tracker,
                                  __global float *steps, float growth, float backoff, int interval)
{
    if (get_global_id(0) != 0) return;
    if (bad[0] > 0.0f) {
        scale[0] *= backoff;
        tracker[0] = 0.0f;
        return;
    }
    steps[0] += 1.0f;
    const float good = tracker[0] + 1.0f;
    if (good >= (float)interval) {
        const float grown = scale[0] * growth;
        if (grown < 0x1p126f) scale[0] = grown; /* its reciprocal stays a normal float */
        tracker[0] = 0.0f;
    } else {
        tracker[0] = good;
    }
}

/* clip_grad_norm_'s coefficient: c = min(1, max_norm / (sqrt(total) + 1e-6)) */
__kernel void optim_clip_coef(__global const float *S, float max_norm, __global float *Y)
{
    if (get_global_id(0) == 0) Y[0] = fmin(1.0f, max_norm / (sqrt(S[0]) + 1e-6f));
}
