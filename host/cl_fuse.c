/*
 * Fused elementwise kernels: chains of elementwise ops compiled into one
 * generated kernel per chain when the graph is prepared (as tinygrad and
 * XLA do), reading each input once and writing only what is read outside
 * the chain or kept.
 *
 * A group is a run of consecutive nodes (in run order) of one phase whose
 * ops are elementwise (the EW_ macros of cl/common.cl: arithmetic with
 * broadcasting inputs, scale, the activations and their gradients) and
 * whose outputs have one shape; or a run of parameter updates of one
 * optimizer, batched into one launch (a multi-tensor update). The core asks for the groups before it
 * plans memory (vtable fusion), so that what a group reads lives until its
 * last node: a group's outputs never share memory with its inputs.
 *
 * The generated OpenCL C is one statement per node, named after it, over
 * common.cl's macros, the ones the hand-written kernels expand, so a fused
 * chain rounds exactly as its ops one by one. One program per graph holds
 * its groups' kernels; it is built like clgrad's own (same options, the
 * on-disk cache keyed by its source). CLGRAD_FUSION=off (read when a
 * context is made) runs unfused; CLGRAD_FUSION_DUMP=DIR writes each
 * generated program there. A program that fails to build is an error with
 * the compiler's log and the path of its source, never a silent fallback.
 */
#include "../core/optim.h"
#include "cl_backend.h"
#include "cl_fuse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ops that fuse: each has EW_<NAME>(a, b, c) in cl/common.cl. */
#define CLG_FUSABLE_LIST(X)                                                                        \
    X(ADD) X(SUB) X(MUL) X(DIV) X(NEG) X(SCALE) X(SQUARE) X(EXP) X(LOG) X(SQRT) X(RELU)           \
    X(RELU_GRAD) X(SIGMOID) X(SIGMOID_GRAD) X(TANH) X(TANH_GRAD) X(LEAKY_RELU) X(LEAKY_RELU_GRAD) \
    X(GELU) X(GELU_GRAD) X(SILU) X(SILU_GRAD) X(SOFTPLUS) X(SOFTPLUS_GRAD)

static const char *const ew_macro[CLG_OP_COUNT] = {
#define EW_NAME(op) [CLG_OP_##op] = "EW_" #op,
    CLG_FUSABLE_LIST(EW_NAME)
#undef EW_NAME
};

static bool same_shape(const clg_node *a, const clg_node *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* An elementwise op of float tensors (the core asks before buffers exist). */
static bool fusable_op(const clg_node *nodes, const clg_node *n)
{
    if ((unsigned)n->op >= CLG_OP_COUNT || !ew_macro[n->op] || n->dtype != CLG_F32) return false;
    for (int k = 0; k < CLG_MAX_SRC; k++)
        if (n->src[k] >= 0 && nodes[n->src[k]].dtype != CLG_F32) return false;
    return true;
}

/* ... and it has its buffer: the plan is built */
static bool fusable(const clg_node *nodes, const clg_node *n)
{
    return fusable_op(nodes, n) && n->buf;
}

/* A parameter update that batches with others: one generated kernel for a
 * run of updates of one kind, flags and clip coefficient (PyTorch's
 * "foreach" updates), since they differ only in their buffers. */
static bool batchable_update(const clg_node *n)
{
    if (n->op != CLG_OP_OPTIM_UPDATE) return false;
    switch ((clg_optimizer_kind)n->i[0]) {
    case CLG_OPTIM_SGD:
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW:
    case CLG_OPTIM_RMSPROP:
    case CLG_OPTIM_ADAGRAD: return true;
    default: return false;
    }
}

/* Whether n may join the group that first starts. */
static bool joins(const clg_cl_backend *b, const clg_node *nodes, const clg_node *first, const clg_node *n,
                  int32_t size)
{
    if (n->phase != first->phase) return false;
    if (fusable_op(nodes, first))
        return size < b->fuse_max_nodes && fusable_op(nodes, n) && same_shape(n, first);
    return size < b->fuse_max_updates && batchable_update(first) && batchable_update(n) && n->i[0] == first->i[0] &&
           n->i[2] == first->i[2];
}

void clg_cl_fusion_groups(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t *end)
{
    for (int32_t i = 0; i < count; i++) end[i] = i;
    if (!b->fuse) return;
    for (int32_t i = 0; i < count;) {
        int32_t j = i;
        if (fusable_op(nodes, &nodes[i]) || (b->optim_source >= 0 && batchable_update(&nodes[i])))
            while (j + 1 < count && joins(b, nodes, &nodes[i], &nodes[j + 1], j + 1 - i)) j++;
        for (int32_t k = i; k <= j; k++) end[k] = j;
        i = j + 1;
    }
}

void clg_cl_fusion(const clg_backend *be, const clg_node *nodes, int32_t count, int32_t *end)
{
    clg_cl_fusion_groups((const clg_cl_backend *)be, nodes, count, end);
}

/* ---- code generation ---- */

typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} text;

static void put(text *t, const char *fmt, ...)
{
    if (t->oom) return;
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)n) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* A float as an exact OpenCL C constant, NaN and infinities included. */
static void put_float(text *t, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put(t, "as_float(0x%08xu)", (unsigned)bits);
}

/* Whether node v's output is read outside [first, last]: by a node outside
 * through its sources, or through theirs (ops that read their forward
 * node's inputs), or it is not a pool tensor (kept, named, a sink). */
static bool read_outside(const clg_node *nodes, int32_t count, int32_t v, int32_t first, int32_t last)
{
    if (!nodes[v].pooled) return true;
    for (int32_t r = 0; r < count; r++) {
        if (r >= first && r <= last) continue;
        for (int k = 0; k < CLG_MAX_SRC; k++) {
            int32_t s = nodes[r].src[k];
            if (s < 0) continue;
            if (s == v) return true;
            for (int m = 0; m < CLG_MAX_SRC; m++)
                if (nodes[s].src[m] == v) return true;
        }
    }
    return false;
}

/* One group's kernel: its source into t, its arguments (buffers) into
 * args in order. Returns the argument count. */
static int generate(text *t, int gi, const clg_node *nodes, int32_t count, int32_t first, int32_t last, int vw,
                    cl_mem *args, int max_args, int *nin)
{
    int32_t ext[2 * CLG_FUSED_MAX_NODES];
    int next = 0, nargs = 0;
    const clg_node *shape = &nodes[first];
    /* the inputs: sources from outside the group, each once */
    for (int32_t i = first; i <= last; i++)
        for (int k = 0; k < clg_op_nsrc(nodes[i].op); k++) {
            int32_t s = nodes[i].src[k];
            if (s < 0 || (s >= first && s <= last)) continue;
            bool seen = false;
            for (int e = 0; e < next; e++) seen |= ext[e] == s;
            if (!seen && next < (int)(sizeof ext / sizeof ext[0])) ext[next++] = s;
        }
    *nin = next;
    put(t, "\n/* group %d: nodes %d to %d */\n__kernel void clg_fused_%d(", gi, (int)first, (int)last, gi);
    for (int e = 0; e < next && nargs < max_args; e++) {
        put(t, "%s__global const float *in%d", e ? ", " : "", (int)ext[e]);
        args[nargs++] = MEM(nodes[ext[e]].buf);
    }
    for (int32_t i = first; i <= last; i++) {
        if (!read_outside(nodes, count, i, first, last) || nargs >= max_args) continue;
        put(t, "%s__global float *out%d", nargs ? ", " : "", (int)i);
        args[nargs++] = MEM(nodes[i].buf);
    }
    put(t, ", long n)\n{\n");
    /* CLG_VW elements per work-item, then the tail one by one: the op
     * kernels' layout (cl/common.cl), so each element rounds as there */
    for (int pass = 0; pass < 2; pass++) {
        const bool vec = pass == 0;
        const char *ty = vec ? "floatv" : "float";
        if (vec)
            put(t, "    const long nv = n / CLG_VW;\n    for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {\n"
                   "        const long i0 = q * CLG_VW;\n");
        else
            put(t, "    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {\n");
        for (int e = 0; e < next; e++) {
            const clg_node *in = &nodes[ext[e]];
            int id = (int)ext[e];
            if (same_shape(in, shape)) {
                if (vec) put(t, "        const floatv x%d = VLOAD(q, in%d);\n", id, id);
                else put(t, "        const float x%d = in%d[i];\n", id, id);
            } else if (in->numel == 1) {
                put(t, "        const %s x%d = %s(in%d[0]);\n", ty, id, vec ? "VSPLAT" : "", id);
            } else {
                int64_t dims[CLG_MAX_DIMS], st[CLG_MAX_DIMS];
                clg_padded_shape(shape, dims);
                clg_broadcast_strides(in, shape, st);
                char bc[160];
                snprintf(bc, sizeof bc, "(long4)(%lld, %lld, %lld, %lld), (long4)(%lld, %lld, %lld, %lld)",
                         (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)dims[3], (long long)st[0],
                         (long long)st[1], (long long)st[2], (long long)st[3]);
                if (!vec) {
                    put(t, "        const float x%d = in%d[bcast_offset(i, %s)];\n", id, id, bc);
                } else if (vw == 1) {
                    put(t, "        const floatv x%d = in%d[bcast_offset(i0, %s)];\n", id, id, bc);
                } else { /* gathered lane by lane */
                    put(t, "        const floatv x%d = (floatv)(", id);
                    for (int l = 0; l < vw; l++) put(t, "%sin%d[bcast_offset(i0 + %d, %s)]", l ? ", " : "", id, l, bc);
                    put(t, ");\n");
                }
            }
        }
        for (int32_t i = first; i <= last; i++) {
            const clg_node *n = &nodes[i];
            char a[24], bb[40];
            snprintf(bb, sizeof bb, vec ? "VSPLAT(0.0f)" : "0.0f");
            snprintf(a, sizeof a, "0.0f");
            for (int k = 0; k < clg_op_nsrc(n->op) && k < 2; k++) {
                int32_t sid = n->src[k];
                snprintf(k ? bb : a, k ? sizeof bb : sizeof a, "%c%d", sid >= first && sid <= last ? 'v' : 'x', (int)sid);
            }
            put(t, "        /* node %d: %s */\n        const %s v%d = %s%s(%s, %s, ", (int)i, clg_op_name(n->op), ty, (int)i,
                vec ? "EWV_" : "EW_", ew_macro[n->op] + 3, a, bb);
            put_float(t, n->f[0]);
            put(t, ");\n");
        }
        for (int32_t i = first; i <= last; i++)
            if (read_outside(nodes, count, i, first, last)) {
                if (vec) put(t, "        VSTORE(v%d, q, out%d);\n", (int)i, (int)i);
                else put(t, "        out%d[i] = v%d;\n", (int)i, (int)i);
            }
        put(t, "    }\n");
    }
    put(t, "}\n");
    return nargs;
}

/* A batched update's kernel: every member's element loop in one index
 * space, each through optim.cl's per-element function, so that it rounds
 * as the member's own kernel. Buffers are bound once (args); the eight
 * step arguments and the flags, the same for every member, follow them and
 * are set before each run (clg_cl_fused_update_args). */
static int generate_update(text *t, int gi, const clg_node *nodes, int32_t first, int32_t last, cl_mem *args,
                           int64_t *total)
{
    static const char *const fn[] = {[CLG_OPTIM_SGD] = "optim_sgd_at", [CLG_OPTIM_ADAM] = "optim_adam_at",
                                     [CLG_OPTIM_ADAMW] = "optim_adam_at", [CLG_OPTIM_RMSPROP] = "optim_rmsprop_at",
                                     [CLG_OPTIM_ADAGRAD] = "optim_adagrad_at"};
    /* the buffers and step arguments each kind's function takes (cl_optim.c's run_update) */
    static const int nbufs[] = {[CLG_OPTIM_SGD] = 3, [CLG_OPTIM_ADAM] = 5, [CLG_OPTIM_ADAMW] = 5,
                                [CLG_OPTIM_RMSPROP] = 5, [CLG_OPTIM_ADAGRAD] = 3};
    static const char *const scalars[] = {[CLG_OPTIM_SGD] = "a0, a1, a2, a3", [CLG_OPTIM_ADAM] = "a1, a2, a3, a4, a5, a6",
                                          [CLG_OPTIM_ADAMW] = "a1, a2, a3, a4, a5, a6",
                                          [CLG_OPTIM_RMSPROP] = "a0, a1, a2, a3, a4",
                                          [CLG_OPTIM_ADAGRAD] = "a0, a1, a2"};
    const clg_optimizer_kind kind = (clg_optimizer_kind)nodes[first].i[0];
    int nargs = 0;
    put(t, "\n/* group %d: the parameter updates of nodes %d to %d, batched */\n__kernel void clg_fused_%d(", gi,
        (int)first, (int)last, gi);
    for (int32_t i = first; i <= last; i++) {
        const clg_node *n = &nodes[i];
        cl_mem w = MEM(n->buf);
        /* W, G, then the state (an unused slot: W, which the flags leave untouched) */
        cl_mem b[5] = {w, MEM(nodes[n->src[0]].buf), w, w, w};
        for (int k = 1; k <= 3; k++)
            if (n->src[k] >= 0) b[k + 1] = MEM(nodes[n->src[k]].buf);
        for (int k = 0; k < nbufs[kind]; k++) {
            put(t, "%s__global float *b%d_%d", nargs ? ", " : "", (int)i, k);
            args[nargs++] = b[k];
        }
    }
    const clg_node *f = &nodes[first];
    args[nargs++] = f->i[2] >= 0 ? MEM(nodes[f->i[2]].buf) : MEM(f->buf); /* clip coefficient, if any */
    put(t, ", __global const float *clip, float a0, float a1, float a2, float a3, float a4, float a5, float a6, "
           "float a7, int flags)\n{\n    const float c = optim_clip_scale(clip, flags);\n");
    int64_t end = 0;
    for (int32_t i = first; i <= last; i++) end += nodes[i].numel;
    *total = end;
    put(t, "    for (long i = get_global_id(0); i < %lldL; i += get_global_size(0)) {\n", (long long)end);
    int64_t start = 0;
    for (int32_t i = first; i <= last; i++) {
        const int64_t stop = start + nodes[i].numel;
        put(t, "        %sif (i < %lldL) /* node %d: %s */\n            %s(", i == first ? "" : "else ", (long long)stop,
            (int)i, clg_op_name(nodes[i].op), fn[kind]);
        for (int k = 0; k < nbufs[kind]; k++) put(t, "b%d_%d, ", (int)i, k);
        put(t, "i - %lldL, c, %s, flags);\n", (long long)start, scalars[kind]);
        start = stop;
    }
    put(t, "    }\n}\n");
    return nargs;
}

void clg_cl_fused_update_args(const clg_node *n, float a[OPTIM_NARGS], cl_int *flags)
{
    for (int k = 0; k < OPTIM_NARGS; k++) a[k] = optim_arg(n, k);
    *flags = (cl_int)n->i[1];
}

/* Writes the generated source to dir (CLGRAD_FUSION_DUMP, else the
 * temporary folder on a failed build); the path into path. */
static bool dump(const char *dir, const char *src, size_t len, char *path, size_t size)
{
    static unsigned seq; /* only names files: a race gives two the same name, one then wins */
    snprintf(path, size, "%s/clgrad-fused-%ld-%u.cl", dir, (long)getpid(), seq++);
    FILE *f = fopen(path, "w");
    if (!f) return false;
    bool ok = fwrite(src, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

clg_status clg_cl_fuse_build(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *out)
{
    clg_backend *be = &b->base;
    memset(out, 0, sizeof *out);
    int32_t *end = malloc((size_t)(count ? count : 1) * sizeof *end);
    if (!end) return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    clg_cl_fusion_groups(b, nodes, count, end);
    int ngroups = 0;
    for (int32_t i = 0; i < count; i = end[i] + 1)
        if (end[i] > i && (fusable(nodes, &nodes[i]) || batchable_update(&nodes[i]))) ngroups++;
    if (!ngroups) {
        free(end);
        return CLG_OK;
    }
    out->group = calloc((size_t)ngroups, sizeof *out->group);
    if (!out->group) {
        free(end);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    text t = {0};
    put(&t, "/* clgrad: fused elementwise kernels of one graph (host/cl_fuse.c) */\n");
    int gi = 0;
    for (int32_t i = 0; i < count; i = end[i] + 1) {
        if (end[i] == i || !(fusable(nodes, &nodes[i]) || batchable_update(&nodes[i]))) continue;
        clg_cl_fused_group *g = &out->group[gi];
        g->first = i;
        g->last = end[i];
        g->update = batchable_update(&nodes[i]);
        if (g->update) {
            g->nargs = generate_update(&t, gi, nodes, i, end[i], g->args, &g->n);
        } else {
            g->nargs = generate(&t, gi, nodes, count, i, end[i], b->vw, g->args, CLG_FUSED_MAX_ARGS, &g->ninputs);
            g->n = nodes[i].numel;
        }
        gi++;
    }
    out->count = gi;
    free(end);
    if (t.oom) {
        free(t.s);
        clg_cl_fuse_free(out);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    const char *dump_dir = getenv("CLGRAD_FUSION_DUMP");
    char path[512] = "";
    if (dump_dir && *dump_dir) dump(dump_dir, t.s, t.len, path, sizeof path);

    const char *options = b->options; /* as clgrad's own program: the same vector width and rounding */
    /* common.cl, optim.cl when updates are batched (its per-element
     * functions), then the groups */
    const char *sources[3] = {clg_cl_sources[0]};
    int nsrc = 1;
    for (int k = 0; k < out->count; k++)
        if (out->group[k].update) {
            sources[nsrc++] = clg_cl_sources[b->optim_source];
            break;
        }
    sources[nsrc++] = t.s;
    clg_status s = CLG_OK;
    if (!clg_cl_cache_load(b->context, b->dev.device, sources, nsrc, options, &out->program)) {
        s = clg_cl_build_program(be->ctx, b->context, b->dev.device, sources, nsrc, options, &out->program);
        if (s == CLG_OK) {
            clg_cl_cache_store(out->program, b->dev.device, sources, nsrc, options);
        } else {
            if (!path[0]) {
                const char *tmp = getenv("TMPDIR");
                if (!dump(tmp && *tmp ? tmp : "/tmp", t.s, t.len, path, sizeof path)) snprintf(path, sizeof path, "(not written)");
            }
            clg_error_wrap(be->ctx, s, "building the fused kernels of the graph (source: %s)", path);
        }
    }
    free(t.s);
    for (int k = 0; s == CLG_OK && k < out->count; k++) {
        clg_cl_fused_group *g = &out->group[k];
        char name[32];
        snprintf(name, sizeof name, "clg_fused_%d", k);
        cl_int err;
        g->kern = clCreateKernel(out->program, name, &err);
        if (err != CL_SUCCESS) {
            g->kern = NULL;
            s = clg_cl_fail(b, err, "clCreateKernel(a fused kernel)");
            break;
        }
        for (int a = 0; a < g->nargs && err == CL_SUCCESS; a++) err = clSetKernelArg(g->kern, (cl_uint)a, sizeof(cl_mem), &g->args[a]);
        cl_long n = g->n;
        /* an update group's step arguments are set before each run */
        if (err == CL_SUCCESS && !g->update) err = clSetKernelArg(g->kern, (cl_uint)g->nargs, sizeof n, &n);
        if (err != CL_SUCCESS) {
            s = clg_cl_fail(b, err, "clSetKernelArg(a fused kernel)");
            break;
        }
        size_t wg = 256, limit = 0;
        if (clGetKernelWorkGroupInfo(g->kern, b->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit, &limit, NULL) ==
                CL_SUCCESS &&
            limit < wg)
            wg = limit;
        size_t p2 = 1;
        while (p2 * 2 <= wg) p2 *= 2;
        g->local = p2;
        size_t items = g->update ? (size_t)g->n : clg_cl_vector_items(b, g->n);
        g->global = (items + p2 - 1) / p2 * p2;
        if (g->global > b->max_global) g->global = b->max_global / p2 * p2;
        if (g->global == 0) g->global = p2;
    }
    if (s != CLG_OK) clg_cl_fuse_free(out);
    return s;
}

void clg_cl_fuse_free(clg_cl_fused *f)
{
    for (int k = 0; k < f->count; k++)
        if (f->group[k].kern) clReleaseKernel(f->group[k].kern);
    if (f->program) clReleaseProgram(f->program);
    free(f->group);
    memset(f, 0, sizeof *f);
}
