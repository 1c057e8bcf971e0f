/*
 * Ranks: 0-d scalars where PyTorch returns them, and tensors up to
 * CLG_MAX_DIMS (8) dimensions. What the ops compute at rank 6 and 8 and
 * with a 0-d operand is test_cases' (tests/cases/dims.c) and test_ops'
 * (its broadcast pairs); here: the shapes the ops give (PyTorch's: a
 * loss, a full reduction and an axis reduction of a 1-D tensor are 0-d),
 * a 0-d parameter trained on the reference and every device against
 * values worked out by hand, reshapes to and from 0-d, the ops that need
 * an axis refusing a 0-d input (and 9 dimensions refused) with the graph
 * left as it was, and a 0-d and a 6-D parameter through a checkpoint.
 */
#define _GNU_SOURCE /* mkdtemp */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void assert_shape(clg_graph *g, clg_tensor t, int ndim, const int64_t *shape, const char *what)
{
    if (t.id < 0) fail_msg("%s: not recorded", what);
    const int nd = clg_tensor_ndim(g, t);
    if (nd != ndim) fail_msg("%s: %d dimensions, want %d", what, nd, ndim);
    for (int d = 0; d < ndim; d++)
        if (clg_tensor_dim(g, t, d) != shape[d])
            fail_msg("%s: dimension %d is %lld, want %lld", what, d, (long long)clg_tensor_dim(g, t, d),
                     (long long)shape[d]);
    assert_int_equal(clg_tensor_numel(g, t), numel_of(ndim, shape));
}

/* PyTorch's result shapes: torch.sum(x).shape == (), F.mse_loss(...) too,
 * x1d.sum(0) and x1d.argmax(0) are 0-d, reduction='none' keeps [N]. */
static void test_result_shapes(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t v5 = 5, m[2] = {4, 3}, n4 = 4, one = 1;
    clg_tensor x = clg_param(g, 2, m), v = clg_param(g, 1, &v5), lab = clg_labels(g, 1, &n4);
    clg_tensor t = clg_input(g, 2, m);
    clg_loss_options sum = clg_loss_defaults(), none = clg_loss_defaults();
    sum.reduction = CLG_REDUCTION_SUM;
    none.reduction = CLG_REDUCTION_NONE;
    const struct {
        clg_tensor y;
        int ndim;
        const int64_t *shape;
        const char *what;
    } rows[] = {
        {clg_sum(g, x), 0, NULL, "sum"},
        {clg_mean(g, x), 0, NULL, "mean"},
        {clg_max(g, x), 0, NULL, "max"},
        {clg_min(g, v), 0, NULL, "min of a prime count (one stage)"},
        {clg_mse_loss(g, x, t), 0, NULL, "mse_loss"},
        {clg_huber_loss(g, x, t, 1.0f), 0, NULL, "huber_loss"},
        {clg_smooth_l1_loss(g, x, t, 0.5f), 0, NULL, "smooth_l1_loss"},
        {clg_softmax_cross_entropy(g, x, lab), 0, NULL, "softmax_cross_entropy"},
        {clg_bce_with_logits(g, x, t), 0, NULL, "bce_with_logits"},
        {clg_cross_entropy(g, x, lab, NULL), 0, NULL, "cross_entropy, mean"},
        {clg_cross_entropy(g, x, lab, &sum), 0, NULL, "cross_entropy, sum"},
        {clg_cross_entropy(g, x, lab, &none), 1, &n4, "cross_entropy, none"},
        {clg_nll_loss(g, x, lab, &sum), 0, NULL, "nll_loss, sum"},
        {clg_sum_axis(g, v, 0, 0), 0, NULL, "sum_axis of 1-D"},
        {clg_mean_axis(g, v, -1, 0), 0, NULL, "mean_axis of 1-D"},
        {clg_max_axis(g, v, 0, 0), 0, NULL, "max_axis of 1-D"},
        {clg_argmax(g, v, 0, 0), 0, NULL, "argmax of 1-D"},
        {clg_sum_axis(g, v, 0, 1), 1, &one, "sum_axis of 1-D, keepdim"},
        {clg_scalar(g, 2.5f), 0, NULL, "scalar"},
        {clg_add(g, clg_scalar(g, 1.0f), clg_scalar(g, 2.0f)), 0, NULL, "0-d + 0-d"},
        {clg_add(g, clg_scalar(g, 1.0f), v), 1, &v5, "0-d + [5]"},
    };
    CHECK_OK(ctx, clg_graph_status(g));
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) assert_shape(g, rows[k].y, rows[k].ndim, rows[k].shape, rows[k].what);
    /* a 0-d tensor has no axis to ask for */
    assert_int_equal(clg_tensor_dim(g, rows[0].y, 0), 0);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/*
 * p 0-d, x [5]: L = mean((p x - t)^2), one SGD step of lr. By hand:
 * dL/dp = (2/5) sum_i (p x_i - t_i) x_i, p' = p - lr dL/dp; the loss and
 * the gradient read back 0-d.
 */
static void scalar_param_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 5;
    const float xv[5] = {0.5f, -1.25f, 2.0f, 0.75f, -0.5f}, tv[5] = {1.0f, -2.0f, 3.5f, 1.0f, 0.25f}, p0 = 1.5f;
    const float lr = 0.125f;
    clg_tensor p = clg_param(g, 0, NULL), x = clg_input(g, 1, &n), t = clg_input(g, 1, &n);
    clg_tensor loss = clg_mse_loss(g, clg_mul(g, p, x), t);
    CHECK_OK(ctx, clg_backward(g, loss));
    CHECK_OK(ctx, clg_sgd(g, lr));
    assert_int_equal(clg_tensor_ndim(g, clg_grad(g, p)), 0);
    CHECK_OK(ctx, clg_tensor_set(g, p, &p0, 1));
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, 5));
    CHECK_OK(ctx, clg_tensor_set(g, t, tv, 5));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    double want_l = 0, want_g = 0;
    for (int i = 0; i < 5; i++) {
        const double r = (double)p0 * xv[i] - tv[i];
        want_l += r * r / 5;
        want_g += 2.0 / 5 * r * xv[i];
    }
    float l, gp, p1;
    CHECK_OK(ctx, clg_tensor_get(g, loss, &l, 1));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, p), &gp, 1));
    CHECK_OK(ctx, clg_tensor_get(g, p, &p1, 1));
    const double want_p = p0 - lr * want_g;
    char what[96];
    snprintf(what, sizeof what, "0-d parameter on %s: loss", spec);
    assert_close_d(&l, &want_l, 1, 4e-6, 0, what);
    snprintf(what, sizeof what, "0-d parameter on %s: gradient", spec);
    assert_close_d(&gp, &want_g, 1, 4e-6, 0, what);
    snprintf(what, sizeof what, "0-d parameter on %s: after one step", spec);
    assert_close_d(&p1, &want_p, 1, 4e-6, 0, what);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

static void test_scalar_parameter(void **state)
{
    (void)state;
    for_each_device(scalar_param_on);
}

/* 0-d to [1, 1, 1, 1, 1, 1, 1, 1] and back, values kept; [2] to 0-d refused. */
static void test_reshape_scalar(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t ones[CLG_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1}, two = 2;
    clg_tensor s = clg_input(g, 0, NULL);
    clg_tensor r8 = clg_reshape(g, s, CLG_MAX_DIMS, ones), back = clg_reshape(g, clg_scale(g, r8, 2.0f), 0, NULL);
    clg_tensor p = clg_permute(g, s, NULL); /* a 0-d permutes with no entries */
    CHECK_OK(ctx, clg_graph_status(g));
    assert_shape(g, r8, CLG_MAX_DIMS, ones, "0-d to 8-D");
    assert_shape(g, back, 0, NULL, "8-D to 0-d");
    assert_shape(g, p, 0, NULL, "permute of 0-d");
    CHECK_OK(ctx, clg_tensor_keep(g, back));
    const float v = -3.25f;
    CHECK_OK(ctx, clg_tensor_set(g, s, &v, 1));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    float got;
    CHECK_OK(ctx, clg_tensor_get(g, back, &got, 1));
    assert_true(got == -6.5f);

    clg_tensor x2 = clg_input(g, 1, &two);
    const int count = clg_graph_tensor_count(g);
    assert_true(clg_reshape(g, x2, 0, NULL).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "reshape");
    ASSERT_MSG_HAS(ctx, "[2] (2 elements) to [] (1 elements)");
    assert_int_equal(clg_graph_tensor_count(g), count);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

typedef clg_tensor (*one_op)(clg_graph *g, clg_tensor x);
static clg_tensor op_sum_axis(clg_graph *g, clg_tensor x) { return clg_sum_axis(g, x, 0, 0); }
static clg_tensor op_argmax(clg_graph *g, clg_tensor x) { return clg_argmax(g, x, -1, 0); }
static clg_tensor op_softmax(clg_graph *g, clg_tensor x) { return clg_softmax(g, x, -1); }
static clg_tensor op_slice(clg_graph *g, clg_tensor x) { return clg_slice(g, x, 0, 0, 1); }
static clg_tensor op_concat(clg_graph *g, clg_tensor x) { return clg_concat(g, x, x, 0); }
static clg_tensor op_transpose(clg_graph *g, clg_tensor x) { return clg_transpose(g, x, 0, 0); }
static clg_tensor op_layer_norm(clg_graph *g, clg_tensor x) { return clg_layer_norm(g, x, CLG_NO_TENSOR, CLG_NO_TENSOR, 1e-5f); }
static clg_tensor op_linear_layer(clg_graph *g, clg_tensor x) { return clg_linear_layer(g, x, 3, 1, "fc", 1); }
static clg_tensor op_matmul(clg_graph *g, clg_tensor x) { return clg_matmul(g, x, x, 0, 0); }

/* Ops that need an axis or a matrix refuse a 0-d input, naming it; the
 * graph gets no tensor. */
static void test_scalar_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    const struct {
        one_op f;
        const char *name, *says;
    } ops[] = {
        {op_sum_axis, "sum_axis", "0-d"},     {op_argmax, "argmax", "0-d"},       {op_softmax, "softmax", "0-d"},
        {op_slice, "slice", "0-d"},           {op_concat, "concat", "0-d"},       {op_transpose, "transpose", "0-d"},
        {op_layer_norm, "layer_norm", "0-d"}, {op_linear_layer, "clg_linear_layer", "0 dimensions"},
        {op_matmul, "matmul", "[]"},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor s = clg_param(g, 0, NULL);
        const int count = clg_graph_tensor_count(g);
        if (ops[k].f(g, s).id >= 0) fail_msg("%s of a 0-d tensor was recorded", ops[k].name);
        assert_int_not_equal(clg_graph_status(g), CLG_OK);
        ASSERT_MSG_HAS(ctx, ops[k].name);
        ASSERT_MSG_HAS(ctx, ops[k].says);
        assert_int_equal(clg_graph_tensor_count(g), count);
        clg_graph_destroy(g);
    }
    /* nine dimensions: past CLG_MAX_DIMS */
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t nine[CLG_MAX_DIMS + 1] = {1, 2, 1, 2, 1, 2, 1, 2, 1};
    assert_true(clg_input(g, CLG_MAX_DIMS + 1, nine).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "ndim must be 0..8 with a shape array (got 9)");
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/* A 0-d and a 6-D parameter saved and loaded: same shapes, same values;
 * a file whose 6-D tensor has another shape is refused. */
static void test_checkpoint_ranks(void **state)
{
    (void)state;
    char dir[] = "/tmp/clgrad-dims-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/ranks.safetensors", dir);
    clg_context *ctx = open_ctx("reference");
    const int64_t s6[6] = {2, 1, 3, 1, 2, 3}, s6b[6] = {2, 1, 3, 1, 3, 2};
    float w[36], s = 0.75f, got[36], gs;
    for (int i = 0; i < 36; i++) w[i] = 0.5f * (float)i - 7.0f;
    clg_graph *a, *b, *c;
    CHECK_OK(ctx, clg_graph_create(ctx, &a));
    clg_tensor as = clg_param(a, 0, NULL), aw = clg_param(a, 6, s6);
    CHECK_OK(ctx, clg_tensor_set_name(a, as, "scale"));
    CHECK_OK(ctx, clg_tensor_set_name(a, aw, "w6"));
    CHECK_OK(ctx, clg_tensor_set(a, as, &s, 1));
    CHECK_OK(ctx, clg_tensor_set(a, aw, w, 36));
    CHECK_OK(ctx, clg_checkpoint_save(a, path, NULL, NULL, 0));

    CHECK_OK(ctx, clg_graph_create(ctx, &b));
    clg_tensor bs = clg_param(b, 0, NULL), bw = clg_param(b, 6, s6);
    CHECK_OK(ctx, clg_tensor_set_name(b, bs, "scale"));
    CHECK_OK(ctx, clg_tensor_set_name(b, bw, "w6"));
    CHECK_OK(ctx, clg_checkpoint_load(b, path, NULL));
    CHECK_OK(ctx, clg_tensor_get(b, bs, &gs, 1));
    CHECK_OK(ctx, clg_tensor_get(b, bw, got, 36));
    assert_true(gs == s);
    assert_memory_equal(got, w, sizeof w);

    CHECK_OK(ctx, clg_graph_create(ctx, &c));
    clg_tensor cs = clg_param(c, 0, NULL), cw = clg_param(c, 6, s6b);
    CHECK_OK(ctx, clg_tensor_set_name(c, cs, "scale"));
    CHECK_OK(ctx, clg_tensor_set_name(c, cw, "w6"));
    assert_int_equal(clg_checkpoint_load(c, path, NULL), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "[2,1,3,1,3,2]");
    ASSERT_MSG_HAS(ctx, "[2,1,3,1,2,3]");
    clg_graph_destroy(a);
    clg_graph_destroy(b);
    clg_graph_destroy(c);
    clg_context_destroy(ctx);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_shapes),   cmocka_unit_test(test_scalar_parameter),
        cmocka_unit_test(test_reshape_scalar),  cmocka_unit_test(test_scalar_refusals),
        cmocka_unit_test(test_checkpoint_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
