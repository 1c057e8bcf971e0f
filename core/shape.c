/*
 * The shape family: constructors and backward rules.
 *
 * reshape is a view: its node shares the source's buffer and runs nothing.
 * permute, slice and concat copy. Node parameters:
 *   PERMUTE     i[0..ndim) = perm (output axis d is source axis perm[d])
 *   SLICE       i[0] = axis, i[1] = start (its length is shape[axis])
 *   SLICE_GRAD  i[0] = axis, i[1] = start: dy placed into zeros of the
 *               sliced tensor's shape
 *   CONCAT      i[0] = axis
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool begin(clg_graph *g, clg_tensor x, const char *op)
{
    return clg_graph_check(g, op) == CLG_OK && clg_tensor_ok(g, x, op);
}

/* Records a node that shares src's buffer: what clg_record does, minus the
 * allocation. */
static clg_tensor record_view(clg_graph *g, clg_node *proto, int32_t src)
{
    const clg_node *s = &g->nodes[src];
    proto->src[0] = src;
    for (int k = 1; k < CLG_MAX_SRC; k++) proto->src[k] = -1;
    proto->dtype = s->dtype;
    proto->phase = s->phase > g->phase ? s->phase : g->phase;
    proto->requires_grad = s->requires_grad;
    proto->buf = s->buf;
    proto->owns_buf = false;
    proto->deferred = s->deferred; /* a planned source: the view gets its buffer at prepare */
    clg_tensor t = clg_tref(g, clg_graph_add_node(g, proto, false));
    if (t.id >= 0) g->nodes[t.id].training = g->training;
    return t;
}

/* "[2,-1,3]": a requested shape, which may hold any value. */
static void request_string(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

/* Checks a reshape request against x and fills out[] with -1 resolved. */
static bool resolve_shape(clg_graph *g, const clg_node *x, int ndim, const int64_t *shape, int64_t *out)
{
    char xs[96], req[8 + CLG_MAX_DIMS * 21] = "(null)";
    clg_shape_string(x->ndim, x->shape, xs, sizeof xs);
    if ((shape || ndim == 0) && ndim >= 0 && ndim <= CLG_MAX_DIMS) request_string(ndim, shape, req, sizeof req);
    if ((!shape && ndim != 0) || ndim < 0 || ndim > CLG_MAX_DIMS) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "reshape: cannot reshape %s: ndim must be 0..%d with a shape array (got %d%s)",
                  xs, CLG_MAX_DIMS, ndim, shape ? "" : ", shape NULL");
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    int infer = -1;
    int64_t known = 1;
    bool too_many = false; /* the requested count overflows int64 */
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1 && infer < 0) {
            infer = d;
        } else if (shape[d] < 1 || shape[d] > ((int64_t)1 << 40)) {
            clg_error(g->ctx, CLG_ERR_SHAPE,
                      "reshape: cannot reshape %s to %s: dimension %d is %lld (must be 1..2^40, or one -1 to infer)",
                      xs, req, d, (long long)shape[d]);
            clg_graph_fail(g, CLG_ERR_SHAPE);
            return false;
        } else if (shape[d] > INT64_MAX / known) {
            too_many = true;
        } else {
            known *= shape[d];
        }
        out[d] = shape[d];
    }
    if (too_many) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "reshape: cannot reshape %s (%lld elements) to %s (more elements)", xs,
                  (long long)x->numel, req);
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    if (infer >= 0) {
        if (x->numel % known) {
            clg_error(g->ctx, CLG_ERR_SHAPE,
                      "reshape: cannot reshape %s to %s: %lld elements do not divide into parts of %lld", xs, req,
                      (long long)x->numel, (long long)known);
            clg_graph_fail(g, CLG_ERR_SHAPE);
            return false;
        }
        out[infer] = x->numel / known;
        known *= out[infer];
    }
    if (known != x->numel) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "reshape: cannot reshape %s (%lld elements) to %s (%lld elements)", xs,
                  (long long)x->numel, req, (long long)known);
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    return true;
}

clg_tensor clg_reshape(clg_graph *g, clg_tensor x, int ndim, const int64_t *shape)
{
    const char *op = clg_op_name(CLG_OP_RESHAPE);
    if (clg_graph_check(g, op) != CLG_OK) return CLG_FAILED;
    /* a view copies nothing, so int32 labels and 16-bit tensors may be
     * reshaped too (the view keeps the dtype; its gradient is float32) */
    bool labels = clg_tensor_in(g, x) && g->nodes[x.id].dtype == CLG_I32;
    if (!(labels ? clg_tensor_ok_dtype(g, x, op, CLG_I32) : clg_tensor_ok_float(g, x, op))) return CLG_FAILED;
    clg_node proto = {.op = CLG_OP_RESHAPE, .ndim = ndim};
    if (!resolve_shape(g, &g->nodes[x.id], ndim, shape, proto.shape)) return CLG_FAILED;
    return record_view(g, &proto, x.id);
}

/* op names the caller (permute or transpose) in messages. */
static clg_tensor permute_named(clg_graph *g, clg_tensor x, const int *perm, const char *op)
{
    if (!begin(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    char xs[96];
    clg_shape_string(nx->ndim, nx->shape, xs, sizeof xs);
    if (!perm && nx->ndim > 0) { /* a 0-d permutes with no entries */
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: shape %s: perm is NULL", op, xs);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    bool seen[CLG_MAX_DIMS] = {false}, ok = true;
    for (int d = 0; d < nx->ndim; d++) {
        ok = ok && perm[d] >= 0 && perm[d] < nx->ndim && !seen[perm[d]];
        if (ok) seen[perm[d]] = true;
    }
    clg_node proto = {.op = CLG_OP_PERMUTE, .src = {x.id}, .ndim = nx->ndim};
    if (!ok) {
        char ps[96];
        size_t k = (size_t)snprintf(ps, sizeof ps, "perm [");
        for (int d = 0; d < nx->ndim; d++) k += (size_t)snprintf(ps + k, sizeof ps - k, "%s%d", d ? "," : "", perm[d]);
        if (k < sizeof ps) snprintf(ps + k, sizeof ps - k, "]");
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: shape %s: %s is not a permutation of 0..%d", op, xs, ps,
                  nx->ndim - 1);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    for (int d = 0; d < nx->ndim; d++) {
        proto.i[d] = perm[d];
        proto.shape[d] = nx->shape[perm[d]];
    }
    return clg_record(g, &proto, 1);
}

clg_tensor clg_permute(clg_graph *g, clg_tensor x, const int *perm)
{
    return permute_named(g, x, perm, clg_op_name(CLG_OP_PERMUTE));
}

clg_tensor clg_transpose(clg_graph *g, clg_tensor x, int axis0, int axis1)
{
    const char *op = "transpose";
    if (!begin(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    int a0, a1;
    if (!clg_axis_ok(g, op, nx, axis0, "axis0", &a0) || !clg_axis_ok(g, op, nx, axis1, "axis1", &a1)) return CLG_FAILED;
    int perm[CLG_MAX_DIMS];
    for (int d = 0; d < nx->ndim; d++) perm[d] = d;
    perm[a0] = a1;
    perm[a1] = a0;
    return permute_named(g, x, perm, op);
}

static clg_tensor slice_node(clg_graph *g, clg_tensor x, int axis, int64_t start, int64_t length)
{
    const clg_node *nx = &g->nodes[x.id];
    clg_node proto = {.op = CLG_OP_SLICE, .src = {x.id}, .ndim = nx->ndim, .i = {axis, start}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    proto.shape[axis] = length;
    return clg_record(g, &proto, 1);
}

clg_tensor clg_slice(clg_graph *g, clg_tensor x, int axis, int64_t start, int64_t length)
{
    const char *op = clg_op_name(CLG_OP_SLICE);
    if (!begin(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    int a;
    if (!clg_axis_ok(g, op, nx, axis, "axis", &a)) return CLG_FAILED;
    int64_t extent = nx->shape[a];
    if (start < 0 || length < 1 || length > extent - start) {
        char xs[96];
        clg_shape_string(nx->ndim, nx->shape, xs, sizeof xs);
        clg_error(g->ctx, CLG_ERR_SHAPE,
                  "slice: start %lld, length %lld is out of range for axis %d of shape %s (extent %lld; need "
                  "0 <= start, 1 <= length, start + length <= extent)",
                  (long long)start, (long long)length, axis, xs, (long long)extent);
        return clg_graph_fail(g, CLG_ERR_SHAPE);
    }
    return slice_node(g, x, a, start, length);
}

clg_tensor clg_concat(clg_graph *g, clg_tensor a, clg_tensor b, int axis)
{
    const char *op = clg_op_name(CLG_OP_CONCAT);
    if (!begin(g, a, op) || !clg_tensor_ok(g, b, op)) return CLG_FAILED;
    const clg_node *na = &g->nodes[a.id], *nb = &g->nodes[b.id];
    if (na->ndim != nb->ndim) return clg_shape_error(g, op, na, nb, "have different numbers of dimensions");
    int ax;
    if (!clg_axis_ok(g, op, na, axis, "axis", &ax)) return CLG_FAILED;
    for (int d = 0; d < na->ndim; d++)
        if (d != ax && na->shape[d] != nb->shape[d]) {
            char why[160];
            snprintf(why, sizeof why, "differ in dimension %d (%lld vs %lld), which is not the concat axis %d", d,
                     (long long)na->shape[d], (long long)nb->shape[d], ax);
            return clg_shape_error(g, op, na, nb, why);
        }
    clg_node proto = {.op = CLG_OP_CONCAT, .src = {a.id, b.id}, .ndim = na->ndim, .i = {ax}};
    memcpy(proto.shape, na->shape, sizeof proto.shape);
    proto.shape[ax] += nb->shape[ax];
    return clg_record(g, &proto, 2);
}

/* dy of a slice, placed into zeros of the sliced tensor's shape. */
static clg_tensor slice_grad(clg_graph *g, clg_tensor dy, const clg_node *x, int64_t axis, int64_t start)
{
    if (!clg_tensor_ok(g, dy, clg_op_name(CLG_OP_SLICE_GRAD))) return CLG_FAILED;
    clg_node proto = {.op = CLG_OP_SLICE_GRAD, .src = {dy.id}, .ndim = x->ndim, .i = {axis, start}};
    memcpy(proto.shape, x->shape, sizeof proto.shape);
    return clg_record(g, &proto, 1);
}

clg_status clg_backward_shape(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    const clg_node x = g->nodes[n.src[0]];
    clg_tensor gy = clg_tref(g, grads[i]);
    switch (n.op) {
    case CLG_OP_RESHAPE: {
        clg_node proto = {.op = CLG_OP_RESHAPE, .ndim = x.ndim};
        memcpy(proto.shape, x.shape, sizeof proto.shape);
        clg_grad_accumulate(g, grads, n.src[0], record_view(g, &proto, gy.id));
        break;
    }
    case CLG_OP_PERMUTE: {
        int inverse[CLG_MAX_DIMS];
        for (int d = 0; d < n.ndim; d++) inverse[n.i[d]] = d;
        clg_grad_accumulate(g, grads, n.src[0], clg_permute(g, gy, inverse));
        break;
    }
    case CLG_OP_SLICE:
        clg_grad_accumulate(g, grads, n.src[0], slice_grad(g, gy, &x, n.i[0], n.i[1]));
        break;
    case CLG_OP_CONCAT: {
        int axis = (int)n.i[0];
        int64_t la = x.shape[axis], lb = n.shape[axis] - la;
        if (g->nodes[n.src[0]].requires_grad) clg_grad_accumulate(g, grads, n.src[0], slice_node(g, gy, axis, 0, la));
        if (g->nodes[n.src[1]].requires_grad) clg_grad_accumulate(g, grads, n.src[1], slice_node(g, gy, axis, la, lb));
        break;
    }
    default: return clg_backward_unsupported(g, i);
    }
    return g->status;
}
