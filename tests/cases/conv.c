/*
 * conv2d and pooling (core/conv.c; cl/conv.cl, cl/winograd.cl, im2col with
 * GEMM or oneDNN). A 3x3 convolution with padding 1 and a bias, channels in
 * = out (a CNN's middle layer), and 2x2 pooling with stride 2.
 *
 * Tolerances as tests/test_conv.c derives them: an output sums C*3*3
 * products, a weight gradient N*H*W, an input gradient C*3*3; a pooled
 * value at most 2*2 terms.
 */
#include "cases.h"

/* at most batch 256 (aligned): a training batch; the benchmark's check
 * runs the reference's plain loops, seconds a GFLOP */
static int in_conv(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    if (aligned && in[0].shape[0] > 256) in[0].shape[0] = 256;
    const int64_t c = in[0].shape[1], w[4] = {c, c, 3, 3}, b[1] = {c};
    in[1] = case_with_shape(in[0], 4, w);
    in[1].hi = 1;
    in[2] = case_with_shape(in[1], 1, b);
    return 3;
}
/* 4 groups of 4 channels aligned (16), depthwise otherwise (3 groups of 1) */
static int64_t groups_of(int64_t c) { return c % 4 == 0 ? 4 : c; }
static int in_conv_grouped(int64_t n, bool aligned, case_input *in)
{
    in_conv(n, aligned, in);
    in[1].shape[1] = in[0].shape[1] / groups_of(in[0].shape[1]);
    return 3;
}
static int in_img(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    return 1;
}

/* positive: a plane's mean sums H*W terms of one sign (tol_sum's bound) */
static int in_pos_img(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    in[0].positive = true;
    return 1;
}

static double img(const case_input *in) { return (double)case_numel(&in[0]); }

static void w_conv(const case_input *in, case_work *w)
{
    const double c = (double)in[0].shape[1], weights = c * c * 9, x = img(in);
    const double f = 2 * x * c * 9; /* per output (as many as inputs): C*9 multiply-adds */
    *w = (case_work){{4 * (2 * x + weights + c), 4 * (2 * x + 2 * weights + c)}, {f + x, 2 * f + x}, true};
}
/* forward x in, a quarter out; backward: max reads x again to find the
 * maximum, the average only writes dx */
static void w_max(const case_input *in, case_work *w) { *w = (case_work){{5 * img(in), 8 * img(in)}, {0, 0}, false}; }
static void w_avg(const case_input *in, case_work *w) { *w = (case_work){{5 * img(in), 4 * img(in)}, {0, 0}, false}; }

/* the global average pool: x in, one value a plane out; backward dx out */
static void w_gap(const case_input *in, case_work *w)
{
    const double planes = (double)(in[0].shape[0] * in[0].shape[1]);
    *w = (case_work){{4 * img(in) + 4 * planes, 4 * img(in)}, {img(in), 0}, false};
}
static void tol_gap(const case_input *in, case_tol *t) { tol_sum(t, (double)(in[0].shape[2] * in[0].shape[3]), 1); }

static void tol_conv(const case_input *in, case_tol *t)
{
    const double c = (double)in[0].shape[1], k_out = c * 9;
    const double k_dw = (double)(in[0].shape[0] * in[0].shape[2] * in[0].shape[3]), k_dx = c * 9;
    tol_sum(t, k_out + 1, k_dw > k_dx ? k_dw : k_dx);
}
static void w_conv_grouped(const case_input *in, case_work *w)
{
    const double c = (double)in[0].shape[1], ci = (double)in[1].shape[1], weights = c * ci * 9, x = img(in);
    const double f = 2 * x * ci * 9;
    *w = (case_work){{4 * (2 * x + weights + c), 4 * (2 * x + 2 * weights + c)}, {f + x, 2 * f + x}, true};
}
static void tol_conv_grouped(const case_input *in, case_tol *t)
{
    const double k_out = (double)in[1].shape[1] * 9;
    const double k_dw = (double)(in[0].shape[0] * in[0].shape[2] * in[0].shape[3]), k_dx = (double)in[0].shape[1] * 9;
    tol_sum(t, k_out + 1, k_dw > k_dx ? k_dw : k_dx);
}
static void tol_pool(const case_input *in, case_tol *t)
{
    (void)in;
    tol_sum(t, 4, 4);
}

static clg_tensor b_conv(clg_graph *g, const clg_tensor *in) { return clg_conv2d(g, in[0], in[1], in[2], 1, 1, 1, 1, 1, 1); }
static clg_tensor b_maxpool(clg_graph *g, const clg_tensor *in) { return clg_max_pool2d(g, in[0], 2, 2, 2, 2, 0, 0); }
static clg_tensor b_avgpool(clg_graph *g, const clg_tensor *in) { return clg_avg_pool2d(g, in[0], 2, 2, 2, 2, 0, 0); }
static clg_tensor b_conv_grouped(clg_graph *g, const clg_tensor *in)
{
    return clg_conv2d_grouped(g, in[0], in[1], in[2], 1, 1, 1, 1, 1, 1, (int)groups_of(clg_tensor_dim(g, in[0], 1)));
}
static clg_tensor b_gap(clg_graph *g, const clg_tensor *in) { return clg_adaptive_avg_pool2d(g, in[0], 1, 1); }
static clg_tensor b_up(clg_graph *g, const clg_tensor *in) { return clg_upsample_nearest2d(g, in[0], 2, 2); }

/* the output is the largest operand: 4 times x */
static int in_up(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n / 4, aligned);
    return 1;
}
/* x in, 4x out; backward: dx out, each a sum of 4 (3 additions) */
static void w_up(const case_input *in, case_work *w) { *w = (case_work){{20 * img(in), 4 * img(in)}, {0, 3 * img(in)}, false}; }

const op_case conv_cases[] = {
    {"conv2d 3x3", "clg_conv2d", in_conv, b_conv, w_conv, tol_conv, NULL},
    {"conv2d 3x3 grouped", "clg_conv2d_grouped", in_conv_grouped, b_conv_grouped, w_conv_grouped, tol_conv_grouped,
     NULL},
    {"max pool 2x2", "clg_max_pool2d", in_img, b_maxpool, w_max, tol_pool, NULL},
    {"avg pool 2x2", "clg_avg_pool2d", in_img, b_avgpool, w_avg, tol_pool, NULL},
    {"adaptive avg pool to 1x1", "clg_adaptive_avg_pool2d", in_pos_img, b_gap, w_gap, tol_gap, NULL},
    {"upsample nearest 2x", "clg_upsample_nearest2d", in_up, b_up, w_up, tol_pool, NULL},
};
const size_t conv_ncases = sizeof conv_cases / sizeof conv_cases[0];
