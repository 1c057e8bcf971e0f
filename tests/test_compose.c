/*
 * Ops built from other ops (core/compose.c): adaptive_avg_pool2d,
 * huber_loss, smooth_l1_loss. Their device and finite-difference checks
 * are the op cases' (tests/cases/: test_cases); here what a table cannot say:
 *  - the double reference against PyTorch's definitions written again
 *    here (Huber's two sides, smooth L1 as Huber / beta and as L1 at beta
 *    0, the global pool as the mean of each plane), 6e-8 relative plus
 *    2e-16 of the largest: gc_eval narrows the double result to float once,
 *    and a mean's terms are all positive;
 *  - the equal-window adaptive pool on every device against the reference,
 *    and its gradients against finite differences (gc_default_tol: each
 *    output averages 6 values);
 *  - refusals: a status and a message naming the op, the shape and what
 *    is wrong (unequal windows are CLG_ERR_UNSUPPORTED).
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_MSG_HAS(ctx, text)                                                                   \
    do {                                                                                           \
        if (!strstr(clg_context_errmsg(ctx), (text)))                                              \
            fail_msg("message \"%s\" does not mention \"%s\"", clg_context_errmsg(ctx), (text));   \
    } while (0)

typedef struct {
    int kind; /* 0 huber, 1 smooth l1 */
    float c;  /* delta or beta */
} loss_arg;

static clg_tensor build_loss(clg_graph *g, const clg_tensor *in, void *arg)
{
    const loss_arg *a = arg;
    return a->kind == 0 ? clg_huber_loss(g, in[0], in[1], a->c) : clg_smooth_l1_loss(g, in[0], in[1], a->c);
}

/* PyTorch's definitions (torch.nn.HuberLoss, SmoothL1Loss), mean reduction */
static double want_loss(const loss_arg *a, const float *p, const float *t, int64_t n)
{
    double s = 0, c = a->c;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - (double)t[i], ad = fabs(d);
        if (a->kind == 0) s += ad <= c ? 0.5 * d * d : c * (ad - 0.5 * c);
        else if (c == 0) s += ad;
        else s += ad < c ? 0.5 * d * d / c : ad - 0.5 * c;
    }
    return s / (double)n;
}

static void test_losses_vs_definition(void **state)
{
    (void)state;
    static const loss_arg args[] = {{0, 1.0f}, {0, 0.3f}, {0, 10.0f}, {1, 0.5f}, {1, 2.0f}, {1, 0.0f}};
    const int64_t n = 1001;
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in[2] = {{.ndim = 1, .shape = {n}, .lo = 0.05, .hi = 2}, {.ndim = 1, .shape = {n}, .lo = 0.05, .hi = 2}};
        float *v[2];
        gc_make_inputs(in, 2, 40 + k, v);
        int64_t count;
        float *y = gc_eval("reference64", build_loss, (void *)&args[k], in, 2, (const float *const *)v, &count);
        assert_int_equal(count, 1);
        double want = want_loss(&args[k], v[0], v[1], n);
        char what[96];
        snprintf(what, sizeof what, "%s, %s %g, double reference vs definition", args[k].kind ? "smooth_l1" : "huber",
                 args[k].kind ? "beta" : "delta", (double)args[k].c);
        assert_close_d(y, &want, 1, 6e-8, 2e-16 * fabs(want), what);
        free(y);
        free(v[0]);
        free(v[1]);
    }
}

/* both sides of delta and of beta, on every device and against finite differences */
static void test_losses_checked(void **state)
{
    (void)state;
    static const loss_arg args[] = {{0, 0.7f}, {1, 0.4f}, {1, 0.0f}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in[2] = {{.ndim = 2, .shape = {7, 9}, .param = true, .lo = 0.05, .hi = 2},
                          {.ndim = 2, .shape = {7, 9}, .param = true, .lo = 0.05, .hi = 2}};
        char name[64];
        snprintf(name, sizeof name, "%s %g", args[k].kind ? "smooth_l1" : "huber", (double)args[k].c);
        gc_check_fd(name, build_loss, (void *)&args[k], in, 2, &gc_default_tol, 50 + k);
        gc_check_devices(name, build_loss, (void *)&args[k], in, 2, &gc_default_tol, 60 + k);
    }
}

typedef struct {
    int64_t oh, ow;
} pool_arg;

static clg_tensor build_pool(clg_graph *g, const clg_tensor *in, void *arg)
{
    const pool_arg *a = arg;
    return clg_adaptive_avg_pool2d(g, in[0], a->oh, a->ow);
}

static void test_global_pool_vs_definition(void **state)
{
    (void)state;
    const pool_arg a = {1, 1};
    gc_input in = {.ndim = 4, .shape = {3, 5, 7, 9}, .lo = 0.05, .hi = 2, .positive = true};
    float *x;
    gc_make_inputs(&in, 1, 70, &x);
    int64_t count;
    float *y = gc_eval("reference64", build_pool, (void *)&a, &in, 1, (const float *const *)&x, &count);
    assert_int_equal(count, 15);
    double want[15], m = 0;
    for (int p = 0; p < 15; p++) {
        double s = 0;
        for (int i = 0; i < 63; i++) s += x[p * 63 + i];
        want[p] = s / 63;
        m = fmax(m, want[p]);
    }
    assert_close_d(y, want, 15, 6e-8, 2e-16 * m, "adaptive_avg_pool2d 1x1, double reference vs the planes' means");
    free(y);
    free(x);
}

static void test_equal_windows(void **state)
{
    (void)state;
    static const pool_arg args[] = {{2, 3}, {6, 9}, {1, 1}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in = {.ndim = 4, .shape = {2, 3, 6, 9}, .param = true, .lo = 0.05, .hi = 2};
        char name[64];
        snprintf(name, sizeof name, "adaptive_avg_pool2d 2x3x6x9 to %lldx%lld", (long long)args[k].oh,
                 (long long)args[k].ow);
        gc_check_fd(name, build_pool, (void *)&args[k], &in, 1, &gc_default_tol, 80 + k);
        gc_check_devices(name, build_pool, (void *)&args[k], &in, 1, &gc_default_tol, 90 + k);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        int what; /* 0 pool, 1 huber, 2 smooth l1 */
        int64_t oh, ow;
        float c;
        clg_status status;
        const char *says;
    } bad[] = {
        {0, 2, 2, 0, CLG_ERR_UNSUPPORTED, "windows of different sizes"},
        {0, 0, 1, 0, CLG_ERR_SHAPE, "empty"},
        {1, 0, 0, 0.0f, CLG_ERR_INVALID_ARGUMENT, "delta 0"},
        {1, 0, 0, NAN, CLG_ERR_INVALID_ARGUMENT, "delta nan"},
        {1, 0, 0, INFINITY, CLG_ERR_INVALID_ARGUMENT, "delta inf"},
        {2, 0, 0, -1.0f, CLG_ERR_INVALID_ARGUMENT, "beta -1"},
    };
    const int64_t s[4] = {2, 3, 7, 9};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor x = clg_input(g, 4, s), t = clg_input(g, 4, s);
        clg_tensor y = bad[k].what == 0   ? clg_adaptive_avg_pool2d(g, x, bad[k].oh, bad[k].ow)
                       : bad[k].what == 1 ? clg_huber_loss(g, x, t, bad[k].c)
                                          : clg_smooth_l1_loss(g, x, t, bad[k].c);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(g), bad[k].status);
        ASSERT_MSG_HAS(ctx, bad[k].what == 0 ? "adaptive_avg_pool2d" : bad[k].what == 1 ? "huber_loss" : "smooth_l1_loss");
        ASSERT_MSG_HAS(ctx, bad[k].says);
        ASSERT_MSG_HAS(ctx, "[2,3,7,9]");
        clg_context_destroy(ctx);
    }
    /* shapes that differ are named both; a 3-D input to the pool */
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s2[2] = {3, 4}, s3[2] = {4, 3};
    assert_true(clg_huber_loss(g, clg_input(g, 2, s2), clg_input(g, 2, s3), 1.0f).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "[3,4]");
    ASSERT_MSG_HAS(ctx, "[4,3]");
    clg_context_destroy(ctx);
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_adaptive_avg_pool2d(g, clg_input(g, 3, s), 1, 1).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "4-D");
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_vs_definition), cmocka_unit_test(test_losses_checked),
        cmocka_unit_test(test_global_pool_vs_definition), cmocka_unit_test(test_equal_windows),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
