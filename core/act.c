/* The act family: constructors and backward rules. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* An elementwise op of x; slope is leaky relu's f[0] (0 for the others). */
static clg_tensor act_unary(clg_graph *g, clg_op op, clg_tensor x, float slope)
{
    const char *name = clg_op_name(op);
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, name)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    if (!isfinite(slope)) {
        char sh[96];
        clg_shape_string(nx->ndim, nx->shape, sh, sizeof sh);
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: negative_slope %g is not finite (input %s)", name,
                  (double)slope, sh);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    clg_node proto = {.op = op, .src = {x.id}, .ndim = nx->ndim, .f = {slope}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    return clg_record(g, &proto, 1);
}

clg_tensor clg_leaky_relu(clg_graph *g, clg_tensor x, float negative_slope)
{
    return act_unary(g, CLG_OP_LEAKY_RELU, x, negative_slope);
}
clg_tensor clg_gelu(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_GELU, x, 0.f); }
clg_tensor clg_silu(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_SILU, x, 0.f); }
clg_tensor clg_softplus(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_SOFTPLUS, x, 0.f); }

/* The backward op of an activation: (x, dy) -> dx, x's shape, same f[0]. */
static clg_tensor act_grad(clg_graph *g, clg_op op, const clg_node *fwd, clg_tensor dy)
{
    if (!clg_tensor_ok(g, dy, clg_op_name(op))) return CLG_FAILED;
    const clg_node *x = &g->nodes[fwd->src[0]];
    clg_node proto = {.op = op, .src = {fwd->src[0], dy.id}, .ndim = x->ndim, .f = {fwd->f[0]}};
    memcpy(proto.shape, x->shape, sizeof proto.shape);
    return clg_record(g, &proto, 2);
}

static clg_op grad_op_of(clg_op op)
{
    switch (op) {
    case CLG_OP_LEAKY_RELU: return CLG_OP_LEAKY_RELU_GRAD;
    case CLG_OP_GELU: return CLG_OP_GELU_GRAD;
    case CLG_OP_SILU: return CLG_OP_SILU_GRAD;
    case CLG_OP_SOFTPLUS: return CLG_OP_SOFTPLUS_GRAD;
    default: return CLG_OP_COUNT;
    }
}

clg_status clg_backward_act(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    clg_op gop = grad_op_of(n.op);
    if (gop == CLG_OP_COUNT) {
        /* The *_backward ops themselves: second derivatives are not supported. */
        return clg_backward_unsupported(g, i);
    }
    clg_grad_accumulate(g, grads, n.src[0], act_grad(g, gop, &n, clg_tref(g, grads[i])));
    return g->status;
}
