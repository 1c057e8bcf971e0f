/* Reverse-mode autodiff: clg_backward appends gradient ops to the graph. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds contribution c to the gradient of node id, summing contributions
 * of a tensor used more than once. */
void clg_grad_accumulate(clg_graph *g, int32_t *grads, int32_t id, clg_tensor c)
{
    if (c.id < 0 || !g->nodes[id].requires_grad) return;
    if (grads[id] < 0) grads[id] = c.id;
    else grads[id] = clg_op_binary(g, CLG_OP_ADD, clg_tref(g, grads[id]), c).id;
}

/* Sums a gradient computed at the broadcast output shape back to the
 * shape of source src. */
clg_tensor clg_grad_unbroadcast(clg_graph *g, clg_tensor c, int32_t src)
{
    if (c.id < 0) return c;
    const clg_node *s = &g->nodes[src], *n = &g->nodes[c.id];
    bool same = s->ndim == n->ndim;
    for (int d = 0; same && d < s->ndim; d++) same = s->shape[d] == n->shape[d];
    if (same) return c;
    int64_t shape[CLG_MAX_DIMS];
    for (int d = 0; d < s->ndim; d++) shape[d] = s->shape[d];
    return clg_op_shaped(g, CLG_OP_REDUCE_TO, c, s->ndim, shape);
}

clg_status clg_backward_basic(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    clg_tensor gy = clg_tref(g, grads[i]), y = clg_tref(g, i);
    clg_tensor a = clg_tref(g, n.src[0]), b = clg_tref(g, n.src[1]);
    bool ga = n.src[0] >= 0 && g->nodes[n.src[0]].requires_grad;
    bool gb = n.src[1] >= 0 && g->nodes[n.src[1]].requires_grad;
    clg_tensor ca = CLG_NO_TENSOR, cb = CLG_NO_TENSOR;

    switch (n.op) {
    case CLG_OP_ADD:
        if (ga) ca = gy;
        if (gb) cb = gy;
        break;
    case CLG_OP_SUB:
        if (ga) ca = gy;
        if (gb) cb = clg_neg(g, gy);
        break;
    case CLG_OP_MUL:
        if (ga) ca = clg_mul(g, gy, b);
        if (gb) cb = clg_mul(g, gy, a);
        break;
    case CLG_OP_DIV: {
        /* y = a / b: dy/da = 1/b, dy/db = -a/b^2 = -(1/b) * y */
        clg_tensor gyb = clg_div(g, gy, b);
        if (ga) ca = gyb;
        if (gb) cb = clg_neg(g, clg_mul(g, gyb, y));
        break;
    }
    case CLG_OP_MAXIMUM:
    case CLG_OP_MINIMUM: {
        /* PyTorch's rule: the winner takes dy, a tie splits it in halves;
         * a NaN side gives y = NaN and both sides take dy. minimum(a, b)'s
         * weights are maximum's with a and b swapped. */
        clg_tensor hi = n.op == CLG_OP_MAXIMUM ? a : b, lo = n.op == CLG_OP_MAXIMUM ? b : a;
        if (ga) ca = clg_mul(g, gy, clg_tie_weight(g, hi, lo));
        if (gb) cb = clg_mul(g, gy, clg_tie_weight(g, lo, hi));
        break;
    }
    case CLG_OP_WHERE: {
        /* y = c ? a : b: dy goes to a where c holds, to b elsewhere */
        clg_tensor c = a, zero = clg_scalar(g, 0.0f);
        a = clg_tref(g, n.src[1]);
        b = clg_tref(g, n.src[2]);
        ga = g->nodes[a.id].requires_grad;
        gb = g->nodes[b.id].requires_grad;
        if (ga) ca = clg_where(g, c, gy, zero);
        if (gb) cb = clg_where(g, c, zero, gy);
        break;
    }
    case CLG_OP_NEG: ca = clg_neg(g, gy); break;
    case CLG_OP_SCALE: ca = clg_scale(g, gy, n.f[0]); break;
    case CLG_OP_SQUARE: ca = clg_scale(g, clg_mul(g, gy, a), 2.0f); break;
    case CLG_OP_EXP: ca = clg_mul(g, gy, y); break;
    case CLG_OP_LOG: ca = clg_div(g, gy, a); break;
    case CLG_OP_SQRT: ca = clg_scale(g, clg_div(g, gy, y), 0.5f); break;
    /* from the output, as PyTorch's threshold_backward: y > 0 exactly where
     * x > 0 (NaN and -0 included), and y is what the next layer reads
     * anyway, so x (batch norm's output, say) need not outlive the forward */
    case CLG_OP_RELU: ca = clg_op_grad2(g, CLG_OP_RELU_GRAD, y, gy); break;
    case CLG_OP_SIGMOID: ca = clg_op_grad2(g, CLG_OP_SIGMOID_GRAD, y, gy); break;
    case CLG_OP_TANH: ca = clg_op_grad2(g, CLG_OP_TANH_GRAD, y, gy); break;
    case CLG_OP_SUM:
    case CLG_OP_MEAN: {
        const clg_node *x = &g->nodes[a.id];
        int64_t shape[CLG_MAX_DIMS];
        int ndim = x->ndim;
        for (int d = 0; d < ndim; d++) shape[d] = x->shape[d];
        clg_tensor s = n.op == CLG_OP_MEAN ? clg_scale(g, gy, (float)(1.0 / (double)x->numel)) : gy;
        ca = clg_op_shaped(g, CLG_OP_EXPAND, s, ndim, shape);
        break;
    }
    case CLG_OP_MSE: {
        clg_tensor d = clg_op_grad3(g, CLG_OP_MSE_GRAD, a, b, gy);
        if (ga) ca = d;
        if (gb) cb = clg_neg(g, d);
        break;
    }
    case CLG_OP_EXPAND: {
        const clg_node *x = &g->nodes[a.id];
        int64_t shape[CLG_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
        ca = clg_op_shaped(g, CLG_OP_REDUCE_TO, gy, x->ndim, shape);
        break;
    }
    case CLG_OP_REDUCE_TO: {
        const clg_node *x = &g->nodes[a.id];
        int64_t shape[CLG_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
        ca = clg_op_shaped(g, CLG_OP_EXPAND, gy, x->ndim, shape);
        break;
    }
    default: return clg_backward_unsupported(g, i);
    }
    if (ga) clg_grad_accumulate(g, grads, a.id, clg_grad_unbroadcast(g, ca, a.id));
    if (gb) clg_grad_accumulate(g, grads, b.id, clg_grad_unbroadcast(g, cb, b.id));
    return g->status;
}

clg_status clg_backward_unsupported(clg_graph *g, int32_t i)
{
    char desc[256];
    clg_node_describe(g->nodes, &g->nodes[i], desc, sizeof desc);
    clg_error(g->ctx, CLG_ERR_UNSUPPORTED, "clg_backward: op '%s' has no backward (node %d: %s)",
              clg_op_name(g->nodes[i].op), (int)i, desc);
    clg_graph_fail(g, CLG_ERR_UNSUPPORTED);
    return CLG_ERR_UNSUPPORTED;
}

clg_status clg_backward_leaf(clg_graph *g, int32_t *grads, int32_t i)
{
    return CLG_OK;
}

static const clg_backward_fn family_backward[CLG_FAM_COUNT] = {
#define CLG_FAM_BACKWARD(e, lower) [CLG_FAM_##e] = clg_backward_##lower,
    CLG_FAMILY_LIST(CLG_FAM_BACKWARD)
#undef CLG_FAM_BACKWARD
};

static clg_status differentiate(clg_graph *g, int32_t *grads, int32_t i)
{
    return family_backward[clg_op_family(g->nodes[i].op)](g, grads, i);
}

static clg_status backward(clg_graph *g, clg_tensor loss)
{
    clg_status s;
    if (g->has_backward)
        return clg_error(g->ctx, CLG_ERR_STATE, "clg_backward: the graph already has a backward pass");
    if ((s = clg_tensor_check(g, loss, "clg_backward (loss)")) != CLG_OK) return s;
    const clg_node *ln = &g->nodes[loss.id];
    if (ln->numel != 1) {
        char sh[96];
        clg_shape_string(ln->ndim, ln->shape, sh, sizeof sh);
        return clg_error(g->ctx, CLG_ERR_SHAPE,
                         "clg_backward: the loss must have one element; tensor %d (%s) has shape %s",
                         (int)loss.id, clg_op_name(ln->op), sh);
    }
    if (!ln->requires_grad)
        return clg_error(g->ctx, CLG_ERR_STATE, "clg_backward: the loss depends on no parameter and no input marked by clg_tensor_requires_grad");

    int32_t n0 = loss.id + 1;
    int32_t *grads = malloc((size_t)n0 * sizeof *grads);
    if (!grads) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "clg_backward: out of host memory");
    for (int32_t i = 0; i < n0; i++) grads[i] = -1;

    g->phase = CLG_RUN_BACKWARD;
    /* dloss/dloss = 1, in the loss's shape ([] or [1], ...) */
    int64_t lshape[CLG_MAX_DIMS];
    const int lnd = ln->ndim;
    memcpy(lshape, ln->shape, sizeof lshape);
    grads[loss.id] = clg_constant(g, lnd, lshape, 1.0f).id;
    g->loss_seed = grads[loss.id] + 1; /* loss scaling makes it the scale (core/optim.c) */
    for (int32_t i = loss.id; i >= 0 && g->status == CLG_OK; i--)
        if (grads[i] >= 0 && g->nodes[i].requires_grad && clg_op_family(g->nodes[i].op) != CLG_FAM_LEAF)
            differentiate(g, grads, i);
    g->phase = CLG_RUN_FORWARD;

    /* gradients are read (clg_grad) and live until the update anyway:
     * buffers of their own cost the plan nothing */
    if (g->status == CLG_OK)
        for (int32_t i = 0; i < n0; i++)
            if (g->nodes[i].op == CLG_OP_PARAM || (g->nodes[i].op == CLG_OP_INPUT && g->nodes[i].requires_grad)) {
                g->nodes[i].grad = grads[i];
                if (grads[i] >= 0) g->nodes[grads[i]].keep = true;
            }
    free(grads);
    g->has_backward = g->status == CLG_OK;
    if (g->has_backward) g->nodes[loss.id].keep = true; /* the value users read each step */
    return g->status;
}

clg_status clg_backward(clg_graph *g, clg_tensor loss)
{
    clg_status s = clg_graph_check(g, "clg_backward");
    if (s != CLG_OK) return s;
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end(g, txn, backward(g, loss));
}

/* Gradients of an input: marked before anything reads it, since each op
 * takes requires_grad from its sources when it is recorded. */
clg_status clg_tensor_requires_grad(clg_graph *g, clg_tensor input)
{
    const char *f = "clg_tensor_requires_grad";
    clg_status s = clg_graph_check(g, f);
    if (s != CLG_OK) return s;
    if ((s = clg_tensor_check(g, input, f)) != CLG_OK) return s;
    clg_node *n = &g->nodes[input.id];
    if (n->op == CLG_OP_PARAM) return CLG_OK; /* it has one already */
    if (n->op == CLG_OP_INPUT && clg_dtype_16(n->dtype))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: tensor %d is a %s input, and only float32 inputs have gradients (record it with "
                         "clg_input and clg_cast it)",
                         f, (int)input.id, clg_dtype_name(n->dtype));
    if (n->op != CLG_OP_INPUT || n->dtype != CLG_F32)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: tensor %d is %s, not a float input: only inputs and parameters have gradients", f,
                         (int)input.id, n->dtype != CLG_F32 ? "int32 labels" : clg_op_name(n->op));
    if (g->has_backward) return clg_error(g->ctx, CLG_ERR_STATE, "%s: the graph already has its backward pass", f);
    for (int32_t i = input.id + 1; i < g->n; i++)
        for (int k = 0; k < CLG_MAX_SRC; k++)
            if (g->nodes[i].src[k] == input.id)
                return clg_error(g->ctx, CLG_ERR_STATE,
                                 "%s: input %d is already read by tensor %d (%s): mark it before recording the ops "
                                 "that use it",
                                 f, (int)input.id, (int)i, clg_op_name(g->nodes[i].op));
    n->requires_grad = true;
    return CLG_OK;
}

clg_tensor clg_grad(clg_graph *g, clg_tensor param)
{
    if (clg_graph_check(g, "clg_grad") != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_in(g, param) ||
        !(g->nodes[param.id].op == CLG_OP_PARAM || (g->nodes[param.id].op == CLG_OP_INPUT &&
                                                     g->nodes[param.id].requires_grad))) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                  "clg_grad: tensor %d is neither a parameter nor an input marked by clg_tensor_requires_grad",
                  (int)param.id);
        return CLG_FAILED;
    }
    if (!g->has_backward) {
        clg_error(g->ctx, CLG_ERR_STATE, "clg_grad: call clg_backward first");
        return CLG_FAILED;
    }
    if (g->nodes[param.id].grad < 0)
        clg_error(g->ctx, CLG_ERR_STATE, "clg_grad: the loss does not depend on parameter %d", (int)param.id);
    return clg_tref(g, g->nodes[param.id].grad);
}

static clg_status sgd(clg_graph *g, float lr)
{
    if (!g->has_backward) return clg_error(g->ctx, CLG_ERR_STATE, "clg_sgd: call clg_backward first");
    if (g->has_update) return clg_error(g->ctx, CLG_ERR_STATE, "clg_sgd: the graph already has an update");
    /* the rule clg_optimizer applies to its lr: a NaN, infinite or negative
     * rate would record updates that ruin every parameter on the first step */
    if (!isfinite(lr) || lr < 0)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_sgd: lr = %g is invalid (must be finite and >= 0)",
                         (double)lr);
    int32_t n0 = g->n, count = 0;
    for (int32_t i = 0; i < n0 && g->status == CLG_OK; i++)
        if (g->nodes[i].op == CLG_OP_PARAM && g->nodes[i].grad >= 0) {
            clg_op_update(g, CLG_OP_SGD, clg_tref(g, i), clg_tref(g, g->nodes[i].grad), lr);
            count++;
        }
    if (g->status != CLG_OK) return g->status;
    if (!count) return clg_error(g->ctx, CLG_ERR_STATE, "clg_sgd: no parameter has a gradient");
    g->has_update = true;
    return CLG_OK;
}

clg_status clg_sgd(clg_graph *g, float lr)
{
    clg_status s = clg_graph_check(g, "clg_sgd");
    if (s != CLG_OK) return s;
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end(g, txn, sgd(g, lr));
}
