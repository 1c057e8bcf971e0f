/*
 * maximum, minimum, compare and where at their edges, on the reference and
 * every OpenCL device: ties (PyTorch returns a and splits the gradient in
 * halves, maximum(-0, +0) is -0), NaN on either side (it propagates, and
 * both sides take the gradient), every comparison with a tie and a NaN,
 * where's NaN condition (true, as bool(NaN) in PyTorch) and a NaN in the
 * branch not taken (it does not leak into the result or the gradients);
 * and the refusals, which leave the graph as it was. The expected values
 * are PyTorch 1.13's, written out. The ops on random inputs (against the
 * reference and finite differences) are test_ops' and test_cases' rows.
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N = 6 };

/* bit-exact, NaN matching NaN, -0 told from +0 */
static void assert_same(const float *got, const float *want, int n, const char *what, const char *spec)
{
    for (int i = 0; i < n; i++) {
        bool ok = isnan(want[i]) ? isnan(got[i]) : memcmp(&got[i], &want[i], sizeof(float)) == 0;
        if (!ok) fail_msg("%s on %s, element %d: got %g, want %g", what, spec, i, (double)got[i], (double)want[i]);
    }
}

static void edges_on(const char *spec)
{
    const float nan = NAN;
    const float a[N] = {1, 2, nan, 3, 5, -0.0f}, b[N] = {1, 3, 0, nan, 4, 0.0f};
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = N;
    clg_tensor ta = clg_param(g, 1, &n), tb = clg_param(g, 1, &n), w = clg_input(g, 1, &n);
    clg_tensor mx = clg_maximum(g, ta, tb), mn = clg_minimum(g, ta, tb);
    clg_tensor cmp[6];
    for (int op = CLG_LT; op <= CLG_NE; op++) cmp[op] = clg_compare(g, ta, tb, (clg_comparison)op);
    /* L = sum(max * w) + sum(min * 10 w): the two gradients told apart */
    clg_tensor l = clg_add(g, clg_sum(g, clg_mul(g, mx, w)), clg_sum(g, clg_mul(g, mn, clg_scale(g, w, 10.0f))));
    CHECK_OK(ctx, clg_tensor_keep(g, mx));
    CHECK_OK(ctx, clg_tensor_keep(g, mn));
    for (int op = CLG_LT; op <= CLG_NE; op++) CHECK_OK(ctx, clg_tensor_keep(g, cmp[op]));
    CHECK_OK(ctx, clg_backward(g, l));
    const float ones[N] = {1, 1, 1, 1, 1, 1};
    CHECK_OK(ctx, clg_tensor_set(g, ta, a, N));
    CHECK_OK(ctx, clg_tensor_set(g, tb, b, N));
    CHECK_OK(ctx, clg_tensor_set(g, w, ones, N));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    float got[N];
    const float want_max[N] = {1, 3, nan, nan, 5, -0.0f}, want_min[N] = {1, 2, nan, nan, 4, -0.0f};
    CHECK_OK(ctx, clg_tensor_get(g, mx, got, N));
    assert_same(got, want_max, N, "maximum", spec);
    CHECK_OK(ctx, clg_tensor_get(g, mn, got, N));
    assert_same(got, want_min, N, "minimum", spec);
    /* d/da: maximum's share + 10 x minimum's: a tie 0.5 + 5, a NaN 1 + 10 */
    const float want_ga[N] = {5.5f, 10, 11, 11, 1, 5.5f}, want_gb[N] = {5.5f, 1, 11, 11, 10, 5.5f};
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, ta), got, N));
    assert_same(got, want_ga, N, "d/da of maximum and minimum", spec);
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tb), got, N));
    assert_same(got, want_gb, N, "d/db of maximum and minimum", spec);
    static const float want_cmp[6][N] = {
        {0, 1, 0, 0, 0, 0}, /* lt */
        {1, 1, 0, 0, 0, 1}, /* le: -0 <= +0 */
        {0, 0, 0, 0, 1, 0}, /* gt */
        {1, 0, 0, 0, 1, 1}, /* ge */
        {1, 0, 0, 0, 0, 1}, /* eq */
        {0, 1, 1, 1, 1, 0}, /* ne: true with a NaN */
    };
    static const char *const names[6] = {"lt", "le", "gt", "ge", "eq", "ne"};
    for (int op = 0; op < 6; op++) {
        CHECK_OK(ctx, clg_tensor_get(g, cmp[op], got, N));
        assert_same(got, want_cmp[op], N, names[op], spec);
    }
    clg_context_destroy(ctx);
}

static void where_on(const char *spec)
{
    const float nan = NAN;
    const float c[N] = {1, 0, nan, -2, 0, 0.5f}, a[N] = {1, nan, 3, 4, 5, 6}, b[N] = {-1, -2, nan, -4, -5, nan};
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = N, two[2] = {2, N};
    clg_tensor tc = clg_input(g, 1, &n), ta = clg_param(g, 1, &n), tb = clg_param(g, 1, &n);
    clg_tensor y = clg_where(g, tc, ta, tb);
    /* broadcast: a [2, N] condition over both; each value row used twice */
    clg_tensor c2 = clg_input(g, 2, two), y2 = clg_where(g, c2, ta, clg_scalar(g, 7.0f));
    clg_tensor w = clg_input(g, 1, &n);
    clg_tensor l = clg_add(g, clg_sum(g, clg_mul(g, y, w)), clg_scale(g, clg_sum(g, clg_mul(g, y2, w)), 100.0f));
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_tensor_keep(g, y2));
    CHECK_OK(ctx, clg_backward(g, l));
    const float wv[N] = {1, 2, 3, 4, 5, 6}, cc[2 * N] = {1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0};
    CHECK_OK(ctx, clg_tensor_set(g, tc, c, N));
    CHECK_OK(ctx, clg_tensor_set(g, ta, a, N));
    CHECK_OK(ctx, clg_tensor_set(g, tb, b, N));
    CHECK_OK(ctx, clg_tensor_set(g, c2, cc, 2 * N));
    CHECK_OK(ctx, clg_tensor_set(g, w, wv, N));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    float got[2 * N];
    const float want[N] = {1, -2, 3, 4, -5, 6}, want2[2 * N] = {1, nan, 7, 7, 5, 7, 7, nan, 7, 7, 5, 7};
    CHECK_OK(ctx, clg_tensor_get(g, y, got, N));
    assert_same(got, want, N, "where", spec);
    CHECK_OK(ctx, clg_tensor_get(g, y2, got, 2 * N));
    assert_same(got, want2, 2 * N, "where, broadcast", spec);
    /* da = w where c (NaN counts) + 100 w times the rows of c2 holding;
     * db = w where not c; the NaN values not taken give no NaN */
    const float want_ga[N] = {1 + 100, 0 + 2 * 200, 3, 4, 0 + 2 * 500, 6}, want_gb[N] = {0, 2, 0, 0, 5, 0};
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, ta), got, N));
    assert_same(got, want_ga, N, "d/da of where", spec);
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tb), got, N));
    assert_same(got, want_gb, N, "d/db of where", spec);
    clg_context_destroy(ctx);
}

static void test_maximum_minimum_compare_edges(void **state)
{
    (void)state;
    for_each_device(edges_on);
}

static void test_where_edges(void **state)
{
    (void)state;
    for_each_device(where_on);
}

/* a refused call names the op and what is wrong, and records nothing
 * (the graph's tensor count stays) */
static void test_refusals(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t s3 = 3, s4[2] = {4, 5};
        clg_tensor a = clg_input(g, 1, &s3), b = clg_input(g, 2, s4), lab = clg_labels(g, 1, &s3);
        const int32_t before = clg_graph_tensor_count(g);
        clg_tensor y = k == 0   ? clg_compare(g, a, a, (clg_comparison)6)
                       : k == 1 ? clg_maximum(g, a, b)
                       : k == 2 ? clg_where(g, a, b, a)
                                : clg_where(g, lab, a, a);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_tensor_count(g), before);
        static const clg_status want[4] = {CLG_ERR_INVALID_ARGUMENT, CLG_ERR_SHAPE, CLG_ERR_SHAPE,
                                           CLG_ERR_INVALID_ARGUMENT};
        static const char *const says[4][2] = {{"compare", "comparison 6"},
                                               {"maximum", "[3] and [4,5]"},
                                               {"where", "[4,5] and [3]"},
                                               {"where", "float"}};
        assert_int_equal(clg_graph_status(g), want[k]);
        ASSERT_MSG_HAS(ctx, says[k][0]);
        ASSERT_MSG_HAS(ctx, says[k][1]);
        clg_context_destroy(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maximum_minimum_compare_edges),
        cmocka_unit_test(test_where_edges),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
