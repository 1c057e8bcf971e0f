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

/* Extents or strides of 8 axes (v[0] outermost; CLG_MAX_DIMS), as kernels
 * take them: a struct, not a long8, whose 512 bits would change the
 * calling convention on CPUs without AVX-512 (clang's -Wpsabi warning).
 * The host passes a cl_long8, the same 64 bytes. */
typedef struct axes8 {
    long v[8];
} axes8;

/* Offset of a broadcast source for linear output index i. dims are the
 * output's extents padded to 8-D (v[0] outermost); st the
 * source's strides against them, 0 along broadcast axes. The hosts merge
 * what axes they can first (clg_collapse_axes), so most shapes come here
 * as 1 to 3 axes. Each split is an integer division (dear on a GPU,
 * 64-bit ones most); a quotient below the next extent means every outer
 * index is 0, so the walk ends there: a division per axis actually used.
 * Neighbouring work-items take the same branches but at the boundaries
 * of an outer index. */
#define BCAST_STEP(a)                            \
    if (q < dims.v[a]) return off + q * st.v[a]; \
    i = q;                                       \
    q = i / dims.v[a];                           \
    off += (i - q * dims.v[a]) * st.v[a];
inline long bcast_offset(long i, axes8 dims, axes8 st)
{
    long q = i / dims.v[7];
    long off = (i - q * dims.v[7]) * st.v[7];
    BCAST_STEP(6)
    BCAST_STEP(5)
    BCAST_STEP(4)
    BCAST_STEP(3)
    BCAST_STEP(2)
    BCAST_STEP(1)
    return off + q * st.v[0];
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

/*
 * Per-element math that both an op's kernel and the kernels host/cl_fuse.c
 * generates compute, so that a fused group rounds as the op alone: the
 * sizes of a convolution or pooling (conv.cl), max pooling's input
 * gradient, softmax cross-entropy's gradient, batch norm's statistics.
 */
/* conv and pooling sizes, travelling as one int16 (host/cl_conv.c, geom16) */
typedef struct {
    int n, c, h, w, oc, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
    int xpad; /* average pooling's divisor (core/conv_geom.h): 0 kh kw, 1 cells in x, 2 cells in the padded input */
} conv_geom;

/* A macro, not a function: an int16 passed to a function changes the ABI
 * on CPUs without AVX-512, and PoCL's compiler says so (-Wpsabi, "warnings
 * generated" on every cold build); the kernel argument itself is fine. */
#define conv_unpack(v)                                                                                      \
    ((conv_geom){(v).s0, (v).s1, (v).s2, (v).s3, (v).s4, (v).s5, (v).s6, (v).s7, (v).s8, (v).s9, (v).sa, (v).sb, \
                 (v).sc, (v).sd, (v).se, (v).sf})

/* The first and last output index (along one axis) whose window holds
 * input index `in`: a window at o covers o stride - pad + t dil for taps
 * t in [0, k), so o stride lies in [in + pad - (k - 1) dil, in + pad]. */
inline int2 conv_windows(int in, int k, int stride, int pad, int dil, int extent)
{
    const int lo = in + pad - (k - 1) * dil, hi = in + pad;
    return (int2)(lo > 0 ? (lo - 1) / stride + 1 : 0, min(hi / stride, extent - 1));
}

/* The tap of the window at output index out that lands on input index in,
 * or -1 when it falls between taps (dilation): in = out stride - pad +
 * tap dil. Divides only with dilation. */
inline int conv_whole_tap(int in, int out, int stride, int pad, int dil)
{
    const int t = in + pad - out * stride, tap = dil > 1 ? t / dil : t;
    return tap * dil == t ? tap : -1;
}

/*
 * dx[n,c,h,v] = sum of dy[n,c,i,l] over the windows (i, l) that hold
 * (h, v) (conv_windows) and whose argmax it is: element idx of dx.
 */
inline float pool_max_grad_taps(__global const float *DY, __global const int *ARG, const conv_geom *g, long idx,
                               int dh, int dw)
{
    const long t = idx / g->w, nc = t / g->h;
    const int v = (int)(idx - t * g->w), h = (int)(t - nc * g->h);
    const int2 ri = conv_windows(h, g->kh, g->sh, g->ph, dh, g->oh), rl = conv_windows(v, g->kw, g->sw, g->pw, dw, g->ow);
    const long base = nc * g->oh * g->ow;
    const int me = h * g->w + v;
    float acc = 0.0f;
    for (int i = ri.x; i <= ri.y; i++)
        for (int l = rl.x; l <= rl.y; l++)
            if (ARG[base + (long)i * g->ow + l] == me) acc += DY[base + (long)i * g->ow + l];
    return acc;
}
/* undilated pooling, the common case: dilation a literal 1 the compiler
 * folds (the geometry's 1 read at run time cost 10-20% of the kernel on PoCL) */
inline float pool_max_grad_at(__global const float *DY, __global const int *ARG, const conv_geom *g, long idx)
{
    return pool_max_grad_taps(DY, ARG, g, idx, 1, 1);
}
inline float pool_max_grad_dil(__global const float *DY, __global const int *ARG, const conv_geom *g, long idx)
{
    return pool_max_grad_taps(DY, ARG, g, idx, g->dh, g->dw);
}

/* Softmax cross-entropy of one row z of C logits, in order by one work-item
 * (softmax_ce_small, fused kernels): m = max z, ls = log sum e^(z - m),
 * loss = (m - z_label) + ls, NaN for a label outside [0, C); stats = (m, ls). */
inline float ce_row(__global const float *z, int label, long C, __global float *stats)
{
    float m = -INFINITY, s = 0.0f, c = 0.0f;
    for (long k = 0; k < C; k++) m = fmax(m, z[k]);
    for (long k = 0; k < C; k++) kahan_add(&s, &c, exp(z[k] - m));
    const float ls = log(s - c);
    stats[0] = m;
    stats[1] = ls;
    return label >= 0 && label < C ? (m - z[label]) + ls : NAN;
}

/*
 * Softmax cross-entropy's gradient over logits Z [rows, C]:
 *   dz = (softmax(z) - onehot(label)) k,  softmax = e^((z - m) - ls),  k = g / rows
 * with the row's m and ls (stats) from the forward; g = dloss; NaN in a row
 * whose label lies outside [0, C).
 *
 * The exponential is computed on CE_W-float vectors everywhere, even for
 * one element (ce_exp): PoCL's vector exp rounds about 1 % of inputs one
 * ulp apart from its scalar exp, and the op's kernel runs on vectors while
 * a fused kernel may take one element at a time; both give the same bits.
 * CE_W is 16 where the device prefers 16 floats (AVX-512: PoCL runs this
 * kernel on float8 four times slower there), else 8: a 16-float value
 * passed to or returned from a function (exp, vload16, select) changes the
 * ABI on CPUs without AVX-512, and PoCL's compiler said so on every cold
 * build ("warnings generated").
 */
#if CLG_VW >= 16
#define CE_W 16
#define CE_LANES ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#define CE_W 8
#define CE_LANES ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#endif
#define CLG_CE_CAT_(a, b) a##b
#define CLG_CE_CAT(a, b) CLG_CE_CAT_(a, b)
typedef CLG_CE_CAT(float, CE_W) floatce;
typedef CLG_CE_CAT(int, CE_W) intce;
#define CE_VLOAD(q, p) CLG_CE_CAT(vload, CE_W)(q, p)
#define CE_VSTORE(v, q, p) CLG_CE_CAT(vstore, CE_W)(v, q, p)
inline float ce_exp(float x) { return exp((floatce)(x)).s0; }

/* element i (ce_grad_at: with its row's statistics and label) */
inline float ce_grad_value(float z, float m, float ls, int l, long j, long C, float k)
{
    const float h = l >= 0 && l < C ? (j == l ? 1.0f : 0.0f) : NAN;
    return (ce_exp((z - m) - ls) - h) * k;
}
inline float ce_grad_at(__global const float *Z, __global const int *labels, __global const float *stats, float g,
                        long rows, long C, long i)
{
    const long r = i / C, j = i - r * C;
    return ce_grad_value(Z[i], stats[2 * r], stats[2 * r + 1], labels[r], j, C, g / (float)rows);
}

/* Elements CE_W q .. CE_W q + CE_W - 1 (all inside Z). Where rows hold at
 * least 8 logits the lanes lie in at most three rows (two when CE_W is 8),
 * whose statistics are selected on vectors; shorter rows gather them lane
 * by lane. */
inline floatce ce_grad_vec(__global const float *Z, __global const int *labels, __global const float *stats, float k,
                           long rows, long C, long q)
{
    const long i0 = CE_W * q, r0 = i0 / C, j0 = i0 - r0 * C;
    const floatce z = CE_VLOAD(q, Z);
    floatce m, ls, h;
    if (C >= 8) {
        const long r1 = r0 + 1 < rows ? r0 + 1 : r0, r2 = r0 + 2 < rows ? r0 + 2 : r1;
        const int c = (int)C;
        const intce j = (intce)((int)j0) + CE_LANES;
        const intce past1 = j >= c, past2 = j >= 2 * c;
        const intce col = select(select(j, j - c, past1), j - 2 * c, past2);
        const intce l = select(select((intce)(labels[r0]), (intce)(labels[r1]), past1), (intce)(labels[r2]), past2);
        m = select(select((floatce)(stats[2 * r0]), (floatce)(stats[2 * r1]), past1), (floatce)(stats[2 * r2]), past2);
        ls = select(select((floatce)(stats[2 * r0 + 1]), (floatce)(stats[2 * r1 + 1]), past1),
                    (floatce)(stats[2 * r2 + 1]), past2);
        h = select(select((floatce)(0.0f), (floatce)(1.0f), col == l), (floatce)(NAN), l < 0 || l >= c);
    } else {
        float mv[CE_W], lv[CE_W], hv[CE_W];
        long r = r0, j = j0;
        for (int t = 0; t < CE_W; t++) {
            const int l = labels[r];
            mv[t] = stats[2 * r];
            lv[t] = stats[2 * r + 1];
            hv[t] = l >= 0 && l < C ? (j == l ? 1.0f : 0.0f) : NAN;
            if (++j == C) j = 0, r++;
        }
        m = CE_VLOAD(0, mv);
        ls = CE_VLOAD(0, lv);
        h = CE_VLOAD(0, hv);
    }
    return (exp((z - m) - ls) - h) * k;
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
 * element rounds alike in both. The activations' math is written once
 * for both types (ACT_FUNCTIONS below).
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
#else
typedef CLG_CAT(float, CLG_VW) floatv;
#define VLOAD(q, p) CLG_CAT(vload, CLG_VW)(q, p)
#define VSTORE(v, q, p) CLG_CAT(vstore, CLG_VW)(v, q, p)
#endif
/* the vector of x (a vector, or a float to broadcast) */
#define VSPLAT(x) ((floatv)(x))

/*
 * Conversions between float32, float16 and bfloat16: the casts' kernel
 * (core/ops.h's CAST, cl/quant.cl) and the fused kernels' 16-bit loads and
 * stores (host/cl_fuse.c); dtype codes as core/backend.h's clg_dtype. Float32 to 16 bits rounds to
 * nearest, ties to even, through the subnormals, overflowing to infinity;
 * NaN becomes fp16's quiet NaN of its sign, bf16's 0x7fc0. All by integer
 * arithmetic on the bits, so that no device's float conversion (vstore_half
 * flushing subnormals, a float load flushing a float32 subnormal) can
 * change a result; core/half.h computes the same by a different method.
 * 16-bit values are ushorts, element i at byte 2 i.
 *
 * Written once for uint and for CLG_VW-uint vectors (CAST_FUNCTIONS),
 * without branches (every case computed, one chosen by select: for a
 * scalar select takes c != 0, for a vector each lane's sign bit, and
 * comparisons give 1 and -1 to match), so that a work-item converts a
 * vector of CLG_VW elements: PoCL runs the branchy one-element form at a
 * quarter of the bandwidth.
 *
 * float32 bits x to float16, |x| = a:
 *   a NaN: sign | 0x7e00;  a >= 65520 (the midpoint past 65504): infinity;
 *   a >= 2^-14: exponent rebiased (a - (112 << 23)) >> 13, rounded on
 *     the 13 bits dropped (a carry moves up a binade, to infinity too);
 *   below: a subnormal, a rounded to units of 2^-24 by adding 0.5 in
 *     float (0.5's spacing is 2^-24; normal operands and sum, so no
 *     device's flushing of subnormals touches it; everything up to 2^-25
 *     goes to 0).
 * float16 to float32: exponent + 112, the significand << 13; a subnormal
 * m 2^-24 computed in float (exact); infinity and NaN (made quiet) kept.
 * float32 to bfloat16: the top half, rounded on the bottom half; NaN 0x7fc0.
 */
#define CAST_F32 0
#define CAST_F16 2
#define CAST_BF16 3

#define CAST_FUNCTIONS(U, sfx, AS_U, AS_F, CONV_F)                                                         \
    inline U cast_round_up##sfx(U r, U rem, U mid)                                                          \
    {                                                                                                        \
        return r + select((U)0u, (U)1u, (rem > mid) | ((rem == mid) & ((r & 1u) != 0u)));                    \
    }                                                                                                        \
    inline U f16_bits##sfx(U x)                                                                              \
    {                                                                                                        \
        const U sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;                                              \
        const U normal = cast_round_up##sfx((a - 0x38000000u) >> 13, a & 0x1fffu, (U)0x1000u);              \
        /* below 2^-14: a + 0.5 rounds a to a multiple of 2^-24 (0.5's spacing), ties to even, in the        \
         * float adder; its bits past 0.5's count those units (2^-14 itself carrying to 0x0400). Both         \
         * operands and the sum are normal (a float32 subnormal flushed gives the same 0). */                \
        const U sub = AS_U(AS_F(a) + 0.5f) - 0x3f000000u;                                                    \
        U r = select(normal, sub, a < 0x38800000u);                                                          \
        r = select(r, (U)0x7c00u, a >= 0x477ff000u);                                                         \
        r = select(r, (U)0x7e00u, a > 0x7f800000u);                                                          \
        return sign | r;                                                                                     \
    }                                                                                                        \
    inline U f16_to_f32_bits##sfx(U h)                                                                       \
    {                                                                                                        \
        const U sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;                            \
        /* a subnormal is m 2^-24, a normal float32: exact through a float (no clz, which AVX2 lacks) */    \
        U r = sign | ((e + 112u) << 23) | (m << 13);                                                         \
        r = select(r, sign | AS_U(CONV_F(m) * 0x1p-24f), e == 0u);                                            \
        r = select(r, sign, (e == 0u) & (m == 0u));                                                          \
        r = select(r, sign | 0x7f800000u | select((U)0u, (U)0x400000u, m != 0u) | (m << 13), e == 0x1fu);    \
        return r;                                                                                            \
    }                                                                                                        \
    inline U bf16_bits##sfx(U x)                                                                             \
    {                                                                                                        \
        return select((x + 0x7fffu + ((x >> 16) & 1u)) >> 16, (U)0x7fc0u, (x & 0x7fffffffu) > 0x7f800000u);  \
    }                                                                                                        \
    /* float32 bits x to `to` (a 16-bit code), or to float32 rounded through `through` */                    \
    inline U cast_from_f32##sfx(U x, int to, int through)                                                    \
    {                                                                                                        \
        if (to == CAST_F16) return f16_bits##sfx(x);                                                         \
        if (to == CAST_BF16) return bf16_bits##sfx(x);                                                       \
        if (through == CAST_F16) return f16_to_f32_bits##sfx(f16_bits##sfx(x));                              \
        if (through == CAST_BF16) return bf16_bits##sfx(x) << 16;                                            \
        return x;                                                                                            \
    }                                                                                                        \
    inline U cast_to_f32##sfx(U h, int from) { return from == CAST_F16 ? f16_to_f32_bits##sfx(h) : h << 16; }

#define CAST_AS_UINT(x) as_uint(x)
CAST_FUNCTIONS(uint, , CAST_AS_UINT, as_float, convert_float)
#if CLG_VW > 1
typedef CLG_CAT(uint, CLG_VW) uintv;
typedef CLG_CAT(int, CLG_VW) intv;
#define CAST_AS_UINTV(x) CLG_CAT(as_uint, CLG_VW)(x)
CAST_FUNCTIONS(uintv, _v, CAST_AS_UINTV, CLG_CAT(as_float, CLG_VW), CLG_CAT(convert_float, CLG_VW))
#define CAST_LOAD32(q, p) CLG_CAT(vload, CLG_VW)(q, p)
#define CAST_LOAD16(q, p) CLG_CAT(convert_uint, CLG_VW)(CLG_CAT(vload, CLG_VW)(q, p))
#define CAST_STORE32(v, q, p) CLG_CAT(vstore, CLG_VW)(v, q, p)
#define CAST_STORE16(v, q, p) CLG_CAT(vstore, CLG_VW)(CLG_CAT(convert_ushort, CLG_VW)(v), q, p)
#endif

/* 16-bit tensors in the fused kernels (host/cl_fuse.c): element i of
 * ushort buffer p as a float, float v stored. float16 is read with
 * OpenCL's core vload_half(n) (no extension needed; PoCL's 4- to 16-wide
 * forms are F16C's vcvtph2ps, and no device may flush a subnormal there):
 * the integer widening above was one of the select chains behind the fp16
 * CNN's slowness on PoCL (bench/RESULTS.md, nineteenth session).
 * clgrad itself stores only quiet 16-bit NaNs (the casts'); a signalling
 * one an application wrote into a shared buffer may widen quiet or not,
 * which the spec leaves open (cast_to_f32 always quiets it). */
#define LOAD16(p, i, from) \
    ((from) == CAST_F16 ? vload_half(i, (__global const half *)(p)) : as_float((uint)(p)[i] << 16))
#define STORE16(v, p, i, to) ((p)[i] = (ushort)cast_from_f32(as_uint(v), to, CAST_F32))
#if CLG_VW == 1
#define VLOAD16(q, p, from) LOAD16(p, q, from)
#define VSTORE16(v, q, p, to) STORE16(v, p, q, to)
#else
#define VLOAD16(q, p, from)                                                  \
    ((from) == CAST_F16 ? CLG_CAT(vload_half, CLG_VW)(q, (__global const half *)(p)) \
                        : CLG_CAT(as_float, CLG_VW)(CAST_LOAD16(q, p) << 16))
#define VSTORE16(v, q, p, to) CAST_STORE16(cast_from_f32_v(CLG_CAT(as_uint, CLG_VW)(v), to, CAST_F32), q, p)
#endif

/*
 * A member's float v rounded through a 16-bit type in registers (its node
 * is 16-bit: the value its stored result reads back), equal bit for bit to
 * a store and a load above, in fewer operations than the two (a fused
 * kernel of dozens of members compiles in seconds, not minutes):
 *   bfloat16: x rounded at bit 16 (a carry moves up a binade, to infinity
 *     too), NaN 0x7fc00000;
 *   float16: at bit 13 in its normal range; below 2^-14, to a multiple of
 *     2^-24 ((|v| + 0.5) - 0.5: the adder rounds to 0.5's spacing, 2^-24,
 *     ties to even, and the subtraction is exact; as f16_bits, and cheaper
 *     than rint, which PoCL calls out of line; a float32 subnormal flushed
 *     on the way is a 0 either way); from the midpoint 65520 infinity; NaN
 *     its sign | 0x7fc00000.
 * For uint/float and CLG_VW vectors (U, F, AS_U, AS_F).
 */
#define ROUND16_FUNCTIONS(U, F, sfx, AS_U, AS_F)                                                            \
    inline F round_bf16##sfx(F v)                                                                          \
    {                                                                                                      \
        const U x = AS_U(v);                                                                               \
        const U r = (x + 0x7fffu + ((x >> 16) & 1u)) & 0xffff0000u;                                        \
        return AS_F(select(r, (U)0x7fc00000u, (x & 0x7fffffffu) > 0x7f800000u));                         \
    }                                                                                                      \
    inline F round_f16##sfx(F v)                                                                           \
    {                                                                                                      \
        const U x = AS_U(v), a = x & 0x7fffffffu, sign = x & 0x80000000u;                                  \
        U r = (x + 0xfffu + ((x >> 13) & 1u)) & 0xffffe000u;                                               \
        r = select(r, sign | AS_U((AS_F(a) + 0.5f) - 0.5f), a < 0x38800000u);                              \
        r = select(r, sign | 0x7f800000u, a >= 0x477ff000u);                                               \
        r = select(r, sign | 0x7fc00000u, a > 0x7f800000u);                                                \
        return AS_F(r);                                                                                    \
    }
ROUND16_FUNCTIONS(uint, float, , as_uint, as_float)
#define ROUND16(v, through) ((through) == CAST_F16 ? round_f16(v) : round_bf16(v))
#if CLG_VW == 1
#define VROUND16(v, through) ROUND16(v, through)
#else
ROUND16_FUNCTIONS(uintv, floatv, _v, CLG_CAT(as_uint, CLG_VW), CLG_CAT(as_float, CLG_VW))
#define VROUND16(v, through) ((through) == CAST_F16 ? round_f16_v(v) : round_bf16_v(v))
#endif

/*
 * Batch norm sees x as [N, C, inner]; channel c owns M = N * inner values,
 * N planes of inner consecutive floats. Its work-group walks them either
 * as values m = lid, lid + ls, ... (bn_index: the offset of value m), or,
 * where a plane holds whole vectors (BN_PLANES: CLG_VW > 1, a CPU's
 * vectors), as planes n = lid, lid + ls, ..., each read in vectors: on
 * PoCL the latter streams memory in vectors instead of a float per item.
 * The op kernels (norm.cl) and the fused ones (host/cl_fuse.c) take the
 * same walk, and so sum in the same order.
 */
#define BN_PLANES(inner) (CLG_VW > 1 && (inner) % CLG_VW == 0)
inline long bn_index(long m, long c, long C, long inner)
{
    const long n = m / inner;
    return (n * C + c) * inner + (m - n * inner);
}

/* Element i (the CLG_VW elements from i) of an op's input that may be
 * float32 or 16-bit (xfrom CAST_F32, CAST_F16 or CAST_BF16): batch norm's
 * and max pooling's x, read as the 16-bit tensor it is, never a widened
 * copy, so that a 16-bit activation saved for the backward pass takes half
 * the memory. xfrom is uniform: one branch every item takes alike, folded
 * away where it is a constant (the fused kernels pass x's type). */
inline float load_any(__global const void *X, long i, int xfrom)
{
    return xfrom == CAST_F32 ? ((__global const float *)X)[i] : LOAD16((__global const ushort *)X, i, xfrom);
}
inline floatv vload_any(__global const void *X, long i, int xfrom)
{
    return xfrom == CAST_F32 ? VLOAD(0, (__global const float *)X + i)
                             : VLOAD16(0, (__global const ushort *)X + i, xfrom);
}

/* y of x, with k = gamma invstd and b = beta (bn_forward, fused kernels) */
#define BN_APPLY(x, mean, k, b) ((k) * ((x) - (mean)) + (b))
/* dgamma's term: dy x^, x^ = (x - mean) invstd (bn_backward_reduce, fused
 * kernels). A function, so that no compiler contracts it with the sum it
 * is added to in one kernel and not in the other. */
inline float bn_dgamma_term(float dy, float x, float mean, float invstd) { return dy * ((x - mean) * invstd); }
inline floatv bn_dgamma_term_v(floatv dy, floatv x, float mean, float invstd) { return dy * ((x - mean) * invstd); }
/* The input gradient in training mode, k = gamma invstd (bn_backward_input,
 * the fused sums' second pass); a function for the same reason:
 *   dx = k / M (M dy - dbeta - x^ dgamma) */
inline float bn_dx(float dy, float x, float mean, float invstd, float k, float M, float db, float dg)
{
    const float xhat = (x - mean) * invstd;
    return k / M * (M * dy - db - xhat * dg);
}
inline floatv bn_dx_v(floatv dy, floatv x, float mean, float invstd, float k, float M, float db, float dg)
{
    const floatv xhat = (x - mean) * invstd;
    return k / M * (M * dy - db - xhat * dg);
}

/* The sum of a vector's lanes, halves first (a fixed order) */
inline float vsum(floatv v)
{
#if CLG_VW == 1
    return v;
#elif CLG_VW == 2
    return v.s0 + v.s1;
#elif CLG_VW == 4
    const float2 h = v.lo + v.hi;
    return h.s0 + h.s1;
#elif CLG_VW == 8
    const float4 a = v.lo + v.hi;
    const float2 h = a.lo + a.hi;
    return h.s0 + h.s1;
#else
    const float8 b = v.lo + v.hi;
    const float4 a = b.lo + b.hi;
    const float2 h = a.lo + a.hi;
    return h.s0 + h.s1;
#endif
}

/*
 * Channel c's statistics, by its work-group (every item gets them):
 * training: mean = sum x / M, var = sum (x - mean)^2 / M (two passes),
 *           running mean <- (1 - mom) running mean + mom mean,
 *           running var  <- (1 - mom) running var + mom var M / (M - 1);
 * eval:     mean, var = the running averages;
 * invstd = 1 / sqrt(var + eps); saved = (mean[C], invstd[C]) for the backward.
 */
inline float2 bn_channel_stats(__global const void *X, int xfrom, __global float *saved, __global float *running,
                               long c, long C, long inner, long M, int training, float mom, float eps,
                               __local float *tmp)
{
    const int lid = get_local_id(0), ls = get_local_size(0);
    /* the barriers of group_sum stay outside any branch (PoCL mishandles
     * them under a condition, even a uniform one); eval mode sums nothing */
    float acc = 0.0f;
    const long N = M / inner;
    if (BN_PLANES(inner)) {
        floatv a = VSPLAT(0.0f);
        for (long n = lid; training && n < N; n += ls)
            for (long s = 0; s < inner; s += CLG_VW) a += vload_any(X, (n * C + c) * inner + s, xfrom);
        acc = vsum(a);
    } else {
        for (long m = lid; training && m < M; m += ls) acc += load_any(X, bn_index(m, c, C, inner), xfrom);
    }
    const float bmean = group_sum(acc, tmp) / (float)M;
    acc = 0.0f;
    if (BN_PLANES(inner)) {
        floatv a = VSPLAT(0.0f);
        for (long n = lid; training && n < N; n += ls)
            for (long s = 0; s < inner; s += CLG_VW) {
                const floatv d = vload_any(X, (n * C + c) * inner + s, xfrom) - bmean;
                a += d * d;
            }
        acc = vsum(a);
    } else {
        for (long m = lid; training && m < M; m += ls) {
            const float d = load_any(X, bn_index(m, c, C, inner), xfrom) - bmean;
            acc += d * d;
        }
    }
    const float bvar = group_sum(acc, tmp) / (float)M;
    float mean, invstd;
    if (training) {
        mean = bmean;
        invstd = 1.0f / sqrt(bvar + eps);
        if (lid == 0) {
            running[c] = (1.0f - mom) * running[c] + mom * bmean;
            running[C + c] = (1.0f - mom) * running[C + c] + mom * (bvar * ((float)M / (float)(M - 1)));
        }
    } else {
        mean = running[c];
        invstd = 1.0f / sqrt(running[C + c] + eps);
    }
    if (lid == 0) {
        saved[c] = mean;
        saved[C + c] = invstd;
    }
    return (float2)(mean, invstd);
}


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
/* a broadcast source read at the output's element: the gradient of a sum */
#define EW_EXPAND(a, b, c) (a)
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
/* gelu_erf(x) = x Phi(x), Phi(x) = 0.5 erfc(-x / sqrt 2) (no cancellation
 * for x << 0, where 1 + erf would);  dx = dy (Phi(x) + x phi(x)), phi(x) =
 * e^(-x^2 / 2) / sqrt(2 pi)   (a = x, b = dy) */
#define EW_GELU_ERF(a, b, c) ((a) * 0.5f * erfc((a) * -0.70710678118654752f))
#define EW_GELU_ERF_GRAD(a, b, c)                                                                  \
    ((b) * (0.5f * erfc((a) * -0.70710678118654752f) + (a) * 0.39894228040143268f * exp(-0.5f * (a) * (a))))
/* y = |x|;  dx = sign(x) dy, 0 at x = 0   (a = x, b = dy) */
#define EW_ABS(a, b, c) fabs(a)
#define EW_ABS_GRAD(a, b, c) (sign(a) * (b))
/* y = x^p;  dx = dy p x^(p - 1)   (a = x, b = dy, c = p) */
#define EW_POW(a, b, c) pow((a), (c))
#define EW_POW_GRAD(a, b, c) ((b) * (c) * pow((a), (c) - 1.0f))
/* maximum / minimum: a NaN on either side wins (PyTorch propagates it);
 * a tie gives a, as PyTorch (maximum(-0, +0) is -0) */
#define EW_MAXIMUM(a, b, c) (((a) >= (b) || isnan(a)) ? (a) : (b))
#define EW_MINIMUM(a, b, c) (((a) <= (b) || isnan(a)) ? (a) : (b))
/* maximum's share of dy for a against b: 1 if a > b, 1/2 on a tie, 0 if
 * a < b (1 with a NaN: PyTorch gives dy to both sides then) */
#define EW_TIE_WEIGHT(a, b, c) ((a) < (b) ? 0.0f : (a) == (b) ? 0.5f : 1.0f)
/* a op b for clg_compare's op c (the enum's order: lt le gt ge eq ne), as
 * 0/1; c is a constant of the kernel, so the compiler keeps one branch */
#define CMP_OF(a, b, c)                                                                            \
    ((c) < 0.5f ? (a) < (b) : (c) < 1.5f ? (a) <= (b) : (c) < 2.5f ? (a) > (b) :                   \
     (c) < 3.5f ? (a) >= (b) : (c) < 4.5f ? (a) == (b) : (a) != (b))
#define EW_COMPARE(a, b, c) (CMP_OF(a, b, c) ? 1.0f : 0.0f)
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
#define EWV_EXPAND EW_EXPAND
#define EWV_RELU EW_RELU
#define EWV_RELU_GRAD EW_RELU_GRAD
#define EWV_SIGMOID EW_SIGMOID
#define EWV_SIGMOID_GRAD EW_SIGMOID_GRAD
#define EWV_TANH EW_TANH
#define EWV_TANH_GRAD EW_TANH_GRAD
#define EWV_LEAKY_RELU EW_LEAKY_RELU
#define EWV_LEAKY_RELU_GRAD EW_LEAKY_RELU_GRAD
#define EWV_SOFTPLUS EW_SOFTPLUS
#define EWV_GELU_ERF EW_GELU_ERF
#define EWV_GELU_ERF_GRAD EW_GELU_ERF_GRAD
#define EWV_ABS EW_ABS
#define EWV_ABS_GRAD EW_ABS_GRAD
#define EWV_MAXIMUM EW_MAXIMUM
#define EWV_MINIMUM EW_MINIMUM
#define EWV_TIE_WEIGHT(a, b, c) ((a) < (b) ? VSPLAT(0.0f) : (a) == (b) ? VSPLAT(0.5f) : VSPLAT(1.0f))
#define EWV_COMPARE(a, b, c) (CMP_OF(a, b, c) ? VSPLAT(1.0f) : VSPLAT(0.0f))
#define EWV_POW(a, b, c) pow((a), VSPLAT(c))
#define EWV_POW_GRAD(a, b, c) ((b) * (c) * pow((a), VSPLAT((c) - 1.0f)))
#if CLG_VW > 1
#define EWV_GELU(a, b, c) act_gelu_v(a)
#define EWV_GELU_GRAD(a, b, c) ((b) * act_gelu_grad_v(a))
#define EWV_SILU(a, b, c) act_silu_v(a)
#define EWV_SILU_GRAD(a, b, c) ((b) * act_silu_grad_v(a))
#define EWV_SOFTPLUS_GRAD(a, b, c) ((b) * act_sigmoid_v(a))
#else
#define EWV_GELU EW_GELU
#define EWV_GELU_GRAD EW_GELU_GRAD
#define EWV_SILU EW_SILU
#define EWV_SILU_GRAD EW_SILU_GRAD
#define EWV_SOFTPLUS_GRAD EW_SOFTPLUS_GRAD
#endif
/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  dx = dy sigmoid(x) */
#define EW_SOFTPLUS(a, b, c) (fmax((a), 0.0f) + log1p(exp(-fabs(a))))
#define EW_SOFTPLUS_GRAD(a, b, c) ((b) * act_sigmoid(a))

/* sqrt(2 / pi) and the cubic coefficient of GELU's tanh approximation */
#define ACT_GELU_K 0.7978845608028654f
#define ACT_GELU_C 0.044715f

/*
 * The activations' math, defined once for floats (suffix none) and once for
 * the vectors of the elementwise kernels (suffix _v, when CLG_VW > 1):
 * exp runs on vectors, where PoCL computes it several times faster.
 *
 * act_sigmoid_pair: sigmoid(z) in *s and 1 - sigmoid(z) in *r, from
 * t = e^-|z| <= 1: no overflow for any z, and no cancellation in 1 - s;
 * each is one division, its numerator (1 or t) chosen first (act_sigmoid:
 * s alone, the same bits).
 *
 * gelu(x) = 0.5 x (1 + tanh u), u = k (x + c x^3), computed as x s with
 * s = sigmoid(2u) = 0.5 (1 + tanh u), which does not cancel for x < 0;
 * dx = dy (s + 2 x s (1 - s) u'),  u' = k (1 + 3 c x^2)
 *
 * silu(x) = x s, s = sigmoid(x);  dx = dy s (1 + x (1 - s))
 * act_sigmoid: sigmoid(x) without overflow (softplus's gradient)
 */
#define ACT_FUNCTIONS(T, sfx)                                                                      \
    inline T act_sigmoid##sfx(T z)                                                                 \
    {                                                                                              \
        const T t = exp(-fabs(z));                                                                 \
        return (z >= 0.0f ? (T)(1.0f) : t) / (1.0f + t);                                           \
    }                                                                                              \
    inline void act_sigmoid_pair##sfx(T z, T *s, T *r)                                             \
    {                                                                                              \
        const T t = exp(-fabs(z)), d = 1.0f + t, one = (T)(1.0f);                                  \
        *s = (z >= 0.0f ? one : t) / d;                                                            \
        *r = (z >= 0.0f ? t : one) / d;                                                            \
    }                                                                                              \
    inline T act_gelu##sfx(T x) { return x * act_sigmoid##sfx(2.0f * ACT_GELU_K * (x + ACT_GELU_C * x * x * x)); } \
    inline T act_gelu_grad##sfx(T x)                                                               \
    {                                                                                              \
        T s, r;                                                                                    \
        act_sigmoid_pair##sfx(2.0f * ACT_GELU_K * (x + ACT_GELU_C * x * x * x), &s, &r);           \
        return s + 2.0f * x * s * r * ACT_GELU_K * (1.0f + 3.0f * ACT_GELU_C * x * x);             \
    }                                                                                              \
    inline T act_silu##sfx(T x) { return x * act_sigmoid##sfx(x); }                                \
    inline T act_silu_grad##sfx(T x)                                                               \
    {                                                                                              \
        T s, r;                                                                                    \
        act_sigmoid_pair##sfx(x, &s, &r);                                                          \
        return s * (1.0f + x * r);                                                                 \
    }
ACT_FUNCTIONS(float, )
#if CLG_VW > 1
ACT_FUNCTIONS(floatv, _v)
#endif

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
