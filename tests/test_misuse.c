/*
 * What a careless or hostile caller does, on every device: shapes whose
 * element counts overflow, refused calls in the middle of a working graph,
 * tensors of another graph, buffers read before anything was written.
 * Each case here crashed, corrupted memory or lost a graph before.
 */
#include "util.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every path that makes a shape refuses one whose element count passes the
 * largest buffer (or wraps past 2^64), naming the shape, and records
 * nothing. */
static void overflow_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));

    /* 16777217 * 1099511562241 wraps to 2^24 + 1 elements in 64 bits */
    const int64_t wrap[2] = {16777217, 1099511562241};
    assert_true(clg_input(g, 2, wrap).id < 0);
    assert_int_equal(clg_context_status(ctx), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "[16777217,1099511562241]");
    assert_true(clg_param(g, 2, wrap).id < 0);
    assert_true(clg_constant(g, 2, wrap, 1.0f).id < 0);
    const int64_t big[2] = {(int64_t)1 << 40, 4};
    assert_true(clg_input(g, 2, big).id < 0);
    ASSERT_MSG_HAS(ctx, "[1099511627776,4]");
    assert_int_equal(clg_graph_tensor_count(g), 0);

    /* broadcasting: [2^20,1] + [1,2^20] is 2^40 elements */
    const int64_t col[2] = {(int64_t)1 << 20, 1}, row[2] = {1, (int64_t)1 << 20};
    clg_tensor a = clg_input(g, 2, col), b = clg_input(g, 2, row);
    assert_true(a.id >= 0 && b.id >= 0);
    assert_true(clg_add(g, a, b).id < 0);
    assert_int_equal(clg_context_status(ctx), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "[1048576,1048576]");
    /* a batched product: [1024,1024,1] x [1,2^20] -> [1024,1024,2^20] */
    const int64_t s3[3] = {1024, 1024, 1};
    clg_tensor m = clg_input(g, 3, s3);
    assert_int_equal(clg_graph_tensor_count(g), 3);
    assert_true(clg_matmul(g, m, b, 0, 0).id < 0);
    ASSERT_MSG_HAS(ctx, "[1024,1024,1048576]");
    /* reshape to a count that wraps */
    assert_true(clg_reshape(g, a, 2, wrap).id < 0);
    /* the refusals above recorded nothing */
    assert_int_equal(clg_graph_tensor_count(g), 3);
    /* a convolution whose output is 2^31 positions or more */
    const int64_t xs[4] = {1, 1, 1, 1}, ws[4] = {1, 1, 1, 1};
    clg_tensor x = clg_input(g, 4, xs), w = clg_param(g, 4, ws);
    assert_true(clg_conv2d(g, x, w, CLG_NO_TENSOR, 1, 1, 40000, 40000, 1, 1).id < 0);
    assert_int_equal(clg_graph_tensor_count(g), 5);
    clg_context_destroy(ctx);
}

static void test_overflow(void **s)
{
    (void)s;
    for_each_device(overflow_on);
}

/* A two-layer classifier with Adam, its data set; the same every call. */
typedef struct {
    clg_graph *g;
    clg_tensor x, y, w1, b1, w2, loss;
} net_t;

static net_t build(clg_context *ctx)
{
    net_t n;
    CHECK_OK(ctx, clg_graph_create(ctx, &n.g));
    const int64_t xs[2] = {5, 7}, w1s[2] = {6, 7}, b1s = 6, w2s[2] = {3, 6}, ys = 5;
    n.x = clg_input(n.g, 2, xs);
    n.y = clg_labels(n.g, 1, &ys);
    n.w1 = clg_param(n.g, 2, w1s);
    n.b1 = clg_param(n.g, 1, &b1s);
    n.w2 = clg_param(n.g, 2, w2s);
    clg_tensor h = clg_relu(n.g, clg_linear(n.g, n.x, n.w1, n.b1));
    n.loss = clg_softmax_cross_entropy(n.g, clg_linear(n.g, h, n.w2, CLG_NO_TENSOR), n.y);
    CHECK_OK(ctx, clg_graph_status(n.g));
    return n;
}

static void finish(clg_context *ctx, net_t *n)
{
    CHECK_OK(ctx, clg_backward(n->g, n->loss));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c.lr = 0.05f;
    CHECK_OK(ctx, clg_optimizer(n->g, &c));
    rng_t r = {77};
    float xv[35], w1[42], b1[6], w2[18];
    rng_fill(&r, xv, 35, 0.1, 2.0, false);
    rng_fill(&r, w1, 42, 0.05, 0.5, false);
    rng_fill(&r, b1, 6, 0.05, 0.5, false);
    rng_fill(&r, w2, 18, 0.05, 0.5, false);
    const int32_t yv[5] = {0, 2, 1, 2, 0};
    CHECK_OK(ctx, clg_tensor_set(n->g, n->x, xv, 35));
    CHECK_OK(ctx, clg_tensor_set_i32(n->g, n->y, yv, 5));
    CHECK_OK(ctx, clg_tensor_set(n->g, n->w1, w1, 42));
    CHECK_OK(ctx, clg_tensor_set(n->g, n->b1, b1, 6));
    CHECK_OK(ctx, clg_tensor_set(n->g, n->w2, w2, 18));
}

/* Three steps; the losses and the final first-layer weights. */
static void train(clg_context *ctx, net_t *n, float loss[3], float w1[42])
{
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ctx, clg_graph_run(n->g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(n->g, n->loss, &loss[i], 1));
    }
    CHECK_OK(ctx, clg_tensor_get(n->g, n->w1, w1, 42));
}

#define UNCHANGED(ctx, g, count, call)                                                             \
    do {                                                                                           \
        call;                                                                                      \
        assert_int_not_equal(clg_context_status(ctx), CLG_OK);                                     \
        assert_int_equal(clg_graph_tensor_count(g), (count));                                     \
    } while (0)

static void refused_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    net_t clean = build(ctx), used = build(ctx);
    int32_t count = clg_graph_tensor_count(used.g);
    const int64_t s4 = 4, s35[2] = {3, 5};

    /* refused calls while recording the forward pass */
    UNCHANGED(ctx, used.g, count, assert_true(clg_add(used.g, used.x, used.w1).id < 0));
    ASSERT_MSG_HAS(ctx, "[5,7]");
    UNCHANGED(ctx, used.g, count, assert_true(clg_sum_axis(used.g, used.x, 5, 0).id < 0));
    UNCHANGED(ctx, used.g, count, assert_true(clg_linear(used.g, used.x, used.w1, used.w2).id < 0));
    UNCHANGED(ctx, used.g, count, assert_true(clg_softmax_cross_entropy(used.g, used.x, used.x).id < 0));
    UNCHANGED(ctx, used.g, count, assert_true(clg_reshape(used.g, used.x, 2, s35).id < 0));
    assert_int_equal(clg_graph_status(used.g), CLG_ERR_SHAPE); /* the first refused call */
    /* a call whose first nodes fit and a later one does not: the backend's
     * limit lowered below the second layer's gradient (whitebox) */
    uint64_t max = ctx->be->max_buffer_bytes;
    ctx->be->max_buffer_bytes = 5 * 6 * 4 - 4;
    UNCHANGED(ctx, used.g, count, assert_int_not_equal(clg_backward(used.g, used.loss), CLG_OK));
    ctx->be->max_buffer_bytes = max;

    finish(ctx, &clean);
    finish(ctx, &used);
    count = clg_graph_tensor_count(used.g);
    /* refused calls after backward and optimizer */
    UNCHANGED(ctx, used.g, count, assert_true(clg_param(used.g, 1, &s4).id < 0));
    ASSERT_MSG_HAS(ctx, "before clg_backward");
    UNCHANGED(ctx, used.g, count, assert_int_equal(clg_backward(used.g, used.loss), CLG_ERR_STATE));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    UNCHANGED(ctx, used.g, count, assert_int_equal(clg_optimizer(used.g, &c), CLG_ERR_STATE));
    UNCHANGED(ctx, used.g, count, assert_true(clg_mul(used.g, used.w1, used.w2).id < 0));

    float l1[3], l2[3], w1a[42], w1b[42];
    train(ctx, &clean, l1, w1a);
    train(ctx, &used, l2, w1b);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(w1a, w1b, sizeof w1a);
    assert_true(l1[2] < l1[0]);
    assert_int_equal(clg_graph_status(used.g), CLG_ERR_SHAPE);
    clg_graph_clear_status(used.g);
    assert_int_equal(clg_graph_status(used.g), CLG_OK);
    assert_int_equal(clg_graph_status(clean.g), CLG_OK);
    clg_context_destroy(ctx);
}

static void test_refused_calls_change_nothing(void **s)
{
    (void)s;
    for_each_device(refused_on);
}

/* An optimizer whose state fits for the first parameter and not the
 * second leaves no state behind; the graph then takes a good one. */
static void partial_optimizer_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s2 = 2, s40 = 40;
    clg_tensor a = clg_param(g, 1, &s2), b = clg_param(g, 1, &s40);
    CHECK_OK(ctx, clg_backward(g, clg_add(g, clg_sum(g, clg_square(g, a)), clg_sum(g, b))));
    int32_t count = clg_graph_tensor_count(g);
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    uint64_t max = ctx->be->max_buffer_bytes;
    ctx->be->max_buffer_bytes = 16 * 4;
    assert_int_not_equal(clg_optimizer(g, &c), CLG_OK);
    ctx->be->max_buffer_bytes = max;
    assert_int_equal(clg_graph_tensor_count(g), count);
    CHECK_OK(ctx, clg_optimizer(g, &c));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    clg_context_destroy(ctx);
}

static void test_partial_optimizer(void **s)
{
    (void)s;
    for_each_device(partial_optimizer_on);
}

/* A tensor handle names its graph: another graph refuses it, whatever its
 * id, everywhere a handle is taken. */
static void foreign_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *h, *k;
    CHECK_OK(ctx, clg_graph_create(ctx, &h));
    CHECK_OK(ctx, clg_graph_create(ctx, &k));
    const int64_t s3 = 3;
    clg_tensor hx = clg_input(h, 1, &s3), kx = clg_input(k, 1, &s3);
    assert_int_equal(hx.id, kx.id); /* same id, different graphs */
    assert_true(clg_sum(h, kx).id < 0);
    ASSERT_MSG_HAS(ctx, "another graph");
    assert_true(clg_add(h, hx, kx).id < 0);
    float v[3] = {1, 2, 3};
    assert_int_equal(clg_tensor_set(h, kx, v, 3), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_get(h, kx, v, 3), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_fill(h, kx, 1.0f), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_set_name(h, kx, "x"), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_init_uniform(h, kx, 0, 1, 1), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_numel(h, kx), 0);
    assert_null(clg_tensor_name(h, kx));
    clg_tensor kp = clg_param(k, 1, &s3);
    assert_int_equal(clg_backward(h, clg_sum(k, kp)), CLG_ERR_INVALID_ARGUMENT);
    /* a handle made by hand is not one */
    assert_true(clg_sum(h, (clg_tensor){hx.id, 0}).id < 0);
    /* and each graph's own handles still work */
    CHECK_OK(ctx, clg_tensor_set(h, hx, v, 3));
    clg_tensor hs = clg_sum(h, hx);
    assert_true(hs.id >= 0);
    CHECK_OK(ctx, clg_graph_run(h, CLG_RUN_FORWARD));
    float sum;
    CHECK_OK(ctx, clg_tensor_get(h, hs, &sum, 1));
    assert_true(sum == 6.0f);
    assert_true(clg_tensor_find(h, "nothing").id < 0);
    CHECK_OK(ctx, clg_tensor_set_name(h, hx, "hx"));
    assert_int_equal(clg_tensor_find(h, "hx").id, hx.id);
    assert_true(clg_tensor_find(k, "hx").id < 0);
    clg_context_destroy(ctx);
}

static void test_foreign_tensors(void **s)
{
    (void)s;
    for_each_device(foreign_on);
}

/* Buffers start as zeros: memory that held other values (freed by a
 * destroyed graph, so likely reused) never shows through. */
static void zero_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    enum { N = 4099 };
    float *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
    assert_non_null(v);
    assert_non_null(w);
    for (int round = 0; round < 3; round++) {
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t n = N;
        clg_tensor t = clg_input(g, 1, &n);
        CHECK_OK(ctx, clg_tensor_get(g, t, w, N));
        for (int i = 0; i < N; i++)
            if (w[i] != 0.0f) fail_msg("%s round %d: element %d of a new buffer is %g, not 0", spec, round, i, w[i]);
        /* then leave the memory dirty for the next round */
        for (int i = 0; i < N; i++) v[i] = 1e30f - (float)i;
        CHECK_OK(ctx, clg_tensor_set(g, t, v, N));
        clg_graph_destroy(g);
    }
    /* a backward and an update before anything was set: parameters zero,
     * gradients zero, nothing stale read back */
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s = 300;
    clg_tensor p = clg_param(g, 1, &s);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, p))));
    clg_tensor gp = clg_grad(g, p);
    CHECK_OK(ctx, clg_tensor_get(g, gp, w, 300));
    for (int i = 0; i < 300; i++) assert_true(w[i] == 0.0f);
    CHECK_OK(ctx, clg_sgd(g, 0.1f));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_BACKWARD | CLG_RUN_UPDATE));
    CHECK_OK(ctx, clg_tensor_get(g, p, w, 300));
    for (int i = 0; i < 300; i++) assert_true(w[i] == 0.0f);
    free(v);
    free(w);
    clg_context_destroy(ctx);
}

static void test_buffers_start_zero(void **s)
{
    (void)s;
    for_each_device(zero_on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_refused_calls_change_nothing),
        cmocka_unit_test(test_partial_optimizer),
        cmocka_unit_test(test_foreign_tensors),
        cmocka_unit_test(test_buffers_start_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
