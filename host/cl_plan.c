/*
 * Whole-graph plans for the OpenCL backend: each node's launches compiled
 * once, when the graph is prepared, so that a run is a list of
 * clEnqueueNDRangeKernel calls.
 *
 * Building a plan runs every node's family function once in recording
 * mode: the launch helpers (clg_cl_launch and the reductions' passes) then
 * keep, instead of enqueuing, the kernel, its global and local sizes, and
 * its arguments, bound to a kernel object of the node's own (OpenCL keeps
 * arguments in the kernel object, so a shared one could hold only the last
 * node's). Every choice a family function makes from shapes (which kernel,
 * how many work-groups, one pass or two) is thus made once.
 *
 * What a plan cannot hold runs node by node as before: a node that calls
 * CLBlast (its GEMMs choose and enqueue their own kernels) or enqueues a
 * copy. A node whose fields change after the plan was built (the
 * optimizer's step constants each step, dropout's RNG counter each run,
 * the training flag) is recorded again into its own kernel objects before
 * it is enqueued, and a fused group (host/cl_fuse.c) with such a member
 * gets its kernel generated again for them: the plan never runs stale
 * arguments. A group's members run only in it (those read only inside
 * have no memory). The core frees the plan, and builds another, whenever
 * the graph's nodes or buffers are planned again.
 */
#include "cl_backend.h"
#include "cl_fuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rec_launch {
    int k; /* K_* */
    cl_kernel kern;
    size_t global, local;
} rec_launch;

/* What a node's recorded launches depend on besides the shapes, which never
 * change: compared before each run of the node. Zeroed before it is filled
 * (padding too), so that it compares with memcmp. */
typedef struct node_key {
    float f[4];
    int64_t i[8];
    uint64_t counter; /* random ops only: others ignore it */
    const void *bufs[1 + CLG_MAX_AUX + CLG_MAX_SRC];
    bool training;
} node_key;

typedef struct clg_cl_node_plan {
    rec_launch *l;
    int n, cap, used;
    bool opaque; /* runs node by node */
    int fused;   /* 1 + its fused group (host/cl_fuse.c), or 0 */
    node_key key;
    node_key fkey; /* its key when its group's kernel was built (bound to those fields) */
} clg_cl_node_plan;

typedef struct cl_plan {
    clg_cl_node_plan *np;
    int32_t count;
    clg_cl_fused fused;
} cl_plan;

static void key_of(const clg_node *nodes, const clg_node *n, node_key *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k->f, n->f, sizeof k->f);
    memcpy(k->i, n->i, sizeof k->i);
    if (clg_op_family(n->op) == CLG_FAM_RANDOM) k->counter = n->counter;
    k->bufs[0] = n->buf;
    for (int a = 0; a < CLG_MAX_AUX; a++) k->bufs[1 + a] = n->aux[a];
    for (int s = 0; s < CLG_MAX_SRC; s++) k->bufs[1 + CLG_MAX_AUX + s] = n->src[s] >= 0 ? nodes[n->src[s]].buf : NULL;
    /* only batch norm, dropout and observers launch differently in evaluation: a graph
     * switched to it records and runs the rest (fused groups too) as before */
    const clg_family fam = clg_op_family(n->op);
    k->training = (fam == CLG_FAM_NORM || fam == CLG_FAM_RANDOM || n->op == CLG_OP_OBSERVE) && n->training;
}

static void release_launches(clg_cl_node_plan *np, int from)
{
    for (int j = from; j < np->n; j++)
        if (np->l[j].kern) clReleaseKernel(np->l[j].kern);
    np->n = from < np->n ? from : np->n;
}

bool clg_cl_opaque(clg_cl_backend *b)
{
    if (!b->rec) return false;
    b->rec_opaque = true;
    return true;
}

clg_status clg_cl_record_launch(clg_cl_backend *b, int k, const clg_karg *args, int nargs, size_t global,
                                size_t local)
{
    clg_cl_node_plan *np = b->rec;
    int j = np->used;
    if (j == np->cap) {
        int cap = np->cap ? 2 * np->cap : 4;
        rec_launch *l = realloc(np->l, (size_t)cap * sizeof *l);
        if (!l) return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "recording a plan: out of host memory");
        np->l = l;
        np->cap = cap;
    }
    if (j == np->n) {
        np->l[j].kern = NULL;
        np->n++;
    }
    rec_launch *L = &np->l[j];
    if (L->kern && L->k != k) { /* a node recorded again may launch other kernels */
        clReleaseKernel(L->kern);
        L->kern = NULL;
    }
    if (!L->kern) {
        cl_int err;
        L->kern = clCreateKernel(b->program, clg_cl_kernel_name(k), &err);
        if (err != CL_SUCCESS) {
            L->kern = NULL;
            char what[96];
            snprintf(what, sizeof what, "clCreateKernel(%s) for the graph's plan", clg_cl_kernel_name(k));
            return clg_cl_fail(b, err, what);
        }
    }
    L->k = k;
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(L->kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", clg_cl_kernel_name(k), i);
            return clg_cl_fail(b, err, what);
        }
    }
    L->global = global;
    L->local = local;
    np->used++;
    return CLG_OK;
}

/* Records node n into np (again: its kernel objects are reused). */
static clg_status record(clg_cl_backend *b, clg_cl_node_plan *np, const clg_node *nodes, const clg_node *n)
{
    if (clg_cl_generated_only(nodes, n)) { /* its group's kernel runs it */
        release_launches(np, 0);
        np->opaque = false;
        key_of(nodes, n, &np->key);
        return CLG_OK;
    }
    b->rec = np;
    b->rec_opaque = false;
    np->used = 0;
    clg_status s = clg_cl_run_node(&b->base, nodes, n);
    b->rec = NULL;
    np->opaque = b->rec_opaque;
    release_launches(np, np->opaque || s != CLG_OK ? 0 : np->used);
    if (s != CLG_OK) return s;
    key_of(nodes, n, &np->key);
    return CLG_OK;
}

void clg_cl_plan_free(clg_backend *be, void *plan)
{
    (void)be;
    cl_plan *p = plan;
    if (!p) return;
    /* a run in flight keeps its kernels: OpenCL retains what it enqueued */
    for (int32_t i = 0; i < p->count; i++) {
        release_launches(&p->np[i], 0);
        free(p->np[i].l);
    }
    clg_cl_fuse_free(&p->fused);
    free(p->np);
    free(p);
}

clg_status clg_cl_plan_build(clg_backend *be, const clg_node *nodes, int32_t count, void **plan)
{
    clg_cl_backend *b = CLB(be);
    *plan = NULL;
    cl_plan *p = calloc(1, sizeof *p);
    if (p) p->np = calloc((size_t)(count ? count : 1), sizeof *p->np);
    if (!p || !p->np) {
        free(p);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "building the graph's plan: out of host memory");
    }
    p->count = count;
    clg_status s = clg_cl_fuse_build(b, nodes, count, &p->fused);
    if (s != CLG_OK) {
        clg_error_wrap(be->ctx, s, "building the graph's plan");
        clg_cl_plan_free(be, p);
        return s;
    }
    for (int k = 0; k < p->fused.count; k++)
        for (int32_t i = p->fused.group[k].first; i <= p->fused.group[k].last; i++) {
            if (clg_op_family(nodes[i].op) == CLG_FAM_LEAF) continue; /* a group may span leaves */
            p->np[i].fused = 1 + k;
            key_of(nodes, &nodes[i], &p->np[i].fkey);
        }
    /* the rest recorded, and a batched update's members, which run one by
     * one while their step arguments differ (run_group) */
    for (int32_t i = 0; i < count; i++) {
        const clg_node *n = &nodes[i];
        if (clg_op_family(n->op) == CLG_FAM_LEAF) continue;
        if (p->np[i].fused && p->fused.group[p->np[i].fused - 1].kind != CLG_FG_UPDATE) continue;
        s = record(b, &p->np[i], nodes, n);
        if (s != CLG_OK) {
            char d[256];
            clg_node_describe(nodes, n, d, sizeof d);
            clg_error_wrap(be->ctx, s, "building the graph's plan: node %d (%s)", (int)i, d);
            clg_cl_plan_free(be, p);
            return s;
        }
    }
    *plan = p;
    return CLG_OK;
}

/* Node n as recorded: bound again first if its fields changed. */
static clg_status run_recorded(clg_cl_backend *b, clg_cl_node_plan *np, const clg_node *nodes, const clg_node *n)
{
    clg_status s = CLG_OK;
    if (np->opaque || clg_cl_generated_only(nodes, n)) return clg_cl_run_node(&b->base, nodes, n);
    node_key k;
    key_of(nodes, n, &k);
    if (memcmp(&k, &np->key, sizeof k) != 0) s = record(b, np, nodes, n);
    /* record may find the node now needs CLBlast or a copy */
    if (s == CLG_OK && np->opaque) return clg_cl_run_node(&b->base, nodes, n);
    for (int j = 0; s == CLG_OK && j < np->n; j++) {
        rec_launch *L = &np->l[j];
        cl_int err = clEnqueueNDRangeKernel(b->queue, L->kern, 1, NULL, &L->global, &L->local, 0, NULL, clg_cl_event_slot(b));
        clg_cl_event_done(b);
        b->base.launches++;
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", clg_cl_kernel_name(L->k));
            s = clg_cl_fail(b, err, what);
        }
    }
    return s;
}

/* A batched update runs as one when its members still have the buffers it
 * was built on and share their step arguments (they change each step,
 * the same for every parameter of one optimizer): those are set now. */
static bool update_ready(clg_cl_backend *b, cl_plan *p, const clg_cl_fused_group *g, const clg_node *nodes,
                         cl_int *err)
{
    const clg_node *f = &nodes[g->first];
    for (int32_t i = g->first; i <= g->last; i++) {
        const clg_node *n = &nodes[i];
        node_key k;
        key_of(nodes, n, &k);
        if (memcmp(k.bufs, p->np[i].key.bufs, sizeof k.bufs) != 0 || memcmp(n->f, f->f, sizeof n->f) != 0 ||
            n->i[0] != f->i[0] || n->i[1] != f->i[1] || n->i[2] != f->i[2] || memcmp(&n->i[4], &f->i[4], 4 * sizeof n->i[0]) != 0)
            return false;
    }
    float a[8];
    cl_int flags;
    clg_cl_fused_update_args(f, a, &flags);
    *err = CL_SUCCESS;
    for (int k = 0; k < 8 && *err == CL_SUCCESS; k++) *err = clSetKernelArg(g->kern, (cl_uint)(g->nargs + k), sizeof a[k], &a[k]);
    if (*err == CL_SUCCESS) *err = clSetKernelArg(g->kern, (cl_uint)(g->nargs + 8), sizeof flags, &flags);
    return true;
}

/* A fused group, at its last node: its one kernel. */
static clg_status run_group(clg_cl_backend *b, cl_plan *p, const clg_cl_fused_group *g, const clg_node *nodes,
                            int32_t *failed)
{
    bool same = true;
    if (g->kind == CLG_FG_UPDATE) {
        cl_int err = CL_SUCCESS;
        same = update_ready(b, p, g, nodes, &err);
        if (err != CL_SUCCESS) {
            *failed = g->last;
            return clg_cl_fail(b, err, "clSetKernelArg(a batched update)");
        }
    }
    for (int32_t i = g->first; same && g->kind != CLG_FG_UPDATE && i <= g->last; i++) {
        if (!p->np[i].fused) continue; /* a leaf */
        node_key k;
        key_of(nodes, &nodes[i], &k);
        same = memcmp(&k, &p->np[i].fkey, sizeof k) == 0;
    }
    if (!same && g->kind != CLG_FG_UPDATE) {
        /* a member's fields differ from those the kernel was built on (a
         * graph switched to evaluation): the kernel for them, the same
         * group (groups never depend on fields), built once per source */
        clg_status s = clg_cl_fuse_regenerate(b, nodes, p->count, &p->fused,
                                              (int)(g - p->fused.group));
        if (s != CLG_OK) {
            *failed = g->last;
            return s;
        }
        for (int32_t i = g->first; i <= g->last; i++)
            if (p->np[i].fused) key_of(nodes, &nodes[i], &p->np[i].fkey);
        same = true;
    }
    if (!same) { /* a batched update whose members' step arguments differ: one by one */
        for (int32_t i = g->first; i <= g->last; i++) {
            if (!p->np[i].fused) continue;
            clg_status s = run_recorded(b, &p->np[i], nodes, &nodes[i]);
            if (s != CLG_OK) {
                *failed = i;
                return s;
            }
        }
        return CLG_OK;
    }
    cl_int err = clEnqueueNDRangeKernel(b->queue, g->kern, 1, NULL, &g->global, &g->local, 0, NULL, clg_cl_event_slot(b));
    clg_cl_event_done(b);
    b->base.launches++;
    if (err == CL_SUCCESS) return CLG_OK;
    *failed = g->last;
    return clg_cl_fail(b, err, "clEnqueueNDRangeKernel(a fused kernel)");
}

clg_status clg_cl_plan_run(clg_backend *be, void *plan, const clg_node *nodes, int32_t from, int32_t count,
                           int phases, int32_t *failed)
{
    clg_cl_backend *b = CLB(be);
    cl_plan *p = plan;
    for (int32_t i = from; i < count && i < p->count; i++) {
        const clg_node *n = &nodes[i];
        if (clg_op_family(n->op) == CLG_FAM_LEAF || !(n->phase & phases)) continue;
        clg_cl_node_plan *np = &p->np[i];
        if (np->fused) { /* the group runs at its last node; its nodes are consecutive, of one phase */
            const clg_cl_fused_group *g = &p->fused.group[np->fused - 1];
            if (i < g->last) continue;
            clg_status s = run_group(b, p, g, nodes, failed);
            if (s != CLG_OK) return s;
            continue;
        }
        clg_status s = run_recorded(b, np, nodes, n);
        if (s != CLG_OK) {
            *failed = i;
            return s;
        }
    }
    return CLG_OK;
}
