/*
 * Data parallelism in one process (issue 15, first part): n graphs of one
 * model, each on its own context (any devices, any platforms) or several
 * on one, each given an equal slice of the batch. A step runs forward and
 * backward on every replica, enqueued on all of them before any is waited
 * for, so the devices work at the same time; then, parameter by
 * parameter, it reads every replica's gradient, averages them on the host
 * in replica order (in double, rounded once: the same bits whatever the
 * timing, and with equal slices of a mean loss the gradient of the whole
 * batch), writes the average into every replica, and runs every replica's
 * update. Starting from replica 0's parameters, which create copies into
 * the others (as PyTorch's DistributedDataParallel broadcasts rank 0's),
 * and taking the same updates, the replicas' parameters stay identical:
 * bit for bit where every replica runs on the same kind of device (the
 * same update kernels); where they differ (a GPU and PoCL, a device and
 * the reference), their update kernels may round differently, so replica
 * 0's parameters are copied into the others after each update.
 *
 * Not yet: overlap of the averaging with backward (it waits for each
 * replica's whole backward), transfers through mapped memory, clgrad-train
 * with several devices, MPI. Batch norm keeps statistics per replica, as
 * DistributedDataParallel does without SyncBatchNorm.
 */
#include "internal.h"
#include "optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clg_replicas {
    int n;
    clg_graph **g;
    int nparam;
    clg_tensor *param; /* [n][nparam] */
    clg_tensor *grad;  /* [n][nparam]; CLG_NO_TENSOR where the loss does not depend on the parameter */
    int64_t *numel;    /* [nparam] */
    bool mixed;        /* devices of more than one kind: replica 0's parameters copied after each update */
    float *buf;        /* the largest parameter's elements */
    double *sum;
};

typedef clg_status (*failure_fn)(clg_replicas *r, int i, clg_status s, const char *what);
static clg_status copy_params(clg_replicas *r, failure_fn failed);

/* The parameters of g in recording order: their ids into ids (when not
 * NULL); returns their count. */
static int params_of(const clg_graph *g, int32_t *ids)
{
    int k = 0;
    for (int32_t i = 0; i < g->n; i++)
        if (g->nodes[i].op == CLG_OP_PARAM) {
            if (ids) ids[k] = i;
            k++;
        }
    return k;
}

void clg_replicas_destroy(clg_replicas *r)
{
    if (!r) return;
    free(r->g);
    free(r->param);
    free(r->grad);
    free(r->numel);
    free(r->buf);
    free(r->sum);
    free(r);
}

/* Checks replica i against replica 0 (ids0: its parameters): the same
 * parameters in the same order, each of the same shape, a gradient for the
 * same ones. Fills r's row i. */
static clg_status match(clg_replicas *r, int i, const int32_t *ids0, int32_t *ids)
{
    clg_graph *g0 = r->g[0], *g = r->g[i];
    const char *f = "clg_replicas_create";
    if (params_of(g, NULL) != r->nparam) {
        return clg_error(g0->ctx, CLG_ERR_SHAPE, "%s: replica %d has %d parameters, replica 0 has %d", f, i,
                         params_of(g, NULL), r->nparam);
    }
    params_of(g, ids);
    for (int k = 0; k < r->nparam; k++) {
        const clg_node *a = &g0->nodes[ids0[k]], *b = &g->nodes[ids[k]];
        bool same = a->ndim == b->ndim && (a->grad >= 0) == (b->grad >= 0);
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        if (!same) {
            char sa[96], sb[96];
            clg_shape_string(a->ndim, a->shape, sa, sizeof sa);
            clg_shape_string(b->ndim, b->shape, sb, sizeof sb);
            return clg_error(g0->ctx, CLG_ERR_SHAPE,
                             "%s: replica %d: parameter %d ('%s') is %s%s, replica 0's ('%s') %s%s", f, i, k, b->name,
                             sb, b->grad >= 0 ? "" : " with no gradient", a->name, sa,
                             a->grad >= 0 ? "" : " with no gradient");
        }
        r->param[(size_t)i * r->nparam + k] = clg_tref(g, ids[k]);
        r->grad[(size_t)i * r->nparam + k] = b->grad >= 0 ? clg_tref(g, b->grad) : CLG_NO_TENSOR;
    }
    return CLG_OK;
}

clg_status clg_replicas_create(clg_graph *const *graphs, int n, clg_replicas **out)
{
    const char *f = "clg_replicas_create";
    if (out) *out = NULL;
    clg_graph *g0 = graphs && n >= 1 && clg_graph_check(graphs[0], f) == CLG_OK ? graphs[0] : NULL;
    clg_context *c0 = g0 ? g0->ctx : NULL; /* messages go there; none without it */
    if (!graphs || n < 1 || !out || !g0)
        return clg_error(c0, CLG_ERR_INVALID_ARGUMENT, "%s: needs graphs, n >= 1 and out (n is %d)", f, n);
    for (int i = 0; i < n; i++) {
        if (clg_graph_check(graphs[i], f) != CLG_OK)
            return clg_error(g0->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: replica %d is not a live graph", f, i);
        for (int j = 0; j < i; j++)
            if (graphs[j] == graphs[i])
                return clg_error(g0->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: replica %d is replica %d again", f, i, j);
        if (!graphs[i]->has_backward)
            return clg_error(g0->ctx, CLG_ERR_STATE, "%s: replica %d has no backward (clg_backward first)", f, i);
        if (graphs[i]->optim && graphs[i]->optim->cfg.accumulate)
            return clg_error(g0->ctx, CLG_ERR_UNSUPPORTED,
                             "%s: replica %d accumulates gradients (clg_optimizer_config.accumulate), which "
                             "replicas do not take yet", f, i);
    }
    clg_replicas *r = calloc(1, sizeof *r);
    int np = params_of(g0, NULL);
    int32_t *ids0 = malloc((size_t)(np ? np : 1) * sizeof *ids0), *ids = malloc((size_t)(np ? np : 1) * sizeof *ids);
    if (r) {
        r->n = n;
        r->nparam = np;
        r->g = malloc((size_t)n * sizeof *r->g);
        r->param = malloc((size_t)n * (size_t)(np ? np : 1) * sizeof *r->param);
        r->grad = malloc((size_t)n * (size_t)(np ? np : 1) * sizeof *r->grad);
        r->numel = malloc((size_t)(np ? np : 1) * sizeof *r->numel);
    }
    if (!r || !ids0 || !ids || !r->g || !r->param || !r->grad || !r->numel) {
        free(ids0);
        free(ids);
        clg_replicas_destroy(r);
        return clg_error(g0->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
    }
    memcpy(r->g, graphs, (size_t)n * sizeof *r->g);
    params_of(g0, ids0);
    int64_t most = 1;
    for (int k = 0; k < np; k++) {
        r->numel[k] = g0->nodes[ids0[k]].numel;
        if (r->numel[k] > most) most = r->numel[k];
    }
    clg_status s = CLG_OK;
    for (int i = 0; i < n && s == CLG_OK; i++) s = match(r, i, ids0, ids);
    for (int i = 1; i < n; i++)
        r->mixed |= strcmp(clg_context_backend(r->g[i]->ctx), clg_context_backend(g0->ctx)) != 0 ||
                    strcmp(clg_context_device(r->g[i]->ctx), clg_context_device(g0->ctx)) != 0;
    free(ids0);
    free(ids);
    if (s == CLG_OK) {
        r->buf = malloc((size_t)most * sizeof *r->buf);
        r->sum = malloc((size_t)most * sizeof *r->sum);
        if (!r->buf || !r->sum) s = clg_error(g0->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
    }
    if (s == CLG_OK) s = copy_params(r, NULL);
    if (s != CLG_OK) {
        clg_replicas_destroy(r);
        return s;
    }
    *out = r;
    return CLG_OK;
}

/* Replica 0's parameters into the others. */
static clg_status copy_params(clg_replicas *r, failure_fn failed)
{
    clg_status s;
    for (int k = 0; k < r->nparam; k++) {
        if ((s = clg_tensor_get(r->g[0], r->param[k], r->buf, (size_t)r->numel[k])) != CLG_OK)
            return failed ? failed(r, 0, s, "reading its parameters") : s;
        for (int i = 1; i < r->n; i++)
            if ((s = clg_tensor_set(r->g[i], r->param[(size_t)i * r->nparam + k], r->buf, (size_t)r->numel[k])) !=
                CLG_OK)
                return failed ? failed(r, i, s, "writing replica 0's parameters") : s;
    }
    return CLG_OK;
}

/* A replica's failure, in replica 0's context: the replica and its device. */
static clg_status replica_failed(clg_replicas *r, int i, clg_status s, const char *what)
{
    if (i == 0) return s; /* its own message is there already */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", clg_context_errmsg(r->g[i]->ctx));
    return clg_error(r->g[0]->ctx, s, "clg_replicas_step: replica %d (%s), %s: %s", i,
                     clg_context_device(r->g[i]->ctx), what, msg);
}

clg_status clg_replicas_step(clg_replicas *r)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    clg_status s;
    for (int i = 0; i < r->n; i++)
        if ((s = clg_graph_run(r->g[i], CLG_RUN_FORWARD | CLG_RUN_BACKWARD)) != CLG_OK)
            return replica_failed(r, i, s, "forward and backward");
    const int np = r->nparam;
    for (int k = 0; k < np; k++) {
        if (r->grad[k].id < 0) continue;
        const size_t m = (size_t)r->numel[k];
        for (size_t j = 0; j < m; j++) r->sum[j] = 0;
        for (int i = 0; i < r->n; i++) {
            if ((s = clg_tensor_get(r->g[i], r->grad[(size_t)i * np + k], r->buf, m)) != CLG_OK)
                return replica_failed(r, i, s, "reading a gradient");
            for (size_t j = 0; j < m; j++) r->sum[j] += r->buf[j];
        }
        for (size_t j = 0; j < m; j++) r->buf[j] = (float)(r->sum[j] / r->n);
        for (int i = 0; i < r->n; i++)
            if ((s = clg_tensor_set(r->g[i], r->grad[(size_t)i * np + k], r->buf, m)) != CLG_OK)
                return replica_failed(r, i, s, "writing the averaged gradient");
    }
    for (int i = 0; i < r->n; i++)
        if ((s = clg_graph_run(r->g[i], CLG_RUN_UPDATE)) != CLG_OK) return replica_failed(r, i, s, "the update");
    return r->mixed ? copy_params(r, replica_failed) : CLG_OK;
}

int clg_replicas_count(const clg_replicas *r) { return r ? r->n : 0; }
