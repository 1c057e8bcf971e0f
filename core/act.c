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
    if (!clg_tensor_ok(g, x, name)) return CLG_FAILED;
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

/* Fake quantization (clgrad.h): scale and zero_point of one element (per
 * tensor) or of x's extent along axis (per channel); the channel count
 * and the elements after the axis go into i[3], i[4] for the kernels. */
clg_tensor clg_fake_quantize(clg_graph *g, clg_tensor x, clg_tensor scale, clg_tensor zero_point, int axis,
                             int quant_min, int quant_max, float grad_factor)
{
    const char *name = "clg_fake_quantize";
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, name) || !clg_tensor_ok(g, scale, name) || !clg_tensor_ok(g, zero_point, name))
        return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id], *ns = &g->nodes[scale.id], *nz = &g->nodes[zero_point.id];
    char xs[96], ss[96], zs[96];
    clg_shape_string(nx->ndim, nx->shape, xs, sizeof xs);
    clg_shape_string(ns->ndim, ns->shape, ss, sizeof ss);
    clg_shape_string(nz->ndim, nz->shape, zs, sizeof zs);
    if (!(quant_min < quant_max && quant_min >= -32768 && quant_max <= 65535) || !isfinite(grad_factor)) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                  "%s: quant_min %d and quant_max %d must satisfy -32768 <= quant_min < quant_max <= 65535, and "
                  "grad_factor (%g) be finite (input %s)",
                  name, quant_min, quant_max, (double)grad_factor, xs);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    const bool per_tensor = ns->numel == 1 && ns->ndim <= 1;
    int a = -1;
    int64_t channels = 1, inner = 1;
    if (!per_tensor) {
        if (!clg_axis_ok(g, name, nx, axis, "axis", &a)) return CLG_FAILED;
        channels = nx->shape[a];
        for (int d = a + 1; d < nx->ndim; d++) inner *= nx->shape[d];
    }
    const bool scale_ok = per_tensor || (ns->ndim == 1 && ns->shape[0] == channels);
    const bool zp_ok = per_tensor ? nz->numel == 1 && nz->ndim <= 1 : nz->ndim == 1 && nz->shape[0] == channels;
    if (!scale_ok || !zp_ok) {
        clg_error(g->ctx, CLG_ERR_SHAPE,
                  "%s: scale %s and zero_point %s must both have one element (per tensor) or both be 1-D of x's "
                  "extent along axis %d (per channel); x is %s",
                  name, ss, zs, axis, xs);
        return clg_graph_fail(g, CLG_ERR_SHAPE);
    }
    clg_node proto = {.op = CLG_OP_FAKE_QUANT, .src = {x.id, scale.id, zero_point.id}, .ndim = nx->ndim,
                      .f = {grad_factor}, .i = {a, quant_min, quant_max, channels, inner}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    return clg_record(g, &proto, 3);
}

/* Fake quantization's gradient ops: dx, and the terms of scale's and the
 * zero point's gradients (x's shape), summed to their shape. */
static void fake_quant_backward(clg_graph *g, int32_t *grads, const clg_node *n, clg_tensor dy)
{
    /* learnable: PyTorch's _fake_quantize_learnable_* backward, which
     * rounds x / s + zp as one (its forward rounds x / s, then adds zp) */
    const bool learnable = g->nodes[n->src[1]].requires_grad || g->nodes[n->src[2]].requires_grad;
    for (int which = 0; which < 3; which++) {
        const int32_t src = n->src[which];
        if (!g->nodes[src].requires_grad) continue;
        clg_node proto = {.op = CLG_OP_FAKE_QUANT_GRAD, .src = {n->src[0], n->src[1], n->src[2], dy.id},
                          .ndim = n->ndim, .f = {n->f[0]}};
        memcpy(proto.shape, n->shape, sizeof proto.shape);
        memcpy(proto.i, n->i, sizeof proto.i);
        proto.i[5] = which;
        proto.i[6] = learnable;
        clg_tensor t = clg_record(g, &proto, 4);
        if (which > 0 && t.id >= 0) {
            /* summed over every element (per tensor) or all but the axis */
            const clg_node *p = &g->nodes[src];
            int64_t keep[CLG_MAX_DIMS];
            bool all = true;
            for (int d = 0; d < n->ndim; d++) {
                keep[d] = d == n->i[0] ? n->shape[d] : 1;
                all &= keep[d] == n->shape[d];
            }
            if (!all) t = clg_op_shaped(g, CLG_OP_REDUCE_TO, t, n->ndim, keep);
            int64_t shape[CLG_MAX_DIMS];
            memcpy(shape, p->shape, sizeof shape);
            t = clg_reshape(g, t, p->ndim, shape);
        }
        clg_grad_accumulate(g, grads, src, t);
    }
}

/* The backward op of an activation: (x, dy) -> dx, x's shape, same f[0]. */
static clg_tensor act_grad(clg_graph *g, clg_op op, const clg_node *fwd, clg_tensor dy)
{
    if (!clg_tensor_ok(g, dy, clg_op_name(op))) return CLG_FAILED;
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
    if (n.op == CLG_OP_FAKE_QUANT) {
        fake_quant_backward(g, grads, &n, clg_tref(g, grads[i]));
        return g->status;
    }
    clg_op gop = grad_op_of(n.op);
    if (gop == CLG_OP_COUNT) {
        /* The *_backward ops themselves: second derivatives are not supported. */
        return clg_backward_unsupported(g, i);
    }
    clg_grad_accumulate(g, grads, n.src[0], act_grad(g, gop, &n, clg_tref(g, grads[i])));
    return g->status;
}
