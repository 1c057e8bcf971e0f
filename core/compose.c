/*
 * Ops built from other public ops, whose gradients are those ops': the
 * adaptive average pool (a mean over each plane, or an average pool when
 * the windows are equal), and the Huber and smooth L1 losses (from abs and
 * clamp). Each is one transaction, so a refused call leaves nothing.
 */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Records "<op>: <what> (input <shape>)" and fails the graph. */
static clg_tensor refuse(clg_graph *g, clg_status code, const char *op, const clg_node *x, const char *what)
{
    char sh[96];
    clg_shape_string(x->ndim, x->shape, sh, sizeof sh);
    clg_error(g->ctx, code, "%s: %s (input %s)", op, what, sh);
    return clg_graph_fail(g, code);
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
    if (h % out_h != 0 || w % out_w != 0) {
        snprintf(what, sizeof what,
                 "output %lldx%lld needs windows of different sizes, not supported yet: H and W must be multiples of "
                 "the output's",
                 (long long)out_h, (long long)out_w);
        return refuse(g, CLG_ERR_UNSUPPORTED, f, xn, what);
    }
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
