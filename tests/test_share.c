/*
 * An evaluation graph that shares a training graph's parameters
 * (clg_tensor_share) and batch norm statistics (clg_batch_norm_share_state)
 * at another batch size, on every device: its outputs follow the training
 * graph's values as it trains (no copies), against the same network written
 * here in double; it outlives the training graph; bad pairs are refused and
 * change nothing.
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { NT = 8, NE = 3, IN = 5, OUT = 4 };

typedef struct net {
    clg_graph *g;
    clg_tensor x, target, w, b, gamma, beta, y;
} net;

static void build(clg_context *ctx, net *m, int n, bool train)
{
    const int64_t xs[2] = {n, IN}, ys[2] = {n, OUT}, ws[2] = {OUT, IN}, c = OUT;
    CHECK_OK(ctx, clg_graph_create(ctx, &m->g));
    m->x = clg_input(m->g, 2, xs);
    m->w = clg_param(m->g, 2, ws);
    m->b = clg_param(m->g, 1, &c);
    m->gamma = clg_param(m->g, 1, &c);
    m->beta = clg_param(m->g, 1, &c);
    m->y = clg_batch_norm(m->g, clg_linear(m->g, m->x, m->w, m->b), m->gamma, m->beta, 0.1f, 1e-5f);
    CHECK_OK(ctx, clg_tensor_keep(m->g, m->y));
    if (train) {
        m->target = clg_input(m->g, 2, ys);
        clg_tensor d = clg_sub(m->g, m->y, m->target);
        CHECK_OK(ctx, clg_backward(m->g, clg_mean(m->g, clg_square(m->g, d))));
        clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        cfg.lr = 0.05f;
        CHECK_OK(ctx, clg_optimizer(m->g, &cfg));
    }
    CHECK_OK(ctx, clg_graph_status(m->g));
}

/* The evaluation network in double from the training graph's values. */
static void expected(clg_context *ctx, const net *t, const float *x, double *want)
{
    float w[OUT * IN], b[OUT], gm[OUT], bt[OUT], rm[OUT], rv[OUT];
    CHECK_OK(ctx, clg_tensor_get(t->g, t->w, w, OUT * IN));
    CHECK_OK(ctx, clg_tensor_get(t->g, t->b, b, OUT));
    CHECK_OK(ctx, clg_tensor_get(t->g, t->gamma, gm, OUT));
    CHECK_OK(ctx, clg_tensor_get(t->g, t->beta, bt, OUT));
    CHECK_OK(ctx, clg_batch_norm_running(t->g, t->y, rm, rv, OUT));
    for (int r = 0; r < NE; r++)
        for (int o = 0; o < OUT; o++) {
            double h = b[o];
            for (int i = 0; i < IN; i++) h += (double)x[r * IN + i] * w[o * IN + i];
            want[r * OUT + o] = gm[o] * (h - rm[o]) / sqrt((double)rv[o] + 1e-5) + bt[o];
        }
}

static void check(clg_context *ctx, const net *e, const double *want, const char *spec, const char *when)
{
    float got[NE * OUT];
    CHECK_OK(ctx, clg_graph_run(e->g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(e->g, e->y, got, NE * OUT));
    char what[160];
    snprintf(what, sizeof what, "evaluation graph on %s, %s", spec, when);
    double m = 0;
    for (int i = 0; i < NE * OUT; i++) m = fmax(m, fabs(want[i]));
    /* a sum of IN products, then a few operations; h - mean may cancel */
    assert_close_d(got, want, NE * OUT, 4e-6, 2e-6 * m, what);
}

static void share_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    net t, e;
    build(ctx, &t, NT, true);
    build(ctx, &e, NE, false);
    CHECK_OK(ctx, clg_graph_set_training(e.g, 0));
    const clg_tensor mine[4] = {e.w, e.b, e.gamma, e.beta}, theirs[4] = {t.w, t.b, t.gamma, t.beta};
    for (int k = 0; k < 4; k++) CHECK_OK(ctx, clg_tensor_share(e.g, mine[k], t.g, theirs[k]));
    CHECK_OK(ctx, clg_batch_norm_share_state(e.g, e.y, t.g, t.y));

    rng_t r = {31};
    float xt[NT * IN], yt[NT * OUT], w[OUT * IN], xe[NE * IN], one[OUT];
    rng_fill(&r, xt, NT * IN, 0.1, 2, false);
    rng_fill(&r, yt, NT * OUT, 0.1, 1, false);
    rng_fill(&r, w, OUT * IN, 0.1, 0.5, false);
    rng_fill(&r, xe, NE * IN, 0.1, 2, false);
    for (int o = 0; o < OUT; o++) one[o] = 1.0f;
    CHECK_OK(ctx, clg_tensor_set(t.g, t.x, xt, NT * IN));
    CHECK_OK(ctx, clg_tensor_set(t.g, t.target, yt, NT * OUT));
    CHECK_OK(ctx, clg_tensor_set(t.g, t.w, w, OUT * IN));
    CHECK_OK(ctx, clg_tensor_set(e.g, e.gamma, one, OUT)); /* through the evaluation graph: the same storage */
    CHECK_OK(ctx, clg_tensor_set(e.g, e.x, xe, NE * IN));

    double want[NE * OUT], first[NE * OUT];
    for (int s = 0; s < 3; s++) CHECK_OK(ctx, clg_graph_run(t.g, CLG_RUN_ALL));
    expected(ctx, &t, xe, first);
    check(ctx, &e, first, spec, "after 3 training steps");
    for (int s = 0; s < 2; s++) CHECK_OK(ctx, clg_graph_run(t.g, CLG_RUN_ALL));
    expected(ctx, &t, xe, want);
    bool moved = false;
    for (int i = 0; i < NE * OUT; i++) moved |= want[i] != first[i];
    assert_true(moved); /* so that following them is a check */
    check(ctx, &e, want, spec, "after 5 training steps");

    /* bad pairs change nothing */
    assert_int_equal(clg_tensor_share(e.g, e.w, t.g, t.b), CLG_ERR_SHAPE);
    assert_int_equal(clg_tensor_share(e.g, e.w, t.g, t.y), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "not a leaf"));
    assert_int_equal(clg_batch_norm_share_state(e.g, e.y, t.g, t.w), CLG_ERR_INVALID_ARGUMENT);
    clg_context *other = open_ctx(spec);
    net o;
    build(other, &o, NE, false);
    assert_int_equal(clg_tensor_share(o.g, o.w, t.g, t.w), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(other), "different contexts"));
    clg_context_destroy(other);
    check(ctx, &e, want, spec, "after the refused calls");

    /* the evaluation graph outlives the training graph */
    clg_graph_destroy(t.g);
    check(ctx, &e, want, spec, "with the training graph destroyed");
    clg_context_destroy(ctx);
}

static void test_share(void **state)
{
    (void)state;
    for_each_device(share_on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_share)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
