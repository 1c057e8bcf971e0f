/*
 * Fused kernels: chains of elementwise ops compiled into one generated
 * kernel per chain when the graph is prepared (as tinygrad and XLA do),
 * reading each input once and writing only what is read outside the chain
 * or kept: the memory plan gives the other members no buffer at all
 * (core/backend.h's fusion), so a group always runs as one kernel, made
 * again for its nodes' fields when they change (evaluation mode).
 *
 * A group is a run of consecutive nodes (in run order) of one phase:
 *  - elementwise members (the EW_ macros of cl/common.cl: arithmetic with
 *    broadcasting inputs, scale, expand, the activations and their
 *    gradients; and two that gather, max pooling's and softmax
 *    cross-entropy's input gradients) whose outputs have one shape;
 *  - optionally ended by a reduction of one of them: a reduce_to (a bias's
 *    gradient), batch norm's dgamma and dbeta sums, or softmax
 *    cross-entropy's loss (of a batch small enough for one work-group),
 *    computed in the same loop as the members (the reduction's
 *    elementwise prologue: the logits' bias, for one);
 *  - or started by batch norm, the members then reading its output
 *    (normalise-and-scale with an epilogue: batch norm + ReLU);
 *  - or a run of parameter updates of one optimizer, batched into one
 *    launch (a multi-tensor update).
 * The core asks for the groups before it plans memory (vtable fusion), so
 * that what a group reads lives until its last node: a group's outputs
 * never share memory with its inputs.
 *
 * The generated OpenCL C is one statement per node, named after it, over
 * common.cl's macros and per-element functions, the ones the hand-written
 * kernels expand, so a fused chain rounds as its ops one by one (exactly,
 * where both run the same loop layout; a reduction's group computes its
 * members a float at a time). One program per graph holds its groups'
 * kernels; it is built like clgrad's own (same options, the on-disk cache
 * keyed by its source). CLGRAD_FUSION=off (read when a context is made)
 * runs unfused; CLGRAD_FUSION_DUMP=DIR writes each generated program
 * there. A program that fails to build is an error with the compiler's log
 * and the path of its source, never a silent fallback.
 */
#include "../core/optim.h"
#include "cl_backend.h"
#include "../core/conv_geom.h"
#include "cl_fuse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ops that fuse: core/ops.h's elementwise ops, and casts. */
static const char *const ew_macro[CLG_OP_COUNT] = {
#define EW_NAME(op) [CLG_OP_##op] = "EW_" #op,
    CLG_ELEMENTWISE_LIST(EW_NAME)
#undef EW_NAME
};

static bool same_shape(const clg_node *a, const clg_node *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static bool all_f32(const clg_node *nodes, const clg_node *n)
{
    if (n->dtype != CLG_F32) return false;
    for (int k = 0; k < clg_op_nsrc(n->op); k++)
        if (n->src[k] >= 0 && nodes[n->src[k]].dtype != CLG_F32) return false;
    return true;
}

static bool all_float(const clg_node *nodes, const clg_node *n)
{
    if (n->dtype == CLG_I32) return false;
    for (int k = 0; k < clg_op_nsrc(n->op); k++)
        if (n->src[k] >= 0 && nodes[n->src[k]].dtype == CLG_I32) return false;
    return true;
}

static bool touches_16(const clg_node *nodes, const clg_node *n)
{
    bool any = clg_dtype_16(n->dtype);
    for (int k = 0; k < clg_op_nsrc(n->op); k++) any |= n->src[k] >= 0 && clg_dtype_16(nodes[n->src[k]].dtype);
    return any;
}

/* An elementwise op or a cast, of float tensors of any width (the core asks
 * before buffers exist). */
static bool fusable_op(const clg_node *nodes, const clg_node *n)
{
    return (unsigned)n->op < CLG_OP_COUNT && (ew_macro[n->op] || n->op == CLG_OP_CAST) && all_float(nodes, n);
}

/* An elementwise op on 16-bit tensors has no op kernel: it runs in a
 * generated one, alone if need be (fusion off too). */
static bool generated_only(const clg_node *nodes, const clg_node *n)
{
    return n->op != CLG_OP_CAST && fusable_op(nodes, n) && touches_16(nodes, n);
}

bool clg_cl_generated_only(const clg_node *nodes, const clg_node *n) { return generated_only(nodes, n); }

/* A member that computes element i by gathering: max pooling's input
 * gradient (pool_max_grad_at), softmax cross-entropy's (ce_grad_at), both
 * in cl/common.cl. Their kernels are scalar, and so are their groups. */
static bool gathers(const clg_node *nodes, const clg_node *n)
{
    if (n->op == CLG_OP_MAXPOOL2D_GRAD) return n->dtype == CLG_F32 && nodes[n->src[0]].dtype == CLG_F32;
    return n->op == CLG_OP_SOFTMAX_CE_GRAD && n->dtype == CLG_F32 && n->ndim == 2;
}

static bool member_op(const clg_node *nodes, const clg_node *n) { return fusable_op(nodes, n) || gathers(nodes, n); }

/* Whether member n rounds alike computed a float at a time (the groups
 * other than CLG_FG_EW) and in its op's kernel, whose elements run on
 * vectors (but the tail): its math is arithmetic, or the vectors are one
 * float wide, or its kernel is scalar too (the gathering members). exp and
 * its kin do not: PoCL's vector exp rounds some results differently from
 * its scalar one. Fused groups thus equal their unfused nodes bit for bit. */
static bool rounds_alike(const clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    if (b->vw == 1 || gathers(nodes, n)) return true;
    switch (n->op) {
    case CLG_OP_ADD:
    case CLG_OP_SUB:
    case CLG_OP_MUL:
    case CLG_OP_DIV:
    case CLG_OP_NEG:
    case CLG_OP_SCALE:
    case CLG_OP_SQUARE:
    case CLG_OP_EXPAND:
    case CLG_OP_RELU:
    case CLG_OP_RELU_GRAD:
    case CLG_OP_SIGMOID_GRAD:
    case CLG_OP_TANH_GRAD:
    case CLG_OP_LEAKY_RELU:
    case CLG_OP_LEAKY_RELU_GRAD:
    case CLG_OP_ABS:
    case CLG_OP_ABS_GRAD:
    case CLG_OP_MAXIMUM:
    case CLG_OP_MINIMUM:
    case CLG_OP_TIE_WEIGHT:
    case CLG_OP_COMPARE:
    case CLG_OP_CAST: /* integer arithmetic */ return true;
    default: return false;
    }
}

/* A batch norm on float32 but for its x, which may be 16-bit: the group
 * reads it as it reads any 16-bit source (emit_load; bn_channel_stats's
 * xfrom). */
static bool bn_floats(const clg_node *nodes, const clg_node *n)
{
    return n->dtype == CLG_F32 && nodes[n->src[1]].dtype == CLG_F32 && nodes[n->src[2]].dtype == CLG_F32 &&
           nodes[n->src[0]].dtype != CLG_I32;
}

static bool bn_sum(const clg_node *nodes, const clg_node *n)
{
    return (n->op == CLG_OP_BATCHNORM_GRAD_GAMMA || n->op == CLG_OP_BATCHNORM_GRAD_BETA) && all_f32(nodes, n);
}

/* The buffers a node adds to its group's kernel (within b->fuse_max_ptrs). */
static int ptr_cost(const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_SOFTMAX_CE_GRAD: return 5;   /* logits, labels, row statistics, dloss, out */
    case CLG_OP_MAXPOOL2D_GRAD: return 3;    /* dy, argmax, out */
    case CLG_OP_BATCHNORM: return 6;         /* x, gamma, beta, saved, running, out */
    case CLG_OP_REDUCE_TO: return 1;         /* out */
    case CLG_OP_SOFTMAX_CE: return 3;        /* labels, row statistics, out */
    case CLG_OP_BATCHNORM_GRAD_GAMMA:
    case CLG_OP_BATCHNORM_GRAD_BETA: return 3; /* x, saved, out */
    case CLG_OP_BATCHNORM_GRAD_INPUT: return 2; /* gamma, out (dy, x and saved come with the sums) */
    default: return clg_op_nsrc(n->op) + 1;
    }
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

/* Leaves (inputs, parameters) run nothing: a group spans those recorded
 * among its nodes (a model records a tensor between two layers) without
 * making them members. */
static bool leaf(const clg_node *n) { return clg_op_family(n->op) == CLG_FAM_LEAF; }

/* Whether node v is a member of the group of nodes first to last. */
static bool inside(const clg_node *nodes, int32_t v, int32_t first, int32_t last)
{
    return v >= first && v <= last && !leaf(&nodes[v]);
}

/* The first node after j that is not a leaf, or count. */
static int32_t next_node(const clg_node *nodes, int32_t count, int32_t j)
{
    do j++;
    while (j < count && leaf(&nodes[j]));
    return j;
}

static bool vector_reduce(const clg_cl_backend *b, const clg_node *shape, const clg_node *r);

/* Batch norm's input gradient right after its two sums (nodes si, sj) of
 * the same dy: a second pass over each channel in the sums' kernel, which
 * has both sums in hand, in the walk of the sums (on vectors where the
 * planes hold whole ones, BN_PLANES; else a float at a time, as the op's
 * kernel then runs). In either mode: the kernel is generated for the mode
 * the graph runs in (the group, and so the memory plan, never depend on
 * it). Returns its index, or -1. */
static int32_t bn_input_after(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t si, int32_t sj,
                              int used)
{
    const int32_t ei = next_node(nodes, count, sj);
    if (ei >= count || used + ptr_cost(&nodes[ei]) > b->fuse_max_ptrs) return -1;
    const clg_node *e = &nodes[ei], *s = &nodes[sj];
    if (e->op != CLG_OP_BATCHNORM_GRAD_INPUT || e->phase != s->phase || e->dtype != CLG_F32 || e->src[0] != s->src[0] ||
        e->src[1] != s->src[1] || !((e->src[2] == si && e->src[3] == sj) || (e->src[2] == sj && e->src[3] == si)))
        return -1;
    int64_t C, inner, M;
    clg_cl_bn_dims(&nodes[nodes[e->src[1]].src[0]], &C, &inner, &M);
    return M > 1 ? ei : -1;
}

static bool broadcasts(const clg_node *nodes, const clg_node *n)
{
    for (int k = 0; k < clg_op_nsrc(n->op); k++)
        if (n->src[k] >= 0 && !same_shape(&nodes[n->src[k]], n)) return true;
    return false;
}

/* The group that starts at node i: its last node, and its kind in *kind
 * (CLG_FG_NONE: i runs alone). */
static int32_t group_at(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t i,
                        clg_cl_group_kind *kind)
{
    const clg_node *f = &nodes[i];
    *kind = CLG_FG_NONE;
    int32_t j = i;
    if (b->optim_source >= 0 && batchable_update(f)) {
        while (j + 1 < count && j + 1 - i < b->fuse_max_updates) {
            const clg_node *n = &nodes[j + 1];
            if (n->phase != f->phase || !batchable_update(n) || n->i[0] != f->i[0] || n->i[2] != f->i[2]) break;
            j++;
        }
        if (j > i) *kind = CLG_FG_UPDATE;
        return j;
    }
    /* dgamma and dbeta of one batch norm from a gradient made elsewhere: one loop */
    if (bn_sum(nodes, f)) {
        const int32_t ni = next_node(nodes, count, i);
        const clg_node *n = ni < count ? &nodes[ni] : NULL;
        if (n && n->phase == f->phase && bn_sum(nodes, n) && n->op != f->op && n->src[0] == f->src[0] &&
            n->src[1] == f->src[1]) {
            *kind = CLG_FG_BN_SUMS;
            const int32_t e = bn_input_after(b, nodes, count, i, ni, ptr_cost(f) + ptr_cost(n) + 1);
            return e >= 0 ? e : ni;
        }
        return i;
    }
    const bool bn_head = f->op == CLG_OP_BATCHNORM && bn_floats(nodes, f);
    if (!bn_head && !member_op(nodes, f)) return i;
    /* batch norm's planes in vectors (BN_PLANES): its members run on
     * vectors as their op kernels do, whatever their math */
    bool bn_vec = false;
    if (bn_head) {
        int64_t C, inner, M;
        clg_cl_bn_dims(&nodes[f->src[0]], &C, &inner, &M);
        bn_vec = b->vw > 1 && inner % b->vw == 0;
    }
    int used = ptr_cost(f), size = 1;
    bool gather = gathers(nodes, f), alike = bn_head || rounds_alike(b, nodes, f);
    /* 16-bit members stay out of batch norm's sums: the sums group's inputs
     * would live to its second pass (its dy stored where pooling's gradient
     * is a member): +3.3 MB (16%) on the 16-bit CNN at batch 64, for no
     * speed measured on PoCL (bench/RESULTS.md, 2026-12-04, twentieth
     * session) */
    bool gen16 = generated_only(nodes, f);
    for (int32_t k = next_node(nodes, count, j); k < count && size < CLG_FUSED_MAX_NODES; k = next_node(nodes, count, j)) {
        const clg_node *n = &nodes[k];
        if (n->phase != f->phase || !member_op(nodes, n) || !same_shape(n, f) || used + ptr_cost(n) > b->fuse_max_ptrs)
            break;
        /* a gathering member reads its sources at other shapes: from outside */
        if (gathers(nodes, n) && (inside(nodes, n->src[0], i, j) || inside(nodes, n->src[1], i, j))) break;
        /* a group that runs a float at a time has members that round alike */
        const bool na = rounds_alike(b, nodes, n);
        if ((gather || (bn_head && !bn_vec)) && !na) break;
        if (gathers(nodes, n) && (bn_head || !alike)) break;
        gen16 |= generated_only(nodes, n);
        gather |= gathers(nodes, n);
        alike &= na;
        used += ptr_cost(n);
        size++;
        j = k;
    }
    const int32_t ci = next_node(nodes, count, j);
    const clg_node *c = ci < count ? &nodes[ci] : NULL;
    if (!bn_head && c && c->phase == f->phase && inside(nodes, c->src[0], i, j) && c->op == CLG_OP_REDUCE_TO &&
        all_f32(nodes, c) && c->numel > 1 && used + 1 <= b->fuse_max_ptrs) {
        /* a reduce_to of a member (to more than one element: one is a
         * two-pass sum): on vectors when it keeps whole vectors, else a
         * float at a time */
        if (!gather && vector_reduce(b, f, c)) {
            *kind = CLG_FG_EW_REDUCE;
            return ci;
        }
        if (alike) {
            *kind = CLG_FG_REDUCE;
            return ci;
        }
    }
    if (!bn_head && alike && c && c->phase == f->phase && inside(nodes, c->src[0], i, j)) {
        /* the loss of logits made by the members, of a small batch (as
         * host/cl_softmax.c's one-launch path) */
        if (c->op == CLG_OP_SOFTMAX_CE && c->dtype == CLG_F32 && nodes[c->src[0]].dtype == CLG_F32 && f->ndim == 2 &&
            f->numel <= CLG_CE_SMALL_LOGITS && used + 3 <= b->fuse_max_ptrs && b->kernels[K_softmax_ce_small]) {
            *kind = CLG_FG_CE;
            return ci;
        }
        if (bn_sum(nodes, c) && !gen16 && used + 3 <= b->fuse_max_ptrs) {
            const int32_t di = next_node(nodes, count, ci);
            const clg_node *d = di < count ? &nodes[di] : NULL;
            *kind = CLG_FG_BN_SUMS;
            if (d && d->phase == f->phase && bn_sum(nodes, d) && d->op != c->op && d->src[0] == c->src[0] &&
                d->src[1] == c->src[1] && used + 4 <= b->fuse_max_ptrs) {
                const int32_t e = bn_input_after(b, nodes, count, ci, di, used + 4);
                return e >= 0 ? e : di;
            }
            return ci;
        }
    }
    /* alone, a node with a broadcast source runs as a group too: on
     * vectors, where its op's kernel computes each element's offsets */
    if (j == i) {
        if (fusable_op(nodes, f) && f->op != CLG_OP_CAST && (broadcasts(nodes, f) || generated_only(nodes, f)))
            *kind = CLG_FG_EW;
        return i;
    }
    *kind = bn_head ? CLG_FG_BN_FORWARD : gather ? CLG_FG_EW_SCALAR : CLG_FG_EW;
    return j;
}

/* The last member of a group whose reductions follow its members (the
 * leaves between too), from its last node. */
static int32_t members_end(const clg_node *nodes, int32_t first, int32_t last, clg_cl_group_kind kind)
{
    int32_t pend = last;
    if (kind == CLG_FG_REDUCE || kind == CLG_FG_BN_SUMS || kind == CLG_FG_CE || kind == CLG_FG_EW_REDUCE)
        while (pend >= first && (leaf(&nodes[pend]) || nodes[pend].op == CLG_OP_REDUCE_TO ||
                                 nodes[pend].op == CLG_OP_SOFTMAX_CE || bn_sum(nodes, &nodes[pend]) ||
                                 nodes[pend].op == CLG_OP_BATCHNORM_GRAD_INPUT))
            pend--;
    return pend;
}

/* The member a group's kernel stores and reads back itself, or -1: the
 * logits of a cross-entropy (ce_row reads its row from memory); batch
 * norm's dy, for the input gradient's second pass over the channel, where
 * a member gathers (max pooling's gradient costs more than the bytes;
 * else dy is recomputed from the members). */
static int32_t stored_member(const clg_node *nodes, int32_t first, int32_t last, clg_cl_group_kind kind)
{
    if (kind == CLG_FG_CE) return nodes[last].src[0];
    if (kind != CLG_FG_BN_SUMS || nodes[last].op != CLG_OP_BATCHNORM_GRAD_INPUT) return -1;
    const int32_t pend = members_end(nodes, first, last, kind), dy = nodes[last].src[0];
    if (!inside(nodes, dy, first, pend)) return -1;
    for (int32_t i = first; i <= pend; i++)
        if (!leaf(&nodes[i]) && gathers(nodes, &nodes[i])) return dy;
    return -1;
}

void clg_cl_fusion_groups(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t *end, bool *stored)
{
    for (int32_t i = 0; i < count; i++) end[i] = i;
    if (!b->fuse) return;
    for (int32_t i = 0; i < count;) {
        clg_cl_group_kind kind;
        int32_t j = group_at(b, nodes, count, i, &kind);
        for (int32_t k = i; k <= j; k++) end[k] = j;
        const int32_t st = kind == CLG_FG_NONE ? -1 : stored_member(nodes, i, j, kind);
        if (stored && st >= 0) stored[st] = true;
        i = j + 1;
    }
}

void clg_cl_fusion(const clg_backend *be, const clg_node *nodes, int32_t count, int32_t *end, bool *stored)
{
    clg_cl_fusion_groups((const clg_cl_backend *)be, nodes, count, end, stored);
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

/* Whether a group's kernel stores member v: the memory plan gave it a
 * buffer (read outside the group, kept, named, a sink, or stored for the
 * group itself: stored_member), and none to the rest (core/backend.h's
 * fusion), so the plan alone says what is written. */
static bool has_output(const clg_node *nodes, int32_t v) { return nodes[v].buf != NULL; }

/* Declares `const axes8 name = {{v0, ..., v7}};` (cl/common.cl): extents
 * or strides as constants the kernel's compiler folds into bcast_offset. */
static void put_axes(text *t, const char *pad, const char *name, int id, const int64_t v[CLG_MAX_DIMS])
{
    put(t, "%sconst axes8 %s%d = {{", pad, name, id);
    for (int d = 0; d < CLG_MAX_DIMS; d++) put(t, d ? ", %lldL" : "%lldL", (long long)v[d]);
    put(t, "}};\n");
}

/* A buffer's element type in a generated kernel: 16-bit values as ushorts. */
static const char *ctype(const clg_node *n) { return clg_dtype_16(n->dtype) ? "ushort" : "float"; }

/* in<id>'s element at idx as a float, into t */
static void put_elem(text *t, const clg_node *in, int id, const char *idx)
{
    if (clg_dtype_16(in->dtype)) put(t, "LOAD16(in%d, %s, %d)", id, idx, (int)in->dtype);
    else put(t, "in%d[%s]", id, idx);
}

/* Loads input `in` at the element (vec: the vector at q, i0 in scope;
 * else the float at i) of a group whose members have `shape`, as x<id>
 * (16-bit inputs widened: cl/common.cl's LOAD16). */
static void emit_load(text *t, const char *pad, const clg_node *in, int id, const clg_node *shape, int vw, bool vec)
{
    const bool h = clg_dtype_16(in->dtype);
    if (same_shape(in, shape)) {
        if (vec && h) put(t, "%sconst floatv x%d = VLOAD16(q, in%d, %d);\n", pad, id, id, (int)in->dtype);
        else if (vec) put(t, "%sconst floatv x%d = VLOAD(q, in%d);\n", pad, id, id);
        else {
            put(t, "%sconst float x%d = ", pad, id);
            put_elem(t, in, id, "i");
            put(t, ";\n");
        }
        return;
    }
    if (in->numel == 1) {
        put(t, "%sconst %s x%d = %s(", pad, vec ? "floatv" : "float", id, vec ? "VSPLAT" : "");
        put_elem(t, in, id, "0");
        put(t, ");\n");
        return;
    }
    int64_t dims[CLG_MAX_DIMS], st[CLG_MAX_DIMS];
    clg_padded_shape(shape, dims);
    clg_broadcast_strides(in, shape, st);
    clg_collapse_axes(dims, 1, (int64_t *const[]){st});
    put_axes(t, pad, "dims", id, dims);
    put_axes(t, pad, "st", id, st);
    char bc[40], idx[96];
    snprintf(bc, sizeof bc, "dims%d, st%d", id, id);
    const int in_ax = CLG_MAX_DIMS - 1;
    if (!vec || vw == 1) {
        snprintf(idx, sizeof idx, "bcast_offset(%s, %s)", vec ? "i0" : "i", bc);
        put(t, "%sconst %s x%d = ", pad, vec ? "floatv" : "float", id);
        put_elem(t, in, id, idx);
        put(t, ";\n");
    } else if (dims[in_ax] % vw == 0 && (st[in_ax] == 1 || st[in_ax] == 0)) {
        /* a vector's lanes lie in one innermost row: consecutive in the
         * source (a row bias), or one value (a column) */
        if (st[in_ax] == 1 && h)
            put(t, "%sconst floatv x%d = VLOAD16(0, in%d + bcast_offset(i0, %s), %d);\n", pad, id, id, bc, (int)in->dtype);
        else if (st[in_ax] == 1)
            put(t, "%sconst floatv x%d = VLOAD(0, in%d + bcast_offset(i0, %s));\n", pad, id, id, bc);
        else {
            snprintf(idx, sizeof idx, "bcast_offset(i0, %s)", bc);
            put(t, "%sconst floatv x%d = VSPLAT(", pad, id);
            put_elem(t, in, id, idx);
            put(t, ");\n");
        }
    } else { /* gathered lane by lane */
        put(t, "%sconst floatv x%d = (floatv)(", pad, id);
        for (int l = 0; l < vw; l++) {
            snprintf(idx, sizeof idx, "bcast_offset(i0 + %d, %s)", l, bc);
            put(t, "%s", l ? ", " : "");
            put_elem(t, in, id, idx);
        }
        put(t, ");\n");
    }
}

/* After member n's value v<id> is computed: rounded through its 16-bit
 * type, as its op kernel's stored result reads back (a cast to float32
 * through one: its i[0]), so that a group equals its nodes run alone. */
static void emit_round(text *t, const char *pad, const clg_node *n, int id, bool vec)
{
    const clg_dtype through = clg_dtype_16(n->dtype) ? n->dtype : n->op == CLG_OP_CAST ? (clg_dtype)n->i[0] : CLG_F32;
    if (clg_dtype_16(through)) put(t, "%sv%d = %s(v%d, %d);\n", pad, id, vec ? "VROUND16" : "ROUND16", id, (int)through);
}

/* Stores member n's v<id> into out<id>. */
static void emit_store(text *t, const char *pad, const clg_node *n, int id, bool vec)
{
    if (clg_dtype_16(n->dtype)) put(t, "%s%s(v%d, %s, out%d, %d);\n", pad, vec ? "VSTORE16" : "STORE16", id, vec ? "q" : "i", id, (int)n->dtype);
    else if (vec) put(t, "%sVSTORE(v%d, q, out%d);\n", pad, id, id);
    else put(t, "%sout%d[i] = v%d;\n", pad, id, id);
}

/* The loads, statements and stores of one vector (vec: q and i0 in scope)
 * or one float (i) of members first..pend of a group ending at last. */
static void emit_body(text *t, const clg_node *nodes, int32_t first, int32_t pend, const int32_t *ext, int next, int vw,
                      bool vec, const char *pad)
{
    const clg_node *shape = &nodes[first];
    const char *ty = vec ? "floatv" : "float";
    for (int e = 0; e < next; e++) emit_load(t, pad, &nodes[ext[e]], (int)ext[e], shape, vw, vec);
    for (int32_t i = first; i <= pend; i++) {
        const clg_node *n = &nodes[i];
        if (leaf(n)) continue;
        char a[24], bb[40];
        snprintf(bb, sizeof bb, vec ? "VSPLAT(0.0f)" : "0.0f");
        snprintf(a, sizeof a, "0.0f");
        for (int k = 0; k < clg_op_nsrc(n->op) && k < 2; k++) {
            int32_t sid = n->src[k];
            snprintf(k ? bb : a, k ? sizeof bb : sizeof a, "%c%d", inside(nodes, sid, first, pend) ? 'v' : 'x', (int)sid);
        }
        put(t, "%s/* node %d: %s */\n%s%s v%d = ", pad, (int)i, clg_op_name(n->op), pad, ty, (int)i);
        if (n->op == CLG_OP_CAST) {
            put(t, "%s;\n", a);
        } else {
            put(t, "%s%s(%s, %s, ", vec ? "EWV_" : "EW_", ew_macro[n->op] + 3, a, bb);
            put_float(t, n->f[0]);
            put(t, ");\n");
        }
        emit_round(t, pad, n, (int)i, vec);
    }
    for (int32_t i = first; i <= pend; i++)
        if (!leaf(&nodes[i]) && has_output(nodes, i)) emit_store(t, pad, &nodes[i], (int)i, vec);
}

/* Whether a reduce_to of the members' shape to r sums over leading axes
 * only, keeping whole vectors: then output j and element r m + j (m
 * outputs) lie in one lane, and a vector of outputs sums vectors of
 * elements that the members' op kernels computed as such, in reduce_to's
 * order (generate's second form). */
static bool vector_reduce(const clg_cl_backend *b, const clg_node *shape, const clg_node *r)
{
    if (b->vw == 1 || r->numel % b->vw) return false;
    int64_t sd[CLG_MAX_DIMS], od[CLG_MAX_DIMS];
    clg_padded_shape(shape, sd);
    clg_padded_shape(r, od);
    int d = CLG_MAX_DIMS - 1;
    while (d >= 0 && od[d] == sd[d]) d--; /* kept, innermost */
    for (; d >= 0; d--)
        if (od[d] != 1) return false; /* a kept axis outside a reduced one */
    return true;
}

/*
 * A CLG_FG_EW group's kernel (pend == last): CLG_VW elements per
 * work-item, then the tail one by one, the op kernels' layout
 * (cl/common.cl), so each element rounds as there. Or, with a reduce_to at
 * last over leading axes (vector_reduce), vectors of its outputs, each the
 * sum of the members' vectors over the reduced rows, in order.
 * Its source into t, its arguments (buffers) into args; returns their count.
 */
static int generate(text *t, int gi, const clg_node *nodes, int32_t count, int32_t first, int32_t pend, int32_t last,
                    int vw, cl_mem *args, int max_args)
{
    int32_t ext[2 * CLG_FUSED_MAX_NODES];
    int next = 0, nargs = 0;
    /* the inputs: sources from outside the group, each once */
    for (int32_t i = first; i <= pend; i++)
        for (int k = 0; k < clg_op_nsrc(nodes[i].op); k++) {
            int32_t s = nodes[i].src[k];
            if (s < 0 || inside(nodes, s, first, pend)) continue;
            bool seen = false;
            for (int e = 0; e < next; e++) seen |= ext[e] == s;
            if (!seen && next < (int)(sizeof ext / sizeof ext[0])) ext[next++] = s;
        }
    put(t, "\n/* group %d: nodes %d to %d */\n__kernel void clg_fused_%d(", gi, (int)first, (int)last, gi);
    for (int e = 0; e < next && nargs < max_args; e++) {
        put(t, "%s__global const %s *in%d", e ? ", " : "", ctype(&nodes[ext[e]]), (int)ext[e]);
        args[nargs++] = MEM(nodes[ext[e]].buf);
    }
    for (int32_t i = first; i <= pend; i++) {
        if (leaf(&nodes[i]) || !has_output(nodes, i) || nargs >= max_args) continue;
        put(t, "%s__global %s *out%d", nargs ? ", " : "", ctype(&nodes[i]), (int)i);
        args[nargs++] = MEM(nodes[i].buf);
    }
    if (pend < last) {
        const clg_node *r = &nodes[last];
        int64_t od[CLG_MAX_DIMS], st[CLG_MAX_DIMS], rd[CLG_MAX_DIMS], k = clg_cl_reduce_to_geometry(&nodes[first], r, od, st, rd);
        const long long mv = (long long)(r->numel / vw);
        put(t, ", __global float *out%d)\n{\n", (int)last);
        put(t, "    for (long p = get_global_id(0); p < %lldL; p += get_global_size(0)) {\n", mv);
        put(t, "        floatv acc = VSPLAT(0.0f);\n        for (long r = 0; r < %lldL; r++) {\n", (long long)k);
        put(t, "            const long q = r * %lldL + p, i0 = q * CLG_VW;\n", mv);
        emit_body(t, nodes, first, pend, ext, next, vw, true, "            ");
        put(t, "            /* node %d: %s */\n            acc += v%d;\n        }\n        VSTORE(acc, p, out%d);\n    }\n}\n",
            (int)last, clg_op_name(r->op), (int)r->src[0], (int)last);
        args[nargs++] = MEM(r->buf);
        return nargs;
    }
    put(t, ", long n)\n{\n");
    put(t, "    const long nv = n / CLG_VW;\n    for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {\n"
           "        const long i0 = q * CLG_VW;\n");
    emit_body(t, nodes, first, last, ext, next, vw, true, "        ");
    put(t, "    }\n    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {\n");
    emit_body(t, nodes, first, last, ext, next, vw, false, "        ");
    put(t, "    }\n}\n");
    return nargs;
}

/* ---- groups that compute a float at a time ---- */

/* A group's kernel under construction: its members first..pend (batch
 * norm at first in a CLG_FG_BN_FORWARD group), its reductions pend+1..last. */
typedef struct gen {
    text *t;
    const clg_node *nodes;
    int32_t first, pend, last;
    const clg_node *shape; /* of the members' elements */
    int32_t ext[CLG_FUSED_MAX_ARGS]; /* sources read at the element: in<id>, loaded as x<id> */
    int next;
    cl_mem *args;
    int nargs;
    int32_t keep; /* a member stored for a second pass (batch norm's dy), or -1 */
    int32_t bn;   /* the batch norm whose sums the group computes, or -1 */
    int32_t remat; /* that batch norm's output, recomputed from its x rather than read, or -1 */
    int max_ptrs;
} gen;

static void add_arg(gen *g, cl_mem m, const char *fmt, ...)
{
    if (g->nargs >= CLG_FUSED_MAX_ARGS) {
        g->t->oom = true; /* group_at keeps groups within the limit: never here */
        return;
    }
    va_list ap;
    char decl[96];
    va_start(ap, fmt);
    vsnprintf(decl, sizeof decl, fmt, ap);
    va_end(ap);
    put(g->t, "%s%s", g->nargs ? ", " : "", decl);
    g->args[g->nargs++] = m;
}

static void add_ext(gen *g, int32_t s)
{
    if (s < 0 || inside(g->nodes, s, g->first, g->pend)) return;
    for (int e = 0; e < g->next; e++)
        if (g->ext[e] == s) return;
    if (g->next < CLG_FUSED_MAX_ARGS) g->ext[g->next++] = s;
}

/* a value of the element: a member's v<id>, or a source's x<id> */
static const char *ref(const gen *g, int32_t id, char *buf, size_t size)
{
    snprintf(buf, size, "%c%d", inside(g->nodes, id, g->first, g->pend) ? 'v' : 'x', (int)id);
    return buf;
}


/* The group's inputs read at element i of the members' shape (the
 * sources of elementwise members, dloss of cross-entropy's gradient, a
 * batch norm's x), then the other buffers, then the outputs. */
static void declare(gen *g, bool bn_head)
{
    const clg_node *nodes = g->nodes;
    for (int32_t i = g->first; i <= g->last; i++) {
        const clg_node *n = &nodes[i];
        if (leaf(n)) continue;
        if (i == g->first && bn_head) add_ext(g, n->src[0]);
        else if (n->op == CLG_OP_SOFTMAX_CE_GRAD) add_ext(g, n->src[1]);
        else if (n->op == CLG_OP_MAXPOOL2D_GRAD || n->op == CLG_OP_REDUCE_TO || n->op == CLG_OP_SOFTMAX_CE) continue;
        else if (bn_sum(nodes, n) || n->op == CLG_OP_BATCHNORM_GRAD_INPUT) {
            add_ext(g, n->src[0]);
            add_ext(g, nodes[n->src[1]].src[0]);
        } else
            for (int k = 0; k < clg_op_nsrc(n->op); k++) add_ext(g, n->src[k]);
    }
    for (int e = 0; e < g->next; e++)
        add_arg(g, MEM(nodes[g->ext[e]].buf), "__global const %s *in%d", ctype(&nodes[g->ext[e]]), (int)g->ext[e]);
    bool saved = false;
    for (int32_t i = g->first; i <= g->last; i++) {
        const clg_node *n = &nodes[i];
        if (leaf(n)) continue;
        if (n->op == CLG_OP_SOFTMAX_CE_GRAD) {
            const clg_node *ce = &nodes[n->src[0]];
            add_arg(g, MEM(nodes[ce->src[0]].buf), "__global const float *z%d", (int)i);
            add_arg(g, MEM(nodes[ce->src[1]].buf), "__global const int *label%d", (int)i);
            add_arg(g, MEM(ce->aux[0]), "__global const float *stats%d", (int)i);
        } else if (n->op == CLG_OP_MAXPOOL2D_GRAD) {
            add_arg(g, MEM(nodes[n->src[0]].buf), "__global const float *dy%d", (int)i);
            add_arg(g, MEM(nodes[n->src[1]].aux[0]), "__global const int *argmax%d", (int)i);
        } else if (i == g->first && bn_head) {
            add_arg(g, MEM(nodes[n->src[1]].buf), "__global const float *gamma%d", (int)i);
            add_arg(g, MEM(nodes[n->src[2]].buf), "__global const float *beta%d", (int)i);
            add_arg(g, MEM(n->aux[0]), "__global float *saved%d", (int)i);
            add_arg(g, MEM(n->aux[1]), "__global float *running%d", (int)i);
        } else if (n->op == CLG_OP_SOFTMAX_CE) {
            add_arg(g, MEM(nodes[n->src[1]].buf), "__global const int *label%d", (int)i);
            add_arg(g, MEM(n->aux[0]), "__global float *stats%d", (int)i);
        } else if (bn_sum(nodes, n) && !saved) { /* a pair shares it */
            add_arg(g, MEM(nodes[n->src[1]].aux[0]), "__global const float *saved%d", (int)n->src[1]);
            saved = true;
        } else if (n->op == CLG_OP_BATCHNORM_GRAD_INPUT) {
            add_arg(g, MEM(nodes[nodes[n->src[1]].src[1]].buf), "__global const float *gamma%d", (int)i);
        }
    }
    /* a member reads the batch norm's output (LeakyReLU's gradient after
     * batch norm + LeakyReLU; ReLU's reads ReLU's output) while the group
     * reads its x anyway: y = BN_APPLY(x) as the forward computed it, from
     * the saved statistics, instead of a second stream (the forward's y
     * stays stored for others) */
    int outs = 0;
    for (int32_t i = g->first; i <= g->last; i++) outs += !leaf(&nodes[i]) && (i > g->pend || has_output(nodes, i));
    bool has_y = false, has_x = false;
    for (int e = 0; g->bn >= 0 && e < g->next; e++) {
        has_y |= g->ext[e] == g->bn;
        has_x |= g->ext[e] == nodes[g->bn].src[0];
    }
    if (has_y && has_x && g->nargs + 2 + outs <= g->max_ptrs) {
        const clg_node *bn = &nodes[g->bn];
        add_arg(g, MEM(nodes[bn->src[1]].buf), "__global const float *bgamma%d", (int)g->bn);
        add_arg(g, MEM(nodes[bn->src[2]].buf), "__global const float *bbeta%d", (int)g->bn);
        g->remat = g->bn;
    }
    for (int32_t i = g->first; i <= g->last; i++)
        if (!leaf(&nodes[i]) && (i > g->pend || has_output(nodes, i)))
            add_arg(g, MEM(nodes[i].buf), "__global %s *out%d", ctype(&nodes[i]), (int)i);
}

/* The loads of element i, the members' statements, the stores of what is read outside. */
static void element(gen *g, const char *pad, bool bn_head, int vw, bool vec, bool store)
{
    const clg_node *nodes = g->nodes, *shape = g->shape;
    text *t = g->t;
    for (int e = 0; e < g->next; e++)
        if (g->ext[e] != g->remat) emit_load(t, pad, &nodes[g->ext[e]], (int)g->ext[e], shape, vw, vec);
    if (g->remat >= 0)
        put(t, "%sconst %s x%d = BN_APPLY(x%d, mean, bk, bshift); /* node %d: batch_norm, again */\n", pad,
            vec ? "floatv" : "float", (int)g->remat, (int)nodes[g->remat].src[0], (int)g->remat);
    for (int32_t i = g->first; i <= g->pend; i++) {
        const clg_node *n = &nodes[i];
        if (leaf(n)) continue;
        char a[24], bb[24];
        put(t, "%s/* node %d: %s */\n%s%s v%d = ", pad, (int)i, clg_op_name(n->op), pad, vec ? "floatv" : "float",
            (int)i);
        if (n->op == CLG_OP_CAST) {
            put(t, "%s;\n", ref(g, n->src[0], a, sizeof a));
        } else if (i == g->first && bn_head) {
            put(t, "BN_APPLY(%s, mean, k, shift);\n", ref(g, n->src[0], a, sizeof a));
        } else if (n->op == CLG_OP_SOFTMAX_CE_GRAD) { /* never on vectors (group_at) */
            const clg_node *z = &nodes[nodes[n->src[0]].src[0]];
            put(t, "ce_grad_at(z%d, label%d, stats%d, %s, %lldL, %lldL, i);\n", (int)i, (int)i, (int)i,
                ref(g, n->src[1], a, sizeof a), (long long)z->shape[0], (long long)z->shape[1]);
        } else if (n->op == CLG_OP_MAXPOOL2D_GRAD) {
            /* the op's kernel's function: dilated poolings have their own */
            const clg_node *pool = &nodes[n->src[1]];
            const char *fn = pool->i[6] == 1 && pool->i[7] == 1 ? "pool_max_grad_at" : "pool_max_grad_dil";
            if (!vec) {
                put(t, "%s(dy%d, argmax%d, &geom%d, i);\n", fn, (int)i, (int)i, (int)i);
            } else { /* lane by lane, as its op's kernel computes each */
                put(t, "(floatv)(");
                for (int l = 0; l < vw; l++)
                    put(t, "%s%s(dy%d, argmax%d, &geom%d, i0 + %d)", l ? ", " : "", fn, (int)i, (int)i, (int)i, l);
                put(t, ");\n");
            }
        } else {
            snprintf(a, sizeof a, "0.0f");
            snprintf(bb, sizeof bb, vec ? "VSPLAT(0.0f)" : "0.0f");
            for (int k = 0; k < clg_op_nsrc(n->op) && k < 2; k++) ref(g, n->src[k], k ? bb : a, k ? sizeof bb : sizeof a);
            put(t, "%s%s(%s, %s, ", vec ? "EWV_" : "EW_", ew_macro[n->op] + 3, a, bb);
            put_float(t, n->f[0]);
            put(t, ");\n");
        }
        emit_round(t, pad, n, (int)i, vec);
    }
    for (int32_t i = g->first; i <= g->pend && store; i++)
        if (!leaf(&nodes[i]) && has_output(nodes, i)) emit_store(t, pad, &nodes[i], (int)i, vec);
}

/* Each max pooling member's sizes, as its op's kernel gets them. */
static void pool_geoms(gen *g)
{
    for (int32_t i = g->first; i <= g->pend; i++) {
        const clg_node *n = &g->nodes[i];
        if (n->op != CLG_OP_MAXPOOL2D_GRAD) continue;
        clg_conv_geom c = clg_conv_geom_of(g->nodes, &g->nodes[n->src[1]]);
        const cl_int16 v = clg_cl_geom16(&c);
        put(g->t, "    const conv_geom geom%d = conv_unpack((int16)(", (int)i);
        for (int k = 0; k < 16; k++) put(g->t, "%s%d", k ? ", " : "", (int)v.s[k]);
        put(g->t, "));\n");
    }
}

/*
 * The kernel of a group that is not on vectors:
 *  CLG_FG_EW_SCALAR:  element i for i in [0, n)
 *  CLG_FG_REDUCE:     output j of the reduce_to sums its members' value
 *                     over the elements that broadcast from j (reduce.cl's
 *                     reduce_to, in its order)
 *  CLG_FG_BN_SUMS:    channel c's work-group sums dy x^ and dy over its
 *                     elements (norm.cl's bn_backward_reduce, both at once);
 *                     with the input gradient, a second pass over them
 *                     computes dx from both sums (bn_backward_input's bn_dx)
 *  CLG_FG_BN_FORWARD: channel c's work-group gets its statistics
 *                     (bn_channel_stats), then normalises each element
 *                     and runs the members on it
 * Returns the argument count; *n the kernel's work items (elements,
 * outputs or channels).
 */
static int generate_scalar(text *t, int gi, const clg_node *nodes, int32_t count, int32_t first, int32_t last,
                           clg_cl_group_kind kind, int vw, int max_ptrs, cl_mem *args, int64_t *n)
{
    gen g = {.t = t, .nodes = nodes, .first = first, .pend = last, .last = last, .args = args,
             .keep = -1, .bn = kind == CLG_FG_BN_SUMS ? nodes[last].src[1] : -1, .remat = -1, .max_ptrs = max_ptrs};
    g.pend = members_end(nodes, first, last, kind);
    const bool bn_head = kind == CLG_FG_BN_FORWARD;
    /* batch norm's input gradient reads dy again: stored in the first pass
     * and loaded in the second, or recomputed (stored_member) */
    if (kind == CLG_FG_BN_SUMS) g.keep = stored_member(nodes, first, last, kind);
    put(t, "\n/* group %d: nodes %d to %d */\n__kernel void clg_fused_%d(", gi, (int)first, (int)last, gi);
    declare(&g, bn_head);
    const clg_node *shape = &nodes[kind == CLG_FG_BN_SUMS ? nodes[last].src[0] : first];
    g.shape = shape;
    char a[24];
    switch (kind) {
    case CLG_FG_REDUCE: {
        const clg_node *r = &nodes[last];
        int64_t od[CLG_MAX_DIMS], st[CLG_MAX_DIMS], rd[CLG_MAX_DIMS], k = clg_cl_reduce_to_geometry(shape, r, od, st, rd);
        put(t, ")\n{\n");
        pool_geoms(&g);
        put(t, "    for (long j = get_global_id(0); j < %lldL; j += get_global_size(0)) {\n", (long long)r->numel);
        put_axes(t, "        ", "red_dims", 0, od);
        put_axes(t, "        ", "red_st", 0, st);
        put_axes(t, "        ", "red_rdims", 0, rd);
        put(t, "        const long base = bcast_offset(j, red_dims0, red_st0);\n");
        put(t, "        float acc = 0.0f;\n        for (long r = 0; r < %lldL; r++) {\n", (long long)k);
        put(t, "            const long i = base + bcast_offset(r, red_rdims0, red_st0);\n");
        element(&g, "            ", false, 1, false, true);
        put(t, "            /* node %d: %s */\n            acc += %s;\n        }\n        out%d[j] = acc;\n    }\n}\n",
            (int)last, clg_op_name(r->op), ref(&g, r->src[0], a, sizeof a), (int)last);
        *n = r->numel;
        break;
    }
    case CLG_FG_BN_SUMS: {
        const clg_node *bn = &nodes[nodes[last].src[1]];
        int64_t C, inner, M;
        clg_cl_bn_dims(&nodes[bn->src[0]], &C, &inner, &M);
        put(t, ", __local float *tmp)\n{\n    const int lid = get_local_id(0), ls = get_local_size(0);\n");
        pool_geoms(&g);
        put(t, "    for (long c = get_group_id(0); c < %lldL; c += get_num_groups(0)) {\n", (long long)C);
        put(t, "        const float mean = saved%d[c], invstd = saved%d[%lldL + c];\n", (int)nodes[last].src[1],
            (int)nodes[last].src[1], (long long)C);
        if (g.remat >= 0)
            put(t, "        const float bk = bgamma%d[c] * invstd, bshift = bbeta%d[c];\n", (int)g.remat, (int)g.remat);
        char x[24];
        ref(&g, nodes[last].src[0], a, sizeof a);
        ref(&g, bn->src[0], x, sizeof x);
        if (vw > 1 && inner % vw == 0) { /* BN_PLANES: norm.cl's walk */
            put(t, "        floatv dg = VSPLAT(0.0f), db = VSPLAT(0.0f);\n");
            put(t, "        for (long n = lid; n < %lldL; n += ls)\n", (long long)(M / inner));
            put(t, "            for (long i0 = (n * %lldL + c) * %lldL, e = i0 + %lldL; i0 < e; i0 += CLG_VW) {\n",
                (long long)C, (long long)inner, (long long)inner);
            put(t, "                const long q = i0 / CLG_VW;\n");
            element(&g, "                ", false, vw, true, true);
            put(t, "                dg += bn_dgamma_term_v(%s, %s, mean, invstd);\n                db += %s;\n            }\n", a,
                x, a);
            put(t, "        float dgamma = vsum(dg), dbeta = vsum(db);\n");
        } else {
            put(t, "        float dgamma = 0.0f, dbeta = 0.0f;\n");
            put(t, "        for (long m = lid; m < %lldL; m += ls) {\n            const long i = bn_index(m, c, %lldL, %lldL);\n",
                (long long)M, (long long)C, (long long)inner);
            element(&g, "            ", false, 1, false, true);
            put(t, "            dgamma += bn_dgamma_term(%s, %s, mean, invstd);\n            dbeta += %s;\n        }\n", a, x, a);
        }
        put(t, "        dgamma = group_sum(dgamma, tmp);\n        dbeta = group_sum(dbeta, tmp);\n        if (lid == 0) {\n");
        for (int32_t i = g.pend + 1; i <= last; i++)
            if (bn_sum(nodes, &nodes[i])) put(t, "            out%d[c] = %s; /* node %d: %s */\n", (int)i,
                nodes[i].op == CLG_OP_BATCHNORM_GRAD_GAMMA ? "dgamma" : "dbeta", (int)i, clg_op_name(nodes[i].op));
        put(t, "        }\n");
        if (nodes[last].op == CLG_OP_BATCHNORM_GRAD_INPUT) { /* bn_input_after */
            put(t, "        /* node %d: %s, a second pass over the channel */\n", (int)last, clg_op_name(nodes[last].op));
            put(t, "        const float k = gamma%d[c] * invstd;\n", (int)last);
        }
        if (nodes[last].op == CLG_OP_BATCHNORM_GRAD_INPUT && !(vw > 1 && inner % vw == 0)) {
            put(t, "        for (long m = lid; m < %lldL; m += ls) {\n            const long i = bn_index(m, c, %lldL, %lldL);\n",
                (long long)M, (long long)C, (long long)inner);
            if (g.keep >= 0) {
                emit_load(t, "            ", &nodes[bn->src[0]], (int)bn->src[0], shape, 1, false);
                put(t, "            const float v%d = out%d[i];\n", (int)g.keep, (int)g.keep);
            } else {
                element(&g, "            ", false, 1, false, false);
            }
            if (bn->training)
                put(t, "            out%d[i] = bn_dx(%s, %s, mean, invstd, k, %lld.0f, dbeta, dgamma);\n        }\n", (int)last,
                    a, x, (long long)M);
            else /* evaluation: the statistics are constants (norm.cl's bn_backward_input) */
                put(t, "            out%d[i] = k * %s;\n        }\n", (int)last, a);
        } else if (nodes[last].op == CLG_OP_BATCHNORM_GRAD_INPUT) {
            put(t, "        for (long n = lid; n < %lldL; n += ls)\n", (long long)(M / inner));
            put(t, "            for (long i0 = (n * %lldL + c) * %lldL, e = i0 + %lldL; i0 < e; i0 += CLG_VW) {\n",
                (long long)C, (long long)inner, (long long)inner);
            put(t, "                const long q = i0 / CLG_VW;\n");
            if (g.keep >= 0) {
                emit_load(t, "                ", &nodes[bn->src[0]], (int)bn->src[0], shape, vw, true);
                put(t, "                const floatv v%d = VLOAD(q, out%d);\n", (int)g.keep, (int)g.keep);
            } else {
                element(&g, "                ", false, vw, true, false);
            }
            if (bn->training)
                put(t, "                VSTORE(bn_dx_v(%s, %s, mean, invstd, k, %lld.0f, dbeta, dgamma), q, out%d);\n", a, x,
                    (long long)M, (int)last);
            else
                put(t, "                VSTORE(k * %s, q, out%d);\n", a, (int)last);
            put(t, "            }\n");
        }
        put(t, "    }\n}\n");
        *n = C;
        break;
    }
    case CLG_FG_CE: {
        const clg_node *ce = &nodes[last];
        const int64_t rows = shape->shape[0], C = shape->shape[1];
        put(t, ", __local float *tmp)\n{\n    const long lid = get_local_id(0), L = get_local_size(0);\n");
        put(t, "    float acc = 0.0f, comp = 0.0f;\n    for (long r = lid; r < %lldL; r += L) {\n", (long long)rows);
        put(t, "        for (long i = r * %lldL; i < (r + 1) * %lldL; i++) {\n", (long long)C, (long long)C);
        element(&g, "            ", false, 1, false, true);
        put(t, "        }\n        /* node %d: %s (of the logits just stored) */\n", (int)last, clg_op_name(ce->op));
        put(t, "        kahan_add(&acc, &comp, ce_row(out%d + r * %lldL, label%d[r], %lldL, stats%d + 2 * r));\n    }\n",
            (int)ce->src[0], (long long)C, (int)last, (long long)C, (int)last);
        put(t, "    acc = group_sum(acc - comp, tmp);\n    if (lid == 0) out%d[0] = ", (int)last);
        put_float(t, (float)(1.0 / (double)rows));
        put(t, " * acc;\n}\n");
        *n = rows;
        break;
    }
    case CLG_FG_BN_FORWARD: {
        const clg_node *bn = &nodes[first];
        int64_t C, inner, M;
        clg_cl_bn_dims(&nodes[bn->src[0]], &C, &inner, &M);
        put(t, ", __local float *tmp)\n{\n    const int lid = get_local_id(0), ls = get_local_size(0);\n");
        put(t, "    for (long c = get_group_id(0); c < %lldL; c += get_num_groups(0)) {\n", (long long)C);
        put(t, "        const float2 st = bn_channel_stats(in%d, %d, saved%d, running%d, c, %lldL, %lldL, %lldL, %d, ",
            (int)bn->src[0], (int)clg_cl_type_code(&nodes[bn->src[0]]), (int)first, (int)first, (long long)C, (long long)inner, (long long)M, bn->training ? 1 : 0);
        put_float(t, bn->f[0]);
        put(t, ", ");
        put_float(t, bn->f[1]);
        put(t, ", tmp);\n        const float mean = st.x, k = gamma%d[c] * st.y, shift = beta%d[c];\n", (int)first, (int)first);
        if (vw > 1 && inner % vw == 0) { /* BN_PLANES: norm.cl's walk */
            put(t, "        for (long n = lid; n < %lldL; n += ls)\n", (long long)(M / inner));
            put(t, "            for (long i0 = (n * %lldL + c) * %lldL, e = i0 + %lldL; i0 < e; i0 += CLG_VW) {\n",
                (long long)C, (long long)inner, (long long)inner);
            put(t, "                const long q = i0 / CLG_VW;\n");
            element(&g, "                ", true, vw, true, true);
            put(t, "            }\n    }\n}\n");
        } else {
            put(t, "        for (long m = lid; m < %lldL; m += ls) {\n            const long i = bn_index(m, c, %lldL, %lldL);\n",
                (long long)M, (long long)C, (long long)inner);
            element(&g, "            ", true, 1, false, true);
            put(t, "        }\n    }\n}\n");
        }
        *n = C;
        break;
    }
    default:
        put(t, ")\n{\n");
        pool_geoms(&g);
        put(t, "    for (long i = get_global_id(0); i < %lldL; i += get_global_size(0)) {\n", (long long)shape->numel);
        element(&g, "        ", false, 1, false, true);
        put(t, "    }\n}\n");
        *n = shape->numel;
        break;
    }
    return g.nargs;
}

/* A batched update's kernel: every member's walk in turn, over as many
 * work-items as the largest needs, each through optim.cl's per-element
 * functions, so that it rounds as the member's own kernel.
 * Buffers are bound once (args); the eight
 * step arguments and the flags, the same for every member, follow them and
 * are set before each run (clg_cl_fused_update_args). */
static int generate_update(text *t, int gi, const clg_node *nodes, int32_t first, int32_t last, cl_mem *args,
                           int64_t *items)
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
           "float a7, int flags)\n{\n");
    /* loss scaling: skip, or the step's factors from the device's count (cl/optim.cl) */
    const bool adam = kind == CLG_OPTIM_ADAM || kind == CLG_OPTIM_ADAMW;
    put(t, "    float u0_ = 0.0f, u1_ = 0.0f;\n    if (!optim_scaled_args(clip, &flags, a0, %s, %s, %s, a7)) return;\n",
        adam ? "a2" : "0.5f", adam ? "a3" : "0.5f", adam ? "&a5, &a6" : "&u0_, &u1_");
    put(t, "    const float c = optim_clip_scale(clip, flags);\n");
    int64_t most = 0;
    for (int32_t i = first; i <= last; i++)
        if (nodes[i].numel > most) most = nodes[i].numel;
    *items = most;
    /* each member walked as its own kernel walks it (OPTIM_WALK: vectors,
     * then the last floats), one after the other */
    for (int32_t i = first; i <= last; i++) {
        put(t, "    /* node %d: %s */\n    OPTIM_WALK(%lldL, ", (int)i, clg_op_name(nodes[i].op), (long long)nodes[i].numel);
        for (int v = 1; v >= 0; v--) {
            put(t, "%s%s(", fn[kind], v ? "_v" : "");
            for (int k = 0; k < nbufs[kind]; k++) put(t, "b%d_%d, ", (int)i, k);
            put(t, "i, c, %s, flags)%s", scalars[kind], v ? ",\n               " : ");\n");
        }
    }
    put(t, "}\n");
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

/* Whether a group's kernel reads source k's output (not only its state
 * or shapes, as of a forward node that a gradient is given). */
static bool reads_output(const clg_node *nodes, const clg_node *n, int k)
{
    if (k == 1 && (n->op == CLG_OP_MAXPOOL2D_GRAD || bn_sum(nodes, n) || n->op == CLG_OP_BATCHNORM_GRAD_INPUT)) return false;
    return !(k == 0 && n->op == CLG_OP_SOFTMAX_CE_GRAD);
}

/* Whether every buffer the group's kernel binds exists (the plan is built):
 * its inputs from outside and the state it reads; its members have one
 * where the memory plan gave it (has_output). */
static bool has_buffers(const clg_node *nodes, int32_t first, int32_t last)
{
    for (int32_t i = first; i <= last; i++) {
        const clg_node *n = &nodes[i];
        if (leaf(n)) continue;
        for (int k = 0; k < clg_op_nsrc(n->op); k++)
            if (n->src[k] >= 0 && reads_output(nodes, n, k) && !inside(nodes, n->src[k], first, last) &&
                !nodes[n->src[k]].buf)
                return false;
        if (n->op == CLG_OP_BATCHNORM && (!n->aux[0] || !n->aux[1])) return false;
        if (bn_sum(nodes, n) && (!nodes[n->src[1]].aux[0] || !nodes[nodes[n->src[1]].src[0]].buf)) return false;
        if (n->op == CLG_OP_MAXPOOL2D_GRAD && !nodes[n->src[1]].aux[0]) return false;
        if (n->op == CLG_OP_SOFTMAX_CE && !n->aux[0]) return false;
        if (n->op == CLG_OP_SOFTMAX_CE_GRAD) {
            const clg_node *ce = &nodes[n->src[0]];
            if (!ce->aux[0] || !nodes[ce->src[0]].buf || !nodes[ce->src[1]].buf) return false;
        }
        if ((n->op == CLG_OP_REDUCE_TO || n->op == CLG_OP_SOFTMAX_CE || bn_sum(nodes, n) ||
             n->op == CLG_OP_BATCHNORM_GRAD_INPUT) && !n->buf)
            return false;
    }
    return true;
}

/* Whether a member of the group lacks a buffer (it then runs only in the group). */
static bool has_unbuffered(const clg_node *nodes, int32_t first, int32_t last)
{
    for (int32_t i = first; i <= last; i++)
        if (!leaf(&nodes[i]) && !nodes[i].buf) return true;
    return false;
}

/* The local size of a group's kernel: the kernel's own limit, at most
 * want (a power of two); a reduction's group takes the hand-written
 * kernel's, so that it sums in the same order. */
static size_t local_size(const clg_cl_backend *b, cl_kernel kern, size_t want)
{
    size_t limit = 0;
    if (clGetKernelWorkGroupInfo(kern, b->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit, &limit, NULL) ==
            CL_SUCCESS &&
        limit < want)
        want = limit;
    size_t p2 = 1;
    while (p2 * 2 <= want) p2 *= 2;
    return p2;
}

/* Group g's kernel, clg_fused_<gi>, into t, from the nodes' current fields:
 * its buffers into g->args, its work items into g->n. */
static void generate_group(const clg_cl_backend *b, text *t, int gi, const clg_node *nodes, int32_t count,
                           clg_cl_fused_group *g)
{
    const int32_t i = g->first, last = g->last;
    if (g->kind == CLG_FG_UPDATE) {
        g->nargs = generate_update(t, gi, nodes, i, last, g->args, &g->n);
    } else if (g->kind == CLG_FG_EW) {
        g->nargs = generate(t, gi, nodes, count, i, last, last, b->vw, g->args, CLG_FUSED_MAX_ARGS);
        g->n = nodes[i].numel;
    } else if (g->kind == CLG_FG_EW_REDUCE) {
        g->nargs = generate(t, gi, nodes, count, i, members_end(nodes, i, last, g->kind), last, b->vw, g->args,
                            CLG_FUSED_MAX_ARGS);
        g->n = nodes[last].numel / b->vw;
    } else {
        g->nargs = generate_scalar(t, gi, nodes, count, i, last, g->kind, b->vw, b->fuse_max_ptrs, g->args, &g->n);
    }
}

/* Builds a program of generated groups (common.cl and, for batched
 * updates, optim.cl before them), through the on-disk cache. */
static clg_status build_generated(clg_cl_backend *b, const text *t, bool updates, cl_program *program)
{
    clg_backend *be = &b->base;
    const char *dump_dir = clg_setting(be->ctx, CLG_SET_FUSION_DUMP);
    char path[512] = "";
    if (dump_dir && *dump_dir) dump(dump_dir, t->s, t->len, path, sizeof path);
    const char *options = b->options; /* as clgrad's own program: the same vector width and rounding */
    const char *sources[3] = {clg_cl_sources[0]};
    int nsrc = 1;
    if (updates) sources[nsrc++] = clg_cl_sources[b->optim_source];
    sources[nsrc++] = t->s;
    if (clg_cl_cache_load(be->ctx, b->context, b->dev.device, sources, nsrc, options, program)) return CLG_OK;
    clg_status s = clg_cl_build_program(be->ctx, b->context, b->dev.device, sources, nsrc, options, program);
    if (s == CLG_OK) {
        clg_cl_cache_store(be->ctx, *program, b->dev.device, sources, nsrc, options);
        return CLG_OK;
    }
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        if (!dump(tmp && *tmp ? tmp : "/tmp", t->s, t->len, path, sizeof path)) snprintf(path, sizeof path, "(not written)");
    }
    return clg_error_wrap(be->ctx, s, "building the fused kernels of the graph (source: %s)", path);
}

/* Group g's kernel clg_fused_<gi> from program, its buffers bound and its
 * sizes set (an update group's step arguments are set before each run). */
static clg_status bind_group(clg_cl_backend *b, cl_program program, int gi, clg_cl_fused_group *g)
{
    char name[32];
    snprintf(name, sizeof name, "clg_fused_%d", gi);
    cl_int err;
    cl_kernel kern = clCreateKernel(program, name, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clCreateKernel(a fused kernel)");
    for (int a = 0; a < g->nargs && err == CL_SUCCESS; a++) err = clSetKernelArg(kern, (cl_uint)a, sizeof(cl_mem), &g->args[a]);
    size_t items = (size_t)g->n, local;
    cl_long n = g->n;
    switch (g->kind) {
    case CLG_FG_EW: /* the element count follows the buffers */
        if (err == CL_SUCCESS) err = clSetKernelArg(kern, (cl_uint)g->nargs, sizeof n, &n);
        local = local_size(b, kern, 256);
        items = clg_cl_vector_items(b, g->n);
        break;
    case CLG_FG_BN_SUMS:
    case CLG_FG_BN_FORWARD: /* a work-group per channel, with local memory for its sums */
        local = local_size(b, kern, b->kwg[g->kind == CLG_FG_BN_SUMS ? K_bn_backward_reduce : K_bn_forward]);
        if (err == CL_SUCCESS) err = clSetKernelArg(kern, (cl_uint)g->nargs, local * sizeof(float), NULL);
        items = (size_t)g->n * local;
        break;
    case CLG_FG_CE: /* one work-group, as host/cl_softmax.c's one-launch path, so that it sums alike */
        local = clg_cl_ce_small_local(b, g->n, local_size(b, kern, b->kwg[K_softmax_ce_small]));
        if (err == CL_SUCCESS) err = clSetKernelArg(kern, (cl_uint)g->nargs, local * sizeof(float), NULL);
        items = local;
        break;
    case CLG_FG_REDUCE:
    case CLG_FG_EW_REDUCE: {
        /* a work-item per output (or vector of outputs), few of them:
         * small enough work-groups that every compute unit gets some
         * (on PoCL a work-group is a core's) */
        cl_uint units = 1;
        if (clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL) != CL_SUCCESS || units < 1)
            units = 1;
        local = local_size(b, kern, 256);
        while (local > 1 && (items + local - 1) / local < units) local /= 2;
        break;
    }
    case CLG_FG_UPDATE: /* a work-item per vector of the largest member (OPTIM_WALK) */
        local = local_size(b, kern, 256);
        items = clg_cl_vector_items(b, g->n);
        break;
    default: local = local_size(b, kern, 256); break;
    }
    if (err != CL_SUCCESS) {
        clReleaseKernel(kern);
        return clg_cl_fail(b, err, "clSetKernelArg(a fused kernel)");
    }
    if (g->kern) clReleaseKernel(g->kern);
    g->kern = kern;
    g->local = local;
    g->global = (items + local - 1) / local * local;
    if (g->global > b->max_global) g->global = b->max_global / local * local;
    if (g->global == 0) g->global = local;
    return CLG_OK;
}

clg_status clg_cl_fuse_build(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *out)
{
    clg_backend *be = &b->base;
    memset(out, 0, sizeof *out);
    int32_t *end = malloc((size_t)(count ? count : 1) * sizeof *end);
    clg_cl_group_kind *kind = malloc((size_t)(count ? count : 1) * sizeof *kind);
    if (!end || !kind) {
        free(end);
        free(kind);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    int ngroups = 0;
    for (int32_t i = 0; i < count; i = end[i] + 1) {
        end[i] = b->fuse ? group_at(b, nodes, count, i, &kind[i]) : i;
        if (!b->fuse) kind[i] = generated_only(nodes, &nodes[i]) ? CLG_FG_EW : CLG_FG_NONE;
        if (kind[i] != CLG_FG_NONE && has_buffers(nodes, i, end[i])) {
            ngroups++;
        } else if (kind[i] != CLG_FG_NONE && has_unbuffered(nodes, i, end[i])) {
            /* its members without memory could not run alone */
            const int32_t last = end[i];
            free(end);
            free(kind);
            return clg_error(be->ctx, CLG_ERR_STATE, "fusing the graph: nodes %d to %d: a buffer the group reads is missing",
                             (int)i, (int)last);
        } else {
            kind[i] = CLG_FG_NONE;
        }
    }
    if (!ngroups) {
        free(end);
        free(kind);
        return CLG_OK;
    }
    out->group = calloc((size_t)ngroups, sizeof *out->group);
    if (!out->group) {
        free(end);
        free(kind);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    text t = {0};
    put(&t, "/* clgrad: fused kernels of one graph (host/cl_fuse.c) */\n");
    int gi = 0;
    bool updates = false;
    for (int32_t i = 0; i < count; i = end[i] + 1) {
        if (kind[i] == CLG_FG_NONE) continue;
        clg_cl_fused_group *g = &out->group[gi];
        g->first = i;
        g->last = end[i];
        g->kind = kind[i];
        updates |= g->kind == CLG_FG_UPDATE;
        generate_group(b, &t, gi, nodes, count, g);
        gi++;
    }
    out->count = gi;
    free(end);
    free(kind);
    if (t.oom) {
        free(t.s);
        clg_cl_fuse_free(out);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    clg_status s = build_generated(b, &t, updates, &out->program);
    free(t.s);
    for (int k = 0; s == CLG_OK && k < out->count; k++) s = bind_group(b, out->program, k, &out->group[k]);
    if (s != CLG_OK) clg_cl_fuse_free(out);
    return s;
}

clg_status clg_cl_fuse_regenerate(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *f, int k)
{
    clg_backend *be = &b->base;
    clg_cl_fused_group *g = &f->group[k];
    text t = {0};
    put(&t, "/* clgrad: a fused kernel of one graph, made again for its nodes' fields (host/cl_fuse.c) */\n");
    clg_cl_fused_group ng = *g;
    ng.kern = NULL;
    generate_group(b, &t, k, nodes, count, &ng);
    if (t.oom) {
        free(t.s);
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
    }
    /* a graph switched between training and evaluation asks for the same
     * sources again: each built once per graph */
    cl_program program = NULL;
    for (int v = 0; v < f->nvariants && !program; v++)
        if (strcmp(f->variant[v].src, t.s) == 0) program = f->variant[v].program;
    clg_status s = CLG_OK;
    if (!program) {
        clg_cl_variant *w = realloc(f->variant, (size_t)(f->nvariants + 1) * sizeof *w);
        if (!w) s = clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "fusing the graph: out of host memory");
        else f->variant = w;
        if (s == CLG_OK) s = build_generated(b, &t, g->kind == CLG_FG_UPDATE, &program);
        if (s == CLG_OK) {
            f->variant[f->nvariants].src = t.s;
            f->variant[f->nvariants++].program = program;
            t.s = NULL;
        }
    }
    free(t.s);
    if (s == CLG_OK) s = bind_group(b, program, k, &ng);
    if (s != CLG_OK) return clg_error_wrap(be->ctx, s, "fusing nodes %d to %d again for their fields", (int)g->first, (int)g->last);
    if (g->kern) clReleaseKernel(g->kern); /* a run in flight keeps it: OpenCL retains what it enqueued */
    *g = ng;
    return CLG_OK;
}

void clg_cl_fuse_free(clg_cl_fused *f)
{
    for (int k = 0; k < f->count; k++)
        if (f->group[k].kern) clReleaseKernel(f->group[k].kern);
    if (f->program) clReleaseProgram(f->program);
    for (int v = 0; v < f->nvariants; v++) {
        clReleaseProgram(f->variant[v].program);
        free(f->variant[v].src);
    }
    free(f->variant);
    free(f->group);
    memset(f, 0, sizeof *f);
}
