/*
 * The random family's shared pieces: Philox-4x32-10 on the host (the
 * reference backend and the tests use it; cl/random.cl has the same
 * function for the devices) and the RNG_FILL op's parameters.
 *
 * Stream layout, identical on every backend: element i of a fill or of a
 * dropout mask takes word i % 4 of
 *     philox4x32_10(ctr = {b lo, b hi, counter lo, counter hi},
 *                   key = {seed lo, seed hi}),   b = block0 + i / 4,
 * so a (seed, counter) pair names a stream and nothing depends on how a
 * device splits the work.
 */
#ifndef CLG_RANDOM_H
#define CLG_RANDOM_H

#include <clgrad.h>

#include <stdint.h>

#define CLG_PHILOX_M0 0xD2511F53u
#define CLG_PHILOX_M1 0xCD9E8D57u
#define CLG_PHILOX_W0 0x9E3779B9u
#define CLG_PHILOX_W1 0xBB67AE85u

/* Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11):
 * ten rounds of two 32x32->64 multiplies, the key bumped by the Weyl
 * constants between rounds. */
static inline void clg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += CLG_PHILOX_W0;
            k1 += CLG_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)CLG_PHILOX_M0 * c0, p1 = (uint64_t)CLG_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* The 32-bit word of element i of stream (seed, counter) from block block0. */
static inline uint32_t clg_philox_word(uint64_t seed, uint64_t counter, uint64_t block0, uint64_t i)
{
    uint64_t b = block0 + i / 4;
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)counter, (uint32_t)(counter >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    clg_philox4x32_10(ctr, key, out);
    return out[i % 4];
}

/* RANDOM_CROP_FLIP (and its gradient, from the crop node it names):
 * image n's words are block n of (seed i[1], counter); see
 * clg_random_crop_flip. The crop's corner and flip of image n: */
static inline void clg_crop_flip_draw(uint64_t seed, uint64_t counter, uint64_t n, int64_t padding, int flip,
                                      int64_t *oy, int64_t *ox, int *flipped)
{
    const uint32_t ctr[4] = {(uint32_t)n, (uint32_t)(n >> 32), (uint32_t)counter, (uint32_t)(counter >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    clg_philox4x32_10(ctr, key, w);
    const uint32_t span = 2u * (uint32_t)padding + 1u;
    *oy = (int64_t)(w[0] % span);
    *ox = (int64_t)(w[1] % span);
    *flipped = flip && w[2] < 0x80000000u;
}

/* RNG_FILL: node.i[0] the distribution, i[1] the seed, i[2] block0,
 * f[0], f[1] its parameters, node.counter the counter. DROPOUT: i[1] the
 * seed, f[0] = p, f[1] = 1 / (1 - p). */
typedef enum clg_rng_dist {
    CLG_RNG_BITS,    /* int32 tensor: the raw words */
    CLG_RNG_UNIFORM, /* f[0] + (f[1] - f[0]) * u,  u = (word >> 8) * 2^-24 */
    CLG_RNG_NORMAL   /* f[0] + f[1] * z, z by Box-Muller from words pairs */
} clg_rng_dist;

/* Fills tensor t now, on the graph's device (nothing recorded). func
 * names the public caller in errors. Tests use block0 != 0 to reach
 * Random123's known-answer counters. */
clg_status clg_rng_fill_now(clg_graph *g, clg_tensor t, clg_rng_dist dist, float a, float b, uint64_t seed,
                            uint64_t counter, uint64_t block0, const char *func);

#endif
