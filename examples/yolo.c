/*
 * A tiny YOLO-style detector's backbone and neck (the blocks of
 * Ultralytics' YOLOv8, scaled down), forward and backward on every device,
 * against the reference backend, with nothing but clgrad.h. In PyTorch:
 *
 *   Conv(c1, c2, k, s)  = SiLU(BatchNorm2d(Conv2d(c1, c2, k, s, k // 2, bias=False)))
 *   Bottleneck(c)       = x + Conv(c, c, 3, 1)(Conv(c, c, 3, 1)(x))
 *   C2f(c1, c2)         = a, b = Conv(c1, c2, 1, 1)(x).chunk(2, 1)
 *                         Conv(3 c2 / 2, c2, 1, 1)(cat([a, b, Bottleneck(c2 / 2)(b)], 1))
 *   SPPF(c1, c2)        = x = Conv(c1, c1 / 2, 1, 1)(x); m1 = MaxPool2d(5, 1, 2)(x); m2 = pool(m1);
 *                         m3 = pool(m2); Conv(2 c1, c2, 1, 1)(cat([x, m1, m2, m3], 1))
 *
 *   backbone: Conv(3, c, 3, 2) -> Conv(c, 2c, 3, 2) -> C2f -> P3 (2c, H/4)
 *             Conv(2c, 4c, 3, 2) -> C2f -> SPPF -> P4 (4c, H/8)
 *   neck:     N3 = C2f(cat([Upsample(2, nearest)(P4), P3], 1))     (2c, H/4)
 *             N4 = C2f(cat([Conv(2c, 2c, 3, 2)(N3), P4], 1))        (4c, H/8)
 *
 * The loss is sum(N3 * T3) + sum(N4 * T4) for fixed random T: every
 * output's gradient is a fresh random tensor. Each device runs the same
 * graph from the same initial parameters (clgrad's initialisers draw the
 * same bits everywhere) and must agree with the reference on the loss,
 * both outputs and every parameter's gradient: |got - want| <= 1e-3
 * max|want| + 1e-3 |want| per tensor. Float rounding differs between
 * backends in each of some 40 layers (sums in another order, libm's exp
 * in SiLU), and batch norm over a 2x4x4 batch divides by a small standard
 * deviation; the largest difference is printed (1.6e-5 of a tensor's
 * largest value on PoCL, in a batch norm weight's gradient). Scaling
 * SiLU's gradient kernel by 1.01 fails it (a difference of 0.16).
 *
 * Usage: clgrad-example-yolo [DEVICE...]   (default: every OpenCL device)
 * Exit 0 when every device agrees, 1 otherwise, 2 on an error.
 */
#include <clgrad.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 2, H = 32, W = 32, C = 8 };

typedef struct net {
    clg_graph *g;
    clg_tensor x, t3, t4, n3, n4, loss;
    uint64_t seed;
    int layers;
} net;

static clg_tensor conv(net *m, clg_tensor x, int64_t c2, int k, int s)
{
    char name[32];
    snprintf(name, sizeof name, "conv%d", m->layers++);
    clg_tensor y = clg_conv2d_layer(m->g, x, c2, k, s, k / 2, 0, name, m->seed + 2 * (uint64_t)m->layers);
    snprintf(name, sizeof name, "bn%d", m->layers);
    return clg_silu(m->g, clg_batch_norm_layer(m->g, y, name));
}

static clg_tensor c2f(net *m, clg_tensor x, int64_t c2)
{
    const int64_t h = c2 / 2;
    clg_tensor y = conv(m, x, c2, 1, 1);
    clg_tensor a = clg_slice(m->g, y, 1, 0, h), b = clg_slice(m->g, y, 1, h, h);
    clg_tensor bottleneck = clg_add(m->g, b, conv(m, conv(m, b, h, 3, 1), h, 3, 1));
    return conv(m, clg_concat(m->g, clg_concat(m->g, a, b, 1), bottleneck, 1), c2, 1, 1);
}

static clg_tensor sppf(net *m, clg_tensor x, int64_t c1, int64_t c2)
{
    x = conv(m, x, c1 / 2, 1, 1);
    clg_tensor m1 = clg_max_pool2d(m->g, x, 5, 5, 1, 1, 2, 2);
    clg_tensor m2 = clg_max_pool2d(m->g, m1, 5, 5, 1, 1, 2, 2);
    clg_tensor m3 = clg_max_pool2d(m->g, m2, 5, 5, 1, 1, 2, 2);
    clg_tensor cat = clg_concat(m->g, clg_concat(m->g, x, m1, 1), clg_concat(m->g, m2, m3, 1), 1);
    return conv(m, cat, c2, 1, 1);
}

static clg_status build(clg_context *ctx, net *m)
{
    memset(m, 0, sizeof *m);
    m->seed = 2024;
    clg_status s = clg_graph_create(ctx, &m->g);
    if (s != CLG_OK) return s;
    clg_graph *g = m->g;
    const int64_t xs[4] = {N, 3, H, W}, t3s[4] = {N, 2 * C, H / 4, W / 4}, t4s[4] = {N, 4 * C, H / 8, W / 8};
    m->x = clg_input(g, 4, xs);
    m->t3 = clg_input(g, 4, t3s);
    m->t4 = clg_input(g, 4, t4s);
    clg_tensor p3 = c2f(m, conv(m, conv(m, m->x, C, 3, 2), 2 * C, 3, 2), 2 * C);
    clg_tensor p4 = sppf(m, c2f(m, conv(m, p3, 4 * C, 3, 2), 4 * C), 4 * C, 4 * C);
    m->n3 = c2f(m, clg_concat(g, clg_upsample_nearest2d(g, p4, 2, 2), p3, 1), 2 * C);
    m->n4 = c2f(m, clg_concat(g, conv(m, m->n3, 2 * C, 3, 2), p4, 1), 4 * C);
    clg_tensor_keep(g, m->n3);
    clg_tensor_keep(g, m->n4);
    m->loss = clg_add(g, clg_sum(g, clg_mul(g, m->n3, m->t3)), clg_sum(g, clg_mul(g, m->n4, m->t4)));
    if ((s = clg_graph_status(g)) != CLG_OK) return s;
    return clg_backward(g, m->loss);
}

/* Deterministic inputs, the same on every device: a small LCG. */
static void fill(float *v, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((seed >> 8) * 0x1p-24) * 2.0f - 1.0f;
    }
}

/* Every tensor to compare, by name ("<layer>.weight" etc., plus the
 * outputs and the loss), read from one net into a flat list. */
typedef struct values {
    int n;
    char name[256][64];
    float *v[256];
    size_t len[256];
} values;

static int take(values *out, clg_graph *g, clg_tensor t, const char *name)
{
    if (out->n >= 256) return -1;
    size_t len = (size_t)clg_tensor_numel(g, t);
    float *v = malloc(len * sizeof *v);
    if (!v || clg_tensor_get(g, t, v, len) != CLG_OK) {
        free(v);
        return -1;
    }
    snprintf(out->name[out->n], sizeof out->name[0], "%s", name);
    out->v[out->n] = v;
    out->len[out->n++] = len;
    return 0;
}

static void values_free(values *vs)
{
    for (int i = 0; i < vs->n; i++) free(vs->v[i]);
    vs->n = 0;
}

/* Builds the net on spec, runs forward and backward, collects the loss,
 * the outputs and every parameter's gradient. */
static int run(const char *spec, values *out, double *seconds)
{
    clg_context *ctx = NULL;
    net m;
    if (clg_context_create(spec, &ctx) != CLG_OK || build(ctx, &m) != CLG_OK) {
        fprintf(stderr, "clgrad-example-yolo: %s: %s\n", spec, clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 2;
    }
    static float x[N * 3 * H * W], t3[N * 2 * C * (H / 4) * (W / 4)], t4[N * 4 * C * (H / 8) * (W / 8)];
    fill(x, sizeof x / sizeof *x, 1);
    fill(t3, sizeof t3 / sizeof *t3, 2);
    fill(t4, sizeof t4 / sizeof *t4, 3);
    int rc = clg_tensor_set(m.g, m.x, x, sizeof x / sizeof *x) != CLG_OK ||
             clg_tensor_set(m.g, m.t3, t3, sizeof t3 / sizeof *t3) != CLG_OK ||
             clg_tensor_set(m.g, m.t4, t4, sizeof t4 / sizeof *t4) != CLG_OK ||
             clg_graph_run_timed(m.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD, seconds) != CLG_OK;
    rc = rc || take(out, m.g, m.loss, "loss") || take(out, m.g, m.n3, "N3") || take(out, m.g, m.n4, "N4");
    for (int32_t i = 0; !rc && i < clg_graph_tensor_count(m.g); i++) {
        clg_tensor t = clg_graph_tensor(m.g, i);
        const char *name = clg_tensor_name(m.g, t);
        size_t len = name ? strlen(name) : 0;
        bool param = (len > 7 && !strcmp(name + len - 7, ".weight")) || (len > 5 && !strcmp(name + len - 5, ".bias"));
        if (!param) continue;
        char what[64];
        snprintf(what, sizeof what, "d loss / d %s", name);
        clg_tensor grad = clg_grad(m.g, t);
        rc = grad.id < 0 || take(out, m.g, grad, what);
    }
    if (rc) fprintf(stderr, "clgrad-example-yolo: %s: %s\n", spec, clg_context_errmsg(ctx));
    clg_graph_destroy(m.g);
    clg_context_destroy(ctx);
    return rc ? 2 : 0;
}

int main(int argc, char **argv)
{
    values want = {0}, got = {0};
    double t;
    if (run("reference", &want, &t)) return 2;
    printf("reference: loss %.6g, %d tensors (outputs and %d parameter gradients), %.3f s\n", want.v[0][0], want.n,
           want.n - 3, t);
    char specs[16][128];
    int nspec = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && nspec < 16; i++) snprintf(specs[nspec++], sizeof specs[0], "%s", argv[i]);
    } else {
        int nd = clg_device_count();
        for (int d = 1; d < nd && nspec < 16; d++) /* 0 is the reference */
            if (clg_device_spec(d, specs[nspec], sizeof specs[0]) == CLG_OK) nspec++;
    }
    int bad = 0;
    for (int d = 0; d < nspec; d++) {
        if (run(specs[d], &got, &t)) return 2;
        double worst = 0;
        const char *worst_name = "";
        for (int k = 0; k < want.n; k++) {
            if (k >= got.n || strcmp(got.name[k], want.name[k]) || got.len[k] != want.len[k]) {
                fprintf(stderr, "clgrad-example-yolo: %s: tensor %d is %s, the reference's %s\n", specs[d], k,
                        k < got.n ? got.name[k] : "missing", want.name[k]);
                return 2;
            }
            double max = 0;
            for (size_t i = 0; i < want.len[k]; i++) max = fmax(max, fabs(want.v[k][i]));
            for (size_t i = 0; i < want.len[k]; i++) {
                double diff = fabs((double)got.v[k][i] - want.v[k][i]), bound = 1e-3 * max + 1e-3 * fabs(want.v[k][i]);
                double rel = max > 0 ? diff / max : diff;
                if (rel > worst) worst = rel, worst_name = want.name[k];
                if (diff > bound) {
                    if (bad++ < 5)
                        fprintf(stderr, "%s: %s[%zu] = %.9g, reference %.9g (allowed %.3g)\n", specs[d], want.name[k],
                                i, got.v[k][i], want.v[k][i], bound);
                }
            }
        }
        printf("%s: loss %.6g; largest difference %.2g of a tensor's largest value (%s); %.3f s\n", specs[d],
               got.v[0][0], worst, worst_name, t);
        values_free(&got);
    }
    values_free(&want);
    if (bad) fprintf(stderr, "clgrad-example-yolo: %d values differ from the reference beyond the bound\n", bad);
    return bad ? 1 : 0;
}
