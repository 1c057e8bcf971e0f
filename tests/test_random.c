/*
 * Randomness: Philox-4x32-10, dropout, initialisers.
 *  - Philox: Random123's published known-answer vectors (kat_vectors) on
 *    the host function and through the fill op on every backend; the words
 *    of a large odd-sized fill identical on every device;
 *  - uniform floats: exactly (word >> 8) 2^-24, bit-identical everywhere;
 *  - normals (Box-Muller): 1e6 of them have mean and variance within 3
 *    standard errors (sigma / sqrt(n) and sigma^2 sqrt(2 / n)) and 68.27%
 *    within one sigma; devices close to the reference, not identical (their
 *    log, cos and sin differ by a few ulp);
 *  - dropout: the fraction kept within 3 standard errors of 1 - p, kept
 *    values scaled exactly by 1 / (1 - p), the mask equal to the documented
 *    stream and new on each run, evaluation the identity, the backward
 *    using the forward's mask (checked against it element by element, not
 *    with finite differences: every forward run draws a new mask);
 *  - random crop and flip: every image of two runs cropped and flipped
 *    exactly as the documented draw from the stream says (written again
 *    here from clg_random_crop_flip's comment), every corner and both
 *    flips occurring, the gradient the exact transpose, evaluation the
 *    identity, bad input refused;
 *  - initialisers: ranges and moments of the formulas, PyTorch's fans for
 *    2-D and 4-D weights, and bad input.
 */
#include "gradcheck.h"
#include "random.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random123 tests/kat_vectors, philox4x32 10: counter words, key words, result. */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} KAT[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};
#define NKAT (sizeof KAT / sizeof KAT[0])

static uint64_t join(uint32_t lo, uint32_t hi) { return (uint64_t)hi << 32 | lo; }

typedef struct dev {
    clg_context *ctx;
    clg_graph *g;
} dev;

static dev open_dev(const char *spec)
{
    dev d = {open_ctx(spec), NULL};
    CHECK_OK(d.ctx, clg_graph_create(d.ctx, &d.g));
    return d;
}

static void test_kat_host(void **state)
{
    for (size_t k = 0; k < NKAT; k++) {
        uint32_t out[4];
        clg_philox4x32_10(KAT[k].ctr, KAT[k].key, out);
        for (int l = 0; l < 4; l++)
            if (out[l] != KAT[k].out[l])
                fail_msg("known-answer vector %zu word %d: 0x%08x, want 0x%08x", k, l, out[l], KAT[k].out[l]);
    }
}

/* The fill op reaches each vector's counter through block0 (words 0, 1)
 * and the counter (words 2, 3). */
static void kat_fill(const char *spec)
{
    dev d = open_dev(spec);
    const int64_t four = 4;
    clg_tensor t = clg_labels(d.g, 1, &four);
    for (size_t k = 0; k < NKAT; k++) {
        int32_t got[4];
        CHECK_OK(d.ctx, clg_rng_fill_now(d.g, t, CLG_RNG_BITS, 0, 0, join(KAT[k].key[0], KAT[k].key[1]),
                                         join(KAT[k].ctr[2], KAT[k].ctr[3]), join(KAT[k].ctr[0], KAT[k].ctr[1]),
                                         "kat"));
        CHECK_OK(d.ctx, clg_tensor_get_i32(d.g, t, got, 4));
        for (int l = 0; l < 4; l++)
            if ((uint32_t)got[l] != KAT[k].out[l])
                fail_msg("%s: known-answer vector %zu word %d: 0x%08x, want 0x%08x", spec, k, l, (uint32_t)got[l],
                         KAT[k].out[l]);
    }
    clg_context_destroy(d.ctx);
}

static void test_kat_devices(void **state) { for_each_device(kat_fill); }

enum { NBITS = 100003 }; /* odd: the last block is partial */
static const uint64_t BIG_SEED = 0x9e3779b97f4a7c15ull, BIG_COUNTER = 0x00000001fffffffeull;

/* Words of the stream (seed, counter) from the host function. */
static void host_words(uint64_t seed, uint64_t counter, uint32_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) w[i] = clg_philox_word(seed, counter, 0, i);
}

static void bits_and_uniform(const char *spec)
{
    dev d = open_dev(spec);
    const int64_t n = NBITS;
    clg_tensor bits = clg_labels(d.g, 1, &n), u = clg_input(d.g, 1, &n), v = clg_input(d.g, 1, &n);
    int32_t *got = malloc(NBITS * sizeof *got);
    uint32_t *want = malloc(NBITS * sizeof *want);
    float *fu = malloc(NBITS * sizeof *fu), *fv = malloc(NBITS * sizeof *fv);
    assert_true(got && want && fu && fv);

    CHECK_OK(d.ctx, clg_random_bits(d.g, bits, BIG_SEED, BIG_COUNTER));
    CHECK_OK(d.ctx, clg_tensor_get_i32(d.g, bits, got, NBITS));
    host_words(BIG_SEED, BIG_COUNTER, want, NBITS);
    for (int i = 0; i < NBITS; i++)
        if ((uint32_t)got[i] != want[i]) fail_msg("%s: word %d is 0x%08x, want 0x%08x", spec, i, (uint32_t)got[i], want[i]);

    /* initialisers draw from counter 0: u = (word >> 8) 2^-24 exactly, and
     * lo + (hi - lo) u with one rounding per operation */
    const float lo = -2.5f, hi = 0.75f;
    CHECK_OK(d.ctx, clg_init_uniform(d.g, u, 0.0f, 1.0f, BIG_SEED));
    CHECK_OK(d.ctx, clg_init_uniform(d.g, v, lo, hi, BIG_SEED));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, u, fu, NBITS));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, v, fv, NBITS));
    host_words(BIG_SEED, 0, want, NBITS);
    for (int i = 0; i < NBITS; i++) {
        float w = (float)(want[i] >> 8) * 0x1p-24f;
        volatile float width = hi - lo, step = width * w, x = lo + step;
        if (fu[i] != w) fail_msg("%s: uniform %d is %.9g, want %.9g", spec, i, fu[i], w);
        if (fv[i] != x) fail_msg("%s: uniform [lo, hi) %d is %.9g, want %.9g", spec, i, fv[i], x);
    }
    free(got);
    free(want);
    free(fu);
    free(fv);
    clg_context_destroy(d.ctx);
}

static void test_bits_and_uniform(void **state) { for_each_device(bits_and_uniform); }

/* Sample mean and (biased) variance in double. */
static void moments(const float *v, size_t n, double *mean, double *var)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *var = q / (double)n;
}

/* mean within 3 sigma / sqrt(n), variance within 3 sigma^2 sqrt(2 / n)
 * (normal), 68.27% of the values within one sigma (3 binomial errors) */
static void check_normal(const float *v, size_t n, double mu, double sigma, const char *what)
{
    double mean, var, nd = (double)n;
    moments(v, n, &mean, &var);
    if (fabs(mean - mu) > 3 * sigma / sqrt(nd))
        fail_msg("%s: mean %.6g, want %.6g within %.3g", what, mean, mu, 3 * sigma / sqrt(nd));
    if (fabs(var - sigma * sigma) > 3 * sigma * sigma * sqrt(2 / nd))
        fail_msg("%s: variance %.6g, want %.6g within %.3g", what, var, sigma * sigma, 3 * sigma * sigma * sqrt(2 / nd));
    size_t inside = 0;
    for (size_t i = 0; i < n; i++) inside += fabs(v[i] - mu) <= sigma;
    const double p = 0.682689492137, frac = (double)inside / nd;
    if (fabs(frac - p) > 3 * sqrt(p * (1 - p) / nd))
        fail_msg("%s: %.5f of the values within one sigma, want %.5f", what, frac, p);
}

enum { NNORM = 1000000 };

/* The reference's normals, for the devices to be compared against. */
static float *reference_normals(float mu, float sigma, uint64_t seed)
{
    dev d = open_dev("reference");
    const int64_t n = NNORM;
    clg_tensor t = clg_input(d.g, 1, &n);
    float *v = malloc(NNORM * sizeof *v);
    assert_non_null(v);
    CHECK_OK(d.ctx, clg_init_normal(d.g, t, mu, sigma, seed));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, NNORM));
    clg_context_destroy(d.ctx);
    return v;
}

static void test_normals(void **state)
{
    const float mu = 1.5f, sigma = 2.0f;
    float *ref0 = reference_normals(0.0f, 1.0f, 7), *ref1 = reference_normals(mu, sigma, 8);
    check_normal(ref0, NNORM, 0, 1, "reference N(0, 1)");
    check_normal(ref1, NNORM, mu, sigma, "reference N(1.5, 4)");

    char specs[16][32], what[640];
    int ndev = test_opencl_devices(specs, 16);
    float *v = malloc(NNORM * sizeof *v);
    assert_non_null(v);
    for (int k = 0; k < ndev; k++) {
        dev d = open_dev(specs[k]);
        const int64_t n = NNORM;
        clg_tensor t = clg_input(d.g, 1, &n);
        CHECK_OK(d.ctx, clg_init_normal(d.g, t, 0.0f, 1.0f, 7));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, NNORM));
        snprintf(what, sizeof what, "N(0, 1) on %s", specs[k]);
        check_normal(v, NNORM, 0, 1, what);
        /* z = sqrt(-2 ln u1) cos(2 pi u2) from the same words and the same
         * float argument 2 pi u2 (one exact-rounded multiply): the OpenCL 1.2
         * bounds (log 3, sqrt 3, cos/sin 4 ulp) plus the host libm's 1 ulp
         * each and the final product's rounding give 16 ulp: 2e-6 relative.
         * |z| <= 5.8, so 1e-6 of it covers a result near cos's zeros. */
        snprintf(what, sizeof what, "N(0, 1) on %s vs reference", specs[k]);
        assert_close(v, ref0, NNORM, 2e-6, 1e-6, what);
        CHECK_OK(d.ctx, clg_init_normal(d.g, t, mu, sigma, 8));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, NNORM));
        snprintf(what, sizeof what, "N(1.5, 4) on %s", specs[k]);
        check_normal(v, NNORM, mu, sigma, what);
        /* the same, scaled by sigma = 2, plus mu = 1.5: an absolute part of
         * 2e-6 * (|mu| + sigma * 5.8) for results that cancel to near zero */
        snprintf(what, sizeof what, "N(1.5, 4) on %s vs reference", specs[k]);
        assert_close(v, ref1, NNORM, 2e-6, 2e-6 * (mu + sigma * 5.8), what);
        clg_context_destroy(d.ctx);
    }
    free(v);
    free(ref0);
    free(ref1);
}

/* ---- dropout ---- */

typedef struct drop_case {
    float p;
    uint64_t seed;
} drop_case;

static clg_tensor build_dropout(clg_graph *g, const clg_tensor *in, void *arg)
{
    const drop_case *k = arg;
    return clg_dropout(g, in[0], k->p, k->seed);
}

/* Masks are the same on every device (exact uniforms): outputs and
 * gradients agree to the bit, well inside the default tolerance. */
static void test_dropout_devices(void **state)
{
    const drop_case k = {0.3f, 77};
    const gc_input odd = {.ndim = 3, .shape = {17, 33, 65}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("dropout 17x33x65", build_dropout, (void *)&k, &odd, 1, &gc_default_tol, 301);
    const gc_input one = {.ndim = 2, .shape = {1, 1}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("dropout 1x1", build_dropout, (void *)&k, &one, 1, &gc_default_tol, 302);
}

enum { NDROP = 17 * 33 * 65 };

/* Forward run `run` of a dropout with (p, seed) kept exactly the elements
 * whose uniform from stream (seed, counter = run) is >= p, each scaled by
 * the float 1 / (1 - p); returns how many. */
static size_t check_mask(const char *spec, const float *x, const float *y, float p, uint64_t seed, uint64_t run,
                         uint32_t *words)
{
    host_words(seed, run, words, NDROP);
    const float scale = 1.0f / (1.0f - p);
    size_t kept = 0;
    for (int i = 0; i < NDROP; i++) {
        bool keep = (float)(words[i] >> 8) * 0x1p-24f >= p;
        float want = keep ? x[i] * scale : 0.0f;
        if (y[i] != want)
            fail_msg("%s: run %llu element %d: %.9g, want %.9g (x %.9g, %s)", spec, (unsigned long long)run, i, y[i],
                     want, x[i], keep ? "kept" : "dropped");
        kept += keep;
    }
    return kept;
}

static void dropout_masks(const char *spec)
{
    const float p = 0.3f;
    const uint64_t seed = 0xfeedbeef12345ull;
    const int64_t shape[3] = {17, 33, 65};
    dev d = open_dev(spec);
    clg_tensor x = clg_param(d.g, 3, shape), w = clg_input(d.g, 3, shape);
    clg_tensor y = clg_dropout(d.g, x, p, seed);
    clg_tensor_keep(d.g, y); /* read after the run */
    CHECK_OK(d.ctx, clg_backward(d.g, clg_sum(d.g, clg_mul(d.g, y, w))));
    clg_tensor dx = clg_grad(d.g, x);
    float *xv = malloc(NDROP * sizeof *xv), *wv = malloc(NDROP * sizeof *wv), *yv = malloc(NDROP * sizeof *yv),
          *gv = malloc(NDROP * sizeof *gv), *y0 = malloc(NDROP * sizeof *y0);
    uint32_t *words = malloc(NDROP * sizeof *words);
    assert_true(xv && wv && yv && gv && y0 && words);
    rng_t r = {555};
    rng_fill(&r, xv, NDROP, 0.05, 2, false);
    rng_fill(&r, wv, NDROP, 0.5, 1.5, false);
    CHECK_OK(d.ctx, clg_tensor_set(d.g, x, xv, NDROP));
    CHECK_OK(d.ctx, clg_tensor_set(d.g, w, wv, NDROP));
    const double n = NDROP, se3 = 3 * sqrt(p * (1 - p) / n);

    for (uint64_t run = 0; run < 2; run++) {
        CHECK_OK(d.ctx, clg_graph_run(d.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, y, yv, NDROP));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, dx, gv, NDROP));
        size_t kept = check_mask(spec, xv, yv, p, seed, run, words);
        if (fabs((double)kept / n - (1 - p)) > se3)
            fail_msg("%s: run %llu kept %.5f of the elements, want %.5f within %.5f", spec, (unsigned long long)run,
                     (double)kept / n, 1 - p, se3);
        /* the backward multiplies dy = w by the same mask: y / x */
        for (int i = 0; i < NDROP; i++) {
            float want = yv[i] != 0.0f ? wv[i] * (1.0f / (1.0f - p)) : 0.0f;
            if (gv[i] != want) fail_msg("%s: run %llu gradient %d: %.9g, want %.9g", spec, (unsigned long long)run, i, gv[i], want);
        }
        if (run == 0) memcpy(y0, yv, NDROP * sizeof *yv);
    }
    size_t same = 0;
    for (int i = 0; i < NDROP; i++) same += (y0[i] != 0) == (yv[i] != 0);
    /* independent masks agree on p^2 + (1-p)^2 = 58% of the elements, not all */
    assert_true(same < (size_t)(0.6 * NDROP));

    CHECK_OK(d.ctx, clg_graph_set_training(d.g, 0));
    CHECK_OK(d.ctx, clg_graph_run(d.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, y, yv, NDROP));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, dx, gv, NDROP));
    assert_memory_equal(yv, xv, NDROP * sizeof *xv);
    assert_memory_equal(gv, wv, NDROP * sizeof *wv);
    free(xv);
    free(wv);
    free(yv);
    free(gv);
    free(y0);
    free(words);
    clg_context_destroy(d.ctx);
}

static void test_dropout_masks(void **state) { for_each_device(dropout_masks); }

static void dropout_p_zero_and_errors(const char *spec)
{
    dev d = open_dev(spec);
    const int64_t s[2] = {3, 5};
    clg_tensor x = clg_input(d.g, 2, s), y = clg_dropout(d.g, x, 0.0f, 1);
    float xv[15], yv[15];
    rng_t r = {9};
    rng_fill(&r, xv, 15, 0.05, 2, false);
    CHECK_OK(d.ctx, clg_tensor_set(d.g, x, xv, 15));
    CHECK_OK(d.ctx, clg_graph_run(d.g, CLG_RUN_FORWARD));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, y, yv, 15));
    assert_memory_equal(yv, xv, sizeof xv);
    clg_context_destroy(d.ctx);

    const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        d = open_dev(spec);
        x = clg_input(d.g, 2, s);
        assert_true(clg_dropout(d.g, x, bad[k], 1).id < 0);
        assert_int_equal(clg_graph_status(d.g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(d.ctx, "dropout");
        ASSERT_MSG_HAS(d.ctx, "[3,5]");
        ASSERT_MSG_HAS(d.ctx, "[0, 1)");
        clg_context_destroy(d.ctx);
    }
}

static void test_dropout_p_zero_and_errors(void **state) { for_each_device(dropout_p_zero_and_errors); }

/* ---- random crop and flip ---- */

enum { CROP_N = 203, CROP_C = 2, CROP_H = 7, CROP_W = 9, CROP_PAD = 3 };
#define CROP_NUMEL ((size_t)CROP_N * CROP_C * CROP_H * CROP_W)

/* y = crop_flip(x) as documented, image n from words 4n..4n+2 of the stream */
static void crop_want(const float *x, float *y, const uint32_t *w, int flip, int *hits_y, int *hits_x, int *flips)
{
    const uint32_t span = 2 * CROP_PAD + 1;
    for (int n = 0; n < CROP_N; n++) {
        int oy = (int)(w[4 * n] % span), ox = (int)(w[4 * n + 1] % span), f = flip && w[4 * n + 2] < 0x80000000u;
        hits_y[oy]++;
        hits_x[ox]++;
        *flips += f;
        for (int c = 0; c < CROP_C; c++)
            for (int i = 0; i < CROP_H; i++)
                for (int j = 0; j < CROP_W; j++) {
                    int si = i + oy - CROP_PAD, sj = (f ? CROP_W - 1 - j : j) + ox - CROP_PAD;
                    size_t plane = ((size_t)n * CROP_C + (size_t)c) * CROP_H * CROP_W;
                    y[plane + (size_t)i * CROP_W + (size_t)j] =
                        si >= 0 && si < CROP_H && sj >= 0 && sj < CROP_W ? x[plane + (size_t)si * CROP_W + (size_t)sj]
                                                                         : 0.0f;
                }
    }
}

/* dx of sum(y w): scatter w back along the same reads */
static void crop_want_grad(const float *w, float *dx, const uint32_t *words, int flip)
{
    const uint32_t span = 2 * CROP_PAD + 1;
    memset(dx, 0, CROP_NUMEL * sizeof *dx);
    for (int n = 0; n < CROP_N; n++) {
        int oy = (int)(words[4 * n] % span), ox = (int)(words[4 * n + 1] % span);
        int f = flip && words[4 * n + 2] < 0x80000000u;
        for (int c = 0; c < CROP_C; c++)
            for (int i = 0; i < CROP_H; i++)
                for (int j = 0; j < CROP_W; j++) {
                    int si = i + oy - CROP_PAD, sj = (f ? CROP_W - 1 - j : j) + ox - CROP_PAD;
                    size_t plane = ((size_t)n * CROP_C + (size_t)c) * CROP_H * CROP_W;
                    if (si >= 0 && si < CROP_H && sj >= 0 && sj < CROP_W)
                        dx[plane + (size_t)si * CROP_W + (size_t)sj] += w[plane + (size_t)i * CROP_W + (size_t)j];
                }
    }
}

static void crop_flip_runs(const char *spec)
{
    const uint64_t seed = 0x5eed0000abcdull;
    const int64_t shape[4] = {CROP_N, CROP_C, CROP_H, CROP_W};
    for (int flip = 0; flip < 2; flip++) {
        dev d = open_dev(spec);
        clg_tensor x = clg_param(d.g, 4, shape), w = clg_input(d.g, 4, shape);
        clg_tensor y = clg_random_crop_flip(d.g, x, CROP_PAD, flip, seed);
        clg_tensor_keep(d.g, y);
        CHECK_OK(d.ctx, clg_backward(d.g, clg_sum(d.g, clg_mul(d.g, y, w))));
        clg_tensor dx = clg_grad(d.g, x);
        float *xv = malloc(CROP_NUMEL * sizeof *xv), *wv = malloc(CROP_NUMEL * sizeof *wv);
        float *yv = malloc(CROP_NUMEL * sizeof *yv), *gv = malloc(CROP_NUMEL * sizeof *gv);
        float *want = malloc(CROP_NUMEL * sizeof *want), *y0 = malloc(CROP_NUMEL * sizeof *y0);
        uint32_t *words = malloc(4 * CROP_N * sizeof *words);
        assert_true(xv && wv && yv && gv && want && y0 && words);
        rng_t r = {77 + (uint64_t)flip};
        rng_fill(&r, xv, CROP_NUMEL, 0.05, 2, false);
        rng_fill(&r, wv, CROP_NUMEL, 0.5, 1.5, false);
        CHECK_OK(d.ctx, clg_tensor_set(d.g, x, xv, CROP_NUMEL));
        CHECK_OK(d.ctx, clg_tensor_set(d.g, w, wv, CROP_NUMEL));
        int hits_y[2 * CROP_PAD + 1] = {0}, hits_x[2 * CROP_PAD + 1] = {0}, flips = 0;
        for (uint64_t run = 0; run < 2; run++) {
            CHECK_OK(d.ctx, clg_graph_run(d.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
            CHECK_OK(d.ctx, clg_tensor_get(d.g, y, yv, CROP_NUMEL));
            CHECK_OK(d.ctx, clg_tensor_get(d.g, dx, gv, CROP_NUMEL));
            host_words(seed, run, words, 4 * CROP_N);
            crop_want(xv, want, words, flip, hits_y, hits_x, &flips);
            for (size_t e = 0; e < CROP_NUMEL; e++)
                if (yv[e] != want[e])
                    fail_msg("%s: flip %d run %llu: y[%zu] = %.9g, want %.9g", spec, flip, (unsigned long long)run, e,
                             yv[e], want[e]);
            /* the transpose, exactly: each x element's gradient is the w of the one
             * output that reads it, or 0 */
            crop_want_grad(wv, want, words, flip);
            for (size_t e = 0; e < CROP_NUMEL; e++)
                if (gv[e] != want[e])
                    fail_msg("%s: flip %d run %llu: dx[%zu] = %.9g, want %.9g", spec, flip, (unsigned long long)run, e,
                             gv[e], want[e]);
            if (run == 0) memcpy(y0, yv, CROP_NUMEL * sizeof *yv);
        }
        /* run 1 drew anew */
        assert_true(memcmp(y0, yv, CROP_NUMEL * sizeof *yv) != 0);
        for (int k = 0; k < 2 * CROP_PAD + 1; k++)
            if (!hits_y[k] || !hits_x[k]) fail_msg("%s: corner offset %d never drawn in %d images", spec, k, 2 * CROP_N);
        /* flips: Binomial(406, 1/2) within 4 standard deviations (about 40) */
        if (flip ? abs(flips - CROP_N) > 41 : flips != 0)
            fail_msg("%s: flip %d: %d of %d images flipped", spec, flip, flips, 2 * CROP_N);

        CHECK_OK(d.ctx, clg_graph_set_training(d.g, 0));
        CHECK_OK(d.ctx, clg_graph_run(d.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, y, yv, CROP_NUMEL));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, dx, gv, CROP_NUMEL));
        assert_memory_equal(yv, xv, CROP_NUMEL * sizeof *xv);
        assert_memory_equal(gv, wv, CROP_NUMEL * sizeof *wv);
        free(xv);
        free(wv);
        free(yv);
        free(gv);
        free(want);
        free(y0);
        free(words);
        clg_context_destroy(d.ctx);
    }
}

static void test_crop_flip(void **state) { for_each_device(crop_flip_runs); }

static void test_crop_flip_errors(void **state)
{
    dev d = open_dev("reference");
    const int64_t s3[3] = {2, 7, 9}, s4[4] = {2, 1, 7, 9};
    clg_tensor x3 = clg_input(d.g, 3, s3), x4 = clg_input(d.g, 4, s4);
    const int32_t before = clg_graph_tensor_count(d.g);
    assert_true(clg_random_crop_flip(d.g, x3, 2, 1, 1).id < 0);
    assert_int_equal(clg_graph_status(d.g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(d.ctx, "random_crop_flip: input [2,7,9]: want 4 dimensions");
    clg_graph_clear_status(d.g);
    const int64_t bad[] = {-1, 65536};
    for (int k = 0; k < 2; k++) {
        assert_true(clg_random_crop_flip(d.g, x4, bad[k], 1, 1).id < 0);
        assert_int_equal(clg_graph_status(d.g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(d.ctx, "is not in [0, 65535]");
        clg_graph_clear_status(d.g);
    }
    assert_int_equal(clg_graph_tensor_count(d.g), before);
    assert_true(clg_random_crop_flip(d.g, x4, 65535, 1, 1).id >= 0);
    clg_context_destroy(d.ctx);
}

/* ---- initialisers ---- */

/* uniform on [-a, a]: all values inside, mean within 3 sigma / sqrt(n),
 * variance a^2 / 3 within 3 standard errors sqrt((mu4 - sigma^4) / n),
 * mu4 = a^4 / 5 */
static void check_uniform(const float *v, size_t n, double a, const char *what)
{
    double mean, var, nd = (double)n, s2 = a * a / 3;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(v[i]) <= (float)a)) fail_msg("%s: value %zu is %.9g, outside [-%.9g, %.9g]", what, i, v[i], a, a);
    moments(v, n, &mean, &var);
    if (fabs(mean) > 3 * sqrt(s2 / nd)) fail_msg("%s: mean %.6g, want 0 within %.3g", what, mean, 3 * sqrt(s2 / nd));
    double se = sqrt((a * a * a * a / 5 - s2 * s2) / nd);
    if (fabs(var - s2) > 3 * se) fail_msg("%s: variance %.6g, want %.6g within %.3g", what, var, s2, 3 * se);
}

typedef struct init_case {
    int ndim;
    int64_t shape[4];
    double fan_in, fan_out;
} init_case;

static const init_case INIT_CASES[] = {
    {2, {300, 200}, 200, 300},        /* Linear(200, 300).weight */
    {4, {32, 16, 3, 5}, 240, 480},    /* Conv2d(16, 32, (3, 5)).weight */
};

static void initialisers(const char *spec)
{
    char what[160];
    for (size_t c = 0; c < sizeof INIT_CASES / sizeof *INIT_CASES; c++) {
        const init_case *k = &INIT_CASES[c];
        dev d = open_dev(spec);
        clg_tensor t = clg_param(d.g, k->ndim, k->shape);
        size_t n = (size_t)clg_tensor_numel(d.g, t);
        float *v = malloc(n * sizeof *v), *v2 = malloc(n * sizeof *v2);
        assert_true(v && v2);

        CHECK_OK(d.ctx, clg_init_xavier_uniform(d.g, t, 21));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, n));
        snprintf(what, sizeof what, "xavier_uniform case %zu on %s", c, spec);
        check_uniform(v, n, sqrt(6 / (k->fan_in + k->fan_out)), what);

        /* the same stream as clg_init_uniform with the formula's bound */
        const float a = (float)sqrt(6 / k->fan_in);
        CHECK_OK(d.ctx, clg_init_kaiming_uniform(d.g, t, 22));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, n));
        snprintf(what, sizeof what, "kaiming_uniform case %zu on %s", c, spec);
        check_uniform(v, n, a, what);
        CHECK_OK(d.ctx, clg_init_uniform(d.g, t, -a, a, 22));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v2, n));
        assert_memory_equal(v, v2, n * sizeof *v);

        CHECK_OK(d.ctx, clg_init_xavier_normal(d.g, t, 23));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, n));
        snprintf(what, sizeof what, "xavier_normal case %zu on %s", c, spec);
        check_normal(v, n, 0, sqrt(2 / (k->fan_in + k->fan_out)), what);

        CHECK_OK(d.ctx, clg_init_kaiming_normal(d.g, t, 24));
        CHECK_OK(d.ctx, clg_tensor_get(d.g, t, v, n));
        snprintf(what, sizeof what, "kaiming_normal case %zu on %s", c, spec);
        check_normal(v, n, 0, sqrt(2 / k->fan_in), what);
        free(v);
        free(v2);
        clg_context_destroy(d.ctx);
    }
}

static void test_initialisers(void **state) { for_each_device(initialisers); }

static void random_errors(const char *spec)
{
    dev d = open_dev(spec);
    const int64_t s5[1] = {5}, s23[2] = {2, 3};
    clg_tensor v5 = clg_param(d.g, 1, s5), w = clg_param(d.g, 2, s23), labels = clg_labels(d.g, 2, s23);

    assert_int_equal(clg_init_xavier_uniform(d.g, v5, 1), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(d.ctx, "clg_init_xavier_uniform");
    ASSERT_MSG_HAS(d.ctx, "[5]");
    assert_int_equal(clg_init_kaiming_normal(d.g, v5, 1), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(d.ctx, "clg_init_kaiming_normal");
    assert_int_equal(clg_init_uniform(d.g, w, 1.0f, -1.0f, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(d.ctx, "clg_init_uniform");
    assert_int_equal(clg_init_uniform(d.g, w, 0.0f, INFINITY, 1), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_init_normal(d.g, w, 0.0f, -1.0f, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(d.ctx, "std");
    assert_int_equal(clg_init_uniform(d.g, labels, 0.0f, 1.0f, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(d.ctx, "int32");
    assert_int_equal(clg_random_bits(d.g, w, 1, 0), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(d.ctx, "clg_random_bits");
    assert_int_equal(clg_init_normal(d.g, (clg_tensor){99, 0}, 0.0f, 1.0f, 1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(d.ctx, "99");
    /* none of these records anything or fails the graph */
    CHECK_OK(d.ctx, clg_graph_status(d.g));
    /* a zero std is allowed: every value is the mean */
    float got[6];
    CHECK_OK(d.ctx, clg_init_normal(d.g, w, 0.25f, 0.0f, 1));
    CHECK_OK(d.ctx, clg_tensor_get(d.g, w, got, 6));
    for (int i = 0; i < 6; i++) assert_true(got[i] == 0.25f);
    clg_context_destroy(d.ctx);
}

static void test_random_errors(void **state) { for_each_device(random_errors); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_host),
        cmocka_unit_test(test_kat_devices),
        cmocka_unit_test(test_bits_and_uniform),
        cmocka_unit_test(test_normals),
        cmocka_unit_test(test_dropout_devices),
        cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_dropout_p_zero_and_errors),
        cmocka_unit_test(test_crop_flip),
        cmocka_unit_test(test_crop_flip_errors),
        cmocka_unit_test(test_initialisers),
        cmocka_unit_test(test_random_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
