/*
 * Dynamic loss scaling (clg_optimizer_config.loss_scale: PyTorch's
 * GradScaler on the device), on every device:
 * - scaling by powers of two is exact: a scaled run with finite gradients
 *   gives the unscaled run's parameters bit for bit (SGD with momentum and
 *   clipping of the unscaled norm, Adam);
 * - skipping is exact: a run whose batches 0 and 3 hold an infinity (every
 *   gradient non-finite) ends where a run without those batches ends, bit
 *   for bit for SGD with momentum (the first momentum step is the first
 *   step taken, batch 1's), and within 2e-6 relative for Adam, whose bias
 *   corrections after a skipped step come from the device's count in float
 *   (the host's double factors otherwise); the skipped steps leave the
 *   parameters and state unchanged (a NaN would spread);
 * - the scale, growth tracker and steps taken follow PyTorch's
 *   _amp_update_scale_ step by step (written again here), including growth
 *   after an interval of good steps and the back-off from an overflowing
 *   initial scale (2^125 with inputs a hundred times larger: the scaled
 *   gradients are infinite until the scale has halved several times);
 * - refusals name the field (accumulation, Adagrad's lr_decay too); state
 *   names taken are refused; nothing is recorded; the state goes through a
 *   checkpoint, and a model-only load skips it.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B = 6, IN = 5, HID = 7, OUT = 3, STEPS = 8, MAX_STEPS = 24 };

typedef struct net {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor x, y, w1, b1, w2;
} net;

static void net_build(net *n, const char *spec, const clg_optimizer_config *cfg)
{
    n->ctx = open_ctx(spec);
    CHECK_OK(n->ctx, clg_graph_create(n->ctx, &n->g));
    const int64_t b = B;
    n->x = clg_input(n->g, 2, (const int64_t[]){B, IN});
    n->y = clg_labels(n->g, 1, &b);
    n->w1 = clg_param(n->g, 2, (const int64_t[]){HID, IN});
    n->b1 = clg_param(n->g, 1, (const int64_t[]){HID});
    n->w2 = clg_param(n->g, 2, (const int64_t[]){OUT, HID});
    const char *names[3] = {"fc1.weight", "fc1.bias", "fc2.weight"};
    clg_tensor p[3] = {n->w1, n->b1, n->w2};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(n->ctx, clg_tensor_set_name(n->g, p[k], names[k]));
        CHECK_OK(n->ctx, clg_init_uniform(n->g, p[k], -0.5f, 0.5f, 77 + (uint64_t)k));
    }
    clg_tensor h = clg_relu(n->g, clg_linear(n->g, n->x, n->w1, n->b1));
    clg_tensor loss = clg_softmax_cross_entropy(n->g, clg_linear(n->g, h, n->w2, CLG_NO_TENSOR), n->y);
    CHECK_OK(n->ctx, clg_backward(n->g, loss));
    CHECK_OK(n->ctx, clg_optimizer(n->g, cfg));
}

static void net_free(net *n)
{
    clg_graph_destroy(n->g);
    clg_context_destroy(n->ctx);
}

/* batch k's inputs; bad: one infinity in it */
static float input_scale = 1; /* the overflow test's larger inputs */
static void batch(int k, bool bad, float *x, int32_t *y)
{
    rng_t r = {1000 + (uint64_t)k};
    rng_fill(&r, x, B * IN, 0.1 * input_scale, 2 * input_scale, false);
    for (int i = 0; i < B; i++) y[i] = (int32_t)(rng_next(&r) % OUT);
    if (bad) x[IN + 2] = INFINITY;
}

/* Trains on the batches k < steps with use[k], batch k bad where bad[k];
 * params gets w1, b1, w2 after; scales (if not NULL) each step's scale,
 * tracker and steps taken, read after the step. */
static void train_n(const char *spec, const clg_optimizer_config *cfg, int steps, const bool *use, const bool *bad,
                    float *params, float (*scales)[3])
{
    net n;
    net_build(&n, spec, cfg);
    int s = 0;
    for (int k = 0; k < steps; k++) {
        if (!use[k]) continue;
        float x[B * IN];
        int32_t y[B];
        batch(k, bad[k], x, y);
        CHECK_OK(n.ctx, clg_tensor_set(n.g, n.x, x, B * IN));
        CHECK_OK(n.ctx, clg_tensor_set_i32(n.g, n.y, y, B));
        CHECK_OK(n.ctx, clg_graph_run(n.g, CLG_RUN_ALL));
        if (scales) {
            static const char *const st[3] = {"grad_scaler.scale", "grad_scaler.growth_tracker", "grad_scaler.steps"};
            for (int j = 0; j < 3; j++) CHECK_OK(n.ctx, clg_tensor_get(n.g, clg_tensor_find(n.g, st[j]), &scales[s][j], 1));
        }
        s++;
    }
    CHECK_OK(n.ctx, clg_tensor_get(n.g, n.w1, params, HID * IN));
    CHECK_OK(n.ctx, clg_tensor_get(n.g, n.b1, params + HID * IN, HID));
    CHECK_OK(n.ctx, clg_tensor_get(n.g, n.w2, params + HID * IN + HID, OUT * HID));
    net_free(&n);
}

#define NP (HID * IN + HID + OUT * HID)

static void train(const char *spec, const clg_optimizer_config *cfg, const bool *use, const bool *bad, float *params,
                  float (*scales)[3])
{
    train_n(spec, cfg, STEPS, use, bad, params, scales);
}

static clg_optimizer_config sgd_cfg(float scale)
{
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.dampening = 0.1f; /* the first momentum step (b = g) differs from the others' (b = 0.9 b + 0.9 g) */
    c.max_grad_norm = 0.5f; /* it clips: the gradients' norm is above 0.5 */
    c.loss_scale = scale;
    return c;
}

static clg_optimizer_config adam_cfg(float scale)
{
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c.lr = 0.01f;
    c.weight_decay = 0.01f;
    c.loss_scale = scale;
    return c;
}

static void assert_same(const float *a, const float *b, const char *what, const char *spec)
{
    for (int i = 0; i < NP; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("%s on %s: parameter element %d: %.9g and %.9g", what, spec, i, (double)a[i], (double)b[i]);
}

static void exact_scaling(const char *spec)
{
    bool all[STEPS], none[STEPS] = {false};
    for (int k = 0; k < STEPS; k++) all[k] = true;
    float plain[NP], scaled[NP];
    for (int kind = 0; kind < 2; kind++) {
        clg_optimizer_config a = kind ? adam_cfg(0) : sgd_cfg(0), b = kind ? adam_cfg(1024) : sgd_cfg(1024);
        b.scale_interval = 3; /* the scale grows twice on the way: still exact */
        train(spec, &a, all, none, plain, NULL);
        train(spec, &b, all, none, scaled, NULL);
        assert_same(plain, scaled, kind ? "Adam scaled against unscaled" : "SGD scaled against unscaled", spec);
        for (int i = 0; i < NP; i++) assert_true(isfinite(plain[i]));
    }
}

static void test_exact_scaling(void **state)
{
    (void)state;
    for_each_device(exact_scaling);
}

/* PyTorch's _amp_update_scale_, written again */
static void torch_update(float *scale, float *tracker, float *steps, bool found_inf, float growth, float backoff,
                         int interval)
{
    if (found_inf) {
        *scale *= backoff;
        *tracker = 0;
        return;
    }
    *steps += 1;
    if (*tracker + 1 >= (float)interval) {
        if (*scale * growth < 0x1p126f) *scale *= growth; /* clgrad: below 2^126, not infinity */
        *tracker = 0;
    } else {
        *tracker += 1;
    }
}

static void skipping(const char *spec)
{
    bool all[STEPS], good[STEPS], bad[STEPS] = {false}, none[STEPS] = {false};
    for (int k = 0; k < STEPS; k++) all[k] = good[k] = true;
    bad[0] = bad[3] = true;
    good[0] = good[3] = false;
    float with_bad[NP], without[NP], scales[STEPS][3];
    for (int kind = 0; kind < 2; kind++) {
        clg_optimizer_config c = kind ? adam_cfg(1024) : sgd_cfg(1024);
        c.scale_interval = 2;
        train(spec, &c, all, bad, with_bad, scales);
        train(spec, &c, good, none, without, NULL);
        if (kind == 0) {
            assert_same(with_bad, without, "SGD with batches 0 and 3 skipped against without them", spec);
        } else {
            char what[96];
            snprintf(what, sizeof what, "Adam with batches 0 and 3 skipped against without them on %s", spec);
            assert_close(with_bad, without, NP, 2e-6, 1e-7, what);
        }
        float s = 1024, t = 0, n = 0;
        for (int k = 0; k < STEPS; k++) {
            torch_update(&s, &t, &n, bad[k], 2, 0.5f, 2);
            if (scales[k][0] != s || scales[k][1] != t || scales[k][2] != n)
                fail_msg("on %s, after step %d: scale %g, tracker %g, steps %g; want %g, %g, %g", spec, k,
                         (double)scales[k][0], (double)scales[k][1], (double)scales[k][2], (double)s, (double)t,
                         (double)n);
        }
    }
    /* an initial scale of 2^125 with inputs a hundred times larger
     * overflows every gradient: it backs off, skipping, until the scaled
     * gradients are finite, then trains */
    clg_optimizer_config c = adam_cfg(0x1p125f);
    float first[NP], scales2[MAX_STEPS][3], init[NP];
    bool one[MAX_STEPS] = {true}, every[MAX_STEPS], clean[MAX_STEPS] = {false};
    for (int k = 0; k < MAX_STEPS; k++) every[k] = true;
    clg_optimizer_config off = adam_cfg(0);
    off.lr = 0; /* the initial values: one step that changes nothing */
    off.weight_decay = 0;
    input_scale = 100;
    train_n(spec, &off, 1, one, clean, init, NULL);
    train_n(spec, &c, MAX_STEPS, every, clean, first, scales2);
    input_scale = 1;
    int skipped = 0;
    float s = 0x1p125f;
    for (int k = 0; k < MAX_STEPS; k++) {
        if (scales2[k][2] == 0) skipped++;
        const bool skip = scales2[k][2] == (k ? scales2[k - 1][2] : 0); /* no step taken */
        float t = k ? scales2[k - 1][1] : 0, n = k ? scales2[k - 1][2] : 0;
        torch_update(&s, &t, &n, skip, 2, 0.5f, 2000);
        if (scales2[k][0] != s || scales2[k][1] != t)
            fail_msg("2^125 on %s, after step %d: scale %g, tracker %g; want %g, %g", spec, k, (double)scales2[k][0],
                     (double)scales2[k][1], (double)s, (double)t);
    }
    assert_true(skipped >= 2 && skipped < MAX_STEPS - 2); /* several skipped, then steps */
    for (int k = skipped; k < MAX_STEPS; k++) assert_true(scales2[k][2] == (float)(k - skipped + 1));
    bool moved = false;
    for (int i = 0; i < NP; i++) {
        assert_true(isfinite(first[i]));
        moved |= first[i] != init[i];
    }
    assert_true(moved);
}

/* A gradient large enough that the non-finite count runs in few
 * work-groups, each item counting many elements (host/cl_optim.c): one
 * NaN or infinity anywhere in it (first, middle, last element) skips the
 * step and halves the scale; without one the step is taken. */
static void large_count(const char *spec)
{
    enum { N = 100003 };
    static float x[N], w0[N], w1[N];
    const long where[] = {-1, 0, N / 2, N - 1};
    for (size_t t = 0; t < sizeof where / sizeof where[0]; t++) {
        clg_context *ctx = open_ctx(spec);
        clg_graph *g = NULL;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t n = N;
        clg_tensor w = clg_param(g, 1, &n), in = clg_input(g, 1, &n);
        CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, w, in)))); /* the gradient is the input */
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
        c.lr = 0.1f;
        c.loss_scale = 1024;
        CHECK_OK(ctx, clg_optimizer(g, &c));
        rng_t r = {4242 + t};
        rng_fill(&r, x, N, 0.01, 1, false);
        rng_fill(&r, w0, N, 0.01, 1, false);
        if (where[t] >= 0) x[where[t]] = t % 2 ? NAN : -INFINITY;
        CHECK_OK(ctx, clg_tensor_set(g, w, w0, N));
        CHECK_OK(ctx, clg_tensor_set(g, in, x, N));
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(g, w, w1, N));
        float scale;
        CHECK_OK(ctx, clg_tensor_get(g, clg_tensor_find(g, "grad_scaler.scale"), &scale, 1));
        if (where[t] >= 0) {
            if (memcmp(w0, w1, sizeof w0) || scale != 512)
                fail_msg("on %s, a non-finite gradient element at %ld of %d: the step was taken (scale %g)", spec,
                         where[t], (int)N, (double)scale);
        } else {
            assert_true(scale == 1024);
            for (int i = 0; i < N; i++) assert_true(w1[i] == w1[i] && w1[i] != w0[i]);
        }
        clg_graph_destroy(g);
        clg_context_destroy(ctx);
    }
}

static void test_large_count(void **state)
{
    (void)state;
    for_each_device(large_count);
}

static void test_skipping(void **state)
{
    (void)state;
    for_each_device(skipping);
}

/* A graph of sum(w^2), w [3] (named name if not NULL), with its backward:
 * what the refusals are tried on */
static clg_graph *small_graph(clg_context *ctx, const char *name)
{
    clg_graph *g = NULL;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor w = clg_param(g, 1, (const int64_t[]){3});
    if (name) CHECK_OK(ctx, clg_tensor_set_name(g, w, name));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, w))));
    return g;
}

static void test_refusals_and_state(void **state)
{
    (void)state;
    const struct {
        float scale, growth, backoff;
        int interval;
        const char *field;
    } bad[] = {{-1, 2, 0.5f, 10, "loss_scale"},   {INFINITY, 2, 0.5f, 10, "loss_scale"},
               {0x1p126f, 2, 0.5f, 10, "loss_scale"},
               {1024, 1, 0.5f, 10, "scale_growth"}, {1024, 2, 1, 10, "scale_backoff"},
               {1024, 2, 0, 10, "scale_backoff"}, {1024, 2, 0.5f, 0, "scale_interval"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g = small_graph(ctx, NULL);
        const int32_t before = clg_graph_tensor_count(g);
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.loss_scale = bad[k].scale;
        c.scale_growth = bad[k].growth;
        c.scale_backoff = bad[k].backoff;
        c.scale_interval = bad[k].interval;
        assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, bad[k].field);
        assert_int_equal(clg_graph_tensor_count(g), before);
        clg_graph_destroy(g);
        clg_context_destroy(ctx);
    }
    /* gradient accumulation (a skipped step would leave the accumulators
     * full: refused until it zeroes them) */
    {
        clg_context *cx = open_ctx("reference");
        clg_graph *ga = small_graph(cx, NULL);
        const int32_t count = clg_graph_tensor_count(ga);
        clg_optimizer_config ca = clg_optimizer_defaults(CLG_OPTIM_SGD);
        ca.loss_scale = 1024;
        ca.accumulate = 1;
        assert_int_equal(clg_optimizer(ga, &ca), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(cx, "accumulat");
        assert_int_equal(clg_graph_tensor_count(ga), count);
        clg_graph_destroy(ga);
        clg_context_destroy(cx);
    }
    /* Adagrad's lr_decay; a state name taken */
    clg_context *ctx = open_ctx("reference");
    clg_graph *g = small_graph(ctx, "grad_scaler.steps");
    const int32_t before = clg_graph_tensor_count(g);
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD);
    c.lr_decay = 0.1f;
    c.loss_scale = 8;
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "lr_decay");
    c.lr_decay = 0;
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "grad_scaler.steps");
    assert_int_equal(clg_graph_tensor_count(g), before);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);

    /* the state through a checkpoint; a model-only load skips it */
    net a, b2;
    clg_optimizer_config cs = adam_cfg(256);
    net_build(&a, "reference", &cs);
    float x[B * IN];
    int32_t y[B];
    batch(1, false, x, y);
    CHECK_OK(a.ctx, clg_tensor_set(a.g, a.x, x, B * IN));
    CHECK_OK(a.ctx, clg_tensor_set_i32(a.g, a.y, y, B));
    CHECK_OK(a.ctx, clg_graph_run(a.g, CLG_RUN_ALL));
    const float set_scale = 4096, set_tracker = 5;
    CHECK_OK(a.ctx, clg_tensor_set(a.g, clg_tensor_find(a.g, "grad_scaler.scale"), &set_scale, 1));
    CHECK_OK(a.ctx, clg_tensor_set(a.g, clg_tensor_find(a.g, "grad_scaler.growth_tracker"), &set_tracker, 1));
    char path[] = "/tmp/clgrad-scale-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    CHECK_OK(a.ctx, clg_checkpoint_save(a.g, path, NULL, NULL, 0));
    net_build(&b2, "reference", &cs);
    CHECK_OK(b2.ctx, clg_checkpoint_load(b2.g, path, NULL));
    float got[3];
    CHECK_OK(b2.ctx, clg_tensor_get(b2.g, clg_tensor_find(b2.g, "grad_scaler.scale"), &got[0], 1));
    CHECK_OK(b2.ctx, clg_tensor_get(b2.g, clg_tensor_find(b2.g, "grad_scaler.growth_tracker"), &got[1], 1));
    CHECK_OK(b2.ctx, clg_tensor_get(b2.g, clg_tensor_find(b2.g, "grad_scaler.steps"), &got[2], 1));
    assert_true(got[0] == 4096 && got[1] == 5 && got[2] == 1);
    /* a graph with the model alone */
    clg_graph *m = NULL;
    CHECK_OK(b2.ctx, clg_graph_create(b2.ctx, &m));
    const char *names[3] = {"fc1.weight", "fc1.bias", "fc2.weight"};
    const int64_t shapes[3][2] = {{HID, IN}, {HID, 0}, {OUT, HID}};
    for (int k = 0; k < 3; k++) {
        clg_tensor p = clg_param(m, k == 1 ? 1 : 2, shapes[k]);
        CHECK_OK(b2.ctx, clg_tensor_set_name(m, p, names[k]));
    }
    int skipped = 0;
    CHECK_OK(b2.ctx, clg_checkpoint_load_model(m, path, NULL, &skipped));
    assert_int_equal(skipped, 3 * 2 + 3); /* Adam's two moments of three parameters, the scaler's three */
    clg_graph_destroy(m);
    unlink(path);
    net_free(&a);
    net_free(&b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_scaling),
        cmocka_unit_test(test_skipping),
        cmocka_unit_test(test_large_count),
        cmocka_unit_test(test_refusals_and_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
