/*
 * 16-bit floats (clg_cast, 16-bit operands of clg_matmul) on every device:
 * - conversions bit for bit against PyTorch 1.13's (x.half(), x.bfloat16()
 *   and back to float, printed by torch and written here): ties rounding to
 *   even, subnormals of both formats (and float32 subnormals into bf16),
 *   overflow to infinity at the first midpoint past the largest finite
 *   value, infinities, signed zeros and NaN (fp16's NaN of its sign;
 *   bf16's is any NaN: PyTorch's vectorised conversion writes 0xffff, its
 *   scalar one and clgrad 0x7fc0). Read both as the device widens them and
 *   as clg_tensor_get converts the stored bits on the host;
 * - the gradient of a cast as PyTorch defines it (dy rounded to the 16-bit
 *   type) on the same bits;
 * - random values over both formats' whole ranges, and exact midpoints,
 *   against the reference conversion (core/half.h, a different method from
 *   the kernels': float arithmetic, not integer);
 * - products of 16-bit operands against this file's own double product
 *   of the rounded operands, and their gradients rounded to the type;
 * - refusals: ops that do not take 16-bit tensors name the dtype and the
 *   remedy; clg_cast to a non-float type; nothing recorded;
 * - named 16-bit tensors in checkpoints: F16 / BF16 with the device's bits.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "util.h"
#include "half.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <xmmintrin.h> /* MXCSR, for test_host_16 */
#endif

/* float32 bits; PyTorch's float16 and bfloat16 bits; those widened again */
typedef struct {
    uint32_t f32;
    uint16_t f16, bf16;
    uint32_t f16_f32, bf16_f32;
} bits_row;

static const bits_row torch_rows[] = {
    {0x3f800000u, 0x3c00, 0x3f80, 0x3f800000u, 0x3f800000u}, /* 1.0 */
    {0xc0200000u, 0xc100, 0xc020, 0xc0200000u, 0xc0200000u}, /* -2.5 */
    {0x3f801000u, 0x3c00, 0x3f80, 0x3f800000u, 0x3f800000u}, /* 1 + 2^-11: a tie, to even (down) */
    {0x3f803000u, 0x3c02, 0x3f80, 0x3f804000u, 0x3f800000u}, /* 1 + 3 2^-11: a tie, to even (up) */
    {0x3f801001u, 0x3c01, 0x3f80, 0x3f802000u, 0x3f800000u}, /* just past the tie */
    {0x477fe000u, 0x7bff, 0x4780, 0x477fe000u, 0x47800000u}, /* 65504, fp16's largest */
    {0x477fefffu, 0x7bff, 0x4780, 0x477fe000u, 0x47800000u}, /* just below the midpoint to 65536 */
    {0x477ff000u, 0x7c00, 0x4780, 0x7f800000u, 0x47800000u}, /* 65520, the midpoint: infinity */
    {0x4788b800u, 0x7c00, 0x4789, 0x7f800000u, 0x47890000u}, /* 70000 */
    {0x33800000u, 0x0001, 0x3380, 0x33800000u, 0x33800000u}, /* 2^-24, fp16's smallest subnormal */
    {0x33000000u, 0x0000, 0x3300, 0x00000000u, 0x33000000u}, /* 2^-25: a tie, to zero */
    {0x33000001u, 0x0001, 0x3300, 0x33800000u, 0x33000000u}, /* just past it */
    {0x33c00000u, 0x0002, 0x33c0, 0x34000000u, 0x33c00000u}, /* 1.5 2^-24: a tie, to 2 */
    {0x38800000u, 0x0400, 0x3880, 0x38800000u, 0x38800000u}, /* 2^-14, fp16's smallest normal */
    {0x387fe000u, 0x0400, 0x3880, 0x38800000u, 0x38800000u}, /* a subnormal rounding up to it */
    {0x322bcc77u, 0x0000, 0x322c, 0x00000000u, 0x322c0000u}, /* 1e-8 */
    {0x80000000u, 0x8000, 0x8000, 0x80000000u, 0x80000000u}, /* -0 */
    {0x7f800000u, 0x7c00, 0x7f80, 0x7f800000u, 0x7f800000u}, /* inf */
    {0xff800000u, 0xfc00, 0xff80, 0xff800000u, 0xff800000u}, /* -inf */
    {0x7fc00000u, 0x7e00, 0xffff, 0x7fc00000u, 0xffff0000u}, /* nan */
    {0xffc00000u, 0xfe00, 0xffff, 0xffc00000u, 0xffff0000u}, /* -nan */
    {0x00000001u, 0x0000, 0x0000, 0x00000000u, 0x00000000u}, /* float32's smallest subnormal */
    {0x007fffffu, 0x0000, 0x0080, 0x00000000u, 0x00800000u}, /* its largest: up to bf16's smallest normal */
    {0x000116c2u, 0x0000, 0x0001, 0x00000000u, 0x00010000u}, /* 1e-40: a bf16 subnormal */
    {0x7f61b1e6u, 0x7c00, 0x7f62, 0x7f800000u, 0x7f620000u}, /* 3e38 */
    {0x7f7f7fffu, 0x7c00, 0x7f7f, 0x7f800000u, 0x7f7f0000u}, /* below bf16's overflow midpoint */
    {0x7f7f8000u, 0x7c00, 0x7f80, 0x7f800000u, 0x7f800000u}, /* the midpoint: infinity */
    {0x7f7fffffu, 0x7c00, 0x7f80, 0x7f800000u, 0x7f800000u}, /* FLT_MAX */
    {0x3f808000u, 0x3c04, 0x3f80, 0x3f808000u, 0x3f800000u}, /* 1 + 2^-8: a bf16 tie, to even (down) */
    {0x3f818000u, 0x3c0c, 0x3f82, 0x3f818000u, 0x3f820000u}, /* 1 + 3 2^-8: a bf16 tie, to even (up) */
    {0x3dcccccdu, 0x2e66, 0x3dcd, 0x3dccc000u, 0x3dcd0000u}, /* 0.1 */
    {0xc49a522bu, 0xe4d3, 0xc49a, 0xc49a6000u, 0xc49a0000u}, /* -1234.5678 */
    {0xb3400000u, 0x8001, 0xb340, 0xb3800000u, 0xb3400000u}, /* -1.5 2^-25 */
    {0x387fffffu, 0x0400, 0x3880, 0x38800000u, 0x38800000u}, /* just below 2^-14 */
    {0x38000000u, 0x0200, 0x3800, 0x38000000u, 0x38000000u}, /* 2^-15, a subnormal */
    {0x3a001000u, 0x1000, 0x3a00, 0x3a000000u, 0x3a000000u}, /* 2^-11 + a tie */
    {0xc7800000u, 0xfc00, 0xc780, 0xff800000u, 0xc7800000u}, /* -65536 */
    {0x00800000u, 0x0000, 0x0080, 0x00000000u, 0x00800000u}, /* float32's smallest normal */
    {0x80400000u, 0x8000, 0x8040, 0x80000000u, 0x80400000u}, /* a negative float32 subnormal */
    {0x3f7fffffu, 0x3c00, 0x3f80, 0x3f800000u, 0x3f800000u}, /* just below 1 */
    {0x3f7f8000u, 0x3bfc, 0x3f80, 0x3f7f8000u, 0x3f800000u}, /* 0.998046875 */
};
#define NROWS (sizeof torch_rows / sizeof torch_rows[0])

/* want's bits exactly; for bf16 (any_nan) a NaN matches any NaN */
static void assert_bits(const float *got, const uint32_t *want, size_t n, bool any_nan, const char *what,
                        const char *spec)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t g = clg_float_bits(got[i]);
        if (g == want[i] || (any_nan && isnan(got[i]) && isnan(clg_bits_float(want[i])))) continue;
        fail_msg("%s on %s: row %zu (float32 0x%08x): got 0x%08x, want 0x%08x", what, spec, i,
                 (unsigned)torch_rows[i].f32, (unsigned)g, (unsigned)want[i]);
    }
}

static void pytorch_bits(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = NROWS;
    float x[NROWS], c[NROWS], got[NROWS];
    uint32_t want16[NROWS], wantb[NROWS];
    for (size_t i = 0; i < NROWS; i++) {
        x[i] = clg_bits_float(torch_rows[i].f32);
        want16[i] = torch_rows[i].f16_f32;
        wantb[i] = torch_rows[i].bf16_f32;
    }
    /* forward: the casts of x; backward: through a round trip whose
     * upstream gradient is c = the same values (sum(y c)), so that x's
     * gradient is c rounded to the type */
    clg_tensor xi = clg_input(g, 1, &n), cf = clg_input(g, 1, &n), cb = clg_input(g, 1, &n);
    clg_tensor p16 = clg_param(g, 1, &n), pbf = clg_param(g, 1, &n);
    clg_tensor h = clg_cast(g, xi, CLG_ELEM_F16), b = clg_cast(g, xi, CLG_ELEM_BF16);
    clg_tensor hw = clg_cast(g, h, CLG_ELEM_F32), bw = clg_cast(g, b, CLG_ELEM_F32);
    clg_tensor r16 = clg_cast(g, clg_cast(g, p16, CLG_ELEM_F16), CLG_ELEM_F32);
    clg_tensor rbf = clg_cast(g, clg_cast(g, pbf, CLG_ELEM_BF16), CLG_ELEM_F32);
    assert_int_equal(clg_cast(g, hw, CLG_ELEM_F32).id, hw.id); /* already float32: itself */
    for (clg_tensor keep[4] = {h, b, hw, bw}, *k = keep; k < keep + 4; k++) CHECK_OK(ctx, clg_tensor_keep(g, *k));
    CHECK_OK(ctx, clg_backward(g, clg_add(g, clg_sum(g, clg_mul(g, r16, cf)), clg_sum(g, clg_mul(g, rbf, cb)))));
    float ones[NROWS];
    for (size_t i = 0; i < NROWS; i++) {
        ones[i] = 1.0f;
        /* finite upstream values only where the product sum(y c) stays
         * meaningful; a NaN or infinite c still gives x's gradient c */
        c[i] = x[i];
    }
    CHECK_OK(ctx, clg_tensor_set(g, xi, x, NROWS));
    CHECK_OK(ctx, clg_tensor_set(g, cf, c, NROWS));
    CHECK_OK(ctx, clg_tensor_set(g, cb, c, NROWS));
    CHECK_OK(ctx, clg_tensor_set(g, p16, ones, NROWS));
    CHECK_OK(ctx, clg_tensor_set(g, pbf, ones, NROWS));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, h, got, NROWS));
    assert_bits(got, want16, NROWS, false, "float16 bits, read on the host", spec);
    CHECK_OK(ctx, clg_tensor_get(g, hw, got, NROWS));
    assert_bits(got, want16, NROWS, false, "float16 widened on the device", spec);
    CHECK_OK(ctx, clg_tensor_get(g, b, got, NROWS));
    assert_bits(got, wantb, NROWS, true, "bfloat16 bits, read on the host", spec);
    CHECK_OK(ctx, clg_tensor_get(g, bw, got, NROWS));
    assert_bits(got, wantb, NROWS, true, "bfloat16 widened on the device", spec);
    /* NaN times 1 is a NaN, whose sign an FPU may not keep: any NaN */
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, p16), got, NROWS));
    assert_bits(got, want16, NROWS, true, "the gradient through float16", spec);
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, pbf), got, NROWS));
    assert_bits(got, wantb, NROWS, true, "the gradient through bfloat16", spec);

    /* clg_tensor_set on a 16-bit tensor rounds as the device does */
    float back[NROWS];
    CHECK_OK(ctx, clg_tensor_set(g, h, x, NROWS));
    CHECK_OK(ctx, clg_tensor_get(g, h, back, NROWS));
    assert_bits(back, want16, NROWS, false, "float16 written by clg_tensor_set", spec);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

static void test_pytorch_bits(void **state)
{
    (void)state;
    for_each_device(pytorch_bits);
}

/* Random floats over a format's range: sign, exponent in [emin - 12,
 * emax + 1] (subnormals, underflow to zero, overflow), a random
 * significand; a quarter of them exact midpoints between two neighbours of
 * the format (ties) or one float32 ulp beside one. */
static float random_value(rng_t *r, bool bf)
{
    const int lo = bf ? -140 : -27, hi = bf ? 128 : 16;
    const int e = lo + (int)(rng_next(r) % (uint64_t)(hi - lo + 1));
    float v = ldexpf((float)rng_uniform(r, 1.0, 2.0), e);
    if (rng_next(r) % 4 == 0) { /* a midpoint: a 16-bit value plus half its spacing */
        const uint16_t q = bf ? clg_float_to_bf16(v) : clg_float_to_f16(v);
        const float a = bf ? clg_bf16_to_float(q) : clg_f16_to_float(q);
        const float next = bf ? clg_bf16_to_float((uint16_t)(q + 1)) : clg_f16_to_float((uint16_t)(q + 1));
        if (isfinite(a) && isfinite(next)) {
            v = (float)(((double)a + (double)next) / 2);
            const uint64_t k = rng_next(r) % 3; /* on it, one ulp below, one above */
            if (k) v = nextafterf(v, k == 1 ? 0.0f : INFINITY);
        }
    }
    return rng_next(r) & 1 ? -v : v;
}

static float round16(float v, bool bf)
{
    return bf ? clg_bf16_to_float(clg_float_to_bf16(v)) : clg_f16_to_float(clg_float_to_f16(v));
}

/* x's n values narrowed on the device four ways, each against core/half.h
 * bit for bit: by the cast kernel (cl/common.cl's f16_bits, bf16_bits),
 * stored 16-bit and also widened again; and with an elementwise op between
 * (scaled by 1), so that on OpenCL one generated kernel rounds in registers
 * (round_f16, round_bf16) and stores 16 bits, also widened again. */
static void narrowing_on(const char *spec, const float *x, int64_t n, bool bf)
{
    float *got = malloc((size_t)n * sizeof *got);
    assert_non_null(got);
    clg_context *ctx = open_ctx(spec);
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const clg_elem t = bf ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    clg_tensor xi = clg_input(g, 1, &n);
    clg_tensor y[4];
    y[0] = clg_cast(g, xi, t);
    y[1] = clg_cast(g, clg_cast(g, xi, t), CLG_ELEM_F32);
    y[2] = clg_scale(g, clg_cast(g, xi, t), 1.0f);
    y[3] = clg_cast(g, clg_scale(g, clg_cast(g, xi, t), 1.0f), CLG_ELEM_F32);
    static const char *const how[4] = {"cast", "cast and widened", "scaled by 1 (a generated kernel)",
                                       "scaled by 1 and widened"};
    for (int k = 0; k < 4; k++) CHECK_OK(ctx, clg_tensor_keep(g, y[k]));
    CHECK_OK(ctx, clg_tensor_set(g, xi, x, (size_t)n));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    for (int k = 0; k < 4; k++) {
        CHECK_OK(ctx, clg_tensor_get(g, y[k], got, (size_t)n));
        for (int64_t i = 0; i < n; i++) {
            const uint32_t want = clg_float_bits(round16(x[i], bf));
            if (clg_float_bits(got[i]) != want)
                fail_msg("%s, %s, on %s: element %lld, 0x%08x (%.9g): got 0x%08x, want 0x%08x",
                         bf ? "bfloat16" : "float16", how[k], spec, (long long)i, (unsigned)clg_float_bits(x[i]),
                         (double)x[i], (unsigned)clg_float_bits(got[i]), (unsigned)want);
        }
    }
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
    free(got);
}

static void random_bits(const char *spec)
{
    enum { N = 100003 };
    float *x = malloc(N * sizeof *x);
    assert_non_null(x);
    for (int bf = 0; bf < 2; bf++) {
        rng_t r = {0x16b17u + (uint64_t)bf};
        for (int i = 0; i < N; i++) x[i] = random_value(&r, bf);
        narrowing_on(spec, x, N, bf);
    }
    free(x);
}

static void test_random_bits(void **state)
{
    (void)state;
    for_each_device(random_bits);
    /* core/half.h's two float16 widenings (the native GEMM's is the integer one) */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        const uint32_t a = clg_float_bits(clg_f16_to_float((uint16_t)h)), b = clg_float_bits(clg_f16_to_float_int((uint16_t)h));
        if (a != b) fail_msg("float16 0x%04x: clg_f16_to_float 0x%08x, clg_f16_to_float_int 0x%08x", (unsigned)h, (unsigned)a, (unsigned)b);
    }
}

/* core/half.c's many-value conversions against core/half.h's per-value
 * ones: widening every float16 (at lengths that leave each tail size of
 * the 8-wide steps), narrowing float32 patterns around every rounding
 * boundary of both types (each upper half with low bits at, below and
 * above the ties, and random ones). The many-value forms run again with
 * MXCSR's denormals-are-zero and flush-to-zero set, as a driver's thread
 * may have them, and must give the same bits (the per-value forms, by
 * float arithmetic, would not: they run with the flags clear). */
enum { LOWS = 12, NF = 0x10000 * LOWS - 3 /* a tail for the 8-wide steps */ };
typedef struct host16 {
    uint16_t h[0x10000], narrow[2][0x10000 * LOWS];
    float f[0x10000 * LOWS], wide[3][0x10000]; /* widened: many-value f16, integer f16, bf16 */
} host16;

/* Every float32 upper half with LOWS lower halves: at, below and above
 * the ties, and random ones (NF of them: the last ones left off). */
static void boundary_floats(float *f)
{
    /* float16 ties sit at bit 12 of a normal (higher for its subnormals, which
     * the upper halves cover through their own bits), bfloat16's at bit 15 */
    const uint16_t lows[LOWS - 2] = {0x0000, 0x0fff, 0x1000, 0x1001, 0x2fff, 0x3000, 0x7fff, 0x8000, 0x8001, 0xffff};
    uint64_t r = 0x9e3779b97f4a7c15u;
    for (uint32_t u = 0; u < 0x10000u; u++)
        for (int k = 0; k < LOWS; k++) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            const uint32_t low = k < LOWS - 2 ? lows[k] : (uint32_t)(r >> 48);
            if (u * LOWS + (unsigned)k < NF) f[u * LOWS + (unsigned)k] = clg_bits_float(u << 16 | low);
        }
}

/* The device's narrowing of the same patterns (narrowing_on) against
 * core/half.h: every rounding boundary of both types, where random_bits
 * samples them. */
static void every_boundary(const char *spec)
{
    float *x = malloc(NF * sizeof *x);
    assert_non_null(x);
    boundary_floats(x);
    for (int bf = 0; bf < 2; bf++) narrowing_on(spec, x, NF, bf);
    free(x);
}

static void test_every_boundary(void **state)
{
    (void)state;
    for_each_device(every_boundary);
}

/* What the many-value forms give; under the flags when daz (restored
 * before returning, so a failed check cannot leave them set). */
static void host16_run(host16 *t, bool daz)
{
#if defined(__x86_64__)
    const unsigned csr = _mm_getcsr();
    if (daz) _mm_setcsr(csr | 0x8040u);
#else
    (void)daz;
#endif
    memset(t->wide, 0xff, sizeof t->wide);
    memset(t->narrow, 0xff, sizeof t->narrow);
    clg_f16_widen(t->wide[0], t->h + 5, 0x10000u - 5);
    clg_f16_widen_int(t->wide[1], t->h + 5, 0x10000u - 5);
    clg_bf16_widen(t->wide[2], t->h, 0x10000u);
    clg_f16_narrow(t->narrow[0], t->f, NF);
    clg_bf16_narrow(t->narrow[1], t->f, NF);
#if defined(__x86_64__)
    _mm_setcsr(csr);
#endif
}

static void host16_check(const host16 *t, const char *mode)
{
    for (size_t i = 0; i < 0x10000u - 5; i++) {
        const uint32_t want = clg_float_bits(clg_f16_to_float(t->h[i + 5]));
        for (int form = 0; form < 2; form++)
            if (clg_float_bits(t->wide[form][i]) != want)
                fail_msg("%s float16 widening, %s: 0x%04x gave 0x%08x, want 0x%08x", form ? "integer" : "many-value",
                         mode, (unsigned)t->h[i + 5], (unsigned)clg_float_bits(t->wide[form][i]), (unsigned)want);
    }
    for (int form = 0; form < 2; form++) assert_int_equal(clg_float_bits(t->wide[form][0x10000u - 5]), 0xffffffffu);
    for (size_t i = 0; i < 0x10000u; i++) assert_int_equal(clg_float_bits(t->wide[2][i]), (uint32_t)t->h[i] << 16);
    for (int bf = 0; bf < 2; bf++) {
        for (size_t i = 0; i < NF; i++) {
            const uint16_t want = bf ? clg_float_to_bf16(t->f[i]) : clg_float_to_f16(t->f[i]);
            if (t->narrow[bf][i] != want)
                fail_msg("%s narrowing, %s: 0x%08x gave 0x%04x, want 0x%04x", bf ? "bfloat16" : "float16", mode,
                         (unsigned)clg_float_bits(t->f[i]), (unsigned)t->narrow[bf][i], (unsigned)want);
        }
        assert_int_equal(t->narrow[bf][NF], 0xffffu); /* wrote no further */
    }
}

static void test_host_16(void **state)
{
    (void)state;
    print_message("float16 conversion by %s\n", clg_f16_vector() ? "F16C" : "the per-value forms");
    static host16 t;
    for (uint32_t i = 0; i < 0x10000u; i++) t.h[i] = (uint16_t)(i * 40503u); /* a permutation of all values */
    boundary_floats(t.f);
    host16_run(&t, false);
    host16_check(&t, "DAZ/FTZ off");
#if defined(__x86_64__)
    host16_run(&t, true);
    host16_check(&t, "DAZ/FTZ on");
#endif
}

/* A 16-bit tensor reshaped (a view that keeps the dtype, since 0.3.7) and
 * read by a generated kernel (relu) and a product, against the same graph
 * widened to float32 before the reshape: the values are the same (widening
 * is exact), so relu's are equal bit for bit; the product and the
 * gradients, whose kernels may sum in another order, within 1e-5 of the
 * largest. x [5, 3, 7] as [5, 21], w [21, 6]. */
static void reshape16(const char *spec)
{
    enum { B = 5, F = 21, O = 6 };
    for (int bf = 0; bf < 2; bf++) {
        rng_t r = {0x5e5a9eu + (uint64_t)bf};
        float x[B * F], w[F * O];
        rng_fill(&r, x, B * F, 0.01, 3, false);
        rng_fill(&r, w, F * O, 0.01, 1, false);
        clg_context *ctx = open_ctx(spec);
        clg_graph *g = NULL;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t sx[3] = {B, 3, 7}, flat[2] = {B, F}, sw[2] = {F, O};
        const clg_elem t = bf ? CLG_ELEM_BF16 : CLG_ELEM_F16;
        clg_tensor xp[2], wp[2], y[2], z[2];
        clg_tensor loss = CLG_NO_TENSOR;
        for (int k = 0; k < 2; k++) {
            xp[k] = clg_param(g, 3, sx);
            wp[k] = clg_param(g, 2, sw);
            clg_tensor h = clg_cast(g, xp[k], t);
            if (k) h = clg_cast(g, h, CLG_ELEM_F32); /* the float32 path */
            clg_tensor v = clg_reshape(g, h, 2, flat);
            assert_true(v.id >= 0);
            y[k] = clg_relu(g, v);
            z[k] = clg_matmul(g, v, wp[k], 0, 0);
            CHECK_OK(ctx, clg_tensor_keep(g, y[k]));
            CHECK_OK(ctx, clg_tensor_keep(g, z[k]));
            clg_tensor l = clg_add(g, clg_sum(g, clg_cast(g, y[k], CLG_ELEM_F32)), clg_sum(g, z[k]));
            loss = k ? clg_add(g, loss, l) : l;
        }
        CHECK_OK(ctx, clg_backward(g, loss));
        for (int k = 0; k < 2; k++) {
            CHECK_OK(ctx, clg_tensor_set(g, xp[k], x, B * F));
            CHECK_OK(ctx, clg_tensor_set(g, wp[k], w, F * O));
        }
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        float a[B * F], b[B * F], za[B * O], zb[B * O], ga[F * O], gb[F * O];
        char what[96];
        CHECK_OK(ctx, clg_tensor_get(g, y[0], a, B * F));
        CHECK_OK(ctx, clg_tensor_get(g, y[1], b, B * F));
        for (int i = 0; i < B * F; i++)
            if (clg_float_bits(a[i]) != clg_float_bits(b[i]))
                fail_msg("relu of a reshaped %s on %s: element %d %.9g, float32 path %.9g", bf ? "bfloat16" : "float16",
                         spec, i, (double)a[i], (double)b[i]);
        snprintf(what, sizeof what, "product of a reshaped %s on %s", bf ? "bfloat16" : "float16", spec);
        CHECK_OK(ctx, clg_tensor_get(g, z[0], za, B * O));
        CHECK_OK(ctx, clg_tensor_get(g, z[1], zb, B * O));
        assert_close_scaled(za, zb, B * O, 1e-5, 1e-5, what);
        snprintf(what, sizeof what, "gradient of x through a reshaped %s on %s", bf ? "bfloat16" : "float16", spec);
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, xp[0]), a, B * F));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, xp[1]), b, B * F));
        assert_close_scaled(a, b, B * F, 1e-5, 1e-5, what);
        snprintf(what, sizeof what, "gradient of w beside a reshaped %s on %s", bf ? "bfloat16" : "float16", spec);
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, wp[0]), ga, F * O));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, wp[1]), gb, F * O));
        assert_close_scaled(ga, gb, F * O, 1e-5, 1e-5, what);
        clg_graph_destroy(g);
        clg_context_destroy(ctx);
    }
}

static void test_reshape16(void **state)
{
    (void)state;
    for_each_device(reshape16);
}

/* C = A16 B16 (A [m, k], B [k, n] rounded to the type, as PyTorch's
 * a.bfloat16().float() @ b.bfloat16().float()), and with upstream D:
 * dA = round(D B16^T), dB = round(A16^T D), each against this file's
 * double product: within 1e-5 of its sum of |terms| (float accumulation
 * over k), and for the gradients one spacing of the type besides (a
 * result next to a rounding boundary may round either way). */
static void products(const char *spec)
{
    enum { M = 37, K = 29, NN = 13 };
    for (int bf = 0; bf < 2; bf++) {
        rng_t r = {0xab16u + (uint64_t)bf};
        float a[M * K], b[K * NN], d[M * NN], c[M * NN], da[M * K], db[K * NN];
        rng_fill(&r, a, M * K, 0.01, 3, false);
        rng_fill(&r, b, K * NN, 0.01, 3, false);
        rng_fill(&r, d, M * NN, 0.01, 3, false);
        clg_context *ctx = open_ctx(spec);
        clg_graph *g = NULL;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const clg_elem t = bf ? CLG_ELEM_BF16 : CLG_ELEM_F16;
        clg_tensor pa = clg_param(g, 2, (const int64_t[]){M, K}), pb = clg_param(g, 2, (const int64_t[]){K, NN});
        clg_tensor up = clg_input(g, 2, (const int64_t[]){M, NN});
        clg_tensor y = clg_matmul(g, clg_cast(g, pa, t), clg_cast(g, pb, t), 0, 0);
        CHECK_OK(ctx, clg_tensor_keep(g, y));
        CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, up))));
        CHECK_OK(ctx, clg_tensor_set(g, pa, a, M * K));
        CHECK_OK(ctx, clg_tensor_set(g, pb, b, K * NN));
        CHECK_OK(ctx, clg_tensor_set(g, up, d, M * NN));
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        CHECK_OK(ctx, clg_tensor_get(g, y, c, M * NN));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, pa), da, M * K));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, pb), db, K * NN));
        const double spacing = bf ? 0x1p-7 : 0x1p-10;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < NN; j++) {
                double s = 0, abs_s = 0;
                for (int k = 0; k < K; k++) {
                    const double p = (double)round16(a[i * K + k], bf) * round16(b[k * NN + j], bf);
                    s += p;
                    abs_s += fabs(p);
                }
                if (!(fabs(c[i * NN + j] - s) <= 1e-5 * abs_s))
                    fail_msg("%s product on %s: C[%d,%d] = %.9g, want %.12g", bf ? "bf16" : "f16", spec, i, j,
                             (double)c[i * NN + j], s);
            }
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) {
                double s = 0, abs_s = 0;
                for (int j = 0; j < NN; j++) {
                    s += (double)d[i * NN + j] * round16(b[k * NN + j], bf);
                    abs_s += fabs((double)d[i * NN + j] * round16(b[k * NN + j], bf));
                }
                if (!(fabs(da[i * K + k] - s) <= 1e-5 * abs_s + spacing * fabs(s)) ||
                    round16(da[i * K + k], bf) != da[i * K + k])
                    fail_msg("%s product on %s: dA[%d,%d] = %.9g, want %.12g rounded to the type", bf ? "bf16" : "f16",
                             spec, i, k, (double)da[i * K + k], s);
            }
        for (int k = 0; k < K; k++)
            for (int j = 0; j < NN; j++) {
                double s = 0, abs_s = 0;
                for (int i = 0; i < M; i++) {
                    s += (double)round16(a[i * K + k], bf) * d[i * NN + j];
                    abs_s += fabs((double)round16(a[i * K + k], bf) * d[i * NN + j]);
                }
                if (!(fabs(db[k * NN + j] - s) <= 1e-5 * abs_s + spacing * fabs(s)) ||
                    round16(db[k * NN + j], bf) != db[k * NN + j])
                    fail_msg("%s product on %s: dB[%d,%d] = %.9g, want %.12g rounded to the type", bf ? "bf16" : "f16",
                             spec, k, j, (double)db[k * NN + j], s);
            }
        clg_graph_destroy(g);
        clg_context_destroy(ctx);
    }
}

static void test_products(void **state)
{
    (void)state;
    for_each_device(products);
}

/* A 16-bit input (clg_input_as) against a float32 input cast to the same
 * type, on one device: the same floats set into both give the same bits
 * stored (the host's rounding equals the kernel's), and the graphs on them
 * (a product, a fused elementwise chain, their gradients) agree bit for
 * bit; the 16-bit input's graph plans less memory (no float32 batch). */
enum { IM = 33, IK = 19, IN = 7 };
typedef struct input16_run {
    float x[IM * IK], y[IM * IN], e[IM * IK], dw[IK * IN];
    uint64_t bytes;
} input16_run;

static void input16_graph(const char *spec, bool bf, bool leaf, const float *x, const float *w, input16_run *out)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const clg_elem t = bf ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    const int64_t xs[2] = {IM, IK};
    clg_tensor xin = leaf ? clg_input_as(g, t, 2, xs) : clg_input(g, 2, xs);
    clg_tensor x16 = clg_cast(g, xin, t); /* xin itself for the 16-bit input */
    clg_tensor pw = clg_param(g, 2, (const int64_t[]){IK, IN});
    clg_tensor y = clg_matmul(g, x16, clg_cast(g, pw, t), 0, 0);
    clg_tensor e = clg_tanh(g, clg_mul(g, clg_relu(g, x16), x16)); /* stays 16-bit, one generated kernel */
    CHECK_OK(ctx, clg_tensor_keep(g, x16));
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_tensor_keep(g, e));
    CHECK_OK(ctx, clg_backward(g, clg_add(g, clg_sum(g, clg_cast(g, y, CLG_ELEM_F32)),
                                          clg_sum(g, clg_cast(g, e, CLG_ELEM_F32)))));
    CHECK_OK(ctx, clg_tensor_set(g, xin, x, IM * IK));
    CHECK_OK(ctx, clg_tensor_set(g, pw, w, IK * IN));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, x16, out->x, IM * IK));
    CHECK_OK(ctx, clg_tensor_get(g, y, out->y, IM * IN));
    CHECK_OK(ctx, clg_tensor_get(g, e, out->e, IM * IK));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, pw), out->dw, IK * IN));
    clg_memory mem;
    CHECK_OK(ctx, clg_graph_memory(g, &mem));
    out->bytes = mem.total;
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

static void inputs16(const char *spec)
{
    for (int bf = 0; bf < 2; bf++) {
        rng_t r = {0x1b16u + (uint64_t)bf};
        float x[IM * IK], w[IK * IN];
        rng_fill(&r, x, IM * IK, 0.001, 3, false);
        rng_fill(&r, w, IK * IN, 0.01, 1, false);
        x[0] = 1e-6f;     /* an fp16 subnormal */
        x[1] = 70000.0f;  /* fp16 overflows to infinity; bf16 rounds */
        x[2] = -x[2];     /* both signs */
        static input16_run run[2];
        for (int leaf = 0; leaf < 2; leaf++) input16_graph(spec, bf, leaf, x, w, &run[leaf]);
        for (int i = 0; i < IM * IK; i++) {
            assert_int_equal(clg_float_bits(run[1].x[i]), clg_float_bits(round16(x[i], bf)));
            assert_int_equal(clg_float_bits(run[1].x[i]), clg_float_bits(run[0].x[i]));
            assert_int_equal(clg_float_bits(run[1].e[i]), clg_float_bits(run[0].e[i]));
        }
        if (!bf) { /* the infinity makes a row of y non-finite: compare the bits all the same */
            assert_true(isinf(run[1].x[1]));
        }
        for (int i = 0; i < IM * IN; i++) assert_int_equal(clg_float_bits(run[1].y[i]), clg_float_bits(run[0].y[i]));
        for (int i = 0; i < IK * IN; i++) assert_int_equal(clg_float_bits(run[1].dw[i]), clg_float_bits(run[0].dw[i]));
        if (run[1].bytes >= run[0].bytes)
            fail_msg("%s %s: a 16-bit input plans %llu bytes, a float32 input cast %llu", spec, bf ? "bf16" : "fp16",
                     (unsigned long long)run[1].bytes, (unsigned long long)run[0].bytes);
    }
}

static void test_inputs16(void **state)
{
    (void)state;
    for_each_device(inputs16);
}

/* A chain of convolutions on 16-bit activations, h' = round16(conv(h, w16)),
 * against the same chain in float32 fed the same rounded values (inputs,
 * weights, every h' rounded through the type and widened by casts): the
 * outputs and every weight gradient agree bit for bit, so the weight
 * gradient reading x widened again in backward (core/conv.c weight_grad)
 * reads what the forward conv read. And memory, on the direct kernels,
 * through im2col and Winograd: each layer keeps its 16-bit input for
 * backward (2 bytes an element), not also a float32 copy (4 more) nor
 * im2col's columns (36 more) or Winograd's transformed input (about 16),
 * which the weight gradient makes again, so the planned activations and
 * workspaces grow by at most 3/4 of the float32 chain's a layer (measured
 * on PoCL: about half; the float32 chain's as much, and several times
 * more through im2col and Winograd, with what was kept before). */
enum { CN = 4, CC = 8, CH = 16, CW = 15, CE = CN * CC * CH * CW, CL = 4 };
typedef struct conv16_run {
    float y[CE], dw[CL][CC * CC * 9];
    uint64_t activations;
} conv16_run;

static void conv16_chain(const char *spec, const char *const *settings, int bf, bool f32, int layers,
                         const float *x, const float *w, const float *up, conv16_run *out)
{
    clg_context *ctx = NULL;
    clg_status st = clg_context_create_with(spec, settings, &ctx);
    if (st != CLG_OK)
        fail_msg("clg_context_create_with(%s, %s): %s: %s", spec, settings[0] ? settings[0] : "no settings",
                 clg_status_string(st), clg_context_errmsg(ctx));
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const clg_elem t = bf ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    const int64_t xs[4] = {CN, CC, CH, CW}, ws[4] = {CC, CC, 3, 3};
    clg_tensor in = f32 ? clg_input(g, 4, xs) : clg_input_as(g, t, 4, xs), h = in, pw[CL];
    for (int l = 0; l < layers; l++) {
        pw[l] = clg_param(g, 4, ws);
        clg_tensor wl = clg_cast(g, pw[l], t);
        if (f32) wl = clg_cast(g, wl, CLG_ELEM_F32);
        h = clg_cast(g, clg_conv2d(g, h, wl, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1), t);
        if (f32) h = clg_cast(g, h, CLG_ELEM_F32);
    }
    clg_tensor y = clg_cast(g, h, CLG_ELEM_F32), pu = clg_input(g, 4, xs);
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, pu))));
    float rx[CE];
    for (int i = 0; i < CE; i++) rx[i] = f32 ? round16(x[i], bf) : x[i];
    CHECK_OK(ctx, clg_tensor_set(g, in, rx, CE));
    CHECK_OK(ctx, clg_tensor_set(g, pu, up, CE));
    for (int l = 0; l < layers; l++) CHECK_OK(ctx, clg_tensor_set(g, pw[l], w + l * CC * CC * 9, CC * CC * 9));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, y, out->y, CE));
    for (int l = 0; l < layers; l++) CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, pw[l]), out->dw[l], CC * CC * 9));
    clg_memory mem;
    CHECK_OK(ctx, clg_graph_memory(g, &mem));
    out->activations = mem.activations + mem.workspaces;
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

static void conv16_same(const conv16_run *run, const char *what)
{
    for (int i = 0; i < CE; i++)
        if (clg_float_bits(run[0].y[i]) != clg_float_bits(run[1].y[i]))
            fail_msg("%s: y[%d] %.9g, in float32 %.9g", what, i, (double)run[0].y[i], (double)run[1].y[i]);
    for (int l = 0; l < CL; l++)
        for (int i = 0; i < CC * CC * 9; i++)
            if (clg_float_bits(run[0].dw[l][i]) != clg_float_bits(run[1].dw[l][i]))
                fail_msg("%s: layer %d dw[%d] %.9g, in float32 %.9g", what, l, i, (double)run[0].dw[l][i],
                         (double)run[1].dw[l][i]);
}

static void conv16(const char *spec)
{
    static float x[CE], w[CL * CC * CC * 9], up[CE];
    static conv16_run run[2], two;
    const char *const plain[] = {NULL};
    const char *const direct[] = {"conv", "direct", NULL}, *const im2col[] = {"conv", "im2col", NULL};
    const char *const winograd[] = {"conv", "winograd", NULL};
    const char *const *const paths[3] = {direct, im2col, winograd};
    for (int bf = 0; bf < 2; bf++) {
        rng_t r = {0xc016u + (uint64_t)bf};
        rng_fill(&r, x, CE, 0.01, 2, false);
        rng_fill(&r, w, CL * CC * CC * 9, 0.01, 0.3, false);
        rng_fill(&r, up, CE, 0.01, 1, false);
        char what[96];
        snprintf(what, sizeof what, "%s convs on %s", bf ? "bf16" : "fp16", spec);
        for (int f32 = 0; f32 < 2; f32++) conv16_chain(spec, plain, bf, f32, CL, x, w, up, &run[f32]);
        conv16_same(run, what);
        /* planned bytes a layer, (4 layers - 2 layers) / 2, 16-bit and
         * float32, on each path; their values as above */
        for (int p = 0; p < 3; p++) {
            double per_layer[2];
            for (int f32 = 0; f32 < 2; f32++) {
                conv16_chain(spec, paths[p], bf, f32, 2, x, w, up, &two);
                conv16_chain(spec, paths[p], bf, f32, CL, x, w, up, &run[f32]);
                per_layer[f32] = ((double)run[f32].activations - (double)two.activations) / (CL - 2);
            }
            conv16_same(run, what);
            print_message("%s, %s: planned activations and workspaces %.0f bytes a layer, in float32 %.0f (%d "
                          "elements a layer)\n",
                          what, paths[p][1], per_layer[0], per_layer[1], CE);
            /* the reference backend (no paths) plans slots of whole sizes (no
             * views), where a kept 16-bit tensor may take a float32 one's
             * slot: there no more than float32 (a copy kept would be more) */
            const double bound = strcmp(spec, "reference") ? 0.75 : 1.0;
            if (!(per_layer[0] <= bound * per_layer[1]))
                fail_msg("%s, %s: %.0f bytes of activations and workspaces a layer, in float32 %.0f: a float32 "
                         "copy of each input kept for backward?",
                         what, paths[p][1], per_layer[0], per_layer[1]);
        }
    }
}

static void test_conv16(void **state)
{
    (void)state;
    for_each_device(conv16);
}

static void test_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 5;
    clg_tensor x = clg_input(g, 1, &n);
    clg_tensor h = clg_cast(g, x, CLG_ELEM_BF16);
    assert_true(h.id >= 0);
    assert_true(clg_relu(g, h).id >= 0); /* elementwise ops take 16-bit tensors */
    clg_tensor bad = clg_sum(g, h);      /* the others refuse them */
    assert_true(bad.id < 0);
    ASSERT_MSG_HAS(ctx, "bfloat16");
    ASSERT_MSG_HAS(ctx, "clg_cast it to float32");
    clg_graph_clear_status(g);
    bad = clg_cast(g, x, CLG_ELEM_I32);
    assert_true(bad.id < 0);
    ASSERT_MSG_HAS(ctx, "clg_cast: type");
    ASSERT_MSG_HAS(ctx, "i32");
    clg_graph_clear_status(g);
    /* a 16-bit input: only the float types, and no gradient */
    const int32_t next = clg_graph_tensor_count(g);
    assert_true(clg_input_as(g, CLG_ELEM_U8, 1, &n).id < 0);
    ASSERT_MSG_HAS(ctx, "clg_input_as: type");
    ASSERT_MSG_HAS(ctx, "u8");
    clg_graph_clear_status(g);
    assert_int_equal(clg_graph_tensor_count(g), next);
    clg_tensor x16 = clg_input_as(g, CLG_ELEM_F16, 1, &n);
    assert_true(x16.id >= 0);
    assert_int_equal(clg_tensor_requires_grad(g, x16), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "float16 input");
    assert_true(clg_input_as(g, CLG_ELEM_F32, 1, &n).id >= 0); /* clg_input */
    assert_int_equal(clg_tensor_fill(g, h, 1.0f), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "bfloat16");
    /* a refused product records nothing: the next tensor takes the next id */
    clg_tensor w = clg_input(g, 2, (const int64_t[]){5, 3});
    clg_tensor bad_mm = clg_matmul(g, clg_transpose(g, clg_reshape(g, h, 2, (const int64_t[]){5, 1}), 0, 1), w, 0, 0);
    assert_true(bad_mm.id < 0); /* transpose does not take 16-bit tensors (reshape does, since 0.3.7) */
    ASSERT_MSG_HAS(ctx, "bfloat16");
    clg_graph_clear_status(g);
    clg_tensor before = clg_scalar(g, 1.0f);
    bad_mm = clg_matmul(g, clg_cast(g, w, CLG_ELEM_F16), w, 0, 0); /* [5,3] x [5,3]: shapes do not fit */
    assert_true(bad_mm.id < 0);
    ASSERT_MSG_HAS(ctx, "inner dimensions");
    clg_graph_clear_status(g);
    clg_tensor after = clg_scalar(g, 1.0f);
    assert_int_equal(after.id, before.id + 2); /* the cast of w, then nothing of the refused product */
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/* relu(bf16(batch_norm(x))) trained, evaluated and trained again: on
 * OpenCL the 16-bit ReLU and its gradient run only in generated kernels,
 * so they must not sit in a group built on batch norm's mode (whose
 * members run one by one when the mode changes). Each run succeeds, and
 * the values follow the reference's within a bfloat16 spacing (batch norm's
 * float32 results differ by ulps, which may round either way). */
static void modes_on(const char *spec, float *out, size_t *nout)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t xs[4] = {4, 3, 5, 5}, c = 3;
    clg_tensor x = clg_input(g, 4, xs), gamma = clg_param(g, 1, &c), beta = clg_param(g, 1, &c);
    clg_tensor y = clg_relu(g, clg_cast(g, clg_batch_norm(g, x, gamma, beta, 0.1f, 1e-5f), CLG_ELEM_BF16));
    clg_tensor loss = clg_sum(g, clg_cast(g, clg_mul(g, y, clg_cast(g, x, CLG_ELEM_BF16)), CLG_ELEM_F32));
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_backward(g, loss));
    CHECK_OK(ctx, clg_sgd(g, 0.01f));
    float v[300];
    rng_t r = {77};
    rng_fill(&r, v, 300, 0.1, 2.0, false);
    CHECK_OK(ctx, clg_tensor_set(g, x, v, 300));
    rng_fill(&r, v, 6, 0.5, 1.5, true);
    CHECK_OK(ctx, clg_tensor_set(g, gamma, v, 3));
    CHECK_OK(ctx, clg_tensor_set(g, beta, v + 3, 3));
    size_t k = 0;
    for (int step = 0; step < 3; step++) {
        CHECK_OK(ctx, clg_graph_set_training(g, step != 1));
        CHECK_OK(ctx, clg_graph_run(g, step == 1 ? CLG_RUN_FORWARD : CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(g, y, out + k, 300));
        k += 300;
    }
    CHECK_OK(ctx, clg_tensor_get(g, gamma, out + k, 3));
    k += 3;
    *nout = k;
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

static void test_batch_norm_modes(void **state)
{
    (void)state;
    float want[903 + 3], got[903 + 3];
    size_t nw = 0, ng = 0;
    modes_on("reference", want, &nw);
    char specs[8][32];
    const int n = test_opencl_devices(specs, 8);
    for (int d = 0; d < n; d++) {
        modes_on(specs[d], got, &ng);
        assert_int_equal(ng, nw);
        assert_close_scaled(got, want, ng, 0x1p-7, 0x1p-8, specs[d]);
    }
}

/* A named 16-bit tensor goes into a checkpoint as F16 / BF16 (an odd
 * count: the last word half used), its bits as the device stored them,
 * and loads back into another graph */
static void test_checkpoint(void **state)
{
    (void)state;
    char path[] = "/tmp/clgrad-cast-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const int64_t n = NROWS;
    float x[NROWS], got[NROWS];
    for (size_t i = 0; i < NROWS; i++) x[i] = clg_bits_float(torch_rows[i].f32);
    clg_graph *g[2] = {NULL, NULL};
    clg_tensor h[2], b[2], xi[2];
    clg_context *ctx = open_ctx("reference");
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, clg_graph_create(ctx, &g[k]));
        xi[k] = clg_input(g[k], 1, &n);
        h[k] = clg_cast(g[k], xi[k], CLG_ELEM_F16);
        b[k] = clg_cast(g[k], xi[k], CLG_ELEM_BF16);
        CHECK_OK(ctx, clg_tensor_set_name(g[k], h[k], "h"));
        CHECK_OK(ctx, clg_tensor_set_name(g[k], b[k], "b"));
    }
    CHECK_OK(ctx, clg_tensor_set(g[0], xi[0], x, NROWS));
    CHECK_OK(ctx, clg_graph_run(g[0], CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_checkpoint_save(g[0], path, NULL, NULL, 0));
    clg_safetensors *st = NULL;
    char err[256];
    assert_int_equal(clg_safetensors_read(path, &st, err, sizeof err), CLG_OK);
    const clg_array *ah = clg_safetensors_find(st, "h"), *ab = clg_safetensors_find(st, "b");
    assert_non_null(ah);
    assert_non_null(ab);
    assert_int_equal(ah->type, CLG_ELEM_F16);
    assert_int_equal(ab->type, CLG_ELEM_BF16);
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(((const uint16_t *)ah->data)[i], torch_rows[i].f16);
        const uint16_t bb = ((const uint16_t *)ab->data)[i];
        assert_true(bb == torch_rows[i].bf16 || (isnan(clg_bf16_to_float(bb)) && torch_rows[i].bf16 == 0xffff));
    }
    clg_safetensors_destroy(st);
    CHECK_OK(ctx, clg_checkpoint_load(g[1], path, NULL));
    CHECK_OK(ctx, clg_tensor_get(g[1], h[1], got, NROWS));
    uint32_t want[NROWS];
    for (size_t i = 0; i < NROWS; i++) want[i] = torch_rows[i].f16_f32;
    assert_bits(got, want, NROWS, false, "float16 through a checkpoint", "reference");
    unlink(path);
    clg_graph_destroy(g[0]);
    clg_graph_destroy(g[1]);
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pytorch_bits),
        cmocka_unit_test(test_random_bits),
        cmocka_unit_test(test_host_16),
        cmocka_unit_test(test_every_boundary),
        cmocka_unit_test(test_products),
        cmocka_unit_test(test_inputs16),
        cmocka_unit_test(test_conv16),
        cmocka_unit_test(test_reshape16),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_batch_norm_modes),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
