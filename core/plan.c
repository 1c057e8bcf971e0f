/*
 * Memory planning: the buffers of a graph's intermediate tensors, assigned
 * once over the whole graph by liveness (as ggml-alloc does), so that
 * tensors whose lifetimes do not overlap share memory.
 *
 * Nodes run in recording order (clg_graph_run filters by phase but never
 * reorders), so node i's output lives from i to the last node that reads
 * it (through src, or through a reshape view of it), and its saved state
 * (aux buffers that are not scratch) to the last node that reads that: a
 * backward op given its forward node may read only the state (the im2col
 * matrix, the arg-max, the statistics, the mask), and then the output can
 * go earlier. Scratch workspaces live while their node runs. A node that
 * nothing reads, that is named, or that the user keeps (clg_tensor_keep,
 * the loss, a gradient handed out by clg_grad) gets a buffer of its own and
 * keeps its values after a run. A member of a backend's fused group
 * (vtable fusion) that only its group reads, and that the group's kernel
 * does not store for itself, gets no buffer: it lives in registers. The
 * rest share the pool, and a node's output never shares memory with
 * anything it reads. Leaves (inputs,
 * parameters, constants, optimizer state) and aux buffers that live across
 * runs (batch norm's running statistics) are allocated when recorded.
 *
 * Two packings, the smaller wins: slots (whole buffers, best fit, a free
 * slot too small is grown; a few greedy variants), and, where the backend
 * makes views of a buffer (vtable buffer_view), one arena in which each
 * tensor gets an offset: in run order, best fit among the freed ranges
 * (merged with their neighbours), else at the top; or largest first, each
 * in the smallest gap its overlapping blocks leave (arena_by_size). The
 * arena packs closer to the peak of live bytes; it must fit the device's
 * largest buffer.
 *
 * Recording another node invalidates the plan; the next run prepares again,
 * and the backend then compiles the graph on its buffers (plan_build).
 * CLGRAD_PLAN=off (read when a graph is created) gives every tensor its
 * own buffer at record time instead, for debugging and for the tests that
 * compare planned and unplanned runs bit for bit.
 */
#include "internal.h"

#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* Storage owner: a reshape shares its source's buffer. */
static int32_t owner_of(const clg_graph *g, int32_t id)
{
    while (g->nodes[id].op == CLG_OP_RESHAPE && g->nodes[id].src[0] >= 0 && !g->nodes[id].owns_buf &&
           g->nodes[id].deferred)
        id = g->nodes[id].src[0];
    return id;
}

/* (core/backend.h) src[1], or src[0] for cross-entropy; ref/ and host/
 * backends alike. Every other op reads its own sources only. */
int clg_op_forward_source(clg_op op)
{
    switch (op) {
    case CLG_OP_SOFTMAX_CE_GRAD: return 0;
    case CLG_OP_CONV2D_GRAD_INPUT:
    case CLG_OP_CONV2D_GRAD_WEIGHT:
    case CLG_OP_BATCHNORM_GRAD_GAMMA:
    case CLG_OP_BATCHNORM_GRAD_BETA:
    case CLG_OP_BATCHNORM_GRAD_INPUT: return 1;
    default: return -1;
    }
}

/* Whether node n, whose source k is its forward node (above), reads that
 * node's source m: the conv's input gradient its weight alone, the weight
 * gradient its input unless given its own (core/ops.h), every other op
 * all of them (ref/ and host/ backends alike). */
static bool reads_input_of_source(const clg_node *n, int k, int m)
{
    if (clg_op_forward_source(n->op) != k) return false;
    switch (n->op) {
    case CLG_OP_CONV2D_GRAD_INPUT: return m == 1;
    case CLG_OP_CONV2D_GRAD_WEIGHT: return m == 0 && n->src[2] < 0;
    default: return true;
    }
}

/* Ops given their forward node as src[1] that read its saved state (aux
 * buffers: the arg-max, statistics, dropout mask; a backend's workspaces
 * that are not scratch) and its shapes, never its output (ref/ and host/
 * backends alike): the output may go once the forward pass is done with
 * it; the state lives on. */
static bool reads_state_of_source(clg_op op)
{
    switch (op) {
    case CLG_OP_CONV2D_GRAD_INPUT:
    case CLG_OP_CONV2D_GRAD_WEIGHT:
    case CLG_OP_MAXPOOL2D_GRAD:
    case CLG_OP_AVGPOOL2D_GRAD:
    case CLG_OP_BATCHNORM_GRAD_GAMMA:
    case CLG_OP_BATCHNORM_GRAD_BETA:
    case CLG_OP_BATCHNORM_GRAD_INPUT:
    case CLG_OP_ARGMAX:
    case CLG_OP_DROPOUT_GRAD:
    case CLG_OP_RANDOM_CROP_FLIP_GRAD: return true;
    default: return false;
    }
}

static void release_pool(clg_graph *g)
{
    clg_backend *be = g->ctx->be;
    if (g->be_plan) be->vt->plan_free(be, g->be_plan); /* it binds the buffers freed below */
    g->be_plan = NULL;
    for (int32_t i = 0; i < g->n; i++) {
        clg_node *n = &g->nodes[i];
        if (n->pooled) n->buf = NULL;
        n->pooled = false;
        for (int k = 0; k < CLG_MAX_AUX; k++)
            if (n->aux_pooled & (1u << k)) n->aux[k] = NULL;
        n->aux_pooled = 0;
        if (n->deferred && !n->owns_buf) n->buf = NULL;
    }
    for (int s = g->npool - 1; s >= 0; s--) /* an arena's views before the arena */
        if (g->pool[s]) be->vt->buffer_free(be, g->pool[s]);
    free(g->pool);
    free(g->pool_cap);
    g->pool = NULL;
    g->pool_cap = NULL;
    g->npool = 0;
}

void clg_plan_release(clg_graph *g)
{
    release_pool(g);
    g->prepared = false;
    g->replan = false;
}

typedef struct {
    int64_t cap;  /* elements */
    int32_t until; /* the last node that reads the current holder */
    bool act;     /* holds an op output at some point */
} slot;

typedef struct {
    slot *s;
    int n, cap;
} slots;

/* A slot for count elements needed from node `from` to node `until`. */
static int take_slot(slots *p, int32_t from, int32_t until, int64_t count, bool act, bool grow_largest)
{
    int best = -1, largest = -1; /* largest: the free slot to grow, by the strategy */
    for (int i = 0; i < p->n; i++) {
        if (p->s[i].until >= from) continue; /* still read */
        if (p->s[i].cap >= count && (best < 0 || p->s[i].cap < p->s[best].cap)) best = i;
        if (largest < 0 || (grow_largest ? p->s[i].cap > p->s[largest].cap : p->s[i].cap < p->s[largest].cap))
            largest = i;
    }
    int k = best >= 0 ? best : largest;
    if (k < 0) {
        if (p->n == p->cap) {
            int cap = p->cap ? 2 * p->cap : 32;
            slot *s = realloc(p->s, (size_t)cap * sizeof *s);
            if (!s) return -1;
            p->s = s;
            p->cap = cap;
        }
        k = p->n++;
        p->s[k] = (slot){0, -1, false};
    }
    if (p->s[k].cap < count) p->s[k].cap = count;
    p->s[k].until = until;
    p->s[k].act |= act;
    return k;
}

/* Last readers of every node: through sources and views, and for the ops
 * that read their forward node's inputs, those too. wide: for every
 * backward op given a forward node (a superset: correct, only longer).
 * last[0, n) is for the nodes' outputs, last[n, 2n) for their saved state
 * (aux buffers that are not scratch): a reader of state alone
 * (reads_state_of_source) extends only the second. -1: never read. A
 * node of a fused group (end[i], vtable fusion) reads at its group's end. */
static void liveness(const clg_graph *g, bool wide, const int32_t *end, int32_t *last)
{
    int32_t n = g->n, *state = last + n;
    for (int32_t i = 0; i < 2 * n; i++) last[i] = -1;
    for (int32_t i = 0; i < n; i++) {
        const int32_t at = end[i]; /* a fused group reads its inputs until its last node */
        for (int k = 0; k < CLG_MAX_SRC; k++) {
            int32_t j = g->nodes[i].src[k];
            if (j < 0) continue;
            if (k == 1 && reads_state_of_source(g->nodes[i].op)) {
                if (state[j] < at) state[j] = at;
            } else {
                int32_t o = owner_of(g, j);
                if (last[o] < at) last[o] = at;
                if (o != j && last[j] < at) last[j] = at;
            }
            const clg_node *f = &g->nodes[j];
            const bool wide_reads = wide && g->nodes[i].phase != CLG_RUN_FORWARD && f->phase == CLG_RUN_FORWARD;
            for (int m = 0; m < CLG_MAX_SRC; m++) {
                if (f->src[m] < 0 || !(wide_reads || reads_input_of_source(&g->nodes[i], k, m))) continue;
                int32_t fo = owner_of(g, f->src[m]);
                if (last[fo] < at) last[fo] = at;
            }
        }
    }
    /* a view read later keeps its source alive: views come after their source */
    for (int32_t i = n - 1; i >= 0; i--) {
        int32_t o = owner_of(g, i);
        if (o != i && last[o] < last[i]) last[o] = last[i];
        if (o != i && last[o] < i) last[o] = i;
    }
    /* state lives at least as long as the output */
    for (int32_t i = 0; i < n; i++)
        if (state[i] < last[i]) state[i] = last[i];
}

/* Slots for every pooled output and workspace, in run order; where[] gets
 * each one's slot. Returns the pool's elements, or -1 out of memory. */
static int64_t sweep(const clg_graph *g, const int32_t *last, const bool *own, bool grow_largest, slots *p,
                     int32_t *where)
{
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *nd = &g->nodes[i];
        for (int k = 0; k <= CLG_MAX_AUX; k++) where[i * (CLG_MAX_AUX + 1) + k] = -1;
        if (!nd->deferred) continue;
        int32_t until = last[i] >= 0 ? last[i] : i;
        if (owner_of(g, i) == i && !own[i]) {
            int k = take_slot(p, i, until, clg_node_words(nd), true, grow_largest);
            if (k < 0) return -1;
            where[i * (CLG_MAX_AUX + 1)] = k;
        }
        for (int a = 0; a < CLG_MAX_AUX; a++) {
            if (!nd->aux_count[a] || nd->aux[a]) continue; /* none, or allocated when recorded */
            int32_t auntil = last[g->n + i] >= 0 ? last[g->n + i] : i;
            int k = take_slot(p, i, nd->aux_scratch & (1u << a) ? i : auntil, nd->aux_count[a], false, grow_largest);
            if (k < 0) return -1;
            where[i * (CLG_MAX_AUX + 1) + 1 + a] = k;
        }
    }
    int64_t total = 0;
    for (int k = 0; k < p->n; k++) total += p->s[k].cap;
    return total;
}

/* ---- one arena: offsets by liveness (the backend's buffer_view) ---- */

typedef struct {
    int64_t off, size;
    int32_t until; /* live blocks: the last node that reads them */
} block;

typedef struct {
    block *free_, *live;
    int nfree, nlive, cap_free, cap_live;
    int64_t top; /* the arena's size so far */
} arena;

static bool push(block **v, int *n, int *cap, block b)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 32;
        block *w = realloc(*v, (size_t)c * sizeof *w);
        if (!w) return false;
        *v = w;
        *cap = c;
    }
    (*v)[(*n)++] = b;
    return true;
}

/* Returns a block to the free list (kept sorted by offset), merged with
 * its neighbours; a free block at the top shrinks the arena's frontier
 * only in effect: top stays the high-water mark. */
static bool arena_free(arena *a, block b)
{
    int i = 0;
    while (i < a->nfree && a->free_[i].off < b.off) i++;
    if (i > 0 && a->free_[i - 1].off + a->free_[i - 1].size == b.off) {
        a->free_[i - 1].size += b.size;
        if (i < a->nfree && b.off + b.size == a->free_[i].off) {
            a->free_[i - 1].size += a->free_[i].size;
            memmove(&a->free_[i], &a->free_[i + 1], (size_t)(a->nfree - i - 1) * sizeof *a->free_);
            a->nfree--;
        }
        return true;
    }
    if (i < a->nfree && b.off + b.size == a->free_[i].off) {
        a->free_[i].off = b.off;
        a->free_[i].size += b.size;
        return true;
    }
    if (!push(&a->free_, &a->nfree, &a->cap_free, b)) return false;
    memmove(&a->free_[i + 1], &a->free_[i], (size_t)(a->nfree - 1 - i) * sizeof *a->free_);
    a->free_[i] = b;
    return true;
}

/* Best fit among the free blocks; else at the top (taking a free block
 * that ends there). Returns the offset, or -1 out of host memory. */
static int64_t arena_take(arena *a, int64_t size, int32_t until)
{
    int best = -1;
    for (int i = 0; i < a->nfree; i++)
        if (a->free_[i].size >= size && (best < 0 || a->free_[i].size < a->free_[best].size)) best = i;
    int64_t off;
    if (best >= 0) {
        off = a->free_[best].off;
        a->free_[best].off += size;
        a->free_[best].size -= size;
        if (!a->free_[best].size) {
            memmove(&a->free_[best], &a->free_[best + 1], (size_t)(a->nfree - best - 1) * sizeof *a->free_);
            a->nfree--;
        }
    } else if (a->nfree && a->free_[a->nfree - 1].off + a->free_[a->nfree - 1].size == a->top) {
        off = a->free_[--a->nfree].off;
        a->top = off + size;
    } else {
        off = a->top;
        a->top += size;
    }
    if (!push(&a->live, &a->nlive, &a->cap_live, (block){off, size, until})) return -1;
    return off;
}

/* The arena plan: offsets (in elements, multiples of align) of every
 * pooled output and workspace into where[], as sweep gives slots. Returns
 * the arena's elements, or -1 out of host memory. */
static int64_t arena_sweep(const clg_graph *g, const int32_t *last, const bool *own, int64_t align, bool with_aux,
                           int64_t *where)
{
    arena a = {0};
    int64_t result = -1;
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *nd = &g->nodes[i];
        for (int k = 0; k <= CLG_MAX_AUX; k++) where[i * (CLG_MAX_AUX + 1) + k] = -1;
        /* what no node from i on reads is free again */
        for (int j = 0; j < a.nlive;) {
            if (a.live[j].until < i) {
                if (!arena_free(&a, a.live[j])) goto done;
                a.live[j] = a.live[--a.nlive];
            } else {
                j++;
            }
        }
        if (!nd->deferred) continue;
        int32_t until = last[i] >= 0 ? last[i] : i;
        if (owner_of(g, i) == i && !own[i]) {
            int64_t off = arena_take(&a, (clg_node_words(nd) + align - 1) / align * align, until);
            if (off < 0) goto done;
            where[i * (CLG_MAX_AUX + 1)] = off;
        }
        for (int k = 0; with_aux && k < CLG_MAX_AUX; k++) {
            if (!nd->aux_count[k] || nd->aux[k]) continue;
            int32_t auntil = last[g->n + i] >= 0 ? last[g->n + i] : i;
            int64_t off = arena_take(&a, (nd->aux_count[k] + align - 1) / align * align,
                                     nd->aux_scratch & (1u << k) ? i : auntil);
            if (off < 0) goto done;
            where[i * (CLG_MAX_AUX + 1) + 1 + k] = off;
        }
    }
    result = a.top;
done:
    free(a.free_);
    free(a.live);
    return result;
}

/* ---- one arena, offsets greedy by size ----
 * The sweep above places each tensor when its node runs, before it knows
 * what comes later: the large activations of a convolutional network's
 * first layers, saved for backward, leave the early offsets fragmented by
 * smaller tensors placed between them. Here every block (a pooled output
 * or workspace, live from its node to its last reader) is known first and
 * placed largest first, each in the smallest gap that fits among the
 * blocks already placed whose lifetimes overlap its own, else above them
 * (greedy by size: Pisarchyk and Lee, "Efficient Memory Management for
 * Deep Neural Net Inference", 2020, as TensorFlow Lite plans). Neither
 * packing is always the smaller; clg_plan_prepare keeps the smaller. */
typedef struct {
    int64_t size, off;
    int32_t from, until; /* live at nodes from..until */
    int32_t at;          /* its index in where[] */
} sized;

static int larger_first(const void *pa, const void *pb)
{
    const sized *a = pa, *b = pb;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    if (a->from != b->from) return a->from < b->from ? -1 : 1;
    return a->at < b->at ? -1 : a->at > b->at;
}

/* As arena_sweep: offsets into where[], the arena's elements, or -1 out
 * of host memory. */
static int64_t arena_by_size(const clg_graph *g, const int32_t *last, const bool *own, int64_t align, bool with_aux,
                             int64_t *where)
{
    const int32_t n = g->n;
    const size_t cap = (size_t)n * (CLG_MAX_AUX + 1); /* every output and workspace at most */
    for (size_t i = 0; i < cap; i++) where[i] = -1;
    sized *b = malloc((cap ? cap : 1) * sizeof *b);
    int32_t *order = malloc((cap ? cap : 1) * sizeof *order); /* placed blocks by offset */
    int64_t total = -1;
    if (!b || !order) goto done;
    size_t nb = 0;
    for (int32_t i = 0; i < n; i++) {
        const clg_node *nd = &g->nodes[i];
        if (!nd->deferred) continue;
        if (owner_of(g, i) == i && !own[i])
            b[nb++] = (sized){(clg_node_words(nd) + align - 1) / align * align, 0, i, last[i] >= 0 ? last[i] : i,
                              i * (CLG_MAX_AUX + 1)};
        for (int k = 0; with_aux && k < CLG_MAX_AUX; k++) {
            if (!nd->aux_count[k] || nd->aux[k]) continue;
            const int32_t auntil = last[n + i] >= 0 ? last[n + i] : i;
            b[nb++] = (sized){(nd->aux_count[k] + align - 1) / align * align, 0, i,
                              nd->aux_scratch & (1u << k) ? i : auntil, i * (CLG_MAX_AUX + 1) + 1 + k};
        }
    }
    qsort(b, nb, sizeof *b, larger_first);
    total = 0;
    size_t placed = 0;
    for (size_t j = 0; j < nb; j++) {
        /* the gaps between the placed blocks it overlaps in time, by offset */
        int64_t end = 0, best = -1, best_gap = 0;
        for (size_t q = 0; q < placed; q++) {
            const sized *p = &b[order[q]];
            if (p->from > b[j].until || b[j].from > p->until) continue;
            const int64_t gap = p->off - end;
            if (gap >= b[j].size && (best < 0 || gap < best_gap)) {
                best = end;
                best_gap = gap;
            }
            if (p->off + p->size > end) end = p->off + p->size;
        }
        b[j].off = best >= 0 ? best : end;
        if (b[j].off + b[j].size > total) total = b[j].off + b[j].size;
        size_t q = placed++;
        while (q > 0 && b[order[q - 1]].off > b[j].off) {
            order[q] = order[q - 1];
            q--;
        }
        order[q] = (int32_t)j;
        where[b[j].at] = b[j].off;
    }
done:
    free(b);
    free(order);
    return total;
}

static clg_status pool_arrays(clg_graph *g, int n)
{
    g->pool = calloc((size_t)(n ? n : 1), sizeof *g->pool);
    g->pool_cap = calloc((size_t)(n ? n : 1), sizeof *g->pool_cap);
    if (!g->pool || !g->pool_cap) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "preparing the graph: out of host memory");
    g->pool_act = 0;
    g->pool_work = 0;
    return CLG_OK;
}

/* One buffer per slot; each planned tensor and workspace gets its slot's. */
static clg_status place_slots(clg_graph *g, const slots *p, const int32_t *where)
{
    clg_backend *be = g->ctx->be;
    clg_status s = pool_arrays(g, p->n);
    if (s != CLG_OK) return s;
    g->npool = p->n;
    for (int k = 0; k < p->n; k++) {
        s = be->vt->buffer_alloc(be, (size_t)p->s[k].cap, &g->pool[k]);
        if (s != CLG_OK)
            return clg_error_wrap(g->ctx, s, "preparing the graph: slot %d of the shared pool (%lld elements)", k,
                                  (long long)p->s[k].cap);
        g->pool_cap[k] = (size_t)p->s[k].cap;
        if (p->s[k].act) g->pool_act += (uint64_t)p->s[k].cap * 4;
        else g->pool_work += (uint64_t)p->s[k].cap * 4;
    }
    for (int32_t i = 0; i < g->n; i++) {
        clg_node *nd = &g->nodes[i];
        int k = where[i * (CLG_MAX_AUX + 1)];
        if (k >= 0) {
            nd->buf = g->pool[k];
            nd->pooled = true;
        }
        for (int a = 0; a < CLG_MAX_AUX; a++) {
            k = where[i * (CLG_MAX_AUX + 1) + 1 + a];
            if (k < 0) continue;
            nd->aux[a] = g->pool[k];
            nd->aux_pooled |= (uint8_t)(1u << a);
        }
    }
    return CLG_OK;
}

/* One buffer of total elements; each planned tensor and workspace a view
 * of it at its offset. pool[0] is the arena, the views follow. */
static clg_status place_arena(clg_graph *g, const int64_t *offs, int64_t total, int64_t act)
{
    clg_backend *be = g->ctx->be;
    int nviews = 0;
    for (int32_t i = 0; i < g->n * (CLG_MAX_AUX + 1); i++) nviews += offs[i] >= 0;
    clg_status s = pool_arrays(g, 1 + nviews);
    if (s != CLG_OK) return s;
    s = be->vt->buffer_alloc(be, (size_t)total, &g->pool[0]);
    if (s != CLG_OK)
        return clg_error_wrap(g->ctx, s, "preparing the graph: the shared pool (%lld elements)", (long long)total);
    g->npool = 1;
    g->pool_cap[0] = (size_t)total;
    /* outputs and workspaces share it: the workspaces are counted as what
     * they add to an arena of the outputs alone */
    if (act > total) act = total;
    g->pool_act = (uint64_t)act * 4;
    g->pool_work = (uint64_t)(total - act) * 4;
    for (int32_t i = 0; i < g->n; i++) {
        clg_node *nd = &g->nodes[i];
        for (int a = 0; a <= CLG_MAX_AUX; a++) {
            int64_t off = offs[i * (CLG_MAX_AUX + 1) + a];
            if (off < 0) continue;
            size_t count = (size_t)(a == 0 ? clg_node_words(nd) : nd->aux_count[a - 1]);
            clg_buffer *v;
            s = be->vt->buffer_view(be, g->pool[0], (size_t)off, count, &v);
            if (s != CLG_OK) {
                char d[256];
                clg_node_describe(g->nodes, nd, d, sizeof d);
                return clg_error_wrap(g->ctx, s, "preparing the graph: tensor %d (%s) in the shared pool", (int)i, d);
            }
            g->pool[g->npool++] = v;
            if (a == 0) {
                nd->buf = v;
                nd->pooled = true;
            } else {
                nd->aux[a - 1] = v;
                nd->aux_pooled |= (uint8_t)(1u << (a - 1));
            }
        }
    }
    return CLG_OK;
}

clg_status clg_plan_prepare(clg_graph *g)
{
    if (g->prepared) return CLG_OK;
    release_pool(g);
    clg_backend *be = g->ctx->be;
    clg_status s = CLG_OK;
    int32_t n = g->n;
    size_t nw = (size_t)(n ? n : 1) * (CLG_MAX_AUX + 1);
    int32_t *last = malloc((size_t)(n ? 2 * n : 1) * sizeof *last);
    int32_t *gend = malloc((size_t)(n ? n : 1) * sizeof *gend);
    int32_t *where = malloc(nw * sizeof *where), *try_where = malloc(nw * sizeof *try_where);
    int64_t *offs = malloc(nw * sizeof *offs), *offs_try = malloc(nw * sizeof *offs_try);
    /* own: outside the pool (a buffer of its own, or none) */
    bool *own = calloc((size_t)(n ? n : 1), sizeof *own), *stored = calloc((size_t)(n ? n : 1), sizeof *stored);
    bool *none = calloc((size_t)(n ? n : 1), sizeof *none);
    slots p = {0}, t = {0};
    int32_t failed_at = 0;
    if (!last || !gend || !where || !try_where || !offs || !offs_try || !own || !stored || !none) goto oom;
    clg_graph_group_ends(g, gend, stored);

    /* kept tensors (through a view too): a buffer of their own */
    liveness(g, false, gend, last);
    for (int32_t i = 0; i < n; i++) own[i] = g->nodes[i].owns_buf;
    for (int32_t i = 0; i < n; i++) {
        const clg_node *nd = &g->nodes[i];
        /* a sink: nothing reads it, its output or its state */
        if (nd->deferred && (nd->keep || nd->name[0] || last[n + i] < 0)) own[owner_of(g, i)] = true;
    }
    /* a fused group's member that only later members read (readers run at
     * their group's end: one within i's end is in i's group), and that the
     * group's kernel does not store for itself, stays in registers: no
     * buffer, as tinygrad's and XLA's fused intermediates */
    for (int32_t i = 0; i < n; i++) {
        const clg_node *nd = &g->nodes[i];
        if (nd->deferred && !own[i] && owner_of(g, i) == i && gend[i] > i && last[i] >= 0 && last[i] <= gend[i] &&
            !stored[i])
            none[i] = own[i] = true;
    }
    for (int32_t i = 0; i < n; i++) {
        clg_node *nd = &g->nodes[i];
        if (!nd->deferred || !own[i] || none[i] || nd->owns_buf || owner_of(g, i) != i) continue;
        s = be->vt->buffer_alloc(be, (size_t)clg_node_words(nd), &nd->buf);
        failed_at = i;
        if (s != CLG_OK) goto fail_node;
        nd->owns_buf = true;
    }

    /* Slots greedily, best fit: no one order is best, so a few plans, all
     * valid, and the smallest wins (exact liveness or the wider one; a
     * slot too small grown, the largest or the smallest) */
    int64_t best = -1;
    for (int v = 0; v < 4; v++) {
        liveness(g, v >= 2, gend, last);
        t.n = 0;
        int64_t total = sweep(g, last, own, v % 2 == 0, &t, try_where);
        if (total < 0) goto oom;
        if (best >= 0 && total >= best) continue;
        best = total;
        memcpy(where, try_where, nw * sizeof *where);
        slots swap = p;
        p = t;
        t = swap;
    }
    /* One arena, with offsets by liveness, where the backend can make views
     * of a buffer and the arena is smaller (it packs by offset, so it
     * reaches the peak of live bytes where slots of whole sizes may not) */
    int64_t arena_total = -1, arena_act = 0;
    if (be->vt->buffer_view) {
        int64_t align = be->view_align ? be->view_align : 1;
        uint64_t max_elems = be->max_buffer_bytes ? be->max_buffer_bytes / 4 : (uint64_t)INT64_MAX;
        for (int v = 0; v < 4; v++) {
            liveness(g, v % 2 == 1, gend, last);
            const bool sweep_order = v < 2;
            if (g->plan_packing && sweep_order != (g->plan_packing == 1)) continue;
            int64_t total = sweep_order ? arena_sweep(g, last, own, align, true, offs_try)
                                        : arena_by_size(g, last, own, align, true, offs_try);
            if (total < 0) goto oom;
            if ((total >= best && !g->plan_packing) || (uint64_t)total > max_elems ||
                (arena_total >= 0 && total >= arena_total))
                continue;
            arena_total = total;
            memcpy(offs, offs_try, nw * sizeof *offs);
            /* what the outputs alone would take: the rest is the workspaces' */
            arena_act = sweep_order ? arena_sweep(g, last, own, align, false, offs_try)
                                    : arena_by_size(g, last, own, align, false, offs_try);
            if (arena_act < 0) goto oom;
        }
    }
    if (arena_total > 0) {
        s = place_arena(g, offs, arena_total, arena_act);
        if (s != CLG_OK) goto done;
    } else {
        s = place_slots(g, &p, where);
        if (s != CLG_OK) goto done;
    }
    for (int32_t i = 0; i < n; i++) { /* views: their source's buffer, once it has one */
        int32_t o = owner_of(g, i);
        if (o != i) {
            g->nodes[i].buf = g->nodes[o].buf;
            g->nodes[i].pooled = g->nodes[o].pooled;
        }
    }
    /* the backend compiles the graph now that every buffer is known */
    if (g->plan_on && be->vt->plan_build && (s = be->vt->plan_build(be, g->nodes, n, &g->be_plan)) != CLG_OK) {
        clg_error_wrap(g->ctx, s, "preparing the graph for the %s backend", be->vt->kind);
        goto done;
    }
    g->prepared = true;
    goto done;
fail_node : {
    char d[256];
    clg_node_describe(g->nodes, &g->nodes[failed_at], d, sizeof d);
    clg_error_wrap(g->ctx, s, "preparing the graph: tensor %d (%s)", (int)failed_at, d);
    goto done;
}
oom:
    s = clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "preparing the graph: out of host memory");
done:
    if (!g->prepared) release_pool(g);
    free(p.s);
    free(t.s);
    free(last);
    free(gend);
    free(where);
    free(try_where);
    free(offs);
    free(offs_try);
    free(own);
    free(stored);
    free(none);
    return s;
}

clg_status clg_graph_prepare(clg_graph *g)
{
    clg_status s = clg_graph_check(g, "clg_graph_prepare");
    if (s != CLG_OK) return s;
    if (!g->checked && (s = clg_graph_check_support(g)) != CLG_OK) return clg_error_wrap(g->ctx, s, "clg_graph_prepare");
    s = clg_plan_prepare(g);
    return s == CLG_OK ? CLG_OK : clg_error_wrap(g->ctx, s, "clg_graph_prepare");
}

clg_status clg_tensor_keep(clg_graph *g, clg_tensor t)
{
    clg_status s = clg_graph_check(g, "clg_tensor_keep");
    if (s != CLG_OK) return s;
    if ((s = clg_tensor_check(g, t, "clg_tensor_keep")) != CLG_OK) return s;
    clg_node *n = &g->nodes[t.id];
    if (!n->keep) {
        n->keep = true;
        /* it needs a buffer of its own: planned again at the next run that
         * starts a step (a forward pass), so that a backward or update run
         * still finds the pool as the forward pass left it */
        if (n->pooled) g->replan = true;
    }
    return CLG_OK;
}

clg_status clg_graph_memory_sized(clg_graph *g, clg_memory *given, size_t size)
{
    clg_status s = clg_graph_check(g, "clg_graph_memory");
    if (s != CLG_OK) return s;
    if (!given) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_memory: out is NULL");
    if (size < offsetof(clg_memory, unplanned_total) + sizeof given->unplanned_total)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_memory: size %zu is less than any version's",
                         size);
    clg_memory m, *out = &m;
    if ((s = clg_plan_prepare(g)) != CLG_OK) return clg_error_wrap(g->ctx, s, "clg_graph_memory");
    memset(out, 0, sizeof *out);
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        uint64_t own = n->owns_buf ? (uint64_t)clg_node_words(n) * 4 : 0;
        uint64_t aux_own = 0, aux_all = 0;
        for (int a = 0; a < CLG_MAX_AUX; a++) {
            aux_all += (uint64_t)n->aux_count[a] * 4;
            if (n->aux[a] && !(n->aux_pooled & (1u << a))) aux_own += (uint64_t)n->aux_count[a] * 4;
        }
        switch (n->role) {
        case CLG_ROLE_PARAM: out->parameters += own; break;
        case CLG_ROLE_STATE: out->optimizer_state += own; break;
        case CLG_ROLE_INPUT: out->inputs += own; break;
        default: out->activations += own; break;
        }
        out->workspaces += aux_own;
        /* every tensor with a buffer of its own: what the graph took unplanned */
        if (n->owns_buf || (n->deferred && owner_of(g, i) == i)) out->unplanned_total += (uint64_t)clg_node_words(n) * 4;
        out->unplanned_total += aux_all;
    }
    out->activations += g->pool_act;
    out->workspaces += g->pool_work;
    out->total = out->parameters + out->optimizer_state + out->inputs + out->activations + out->workspaces;
    memset(given, 0, size);
    memcpy(given, &m, size < sizeof m ? size : sizeof m);
    return CLG_OK;
}

void clg_graph_group_ends(const clg_graph *g, int32_t *end, bool *stored)
{
    clg_backend *be = g->ctx->be;
    for (int32_t i = 0; i < g->n; i++) end[i] = i;
    if (stored)
        for (int32_t i = 0; i < g->n; i++) stored[i] = false;
    if (g->plan_on && be->vt->fusion) be->vt->fusion(be, g->nodes, g->n, end, stored);
}
