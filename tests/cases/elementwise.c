/*
 * Elementwise ops and broadcasting (core/ops.c, cl/elementwise.cl), and
 * two chains of them that a fusing device runs as one kernel each way
 * (host/cl_fuse.c): there the bytes are those the fused kernel must move.
 */
#include "cases.h"

/* ---- inputs ---- */
static int in_one(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    return 1;
}
static int in_two(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = in[1] = case_vec(n);
    return 2;
}
/* a divisor or logarithm's argument: away from zero */
static int in_div(int64_t n, bool aligned, case_input *in)
{
    in_two(n, aligned, in);
    in[1].lo = 0.5;
    return 2;
}
static int in_positive(int64_t n, bool aligned, case_input *in)
{
    in_one(n, aligned, in);
    in[0].positive = true;
    return 1;
}
static int in_three(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = in[1] = in[2] = case_vec(n);
    return 3;
}
/* y only compared with: not a parameter (it gets no gradient) */
static int in_compared(int64_t n, bool aligned, case_input *in)
{
    in_two(n, aligned, in);
    in[1].param = false;
    return 2;
}
/* x [rows, cols] and a bias [1, cols] */
static int in_row_bias(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    const int64_t b[2] = {1, in[0].shape[1]};
    in[1] = case_with_shape(in[0], 2, b);
    return 2;
}

/* ---- work ---- */
#define E(in) (4.0 * (double)case_numel(&(in)[0])) /* bytes of one full tensor */
/* unary: x in, y out; backward writes dx from x or y */
static void w_unary(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), 2 * E(in)}, {0, 0}, false}; }
/* dx a constant multiple of the upstream 1: written only */
static void w_linear_unary(const case_input *in, case_work *w)
{
    *w = (case_work){{2 * E(in), E(in)}, {E(in) / 4, 0}, false};
}
static void w_square(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), 2 * E(in)}, {E(in) / 4, 0}, false}; }
/* a + b: both gradients are the upstream gradient itself, one tensor
 * that may be shared (the OpenCL backend does: counting it twice read 208%
 * of the copy ceiling); a - b: it and its negation */
static void w_add(const case_input *in, case_work *w) { *w = (case_work){{3 * E(in), E(in)}, {E(in) / 4, 0}, false}; }
static void w_sub(const case_input *in, case_work *w) { *w = (case_work){{3 * E(in), 2 * E(in)}, {E(in) / 4, 0}, false}; }
/* a * b, a / b: each gradient reads the other operand (and a / b's both) */
static void w_mul(const case_input *in, case_work *w) { *w = (case_work){{3 * E(in), 4 * E(in)}, {E(in) / 4, 0}, false}; }
static void w_row_bias(const case_input *in, case_work *w)
{
    const double b = 4.0 * (double)in[1].shape[1];
    *w = (case_work){{2 * E(in) + b, E(in) + b}, {E(in) / 4, 0}, false};
}
/* gelu(x + b): forward x in, y out; backward x (and b) in, dx and db out */
static void w_bias_chain(const case_input *in, case_work *w)
{
    const double b = 4.0 * (double)in[1].shape[1];
    *w = (case_work){{2 * E(in) + b, 2 * E(in) + 2 * b}, {0, 0}, false};
}
/* sigmoid(x) * y + z: forward x, y, z in, out; backward x, y in, dx, dy, dz out */
static void w_sigmoid_chain(const case_input *in, case_work *w) { *w = (case_work){{4 * E(in), 5 * E(in)}, {0, 0}, false}; }

/* the bias gradient sums the rows */
static void tol_row_bias(const case_input *in, case_tol *t) { tol_sum(t, 1, (double)in[0].shape[0]); }

/* ---- graphs ---- */
static clg_tensor b_add(clg_graph *g, const clg_tensor *in) { return clg_add(g, in[0], in[1]); }
static clg_tensor b_sub(clg_graph *g, const clg_tensor *in) { return clg_sub(g, in[0], in[1]); }
static clg_tensor b_mul(clg_graph *g, const clg_tensor *in) { return clg_mul(g, in[0], in[1]); }
static clg_tensor b_div(clg_graph *g, const clg_tensor *in) { return clg_div(g, in[0], in[1]); }
static clg_tensor b_neg(clg_graph *g, const clg_tensor *in) { return clg_neg(g, in[0]); }
static clg_tensor b_scale(clg_graph *g, const clg_tensor *in) { return clg_scale(g, in[0], -1.75f); }
static clg_tensor b_square(clg_graph *g, const clg_tensor *in) { return clg_square(g, in[0]); }
static clg_tensor b_exp(clg_graph *g, const clg_tensor *in) { return clg_exp(g, in[0]); }
static clg_tensor b_log(clg_graph *g, const clg_tensor *in) { return clg_log(g, in[0]); }
static clg_tensor b_sqrt(clg_graph *g, const clg_tensor *in) { return clg_sqrt(g, in[0]); }
static clg_tensor b_relu(clg_graph *g, const clg_tensor *in) { return clg_relu(g, in[0]); }
static clg_tensor b_sigmoid(clg_graph *g, const clg_tensor *in) { return clg_sigmoid(g, in[0]); }
static clg_tensor b_tanh(clg_graph *g, const clg_tensor *in) { return clg_tanh(g, in[0]); }
static clg_tensor b_bias_gelu(clg_graph *g, const clg_tensor *in) { return clg_gelu(g, clg_add(g, in[0], in[1])); }
static clg_tensor b_sigmoid_mul_add(clg_graph *g, const clg_tensor *in)
{
    return clg_add(g, clg_mul(g, clg_sigmoid(g, in[0]), in[1]), in[2]);
}
/* maximum, minimum: a tie splits the gradient (none here: random values) */
static clg_tensor b_maximum(clg_graph *g, const clg_tensor *in) { return clg_maximum(g, in[0], in[1]); }
static clg_tensor b_minimum(clg_graph *g, const clg_tensor *in) { return clg_minimum(g, in[0], in[1]); }
/* x weighted by the six comparisons of x with max(x, y): ties (x == m
 * exactly where x >= y) for le, ge, eq and ne to tell apart; the masks
 * have no gradient, so dx is the weight */
static clg_tensor b_compare(clg_graph *g, const clg_tensor *in)
{
    clg_tensor m = clg_maximum(g, in[0], in[1]), w = clg_compare(g, in[0], m, CLG_LT);
    for (int op = CLG_LE; op <= CLG_NE; op++)
        w = clg_add(g, w, clg_scale(g, clg_compare(g, in[0], m, (clg_comparison)op), (float)(1 << op)));
    return clg_mul(g, in[0], w);
}
/* where(x > y, x, y * z): a branch on each side, the condition not differentiated */
static clg_tensor b_where(clg_graph *g, const clg_tensor *in)
{
    return clg_where(g, clg_compare(g, in[0], in[1], CLG_GT), in[0], clg_mul(g, in[1], in[2]));
}
/* where(row > 0, x, row): the condition and one value broadcast */
static clg_tensor b_where_row(clg_graph *g, const clg_tensor *in)
{
    return clg_where(g, clg_compare(g, in[1], clg_scalar(g, 0.0f), CLG_GT), in[0], in[1]);
}

const op_case elementwise_cases[] = {
    {"add", "clg_add", in_two, b_add, w_add, NULL, NULL},
    {"sub", "clg_sub", in_two, b_sub, w_sub, NULL, NULL},
    {"mul", "clg_mul", in_two, b_mul, w_mul, NULL, NULL},
    {"div", "clg_div", in_div, b_div, w_mul, NULL, NULL},
    {"neg", "clg_neg", in_one, b_neg, w_linear_unary, NULL, NULL},
    {"scale", "clg_scale", in_one, b_scale, w_linear_unary, NULL, NULL},
    {"square", "clg_square", in_one, b_square, w_square, NULL, NULL},
    {"exp", "clg_exp", in_one, b_exp, w_unary, NULL, NULL},
    {"log", "clg_log", in_positive, b_log, w_unary, NULL, NULL},
    {"sqrt", "clg_sqrt", in_positive, b_sqrt, w_unary, NULL, NULL},
    {"relu", "clg_relu", in_one, b_relu, w_unary, NULL, NULL},
    {"sigmoid", "clg_sigmoid", in_one, b_sigmoid, w_unary, NULL, NULL},
    {"tanh", "clg_tanh", in_one, b_tanh, w_unary, NULL, NULL},
    {"add row bias", "clg_add", in_row_bias, b_add, w_row_bias, tol_row_bias, NULL},
    {"gelu(x + row bias), chain", "clg_gelu clg_add", in_row_bias, b_bias_gelu, w_bias_chain, tol_row_bias, NULL},
    {"maximum", "clg_maximum", in_two, b_maximum, w_mul, NULL, NULL},
    {"minimum with a row", "clg_minimum", in_row_bias, b_minimum, w_row_bias, tol_row_bias, NULL},
    {"x times its comparisons with max(x, y)", "clg_compare clg_maximum clg_mul", in_compared, b_compare, w_mul, NULL,
     NULL},
    {"where(x > y, x, y * z)", "clg_where clg_compare clg_mul", in_three, b_where, w_sigmoid_chain, NULL, NULL},
    {"where(row > 0, x, row)", "clg_where clg_compare", in_row_bias, b_where_row, w_row_bias, tol_row_bias, NULL},
    {"sigmoid(x) * y + z, chain", "clg_sigmoid clg_mul clg_add", in_three, b_sigmoid_mul_add, w_sigmoid_chain, NULL,
     NULL},
};
const size_t elementwise_ncases = sizeof elementwise_cases / sizeof elementwise_cases[0];
