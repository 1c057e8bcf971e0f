/*
 * The axis family: sum, mean and max along one axis.
 *  - forward of the reference against the definition, written again here;
 *  - gc_check_fd (double reference vs central finite differences, then
 *    float reference vs double) on 1x1, 3x5 and 2x3x4x5 for every axis,
 *    negative ones too, keepdim both ways;
 *  - gc_check_devices (each OpenCL device vs the reference, forward and
 *    backward) on those and on 17x33x65.
 *
 * Tolerances, and why:
 *  - max and the gradients of all three only move or scale values: exact,
 *    gc_default_tol's slack is unused;
 *  - a device sums in float, the reference in double then rounds. For a
 *    row of len terms the device's error is at most (len - 1) u sum|x|
 *    (u = 2^-24, any summation order), the reference's rounding u |sum|,
 *    and mean's float scale 2u more. With positive inputs sum|x| = |sum|,
 *    so the relative error is at most (len + 2) u = 4.0e-6 for len = 65,
 *    the longest axis here: gc_default_tol (4e-6 relative + 1e-6 of the
 *    max, the max being at least the value itself when all are positive)
 *    covers it, and the device checks of sum and mean use positive inputs;
 *  - with signed inputs a sum may cancel to far below its terms, so the
 *    forward on each device is checked element by element against
 *    (len + 2) u sum|x| of its own row (check_signed_sums).
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SUM, MEAN, MAX } op_kind;
static const char *const op_names[] = {"sum_axis", "mean_axis", "max_axis"};

typedef struct {
    op_kind op;
    int axis, keepdim;
} axis_case;

static clg_tensor build_op(clg_graph *g, const clg_tensor *in, void *arg)
{
    const axis_case *c = arg;
    switch (c->op) {
    case SUM: return clg_sum_axis(g, in[0], c->axis, c->keepdim);
    case MEAN: return clg_mean_axis(g, in[0], c->axis, c->keepdim);
    case MAX: return clg_max_axis(g, in[0], c->axis, c->keepdim);
    }
    return CLG_NO_TENSOR;
}

static gc_input param_of(int ndim, const int64_t *shape, bool positive)
{
    gc_input in = {.ndim = ndim, .param = true, .lo = 0.1, .hi = 4, .positive = positive};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    return in;
}

/* x as [outer, len, inner] along axis a */
typedef struct {
    int64_t outer, len, inner;
} geometry;

static geometry geometry_of(const gc_input *in, int a)
{
    geometry g = {1, in->shape[a], 1};
    for (int d = 0; d < a; d++) g.outer *= in->shape[d];
    for (int d = a + 1; d < in->ndim; d++) g.inner *= in->shape[d];
    return g;
}

/* The output shape the op must give, and the definition in double. */
static void check_reference(const axis_case *c, const gc_input *in, uint64_t seed)
{
    int a = c->axis < 0 ? c->axis + in->ndim : c->axis;
    float *values[1];
    gc_make_inputs(in, 1, seed, values);

    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor x = clg_input(g, in->ndim, in->shape), y = build_op(g, &x, (void *)c);
    CHECK_OK(ctx, clg_graph_status(g));
    int want_ndim = c->keepdim ? in->ndim : in->ndim - 1; /* a 1-D x gives 0-d, as PyTorch */
    assert_int_equal(clg_tensor_ndim(g, y), want_ndim);
    for (int d = 0, k = 0; d < in->ndim; d++) {
        if (d == a && !c->keepdim) continue;
        assert_int_equal(clg_tensor_dim(g, y, k++), d == a ? 1 : in->shape[d]);
    }
    geometry geo = geometry_of(in, a);
    assert_int_equal(clg_tensor_numel(g, y), geo.outer * geo.inner);
    float *out = malloc((size_t)(geo.outer * geo.inner) * sizeof(float));
    assert_non_null(out);
    CHECK_OK(ctx, clg_tensor_set(g, x, values[0], (size_t)numel_of(in->ndim, in->shape)));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, y, out, (size_t)(geo.outer * geo.inner)));
    for (int64_t o = 0; o < geo.outer; o++)
        for (int64_t r = 0; r < geo.inner; r++) {
            double acc = 0, best = -INFINITY;
            for (int64_t k = 0; k < geo.len; k++) {
                double v = values[0][(o * geo.len + k) * geo.inner + r];
                acc += v;
                best = v > best ? v : best;
            }
            double want = c->op == SUM ? acc : c->op == MEAN ? acc / (double)geo.len : best;
            double got = out[o * geo.inner + r];
            /* the reference rounds a double result once */
            if (fabs(got - want) > 0x1p-24 * fabs(want))
                fail_msg("%s axis %d: reference y[%lld] is %.9g, want %.9g", op_names[c->op], c->axis,
                         (long long)(o * geo.inner + r), got, want);
        }
    free(out);
    free(values[0]);
    clg_context_destroy(ctx);
}

/* Each device's forward on signed inputs, within (len + 2) u sum|x| of
 * the reference, row by row (see the top of the file). */
static void check_signed_sums(const axis_case *c, const gc_input *in, uint64_t seed)
{
    int a = c->axis < 0 ? c->axis + in->ndim : c->axis;
    geometry geo = geometry_of(in, a);
    float *values[1];
    gc_make_inputs(in, 1, seed, values);
    int64_t n, m;
    float *ref = gc_eval("reference", build_op, (void *)c, in, 1, (const float *const *)values, &n);
    char specs[16][32];
    int ndev = test_opencl_devices(specs, 16);
    for (int d = 0; d < ndev; d++) {
        float *dev = gc_eval(specs[d], build_op, (void *)c, in, 1, (const float *const *)values, &m);
        assert_int_equal(m, n);
        for (int64_t o = 0; o < geo.outer; o++)
            for (int64_t r = 0; r < geo.inner; r++) {
                double abs_sum = 0;
                for (int64_t k = 0; k < geo.len; k++) abs_sum += fabs(values[0][(o * geo.len + k) * geo.inner + r]);
                if (c->op == MEAN) abs_sum /= (double)geo.len;
                int64_t j = o * geo.inner + r;
                double bound = (double)(geo.len + 2) * 0x1p-24 * abs_sum;
                if (!(fabs((double)dev[j] - ref[j]) <= bound))
                    fail_msg("%s axis %d on %s: y[%lld] is %.9g, reference %.9g (|diff| %.3g > bound %.3g)",
                             op_names[c->op], c->axis, specs[d], (long long)j, dev[j], ref[j],
                             fabs((double)dev[j] - ref[j]), bound);
            }
        free(dev);
    }
    free(ref);
    free(values[0]);
}

/* Every op, every axis (as given, and negative), keepdim both ways. */
static void every_axis(int ndim, const int64_t *shape, bool fd, uint64_t seed)
{
    for (int op = SUM; op <= MAX; op++)
        for (int axis = -ndim; axis < ndim; axis++)
            for (int keepdim = 0; keepdim <= 1; keepdim++) {
                axis_case c = {(op_kind)op, axis, keepdim};
                gc_input signed_in = param_of(ndim, shape, false), device_in = param_of(ndim, shape, op != MAX);
                char name[96];
                snprintf(name, sizeof name, "%s axis %d keepdim %d of %d-D", op_names[op], axis, keepdim, ndim);
                seed++;
                check_reference(&c, &signed_in, seed);
                if (fd) gc_check_fd(name, build_op, &c, &signed_in, 1, &gc_default_tol, seed);
                gc_check_devices(name, build_op, &c, &device_in, 1, &gc_default_tol, seed);
                if (op != MAX && keepdim) check_signed_sums(&c, &signed_in, seed);
            }
}

static void test_small(void **state)
{
    const int64_t s11[2] = {1, 1}, s35[2] = {3, 5}, s7[1] = {7};
    every_axis(2, s11, true, 100);
    every_axis(2, s35, true, 200);
    every_axis(1, s7, true, 300);
}

static void test_2x3x4x5(void **state)
{
    const int64_t s[4] = {2, 3, 4, 5};
    every_axis(4, s, true, 400);
}

static void test_17x33x65(void **state)
{
    const int64_t s[3] = {17, 33, 65};
    every_axis(3, s, false, 500);
}

/* Ties: the first maximum along the axis takes the value and the whole
 * gradient; a NaN anywhere in a row is its maximum, the first NaN taking
 * the gradient. */
static void ties(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s[2] = {4, 3};
    clg_tensor x = clg_param(g, 2, s), y = clg_max_axis(g, x, 0, 0);
    clg_tensor_keep(g, y); /* read after the run */
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, y)));
    /* columns: a tie for first place at rows 1 and 3; all equal; NaN at
     * rows 2 and 3 after a larger value */
    const float q = NAN;
    const float v[12] = {1, 5, 9, 7, 5, 2, 3, 5, q, 7, 5, q};
    CHECK_OK(ctx, clg_tensor_set(g, x, v, 12));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    float out[3], gx[12];
    CHECK_OK(ctx, clg_tensor_get(g, y, out, 3));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, x), gx, 12));
    assert_true(out[0] == 7.0f && out[1] == 5.0f && isnan(out[2]));
    const float want[12] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0};
    for (int i = 0; i < 12; i++)
        if (gx[i] != want[i]) fail_msg("%s: max_axis gradient [%d] is %g, want %g", spec, i, gx[i], want[i]);
    clg_context_destroy(ctx);
}

static void test_max_ties(void **state) { for_each_device(ties); }

/* mean and max in a small network-like chain: the gradient of a reduced
 * tensor used twice (through a keepdim broadcast) accumulates. */
static clg_tensor build_centered(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_tensor x = in[0];
    clg_tensor centered = clg_sub(g, x, clg_mean_axis(g, x, -1, 1));
    return clg_add(g, clg_max_axis(g, clg_square(g, centered), 0, 0), clg_sum_axis(g, x, 0, 0));
}

static void test_composed(void **state)
{
    const int64_t s[2] = {6, 7};
    gc_input in = param_of(2, s, false);
    gc_check_fd("x - mean(x), max, sum", build_centered, NULL, &in, 1, &gc_default_tol, 700);
    gc_check_devices("x - mean(x), max, sum", build_centered, NULL, &in, 1, &gc_default_tol, 700);
}

static void test_errors(void **state)
{
    clg_context *ctx = open_ctx("reference");
    const int64_t s35[2] = {3, 5};
    clg_tensor (*const fns[3])(clg_graph *, clg_tensor, int, int) = {clg_sum_axis, clg_mean_axis, clg_max_axis};
    const int bad_axes[2] = {2, -3};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 2; b++) {
            clg_graph *g;
            CHECK_OK(ctx, clg_graph_create(ctx, &g));
            assert_true(fns[k](g, clg_input(g, 2, s35), bad_axes[b], 1).id < 0);
            assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
            char says[32];
            snprintf(says, sizeof says, "axis %d", bad_axes[b]);
            ASSERT_MSG_HAS(ctx, op_names[k]);
            ASSERT_MSG_HAS(ctx, "[3,5]");
            ASSERT_MSG_HAS(ctx, says);
        }
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor failed = clg_max_axis(g, clg_labels(g, 2, s35), 0, 0);
    assert_true(failed.id < 0);
    ASSERT_MSG_HAS(ctx, "max_axis");
    ASSERT_MSG_HAS(ctx, "int32 labels");
    assert_true(clg_sum_axis(g, failed, 0, 0).id < 0);
    ASSERT_MSG_HAS(ctx, "int32 labels"); /* the first message stays */
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),    cmocka_unit_test(test_2x3x4x5),  cmocka_unit_test(test_17x33x65),
        cmocka_unit_test(test_max_ties), cmocka_unit_test(test_composed), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
