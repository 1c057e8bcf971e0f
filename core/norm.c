/* The norm family: batch norm's constructor, its running statistics, and
 * its backward rule. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* aux slots of a batch_norm node, 2 * C floats each */
enum {
    BN_SAVED = 0,  /* mean, inverse std of the last forward run: what the backward needs */
    BN_RUNNING = 1 /* running mean, running variance */
};

static clg_tensor invalid_param(clg_graph *g, const clg_node *x, const char *why, double v)
{
    char sh[96];
    clg_shape_string(x->ndim, x->shape, sh, sizeof sh);
    clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "batch_norm: input %s: %s (got %g)", sh, why, v);
    return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
}

static bool is_channel_vector(const clg_node *v, int64_t C)
{
    return v->ndim == 1 && v->shape[0] == C;
}

/* Running mean 0 and variance 1 before the first training step, as PyTorch. */
static clg_status init_running(clg_graph *g, int32_t id, int64_t C)
{
    clg_backend *be = g->ctx->be;
    clg_buffer *run = g->nodes[id].aux[BN_RUNNING];
    clg_status s = be->vt->buffer_fill(be, run, 1.0f, (size_t)(2 * C));
    if (s == CLG_OK) s = be->vt->buffer_fill(be, run, 0.0f, (size_t)C);
    if (s != CLG_OK) clg_graph_fail(g, s);
    return s;
}

static clg_tensor batch_norm(clg_graph *g, clg_tensor x, clg_tensor gamma, clg_tensor beta, float momentum, float eps)
{
    const char *op = "batch_norm";
    if (clg_graph_check(g, op) != CLG_OK) return CLG_FAILED;
    /* x may be 16-bit (a convolution's output under mixed precision): read
     * as it is, its statistics, y and gradients float32, as PyTorch's batch
     * norm does for a 16-bit input with float32 parameters */
    if (!clg_tensor_ok_float(g, x, op) || !clg_tensor_ok(g, gamma, op) || !clg_tensor_ok(g, beta, op))
        return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id], *ng = &g->nodes[gamma.id], *nb = &g->nodes[beta.id];
    if (nx->ndim < 2)
        return clg_shape_error(g, op, nx, NULL, "cannot be normalised: x must be [N,C], [N,C,L] or [N,C,H,W]");
    const int64_t C = nx->shape[1];
    if (!is_channel_vector(ng, C))
        return clg_shape_error(g, op, nx, ng, "do not fit: gamma must have shape [C], C = x's dimension 1");
    if (!is_channel_vector(nb, C))
        return clg_shape_error(g, op, nx, nb, "do not fit: beta must have shape [C], C = x's dimension 1");
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return invalid_param(g, nx, "momentum must be in [0, 1]", momentum);
    if (!(eps > 0.0f) || !isfinite(eps)) return invalid_param(g, nx, "eps must be positive and finite", eps);

    clg_node proto = {.op = CLG_OP_BATCHNORM, .src = {x.id, gamma.id, beta.id}, .ndim = nx->ndim,
                      .f = {momentum, eps}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    clg_tensor y = clg_record(g, &proto, 3);
    if (y.id < 0) return y;
    /* the running statistics live across runs: a buffer of their own now;
     * the saved batch statistics only until the backward pass (planned) */
    g->nodes[y.id].aux_persist = 1u << BN_RUNNING;
    if (clg_node_alloc_aux(g, y.id, BN_SAVED, 2 * C) != CLG_OK ||
        clg_node_alloc_aux(g, y.id, BN_RUNNING, 2 * C) != CLG_OK || init_running(g, y.id, C) != CLG_OK)
        return CLG_FAILED;
    return y;
}

clg_tensor clg_batch_norm(clg_graph *g, clg_tensor x, clg_tensor gamma, clg_tensor beta, float momentum, float eps)
{
    if (clg_graph_check(g, "batch_norm") != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g); /* the node and its statistics */
    return clg_txn_end_tensor(g, txn, batch_norm(g, x, gamma, beta, momentum, eps));
}

/* The batch_norm node behind handle bn, with C channels; NULL after
 * setting the error. */
static const clg_node *running_node(clg_graph *g, clg_tensor bn, size_t C, const char *func)
{
    if (clg_graph_check(g, func) != CLG_OK) return NULL;
    if (!clg_tensor_in(g, bn) || g->nodes[bn.id].op != CLG_OP_BATCHNORM) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d is not the output of clg_batch_norm", func,
                  (int)bn.id);
        return NULL;
    }
    const clg_node *n = &g->nodes[bn.id];
    if ((int64_t)C != n->shape[1]) {
        char sh[96];
        clg_shape_string(n->ndim, n->shape, sh, sizeof sh);
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %zu channels given for batch_norm output %s (%lld channels)", func, C,
                  sh, (long long)n->shape[1]);
        return NULL;
    }
    return n;
}

clg_status clg_batch_norm_running(clg_graph *g, clg_tensor bn, float *mean, float *var, size_t C)
{
    const clg_node *n = running_node(g, bn, C, "clg_batch_norm_running");
    if (!n) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    clg_backend *be = g->ctx->be;
    clg_status s = CLG_OK;
    if (mean) s = be->vt->buffer_read(be, n->aux[BN_RUNNING], 0, mean, C, CLG_F32);
    if (s == CLG_OK && var) s = be->vt->buffer_read(be, n->aux[BN_RUNNING], C, var, C, CLG_F32);
    return s;
}

clg_status clg_batch_norm_set_running(clg_graph *g, clg_tensor bn, const float *mean, const float *var, size_t C)
{
    const clg_node *n = running_node(g, bn, C, "clg_batch_norm_set_running");
    if (!n) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    for (size_t c = 0; var && c < C; c++)
        if (!(var[c] >= 0.0f) || !isfinite(var[c]))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_batch_norm_set_running: variance %g of channel %zu is not a finite value >= 0",
                             (double)var[c], c);
    clg_backend *be = g->ctx->be;
    if (!mean || !var) /* one half */
        return mean || var ? be->vt->buffer_write(be, n->aux[BN_RUNNING], mean ? 0 : C, mean ? mean : var, C, CLG_F32)
                           : CLG_OK;
    /* both in one write: all or nothing */
    float *both = malloc(2 * C * sizeof *both);
    if (!both) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "clg_batch_norm_set_running: out of host memory");
    memcpy(both, mean, C * sizeof *both);
    memcpy(both + C, var, C * sizeof *both);
    clg_status s = be->vt->buffer_write(be, n->aux[BN_RUNNING], 0, both, 2 * C, CLG_F32);
    free(both);
    return s;
}

/* A gradient op of batch norm node bn, shaped like node like. */
static clg_tensor bn_grad(clg_graph *g, clg_op op, clg_tensor dy, int32_t bn, int32_t dgamma, int32_t dbeta,
                          int32_t like)
{
    const clg_node *l = &g->nodes[like];
    clg_node proto = {.op = op, .src = {dy.id, bn, dgamma, dbeta}, .ndim = l->ndim};
    memcpy(proto.shape, l->shape, sizeof proto.shape);
    return clg_record(g, &proto, clg_op_nsrc(op));
}

/*
 * With x^ = (x - mean) invstd and M values per channel:
 *   dgamma = sum dy x^,  dbeta = sum dy (per channel),
 *   dx = gamma invstd / M (M dy - dbeta - x^ dgamma)   in training mode,
 *   dx = gamma invstd dy                                in evaluation mode,
 * the input gradient needing both sums, so they are recorded whenever x
 * needs a gradient.
 */
clg_status clg_backward_norm(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    if (n.op != CLG_OP_BATCHNORM) {
        return clg_backward_unsupported(g, i);
    }
    const int32_t x = n.src[0], gamma = n.src[1], beta = n.src[2];
    const bool gx = g->nodes[x].requires_grad, gg = g->nodes[gamma].requires_grad, gb = g->nodes[beta].requires_grad;
    const clg_tensor dy = clg_tref(g, grads[i]);
    clg_tensor dgamma = CLG_NO_TENSOR, dbeta = CLG_NO_TENSOR;
    if (gx || gg) dgamma = bn_grad(g, CLG_OP_BATCHNORM_GRAD_GAMMA, dy, i, -1, -1, gamma);
    if (gx || gb) dbeta = bn_grad(g, CLG_OP_BATCHNORM_GRAD_BETA, dy, i, -1, -1, beta);
    if (g->status != CLG_OK) return g->status;
    if (gg) clg_grad_accumulate(g, grads, gamma, dgamma);
    if (gb) clg_grad_accumulate(g, grads, beta, dbeta);
    if (gx) clg_grad_accumulate(g, grads, x, bn_grad(g, CLG_OP_BATCHNORM_GRAD_INPUT, dy, i, dgamma.id, dbeta.id, x));
    return g->status;
}

/* ---- running state as tensors ---- */

/* The batch_norm node keeps its state leaves' ids + 1 in i[5..7] (0: not
 * made yet); each leaf has no buffer and names its node in state_of. */
enum { BN_STATE_IDS = 5 };
static const char *const state_names[3] = {"running_mean", "running_var", "num_batches_tracked"};

clg_status clg_batch_norm_state(clg_graph *g, clg_tensor bn, const char *prefix, clg_tensor *running_mean,
                                clg_tensor *running_var, clg_tensor *num_batches_tracked)
{
    const char *func = "clg_batch_norm_state";
    if (clg_graph_check(g, func) != CLG_OK) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (!clg_tensor_in(g, bn) || g->nodes[bn.id].op != CLG_OP_BATCHNORM)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d is not the output of clg_batch_norm", func,
                         (int)bn.id);
    char names[3][sizeof g->nodes[0].name];
    if (prefix) {
        for (int k = 0; k < 3; k++) {
            int len = snprintf(names[k], sizeof names[k], "%s.%s", prefix, state_names[k]);
            if (!*prefix || len < 0 || (size_t)len >= sizeof names[k])
                return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                                 "%s: prefix '%s' makes a name outside 1 to %zu characters", func, prefix,
                                 sizeof names[k] - 1);
        }
        /* every name free, or already this state's: checked before anything changes */
        for (int32_t i = 0; i < g->n; i++)
            for (int k = 0; k < 3; k++)
                if (!strcmp(g->nodes[i].name, names[k]) &&
                    !(g->nodes[i].state_of == bn.id + 1 && g->nodes[i].state_part == k))
                    return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d is already named '%s'", func,
                                     (int)i, names[k]);
    }
    if (!g->nodes[bn.id].i[BN_STATE_IDS]) {
        const int64_t C = g->nodes[bn.id].shape[1];
        int32_t ids[3];
        clg_txn txn = clg_txn_begin(g);
        clg_status s = CLG_OK;
        for (int k = 0; k < 3 && s == CLG_OK; k++) {
            /* num_batches_tracked: a 0-dimensional int32, as PyTorch's (int64) loads it */
            clg_node proto = {.op = CLG_OP_INPUT, .dtype = k == 2 ? CLG_I32 : CLG_F32, .phase = CLG_RUN_FORWARD,
                              .ndim = k == 2 ? 0 : 1, .shape = {C}, .src = {-1, -1, -1, -1},
                              .state_of = bn.id + 1, .state_part = (uint8_t)k};
            ids[k] = clg_graph_add_node(g, &proto, false);
            if (ids[k] < 0) s = g->ctx->status != CLG_OK ? g->ctx->status : CLG_ERR_OUT_OF_MEMORY;
            else g->nodes[ids[k]].role = CLG_ROLE_STATE;
        }
        if ((s = clg_txn_end(g, txn, s)) != CLG_OK) return s;
        for (int k = 0; k < 3; k++) g->nodes[bn.id].i[BN_STATE_IDS + k] = ids[k] + 1;
    }
    clg_tensor t[3];
    for (int k = 0; k < 3; k++) {
        int32_t id = (int32_t)g->nodes[bn.id].i[BN_STATE_IDS + k] - 1;
        t[k] = clg_tref(g, id);
        if (prefix) strcpy(g->nodes[id].name, names[k]);
    }
    if (running_mean) *running_mean = t[0];
    if (running_var) *running_var = t[1];
    if (num_batches_tracked) *num_batches_tracked = t[2];
    return CLG_OK;
}

clg_status clg_state_read(clg_graph *g, int32_t id, void *dst, const char *func)
{
    const clg_node *n = &g->nodes[id], *bn = &g->nodes[n->state_of - 1];
    const size_t C = (size_t)bn->shape[1];
    if (n->state_part == 2) {
        *(int32_t *)dst = bn->batches > INT32_MAX ? INT32_MAX : (int32_t)bn->batches;
        return CLG_OK;
    }
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_read(be, bn->aux[BN_RUNNING], n->state_part * C, dst, C, CLG_F32);
    return s == CLG_OK ? s : clg_error_wrap(g->ctx, s, "%s: batch norm's %s", func, state_names[n->state_part]);
}

clg_status clg_state_check(clg_graph *g, int32_t id, const void *src, const char *func)
{
    const clg_node *n = &g->nodes[id], *bn = &g->nodes[n->state_of - 1];
    if (n->state_part == 2) {
        const int32_t v = *(const int32_t *)src;
        return v >= 0 ? CLG_OK
                      : clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: num_batches_tracked %d is negative", func, (int)v);
    }
    const float *v = src;
    for (int64_t c = 0; n->state_part == 1 && c < bn->shape[1]; c++)
        if (!(v[c] >= 0.0f) || !isfinite(v[c]))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "%s: running variance %g of channel %lld is not a finite value >= 0", func, (double)v[c],
                             (long long)c);
    for (int64_t c = 0; n->state_part == 0 && c < bn->shape[1]; c++)
        if (!isfinite(v[c]))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: running mean %g of channel %lld is not finite",
                             func, (double)v[c], (long long)c);
    return CLG_OK;
}

clg_status clg_state_write(clg_graph *g, int32_t id, const void *src, const char *func)
{
    clg_status s = clg_state_check(g, id, src, func);
    if (s != CLG_OK) return s;
    const clg_node *n = &g->nodes[id];
    clg_node *bn = &g->nodes[n->state_of - 1];
    if (n->state_part == 2) {
        bn->batches = *(const int32_t *)src;
        return CLG_OK;
    }
    const size_t C = (size_t)bn->shape[1];
    clg_backend *be = g->ctx->be;
    s = be->vt->buffer_write(be, bn->aux[BN_RUNNING], n->state_part * C, src, C, CLG_F32);
    return s == CLG_OK ? s : clg_error_wrap(g->ctx, s, "%s: batch norm's %s", func, state_names[n->state_part]);
}

clg_status clg_batch_norm_share_state(clg_graph *g, clg_tensor bn, clg_graph *src, clg_tensor src_bn)
{
    const char *func = "clg_batch_norm_share_state";
    if (clg_graph_check(g, func) != CLG_OK) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (clg_graph_check(src, func) != CLG_OK) return g->ctx->status;
    if (src->ctx != g->ctx)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the two graphs belong to different contexts", func);
    if (!clg_tensor_in(g, bn) || g->nodes[bn.id].op != CLG_OP_BATCHNORM || !clg_tensor_in(src, src_bn) ||
        src->nodes[src_bn.id].op != CLG_OP_BATCHNORM)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensors %d and %d are not both outputs of clg_batch_norm",
                         func, (int)bn.id, (int)src_bn.id);
    clg_node *n = &g->nodes[bn.id];
    const clg_node *s = &src->nodes[src_bn.id];
    if (n->shape[1] != s->shape[1])
        return clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %lld channels against the source's %lld", func,
                         (long long)n->shape[1], (long long)s->shape[1]);
    clg_backend *be = g->ctx->be;
    if (!be->vt->buffer_retain)
        return clg_error(g->ctx, CLG_ERR_UNSUPPORTED, "%s: the %s backend cannot share buffers", func, be->vt->kind);
    if (n->aux[BN_RUNNING] == s->aux[BN_RUNNING]) return CLG_OK;
    clg_status st = be->vt->synchronize(be);
    if (st != CLG_OK) return clg_error_wrap(g->ctx, st, "%s", func);
    be->vt->buffer_retain(be, s->aux[BN_RUNNING]);
    clg_plan_release(g);
    be->vt->buffer_free(be, n->aux[BN_RUNNING]);
    n->aux[BN_RUNNING] = s->aux[BN_RUNNING];
    return CLG_OK;
}
