/*
 * The act family: leaky relu, gelu (tanh approximation and the exact erf
 * form), silu, softplus, abs, clamp, pow, forward and backward.
 *  - the double reference against each op's textbook formula, written here
 *    independently (gelu as 0.5 x (1 + tanh u), not the library's
 *    sigmoid form; softplus as log(1 + e^x));
 *  - gradients of the double reference against central finite differences,
 *    and the float reference against the double one (gc_check_fd);
 *  - every OpenCL device against the float reference, forward and
 *    gradients (gc_check_devices), sizes 1, 7, 1000, 1000003, 3x5 and
 *    17x33x65;
 *  - far from zero (+-1e4, +-30) every result is finite and right;
 *  - bad arguments give a status and a message naming op and shape.
 *
 * Tolerances, and why:
 *  - double reference vs formula: 6e-8 relative. gc_eval narrows the
 *    double result to float (at most 2^-24 = 5.96e-8 relative); the
 *    formulas agree exactly in real arithmetic, and the tanh form loses
 *    only about 3e-12 to the cancellation in 1 + tanh u at x = -4 (inputs
 *    here have |x| <= 4). Any wrong constant or term is far outside.
 *  - devices vs reference and float vs double reference: gc_default_tol
 *    (4e-6 relative, about 32 ulp, plus 1e-6 of the largest value): each
 *    result chains a few ops with the OpenCL 1.2 bounds (exp 3 ulp, log1p
 *    2 ulp, division 2.5 ulp; erfc and pow 16 ulp, 1.9e-6, for gelu_erf
 *    and pow); the 1e-6-of-max part covers gradients that cross zero
 *    (silu' near x = -1.28, gelu' near x = -0.75, gelu_erf' near -0.75),
 *    where the relative error of a small result is large by cancellation.
 *  - finite differences: gc_default_tol (1e-6 relative + 1e-7 of max,
 *    h = 1e-6 |x|): truncation error ~h^2 f''' ~ 1e-12, roundoff ~1e-16 L /
 *    h ~ 1e-9 for these small sums. Inputs have |x| >= 0.05, so leaky
 *    relu's and abs's kinks at 0 are 5e4 steps away; clamp's bounds (-1,
 *    1.5) lie within a step of an input with odds of about 1e-6 each.
 *  - +-1e4 and +-30: results are exactly 0, x, 1, a bound, x^3 or tiny
 *    numbers computed from one exp or erfc; 2e-6 relative (about 16 ulp)
 *    plus FLT_MIN absolute: gelu_erf(-30) is 1.5e-196 in double, and 0 is
 *    the float nearest it.
 */
#include "gradcheck.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct act_case {
    const char *name;
    clg_tensor (*op)(clg_graph *g, clg_tensor x);
    double (*f)(double x);  /* textbook formula */
    double (*df)(double x); /* its derivative */
} act_case;

static const double SLOPE = (double)0.07f; /* the float the op is given */
static const double GK = 0.7978845608028654; /* sqrt(2 / pi) */
static const double GC = 0.044715;

static clg_tensor leaky(clg_graph *g, clg_tensor x) { return clg_leaky_relu(g, x, (float)SLOPE); }
static double f_leaky(double x) { return x > 0 ? x : SLOPE * x; }
static double df_leaky(double x) { return x > 0 ? 1 : SLOPE; }

static double f_gelu(double x) { return 0.5 * x * (1 + tanh(GK * (x + GC * x * x * x))); }
static double df_gelu(double x)
{
    double t = tanh(GK * (x + GC * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GK * (1 + 3 * GC * x * x);
}

static double f_silu(double x) { return x / (1 + exp(-x)); }
static double df_silu(double x)
{
    double s = 1 / (1 + exp(-x));
    return s + x * s * (1 - s);
}

/* log(1 + e^x), with log1p so that tiny e^x keep their digits */
static double f_softplus(double x) { return x > 30 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double df_softplus(double x) { return 1 / (1 + exp(-x)); }

/* gelu_erf as PyTorch defines it, 0.5 x (1 + erf(x / sqrt 2)) (the library
 * uses erfc); its derivative Phi(x) + x phi(x) */
static double f_gelu_erf(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double df_gelu_erf(double x)
{
    return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * 3.14159265358979323846);
}

static double f_abs(double x) { return fabs(x); }
static double df_abs(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

/* clamp to [-1, 1.5]: both bounds bite for |x| in [0.05, 4] */
static const double CLO = -1, CHI = 1.5;
static clg_tensor clamp_op(clg_graph *g, clg_tensor x) { return clg_clamp(g, x, (float)CLO, (float)CHI); }
static double f_clamp(double x) { return x < CLO ? CLO : x > CHI ? CHI : x; }
static double df_clamp(double x) { return x >= CLO && x <= CHI ? 1 : 0; }

/* an integer exponent, so that negative x are defined (the op case in
 * tests/cases/act.c takes 1.5 on positive x) */
static clg_tensor pow_op(clg_graph *g, clg_tensor x) { return clg_pow(g, x, 3.0f); }
static double f_pow(double x) { return x * x * x; }
static double df_pow(double x) { return 3 * x * x; }

/* PyTorch's softplus(beta = 2, threshold = 3): linear where 2x > 3 */
static clg_tensor softplus_beta_op(clg_graph *g, clg_tensor x) { return clg_softplus_beta(g, x, 2.0f, 3.0f); }
static double f_softplus_beta(double x) { return 2 * x > 3 ? x : log1p(exp(2 * x)) / 2; }
static double df_softplus_beta(double x) { return 2 * x > 3 ? 1 : 1 / (1 + exp(-2 * x)); }

static const act_case cases[] = {
    {"leaky_relu", leaky, f_leaky, df_leaky},
    {"gelu", clg_gelu, f_gelu, df_gelu},
    {"silu", clg_silu, f_silu, df_silu},
    {"softplus", clg_softplus, f_softplus, df_softplus},
    {"gelu_erf", clg_gelu_erf, f_gelu_erf, df_gelu_erf},
    {"abs", clg_abs, f_abs, df_abs},
    {"clamp", clamp_op, f_clamp, df_clamp},
    {"pow", pow_op, f_pow, df_pow},
    {"softplus_beta", softplus_beta_op, f_softplus_beta, df_softplus_beta},
};
#define NCASES (sizeof cases / sizeof cases[0])

static clg_tensor build_act(clg_graph *g, const clg_tensor *in, void *arg)
{
    const act_case *c = arg;
    return c->op(g, in[0]);
}

static uint64_t seed_for(const char *name, int variant)
{
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h ^ (uint64_t)variant * 0x9e3779b97f4a7c15ull;
}

static gc_input input_of(int ndim, const int64_t *shape)
{
    gc_input in = {.ndim = ndim, .param = true, .lo = 0.05, .hi = 4};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    return in;
}

static void test_reference_vs_formula(void **state)
{
    const int64_t n = 1000;
    for (size_t c = 0; c < NCASES; c++) {
        gc_input in = input_of(1, &n);
        float *x;
        gc_make_inputs(&in, 1, seed_for(cases[c].name, 1), &x);
        int64_t count;
        float *y = gc_eval("reference64", build_act, (void *)&cases[c], &in, 1, (const float *const *)&x, &count);
        assert_int_equal(count, n);
        double *want = malloc((size_t)n * sizeof *want);
        assert_non_null(want);
        for (int64_t i = 0; i < n; i++) want[i] = cases[c].f(x[i]);
        char what[128];
        snprintf(what, sizeof what, "%s double reference vs formula", cases[c].name);
        assert_close_d(y, want, (size_t)n, 6e-8, 0, what);
        free(want);
        free(y);
        free(x);
    }
}

/* Sizes and shapes of the device and finite-difference checks. */
static const struct {
    int ndim;
    int64_t shape[3];
    bool fd;
} shapes[] = {
    {1, {1}, true},       {1, {7}, true},          {1, {1000}, true},
    {2, {3, 5}, true},    {1, {1000003}, false},   {3, {17, 33, 65}, false},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void test_finite_differences(void **state)
{
    for (size_t c = 0; c < NCASES; c++)
        for (size_t k = 0; k < NSHAPES; k++) {
            if (!shapes[k].fd) continue;
            gc_input in = input_of(shapes[k].ndim, shapes[k].shape);
            gc_check_fd(cases[c].name, build_act, (void *)&cases[c], &in, 1, &gc_default_tol,
                        seed_for(cases[c].name, 10 + (int)k));
        }
}

static void test_devices(void **state)
{
    for (size_t c = 0; c < NCASES; c++)
        for (size_t k = 0; k < NSHAPES; k++) {
            gc_input in = input_of(shapes[k].ndim, shapes[k].shape);
            gc_check_devices(cases[c].name, build_act, (void *)&cases[c], &in, 1, &gc_default_tol,
                             seed_for(cases[c].name, 20 + (int)k));
        }
}

/* y = act(x) and dsum(y)/dx on one device. */
static void eval_with_grad(const char *spec, const act_case *c, const float *x, int64_t n, float *y, float *dx)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor tx = clg_param(g, 1, &n), ty = c->op(g, tx);
    clg_tensor_keep(g, ty); /* read after the run */
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, ty)));
    CHECK_OK(ctx, clg_tensor_set(g, tx, x, (size_t)n));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, ty, y, (size_t)n));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tx), dx, (size_t)n));
    clg_context_destroy(ctx);
}

static void check_extremes(const char *spec)
{
    static const float x[] = {1e4f, -1e4f, 30.f, -30.f};
    const int64_t n = sizeof x / sizeof x[0];
    float y[4], dx[4];
    double want_y[4], want_dx[4];
    char what[160];
    for (size_t c = 0; c < NCASES; c++) {
        eval_with_grad(spec, &cases[c], x, n, y, dx);
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(y[i]) || !isfinite(dx[i]))
                fail_msg("%s on %s: x = %g gives y = %g, dy/dx = %g", cases[c].name, spec, (double)x[i],
                         (double)y[i], (double)dx[i]);
            want_y[i] = cases[c].f(x[i]);
            want_dx[i] = cases[c].df(x[i]);
        }
        snprintf(what, sizeof what, "%s forward at +-1e4, +-30 on %s", cases[c].name, spec);
        assert_close_d(y, want_y, (size_t)n, 2e-6, FLT_MIN, what);
        snprintf(what, sizeof what, "%s gradient at +-1e4, +-30 on %s", cases[c].name, spec);
        assert_close_d(dx, want_dx, (size_t)n, 2e-6, FLT_MIN, what);
    }
}

static void test_extremes(void **state)
{
    char specs[16][32];
    int ndev = test_opencl_devices(specs, 16);
    check_extremes("reference");
    for (int d = 0; d < ndev; d++) check_extremes(specs[d]);
}

static void test_bad_input(void **state)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s35[2] = {3, 5};
    clg_tensor x = clg_input(g, 2, s35);
    assert_true(clg_leaky_relu(g, x, NAN).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "leaky_relu");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    clg_context_destroy(ctx);

    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor labels = clg_labels(g, 2, s35);
    assert_true(clg_gelu(g, labels).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "gelu");
    ASSERT_MSG_HAS(ctx, "int32");
    /* a failed tensor fails what uses it, keeping the first message */
    assert_true(clg_silu(g, clg_gelu(g, labels)).id < 0);
    ASSERT_MSG_HAS(ctx, "gelu");
    assert_true(clg_softplus(g, (clg_tensor){99, 0}).id < 0);
    clg_context_destroy(ctx);

    /* the constants: named with the shape, and the graph refuses them */
    static const struct {
        float lo, hi, p;
        const char *says;
    } bad[] = {{2, 1, 1, "lo <= hi"}, {NAN, 1, 1, "NaN"}, {0, NAN, 1, "NaN"}, {0, 1, INFINITY, "not finite"},
               {0, 1, NAN, "not finite"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ctx = open_ctx("reference");
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        x = clg_input(g, 2, s35);
        const bool is_pow = bad[k].p != 1;
        clg_tensor y = is_pow ? clg_pow(g, x, bad[k].p) : clg_clamp(g, x, bad[k].lo, bad[k].hi);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, is_pow ? "pow" : "clamp");
        ASSERT_MSG_HAS(ctx, bad[k].says);
        ASSERT_MSG_HAS(ctx, "[3,5]");
        clg_context_destroy(ctx);
    }
    /* softplus_beta: beta > 0 and finite, threshold finite */
    static const float bad_sb[][2] = {{0, 20}, {-1, 20}, {NAN, 20}, {INFINITY, 20}, {1, NAN}, {1, INFINITY}};
    for (size_t k = 0; k < sizeof bad_sb / sizeof bad_sb[0]; k++) {
        ctx = open_ctx("reference");
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        x = clg_input(g, 2, s35);
        assert_true(clg_softplus_beta(g, x, bad_sb[k][0], bad_sb[k][1]).id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "softplus_beta");
        ASSERT_MSG_HAS(ctx, "[3,5]");
        clg_context_destroy(ctx);
    }
    /* no bound on a side: infinities are bounds */
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    x = clg_input(g, 2, s35);
    assert_true(clg_clamp(g, x, -INFINITY, 0.5f).id >= 0);
    assert_true(clg_clamp(g, x, 0.5f, INFINITY).id >= 0);
    assert_true(clg_clamp(g, x, 0.5f, 0.5f).id >= 0);
    CHECK_OK(ctx, clg_graph_status(g));
    clg_context_destroy(ctx);
}

/* Forward and backward ops of every activation in one graph, through the
 * generic checker: backward rules compose with each other. */
static clg_tensor chain(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_tensor x = in[0];
    x = clg_softplus(g, clg_silu(g, clg_gelu(g, clg_leaky_relu(g, x, 0.2f))));
    return clg_gelu_erf(g, clg_clamp(g, clg_pow(g, clg_abs(g, x), 1.5f), 0.2f, 3.0f));
}

static void test_chain(void **state)
{
    const gc_input in[] = {{.ndim = 2, .shape = {4, 9}, .param = true, .lo = 0.3, .hi = 2}};
    gc_check_fd("chain", chain, NULL, in, 1, &gc_default_tol, 5);
    gc_check_devices("chain", chain, NULL, in, 1, &gc_default_tol, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vs_formula),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
