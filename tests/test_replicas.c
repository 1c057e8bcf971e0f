/*
 * Data parallelism in one process (clg_replicas, core/replicas.c): n
 * replicas with batch B/n each take the steps one graph takes with batch B.
 * An MLP and a small CNN (no batch norm: its statistics are per replica),
 * SGD with momentum, three steps; the replicas on the reference, on every
 * OpenCL device (two contexts on one device), and mixed (reference and a
 * device), against one reference graph: parameters within 1e-5 relative
 * plus 1e-6 of the largest (the averaged gradient differs from the whole
 * batch's by the rounding of the two means, a few ulp; three steps of lr
 * 0.1 carry that into the weights). Two runs of the same replicas agree
 * bit for bit. Replica 0's parameters reach the others at create; the
 * refusals (parameters that differ, no backward, accumulation, a graph
 * twice) change nothing.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 8, IN = 6, HID = 8, OUT = 3, STEPS = 3, MAXP = 4, MAXW = 512 };

typedef struct {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor x, labels, p[MAXP];
    int np, batch;
} model;

/* cnn: x [b, 1, 5, 5], conv 3x3 (2 channels, padding 1), relu, [b, 50] x
 * [50, 3]; else x [b, 6], [6, 8] + [8], relu, [8, 3] + [3]. */
static void build(model *m, const char *spec, int batch, bool cnn)
{
    memset(m, 0, sizeof *m);
    m->ctx = open_ctx(spec);
    m->batch = batch;
    CHECK_OK(m->ctx, clg_graph_create(m->ctx, &m->g));
    clg_graph *g = m->g;
    const int64_t nb = batch;
    m->labels = clg_labels(g, 1, &nb);
    clg_tensor logits;
    if (cnn) {
        const int64_t xs[4] = {batch, 1, 5, 5}, ws[4] = {2, 1, 3, 3}, two = 2, fc[2] = {50, OUT}, flat[2] = {batch, 50};
        m->x = clg_input(g, 4, xs);
        m->p[0] = clg_param(g, 4, ws);
        m->p[1] = clg_param(g, 1, &two);
        m->p[2] = clg_param(g, 2, fc);
        m->np = 3;
        clg_tensor h = clg_relu(g, clg_conv2d(g, m->x, m->p[0], m->p[1], 1, 1, 1, 1, 1, 1));
        logits = clg_matmul(g, clg_reshape(g, h, 2, flat), m->p[2], 0, 0);
    } else {
        const int64_t xs[2] = {batch, IN}, w1[2] = {IN, HID}, b1 = HID, w2[2] = {HID, OUT}, b2 = OUT;
        m->x = clg_input(g, 2, xs);
        m->p[0] = clg_param(g, 2, w1);
        m->p[1] = clg_param(g, 1, &b1);
        m->p[2] = clg_param(g, 2, w2);
        m->p[3] = clg_param(g, 1, &b2);
        m->np = 4;
        clg_tensor h = clg_relu(g, clg_add(g, clg_matmul(g, m->x, m->p[0], 0, 0), m->p[1]));
        logits = clg_add(g, clg_matmul(g, h, m->p[2], 0, 0), m->p[3]);
    }
    clg_tensor loss = clg_softmax_cross_entropy(g, logits, m->labels);
    CHECK_OK(m->ctx, clg_backward(g, loss));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    CHECK_OK(m->ctx, clg_optimizer(g, &c));
}

static void destroy(model *m) { clg_context_destroy(m->ctx); }

static size_t numel(const model *m, int k) { return (size_t)clg_tensor_numel(m->g, m->p[k]); }

static void init_params(model *m, uint64_t seed)
{
    rng_t r = {seed};
    float v[MAXW];
    for (int k = 0; k < m->np; k++) {
        rng_fill(&r, v, numel(m, k), 0.1, 0.6, false);
        CHECK_OK(m->ctx, clg_tensor_set(m->g, m->p[k], v, numel(m, k)));
    }
}

/* Step s's batch of B rows; rows [first, first + m->batch) into m. */
static void feed(model *m, int s, int first, bool cnn)
{
    const int per = cnn ? 25 : IN;
    float x[B * 25];
    int32_t l[B];
    rng_t r = {1000 + (uint64_t)s};
    rng_fill(&r, x, (size_t)(B * per), 0.1, 2.0, false);
    for (int i = 0; i < B; i++) l[i] = (int32_t)(rng_next(&r) % OUT);
    CHECK_OK(m->ctx, clg_tensor_set(m->g, m->x, x + first * per, (size_t)(m->batch * per)));
    CHECK_OK(m->ctx, clg_tensor_set_i32(m->g, m->labels, l + first, (size_t)m->batch));
}

static size_t params(model *m, float *out)
{
    size_t k = 0;
    for (int p = 0; p < m->np; p++) {
        CHECK_OK(m->ctx, clg_tensor_get(m->g, m->p[p], out + k, numel(m, p)));
        k += numel(m, p);
    }
    return k;
}

/* n replicas on specs[i] (batch B / n each), STEPS steps; their parameters
 * (checked equal across replicas) into out. */
static size_t train_replicas(const char *const *specs, int n, bool cnn, float *out)
{
    model m[4];
    clg_graph *gs[4];
    for (int i = 0; i < n; i++) {
        build(&m[i], specs[i], B / n, cnn);
        init_params(&m[i], i == 0 ? 7 : 100 + (uint64_t)i); /* replica 0's reach the others */
        gs[i] = m[i].g;
    }
    clg_replicas *r;
    CHECK_OK(m[0].ctx, clg_replicas_create(gs, n, &r));
    assert_int_equal(clg_replicas_count(r), n);
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < n; i++) feed(&m[i], s, i * (B / n), cnn);
        CHECK_OK(m[0].ctx, clg_replicas_step(r));
    }
    size_t k = params(&m[0], out);
    float other[MAXW];
    for (int i = 1; i < n; i++) {
        assert_int_equal(params(&m[i], other), k);
        if (memcmp(other, out, k * sizeof *out))
            fail_msg("replica %d on %s differs from replica 0 on %s", i, specs[i], specs[0]);
    }
    clg_replicas_destroy(r);
    for (int i = 0; i < n; i++) destroy(&m[i]);
    return k;
}

static size_t train_one(bool cnn, float *out)
{
    model m;
    build(&m, "reference", B, cnn);
    init_params(&m, 7);
    for (int s = 0; s < STEPS; s++) {
        feed(&m, s, 0, cnn);
        CHECK_OK(m.ctx, clg_graph_run(m.g, CLG_RUN_ALL));
    }
    size_t k = params(&m, out);
    destroy(&m);
    return k;
}

static void check(const char *const *specs, int n, bool cnn)
{
    float want[MAXW], got[MAXW], again[MAXW];
    const size_t k = train_one(cnn, want);
    assert_int_equal(train_replicas(specs, n, cnn, got), k);
    char what[160];
    snprintf(what, sizeof what, "%s, %d replicas (%s, %s...) against one graph", cnn ? "cnn" : "mlp", n, specs[0],
             specs[1]);
    assert_close_scaled(got, want, k, 1e-5, 1e-6, what);
    /* and moved: the comparison says something */
    float init[MAXW];
    model m;
    build(&m, "reference", B, cnn);
    init_params(&m, 7);
    params(&m, init);
    destroy(&m);
    double moved = 0;
    for (size_t i = 0; i < k; i++) moved += (got[i] - init[i]) * (got[i] - init[i]);
    assert_true(moved > 1e-4);
    assert_int_equal(train_replicas(specs, n, cnn, again), k);
    if (memcmp(again, got, k * sizeof *got)) fail_msg("%s: two runs differ", what);
}

static void test_reference_replicas(void **state)
{
    (void)state;
    const char *const two[2] = {"reference", "reference"}, *const four[4] = {"reference", "reference", "reference",
                                                                              "reference"};
    check(two, 2, false);
    check(four, 4, false);
    check(two, 2, true);
}

static void test_device_replicas(void **state)
{
    (void)state;
    char specs[8][32];
    const int nd = test_opencl_devices(specs, 8);
    for (int d = 0; d < nd; d++) {
        const char *const same[2] = {specs[d], specs[d]}, *const mixed[2] = {"reference", specs[d]};
        check(same, 2, false);
        check(same, 2, true);
        check(mixed, 2, false);
    }
}

/* Refused: nothing changes (the parameters of replica 1 stay its own). */
static void test_refusals(void **state)
{
    (void)state;
    model a, b, c;
    build(&a, "reference", 4, false);
    build(&b, "reference", 4, true); /* another model */
    init_params(&a, 1);
    init_params(&b, 2);
    float before[MAXW], after[MAXW];
    const size_t nb = params(&b, before);
    clg_replicas *r = (clg_replicas *)&r;
    clg_graph *ab[2] = {a.g, b.g}, *aa[2] = {a.g, a.g};
    assert_int_equal(clg_replicas_create(ab, 2, &r), CLG_ERR_SHAPE);
    assert_null(r);
    ASSERT_MSG_HAS(a.ctx, "replica 1 has 3 parameters, replica 0 has 4");
    assert_int_equal(params(&b, after), nb);
    assert_memory_equal(before, after, nb * sizeof *before);
    assert_int_equal(clg_replicas_create(aa, 2, &r), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(a.ctx, "replica 1 is replica 0 again");
    assert_int_equal(clg_replicas_create(ab, 0, &r), CLG_ERR_INVALID_ARGUMENT); /* no graph to tell */
    assert_int_equal(clg_replicas_create(NULL, 2, &r), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_replicas_step(NULL), CLG_ERR_INVALID_ARGUMENT);
    clg_replicas_destroy(NULL);

    /* a parameter of another shape: named in the message */
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &c.g));
    c.ctx = NULL;
    const int64_t w1[2] = {IN, HID + 1}, b1 = HID + 1, w2[2] = {HID + 1, OUT}, b2 = OUT;
    clg_tensor p0 = clg_param(c.g, 2, w1);
    CHECK_OK(a.ctx, clg_tensor_set_name(c.g, p0, "fc1.weight"));
    clg_tensor q[3] = {clg_param(c.g, 1, &b1), clg_param(c.g, 2, w2), clg_param(c.g, 1, &b2)};
    const int64_t xs[2] = {4, IN};
    clg_tensor y = clg_matmul(c.g, clg_input(c.g, 2, xs), p0, 0, 0);
    y = clg_matmul(c.g, clg_relu(c.g, clg_add(c.g, y, q[0])), q[1], 0, 0);
    CHECK_OK(a.ctx, clg_backward(c.g, clg_sum(c.g, clg_add(c.g, y, q[2]))));
    clg_graph *ac[2] = {a.g, c.g};
    assert_int_equal(clg_replicas_create(ac, 2, &r), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(a.ctx, "replica 1: parameter 0 ('fc1.weight') is [6,9], replica 0's ('') [6,8]");

    /* no backward; gradient accumulation */
    clg_graph *nb_g;
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &nb_g));
    clg_param(nb_g, 2, w1);
    clg_graph *an[2] = {a.g, nb_g};
    assert_int_equal(clg_replicas_create(an, 2, &r), CLG_ERR_STATE);
    ASSERT_MSG_HAS(a.ctx, "replica 1 has no backward");
    clg_graph *acc;
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &acc));
    const int64_t one = 1;
    clg_tensor p = clg_param(acc, 1, &one);
    CHECK_OK(a.ctx, clg_backward(acc, clg_sum(acc, clg_square(acc, p))));
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
    cfg.accumulate = 1;
    CHECK_OK(a.ctx, clg_optimizer(acc, &cfg));
    clg_graph *solo[1] = {acc};
    assert_int_equal(clg_replicas_create(solo, 1, &r), CLG_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS(a.ctx, "accumulates gradients");
    destroy(&a);
    destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_replicas),
        cmocka_unit_test(test_device_replicas),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
