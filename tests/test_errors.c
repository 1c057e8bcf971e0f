/* Bad input: each gives its status and a message naming the problem;
 * nothing crashes, nothing leaks (the suite also runs under ASan), and
 * what was there before is still there. Runs on the reference backend and
 * on every OpenCL device. */
#include "util.h"

#include "internal.h" /* clg_context_create_backend: the refusing backend below */

#include <math.h>
#include <stdio.h>
#include <string.h>

static void shape_mismatch(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s35[2] = {3, 5}, s4[1] = {4};
    clg_tensor a = clg_input(g, 2, s35), b = clg_input(g, 1, s4);
    float va[15];
    for (int i = 0; i < 15; i++) va[i] = (float)i + 0.5f;
    CHECK_OK(ctx, clg_tensor_set(g, a, va, 15));
    clg_tensor c = clg_add(g, a, b);
    assert_true(c.id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    assert_int_equal(clg_context_status(ctx), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "add");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    ASSERT_MSG_HAS(ctx, "[4]");
    /* the failure propagates without replacing the first message */
    clg_tensor d = clg_relu(g, c);
    assert_true(d.id < 0);
    ASSERT_MSG_HAS(ctx, "[3,5]");
    /* a refused call changes nothing: the graph still runs what it holds,
     * and the status reports the first refused call until cleared */
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    clg_graph_clear_status(g);
    assert_int_equal(clg_graph_status(g), CLG_OK);
    /* nothing lost: the data set before is still readable */
    float back[15];
    CHECK_OK(ctx, clg_tensor_get(g, a, back, 15));
    assert_memory_equal(back, va, sizeof va);
    clg_context_destroy(ctx);
}

static void mse_shapes(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s6[1] = {6}, s23[2] = {2, 3};
    clg_tensor t = clg_mse_loss(g, clg_input(g, 1, s6), clg_input(g, 2, s23));
    assert_true(t.id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "mse_loss");
    ASSERT_MSG_HAS(ctx, "[6]");
    ASSERT_MSG_HAS(ctx, "[2,3]");
    clg_context_destroy(ctx);
}

static void bad_leaves_and_counts(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t zero[1] = {0}, nine[CLG_MAX_DIMS + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_true(clg_input(g, 1, zero).id < 0);
    ASSERT_MSG_HAS(ctx, "dimension 0 is 0");
    assert_true(clg_param(g, CLG_MAX_DIMS + 1, nine).id < 0);
    ASSERT_MSG_HAS(ctx, "ndim must be 0..8");
    assert_true(clg_param(g, -1, nine).id < 0);
    ASSERT_MSG_HAS(ctx, "ndim must be 0..8");
    assert_true(clg_param(g, 2, NULL).id < 0);
    ASSERT_MSG_HAS(ctx, "shape NULL");
    clg_context_destroy(ctx);

    ctx = open_ctx(spec);
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s3[1] = {3};
    clg_tensor x = clg_input(g, 1, s3);
    float v[4] = {1, 2, 3, 4};
    assert_int_equal(clg_tensor_set(g, x, v, 4), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "4 values");
    ASSERT_MSG_HAS(ctx, "[3]");
    assert_int_equal(clg_tensor_set(g, x, NULL, 3), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_get(g, (clg_tensor){99, 0}, v, 3), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "99");
    assert_true(clg_add(g, x, (clg_tensor){42, 0}).id < 0);
    ASSERT_MSG_HAS(ctx, "tensor id 42");
    clg_context_destroy(ctx);
}

static void backward_errors(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s3[1] = {3};
    clg_tensor w = clg_param(g, 1, s3);
    clg_tensor y = clg_square(g, w);
    assert_int_equal(clg_backward(g, y), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "one element");
    ASSERT_MSG_HAS(ctx, "[3]");
    clg_tensor c = clg_sum(g, clg_input(g, 1, s3));
    assert_int_equal(clg_backward(g, c), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "depends on no parameter");
    assert_true(clg_grad(g, w).id < 0);
    ASSERT_MSG_HAS(ctx, "clg_backward first");
    assert_int_equal(clg_sgd(g, 0.1f), CLG_ERR_STATE);
    /* a proper backward still works after the refused ones */
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, y)));
    assert_int_equal(clg_backward(g, clg_sum(g, y)), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "already");
    /* a rate clg_optimizer would refuse is refused by clg_sgd too, and the
     * refusal records nothing: a good clg_sgd follows (hostile battery) */
    const float bad_lr[3] = {NAN, INFINITY, -0.1f};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(clg_sgd(g, bad_lr[i]), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "lr");
        clg_graph_clear_status(g);
    }
    CHECK_OK(ctx, clg_sgd(g, 0.1f));
    clg_context_destroy(ctx);
}

static void destroyed_graph(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s3[1] = {3};
    clg_tensor x = clg_input(g, 1, s3);
    clg_graph_destroy(g);
    assert_int_equal(clg_graph_run(g, CLG_RUN_ALL), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "after clg_graph_destroy");
    assert_true(clg_relu(g, x).id < 0);
    float v[3];
    assert_int_equal(clg_tensor_get(g, x, v, 3), CLG_ERR_STATE);
    assert_int_equal(clg_backward(g, x), CLG_ERR_STATE);
    assert_int_equal(clg_graph_status(g), CLG_ERR_STATE);
    clg_graph_destroy(g); /* twice: harmless */
    /* the context is still good for a new graph */
    clg_graph *g2;
    CHECK_OK(ctx, clg_graph_create(ctx, &g2));
    clg_tensor y = clg_input(g2, 1, s3);
    CHECK_OK(ctx, clg_tensor_fill(g2, y, 2.0f));
    CHECK_OK(ctx, clg_tensor_get(g2, y, v, 3));
    assert_true(v[0] == 2.0f && v[2] == 2.0f);
    clg_context_destroy(ctx);
}

static void test_shape_mismatch(void **s) { for_each_device(shape_mismatch); }
static void test_mse_shapes(void **s) { for_each_device(mse_shapes); }
static void test_bad_leaves_and_counts(void **s) { for_each_device(bad_leaves_and_counts); }
static void test_backward_errors(void **s) { for_each_device(backward_errors); }
static void test_destroyed_graph(void **s) { for_each_device(destroyed_graph); }

static void test_null_handles(void **s)
{
    clg_graph *g = (clg_graph *)1;
    assert_int_equal(clg_graph_create(NULL, &g), CLG_ERR_INVALID_ARGUMENT);
    assert_null(g);
    assert_int_equal(clg_context_create("reference", NULL), CLG_ERR_INVALID_ARGUMENT);
    const int64_t s3[1] = {3};
    assert_true(clg_input(NULL, 1, s3).id < 0);
    assert_true(clg_add(NULL, (clg_tensor){0, 0}, (clg_tensor){1, 0}).id < 0);
    assert_int_equal(clg_graph_run(NULL, CLG_RUN_ALL), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_backward(NULL, (clg_tensor){0, 0}), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_tensor_set(NULL, (clg_tensor){0, 0}, NULL, 0), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_sgd(NULL, 0.1f), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_graph_status(NULL), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(clg_context_errmsg(NULL));
    clg_graph_destroy(NULL);
    clg_context_destroy(NULL);

    clg_context *ctx = open_ctx("reference");
    assert_int_equal(clg_graph_create(ctx, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "out is NULL");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_int_equal(clg_graph_run(g, 0), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_graph_run(g, 64), CLG_ERR_INVALID_ARGUMENT);
    clg_context_destroy(ctx);
}

static void test_unknown_device(void **s)
{
    clg_context *ctx = NULL;
    assert_int_equal(clg_context_create("no-such-device-xyz", &ctx), CLG_ERR_NOT_FOUND);
    assert_non_null(ctx);
    ASSERT_MSG_HAS(ctx, "no-such-device-xyz");
    ASSERT_MSG_HAS(ctx, "reference"); /* the message lists the devices there are */
    clg_graph *g;
    assert_int_equal(clg_graph_create(ctx, &g), CLG_ERR_STATE);
    clg_context_destroy(ctx);
    assert_int_equal(clg_context_create("97:3", &ctx), CLG_ERR_NOT_FOUND);
    ASSERT_MSG_HAS(ctx, "97:3");
    clg_context_destroy(ctx);
}

/* ---- an op the backend does not support ----
 * A backend that supports every op but the one named by `refused`: the
 * reference backend's vtable with its own supports_op, and a run_node that
 * counts what it runs. */
static clg_op refused = CLG_OP_COUNT; /* CLG_OP_COUNT: none */
static int nodes_run;
static clg_backend_vtable picky_vt;
static clg_status (*reference_run_node)(clg_backend *, const clg_node *, const clg_node *);

static bool picky_supports_op(const clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    return n->op != refused;
}

static clg_status picky_run_node(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    nodes_run++;
    return reference_run_node(be, nodes, n);
}

static clg_status picky_create(clg_context *ctx, clg_backend **out)
{
    clg_status s = clg_reference_backend_create(ctx, out);
    if (s != CLG_OK) return s;
    picky_vt = *(*out)->vt;
    reference_run_node = picky_vt.run_node;
    picky_vt.kind = "picky";
    picky_vt.supports_op = picky_supports_op;
    picky_vt.run_node = picky_run_node;
    (*out)->vt = &picky_vt;
    snprintf((*out)->device, sizeof (*out)->device, "the picky test device");
    return CLG_OK;
}

/* Refused when the graph first runs (before any node runs, naming the
 * node's op, its shapes, the backend and the device), asked again only
 * after the graph changed, and the graph stays as it was. */
static void test_unsupported_op_refused_before_running(void **s)
{
    clg_context *ctx = NULL;
    assert_int_equal(clg_context_create_backend(&ctx, picky_create), CLG_OK);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t shape[2] = {3, 4};
    clg_tensor x = clg_input(g, 2, shape);
    clg_tensor a = clg_scale(g, x, 2.0f);           /* would run before the exp */
    CHECK_OK(ctx, clg_tensor_keep(g, a));           /* read below */
    clg_tensor y = clg_sum(g, clg_exp(g, a));
    float xv[12], av[12], yv = -1.0f;
    for (int i = 0; i < 12; i++) xv[i] = 0.05f * (float)(i + 1);
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, 12));

    refused = CLG_OP_EXP;
    nodes_run = 0;
    assert_int_equal(clg_graph_run(g, CLG_RUN_FORWARD), CLG_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS(ctx, "clg_graph_run");
    ASSERT_MSG_HAS(ctx, "exp [3,4] -> [3,4]");   /* the op and its shapes */
    ASSERT_MSG_HAS(ctx, "picky backend");         /* the backend */
    ASSERT_MSG_HAS(ctx, "the picky test device"); /* and its device */
    assert_int_equal(nodes_run, 0);               /* nothing ran, not even the scale before it */
    CHECK_OK(ctx, clg_tensor_get(g, a, av, 12));
    for (int i = 0; i < 12; i++) assert_true(av[i] == 0.0f);
    assert_int_equal(clg_graph_status(g), CLG_OK); /* the graph is intact */
    assert_int_equal(clg_graph_run(g, CLG_RUN_FORWARD), CLG_ERR_UNSUPPORTED); /* asked again: still refused */
    assert_int_equal(nodes_run, 0);

    /* the same graph runs once the backend takes the op */
    refused = CLG_OP_COUNT;
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    assert_int_equal(nodes_run, 3);
    CHECK_OK(ctx, clg_tensor_get(g, y, &yv, 1));
    double want = 0;
    for (int i = 0; i < 12; i++) want += exp(2.0 * xv[i]);
    assert_true(fabs(yv - want) <= 1e-5 * want);

    /* checked once per change: an unchanged graph is not asked again ... */
    refused = CLG_OP_EXP;
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    assert_int_equal(nodes_run, 6);
    /* ... a new node makes the next run ask about every node again */
    clg_tensor z = clg_neg(g, y);
    assert_true(z.id >= 0);
    assert_int_equal(clg_graph_run(g, CLG_RUN_FORWARD), CLG_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS(ctx, "exp [3,4] -> [3,4]");
    assert_int_equal(nodes_run, 6);

    /* an initialiser runs an op at once: refused the same way */
    refused = CLG_OP_RNG_FILL;
    const int64_t ws = 5;
    clg_tensor w = clg_param(g, 1, &ws);
    assert_int_equal(clg_init_uniform(g, w, -1.0f, 1.0f, 7), CLG_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS(ctx, "clg_init_uniform");
    ASSERT_MSG_HAS(ctx, "random_fill");
    ASSERT_MSG_HAS(ctx, "picky backend");
    assert_int_equal(nodes_run, 6);
    refused = CLG_OP_COUNT;
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_mismatch),  cmocka_unit_test(test_mse_shapes),
        cmocka_unit_test(test_bad_leaves_and_counts), cmocka_unit_test(test_backward_errors),
        cmocka_unit_test(test_destroyed_graph), cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_unknown_device), cmocka_unit_test(test_unsupported_op_refused_before_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
