/*
 * The conv family: conv2d, max and average pooling. Constructors (shape
 * and parameter checks, recording) and backward rules.
 *
 * The workspaces of a conv and its gradients are the backend's (vtable
 * workspaces, asked at record time: the OpenCL backend's im2col columns
 * and Winograd transforms, host/cl_conv.c); max_pool2d keeps aux[0], the
 * argmax per output element (h * W + w), int32.
 */
#include "conv_geom.h"
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static clg_tensor invalid(void) { return CLG_FAILED; }

/* "op: <what> AxB <rule> (x [..], w [..])" */
static clg_tensor bad_param(clg_graph *g, const char *op, const clg_node *x, const clg_node *w, const char *what,
                            int a, int b, const char *rule)
{
    char sx[96], sw[96] = "";
    clg_shape_string(x->ndim, x->shape, sx, sizeof sx);
    if (w) clg_shape_string(w->ndim, w->shape, sw, sizeof sw);
    clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %s %dx%d %s (x %s%s%s)", op, what, a, b, rule, sx,
              w ? ", w " : "", sw);
    return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
}

/* The window (kh x kw, dilated) against the padded input: the output
 * extent, or an error when the window does not fit. */
static bool out_size(clg_graph *g, const char *op, const clg_node *x, const clg_node *w, int64_t kh, int64_t kw,
                     int sh, int sw, int ph, int pw, int dh, int dw, int64_t *oh, int64_t *ow)
{
    int64_t hp = x->shape[2] + 2 * (int64_t)ph, wp = x->shape[3] + 2 * (int64_t)pw;
    /* (k - 1) d + 1 <= padded, written so that (k - 1) d cannot overflow;
     * the kernels' int arithmetic stays within the padded extent */
    bool fits = kh - 1 <= (hp - 1) / dh && kw - 1 <= (wp - 1) / dw;
    if (!fits || hp > INT32_MAX || wp > INT32_MAX) {
        char sx[96], sw_[96] = "";
        clg_shape_string(x->ndim, x->shape, sx, sizeof sx);
        if (w) clg_shape_string(w->ndim, w->shape, sw_, sizeof sw_);
        if (fits)
            clg_error(g->ctx, CLG_ERR_SHAPE, "%s: the padded input %lldx%lld is above 2^31 - 1 (x %s, padding %dx%d)",
                      op, (long long)hp, (long long)wp, sx, ph, pw);
        else
            clg_error(g->ctx, CLG_ERR_SHAPE,
                      "%s: window %lldx%lld (dilation %dx%d) is larger than the padded input %lldx%lld "
                      "(x %s%s%s, padding %dx%d)",
                      op, (long long)kh, (long long)kw, dh, dw, (long long)hp, (long long)wp, sx, w ? ", w " : "",
                      sw_, ph, pw);
        clg_graph_fail(g, CLG_ERR_SHAPE);
        return false;
    }
    *oh = (hp - (kh - 1) * dh - 1) / sh + 1;
    *ow = (wp - (kw - 1) * dw - 1) / sw + 1;
    return true;
}

/* The kernels index dimensions, an x plane (argmax) and a weight row
 * (C*KH*KW) with 32-bit ints. */
static bool dims_fit_int(clg_graph *g, const char *op, const clg_node *x, const clg_node *w)
{
    /* products in double: exact near 2^31, and they cannot overflow */
    bool ok = (double)x->shape[2] * (double)x->shape[3] <= INT32_MAX &&
              (!w || (double)w->shape[1] * (double)w->shape[2] * (double)w->shape[3] <= INT32_MAX);
    for (int d = 0; d < 4; d++) ok = ok && x->shape[d] <= INT32_MAX && (!w || w->shape[d] <= INT32_MAX);
    if (!ok) clg_shape_error(g, op, x, w, "are too large (an image plane, a weight row or a dimension above 2^31 - 1)");
    return ok;
}

/* bias, if any, is [oc]: one per output channel of w */
static bool bias_ok(clg_graph *g, const char *op, const clg_node *nb, const clg_node *nw, int64_t oc)
{
    if (!nb || (nb->ndim == 1 && nb->shape[0] == oc)) return true;
    char sb[96], sw[96];
    clg_shape_string(nb->ndim, nb->shape, sb, sizeof sb);
    clg_shape_string(nw->ndim, nw->shape, sw, sizeof sw);
    clg_error(g->ctx, CLG_ERR_SHAPE, "%s: bias %s must have shape [%lld] (one per output channel of w %s)", op, sb,
              (long long)oc, sw);
    clg_graph_fail(g, CLG_ERR_SHAPE);
    return false;
}

static bool conv_shapes_ok(clg_graph *g, const char *op, const clg_node *nx, const clg_node *nw, const clg_node *nb)
{
    if (nx->ndim != 4 || nw->ndim != 4) {
        clg_shape_error(g, op, nx, nw, "must both be 4-D (x [N,C,H,W], w [OC,C,KH,KW])");
        return false;
    }
    if (nx->shape[1] != nw->shape[1]) {
        char why[128];
        snprintf(why, sizeof why, "have different channel counts (x has %lld, w has %lld)", (long long)nx->shape[1],
                 (long long)nw->shape[1]);
        clg_shape_error(g, op, nx, nw, why);
        return false;
    }
    return bias_ok(g, op, nb, nw, nw->shape[0]) && dims_fit_int(g, op, nx, nw);
}

static clg_tensor conv2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h, int stride_w,
                         int pad_h, int pad_w, int dilation_h, int dilation_w)
{
    const char *op = clg_op_name(CLG_OP_CONV2D);
    if (clg_graph_check(g, op) != CLG_OK) return invalid();
    if (!clg_tensor_ok(g, x, op) || !clg_tensor_ok(g, w, op)) return invalid();
    /* id < 0 means no bias, unless it is the failed result of an earlier op */
    bool has_bias = !(bias.id < 0 && bias.graph == 0); /* CLG_NO_TENSOR: none */
    if (has_bias && !clg_tensor_ok(g, bias, op)) return invalid();
    const clg_node *nx = &g->nodes[x.id], *nw = &g->nodes[w.id], *nb = bias.id >= 0 ? &g->nodes[bias.id] : NULL;
    if (!conv_shapes_ok(g, op, nx, nw, nb)) return invalid();
    if (stride_h < 1 || stride_w < 1) return bad_param(g, op, nx, nw, "stride", stride_h, stride_w, "must be at least 1");
    if (dilation_h < 1 || dilation_w < 1)
        return bad_param(g, op, nx, nw, "dilation", dilation_h, dilation_w, "must be at least 1");
    if (pad_h < 0 || pad_w < 0) return bad_param(g, op, nx, nw, "padding", pad_h, pad_w, "must not be negative");
    int64_t oh, ow;
    if (!out_size(g, op, nx, nw, nw->shape[2], nw->shape[3], stride_h, stride_w, pad_h, pad_w, dilation_h,
                  dilation_w, &oh, &ow))
        return invalid();
    if ((double)nx->shape[0] * (double)oh * (double)ow > INT32_MAX) {
        clg_shape_error(g, op, nx, nw, "give more than 2^31 - 1 output positions N*OH*OW (the kernels' int index)");
        return invalid();
    }

    clg_node proto = {.op = CLG_OP_CONV2D,
                      .src = {x.id, w.id, bias.id >= 0 ? bias.id : -1},
                      .ndim = 4,
                      .shape = {nx->shape[0], nw->shape[0], oh, ow},
                      .i = {stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w}};
    clg_tensor y = clg_record(g, &proto, 3);
    if (y.id < 0) return y;
    /* how a backend convolves (im2col and a GEMM, direct loops) is its
     * choice, and so are the workspaces it needs */
    if (clg_node_workspaces(g, y.id) != CLG_OK) return invalid();
    return y;
}

clg_tensor clg_conv2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h, int stride_w,
                      int pad_h, int pad_w, int dilation_h, int dilation_w)
{
    const char *op = clg_op_name(CLG_OP_CONV2D);
    if (clg_graph_check(g, op) != CLG_OK) return invalid();
    clg_txn txn = clg_txn_begin(g); /* the widening casts, the node and its workspaces */
    /* 16-bit operands: widened here; the weight gradient widens x again
     * (weight_grad), the input gradient reads the widened weight */
    if (!clg_tensor_ok_float(g, x, op) || !clg_tensor_ok_float(g, w, op)) return clg_txn_end_tensor(g, txn, invalid());
    x = clg_widen(g, x);
    w = x.id >= 0 ? clg_widen(g, w) : x;
    if (w.id < 0) return clg_txn_end_tensor(g, txn, invalid());
    return clg_txn_end_tensor(g, txn, conv2d(g, x, w, bias, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w));
}

/* PyTorch's conv_transpose2d (groups 1): the input gradient of a conv2d
 * as an op. The backward is a conv2d of dy (x's gradient) and that conv's
 * weight gradient with x as its dy (w's). */
static clg_tensor conv_transpose2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, const int p[8])
{
    const char *op = clg_op_name(CLG_OP_CONV_TRANSPOSE2D);
    if (!clg_tensor_ok(g, x, op) || !clg_tensor_ok(g, w, op)) return invalid();
    bool has_bias = !(bias.id < 0 && bias.graph == 0); /* CLG_NO_TENSOR: none */
    if (has_bias && !clg_tensor_ok(g, bias, op)) return invalid();
    const clg_node *nx = &g->nodes[x.id], *nw = &g->nodes[w.id], *nb = bias.id >= 0 ? &g->nodes[bias.id] : NULL;
    if (nx->ndim != 4 || nw->ndim != 4)
        return clg_shape_error(g, op, nx, nw, "must both be 4-D (x [N,C,H,W], w [C,OC,KH,KW])");
    if (nx->shape[1] != nw->shape[0]) {
        char why[128];
        snprintf(why, sizeof why, "have different input channel counts (x has %lld, w's first dimension %lld)",
                 (long long)nx->shape[1], (long long)nw->shape[0]);
        return clg_shape_error(g, op, nx, nw, why);
    }
    if (!bias_ok(g, op, nb, nw, nw->shape[1]) || !dims_fit_int(g, op, nx, nw)) return invalid();
    if (p[0] < 1 || p[1] < 1) return bad_param(g, op, nx, nw, "stride", p[0], p[1], "must be at least 1");
    if (p[4] < 1 || p[5] < 1) return bad_param(g, op, nx, nw, "dilation", p[4], p[5], "must be at least 1");
    if (p[2] < 0 || p[3] < 0) return bad_param(g, op, nx, nw, "padding", p[2], p[3], "must not be negative");
    if (p[6] < 0 || p[7] < 0 || p[6] >= p[0] || p[7] >= p[1]) {
        char rule[96];
        snprintf(rule, sizeof rule, "must be at least 0 and below the stride %dx%d", p[0], p[1]);
        return bad_param(g, op, nx, nw, "output padding", p[6], p[7], rule);
    }
    /* OH = (H - 1) stride - 2 pad + dilation (KH - 1) + output padding + 1,
     * in double: exact at these sizes, and it cannot overflow */
    double ext[2];
    for (int d = 0; d < 2; d++)
        ext[d] = (double)(nx->shape[2 + d] - 1) * p[d] - 2.0 * p[2 + d] + (double)p[4 + d] * (double)(nw->shape[2 + d] - 1) +
                 p[6 + d] + 1;
    if (ext[0] < 1 || ext[1] < 1) {
        char why[160];
        snprintf(why, sizeof why, "give an empty output %.0fx%.0f (padding %dx%d is too large)", ext[0], ext[1], p[2],
                 p[3]);
        return clg_shape_error(g, op, nx, nw, why);
    }
    if (ext[0] > INT32_MAX || ext[1] > INT32_MAX || ext[0] * ext[1] > INT32_MAX ||
        (double)nx->shape[0] * ext[0] * ext[1] > INT32_MAX)
        return clg_shape_error(g, op, nx, nw, "give an output plane or N*OH*OW above 2^31 - 1 (the kernels' int index)");
    clg_node proto = {.op = CLG_OP_CONV_TRANSPOSE2D,
                      .src = {x.id, w.id, nb ? bias.id : -1},
                      .ndim = 4,
                      .shape = {nx->shape[0], nw->shape[1], (int64_t)ext[0], (int64_t)ext[1]}};
    for (int k = 0; k < 8; k++) proto.i[k] = p[k];
    return clg_record(g, &proto, 3);
}

clg_tensor clg_conv_transpose2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h,
                                int stride_w, int pad_h, int pad_w, int output_pad_h, int output_pad_w,
                                int dilation_h, int dilation_w)
{
    if (clg_graph_check(g, clg_op_name(CLG_OP_CONV_TRANSPOSE2D)) != CLG_OK) return invalid();
    const int p[8] = {stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, output_pad_h, output_pad_w};
    return conv_transpose2d(g, x, w, bias, p);
}

/* p: kh, kw, sh, sw, ph, pw, dh, dw, ceil mode, count_include_pad */
static clg_tensor pool2d_record(clg_graph *g, clg_op opc, clg_tensor x, const int p[10])
{
    const char *op = clg_op_name(opc);
    if (clg_graph_check(g, op) != CLG_OK) return invalid();
    /* max pooling takes a 16-bit x and gives y in its type (each y is a
     * cell of x: exact), as PyTorch's; average pooling sums, in float32 */
    if (!(opc == CLG_OP_MAXPOOL2D ? clg_tensor_ok_float(g, x, op) : clg_tensor_ok(g, x, op))) return invalid();
    const clg_node *nx = &g->nodes[x.id];
    const int kh = p[0], kw = p[1], sh = p[2], sw = p[3], ph = p[4], pw = p[5], dh = p[6], dw = p[7];
    if (nx->ndim != 4) return clg_shape_error(g, op, nx, NULL, "must be 4-D (x [N,C,H,W])");
    if (!dims_fit_int(g, op, nx, NULL)) return invalid();
    if (kh < 1 || kw < 1) return bad_param(g, op, nx, NULL, "kernel", kh, kw, "must be at least 1");
    if (sh < 1 || sw < 1) return bad_param(g, op, nx, NULL, "stride", sh, sw, "must be at least 1");
    if (ph < 0 || pw < 0) return bad_param(g, op, nx, NULL, "padding", ph, pw, "must not be negative");
    if (dh < 1 || dw < 1) return bad_param(g, op, nx, NULL, "dilation", dh, dw, "must be at least 1");
    if (opc == CLG_OP_AVGPOOL2D && (dh != 1 || dw != 1))
        return bad_param(g, op, nx, NULL, "dilation", dh, dw, "must be 1 (average pooling has none, as in PyTorch)");
    /* as in PyTorch: every window then holds at least one cell of x (but
     * with a dilation, whose taps may all fall in the padding) */
    if (ph > kh / 2 || pw > kw / 2) {
        char rule[96];
        snprintf(rule, sizeof rule, "must be at most half the kernel %dx%d", kh, kw);
        return bad_param(g, op, nx, NULL, "padding", ph, pw, rule);
    }
    int64_t oh, ow;
    if (!out_size(g, op, nx, NULL, kh, kw, sh, sw, ph, pw, dh, dw, &oh, &ow)) return invalid();
    if (p[8]) { /* ceil mode, PyTorch's pooling_output_shape: round up, but
                 * the last window starts inside x or its left padding */
        oh = (nx->shape[2] + 2 * (int64_t)ph - (int64_t)(kh - 1) * dh - 1 + sh - 1) / sh + 1;
        ow = (nx->shape[3] + 2 * (int64_t)pw - (int64_t)(kw - 1) * dw - 1 + sw - 1) / sw + 1;
        if ((oh - 1) * sh >= nx->shape[2] + ph) oh--;
        if ((ow - 1) * sw >= nx->shape[3] + pw) ow--;
    }

    clg_node proto = {.op = opc,
                      .src = {x.id},
                      .dtype = nx->dtype,
                      .ndim = 4,
                      .shape = {nx->shape[0], nx->shape[1], oh, ow},
                      .i = {kh, kw, sh, sw, ph, pw, dh, dw},
                      .f = {opc == CLG_OP_AVGPOOL2D && !p[9] ? 1.0f : 0.0f}};
    clg_tensor y = clg_record(g, &proto, 1);
    if (y.id >= 0 && opc == CLG_OP_MAXPOOL2D && clg_node_alloc_aux(g, y.id, 0, g->nodes[y.id].numel) != CLG_OK) return invalid();
    return y;
}

static clg_tensor pool2d(clg_graph *g, clg_op opc, clg_tensor x, const int p[10])
{
    if (clg_graph_check(g, clg_op_name(opc)) != CLG_OK) return invalid();
    clg_txn txn = clg_txn_begin(g); /* the node and its arg-max state */
    return clg_txn_end_tensor(g, txn, pool2d_record(g, opc, x, p));
}

clg_tensor clg_max_pool2d(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w)
{
    const int p[10] = {kh, kw, stride_h, stride_w, pad_h, pad_w, 1, 1, 0, 1};
    return pool2d(g, CLG_OP_MAXPOOL2D, x, p);
}

clg_tensor clg_avg_pool2d(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w)
{
    const int p[10] = {kh, kw, stride_h, stride_w, pad_h, pad_w, 1, 1, 0, 1};
    return pool2d(g, CLG_OP_AVGPOOL2D, x, p);
}

clg_status clg_pool_options_init(clg_pool_options *opt, size_t size)
{
    if (!opt || size < offsetof(clg_pool_options, dilation_w) + sizeof opt->dilation_w) return CLG_ERR_INVALID_ARGUMENT;
    const clg_pool_options d = {.size = size, .dilation_h = 1, .dilation_w = 1, .ceil_mode = 0, .count_include_pad = 1};
    memset(opt, 0, size);
    memcpy(opt, &d, size < sizeof d ? size : sizeof d);
    opt->size = size;
    return CLG_OK;
}

/* The options a caller's struct holds (its size says which), defaults for
 * the rest; NULL is the defaults. */
static bool pool_options(clg_graph *g, clg_op opc, const clg_pool_options *opt, int p[10])
{
    clg_pool_options o;
    clg_pool_options_init(&o, sizeof o);
    if (opt) {
        if (opt->size < offsetof(clg_pool_options, dilation_w) + sizeof opt->dilation_w || opt->size > sizeof o) {
            clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                      "%s: options size %zu is not one this library knows (set it with clg_pool_options_init)",
                      clg_op_name(opc), opt->size);
            clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
            return false;
        }
        memcpy(&o, opt, opt->size);
    }
    p[6] = o.dilation_h, p[7] = o.dilation_w, p[8] = o.ceil_mode != 0, p[9] = o.count_include_pad != 0;
    return true;
}

static clg_tensor pool2d_opt(clg_graph *g, clg_op opc, clg_tensor x, int kh, int kw, int sh, int sw, int ph, int pw,
                             const clg_pool_options *opt)
{
    if (clg_graph_check(g, clg_op_name(opc)) != CLG_OK) return invalid();
    int p[10] = {kh, kw, sh, sw, ph, pw};
    if (!pool_options(g, opc, opt, p)) return invalid();
    return pool2d(g, opc, x, p);
}

clg_tensor clg_max_pool2d_opt(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h,
                              int pad_w, const clg_pool_options *opt)
{
    return pool2d_opt(g, CLG_OP_MAXPOOL2D, x, kh, kw, stride_h, stride_w, pad_h, pad_w, opt);
}

clg_tensor clg_avg_pool2d_opt(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h,
                              int pad_w, const clg_pool_options *opt)
{
    return pool2d_opt(g, CLG_OP_AVGPOOL2D, x, kh, kw, stride_h, stride_w, pad_h, pad_w, opt);
}

/* ---- backward ---- */

/* A gradient op of forward node fwd: shape of node `like`, sources dy,
 * (except for the bias) the forward node, whose sizes it reads, and for
 * the weight gradient x (-1: the conv's own input). */
static clg_tensor grad_op_x(clg_graph *g, clg_op op, clg_tensor dy, int32_t fwd, int32_t like, int32_t x)
{
    const clg_node *f = &g->nodes[fwd], *l = &g->nodes[like];
    clg_node proto = {.op = op, .src = {dy.id, fwd, x}, .ndim = l->ndim};
    memcpy(proto.shape, l->shape, sizeof proto.shape);
    memcpy(proto.i, f->i, sizeof proto.i);
    clg_tensor t = clg_record(g, &proto, clg_op_nsrc(op));
    if (t.id >= 0 && clg_node_workspaces(g, t.id) != CLG_OK) return invalid();
    return t;
}

static clg_tensor grad_op(clg_graph *g, clg_op op, clg_tensor dy, int32_t fwd, int32_t like)
{
    return grad_op_x(g, op, dy, fwd, like, -1);
}

/* The weight gradient of conv node i. A 16-bit input is widened for the
 * conv (clg_conv2d); the weight gradient widens it again, as matmul's
 * does, so that the float32 copy dies with the forward conv rather than
 * living to backward beside the 16-bit tensor (twice its bytes). */
static clg_tensor weight_grad(clg_graph *g, clg_tensor dy, int32_t i)
{
    const int32_t x = g->nodes[i].src[0], w = g->nodes[i].src[1];
    clg_tensor again = clg_saved_operand(g, x);
    if (again.id < 0) return invalid();
    return grad_op_x(g, CLG_OP_CONV2D_GRAD_WEIGHT, dy, i, w, again.id != x ? again.id : -1);
}

clg_status clg_backward_conv(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    clg_tensor gy = clg_tref(g, grads[i]);
    static const clg_op conv_grads[3] = {CLG_OP_CONV2D_GRAD_INPUT, CLG_OP_CONV2D_GRAD_WEIGHT,
                                         CLG_OP_CONV2D_GRAD_BIAS};
    switch (n.op) {
    case CLG_OP_CONV2D:
        for (int s = 0; s < 3; s++)
            if (n.src[s] >= 0 && g->nodes[n.src[s]].requires_grad)
                clg_grad_accumulate(g, grads, n.src[s],
                                    s == 1 ? weight_grad(g, gy, i) : grad_op(g, conv_grads[s], gy, i, n.src[s]));
        break;
    case CLG_OP_CONV_TRANSPOSE2D: {
        /* y is the input gradient of conv c(z) = conv2d(z, w): dx = c(dy),
         * and dw is c's weight gradient at input dy with x as its output
         * gradient (the op recorded below reads c's input, dy) */
        const bool gx = g->nodes[n.src[0]].requires_grad, gw = g->nodes[n.src[1]].requires_grad;
        if (gx || gw) {
            clg_tensor c = conv2d(g, gy, clg_tref(g, n.src[1]), CLG_NO_TENSOR, n.i[0], n.i[1], n.i[2], n.i[3], n.i[4],
                                  n.i[5]);
            if (gx) clg_grad_accumulate(g, grads, n.src[0], c);
            if (gw && c.id >= 0)
                clg_grad_accumulate(g, grads, n.src[1],
                                    grad_op(g, CLG_OP_CONV2D_GRAD_WEIGHT, clg_tref(g, n.src[0]), c.id, n.src[1]));
        }
        if (n.src[2] >= 0 && g->nodes[n.src[2]].requires_grad)
            clg_grad_accumulate(g, grads, n.src[2], grad_op(g, CLG_OP_CONV2D_GRAD_BIAS, gy, i, n.src[2]));
        break;
    }
    case CLG_OP_MAXPOOL2D:
    case CLG_OP_AVGPOOL2D: {
        clg_op op = n.op == CLG_OP_MAXPOOL2D ? CLG_OP_MAXPOOL2D_GRAD : CLG_OP_AVGPOOL2D_GRAD;
        clg_grad_accumulate(g, grads, n.src[0], grad_op(g, op, gy, i, n.src[0]));
        break;
    }
    default: return clg_backward_unsupported(g, i);
    }
    return g->status;
}
