/*
 * The ops whose forward is not a formula the other tests restate (the
 * transposed convolution, the selection ops at ties and NaN, pooling's
 * ceil mode, dilation and divisors, bilinear resizing, adaptive pooling's
 * unequal windows; broadcasting at rank 6 with a 0-d operand, a loss
 * and a full reduction as 0-d results) evaluated on
 * the double-precision reference and on every device, with their
 * gradients, for ops_values.py to recompute with PyTorch in float64.
 * Writes, for each graph and device, lines "<graph> <device> <tensor>
 * <count> <values...>": the inputs (device "in"), the output, its shape
 * ("shape", count = ndim) and the gradients of L = sum(y * r).
 * Usage: torch_ops_values OUT_FILE
 */
#include "../gradcheck.h"
#include "../util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_IN = 3, CONVT = 4, POOL = 16, RESIZE = 32, RANKS = 48 };

typedef struct {
    const char *name;
    int nin;
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][CLG_MAX_DIMS];
    int conv; /* CONVT + k: conv_transpose2d config k; POOL + k: pooling k; RESIZE + k: resizing k;
               * RANKS + k: rank graph k; 0: selection */
} graph_def;

/* stride, padding, output padding, dilation (h, w each) */
static const int convt[4][8] = {
    {2, 2, 0, 0, 0, 0, 1, 1}, {2, 2, 1, 1, 1, 1, 1, 1}, {2, 2, 2, 1, 1, 0, 2, 2}, {1, 3, 0, 2, 0, 2, 1, 1}};

static const graph_def defs[] = {
    {"convt_k2_s2", 3, {4, 4, 1}, {{2, 3, 5, 4}, {3, 2, 2, 2}, {2}}, CONVT + 0},
    {"convt_k3_s2_op1", 3, {4, 4, 1}, {{2, 3, 5, 4}, {3, 2, 3, 3}, {2}}, CONVT + 1},
    {"convt_k3_s2_d2", 3, {4, 4, 1}, {{2, 3, 5, 4}, {3, 2, 3, 3}, {2}}, CONVT + 2},
    {"convt_k3_s13_op2", 3, {4, 4, 1}, {{1, 2, 4, 3}, {2, 3, 3, 2}, {3}}, CONVT + 3},
    {"select", 3, {2, 1, 2}, {{3, 4}, {4}, {3, 1}}, 0},
    {"maxpool_k2_s2_ceil", 1, {4}, {{2, 3, 7, 9}}, POOL + 0},
    {"maxpool_k3_s2_p1_d2_ceil", 1, {4}, {{2, 3, 7, 9}}, POOL + 1},
    {"avgpool_k2_s2_ceil", 1, {4}, {{2, 3, 7, 9}}, POOL + 2},
    {"avgpool_k3_s2_p1_ceil_nopad", 1, {4}, {{2, 3, 7, 9}}, POOL + 3},
    {"avgpool_k3_s2_p1_ceil_h8", 1, {4}, {{1, 2, 8, 7}}, POOL + 4},
    {"bilinear_2x", 1, {4}, {{2, 3, 5, 4}}, RESIZE + 0},
    {"bilinear_11x3_align", 1, {4}, {{2, 3, 5, 4}}, RESIZE + 1},
    {"bilinear_3x7", 1, {4}, {{2, 3, 5, 4}}, RESIZE + 2},
    {"adaptive_3x3", 1, {4}, {{2, 3, 5, 4}}, RESIZE + 3},
    {"rank6_bcast", 3, {6, 5, 0}, {{2, 3, 1, 5, 1, 3}, {3, 4, 1, 2, 1}}, RANKS + 0},
    {"scalar_loss", 3, {2, 2, 0}, {{3, 4}, {3, 4}}, RANKS + 1},
};

/* max?, kernel, stride, padding, dilation, ceil mode, count_include_pad */
static const int pools[5][7] = {
    {1, 2, 2, 0, 1, 1, 1}, {1, 3, 2, 1, 2, 1, 1}, {0, 2, 2, 0, 1, 1, 1}, {0, 3, 2, 1, 1, 1, 0}, {0, 3, 2, 1, 1, 1, 1}};

static clg_tensor build(clg_graph *g, const graph_def *d, const clg_tensor *in)
{
    if (d->conv >= RANKS) { /* sum(a b + c a, axis 2) at rank 6; mse(a c, b) + max(a), 0-d */
        if (d->conv == RANKS)
            return clg_sum_axis(g, clg_add(g, clg_mul(g, in[0], in[1]), clg_mul(g, in[2], in[0])), 2, 0);
        return clg_add(g, clg_mse_loss(g, clg_mul(g, in[0], in[2]), in[1]), clg_max(g, in[0]));
    }
    if (d->conv >= RESIZE) { /* up 2x; 11x3 with aligned corners; 3x7 (down, up); adaptive 5x4 -> 3x3 */
        switch (d->conv - RESIZE) {
        case 0: return clg_upsample_bilinear2d(g, in[0], 10, 8, 0);
        case 1: return clg_upsample_bilinear2d(g, in[0], 11, 3, 1);
        case 2: return clg_upsample_bilinear2d(g, in[0], 3, 7, 0);
        default: return clg_adaptive_avg_pool2d(g, in[0], 3, 3);
        }
    }
    if (d->conv >= POOL) {
        const int *p = pools[d->conv - POOL];
        clg_pool_options o;
        clg_pool_options_init(&o, sizeof o);
        o.dilation_h = o.dilation_w = p[4];
        o.ceil_mode = p[5];
        o.count_include_pad = p[6];
        return p[0] ? clg_max_pool2d_opt(g, in[0], p[1], p[1], p[2], p[2], p[3], p[3], &o)
                    : clg_avg_pool2d_opt(g, in[0], p[1], p[1], p[2], p[2], p[3], p[3], &o);
    }
    if (d->conv >= CONVT) {
        const int *p = convt[d->conv - CONVT];
        return clg_conv_transpose2d(g, in[0], in[1], in[2], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    }
    /* maximum(a, b) + 3 minimum(a, c) + where(a > b, a, b c) + maximum(a, a):
     * broadcasting three ways, ties (a with itself, and the values below) */
    clg_tensor a = in[0], b = in[1], c = in[2];
    clg_tensor y = clg_add(g, clg_maximum(g, a, b), clg_scale(g, clg_minimum(g, a, c), 3.0f));
    y = clg_add(g, y, clg_where(g, clg_compare(g, a, b, CLG_GT), a, clg_mul(g, b, c)));
    return clg_add(g, y, clg_maximum(g, a, a));
}

static void put(FILE *f, const char *graph, const char *dev, const char *what, const float *v, int64_t n)
{
    fprintf(f, "%s %s %s %lld", graph, dev, what, (long long)n);
    for (int64_t i = 0; i < n; i++) fprintf(f, " %.9g", (double)v[i]);
    fprintf(f, "\n");
}

static void run(FILE *f, const graph_def *d, const char *spec, float *const *vals, uint64_t seed)
{
    clg_context *ctx = gc_open(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor in[MAX_IN];
    int64_t n[MAX_IN];
    for (int k = 0; k < d->nin; k++) {
        in[k] = clg_param(g, d->ndim[k], d->shape[k]);
        n[k] = numel_of(d->ndim[k], d->shape[k]);
    }
    clg_tensor y = build(g, d, in);
    if (y.id < 0) fail_msg("%s: %s", d->name, clg_context_errmsg(ctx));
    int ndim = clg_tensor_ndim(g, y);
    int64_t shape[CLG_MAX_DIMS], ny = 1;
    float fshape[CLG_MAX_DIMS];
    for (int k = 0; k < ndim; k++) {
        ny *= shape[k] = clg_tensor_dim(g, y, k);
        fshape[k] = (float)shape[k];
    }
    clg_tensor tr = clg_input(g, ndim, shape);
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, tr))));
    float *r = malloc((size_t)ny * sizeof *r), *out = malloc((size_t)ny * sizeof *out);
    rng_t q = {seed};
    rng_fill(&q, r, (size_t)ny, 0.5, 1.5, false);
    for (int k = 0; k < d->nin; k++) CHECK_OK(ctx, clg_tensor_set(g, in[k], vals[k], (size_t)n[k]));
    CHECK_OK(ctx, clg_tensor_set(g, tr, r, (size_t)ny));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    if (strcmp(spec, "reference64") == 0) { /* once: the inputs */
        for (int k = 0; k < d->nin; k++) {
            char what[16];
            snprintf(what, sizeof what, "in%d", k);
            put(f, d->name, "in", what, vals[k], n[k]);
        }
        put(f, d->name, "in", "r", r, ny);
    }
    CHECK_OK(ctx, clg_tensor_get(g, y, out, (size_t)ny));
    put(f, d->name, spec, "y", out, ny);
    put(f, d->name, spec, "shape", fshape, ndim);
    for (int k = 0; k < d->nin; k++) {
        float *gv = malloc((size_t)n[k] * sizeof *gv);
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, in[k]), gv, (size_t)n[k]));
        char what[16];
        snprintf(what, sizeof what, "grad%d", k);
        put(f, d->name, spec, what, gv, n[k]);
        free(gv);
    }
    free(r);
    free(out);
    clg_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_FILE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char specs[16][32];
    int ndev = clg_device_count();
    for (size_t k = 0; k < sizeof defs / sizeof defs[0]; k++) {
        const graph_def *d = &defs[k];
        float *vals[MAX_IN];
        rng_t q = {100 + k};
        for (int i = 0; i < d->nin; i++) {
            int64_t n = numel_of(d->ndim[i], d->shape[i]);
            vals[i] = malloc((size_t)n * sizeof *vals[i]);
            rng_fill(&q, vals[i], (size_t)n, 0.1, 2, false);
        }
        if (!d->conv) { /* ties between a and b, a and c */
            vals[1][1] = vals[0][1];
            vals[1][2] = vals[0][4 + 2];
            vals[2][0] = vals[0][3];
        }
        run(f, d, "reference64", vals, 7 + k);
        for (int i = 0; i < ndev; i++) {
            if (clg_device_spec(i, specs[0], sizeof specs[0]) != CLG_OK) continue;
            run(f, d, specs[0], vals, 7 + k);
        }
        for (int i = 0; i < d->nin; i++) free(vals[i]);
    }
    return fclose(f) == 0 ? 0 : 1;
}
