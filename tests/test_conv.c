/*
 * The conv family: conv2d, max_pool2d, avg_pool2d, forward and backward.
 *
 *  - every OpenCL device against the reference (gc_check_devices: output
 *    and the gradients of L = sum(y * w) with random w);
 *  - the reference's gradients against central finite differences in
 *    double, and the float reference against the double one (gc_check_fd);
 *  - the reference's forward against a direct convolution written here in
 *    double, and hand-computed values (output sizes as in PyTorch, padding
 *    never winning a max, count_include_pad for the average, ties);
 *  - bad input: status and a message naming the op and the shapes.
 * Shapes are odd and small (7x9 planes, batch 1 and 2), plus larger
 * convs (batch 16, 32 channels, 14x14; batch 130) against the reference
 * only. CTest runs the file once per convolution path (CLGRAD_CONV).
 *
 * Tolerances. The finite-difference checks use gc_default_tol (the
 * reference sums in double and rounds once). On the devices, sums run in
 * float, so the tolerance comes from the number of terms K each result
 * sums: a conv2d output K = C*KH*KW, a weight or bias gradient K =
 * N*OH*OW, an input gradient K = OC*KH*KW (OC per dcol entry in the GEMM,
 * then KH*KW entries in col2im); a pooling output or input gradient at
 * most K = kh*kw (max pooling is exact forward).
 * A float sum of K terms errs by at most (K - 1) u sum|terms| (u = 2^-24,
 * to first order). Taking sum|terms| as max|result|, which holds when the
 * terms share a sign (inputs after a ReLU, say):
 *   |device - reference| <= 4e-6 |ref| + K u max|ref|
 * per tensor (gradients: the largest K among them). With random signs, as
 * here, the rounding errors partly cancel; measured on PoCL they stay near
 * 0.5 sqrt(K) u max|ref|, at most a tenth of the bound (batch 16 case:
 * forward 6.7e-7 of max against 1.7e-5, weight gradient 1.5e-6 against
 * 1.9e-4).
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double U = 5.9604644775390625e-08; /* 2^-24, float's unit roundoff */

typedef struct conv_case {
    const char *name;
    int64_t x[4], w[4];
    bool bias;
    int sh, sw, ph, pw, dh, dw;
} conv_case;

static int64_t out_extent(int64_t in, int64_t k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static clg_tensor build_conv(clg_graph *g, const clg_tensor *in, void *arg)
{
    const conv_case *c = arg;
    return clg_conv2d(g, in[0], in[1], c->bias ? in[2] : CLG_NO_TENSOR, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw);
}

static int conv_inputs(const conv_case *c, gc_input *in, bool params)
{
    in[0] = (gc_input){.ndim = 4, .param = params, .lo = 0.1, .hi = 2};
    in[1] = (gc_input){.ndim = 4, .param = params, .lo = 0.1, .hi = 1};
    in[2] = (gc_input){.ndim = 1, .shape = {c->w[0]}, .param = params, .lo = 0.1, .hi = 1};
    memcpy(in[0].shape, c->x, sizeof c->x);
    memcpy(in[1].shape, c->w, sizeof c->w);
    return c->bias ? 3 : 2;
}

/* See the top of the file: K u of the largest result sum, per tensor. */
static gc_tol conv_tol(const conv_case *c)
{
    int64_t oh = out_extent(c->x[2], c->w[2], c->sh, c->ph, c->dh);
    int64_t ow = out_extent(c->x[3], c->w[3], c->sw, c->pw, c->dw);
    double k_out = (double)(c->w[1] * c->w[2] * c->w[3]);
    double k_dw = (double)(c->x[0] * oh * ow), k_dx = (double)(c->w[0] * c->w[2] * c->w[3]);
    gc_tol t = gc_default_tol;
    t.fwd_atol_of_max = fmax(t.fwd_atol_of_max, k_out * U);
    t.grad_atol_of_max = fmax(t.grad_atol_of_max, fmax(k_dw, k_dx) * U);
    return t;
}

static uint64_t seed_of(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h;
}

static const conv_case small_cases[] = {
    {"conv 2x3x7x9 * 4x3x3x3 + bias", {2, 3, 7, 9}, {4, 3, 3, 3}, true, 1, 1, 0, 0, 1, 1},
    {"conv stride 2 padding 1", {2, 3, 7, 9}, {4, 3, 3, 3}, true, 2, 2, 1, 1, 1, 1},
    {"conv dilation 2 padding 2, no bias", {2, 3, 7, 9}, {4, 3, 3, 3}, false, 1, 1, 2, 2, 2, 2},
    /* oneDNN 2.6.3's backward data failed, then crashed, here (host/conv_native.c avoids it) */
    {"conv stride 2 and dilation 2", {2, 2, 7, 9}, {3, 2, 3, 3}, true, 2, 2, 1, 1, 2, 2},
    /* oneDNN 2.6.3's forward crashed when a padding reaches the kernel's extent (avoided too) */
    {"conv padding as wide as the kernel", {1, 3, 6, 6}, {2, 3, 3, 2}, true, 1, 3, 0, 2, 1, 1},
    {"conv batch 1, every parameter differs in h and w", {1, 2, 9, 6}, {3, 2, 2, 3}, true, 2, 1, 1, 0, 1, 2},
    {"conv 1x1 kernel", {3, 5, 4, 6}, {3, 5, 1, 1}, true, 1, 1, 0, 0, 1, 1},
    {"conv 1x1 kernel stride 2, no bias", {1, 4, 5, 7}, {2, 4, 1, 1}, false, 2, 2, 0, 0, 1, 1},
    {"conv stride 3 past a 2x2 kernel (rows never read)", {2, 2, 8, 7}, {2, 2, 2, 2}, false, 3, 3, 1, 1, 1, 1},
    {"conv kernel as large as the padded input", {2, 3, 4, 5}, {2, 3, 4, 7}, true, 1, 1, 0, 1, 1, 1},
    {"conv one channel in and out", {2, 1, 5, 5}, {1, 1, 3, 3}, true, 2, 2, 1, 1, 1, 1},
    /* 3x3 stride 1 (Winograd's, when CLGRAD_CONV=winograd): padding past a
     * tile, odd output widths (a last tile half outside) */
    {"conv 3x3 stride 1 padding 2 and 1, batch 1, no bias", {1, 3, 6, 5}, {2, 3, 3, 3}, false, 1, 1, 2, 1, 1, 1},
};
#define NSMALL (sizeof small_cases / sizeof small_cases[0])

static void test_conv_devices(void **state)
{
    for (size_t i = 0; i < NSMALL; i++) {
        gc_input in[3];
        int nin = conv_inputs(&small_cases[i], in, true);
        gc_tol tol = conv_tol(&small_cases[i]);
        gc_check_devices(small_cases[i].name, build_conv, (void *)&small_cases[i], in, nin, &tol,
                         seed_of(small_cases[i].name));
    }
}

static void test_conv_finite_differences(void **state)
{
    for (size_t i = 0; i < NSMALL; i++) {
        gc_input in[3];
        int nin = conv_inputs(&small_cases[i], in, true);
        gc_check_fd(small_cases[i].name, build_conv, (void *)&small_cases[i], in, nin, &gc_default_tol,
                    seed_of(small_cases[i].name) + 1);
    }
}

/* Gradients of x alone and of w alone: each backward op without the other
 * (they share the conv's scratch on OpenCL). */
static void test_conv_single_gradients(void **state)
{
    const conv_case *c = &small_cases[1];
    for (int which = 0; which < 2; which++) {
        gc_input in[3];
        int nin = conv_inputs(c, in, false);
        in[which].param = true;
        gc_tol tol = conv_tol(c);
        char name[128];
        snprintf(name, sizeof name, "%s, gradient of %s only", c->name, which ? "w" : "x");
        gc_check_devices(name, build_conv, (void *)c, in, nin, &tol, seed_of(name));
        gc_check_fd(name, build_conv, (void *)c, in, nin, &gc_default_tol, seed_of(name) + 1);
    }
}

/* Device against reference only. On PoCL (2 cores, 16384 work-items at
 * once) im2col splits the 32 channels into blocks of 7, the last one
 * partial (host/cl_conv.c, channels_per_item); the small cases use 1. */
static void test_conv_large(void **state)
{
    const conv_case c = {"conv batch 16, 32 -> 32 channels, 14x14, padding 1", {16, 32, 14, 14}, {32, 32, 3, 3},
                         true, 1, 1, 1, 1, 1, 1};
    gc_input in[3];
    int nin = conv_inputs(&c, in, true);
    gc_tol tol = conv_tol(&c);
    gc_check_devices(c.name, build_conv, (void *)&c, in, nin, &tol, 77);
}

/* Far above 2^24 flops per phase, where oneDNN runs on OpenMP's threads
 * (host/conv_native.c, threads_for; the small cases run on one). */
static void test_conv_threaded(void **state)
{
    const conv_case c = {"conv batch 8, 32 -> 64 channels, 28x28, padding 1", {8, 32, 28, 28}, {64, 32, 3, 3}, true,
                         1, 1, 1, 1, 1, 1};
    gc_input in[3];
    int nin = conv_inputs(&c, in, true);
    gc_tol tol = conv_tol(&c);
    gc_check_devices(c.name, build_conv, (void *)&c, in, nin, &tol, 80);
}

/* Batch 130, device against reference only. */
static void test_conv_batch_130(void **state)
{
    const conv_case c = {"conv batch 130, 3 -> 5 channels, 5x7, padding 1", {130, 3, 5, 7}, {5, 3, 3, 3}, true,
                         1, 1, 1, 1, 1, 1};
    gc_input in[3];
    int nin = conv_inputs(&c, in, true);
    gc_tol tol = conv_tol(&c);
    gc_check_devices(c.name, build_conv, (void *)&c, in, nin, &tol, 79);
}

/* The OpenCL input gradient runs a chunk of the batch at a time once the
 * column matrix of the batch would pass 2^22 floats (host/cl_conv.c,
 * grad_input_chunk): here K = 288 rows of 88*88 columns per image, so
 * each of the three images is a chunk of its own (the last one too). */
static void test_conv_input_gradient_in_chunks(void **state)
{
    const conv_case c = {"conv batch 3, 32 -> 2 channels, 88x88, padding 1 (chunked input gradient)",
                         {3, 32, 88, 88}, {2, 32, 3, 3}, false, 1, 1, 1, 1, 1, 1};
    gc_input in[3];
    int nin = conv_inputs(&c, in, true);
    gc_tol tol = conv_tol(&c);
    gc_check_devices(c.name, build_conv, (void *)&c, in, nin, &tol, 78);
}

/* The definition, written again in double without the library. */
static void direct_conv(const conv_case *c, const float *x, const float *w, const float *b, double *y)
{
    int64_t N = c->x[0], C = c->x[1], H = c->x[2], W = c->x[3], OC = c->w[0], KH = c->w[2], KW = c->w[3];
    int64_t OH = out_extent(H, KH, c->sh, c->ph, c->dh), OW = out_extent(W, KW, c->sw, c->pw, c->dw);
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < OC; o++)
            for (int64_t i = 0; i < OH; i++)
                for (int64_t j = 0; j < OW; j++) {
                    double acc = b ? b[o] : 0;
                    for (int64_t ch = 0; ch < C; ch++)
                        for (int64_t p = 0; p < KH; p++)
                            for (int64_t q = 0; q < KW; q++) {
                                int64_t h = i * c->sh - c->ph + p * c->dh, v = j * c->sw - c->pw + q * c->dw;
                                if (h >= 0 && h < H && v >= 0 && v < W)
                                    acc += (double)x[((n * C + ch) * H + h) * W + v] *
                                           w[((o * C + ch) * KH + p) * KW + q];
                            }
                    y[((n * OC + o) * OH + i) * OW + j] = acc;
                }
}

static void test_conv_reference_vs_direct(void **state)
{
    for (size_t k = 0; k < NSMALL; k++) {
        const conv_case *c = &small_cases[k];
        gc_input in[3];
        int nin = conv_inputs(c, in, false);
        float *v[3];
        gc_make_inputs(in, nin, seed_of(c->name) + 2, v);
        int64_t n;
        float *y = gc_eval("reference", build_conv, (void *)c, in, nin, (const float *const *)v, &n);
        int64_t oh = out_extent(c->x[2], c->w[2], c->sh, c->ph, c->dh);
        int64_t ow = out_extent(c->x[3], c->w[3], c->sw, c->pw, c->dw);
        assert_int_equal(n, c->x[0] * c->w[0] * oh * ow);
        double *want = malloc((size_t)n * sizeof *want);
        assert_non_null(want);
        direct_conv(c, v[0], v[1], c->bias ? v[2] : NULL, want);
        char what[160];
        snprintf(what, sizeof what, "%s: reference vs the direct sum in double", c->name);
        assert_close_d(y, want, (size_t)n, 1e-6, 0, what); /* one rounding of a double sum */
        free(want);
        free(y);
        for (int i = 0; i < nin; i++) free(v[i]);
    }
}

/* ---- small graphs with known values, on every backend ---- */

typedef struct {
    clg_context *ctx;
    clg_graph *g;
} env_t;

static env_t env_open(const char *spec)
{
    env_t e = {open_ctx(spec), NULL};
    CHECK_OK(e.ctx, clg_graph_create(e.ctx, &e.g));
    return e;
}

static int specs_all(char specs[][32], int max)
{
    strcpy(specs[0], "reference");
    return 1 + test_opencl_devices(specs + 1, max - 1);
}

static void expect(env_t *e, clg_tensor t, const float *want, size_t n, const char *what, const char *spec)
{
    float got[64];
    assert_true(n <= 64);
    assert_int_equal(clg_tensor_numel(e->g, t), (int64_t)n);
    CHECK_OK(e->ctx, clg_tensor_get(e->g, t, got, n));
    char msg[160];
    snprintf(msg, sizeof msg, "%s on %s", what, spec);
    assert_close(got, want, n, 1e-6, 1e-6, msg);
}

/* x = 1..9 (3x3), w = [1 2; 3 4], b = 0.5: y = [37 47; 67 77] + 0.5.
 * With L = sum(y): dw[p,q] = sum of the x cells tap (p,q) reads, dx[h,v] =
 * sum of the taps that read it, db = 4. */
static void test_conv_known_values(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    const int64_t sx[4] = {1, 1, 3, 3}, sw[4] = {1, 1, 2, 2}, sb[1] = {1};
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    const float y[4] = {37.5f, 47.5f, 67.5f, 77.5f}, dw[4] = {12, 16, 24, 28}, db[1] = {4};
    const float dx[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    for (int s = 0; s < ns; s++) {
        env_t e = env_open(specs[s]);
        clg_tensor tx = clg_param(e.g, 4, sx), tw = clg_param(e.g, 4, sw), tb = clg_param(e.g, 1, sb);
        clg_tensor ty = clg_conv2d(e.g, tx, tw, tb, 1, 1, 0, 0, 1, 1);
        clg_tensor_keep(e.g, ty); /* read after the run */
        CHECK_OK(e.ctx, clg_backward(e.g, clg_sum(e.g, ty)));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tx, x, 9));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tw, w, 4));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tb, b, 1));
        CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        expect(&e, ty, y, 4, "conv2d 3x3 * 2x2", specs[s]);
        expect(&e, clg_grad(e.g, tx), dx, 9, "conv2d gradient of x", specs[s]);
        expect(&e, clg_grad(e.g, tw), dw, 4, "conv2d gradient of w", specs[s]);
        expect(&e, clg_grad(e.g, tb), db, 1, "conv2d gradient of b", specs[s]);
        clg_context_destroy(e.ctx);
    }
}

/* Output sizes by PyTorch's formula, worked out by hand per case. */
static void test_conv_output_sizes(void **state)
{
    static const struct {
        int64_t h, w, kh, kw;
        int sh, sw, ph, pw, dh, dw;
        int64_t oh, ow;
    } cases[] = {
        {7, 9, 3, 3, 1, 1, 0, 0, 1, 1, 5, 7}, {7, 9, 3, 3, 2, 2, 1, 1, 1, 1, 4, 5},
        {7, 9, 3, 3, 1, 1, 2, 2, 2, 2, 7, 9}, {9, 6, 2, 3, 2, 1, 1, 0, 1, 2, 5, 2},
        {8, 7, 2, 2, 3, 3, 1, 1, 1, 1, 3, 3}, {4, 5, 4, 7, 1, 1, 0, 1, 1, 1, 1, 1},
        {28, 28, 5, 5, 1, 1, 2, 2, 1, 1, 28, 28}, {14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 7, 7},
    };
    env_t e = env_open("reference");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t sx[4] = {1, 2, cases[i].h, cases[i].w}, sw[4] = {3, 2, cases[i].kh, cases[i].kw};
        clg_tensor y = clg_conv2d(e.g, clg_input(e.g, 4, sx), clg_input(e.g, 4, sw), CLG_NO_TENSOR, cases[i].sh,
                                  cases[i].sw, cases[i].ph, cases[i].pw, cases[i].dh, cases[i].dw);
        CHECK_OK(e.ctx, clg_graph_status(e.g));
        assert_int_equal(clg_tensor_ndim(e.g, y), 4);
        assert_int_equal(clg_tensor_dim(e.g, y, 0), 1);
        assert_int_equal(clg_tensor_dim(e.g, y, 1), 3);
        assert_int_equal(clg_tensor_dim(e.g, y, 2), cases[i].oh);
        assert_int_equal(clg_tensor_dim(e.g, y, 3), cases[i].ow);
    }
    clg_context_destroy(e.ctx);
}

/* ---- pooling ---- */

typedef struct pool_case {
    const char *name;
    int64_t x[4];
    int kh, kw, sh, sw, ph, pw;
} pool_case;

static const pool_case pool_cases[] = {
    {"2x2 stride 2 on 7x9 (last row and column dropped)", {2, 3, 7, 9}, 2, 2, 2, 2, 0, 0},
    {"3x3 stride 2 padding 1", {2, 3, 7, 9}, 3, 3, 2, 2, 1, 1},
    {"3x3 stride 1 padding 1, batch 1, 5x5 (overlapping)", {1, 2, 5, 5}, 3, 3, 1, 1, 1, 1},
    {"2x3 stride 1x2 padding 1x1", {2, 2, 6, 7}, 2, 3, 1, 2, 1, 1},
    {"window as large as the input", {1, 3, 4, 5}, 4, 5, 1, 1, 0, 0},
};
#define NPOOL (sizeof pool_cases / sizeof pool_cases[0])

static clg_tensor build_max(clg_graph *g, const clg_tensor *in, void *arg)
{
    const pool_case *c = arg;
    return clg_max_pool2d(g, in[0], c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
}

static clg_tensor build_avg(clg_graph *g, const clg_tensor *in, void *arg)
{
    const pool_case *c = arg;
    return clg_avg_pool2d(g, in[0], c->kh, c->kw, c->sh, c->sw, c->ph, c->pw);
}

/* See the top of the file: a window sums at most kh*kw terms. */
static gc_tol pool_tol(const pool_case *c)
{
    gc_tol t = gc_default_tol;
    t.fwd_atol_of_max = fmax(t.fwd_atol_of_max, c->kh * c->kw * U);
    t.grad_atol_of_max = fmax(t.grad_atol_of_max, c->kh * c->kw * U);
    return t;
}

static void test_pool(void **state)
{
    for (size_t i = 0; i < NPOOL; i++)
        for (int avg = 0; avg < 2; avg++) {
            const pool_case *c = &pool_cases[i];
            gc_tol tol = pool_tol(c);
            gc_input in = {.ndim = 4, .param = true, .lo = 0.1, .hi = 2};
            memcpy(in.shape, c->x, sizeof c->x);
            char name[160];
            snprintf(name, sizeof name, "%s %s", avg ? "avg_pool2d" : "max_pool2d", c->name);
            gc_build_fn f = avg ? build_avg : build_max;
            gc_check_fd(name, f, (void *)c, &in, 1, &gc_default_tol, seed_of(name));
            gc_check_devices(name, f, (void *)c, &in, 1, &tol, seed_of(name) + 1);
        }
}

/* x = -1 .. -16 (4x4), 3x3 stride 2 padding 1: the windows' cells inside x
 * are all negative, so a padding cell (0) winning would show. The maxima
 * are the windows' top-left real cells: x[0,0], x[0,1], x[1,0], x[1,1]
 * of the 2x2 grid of windows starting at rows/cols -1 and 1. */
static void test_max_pool_known_values(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    const int64_t sx[4] = {1, 1, 4, 4};
    float x[16], ones[16];
    for (int i = 0; i < 16; i++) x[i] = -(float)(i + 1), ones[i] = 1.0f;
    const float y[4] = {-1, -2, -5, -6};
    const float dx[16] = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    /* ties (all ones), 2x2 stride 2: the first cell of each window wins */
    const float dx_ties[16] = {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    for (int s = 0; s < ns; s++) {
        env_t e = env_open(specs[s]);
        clg_tensor tx = clg_param(e.g, 4, sx);
        clg_tensor ty = clg_max_pool2d(e.g, tx, 3, 3, 2, 2, 1, 1);
        clg_tensor_keep(e.g, ty); /* read after the run */
        CHECK_OK(e.ctx, clg_backward(e.g, clg_sum(e.g, ty)));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tx, x, 16));
        CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        expect(&e, ty, y, 4, "max_pool2d of negatives with padding", specs[s]);
        expect(&e, clg_grad(e.g, tx), dx, 16, "max_pool2d gradient", specs[s]);
        clg_context_destroy(e.ctx);

        e = env_open(specs[s]);
        tx = clg_param(e.g, 4, sx);
        ty = clg_max_pool2d(e.g, tx, 2, 2, 2, 2, 0, 0);
        CHECK_OK(e.ctx, clg_backward(e.g, clg_sum(e.g, ty)));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tx, ones, 16));
        CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        expect(&e, clg_grad(e.g, tx), dx_ties, 16, "max_pool2d gradient with ties", specs[s]);
        clg_context_destroy(e.ctx);
    }
}

/* Max pooling of the values a comparison can get wrong, stored as float32,
 * float16 and bfloat16 (clg_input_as): y is that window's winning cell bit
 * for bit (a 16-bit y copies the cell, never narrows it again). x is 4x6,
 * 2x2 windows, stride 2; per window, in row-major order of its cells:
 *   {1, NaN, 3, -NaN}: the first NaN;  {-inf x4}: -inf;
 *   {-0, +0, -1, -2}: -0 (a tie: the first);  {2^-20, 0, -5, 2^-21}: 2^-20
 *   (float16's subnormal range);  {-NaN, 7, inf, 1}: -NaN;
 *   {57344, -3, 0.375, 57344}: 57344 (the first of equal maxima).
 * A NaN as the casts make it: float16 keeps its sign (0x7e00 | sign),
 * bfloat16 is 0x7fc0. The dilated kernel (dilation 2, stride 1: windows of
 * cells two apart) on the same x against the reference backend, bit for bit. */
static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void test_max_pool_special_values(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    const int64_t sx[4] = {1, 1, 4, 6};
    const float t = 0x1p-20f, q = 0x1p-21f;
    /* window w (0..5: row w / 3, column w % 3) holds x[2 (w/3) + a][2 (w%3) + b] */
    const float win[6][4] = {{1, NAN, 3, -NAN},           {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
                             {-0.0f, 0.0f, -1, -2},       {t, 0, -5, q},
                             {-NAN, 7, INFINITY, 1},      {57344, -3, 0.375f, 57344}};
    float x[24];
    for (int w = 0; w < 6; w++)
        for (int k = 0; k < 4; k++) x[(2 * (w / 3) + k / 2) * 6 + 2 * (w % 3) + k % 2] = win[w][k];
    const clg_elem types[3] = {CLG_ELEM_F32, CLG_ELEM_F16, CLG_ELEM_BF16};
    const char *tname[3] = {"float32", "float16", "bfloat16"};
    for (int ty = 0; ty < 3; ty++) {
        const uint32_t neg_nan = types[ty] == CLG_ELEM_BF16 ? 0x7fc00000u : 0xffc00000u;
        const uint32_t want[6] = {0x7fc00000u, bits_of(-INFINITY), 0x80000000u, bits_of(t), neg_nan, bits_of(57344)};
        float dil_ref[8];
        for (int s = 0; s < ns; s++) {
            env_t e = env_open(specs[s]);
            clg_tensor tx = clg_input_as(e.g, types[ty], 4, sx);
            clg_tensor ty2 = clg_max_pool2d(e.g, tx, 2, 2, 2, 2, 0, 0);
            clg_pool_options opt;
            CHECK_OK(e.ctx, clg_pool_options_init(&opt, sizeof opt));
            opt.dilation_h = opt.dilation_w = 2;
            clg_tensor td = clg_max_pool2d_opt(e.g, tx, 2, 2, 1, 1, 0, 0, &opt);
            assert_true(ty2.id >= 0 && td.id >= 0);
            clg_tensor_keep(e.g, ty2);
            clg_tensor_keep(e.g, td);
            CHECK_OK(e.ctx, clg_tensor_set(e.g, tx, x, 24));
            CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD));
            float y[6], d[8];
            assert_int_equal(clg_tensor_numel(e.g, td), 8); /* 2 x 4 windows */
            CHECK_OK(e.ctx, clg_tensor_get(e.g, ty2, y, 6));
            CHECK_OK(e.ctx, clg_tensor_get(e.g, td, d, 8));
            for (int w = 0; w < 6; w++)
                if (bits_of(y[w]) != want[w])
                    fail_msg("max pool of %s on %s: window %d gives %08x, want %08x", tname[ty], specs[s], w,
                             (unsigned)bits_of(y[w]), (unsigned)want[w]);
            for (int w = 0; w < 8; w++) {
                if (s == 0) dil_ref[w] = d[w];
                else if (bits_of(d[w]) != bits_of(dil_ref[w]))
                    fail_msg("dilated max pool of %s on %s: window %d gives %08x, the reference %08x", tname[ty],
                             specs[s], w, (unsigned)bits_of(d[w]), (unsigned)bits_of(dil_ref[w]));
            }
            clg_context_destroy(e.ctx);
        }
    }
}

/* x = ones (4x4), 3x3 stride 2 padding 1: a corner window holds 4 cells of
 * x, an edge window 6, and each divides by 9 (count_include_pad). */
static void test_avg_pool_counts_padding(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    const int64_t sx[4] = {1, 1, 4, 4};
    float ones[16];
    for (int i = 0; i < 16; i++) ones[i] = 1.0f;
    const float y[4] = {4.f / 9, 6.f / 9, 6.f / 9, 9.f / 9};
    /* each cell: (number of windows holding it) / 9 */
    const float dx[16] = {1.f / 9, 2.f / 9, 1.f / 9, 1.f / 9, 2.f / 9, 4.f / 9, 2.f / 9, 2.f / 9,
                          1.f / 9, 2.f / 9, 1.f / 9, 1.f / 9, 1.f / 9, 2.f / 9, 1.f / 9, 1.f / 9};
    for (int s = 0; s < ns; s++) {
        env_t e = env_open(specs[s]);
        clg_tensor tx = clg_param(e.g, 4, sx);
        clg_tensor ty = clg_avg_pool2d(e.g, tx, 3, 3, 2, 2, 1, 1);
        clg_tensor_keep(e.g, ty); /* read after the run */
        CHECK_OK(e.ctx, clg_backward(e.g, clg_sum(e.g, ty)));
        CHECK_OK(e.ctx, clg_tensor_set(e.g, tx, ones, 16));
        CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        expect(&e, ty, y, 4, "avg_pool2d of ones with padding", specs[s]);
        expect(&e, clg_grad(e.g, tx), dx, 16, "avg_pool2d gradient", specs[s]);
        clg_context_destroy(e.ctx);
    }
}

/* ---- a small network: every op's backward fed by another's ---- */

static clg_tensor build_net(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_tensor h = clg_relu(g, clg_conv2d(g, in[0], in[1], in[2], 1, 1, 1, 1, 1, 1)); /* 2x4x8x8 */
    h = clg_max_pool2d(g, h, 2, 2, 2, 2, 0, 0);                                          /* 2x4x4x4 */
    h = clg_conv2d(g, h, in[3], CLG_NO_TENSOR, 2, 2, 1, 1, 1, 1);                    /* 2x3x2x2 */
    return clg_avg_pool2d(g, h, 2, 2, 1, 1, 1, 1);                                       /* 2x3x3x3 */
}

static const gc_input net_inputs[] = {
    {.ndim = 4, .shape = {2, 3, 8, 8}, .param = true, .lo = 0.1, .hi = 2},
    {.ndim = 4, .shape = {4, 3, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
    {.ndim = 1, .shape = {4}, .param = true, .lo = 0.1, .hi = 1},
    {.ndim = 4, .shape = {3, 4, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
};

static void test_network(void **state)
{
    /* Errors of chained layers add: the output carries the two convs' sums
     * (27 and 36 terms); the gradient on the longest path adds the backward
     * sums of both (the second's input gradient, 27, then the first's
     * weight gradient over N*OH*OW = 128). */
    gc_tol tol = gc_default_tol;
    tol.fwd_atol_of_max = (27 + 36) * U;
    tol.grad_atol_of_max = (27 + 36 + 27 + 128) * U;
    gc_check_fd("conv-relu-maxpool-conv-avgpool", build_net, NULL, net_inputs, 4, &gc_default_tol, 31);
    gc_check_devices("conv-relu-maxpool-conv-avgpool", build_net, NULL, net_inputs, 4, &tol, 32);
}

/* Running the same graph again gives the same results: the scratch shared
 * by the conv's backward ops and the argmax are rewritten, not reused. */
static void test_rerun_same(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    float *v[4];
    gc_make_inputs(net_inputs, 4, 33, v);
    for (int s = 0; s < ns; s++) {
        env_t e = env_open(specs[s]);
        clg_tensor in[4];
        for (int i = 0; i < 4; i++) in[i] = clg_param(e.g, net_inputs[i].ndim, net_inputs[i].shape);
        clg_tensor y = build_net(e.g, in, NULL);
        CHECK_OK(e.ctx, clg_backward(e.g, clg_sum(e.g, clg_square(e.g, y))));
        float *first[4], *again[4];
        size_t n[4];
        for (int i = 0; i < 4; i++) {
            n[i] = (size_t)numel_of(net_inputs[i].ndim, net_inputs[i].shape);
            CHECK_OK(e.ctx, clg_tensor_set(e.g, in[i], v[i], n[i]));
            first[i] = malloc(n[i] * sizeof(float));
            again[i] = malloc(n[i] * sizeof(float));
            assert_non_null(first[i]);
            assert_non_null(again[i]);
        }
        for (int run = 0; run < 2; run++) {
            CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
            for (int i = 0; i < 4; i++)
                CHECK_OK(e.ctx, clg_tensor_get(e.g, clg_grad(e.g, in[i]), run ? again[i] : first[i], n[i]));
        }
        for (int i = 0; i < 4; i++) {
            assert_memory_equal(first[i], again[i], n[i] * sizeof(float));
            free(first[i]);
            free(again[i]);
        }
        clg_context_destroy(e.ctx);
    }
    for (int i = 0; i < 4; i++) free(v[i]);
}

/* ---- bad input ---- */

static void conv_errors(const char *spec)
{
    const int64_t sx[4] = {2, 3, 7, 9}, sw[4] = {4, 3, 3, 3}, sw5[4] = {4, 5, 3, 3}, s3[3] = {3, 7, 9};
    const int64_t sb4[1] = {4}, sb5[1] = {5}, sbig[4] = {4, 3, 9, 3};
    struct {
        const int64_t *x, *w, *b;
        int nx, nw;
        int sh, sw, ph, pw, dh, dw;
        clg_status status;
        const char *texts[3];
    } cases[] = {
        {sx, sw5, NULL, 4, 4, 1, 1, 0, 0, 1, 1, CLG_ERR_SHAPE, {"conv2d", "[2,3,7,9]", "[4,5,3,3]"}},
        {s3, sw, NULL, 3, 4, 1, 1, 0, 0, 1, 1, CLG_ERR_SHAPE, {"conv2d", "[3,7,9]", "4-D"}},
        {sx, s3, NULL, 4, 3, 1, 1, 0, 0, 1, 1, CLG_ERR_SHAPE, {"conv2d", "[2,3,7,9]", "[3,7,9]"}},
        {sx, sbig, NULL, 4, 4, 1, 1, 0, 0, 1, 1, CLG_ERR_SHAPE, {"conv2d", "larger than the padded input", "[4,3,9,3]"}},
        {sx, sw, NULL, 4, 4, 1, 1, 0, 0, 4, 1, CLG_ERR_SHAPE, {"conv2d", "dilation 4x1", "7x9"}},
        {sx, sw, sb5, 4, 4, 1, 1, 0, 0, 1, 1, CLG_ERR_SHAPE, {"conv2d", "bias [5]", "[4,3,3,3]"}},
        {sx, sw, sb4, 4, 4, 0, 1, 0, 0, 1, 1, CLG_ERR_INVALID_ARGUMENT, {"conv2d", "stride 0x1", "[2,3,7,9]"}},
        {sx, sw, NULL, 4, 4, 1, -2, 0, 0, 1, 1, CLG_ERR_INVALID_ARGUMENT, {"conv2d", "stride 1x-2", "[4,3,3,3]"}},
        {sx, sw, NULL, 4, 4, 1, 1, 0, 0, 1, 0, CLG_ERR_INVALID_ARGUMENT, {"conv2d", "dilation 1x0", "[2,3,7,9]"}},
        {sx, sw, NULL, 4, 4, 1, 1, -1, 0, 1, 1, CLG_ERR_INVALID_ARGUMENT, {"conv2d", "padding -1x0", "[4,3,3,3]"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env_t e = env_open(spec);
        clg_tensor x = clg_input(e.g, cases[i].nx, cases[i].x), w = clg_param(e.g, cases[i].nw, cases[i].w);
        clg_tensor b = cases[i].b ? clg_param(e.g, 1, cases[i].b) : CLG_NO_TENSOR;
        CHECK_OK(e.ctx, clg_graph_status(e.g));
        clg_tensor y = clg_conv2d(e.g, x, w, b, cases[i].sh, cases[i].sw, cases[i].ph, cases[i].pw, cases[i].dh,
                                  cases[i].dw);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(e.g), cases[i].status);
        assert_int_equal(clg_context_status(e.ctx), cases[i].status);
        for (int t = 0; t < 3; t++) ASSERT_MSG_HAS(e.ctx, cases[i].texts[t]);
        /* later ops on the failed result fail too and keep the first message */
        assert_true(clg_max_pool2d(e.g, y, 2, 2, 2, 2, 0, 0).id < 0);
        ASSERT_MSG_HAS(e.ctx, cases[i].texts[0]);
        assert_int_equal(clg_graph_status(e.g), cases[i].status);
        CHECK_OK(e.ctx, clg_graph_run(e.g, CLG_RUN_ALL)); /* the refused calls changed nothing */
        clg_context_destroy(e.ctx);
    }
}

static void pool_errors(const char *spec)
{
    const int64_t sx[4] = {2, 3, 7, 9}, s2[2] = {7, 9};
    struct {
        const int64_t *x;
        int nx, kh, kw, sh, sw, ph, pw;
        clg_status status;
        const char *text;
    } cases[] = {
        {s2, 2, 2, 2, 2, 2, 0, 0, CLG_ERR_SHAPE, "[7,9]"},
        {sx, 4, 0, 2, 1, 1, 0, 0, CLG_ERR_INVALID_ARGUMENT, "kernel 0x2"},
        {sx, 4, 2, 2, 1, 0, 0, 0, CLG_ERR_INVALID_ARGUMENT, "stride 1x0"},
        {sx, 4, 2, 2, 1, 1, -1, 0, CLG_ERR_INVALID_ARGUMENT, "padding -1x0"},
        {sx, 4, 3, 3, 1, 1, 2, 1, CLG_ERR_INVALID_ARGUMENT, "at most half the kernel 3x3"},
        {sx, 4, 8, 2, 1, 1, 0, 0, CLG_ERR_SHAPE, "larger than the padded input 7x9"},
    };
    for (int avg = 0; avg < 2; avg++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            env_t e = env_open(spec);
            clg_tensor x = clg_param(e.g, cases[i].nx, cases[i].x);
            clg_tensor y = (avg ? clg_avg_pool2d : clg_max_pool2d)(e.g, x, cases[i].kh, cases[i].kw, cases[i].sh,
                                                                   cases[i].sw, cases[i].ph, cases[i].pw);
            assert_true(y.id < 0);
            assert_int_equal(clg_graph_status(e.g), cases[i].status);
            ASSERT_MSG_HAS(e.ctx, avg ? "avg_pool2d" : "max_pool2d");
            ASSERT_MSG_HAS(e.ctx, cases[i].text);
            if (cases[i].nx == 4) ASSERT_MSG_HAS(e.ctx, "[2,3,7,9]");
            clg_context_destroy(e.ctx);
        }
}

/* the options of the _opt forms, and conv_transpose2d's arguments */
static void option_errors(const char *spec)
{
    const int64_t sx[4] = {2, 3, 7, 9}, sw[4] = {3, 4, 3, 3}, sw5[4] = {5, 4, 3, 3}, sb5[1] = {5};
    for (int k = 0; k < 8; k++) {
        env_t e = env_open(spec);
        clg_tensor x = clg_param(e.g, 4, sx);
        clg_pool_options o;
        clg_pool_options_init(&o, sizeof o);
        clg_tensor y = CLG_NO_TENSOR, w = k >= 3 ? clg_param(e.g, 4, k == 3 ? sw5 : sw) : CLG_NO_TENSOR;
        static const char *const says[8][2] = {
            {"avg_pool2d", "dilation 2x2 must be 1"},   {"max_pool2d", "dilation 0x1"},
            {"max_pool2d", "options size 4"},           {"conv_transpose2d", "input channel counts (x has 3, w's first dimension 5)"},
            {"conv_transpose2d", "output padding 2x0"}, {"conv_transpose2d", "empty output"},
            {"conv_transpose2d", "bias [5]"},           {"conv_transpose2d", "dilation 1x0"}};
        const int32_t before = clg_graph_tensor_count(e.g);
        switch (k) {
        case 0:
            o.dilation_h = o.dilation_w = 2;
            y = clg_avg_pool2d_opt(e.g, x, 2, 2, 2, 2, 0, 0, &o);
            break;
        case 1:
            o.dilation_h = 0;
            y = clg_max_pool2d_opt(e.g, x, 2, 2, 2, 2, 0, 0, &o);
            break;
        case 2:
            o.size = 4;
            y = clg_max_pool2d_opt(e.g, x, 2, 2, 2, 2, 0, 0, &o);
            break;
        case 3: y = clg_conv_transpose2d(e.g, x, w, CLG_NO_TENSOR, 1, 1, 0, 0, 0, 0, 1, 1); break;
        case 4: y = clg_conv_transpose2d(e.g, x, w, CLG_NO_TENSOR, 2, 2, 0, 0, 2, 0, 1, 1); break;
        case 5: y = clg_conv_transpose2d(e.g, x, w, CLG_NO_TENSOR, 1, 1, 5, 0, 0, 0, 1, 1); break;
        case 6: y = clg_conv_transpose2d(e.g, x, w, clg_param(e.g, 1, sb5), 1, 1, 0, 0, 0, 0, 1, 1); break;
        default: y = clg_conv_transpose2d(e.g, x, w, CLG_NO_TENSOR, 1, 1, 0, 0, 0, 0, 1, 0); break;
        }
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(e.g), k >= 3 && k <= 6 && k != 4 ? CLG_ERR_SHAPE : CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(e.ctx, says[k][0]);
        ASSERT_MSG_HAS(e.ctx, says[k][1]);
        assert_int_equal(clg_graph_tensor_count(e.g), before + (k == 6)); /* nothing recorded (but the bias made here) */
        clg_context_destroy(e.ctx);
    }
}

static void test_errors(void **state)
{
    char specs[16][32];
    int ns = specs_all(specs, 16);
    for (int s = 0; s < ns; s++) {
        conv_errors(specs[s]);
        pool_errors(specs[s]);
        option_errors(specs[s]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_output_sizes),
        cmocka_unit_test(test_conv_known_values),
        cmocka_unit_test(test_conv_reference_vs_direct),
        cmocka_unit_test(test_conv_finite_differences),
        cmocka_unit_test(test_conv_devices),
        cmocka_unit_test(test_conv_single_gradients),
        cmocka_unit_test(test_conv_large),
        cmocka_unit_test(test_conv_batch_130),
        cmocka_unit_test(test_conv_threaded),
        cmocka_unit_test(test_conv_input_gradient_in_chunks),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_max_pool_known_values),
        cmocka_unit_test(test_max_pool_special_values),
        cmocka_unit_test(test_avg_pool_counts_padding),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_rerun_same),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
