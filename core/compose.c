/*
 * Ops built from other public ops, whose gradients are those ops': the
 * adaptive average pool (a mean over each plane, or an average pool when
 * the windows are equal), nearest upsampling (broadcast products by
 * ones), grouped convolution (a convolution per group), global max and
 * min (max_axis), layer and group norm (mean_axis and elementwise ops),
 * embedding (one-hot rows times the weight), cross-entropy and NLL with
 * PyTorch's options (one-hot rows), and the Huber and smooth L1 losses
 * (abs and clamp). Each is one transaction, so a refused call leaves
 * nothing. Where a fused kernel would be faster, the header says so.
 */
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records "<op>: <what> (input <shape>)" and fails the graph. */
static clg_tensor refuse(clg_graph *g, clg_status code, const char *op, const clg_node *x, const char *what)
{
    char sh[96];
    clg_shape_string(x->ndim, x->shape, sh, sizeof sh);
    clg_error(g->ctx, code, "%s: %s (input %s)", op, what, sh);
    return clg_graph_fail(g, code);
}

/* A constant [rows, cols] holding m (rows * cols floats). */
static clg_tensor matrix_constant(clg_graph *g, int64_t rows, int64_t cols, const float *m)
{
    const int64_t shape[2] = {rows, cols};
    clg_tensor t = clg_constant(g, 2, shape, 0.0f);
    if (t.id >= 0 && clg_tensor_set(g, t, m, (size_t)(rows * cols)) != CLG_OK) return clg_graph_fail(g, g->ctx->status);
    return t;
}

/* y[n, c] = A_h x[n, c] A_w^T for each plane: x [N, C, H, W], a_h [OH, H]
 * and a_w [OW, W] (row-major floats) -> [N, C, OH, OW]. Two products: the
 * rows along W, then the columns along H, as PyTorch's bilinear kernel
 * interpolates (the zeros of the matrices add exactly). */
static clg_tensor separable2d(clg_graph *g, clg_tensor x, const clg_node *xn, int64_t oh, const float *a_h,
                              int64_t ow, const float *a_w)
{
    const int64_t n = xn->shape[0], c = xn->shape[1], h = xn->shape[2], w = xn->shape[3];
    const int64_t rows[2] = {n * c * h, w}, planes[3] = {n * c, h, ow}, out[4] = {n, c, oh, ow};
    clg_tensor y = clg_matmul(g, clg_reshape(g, x, 2, rows), matrix_constant(g, ow, w, a_w), 0, 1);
    y = clg_matmul(g, matrix_constant(g, oh, h, a_h), clg_reshape(g, y, 3, planes), 0, 0);
    return clg_reshape(g, y, 4, out);
}

/* The interpolation matrices' sizes: each below 2^24 entries (64 MB). */
static bool matrices_fit(int64_t oh, int64_t h, int64_t ow, int64_t w)
{
    const int64_t cap = (int64_t)1 << 24;
    return oh <= cap / h && ow <= cap / w;
}

/* PyTorch's adaptive_avg_pool2d windows along one axis: row i averages
 * [floor(i in / out), ceil((i + 1) in / out)). */
static void adaptive_rows(int64_t out, int64_t in, bool unused, float *m)
{
    (void)unused;
    for (int64_t i = 0; i < out; i++) {
        const int64_t a = i * in / out, b = ((i + 1) * in + out - 1) / out;
        for (int64_t j = 0; j < in; j++) m[i * in + j] = j >= a && j < b ? (float)(1.0 / (double)(b - a)) : 0.0f;
    }
}

/* Fills m [out, in] for one axis (flag: bilinear's align_corners). */
typedef void (*axis_rows_fn)(int64_t out, int64_t in, bool flag, float *m);

/* x resized to out_h x out_w by separable2d with the matrices rows() makes,
 * refused (CLG_ERR_UNSUPPORTED) when they would be too large. */
static clg_tensor by_matrices(clg_graph *g, const char *f, clg_tensor x, const clg_node *xn, int64_t out_h,
                              int64_t out_w, axis_rows_fn rows, bool flag)
{
    const int64_t h = xn->shape[2], w = xn->shape[3];
    if (!matrices_fit(out_h, h, out_w, w)) {
        char what[160];
        snprintf(what, sizeof what, "output %lldx%lld: its matrices would exceed 2^24 entries", (long long)out_h,
                 (long long)out_w);
        return refuse(g, CLG_ERR_UNSUPPORTED, f, xn, what);
    }
    float *ah = malloc((size_t)(out_h * h) * sizeof *ah), *aw = malloc((size_t)(out_w * w) * sizeof *aw);
    if (!ah || !aw) {
        free(ah);
        free(aw);
        clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: no memory for its %lldx%lld and %lldx%lld matrices", f,
                  (long long)out_h, (long long)h, (long long)out_w, (long long)w);
        return clg_graph_fail(g, CLG_ERR_OUT_OF_MEMORY);
    }
    rows(out_h, h, flag, ah);
    rows(out_w, w, flag, aw);
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = separable2d(g, x, xn, out_h, ah, out_w, aw);
    free(ah);
    free(aw);
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_adaptive_avg_pool2d(clg_graph *g, clg_tensor x, int64_t out_h, int64_t out_w)
{
    const char *f = "adaptive_avg_pool2d";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    char what[192];
    if (xn->ndim != 4) return refuse(g, CLG_ERR_SHAPE, f, xn, "x must be 4-D [N, C, H, W]");
    const int64_t n = xn->shape[0], c = xn->shape[1], h = xn->shape[2], w = xn->shape[3];
    if (out_h < 1 || out_w < 1) {
        snprintf(what, sizeof what, "output %lldx%lld is empty", (long long)out_h, (long long)out_w);
        return refuse(g, CLG_ERR_SHAPE, f, xn, what);
    }
    /* windows of different sizes: a mean along W, then along H */
    if (h % out_h != 0 || w % out_w != 0) return by_matrices(g, f, x, xn, out_h, out_w, adaptive_rows, false);
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y;
    if (out_h == 1 && out_w == 1) { /* the global average pool: a mean over each plane */
        const int64_t planes[3] = {n, c, h * w}, pooled[4] = {n, c, 1, 1};
        y = clg_reshape(g, clg_mean_axis(g, clg_reshape(g, x, 3, planes), 2, 0), 4, pooled);
    } else { /* PyTorch's windows [floor(i H / out), ceil((i + 1) H / out)) are then all H / out wide */
        const int64_t kh = h / out_h, kw = w / out_w;
        y = kh > INT32_MAX || kw > INT32_MAX ? refuse(g, CLG_ERR_SHAPE, f, xn, "the windows are too large")
                                              : clg_avg_pool2d(g, x, (int)kh, (int)kw, (int)kh, (int)kw, 0, 0);
    }
    return clg_txn_end_tensor(g, txn, y);
}

/* [N C H, W, 1] * ones[1, 1, sw] repeats each column sw times, then
 * [N C H, 1, W sw] * ones[1, sh, 1] each row sh times: products by 1 are
 * exact, and their broadcast gradients sum the blocks */
clg_tensor clg_upsample_nearest2d(clg_graph *g, clg_tensor x, int64_t scale_h, int64_t scale_w)
{
    const char *f = "upsample_nearest2d";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    char what[160];
    if (xn->ndim != 4) return refuse(g, CLG_ERR_SHAPE, f, xn, "x must be 4-D [N, C, H, W]");
    const int64_t n = xn->shape[0], c = xn->shape[1], h = xn->shape[2], w = xn->shape[3];
    if (scale_h < 1 || scale_w < 1 || scale_h > (int64_t)1 << 20 || scale_w > (int64_t)1 << 20) {
        snprintf(what, sizeof what, "scales %lldx%lld must be in [1, 2^20]", (long long)scale_h, (long long)scale_w);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    }
    if (h * scale_h > INT64_MAX / (n * c * w * scale_w > 0 ? n * c * w * scale_w : 1)) {
        snprintf(what, sizeof what, "scales %lldx%lld overflow the element count", (long long)scale_h,
                 (long long)scale_w);
        return refuse(g, CLG_ERR_SHAPE, f, xn, what);
    }
    clg_txn txn = clg_txn_begin(g);
    const int64_t rows = n * c * h;
    const int64_t cols[3] = {rows, w, 1}, ones_w[3] = {1, 1, scale_w}, wide[3] = {rows, 1, w * scale_w};
    const int64_t ones_h[3] = {1, scale_h, 1}, out[4] = {n, c, h * scale_h, w * scale_w};
    clg_tensor y = clg_reshape(g, x, 3, cols);
    if (scale_w > 1) y = clg_reshape(g, clg_mul(g, y, clg_constant(g, 3, ones_w, 1.0f)), 3, wide);
    else y = clg_reshape(g, y, 3, wide);
    if (scale_h > 1) y = clg_mul(g, y, clg_constant(g, 3, ones_h, 1.0f));
    y = clg_reshape(g, y, 4, out);
    return clg_txn_end_tensor(g, txn, y);
}

/* PyTorch's bilinear source index along one axis (upsample_bilinear2d,
 * area_pixel_compute_source_index): output i reads in[i0] (1 - l) +
 * in[i1] l; row i of m holds those two weights. */
static void bilinear_rows(int64_t out, int64_t in, bool align_corners, float *m)
{
    for (int64_t i = 0; i < out; i++) {
        double src = align_corners ? (out > 1 ? (double)i * (double)(in - 1) / (double)(out - 1) : 0.0)
                                   : ((double)i + 0.5) * (double)in / (double)out - 0.5;
        if (src < 0) src = 0;
        int64_t i0 = (int64_t)src;
        if (i0 > in - 1) i0 = in - 1;
        const int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
        const double l1 = src - (double)i0, l0 = 1.0 - l1;
        for (int64_t j = 0; j < in; j++) m[i * in + j] = 0.0f;
        m[i * in + i0] += (float)l0;
        m[i * in + i1] += (float)l1;
    }
}

clg_tensor clg_upsample_bilinear2d(clg_graph *g, clg_tensor x, int64_t out_h, int64_t out_w, int align_corners)
{
    const char *f = "upsample_bilinear2d";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    char what[160];
    if (xn->ndim != 4) return refuse(g, CLG_ERR_SHAPE, f, xn, "x must be 4-D [N, C, H, W]");
    if (out_h < 1 || out_w < 1) {
        snprintf(what, sizeof what, "output %lldx%lld is empty", (long long)out_h, (long long)out_w);
        return refuse(g, CLG_ERR_SHAPE, f, xn, what);
    }
    return by_matrices(g, f, x, xn, out_h, out_w, bilinear_rows, align_corners != 0);
}

/* max over all elements: one row of numel values, its maximum */
static clg_tensor extreme(clg_graph *g, const char *f, clg_tensor x, bool min)
{
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    /* Two stages where the count factors: the maxima of r rows of n / r,
     * then of those, r the largest divisor of n up to sqrt(n). A max_axis
     * over one long row is one work-group's job; r rows are r. Exact, and
     * the first maximum is still the one found (the first row holding it,
     * the first place in that row). */
    const int64_t n = g->nodes[x.id].numel;
    int64_t r = 1;
    for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0) r = d;
    const int64_t rows[2] = {r, n / r};
    clg_txn txn = clg_txn_begin(g);
    clg_tensor v = clg_reshape(g, x, 2, rows);
    if (min) v = clg_neg(g, v); /* negation is exact: min x = -max(-x) */
    clg_tensor y = clg_max_axis(g, v, 1, 0);
    if (r > 1) y = clg_max_axis(g, y, 0, 0);
    if (min) y = clg_neg(g, y);
    y = clg_reshape(g, y, 0, NULL); /* r == 1 leaves [1]; PyTorch's max() is 0-d */
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_max(clg_graph *g, clg_tensor x) { return extreme(g, "max", x, false); }
clg_tensor clg_min(clg_graph *g, clg_tensor x) { return extreme(g, "min", x, true); }

/* (x - mean) / sqrt(var + eps) along the last axis, var biased */
static clg_tensor normalize_last(clg_graph *g, clg_tensor x, float eps)
{
    clg_tensor d = clg_sub(g, x, clg_mean_axis(g, x, -1, 1));
    clg_tensor var = clg_mean_axis(g, clg_square(g, d), -1, 1);
    return clg_div(g, d, clg_sqrt(g, clg_add(g, var, clg_scalar(g, eps))));
}

/* gamma and beta (either absent) of extent c: [c] or CLG_NO_TENSOR */
static bool affine_ok(clg_graph *g, const char *f, const clg_node *xn, clg_tensor t, const char *which, int64_t c)
{
    if (t.id < 0 && t.graph != CLG_TENSOR_FAILED) return true;
    if (!clg_tensor_ok(g, t, f)) return false;
    const clg_node *tn = &g->nodes[t.id];
    if (tn->ndim == 1 && tn->shape[0] == c) return true;
    char ts[96], what[160];
    clg_shape_string(tn->ndim, tn->shape, ts, sizeof ts);
    snprintf(what, sizeof what, "%s %s must be [%lld]", which, ts, (long long)c);
    refuse(g, CLG_ERR_SHAPE, f, xn, what);
    return false;
}

static bool eps_ok(clg_graph *g, const char *f, const clg_node *xn, float eps)
{
    if (eps >= 0 && isfinite(eps)) return true;
    char what[96];
    snprintf(what, sizeof what, "eps %g must be finite and >= 0", (double)eps);
    refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    return false;
}

clg_tensor clg_layer_norm(clg_graph *g, clg_tensor x, clg_tensor gamma, clg_tensor beta, float eps)
{
    const char *f = "layer_norm";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    if (xn->ndim == 0) return refuse(g, CLG_ERR_SHAPE, f, xn, "x is 0-d (normalized along its last axis)");
    const int64_t d = xn->shape[xn->ndim - 1];
    if (!affine_ok(g, f, xn, gamma, "gamma", d) || !affine_ok(g, f, xn, beta, "beta", d) || !eps_ok(g, f, xn, eps))
        return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = normalize_last(g, x, eps);
    if (gamma.id >= 0) y = clg_mul(g, y, gamma); /* [D] broadcasts along the last axis */
    if (beta.id >= 0) y = clg_add(g, y, beta);
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_group_norm(clg_graph *g, clg_tensor x, int64_t groups, clg_tensor gamma, clg_tensor beta, float eps)
{
    const char *f = "group_norm";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    char what[160];
    if (xn->ndim != 3 && xn->ndim != 4) return refuse(g, CLG_ERR_SHAPE, f, xn, "x must be [N, C, L] or [N, C, H, W]");
    const int64_t n = xn->shape[0], c = xn->shape[1], per = xn->numel / (n * c);
    if (groups < 1 || c % groups != 0) {
        snprintf(what, sizeof what, "%lld groups do not divide %lld channels", (long long)groups, (long long)c);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    }
    if (!affine_ok(g, f, xn, gamma, "gamma", c) || !affine_ok(g, f, xn, beta, "beta", c) || !eps_ok(g, f, xn, eps))
        return CLG_FAILED;
    int64_t shape[4], chan[4] = {1, c, 1, 1};
    const int ndim = xn->ndim;
    memcpy(shape, xn->shape, sizeof shape);
    clg_txn txn = clg_txn_begin(g);
    const int64_t grouped[3] = {n, groups, c / groups * per};
    clg_tensor y = clg_reshape(g, normalize_last(g, clg_reshape(g, x, 3, grouped), eps), ndim, shape);
    if (gamma.id >= 0) y = clg_mul(g, y, clg_reshape(g, gamma, ndim, chan));
    if (beta.id >= 0) y = clg_add(g, y, clg_reshape(g, beta, ndim, chan));
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_embedding(clg_graph *g, clg_tensor ids, clg_tensor weight)
{
    const char *f = "embedding";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, weight, f) || !clg_tensor_ok_dtype(g, ids, f, CLG_I32)) return CLG_FAILED;
    const clg_node *wn = &g->nodes[weight.id], *in = &g->nodes[ids.id];
    if (wn->ndim != 2) return refuse(g, CLG_ERR_SHAPE, f, wn, "the weight must be 2-D [V, D]");
    if (in->ndim != 1) return refuse(g, CLG_ERR_SHAPE, f, in, "ids must be 1-D [N]");
    clg_txn txn = clg_txn_begin(g);
    /* ignore_index INT32_MIN: every id outside [0, V) is refused on upload (and NaN if written before) */
    clg_tensor y = clg_matmul(g, clg_one_hot(g, ids, wn->shape[0], INT32_MIN), weight, 0, 0);
    return clg_txn_end_tensor(g, txn, y);
}

clg_status clg_loss_options_init(clg_loss_options *opt, size_t size)
{
    if (!opt || size < offsetof(clg_loss_options, reduction) + sizeof opt->reduction) return CLG_ERR_INVALID_ARGUMENT;
    const clg_loss_options d = {.size = size, .reduction = CLG_REDUCTION_MEAN, .weight = {-1, 0},
                                .ignore_index = -100, .label_smoothing = 0.0f};
    memset(opt, 0, size);
    memcpy(opt, &d, size < sizeof d ? size : sizeof d);
    opt->size = size;
    return CLG_OK;
}

/*
 * l_i = (1 - e) (-sum_j O_ij w_j x_ij) + (e / C) (-sum_j w_j x_ij) m_i, m_i =
 * sum_j O_ij (0 for an ignored row), x the log-probabilities; the mean
 * divides by sum_i sum_j O_ij w_j. The products by one-hot rows pick
 * exactly (x * 1 and x * 0), so the sums are the picked values.
 */
static clg_tensor class_loss(clg_graph *g, const char *f, clg_tensor x, clg_tensor labels, const clg_loss_options *in,
                             bool log_softmax)
{
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    clg_loss_options o = clg_loss_defaults();
    if (in) {
        size_t size = in->size ? in->size : sizeof o;
        if (size < offsetof(clg_loss_options, reduction) + sizeof o.reduction) {
            clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: opt->size is %zu, less than any version's options", f,
                      in->size);
            return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
        }
        memcpy(&o, in, size < sizeof o ? size : sizeof o);
    }
    if (!clg_tensor_ok(g, x, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id];
    char what[160];
    if (xn->ndim != 2) return refuse(g, CLG_ERR_SHAPE, f, xn, "x must be 2-D [N, C]");
    const int64_t C = xn->shape[1];
    if (o.reduction != CLG_REDUCTION_MEAN && o.reduction != CLG_REDUCTION_SUM && o.reduction != CLG_REDUCTION_NONE) {
        snprintf(what, sizeof what, "reduction %d is not a clg_reduction", (int)o.reduction);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    }
    if (!(o.label_smoothing >= 0 && o.label_smoothing <= 1)) {
        snprintf(what, sizeof what, "label_smoothing %g is not in [0, 1]", (double)o.label_smoothing);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    }
    const bool weighted = o.weight.id >= 0;
    if (weighted) {
        if (!clg_tensor_ok(g, o.weight, f)) return CLG_FAILED;
        const clg_node *wn = &g->nodes[o.weight.id];
        if (wn->ndim != 1 || wn->shape[0] != C) {
            char ws[96];
            clg_shape_string(wn->ndim, wn->shape, ws, sizeof ws);
            snprintf(what, sizeof what, "weight %s must be [C] = [%lld]", ws, (long long)C);
            return refuse(g, CLG_ERR_SHAPE, f, xn, what);
        }
    }
    if (clg_tensor_ok_dtype(g, labels, f, CLG_I32)) {
        const clg_node *ln = &g->nodes[labels.id];
        if (ln->ndim != 1 || ln->shape[0] != xn->shape[0]) {
            char ls[96];
            clg_shape_string(ln->ndim, ln->shape, ls, sizeof ls);
            snprintf(what, sizeof what, "labels %s must be [N] = [%lld]", ls, (long long)xn->shape[0]);
            return refuse(g, CLG_ERR_SHAPE, f, xn, what);
        }
    } else {
        return CLG_FAILED;
    }
    clg_txn txn = clg_txn_begin(g);
    const int64_t row[2] = {1, C};
    clg_tensor p = log_softmax ? clg_log_softmax(g, x, 1) : x;
    clg_tensor oh = clg_one_hot(g, labels, C, o.ignore_index);
    clg_tensor w = weighted ? clg_reshape(g, o.weight, 2, row) : CLG_NO_TENSOR;
    clg_tensor ow = weighted ? clg_mul(g, oh, w) : oh;      /* O_ij w_j */
    clg_tensor l = clg_neg(g, clg_sum_axis(g, clg_mul(g, p, ow), 1, 0));
    const float e = o.label_smoothing;
    if (log_softmax && e > 0) {
        clg_tensor kept = clg_sum_axis(g, oh, 1, 0);          /* m_i */
        clg_tensor pw = weighted ? clg_mul(g, p, w) : p;
        clg_tensor smooth = clg_mul(g, clg_neg(g, clg_sum_axis(g, pw, 1, 0)), kept);
        l = clg_add(g, clg_scale(g, l, 1.0f - e), clg_scale(g, smooth, (float)((double)e / (double)C)));
    }
    clg_tensor y = l;
    if (o.reduction == CLG_REDUCTION_SUM) y = clg_sum(g, l);
    else if (o.reduction == CLG_REDUCTION_MEAN) y = clg_div(g, clg_sum(g, l), clg_sum(g, ow));
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_nll_loss(clg_graph *g, clg_tensor x, clg_tensor labels, const clg_loss_options *opt)
{
    return class_loss(g, "nll_loss", x, labels, opt, false);
}

clg_tensor clg_cross_entropy(clg_graph *g, clg_tensor logits, clg_tensor labels, const clg_loss_options *opt)
{
    return class_loss(g, "cross_entropy", logits, labels, opt, true);
}

clg_tensor clg_conv2d_grouped(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h, int stride_w,
                              int pad_h, int pad_w, int dilation_h, int dilation_w, int groups)
{
    const char *f = "conv2d_grouped";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, f) || !clg_tensor_ok(g, w, f)) return CLG_FAILED;
    if (bias.id >= 0 || bias.graph == CLG_TENSOR_FAILED)
        if (!clg_tensor_ok(g, bias, f)) return CLG_FAILED;
    const clg_node *xn = &g->nodes[x.id], *wn = &g->nodes[w.id];
    char what[192], ws[96];
    clg_shape_string(wn->ndim, wn->shape, ws, sizeof ws);
    if (xn->ndim != 4 || wn->ndim != 4) {
        snprintf(what, sizeof what, "x and w %s must be 4-D", ws);
        return refuse(g, CLG_ERR_SHAPE, f, xn, what);
    }
    const int64_t c = xn->shape[1], oc = wn->shape[0];
    if (groups < 1 || c % groups != 0 || oc % groups != 0) {
        snprintf(what, sizeof what, "%d groups must divide the %lld input and %lld output channels (w %s)", groups,
                 (long long)c, (long long)oc, ws);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, xn, what);
    }
    if (wn->shape[1] != c / groups) {
        snprintf(what, sizeof what, "w %s must have C / groups = %lld input channels", ws, (long long)(c / groups));
        return refuse(g, CLG_ERR_SHAPE, f, xn, what);
    }
    if (groups == 1) return clg_conv2d(g, x, w, bias, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w);
    const int64_t ci = c / groups, co = oc / groups;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = CLG_NO_TENSOR;
    for (int k = 0; k < groups && g->status == CLG_OK; k++) {
        clg_tensor b = bias.id >= 0 ? clg_slice(g, bias, 0, k * co, co) : CLG_NO_TENSOR;
        clg_tensor yk = clg_conv2d(g, clg_slice(g, x, 1, k * ci, ci), clg_slice(g, w, 0, k * co, co), b, stride_h,
                                   stride_w, pad_h, pad_w, dilation_h, dilation_w);
        y = k == 0 ? yk : clg_concat(g, y, yk, 1);
    }
    return clg_txn_end_tensor(g, txn, y);
}

/* huber_delta(d) = 0.5 d^2 where |d| <= delta, delta (|d| - 0.5 delta)
 * beyond, written as h (|d| - 0.5 h) with h = clamp(|d|, 0, delta): one
 * expression for both sides, whose gradient (clamp's passes inside,
 * abs's sign) is d inside and delta sign(d) beyond, as the loss's. */
static clg_tensor huber_mean(clg_graph *g, const char *f, clg_tensor p, clg_tensor t, double delta, double scale)
{
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, p, f) || !clg_tensor_ok(g, t, f)) return CLG_FAILED;
    const clg_node *pn = &g->nodes[p.id], *tn = &g->nodes[t.id];
    bool same = pn->ndim == tn->ndim;
    for (int d = 0; same && d < pn->ndim; d++) same = pn->shape[d] == tn->shape[d];
    if (!same) {
        char ps[96], ts[96];
        clg_shape_string(pn->ndim, pn->shape, ps, sizeof ps);
        clg_shape_string(tn->ndim, tn->shape, ts, sizeof ts);
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: pred %s and target %s differ (the losses take equal shapes)", f, ps, ts);
        return clg_graph_fail(g, CLG_ERR_SHAPE);
    }
    clg_txn txn = clg_txn_begin(g);
    clg_tensor a = clg_abs(g, clg_sub(g, p, t)), y;
    if (delta == 0) {
        y = clg_mean(g, a); /* smooth L1 with beta 0 is L1 */
    } else {
        clg_tensor h = clg_clamp(g, a, 0.0f, (float)delta);
        y = clg_mean(g, clg_mul(g, h, clg_sub(g, a, clg_scale(g, h, 0.5f))));
        if (scale != 1) y = clg_scale(g, y, (float)scale);
    }
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_huber_loss(clg_graph *g, clg_tensor pred, clg_tensor target, float delta)
{
    const char *f = "huber_loss";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!(delta > 0) || !isfinite(delta)) {
        if (!clg_tensor_ok(g, pred, f)) return CLG_FAILED;
        char what[96];
        snprintf(what, sizeof what, "delta %g must be finite and > 0", (double)delta);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, &g->nodes[pred.id], what);
    }
    return huber_mean(g, f, pred, target, delta, 1);
}

clg_tensor clg_smooth_l1_loss(clg_graph *g, clg_tensor pred, clg_tensor target, float beta)
{
    const char *f = "smooth_l1_loss";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    if (!(beta >= 0) || !isfinite(beta)) {
        if (!clg_tensor_ok(g, pred, f)) return CLG_FAILED;
        char what[96];
        snprintf(what, sizeof what, "beta %g must be finite and >= 0", (double)beta);
        return refuse(g, CLG_ERR_INVALID_ARGUMENT, f, &g->nodes[pred.id], what);
    }
    /* smooth_l1_beta = huber_beta / beta */
    return huber_mean(g, f, pred, target, beta, beta > 0 ? 1.0 / beta : 1);
}
