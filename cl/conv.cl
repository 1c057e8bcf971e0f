/*
 * Convolution and pooling, NCHW, forward and backward side by side.
 *
 * conv2d runs as im2col + one GEMM (CLBlast, host/cl_conv.c):
 *   col [K = C*KH*KW, NP = N*OH*OW],  Y' [OC, NP] = W [OC, K] . col,  y = permute(Y') + b
 * and its backward as two GEMMs over the permuted dy:
 *   dY' [OC, NP] = permute(dy),  dW = dY' . col^T,  dcol = W^T . dY',  dx = col2im(dcol)
 * col2im gathers (each x element sums its own col entries), so no atomics.
 * The input gradient may run a chunk of the batch at a time (dcol for nb
 * images, col2im into those images of dx), to bound its workspace.
 *
 * The sizes travel as one int16 (host/cl_conv.c, geom16; conv_geom in
 * common.cl); pooling reads as a convolution with OC = C and dilation 1.
 */

/*
 * im2col: col[k][j], k = (c KH + p) KW + q, j = (n OH + i) OW + l:
 *   col[k][j] = x[n, c, i sh - ph + p dh, l sw - pw + q dw]   (0 outside x)
 * One work-item per (block of cper channels, j) writes the KH*KW rows of
 * each of its channels: neighbouring work-items write neighbouring j,
 * and the integer divisions that split j are paid once per cper*KH*KW
 * writes (the host picks cper to leave just enough work-items).
 */
__kernel void conv_im2col(__global const float *X, __global float *COL, int16 geom, int cper)
{
    const conv_geom g = conv_unpack(geom);
    const int np = g.n * g.oh * g.ow; /* fits: checked when the op is recorded */
    const long total = (long)((g.c + cper - 1) / cper) * np;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const int blk = (int)(idx / np), j = (int)(idx - (long)blk * np);
        const int t = j / g.ow, l = j - t * g.ow, n = t / g.oh, i = t - n * g.oh;
        const int h0 = i * g.sh - g.ph, v0 = l * g.sw - g.pw, c1 = min(g.c, (blk + 1) * cper);
        for (int c = blk * cper; c < c1; c++) {
            __global const float *x = X + ((long)n * g.c + c) * g.h * g.w;
            __global float *out = COL + (long)c * g.kh * g.kw * np + j;
            for (int p = 0; p < g.kh; p++) {
                const int h = h0 + p * g.dh;
                const bool row_in = h >= 0 && h < g.h;
                for (int q = 0; q < g.kw; q++, out += np) {
                    const int v = v0 + q * g.dw;
                    *out = row_in && v >= 0 && v < g.w ? x[h * g.w + v] : 0.0f;
                }
            }
        }
    }
}

/*
 * col2im, the adjoint of im2col: each x element sums the col entries that
 * were copied from it,
 *   dx[n,c,h,v] = sum over windows (i, l) holding (h, v) at a whole tap
 *                 p = (h + ph - i sh) / dh, q = (v + pw - l sw) / dw
 *                 of dcol[(c KH + p) KW + q][(n OH + i) OW + l]
 * Looping over the windows, not the taps, divides only with dilation.
 */
__kernel void conv_col2im(__global const float *DCOL, __global float *DX, int16 geom, long dx_off)
{
    const conv_geom g = conv_unpack(geom);
    DX += dx_off; /* a chunk of the batch: geom's n images from image dx_off / (C H W) on */
    const int np = g.n * g.oh * g.ow;
    const long total = (long)g.n * g.c * g.h * g.w;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long nc = idx / ((long)g.h * g.w);
        const int hv = (int)(idx - nc * g.h * g.w), h = hv / g.w, v = hv - h * g.w;
        const int n = (int)(nc / g.c), c = (int)(nc - (long)n * g.c);
        const int2 ri = conv_windows(h, g.kh, g.sh, g.ph, g.dh, g.oh), rl = conv_windows(v, g.kw, g.sw, g.pw, g.dw, g.ow);
        __global const float *d = DCOL + (long)c * g.kh * g.kw * np + n * g.oh * g.ow;
        float acc = 0.0f;
        for (int i = ri.x; i <= ri.y; i++) {
            const int p = conv_whole_tap(h, i, g.sh, g.ph, g.dh);
            if (p < 0) continue;
            for (int l = rl.x; l <= rl.y; l++) {
                const int q = conv_whole_tap(v, l, g.sw, g.pw, g.dw);
                if (q < 0) continue;
                acc += d[(long)(p * g.kw + q) * np + i * g.ow + l];
            }
        }
        DX[idx] = acc;
    }
}

/*
 * Swaps the two outer axes: dst [I, J, P] from src [J, I, P],
 *   dst[a, b, s] = src[b, a, s] + bias[b]   (bias only when has_bias)
 * Forward: y [N, OC, P] from Y' [OC, N, P] plus the bias; backward:
 * dY' [OC, N, P] from dy [N, OC, P].
 */
__kernel void conv_swap01(__global const float *SRC, __global float *DST, __global const float *BIAS, int has_bias,
                          int I, int J, long P)
{
    const long total = (long)I * J * P;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long ab = idx / P, s = idx - ab * P;
        const int a = (int)(ab / J), b = (int)(ab - (long)a * J);
        const float v = SRC[((long)b * I + a) * P + s];
        DST[idx] = has_bias ? v + BIAS[b] : v;
    }
}

/*
 * Direct convolution (no im2col), for small channel counts and where
 * clgrad-tune measures it faster (host/cl_conv.c chooses per layer).
 * Output channels (input channels for the input gradient) come in blocks
 * of CONV_BLOCK per work-item, so that each x (dy) value read serves the
 * whole block; neighbouring work-items take neighbouring pixels, and the
 * weights they read are the same (a broadcast on GPUs, a scalar on PoCL).
 * Each sum runs over c, then p, then q in order: K = C KH KW terms in
 * float, within the matmul family's tolerance (K + 4) u S.
 *
 * Forward: y[n,o,i,l] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i sh - ph + p dh, l sw - pw + q dw]
 */
#define CONV_BLOCK 4

__kernel void conv_direct_forward(__global const float *X, __global const float *W, __global const float *B,
                                  __global float *Y, int16 geom, int has_bias)
{
    const conv_geom g = conv_unpack(geom);
    const int ob_count = (g.oc + CONV_BLOCK - 1) / CONV_BLOCK, plane = g.oh * g.ow;
    const long total = (long)g.n * ob_count * plane, wstride = (long)g.c * g.kh * g.kw;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long t = idx / plane;
        const int pix = (int)(idx - t * plane), n = (int)(t / ob_count), ob = (int)(t - (long)n * ob_count);
        const int i = pix / g.ow, l = pix - i * g.ow, o0 = ob * CONV_BLOCK;
        const int h0 = i * g.sh - g.ph, v0 = l * g.sw - g.pw;
        float acc[CONV_BLOCK];
        for (int b = 0; b < CONV_BLOCK; b++) acc[b] = 0.0f;
        /* no branch on the cell: outside x reads a clamped cell and counts 0
         * (a loop every work-item runs alike vectorises on CPUs, and warps
         * do not diverge); a block past the last channel reads the last
         * channel's weights and is not stored */
        for (int c = 0; c < g.c; c++) {
            __global const float *x = X + ((long)n * g.c + c) * g.h * g.w;
            for (int p = 0; p < g.kh; p++) {
                const int h = h0 + p * g.dh;
                const bool row_in = h >= 0 && h < g.h;
                const int hc = clamp(h, 0, g.h - 1);
                for (int q = 0; q < g.kw; q++) {
                    const int v = v0 + q * g.dw;
                    const float xv = row_in && v >= 0 && v < g.w ? x[hc * g.w + clamp(v, 0, g.w - 1)] : 0.0f;
                    const long wo = ((long)c * g.kh + p) * g.kw + q;
                    for (int b = 0; b < CONV_BLOCK; b++) acc[b] += W[min(o0 + b, g.oc - 1) * wstride + wo] * xv;
                }
            }
        }
        for (int b = 0; b < CONV_BLOCK; b++)
            if (o0 + b < g.oc)
                Y[((long)n * g.oc + o0 + b) * plane + pix] = has_bias ? acc[b] + B[o0 + b] : acc[b];
    }
}

/*
 * Input gradient, gathered (no atomics): each x cell sums over the output
 * cells whose windows hold it at a whole tap (conv_windows, as col2im):
 *   dx[n,c,h,v] = sum_{o, (i,l) with h = i sh - ph + p dh, v = l sw - pw + q dw} w[o,c,p,q] dy[n,o,i,l]
 * in the order o, i, l (with stride 1, out-of-range taps add 0 in that order).
 */
__kernel void conv_direct_input_grad(__global const float *DY, __global const float *W, __global float *DX,
                                     int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const int cb_count = (g.c + CONV_BLOCK - 1) / CONV_BLOCK, plane = g.h * g.w;
    const long total = (long)g.n * cb_count * plane;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long t = idx / plane;
        const int pix = (int)(idx - t * plane), n = (int)(t / cb_count), cb = (int)(t - (long)n * cb_count);
        const int h = pix / g.w, v = pix - h * g.w, c0 = cb * CONV_BLOCK;
        float acc[CONV_BLOCK];
        for (int b = 0; b < CONV_BLOCK; b++) acc[b] = 0.0f;
        if (g.sh == 1 && g.sw == 1) {
            /* stride 1: every tap (p, q) is whole, at i = h + ph - p dh, l = v + pw - q dw;
             * branch-free as the forward, in the order o, then i, l ascending (p, q descending) */
            for (int o = 0; o < g.oc; o++) {
                __global const float *dy = DY + ((long)n * g.oc + o) * g.oh * g.ow;
                for (int p = g.kh - 1; p >= 0; p--) {
                    const int i = h + g.ph - p * g.dh;
                    const bool row_in = i >= 0 && i < g.oh;
                    const int ic = clamp(i, 0, g.oh - 1);
                    for (int q = g.kw - 1; q >= 0; q--) {
                        const int l = v + g.pw - q * g.dw;
                        const float d = row_in && l >= 0 && l < g.ow ? dy[ic * g.ow + clamp(l, 0, g.ow - 1)] : 0.0f;
                        for (int b = 0; b < CONV_BLOCK; b++)
                            acc[b] += W[(((long)o * g.c + min(c0 + b, g.c - 1)) * g.kh + p) * g.kw + q] * d;
                    }
                }
            }
        } else {
            const int2 ri = conv_windows(h, g.kh, g.sh, g.ph, g.dh, g.oh),
                       rl = conv_windows(v, g.kw, g.sw, g.pw, g.dw, g.ow);
            for (int o = 0; o < g.oc; o++) {
                __global const float *dy = DY + ((long)n * g.oc + o) * g.oh * g.ow;
                for (int i = ri.x; i <= ri.y; i++) {
                    const int p = conv_whole_tap(h, i, g.sh, g.ph, g.dh);
                    if (p < 0) continue;
                    for (int l = rl.x; l <= rl.y; l++) {
                        const int q = conv_whole_tap(v, l, g.sw, g.pw, g.dw);
                        if (q < 0) continue;
                        const float d = dy[i * g.ow + l];
                        for (int b = 0; b < CONV_BLOCK; b++)
                            acc[b] += W[(((long)o * g.c + min(c0 + b, g.c - 1)) * g.kh + p) * g.kw + q] * d;
                    }
                }
            }
        }
        for (int b = 0; b < CONV_BLOCK; b++)
            if (c0 + b < g.c) DX[((long)n * g.c + c0 + b) * plane + pix] = acc[b];
    }
}

/*
 * Weight gradient: a work-group per (o, c) pair (pairs group-stride), each
 * tap a reduction over the batch and the output plane:
 *   dw[o,c,p,q] = sum_{n,i,l} dy[n,o,i,l] x[n,c, i sh - ph + p dh, l sw - pw + q dw]
 * Work-items take whole output rows (n, i), striding over them, and walk
 * each row's l in order (no division per cell), then group_sum in a fixed
 * order.
 */
__kernel void conv_direct_weight_grad(__global const float *X, __global const float *DY, __global float *DW,
                                      int16 geom, __local float *tmp)
{
    const conv_geom g = conv_unpack(geom);
    const int rows = g.n * g.oh;
    for (int pair = get_group_id(0); pair < g.oc * g.c; pair += get_num_groups(0)) {
        const int o = pair / g.c, c = pair - o * g.c;
        for (int p = 0; p < g.kh; p++)
            for (int q = 0; q < g.kw; q++) {
                float acc = 0.0f;
                /* the output columns whose tap q lands inside x: l in [l0, l1) */
                const int off = q * g.dw - g.pw;
                const int l0 = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
                const int l1 = min(g.ow, (g.w - 1 - off) / g.sw + 1);
                for (int r = get_local_id(0); r < rows; r += get_local_size(0)) {
                    const int n = r / g.oh, i = r - n * g.oh, h = i * g.sh - g.ph + p * g.dh;
                    if (h < 0 || h >= g.h) continue;
                    __global const float *dy = DY + (((long)n * g.oc + o) * g.oh + i) * g.ow;
                    __global const float *x = X + (((long)n * g.c + c) * g.h + h) * g.w + off;
                    for (int l = l0; l < l1; l++) acc += dy[l] * x[l * g.sw];
                }
                acc = group_sum(acc, tmp);
                if (get_local_id(0) == 0) DW[((long)pair * g.kh + p) * g.kw + q] = acc;
            }
    }
}

/* y[n, o, s] += bias[o] over y [N, OC, P]: the forward's bias where the
 * products write y in place (a product per image, host/cl_conv.c). */
__kernel void conv_bias_add(__global float *Y, __global const float *BIAS, int OC, long P, long total)
{
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) Y[idx] += BIAS[(idx / P) % OC];
}

/* db[o] = sum_{n,s} dy[n, o, s] over dy [N, OC, P]: a work-group sums a
 * channel at a time (channels grid-stride over the groups). */
__kernel void conv_bias_grad(__global const float *DY, __global float *DB, int N, int OC, long P,
                             __local float *tmp)
{
    for (int o = get_group_id(0); o < OC; o += get_num_groups(0)) {
        float acc = 0.0f;
        for (int n = 0; n < N; n++) {
            __global const float *dy = DY + ((long)n * OC + o) * P;
            for (long s = get_local_id(0); s < P; s += get_local_size(0)) acc += dy[s];
        }
        acc = group_sum(acc, tmp);
        if (get_local_id(0) == 0) DB[o] = acc;
    }
}

/* The cells of x that pooling output idx (over [N,C,OH,OW]) covers:
 * rows [s0, s1) and columns [s2, s3), the window clipped to x (no
 * dilation: average pooling has none). */
inline int4 pool_window(long idx, const conv_geom *g)
{
    const long t = idx / g->ow;
    const int l = (int)(idx - t * g->ow), i = (int)(t - t / g->oh * g->oh);
    const int h0 = i * g->sh - g->ph, v0 = l * g->sw - g->pw;
    return (int4)(max(h0, 0), min(h0 + g->kh, g->h), max(v0, 0), min(v0 + g->kw, g->w));
}

/* Average pooling's divisor for window (i, l), PyTorch's: the cells inside
 * x (count_include_pad false), or those inside the padded input (kh kw but
 * where ceil mode's last window reaches beyond it). */
inline float pool_avg_divisor(int i, int l, const conv_geom *g)
{
    const int h0 = i * g->sh - g->ph, v0 = l * g->sw - g->pw;
    if (g->xpad == 1) return (float)((min(h0 + g->kh, g->h) - max(h0, 0)) * (min(v0 + g->kw, g->w) - max(v0, 0)));
    return (float)((min(h0 + g->kh, g->h + g->ph) - h0) * (min(v0 + g->kw, g->w + g->pw) - v0));
}

/* The first tap of a window starting at o (taps o + t d) at or after 0. */
inline int pool_first_tap(int o, int d) { return o >= 0 ? o : o + (-o + d - 1) / d * d; }

/* Max pooling's y[o] = best, in x's type (xfrom, as load_any): exact, best
 * being cell `at` of x (x0 + at; at -1 for a window with no cell: -inf),
 * so a 16-bit y copies that cell's bits, no narrowing (which was most of
 * the 16-bit kernel's time on PoCL); a NaN made quiet as the casts make it */
inline void pool_store(__global void *Y, long o, float best, __global const void *X, long x0, int at, int xfrom)
{
    if (xfrom == CAST_F32) {
        ((__global float *)Y)[o] = best;
        return;
    }
    const ushort raw = at < 0 ? (ushort)0xfc00u : ((__global const ushort *)X)[x0 + at];
    ushort y = raw;
    if (xfrom == CAST_F16) y = isnan(best) ? (ushort)((raw & 0x8000u) | 0x7e00u) : raw;
    else y = at < 0 ? (ushort)0xff80u : isnan(best) ? (ushort)0x7fc0u : raw;
    ((__global ushort *)Y)[o] = y;
}

/*
 * Max pooling over the window's cells inside x (padding never wins), taps
 * h0 + p dh, v0 + q dw, in row-major order: the first maximum wins, a NaN
 * over numbers, the first NaN over later ones. A window with no cell in x
 * (dilation and padding can make one) gives -inf and no arg-max.
 *   y[n,c,i,l] = x[n,c,h*,v*],  arg[n,c,i,l] = h* W + v* (or -1)
 */
__kernel void pool_max_forward(__global const void *X, __global void *Y, __global int *ARG, int16 geom, int xfrom)
{
    /* a work-item per output row (n, c, i), walking its l in order: no
     * division per output (they were most of this kernel's time on PoCL) */
    const conv_geom g = conv_unpack(geom);
    const long rows = (long)g.n * g.c * g.oh;
    for (long r = get_global_id(0); r < rows; r += get_global_size(0)) {
        const long nc = r / g.oh;
        const int i = (int)(r - nc * g.oh), h0 = i * g.sh - g.ph;
        const int hs = max(h0, 0), he = min(h0 + g.kh, g.h);
        const long x0 = nc * g.h * g.w;
        __global int *arg = ARG + r * g.ow;
        for (int l = 0; l < g.ow; l++) {
            const int v0 = l * g.sw - g.pw, vs = max(v0, 0), ve = min(v0 + g.kw, g.w);
            float best = load_any(X, x0 + hs * g.w + vs, xfrom);
            int at = hs * g.w + vs;
            for (int h = hs; h < he; h++)
                for (int v = vs; v < ve; v++) {
                    const float val = load_any(X, x0 + h * g.w + v, xfrom);
                    if (val > best || (isnan(val) && !isnan(best))) {
                        best = val;
                        at = h * g.w + v;
                    }
                }
            pool_store(Y, r * g.ow + l, best, X, x0, at, xfrom);
            arg[l] = at;
        }
    }
}
/* The same with dilated taps, a kernel of its own: the undilated one above
 * lost 4-8% on PoCL to any dilation in its loops (measured, three forms) */
__kernel void pool_max_forward_dil(__global const void *X, __global void *Y, __global int *ARG, int16 geom, int xfrom)
{
    const conv_geom g = conv_unpack(geom);
    const long rows = (long)g.n * g.c * g.oh;
    for (long r = get_global_id(0); r < rows; r += get_global_size(0)) {
        const long nc = r / g.oh;
        const int i = (int)(r - nc * g.oh), h0 = i * g.sh - g.ph;
        const int hs = pool_first_tap(h0, g.dh), he = min(h0 + (g.kh - 1) * g.dh + 1, g.h);
        const long x0 = nc * g.h * g.w;
        for (int l = 0; l < g.ow; l++) {
            const int v0 = l * g.sw - g.pw, vs = pool_first_tap(v0, g.dw), ve = min(v0 + (g.kw - 1) * g.dw + 1, g.w);
            float best = -INFINITY;
            int at = -1;
            for (int h = hs; h < he; h += g.dh)
                for (int v = vs; v < ve; v += g.dw) {
                    const float val = load_any(X, x0 + h * g.w + v, xfrom);
                    if (at < 0 || val > best || (isnan(val) && !isnan(best))) {
                        best = val;
                        at = h * g.w + v;
                    }
                }
            pool_store(Y, r * g.ow + l, best, X, x0, at, xfrom);
            ARG[r * g.ow + l] = at;
        }
    }
}

/* dx of max pooling: pool_max_grad_at (common.cl), one work-item per element */
__kernel void pool_max_backward(__global const float *DY, __global float *DX, __global const int *ARG, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const long total = (long)g.n * g.c * g.h * g.w;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) DX[idx] = pool_max_grad_at(DY, ARG, &g, idx);
}
/* the same for a dilated pooling (pool_max_grad_dil) */
__kernel void pool_max_backward_dil(__global const float *DY, __global float *DX, __global const int *ARG, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const long total = (long)g.n * g.c * g.h * g.w;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) DX[idx] = pool_max_grad_dil(DY, ARG, &g, idx);
}

/* Average pooling: y[n,c,i,l] = (sum of the window's cells inside x) / pool_avg_divisor */
__kernel void pool_avg_forward(__global const float *X, __global float *Y, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const long total = (long)g.n * g.c * g.oh * g.ow;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const int4 win = pool_window(idx, &g);
        const int hs = win.s0, he = win.s1, vs = win.s2, ve = win.s3;
        __global const float *x = X + idx / ((long)g.ow * g.oh) * g.h * g.w;
        float acc = 0.0f;
        for (int h = hs; h < he; h++)
            for (int v = vs; v < ve; v++) acc += x[h * g.w + v];
        const long t = idx / g.ow;
        Y[idx] = acc / (g.xpad ? pool_avg_divisor((int)(t - t / g.oh * g.oh), (int)(idx - t * g.ow), &g)
                               : (float)g.kh * g.kw);
    }
}

/* dx[n,c,h,v] = sum of dy / pool_avg_divisor over the windows that hold (h, v) */
__kernel void pool_avg_backward(__global const float *DY, __global float *DX, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const long total = (long)g.n * g.c * g.h * g.w;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long t = idx / g.w, nc = t / g.h;
        const int v = (int)(idx - t * g.w), h = (int)(t - nc * g.h);
        const int2 ri = conv_windows(h, g.kh, g.sh, g.ph, 1, g.oh), rl = conv_windows(v, g.kw, g.sw, g.pw, 1, g.ow);
        const long base = nc * g.oh * g.ow;
        float acc = 0.0f;
        for (int i = ri.x; i <= ri.y; i++)
            for (int l = rl.x; l <= rl.y; l++)
                acc += g.xpad ? DY[base + (long)i * g.ow + l] / pool_avg_divisor(i, l, &g) : DY[base + (long)i * g.ow + l];
        DX[idx] = g.xpad ? acc : acc / ((float)g.kh * g.kw); /* one division where all windows share it */
    }
}
