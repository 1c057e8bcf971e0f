/* The quant family: fake quantization (PyTorch's fake_quantize_* ops, with
 * their learnable forms), observers (PyTorch's MinMaxObserver and
 * MovingAverageMinMaxObserver, per tensor and per channel) and casts to
 * and from 16-bit floats: constructors and backward rules. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

/* ---- 16-bit casts ---- */

static clg_tensor record_cast(clg_graph *g, clg_tensor x, clg_dtype to, clg_dtype through, bool again)
{
    const clg_node *nx = &g->nodes[x.id];
    clg_node proto = {.op = CLG_OP_CAST, .dtype = to, .src = {x.id}, .ndim = nx->ndim, .i = {through, again}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    return clg_record(g, &proto, 1);
}

clg_tensor clg_cast(clg_graph *g, clg_tensor x, clg_elem to)
{
    const char *name = "clg_cast";
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok_float(g, x, name)) return CLG_FAILED;
    clg_dtype d;
    if (!clg_float_dtype(g, to, name, &d)) return CLG_FAILED;
    if (g->nodes[x.id].dtype == d) return x;
    return record_cast(g, x, d, CLG_F32, false);
}

clg_tensor clg_widen(clg_graph *g, clg_tensor x)
{
    if (!clg_dtype_16(g->nodes[x.id].dtype)) return x;
    return record_cast(g, x, CLG_F32, CLG_F32, true);
}

clg_tensor clg_saved_operand(clg_graph *g, int32_t id)
{
    const clg_node *n = &g->nodes[id];
    if (n->op != CLG_OP_CAST || !n->i[1]) return clg_tref(g, id);
    return record_cast(g, clg_tref(g, n->src[0]), CLG_F32, CLG_F32, true);
}

/* PyTorch's gradient of a cast, with float32 gradients: a narrowing cast
 * (to 16 bits, or float32 rounded through them) passes dy rounded to its
 * 16-bit type, as dy's 16-bit tensor would hold it; a widening one passes
 * dy unchanged. */
static void cast_backward(clg_graph *g, int32_t *grads, const clg_node *n, clg_tensor dy)
{
    const clg_dtype narrow = clg_dtype_16(n->dtype) ? n->dtype : (clg_dtype)n->i[0];
    clg_tensor dx = clg_dtype_16(narrow) ? record_cast(g, dy, CLG_F32, narrow, false) : dy;
    clg_grad_accumulate(g, grads, n->src[0], dx);
}

clg_status clg_backward_quant(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    if (n.op == CLG_OP_FAKE_QUANT) {
        fake_quant_backward(g, grads, &n, clg_tref(g, grads[i]));
        return g->status;
    }
    if (n.op == CLG_OP_CAST) {
        cast_backward(g, grads, &n, clg_tref(g, grads[i]));
        return g->status;
    }
    /* the backward ops, and observers (never requires_grad: x is detached) */
    return clg_backward_unsupported(g, i);
}

/* ---- observers ---- */

clg_status clg_observer_options_init(clg_observer_options *opt, size_t size)
{
    if (!opt || size < offsetof(clg_observer_options, moving_average) + sizeof opt->moving_average)
        return CLG_ERR_INVALID_ARGUMENT;
    const clg_observer_options d = {.size = size, .averaging_constant = 0.01f, .quant_min = 0, .quant_max = 255,
                                    .eps = FLT_EPSILON};
    memset(opt, 0, size);
    memcpy(opt, &d, size < sizeof d ? size : sizeof d);
    opt->size = size;
    return CLG_OK;
}

/* PyTorch's zero point of a symmetric scheme (clgrad.h) */
static int symmetric_zero_point(int qmin, int qmax)
{
    if (qmin < 0) return 0;
    if (qmin == 0 && qmax == 255) return 128;
    return (qmin + qmax) / 2; /* both >= 0: the division floors */
}

/* A state leaf of the observer: 0-d per tensor, [C] per channel, filled with
 * value, named "<prefix>.<suffix>" */
static int32_t observer_leaf(clg_graph *g, int64_t C, bool per_channel, float value, const char *prefix,
                             const char *suffix)
{
    clg_node proto = {.op = CLG_OP_INPUT, .dtype = CLG_F32, .phase = CLG_RUN_FORWARD, .ndim = per_channel ? 1 : 0,
                      .shape = {C}, .src = {-1, -1, -1, -1}};
    int32_t id = clg_graph_add_node(g, &proto, true);
    if (id < 0) return -1;
    g->nodes[id].role = CLG_ROLE_STATE;
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_fill(be, g->nodes[id].buf, value, (size_t)C);
    if (s == CLG_OK && prefix) {
        char name[2 * sizeof g->nodes[0].name];
        snprintf(name, sizeof name, "%s.%s", prefix, suffix);
        s = clg_tensor_set_name(g, clg_tref(g, id), name);
    }
    if (s != CLG_OK) {
        clg_error_wrap(g->ctx, s, "clg_observe: state '%s'", suffix);
        clg_graph_fail(g, s);
        return -1;
    }
    return id;
}

/* an error of observe: recorded as the graph's, so that a caller
 * returning a tensor reports its status */
static clg_status refuse(clg_graph *g, clg_status s)
{
    clg_graph_fail(g, s);
    return s;
}

/* slices: record scale and zero_point (qparams' rows) too */
static clg_status observe(clg_graph *g, clg_tensor x, const clg_observer_options *in, const char *prefix,
                          bool slices, clg_observer *out)
{
    const char *name = "clg_observe";
    clg_observer_options o = clg_observer_defaults();
    if (in) {
        size_t size = in->size ? in->size : sizeof o;
        if (size < offsetof(clg_observer_options, moving_average) + sizeof o.moving_average)
            return refuse(g, clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "%s: opt->size is %zu, less than any version's options", name, in->size));
        memcpy(&o, in, size < sizeof o ? size : sizeof o);
    }
    if (!clg_tensor_ok(g, x, name)) return g->status;
    const clg_node *nx = &g->nodes[x.id];
    char xs[96];
    clg_shape_string(nx->ndim, nx->shape, xs, sizeof xs);
    if (!(o.quant_min < o.quant_max && o.quant_min >= -32768 && o.quant_max <= 65535))
        return refuse(g, clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: quant_min %d and quant_max %d must satisfy -32768 <= quant_min < quant_max <= 65535 "
                         "(input %s)",
                         name, o.quant_min, o.quant_max, xs));
    if (o.moving_average && !(o.averaging_constant > 0.0f && o.averaging_constant <= 1.0f))
        return refuse(g, clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: averaging_constant %g is not in (0, 1] (input %s)",
                         name, (double)o.averaging_constant, xs));
    if (!(o.eps > 0.0f) || !isfinite(o.eps))
        return refuse(g, clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: eps %g is not positive and finite (input %s)", name,
                         (double)o.eps, xs));
    if (prefix && (!*prefix || strlen(prefix) + sizeof ".min_val" > sizeof g->nodes[0].name))
        return refuse(g, clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: prefix '%s' makes a name outside 1 to %zu characters", name, prefix,
                         sizeof g->nodes[0].name - 1));
    int a = -1;
    int64_t C = 1, inner = 1;
    if (o.per_channel) {
        if (!clg_axis_ok(g, name, nx, o.axis, "axis", &a)) return g->status;
        C = nx->shape[a];
        for (int d = a + 1; d < nx->ndim; d++) inner *= nx->shape[d];
    }
    const int32_t lo = observer_leaf(g, C, o.per_channel, INFINITY, prefix, "min_val");
    const int32_t hi = lo < 0 ? -1 : observer_leaf(g, C, o.per_channel, -INFINITY, prefix, "max_val");
    if (hi < 0) return g->status != CLG_OK ? g->status : CLG_ERR_OUT_OF_MEMORY;
    clg_node proto = {.op = CLG_OP_OBSERVE, .src = {x.id, lo, hi}, .ndim = 2, .shape = {2, C},
                      .f = {o.averaging_constant, o.eps},
                      .i = {a, o.quant_min, o.quant_max, C, inner, o.moving_average != 0, o.symmetric != 0,
                            symmetric_zero_point(o.quant_min, o.quant_max)}};
    clg_tensor q = clg_record(g, &proto, 3);
    if (q.id < 0) return g->status;
    g->nodes[q.id].requires_grad = false; /* x observed detached */
    if (clg_node_workspaces(g, q.id) != CLG_OK) return g->status;
    out->qparams = q;
    out->min_val = clg_tref(g, lo);
    out->max_val = clg_tref(g, hi);
    out->scale = out->zero_point = CLG_NO_TENSOR;
    if (!slices) return CLG_OK;
    const int64_t row[1] = {C};
    out->scale = clg_reshape(g, clg_slice(g, q, 0, 0, 1), 1, row);
    out->zero_point = clg_reshape(g, clg_slice(g, q, 0, 1, 1), 1, row);
    return out->zero_point.id >= 0 ? CLG_OK : g->status;
}

clg_status clg_observe(clg_graph *g, clg_tensor x, const clg_observer_options *opt, const char *prefix,
                       clg_observer *out)
{
    clg_status s = clg_graph_check(g, "clg_observe");
    if (s != CLG_OK) return s;
    if (!out) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_observe: out is NULL");
    clg_observer r;
    const clg_status first = g->first; /* a call returning a status: clg_graph_status is for those returning tensors */
    clg_txn txn = clg_txn_begin(g);    /* the state, the observer and its slices, or nothing */
    s = clg_txn_end(g, txn, observe(g, x, opt, prefix, true, &r));
    if (s == CLG_OK) *out = r;
    else g->first = first;
    return s;
}

clg_tensor clg_fake_quantize_observed(clg_graph *g, clg_tensor x, const clg_observer_options *opt,
                                      const char *prefix, clg_observer *obs)
{
    const char *name = "clg_fake_quantize_observed";
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    clg_observer r;
    clg_txn txn = clg_txn_begin(g);
    clg_tensor y = CLG_FAILED;
    if (observe(g, x, opt, prefix, false, &r) == CLG_OK) {
        /* the observer's [2, C] as scale and zero point at once (packed):
         * no slices to run; axis, range and extents are the observer's */
        const clg_node *q = &g->nodes[r.qparams.id], *nx = &g->nodes[x.id];
        clg_node proto = {.op = CLG_OP_FAKE_QUANT, .src = {x.id, r.qparams.id, r.qparams.id}, .ndim = nx->ndim,
                          .f = {1.0f}, .i = {q->i[0], q->i[1], q->i[2], q->i[3], q->i[4], 0, 0, 1}};
        memcpy(proto.shape, nx->shape, sizeof proto.shape);
        y = clg_record(g, &proto, 3);
    }
    y = clg_txn_end_tensor(g, txn, y);
    if (y.id >= 0 && obs) *obs = r;
    return y;
}
