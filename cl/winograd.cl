/*
 * Winograd F(2x2, 3x3) convolution: 3x3 kernels, stride 1, dilation 1, any
 * padding (host/cl_conv.c chooses it per layer where clgrad-tune measures
 * it faster). Each 2x2 tile of outputs comes from the 4x4 patch of x under
 * it, with 16 products per input channel instead of 36:
 *   U = G w G^T (4x4 per (o, c)),  V = B^T d B (4x4 per (c, tile)),
 *   M_e = U_e . V_e for each of the 16 positions e (a batch of 16 GEMMs,
 *         [OC, C] . [C, T], T = N * ceil(OH/2) * ceil(OW/2) tiles),
 *   y tile = A^T M A (+ bias)
 * with (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks")
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * Tile t = (n TH + ty) TW + tx covers outputs (2 ty .. 2 ty + 1, 2 tx ..
 * 2 tx + 1) and reads x rows 2 ty - ph .. 2 ty - ph + 3 (0 outside x).
 * Layouts: U [16][OC][C], V [16][C][T], M [16][OC][T] (e = 4 a + b).
 *
 * The backward pass is the adjoint of the same linear maps (no flipped
 * kernels, no second algorithm):
 *   dM = A dy_tile A^T,   dU_e = dM_e . V_e^T,   dw = G^T dU G
 *   dV_e = U_e^T . dM_e,  dx = the sum over the tiles holding a cell of B dV B^T
 * so each phase is two transforms around 16 GEMMs. The transforms only
 * add, subtract and halve (exact but for the adds), so the error is the
 * GEMM's sum over C (or T, or OC) terms plus a few roundings of values up
 * to 4 (V), 9/4 (U) or 9 (the output sum) times the inputs' size.
 */

/* The matrices above on a vector: o = B^T v, B u, G v (3 -> 4), G^T r (4 -> 3). */
inline void wg_bt(const float *v, float *o)
{
    o[0] = v[0] - v[2], o[1] = v[1] + v[2], o[2] = v[2] - v[1], o[3] = v[1] - v[3];
}
inline void wg_b(const float *u, float *o)
{
    o[0] = u[0], o[1] = u[1] - u[2] + u[3], o[2] = u[1] + u[2] - u[0], o[3] = -u[3];
}
inline void wg_g(const float *v, float *o)
{
    o[0] = v[0], o[1] = 0.5f * (v[0] + v[1] + v[2]), o[2] = 0.5f * (v[0] - v[1] + v[2]), o[3] = v[2];
}
inline void wg_gt(const float *r, float *o)
{
    o[0] = r[0] + 0.5f * (r[1] + r[2]), o[1] = 0.5f * (r[1] - r[2]), o[2] = 0.5f * (r[1] + r[2]) + r[3];
}

/* Tiles along an axis of `extent` outputs. */
inline int wg_tiles(int extent) { return (extent + 1) / 2; }

/* Work-item idx of a [channels][N][TH][TW] walk (tiles of one image
 * neighbours, one 64-bit division): (channel, image, ty, tx). */
inline int4 wg_tile_of(long idx, int n, int th, int tw)
{
    const int plane = th * tw;
    const long cn = idx / plane;
    const int r = (int)(idx - cn * plane), ty = r / tw, c = (int)(cn / n);
    return (int4)(c, (int)(cn - (long)c * n), ty, r - ty * tw);
}

/* U[e][o][c] = (G w[o,c] G^T)[e], one (o, c) per work-item. */
__kernel void winograd_weight(__global const float *W, __global float *U, int oc, int c)
{
    const long total = (long)oc * c;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        float col[3], gcol[4], gw[4][3], row[4];
        for (int q = 0; q < 3; q++) {
            for (int p = 0; p < 3; p++) col[p] = W[idx * 9 + p * 3 + q];
            wg_g(col, gcol);
            for (int a = 0; a < 4; a++) gw[a][q] = gcol[a];
        }
        for (int a = 0; a < 4; a++) {
            wg_g(gw[a], row);
            for (int b = 0; b < 4; b++) U[(4 * a + b) * total + idx] = row[b];
        }
    }
}

/* The adjoint: dw[o,c] = G^T dU[.][o][c] G. */
__kernel void winograd_weight_adjoint(__global const float *DU, __global float *DW, int oc, int c)
{
    const long total = (long)oc * c;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        float r[4], t[4][3], col[4], out[3];
        for (int a = 0; a < 4; a++) {
            for (int b = 0; b < 4; b++) r[b] = DU[(4 * a + b) * total + idx];
            wg_gt(r, t[a]);
        }
        for (int q = 0; q < 3; q++) {
            for (int a = 0; a < 4; a++) col[a] = t[a][q];
            wg_gt(col, out);
            for (int p = 0; p < 3; p++) DW[idx * 9 + p * 3 + q] = out[p];
        }
    }
}

/* V[e][c][t] = (B^T d B)[e], d the 4x4 patch of x[n, c] under tile t,
 * written to V + off; one (c, t) per work-item, neighbouring work-items on
 * neighbouring tiles. */
__kernel void winograd_input(__global const float *X, __global float *V, long off, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const int th = wg_tiles(g.oh), tw = wg_tiles(g.ow);
    const long total = (long)g.c * g.n * th * tw;
    V += off;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const int4 at = wg_tile_of(idx, g.n, th, tw);
        const int c = at.x, n = at.y, ty = at.z, tx = at.w;
        const int h0 = 2 * ty - g.ph, v0 = 2 * tx - g.pw;
        __global const float *x = X + ((long)n * g.c + c) * g.h * g.w;
        float d[4][4], bd[4][4], col[4], out[4];
        for (int i = 0; i < 4; i++) {
            const int h = h0 + i;
            const bool row_in = h >= 0 && h < g.h;
            for (int j = 0; j < 4; j++) {
                const int v = v0 + j;
                d[i][j] = row_in && v >= 0 && v < g.w ? x[h * g.w + v] : 0.0f;
            }
        }
        for (int j = 0; j < 4; j++) { /* B^T d, a column at a time */
            for (int i = 0; i < 4; i++) col[i] = d[i][j];
            wg_bt(col, out);
            for (int a = 0; a < 4; a++) bd[a][j] = out[a];
        }
        for (int a = 0; a < 4; a++) { /* (B^T d) B, a row at a time */
            wg_bt(bd[a], out);
            for (int b = 0; b < 4; b++) V[(4 * a + b) * total + idx] = out[b];
        }
    }
}

/* The adjoint: dx[n,c,h,v] = sum over the (at most 2x2) tiles whose patch
 * holds (h, v), at patch cell (i, j), of (B dV B^T)[i][j]. Gathered (no
 * atomics), a 2x2 block of x cells per work-item: cells h = 2 k - ph + {0,
 * 1} sit in rows {0, 1} of tile row k's patches and rows {2, 3} of tile
 * row k - 1's, so the block reads 4 tiles whole (16 loads per cell). */
__kernel void winograd_input_adjoint(__global const float *DV, __global float *DX, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const int th = wg_tiles(g.oh), tw = wg_tiles(g.ow);
    const int k0 = g.ph / 2, l0 = g.pw / 2, bh = (g.h - 1 + g.ph) / 2 - k0 + 1, bw = (g.w - 1 + g.pw) / 2 - l0 + 1;
    const int plane = bh * bw;
    const long tiles = (long)g.n * th * tw, vstride = (long)g.c * tiles, total = (long)g.n * g.c * plane;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const long nc = idx / plane;
        const int r = (int)(idx - nc * plane), kb = r / bw, k = k0 + kb, l = l0 + r - kb * bw;
        const int n = (int)(nc / g.c), c = (int)(nc - (long)n * g.c);
        float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
        for (int dk = 0; dk < 2; dk++) {
            const int ty = k - dk;
            if (ty < 0 || ty >= th) continue;
            for (int dl = 0; dl < 2; dl++) {
                const int tx = l - dl;
                if (tx < 0 || tx >= tw) continue;
                __global const float *dv = DV + (long)c * tiles + ((long)n * th + ty) * tw + tx;
                float q[4][4], col[4], out[4];
                for (int a = 0; a < 4; a++) { /* dV B^T, a row at a time */
                    float row[4];
                    for (int b = 0; b < 4; b++) row[b] = dv[(4 * a + b) * vstride];
                    wg_b(row, q[a]);
                }
                for (int j = 0; j < 2; j++) { /* B (dV B^T), the block's two columns */
                    for (int a = 0; a < 4; a++) col[a] = q[a][2 * dl + j];
                    wg_b(col, out);
                    acc[0][j] += out[2 * dk];
                    acc[1][j] += out[2 * dk + 1];
                }
            }
        }
        for (int i = 0; i < 2; i++) {
            const int h = 2 * k - g.ph + i;
            if (h < 0 || h >= g.h) continue;
            for (int j = 0; j < 2; j++) {
                const int v = 2 * l - g.pw + j;
                if (v >= 0 && v < g.w) DX[(nc * g.h + h) * g.w + v] = acc[i][j];
            }
        }
    }
}

/* y tile = A^T M A + bias; one (o, t) per work-item. */
__kernel void winograd_output(__global const float *M, __global const float *B, __global float *Y, int16 geom,
                              int has_bias)
{
    const conv_geom g = conv_unpack(geom);
    const int th = wg_tiles(g.oh), tw = wg_tiles(g.ow);
    const long total = (long)g.oc * g.n * th * tw;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const int4 at = wg_tile_of(idx, g.n, th, tw);
        const int o = at.x, n = at.y, ty = at.z, tx = at.w;
        float m[16], a0[4], a1[4];
        for (int e = 0; e < 16; e++) m[e] = M[e * total + idx];
        for (int b = 0; b < 4; b++) { /* A^T M */
            a0[b] = m[b] + m[4 + b] + m[8 + b];
            a1[b] = m[4 + b] - m[8 + b] - m[12 + b];
        }
        const float bias = has_bias ? B[o] : 0.0f;
        const float y00 = a0[0] + a0[1] + a0[2] + bias, y01 = a0[1] - a0[2] - a0[3] + bias;
        const float y10 = a1[0] + a1[1] + a1[2] + bias, y11 = a1[1] - a1[2] - a1[3] + bias;
        __global float *y = Y + ((long)n * g.oc + o) * g.oh * g.ow + (2 * ty) * g.ow + 2 * tx;
        const bool right = 2 * tx + 1 < g.ow, below = 2 * ty + 1 < g.oh;
        y[0] = y00;
        if (right) y[1] = y01;
        if (below) y[g.ow] = y10;
        if (right && below) y[g.ow + 1] = y11;
    }
}

/* The adjoint: dM = A dy_tile A^T (dy 0 past the edge), written to DM + off. */
__kernel void winograd_output_adjoint(__global const float *DY, __global float *DM, long off, int16 geom)
{
    const conv_geom g = conv_unpack(geom);
    const int th = wg_tiles(g.oh), tw = wg_tiles(g.ow);
    const long total = (long)g.oc * g.n * th * tw;
    DM += off;
    for (long idx = get_global_id(0); idx < total; idx += get_global_size(0)) {
        const int4 at = wg_tile_of(idx, g.n, th, tw);
        const int o = at.x, n = at.y, ty = at.z, tx = at.w;
        __global const float *dy = DY + ((long)n * g.oc + o) * g.oh * g.ow + (2 * ty) * g.ow + 2 * tx;
        const bool right = 2 * tx + 1 < g.ow, below = 2 * ty + 1 < g.oh;
        const float u00 = dy[0], u01 = right ? dy[1] : 0.0f;
        const float u10 = below ? dy[g.ow] : 0.0f, u11 = right && below ? dy[g.ow + 1] : 0.0f;
        /* A dy: rows (u0, u0 + u1, u0 - u1, -u1) of each column */
        const float ad[4][2] = {{u00, u01}, {u00 + u10, u01 + u11}, {u00 - u10, u01 - u11}, {-u10, -u11}};
        for (int a = 0; a < 4; a++) { /* (A dy) A^T */
            __global float *dm = DM + 4 * a * total + idx;
            dm[0] = ad[a][0];
            dm[total] = ad[a][0] + ad[a][1];
            dm[2 * total] = ad[a][0] - ad[a][1];
            dm[3 * total] = -ad[a][1];
        }
    }
}
