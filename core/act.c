/* The act family: constructors and backward rules. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* An elementwise op of x with constants f0, f1 (leaky relu's slope, pow's
 * exponent, clamp's bounds; 0 for the others); why names what is wrong
 * with them, or is NULL. */
static clg_tensor act_unary2(clg_graph *g, clg_op op, clg_tensor x, float f0, float f1, const char *why)
{
    const char *name = clg_op_name(op);
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok_for(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    if (why) {
        char sh[96];
        clg_shape_string(nx->ndim, nx->shape, sh, sizeof sh);
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %s (input %s)", name, why, sh);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    clg_node proto = {.op = op, .src = {x.id}, .ndim = nx->ndim, .f = {f0, f1}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    return clg_record(g, &proto, 1);
}

static clg_tensor act_unary(clg_graph *g, clg_op op, clg_tensor x, float slope)
{
    char why[96];
    snprintf(why, sizeof why, "negative_slope %g is not finite", (double)slope);
    return act_unary2(g, op, x, slope, 0.f, isfinite(slope) ? NULL : why);
}

clg_tensor clg_leaky_relu(clg_graph *g, clg_tensor x, float negative_slope)
{
    return act_unary(g, CLG_OP_LEAKY_RELU, x, negative_slope);
}
clg_tensor clg_gelu(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_GELU, x, 0.f); }
clg_tensor clg_silu(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_SILU, x, 0.f); }
clg_tensor clg_softplus(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_SOFTPLUS, x, 0.f); }
clg_tensor clg_gelu_erf(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_GELU_ERF, x, 0.f); }
clg_tensor clg_abs(clg_graph *g, clg_tensor x) { return act_unary(g, CLG_OP_ABS, x, 0.f); }

clg_tensor clg_clamp(clg_graph *g, clg_tensor x, float lo, float hi)
{
    char why[128];
    snprintf(why, sizeof why, "the bounds lo %g, hi %g %s", (double)lo, (double)hi,
             isnan(lo) || isnan(hi) ? "include a NaN" : "are not lo <= hi");
    return act_unary2(g, CLG_OP_CLAMP, x, lo, hi, lo <= hi ? NULL : why);
}

clg_tensor clg_softplus_beta(clg_graph *g, clg_tensor x, float beta, float threshold)
{
    char why[128];
    snprintf(why, sizeof why, "beta %g must be finite and > 0, threshold %g finite", (double)beta,
             (double)threshold);
    const bool ok = beta > 0 && isfinite(beta) && isfinite(threshold);
    return act_unary2(g, CLG_OP_SOFTPLUS_BETA, x, beta, threshold, ok ? NULL : why);
}

clg_tensor clg_pow(clg_graph *g, clg_tensor x, float p)
{
    char why[96];
    snprintf(why, sizeof why, "the exponent %g is not finite", (double)p);
    return act_unary2(g, CLG_OP_POW, x, p, 0.f, isfinite(p) ? NULL : why);
}

/* The backward op of an activation: (x, dy) -> dx, x's shape, same f[0]. */
static clg_tensor act_grad(clg_graph *g, clg_op op, const clg_node *fwd, clg_tensor dy)
{
    if (!clg_tensor_ok_for(g, dy, op)) return CLG_FAILED;
    const clg_node *x = &g->nodes[fwd->src[0]];
    clg_node proto = {.op = op, .src = {fwd->src[0], dy.id}, .ndim = x->ndim, .f = {fwd->f[0], fwd->f[1]}};
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
    case CLG_OP_GELU_ERF: return CLG_OP_GELU_ERF_GRAD;
    case CLG_OP_ABS: return CLG_OP_ABS_GRAD;
    case CLG_OP_CLAMP: return CLG_OP_CLAMP_GRAD;
    case CLG_OP_POW: return CLG_OP_POW_GRAD;
    case CLG_OP_SOFTPLUS_BETA: return CLG_OP_SOFTPLUS_BETA_GRAD;
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
