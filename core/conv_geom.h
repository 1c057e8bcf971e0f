/* The sizes of a convolution or a pooling, shared by the conv family's
 * constructors, reference and OpenCL dispatch. */
#ifndef CLG_CONV_GEOM_H
#define CLG_CONV_GEOM_H

#include "backend.h"

/* A pooling is read as a convolution with one output channel per input
 * channel (oc = c); its node holds i[] = kh, kw, sh, sw, ph, pw, dh, dw and
 * f[0] = 1 for average pooling without the padding cells. */
typedef struct clg_conv_geom {
    int64_t n, c, h, w;   /* x [N,C,H,W] */
    int64_t oc, kh, kw;   /* output channels, window */
    int64_t oh, ow;       /* y [N,OC,OH,OW] */
    int64_t sh, sw, ph, pw, dh, dw;
    /* average pooling's divisor: 0 kh kw for every window; 1 the window's
     * cells inside x (count_include_pad false); 2 its cells inside the
     * padded input (ceil mode's last windows reach beyond it) */
    int64_t xpad;
} clg_conv_geom;

/* From the forward node (CONV2D, MAXPOOL2D or AVGPOOL2D). */
static inline clg_conv_geom clg_conv_geom_of(const clg_node *nodes, const clg_node *fwd)
{
    const clg_node *x = &nodes[fwd->src[0]];
    clg_conv_geom g = {.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .oc = fwd->shape[1], .oh = fwd->shape[2], .ow = fwd->shape[3]};
    if (fwd->op == CLG_OP_CONV2D) {
        const clg_node *w = &nodes[fwd->src[1]];
        g.kh = w->shape[2], g.kw = w->shape[3];
        g.sh = fwd->i[0], g.sw = fwd->i[1], g.ph = fwd->i[2], g.pw = fwd->i[3], g.dh = fwd->i[4], g.dw = fwd->i[5];
    } else {
        g.kh = fwd->i[0], g.kw = fwd->i[1], g.sh = fwd->i[2], g.sw = fwd->i[3], g.ph = fwd->i[4], g.pw = fwd->i[5];
        g.dh = fwd->i[6], g.dw = fwd->i[7];
        const bool clipped = (g.oh - 1) * g.sh - g.ph + g.kh > g.h + g.ph || (g.ow - 1) * g.sw - g.pw + g.kw > g.w + g.pw;
        g.xpad = fwd->f[0] != 0.0f ? 1 : clipped ? 2 : 0;
    }
    return g;
}

/* A transposed convolution y = conv_transpose2d(x, w) is the input
 * gradient of the convolution it transposes (its "virtual" conv): that
 * conv reads an input shaped as y [N, OC, OH, OW] through w [C, OC, KH,
 * KW] and gives an output shaped as x [N, C, H, W]. This is that conv's
 * geometry, so that its input-gradient paths compute y. */
static inline clg_conv_geom clg_conv_transpose_geom(const clg_node *nodes, const clg_node *t)
{
    const clg_node *x = &nodes[t->src[0]], *w = &nodes[t->src[1]];
    clg_conv_geom g = {.n = x->shape[0], .c = t->shape[1], .h = t->shape[2], .w = t->shape[3],
                       .oc = x->shape[1], .kh = w->shape[2], .kw = w->shape[3], .oh = x->shape[2], .ow = x->shape[3],
                       .sh = t->i[0], .sw = t->i[1], .ph = t->i[2], .pw = t->i[3], .dh = t->i[4], .dw = t->i[5]};
    return g;
}

/* Rows and columns of the im2col matrix: col [C*KH*KW, N*OH*OW]. */
static inline int64_t clg_conv_col_rows(const clg_conv_geom *g) { return g->c * g->kh * g->kw; }
static inline int64_t clg_conv_col_cols(const clg_conv_geom *g) { return g->n * g->oh * g->ow; }

#endif
