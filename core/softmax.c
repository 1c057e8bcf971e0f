/*
 * The softmax family: constructors, backward rules and the label check.
 * Node parameters and state:
 *   SOFTMAX, LOG_SOFTMAX and their _GRAD ops: i[0] = axis (0..ndim-1);
 *     the _GRAD ops take (y, dy), y being the forward's output.
 *   SOFTMAX_CE: (logits [N,C], labels int32 [N]) -> [1]; aux[0] holds, per
 *     row, the max m and log sum exp(z - m) (2N values: what the backward
 *     needs to rebuild the softmax without cancellation), aux[1] the row
 *     losses (N values, summed into the mean).
 *   SOFTMAX_CE_GRAD: (ce node, dloss) -> [N,C].
 *   BCE_LOGITS_GRAD: (logits, targets, dloss); i[0] = 0 gives d/dlogits,
 *     1 gives d/dtargets.
 *   ONE_HOT: (labels int32 [N]) -> [N, C]; i[0] = C, i[1] = ignore_index.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool begin(clg_graph *g, const char *op, clg_tensor x)
{
    return clg_graph_check(g, op) == CLG_OK && clg_tensor_ok(g, x, op);
}

static clg_tensor along_axis(clg_graph *g, clg_op op, clg_tensor x, int axis)
{
    const char *name = clg_op_name(op);
    if (!begin(g, name, x)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    int a;
    if (!clg_axis_ok(g, name, nx, axis, "axis", &a)) return CLG_FAILED;
    clg_node proto = {.op = op, .src = {x.id}, .ndim = nx->ndim, .i = {a}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    return clg_record(g, &proto, 1);
}

clg_tensor clg_softmax(clg_graph *g, clg_tensor x, int axis) { return along_axis(g, CLG_OP_SOFTMAX, x, axis); }

clg_tensor clg_log_softmax(clg_graph *g, clg_tensor x, int axis)
{
    return along_axis(g, CLG_OP_LOG_SOFTMAX, x, axis);
}

/* The labels' id is valid and the logits are known good. */
static bool labels_ok(clg_graph *g, const char *op, const clg_node *z, clg_tensor labels)
{
    const clg_node *l = &g->nodes[labels.id];
    if (l->dtype != CLG_I32) {
        char zs[96], ls[96];
        clg_shape_string(z->ndim, z->shape, zs, sizeof zs);
        clg_shape_string(l->ndim, l->shape, ls, sizeof ls);
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                  "%s: labels (tensor %d, shape %s) hold float32; logits %s need int32 labels made with clg_labels",
                  op, (int)labels.id, ls, zs);
        clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
        return false;
    }
    if (l->ndim != 1 || l->shape[0] != z->shape[0]) {
        clg_shape_error(g, op, z, l, "do not fit: logits must be [N,C] and labels [N]");
        return false;
    }
    return true;
}

static clg_tensor softmax_ce(clg_graph *g, clg_tensor logits, clg_tensor labels)
{
    const char *name = clg_op_name(CLG_OP_SOFTMAX_CE);
    if (!begin(g, name, logits)) return CLG_FAILED;
    const clg_node *z = &g->nodes[logits.id];
    if (z->ndim != 2) return clg_shape_error(g, name, z, NULL, "do not fit: logits must be 2-D [N,C]");
    bool id_ok = clg_tensor_in(g, labels);
    if (!id_ok) {
        clg_tensor_ok_dtype(g, labels, name, CLG_I32); /* reports the bad id */
        return CLG_FAILED;
    }
    if (!labels_ok(g, name, z, labels)) return CLG_FAILED;
    int64_t rows = z->shape[0];
    clg_node proto = {.op = CLG_OP_SOFTMAX_CE, .src = {logits.id, labels.id}, .ndim = 0};
    clg_tensor t = clg_record(g, &proto, 2);
    if (t.id < 0) return t;
    if (clg_node_alloc_aux(g, t.id, 0, 2 * rows) != CLG_OK || clg_node_alloc_aux(g, t.id, 1, rows) != CLG_OK)
        return CLG_FAILED;
    return t;
}

clg_tensor clg_softmax_cross_entropy(clg_graph *g, clg_tensor logits, clg_tensor labels)
{
    if (clg_graph_check(g, clg_op_name(CLG_OP_SOFTMAX_CE)) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g); /* the node and its saved rows */
    return clg_txn_end_tensor(g, txn, softmax_ce(g, logits, labels));
}

clg_tensor clg_bce_with_logits(clg_graph *g, clg_tensor logits, clg_tensor targets)
{
    const char *name = clg_op_name(CLG_OP_BCE_LOGITS);
    if (!begin(g, name, logits) || !clg_tensor_ok(g, targets, name)) return CLG_FAILED;
    const clg_node *z = &g->nodes[logits.id], *t = &g->nodes[targets.id];
    if (z->ndim != t->ndim || memcmp(z->shape, t->shape, (size_t)z->ndim * sizeof(int64_t)))
        return clg_shape_error(g, name, z, t, "differ (logits and targets must have the same shape)");
    clg_node proto = {.op = CLG_OP_BCE_LOGITS, .src = {logits.id, targets.id}, .ndim = 0};
    return clg_record(g, &proto, 2);
}

clg_tensor clg_one_hot(clg_graph *g, clg_tensor labels, int64_t classes, int32_t ignore_index)
{
    const char *name = clg_op_name(CLG_OP_ONE_HOT);
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok_dtype(g, labels, name, CLG_I32)) return CLG_FAILED;
    const clg_node *l = &g->nodes[labels.id];
    char ls[96];
    clg_shape_string(l->ndim, l->shape, ls, sizeof ls);
    if (l->ndim != 1) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: labels %s must be 1-D [N]", name, ls);
        return clg_graph_fail(g, CLG_ERR_SHAPE);
    }
    if (classes < 1 || classes > INT32_MAX) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: labels %s: %lld classes is not in [1, 2^31)", name, ls,
                  (long long)classes);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    clg_node proto = {.op = CLG_OP_ONE_HOT, .src = {labels.id}, .ndim = 2, .shape = {l->shape[0], classes},
                      .i = {classes, ignore_index}};
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end_tensor(g, txn, clg_record(g, &proto, 1));
}

/* What labels node n (a cross-entropy or a one-hot) accepts: [0, classes),
 * and its ignore_index for a one-hot. */
static bool reads_labels(const clg_graph *g, const clg_node *n, const clg_node *labels, int64_t *classes,
                         int64_t *ignore)
{
    int32_t src;
    if (n->op == CLG_OP_SOFTMAX_CE) {
        src = n->src[1];
        *classes = g->nodes[n->src[0]].shape[1];
        *ignore = -1;
    } else if (n->op == CLG_OP_ONE_HOT) {
        src = n->src[0];
        *classes = n->i[0];
        *ignore = n->i[1];
    } else {
        return false;
    }
    /* by buffer: a reshaped view of the labels shares it */
    return g->nodes[src].buf == labels->buf;
}

clg_status clg_softmax_check_labels(clg_graph *g, clg_tensor t, const int32_t *data, size_t count)
{
    /* Bad handles, ids and counts are left to the transfer to report. */
    if (!g || g->magic != CLG_GRAPH_LIVE || !data || !clg_tensor_in(g, t)) return CLG_OK;
    int32_t id = t.id;
    if ((int64_t)count != g->nodes[id].numel) return CLG_OK;
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        int64_t classes, ignore;
        if (!reads_labels(g, n, &g->nodes[id], &classes, &ignore)) continue;
        for (size_t k = 0; k < count; k++) {
            if ((data[k] >= 0 && data[k] < classes) || (n->op == CLG_OP_ONE_HOT && data[k] == ignore)) continue;
            char zs[96], also[64] = "";
            clg_shape_string(n->op == CLG_OP_ONE_HOT ? n->ndim : g->nodes[n->src[0]].ndim,
                             n->op == CLG_OP_ONE_HOT ? n->shape : g->nodes[n->src[0]].shape, zs, sizeof zs);
            if (n->op == CLG_OP_ONE_HOT) snprintf(also, sizeof also, " or ignore_index %lld", (long long)ignore);
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_tensor_set_i32: label %d at index %zu is out of range for %s (node %d) with "
                             "%s %s: %lld classes, labels must be in [0, %lld)%s",
                             (int)data[k], k, clg_op_name(n->op), (int)i,
                             n->op == CLG_OP_ONE_HOT ? "output" : "logits", zs, (long long)classes,
                             (long long)classes, also);
        }
    }
    return CLG_OK;
}

/* A backward op of node fwd: shape of node like, sources src, i[0] = flag. */
static clg_tensor grad_node(clg_graph *g, clg_op op, const clg_node *like, const int32_t *src, int nsrc, int64_t flag)
{
    for (int k = 0; k < nsrc; k++)
        if (!clg_tensor_ok(g, clg_tref(g, src[k]), clg_op_name(op))) return CLG_FAILED;
    clg_node proto = {.op = op, .ndim = like->ndim, .i = {flag}};
    memcpy(proto.shape, like->shape, sizeof proto.shape);
    memcpy(proto.src, src, (size_t)nsrc * sizeof *src);
    return clg_record(g, &proto, nsrc);
}

clg_status clg_backward_softmax(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    int32_t gy = grads[i], a = n.src[0], b = n.src[1];
    const clg_node x = g->nodes[a];
    switch (n.op) {
    case CLG_OP_SOFTMAX:
    case CLG_OP_LOG_SOFTMAX: {
        clg_op op = n.op == CLG_OP_SOFTMAX ? CLG_OP_SOFTMAX_GRAD : CLG_OP_LOG_SOFTMAX_GRAD;
        clg_grad_accumulate(g, grads, a, grad_node(g, op, &x, (int32_t[]){i, gy}, 2, n.i[0]));
        break;
    }
    case CLG_OP_SOFTMAX_CE:
        clg_grad_accumulate(g, grads, a, grad_node(g, CLG_OP_SOFTMAX_CE_GRAD, &x, (int32_t[]){i, gy}, 2, 0));
        break;
    case CLG_OP_BCE_LOGITS: {
        const int32_t src[3] = {a, b, gy};
        if (g->nodes[a].requires_grad)
            clg_grad_accumulate(g, grads, a, grad_node(g, CLG_OP_BCE_LOGITS_GRAD, &x, src, 3, 0));
        if (g->nodes[b].requires_grad)
            clg_grad_accumulate(g, grads, b, grad_node(g, CLG_OP_BCE_LOGITS_GRAD, &x, src, 3, 1));
        break;
    }
    default: return clg_backward_unsupported(g, i);
    }
    return g->status;
}
