/*
 * Memory planning (core/plan.c) against no planning (CLGRAD_PLAN=off, every
 * tensor its own buffer), on every device: training steps of an MLP and a
 * CNN, and random graphs of 20 to 200 ops, must give bitwise identical
 * losses and parameters, since planning changes where values live and
 * never how they are computed. The random graphs are also checked against
 * the reference backend. Reading a tensor planned away is an error that
 * names it; a kept one reads back; the plan uses less memory. The planned
 * graphs also run the backend's compiled plan (vtable plan_build), whose
 * nodes must follow what changes between runs: the optimizer's step
 * constants, dropout's counter, the training flag. Each way of packing
 * the arena (in run order, by size) is forced in some of them.
 */
#include "util.h"
#include "internal.h" /* the graph's plan_on: see new_graph */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builds the same graph whether planned or not. The switch is the graph's
 * own flag (what CLGRAD_PLAN=off sets when a graph is made), set before
 * anything is recorded: changing the environment here would race PoCL's
 * threads, which call getenv while they run kernels. */
static clg_graph *new_graph(clg_context *ctx, bool planned)
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    g->plan_on = planned;
    return g;
}

typedef struct {
    clg_graph *g;
    clg_tensor loss;
    clg_tensor params[8];
    int np;
    clg_tensor x;
    clg_tensor y;
} net;

static clg_tensor param(net *n, int ndim, const int64_t *shape, uint64_t seed)
{
    clg_tensor t = clg_param(n->g, ndim, shape);
    clg_init_kaiming_uniform(n->g, t, seed);
    n->params[n->np++] = t;
    return t;
}

/* conv(3x3, 4) -> batch norm -> relu -> max-pool -> linear, or an MLP */
static net build(clg_context *ctx, bool planned, bool cnn, int batch)
{
    net n = {.g = new_graph(ctx, planned)};
    const int64_t ys = batch;
    n.y = clg_labels(n.g, 1, &ys);
    if (cnn) {
        const int64_t xs[4] = {batch, 1, 9, 9}, ws[4] = {4, 1, 3, 3}, cs = 4, fs[2] = {5, 4 * 4 * 4}, bs = 5;
        n.x = clg_input(n.g, 4, xs);
        clg_tensor w = param(&n, 4, ws, 1), gamma = param(&n, 1, &cs, 2), beta = param(&n, 1, &cs, 3);
        clg_tensor h = clg_conv2d(n.g, n.x, w, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
        h = clg_max_pool2d(n.g, clg_relu(n.g, clg_batch_norm(n.g, h, gamma, beta, 0.1f, 1e-5f)), 2, 2, 2, 2, 0, 0);
        const int64_t flat[2] = {batch, 4 * 4 * 4};
        clg_tensor fw = param(&n, 2, fs, 4), fb = param(&n, 1, &bs, 5);
        n.loss = clg_softmax_cross_entropy(n.g, clg_linear(n.g, clg_reshape(n.g, h, 2, flat), fw, fb), n.y);
    } else {
        const int64_t xs[2] = {batch, 12}, w1s[2] = {16, 12}, b1s = 16, w2s[2] = {5, 16}, b2s = 5;
        n.x = clg_input(n.g, 2, xs);
        clg_tensor w1 = param(&n, 2, w1s, 1), b1 = param(&n, 1, &b1s, 2), gamma = param(&n, 1, &b1s, 6);
        clg_tensor w2 = param(&n, 2, w2s, 3), b2 = param(&n, 1, &b2s, 4);
        /* batch norm's backward reads its input, which nothing else reads
         * after the forward pass: the plan must keep it */
        clg_tensor h = clg_linear(n.g, n.x, w1, b1);
        if (batch > 1) h = clg_batch_norm(n.g, h, gamma, b1, 0.1f, 1e-5f);
        h = clg_gelu(n.g, h);
        n.loss = clg_softmax_cross_entropy(n.g, clg_linear(n.g, clg_dropout(n.g, h, 0.2f, 7), w2, b2), n.y);
    }
    CHECK_OK(ctx, clg_graph_status(n.g));
    CHECK_OK(ctx, clg_backward(n.g, n.loss));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c.lr = 0.01f;
    c.max_grad_norm = 1.0f;
    CHECK_OK(ctx, clg_optimizer(n.g, &c));
    return n;
}

/* Three steps; the losses then every parameter, into out. */
static size_t train(clg_context *ctx, net *n, bool cnn, int batch, float *out)
{
    int64_t nx = clg_tensor_numel(n->g, n->x);
    float *x = malloc((size_t)nx * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    rng_t r = {cnn ? 11u : 12u};
    size_t k = 0;
    for (int step = 0; step < 3; step++) {
        rng_fill(&r, x, (size_t)nx, 0.05, 1.5, false);
        for (int i = 0; i < batch; i++) y[i] = (int32_t)(rng_next(&r) % 5);
        CHECK_OK(ctx, clg_tensor_set(n->g, n->x, x, (size_t)nx));
        CHECK_OK(ctx, clg_tensor_set_i32(n->g, n->y, y, (size_t)batch));
        CHECK_OK(ctx, clg_graph_run(n->g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(n->g, n->loss, &out[k++], 1));
        if (step == 1) {
            /* an evaluation between steps: the backend's plan, built in
             * training mode, must follow the flag there and back */
            CHECK_OK(ctx, clg_graph_set_training(n->g, 0));
            CHECK_OK(ctx, clg_graph_run(n->g, CLG_RUN_FORWARD));
            CHECK_OK(ctx, clg_tensor_get(n->g, n->loss, &out[k++], 1));
            CHECK_OK(ctx, clg_graph_set_training(n->g, 1));
        }
    }
    /* a planned graph on the OpenCL backend runs its compiled plan (the
     * path under test), an unplanned one node by node */
    if (strcmp(ctx->be->vt->kind, "opencl") == 0) assert_true((n->g->be_plan != NULL) == n->g->plan_on);
    for (int p = 0; p < n->np; p++) {
        size_t c = (size_t)clg_tensor_numel(n->g, n->params[p]);
        CHECK_OK(ctx, clg_tensor_get(n->g, n->params[p], &out[k], c));
        k += c;
    }
    free(x);
    free(y);
    return k;
}

static void networks_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    float *a = malloc(4096 * sizeof *a), *b = malloc(4096 * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (int cnn = 0; cnn < 2; cnn++)
        for (int batch = 1; batch <= 13; batch += 12) {
            net planned = build(ctx, true, cnn, batch), plain = build(ctx, false, cnn, batch);
            /* the smallest plan at batch 1; at 13, the arena packed by size */
            planned.g->plan_packing = batch == 13 ? 2 : 0;
            size_t na = train(ctx, &planned, cnn, batch, a), nb = train(ctx, &plain, cnn, batch, b);
            assert_int_equal(na, nb);
            assert_true(na <= 4096);
            for (size_t i = 0; i < na; i++)
                if (memcmp(&a[i], &b[i], sizeof *a))
                    fail_msg("%s %s batch %d: value %zu planned %.9g, unplanned %.9g", spec, cnn ? "cnn" : "mlp",
                             batch, i, (double)a[i], (double)b[i]);
            clg_memory mp, mu;
            CHECK_OK(ctx, clg_graph_memory(planned.g, &mp));
            CHECK_OK(ctx, clg_graph_memory(plain.g, &mu));
            assert_true(mp.total < mu.total);
            assert_true(mu.total == mu.unplanned_total);
            assert_true(mp.unplanned_total == mu.unplanned_total);
            assert_true(mp.parameters == mu.parameters && mp.optimizer_state == mu.optimizer_state);
            clg_graph_destroy(planned.g);
            clg_graph_destroy(plain.g);
        }
    free(a);
    free(b);
    clg_context_destroy(ctx);
}

static void test_networks_planned_equal_unplanned(void **s)
{
    for_each_device(networks_on);
}

/* ---- random graphs ---- */

#define MAXT 256

typedef struct {
    clg_graph *g;
    clg_tensor t[MAXT];
    int nt;
    clg_tensor params[4], loss;
} rgraph;

static clg_tensor pick(rgraph *r, rng_t *q)
{
    return r->t[rng_next(q) % (uint64_t)r->nt];
}

/* A random graph of nops ops over three parameters of shapes [R,C], [C]
 * and [C,R] and an input [R,C]; every op keeps values bounded (tanh and
 * sigmoid between the unbounded ones) so that any composition stays finite. */
static void rbuild(rgraph *r, clg_context *ctx, bool planned, uint64_t seed, int nops)
{
    enum { R = 6, C = 5 };
    memset(r, 0, sizeof *r);
    r->g = new_graph(ctx, planned);
    const int64_t rc[2] = {R, C}, c1 = C, cr[2] = {C, R}, ls = R;
    clg_tensor x = clg_input(r->g, 2, rc);
    r->params[0] = clg_param(r->g, 2, rc);
    r->params[1] = clg_param(r->g, 1, &c1);
    r->params[2] = clg_param(r->g, 2, cr);
    clg_tensor labels = clg_labels(r->g, 1, &ls);
    r->params[3] = labels;
    clg_graph *g = r->g;
    r->t[r->nt++] = clg_tanh(g, clg_add(g, x, r->params[0]));
    r->t[r->nt++] = clg_mul(g, x, r->params[1]);
    rng_t q = {seed};
    for (int k = 0; k < nops && r->nt < MAXT; k++) {
        clg_tensor a = pick(r, &q), b = pick(r, &q), y = CLG_NO_TENSOR;
        int ra = clg_tensor_ndim(g, a);
        int64_t a0 = clg_tensor_dim(g, a, 0), a1 = ra > 1 ? clg_tensor_dim(g, a, 1) : 1;
        switch (rng_next(&q) % 13) {
        case 0: y = clg_add(g, a, b); break; /* fails cleanly when shapes do not broadcast */
        case 1: y = clg_sub(g, a, clg_sum(g, b)); break;
        case 2: y = clg_mul(g, a, clg_sigmoid(g, b)); break;
        case 3: y = clg_tanh(g, a); break;
        case 4: y = ra == 2 ? clg_sum_axis(g, a, (int)(rng_next(&q) % 2), 1) : clg_scale(g, a, 0.5f); break;
        case 5: y = ra == 2 ? clg_max_axis(g, a, (int)(rng_next(&q) % 2), 1) : clg_relu(g, a); break;
        case 6: y = ra == 2 ? clg_transpose(g, a, 0, 1) : clg_neg(g, a); break;
        case 7: {
            const int64_t flat = a0 * a1;
            y = clg_reshape(g, a, 1, &flat);
            break;
        }
        case 8: y = ra == 2 && a1 == C ? clg_matmul(g, a, r->params[2], 0, 0) : clg_square(g, a); break;
        case 9: y = ra == 2 && a0 == R ? clg_matmul(g, a, a, 1, 0) : clg_mean(g, a); break;
        case 10: y = clg_sigmoid(g, clg_mean_axis(g, a, 0, ra == 2)); break;
        case 11:
            /* its backward reads its input through the node: see core/plan.c */
            y = ra == 2 && a1 == C && a0 > 1 ? clg_tanh(g, clg_batch_norm(g, clg_mul(g, a, r->params[1]), r->params[1], r->params[1], 0.1f, 1e-3f))
                                   : clg_sigmoid(g, a);
            break;
        default: y = ra == 2 && a1 > 1 ? clg_softmax(g, a, 1) : clg_tanh(g, clg_scale(g, a, 2.0f)); break;
        }
        if (y.id >= 0) r->t[r->nt++] = y;
    }
    clg_graph_clear_status(g); /* the shape mismatches above were refused, and changed nothing */
    /* the loss reads many of them: a mean of each of the last eight, and a
     * cross-entropy of an [R,C] one */
    clg_tensor loss = clg_softmax_cross_entropy(g, r->t[0], labels);
    for (int k = r->nt - 8; k < r->nt; k++) loss = clg_add(g, loss, clg_mean(g, r->t[k > 0 ? k : 0]));
    r->loss = loss;
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_backward(g, loss));
    CHECK_OK(ctx, clg_sgd(g, 0.05f));
}

/* Two steps; losses then parameters into out. */
static size_t rrun(clg_context *ctx, rgraph *r, uint64_t seed, float *out)
{
    enum { R = 6, C = 5 };
    float x[R * C], p0[R * C], p1[C], p2[C * R];
    int32_t y[R];
    rng_t q = {seed * 7 + 1};
    rng_fill(&q, x, R * C, 0.1, 1.0, false);
    rng_fill(&q, p0, R * C, 0.1, 1.0, false);
    rng_fill(&q, p1, C, 0.1, 1.0, false);
    rng_fill(&q, p2, C * R, 0.1, 1.0, false);
    for (int i = 0; i < R; i++) y[i] = (int32_t)(rng_next(&q) % C);
    CHECK_OK(ctx, clg_tensor_set(r->g, clg_graph_tensor(r->g, 0), x, R * C));
    CHECK_OK(ctx, clg_tensor_set(r->g, r->params[0], p0, R * C));
    CHECK_OK(ctx, clg_tensor_set(r->g, r->params[1], p1, C));
    CHECK_OK(ctx, clg_tensor_set(r->g, r->params[2], p2, C * R));
    CHECK_OK(ctx, clg_tensor_set_i32(r->g, r->params[3], y, R));
    size_t k = 0;
    for (int step = 0; step < 2; step++) {
        CHECK_OK(ctx, clg_graph_run(r->g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(r->g, r->loss, &out[k++], 1));
    }
    CHECK_OK(ctx, clg_tensor_get(r->g, r->params[0], &out[k], R * C));
    k += R * C;
    CHECK_OK(ctx, clg_tensor_get(r->g, r->params[1], &out[k], C));
    k += C;
    CHECK_OK(ctx, clg_tensor_get(r->g, r->params[2], &out[k], C * R));
    return k + C * R;
}

static void random_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec), *ref = open_ctx("reference");
    float a[128], b[128], c[128];
    for (uint64_t seed = 1; seed <= 12; seed++) {
        int nops = 20 + (int)((seed * 37) % 181);
        rgraph p, u, rr;
        rbuild(&p, ctx, true, seed, nops);
        /* each arena packing in turn, forced (a backend that makes views) */
        p.g->plan_packing = (int)(seed % 3);
        rbuild(&u, ctx, false, seed, nops);
        rbuild(&rr, ref, true, seed, nops);
        assert_int_equal(clg_graph_tensor_count(p.g), clg_graph_tensor_count(u.g));
        if (seed == 1 || seed == 12) printf("%s: random graph %llu: %d ops asked, %d recorded in all (backward and update included)\n", spec, (unsigned long long)seed, nops, (int)clg_graph_tensor_count(p.g));
        size_t n = rrun(ctx, &p, seed, a);
        assert_int_equal(rrun(ctx, &u, seed, b), n);
        assert_int_equal(rrun(ref, &rr, seed, c), n);
        for (size_t i = 0; i < n; i++)
            if (memcmp(&a[i], &b[i], sizeof *a))
                fail_msg("%s, random graph %llu (%d ops): value %zu planned %.9g, unplanned %.9g", spec,
                         (unsigned long long)seed, nops, i, (double)a[i], (double)b[i]);
        /* against the reference: each op within a few ulps (the suite's
         * per-op bounds), composed over up to 200 ops and two steps */
        assert_close_scaled(a, c, n, 1e-4, 1e-5, "random graph against the reference");
        clg_graph_destroy(p.g);
        clg_graph_destroy(u.g);
        clg_graph_destroy(rr.g);
    }
    clg_context_destroy(ref);
    clg_context_destroy(ctx);
}

static void test_random_graphs(void **s)
{
    for_each_device(random_on);
}

/* Reading an intermediate planned away is an error naming it; kept, it
 * reads back; a view of a kept tensor reads back too. */
static void reads_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g = new_graph(ctx, true);
    const int64_t s = 5, s15[2] = {1, 5};
    clg_tensor x = clg_param(g, 1, &s), h = clg_exp(g, x), k = clg_tanh(g, x);
    clg_tensor v = clg_reshape(g, k, 2, s15);
    CHECK_OK(ctx, clg_tensor_keep(g, v));
    clg_tensor loss = clg_sum(g, clg_mul(g, clg_mul(g, h, h), clg_sum(g, v)));
    CHECK_OK(ctx, clg_backward(g, loss));
    float xv[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, out[5];
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, 5));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    assert_int_equal(clg_tensor_get(g, h, out, 5), CLG_ERR_STATE);
    if (!strstr(clg_context_errmsg(ctx), "clg_tensor_keep") || !strstr(clg_context_errmsg(ctx), "exp"))
        fail_msg("message: %s", clg_context_errmsg(ctx));
    assert_int_equal(clg_tensor_set(g, h, xv, 5), CLG_ERR_STATE);
    CHECK_OK(ctx, clg_tensor_get(g, v, out, 5));
    for (int i = 0; i < 5; i++) assert_true(out[i] == tanhf(xv[i]) || fabsf(out[i] - tanhf(xv[i])) < 1e-6f);
    CHECK_OK(ctx, clg_tensor_get(g, loss, out, 1));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, x), out, 5));
    /* kept now: readable from the next step on, and said so before it */
    CHECK_OK(ctx, clg_tensor_keep(g, h));
    assert_int_equal(clg_tensor_get(g, h, out, 5), CLG_ERR_STATE);
    if (!strstr(clg_context_errmsg(ctx), "next run")) fail_msg("message: %s", clg_context_errmsg(ctx));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    CHECK_OK(ctx, clg_tensor_get(g, h, out, 5));
    clg_context_destroy(ctx);
}

static void test_planned_away_reads(void **s)
{
    for_each_device(reads_on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks_planned_equal_unplanned),
        cmocka_unit_test(test_random_graphs),
        cmocka_unit_test(test_planned_away_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
