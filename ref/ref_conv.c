/*
 * Reference implementation of the conv family: direct loops over the
 * definitions, sums in double. Independent of the OpenCL method (im2col
 * and GEMM); the conv buffers the core allocates for it are unused here.
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} x[n, c, i sh - ph + p dh, j sw - pw + q dw] w[o,c,p,q]
 * (cells outside x are zero), and its adjoints:
 *   dx[n,c,h,v] = sum over (o, p, q) and the (i, j) that read x[n,c,h,v] of dy[n,o,i,j] w[o,c,p,q]
 *   dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] x[n, c, i sh - ph + p dh, j sw - pw + q dw]
 *   db[o]       = sum_{n,i,j} dy[n,o,i,j]
 */
#include "../core/conv_geom.h"
#include "ref_real.h"

#include <stdlib.h>


/* Index of x[n,c,h,w] in a [N,C,H,W] tensor; the same for y with oc, oh, ow. */
static int64_t at4(int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H, int64_t W)
{
    return ((n * C + c) * H + h) * W + w;
}

/* The output position along one axis that reads input position `in` with
 * kernel tap t: out = (in + pad - t dil) / stride when that is a whole
 * number in [0, extent); -1 otherwise. */
static int64_t reader(int64_t in, int64_t t, int64_t pad, int64_t dil, int64_t stride, int64_t extent)
{
    int64_t d = in + pad - t * dil;
    if (d < 0 || d % stride) return -1;
    return d / stride < extent ? d / stride : -1;
}

static void conv_forward(const clg_conv_geom *g, const real *x, const real *w, const real *b, real *y)
{
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->oc; o++)
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++) {
                    double acc = b ? (double)b[o] : 0.0;
                    for (int64_t c = 0; c < g->c; c++)
                        for (int64_t p = 0; p < g->kh; p++) {
                            int64_t h = i * g->sh - g->ph + p * g->dh;
                            if (h < 0 || h >= g->h) continue;
                            for (int64_t q = 0; q < g->kw; q++) {
                                int64_t v = j * g->sw - g->pw + q * g->dw;
                                if (v < 0 || v >= g->w) continue;
                                acc += (double)x[at4(n, c, h, v, g->c, g->h, g->w)] *
                                       (double)w[at4(o, c, p, q, g->c, g->kh, g->kw)];
                            }
                        }
                    y[at4(n, o, i, j, g->oc, g->oh, g->ow)] = (real)acc;
                }
}

static void conv_grad_input(const clg_conv_geom *g, const real *dy, const real *w, real *dx)
{
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t h = 0; h < g->h; h++)
                for (int64_t v = 0; v < g->w; v++) {
                    double acc = 0.0;
                    for (int64_t p = 0; p < g->kh; p++) {
                        int64_t i = reader(h, p, g->ph, g->dh, g->sh, g->oh);
                        if (i < 0) continue;
                        for (int64_t q = 0; q < g->kw; q++) {
                            int64_t j = reader(v, q, g->pw, g->dw, g->sw, g->ow);
                            if (j < 0) continue;
                            for (int64_t o = 0; o < g->oc; o++)
                                acc += (double)dy[at4(n, o, i, j, g->oc, g->oh, g->ow)] *
                                       (double)w[at4(o, c, p, q, g->c, g->kh, g->kw)];
                        }
                    }
                    dx[at4(n, c, h, v, g->c, g->h, g->w)] = (real)acc;
                }
}

static void conv_grad_weight(const clg_conv_geom *g, const real *dy, const real *x, real *dw)
{
    for (int64_t o = 0; o < g->oc; o++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t p = 0; p < g->kh; p++)
                for (int64_t q = 0; q < g->kw; q++) {
                    double acc = 0.0;
                    for (int64_t n = 0; n < g->n; n++)
                        for (int64_t i = 0; i < g->oh; i++) {
                            int64_t h = i * g->sh - g->ph + p * g->dh;
                            if (h < 0 || h >= g->h) continue;
                            for (int64_t j = 0; j < g->ow; j++) {
                                int64_t v = j * g->sw - g->pw + q * g->dw;
                                if (v < 0 || v >= g->w) continue;
                                acc += (double)dy[at4(n, o, i, j, g->oc, g->oh, g->ow)] *
                                       (double)x[at4(n, c, h, v, g->c, g->h, g->w)];
                            }
                        }
                    dw[at4(o, c, p, q, g->c, g->kh, g->kw)] = (real)acc;
                }
}

/* dy [N,OC,P] summed over N and P. */
static void conv_grad_bias(const clg_node *dyn, real *db)
{
    const real *dy = ref_data(dyn);
    int64_t N = dyn->shape[0], OC = dyn->shape[1], P = dyn->shape[2] * dyn->shape[3];
    for (int64_t o = 0; o < OC; o++) {
        double acc = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++) acc += (double)dy[(n * OC + o) * P + p];
        db[o] = (real)acc;
    }
}

/*
 * Max pooling: the window's cells inside x, in row-major order; the first
 * maximum wins (a NaN wins over numbers, the first NaN over later ones), and
 * its position h W + w is kept for the backward. Padding never wins.
 */
static void max_pool_forward(const clg_conv_geom *g, const real *x, real *y, int32_t *arg)
{
    for (int64_t nc = 0; nc < g->n * g->c; nc++)
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                real best = -INFINITY;
                int64_t best_at = -1;
                for (int64_t p = 0; p < g->kh; p++) {
                    int64_t h = i * g->sh - g->ph + p * g->dh;
                    if (h < 0 || h >= g->h) continue;
                    for (int64_t q = 0; q < g->kw; q++) {
                        int64_t v = j * g->sw - g->pw + q * g->dw;
                        if (v < 0 || v >= g->w) continue;
                        real val = x[(nc * g->h + h) * g->w + v];
                        if (best_at < 0 || val > best || (isnan(val) && !isnan(best))) {
                            best = val;
                            best_at = h * g->w + v;
                        }
                    }
                }
                int64_t o = (nc * g->oh + i) * g->ow + j;
                y[o] = best;
                arg[o] = (int32_t)best_at;
            }
}

/* Average pooling's divisor of window (i, j), PyTorch's (AvgPool2d.cpp):
 * the window clipped to the padded input (kh kw but for ceil mode's last
 * windows), or to x without the padding cells (count_include_pad false). */
static double avg_divisor(const clg_conv_geom *g, int64_t i, int64_t j)
{
    int64_t h0 = i * g->sh - g->ph, v0 = j * g->sw - g->pw;
    int64_t h1 = h0 + g->kh < g->h + g->ph ? h0 + g->kh : g->h + g->ph;
    int64_t v1 = v0 + g->kw < g->w + g->pw ? v0 + g->kw : g->w + g->pw;
    if (g->xpad == 1) {
        h0 = h0 > 0 ? h0 : 0, v0 = v0 > 0 ? v0 : 0;
        h1 = h1 < g->h ? h1 : g->h, v1 = v1 < g->w ? v1 : g->w;
    }
    return (double)((h1 - h0) * (v1 - v0));
}

static void avg_pool_forward(const clg_conv_geom *g, const real *x, real *y)
{
    for (int64_t nc = 0; nc < g->n * g->c; nc++)
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                double acc = 0.0;
                for (int64_t p = 0; p < g->kh; p++) {
                    int64_t h = i * g->sh - g->ph + p;
                    if (h < 0 || h >= g->h) continue;
                    for (int64_t q = 0; q < g->kw; q++) {
                        int64_t v = j * g->sw - g->pw + q;
                        if (v >= 0 && v < g->w) acc += (double)x[(nc * g->h + h) * g->w + v];
                    }
                }
                y[(nc * g->oh + i) * g->ow + j] = (real)(acc / avg_divisor(g, i, j));
            }
}

/* dx[h,v] sums dy over the windows that hold (h, v): over max pooling's
 * windows only those whose argmax it is (arg non-NULL), average pooling's
 * each divided by its divisor. */
static void pool_backward(const clg_conv_geom *g, const real *dy, const int32_t *arg, real *dx)
{
    for (int64_t nc = 0; nc < g->n * g->c; nc++)
        for (int64_t h = 0; h < g->h; h++)
            for (int64_t v = 0; v < g->w; v++) {
                double acc = 0.0;
                for (int64_t p = 0; p < g->kh; p++) {
                    int64_t i = reader(h, p, g->ph, g->dh, g->sh, g->oh);
                    if (i < 0) continue;
                    for (int64_t q = 0; q < g->kw; q++) {
                        int64_t j = reader(v, q, g->pw, g->dw, g->sw, g->ow);
                        if (j < 0) continue;
                        int64_t o = (nc * g->oh + i) * g->ow + j;
                        if (!arg) acc += (double)dy[o] / avg_divisor(g, i, j);
                        else if (arg[o] == h * g->w + v) acc += (double)dy[o];
                    }
                }
                dx[(nc * g->h + h) * g->w + v] = (real)acc;
            }
}

clg_status REF(clg_ref_conv)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = &nodes[n->src[0]];
    switch (n->op) {
    case CLG_OP_CONV2D: {
        clg_conv_geom g = clg_conv_geom_of(nodes, n);
        const real *b = n->src[2] >= 0 ? ref_data(&nodes[n->src[2]]) : NULL;
        conv_forward(&g, ref_data(s0), ref_data(&nodes[n->src[1]]), b, ref_data(n));
        return CLG_OK;
    }
    case CLG_OP_CONV2D_GRAD_INPUT:
    case CLG_OP_CONV2D_GRAD_WEIGHT: {
        const clg_node *conv = &nodes[n->src[1]];
        clg_conv_geom g = clg_conv_geom_of(nodes, conv);
        if (n->op == CLG_OP_CONV2D_GRAD_INPUT)
            conv_grad_input(&g, ref_data(s0), ref_data(&nodes[conv->src[1]]), ref_data(n));
        else
            conv_grad_weight(&g, ref_data(s0), ref_data(&nodes[n->src[2] >= 0 ? n->src[2] : conv->src[0]]),
                             ref_data(n));
        return CLG_OK;
    }
    case CLG_OP_CONV_TRANSPOSE2D: {
        /* the input gradient of its virtual conv (core/conv_geom.h), then the bias */
        clg_conv_geom g = clg_conv_transpose_geom(nodes, n);
        real *y = ref_data(n);
        conv_grad_input(&g, ref_data(s0), ref_data(&nodes[n->src[1]]), y);
        if (n->src[2] >= 0) {
            const real *b = ref_data(&nodes[n->src[2]]);
            const int64_t plane = g.h * g.w;
            for (int64_t k = 0; k < n->numel; k++) y[k] += b[(k / plane) % g.c];
        }
        return CLG_OK;
    }
    case CLG_OP_CONV2D_GRAD_BIAS: conv_grad_bias(s0, ref_data(n)); return CLG_OK;
    case CLG_OP_MAXPOOL2D: {
        clg_conv_geom g = clg_conv_geom_of(nodes, n);
        if (!clg_dtype_16(n->dtype)) {
            max_pool_forward(&g, ref_data(s0), ref_data(n), ref_aux_i32(n, 0));
            return CLG_OK;
        }
        /* 16-bit x and y: the same on x widened, y narrowed (exact: each y
         * is a cell of x, or -inf) */
        real *x = malloc((size_t)s0->numel * sizeof *x), *y = malloc((size_t)n->numel * sizeof *y);
        if (!x || !y) {
            free(x);
            free(y);
            return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "reference: max_pool2d: out of host memory");
        }
        for (int64_t i = 0; i < s0->numel; i++) x[i] = (real)ref_load_float(s0, i);
        max_pool_forward(&g, x, y, ref_aux_i32(n, 0));
        for (int64_t i = 0; i < n->numel; i++) ref_data16(n)[i] = ref_narrow16(n->dtype, (float)y[i]);
        free(x);
        free(y);
        return CLG_OK;
    }
    case CLG_OP_AVGPOOL2D: {
        clg_conv_geom g = clg_conv_geom_of(nodes, n);
        avg_pool_forward(&g, ref_data(s0), ref_data(n));
        return CLG_OK;
    }
    case CLG_OP_MAXPOOL2D_GRAD:
    case CLG_OP_AVGPOOL2D_GRAD: {
        const clg_node *pool = &nodes[n->src[1]];
        clg_conv_geom g = clg_conv_geom_of(nodes, pool);
        pool_backward(&g, ref_data(s0), n->op == CLG_OP_MAXPOOL2D_GRAD ? ref_aux_i32(pool, 0) : NULL, ref_data(n));
        return CLG_OK;
    }
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
