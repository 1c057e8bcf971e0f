/* The quant family: fake quantization, observers and 16-bit casts. */

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
 * channel (i / inner) % channels. Per tensor, and per channel where a
 * channel's runs of inner elements hold whole vectors (inner a multiple of
 * CLG_VW), CLG_VW elements a work-item, the channel's reciprocal taken
 * once a vector; else one element a work-item.
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
                                 float qmax, long zoff)
{
    Z += zoff; /* packed: an observer's [2, C], zero points in row 1 */
    float s, inv, zp;
    fq_channel(S, Z, 0, qmin, qmax, &s, &inv, &zp);
    long i0 = 0;
    if (per_tensor || inner % CLG_VW == 0) { /* CLG_VW at a time (one channel's), the tail below */
        const long nv = n / CLG_VW;
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
            if (!per_tensor) fq_channel(S, Z, (q * CLG_VW / inner) % channels, qmin, qmax, &s, &inv, &zp);
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
                                  int per_tensor, float qmin, float qmax, float gf, int which, int learnable, long zoff)
{
    Z += zoff;
    float s, inv, zp;
    fq_channel(S, Z, 0, qmin, qmax, &s, &inv, &zp);
    long i0 = 0;
    if (per_tensor || inner % CLG_VW == 0) { /* CLG_VW at a time (one channel's), the tail below; the same expressions */
        const long nv = n / CLG_VW;
        for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
            if (!per_tensor) fq_channel(S, Z, (q * CLG_VW / inner) % channels, qmin, qmax, &s, &inv, &zp);
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

/*
 * Observers (clgrad.h, core/ops.h's OBSERVE), in two launches:
 *   observe_minmax: channel c's elements x[(o C + c) inner + j], M = outer
 *     inner of them, split into P contiguous parts of blk (a multiple of L);
 *     group (c, p) reduces elements k = p blk + l, p blk + l + L, ... below
 *     (p + 1) blk to a minimum and maximum (a NaN wins,
 *     as torch.aminmax) in PART[2 (c P + p) + 0, 1]. Groups walk (c, p) in
 *     a group-stride loop, so that a capped launch still covers them.
 *   observe_update: per channel, the parts combined, the state updated
 *     (training only), then scale and zero point from the state, in float
 *     as PyTorch's _calculate_qparams, every division rounded to nearest.
 */
inline float nan_min(float a, float b) { return isnan(a) || a < b ? a : b; }
inline float nan_max(float a, float b) { return isnan(a) || a > b ? a : b; }

/* a / b rounded to nearest: OpenCL 1.2 lets a division be 2.5 ulp off. A
 * correction step, then the neighbours' exact residuals a - q b (fma)
 * say which is nearest (a quotient is never halfway between two floats). */
inline float div_nearest(float a, float b)
{
    float q = a / b;
    if (!isfinite(q) || q == 0.0f) return q;
    q = fma(fma(-q, b, a), 1.0f / b, q);
    const float lo = nextafter(q, -INFINITY), hi = nextafter(q, INFINITY);
    const float e = fabs(fma(-q, b, a)), el = fabs(fma(-lo, b, a)), eh = fabs(fma(-hi, b, a));
    return el < e && el <= eh ? lo : (eh < e ? hi : q);
}

/* Channel c of an observer, its minimum m and maximum M over this run
 * (training only): the state updated, then scale and zero point. */
inline void observe_channel(__global float *MIN, __global float *MAX, __global float *OUT, long C, long c, float m,
                            float M, int training, int moving, int symmetric, float qmin, float qmax, float avg,
                            float eps, float sym_zp)
{
    float mn = MIN[c], mx = MAX[c];
    if (training) {
        if (!moving) {
            mn = nan_min(mn, m);
            mx = nan_max(mx, M);
        } else if (mn == INFINITY && mx == -INFINITY) {
            mn = m;
            mx = M;
        } else { /* separate statements: no fma contraction */
            float d = m - mn;
            d = avg * d;
            mn = mn + d;
            d = M - mx;
            d = avg * d;
            mx = mx + d;
        }
        MIN[c] = mn;
        MAX[c] = mx;
    }
    float scale = 1.0f, zp = 0.0f;
    if (!(mn == INFINITY && mx == -INFINITY)) {
        const float neg = nan_min(mn, 0.0f), pos = nan_max(mx, 0.0f);
        if (symmetric) {
            const float mid = (qmax - qmin) / 2.0f; /* exact: an integer or a half below 2^17 */
            scale = nan_max(div_nearest(nan_max(-neg, pos), mid), eps);
            zp = sym_zp;
        } else {
            const float width = pos - neg;
            scale = nan_max(div_nearest(width, qmax - qmin), eps);
            zp = clamp(qmin - rint(div_nearest(neg, scale)), qmin, qmax);
        }
    }
    OUT[c] = scale;
    OUT[C + c] = zp;
}

#define OBS_LOCAL 64

/* P == 1 (one part a channel): the group finishes its channel itself
 * (observe_channel), and observe_update is not launched. */
__kernel void observe_minmax(__global const float *X, __global float *PART, long C, long inner, long M, long P,
                             __global float *MIN, __global float *MAX, __global float *OUT, int moving,
                             int symmetric, float qmin, float qmax, float avg, float eps, float sym_zp)
{
    __local float lmin[OBS_LOCAL], lmax[OBS_LOCAL];
    const int l = (int)get_local_id(0), L = (int)get_local_size(0); /* a power of two <= OBS_LOCAL */
    for (long gi = get_group_id(0); gi < C * P; gi += get_num_groups(0)) {
        const long c = gi / P, p = gi - c * P;
        float mn = INFINITY, mx = -INFINITY;
        const long blk = (M + P * L - 1) / (P * L) * L, end = min(M, (p + 1) * blk); /* a contiguous block a group */
        for (long k = p * blk + l; k < end; k += L) {
            const long o = inner == 1 ? k : k / inner, j = k - o * inner; /* per tensor: no division */
            const float v = X[(o * C + c) * inner + j];
            mn = nan_min(mn, v);
            mx = nan_max(mx, v);
        }
        lmin[l] = mn;
        lmax[l] = mx;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = L / 2; h > 0; h >>= 1) {
            if (l < h) {
                lmin[l] = nan_min(lmin[l], lmin[l + h]);
                lmax[l] = nan_max(lmax[l], lmax[l + h]);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (l == 0 && P == 1)
            observe_channel(MIN, MAX, OUT, C, c, lmin[0], lmax[0], 1, moving, symmetric, qmin, qmax, avg, eps,
                            sym_zp);
        else if (l == 0) {
            PART[2 * gi] = lmin[0];
            PART[2 * gi + 1] = lmax[0];
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* lmin is written again by the next (c, p) */
    }
}

__kernel void observe_update(__global const float *PART, __global float *MIN, __global float *MAX,
                             __global float *OUT, long C, long P, int training, int moving, int symmetric,
                             float qmin, float qmax, float avg, float eps, float sym_zp)
{
    for (long c = get_global_id(0); c < C; c += get_global_size(0)) {
        float m = INFINITY, M = -INFINITY;
        for (long p = 0; training && p < P; p++) {
            m = nan_min(m, PART[2 * (c * P + p)]);
            M = nan_max(M, PART[2 * (c * P + p) + 1]);
        }
        observe_channel(MIN, MAX, OUT, C, c, m, M, training, moving, symmetric, qmin, qmax, avg, eps, sym_zp);
    }
}

/* Casts: the conversions are cl/common.cl's (the fused kernels' too).
 * Elements below n / CLG_VW * CLG_VW a vector a work-item, the rest one a
 * work-item. The loop is written out for each of the casts graphs record
 * (narrowing, widening, float32 rounded through 16 bits), each calling
 * its conversion directly: with from, to and through left to run time in
 * one loop PoCL (AVX2) kept cast_from_f32_v an out-of-line call taking
 * its vector through memory, 12% of an fp16 MLP step (perf). Any other
 * combination takes the general loop. */
#if CLG_VW > 1
#define CAST_LOOP(LOADV, CONVV, STOREV, LOAD, CONV, STORE)                                                    \
    for (long i = get_global_id(0); i < nv; i += get_global_size(0)) {                                      \
        const uintv x = LOADV;                                                                               \
        STOREV(CONVV);                                                                                       \
    }                                                                                                        \
    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {                         \
        const uint x = LOAD;                                                                                 \
        STORE(CONV);                                                                                         \
    }
#define CAST_STORE_V32(v) CAST_STORE32(v, i, d32)
#define CAST_STORE_V16(v) CAST_STORE16(v, i, d16)
#define CAST_STORE_VANY(v)                                                                                   \
    if (to == CAST_F32) CAST_STORE_V32(v);                                                                   \
    else CAST_STORE_V16(v)
#else
#define CAST_LOOP(LOADV, CONVV, STOREV, LOAD, CONV, STORE)                                                    \
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {                                       \
        const uint x = LOAD;                                                                                 \
        STORE(CONV);                                                                                         \
    }
#endif
#define CAST_STORE_32(v) (d32[i] = (v))
#define CAST_STORE_16(v) (d16[i] = (ushort)(v))
#define CAST_STORE_ANY(v)                                                                                    \
    if (to == CAST_F32) CAST_STORE_32(v);                                                                    \
    else CAST_STORE_16(v)

__kernel void cast_convert(__global const uchar *src, __global uchar *dst, long n, int from, int to, int through)
{
    __global const uint *s32 = (__global const uint *)src;
    __global const ushort *s16 = (__global const ushort *)src;
    __global uint *d32 = (__global uint *)dst;
    __global ushort *d16 = (__global ushort *)dst;
    const long nv = CLG_VW > 1 ? n / CLG_VW : 0; /* CLG_VW 1: the float loop alone */
    (void)nv;
    if (from == CAST_F32 && to == CAST_F16) {
        CAST_LOOP(CAST_LOAD32(i, s32), f16_bits_v(x), CAST_STORE_V16, s32[i], f16_bits(x), CAST_STORE_16)
    } else if (from == CAST_F32 && to == CAST_BF16) {
        CAST_LOOP(CAST_LOAD32(i, s32), bf16_bits_v(x), CAST_STORE_V16, s32[i], bf16_bits(x), CAST_STORE_16)
    } else if (from == CAST_F16 && to == CAST_F32) {
        CAST_LOOP(CAST_LOAD16(i, s16), f16_to_f32_bits_v(x), CAST_STORE_V32, (uint)s16[i], f16_to_f32_bits(x),
                  CAST_STORE_32)
    } else if (from == CAST_BF16 && to == CAST_F32) {
        CAST_LOOP(CAST_LOAD16(i, s16), x << 16, CAST_STORE_V32, (uint)s16[i], x << 16, CAST_STORE_32)
    } else if (from == CAST_F32 && to == CAST_F32 && through == CAST_F16) {
        CAST_LOOP(CAST_LOAD32(i, s32), f16_to_f32_bits_v(f16_bits_v(x)), CAST_STORE_V32, s32[i],
                  f16_to_f32_bits(f16_bits(x)), CAST_STORE_32)
    } else if (from == CAST_F32 && to == CAST_F32 && through == CAST_BF16) {
        CAST_LOOP(CAST_LOAD32(i, s32), bf16_bits_v(x) << 16, CAST_STORE_V32, s32[i], bf16_bits(x) << 16,
                  CAST_STORE_32)
    } else {
        CAST_LOOP(from == CAST_F32 ? CAST_LOAD32(i, s32) : cast_to_f32_v(CAST_LOAD16(i, s16), from),
                  cast_from_f32_v(x, to, through), CAST_STORE_VANY,
                  from == CAST_F32 ? s32[i] : cast_to_f32((uint)s16[i], from), cast_from_f32(x, to, through), CAST_STORE_ANY)
    }
}
