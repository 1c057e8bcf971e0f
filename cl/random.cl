/*
 * Randomness: Philox-4x32-10 (Salmon et al., SC'11), the same function as
 * core/random.h, so every device draws the same 32-bit words. Element i
 * takes word i % 4 of
 *     philox(ctr = {b lo, b hi, counter lo, counter hi}, key = {seed lo, seed hi}),
 *     b = block0 + i / 4;
 * each work-item computes whole blocks of four elements.
 */

inline uint4 rng_philox(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        if (r) k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
        const uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
        const uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

inline uint4 rng_block(ulong b, uint c0, uint c1, uint k0, uint k1)
{
    return rng_philox((uint4)((uint)b, (uint)(b >> 32), c0, c1), (uint2)(k0, k1));
}

inline uint rng_lane(uint4 w, int l)
{
    return l == 0 ? w.x : l == 1 ? w.y : l == 2 ? w.z : w.w;
}

/* u = (w >> 8) 2^-24 in [0, 1): exact, so identical on every device */
inline float rng_u01(uint w)
{
    return (float)(w >> 8) * 0x1p-24f;
}

/*
 * Fills n elements of Y (as raw words):
 *   dist 0: the words themselves (int32 tensors);
 *   dist 1: a + (b - a) u, bit-identical to the reference (no contraction);
 *   dist 2: a + b z, z by Box-Muller on the pairs (w0, w1), (w2, w3):
 *           u1 = ((w0 >> 8) + 1) 2^-24 in (0, 1], u2 = (w1 >> 8) 2^-24,
 *           z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2)
 *           (close to the reference, not identical: log, cos, sin differ by device).
 */
__kernel void rng_fill(__global uint *Y, long n, uint k0, uint k1, uint c0, uint c1, ulong block0, int dist,
                       float a, float b)
{
#pragma OPENCL FP_CONTRACT OFF
    const long nb = (n + 3) / 4;
    for (long j = get_global_id(0); j < nb; j += get_global_size(0)) {
        const uint4 w = rng_block(block0 + (ulong)j, c0, c1, k0, k1);
        float z[4];
        if (dist == 2) {
            for (int p = 0; p < 4; p += 2) {
                const float u1 = (float)((rng_lane(w, p) >> 8) + 1) * 0x1p-24f, u2 = rng_u01(rng_lane(w, p + 1));
                const float r = sqrt(-2.0f * log(u1)), th = 6.2831855f * u2;
                z[p] = r * cos(th);
                z[p + 1] = r * sin(th);
            }
        }
        for (int l = 0; l < 4 && 4 * j + l < n; l++) {
            const uint v = rng_lane(w, l);
            Y[4 * j + l] = dist == 0 ? v : dist == 1 ? as_uint(a + (b - a) * rng_u01(v)) : as_uint(a + b * z[l]);
        }
    }
}

/* training: mask = (u >= p) ? scale : 0, scale = 1 / (1 - p); y = x mask */
__kernel void dropout_forward(__global const float *X, __global float *Y, __global float *mask, long n, uint k0,
                              uint k1, uint c0, uint c1, float p, float scale)
{
    const long nb = (n + 3) / 4;
    for (long j = get_global_id(0); j < nb; j += get_global_size(0)) {
        const uint4 w = rng_block((ulong)j, c0, c1, k0, k1);
        for (int l = 0; l < 4 && 4 * j + l < n; l++) {
            const long i = 4 * j + l;
            const float m = rng_u01(rng_lane(w, l)) >= p ? scale : 0.0f;
            mask[i] = m;
            Y[i] = X[i] * m;
        }
    }
}

/* dx = dy mask, the forward's mask */
__kernel void dropout_backward(__global const float *DY, __global const float *mask, __global float *DX, long n)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) DX[i] = DY[i] * mask[i];
}

/*
 * Random crop (zero padding p) and horizontal flip of each image of
 * [N, C, H, W]: image n's words are block n of (seed, counter),
 *   oy = w.x mod (2p + 1), ox = w.y mod (2p + 1), f = flip && w.z < 2^31;
 *   y[n,c,i,j] = x[n,c, i + oy - p, j' + ox - p] (0 outside), j' = f ? W-1-j : j.
 * Each x element reaches at most one y element, so the backward is a
 * gather too: dx[n,c,a,b] = dy[n,c, a - oy + p, j], j' = b - ox + p.
 * A work-item takes whole rows of W outputs: one draw (ten Philox rounds)
 * per row, not per element.
 */
inline void crop_flip_row(__global const float *X, __global float *Y, long q, int C, int H, int W, int pad, int flip,
                          uint k0, uint k1, uint c0, uint c1, int backward)
{
    const long n = q / ((long)C * H);
    const int i = (int)(q % H);
    const uint4 w = rng_block((ulong)n, c0, c1, k0, k1);
    const uint span = 2u * (uint)pad + 1u;
    const int oy = (int)(w.x % span), ox = (int)(w.y % span), f = flip && w.z < 0x80000000u;
    const int si = backward ? i - oy + pad : i + oy - pad;
    const long plane = (q - i) * W; /* the first element of the row's plane */
    __global float *dst = Y + q * W;
    for (int j = 0; j < W; j++) {
        int sj;
        if (!backward) {
            sj = (f ? W - 1 - j : j) + ox - pad;
        } else {
            sj = j - ox + pad;
            if (f) sj = W - 1 - sj;
        }
        dst[j] = si >= 0 && si < H && sj >= 0 && sj < W ? X[plane + (long)si * W + sj] : 0.0f;
    }
}

__kernel void crop_flip_forward(__global const float *X, __global float *Y, long rows, int C, int H, int W, int pad,
                                int flip, uint k0, uint k1, uint c0, uint c1)
{
    for (long q = get_global_id(0); q < rows; q += get_global_size(0))
        crop_flip_row(X, Y, q, C, H, W, pad, flip, k0, k1, c0, c1, 0);
}

__kernel void crop_flip_backward(__global const float *DY, __global float *DX, long rows, int C, int H, int W,
                                 int pad, int flip, uint k0, uint k1, uint c0, uint c1)
{
    for (long q = get_global_id(0); q < rows; q += get_global_size(0))
        crop_flip_row(DY, DX, q, C, H, W, pad, flip, k0, k1, c0, c1, 1);
}
