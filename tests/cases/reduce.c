/*
 * Reductions (core/ops.c, core/axis.c; cl/reduce.cl, cl/axis.cl): to one
 * value, along an axis, and the mean squared error.
 *
 * Sums run in float on a device, in double on the reference: a sum of K
 * terms errs by at most (K - 1) u sum|terms| whatever the order (u =
 * 2^-24). Inputs are positive, so sum|terms| = |sum| and tol_sum's K u of
 * the largest value bounds it; with random signs a sum may cancel to far
 * below its terms (tests/test_axis.c checks that case row by row). The
 * gradients only broadcast or scale: exact up to the default tolerance.
 */
#include "cases.h"

static int in_pos(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    in[0].positive = true;
    return 1;
}
static int in_pos_mat(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    in[0].positive = true;
    return 1;
}
static int in_mat(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    return 1;
}
static int in_mse(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = in[1] = case_vec(n);
    return 2;
}

#define E(in) (4.0 * (double)case_numel(&(in)[0]))
static double rows(const case_input *in) { return (double)in[0].shape[0]; }
static double cols(const case_input *in) { return (double)in[0].shape[1]; }

/* to one value: x in; backward writes dx (the broadcast upstream 1) */
static void w_all(const case_input *in, case_work *w) { *w = (case_work){{E(in) + 4, E(in)}, {E(in) / 4, 0}, false}; }
/* mean((a - b)^2): a, b in; backward a, b in, da, db out */
static void w_mse(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in) + 4, 4 * E(in)}, {0.75 * E(in), 0}, false}; }
static void w_cols(const case_input *in, case_work *w)
{
    *w = (case_work){{E(in) + 4 * cols(in), E(in)}, {E(in) / 4, 0}, false};
}
static void w_rows(const case_input *in, case_work *w)
{
    *w = (case_work){{E(in) + 4 * rows(in), E(in)}, {E(in) / 4, 0}, false};
}
/* the maximum's gradient goes where the maximum was: x in again */
static void w_max_rows(const case_input *in, case_work *w)
{
    *w = (case_work){{E(in) + 4 * rows(in), 2 * E(in)}, {0, 0}, false};
}

static void tol_all(const case_input *in, case_tol *t) { tol_sum(t, (double)case_numel(&in[0]), 1); }
static void tol_over_rows(const case_input *in, case_tol *t) { tol_sum(t, rows(in), 1); }
static void tol_over_cols(const case_input *in, case_tol *t) { tol_sum(t, cols(in), 1); }

/* Huber and smooth L1 (core/compose.c: from abs and clamp): forward
 * pred, target in; backward pred, target in, both gradients out. Their
 * terms are positive. |pred - target| spans [0, 4] here, both sides of
 * delta = 1 and beta = 0.5. */
static void w_huber(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in) + 4, 4 * E(in)}, {0, 0}, false}; }
static clg_tensor b_huber(clg_graph *g, const clg_tensor *in) { return clg_huber_loss(g, in[0], in[1], 1.0f); }
static clg_tensor b_smooth_l1(clg_graph *g, const clg_tensor *in) { return clg_smooth_l1_loss(g, in[0], in[1], 0.5f); }

static clg_tensor b_sum(clg_graph *g, const clg_tensor *in) { return clg_sum(g, in[0]); }
static clg_tensor b_mean(clg_graph *g, const clg_tensor *in) { return clg_mean(g, in[0]); }
static clg_tensor b_mse(clg_graph *g, const clg_tensor *in) { return clg_mse_loss(g, in[0], in[1]); }
/* a bias gradient's shape: the sum over the batch */
static clg_tensor b_sum_axis(clg_graph *g, const clg_tensor *in) { return clg_sum_axis(g, in[0], 0, 0); }
static clg_tensor b_mean_axis(clg_graph *g, const clg_tensor *in) { return clg_mean_axis(g, in[0], 1, 1); }
static clg_tensor b_max_axis(clg_graph *g, const clg_tensor *in) { return clg_max_axis(g, in[0], 1, 0); }
static clg_tensor b_argmax_pick(clg_graph *g, const clg_tensor *in)
{
    return clg_mul(g, clg_one_hot(g, clg_argmax(g, in[0], 1, 0), clg_tensor_dim(g, in[0], 1), -1), in[0]);
}
static clg_tensor b_max_min(clg_graph *g, const clg_tensor *in) { return clg_sub(g, clg_max(g, in[0]), clg_min(g, in[0])); }

const op_case reduce_cases[] = {
    {"sum", "clg_sum", in_pos, b_sum, w_all, tol_all, NULL},
    {"mean", "clg_mean", in_pos, b_mean, w_all, tol_all, NULL},
    /* every term (a - b)^2 is positive */
    {"mse loss", "clg_mse_loss", in_mse, b_mse, w_mse, tol_all, NULL},
    {"huber loss", "clg_huber_loss", in_mse, b_huber, w_huber, tol_all, NULL},
    {"smooth l1 loss", "clg_smooth_l1_loss", in_mse, b_smooth_l1, w_huber, tol_all, NULL},
    {"sum over rows", "clg_sum_axis", in_pos_mat, b_sum_axis, w_cols, tol_over_rows, NULL},
    {"mean over columns", "clg_mean_axis", in_pos_mat, b_mean_axis, w_rows, tol_over_cols, NULL},
    /* exact: it picks a value */
    {"max over columns", "clg_max_axis", in_mat, b_max_axis, w_max_rows, NULL, NULL},
    /* exact too: the range max - min of all elements */
    {"max minus min of all", "clg_max clg_min", in_mat, b_max_min, w_all, NULL, NULL},
    /* exact: the row maxima, picked by one-hot rows of their indices */
    {"one-hot of argmax times x", "clg_argmax clg_one_hot clg_mul", in_mat, b_argmax_pick, w_max_rows, NULL, NULL},
};
const size_t reduce_ncases = sizeof reduce_cases / sizeof reduce_cases[0];
