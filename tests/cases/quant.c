/* The quant family (core/quant.c, cl/quant.cl): fake quantization, per
 * tensor and per channel, plain and learnable. tests/test_quant.c checks
 * the definitions against PyTorch's. */
#include "cases.h"

/*
 * Fake quantization: |x| in [0.05, 4] and scales in [0.02, 0.05] (x / scale
 * up to 200), so that int8's and uint8's ranges clip on both sides as well
 * as rounding inside; zero points of either sign per tensor, 100 to 150
 * per channel (an affine uint8 range), 0 for the 4-bit symmetric one. The
 * forward is exact against the reference (the same float operations, the
 * reciprocal rounded to nearest on every device); scale's and the zero
 * point's gradients sum over each channel's elements (tol_sum).
 */
static int in_fq(int64_t n, bool aligned, case_input *in, bool per_channel, bool learnable)
{
    in[0] = per_channel ? case_img(n, aligned) : case_vec(n);
    in[0].lo = 0.05;
    in[0].hi = 4;
    const int64_t c[1] = {per_channel ? in[0].shape[1] : 1};
    in[1] = in[2] = case_with_shape(in[0], 1, c);
    in[1].positive = true;
    in[1].lo = 0.02;
    in[1].hi = 0.05;
    in[2].lo = per_channel ? 100 : 0.1;
    in[2].hi = per_channel ? 150 : 3;
    in[2].positive = per_channel;
    in[1].param = in[2].param = learnable;
    return 3;
}
static int in_fq_tensor(int64_t n, bool aligned, case_input *in) { return in_fq(n, aligned, in, false, false); }
static int in_fq_channel(int64_t n, bool aligned, case_input *in) { return in_fq(n, aligned, in, true, true); }
/* 4-bit symmetric, a learnable scale in [0.3, 0.6] (x / scale up to 13,
 * beyond [-8, 7]), the zero point a constant 0 */
static int in_fq_4bit(int64_t n, bool aligned, case_input *in)
{
    in_fq(n, aligned, in, false, false);
    in[1].param = true;
    in[1].lo = 0.3;
    in[1].hi = 0.6;
    in[2].lo = in[2].hi = 0;
    in[2].positive = true;
    return 3;
}
/* x in, y out; backward: x and dy in, dx (and the scale's terms) out */
static void w_fq(const case_input *in, case_work *w)
{
    const double e = 4.0 * (double)case_numel(&in[0]);
    *w = (case_work){{2 * e, 3 * e}, {0, 0}, false};
}
static void tol_fq(const case_input *in, case_tol *t)
{
    const double k = (double)case_numel(&in[0]) / (double)case_numel(&in[1]);
    tol_sum(t, 0, k);
}
static clg_tensor b_fq_tensor(clg_graph *g, const clg_tensor *in)
{
    return clg_fake_quantize(g, in[0], in[1], in[2], 0, -128, 127, 1.0f);
}
static clg_tensor b_fq_channel(clg_graph *g, const clg_tensor *in)
{
    return clg_fake_quantize(g, in[0], in[1], in[2], 1, 0, 255, 0.5f);
}
static clg_tensor b_fq_4bit(clg_graph *g, const clg_tensor *in)
{
    return clg_fake_quantize(g, in[0], in[1], in[2], 0, -8, 7, 1.0f);
}
#define FQ_NO_FD                                                                                               \
    "the straight-through gradient is a definition, not a derivative (the true one is 0 almost everywhere); " \
    "tests/test_quant.c checks it against PyTorch's formulas"

/* Observed: scale and zero point from x itself (the first observation
 * sets the state), int8 symmetric per channel with a moving average and
 * uint8 affine per tensor with min/max; x of either sign. */
static int in_observed(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    in[0].ndim = 2; /* 5 channels along axis 0 */
    in[0].shape[0] = 5;
    in[0].shape[1] = n > 0 ? n : 1;
    in[0].lo = 0.05;
    in[0].hi = 4;
    return 1;
}
static clg_tensor b_observed_channel(clg_graph *g, const clg_tensor *in)
{
    clg_observer_options o = clg_observer_defaults();
    o.moving_average = 1;
    o.per_channel = 1;
    o.symmetric = 1;
    o.quant_min = -128;
    o.quant_max = 127;
    return clg_fake_quantize_observed(g, in[0], &o, NULL, NULL);
}
static clg_tensor b_observed_tensor(clg_graph *g, const clg_tensor *in)
{
    return clg_fake_quantize_observed(g, in[0], NULL, NULL, NULL);
}
static void w_observed(const case_input *in, case_work *w)
{
    const double e = 4.0 * (double)case_numel(&in[0]);
    *w = (case_work){{3 * e, 3 * e}, {0, 0}, false};
}

/*
 * Casts to 16 bits and back (round trips: the output is float32) over
 * magnitudes from float16's subnormals (below 6.1e-5) to near its largest
 * finite value (65504), and from 1e-30 to 1e30 for bfloat16: exact against
 * the reference, which converts by a different method (core/half.h).
 * Matrix products of 16-bit operands: the reference's tolerance of an f32
 * product (the same rounded operands), and for the gradients one spacing
 * of the 16-bit type on top (2^-7 of the value for bfloat16): the gradient
 * of a 16-bit operand is rounded to it, and a device's product may fall
 * on the other side of a rounding boundary from the reference's.
 */
static int in_cast_f16(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    in[0].param = true;
    in[0].lo = 1e-7;
    in[0].hi = 6e4;
    return 1;
}
static int in_cast_bf16(int64_t n, bool aligned, case_input *in)
{
    in_cast_f16(n, aligned, in);
    in[0].lo = 1e-30;
    in[0].hi = 1e30;
    return 1;
}
/* x in, 16 bits out and in, y out; backward: dy in, dx out (rounded) */
static void w_cast(const case_input *in, case_work *w)
{
    const double e = (double)case_numel(&in[0]);
    *w = (case_work){{12 * e, 8 * e}, {0, 0}, false};
}
static void tol_exact(const case_input *in, case_tol *t)
{
    (void)in;
    *t = case_default_tol;
    t->fwd_rtol = t->fwd_atol_of_max = t->grad_rtol = t->grad_atol_of_max = 0;
}
static clg_tensor b_cast_f16(clg_graph *g, const clg_tensor *in)
{
    return clg_cast(g, clg_cast(g, in[0], CLG_ELEM_F16), CLG_ELEM_F32);
}
static clg_tensor b_cast_bf16(clg_graph *g, const clg_tensor *in)
{
    return clg_cast(g, clg_cast(g, in[0], CLG_ELEM_BF16), CLG_ELEM_F32);
}
/* A [m, k] x B [k, n] as the matmul case's (tests/cases/matmul.c) */
static int in_mm16(int64_t count, bool aligned, case_input *in)
{
    const int64_t k = aligned ? 128 : count >= 1000 ? 37 : 7, n = aligned ? 128 : count >= 1000 ? 13 : 5;
    int64_t m = count / k > 0 ? count / k : 1;
    if (aligned && m > 32768) m = 32768;
    in[0] = (case_input){.ndim = 2, .shape = {m, k}, .param = true, .lo = 0.1, .hi = 1, .positive = true};
    in[1] = (case_input){.ndim = 2, .shape = {k, n}, .param = true, .lo = 0.1, .hi = 1, .positive = true};
    return 2;
}
static void w_mm16(const case_input *in, case_work *w)
{
    const double m = (double)in[0].shape[0], k = (double)in[0].shape[1], n = (double)in[1].shape[1];
    *w = (case_work){{2 * (m * k + k * n) + 4 * m * n, 2 * (m * k + k * n) + 4 * (m * k + k * n)},
                     {2 * m * k * n, 4 * m * k * n}, true};
}
static void tol_mm16(const case_input *in, case_tol *t, double spacing)
{
    const double m = (double)in[0].shape[0], k = (double)in[0].shape[1], n = (double)in[1].shape[1];
    tol_sum(t, k, m > n ? m : n);
    t->grad_rtol += spacing;
}
static void tol_mm_bf16(const case_input *in, case_tol *t) { tol_mm16(in, t, 0x1p-7); }
static void tol_mm_f16(const case_input *in, case_tol *t) { tol_mm16(in, t, 0x1p-10); }
static clg_tensor b_mm_bf16(clg_graph *g, const clg_tensor *in)
{
    return clg_matmul(g, clg_cast(g, in[0], CLG_ELEM_BF16), clg_cast(g, in[1], CLG_ELEM_BF16), 0, 0);
}
static clg_tensor b_mm_f16(clg_graph *g, const clg_tensor *in)
{
    return clg_matmul(g, clg_cast(g, in[0], CLG_ELEM_F16), in[1], 0, 0);
}
#define CAST_NO_FD                                                                                            \
    "rounding to 16 bits is a step function: its gradient is PyTorch's definition (dy rounded to the type), " \
    "which tests/test_cast.c checks bit for bit"

const op_case quant_cases[] = {
    {"cast float16 round trip", "clg_cast", in_cast_f16, b_cast_f16, w_cast, tol_exact, CAST_NO_FD},
    {"cast bfloat16 round trip", "clg_cast", in_cast_bf16, b_cast_bf16, w_cast, tol_exact, CAST_NO_FD},
    {"matmul bfloat16 operands", "clg_matmul clg_cast", in_mm16, b_mm_bf16, w_mm16, tol_mm_bf16, CAST_NO_FD},
    {"matmul float16 by float32", "clg_matmul clg_cast", in_mm16, b_mm_f16, w_mm16, tol_mm_f16, CAST_NO_FD},
    {"fake quantize int8 per tensor", "clg_fake_quantize", in_fq_tensor, b_fq_tensor, w_fq, tol_fq, FQ_NO_FD},
    {"fake quantize uint8 per channel, learnable", "clg_fake_quantize", in_fq_channel, b_fq_channel, w_fq, tol_fq,
     FQ_NO_FD},
    {"fake quantize 4-bit symmetric, learnable scale", "clg_fake_quantize", in_fq_4bit, b_fq_4bit, w_fq, tol_fq,
     FQ_NO_FD},
    {"observed fake quant int8 sym per channel", "clg_fake_quantize_observed",
     in_observed, b_observed_channel, w_observed, NULL, FQ_NO_FD},
    {"observed fake quant uint8 per tensor", "clg_fake_quantize_observed", in_observed,
     b_observed_tensor, w_observed, NULL, FQ_NO_FD},
};
const size_t quant_ncases = sizeof quant_cases / sizeof quant_cases[0];
