/* Layers (core/layers.c) and clg_loader_feed: what an embedder's network is
 * made of. A layer's output is the op on the parameters it made, bit for
 * bit; its parameters carry PyTorch's names and PyTorch's initial bounds;
 * a refused layer or feed changes nothing. On every device. */
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void get_all(clg_context *ctx, clg_graph *g, clg_tensor t, float *v, size_t n)
{
    CHECK_OK(ctx, clg_tensor_get(g, t, v, n));
}

/* The parameter named name: its values lie within [-bound, bound] and are
 * not all alike (drawn, not filled). */
static clg_tensor drawn_param(clg_context *ctx, clg_graph *g, const char *name, size_t n, float bound)
{
    clg_tensor p = clg_tensor_find(g, name);
    assert_true(p.id >= 0);
    assert_int_equal(clg_tensor_numel(g, p), (int64_t)n);
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    get_all(ctx, g, p, v, n);
    float lo = v[0], hi = v[0];
    for (size_t i = 0; i < n; i++) {
        assert_true(fabsf(v[i]) <= bound);
        lo = fminf(lo, v[i]);
        hi = fmaxf(hi, v[i]);
    }
    assert_true(hi - lo > bound / 2); /* U(-bound, bound) spreads */
    free(v);
    return p;
}

static void layers_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    rng_t r = {0x1a7e5};
    /* linear: [5, 37] -> 13, odd sizes */
    const int64_t xs[2] = {5, 37};
    clg_tensor x = clg_input(g, 2, xs);
    float xv[5 * 37];
    rng_fill(&r, xv, 5 * 37, 0.1, 2.0, false);
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, 5 * 37));
    clg_tensor y = clg_linear_layer(g, x, 13, 1, "fc", 7);
    assert_true(y.id >= 0);
    const float bound = (float)(1.0 / sqrt(37.0));
    clg_tensor w = drawn_param(ctx, g, "fc.weight", 13 * 37, bound), b = drawn_param(ctx, g, "fc.bias", 13, bound);
    assert_int_equal(clg_tensor_dim(g, w, 0), 13);
    assert_int_equal(clg_tensor_dim(g, w, 1), 37);
    clg_tensor same = clg_linear(g, x, w, b);
    clg_tensor nb = clg_linear_layer(g, x, 3, 0, "head", 9);
    assert_true(nb.id >= 0);
    assert_true(clg_tensor_find(g, "head.weight").id >= 0);
    assert_true(clg_tensor_find(g, "head.bias").id < 0);
    /* conv2d: [2, 3, 9, 7], 5 channels, 3x3, stride 2, padding 1 */
    const int64_t is[4] = {2, 3, 9, 7};
    clg_tensor img = clg_input(g, 4, is);
    float iv[2 * 3 * 9 * 7];
    rng_fill(&r, iv, sizeof iv / sizeof iv[0], 0.1, 2.0, false);
    CHECK_OK(ctx, clg_tensor_set(g, img, iv, sizeof iv / sizeof iv[0]));
    clg_tensor c = clg_conv2d_layer(g, img, 5, 3, 2, 1, 1, "conv1", 11);
    assert_true(c.id >= 0);
    assert_int_equal(clg_tensor_dim(g, c, 2), 5);
    assert_int_equal(clg_tensor_dim(g, c, 3), 4);
    const float cb = (float)(1.0 / sqrt(27.0));
    clg_tensor cw = drawn_param(ctx, g, "conv1.weight", 5 * 27, cb), cbias = drawn_param(ctx, g, "conv1.bias", 5, cb);
    clg_tensor csame = clg_conv2d(g, img, cw, cbias, 2, 2, 1, 1, 1, 1);
    /* batch norm: weight 1, bias 0, PyTorch's state names */
    clg_tensor bn = clg_batch_norm_layer(g, c, "bn1");
    assert_true(bn.id >= 0);
    float ones[5], zeros[5];
    get_all(ctx, g, clg_tensor_find(g, "bn1.weight"), ones, 5);
    get_all(ctx, g, clg_tensor_find(g, "bn1.bias"), zeros, 5);
    for (int i = 0; i < 5; i++) assert_true(ones[i] == 1.0f && zeros[i] == 0.0f);
    assert_true(clg_tensor_find(g, "bn1.running_mean").id >= 0);
    assert_true(clg_tensor_find(g, "bn1.num_batches_tracked").id >= 0);
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_tensor_keep(g, same));
    CHECK_OK(ctx, clg_tensor_keep(g, c));
    CHECK_OK(ctx, clg_tensor_keep(g, csame));
    CHECK_OK(ctx, clg_tensor_keep(g, bn));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    float a[5 * 13], e[5 * 13], ca[2 * 5 * 5 * 4], ce[2 * 5 * 5 * 4];
    get_all(ctx, g, y, a, 5 * 13);
    get_all(ctx, g, same, e, 5 * 13);
    assert_memory_equal(a, e, sizeof a);
    get_all(ctx, g, c, ca, sizeof ca / sizeof ca[0]);
    get_all(ctx, g, csame, ce, sizeof ce / sizeof ce[0]);
    assert_memory_equal(ca, ce, sizeof ca);

    /* refused: a name taken, a name too long, no name, a bad input;
     * nothing recorded, the graph as it was */
    int32_t before = clg_graph_tensor_count(g);
    char longname[80];
    memset(longname, 'n', 60);
    longname[60] = '\0';
    clg_graph_clear_status(g);
    assert_true(clg_linear_layer(g, x, 4, 1, "fc", 1).id < 0);
    assert_non_null(strstr(clg_context_errmsg(ctx), "fc.weight"));
    assert_true(clg_linear_layer(g, x, 4, 1, longname, 1).id < 0);
    assert_non_null(strstr(clg_context_errmsg(ctx), "longer than a tensor name"));
    assert_true(clg_linear_layer(g, x, 4, 1, NULL, 1).id < 0);
    assert_true(clg_linear_layer(g, x, 0, 1, "zero", 1).id < 0);
    assert_true(clg_conv2d_layer(g, x, 4, 3, 1, 0, 1, "conv_on_2d", 1).id < 0);
    assert_non_null(strstr(clg_context_errmsg(ctx), "at least 4"));
    assert_true(clg_batch_norm_layer(g, img, "bn1").id < 0);
    assert_true(clg_linear_layer(g, clg_linear_layer(g, x, 4, 1, "fc", 1), 4, 1, "after_failed", 1).id < 0);
    assert_int_equal(clg_graph_tensor_count(g), before);
    assert_true(clg_tensor_find(g, "zero.weight").id < 0 && clg_tensor_find(g, "after_failed.weight").id < 0);
    clg_graph_clear_status(g);
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    clg_context_destroy(ctx);
}

static void test_layers(void **s)
{
    for_each_device(layers_on);
}

/* 10 samples of 3 values, labels 0..9 */
static void dataset(clg_array **x, clg_array **y)
{
    char err[256];
    const int64_t xs[2] = {10, 3}, ys = 10;
    assert_int_equal(clg_array_create(CLG_ELEM_F32, 2, xs, x, err, sizeof err), CLG_OK);
    assert_int_equal(clg_array_create(CLG_ELEM_I32, 1, &ys, y, err, sizeof err), CLG_OK);
    for (int i = 0; i < 30; i++) ((float *)(*x)->data)[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 10; i++) ((int32_t *)(*y)->data)[i] = i % 4;
}

static void feed_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_array *xs, *ys;
    dataset(&xs, &ys);
    char err[256];
    clg_loader *a, *b;
    clg_loader_options opt = {.batch_size = 4, .seed = 5, .shuffle = 1, .drop_last = 0};
    assert_int_equal(clg_loader_create(xs, ys, &opt, &a, err, sizeof err), CLG_OK);
    assert_int_equal(clg_loader_create(xs, ys, &opt, &b, err, sizeof err), CLG_OK);
    const int64_t shape[2] = {4, 3}, n = 4;
    clg_tensor x = clg_input(g, 2, shape), labels = clg_labels(g, 1, &n);
    clg_tensor logits = clg_linear_layer(g, x, 4, 1, "fc", 1);
    clg_tensor loss = clg_softmax_cross_entropy(g, logits, labels);
    assert_true(loss.id >= 0);
    /* two full batches: the values clg_loader_next gives */
    for (int k = 0; k < 2; k++) {
        int64_t got, want;
        float hx[12], dx[12];
        int32_t hy[4], dy[4];
        CHECK_OK(ctx, clg_loader_feed(a, g, x, labels, &got));
        assert_int_equal(clg_loader_next(b, hx, hy, &want), CLG_OK);
        assert_int_equal(got, 4);
        assert_int_equal(want, 4);
        get_all(ctx, g, x, dx, 12);
        CHECK_OK(ctx, clg_tensor_get_i32(g, labels, dy, 4));
        assert_memory_equal(dx, hx, sizeof hx);
        assert_memory_equal(dy, hy, sizeof hy);
    }
    /* the partial third batch is refused before anything moves */
    int64_t e0, b0, e1, b1, count = -1;
    assert_int_equal(clg_loader_position(a, &e0, &b0), CLG_OK);
    assert_int_equal(clg_loader_feed(a, g, x, labels, &count), CLG_ERR_SHAPE);
    assert_non_null(strstr(clg_context_errmsg(ctx), "holds 2 samples"));
    assert_int_equal(clg_loader_position(a, &e1, &b1), CLG_OK);
    assert_true(e0 == e1 && b0 == b1);
    /* bad tensors: refused, the loader unmoved */
    const int64_t wrong[2] = {4, 2};
    clg_tensor small = clg_input(g, 2, wrong);
    assert_int_equal(clg_loader_feed(a, g, small, labels, &count), CLG_ERR_SHAPE);
    assert_int_equal(clg_loader_feed(a, g, labels, CLG_NO_TENSOR, &count), CLG_ERR_SHAPE);
    assert_int_equal(clg_loader_feed(NULL, g, x, labels, &count), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_loader_feed(a, NULL, x, labels, &count), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_loader_position(a, &e1, &b1), CLG_OK);
    assert_true(e0 == e1 && b0 == b1);
    /* with drop_last: the end of the epoch gives 0, then the next epoch;
     * labels out of range for the loss are refused and leave it in place */
    clg_loader_destroy(a);
    opt.drop_last = 1;
    assert_int_equal(clg_loader_create(xs, ys, &opt, &a, err, sizeof err), CLG_OK);
    int64_t c1, c2, c3, c4;
    CHECK_OK(ctx, clg_loader_feed(a, g, x, CLG_NO_TENSOR, &c1));
    CHECK_OK(ctx, clg_loader_feed(a, g, x, labels, &c2));
    CHECK_OK(ctx, clg_loader_feed(a, g, x, labels, &c3));
    CHECK_OK(ctx, clg_loader_feed(a, g, x, labels, &c4));
    assert_true(c1 == 4 && c2 == 4 && c3 == 0 && c4 == 4);
    for (int i = 0; i < 10; i++) ((int32_t *)ys->data)[i] = 7; /* outside [0, 4) */
    assert_int_equal(clg_loader_position(a, &e0, &b0), CLG_OK);
    assert_int_equal(clg_loader_feed(a, g, x, labels, &count), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(count, 0);
    assert_int_equal(clg_loader_position(a, &e1, &b1), CLG_OK);
    assert_true(e0 == e1 && b0 == b1);
    clg_loader_destroy(a);
    clg_loader_destroy(b);
    clg_array_destroy(xs);
    clg_array_destroy(ys);
    clg_context_destroy(ctx);
}

static void test_feed(void **s)
{
    for_each_device(feed_on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_layers), cmocka_unit_test(test_feed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
