/*
 * OpenCL dispatch of the conv family (kernels in cl/conv.cl).
 *
 * conv2d is im2col + GEMM laid out so that every GEMM is one large call,
 * with the batch folded into the GEMM's n (K = C*KH*KW, NP = N*OH*OW):
 *   forward   col [K, NP] = im2col(x);  Y' [OC, NP] = W . col;  y = swap(Y') + b
 *   weight    col = im2col(x);  dY' = swap(dy);  dW [OC, K] = dY' . col^T   (sums over the batch inside the GEMM)
 *   input     dY' = swap(dy);  dcol [K, NP] = W^T . dY';  dx = col2im(dcol)
 *             (a chunk of the batch at a time, grad_input_chunk)
 * The buffers are the nodes' aux (clg_cl_conv_workspaces), each op's own scratch,
 * which the memory plan lets other tensors use between runs of the op.
 * The weight gradient makes the columns again rather than keep the
 * forward's from forward to backward: they are K = C*KH*KW times x's
 * size (nine times for 3x3), and every layer's would be held at once at
 * the start of backward (PyTorch's slow_conv2d and Caffe make them again
 * too). The price, one im2col more, was a fifth of the ResNet's step on
 * PoCL (bench/RESULTS.md, 2026-12-04), where clgrad-tune picks other
 * paths. The weight gradient then also reads x (core/ops.h).
 *
 * Where the products go to the host's BLAS (per_image), one product per
 * image works in the tensors' own layout instead, and no swap runs:
 *   forward   y_n [OC, P] = W . col_n          (col_n: columns n P .. of col)
 *   weight    dW = sum_n dy_n . col_n^T         (one C for the batch: gemm.h)
 *   input     dcol_i = W^T . dy_(n0+i)
 * A BLAS call costs microseconds, and the swaps were a fifth of a CNN
 * step's time there (bench/RESULTS.md). CLBlast keeps the one large
 * product, which a GPU needs to fill itself. Y' and dY' are then unused.
 *
 * Each layer takes one of four paths (clg_cl_conv_path): im2col as above,
 * the direct kernels of cl/conv.cl, Winograd F(2x2,3x3) for 3x3 stride 1
 * (cl/winograd.cl: transforms around 16 batched products, below), or
 * oneDNN on CPU devices (host/conv_native.c); clgrad-tune measures which
 * per layer.
 */
#include "../core/conv_geom.h"
#include "cl_backend.h"
#include "conv_native.h"
#include "gemm.h"

/* The layout conv_unpack reads in cl/common.cl. */
cl_int16 clg_cl_geom16(const clg_conv_geom *g)
{
    const int64_t v[16] = {g->n, g->c, g->h, g->w, g->oc, g->kh, g->kw, g->oh, g->ow,
                           g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->xpad};
    cl_int16 r = {{0}};
    for (int i = 0; i < 16; i++) r.s[i] = (cl_int)v[i];
    return r;
}

/* dst [I, J, P] from src [J, I, P], plus bias[j] when bias is set. */
static clg_status swap01(clg_cl_backend *b, cl_mem src, cl_mem dst, cl_mem bias, int64_t I, int64_t J, int64_t P)
{
    cl_int has_bias = bias != NULL, ci = (cl_int)I, cj = (cl_int)J;
    cl_long cp = P;
    if (!bias) bias = src; /* never read */
    clg_karg args[] = {ARG(src), ARG(dst), ARG(bias), ARG(has_bias), ARG(ci), ARG(cj), ARG(cp)};
    return clg_cl_launch(b, K_conv_swap01, args, 7, (size_t)(I * J * P), 0);
}

/* Channel blocks of the direct kernels (CONV_BLOCK in cl/conv.cl). */
static int64_t blocks(int64_t channels)
{
    return (channels + 3) / 4;
}

/* A product per image (see the top of the file): where CPU devices take
 * the host's BLAS. */
static bool per_image(const clg_cl_backend *b)
{
    return b->gemm_native;
}

/* Images per chunk of the input gradient: its column matrix (dcol, K rows
 * of OH*OW per image) at most 2^22 floats (16 MB) or one image, so that
 * the workspace does not grow with the batch; the GEMMs stay large (K x
 * at least 2^22 / K columns). */
static int64_t grad_input_chunk(const clg_conv_geom *g)
{
    const int64_t per_image = clg_conv_col_rows(g) * g->oh * g->ow, budget = (int64_t)1 << 22;
    int64_t nb = per_image > 0 ? budget / per_image : g->n;
    if (nb < 1) nb = 1;
    return nb < g->n ? nb : g->n;
}

/* im2col's channels per work-item: enough that the work-items number no
 * more than the launch runs at once (max_global), as each one splits its
 * index with integer divisions; at least one. */
static cl_int channels_per_item(const clg_cl_backend *b, const clg_conv_geom *g)
{
    int64_t blocks = (int64_t)b->max_global / clg_conv_col_cols(g);
    if (blocks < 1) blocks = 1;
    if (blocks > g->c) blocks = g->c;
    return (cl_int)((g->c + blocks - 1) / blocks);
}

/*
 * Winograd (cl/winograd.cl), T tiles of 2x2 outputs, e = 0 .. 15:
 *   forward  aux[0] = [U | V], aux[1] = M:
 *            U = G w G^T,  V = B^T x B,  M_e [OC, T] = U_e [OC, C] . V_e [C, T],  y = A^T M A + b
 *   weight   aux[0] = [dM | V], aux[1] = dU:
 *            V again (as im2col's columns, above),  dM = A dy A^T,
 *            dU_e [OC, C] = dM_e . V_e^T,  dw = G^T dU G
 *   input    aux[0] = dV, aux[1] = [U | dM]:
 *            dV_e [C, T] = U_e^T . dM_e,  dx = B dV B^T (gathered over tiles)
 * Each product is one batched call of 16 (the sizes of the 16 match).
 */
static int64_t wg_tiles(const clg_conv_geom *g)
{
    return g->n * ((g->oh + 1) / 2) * ((g->ow + 1) / 2);
}

static clg_status wg_weight(clg_cl_backend *b, cl_mem w, cl_mem u, const clg_conv_geom *g)
{
    cl_int oc = (cl_int)g->oc, c = (cl_int)g->c;
    clg_karg args[] = {ARG(w), ARG(u), ARG(oc), ARG(c)};
    return clg_cl_launch(b, K_winograd_weight, args, 4, (size_t)(g->oc * g->c), 0);
}

/* dM = A dy A^T into dm + off. */
static clg_status wg_output_adjoint(clg_cl_backend *b, cl_mem dy, cl_mem dm, int64_t off, const clg_conv_geom *g)
{
    cl_long coff = off;
    cl_int16 g16 = clg_cl_geom16(g);
    clg_karg args[] = {ARG(dy), ARG(dm), ARG(coff), ARG(g16)};
    return clg_cl_launch(b, K_winograd_output_adjoint, args, 4, (size_t)(g->oc * wg_tiles(g)), 0);
}

/* V = B^T x B into v + off (the layout above) */
static clg_status wg_input(clg_cl_backend *b, cl_mem x, cl_mem v, int64_t off, const clg_conv_geom *g)
{
    cl_long coff = off;
    cl_int16 g16 = clg_cl_geom16(g);
    clg_karg args[] = {ARG(x), ARG(v), ARG(coff), ARG(g16)};
    return clg_cl_launch(b, K_winograd_input, args, 4, (size_t)(g->c * wg_tiles(g)), 0);
}

static clg_status winograd_forward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n, const clg_conv_geom *g)
{
    const size_t t = (size_t)wg_tiles(g), oc = (size_t)g->oc, c = (size_t)g->c, voff = 16 * oc * c;
    cl_mem x = MEM(nodes[n->src[0]].buf), w = MEM(nodes[n->src[1]].buf), uv = MEM(n->aux[0]), m = MEM(n->aux[1]);
    cl_mem y = MEM(n->buf), bias = n->src[2] >= 0 ? MEM(nodes[n->src[2]].buf) : x; /* never read without one */
    cl_int has_bias = n->src[2] >= 0;
    cl_int16 g16 = clg_cl_geom16(g);
    clg_status s = wg_input(b, x, uv, (int64_t)voff, g);
    if (s == CLG_OK) s = wg_weight(b, w, uv, g);
    if (s == CLG_OK)
        s = clg_cl_gemm(b, false, false, oc, t, c, 1.0f, uv, 0, c, oc * c, uv, voff, t, c * t, 0.0f, m, 0, t, oc * t,
                        16);
    if (s != CLG_OK) return s;
    clg_karg out_args[] = {ARG(m), ARG(bias), ARG(y), ARG(g16), ARG(has_bias)};
    return clg_cl_launch(b, K_winograd_output, out_args, 5, oc * t, 0);
}

static clg_status winograd_grad_weight(clg_cl_backend *b, cl_mem x, const clg_node *nodes, const clg_node *n,
                                       const clg_conv_geom *g)
{
    const size_t t = (size_t)wg_tiles(g), oc = (size_t)g->oc, c = (size_t)g->c, voff = 16 * oc * t;
    cl_mem dmv = MEM(n->aux[0]), du = MEM(n->aux[1]), dw = MEM(n->buf);
    clg_status s = wg_input(b, x, dmv, (int64_t)voff, g);
    if (s == CLG_OK) s = wg_output_adjoint(b, MEM(nodes[n->src[0]].buf), dmv, 0, g);
    if (s == CLG_OK)
        s = clg_cl_gemm(b, false, true, oc, c, t, 1.0f, dmv, 0, t, oc * t, dmv, voff, t, c * t, 0.0f, du, 0, c,
                        oc * c, 16);
    if (s != CLG_OK) return s;
    cl_int coc = (cl_int)oc, cc = (cl_int)c;
    clg_karg args[] = {ARG(du), ARG(dw), ARG(coc), ARG(cc)};
    return clg_cl_launch(b, K_winograd_weight_adjoint, args, 4, oc * c, 0);
}

static clg_status winograd_grad_input(clg_cl_backend *b, const clg_node *nodes, const clg_node *n,
                                      const clg_conv_geom *g)
{
    const clg_node *conv = &nodes[n->src[1]];
    const size_t t = (size_t)wg_tiles(g), oc = (size_t)g->oc, c = (size_t)g->c, dmoff = 16 * oc * c;
    cl_mem dv = MEM(n->aux[0]), udm = MEM(n->aux[1]), dx = MEM(n->buf);
    clg_status s = wg_weight(b, MEM(nodes[conv->src[1]].buf), udm, g);
    if (s == CLG_OK) s = wg_output_adjoint(b, MEM(nodes[n->src[0]].buf), udm, (int64_t)dmoff, g);
    if (s == CLG_OK)
        s = clg_cl_gemm(b, true, false, c, t, oc, 1.0f, udm, 0, c, oc * c, udm, dmoff, t, oc * t, 0.0f, dv, 0, t,
                        c * t, 16);
    if (s != CLG_OK) return s;
    cl_int16 g16 = clg_cl_geom16(g);
    clg_karg args[] = {ARG(dv), ARG(dx), ARG(g16)};
    /* a 2x2 block of dx per work-item, blocks aligned to the tiles (cl/winograd.cl) */
    const int64_t bh = (g->h - 1 + g->ph) / 2 - g->ph / 2 + 1, bw = (g->w - 1 + g->pw) / 2 - g->pw / 2 + 1;
    return clg_cl_launch(b, K_winograd_input_adjoint, args, 3, (size_t)(g->n * g->c * bh * bw), 0);
}

/* col [C*KH*KW, N*OH*OW] = im2col(x) */
static clg_status im2col(clg_cl_backend *b, cl_mem x, cl_mem col, const clg_conv_geom *g)
{
    cl_int16 g16 = clg_cl_geom16(g);
    cl_int cper = channels_per_item(b, g);
    clg_karg args[] = {ARG(x), ARG(col), ARG(g16), ARG(cper)};
    return clg_cl_launch(b, K_conv_im2col, args, 4, (size_t)((g->c + cper - 1) / cper) * (size_t)clg_conv_col_cols(g),
                         0);
}

static clg_status conv_forward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    clg_conv_geom g = clg_conv_geom_of(nodes, n);
    if (b->conv_seen && !b->rec) b->conv_seen(b->seen_user, &g);
    const int path = clg_cl_conv_path(b, &g);
    if (path == CLG_CONV_WINOGRAD) return winograd_forward(b, nodes, n, &g);
    if (path == CLG_CONV_DIRECT) {
        cl_mem x = MEM(nodes[n->src[0]].buf), w = MEM(nodes[n->src[1]].buf), y = MEM(n->buf);
        cl_mem bias = n->src[2] >= 0 ? MEM(nodes[n->src[2]].buf) : x; /* never read without one */
        cl_int has_bias = n->src[2] >= 0;
        cl_int16 g16 = clg_cl_geom16(&g);
        clg_karg args[] = {ARG(x), ARG(w), ARG(bias), ARG(y), ARG(g16), ARG(has_bias)};
        return clg_cl_launch(b, K_conv_direct_forward, args, 6, (size_t)(g.n * blocks(g.oc) * g.oh * g.ow), 0);
    }
    if (path == CLG_CONV_ONEDNN) {
        bool taken;
        clg_status s = clg_cl_conv_native(b, CLG_CONV_FORWARD, &g, MEM(nodes[n->src[0]].buf),
                                          MEM(nodes[n->src[1]].buf), n->src[2] >= 0 ? MEM(nodes[n->src[2]].buf) : NULL,
                                          MEM(n->buf), &taken);
        if (s != CLG_OK || taken) return s;
    }
    size_t k = (size_t)clg_conv_col_rows(&g), np = (size_t)clg_conv_col_cols(&g);
    cl_mem x = MEM(nodes[n->src[0]].buf), w = MEM(nodes[n->src[1]].buf), col = MEM(n->aux[0]), yp = MEM(n->aux[1]);
    cl_mem bias = n->src[2] >= 0 ? MEM(nodes[n->src[2]].buf) : NULL;
    clg_status s = im2col(b, x, col, &g);
    if (s == CLG_OK && per_image(b)) {
        const size_t p = (size_t)(g.oh * g.ow), oc = (size_t)g.oc;
        cl_mem y = MEM(n->buf);
        s = clg_cl_gemm(b, false, false, oc, p, k, 1.0f, w, 0, k, 0, col, 0, np, p, 0.0f, y, 0, p, oc * p,
                        (size_t)g.n);
        if (s != CLG_OK || !bias) return s;
        cl_int coc = (cl_int)g.oc;
        cl_long cp = (cl_long)p, total = g.n * g.oc * (cl_long)p;
        clg_karg bargs[] = {ARG(y), ARG(bias), ARG(coc), ARG(cp), ARG(total)};
        return clg_cl_launch(b, K_conv_bias_add, bargs, 5, (size_t)total, 0);
    }
    if (s == CLG_OK)
        s = clg_cl_gemm(b, false, false, (size_t)g.oc, np, k, 1.0f, w, 0, k, 0, col, 0, np, 0, 0.0f, yp, 0, np, 0, 1);
    if (s == CLG_OK) s = swap01(b, yp, MEM(n->buf), bias, g.n, g.oc, g.oh * g.ow);
    return s;
}

/* dY' [OC, NP] from dy [N, OC, OH*OW], into scratch. */
static clg_status permute_dy(clg_cl_backend *b, const clg_node *dy, cl_mem scratch, const clg_conv_geom *g)
{
    return swap01(b, MEM(dy->buf), scratch, NULL, g->oc, g->n, g->oh * g->ow);
}

static clg_status conv_grad_weight(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *conv = &nodes[n->src[1]];
    clg_conv_geom g = clg_conv_geom_of(nodes, conv);
    const int path = clg_cl_conv_path(b, &g);
    /* the conv's input, or the copy made for backward (core/ops.h) */
    cl_mem x = MEM(nodes[n->src[2] >= 0 ? n->src[2] : conv->src[0]].buf);
    if (path == CLG_CONV_WINOGRAD) return winograd_grad_weight(b, x, nodes, n, &g);
    if (path == CLG_CONV_DIRECT) {
        cl_mem dy = MEM(nodes[n->src[0]].buf), dw = MEM(n->buf);
        cl_int16 g16 = clg_cl_geom16(&g);
        const size_t wg = b->kwg[K_conv_direct_weight_grad];
        clg_karg args[] = {ARG(x), ARG(dy), ARG(dw), ARG(g16), LOCAL_ARG(wg * sizeof(float))};
        return clg_cl_launch(b, K_conv_direct_weight_grad, args, 5, (size_t)(g.oc * g.c) * wg, wg);
    }
    if (path == CLG_CONV_ONEDNN) {
        bool taken;
        clg_status s = clg_cl_conv_native(b, CLG_CONV_WEIGHT_GRAD, &g, x, MEM(nodes[n->src[0]].buf), NULL,
                                          MEM(n->buf), &taken);
        if (s != CLG_OK || taken) return s;
    }
    size_t k = (size_t)clg_conv_col_rows(&g), np = (size_t)clg_conv_col_cols(&g);
    cl_mem col = MEM(n->aux[1]);
    clg_status s = im2col(b, x, col, &g);
    if (s == CLG_OK && per_image(b)) {
        const size_t p = (size_t)(g.oh * g.ow), oc = (size_t)g.oc;
        return clg_cl_gemm(b, false, true, oc, k, p, 1.0f, MEM(nodes[n->src[0]].buf), 0, p, oc * p, col, 0, np, p,
                           0.0f, MEM(n->buf), 0, k, 0, (size_t)g.n);
    }
    if (s == CLG_OK) s = permute_dy(b, &nodes[n->src[0]], MEM(n->aux[0]), &g);
    if (s != CLG_OK) return s;
    return clg_cl_gemm(b, false, true, (size_t)g.oc, k, np, 1.0f, MEM(n->aux[0]), 0, np, 0, col, 0, np, 0, 0.0f,
                       MEM(n->buf), 0, k, 0, 1);
}

static clg_status conv_grad_input(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *conv = &nodes[n->src[1]];
    clg_conv_geom g = clg_conv_geom_of(nodes, conv);
    const int path = clg_cl_conv_path(b, &g);
    if (path == CLG_CONV_WINOGRAD) return winograd_grad_input(b, nodes, n, &g);
    if (path == CLG_CONV_DIRECT) {
        cl_mem dy = MEM(nodes[n->src[0]].buf), w = MEM(nodes[conv->src[1]].buf), dx = MEM(n->buf);
        cl_int16 g16 = clg_cl_geom16(&g);
        clg_karg args[] = {ARG(dy), ARG(w), ARG(dx), ARG(g16)};
        return clg_cl_launch(b, K_conv_direct_input_grad, args, 4, (size_t)(g.n * blocks(g.c) * g.h * g.w), 0);
    }
    if (path == CLG_CONV_ONEDNN) {
        bool taken;
        clg_status s = clg_cl_conv_native(b, CLG_CONV_INPUT_GRAD, &g, MEM(nodes[n->src[0]].buf),
                                          MEM(nodes[conv->src[1]].buf), NULL, MEM(n->buf), &taken);
        if (s != CLG_OK || taken) return s;
    }
    size_t k = (size_t)clg_conv_col_rows(&g), np = (size_t)clg_conv_col_cols(&g), p = (size_t)(g.oh * g.ow);
    cl_mem w = MEM(nodes[conv->src[1]].buf), dyp = MEM(n->aux[1]), dcol = MEM(n->aux[0]), dx = MEM(n->buf);
    const bool each = per_image(b);
    clg_status s = each ? CLG_OK : permute_dy(b, &nodes[n->src[0]], dyp, &g);
    const int64_t chunk = grad_input_chunk(&g);
    for (int64_t n0 = 0; s == CLG_OK && n0 < g.n; n0 += chunk) {
        clg_conv_geom part = g;
        part.n = g.n - n0 < chunk ? g.n - n0 : chunk;
        size_t cols = (size_t)part.n * p;
        /* dcol [K, nb P] = W^T . dY'[:, n0 P ...] (columns of dY', row stride np);
         * per image, dcol's columns i P .. = W^T . dy_(n0 + i) */
        const size_t oc = (size_t)g.oc;
        if (each)
            s = clg_cl_gemm(b, true, false, k, p, oc, 1.0f, w, 0, k, 0, MEM(nodes[n->src[0]].buf),
                            (size_t)n0 * oc * p, p, oc * p, 0.0f, dcol, 0, cols, p, (size_t)part.n);
        else
            s = clg_cl_gemm(b, true, false, k, cols, oc, 1.0f, w, 0, k, 0, dyp, (size_t)n0 * p, np, 0, 0.0f, dcol, 0,
                            cols, 0, 1);
        if (s != CLG_OK) break;
        cl_int16 g16 = clg_cl_geom16(&part);
        cl_long off = n0 * g.c * g.h * g.w;
        clg_karg args[] = {ARG(dcol), ARG(dx), ARG(g16), ARG(off)};
        s = clg_cl_launch(b, K_conv_col2im, args, 4, (size_t)(part.n * g.c * g.h * g.w), 0);
    }
    return s;
}

/* y = conv_transpose2d(x, w) + bias: its virtual conv's input gradient
 * (core/conv_geom.h) through oneDNN where that path takes it, else the
 * direct kernel (no workspace: the im2col and Winograd paths' scratch is
 * sized for conv nodes); then the bias, a pass over y. */
static clg_status conv_transpose(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    clg_conv_geom g = clg_conv_transpose_geom(nodes, n);
    cl_mem x = MEM(nodes[n->src[0]].buf), w = MEM(nodes[n->src[1]].buf), y = MEM(n->buf);
    clg_status s = CLG_OK;
    bool taken = false;
    if (clg_cl_conv_path(b, &g) == CLG_CONV_ONEDNN) s = clg_cl_conv_native(b, CLG_CONV_INPUT_GRAD, &g, x, w, NULL, y, &taken);
    if (s == CLG_OK && !taken) {
        cl_int16 g16 = clg_cl_geom16(&g);
        clg_karg args[] = {ARG(x), ARG(w), ARG(y), ARG(g16)};
        s = clg_cl_launch(b, K_conv_direct_input_grad, args, 4, (size_t)(g.n * blocks(g.c) * g.h * g.w), 0);
    }
    if (s != CLG_OK || n->src[2] < 0) return s;
    cl_mem bias = MEM(nodes[n->src[2]].buf);
    cl_int oc = (cl_int)g.c;
    cl_long plane = g.h * g.w, total = n->numel;
    clg_karg args[] = {ARG(y), ARG(bias), ARG(oc), ARG(plane), ARG(total)};
    return clg_cl_launch(b, K_conv_bias_add, args, 5, (size_t)total, 0);
}

static clg_status conv_grad_bias(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *dyn = &nodes[n->src[0]];
    cl_mem dy = MEM(dyn->buf), db = MEM(n->buf);
    cl_int N = (cl_int)dyn->shape[0], OC = (cl_int)dyn->shape[1];
    cl_long P = dyn->shape[2] * dyn->shape[3];
    const size_t wg = b->kwg[K_conv_bias_grad];
    clg_karg args[] = {ARG(dy), ARG(db), ARG(N), ARG(OC), ARG(P), LOCAL_ARG(wg * sizeof(float))};
    return clg_cl_launch(b, K_conv_bias_grad, args, 6, (size_t)OC * wg, wg);
}

/* The workspaces of im2col convolution, per node (vtable workspaces):
 * forward, the column matrix [C*KH*KW, N*OH*OW] and the GEMM's output
 * before its layout swap; input gradient, the column gradient and dY' in
 * GEMM layout; weight gradient, dY' and the columns made again. All are
 * used only while the node runs. */
bool clg_cl_conv_workspaces(const clg_cl_backend *b, const clg_node *nodes, const clg_node *n,
                            int64_t counts[CLG_MAX_AUX], uint8_t *scratch)
{
    const clg_node *conv = n->op == CLG_OP_CONV2D ? n : &nodes[n->src[1]];
    if (n->op != CLG_OP_CONV2D && n->op != CLG_OP_CONV2D_GRAD_INPUT && n->op != CLG_OP_CONV2D_GRAD_WEIGHT) return true;
    clg_conv_geom g = clg_conv_geom_of(nodes, conv);
    const int path = clg_cl_conv_path(b, &g);
    /* the direct kernels need none; oneDNN keeps its own */
    if (path == CLG_CONV_DIRECT || (path == CLG_CONV_ONEDNN && clg_cl_conv_native_takes(b, &g))) return true;
    *scratch = 3; /* every workspace here: none is kept from forward to backward */
    if (path == CLG_CONV_WINOGRAD) { /* the layouts above winograd_forward */
        const int64_t t = wg_tiles(&g);
        if (t < 1 || g.c > INT64_MAX / 16 / t || g.oc > INT64_MAX / 16 / t || g.oc > INT64_MAX / 16 / g.c) return false;
        const int64_t u = 16 * g.oc * g.c, v = 16 * g.c * t, m = 16 * g.oc * t;
        if (u > INT64_MAX - (v > m ? v : m) || v > INT64_MAX - m) return false;
        switch (n->op) {
        case CLG_OP_CONV2D: counts[0] = u + v, counts[1] = m; break;
        case CLG_OP_CONV2D_GRAD_INPUT: counts[0] = v, counts[1] = u + m; break;
        default: counts[0] = m + v, counts[1] = u; break;
        }
        return true;
    }
    int64_t rows = clg_conv_col_rows(&g), np = clg_conv_col_cols(&g);
    if (np < 1 || rows > INT64_MAX / np || g.oc > INT64_MAX / np) return false;
    switch (n->op) {
    case CLG_OP_CONV2D:
        counts[0] = rows * np;
        counts[1] = g.oc * np;
        break;
    case CLG_OP_CONV2D_GRAD_INPUT:
        counts[0] = rows * (grad_input_chunk(&g) * g.oh * g.ow); /* dcol of one chunk of the batch */
        counts[1] = g.oc * np;
        break;
    default:
        counts[0] = g.oc * np;
        counts[1] = rows * np;
        break;
    }
    return true;
}

/* A pooling kernel over `items` elements: (in, out, [argmax,] geometry). */
static clg_status pool(clg_cl_backend *b, int kernel, cl_mem in, cl_mem out, cl_mem arg, const clg_conv_geom *g,
                       int64_t items)
{
    cl_int16 g16 = clg_cl_geom16(g);
    clg_karg with_arg[] = {ARG(in), ARG(out), ARG(arg), ARG(g16)}, plain[] = {ARG(in), ARG(out), ARG(g16)};
    return arg ? clg_cl_launch(b, kernel, with_arg, 4, (size_t)items, 0)
               : clg_cl_launch(b, kernel, plain, 3, (size_t)items, 0);
}

clg_status clg_cl_conv(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    cl_mem s0 = MEM(nodes[n->src[0]].buf), y = MEM(n->buf);
    switch (n->op) {
    case CLG_OP_CONV2D: return conv_forward(b, nodes, n);
    case CLG_OP_CONV2D_GRAD_WEIGHT: return conv_grad_weight(b, nodes, n);
    case CLG_OP_CONV2D_GRAD_INPUT: return conv_grad_input(b, nodes, n);
    case CLG_OP_CONV2D_GRAD_BIAS: return conv_grad_bias(b, nodes, n);
    case CLG_OP_CONV_TRANSPOSE2D: return conv_transpose(b, nodes, n);
    case CLG_OP_MAXPOOL2D: {
        clg_conv_geom g = clg_conv_geom_of(nodes, n);
        const int k = g.dh == 1 && g.dw == 1 ? K_pool_max_forward : K_pool_max_forward_dil;
        /* x and y float32, or both 16-bit (core/conv.c); a row each */
        cl_mem arg = MEM(n->aux[0]);
        cl_int16 g16 = clg_cl_geom16(&g);
        cl_int from = clg_cl_type_code(&nodes[n->src[0]]);
        clg_karg args[] = {ARG(s0), ARG(y), ARG(arg), ARG(g16), ARG(from)};
        return clg_cl_launch(b, k, args, 5, (size_t)(g.n * g.c * g.oh), 0);
    }
    case CLG_OP_AVGPOOL2D: {
        clg_conv_geom g = clg_conv_geom_of(nodes, n);
        return pool(b, K_pool_avg_forward, s0, y, NULL, &g, n->numel);
    }
    case CLG_OP_MAXPOOL2D_GRAD:
    case CLG_OP_AVGPOOL2D_GRAD: {
        const clg_node *fwd = &nodes[n->src[1]];
        clg_conv_geom g = clg_conv_geom_of(nodes, fwd);
        bool max = n->op == CLG_OP_MAXPOOL2D_GRAD;
        const int k = !max ? K_pool_avg_backward : g.dh == 1 && g.dw == 1 ? K_pool_max_backward : K_pool_max_backward_dil;
        return pool(b, k, s0, y, max ? MEM(fwd->aux[0]) : NULL, &g, n->numel);
    }
    default: return clg_cl_unsupported(b, n);
    }
}
