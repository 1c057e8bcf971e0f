/*
 * The axis family: sum, mean and max along one axis; constructors and
 * backward rules. Node parameters: i[0] = axis (0..ndim-1), i[1] = keepdim.
 * The output drops the axis (or keeps it with extent 1 when keepdim); a
 * 1-D source without keepdim gives a 0-d scalar, as in PyTorch.
 *
 * max_axis keeps, in aux[0], the index along the axis of each output's
 * maximum (int32): the first one on ties, and the first NaN if any (NaN
 * propagates). Its backward routes dy to that index only.
 */
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* x's shape with the axis set to 1. */
static void keepdim_shape(const clg_node *x, int axis, int64_t shape[CLG_MAX_DIMS])
{
    memcpy(shape, x->shape, CLG_MAX_DIMS * sizeof *shape);
    shape[axis] = 1;
}

/* name: the public op's for messages, when not op's own (argmax records a max_axis) */
static clg_tensor reduce_axis(clg_graph *g, const char *name, clg_op op, clg_tensor x, int axis, int keepdim)
{
    if (!name) name = clg_op_name(op);
    if (clg_graph_check(g, name) != CLG_OK || !clg_tensor_ok(g, x, name)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    int a;
    if (!clg_axis_ok(g, name, nx, axis, "axis", &a)) return CLG_FAILED;
    if (op == CLG_OP_MAX_AXIS && nx->shape[a] > INT32_MAX) {
        char xs[96];
        clg_shape_string(nx->ndim, nx->shape, xs, sizeof xs);
        clg_error(g->ctx, CLG_ERR_UNSUPPORTED, "%s: axis %d of shape %s has extent %lld; arg-max indices are int32",
                  name, axis, xs, (long long)nx->shape[a]);
        return clg_graph_fail(g, CLG_ERR_UNSUPPORTED);
    }
    clg_node proto = {.op = op, .src = {x.id}, .i = {a, keepdim != 0}};
    if (keepdim) {
        proto.ndim = nx->ndim;
        keepdim_shape(nx, a, proto.shape);
    } else {
        for (int d = 0; d < nx->ndim; d++)
            if (d != a) proto.shape[proto.ndim++] = nx->shape[d];
    }
    clg_tensor y = clg_record(g, &proto, 1);
    if (y.id >= 0 && op == CLG_OP_MAX_AXIS && clg_node_alloc_aux(g, y.id, 0, g->nodes[y.id].numel) != CLG_OK)
        return CLG_FAILED;
    return y;
}

clg_tensor clg_sum_axis(clg_graph *g, clg_tensor x, int axis, int keepdim)
{
    return reduce_axis(g, NULL, CLG_OP_SUM_AXIS, x, axis, keepdim);
}

clg_tensor clg_mean_axis(clg_graph *g, clg_tensor x, int axis, int keepdim)
{
    return reduce_axis(g, NULL, CLG_OP_MEAN_AXIS, x, axis, keepdim);
}

clg_tensor clg_max_axis(clg_graph *g, clg_tensor x, int axis, int keepdim)
{
    if (clg_graph_check(g, clg_op_name(CLG_OP_MAX_AXIS)) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g); /* the node and its arg-max state */
    return clg_txn_end_tensor(g, txn, reduce_axis(g, NULL, CLG_OP_MAX_AXIS, x, axis, keepdim));
}

/* The max node's saved indices as an int32 tensor of its shape. */
clg_tensor clg_argmax(clg_graph *g, clg_tensor x, int axis, int keepdim)
{
    const char *name = clg_op_name(CLG_OP_ARGMAX);
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor m = reduce_axis(g, name, CLG_OP_MAX_AXIS, x, axis, keepdim);
    clg_tensor y = CLG_FAILED;
    if (m.id >= 0) {
        const clg_node *mn = &g->nodes[m.id];
        clg_node proto = {.op = CLG_OP_ARGMAX, .dtype = CLG_I32, .src = {m.id}, .ndim = mn->ndim};
        memcpy(proto.shape, mn->shape, sizeof proto.shape);
        y = clg_record(g, &proto, 1);
    }
    return clg_txn_end_tensor(g, txn, y);
}

/* dy of a sum along the axis, spread back over x's shape. */
static clg_tensor broadcast_back(clg_graph *g, clg_tensor dy, const clg_node *x, int axis)
{
    int64_t kept[CLG_MAX_DIMS];
    keepdim_shape(x, axis, kept);
    clg_tensor v = clg_reshape(g, dy, x->ndim, kept); /* a view: dy's layout is already kept's */
    return clg_op_shaped(g, CLG_OP_EXPAND, v, x->ndim, x->shape);
}

static clg_tensor max_grad(clg_graph *g, clg_tensor dy, int32_t max_node, const clg_node *x)
{
    if (!clg_tensor_ok(g, dy, clg_op_name(CLG_OP_MAX_AXIS_GRAD))) return CLG_FAILED;
    clg_node proto = {.op = CLG_OP_MAX_AXIS_GRAD, .src = {dy.id, max_node}, .ndim = x->ndim};
    memcpy(proto.shape, x->shape, sizeof proto.shape);
    return clg_record(g, &proto, 2);
}

clg_status clg_backward_axis(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    const clg_node x = g->nodes[n.src[0]];
    int axis = (int)n.i[0];
    clg_tensor gy = clg_tref(g, grads[i]), dx;
    switch (n.op) {
    case CLG_OP_SUM_AXIS: dx = broadcast_back(g, gy, &x, axis); break;
    case CLG_OP_MEAN_AXIS:
        dx = broadcast_back(g, clg_scale(g, gy, (float)(1.0 / (double)x.shape[axis])), &x, axis);
        break;
    case CLG_OP_MAX_AXIS: dx = max_grad(g, gy, i, &x); break;
    default: return clg_backward_unsupported(g, i);
    }
    clg_grad_accumulate(g, grads, n.src[0], dx);
    return g->status;
}
