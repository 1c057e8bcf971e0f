/* OpenCL dispatch of the softmax family. */
#include "cl_backend.h"

/* Smallest power of two >= c, at most kernel k's local size: a row of
 * 10 classes gets 16 work-items, not 256 mostly idle ones. */
static size_t group_size_for(const clg_cl_backend *b, int k, int64_t c)
{
    size_t l = 1;
    while (l < b->kwg[k] && (int64_t)l < c) l *= 2;
    return l;
}

/* Launches a one-work-group-per-row kernel over rows rows of c elements:
 * as many groups as rows, up to what fills the device (they grid-stride). */
static clg_status launch_per_row(clg_cl_backend *b, int k, clg_karg *args, int nargs, int64_t rows, int64_t c)
{
    size_t local = group_size_for(b, k, c), groups = b->max_global / local;
    if ((int64_t)groups > rows) groups = (size_t)rows;
    args[nargs - 1] = (clg_karg)LOCAL_ARG(local * sizeof(float));
    return clg_cl_launch(b, k, args, nargs, groups * local, local);
}

/*
 * Softmax and log-softmax, forward (x) or backward (y, dy), along axis
 * i[0]. One work-item per row when rows are interleaved in memory
 * (inner > 1) and numerous enough to keep the device busy; otherwise one
 * work-group per row.
 */
static clg_status run_rows(clg_cl_backend *b, const clg_node *nodes, const clg_node *n, bool backward)
{
    const clg_node *x = &nodes[n->src[0]];
    int axis = (int)n->i[0];
    cl_long c = x->shape[axis], inner = 1;
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    cl_long rows = x->numel / c;
    cl_int log_out = n->op == CLG_OP_LOG_SOFTMAX || n->op == CLG_OP_LOG_SOFTMAX_GRAD;
    cl_mem a = MEM(x->buf), y = MEM(n->buf), dy = backward ? MEM(nodes[n->src[1]].buf) : NULL;
    const int k_rows = backward ? K_softmax_bwd_rows : K_softmax_fwd_rows;
    bool per_item = inner > 1 && rows >= (cl_long)(b->max_global / b->kwg[k_rows]);
    if (backward) {
        clg_karg args[] = {ARG(a), ARG(dy), ARG(y), ARG(rows), ARG(c), ARG(inner), ARG(log_out), LOCAL_ARG(0)};
        if (per_item) return clg_cl_launch(b, K_softmax_bwd_rows, args, 7, (size_t)rows, 0);
        return launch_per_row(b, K_softmax_bwd_group, args, 8, rows, c);
    }
    clg_karg args[] = {ARG(a), ARG(y), ARG(rows), ARG(c), ARG(inner), ARG(log_out), LOCAL_ARG(0)};
    if (per_item) return clg_cl_launch(b, K_softmax_fwd_rows, args, 6, (size_t)rows, 0);
    return launch_per_row(b, K_softmax_fwd_group, args, 7, rows, c);
}

size_t clg_cl_ce_small_local(const clg_cl_backend *b, int64_t rows, size_t limit)
{
    size_t local = 1;
    while (local * 2 <= limit && local * 2 <= b->max_global && (int64_t)local < rows) local *= 2;
    return local;
}

/* Rows of at most this many classes take a work-item each (a work-group
 * would be mostly idle), longer ones a work-group. */
#define CE_ROW_PER_ITEM 32

/* Row statistics and losses (a work-item or a work-group per row), then
 * their mean; a small batch in one launch. */
static clg_status ce_forward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *z = &nodes[n->src[0]];
    cl_mem zm = MEM(z->buf), lm = MEM(nodes[n->src[1]].buf), stats = MEM(n->aux[0]), loss = MEM(n->aux[1]);
    cl_long rows = z->shape[0], c = z->shape[1];
    if (z->numel <= CLG_CE_SMALL_LOGITS && b->kernels[K_softmax_ce_small]) {
        size_t local = clg_cl_ce_small_local(b, rows, b->kwg[K_softmax_ce_small]);
        cl_mem y = MEM(n->buf);
        float scale = (float)(1.0 / (double)rows);
        clg_karg args[] = {ARG(zm), ARG(lm), ARG(stats), ARG(y), ARG(rows), ARG(c), ARG(scale), LOCAL_ARG(local * sizeof(float))};
        return clg_cl_launch(b, K_softmax_ce_small, args, 8, local, local);
    }
    if (c <= CE_ROW_PER_ITEM) {
        clg_karg args[] = {ARG(zm), ARG(lm), ARG(stats), ARG(rows), ARG(c), {0}, {0}};
        cl_int m;
        clg_status s = clg_cl_partials(b, K_softmax_ce_rows, args, 7, rows, &m);
        if (s != CLG_OK) return s;
        cl_mem y = MEM(n->buf);
        float scale = (float)(1.0 / (double)rows);
        clg_karg fin[] = {ARG(b->partials), ARG(m), ARG(scale), ARG(y), {0}};
        return clg_cl_final(b, K_sum_final, fin, 5);
    }
    clg_karg args[] = {ARG(zm), ARG(lm), ARG(stats), ARG(loss), ARG(rows), ARG(c), LOCAL_ARG(0)};
    clg_status s = launch_per_row(b, K_softmax_ce_forward, args, 7, rows, c);
    if (s != CLG_OK) return s;
    return clg_cl_reduce_all(b, loss, NULL, rows, (float)(1.0 / (double)rows), MEM(n->buf));
}

static clg_status ce_backward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *ce = &nodes[n->src[0]], *z = &nodes[ce->src[0]];
    cl_mem zm = MEM(z->buf), lm = MEM(nodes[ce->src[1]].buf), stats = MEM(ce->aux[0]);
    cl_mem gm = MEM(nodes[n->src[1]].buf), dz = MEM(n->buf);
    cl_long rows = z->shape[0], c = z->shape[1];
    clg_karg args[] = {ARG(zm), ARG(lm), ARG(stats), ARG(gm), ARG(dz), ARG(rows), ARG(c)};
    return clg_cl_launch(b, K_softmax_ce_backward, args, 7, (size_t)((rows * c + 15) / 16), 0);
}

/* Pass 1 into b->partials as clg_cl_reduce_all does, then sum_final. */
static clg_status bce_forward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *z = &nodes[n->src[0]];
    cl_mem zm = MEM(z->buf), tm = MEM(nodes[n->src[1]].buf), y = MEM(n->buf);
    cl_long cnt = z->numel;
    cl_int m;
    clg_karg args[] = {ARG(zm), ARG(tm), ARG(cnt), {0}, {0}};
    clg_status s = clg_cl_partials(b, K_bce_logits_partial, args, 5, cnt, &m);
    if (s != CLG_OK) return s;
    float scale = (float)(1.0 / (double)cnt);
    clg_karg fin[] = {ARG(b->partials), ARG(m), ARG(scale), ARG(y), {0}};
    return clg_cl_final(b, K_sum_final, fin, 5);
}

static clg_status bce_backward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    cl_mem zm = MEM(nodes[n->src[0]].buf), tm = MEM(nodes[n->src[1]].buf), gm = MEM(nodes[n->src[2]].buf);
    cl_mem d = MEM(n->buf);
    cl_long cnt = n->numel;
    cl_int wrt_targets = n->i[0] != 0;
    clg_karg args[] = {ARG(zm), ARG(tm), ARG(gm), ARG(d), ARG(cnt), ARG(wrt_targets)};
    return clg_cl_launch(b, K_bce_logits_backward, args, 6, (size_t)cnt, 0);
}

static clg_status one_hot(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    cl_mem lm = MEM(nodes[n->src[0]].buf), y = MEM(n->buf);
    cl_long cnt = n->numel, c = n->shape[1];
    cl_int ignore = (cl_int)n->i[1];
    clg_karg args[] = {ARG(lm), ARG(y), ARG(cnt), ARG(c), ARG(ignore)};
    return clg_cl_launch(b, K_one_hot, args, 5, (size_t)cnt, 0);
}

clg_status clg_cl_softmax(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_SOFTMAX:
    case CLG_OP_LOG_SOFTMAX: return run_rows(b, nodes, n, false);
    case CLG_OP_SOFTMAX_GRAD:
    case CLG_OP_LOG_SOFTMAX_GRAD: return run_rows(b, nodes, n, true);
    case CLG_OP_SOFTMAX_CE: return ce_forward(b, nodes, n);
    case CLG_OP_SOFTMAX_CE_GRAD: return ce_backward(b, nodes, n);
    case CLG_OP_BCE_LOGITS: return bce_forward(b, nodes, n);
    case CLG_OP_BCE_LOGITS_GRAD: return bce_backward(b, nodes, n);
    case CLG_OP_ONE_HOT: return one_hot(b, nodes, n);
    default: return clg_cl_unsupported(b, n);
    }
}
