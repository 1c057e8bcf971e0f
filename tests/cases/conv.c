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
/* transposed: x [B, C, H, W], w [C, OC, k, k] (OC = C / 2 aligned, 2
 * otherwise), bias [OC]; the output has about s^2 times x's elements, so x
 * gets a quarter of n */
static int in_convt(int64_t n, bool aligned, case_input *in, int64_t k)
{
    in[0] = case_img(n / 4, aligned);
    const int64_t c = in[0].shape[1], oc = aligned ? c / 2 : 2, w[4] = {c, oc, k, k}, b[1] = {oc};
    in[1] = case_with_shape(in[0], 4, w);
    in[1].hi = 1;
    in[2] = case_with_shape(in[1], 1, b);
    return 3;
}
static int in_convt2(int64_t n, bool aligned, case_input *in) { return in_convt(n, aligned, in, 2); }
static int in_convt3(int64_t n, bool aligned, case_input *in) { return in_convt(n, aligned, in, 3); }
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
/* each x element meets C OC k^2 weights once: forward and dx that many
 * multiply-adds per x element, dw as many in all */
static void w_convt(const case_input *in, case_work *w)
{
    const double x = img(in), oc = (double)in[1].shape[1], k2 = (double)(in[1].shape[2] * in[1].shape[3]);
    const double weights = (double)in[0].shape[1] * oc * k2, f = 2 * x * oc * k2;
    const double y = x * oc / (double)in[0].shape[1] * 4; /* stride 2: four times the plane */
    *w = (case_work){{4 * (x + weights + oc + y), 4 * (x + 2 * weights + oc + 2 * y)}, {f + y, 2 * f + y}, true};
}
/* an output sums up to C k^2 terms, dx OC k^2, dw N H W */
static void tol_convt(const case_input *in, case_tol *t)
{
    const double k2 = (double)(in[1].shape[2] * in[1].shape[3]);
    const double k_out = (double)in[0].shape[1] * k2, k_dx = (double)in[1].shape[1] * k2;
    const double k_dw = (double)(in[0].shape[0] * in[0].shape[2] * in[0].shape[3]);
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
/* U-Net's learned 2x upsampling; a decoder's 3x3 stride 2 (output 2H);
 * stride and dilation 2 (never through oneDNN: the direct kernel) */
static clg_tensor b_convt2(clg_graph *g, const clg_tensor *in)
{
    return clg_conv_transpose2d(g, in[0], in[1], in[2], 2, 2, 0, 0, 0, 0, 1, 1);
}
static clg_tensor b_convt3(clg_graph *g, const clg_tensor *in)
{
    return clg_conv_transpose2d(g, in[0], in[1], in[2], 2, 2, 1, 1, 1, 1, 1, 1);
}
static clg_tensor b_convt3d(clg_graph *g, const clg_tensor *in)
{
    return clg_conv_transpose2d(g, in[0], in[1], in[2], 2, 2, 2, 1, 1, 0, 2, 2);
}
/* PyTorch's other pooling arguments; on the tests' 7x9 planes ceil mode
 * adds a clipped last row and column of windows */
static clg_pool_options pool_opts(int dilation, int ceil_mode, int count_include_pad)
{
    clg_pool_options o;
    clg_pool_options_init(&o, sizeof o);
    o.dilation_h = o.dilation_w = dilation;
    o.ceil_mode = ceil_mode;
    o.count_include_pad = count_include_pad;
    return o;
}
static clg_tensor b_maxpool_ceil(clg_graph *g, const clg_tensor *in)
{
    const clg_pool_options o = pool_opts(1, 1, 1);
    return clg_max_pool2d_opt(g, in[0], 2, 2, 2, 2, 0, 0, &o);
}
static clg_tensor b_maxpool_dil(clg_graph *g, const clg_tensor *in)
{
    const clg_pool_options o = pool_opts(2, 1, 1);
    return clg_max_pool2d_opt(g, in[0], 3, 3, 2, 2, 1, 1, &o);
}
static clg_tensor b_avgpool_ceil(clg_graph *g, const clg_tensor *in)
{
    const clg_pool_options o = pool_opts(1, 1, 1);
    return clg_avg_pool2d_opt(g, in[0], 2, 2, 2, 2, 0, 0, &o);
}
static clg_tensor b_avgpool_nopad(clg_graph *g, const clg_tensor *in)
{
    const clg_pool_options o = pool_opts(1, 1, 0);
    return clg_avg_pool2d_opt(g, in[0], 3, 3, 2, 2, 1, 1, &o);
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

/* bilinear resizing and unequal adaptive windows: two products by
 * constant matrices, [OW, W] then [OH, H] */
static void resized(const case_input *in, int k, int64_t *oh, int64_t *ow)
{
    const int64_t h = in[0].shape[2], w = in[0].shape[3];
    *oh = k == 0 ? 2 * h : k == 1 ? h + 3 : 3;
    *ow = k == 0 ? 2 * w : k == 1 ? w - 2 : 4;
}
static clg_tensor b_bilinear2x(clg_graph *g, const clg_tensor *in)
{
    return clg_upsample_bilinear2d(g, in[0], 2 * clg_tensor_dim(g, in[0], 2), 2 * clg_tensor_dim(g, in[0], 3), 0);
}
static clg_tensor b_bilinear_ac(clg_graph *g, const clg_tensor *in)
{
    return clg_upsample_bilinear2d(g, in[0], clg_tensor_dim(g, in[0], 2) + 3, clg_tensor_dim(g, in[0], 3) - 2, 1);
}
static clg_tensor b_adaptive34(clg_graph *g, const clg_tensor *in) { return clg_adaptive_avg_pool2d(g, in[0], 3, 4); }
static void w_sep(const case_input *in, case_work *w, int k)
{
    int64_t oh, ow;
    resized(in, k, &oh, &ow);
    const double planes = (double)(in[0].shape[0] * in[0].shape[1]), h = (double)in[0].shape[2];
    const double wd = (double)in[0].shape[3], y = planes * (double)(oh * ow);
    const double f = 2 * planes * h * wd * (double)ow + 2 * planes * (double)oh * h * (double)ow;
    *w = (case_work){{4 * (img(in) + y), 4 * (img(in) + y)}, {f, f}, true};
}
static void w_bilinear2x(const case_input *in, case_work *w) { w_sep(in, w, 0); }
static void w_bilinear_ac(const case_input *in, case_work *w) { w_sep(in, w, 1); }
static void w_adaptive34(const case_input *in, case_work *w) { w_sep(in, w, 2); }
/* an output sums W then H terms; a gradient OW then OH */
static void tol_sep(const case_input *in, case_tol *t, int k)
{
    int64_t oh, ow;
    resized(in, k, &oh, &ow);
    tol_sum(t, (double)(in[0].shape[2] + in[0].shape[3]), (double)(oh + ow));
}
static void tol_bilinear2x(const case_input *in, case_tol *t) { tol_sep(in, t, 0); }
static void tol_bilinear_ac(const case_input *in, case_tol *t) { tol_sep(in, t, 1); }
static void tol_adaptive34(const case_input *in, case_tol *t) { tol_sep(in, t, 2); }

const op_case conv_cases[] = {
    {"conv2d 3x3", "clg_conv2d", in_conv, b_conv, w_conv, tol_conv, NULL},
    {"conv2d 3x3 grouped", "clg_conv2d_grouped", in_conv_grouped, b_conv_grouped, w_conv_grouped, tol_conv_grouped,
     NULL},
    {"conv transpose 2x2 stride 2", "clg_conv_transpose2d", in_convt2, b_convt2, w_convt, tol_convt, NULL},
    {"conv transpose 3x3 stride 2 output padding 1", "clg_conv_transpose2d", in_convt3, b_convt3, w_convt, tol_convt,
     NULL},
    {"conv transpose 3x3 stride 2 dilation 2", "clg_conv_transpose2d", in_convt3, b_convt3d, w_convt, tol_convt,
     NULL},
    {"max pool 2x2", "clg_max_pool2d", in_img, b_maxpool, w_max, tol_pool, NULL},
    {"avg pool 2x2", "clg_avg_pool2d", in_img, b_avgpool, w_avg, tol_pool, NULL},
    {"max pool 2x2 ceil mode", "clg_max_pool2d_opt", in_img, b_maxpool_ceil, w_max, tol_pool, NULL},
    {"max pool 3x3 stride 2 dilation 2 ceil mode", "clg_max_pool2d_opt", in_img, b_maxpool_dil, w_max, tol_pool, NULL},
    {"avg pool 2x2 ceil mode", "clg_avg_pool2d_opt", in_img, b_avgpool_ceil, w_avg, tol_pool, NULL},
    {"avg pool 3x3 stride 2 ceil, padding excluded", "clg_avg_pool2d_opt", in_img, b_avgpool_nopad, w_avg,
     tol_pool, NULL},
    {"adaptive avg pool to 1x1", "clg_adaptive_avg_pool2d", in_pos_img, b_gap, w_gap, tol_gap, NULL},
    {"upsample bilinear 2x", "clg_upsample_bilinear2d", in_up, b_bilinear2x, w_bilinear2x, tol_bilinear2x, NULL},
    {"resize bilinear, align corners", "clg_upsample_bilinear2d", in_img, b_bilinear_ac, w_bilinear_ac, tol_bilinear_ac,
     NULL},
    {"adaptive avg pool to 3x4", "clg_adaptive_avg_pool2d", in_img, b_adaptive34, w_adaptive34, tol_adaptive34, NULL},
    {"upsample nearest 2x", "clg_upsample_nearest2d", in_up, b_up, w_up, tol_pool, NULL},
};
const size_t conv_ncases = sizeof conv_cases / sizeof conv_cases[0];
