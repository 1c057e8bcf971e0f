/* Reference implementation of the random family: Philox fills and
 * dropout, the stream laid out as core/random.h says. */
#include "ref_real.h"
#include "../core/random.h"

#include <string.h>

/* u = (word >> 8) 2^-24 in [0, 1): exact in float, so every device agrees */
static real uniform01(uint32_t w) { return (real)(w >> 8) * (real)0x1p-24; }

/* The four words of block j of the node's stream. */
static void block_words(const clg_node *n, uint64_t j, uint32_t w[4])
{
    const uint64_t seed = (uint64_t)n->i[1], b = (uint64_t)n->i[2] + j;
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)n->counter, (uint32_t)(n->counter >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    clg_philox4x32_10(ctr, key, w);
}

/*
 * Box-Muller on the pairs (w0, w1), (w2, w3) of a block:
 *   u1 = ((w0 >> 8) + 1) 2^-24 in (0, 1], u2 = (w1 >> 8) 2^-24,
 *   z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2).
 */
static void box_muller(const uint32_t w[4], real z[4])
{
    for (int p = 0; p < 4; p += 2) {
        real u1 = (real)((w[p] >> 8) + 1) * (real)0x1p-24, u2 = uniform01(w[p + 1]);
        real r = sqrt((real)-2 * log(u1));
        real th = (real)6.283185307179586 * u2;
        z[p] = r * cos(th);
        z[p + 1] = r * sin(th);
    }
}

static void fill(const clg_node *n)
{
    const real a = (real)n->f[0], b = (real)n->f[1];
    const int64_t count = n->numel;
    for (int64_t j = 0; 4 * j < count; j++) {
        uint32_t w[4];
        real z[4];
        block_words(n, (uint64_t)j, w);
        if (n->i[0] == CLG_RNG_NORMAL) box_muller(w, z);
        for (int l = 0; l < 4 && 4 * j + l < count; l++) {
            int64_t i = 4 * j + l;
            if (n->i[0] == CLG_RNG_BITS) {
                ref_i32(n)[i] = (int32_t)w[l];
            } else if (n->i[0] == CLG_RNG_UNIFORM) {
                /* one rounding per statement, as the kernel with FP_CONTRACT OFF */
                real width = b - a;
                real step = width * uniform01(w[l]);
                ref_data(n)[i] = a + step;
            } else {
                real dev = b * z[l];
                ref_data(n)[i] = a + dev;
            }
        }
    }
}

/* training: mask = (u >= p) / (1 - p), y = x mask; eval: y = x */
static void dropout(const clg_node *nodes, const clg_node *n)
{
    const real *x = ref_data(&nodes[n->src[0]]);
    real *y = ref_data(n), *mask = ref_aux(n, 0);
    const int64_t count = n->numel;
    if (!n->training) {
        memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    const real p = (real)n->f[0], scale = (real)n->f[1];
    for (int64_t j = 0; 4 * j < count; j++) {
        uint32_t w[4];
        block_words(n, (uint64_t)j, w);
        for (int l = 0; l < 4 && 4 * j + l < count; l++) {
            int64_t i = 4 * j + l;
            mask[i] = uniform01(w[l]) >= p ? scale : 0;
            y[i] = x[i] * mask[i];
        }
    }
}

/* dx = dy mask (dy in evaluation mode) */
static void dropout_grad(const clg_node *nodes, const clg_node *n)
{
    const clg_node *drop = &nodes[n->src[1]];
    const real *dy = ref_data(&nodes[n->src[0]]), *mask = ref_aux(drop, 0);
    real *dx = ref_data(n);
    for (int64_t i = 0; i < n->numel; i++) dx[i] = drop->training ? dy[i] * mask[i] : dy[i];
}

/* y[n,c,i,j] = x[n,c,i+oy-p, j'+ox-p] (0 outside), j' = W-1-j when flipped;
 * the gradient maps back: dx[n,c,a,b] = dy[n,c,a-oy+p, j], b-ox+p = j' */
static void crop_flip(const clg_node *nodes, const clg_node *n, bool backward)
{
    const clg_node *crop = backward ? &nodes[n->src[1]] : n;
    const real *x = ref_data(&nodes[n->src[0]]);
    real *y = ref_data(n);
    if (!crop->training) {
        memcpy(y, x, (size_t)n->numel * sizeof *y);
        return;
    }
    const int64_t N = n->shape[0], C = n->shape[1], H = n->shape[2], W = n->shape[3], p = crop->i[0];
    for (int64_t b = 0; b < N; b++) {
        int64_t oy, ox;
        int f;
        clg_crop_flip_draw((uint64_t)crop->i[1], crop->counter, (uint64_t)b, p, (int)crop->i[2], &oy, &ox, &f);
        for (int64_t c = 0; c < C; c++) {
            const real *xp = x + (b * C + c) * H * W;
            real *yp = y + (b * C + c) * H * W;
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) {
                    int64_t si, sj;
                    if (!backward) {
                        si = i + oy - p;
                        sj = (f ? W - 1 - j : j) + ox - p;
                    } else {
                        si = i - oy + p;
                        sj = j - ox + p;
                        if (f) sj = W - 1 - sj;
                    }
                    yp[i * W + j] = si >= 0 && si < H && sj >= 0 && sj < W ? xp[si * W + sj] : 0;
                }
        }
    }
}

clg_status REF(clg_ref_random)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_RNG_FILL: fill(n); return CLG_OK;
    case CLG_OP_DROPOUT: dropout(nodes, n); return CLG_OK;
    case CLG_OP_DROPOUT_GRAD: dropout_grad(nodes, n); return CLG_OK;
    case CLG_OP_RANDOM_CROP_FLIP: crop_flip(nodes, n, false); return CLG_OK;
    case CLG_OP_RANDOM_CROP_FLIP_GRAD: crop_flip(nodes, n, true); return CLG_OK;
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
