/*
 * Layers: an op with the parameters it needs, made, named and initialised
 * as PyTorch's modules make them, so that an embedder writes one line per
 * layer and a checkpoint holds PyTorch's state_dict names. Built on the
 * public calls alone; one transaction, so a refused layer leaves nothing.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "<name>.<part>", or false (recorded as an error) when it does not fit a
 * tensor name. */
static bool part_name(clg_graph *g, const char *layer, const char *name, const char *part, char *out, size_t size)
{
    if (!name || !*name) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: a layer needs a name (its parameters are saved under it)",
                  layer);
        return false;
    }
    int n = snprintf(out, size, "%s.%s", name, part);
    if (n < 0 || (size_t)n >= size) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: name '%s.%s' is longer than a tensor name (63)", layer, name,
                  part);
        return false;
    }
    return true;
}

/* A parameter named "<name>.<part>", drawn from U(-bound, bound). */
static clg_tensor uniform_param(clg_graph *g, const char *layer, const char *name, const char *part, int ndim,
                                const int64_t *shape, float bound, uint64_t seed)
{
    char full[64];
    if (!part_name(g, layer, name, part, full, sizeof full)) return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    clg_tensor p = clg_param(g, ndim, shape);
    if (p.id < 0) return p;
    if (clg_tensor_set_name(g, p, full) != CLG_OK || clg_init_uniform(g, p, -bound, bound, seed) != CLG_OK)
        return clg_graph_fail(g, g->ctx->status);
    return p;
}

static bool input_ok(clg_graph *g, clg_tensor x, const char *layer, int min_ndim)
{
    if (!clg_tensor_ok(g, x, layer)) return false;
    if (g->nodes[x.id].ndim < min_ndim) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "%s: x has %d dimensions, the layer needs at least %d", layer,
                  g->nodes[x.id].ndim, min_ndim);
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    return true;
}

clg_tensor clg_linear_layer(clg_graph *g, clg_tensor x, int64_t out_features, int bias, const char *name,
                            uint64_t seed)
{
    const char *f = "clg_linear_layer";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = CLG_FAILED;
    if (input_ok(g, x, f, 1)) {
        const clg_node *xn = &g->nodes[x.id];
        const int64_t in = xn->shape[xn->ndim - 1];
        if (out_features < 1 || in < 1) {
            clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %lld inputs to %lld outputs", f, (long long)in,
                      (long long)out_features);
            clg_graph_fail(g, CLG_ERR_SHAPE);
        } else {
            /* PyTorch's nn.Linear: kaiming_uniform(a = sqrt 5) for the
             * weight, which is U(+-1/sqrt(in)), and the bias the same */
            const float bound = (float)(1.0 / sqrt((double)in));
            const int64_t ws[2] = {out_features, in};
            clg_tensor w = uniform_param(g, f, name, "weight", 2, ws, bound, seed), b = CLG_NO_TENSOR;
            if (w.id >= 0 && bias) b = uniform_param(g, f, name, "bias", 1, &out_features, bound, seed + 1);
            if (w.id >= 0 && (!bias || b.id >= 0)) y = clg_linear(g, x, w, b);
        }
    }
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_conv2d_layer(clg_graph *g, clg_tensor x, int64_t out_channels, int kernel, int stride, int padding,
                            int bias, const char *name, uint64_t seed)
{
    const char *f = "clg_conv2d_layer";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = CLG_FAILED;
    if (input_ok(g, x, f, 4)) {
        const int64_t c = g->nodes[x.id].shape[1];
        if (out_channels < 1 || kernel < 1) {
            clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %lld output channels, kernel %d", f, (long long)out_channels,
                      kernel);
            clg_graph_fail(g, CLG_ERR_SHAPE);
        } else {
            /* PyTorch's nn.Conv2d: U(+-1/sqrt(fan_in)), fan_in = c kh kw */
            const float bound = (float)(1.0 / sqrt((double)c * kernel * kernel));
            const int64_t ws[4] = {out_channels, c, kernel, kernel};
            clg_tensor w = uniform_param(g, f, name, "weight", 4, ws, bound, seed), b = CLG_NO_TENSOR;
            if (w.id >= 0 && bias) b = uniform_param(g, f, name, "bias", 1, &out_channels, bound, seed + 1);
            if (w.id >= 0 && (!bias || b.id >= 0)) y = clg_conv2d(g, x, w, b, stride, stride, padding, padding, 1, 1);
        }
    }
    return clg_txn_end_tensor(g, txn, y);
}

clg_tensor clg_batch_norm_layer(clg_graph *g, clg_tensor x, const char *name)
{
    const char *f = "clg_batch_norm_layer";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = CLG_FAILED;
    char wn[64], bn[64];
    if (input_ok(g, x, f, 2) && part_name(g, f, name, "weight", wn, sizeof wn) &&
        part_name(g, f, name, "bias", bn, sizeof bn)) {
        const int64_t c = g->nodes[x.id].shape[1];
        clg_tensor gamma = clg_param(g, 1, &c), beta = clg_param(g, 1, &c);
        if (gamma.id >= 0 && beta.id >= 0 && clg_tensor_set_name(g, gamma, wn) == CLG_OK &&
            clg_tensor_set_name(g, beta, bn) == CLG_OK && clg_tensor_fill(g, gamma, 1.0f) == CLG_OK &&
            clg_tensor_fill(g, beta, 0.0f) == CLG_OK) {
            /* PyTorch's nn.BatchNorm defaults: momentum 0.1, eps 1e-5 */
            clg_tensor t = clg_batch_norm(g, x, gamma, beta, 0.1f, 1e-5f);
            if (t.id >= 0 && clg_batch_norm_state(g, t, name, NULL, NULL, NULL) == CLG_OK) y = t;
        }
        if (y.id < 0 && g->status == CLG_OK) clg_graph_fail(g, g->ctx->status);
    } else if (g->status == CLG_OK) {
        clg_graph_fail(g, g->ctx->status != CLG_OK ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT);
    }
    return clg_txn_end_tensor(g, txn, y);
}
