/*
 * matmul and linear: forward and backward on every OpenCL device against
 * the reference, the reference's gradients against finite differences,
 * and shapes that do not fit.
 *
 * Device tolerance. CLBlast (or the host's BLAS, which CPU devices take by
 * default: host/gemm_native.c; the file runs again with CLGRAD_GEMM=clblast)
 * accumulates each output's K products in float, in an order of its choosing; whatever the order (FMA or not), the
 * result differs from the exact sum by at most about K u S_ij, where
 * u = 2^-24 and S_ij = sum_k |a_ik b_kj| (Higham, Accuracy and Stability
 * of Numerical Algorithms, 3.1). The reference accumulates in double and
 * rounds once: within u |c_ij| <= u S_ij of the exact sum. So each
 * element is checked against
 *     |device - reference| <= (K + 4) u S_ij,
 * K the longest accumulation of any GEMM in the case (forward k, the
 * gradients' n and m, times the batch where a gradient sums over it), the
 * 4 covering the reference's rounding, a bias add and its reduction's
 * last step. S_ij is known exactly: it is what the same graph gives on
 * the reference with every input and loss weight replaced by its
 * absolute value (all ops here are sums of products). This stays per
 * element and never leans on max |c|, which cancellation makes small
 * against S for random signs. gc_check_devices takes only tolerances
 * relative to |ref| and max |ref|, so the device checks here use their
 * own loop (and one context per device for the whole file: CLBlast
 * compiles its kernels once per context).
 *
 * Finite differences (gc_check_fd) keep gc_default_tol: every loss here
 * is linear in each single input element (quadratic where an input is
 * used twice), so central differences are exact up to double rounding,
 * and the float reference rounds a double-accumulated result once.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "gradcheck.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEV 8

static clg_context *ref_ctx, *dev_ctx[MAX_DEV];
static char dev_spec[MAX_DEV][32];
static int ndev = -1;

static void open_contexts(void)
{
    if (ndev >= 0) return;
    ndev = test_opencl_devices(dev_spec, MAX_DEV);
    ref_ctx = open_ctx("reference");
    for (int d = 0; d < ndev; d++) dev_ctx[d] = open_ctx(dev_spec[d]);
}

static int close_contexts(void **state)
{
    for (int d = 0; d < ndev; d++) clg_context_destroy(dev_ctx[d]);
    clg_context_destroy(ref_ctx);
    return 0;
}

/* ---- cases ---------------------------------------------------------------- */

typedef enum { MATMUL, LINEAR, LINEAR_NO_BIAS, GRAM } mm_kind;

typedef struct mm_case {
    const char *name;
    mm_kind kind;
    int ta, tb;
    gc_input in[3];
    int nin;
    int64_t terms; /* K of the tolerance */
} mm_case;

static clg_tensor build(clg_graph *g, const clg_tensor *in, void *arg)
{
    const mm_case *c = arg;
    switch (c->kind) {
    case MATMUL: return clg_matmul(g, in[0], in[1], c->ta, c->tb);
    case LINEAR: return clg_linear(g, in[0], in[1], in[2]);
    case LINEAR_NO_BIAS: return clg_linear(g, in[0], in[1], CLG_NO_TENSOR);
    case GRAM: return clg_matmul(g, in[0], in[0], 0, 1);
    }
    return CLG_NO_TENSOR;
}

static gc_input operand(int ndim, const int64_t *shape)
{
    gc_input in = {.ndim = ndim, .param = true, .lo = 0.1, .hi = 1.0};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    return in;
}

static int64_t max3(int64_t a, int64_t b, int64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* op(a) op(b) for shapes given before transposing ({} ends a shape). */
static mm_case matmul_case(const char *name, int na, const int64_t *sa, int nb, const int64_t *sb, int ta, int tb)
{
    mm_case c = {.name = name, .kind = MATMUL, .ta = ta, .tb = tb, .nin = 2};
    c.in[0] = operand(na, sa);
    c.in[1] = operand(nb, sb);
    int64_t m = sa[na - (ta ? 1 : 2)], k = sa[na - (ta ? 2 : 1)], n = sb[nb - (tb ? 2 : 1)];
    /* a 2-D operand shared by a batch gets a gradient summed over it */
    int64_t summed = na == 3 && nb == 2 ? sa[0] : na == 2 && nb == 3 ? sb[0] : 1;
    c.terms = max3(m, n, k) * summed;
    return c;
}

static mm_case linear_case(const char *name, int nx, const int64_t *sx, int64_t out, bool bias)
{
    mm_case c = {.name = name, .kind = bias ? LINEAR : LINEAR_NO_BIAS, .nin = bias ? 3 : 2};
    int64_t in = sx[nx - 1], rows = numel_of(nx, sx) / in, sw[2] = {out, in};
    c.in[0] = operand(nx, sx);
    c.in[1] = operand(2, sw);
    if (bias) c.in[2] = operand(1, &out);
    c.terms = max3(rows, in, out);
    return c;
}

#define S(...) ((const int64_t[]){__VA_ARGS__})

/* ---- device vs reference, per element ----------------------------------- */

typedef struct result {
    float *y;
    int64_t ny;
    float *grad[3];
} result;

static void free_result(result *r)
{
    free(r->y);
    for (int i = 0; i < 3; i++) free(r->grad[i]);
}

/* L = sum(f(inputs) * w) on ctx: the output and every input's gradient. */
static result evaluate(clg_context *ctx, const mm_case *c, float *const *values, const float *w, int64_t nw)
{
    result r = {0};
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor t[3];
    for (int i = 0; i < c->nin; i++) t[i] = clg_param(g, c->in[i].ndim, c->in[i].shape);
    clg_tensor y = build(g, t, (void *)c);
    CHECK_OK(ctx, clg_graph_status(g));
    int64_t shape[4];
    int nd = clg_tensor_ndim(g, y);
    for (int d = 0; d < nd; d++) shape[d] = clg_tensor_dim(g, y, d);
    r.ny = clg_tensor_numel(g, y);
    assert_int_equal(r.ny, nw);
    clg_tensor tw = clg_input(g, nd, shape);
    clg_tensor_keep(g, y); /* read after the run */
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, tw))));
    for (int i = 0; i < c->nin; i++)
        CHECK_OK(ctx, clg_tensor_set(g, t[i], values[i], (size_t)numel_of(c->in[i].ndim, c->in[i].shape)));
    CHECK_OK(ctx, clg_tensor_set(g, tw, w, (size_t)nw));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    r.y = malloc((size_t)r.ny * sizeof(float));
    assert_non_null(r.y);
    CHECK_OK(ctx, clg_tensor_get(g, y, r.y, (size_t)r.ny));
    for (int i = 0; i < c->nin; i++) {
        size_t n = (size_t)numel_of(c->in[i].ndim, c->in[i].shape);
        r.grad[i] = malloc(n * sizeof(float));
        assert_non_null(r.grad[i]);
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, t[i]), r.grad[i], n));
    }
    clg_graph_destroy(g);
    return r;
}

static int64_t output_numel(const mm_case *c)
{
    clg_graph *g;
    CHECK_OK(ref_ctx, clg_graph_create(ref_ctx, &g));
    clg_tensor t[3];
    for (int i = 0; i < c->nin; i++) t[i] = clg_input(g, c->in[i].ndim, c->in[i].shape);
    clg_tensor y = build(g, t, (void *)c);
    CHECK_OK(ref_ctx, clg_graph_status(g));
    int64_t n = clg_tensor_numel(g, y);
    clg_graph_destroy(g);
    return n;
}

static void compare(const char *what, const float *got, const float *want, const float *s, int64_t n, int64_t terms)
{
    const double u = FLT_EPSILON / 2;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]), bound = (double)(terms + 4) * u * s[i];
        if (!(diff <= bound))
            fail_msg("%s: element %lld of %lld: %.9g, reference %.9g, |diff| %.3g > %.3g = (K %lld + 4) u S "
                     "(S %.6g)",
                     what, (long long)i, (long long)n, got[i], want[i], diff, bound, (long long)terms, s[i]);
    }
}

static void check_devices(const mm_case *c, uint64_t seed)
{
    open_contexts();
    float *values[3], *abs_values[3];
    gc_make_inputs(c->in, c->nin, seed, values);
    int64_t nw = output_numel(c);
    float *w = malloc((size_t)nw * sizeof(float)), *abs_w = malloc((size_t)nw * sizeof(float));
    assert_non_null(w);
    assert_non_null(abs_w);
    rng_t r = {seed ^ 0x77ull};
    rng_fill(&r, w, (size_t)nw, 0.5, 1.5, false);
    for (int64_t j = 0; j < nw; j++) abs_w[j] = fabsf(w[j]);
    for (int i = 0; i < c->nin; i++) {
        size_t n = (size_t)numel_of(c->in[i].ndim, c->in[i].shape);
        abs_values[i] = malloc(n * sizeof(float));
        assert_non_null(abs_values[i]);
        for (size_t j = 0; j < n; j++) abs_values[i][j] = fabsf(values[i][j]);
    }
    result ref = evaluate(ref_ctx, c, values, w, nw), s = evaluate(ref_ctx, c, abs_values, abs_w, nw);
    char what[256];
    for (int d = 0; d < ndev; d++) {
        result dev = evaluate(dev_ctx[d], c, values, w, nw);
        snprintf(what, sizeof what, "%s forward on %s (seed %llu)", c->name, dev_spec[d], (unsigned long long)seed);
        compare(what, dev.y, ref.y, s.y, nw, c->terms);
        for (int i = 0; i < c->nin; i++) {
            snprintf(what, sizeof what, "%s gradient of input %d on %s (seed %llu)", c->name, i, dev_spec[d],
                     (unsigned long long)seed);
            compare(what, dev.grad[i], ref.grad[i], s.grad[i], numel_of(c->in[i].ndim, c->in[i].shape), c->terms);
        }
        free_result(&dev);
    }
    free_result(&ref);
    free_result(&s);
    for (int i = 0; i < c->nin; i++) {
        free(values[i]);
        free(abs_values[i]);
    }
    free(w);
    free(abs_w);
}

/* Both checks; finite differences only where the case is small. */
static void check(const mm_case *c, uint64_t seed, bool fd)
{
    if (fd) gc_check_fd(c->name, build, (void *)c, c->in, c->nin, &gc_default_tol, seed);
    check_devices(c, seed + 1);
}

/* ---- tests --------------------------------------------------------------- */

static void test_2d(void **state)
{
    mm_case c = matmul_case("1x1 * 1x1", 2, S(1, 1), 2, S(1, 1), 0, 0);
    check(&c, 100, true);
    c = matmul_case("3x5 * 5x2", 2, S(3, 5), 2, S(5, 2), 0, 0);
    check(&c, 110, true);
    c = matmul_case("17x33 * 33x65", 2, S(17, 33), 2, S(33, 65), 0, 0);
    check(&c, 120, true);
}

static void test_2d_transposed(void **state)
{
    mm_case c = matmul_case("(5x3)^T * 5x2", 2, S(5, 3), 2, S(5, 2), 1, 0);
    check(&c, 200, true);
    c = matmul_case("3x5 * (2x5)^T", 2, S(3, 5), 2, S(2, 5), 0, 1);
    check(&c, 210, true);
    c = matmul_case("(5x3)^T * (2x5)^T", 2, S(5, 3), 2, S(2, 5), 1, 1);
    check(&c, 220, true);
    c = matmul_case("(33x17)^T * (65x33)^T", 2, S(33, 17), 2, S(65, 33), 1, 1);
    check(&c, 230, false);
}

static void test_batched(void **state)
{
    static const char *names[4] = {"4x7x9 * 4x9x5", "(4x9x7)^T * 4x9x5", "4x7x9 * (4x5x9)^T",
                                   "(4x9x7)^T * (4x5x9)^T"};
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        mm_case c = matmul_case(names[t], 3, ta ? S(4, 9, 7) : S(4, 7, 9), 3, tb ? S(4, 5, 9) : S(4, 9, 5), ta, tb);
        check(&c, 300 + (uint64_t)t * 10, true);
    }
    mm_case c = matmul_case("1x3x5 * 1x5x2", 3, S(1, 3, 5), 3, S(1, 5, 2), 0, 0);
    check(&c, 340, true);
    c = matmul_case("(1x5x3)^T * (1x2x5)^T", 3, S(1, 5, 3), 3, S(1, 2, 5), 1, 1);
    check(&c, 350, true);
}

/* 3-D a with a shared 2-D b: the weight's gradient sums over the batch
 * (one GEMM over the flattened rows when a is not transposed, a GEMM per
 * item accumulating otherwise). */
static void test_batch_by_matrix(void **state)
{
    static const char *names[4] = {"4x7x9 * 9x5", "(4x9x7)^T * 9x5", "4x7x9 * (5x9)^T", "(4x9x7)^T * (5x9)^T"};
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        mm_case c = matmul_case(names[t], 3, ta ? S(4, 9, 7) : S(4, 7, 9), 2, tb ? S(5, 9) : S(9, 5), ta, tb);
        check(&c, 400 + (uint64_t)t * 10, true);
    }
    mm_case c = matmul_case("1x3x5 * 5x2", 3, S(1, 3, 5), 2, S(5, 2), 0, 0);
    check(&c, 440, true);
}

/* 2-D a shared by a 3-D b. */
static void test_matrix_by_batch(void **state)
{
    static const char *names[4] = {"7x9 * 4x9x5", "(9x7)^T * 4x9x5", "7x9 * (4x5x9)^T", "(9x7)^T * (4x5x9)^T"};
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        mm_case c = matmul_case(names[t], 2, ta ? S(9, 7) : S(7, 9), 3, tb ? S(4, 5, 9) : S(4, 9, 5), ta, tb);
        check(&c, 500 + (uint64_t)t * 10, true);
    }
}

/* x x^T: both gradient contributions land on the same tensor. */
static void test_same_operand(void **state)
{
    mm_case c = {.name = "x * x^T", .kind = GRAM, .nin = 1, .terms = 6};
    c.in[0] = operand(2, S(4, 6));
    check(&c, 600, true);
}

static void test_linear(void **state)
{
    mm_case c = linear_case("linear 2-D with bias", 2, S(5, 7), 3, true);
    check(&c, 700, true);
    c = linear_case("linear 2-D without bias", 2, S(5, 7), 3, false);
    check(&c, 710, true);
    c = linear_case("linear 3-D with bias", 3, S(3, 4, 7), 5, true);
    check(&c, 720, true);
    c = linear_case("linear 3-D without bias", 3, S(3, 4, 7), 5, false);
    check(&c, 730, true);
    c = linear_case("linear 1x1", 2, S(1, 1), 1, true);
    check(&c, 740, true);
}

static void test_large(void **state)
{
    mm_case c = matmul_case("256x784 * 784x256", 2, S(256, 784), 2, S(784, 256), 0, 0);
    check(&c, 800, false);
    c = linear_case("linear 8x33x130 -> 65", 3, S(8, 33, 130), 65, true);
    check(&c, 810, false);
}

/* ---- bad input ------------------------------------------------------------ */

/* matmul(a, b) with these shapes must fail with a message naming all of it. */
static void refuse(int na, const int64_t *sa, int nb, const int64_t *sb, int ta, int tb, const char *const *needles)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor a = clg_param(g, na, sa), b = clg_input(g, nb, sb);
    CHECK_OK(ctx, clg_graph_status(g));
    clg_tensor c = clg_matmul(g, a, b, ta, tb);
    assert_true(c.id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    assert_int_equal(clg_context_status(ctx), CLG_ERR_SHAPE);
    char t[64];
    ASSERT_MSG_HAS(ctx, "matmul");
    snprintf(t, sizeof t, "transpose_a %d, transpose_b %d", ta, tb);
    ASSERT_MSG_HAS(ctx, t);
    for (int i = 0; needles[i]; i++) ASSERT_MSG_HAS(ctx, needles[i]);
    /* a later op on the failed tensor fails too and keeps the message */
    assert_true(clg_matmul(g, c, b, 0, 0).id < 0);
    ASSERT_MSG_HAS(ctx, needles[0]);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD)); /* the refused op changed nothing */
    clg_context_destroy(ctx);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_bad_shapes(void **state)
{
    refuse(2, S(3, 5), 2, S(4, 2), 0, 0, NEEDLES("[3,5]", "[4,2]", "inner", "5 and 4"));
    refuse(2, S(3, 5), 2, S(5, 2), 1, 0, NEEDLES("[3,5]", "[5,2]", "inner", "3 and 5"));
    refuse(2, S(3, 5), 2, S(5, 2), 0, 1, NEEDLES("[3,5]", "[5,2]", "inner", "5 and 2"));
    refuse(3, S(2, 3, 5), 3, S(3, 5, 4), 0, 0, NEEDLES("[2,3,5]", "[3,5,4]", "batch", "2 and 3"));
    refuse(1, S(5), 2, S(5, 2), 0, 0, NEEDLES("[5]", "[5,2]", "2-D or 3-D"));
    refuse(2, S(3, 5), 4, S(1, 2, 5, 2), 0, 0, NEEDLES("[3,5]", "[1,2,5,2]", "2-D or 3-D"));
}

static void test_bad_linear(void **state)
{
    struct {
        int nx;
        const int64_t *sx, *sw, *sb;
        const char *const *needles;
    } cases[] = {
        {2, S(3, 4), S(5, 3), S(5), NEEDLES("[3,4]", "[5,3]", "last dimension")},
        {2, S(3, 4), S(5, 4), S(4), NEEDLES("[3,4]", "[5,4]", "bias [4]", "[out]")},
        {1, S(4), S(5, 4), NULL, NEEDLES("[4]", "[5,4]", "bias none", "2-D or 3-D")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor x = clg_input(g, cases[i].nx, cases[i].sx), w = clg_param(g, 2, cases[i].sw);
        clg_tensor b = cases[i].sb ? clg_param(g, 1, cases[i].sb) : CLG_NO_TENSOR;
        CHECK_OK(ctx, clg_graph_status(g));
        assert_true(clg_linear(g, x, w, b).id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
        ASSERT_MSG_HAS(ctx, "linear");
        for (int k = 0; cases[i].needles[k]; k++) ASSERT_MSG_HAS(ctx, cases[i].needles[k]);
        clg_context_destroy(ctx);
    }
}

/* CLGRAD_GEMM and CLGRAD_CONV choose the paths, clg_context_gemm says
 * which, and what cannot be done is refused; PoCL's CPU devices take the
 * host's BLAS and oneDNN by default in a build that has them (so the rest
 * of this file, and test_conv, test those paths there). */
static void test_gemm_paths(void **state)
{
    char specs[MAX_DEV][32];
    int n = test_opencl_devices(specs, MAX_DEV);
    const char *was = getenv("CLGRAD_GEMM");
    char saved[32] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    for (int d = 0; d < n; d++) {
        unsetenv("CLGRAD_GEMM");
        clg_context *ctx = open_ctx(specs[d]);
        const bool pocl_cpu = strstr(clg_context_device(ctx), "Portable Computing Language") &&
                              strstr(clg_context_device(ctx), "(cpu,");
        char def[96];
        snprintf(def, sizeof def, "%s", clg_context_gemm(ctx));
        clg_context_destroy(ctx);
#ifdef CLG_TEST_HAVE_BLAS
        if (pocl_cpu && !strstr(def, "host BLAS")) fail_msg("%s: default GEMM path '%s', want the host's BLAS", specs[d], def);
#else
        (void)pocl_cpu;
#endif
        setenv("CLGRAD_GEMM", "clblast", 1);
        ctx = open_ctx(specs[d]);
        assert_true(strncmp(clg_context_gemm(ctx), "CLBlast", 7) == 0);
        assert_null(strstr(clg_context_gemm(ctx), "host BLAS"));
        clg_context_destroy(ctx);

        setenv("CLGRAD_GEMM", "native", 1);
        ctx = NULL;
        clg_status st = clg_context_create(specs[d], &ctx);
        if (strstr(def, "host BLAS")) {
            CHECK_OK(ctx, st);
            assert_non_null(strstr(clg_context_gemm(ctx), "host BLAS"));
        } else {
            assert_int_equal(st, CLG_ERR_UNSUPPORTED);
            ASSERT_MSG_HAS(ctx, "CLGRAD_GEMM=native");
        }
        clg_context_destroy(ctx);

        setenv("CLGRAD_GEMM", "cublas", 1);
        ctx = NULL;
        assert_int_equal(clg_context_create(specs[d], &ctx), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "CLGRAD_GEMM='cublas'");
        clg_context_destroy(ctx);
        unsetenv("CLGRAD_GEMM");

        /* convolutions: oneDNN where the device runs native kernels */
        setenv("CLGRAD_CONV", "im2col", 1);
        ctx = open_ctx(specs[d]);
        assert_null(strstr(clg_context_gemm(ctx), "oneDNN"));
        clg_context_destroy(ctx);
        setenv("CLGRAD_CONV", "onednn", 1);
        ctx = NULL;
        st = clg_context_create(specs[d], &ctx);
#ifdef CLG_TEST_HAVE_DNNL
        if (pocl_cpu) {
            CHECK_OK(ctx, st);
            assert_non_null(strstr(clg_context_gemm(ctx), "convolutions by oneDNN"));
        }
#endif
        if (st != CLG_OK) {
            assert_int_equal(st, CLG_ERR_UNSUPPORTED);
            ASSERT_MSG_HAS(ctx, "CLGRAD_CONV=onednn");
        }
        clg_context_destroy(ctx);
        setenv("CLGRAD_CONV", "winograd", 1);
        ctx = NULL;
        CHECK_OK(ctx, clg_context_create(specs[d], &ctx));
        assert_non_null(strstr(clg_context_gemm(ctx), "convolutions by Winograd"));
        clg_context_destroy(ctx);
        setenv("CLGRAD_CONV", "fft", 1);
        ctx = NULL;
        assert_int_equal(clg_context_create(specs[d], &ctx), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "CLGRAD_CONV='fft'");
        ASSERT_MSG_HAS(ctx, "winograd");
        clg_context_destroy(ctx);
        unsetenv("CLGRAD_CONV");
    }
    if (was) setenv("CLGRAD_GEMM", saved, 1);
    else unsetenv("CLGRAD_GEMM");
    clg_context *ref = open_ctx("reference");
    assert_string_equal(clg_context_gemm(ref), "plain C loops");
    clg_context_destroy(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_2d),
        cmocka_unit_test(test_2d_transposed),
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_batch_by_matrix),
        cmocka_unit_test(test_matrix_by_batch),
        cmocka_unit_test(test_same_operand),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_bad_linear),
        cmocka_unit_test(test_gemm_paths),
    };
    return cmocka_run_group_tests(tests, NULL, close_contexts);
}
