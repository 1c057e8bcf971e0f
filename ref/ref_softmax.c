/* Reference implementation of the softmax family. Sums in double. */
#include "ref_real.h"

#include <math.h>
#include <stdbool.h>

/* A tensor seen as [outer, C, inner] around axis: row (o, j) holds the C
 * elements at o * C * inner + c * inner + j. */
typedef struct {
    int64_t outer, classes, inner;
} rows_t;

static rows_t rows_of(const clg_node *x, int axis)
{
    rows_t r = {1, x->shape[axis], 1};
    for (int d = 0; d < axis; d++) r.outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) r.inner *= x->shape[d];
    return r;
}

/* y = softmax(x) = e^(x - m) / s, or log-softmax x - m - log s, along the
 * row; m = max, s = sum e^(x - m) >= 1. */
static void softmax_row(const real *x, real *y, int64_t c, int64_t step, bool log_out)
{
    real m = x[0];
    for (int64_t k = 1; k < c; k++) m = x[k * step] > m ? x[k * step] : m;
    double s = 0;
    for (int64_t k = 0; k < c; k++) s += (double)exp(x[k * step] - m);
    real ls = (real)log(s);
    for (int64_t k = 0; k < c; k++)
        y[k * step] = log_out ? x[k * step] - m - ls : (real)((double)exp(x[k * step] - m) / s);
}

/* softmax: dx = y (dy - sum dy y);  log-softmax: dx = dy - e^y sum dy */
static void softmax_grad_row(const real *y, const real *dy, real *dx, int64_t c, int64_t step, bool log_out)
{
    double dot = 0;
    for (int64_t k = 0; k < c; k++) dot += (double)dy[k * step] * (log_out ? 1 : (double)y[k * step]);
    real d = (real)dot;
    for (int64_t k = 0; k < c; k++) {
        int64_t o = k * step;
        dx[o] = log_out ? dy[o] - exp(y[o]) * d : y[o] * (dy[o] - d);
    }
}

static clg_status run_rows(const clg_node *nodes, const clg_node *n, bool log_out, bool backward)
{
    const clg_node *x = &nodes[n->src[0]];
    rows_t r = rows_of(x, (int)n->i[0]);
    const real *a = ref_data(x), *dy = backward ? ref_data(&nodes[n->src[1]]) : NULL;
    real *y = ref_data(n);
    for (int64_t o = 0; o < r.outer; o++)
        for (int64_t j = 0; j < r.inner; j++) {
            int64_t base = o * r.classes * r.inner + j;
            if (backward) softmax_grad_row(a + base, dy + base, y + base, r.classes, r.inner, log_out);
            else softmax_row(a + base, y + base, r.classes, r.inner, log_out);
        }
    return CLG_OK;
}

/*
 * Cross-entropy, row i: loss_i = logsumexp(z_i) - z_i[l_i]
 *                              = (m_i - z_i[l_i]) + log s_i,
 * the second form exact for logits far from zero (1e4) where logsumexp
 * itself rounds to an ulp of 1e4. A label outside [0, C) (one written
 * before the op existed, so never checked) gives NaN, not a stray read.
 */
static clg_status ce_forward(const clg_node *nodes, const clg_node *n)
{
    const clg_node *zn = &nodes[n->src[0]];
    const real *z = ref_data(zn);
    const int32_t *label = ref_i32(&nodes[n->src[1]]);
    int64_t rows = zn->shape[0], c = zn->shape[1];
    real *stats = ref_aux(n, 0), *row_loss = ref_aux(n, 1);
    double total = 0;
    for (int64_t i = 0; i < rows; i++) {
        const real *zi = z + i * c;
        real m = zi[0];
        for (int64_t k = 1; k < c; k++) m = zi[k] > m ? zi[k] : m;
        double s = 0;
        for (int64_t k = 0; k < c; k++) s += (double)exp(zi[k] - m);
        real ls = (real)log(s);
        stats[2 * i] = m;
        stats[2 * i + 1] = ls;
        int32_t l = label[i];
        row_loss[i] = l >= 0 && l < c ? (m - zi[l]) + ls : (real)NAN;
        total += (double)row_loss[i];
    }
    ref_data(n)[0] = (real)(total / (double)rows);
    return CLG_OK;
}

/* dz = (softmax(z) - onehot(l)) dloss / N, softmax = e^((z - m) - log s) */
static clg_status ce_backward(const clg_node *nodes, const clg_node *n)
{
    const clg_node *ce = &nodes[n->src[0]], *zn = &nodes[ce->src[0]];
    const real *z = ref_data(zn), *stats = ref_aux(ce, 0);
    const int32_t *label = ref_i32(&nodes[ce->src[1]]);
    int64_t rows = zn->shape[0], c = zn->shape[1];
    real k = ref_data(&nodes[n->src[1]])[0] / (real)rows, *dz = ref_data(n);
    for (int64_t i = 0; i < rows; i++) {
        int32_t l = label[i];
        for (int64_t j = 0; j < c; j++) {
            real p = exp((z[i * c + j] - stats[2 * i]) - stats[2 * i + 1]);
            dz[i * c + j] = l >= 0 && l < c ? (p - (j == l ? 1 : 0)) * k : (real)NAN;
        }
    }
    return CLG_OK;
}

/* sigmoid(z) without overflow for any z */
static real sigmoid(real z)
{
    real t = exp(-fabs(z));
    return z >= 0 ? 1 / (1 + t) : t / (1 + t);
}

/* bce = mean(max(z, 0) - z t + log1p(e^-|z|)) */
static clg_status bce_forward(const clg_node *nodes, const clg_node *n)
{
    const clg_node *zn = &nodes[n->src[0]];
    const real *z = ref_data(zn), *t = ref_data(&nodes[n->src[1]]);
    double total = 0;
    for (int64_t i = 0; i < zn->numel; i++)
        total += (double)((z[i] > 0 ? z[i] : 0) - z[i] * t[i] + log1p(exp(-fabs(z[i]))));
    ref_data(n)[0] = (real)(total / (double)zn->numel);
    return CLG_OK;
}

/* d/dz = (sigmoid(z) - t) dloss / n;  d/dt = -z dloss / n */
static clg_status bce_backward(const clg_node *nodes, const clg_node *n)
{
    const real *z = ref_data(&nodes[n->src[0]]), *t = ref_data(&nodes[n->src[1]]);
    real k = ref_data(&nodes[n->src[2]])[0] / (real)n->numel, *d = ref_data(n);
    for (int64_t i = 0; i < n->numel; i++) d[i] = n->i[0] ? -z[i] * k : (sigmoid(z[i]) - t[i]) * k;
    return CLG_OK;
}

/* y[r, c] = (label_r == c); 0 in the row of ignore_index; NaN in the row
 * of a label out of range (one escaped clg_tensor_set_i32's check) */
static clg_status one_hot(const clg_node *nodes, const clg_node *n)
{
    const int32_t *label = ref_i32(&nodes[n->src[0]]);
    real *y = ref_data(n);
    const int64_t rows = n->shape[0], C = n->shape[1];
    for (int64_t r = 0; r < rows; r++) {
        const int64_t l = label[r];
        const bool bad = (l < 0 || l >= C) && l != n->i[1];
        for (int64_t c = 0; c < C; c++) y[r * C + c] = l == n->i[1] ? 0 : bad ? (real)NAN : l == c ? 1 : 0;
    }
    return CLG_OK;
}

clg_status REF(clg_ref_softmax)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_SOFTMAX: return run_rows(nodes, n, false, false);
    case CLG_OP_LOG_SOFTMAX: return run_rows(nodes, n, true, false);
    case CLG_OP_SOFTMAX_GRAD: return run_rows(nodes, n, false, true);
    case CLG_OP_LOG_SOFTMAX_GRAD: return run_rows(nodes, n, true, true);
    case CLG_OP_SOFTMAX_CE: return ce_forward(nodes, n);
    case CLG_OP_SOFTMAX_CE_GRAD: return ce_backward(nodes, n);
    case CLG_OP_BCE_LOGITS: return bce_forward(nodes, n);
    case CLG_OP_BCE_LOGITS_GRAD: return bce_backward(nodes, n);
    case CLG_OP_ONE_HOT: return one_hot(nodes, n);
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
