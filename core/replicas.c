/*
 * Data parallelism (issue 15): n graphs of one model, each on its own
 * context (any devices, any platforms) or several on one, each given an
 * equal slice of the batch, and optionally the same on other processes
 * through a clg_reducer (MPI: include/clgrad_mpi.h).
 *
 * A step, as PyTorch's DistributedDataParallel does it: the parameters'
 * gradients are grouped into buckets, in the order backward produces them
 * (the order of their nodes, the same on every replica and process).
 * Forward and backward are enqueued on every replica a segment at a time:
 * the segment that completes bucket b, then non-blocking reads of bucket
 * b's gradients (into pinned host memory where the backend has it), then
 * the next segment. While the devices run the later segments, the host
 * waits for bucket b's reads, sums the replicas in replica order in
 * double, and hands the sum to the reducer (non-blocking: an MPI
 * all-reduce runs while backward goes on). At the end each bucket's total
 * is divided by replicas x processes, rounded once to float and written
 * into every replica, and every replica runs its update. The same sums in
 * the same order whatever the timing: the same bits on every run.
 *
 * Starting from replica 0's parameters, which create copies into the
 * others (as DistributedDataParallel broadcasts rank 0's), and taking the
 * same updates, the replicas' parameters stay identical: bit for bit where
 * every replica runs on the same kind of device (the same update kernels);
 * where they differ (a GPU and PoCL, a device and the reference), their
 * update kernels may round differently, so replica 0's parameters are
 * copied into the others after each update. Batch norm keeps statistics
 * per replica, as DistributedDataParallel does without SyncBatchNorm.
 */
#include "internal.h"
#include "optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bucket: the gradients order[first .. first + count) of the step's
 * order, elems floats from offset in the staging and sum buffers. */
typedef struct {
    int first, count;
    size_t offset, elems;
} bucket;

struct clg_replicas {
    int n;
    clg_graph **g;
    int nparam;
    clg_tensor *param; /* [n][nparam] */
    clg_tensor *grad;  /* [n][nparam]; CLG_NO_TENSOR where the loss does not depend on the parameter */
    int64_t *numel;    /* [nparam] */
    bool mixed;        /* devices of more than one kind: replica 0's parameters copied after each update */
    float *buf;        /* the largest parameter's elements */
    double *sum;       /* [total]: the buckets' sums */
    /* the step's plan, made at the first step after create or a change */
    size_t bucket_bytes;
    clg_reducer red;   /* processes 1, start NULL: this process alone */
    bool planned;
    int *order;        /* [nparam]: the parameters with a gradient, by gradient node */
    size_t *offset;    /* [nparam]: each one's place in the staging buffers */
    int nbucket;
    bucket *bk;
    int32_t *cut;      /* [n][nbucket]: the last node of replica i's segment that completes bucket b */
    size_t total;      /* floats of all gradients */
    float **stage;     /* [n]: each replica's gradients as read, total floats */
    void **stage_handle; /* [n]: host_free's handle, NULL where malloc'd */
    void **event;      /* [n][nparam]: reads in flight */
    int32_t *pos;      /* [2n]: where each replica's run has got to; its node count when planned */
    double *weight;    /* [n]: each replica's share of the rows (clg_replicas_set_rows), or NULL: equal */
};

/* DistributedDataParallel's first bucket: small enough that the first
 * gradients are on their way early, large enough that a reducer's
 * latency per call is a small part of its time. */
#define BUCKET_BYTES ((size_t)1 << 20)

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

static void unplan(clg_replicas *r)
{
    for (int i = 0; r->stage && i < r->n; i++) {
        clg_backend *be = r->g[i]->ctx->be;
        if (r->stage_handle && r->stage_handle[i]) be->vt->host_free(be, r->stage_handle[i]);
        else free(r->stage[i]);
    }
#define DROP(p) (free(p), (p) = NULL)
    DROP(r->stage);
    DROP(r->stage_handle);
    DROP(r->event);
    DROP(r->order);
    DROP(r->offset);
    DROP(r->bk);
    DROP(r->cut);
    DROP(r->sum);
    DROP(r->pos);
#undef DROP
    r->planned = false;
}

void clg_replicas_destroy(clg_replicas *r)
{
    if (!r) return;
    unplan(r);
    if (r->red.release) r->red.release(r->red.user);
    free(r->weight);
    free(r->g);
    free(r->param);
    free(r->grad);
    free(r->numel);
    free(r->buf);
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
        r->bucket_bytes = BUCKET_BYTES;
        r->red.processes = 1;
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
        if (!r->buf) s = clg_error(g0->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
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

/* Buckets in the order of the gradient nodes (replica 0's, the same
 * everywhere: the graphs are built by the same code), each closed once it
 * holds bucket_bytes; each replica's cut is the end of the fused group
 * that writes the bucket's last gradient, and never before the previous
 * cut. Staging buffers from each replica's backend. */
static clg_status plan(clg_replicas *r)
{
    const char *f = "clg_replicas_step";
    const int n = r->n, np = r->nparam;
    clg_context *c0 = r->g[0]->ctx;
    int32_t most = 0;
    for (int i = 0; i < n; i++)
        if (r->g[i]->n > most) most = r->g[i]->n;
    r->order = malloc((size_t)(np ? np : 1) * sizeof *r->order);
    r->offset = malloc((size_t)(np ? np : 1) * sizeof *r->offset);
    r->bk = malloc((size_t)(np ? np : 1) * sizeof *r->bk);
    r->cut = malloc((size_t)n * (size_t)(np ? np : 1) * sizeof *r->cut);
    r->stage = calloc((size_t)n, sizeof *r->stage);
    r->stage_handle = calloc((size_t)n, sizeof *r->stage_handle);
    r->event = calloc((size_t)n * (size_t)(np ? np : 1), sizeof *r->event);
    r->pos = calloc((size_t)n * 2, sizeof *r->pos);
    int32_t *gend = malloc((size_t)(most ? most : 1) * sizeof *gend);
    if (!r->order || !r->offset || !r->bk || !r->cut || !r->stage || !r->stage_handle || !r->event || !r->pos ||
        !gend) {
        free(gend);
        unplan(r);
        return clg_error(c0, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
    }
    int m = 0;
    for (int k = 0; k < np; k++)
        if (r->grad[k].id >= 0) r->order[m++] = k;
    for (int a = 1; a < m; a++) /* by gradient node: few parameters, an insertion sort */
        for (int b = a; b > 0 && r->grad[r->order[b]].id < r->grad[r->order[b - 1]].id; b--) {
            int t = r->order[b];
            r->order[b] = r->order[b - 1];
            r->order[b - 1] = t;
        }
    r->total = 0;
    r->nbucket = 0;
    size_t bytes = 0;
    for (int a = 0; a < m; a++) {
        int k = r->order[a];
        if (bytes == 0) r->bk[r->nbucket++] = (bucket){a, 0, r->total, 0};
        bucket *b = &r->bk[r->nbucket - 1];
        r->offset[k] = r->total;
        b->count++;
        b->elems += (size_t)r->numel[k];
        r->total += (size_t)r->numel[k];
        bytes += (size_t)r->numel[k] * sizeof(float);
        if (bytes >= r->bucket_bytes) bytes = 0;
    }
    clg_status s = CLG_OK;
    for (int i = 0; i < n && s == CLG_OK; i++) {
        clg_graph *g = r->g[i];
        r->pos[n + i] = g->n;
        clg_graph_group_ends(g, gend, NULL);
        int32_t prev = -1;
        for (int b = 0; b < r->nbucket; b++) {
            int32_t c = prev;
            for (int a = r->bk[b].first; a < r->bk[b].first + r->bk[b].count; a++) {
                int32_t e = gend[r->grad[(size_t)i * np + r->order[a]].id];
                if (e > c) c = e;
            }
            r->cut[(size_t)i * np + b] = prev = c;
        }
        clg_backend *be = g->ctx->be;
        size_t cnt = r->total ? r->total : 1;
        if (be->vt->host_alloc) {
            s = be->vt->host_alloc(be, cnt, &r->stage[i], &r->stage_handle[i]);
            if (s != CLG_OK) s = clg_error(c0, s, "%s: replica %d (%s): %s", f, i, clg_context_device(g->ctx),
                                            clg_context_errmsg(g->ctx));
        } else if (!(r->stage[i] = malloc(cnt * sizeof(float)))) {
            s = clg_error(c0, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
        }
    }
    free(gend);
    /* the sums handed to a reducer; without one, the average is written as it is summed */
    if (s == CLG_OK && r->red.start && !(r->sum = malloc((r->total ? r->total : 1) * sizeof *r->sum)))
        s = clg_error(c0, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
    if (s != CLG_OK) {
        unplan(r);
        return s;
    }
    r->planned = true;
    return CLG_OK;
}

/* Enqueues the reads of bucket b's gradients on replica i. */
static clg_status read_bucket(clg_replicas *r, int i, int b)
{
    clg_graph *g = r->g[i];
    clg_backend *be = g->ctx->be;
    const int np = r->nparam;
    for (int a = r->bk[b].first; a < r->bk[b].first + r->bk[b].count; a++) {
        int k = r->order[a];
        const int32_t id = r->grad[(size_t)i * np + k].id;
        clg_status s = clg_node_storage(g, id, "clg_replicas_step");
        if (s != CLG_OK) return s;
        const clg_node *nd = &g->nodes[id];
        float *dst = r->stage[i] + r->offset[k];
        s = be->vt->buffer_read_start
                           ? be->vt->buffer_read_start(be, nd->buf, 0, dst, (size_t)r->numel[k],
                                                       &r->event[(size_t)i * np + k])
                           : be->vt->buffer_read(be, nd->buf, 0, dst, (size_t)r->numel[k], CLG_F32);
        if (s != CLG_OK) return s;
    }
    return CLG_OK;
}

/* Waits for the reads in flight (all of them, even after one failed: each
 * event is released once); the first failure's replica in *failed. */
static clg_status wait_reads(clg_replicas *r, int first, int count, int *failed)
{
    clg_status first_s = CLG_OK;
    for (int i = 0; i < r->n; i++) {
        clg_backend *be = r->g[i]->ctx->be;
        for (int a = first; a < first + count; a++) {
            void **ev = &r->event[(size_t)i * r->nparam + r->order[a]];
            if (!*ev) continue;
            clg_status s = be->vt->read_wait(be, *ev);
            *ev = NULL;
            if (s != CLG_OK && first_s == CLG_OK) {
                first_s = s;
                *failed = i;
            }
        }
    }
    return first_s;
}

static clg_status reducer_failed(clg_replicas *r, int b, const char *what, const char *err)
{
    return clg_error(r->g[0]->ctx, CLG_ERR_PEER, "clg_replicas_step: %s bucket %d of %d (%zu gradients) across %d "
                     "processes: %s", what, b, r->nbucket, r->bk[b].elems, r->red.processes,
                     err[0] ? err : "the reducer failed and gave no reason");
}

/* Bucket b's reads are done: its sum over the replicas, in replica order,
 * then handed to the reducer. */
static clg_status sum_bucket(clg_replicas *r, int b)
{
    int failed = 0;
    clg_status s = wait_reads(r, r->bk[b].first, r->bk[b].count, &failed);
    if (s != CLG_OK) return replica_failed(r, failed, s, "reading a gradient");
    const bucket *bk = &r->bk[b];
    double *sum = r->sum ? r->sum + bk->offset : NULL; /* NULL without a reducer: the average goes to staging */
    /* in blocks whose sums stay in L1: each gradient read once, the sum
     * written once (doubles, for the reducer) or the average at once
     * (floats, into replica 0's staging, which is read no more) */
    enum { BLOCK = 512 };
    double acc[BLOCK];
    const double div = r->weight ? 1.0 : (double)r->n;
    for (size_t j0 = 0; j0 < bk->elems; j0 += BLOCK) {
        const size_t m = bk->elems - j0 < BLOCK ? bk->elems - j0 : BLOCK;
        const size_t at = bk->offset + j0;
        if (r->weight) { /* slices of unequal rows: each replica's mean loss weighs its share */
            for (size_t j = 0; j < m; j++) acc[j] = r->weight[0] * r->stage[0][at + j];
            for (int i = 1; i < r->n; i++)
                for (size_t j = 0; j < m; j++) acc[j] += r->weight[i] * r->stage[i][at + j];
        } else {
            for (size_t j = 0; j < m; j++) acc[j] = r->stage[0][at + j];
            for (int i = 1; i < r->n; i++)
                for (size_t j = 0; j < m; j++) acc[j] += r->stage[i][at + j];
        }
        if (r->red.start) memcpy(sum + j0, acc, m * sizeof *acc);
        else
            for (size_t j = 0; j < m; j++) r->stage[0][at + j] = (float)(acc[j] / div);
    }
    if (r->red.start) {
        char err[512] = "";
        if (r->red.start(r->red.user, b, sum, bk->elems, err, sizeof err) != 0)
            return reducer_failed(r, b, "starting to sum", err);
    }
    return CLG_OK;
}

/* After a failure mid-step: no read may still write into the staging
 * buffers, and a reducer's sums in flight are waited for. */
static void abandon(clg_replicas *r, int waited, int started)
{
    int ignored;
    if (r->planned) wait_reads(r, 0, r->nbucket ? r->bk[r->nbucket - 1].first + r->bk[r->nbucket - 1].count : 0,
                               &ignored);
    char err[8];
    for (int b = waited; b < started && r->red.wait; b++) r->red.wait(r->red.user, b, err, sizeof err);
    for (int i = 0; i < r->n; i++) clg_graph_wait(r->g[i]);
}

clg_status clg_replicas_step(clg_replicas *r)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    clg_status s;
    const int n = r->n, np = r->nparam, ph = CLG_RUN_FORWARD | CLG_RUN_BACKWARD;
    if (n == 1 && r->red.processes == 1 && !r->red.start) /* nothing to average */
        return clg_graph_run(r->g[0], CLG_RUN_ALL);
    for (int i = 0; i < n; i++)
        if ((s = clg_graph_run_begin(r->g[i], ph)) != CLG_OK) return replica_failed(r, i, s, "forward and backward");
    for (int i = 0; r->planned && i < n; i++)
        if (r->pos[n + i] != r->g[i]->n) unplan(r); /* nodes were added: fused groups may have moved */
    if (!r->planned && (s = plan(r)) != CLG_OK) return s;
    int32_t *pos = r->pos;
    for (int i = 0; i < n; i++) pos[i] = 0;
    int summed = 0; /* buckets handed to the reducer */
    for (int b = 0; b <= r->nbucket; b++) {
        for (int i = 0; i < n; i++) {
            int32_t to = b < r->nbucket ? r->cut[(size_t)i * np + b] + 1 : r->g[i]->n;
            if ((s = clg_graph_run_nodes(r->g[i], ph, pos[i], to)) != CLG_OK) {
                abandon(r, 0, summed);
                return replica_failed(r, i, s, "forward and backward");
            }
            pos[i] = to;
            if (b < r->nbucket && (s = read_bucket(r, i, b)) != CLG_OK) {
                abandon(r, 0, summed);
                return replica_failed(r, i, s, "reading a gradient");
            }
        }
        /* the devices run segment b while the host sums bucket b - 1 */
        if (b > 0) {
            if ((s = sum_bucket(r, b - 1)) != CLG_OK) {
                abandon(r, 0, summed);
                return s;
            }
            summed = b;
        }
    }
    for (int i = 0; i < n; i++) clg_graph_run_end(r->g[i], ph);
    for (int b = 0; b < r->nbucket && r->red.wait; b++) {
        char err[512] = "";
        if (r->red.wait(r->red.user, b, err, sizeof err) != 0) {
            s = reducer_failed(r, b, "summing", err);
            abandon(r, b + 1, r->nbucket);
            return s;
        }
    }
    float *avg = r->stage[0]; /* the average, where sum_bucket did not write it already */
    if (r->red.start) {
        const double div = (r->weight ? 1.0 : (double)n) * (double)r->red.processes;
        for (size_t j = 0; j < r->total; j++) avg[j] = (float)(r->sum[j] / div);
    }
    for (int a = 0; r->nbucket && a < r->bk[r->nbucket - 1].first + r->bk[r->nbucket - 1].count; a++) {
        int k = r->order[a];
        for (int i = 0; i < n; i++)
            if ((s = clg_tensor_set(r->g[i], r->grad[(size_t)i * np + k], avg + r->offset[k], (size_t)r->numel[k])) !=
                CLG_OK)
                return replica_failed(r, i, s, "writing the averaged gradient");
    }
    for (int i = 0; i < n; i++)
        if ((s = clg_graph_run(r->g[i], CLG_RUN_UPDATE)) != CLG_OK) return replica_failed(r, i, s, "the update");
    return r->mixed ? copy_params(r, replica_failed) : CLG_OK;
}

clg_status clg_replicas_set_reducer(clg_replicas *r, const clg_reducer *red)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    if (red && (red->processes < 1 || (red->processes > 1 && (!red->start || !red->wait))))
        return clg_error(r->g[0]->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "clg_replicas_set_reducer: processes is %d; it must be at least 1, and with more than one "
                         "start and wait are needed", red->processes);
    if (r->red.release) r->red.release(r->red.user);
    r->red = red ? *red : (clg_reducer){.processes = 1};
    unplan(r); /* with a reducer, the plan keeps the sums in double */
    return CLG_OK;
}

clg_status clg_replicas_set_bucket_size(clg_replicas *r, size_t bytes)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    if (bytes < 1) return clg_error(r->g[0]->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_replicas_set_bucket_size: 0 bytes");
    unplan(r);
    r->bucket_bytes = bytes;
    return CLG_OK;
}

clg_status clg_replicas_set_rows(clg_replicas *r, const int64_t *rows)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    double *w = NULL;
    if (rows) {
        double total = 0;
        for (int i = 0; i < r->n; i++) {
            if (rows[i] < 1)
                return clg_error(r->g[0]->ctx, CLG_ERR_INVALID_ARGUMENT,
                                 "clg_replicas_set_rows: replica %d has %lld rows; each needs at least 1", i,
                                 (long long)rows[i]);
            total += (double)rows[i];
        }
        if (!(w = malloc((size_t)r->n * sizeof *w)))
            return clg_error(r->g[0]->ctx, CLG_ERR_OUT_OF_MEMORY, "clg_replicas_set_rows: out of host memory");
        for (int i = 0; i < r->n; i++) w[i] = (double)rows[i] / total;
    }
    free(r->weight);
    r->weight = w;
    return CLG_OK;
}

int clg_replicas_buckets(clg_replicas *r)
{
    if (!r) return 0;
    if (!r->planned && plan(r) != CLG_OK) return 0;
    return r->nbucket;
}

int clg_replicas_count(const clg_replicas *r) { return r ? r->n : 0; }
