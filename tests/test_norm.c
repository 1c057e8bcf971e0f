/*
 * Batch norm, forward and backward, training and evaluation mode:
 *  - every OpenCL device against the reference (gc_check_devices): x, gamma
 *    and beta all differentiated, for [N,C,H,W] 2x3x5x7, batch 1 with
 *    H*W > 1 (1x4x3x5), M = N*H*W above any work-group size (3x2x17x33)
 *    and [N,C] 130x7;
 *  - the double reference's gradients against central finite differences
 *    in double (gc_check_fd), and the float reference against the double;
 *  - running statistics after two training steps against a hand
 *    computation, and evaluation with them;
 *  - bad shapes and parameters, and a batch of one value per channel in
 *    training mode.
 *
 * Tolerances: gc_default_tol throughout (device vs reference 4e-6 relative
 * + 1e-6 of the largest value). Batch norm's float error on a device is a
 * sum of M terms in a different order for the mean, variance, dgamma and
 * dbeta (reference: double), which lands in the 1e-6-of-max part; every
 * per-element step is a few ulp. The running statistics use their own
 * bounds, explained where they are checked.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct bn_case {
    float momentum, eps;
    bool eval;          /* evaluation mode with running statistics below */
    const float *mean, *var; /* C values each, for eval */
} bn_case;

static clg_tensor build_bn(clg_graph *g, const clg_tensor *in, void *arg)
{
    const bn_case *k = arg;
    clg_tensor y = clg_batch_norm(g, in[0], in[1], in[2], k->momentum, k->eps);
    if (k->eval) {
        size_t C = (size_t)clg_tensor_dim(g, in[1], 0);
        if (clg_batch_norm_set_running(g, y, k->mean, k->var, C) != CLG_OK) return CLG_NO_TENSOR;
        clg_graph_set_training(g, 0);
    }
    return y;
}

static void bn_inputs(gc_input in[3], int ndim, const int64_t *shape)
{
    memset(in, 0, 3 * sizeof *in);
    in[0] = (gc_input){.ndim = ndim, .param = true, .lo = 0.05, .hi = 2};
    memcpy(in[0].shape, shape, (size_t)ndim * sizeof *shape);
    in[1] = (gc_input){.ndim = 1, .shape = {shape[1]}, .param = true, .lo = 0.5, .hi = 1.5};
    in[2] = (gc_input){.ndim = 1, .shape = {shape[1]}, .param = true, .lo = 0.1, .hi = 1};
}

/* S_PLANES: planes of 16 floats (BN_PLANES in cl/common.cl: a CPU's
 * vectors), more of them than a capped launch's work-items (-small-launches) */
static const int64_t S_NCHW[4] = {2, 3, 5, 7}, S_BATCH1[4] = {1, 4, 3, 5}, S_BIG[4] = {3, 2, 17, 33},
                     S_NC[2] = {130, 7}, S_PLANES[4] = {70, 3, 4, 4};

static void test_train_devices(void **state)
{
    const bn_case k = {.momentum = 0.1f, .eps = 1e-5f};
    gc_input in[3];
    bn_inputs(in, 4, S_NCHW);
    gc_check_devices("batch_norm 2x3x5x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 101);
    bn_inputs(in, 4, S_BATCH1);
    gc_check_devices("batch_norm 1x4x3x5", build_bn, (void *)&k, in, 3, &gc_default_tol, 102);
    bn_inputs(in, 4, S_BIG);
    gc_check_devices("batch_norm 3x2x17x33", build_bn, (void *)&k, in, 3, &gc_default_tol, 103);
    bn_inputs(in, 2, S_NC);
    gc_check_devices("batch_norm 130x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 104);
    bn_inputs(in, 4, S_PLANES);
    gc_check_devices("batch_norm 70x3x4x4", build_bn, (void *)&k, in, 3, &gc_default_tol, 105);
}

static void test_train_fd(void **state)
{
    const bn_case k = {.momentum = 0.1f, .eps = 1e-5f};
    gc_input in[3];
    bn_inputs(in, 4, S_NCHW);
    gc_check_fd("batch_norm 2x3x5x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 111);
    bn_inputs(in, 4, S_BATCH1);
    gc_check_fd("batch_norm 1x4x3x5", build_bn, (void *)&k, in, 3, &gc_default_tol, 112);
    bn_inputs(in, 2, S_NC);
    gc_check_fd("batch_norm 130x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 113);
    bn_inputs(in, 4, S_PLANES);
    gc_check_fd("batch_norm 70x3x4x4", build_bn, (void *)&k, in, 3, &gc_default_tol, 114);
}

static const float RUN_MEAN[7] = {0.3f, -1.2f, 0.05f, 2.0f, -0.4f, 0.9f, -0.01f};
static const float RUN_VAR[7] = {0.8f, 1.7f, 0.2f, 3.5f, 0.05f, 1.0f, 2.2f};

static void test_eval(void **state)
{
    const bn_case k = {.momentum = 0.1f, .eps = 1e-3f, .eval = true, .mean = RUN_MEAN, .var = RUN_VAR};
    gc_input in[3];
    bn_inputs(in, 4, S_NCHW);
    gc_check_fd("batch_norm eval 2x3x5x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 121);
    gc_check_devices("batch_norm eval 2x3x5x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 122);
    bn_inputs(in, 4, S_PLANES);
    gc_check_devices("batch_norm eval 70x3x4x4", build_bn, (void *)&k, in, 3, &gc_default_tol, 127);
    bn_inputs(in, 2, S_NC);
    gc_check_fd("batch_norm eval 130x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 123);
    gc_check_devices("batch_norm eval 130x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 124);
    /* one sample is fine in evaluation mode */
    const int64_t one[2] = {1, 7};
    bn_inputs(in, 2, one);
    gc_check_fd("batch_norm eval 1x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 125);
    gc_check_devices("batch_norm eval 1x7", build_bn, (void *)&k, in, 3, &gc_default_tol, 126);
}

/* Channel c's batch mean and biased variance of x [N, C, inner], in double. */
static void channel_stats(const float *x, int64_t N, int64_t C, int64_t inner, int64_t c, double *mean, double *var)
{
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < inner; k++) s += x[(n * C + c) * inner + k];
    *mean = s / (double)(N * inner);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < inner; k++) {
            double d = x[(n * C + c) * inner + k] - *mean;
            q += d * d;
        }
    *var = q / (double)(N * inner);
}

/*
 * Two training steps on fresh batches, then the running statistics against
 *   r_mean = (1 - m) ((1 - m) 0 + m mean1) + m mean2,
 *   r_var  = (1 - m) ((1 - m) 1 + m var1 M/(M-1)) + m var2 M/(M-1),
 * then one evaluation step against gamma (x - r_mean) / sqrt(r_var + eps) + beta.
 */
static void running_two_steps(const char *spec)
{
    enum { N = 2, C = 3, H = 5, W = 7, INNER = H * W, M = N * INNER, NX = N * C * INNER };
    const int64_t sx[4] = {N, C, H, W}, sc[1] = {C};
    const float mom = 0.3f, eps = 1e-5f;
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor x = clg_input(g, 4, sx), gamma = clg_param(g, 1, sc), beta = clg_param(g, 1, sc);
    clg_tensor y = clg_batch_norm(g, x, gamma, beta, mom, eps);
    CHECK_OK(ctx, clg_graph_status(g));

    float xs[3][NX], gv[C], bv[C], rm[C], rv[C];
    rng_t r = {4242};
    for (int k = 0; k < 3; k++) rng_fill(&r, xs[k], NX, 0.05, 2, false);
    for (int k = 0; k < NX; k++) xs[1][k] = 3.0f * xs[1][k] + 0.7f; /* another mean and scale */
    rng_fill(&r, gv, C, 0.5, 1.5, false);
    rng_fill(&r, bv, C, 0.1, 1, false);
    CHECK_OK(ctx, clg_tensor_set(g, gamma, gv, C));
    CHECK_OK(ctx, clg_tensor_set(g, beta, bv, C));

    CHECK_OK(ctx, clg_batch_norm_running(g, y, rm, rv, C));
    for (int c = 0; c < C; c++) {
        assert_true(rm[c] == 0.0f);
        assert_true(rv[c] == 1.0f);
    }
    double want_m[C], want_v[C], xmax = 0;
    for (int c = 0; c < C; c++) {
        want_m[c] = 0;
        want_v[c] = 1;
    }
    for (int step = 0; step < 2; step++) {
        CHECK_OK(ctx, clg_tensor_set(g, x, xs[step], NX));
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
        for (int c = 0; c < C; c++) {
            double mean, var;
            channel_stats(xs[step], N, C, INNER, c, &mean, &var);
            want_m[c] = (1 - (double)mom) * want_m[c] + (double)mom * mean;
            want_v[c] = (1 - (double)mom) * want_v[c] + (double)mom * var * M / (M - 1);
        }
        for (int k = 0; k < NX; k++) xmax = fmax(xmax, fabs(xs[step][k]));
    }
    CHECK_OK(ctx, clg_batch_norm_running(g, y, rm, rv, C));
    char what[128];
    /* The mean is a float sum of M = 70 values (|x| <= 6.7) on a device:
     * error below 1e-6 max|x|, about 16 ulp of the largest value. The
     * variance (a sum of squares, no cancellation after the two-pass mean)
     * and the update's few float operations: 4e-6 relative, as elsewhere. */
    snprintf(what, sizeof what, "running mean on %s", spec);
    assert_close_d(rm, want_m, C, 4e-6, 1e-6 * xmax, what);
    snprintf(what, sizeof what, "running variance on %s", spec);
    assert_close_d(rv, want_v, C, 4e-6, 0, what);

    CHECK_OK(ctx, clg_graph_set_training(g, 0));
    CHECK_OK(ctx, clg_tensor_set(g, x, xs[2], NX));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    float got[NX], rm2[C], rv2[C];
    double want[NX];
    CHECK_OK(ctx, clg_tensor_get(g, y, got, NX));
    CHECK_OK(ctx, clg_batch_norm_running(g, y, rm2, rv2, C));
    assert_memory_equal(rm2, rm, sizeof rm); /* evaluation leaves them alone */
    assert_memory_equal(rv2, rv, sizeof rv);
    double ymax = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < INNER; k++) {
                int i = (n * C + c) * INNER + k;
                want[i] = gv[c] * ((double)xs[2][i] - rm[c]) / sqrt((double)rv[c] + eps) + bv[c];
                ymax = fmax(ymax, fabs(want[i]));
            }
    /* per element a few float operations; x - mean may cancel: 1e-6 of max */
    snprintf(what, sizeof what, "evaluation with the running statistics on %s", spec);
    assert_close_d(got, want, NX, 4e-6, 1e-6 * ymax, what);
    clg_context_destroy(ctx);
}

static void test_running_stats(void **state) { for_each_device(running_two_steps); }

/* The running statistics as tensors (clg_batch_norm_state): PyTorch's
 * names, the same values as clg_batch_norm_running, num_batches_tracked
 * counting training forward runs only, writes checked (a refused one
 * changes nothing), no ops on them, and a checkpoint round trip. */
static void state_tensors(const char *spec)
{
    enum { N = 3, C = 4, L = 5, NX = N * C * L };
    const int64_t sx[3] = {N, C, L}, sc = C;
    clg_context *ctx = open_ctx(spec);
    clg_graph *g[2];
    clg_tensor x[2], y[2], st[2][3];
    float xv[NX];
    rng_t r = {77};
    rng_fill(&r, xv, NX, 0.1, 2, false);
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, clg_graph_create(ctx, &g[k]));
        x[k] = clg_input(g[k], 3, sx);
        clg_tensor gamma = clg_param(g[k], 1, &sc), beta = clg_param(g[k], 1, &sc);
        y[k] = clg_batch_norm(g[k], x[k], gamma, beta, 0.1f, 1e-5f);
        CHECK_OK(ctx, clg_tensor_set_name(g[k], gamma, "bn.weight"));
        CHECK_OK(ctx, clg_tensor_set_name(g[k], beta, "bn.bias"));
        CHECK_OK(ctx, clg_batch_norm_state(g[k], y[k], "bn", &st[k][0], &st[k][1], &st[k][2]));
    }
    assert_string_equal(clg_tensor_name(g[0], st[0][0]), "bn.running_mean");
    assert_string_equal(clg_tensor_name(g[0], st[0][1]), "bn.running_var");
    assert_string_equal(clg_tensor_name(g[0], st[0][2]), "bn.num_batches_tracked");
    assert_int_equal(clg_tensor_ndim(g[0], st[0][2]), 0);
    assert_int_equal(clg_tensor_numel(g[0], st[0][2]), 1);
    clg_tensor again[3];
    CHECK_OK(ctx, clg_batch_norm_state(g[0], y[0], NULL, &again[0], &again[1], &again[2]));
    for (int k = 0; k < 3; k++) assert_int_equal(again[k].id, st[0][k].id);

    /* 3 training forward runs count, an evaluation run does not */
    int32_t batches = -1;
    CHECK_OK(ctx, clg_tensor_get_i32(g[0], st[0][2], &batches, 1));
    assert_int_equal(batches, 0);
    CHECK_OK(ctx, clg_tensor_set(g[0], x[0], xv, NX));
    for (int k = 0; k < 3; k++) CHECK_OK(ctx, clg_graph_run(g[0], CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_graph_set_training(g[0], 0));
    CHECK_OK(ctx, clg_graph_run(g[0], CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get_i32(g[0], st[0][2], &batches, 1));
    assert_int_equal(batches, 3);
    float m[C], v[C], rm[C], rv[C];
    CHECK_OK(ctx, clg_tensor_get(g[0], st[0][0], m, C));
    CHECK_OK(ctx, clg_tensor_get(g[0], st[0][1], v, C));
    CHECK_OK(ctx, clg_batch_norm_running(g[0], y[0], rm, rv, C));
    assert_memory_equal(m, rm, sizeof m);
    assert_memory_equal(v, rv, sizeof v);
    for (int c = 0; c < C; c++) assert_true(m[c] != 0.0f && v[c] != 1.0f); /* moved from 0 and 1 */

    /* writes: through to the statistics; a bad one refused, nothing changed */
    float m2[C] = {0.5f, -1, 2, 0.25f}, bad[C] = {1, -0.5f, 1, 1};
    CHECK_OK(ctx, clg_tensor_set(g[0], st[0][0], m2, C));
    CHECK_OK(ctx, clg_batch_norm_running(g[0], y[0], rm, NULL, C));
    assert_memory_equal(rm, m2, sizeof rm);
    assert_int_equal(clg_tensor_set(g[0], st[0][1], bad, C), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "running variance"));
    CHECK_OK(ctx, clg_batch_norm_running(g[0], y[0], NULL, rv, C));
    assert_memory_equal(rv, v, sizeof rv);
    const int32_t minus = -1;
    assert_int_equal(clg_tensor_set_i32(g[0], st[0][2], &minus, 1), CLG_ERR_INVALID_ARGUMENT);
    CHECK_OK(ctx, clg_tensor_get_i32(g[0], st[0][2], &batches, 1));
    assert_int_equal(batches, 3);

    /* no ops on them; a name taken refuses the call, which records nothing */
    clg_tensor z = clg_add(g[0], st[0][0], st[0][0]);
    assert_true(z.id < 0);
    assert_non_null(strstr(clg_context_errmsg(ctx), "running state"));
    clg_graph_clear_status(g[0]);
    clg_tensor other = clg_input(g[1], 1, &sc);
    CHECK_OK(ctx, clg_tensor_set_name(g[1], other, "bn2.running_var"));
    const int64_t sx2[2] = {N, C};
    clg_tensor y2 = clg_batch_norm(g[1], clg_input(g[1], 2, sx2), clg_param(g[1], 1, &sc), clg_param(g[1], 1, &sc),
                                   0.1f, 1e-5f);
    const int32_t count = clg_graph_tensor_count(g[1]);
    assert_int_equal(clg_batch_norm_state(g[1], y2, "bn2", NULL, NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "already named 'bn2.running_var'"));
    assert_int_equal(clg_graph_tensor_count(g[1]), count);

    /* a checkpoint carries them: the second graph gets the first's */
    char path[] = "/tmp/clgrad-bn-state-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    clg_graph_destroy(g[1]);
    CHECK_OK(ctx, clg_graph_create(ctx, &g[1]));
    x[1] = clg_input(g[1], 3, sx);
    clg_tensor gamma = clg_param(g[1], 1, &sc), beta = clg_param(g[1], 1, &sc);
    y[1] = clg_batch_norm(g[1], x[1], gamma, beta, 0.1f, 1e-5f);
    CHECK_OK(ctx, clg_tensor_set_name(g[1], gamma, "bn.weight"));
    CHECK_OK(ctx, clg_tensor_set_name(g[1], beta, "bn.bias"));
    CHECK_OK(ctx, clg_batch_norm_state(g[1], y[1], "bn", &st[1][0], &st[1][1], &st[1][2]));
    CHECK_OK(ctx, clg_checkpoint_save(g[0], path, NULL, NULL, 0));
    CHECK_OK(ctx, clg_checkpoint_load(g[1], path, NULL));
    unlink(path);
    CHECK_OK(ctx, clg_batch_norm_running(g[1], y[1], rm, rv, C));
    assert_memory_equal(rm, m2, sizeof rm);
    assert_memory_equal(rv, v, sizeof rv);
    CHECK_OK(ctx, clg_tensor_get_i32(g[1], st[1][2], &batches, 1));
    assert_int_equal(batches, 3);
    clg_context_destroy(ctx);
}

static void test_state_tensors(void **state) { for_each_device(state_tensors); }

static void bad_input(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s1[1] = {6}, s23[2] = {2, 3}, s3[1] = {3}, s4[1] = {4}, s13[2] = {1, 3};
    clg_tensor x1 = clg_input(g, 1, s1), x = clg_input(g, 2, s23), c3 = clg_param(g, 1, s3), c4 = clg_param(g, 1, s4);

    assert_true(clg_batch_norm(g, x1, c3, c3, 0.1f, 1e-5f).id < 0);
    assert_int_equal(clg_context_status(ctx), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "batch_norm");
    ASSERT_MSG_HAS(ctx, "[6]");
    clg_context_destroy(ctx);

    ctx = open_ctx(spec);
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    x = clg_input(g, 2, s23), c3 = clg_param(g, 1, s3), c4 = clg_param(g, 1, s4);
    assert_true(clg_batch_norm(g, x, c4, c3, 0.1f, 1e-5f).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "batch_norm");
    ASSERT_MSG_HAS(ctx, "[2,3]");
    ASSERT_MSG_HAS(ctx, "[4]");
    ASSERT_MSG_HAS(ctx, "gamma");
    clg_context_destroy(ctx);

    ctx = open_ctx(spec);
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    x = clg_input(g, 2, s23), c3 = clg_param(g, 1, s3), c4 = clg_param(g, 1, s4);
    assert_true(clg_batch_norm(g, x, c3, c4, 0.1f, 1e-5f).id < 0);
    ASSERT_MSG_HAS(ctx, "beta");
    clg_context_destroy(ctx);

    const float bad_mom[] = {-0.1f, 1.5f, NAN}, bad_eps[] = {0.0f, -1e-5f, INFINITY, NAN};
    for (size_t k = 0; k < sizeof bad_mom / sizeof *bad_mom + sizeof bad_eps / sizeof *bad_eps; k++) {
        ctx = open_ctx(spec);
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        x = clg_input(g, 2, s23), c3 = clg_param(g, 1, s3);
        bool mom = k < sizeof bad_mom / sizeof *bad_mom;
        float m = mom ? bad_mom[k] : 0.1f, e = mom ? 1e-5f : bad_eps[k - sizeof bad_mom / sizeof *bad_mom];
        assert_true(clg_batch_norm(g, x, c3, c3, m, e).id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "batch_norm");
        ASSERT_MSG_HAS(ctx, "[2,3]");
        ASSERT_MSG_HAS(ctx, mom ? "momentum" : "eps");
        clg_context_destroy(ctx);
    }

    /* one value per channel: an error when run in training mode, fine in evaluation */
    ctx = open_ctx(spec);
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor x13 = clg_input(g, 2, s13);
    c3 = clg_param(g, 1, s3);
    clg_tensor y = clg_batch_norm(g, x13, c3, c3, 0.1f, 1e-5f);
    CHECK_OK(ctx, clg_graph_status(g));
    const float v[3] = {0.5f, -1.0f, 2.0f};
    CHECK_OK(ctx, clg_tensor_set(g, x13, v, 3));
    CHECK_OK(ctx, clg_tensor_set(g, c3, v, 3));
    assert_int_equal(clg_graph_run(g, CLG_RUN_FORWARD), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "batch_norm");
    ASSERT_MSG_HAS(ctx, "[1,3]");
    ASSERT_MSG_HAS(ctx, "more than one value per channel");
    CHECK_OK(ctx, clg_graph_set_training(g, 0));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));

    /* running statistics: only of a batch_norm output, C values, variances >= 0 */
    float buf[3] = {1, 1, 1};
    assert_int_equal(clg_batch_norm_running(g, x13, buf, buf, 3), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "not the output of clg_batch_norm");
    assert_int_equal(clg_batch_norm_running(g, y, buf, buf, 4), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "[1,3]");
    const float neg[3] = {1, -1, 1};
    assert_int_equal(clg_batch_norm_set_running(g, y, buf, neg, 3), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "variance");
    clg_context_destroy(ctx);
}

static void test_bad_input(void **state) { for_each_device(bad_input); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_devices),
        cmocka_unit_test(test_train_fd),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_running_stats),
        cmocka_unit_test(test_state_tensors),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
