/*
 * Ops built from other ops (core/compose.c): adaptive_avg_pool2d,
 * huber_loss, smooth_l1_loss. Their device and finite-difference checks
 * are the op cases' (tests/cases/: test_cases); here what a table cannot say:
 *  - the double reference against PyTorch's definitions written again
 *    here (Huber's two sides, smooth L1 as Huber / beta and as L1 at beta
 *    0, the global pool as the mean of each plane), 6e-8 relative plus
 *    2e-16 of the largest: gc_eval narrows the double result to float once,
 *    and a mean's terms are all positive;
 *  - the equal-window adaptive pool on every device against the reference,
 *    and its gradients against finite differences (gc_default_tol: each
 *    output averages 6 values);
 *  - nearest upsampling by (2, 2), (3, 1), (1, 2) and (3, 2) on every
 *    device: every output exactly the input it copies, every input
 *    gradient the sum of its block's upstream values (within 1e-6 of
 *    their absolute sum), and (3, 2) against finite differences too;
 *  - cross_entropy and nll_loss for every reduction, with and without
 *    class weights, label smoothing and an ignored class: the double
 *    reference against PyTorch's definitions (LossNLL.cpp's label
 *    smoothing: (1 - e) nll + (e / C) smooth, both over the same weight
 *    sum) written again here, within the float result's rounding (6e-8
 *    relative; with smoothing 2^-23 more for its two float constants) plus
 *    1e-12 of the largest; on every device and against
 *    finite differences for two of them;
 *  - layer norm and group norm against PyTorch's definitions in double
 *    (two-pass mean and biased variance), with and without gamma and
 *    beta; global max and min exactly; argmax along either axis (the
 *    first maximum on a tie); embedding rows exactly and its
 *    weight gradient as the scatter-add of the upstream rows, on every
 *    device;
 *  - grouped convolution (2 groups with stride 2 and dilation 2; depthwise)
 *    against the definition's loops in double, on every device and by
 *    finite differences;
 *  - refusals: a status and a message naming the op, the shape and what
 *    is wrong (unequal windows are CLG_ERR_UNSUPPORTED).
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int kind; /* 0 huber, 1 smooth l1 */
    float c;  /* delta or beta */
} loss_arg;

static clg_tensor build_loss(clg_graph *g, const clg_tensor *in, void *arg)
{
    const loss_arg *a = arg;
    return a->kind == 0 ? clg_huber_loss(g, in[0], in[1], a->c) : clg_smooth_l1_loss(g, in[0], in[1], a->c);
}

/* PyTorch's definitions (torch.nn.HuberLoss, SmoothL1Loss), mean reduction */
static double want_loss(const loss_arg *a, const float *p, const float *t, int64_t n)
{
    double s = 0, c = a->c;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - (double)t[i], ad = fabs(d);
        if (a->kind == 0) s += ad <= c ? 0.5 * d * d : c * (ad - 0.5 * c);
        else if (c == 0) s += ad;
        else s += ad < c ? 0.5 * d * d / c : ad - 0.5 * c;
    }
    return s / (double)n;
}

static void test_losses_vs_definition(void **state)
{
    (void)state;
    static const loss_arg args[] = {{0, 1.0f}, {0, 0.3f}, {0, 10.0f}, {1, 0.5f}, {1, 2.0f}, {1, 0.0f}};
    const int64_t n = 1001;
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in[2] = {{.ndim = 1, .shape = {n}, .lo = 0.05, .hi = 2}, {.ndim = 1, .shape = {n}, .lo = 0.05, .hi = 2}};
        float *v[2];
        gc_make_inputs(in, 2, 40 + k, v);
        int64_t count;
        float *y = gc_eval("reference64", build_loss, (void *)&args[k], in, 2, (const float *const *)v, &count);
        assert_int_equal(count, 1);
        double want = want_loss(&args[k], v[0], v[1], n);
        char what[96];
        snprintf(what, sizeof what, "%s, %s %g, double reference vs definition", args[k].kind ? "smooth_l1" : "huber",
                 args[k].kind ? "beta" : "delta", (double)args[k].c);
        assert_close_d(y, &want, 1, 6e-8, 2e-16 * fabs(want), what);
        free(y);
        free(v[0]);
        free(v[1]);
    }
}

/* both sides of delta and of beta, on every device and against finite differences */
static void test_losses_checked(void **state)
{
    (void)state;
    static const loss_arg args[] = {{0, 0.7f}, {1, 0.4f}, {1, 0.0f}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in[2] = {{.ndim = 2, .shape = {7, 9}, .param = true, .lo = 0.05, .hi = 2},
                          {.ndim = 2, .shape = {7, 9}, .param = true, .lo = 0.05, .hi = 2}};
        char name[64];
        snprintf(name, sizeof name, "%s %g", args[k].kind ? "smooth_l1" : "huber", (double)args[k].c);
        gc_check_fd(name, build_loss, (void *)&args[k], in, 2, &gc_default_tol, 50 + k);
        gc_check_devices(name, build_loss, (void *)&args[k], in, 2, &gc_default_tol, 60 + k);
    }
}

typedef struct {
    int64_t oh, ow;
} pool_arg;

static clg_tensor build_pool(clg_graph *g, const clg_tensor *in, void *arg)
{
    const pool_arg *a = arg;
    return clg_adaptive_avg_pool2d(g, in[0], a->oh, a->ow);
}

static void test_global_pool_vs_definition(void **state)
{
    (void)state;
    const pool_arg a = {1, 1};
    gc_input in = {.ndim = 4, .shape = {3, 5, 7, 9}, .lo = 0.05, .hi = 2, .positive = true};
    float *x;
    gc_make_inputs(&in, 1, 70, &x);
    int64_t count;
    float *y = gc_eval("reference64", build_pool, (void *)&a, &in, 1, (const float *const *)&x, &count);
    assert_int_equal(count, 15);
    double want[15], m = 0;
    for (int p = 0; p < 15; p++) {
        double s = 0;
        for (int i = 0; i < 63; i++) s += x[p * 63 + i];
        want[p] = s / 63;
        m = fmax(m, want[p]);
    }
    assert_close_d(y, want, 15, 6e-8, 2e-16 * m, "adaptive_avg_pool2d 1x1, double reference vs the planes' means");
    free(y);
    free(x);
}

static void test_equal_windows(void **state)
{
    (void)state;
    static const pool_arg args[] = {{2, 3}, {6, 9}, {1, 1}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in = {.ndim = 4, .shape = {2, 3, 6, 9}, .param = true, .lo = 0.05, .hi = 2};
        char name[64];
        snprintf(name, sizeof name, "adaptive_avg_pool2d 2x3x6x9 to %lldx%lld", (long long)args[k].oh,
                 (long long)args[k].ow);
        gc_check_fd(name, build_pool, (void *)&args[k], &in, 1, &gc_default_tol, 80 + k);
        gc_check_devices(name, build_pool, (void *)&args[k], &in, 1, &gc_default_tol, 90 + k);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        int what; /* 0 pool, 1 huber, 2 smooth l1 */
        int64_t oh, ow;
        float c;
        clg_status status;
        const char *says;
    } bad[] = {
        {0, (int64_t)1 << 22, 1, 0, CLG_ERR_UNSUPPORTED, "would exceed 2^24 entries"},
        {0, 0, 1, 0, CLG_ERR_SHAPE, "empty"},
        {1, 0, 0, 0.0f, CLG_ERR_INVALID_ARGUMENT, "delta 0"},
        {1, 0, 0, NAN, CLG_ERR_INVALID_ARGUMENT, "delta nan"},
        {1, 0, 0, INFINITY, CLG_ERR_INVALID_ARGUMENT, "delta inf"},
        {2, 0, 0, -1.0f, CLG_ERR_INVALID_ARGUMENT, "beta -1"},
    };
    const int64_t s[4] = {2, 3, 7, 9};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor x = clg_input(g, 4, s), t = clg_input(g, 4, s);
        clg_tensor y = bad[k].what == 0   ? clg_adaptive_avg_pool2d(g, x, bad[k].oh, bad[k].ow)
                       : bad[k].what == 1 ? clg_huber_loss(g, x, t, bad[k].c)
                                          : clg_smooth_l1_loss(g, x, t, bad[k].c);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(g), bad[k].status);
        ASSERT_MSG_HAS(ctx, bad[k].what == 0 ? "adaptive_avg_pool2d" : bad[k].what == 1 ? "huber_loss" : "smooth_l1_loss");
        ASSERT_MSG_HAS(ctx, bad[k].says);
        ASSERT_MSG_HAS(ctx, "[2,3,7,9]");
        clg_context_destroy(ctx);
    }
    /* shapes that differ are named both; a 3-D input to the pool */
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s2[2] = {3, 4}, s3[2] = {4, 3};
    assert_true(clg_huber_loss(g, clg_input(g, 2, s2), clg_input(g, 2, s3), 1.0f).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "[3,4]");
    ASSERT_MSG_HAS(ctx, "[4,3]");
    clg_context_destroy(ctx);
    ctx = open_ctx("reference");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_adaptive_avg_pool2d(g, clg_input(g, 3, s), 1, 1).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "4-D");
    clg_context_destroy(ctx);
}

/* y = upsample(x), L = sum(y w): y[n,c,i,j] = x[n,c,i/sh,j/sw], dx = block sums of w */
static void upsample_on(const char *spec, int64_t sh, int64_t sw)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t N = 2, C = 3, H = 5, W = 7, xs[4] = {N, C, H, W}, ys[4] = {N, C, H * sh, W * sw};
    const size_t nx = (size_t)(N * C * H * W), ny = nx * (size_t)(sh * sw);
    clg_tensor x = clg_param(g, 4, xs), w = clg_input(g, 4, ys), y = clg_upsample_nearest2d(g, x, sh, sw);
    clg_tensor_keep(g, y);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, w))));
    float *xv = malloc(nx * sizeof *xv), *gv = malloc(nx * sizeof *gv), *wv = malloc(ny * sizeof *wv),
          *yv = malloc(ny * sizeof *yv);
    double *want = calloc(nx, sizeof *want), *mag = calloc(nx, sizeof *mag);
    assert_true(xv && gv && wv && yv && want && mag);
    rng_t r = {31 + (uint64_t)(sh * 10 + sw)};
    rng_fill(&r, xv, nx, 0.05, 2, false);
    rng_fill(&r, wv, ny, 0.05, 2, false);
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, nx));
    CHECK_OK(ctx, clg_tensor_set(g, w, wv, ny));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, y, yv, ny));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, x), gv, nx));
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t i = 0; i < H * sh; i++)
            for (int64_t j = 0; j < W * sw; j++) {
                const size_t e = (size_t)((p * H * sh + i) * W * sw + j), s = (size_t)((p * H + i / sh) * W + j / sw);
                if (yv[e] != xv[s])
                    fail_msg("%s: upsample %lldx%lld: y[%zu] = %.9g, want x[%zu] = %.9g", spec, (long long)sh,
                             (long long)sw, e, yv[e], s, xv[s]);
                want[s] += wv[e];
                mag[s] += fabs(wv[e]);
            }
    for (size_t s = 0; s < nx; s++)
        if (fabs(gv[s] - want[s]) > 1e-6 * mag[s])
            fail_msg("%s: upsample %lldx%lld: dx[%zu] = %.9g, want %.9g", spec, (long long)sh, (long long)sw, s, gv[s],
                     want[s]);
    free(xv);
    free(gv);
    free(wv);
    free(yv);
    free(want);
    free(mag);
    clg_context_destroy(ctx);
}

static clg_tensor build_upsample(clg_graph *g, const clg_tensor *in, void *arg)
{
    (void)arg;
    return clg_upsample_nearest2d(g, in[0], 3, 2);
}

static void test_upsample(void **state)
{
    (void)state;
    static const int64_t scales[][2] = {{2, 2}, {3, 1}, {1, 2}, {3, 2}};
    char specs[8][32];
    const int n = test_opencl_devices(specs, 8);
    for (int d = -1; d < n; d++)
        for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++)
            upsample_on(d < 0 ? "reference" : specs[d], scales[k][0], scales[k][1]);
    const gc_input in = {.ndim = 4, .shape = {2, 3, 5, 7}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("upsample_nearest2d 2x3x5x7 by 3x2", build_upsample, NULL, &in, 1, &gc_default_tol, 4101);
}

static void test_upsample_refusals(void **state)
{
    (void)state;
    static const int64_t bad[][2] = {{0, 2}, {2, -1}, {(int64_t)1 << 21, 1}};
    const int64_t s[4] = {2, 3, 7, 9}, s3[3] = {3, 7, 9};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int32_t before = clg_graph_tensor_count(g);
        assert_true(clg_upsample_nearest2d(g, clg_input(g, 4, s), bad[k][0], bad[k][1]).id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "upsample_nearest2d: scales");
        ASSERT_MSG_HAS(ctx, "[2,3,7,9]");
        assert_int_equal(clg_graph_tensor_count(g), before + 1); /* the input only */
        clg_context_destroy(ctx);
    }
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_upsample_nearest2d(g, clg_input(g, 3, s3), 2, 2).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "4-D");
    clg_context_destroy(ctx);
}

/* bilinear resizing: an empty output, matrices too large, a 3-D input */
static void test_bilinear_refusals(void **state)
{
    (void)state;
    static const struct {
        int nd;
        int64_t oh, ow;
        clg_status status;
        const char *says;
    } bad[] = {{4, 0, 4, CLG_ERR_SHAPE, "output 0x4 is empty"},
               {4, 5, (int64_t)1 << 22, CLG_ERR_UNSUPPORTED, "exceed 2^24 entries"},
               {3, 5, 5, CLG_ERR_SHAPE, "4-D"}};
    const int64_t s[4] = {2, 3, 7, 9};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_context *ctx = open_ctx("reference");
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor x = clg_input(g, bad[k].nd, bad[k].nd == 4 ? s : s + 1);
        const int32_t before = clg_graph_tensor_count(g);
        assert_true(clg_upsample_bilinear2d(g, x, bad[k].oh, bad[k].ow, 0).id < 0);
        assert_int_equal(clg_graph_status(g), bad[k].status);
        ASSERT_MSG_HAS(ctx, "upsample_bilinear2d");
        ASSERT_MSG_HAS(ctx, bad[k].says);
        assert_int_equal(clg_graph_tensor_count(g), before);
        clg_context_destroy(ctx);
    }
}

typedef struct {
    bool ce, weighted;
    clg_reduction red;
    int32_t ignore;
    float eps;
} class_arg;

static clg_tensor build_class(clg_graph *g, const clg_tensor *in, void *arg)
{
    const class_arg *a = arg;
    clg_loss_options o = clg_loss_defaults();
    o.reduction = a->red;
    o.ignore_index = a->ignore;
    o.label_smoothing = a->eps;
    if (a->weighted) o.weight = in[2];
    return a->ce ? clg_cross_entropy(g, in[0], in[1], &o) : clg_nll_loss(g, in[0], in[1], &o);
}

/* PyTorch's nll_loss / cross_entropy, in double; out gets N values (none) or 1 */
static void want_class(const class_arg *a, const float *x, const int32_t *y, const float *wc, int64_t N, int64_t C,
                       double *out)
{
    double num = 0, den = 0, smooth_sum = 0;
    double *row = calloc((size_t)N, sizeof *row);
    for (int64_t i = 0; i < N; i++) {
        double p[64], m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++) m = fmax(m, (double)x[i * C + j]);
        for (int64_t j = 0; j < C; j++) s += exp((double)x[i * C + j] - m);
        for (int64_t j = 0; j < C; j++) p[j] = a->ce ? (double)x[i * C + j] - m - log(s) : (double)x[i * C + j];
        if (y[i] == a->ignore) continue;
        const double wy = a->weighted ? wc[y[i]] : 1;
        double nll = -wy * p[y[i]], smooth = 0;
        for (int64_t j = 0; j < C; j++) smooth -= (a->weighted ? wc[j] : 1) * p[j];
        row[i] = a->ce ? (1 - (double)a->eps) * nll + (double)a->eps / (double)C * smooth : nll;
        num += nll;
        smooth_sum += smooth;
        den += wy;
    }
    if (a->red == CLG_REDUCTION_NONE) {
        memcpy(out, row, (size_t)N * sizeof *out);
    } else {
        double total = 0;
        for (int64_t i = 0; i < N; i++) total += row[i];
        out[0] = a->red == CLG_REDUCTION_SUM ? total : total / den;
    }
    (void)num;
    (void)smooth_sum;
    free(row);
}

static void test_class_losses_vs_definition(void **state)
{
    (void)state;
    const int64_t N = 61, C = 7;
    int checked = 0;
    for (int ce = 0; ce < 2; ce++)
        for (int weighted = 0; weighted < 2; weighted++)
            for (int red = 0; red < 3; red++)
                for (int ig = 0; ig < 2; ig++)
                    for (int sm = 0; sm < (ce ? 2 : 1); sm++) {
                        const class_arg a = {ce, weighted, (clg_reduction)red, ig ? 3 : -100, sm ? 0.2f : 0.0f};
                        gc_input in[3] = {{.ndim = 2, .shape = {N, C}, .param = true, .lo = 0.1, .hi = 3},
                                          {.ndim = 1, .shape = {N}, .label_max = (int32_t)C},
                                          {.ndim = 1, .shape = {C}, .lo = 0.5, .hi = 2, .positive = true}};
                        float *v[3];
                        gc_make_inputs(in, 3, 70 + (uint64_t)checked, v);
                        int64_t count;
                        float *y = gc_eval("reference64", build_class, (void *)&a, in, weighted ? 3 : 2,
                                           (const float *const *)v, &count);
                        double want[61];
                        want_class(&a, v[0], (const int32_t *)(void *)v[1], v[2], N, C, want);
                        assert_int_equal(count, red == CLG_REDUCTION_NONE ? N : 1);
                        double m = 0;
                        for (int64_t i = 0; i < count; i++) m = fmax(m, fabs(want[i]));
                        char what[160];
                        snprintf(what, sizeof what, "%s, weights %d, reduction %d, ignore %d, smoothing %g",
                                 ce ? "cross_entropy" : "nll_loss", weighted, red, (int)a.ignore, (double)a.eps);
                        /* gc_eval narrows the double result to float once (6e-8); with
                         * smoothing, the graph's constants 1 - e and e / C are floats,
                         * each within 2^-24 of the real factor of a positive term */
                        assert_close_d(y, want, (size_t)count, 6e-8 + (sm ? 2 * 0x1p-24 : 0), 1e-12 * m, what);
                        free(y);
                        for (int k = 0; k < 3; k++) free(v[k]);
                        checked++;
                    }
    assert_int_equal(checked, 36);
}

static void test_class_losses_checked(void **state)
{
    (void)state;
    static const class_arg args[] = {{true, true, CLG_REDUCTION_MEAN, 2, 0.15f},
                                     {false, true, CLG_REDUCTION_NONE, 1, 0.0f}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        gc_input in[3] = {{.ndim = 2, .shape = {13, 5}, .param = true, .lo = 0.1, .hi = 2},
                          {.ndim = 1, .shape = {13}, .label_max = 5},
                          {.ndim = 1, .shape = {5}, .param = true, .lo = 0.5, .hi = 2, .positive = true}};
        const char *name = k ? "nll_loss weighted, none, ignore 1" : "cross_entropy weighted, mean, ignore 2, e 0.15";
        gc_check_fd(name, build_class, (void *)&args[k], in, 3, &gc_default_tol, 80 + k);
        gc_check_devices(name, build_class, (void *)&args[k], in, 3, &gc_default_tol, 90 + k);
    }
}

static void test_class_loss_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t zs[2] = {4, 3}, ls[1] = {4}, l5[1] = {5}, w4[1] = {4}, z3[3] = {4, 3, 1};
    clg_tensor z = clg_param(g, 2, zs), y = clg_labels(g, 1, ls), y5 = clg_labels(g, 1, l5);
    clg_tensor w = clg_input(g, 1, w4), f = clg_input(g, 1, ls), zz = clg_input(g, 3, z3);
    const int32_t before = clg_graph_tensor_count(g);
    clg_loss_options o = clg_loss_defaults();
    struct {
        clg_tensor x, labels;
        clg_loss_options o;
        clg_status s;
        const char *says;
    } bad[] = {
        {z, y5, o, CLG_ERR_SHAPE, "labels [5] must be [N] = [4]"},
        {zz, y, o, CLG_ERR_SHAPE, "x must be 2-D"},
        {z, f, o, CLG_ERR_INVALID_ARGUMENT, "int32"},
        {z, y, o, CLG_ERR_SHAPE, "weight [4] must be [C] = [3]"},
        {z, y, o, CLG_ERR_INVALID_ARGUMENT, "label_smoothing 1.5 is not in [0, 1]"},
        {z, y, o, CLG_ERR_INVALID_ARGUMENT, "reduction 7 is not a clg_reduction"},
    };
    bad[3].o.weight = w;
    bad[4].o.label_smoothing = 1.5f;
    bad[5].o.reduction = (clg_reduction)7;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_true(clg_cross_entropy(g, bad[k].x, bad[k].labels, &bad[k].o).id < 0);
        assert_int_equal(clg_graph_status(g), bad[k].s);
        ASSERT_MSG_HAS(ctx, bad[k].says);
        clg_graph_clear_status(g);
        assert_int_equal(clg_graph_tensor_count(g), before);
    }
    /* labels out of range for a one-hot are refused when written; ignore_index is not out of range */
    clg_tensor oh = clg_one_hot(g, y, 3, -100);
    assert_true(oh.id >= 0);
    const int32_t good[4] = {0, 2, -100, 1}, outside[4] = {0, 3, 1, 1};
    CHECK_OK(ctx, clg_tensor_set_i32(g, y, good, 4));
    assert_int_equal(clg_tensor_set_i32(g, y, outside, 4), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "label 3 at index 1 is out of range for one_hot");
    ASSERT_MSG_HAS(ctx, "or ignore_index -100");
    assert_true(clg_one_hot(g, y, 0, -100).id < 0);
    ASSERT_MSG_HAS(ctx, "0 classes is not in [1, 2^31)");
    clg_context_destroy(ctx);
}

typedef struct {
    int kind; /* 0 layer norm, 1 group norm */
    int64_t groups;
    bool affine;
} norm_arg;

static clg_tensor build_norm(clg_graph *g, const clg_tensor *in, void *arg)
{
    const norm_arg *a = arg;
    clg_tensor gamma = a->affine ? in[1] : CLG_NO_TENSOR, beta = a->affine ? in[2] : CLG_NO_TENSOR;
    return a->kind == 0 ? clg_layer_norm(g, in[0], gamma, beta, 1e-5f)
                        : clg_group_norm(g, in[0], a->groups, gamma, beta, 1e-5f);
}

/* normalises n values at x (stride 1) into y, in double */
static void want_normalize(const float *x, double *y, int64_t n)
{
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    var /= (double)n;
    for (int64_t i = 0; i < n; i++) y[i] = ((double)x[i] - mean) / sqrt(var + (double)1e-5f);
}

static void test_norms_vs_definition(void **state)
{
    (void)state;
    /* layer norm over rows of 37; group norm of 6 channels of 5x7 in 1, 2, 3 and 6 groups */
    static const norm_arg args[] = {{0, 0, true}, {0, 0, false}, {1, 1, true}, {1, 2, true}, {1, 3, false}, {1, 6, true}};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        const norm_arg *a = &args[k];
        gc_input in[3];
        int64_t c;
        if (a->kind == 0) {
            in[0] = (gc_input){.ndim = 2, .shape = {11, 37}, .param = true, .lo = 0.1, .hi = 3};
            c = 37;
        } else {
            in[0] = (gc_input){.ndim = 4, .shape = {3, 6, 5, 7}, .param = true, .lo = 0.1, .hi = 3};
            c = 6;
        }
        in[1] = in[2] = (gc_input){.ndim = 1, .shape = {c}, .param = true, .lo = 0.5, .hi = 2};
        float *v[3];
        gc_make_inputs(in, 3, 120 + k, v);
        int64_t count;
        float *y = gc_eval("reference64", build_norm, (void *)a, in, 3, (const float *const *)v, &count);
        const int64_t total = in[0].shape[0] * in[0].shape[1] * (a->kind ? 35 : 1);
        assert_int_equal(count, total);
        double *want = malloc((size_t)total * sizeof *want);
        /* blocks normalised together: a row (layer), or groups of channels (group) */
        const int64_t block = a->kind == 0 ? 37 : 6 / a->groups * 35;
        for (int64_t b = 0; b < total / block; b++) want_normalize(v[0] + b * block, want + b * block, block);
        for (int64_t i = 0; a->affine && i < total; i++) {
            const int64_t ch = a->kind == 0 ? i % 37 : (i / 35) % 6;
            want[i] = want[i] * v[1][ch] + v[2][ch];
        }
        double m = 0;
        for (int64_t i = 0; i < total; i++) m = fmax(m, fabs(want[i]));
        char what[96];
        snprintf(what, sizeof what, "%s, %lld groups, affine %d, double reference vs definition",
                 a->kind ? "group_norm" : "layer_norm", (long long)a->groups, (int)a->affine);
        assert_close_d(y, want, (size_t)total, 6e-8, 1e-12 * m, what);
        free(want);
        free(y);
        for (int i = 0; i < 3; i++) free(v[i]);
        char name[96];
        snprintf(name, sizeof name, "%s %lld groups affine %d", a->kind ? "group_norm" : "layer_norm",
                 (long long)a->groups, (int)a->affine);
        gc_tol tol = gc_default_tol;
        tol_sum(&tol, (double)block, (double)block * 3);
        gc_check_fd(name, build_norm, (void *)a, in, a->affine ? 3 : 1, &tol, 130 + k);
        gc_check_devices(name, build_norm, (void *)a, in, a->affine ? 3 : 1, &tol, 140 + k);
    }
}

/* max and min pick exactly; the embedding's rows are the weight's rows
 * and its weight gradient the scatter-add of the upstream rows */
static void picks_on(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    enum { V = 11, D = 5, NI = 23 };
    const int64_t xs[2] = {7, 13}, ws[2] = {V, D}, is[1] = {NI}, ys[2] = {NI, D};
    clg_tensor x = clg_input(g, 2, xs), w = clg_param(g, 2, ws), ids = clg_labels(g, 1, is), t = clg_input(g, 2, ys);
    clg_tensor mx = clg_max(g, x), mn = clg_min(g, x), e = clg_embedding(g, ids, w);
    clg_tensor am = clg_argmax(g, x, 1, 0), am0 = clg_argmax(g, x, 0, 1);
    clg_tensor_keep(g, am);
    clg_tensor_keep(g, am0);
    clg_tensor_keep(g, mx);
    clg_tensor_keep(g, mn);
    clg_tensor_keep(g, e);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, e, t))));
    float xv[91], wv[V * D], tv[NI * D], ev[NI * D], gw[V * D], got_max, got_min;
    int32_t iv[NI];
    rng_t r = {5};
    rng_fill(&r, xv, 91, 0.1, 3, false);
    rng_fill(&r, wv, V * D, 0.1, 1, false);
    rng_fill(&r, tv, NI * D, 0.1, 1, false);
    for (int i = 0; i < NI; i++) iv[i] = (int32_t)((i * 7 + 3) % V); /* every id, some twice or more */
    xv[2 * 13 + 4] = xv[2 * 13 + 9] = 50; /* a tie in row 2: the first counts */
    CHECK_OK(ctx, clg_tensor_set(g, x, xv, 91));
    CHECK_OK(ctx, clg_tensor_set(g, w, wv, V * D));
    CHECK_OK(ctx, clg_tensor_set(g, t, tv, NI * D));
    CHECK_OK(ctx, clg_tensor_set_i32(g, ids, iv, NI));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, mx, &got_max, 1));
    CHECK_OK(ctx, clg_tensor_get(g, mn, &got_min, 1));
    CHECK_OK(ctx, clg_tensor_get(g, e, ev, NI * D));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, w), gw, V * D));
    int32_t got_am[7], got_am0[13];
    CHECK_OK(ctx, clg_tensor_get_i32(g, am, got_am, 7));
    CHECK_OK(ctx, clg_tensor_get_i32(g, am0, got_am0, 13));
    for (int r = 0; r < 7; r++) {
        int best = 0;
        for (int c = 1; c < 13; c++)
            if (xv[r * 13 + c] > xv[r * 13 + best]) best = c;
        if (got_am[r] != best) fail_msg("%s: argmax of row %d is %d, want %d", spec, r, got_am[r], best);
    }
    for (int c = 0; c < 13; c++) {
        int best = 0;
        for (int r = 1; r < 7; r++)
            if (xv[r * 13 + c] > xv[best * 13 + c]) best = r;
        if (got_am0[c] != best) fail_msg("%s: argmax of column %d is %d, want %d", spec, c, got_am0[c], best);
    }
    assert_int_equal(got_am[2], 4);
    assert_int_equal(clg_tensor_ndim(g, am0), 2);
    float want_max = xv[0], want_min = xv[0];
    for (int i = 1; i < 91; i++) want_max = fmaxf(want_max, xv[i]), want_min = fminf(want_min, xv[i]);
    if (got_max != want_max || got_min != want_min)
        fail_msg("%s: max %.9g min %.9g, want %.9g and %.9g", spec, got_max, got_min, want_max, want_min);
    for (int i = 0; i < NI; i++)
        for (int k = 0; k < D; k++)
            if (ev[i * D + k] != wv[iv[i] * D + k])
                fail_msg("%s: embedding row %d [%d] = %.9g, want weight[%d] = %.9g", spec, i, k, ev[i * D + k], iv[i],
                         wv[iv[i] * D + k]);
    for (int v = 0; v < V; v++)
        for (int k = 0; k < D; k++) {
            double want = 0, mag = 0;
            for (int i = 0; i < NI; i++)
                if (iv[i] == v) want += tv[i * D + k], mag += fabs(tv[i * D + k]);
            if (fabs(gw[v * D + k] - want) > 4e-7 * mag)
                fail_msg("%s: d weight[%d][%d] = %.9g, want %.9g", spec, v, k, gw[v * D + k], want);
        }
    /* an id outside [0, V) is refused on upload */
    iv[4] = V;
    assert_int_equal(clg_tensor_set_i32(g, ids, iv, NI), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "label 11 at index 4 is out of range for one_hot");
    clg_context_destroy(ctx);
}

static void test_picks(void **state)
{
    (void)state;
    char specs[8][32];
    const int n = test_opencl_devices(specs, 8);
    for (int d = -1; d < n; d++) picks_on(d < 0 ? "reference" : specs[d]);
}

typedef struct {
    int groups, stride, dilation;
} gconv_arg;

static clg_tensor build_gconv(clg_graph *g, const clg_tensor *in, void *arg)
{
    const gconv_arg *a = arg;
    return clg_conv2d_grouped(g, in[0], in[1], in[2], a->stride, a->stride, 1, 1, a->dilation, a->dilation, a->groups);
}

static void test_grouped_conv(void **state)
{
    (void)state;
    static const gconv_arg args[] = {{2, 2, 2}, {3, 1, 1}};
    static const int64_t chans[][2] = {{4, 6}, {3, 3}}; /* C, OC */
    for (size_t k = 0; k < 2; k++) {
        const gconv_arg *a = &args[k];
        const int64_t N = 2, C = chans[k][0], OC = chans[k][1], H = 7, W = 9, G = a->groups, CI = C / G, CO = OC / G;
        gc_input in[3] = {{.ndim = 4, .shape = {N, C, H, W}, .param = true, .lo = 0.1, .hi = 2},
                          {.ndim = 4, .shape = {OC, CI, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
                          {.ndim = 1, .shape = {OC}, .param = true, .lo = 0.1, .hi = 1}};
        float *v[3];
        gc_make_inputs(in, 3, 150 + k, v);
        int64_t count;
        float *y = gc_eval("reference64", build_gconv, (void *)a, in, 3, (const float *const *)v, &count);
        const int64_t s = a->stride, d = a->dilation;
        const int64_t OH = (H + 2 - d * 2 - 1) / s + 1, OW = (W + 2 - d * 2 - 1) / s + 1;
        assert_int_equal(count, N * OC * OH * OW);
        double *want = malloc((size_t)count * sizeof *want), m = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < OC; o++)
                for (int64_t i = 0; i < OH; i++)
                    for (int64_t j = 0; j < OW; j++) {
                        double acc = v[2][o];
                        const int64_t grp = o / CO;
                        for (int64_t ci = 0; ci < CI; ci++)
                            for (int64_t p = 0; p < 3; p++)
                                for (int64_t q = 0; q < 3; q++) {
                                    const int64_t r = i * s - 1 + p * d, c = j * s - 1 + q * d;
                                    if (r < 0 || r >= H || c < 0 || c >= W) continue;
                                    acc += (double)v[0][((n * C + grp * CI + ci) * H + r) * W + c] *
                                           (double)v[1][((o * CI + ci) * 3 + p) * 3 + q];
                                }
                        want[((n * OC + o) * OH + i) * OW + j] = acc;
                        m = fmax(m, fabs(acc));
                    }
        char what[96];
        snprintf(what, sizeof what, "conv2d_grouped %d groups stride %d dilation %d vs definition", a->groups, a->stride,
                 a->dilation);
        assert_close_d(y, want, (size_t)count, 6e-8, 1e-12 * m, what);
        free(want);
        free(y);
        for (int i = 0; i < 3; i++) free(v[i]);
        gc_tol tol = gc_default_tol;
        tol_sum(&tol, (double)(CI * 9 + 1), (double)(N * H * W));
        gc_check_fd(what, build_gconv, (void *)a, in, 3, &tol, 160 + k);
        gc_check_devices(what, build_gconv, (void *)a, in, 3, &tol, 170 + k);
    }
}

#define REFUSED(call, status, says)                                                                \
    do {                                                                                           \
        assert_true((call).id < 0);                                                                \
        assert_int_equal(clg_graph_status(g), (status));                                           \
        ASSERT_MSG_HAS(ctx, (says));                                                               \
        clg_graph_clear_status(g);                                                                 \
        assert_int_equal(clg_graph_tensor_count(g), before);                                       \
    } while (0)

static void test_norm_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t xs[4] = {2, 6, 3, 3}, c5[1] = {5}, x2[2] = {4, 5}, w3[3] = {2, 3, 4};
    clg_tensor x = clg_input(g, 4, xs), g5 = clg_input(g, 1, c5), m = clg_input(g, 2, x2), w3t = clg_param(g, 3, w3);
    clg_tensor ids = clg_labels(g, 1, c5);
    const int32_t before = clg_graph_tensor_count(g);
    REFUSED(clg_group_norm(g, x, 4, CLG_NO_TENSOR, CLG_NO_TENSOR, 1e-5f), CLG_ERR_INVALID_ARGUMENT,
            "4 groups do not divide 6 channels");
    REFUSED(clg_group_norm(g, x, 3, g5, CLG_NO_TENSOR, 1e-5f), CLG_ERR_SHAPE, "gamma [5] must be [6]");
    REFUSED(clg_group_norm(g, m, 1, CLG_NO_TENSOR, CLG_NO_TENSOR, 1e-5f), CLG_ERR_SHAPE, "[N, C, L] or [N, C, H, W]");
    REFUSED(clg_layer_norm(g, m, CLG_NO_TENSOR, g5, NAN), CLG_ERR_INVALID_ARGUMENT, "eps nan must be finite");
    REFUSED(clg_layer_norm(g, m, CLG_NO_TENSOR, CLG_NO_TENSOR, -1.0f), CLG_ERR_INVALID_ARGUMENT, "eps -1 must be finite");
    REFUSED(clg_layer_norm(g, x, g5, CLG_NO_TENSOR, 1e-5f), CLG_ERR_SHAPE, "gamma [5] must be [3]");
    REFUSED(clg_embedding(g, ids, w3t), CLG_ERR_SHAPE, "the weight must be 2-D");
    REFUSED(clg_embedding(g, x, m), CLG_ERR_INVALID_ARGUMENT, "int32");
    const int64_t w6[4] = {4, 3, 3, 3}, w2[4] = {4, 2, 3, 3};
    clg_tensor wa = clg_param(g, 4, w6), wb = clg_param(g, 4, w2);
    const int32_t before2 = clg_graph_tensor_count(g);
    {
        const int32_t before = before2;
        REFUSED(clg_conv2d_grouped(g, x, wa, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1, 4), CLG_ERR_INVALID_ARGUMENT,
                "4 groups must divide the 6 input and 4 output channels");
        REFUSED(clg_conv2d_grouped(g, x, wb, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1, 2), CLG_ERR_SHAPE,
                "must have C / groups = 3 input channels");
        REFUSED(clg_conv2d_grouped(g, x, wa, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1, 0), CLG_ERR_INVALID_ARGUMENT,
                "0 groups must divide");
    }
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_vs_definition), cmocka_unit_test(test_losses_checked),
        cmocka_unit_test(test_global_pool_vs_definition), cmocka_unit_test(test_equal_windows),
        cmocka_unit_test(test_refusals),             cmocka_unit_test(test_upsample),
        cmocka_unit_test(test_upsample_refusals),
        cmocka_unit_test(test_bilinear_refusals),    cmocka_unit_test(test_class_losses_vs_definition),
        cmocka_unit_test(test_class_losses_checked), cmocka_unit_test(test_class_loss_refusals),
        cmocka_unit_test(test_norms_vs_definition),  cmocka_unit_test(test_picks),
        cmocka_unit_test(test_norm_refusals),        cmocka_unit_test(test_grouped_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
