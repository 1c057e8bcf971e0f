/*
 * The softmax family: softmax and log-softmax along any axis, softmax
 * cross-entropy, binary cross-entropy on logits; forward and backward.
 *  - the double reference against the formulas, written here
 *    independently (softmax by explicit multi-indices);
 *  - gradients of the double reference against central finite
 *    differences, and the float reference against the double one
 *    (gc_check_fd): sizes 1, 7, 1000, 3x5 and 3x4x5 along each axis,
 *    cross-entropy with batch 1 and 130 and C = 10 and 7, bce in both
 *    logits and targets;
 *  - every OpenCL device against the float reference (gc_check_devices):
 *    sizes 1, 7, 1000, 1000003, 3x5 and 17x33x65 along each axis (both
 *    kernels: a work-group per row and a work-item per row);
 *  - inputs of +-1e4: softmax and log-softmax against the formula and
 *    across devices; cross-entropy and bce give finite losses and
 *    gradients with the right values;
 *  - labels out of range: clg_tensor_set_i32 refuses them, naming the op,
 *    the logits' shape, the label, its index and the class count, and
 *    uploads nothing; labels written before the op existed (unchecked)
 *    give NaN, never a read out of bounds;
 *  - bad shapes, axes and label types: a status and a message naming op
 *    and shapes.
 *
 * Tolerances, and why:
 *  - double reference vs formula: 6e-8 relative (gc_eval narrows the
 *    double result to float: at most 2^-24 = 5.96e-8) plus 1e-12 of the
 *    largest value for log-softmax results that happen to be near zero.
 *  - devices vs reference and float vs double reference: gc_default_tol
 *    (4e-6 relative, about 32 ulp, plus 1e-6 of the largest value). Row
 *    sums are compensated on the devices (error independent of C, then a
 *    tree of log2(local size) levels) and in double in the reference, so
 *    what is left is a few ulp of exp, log and division per element; the
 *    1e-6-of-max part covers cancellation: y (dy - sum dy y) and p - 1 at
 *    the label, and log-softmax values near zero.
 *  - finite differences: gc_default_tol (1e-6 relative + 1e-7 of max,
 *    h = 1e-6 |x|): the functions are smooth (no kinks), truncation error
 *    ~h^2 ~ 1e-12, roundoff of the double loss ~1e-16 |L| / h ~ 1e-9.
 *    bce (a mean over up to 1000 terms) uses h = 1e-4 |z|, reasons at
 *    test_bce_checks; the tolerances are the same.
 *  - +-1e4: loss 1e-6 relative + 1e-6 absolute: a row loss is m - z_label
 *    (one rounding at most; exact for same-sign logits, by Sterbenz) plus
 *    the log of a sum in [1, C] good to a few ulp; the 1e-6 absolute part
 *    is for a mean that may be near zero. Gradients as gc_default_tol.
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed_for(const char *name, int variant)
{
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h ^ (uint64_t)variant * 0x9e3779b97f4a7c15ull;
}

/* ---- softmax and log-softmax along an axis ---- */

typedef struct {
    bool log;
    int axis;
} sm_arg;

static clg_tensor build_softmax(clg_graph *g, const clg_tensor *in, void *arg)
{
    const sm_arg *a = arg;
    return a->log ? clg_log_softmax(g, in[0], a->axis) : clg_softmax(g, in[0], a->axis);
}

typedef struct {
    int ndim;
    int64_t shape[3];
} shape_t;

/* Every axis of each shape, and one negative spelling per shape. */
static const shape_t fd_shapes[] = {{1, {1}}, {1, {7}}, {1, {1000}}, {2, {3, 5}}, {3, {3, 4, 5}}};
static const shape_t dev_shapes[] = {{1, {1}},    {1, {7}},          {1, {1000}},
                                     {1, {1000003}}, {2, {3, 5}}, {3, {17, 33, 65}}};

static gc_input input_of(const shape_t *s)
{
    gc_input in = {.ndim = s->ndim, .param = true, .lo = 0.1, .hi = 4};
    memcpy(in.shape, s->shape, sizeof s->shape);
    return in;
}

/* y of softmax (or log-softmax) in double, by multi-indices: element i's
 * row is every element equal to it except along axis. */
static void softmax_d(const float *x, double *y, const shape_t *s, int axis, bool log_out)
{
    int64_t n = numel_of(s->ndim, s->shape), stride = 1;
    for (int d = s->ndim - 1; d > axis; d--) stride *= s->shape[d];
    int64_t c = s->shape[axis];
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (i / stride) % c, first = i - k * stride;
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < c; j++) m = fmax(m, x[first + j * stride]);
        for (int64_t j = 0; j < c; j++) sum += exp(x[first + j * stride] - m);
        y[i] = log_out ? x[i] - m - log(sum) : exp(x[i] - m) / sum;
    }
}

static void test_reference_vs_formula(void **state)
{
    for (size_t k = 0; k < sizeof fd_shapes / sizeof fd_shapes[0]; k++)
        for (int axis = 0; axis < fd_shapes[k].ndim; axis++)
            for (int lg = 0; lg < 2; lg++) {
                const shape_t *s = &fd_shapes[k];
                gc_input in = input_of(s);
                float *x;
                gc_make_inputs(&in, 1, seed_for("formula", (int)k * 10 + axis), &x);
                sm_arg a = {lg != 0, axis};
                int64_t n;
                float *y = gc_eval("reference64", build_softmax, &a, &in, 1, (const float *const *)&x, &n);
                double *want = malloc((size_t)n * sizeof *want), m = 0;
                assert_non_null(want);
                softmax_d(x, want, s, axis, lg != 0);
                for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
                char what[128];
                snprintf(what, sizeof what, "%s along axis %d of %lld elements, double reference vs formula",
                         lg ? "log_softmax" : "softmax", axis, (long long)n);
                assert_close_d(y, want, (size_t)n, 6e-8, 1e-12 * m, what);
                free(want);
                free(y);
                free(x);
            }
}

static void test_softmax_finite_differences(void **state)
{
    for (size_t k = 0; k < sizeof fd_shapes / sizeof fd_shapes[0]; k++)
        for (int axis = -1; axis < fd_shapes[k].ndim; axis++)
            for (int lg = 0; lg < 2; lg++) {
                gc_input in = input_of(&fd_shapes[k]);
                sm_arg a = {lg != 0, axis};
                char name[64];
                snprintf(name, sizeof name, "%s axis %d", lg ? "log_softmax" : "softmax", axis);
                gc_check_fd(name, build_softmax, &a, &in, 1, &gc_default_tol, seed_for(name, (int)k));
            }
}

static void test_softmax_devices(void **state)
{
    for (size_t k = 0; k < sizeof dev_shapes / sizeof dev_shapes[0]; k++)
        for (int axis = -1; axis < dev_shapes[k].ndim; axis++)
            for (int lg = 0; lg < 2; lg++) {
                gc_input in = input_of(&dev_shapes[k]);
                sm_arg a = {lg != 0, axis};
                char name[64];
                snprintf(name, sizeof name, "%s axis %d", lg ? "log_softmax" : "softmax", axis);
                gc_check_devices(name, build_softmax, &a, &in, 1, &gc_default_tol, seed_for(name, 50 + (int)k));
            }
}

/* Inputs of exactly +-1e4 (ties at the max): against the formula on the
 * double reference, and every device against the float reference. */
static void test_softmax_extreme(void **state)
{
    const shape_t shapes[] = {{2, {3, 5}}, {3, {17, 33, 65}}};
    for (size_t k = 0; k < 2; k++)
        for (int axis = 0; axis < shapes[k].ndim; axis++)
            for (int lg = 0; lg < 2; lg++) {
                gc_input in = input_of(&shapes[k]);
                in.lo = in.hi = 1e4;
                sm_arg a = {lg != 0, axis};
                char name[64];
                snprintf(name, sizeof name, "%s axis %d at +-1e4", lg ? "log_softmax" : "softmax", axis);
                uint64_t seed = seed_for(name, (int)k);
                float *x;
                gc_make_inputs(&in, 1, seed, &x);
                int64_t n;
                float *y = gc_eval("reference64", build_softmax, &a, &in, 1, (const float *const *)&x, &n);
                double *want = malloc((size_t)n * sizeof *want), m = 0;
                assert_non_null(want);
                softmax_d(x, want, &shapes[k], axis, lg != 0);
                for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
                assert_close_d(y, want, (size_t)n, 6e-8, 1e-12 * m, name);
                gc_check_devices(name, build_softmax, &a, &in, 1, &gc_default_tol, seed);
                free(want);
                free(y);
                free(x);
            }
}

/* ---- softmax cross-entropy ---- */

static clg_tensor build_ce(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_softmax_cross_entropy(g, in[0], in[1]);
}

static const int64_t batches[] = {1, 130}, classes[] = {10, 7};

static void ce_inputs(gc_input in[2], int64_t n, int64_t c, double lo, double hi)
{
    in[0] = (gc_input){.ndim = 2, .shape = {n, c}, .param = true, .lo = lo, .hi = hi};
    in[1] = (gc_input){.ndim = 1, .shape = {n}, .label_max = (int32_t)c};
}

static void test_ce_checks(void **state)
{
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 2; c++) {
            gc_input in[2];
            ce_inputs(in, batches[b], classes[c], 0.1, 4);
            char name[64];
            snprintf(name, sizeof name, "softmax_cross_entropy [%lld,%lld]", (long long)batches[b],
                     (long long)classes[c]);
            gc_check_fd(name, build_ce, NULL, in, 2, &gc_default_tol, seed_for(name, 1));
            gc_check_devices(name, build_ce, NULL, in, 2, &gc_default_tol, seed_for(name, 2));
        }
}

/* Loss and d loss / d logits on one device. */
static void eval_ce(const char *spec, const float *z, const int32_t *labels, int64_t n, int64_t c, float *loss,
                    float *dz)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t zs[2] = {n, c};
    clg_tensor tz = clg_param(g, 2, zs), tl = clg_labels(g, 1, &n);
    clg_tensor tloss = clg_softmax_cross_entropy(g, tz, tl);
    CHECK_OK(ctx, clg_backward(g, tloss));
    CHECK_OK(ctx, clg_tensor_set(g, tz, z, (size_t)(n * c)));
    CHECK_OK(ctx, clg_tensor_set_i32(g, tl, labels, (size_t)n));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, tloss, loss, 1));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tz), dz, (size_t)(n * c)));
    clg_context_destroy(ctx);
}

static void check_finite(const float *v, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) fail_msg("%s: element %zu of %zu is %g", what, i, n, (double)v[i]);
}

/* Logits |z| in [lo, hi] (random signs): against the formulas in double. */
static void ce_extreme(int64_t n, int64_t c, double lo, double hi, uint64_t seed)
{
    gc_input in[2];
    ce_inputs(in, n, c, lo, hi);
    float *v[2];
    gc_make_inputs(in, 2, seed, v);
    const float *z = v[0];
    const int32_t *labels = (const int32_t *)(void *)v[1];
    double want_loss = 0, *want_dz = malloc((size_t)(n * c) * sizeof *want_dz);
    assert_non_null(want_dz);
    for (int64_t i = 0; i < n; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < c; j++) m = fmax(m, z[i * c + j]);
        for (int64_t j = 0; j < c; j++) s += exp(z[i * c + j] - m);
        want_loss += (m - z[i * c + labels[i]] + log(s)) / (double)n;
        for (int64_t j = 0; j < c; j++)
            want_dz[i * c + j] = (exp(z[i * c + j] - m) / s - (j == labels[i])) / (double)n;
    }
    double gmax = 0;
    for (int64_t k = 0; k < n * c; k++) gmax = fmax(gmax, fabs(want_dz[k]));

    char specs[16][32], what[192];
    int ndev = test_opencl_devices(specs, 16);
    float loss, *dz = malloc((size_t)(n * c) * sizeof *dz);
    assert_non_null(dz);
    for (int d = -1; d < ndev; d++) {
        const char *spec = d < 0 ? "reference" : specs[d];
        eval_ce(spec, z, labels, n, c, &loss, dz);
        snprintf(what, sizeof what, "softmax_cross_entropy [%lld,%lld] with |logits| in [%g, %g] on %s",
                 (long long)n, (long long)c, lo, hi, spec);
        check_finite(&loss, 1, what);
        check_finite(dz, (size_t)(n * c), what);
        assert_close_d(&loss, &want_loss, 1, 1e-6, 1e-6, what);
        assert_close_d(dz, want_dz, (size_t)(n * c), 4e-6, 1e-6 * gmax, what);
    }
    free(dz);
    free(want_dz);
    free(v[0]);
    free(v[1]);
}

static void test_ce_extreme_logits(void **state)
{
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 2; c++) {
            /* exactly +-1e4: ties at the max share the probability */
            ce_extreme(batches[b], classes[c], 1e4, 1e4, seed_for("ce+-1e4", b * 2 + c));
            /* near +-1e4, 10 apart: a real softmax among the large ones */
            ce_extreme(batches[b], classes[c], 9990, 1e4, seed_for("ce near 1e4", b * 2 + c));
        }
    /* above 2^16 logits the forward runs a work-group per long row, a
     * work-item per short one, then sums the rows' losses (a batch's loss,
     * as above, in one launch: host/cl_softmax.c) */
    ce_extreme(67, 1001, 0.1, 30, seed_for("ce large", 0));
    ce_extreme(7001, 10, 0.1, 30, seed_for("ce large", 1));
}

/* A label out of range, written after the op was recorded: refused with a
 * message that says what and where; the old labels stay. */
static void check_bad_label(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t zs[2] = {4, 10}, n = 4;
    clg_tensor z = clg_param(g, 2, zs), l = clg_labels(g, 1, &n);
    assert_true(clg_softmax_cross_entropy(g, z, l).id >= 0);
    const int32_t good[4] = {1, 2, 3, 9}, bad[4] = {1, 2, 12, 3}, negative[4] = {0, -1, 0, 0};
    CHECK_OK(ctx, clg_tensor_set_i32(g, l, good, 4));

    assert_int_equal(clg_tensor_set_i32(g, l, bad, 4), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "softmax_cross_entropy");
    ASSERT_MSG_HAS(ctx, "[4,10]");
    ASSERT_MSG_HAS(ctx, "label 12");
    ASSERT_MSG_HAS(ctx, "index 2");
    ASSERT_MSG_HAS(ctx, "10 classes");
    int32_t back[4];
    CHECK_OK(ctx, clg_tensor_get_i32(g, l, back, 4));
    assert_memory_equal(back, good, sizeof good);

    assert_int_equal(clg_tensor_set_i32(g, l, negative, 4), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "label -1");
    ASSERT_MSG_HAS(ctx, "index 1");
    CHECK_OK(ctx, clg_tensor_get_i32(g, l, back, 4));
    assert_memory_equal(back, good, sizeof good);
    /* the graph is still usable */
    assert_int_equal(clg_graph_status(g), CLG_OK);
    clg_context_destroy(ctx);
}

/* Labels written before the op existed escape the check: the kernels
 * must not read through them; the loss says NaN. */
static void check_unchecked_label(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t zs[2] = {3, 7}, n = 3;
    clg_tensor z = clg_param(g, 2, zs), l = clg_labels(g, 1, &n);
    const int32_t bad[3] = {1, 1000000, -5};
    CHECK_OK(ctx, clg_tensor_set_i32(g, l, bad, 3));
    clg_tensor loss = clg_softmax_cross_entropy(g, z, l);
    CHECK_OK(ctx, clg_backward(g, loss));
    float zv[21], dz[21], lv;
    for (int i = 0; i < 21; i++) zv[i] = 0.25f * (float)(i % 5) - 0.4f;
    CHECK_OK(ctx, clg_tensor_set(g, z, zv, 21));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, loss, &lv, 1));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, z), dz, 21));
    if (!isnan(lv)) fail_msg("%s: loss with labels out of range is %g, want NaN", spec, (double)lv);
    for (int j = 0; j < 7; j++) {
        assert_true(isfinite(dz[j])); /* row 0 has a good label */
        assert_true(isnan(dz[7 + j]) && isnan(dz[14 + j]));
    }
    clg_context_destroy(ctx);
}

static void test_labels_out_of_range(void **state)
{
    char specs[16][32];
    int ndev = test_opencl_devices(specs, 16);
    check_bad_label("reference");
    check_unchecked_label("reference");
    for (int d = 0; d < ndev; d++) {
        check_bad_label(specs[d]);
        check_unchecked_label(specs[d]);
    }
}

/* ---- binary cross-entropy on logits ---- */

static clg_tensor build_bce(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_bce_with_logits(g, in[0], in[1]);
}

/*
 * bce is a mean over n terms. For n = 1000 the double loss carries
 * roundoff ~eps sqrt(n) |partial sum| / n, which h = 1e-6 |z| turns into
 * ~3e-10 of finite-difference noise on gradients of ~1e-3 (the 1e-7-of-max
 * part of the tolerance is ~1.5e-10). h = 1e-4 |z| cuts that noise a
 * hundredfold while the truncation error, h^2 f'''(z) / 6 with
 * |f'''| <= 0.1 / n, stays near 3e-12. Only the step differs from
 * gc_default_tol.
 */
static gc_tol bce_fd_tol(void)
{
    gc_tol t = gc_default_tol;
    t.fd_h = 1e-4;
    return t;
}

static void test_bce_checks(void **state)
{
    const gc_tol fd_tol = bce_fd_tol();
    const shape_t shapes[] = {{1, {1}}, {1, {7}}, {1, {1000}}, {2, {3, 5}}, {1, {1000003}}, {3, {17, 33, 65}}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        gc_input in[2] = {input_of(&shapes[k]), input_of(&shapes[k])};
        in[1].lo = 0.05;
        in[1].hi = 0.95;
        in[1].positive = true;
        char name[64];
        snprintf(name, sizeof name, "bce_with_logits of %lld", (long long)numel_of(shapes[k].ndim, shapes[k].shape));
        if (numel_of(shapes[k].ndim, shapes[k].shape) <= 1000)
            gc_check_fd(name, build_bce, NULL, in, 2, &fd_tol, seed_for(name, 1));
        gc_check_devices(name, build_bce, NULL, in, 2, &gc_default_tol, seed_for(name, 2));
    }
}

static void test_bce_extreme_logits(void **state)
{
    static const float z[8] = {1e4f, -1e4f, 1e4f, -1e4f, 30.f, -30.f, 1e4f, -1e4f};
    static const float t[8] = {0.25f, 0.25f, 0.75f, 0.75f, 0.5f, 0.5f, 1.f, 0.f};
    const int64_t n = 8;
    double want_loss = 0, want_dz[8], want_dt[8];
    for (int i = 0; i < n; i++) {
        want_loss += (fmax(z[i], 0) - (double)z[i] * t[i] + log1p(exp(-fabs(z[i])))) / n;
        want_dz[i] = (1 / (1 + exp(-(double)z[i])) - t[i]) / n;
        want_dt[i] = -(double)z[i] / n;
    }
    char specs[16][32], what[160];
    int ndev = test_opencl_devices(specs, 16);
    for (int d = -1; d < ndev; d++) {
        const char *spec = d < 0 ? "reference" : specs[d];
        clg_context *ctx = open_ctx(spec);
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor tz = clg_param(g, 1, &n), tt = clg_param(g, 1, &n), loss = clg_bce_with_logits(g, tz, tt);
        CHECK_OK(ctx, clg_backward(g, loss));
        CHECK_OK(ctx, clg_tensor_set(g, tz, z, 8));
        CHECK_OK(ctx, clg_tensor_set(g, tt, t, 8));
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        float lv, dz[8], dt[8];
        CHECK_OK(ctx, clg_tensor_get(g, loss, &lv, 1));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tz), dz, 8));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tt), dt, 8));
        snprintf(what, sizeof what, "bce_with_logits at +-1e4, +-30 on %s", spec);
        check_finite(&lv, 1, what);
        check_finite(dz, 8, what);
        check_finite(dt, 8, what);
        assert_close_d(&lv, &want_loss, 1, 1e-6, 1e-6, what);
        assert_close_d(dz, want_dz, 8, 4e-6, 1e-6 * 0.125, what);
        assert_close_d(dt, want_dt, 8, 1e-6, 0, what);
        clg_context_destroy(ctx);
    }
}

/* ---- bad input ---- */

static void test_bad_input(void **state)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s35[2] = {3, 5}, s234[3] = {2, 3, 4}, s53[2] = {5, 3}, n3 = 3, n5 = 5, s31[2] = {3, 1};
    clg_tensor x = clg_input(g, 2, s35);

    assert_true(clg_softmax(g, x, 2).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "softmax");
    ASSERT_MSG_HAS(ctx, "axis 2");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    clg_context_destroy(ctx);

    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    x = clg_input(g, 2, s35);
    assert_true(clg_log_softmax(g, x, -3).id < 0);
    ASSERT_MSG_HAS(ctx, "log_softmax");
    ASSERT_MSG_HAS(ctx, "axis -3");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    clg_context_destroy(ctx);

    /* logits not 2-D */
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_softmax_cross_entropy(g, clg_input(g, 3, s234), clg_labels(g, 1, &n3)).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "softmax_cross_entropy");
    ASSERT_MSG_HAS(ctx, "[2,3,4]");
    clg_context_destroy(ctx);

    /* float labels */
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_softmax_cross_entropy(g, clg_input(g, 2, s35), clg_input(g, 1, &n3)).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "softmax_cross_entropy");
    ASSERT_MSG_HAS(ctx, "int32");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    ASSERT_MSG_HAS(ctx, "[3]");
    clg_context_destroy(ctx);

    /* labels not [N]: wrong length, then 2-D */
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_softmax_cross_entropy(g, clg_input(g, 2, s35), clg_labels(g, 1, &n5)).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "softmax_cross_entropy");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    ASSERT_MSG_HAS(ctx, "[5]");
    clg_context_destroy(ctx);
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_softmax_cross_entropy(g, clg_input(g, 2, s35), clg_labels(g, 2, s31)).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "[3,1]");
    clg_context_destroy(ctx);

    /* bce shapes differ */
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_bce_with_logits(g, clg_input(g, 2, s35), clg_input(g, 2, s53)).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "bce_with_logits");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    ASSERT_MSG_HAS(ctx, "[5,3]");
    clg_context_destroy(ctx);
}

/* softmax, log-softmax and a loss in one graph through the generic
 * checker: the backward rules compose (y used by two consumers). */
static clg_tensor composite(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_tensor p = clg_softmax(g, in[0], 0), lp = clg_log_softmax(g, in[0], 1);
    clg_tensor h = clg_add(g, clg_mul(g, p, lp), p);
    return clg_add(g, clg_softmax_cross_entropy(g, h, in[1]), clg_bce_with_logits(g, lp, p));
}

static void test_composite(void **state)
{
    const gc_input in[] = {
        {.ndim = 2, .shape = {6, 5}, .param = true, .lo = 0.1, .hi = 2},
        {.ndim = 1, .shape = {6}, .label_max = 5},
    };
    gc_check_fd("composite", composite, NULL, in, 2, &gc_default_tol, 31);
    gc_check_devices("composite", composite, NULL, in, 2, &gc_default_tol, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vs_formula),
        cmocka_unit_test(test_softmax_finite_differences),
        cmocka_unit_test(test_softmax_devices),
        cmocka_unit_test(test_softmax_extreme),
        cmocka_unit_test(test_ce_checks),
        cmocka_unit_test(test_ce_extreme_logits),
        cmocka_unit_test(test_labels_out_of_range),
        cmocka_unit_test(test_bce_checks),
        cmocka_unit_test(test_bce_extreme_logits),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_composite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
