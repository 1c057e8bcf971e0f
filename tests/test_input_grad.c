/*
 * Gradients with respect to inputs (clg_tensor_requires_grad): the same
 * graph built with x as a parameter and as a marked input gives the same
 * gradients, bit for bit, on the reference and every OpenCL device (the
 * parameter's gradients are checked against finite differences by the op
 * cases and the family tests, so this carries those checks over); a graph
 * whose only gradient is an input's; and the refusals.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 5, K = 7, N = 3 };

/* L = sum(softplus(x W^T + b) * c) + mean(gelu_erf(x)); returns L and, in
 * gx and gw, the gradients of x and W. */
static void run_net(const char *spec, bool x_is_input, const float *x, const float *w, const float *b, const float *c,
                    float *gx, float *gw, float *loss)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t sx[2] = {B, K}, sw[2] = {N, K}, sb[1] = {N}, sy[2] = {B, N};
    clg_tensor tx = x_is_input ? clg_input(g, 2, sx) : clg_param(g, 2, sx);
    if (x_is_input) CHECK_OK(ctx, clg_tensor_requires_grad(g, tx));
    clg_tensor tw = clg_param(g, 2, sw), tb = clg_param(g, 1, sb), tc = clg_input(g, 2, sy);
    clg_tensor l = clg_add(g, clg_sum(g, clg_mul(g, clg_softplus(g, clg_linear(g, tx, tw, tb)), tc)),
                           clg_mean(g, clg_gelu_erf(g, tx)));
    CHECK_OK(ctx, clg_backward(g, l));
    CHECK_OK(ctx, clg_tensor_set(g, tx, x, B * K));
    CHECK_OK(ctx, clg_tensor_set(g, tw, w, N * K));
    CHECK_OK(ctx, clg_tensor_set(g, tb, b, N));
    CHECK_OK(ctx, clg_tensor_set(g, tc, c, B * N));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tx), gx, B * K));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tw), gw, N * K));
    CHECK_OK(ctx, clg_tensor_get(g, l, loss, 1));
    clg_context_destroy(ctx);
}

static void same_on(const char *spec)
{
    rng_t r = {7};
    float x[B * K], w[N * K], b[N], c[B * N];
    rng_fill(&r, x, B * K, 0.1, 2, false);
    rng_fill(&r, w, N * K, 0.1, 1, false);
    rng_fill(&r, b, N, 0.1, 1, false);
    rng_fill(&r, c, B * N, 0.5, 1.5, false);
    float gx1[B * K], gw1[N * K], l1, gx2[B * K], gw2[N * K], l2;
    run_net(spec, false, x, w, b, c, gx1, gw1, &l1);
    run_net(spec, true, x, w, b, c, gx2, gw2, &l2);
    char what[96];
    snprintf(what, sizeof what, "d loss / d x, input against parameter, on %s", spec);
    assert_close_ulp(gx2, gx1, B * K, 0, what);
    snprintf(what, sizeof what, "d loss / d W beside it, on %s", spec);
    assert_close_ulp(gw2, gw1, N * K, 0, what);
    assert_close_ulp(&l2, &l1, 1, 0, "the loss");
    bool any = false;
    for (int i = 0; i < B * K; i++) any |= gx2[i] != 0;
    assert_true(any);
}

static void test_same_as_a_parameter(void **state)
{
    (void)state;
    for_each_device(same_on);
}

/* no parameter at all: the input's gradient alone (an attribution) */
static void test_input_only(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 4;
    clg_tensor x = clg_input(g, 1, &n);
    CHECK_OK(ctx, clg_tensor_requires_grad(g, x));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, x))));
    const float v[4] = {1.5f, -2, 0.25f, 3};
    float dx[4];
    CHECK_OK(ctx, clg_tensor_set(g, x, v, 4));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, x), dx, 4));
    for (int i = 0; i < 4; i++) assert_true(dx[i] == 2 * v[i]); /* exact: one doubling */
    /* an optimizer has nothing to update */
    assert_int_equal(clg_sgd(g, 0.1f), CLG_ERR_STATE);
    clg_context_destroy(ctx);
}

static void test_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 4;
    clg_tensor x = clg_input(g, 1, &n), labels = clg_labels(g, 1, &n), p = clg_param(g, 1, &n);
    clg_tensor y = clg_relu(g, x);
    assert_int_equal(clg_tensor_requires_grad(g, x), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "already read by tensor");
    ASSERT_MSG_HAS(ctx, "relu");
    assert_int_equal(clg_tensor_requires_grad(g, labels), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "int32");
    assert_int_equal(clg_tensor_requires_grad(g, y), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "relu");
    CHECK_OK(ctx, clg_tensor_requires_grad(g, p)); /* a parameter has one */
    CHECK_OK(ctx, clg_graph_status(g));             /* refusals changed nothing */
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, p))));
    assert_true(clg_grad(g, x).id < 0); /* not marked */
    ASSERT_MSG_HAS(ctx, "clg_tensor_requires_grad");
    clg_tensor z = clg_input(g, 1, &n);
    assert_int_equal(clg_tensor_requires_grad(g, z), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "backward");
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_a_parameter),
        cmocka_unit_test(test_input_only),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
