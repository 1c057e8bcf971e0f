/* Graphs: recording nodes, leaves, tensor data, and running. */
#include "internal.h"
#include "half.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Graph tags only need to differ between graphs alive in one process; a
 * counter is the one process-wide value, and it affects no result. */
static atomic_uint_fast32_t next_tag = 1;

static uint32_t new_tag(void)
{
    for (;;) {
        uint32_t t = (uint32_t)atomic_fetch_add(&next_tag, 1);
        if (t != 0 && t != CLG_TENSOR_FAILED) return t;
    }
}

clg_status clg_graph_create(clg_context *ctx, clg_graph **out)
{
    if (!out) return ctx ? clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_create: out is NULL")
                         : CLG_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!ctx) return CLG_ERR_INVALID_ARGUMENT;
    if (!ctx->be)
        return clg_error(ctx, CLG_ERR_STATE, "clg_graph_create: the context has no device (%s)",
                         clg_status_string(ctx->status));
    clg_graph *g = calloc(1, sizeof *g);
    if (!g) return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "clg_graph_create: out of host memory");
    g->magic = CLG_GRAPH_LIVE;
    g->tag = new_tag();
    const char *plan = clg_setting(ctx, CLG_SET_PLAN);
    g->plan_on = !(plan && strcmp(plan, "off") == 0);
    g->phase = CLG_RUN_FORWARD;
    g->training = true;
    g->ctx = ctx;
    g->next = ctx->graphs;
    ctx->graphs = g;
    *out = g;
    return CLG_OK;
}

/* Removes nodes n.. and their buffers. */
static void truncate_nodes(clg_graph *g, int32_t n)
{
    clg_backend *be = g->ctx->be;
    for (int32_t i = n; i < g->n; i++) {
        clg_node *nd = &g->nodes[i];
        if (nd->owns_buf && nd->buf) be->vt->buffer_free(be, nd->buf);
        for (int k = 0; k < CLG_MAX_AUX; k++)
            if (nd->aux[k] && !(nd->aux_pooled & (1u << k))) be->vt->buffer_free(be, nd->aux[k]);
    }
    if (n < g->n) {
        g->n = n;
        g->prepared = false;
    }
}

void clg_graph_free_nodes(clg_graph *g)
{
    clg_plan_release(g);
    truncate_nodes(g, 0);
    free(g->nodes);
    g->nodes = NULL;
    clg_optim_free(g->optim);
    g->optim = NULL;
    g->n = g->cap = 0;
}

void clg_graph_destroy(clg_graph *g)
{
    if (clg_graph_check(g, "clg_graph_destroy") != CLG_OK) return;
    clg_graph_free_nodes(g);
    g->magic = CLG_GRAPH_DEAD; /* the header stays until the context goes */
}

clg_status clg_graph_check(const clg_graph *g, const char *func)
{
    if (!g) return CLG_ERR_INVALID_ARGUMENT;
    if (g->magic == CLG_GRAPH_LIVE) return CLG_OK;
    if (g->magic == CLG_GRAPH_DEAD)
        return clg_error(g->ctx, CLG_ERR_STATE, "%s: graph used after clg_graph_destroy", func);
    return CLG_ERR_INVALID_ARGUMENT;
}

clg_status clg_graph_status(const clg_graph *g)
{
    clg_status s = clg_graph_check(g, "clg_graph_status");
    return s != CLG_OK ? s : g->first;
}

void clg_graph_clear_status(clg_graph *g)
{
    if (clg_graph_check(g, "clg_graph_clear_status") != CLG_OK) return;
    g->first = CLG_OK;
    if (!g->txn_depth) g->status = CLG_OK;
}

clg_tensor clg_graph_fail(clg_graph *g, clg_status s)
{
    if (g->status == CLG_OK) g->status = s;
    if (g->first == CLG_OK) g->first = s;
    return CLG_FAILED;
}

clg_tensor clg_tref(const clg_graph *g, int32_t id)
{
    return id >= 0 ? (clg_tensor){id, g->tag} : CLG_FAILED;
}

bool clg_tensor_in(const clg_graph *g, clg_tensor t)
{
    return g && t.graph == g->tag && t.id >= 0 && t.id < g->n;
}

clg_status clg_tensor_check(clg_graph *g, clg_tensor t, const char *func)
{
    if (clg_tensor_in(g, t)) return CLG_OK;
    if (t.graph == CLG_TENSOR_FAILED && t.id < 0)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: the tensor given is the failed result of an earlier refused call", func);
    if (t.id < 0 && t.graph == 0)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: no tensor given (CLG_NO_TENSOR)", func);
    if (t.graph != g->tag)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: tensor id %d belongs to another graph (or was not made by this library)", func,
                         (int)t.id);
    return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor id %d is not in this graph (%d tensors)", func,
                     (int)t.id, (int)g->n);
}

clg_txn clg_txn_begin(clg_graph *g)
{
    clg_txn t = {g->n, g->txn_depth == 0};
    if (t.outer) g->status = CLG_OK; /* the checks inside see this call's errors only */
    g->txn_depth++;
    return t;
}

clg_status clg_txn_end(clg_graph *g, clg_txn t, clg_status s)
{
    g->txn_depth--;
    if (!t.outer) return s;
    if (s == CLG_OK) s = g->status;
    /* calls that return a status report it themselves; clg_graph_status
     * holds what the calls that return a tensor refused */
    if (s != CLG_OK) truncate_nodes(g, t.n);
    g->status = CLG_OK;
    return s;
}

clg_tensor clg_txn_end_tensor(clg_graph *g, clg_txn t, clg_tensor y)
{
    clg_status s = y.id >= 0 ? CLG_OK : g->status != CLG_OK ? g->status : CLG_ERR_INVALID_ARGUMENT;
    if (s != CLG_OK && g->first == CLG_OK) g->first = s;
    return clg_txn_end(g, t, s) == CLG_OK ? y : CLG_FAILED;
}

bool clg_tensor_ok_dtype(clg_graph *g, clg_tensor t, const char *op, clg_dtype dtype)
{
    if (clg_tensor_in(g, t) && g->nodes[t.id].state_of) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                  "%s: tensor %d is batch norm's running state (clg_batch_norm_state): it is read and written with "
                  "clg_tensor_get/set and checkpoints, not given to ops",
                  op, (int)t.id);
        clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
        return false;
    }
    if (clg_tensor_in(g, t)) {
        if (g->nodes[t.id].dtype == dtype) return true;
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d holds %s, the op needs %s%s", op, (int)t.id,
                  clg_dtype_name(g->nodes[t.id].dtype), clg_dtype_name(dtype),
                  clg_dtype_16(g->nodes[t.id].dtype) ? " (clg_cast it to float32 first)" : "");
        clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
        return false;
    }
    /* an op on the failed result of an earlier call fails too, keeping the
     * message of the call that was refused while it is still reported */
    if (t.graph == CLG_TENSOR_FAILED && t.id < 0 && g->first != CLG_OK) {
        clg_graph_fail(g, g->first);
        return false;
    }
    clg_tensor_check(g, t, op);
    clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    return false;
}

bool clg_tensor_ok(clg_graph *g, clg_tensor t, const char *op)
{
    return clg_tensor_ok_dtype(g, t, op, CLG_F32);
}

bool clg_tensor_ok_float(clg_graph *g, clg_tensor t, const char *op)
{
    const bool f16 = clg_tensor_in(g, t) && clg_dtype_16(g->nodes[t.id].dtype);
    return clg_tensor_ok_dtype(g, t, op, f16 ? g->nodes[t.id].dtype : CLG_F32);
}

const char *clg_dtype_name(clg_dtype d)
{
    switch (d) {
    case CLG_F32: return "float32";
    case CLG_I32: return "int32 labels";
    case CLG_F16: return "float16";
    case CLG_BF16: return "bfloat16";
    }
    return "?";
}

clg_status clg_node_alloc_aux(clg_graph *g, int32_t id, int slot, int64_t count)
{
    int64_t checked;
    if (!clg_numel_fits(g, clg_op_name(g->nodes[id].op), 1, &count, &checked)) return g->status;
    clg_node *n = &g->nodes[id];
    if (n->deferred && !(n->aux_persist & (1u << slot))) { /* given at prepare, by liveness */
        n->aux_count[slot] = count;
        g->prepared = false;
        return CLG_OK;
    }
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_alloc(be, (size_t)count, &n->aux[slot]);
    if (s != CLG_OK) {
        char d[256];
        clg_node_describe(g->nodes, n, d, sizeof d);
        clg_error_wrap(g->ctx, s, "%s: could not allocate %lld elements of state", d, (long long)count);
        clg_graph_fail(g, s);
        return s;
    }
    n->aux_count[slot] = count;
    return CLG_OK;
}

clg_status clg_node_workspaces(clg_graph *g, int32_t id)
{
    const clg_backend *be = g->ctx->be;
    int64_t counts[CLG_MAX_AUX] = {0};
    uint8_t scratch = 0;
    if (!be->vt->workspaces) return CLG_OK;
    if (!be->vt->workspaces(be, g->nodes, &g->nodes[id], counts, &scratch)) {
        char d[256];
        clg_node_describe(g->nodes, &g->nodes[id], d, sizeof d);
        clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: the %s backend's workspaces overflow a 64-bit element count", d,
                  be->vt->kind);
        clg_graph_fail(g, CLG_ERR_OUT_OF_MEMORY);
        return CLG_ERR_OUT_OF_MEMORY;
    }
    g->nodes[id].aux_scratch = scratch;
    for (int k = 0; k < CLG_MAX_AUX; k++) {
        if (!counts[k]) continue;
        clg_status s = clg_node_alloc_aux(g, id, k, counts[k]);
        if (s != CLG_OK) return s;
    }
    return CLG_OK;
}

bool clg_numel_fits(clg_graph *g, const char *what, int ndim, const int64_t *shape, int64_t *numel)
{
    /* each factor checked against what is left before multiplying, so the
     * product stops at the largest buffer and never wraps */
    const clg_backend *be = g->ctx->be;
    uint64_t max_bytes = be->max_buffer_bytes ? be->max_buffer_bytes : (uint64_t)INT64_MAX;
    uint64_t max = max_bytes / 4, p = 1;
    bool ok = ndim >= 0 && ndim <= CLG_MAX_DIMS;
    for (int d = 0; ok && d < ndim; d++) {
        ok = shape[d] >= 1 && (uint64_t)shape[d] <= max / p;
        if (ok) p *= (uint64_t)shape[d];
    }
    if (ok) {
        *numel = (int64_t)p;
        return true;
    }
    char sh[160] = "";
    if (ndim >= 0 && ndim <= CLG_MAX_DIMS) clg_shape_string(ndim, shape, sh, sizeof sh);
    clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
              "%s: shape %s has more elements than the largest buffer of this device holds (%llu float32 "
              "elements, %llu bytes)",
              what, sh, (unsigned long long)max, (unsigned long long)max_bytes);
    clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    return false;
}

int32_t clg_graph_add_node(clg_graph *g, const clg_node *proto, bool alloc)
{
    if (g->n == g->cap) {
        int32_t cap = g->cap ? g->cap * 2 : 64;
        clg_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory recording node %d",
                      clg_op_name(proto->op), (int)g->n);
            clg_graph_fail(g, CLG_ERR_OUT_OF_MEMORY);
            return -1;
        }
        g->nodes = nodes;
        g->cap = cap;
    }
    int64_t numel;
    if (!clg_numel_fits(g, clg_op_name(proto->op), proto->ndim, proto->shape, &numel)) return -1;
    clg_node *n = &g->nodes[g->n];
    g->checked = false; /* the backend is asked about it before the next run */
    *n = *proto;
    n->grad = -1;
    n->training = true;
    n->numel = numel;
    n->role = proto->op == CLG_OP_PARAM                                ? CLG_ROLE_PARAM
              : proto->op == CLG_OP_INPUT || proto->op == CLG_OP_CONST ? CLG_ROLE_INPUT
                                                                       : CLG_ROLE_ACT;
    g->prepared = false;
    if (alloc) {
        clg_backend *be = g->ctx->be;
        clg_status s = be->vt->buffer_alloc(be, (size_t)clg_node_words(n), &n->buf);
        if (s != CLG_OK) {
            char d[256];
            clg_node_describe(g->nodes, n, d, sizeof d);
            clg_error_wrap(g->ctx, s, "%s: could not allocate %lld bytes", d,
                           (long long)(clg_node_words(n) * 4));
            clg_graph_fail(g, s);
            return -1;
        }
        n->owns_buf = true;
    }
    return g->n++;
}

static bool shape_ok(clg_graph *g, const char *op, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > CLG_MAX_DIMS || (ndim > 0 && !shape)) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: ndim must be 0..%d with a shape array (got %d%s)", op,
                  CLG_MAX_DIMS, ndim, shape ? "" : ", shape NULL");
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1 || shape[d] > ((int64_t)1 << 40)) {
            clg_error(g->ctx, CLG_ERR_SHAPE, "%s: dimension %d is %lld (must be 1..2^40)", op, d,
                      (long long)shape[d]);
            clg_graph_fail(g, CLG_ERR_SHAPE);
            return false;
        }
    return true;
}

static clg_tensor leaf_dtype(clg_graph *g, clg_op op, int ndim, const int64_t *shape, const char *name,
                             clg_dtype dtype)
{
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!shape_ok(g, name, ndim, shape)) return CLG_FAILED;
    clg_node proto = {.op = op, .dtype = dtype, .phase = CLG_RUN_FORWARD, .ndim = ndim, .src = {-1, -1, -1, -1}};
    if (ndim > 0) memcpy(proto.shape, shape, (size_t)ndim * sizeof *shape);
    proto.requires_grad = op == CLG_OP_PARAM;
    return clg_tref(g, clg_graph_add_node(g, &proto, true));
}

static clg_tensor leaf(clg_graph *g, clg_op op, int ndim, const int64_t *shape, const char *name)
{
    return leaf_dtype(g, op, ndim, shape, name, CLG_F32);
}

clg_tensor clg_labels(clg_graph *g, int ndim, const int64_t *shape)
{
    return leaf_dtype(g, CLG_OP_INPUT, ndim, shape, "clg_labels", CLG_I32);
}

clg_tensor clg_input(clg_graph *g, int ndim, const int64_t *shape)
{
    return leaf(g, CLG_OP_INPUT, ndim, shape, "clg_input");
}

bool clg_float_dtype(clg_graph *g, clg_elem to, const char *func, clg_dtype *out)
{
    switch (to) {
    case CLG_ELEM_F32: *out = CLG_F32; return true;
    case CLG_ELEM_F16: *out = CLG_F16; return true;
    case CLG_ELEM_BF16: *out = CLG_BF16; return true;
    default:
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: type %d (%s) is not CLG_ELEM_F32, _F16 or _BF16", func,
                  (int)to, clg_elem_name(to));
        clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
        return false;
    }
}

/* A 16-bit input is set from floats, rounded on the host (clg_tensor_set),
 * so a product reads the batch without a float32 copy and its 16-bit one. */
clg_tensor clg_input_as(clg_graph *g, clg_elem type, int ndim, const int64_t *shape)
{
    const char *name = "clg_input_as";
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    clg_dtype d;
    if (!clg_float_dtype(g, type, name, &d)) return CLG_FAILED;
    return leaf_dtype(g, CLG_OP_INPUT, ndim, shape, name, d);
}

clg_tensor clg_param(clg_graph *g, int ndim, const int64_t *shape)
{
    if (g && g->magic == CLG_GRAPH_LIVE && g->has_backward) {
        clg_error(g->ctx, CLG_ERR_STATE, "clg_param: parameters must be recorded before clg_backward");
        return clg_graph_fail(g, CLG_ERR_STATE);
    }
    return leaf(g, CLG_OP_PARAM, ndim, shape, "clg_param");
}

clg_tensor clg_constant(clg_graph *g, int ndim, const int64_t *shape, float value)
{
    if (clg_graph_check(g, "clg_constant") != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor t = leaf(g, CLG_OP_CONST, ndim, shape, "clg_constant");
    if (t.id >= 0) {
        g->nodes[t.id].f[0] = value;
        if (clg_tensor_fill(g, t, value) != CLG_OK) t = clg_graph_fail(g, g->ctx->status);
    }
    return clg_txn_end_tensor(g, txn, t);
}

clg_tensor clg_scalar(clg_graph *g, float value)
{
    return clg_constant(g, 0, NULL, value);
}

/* ---- tensor data ---- */

static clg_node *data_node(clg_graph *g, clg_tensor t, size_t count, const void *ptr, const char *func,
                           clg_dtype dtype)
{
    if (clg_graph_check(g, func) != CLG_OK) return NULL;
    if (clg_tensor_check(g, t, func) != CLG_OK) return NULL;
    clg_node *n = &g->nodes[t.id];
    if (n->dtype != dtype && !(dtype == CLG_F32 && clg_dtype_16(n->dtype))) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d holds %s", func, (int)t.id,
                  n->dtype == CLG_I32 ? "int32 labels (use clg_tensor_set_i32/get_i32)" : "float values");
        return NULL;
    }
    if (!ptr) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: data pointer is NULL", func);
        return NULL;
    }
    if ((int64_t)count != n->numel) {
        char sh[96];
        clg_shape_string(n->ndim, n->shape, sh, sizeof sh);
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %zu values given for tensor %d of shape %s (%lld elements)",
                  func, count, (int)t.id, sh, (long long)n->numel);
        return NULL;
    }
    return n;
}

clg_status clg_node_storage(clg_graph *g, int32_t id, const char *func)
{
    clg_node *n = &g->nodes[id];
    if (n->state_of)
        return clg_error(g->ctx, CLG_ERR_STATE,
                         "%s: tensor %d is batch norm's running state: it has no buffer of its own (read and write it "
                         "with clg_tensor_get/set)",
                         func, (int)id);
    if (!n->deferred) return CLG_OK;
    clg_status s = clg_plan_prepare(g);
    if (s != CLG_OK) return clg_error_wrap(g->ctx, s, "%s", func);
    if (!n->pooled && n->buf) return CLG_OK;
    char d[256];
    clg_node_describe(g->nodes, n, d, sizeof d);
    if (n->keep)
        return clg_error(g->ctx, CLG_ERR_STATE,
                         "%s: tensor %d (%s) was kept after the graph was planned: it has a buffer of its own from "
                         "the next run with the forward pass on",
                         func, (int)id, d);
    return clg_error(g->ctx, CLG_ERR_STATE,
                     "%s: tensor %d (%s) is an intermediate whose memory other tensors reuse after its last "
                     "use; mark it with clg_tensor_keep to read it after a run",
                     func, (int)id, d);
}

/* A 16-bit tensor's values as floats: its words copied as they are, the
 * halves converted on the host (core/half.c's many-value forms; writing
 * rounds). */
static clg_status transfer_16(clg_graph *g, clg_node *n, void *data, size_t count, bool write)
{
    clg_backend *be = g->ctx->be;
    const size_t words = (size_t)clg_node_words(n);
    uint16_t *bits = calloc(words ? 2 * words : 1, sizeof *bits);
    if (!bits)
        return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory converting %zu values",
                         write ? "clg_tensor_set" : "clg_tensor_get", count);
    const bool bf = n->dtype == CLG_BF16;
    float *f = data;
    clg_status s;
    if (write) {
        (bf ? clg_bf16_narrow : clg_f16_narrow)(bits, f, count);
        s = be->vt->buffer_write(be, n->buf, 0, bits, words, CLG_I32);
    } else if ((s = be->vt->buffer_read(be, n->buf, 0, bits, words, CLG_I32)) == CLG_OK) {
        (bf ? clg_bf16_widen : clg_f16_widen)(f, bits, count);
    }
    free(bits);
    return s;
}

static clg_status transfer(clg_graph *g, clg_tensor t, void *data, size_t count, bool write, clg_dtype dtype,
                           const char *func)
{
    clg_node *n = data_node(g, t, count, data, func, dtype);
    if (!n) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (n->state_of) return write ? clg_state_write(g, t.id, data, func) : clg_state_read(g, t.id, data, func);
    clg_status s = clg_node_storage(g, t.id, func);
    if (s != CLG_OK) return s;
    clg_backend *be = g->ctx->be;
    if (clg_dtype_16(n->dtype)) return transfer_16(g, n, data, count, write);
    return write ? be->vt->buffer_write(be, n->buf, 0, data, count, dtype)
                 : be->vt->buffer_read(be, n->buf, 0, data, count, dtype);
}

clg_status clg_tensor_set(clg_graph *g, clg_tensor t, const float *data, size_t count)
{
    return transfer(g, t, (void *)data, count, true, CLG_F32, "clg_tensor_set");
}

clg_status clg_tensor_get(clg_graph *g, clg_tensor t, float *data, size_t count)
{
    return transfer(g, t, data, count, false, CLG_F32, "clg_tensor_get");
}

clg_status clg_tensor_set_i32(clg_graph *g, clg_tensor t, const int32_t *data, size_t count)
{
    clg_status s = clg_softmax_check_labels(g, t, data, count);
    if (s != CLG_OK) return s;
    return transfer(g, t, (void *)data, count, true, CLG_I32, "clg_tensor_set_i32");
}

clg_status clg_tensor_get_i32(clg_graph *g, clg_tensor t, int32_t *data, size_t count)
{
    return transfer(g, t, data, count, false, CLG_I32, "clg_tensor_get_i32");
}

clg_status clg_tensor_fill(clg_graph *g, clg_tensor t, float value)
{
    clg_status s = clg_graph_check(g, "clg_tensor_fill");
    if (s != CLG_OK) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if ((s = clg_tensor_check(g, t, "clg_tensor_fill")) != CLG_OK) return s;
    clg_node *n = &g->nodes[t.id];
    if (n->dtype != CLG_F32)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_tensor_fill: tensor %d holds %s", (int)t.id,
                         clg_dtype_name(n->dtype));
    if ((s = clg_node_storage(g, t.id, "clg_tensor_fill")) != CLG_OK) return s;
    clg_backend *be = g->ctx->be;
    return be->vt->buffer_fill(be, n->buf, value, (size_t)n->numel);
}

static const clg_node *shape_node(const clg_graph *g, clg_tensor t)
{
    if (!g || g->magic != CLG_GRAPH_LIVE || !clg_tensor_in(g, t)) return NULL;
    return &g->nodes[t.id];
}

int clg_tensor_ndim(const clg_graph *g, clg_tensor t)
{
    const clg_node *n = shape_node(g, t);
    return n ? n->ndim : 0;
}

int64_t clg_tensor_dim(const clg_graph *g, clg_tensor t, int axis)
{
    const clg_node *n = shape_node(g, t);
    if (!n) return 0;
    if (axis < 0) axis += n->ndim;
    return axis >= 0 && axis < n->ndim ? n->shape[axis] : 0;
}

int64_t clg_tensor_numel(const clg_graph *g, clg_tensor t)
{
    const clg_node *n = shape_node(g, t);
    return n ? n->numel : 0;
}

/* ---- running ---- */

clg_status clg_graph_run_begin(clg_graph *g, int phases)
{
    clg_status s = clg_graph_check(g, "clg_graph_run");
    if (s != CLG_OK) return s;
    if (phases & ~CLG_RUN_ALL || !phases)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_run: phases 0x%x is not a set of CLG_RUN_* flags",
                         (unsigned)phases);
    /* an op the backend cannot run is refused when the graph is prepared,
     * before anything runs */
    if (!g->checked && (s = clg_graph_check_support(g)) != CLG_OK)
        return clg_error_wrap(g->ctx, s, "clg_graph_run: refused before any node ran");
    if (g->replan && (phases & CLG_RUN_FORWARD)) clg_plan_release(g);
    if ((s = clg_plan_prepare(g)) != CLG_OK) return clg_error_wrap(g->ctx, s, "clg_graph_run");
    if (phases & CLG_RUN_UPDATE) clg_optim_begin_update(g);
    for (int32_t i = 0; i < g->n; i++)
        if (g->nodes[i].phase & phases) g->nodes[i].counter = g->runs;
    return CLG_OK;
}

clg_status clg_graph_run_nodes(clg_graph *g, int phases, int32_t from, int32_t to)
{
    clg_backend *be = g->ctx->be;
    clg_status s = CLG_OK;
    int32_t failed = -1;
    if (g->be_plan) {
        s = be->vt->plan_run(be, g->be_plan, g->nodes, from, to, phases, &failed);
    } else {
        for (int32_t i = from; i < to && s == CLG_OK; i++) {
            clg_node *n = &g->nodes[i];
            if (clg_op_family(n->op) == CLG_FAM_LEAF || !(n->phase & phases)) continue;
            s = be->vt->run_node(be, g->nodes, n);
            failed = i;
        }
    }
    if (s != CLG_OK && failed >= 0 && failed < g->n) {
        char desc[256];
        clg_node_describe(g->nodes, &g->nodes[failed], desc, sizeof desc);
        clg_error_wrap(g->ctx, s, "clg_graph_run: node %d (%s)", (int)failed, desc);
    }
    /* started, not awaited: reads and clg_graph_wait synchronise */
    if (s == CLG_OK && be->vt->flush) s = be->vt->flush(be);
    if (s != CLG_OK) {
        /* A run refused while enqueuing is no step: a retry uses the same
         * step count (and dropout the same masks) as a run that had
         * succeeded. An error the device meets later surfaces at the next
         * wait, after the step was counted. */
        if (phases & CLG_RUN_UPDATE) clg_optim_cancel_update(g);
    }
    return s;
}

void clg_graph_run_end(clg_graph *g, int phases)
{
    if (phases & CLG_RUN_FORWARD) {
        g->runs++;
        for (int32_t i = 0; i < g->n; i++) /* num_batches_tracked, as PyTorch counts it */
            if (g->nodes[i].op == CLG_OP_BATCHNORM && g->nodes[i].training) g->nodes[i].batches++;
    }
}

clg_status clg_graph_run(clg_graph *g, int phases)
{
    clg_status s = clg_graph_run_begin(g, phases);
    if (s == CLG_OK) s = clg_graph_run_nodes(g, phases, 0, g->n);
    if (s == CLG_OK) clg_graph_run_end(g, phases);
    return s;
}

clg_status clg_graph_wait(clg_graph *g)
{
    clg_status s = clg_graph_check(g, "clg_graph_wait");
    if (s != CLG_OK) return s;
    clg_backend *be = g->ctx->be;
    s = be->vt->synchronize(be);
    return s == CLG_OK ? CLG_OK : clg_error_wrap(g->ctx, s, "clg_graph_wait");
}

clg_status clg_graph_run_timed(clg_graph *g, int phases, double *device_seconds)
{
    clg_status s = clg_graph_check(g, "clg_graph_run_timed");
    if (s != CLG_OK) return s;
    if (!device_seconds)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_run_timed: device_seconds is NULL");
    clg_backend *be = g->ctx->be;
    if ((s = be->vt->timer(be, true, NULL)) != CLG_OK) return clg_error_wrap(g->ctx, s, "clg_graph_run_timed");
    s = clg_graph_run(g, phases);
    if (s == CLG_OK && (s = be->vt->synchronize(be)) != CLG_OK) {
        /* waited for here: a run that failed on the device is no step */
        if (phases & CLG_RUN_UPDATE) clg_optim_cancel_update(g);
        if (phases & CLG_RUN_FORWARD) g->runs--;
    }
    double t = 0;
    clg_status st = be->vt->timer(be, false, &t);
    *device_seconds = t;
    return s != CLG_OK ? s : st;
}

clg_status clg_graph_set_training(clg_graph *g, int training)
{
    clg_status s = clg_graph_check(g, "clg_graph_set_training");
    if (s != CLG_OK) return s;
    for (int32_t i = 0; i < g->n; i++) g->nodes[i].training = training != 0;
    g->training = training != 0;
    return CLG_OK;
}

clg_status clg_graph_get_rng_counter(const clg_graph *g, uint64_t *counter)
{
    clg_status s = clg_graph_check(g, "clg_graph_get_rng_counter");
    if (s != CLG_OK) return s;
    if (!counter) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_graph_get_rng_counter: counter is NULL");
    *counter = g->runs;
    return CLG_OK;
}

clg_status clg_graph_set_rng_counter(clg_graph *g, uint64_t counter)
{
    clg_status s = clg_graph_check(g, "clg_graph_set_rng_counter");
    if (s != CLG_OK) return s;
    g->runs = counter;
    return CLG_OK;
}

clg_status clg_tensor_set_name(clg_graph *g, clg_tensor t, const char *name)
{
    clg_status s = clg_graph_check(g, "clg_tensor_set_name");
    if (s != CLG_OK) return s;
    if ((s = clg_tensor_check(g, t, "clg_tensor_set_name")) != CLG_OK) return s;
    if (!name || !*name || strlen(name) >= sizeof g->nodes[0].name)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_tensor_set_name: a name must have 1 to %zu characters",
                         sizeof g->nodes[0].name - 1);
    for (int32_t i = 0; i < g->n; i++)
        if (i != t.id && strcmp(g->nodes[i].name, name) == 0)
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_tensor_set_name: tensor %d is already named '%s'",
                             (int)i, name);
    strcpy(g->nodes[t.id].name, name);
    return CLG_OK;
}

const char *clg_tensor_name(const clg_graph *g, clg_tensor t)
{
    if (!g || g->magic != CLG_GRAPH_LIVE || !clg_tensor_in(g, t)) return NULL;
    return g->nodes[t.id].name[0] ? g->nodes[t.id].name : NULL;
}

int32_t clg_graph_tensor_count(const clg_graph *g)
{
    return g && g->magic == CLG_GRAPH_LIVE ? g->n : 0;
}

clg_tensor clg_graph_tensor(const clg_graph *g, int32_t index)
{
    if (!g || g->magic != CLG_GRAPH_LIVE || index < 0 || index >= g->n) return CLG_NO_TENSOR;
    return clg_tref(g, index);
}

clg_tensor clg_tensor_find(const clg_graph *g, const char *name)
{
    if (!g || g->magic != CLG_GRAPH_LIVE || !name || !*name) return CLG_NO_TENSOR;
    for (int32_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return clg_tref(g, i);
    return CLG_NO_TENSOR;
}

/* ---- sharing storage between graphs ---- */

void clg_leaf_replace_buffer(clg_graph *g, int32_t id, clg_buffer *buf)
{
    /* the compiled plan and the pool hold the old buffer: made again at
     * the next run; nodes working in place on the leaf (updates, views,
     * initialisers) follow it */
    clg_plan_release(g);
    clg_buffer *old = g->nodes[id].buf;
    for (int32_t i = 0; i < g->n; i++)
        if (g->nodes[i].buf == old) g->nodes[i].buf = buf;
    clg_backend *be = g->ctx->be;
    be->vt->buffer_free(be, old);
}

clg_status clg_tensor_share(clg_graph *g, clg_tensor t, clg_graph *src, clg_tensor s)
{
    const char *func = "clg_tensor_share";
    clg_status st = clg_graph_check(g, func);
    if (st != CLG_OK) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if ((st = clg_graph_check(src, func)) != CLG_OK) return g->ctx->status;
    if (src->ctx != g->ctx)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the two graphs belong to different contexts", func);
    if ((st = clg_tensor_check(g, t, func)) != CLG_OK || (st = clg_tensor_check(src, s, func)) != CLG_OK) return st;
    clg_node *nt = &g->nodes[t.id];
    const clg_node *ns = &src->nodes[s.id];
    const struct { const clg_node *n; int id; const char *which; } sides[2] = {{nt, t.id, "tensor"},
                                                                            {ns, s.id, "source tensor"}};
    for (int k = 0; k < 2; k++)
        if (clg_op_family(sides[k].n->op) != CLG_FAM_LEAF || !sides[k].n->owns_buf || sides[k].n->state_of)
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "%s: %s %d is not a leaf with storage of its own (an input, parameter, constant or "
                             "labels)",
                             func, sides[k].which, sides[k].id);
    bool same = nt->dtype == ns->dtype && nt->ndim == ns->ndim;
    for (int d = 0; same && d < nt->ndim; d++) same = nt->shape[d] == ns->shape[d];
    if (!same) {
        char a[96], b[96];
        clg_shape_string(nt->ndim, nt->shape, a, sizeof a);
        clg_shape_string(ns->ndim, ns->shape, b, sizeof b);
        return clg_error(g->ctx, CLG_ERR_SHAPE, "%s: tensor %d %s (%s) and source tensor %d %s (%s) differ", func,
                         (int)t.id, a, clg_dtype_name(nt->dtype), (int)s.id, b, clg_dtype_name(ns->dtype));
    }
    clg_backend *be = g->ctx->be;
    if (!be->vt->buffer_retain)
        return clg_error(g->ctx, CLG_ERR_UNSUPPORTED, "%s: the %s backend cannot share buffers", func, be->vt->kind);
    if (nt->buf == ns->buf) return CLG_OK;
    /* runs in flight may still use the old buffer */
    if ((st = be->vt->synchronize(be)) != CLG_OK) return clg_error_wrap(g->ctx, st, "%s", func);
    be->vt->buffer_retain(be, ns->buf);
    clg_leaf_replace_buffer(g, t.id, ns->buf);
    return CLG_OK;
}
