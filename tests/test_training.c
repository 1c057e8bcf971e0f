/* Gradient descent end to end on the reference backend and every OpenCL
 * device: the textbook step, convergence, a tensor used twice, reruns. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* w = 5, loss = (w - 2)^2, one step with lr 0.1: PyTorch prints
 * "Gradient: 6.0" and "Updated Weight: 4.4". */
static void textbook(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t one = 1;
    clg_tensor w = clg_param(g, 1, &one);
    clg_tensor loss = clg_square(g, clg_sub(g, w, clg_scalar(g, 2.0f)));
    CHECK_OK(ctx, clg_backward(g, loss));
    CHECK_OK(ctx, clg_sgd(g, 0.1f));
    float v = 5.0f, grad, l;
    CHECK_OK(ctx, clg_tensor_set(g, w, &v, 1));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, w), &grad, 1));
    CHECK_OK(ctx, clg_tensor_get(g, loss, &l, 1));
    char line[64];
    snprintf(line, sizeof line, "Gradient: %.1f", grad);
    assert_string_equal(line, "Gradient: 6.0");
    assert_true(l == 9.0f && grad == 6.0f);
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_UPDATE));
    CHECK_OK(ctx, clg_tensor_get(g, w, &v, 1));
    snprintf(line, sizeof line, "Updated Weight: %.1f", v);
    assert_string_equal(line, "Updated Weight: 4.4");
    /* w_k - 2 = 3 * 0.8^k: 100 steps leave about 6e-10, below float resolution at 2 */
    for (int i = 1; i < 100; i++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    CHECK_OK(ctx, clg_tensor_get(g, w, &v, 1));
    if (fabsf(v - 2.0f) > 1e-6f) fail_msg("%s: w = %.9g after 100 steps, want 2", spec, (double)v);
    clg_context_destroy(ctx);
}

/* loss = sum(w * w + w * a) uses w three times: dloss/dw = 2w + a. */
static void used_twice(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 37;
    clg_tensor w = clg_param(g, 1, &n), a = clg_input(g, 1, &n);
    clg_tensor loss = clg_sum(g, clg_add(g, clg_mul(g, w, w), clg_mul(g, w, a)));
    CHECK_OK(ctx, clg_backward(g, loss));
    float wv[37], av[37], gv[37], want[37];
    rng_t r = {37};
    rng_fill(&r, wv, 37, 0.1, 3, false);
    rng_fill(&r, av, 37, 0.1, 3, false);
    for (int i = 0; i < 37; i++) want[i] = 2 * wv[i] + av[i];
    CHECK_OK(ctx, clg_tensor_set(g, w, wv, 37));
    CHECK_OK(ctx, clg_tensor_set(g, a, av, 37));
    /* twice: gradients are recomputed each run, never accumulated across runs */
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, w), gv, 37));
        assert_close(gv, want, 37, 2e-7, 0, spec); /* w + w then + a: two roundings */
    }
    clg_context_destroy(ctx);
}

/* One-element parameters broadcast against columns, full-batch descent. */
static void linreg(const char *spec)
{
    enum { N = 3001 };
    static float x1[N], x2[N], y[N];
    rng_t r = {2024};
    for (int i = 0; i < N; i++) {
        x1[i] = (float)rng_normal(&r);
        x2[i] = (float)rng_normal(&r);
        y[i] = (float)(1.5 * x1[i] - 0.75 * x2[i] + 0.25 + 0.05 * rng_normal(&r));
    }
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = N, one = 1;
    clg_tensor t1 = clg_input(g, 1, &n), t2 = clg_input(g, 1, &n), ty = clg_input(g, 1, &n);
    clg_tensor w1 = clg_param(g, 1, &one), w2 = clg_param(g, 1, &one), b = clg_param(g, 1, &one);
    clg_tensor pred = clg_add(g, clg_add(g, clg_mul(g, w1, t1), clg_mul(g, w2, t2)), b);
    CHECK_OK(ctx, clg_backward(g, clg_mse_loss(g, pred, ty)));
    CHECK_OK(ctx, clg_sgd(g, 0.1f));
    CHECK_OK(ctx, clg_tensor_set(g, t1, x1, N));
    CHECK_OK(ctx, clg_tensor_set(g, t2, x2, N));
    CHECK_OK(ctx, clg_tensor_set(g, ty, y, N));
    CHECK_OK(ctx, clg_tensor_fill(g, w1, 0));
    CHECK_OK(ctx, clg_tensor_fill(g, w2, 0));
    CHECK_OK(ctx, clg_tensor_fill(g, b, 0));
    for (int i = 0; i < 150; i++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    float v[3];
    CHECK_OK(ctx, clg_tensor_get(g, w1, &v[0], 1));
    CHECK_OK(ctx, clg_tensor_get(g, w2, &v[1], 1));
    CHECK_OK(ctx, clg_tensor_get(g, b, &v[2], 1));
    /* noise 0.05 over 3001 rows: standard error about 0.001 per coefficient */
    const double truth[3] = {1.5, -0.75, 0.25};
    for (int k = 0; k < 3; k++)
        if (fabs(v[k] - truth[k]) > 0.006) fail_msg("%s: coefficient %d = %.5f, true %.5f", spec, k, v[k], truth[k]);
    clg_context_destroy(ctx);
}

/* Timed runs give the run's device time: positive, and below the host
 * time around it. */
static void timed(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 1 << 20;
    clg_tensor x = clg_input(g, 1, &n);
    clg_tensor y = clg_sum(g, clg_tanh(g, clg_mul(g, x, x)));
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_tensor_fill(g, x, 0.5f));
    double t = -1;
    CHECK_OK(ctx, clg_graph_run_timed(g, CLG_RUN_FORWARD, &t));
    float v;
    CHECK_OK(ctx, clg_tensor_get(g, y, &v, 1));
    if (!(t > 0 && t < 10)) fail_msg("%s: timed run gave %g s", spec, t);
    if (fabsf(v - (float)n * tanhf(0.25f)) > 1e-4f * (float)n) fail_msg("%s: timed run computed %g", spec, (double)v);
    assert_int_equal(clg_graph_run_timed(g, CLG_RUN_FORWARD, NULL), CLG_ERR_INVALID_ARGUMENT);
    clg_context_destroy(ctx);
}

static void test_timed(void **s) { for_each_device(timed); }
static void test_textbook(void **s) { for_each_device(textbook); }
static void test_used_twice(void **s) { for_each_device(used_twice); }
static void test_linreg(void **s) { for_each_device(linreg); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_textbook),
        cmocka_unit_test(test_used_twice),
        cmocka_unit_test(test_linreg),
        cmocka_unit_test(test_timed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
