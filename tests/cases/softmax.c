/*
 * Softmax and the losses built on it (core/softmax.c, cl/softmax.cl), over
 * rows of a [rows, cols] matrix.
 *
 * A row sums cols positive exponentials and a loss averages rows positive
 * terms: tol_sum's K u of the largest value with K the longest such sum.
 * Binary cross-entropy's finite differences take h = 1e-4 |z|
 * (tests/test_softmax.c, bce_fd_tol, says why).
 */
#include "cases.h"

static int in_rows(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    return 1;
}
/* logits [rows, classes] (10 classes aligned, as Fashion-MNIST's; 7 odd)
 * and a label per row */
static int in_ce(int64_t n, bool aligned, case_input *in)
{
    const int64_t classes = aligned ? 10 : 7, rows = n / classes > 0 ? n / classes : 1;
    in[0] = (case_input){.ndim = 2, .shape = {rows, classes}, .param = true, .lo = 0.1, .hi = 2};
    in[1] = (case_input){.ndim = 1, .shape = {rows}, .label_max = (int32_t)classes};
    return 2;
}
/* in_ce's, and a positive weight per class */
static int in_ce_w(int64_t n, bool aligned, case_input *in)
{
    in_ce(n, aligned, in);
    const int64_t c[1] = {in[0].shape[1]};
    in[2] = (case_input){.ndim = 1, .shape = {c[0]}, .lo = 0.5, .hi = 2, .positive = true};
    return 3;
}
/* logits and targets in [0.05, 0.95] */
static int in_bce(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = in[1] = case_vec(n);
    in[1].lo = 0.05;
    in[1].hi = 0.95;
    in[1].positive = true;
    return 2;
}

#define E(in) (4.0 * (double)case_numel(&(in)[0]))
/* x in, y out; backward y in, dx out */
static void w_softmax(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), 2 * E(in)}, {0, 0}, false}; }
static void w_ce(const case_input *in, case_work *w)
{
    const double labels = 4.0 * (double)in[0].shape[0];
    *w = (case_work){{E(in) + labels + 4, 2 * E(in) + labels}, {0, 0}, false};
}
/* built from several ops: at least x in (and the labels) forward, dx out backward */
static void w_class(const case_input *in, case_work *w)
{
    const double labels = 4.0 * (double)in[0].shape[0];
    *w = (case_work){{E(in) + labels + 4, E(in)}, {0, 0}, false};
}
static void w_bce(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in) + 4, 4 * E(in)}, {0, 0}, false}; }

static void tol_rows(const case_input *in, case_tol *t)
{
    tol_sum(t, (double)in[0].shape[1], (double)in[0].shape[1]);
}
static void tol_ce(const case_input *in, case_tol *t)
{
    tol_sum(t, (double)(in[0].shape[0] + in[0].shape[1]), (double)in[0].shape[1]);
}
static void tol_bce(const case_input *in, case_tol *t)
{
    tol_sum(t, (double)case_numel(&in[0]), 1);
    t->fd_h = 1e-4;
}

static clg_tensor b_softmax(clg_graph *g, const clg_tensor *in) { return clg_softmax(g, in[0], 1); }
static clg_tensor b_log_softmax(clg_graph *g, const clg_tensor *in) { return clg_log_softmax(g, in[0], 1); }
static clg_tensor b_ce(clg_graph *g, const clg_tensor *in) { return clg_softmax_cross_entropy(g, in[0], in[1]); }
static clg_tensor b_bce(clg_graph *g, const clg_tensor *in) { return clg_bce_with_logits(g, in[0], in[1]); }
/* class weights, label smoothing 0.1, and class 0 ignored (its rows count for nothing) */
static clg_tensor b_ce_opts(clg_graph *g, const clg_tensor *in)
{
    clg_loss_options o = clg_loss_defaults();
    o.weight = in[2];
    o.ignore_index = 0;
    o.label_smoothing = 0.1f;
    return clg_cross_entropy(g, in[0], in[1], &o);
}
static clg_tensor b_nll_sum(clg_graph *g, const clg_tensor *in)
{
    clg_loss_options o = clg_loss_defaults();
    o.reduction = CLG_REDUCTION_SUM;
    return clg_nll_loss(g, in[0], in[1], &o);
}
static clg_tensor b_one_hot(clg_graph *g, const clg_tensor *in)
{
    return clg_mul(g, clg_one_hot(g, in[1], clg_tensor_dim(g, in[0], 1), 2), in[0]);
}

const op_case softmax_cases[] = {
    {"softmax", "clg_softmax", in_rows, b_softmax, w_softmax, tol_rows, NULL},
    {"log softmax", "clg_log_softmax", in_rows, b_log_softmax, w_softmax, tol_rows, NULL},
    {"softmax cross-entropy", "clg_softmax_cross_entropy", in_ce, b_ce, w_ce, tol_ce, NULL},
    {"bce with logits", "clg_bce_with_logits", in_bce, b_bce, w_bce, tol_bce, NULL},
    {"cross-entropy, weights, smoothing, ignore", "clg_cross_entropy", in_ce_w, b_ce_opts, w_class, tol_ce, NULL},
    {"nll loss, sum", "clg_nll_loss", in_ce, b_nll_sum, w_class, tol_ce, NULL},
    {"one-hot times x, ignore 2", "clg_one_hot clg_mul", in_ce, b_one_hot, w_class, NULL, NULL},
};
const size_t softmax_ncases = sizeof softmax_cases / sizeof softmax_cases[0];
