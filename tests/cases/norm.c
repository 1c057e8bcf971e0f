/*
 * Batch norm (core/norm.c, cl/norm.cl) in training mode, alone and under a
 * ReLU (fused where the device fuses), and the random family's dropout
 * and crop/flip (core/random.c, cl/random.cl).
 *
 * Batch norm's mean and variance sum N*H*W terms per channel (positive
 * ones for the variance; the mean's cancel, but the result is centred by
 * it, so its error moves every output alike), and so do the gradients of
 * gamma, beta and, through them, x: tol_sum with K = N*H*W. (tests/
 * test_norm.c keeps the default tolerance on smaller planes.)
 */
#include "cases.h"

static int in_bn(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    const int64_t c[1] = {in[0].shape[1]};
    in[1] = in[2] = case_with_shape(in[0], 1, c);
    return 3;
}
static int in_x(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    return 1;
}

#define E(in) (4.0 * (double)case_numel(&(in)[0]))
/* forward: x read (twice where statistics and normalisation are two
 * passes; counted once), y written; backward: x in, dx out */
static void w_bn(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), 2 * E(in)}, {0, 0}, false}; }
/* forward: x in, y out (the mask is computed, not stored); backward: dx out */
static void w_dropout(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), E(in)}, {0, 0}, false}; }

static void tol_bn(const case_input *in, case_tol *t)
{
    const double k = (double)(in[0].shape[0] * in[0].shape[2] * in[0].shape[3]);
    tol_sum(t, k, k);
}

static clg_tensor b_bn(clg_graph *g, const clg_tensor *in) { return clg_batch_norm(g, in[0], in[1], in[2], 0.1f, 1e-5f); }
static clg_tensor b_bn_relu(clg_graph *g, const clg_tensor *in) { return clg_relu(g, b_bn(g, in)); }
static clg_tensor b_dropout(clg_graph *g, const clg_tensor *in) { return clg_dropout(g, in[0], 0.3f, 7); }
static clg_tensor b_layer_norm(clg_graph *g, const clg_tensor *in) { return clg_layer_norm(g, in[0], in[1], in[2], 1e-5f); }
/* 4 groups of 4 channels aligned (16), 3 of 1 otherwise */
static clg_tensor b_group_norm(clg_graph *g, const clg_tensor *in)
{
    const int64_t c = clg_tensor_dim(g, in[0], 1);
    return clg_group_norm(g, in[0], c % 4 == 0 ? 4 : c, in[1], in[2], 1e-5f);
}
/* rows of x and gamma, beta over the last extent */
static int in_ln(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    const int64_t d[1] = {in[0].shape[1]};
    in[1] = in[2] = case_with_shape(in[0], 1, d);
    return 3;
}
/* a row of D values is read for its mean, its variance and the output */
static void tol_ln(const case_input *in, case_tol *t)
{
    const double d = (double)in[0].shape[1], rows = (double)in[0].shape[0];
    tol_sum(t, d, rows > d ? rows : d);
}
static void tol_gn(const case_input *in, case_tol *t)
{
    const double per = (double)(in[0].shape[1] * in[0].shape[2] * in[0].shape[3]), n = (double)in[0].shape[0];
    tol_sum(t, per, n * per);
}
static clg_tensor b_crop_flip(clg_graph *g, const clg_tensor *in) { return clg_random_crop_flip(g, in[0], 2, 1, 11); }
static int in_img(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    return 1;
}

const op_case norm_cases[] = {
    {"batch norm", "clg_batch_norm", in_bn, b_bn, w_bn, tol_bn, NULL},
    {"relu(batch norm(x)), chain", "clg_relu clg_batch_norm", in_bn, b_bn_relu, w_bn, tol_bn,
     "a ReLU of a batch norm has kinks wherever a normalised value nears 0, which a finite-difference step may "
     "cross; batch norm alone is checked"},
    {"dropout", "clg_dropout", in_x, b_dropout, w_dropout, NULL,
     "each forward run draws a new mask (clg_dropout), so the loss is not a function of x alone"},
    {"layer norm", "clg_layer_norm", in_ln, b_layer_norm, w_bn, tol_ln, NULL},
    {"group norm", "clg_group_norm", in_bn, b_group_norm, w_bn, tol_gn, NULL},
    {"random crop flip", "clg_random_crop_flip", in_img, b_crop_flip, w_dropout, NULL,
     "each forward run draws new crops and flips, so the loss is not a function of x alone (tests/test_random.c "
     "checks the gradient as the exact transpose)"},
};
const size_t norm_ncases = sizeof norm_cases / sizeof norm_cases[0];
