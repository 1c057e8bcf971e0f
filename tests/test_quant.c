/*
 * Fake quantization (clg_fake_quantize) on every device, forward and
 * backward:
 * - against values PyTorch 1.13 gave for the same inputs (printed by
 *   torch._fake_quantize_learnable_per_tensor_affine / _per_channel_affine,
 *   which share the forward and x's gradient with the non-learnable ops):
 *   ties at .5 rounding to even, values on and just past the clamp edges,
 *   zero points beyond the range (clamped) and at -0.5 (rounded to 0), a
 *   channel axis in the middle, grad_factor 0.5;
 * - on random inputs against this file's own implementation of PyTorch's
 *   definitions (written again here, in float as PyTorch computes it), per
 *   tensor (0-d and [1] parameters) and per channel (axis 0, 1 and -1),
 *   int8, uint8, 4-bit symmetric and 2-bit, constant and learnable
 *   parameters: outputs and x's gradient exactly, scale's and the zero
 *   point's gradients (sums over a channel's elements) within 1e-5
 *   relative plus 1e-6 of the largest;
 * - refusals, naming what is wrong;
 * and the observers (clg_observe, clg_fake_quantize_observed) on every
 * device: against PyTorch 1.13's MinMaxObserver, MovingAverageMinMaxObserver
 * and their per-channel forms (hard-coded outputs: affine and symmetric,
 * signed, unsigned and customised ranges, all-positive and all-zero
 * inputs), against this file's own implementation on random inputs large
 * enough to split a channel into parts (state and qparams exactly, frozen
 * in evaluation, the fake-quantized output exactly), and their state
 * (names, before any observation, written, through a checkpoint) and
 * refusals (nothing recorded).
 * The op cases (tests/cases/quant.c) compare the devices with the reference
 * on odd sizes and benchmark it; finite differences do not apply (the
 * straight-through gradient is a definition).
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    float y, dx, ds, dz; /* ds, dz: this element's terms, grad_factor included */
} fq_point;

/* PyTorch's definitions, element by element, in float: the forward and
 * x's gradient of fake_quantize_per_tensor_affine (its mask: rint(x / s)
 * + zp inside the range), and with learnable parameters the backward of
 * _fake_quantize_learnable_*, which rounds x / s + zp as one and takes
 * scale's term as (xfq - x) / s. */
static fq_point oracle(float x, float s, float zpf, float qmin, float qmax, float gf, float dy, bool learnable)
{
    const float inv = 1.0f / s, zp = fminf(fmaxf(nearbyintf(zpf), qmin), qmax);
    const float xs = x * inv;
    const float t = xs + zp;
    const float q = nearbyintf(xs) + zp, xq = learnable ? nearbyintf(t) : q;
    const bool below = xq < qmin, above = xq > qmax;
    fq_point p;
    p.y = (fminf(fmaxf(q, qmin), qmax) - zp) * s;
    p.dx = below || above ? 0 : dy;
    const float xfq = (xq - zp) * s;
    p.ds = below ? dy * (qmin - zp) * gf : above ? dy * (qmax - zp) * gf : dy * (xfq - x) * inv * gf;
    p.dz = below || above ? dy * -1.0f * s * gf : 0;
    return p;
}

typedef struct {
    const char *spec;
    int ndim;
    int64_t shape[4];
    int axis;        /* -99: per tensor with 0-d parameters; -98: per tensor with [1] */
    int qmin, qmax;
    float gf;
    const float *x, *s, *z, *dy; /* z may hold any float */
    bool learnable;              /* scale and zero point parameters (else constants: x's gradient only) */
} fq_run;

typedef struct {
    float y[4096], dx[4096], ds[64], dz[64];
} fq_out;

static int64_t count(const fq_run *r)
{
    int64_t n = 1;
    for (int d = 0; d < r->ndim; d++) n *= r->shape[d];
    return n;
}

/* The graph: y = fake_quantize(x, s, z), loss = sum(y * dy); x a
 * parameter, s and z too when learnable. */
static void run_device(const fq_run *r, fq_out *o)
{
    clg_context *ctx = open_ctx(r->spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int per_tensor = r->axis <= -98;
    const int a = per_tensor ? 0 : (r->axis < 0 ? r->axis + r->ndim : r->axis);
    const int64_t c = per_tensor ? 1 : r->shape[a];
    clg_tensor x = clg_param(g, r->ndim, r->shape);
    const int pnd = r->axis == -99 ? 0 : 1;
    clg_tensor s = r->learnable ? clg_param(g, pnd, &c) : clg_input(g, pnd, &c);
    clg_tensor z = r->learnable ? clg_param(g, pnd, &c) : clg_input(g, pnd, &c);
    clg_tensor dy = clg_input(g, r->ndim, r->shape);
    clg_tensor y = clg_fake_quantize(g, x, s, z, per_tensor ? 0 : r->axis, r->qmin, r->qmax, r->gf);
    CHECK_OK(ctx, clg_tensor_keep(g, y));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, y, dy))));
    const size_t n = (size_t)count(r);
    CHECK_OK(ctx, clg_tensor_set(g, x, r->x, n));
    CHECK_OK(ctx, clg_tensor_set(g, s, r->s, (size_t)c));
    CHECK_OK(ctx, clg_tensor_set(g, z, r->z, (size_t)c));
    CHECK_OK(ctx, clg_tensor_set(g, dy, r->dy, n));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, y, o->y, n));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, x), o->dx, n));
    if (r->learnable) {
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, s), o->ds, (size_t)c));
        CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, z), o->dz, (size_t)c));
    }
    clg_context_destroy(ctx);
}

/* The oracle's outputs; scale's and the zero point's gradients summed per
 * channel in double. */
static void run_oracle(const fq_run *r, fq_out *o)
{
    const int per_tensor = r->axis <= -98;
    const int a = per_tensor ? 0 : (r->axis < 0 ? r->axis + r->ndim : r->axis);
    const int64_t c = per_tensor ? 1 : r->shape[a], n = count(r);
    int64_t inner = 1;
    for (int d = a + 1; !per_tensor && d < r->ndim; d++) inner *= r->shape[d];
    double ds[64] = {0}, dz[64] = {0};
    for (int64_t i = 0; i < n; i++) {
        const int64_t k = per_tensor ? 0 : (i / inner) % c;
        fq_point p = oracle(r->x[i], r->s[k], r->z[k], (float)r->qmin, (float)r->qmax, r->gf, r->dy[i], r->learnable);
        o->y[i] = p.y;
        o->dx[i] = p.dx;
        ds[k] += p.ds;
        dz[k] += p.dz;
    }
    for (int64_t k = 0; k < c; k++) {
        o->ds[k] = (float)ds[k];
        o->dz[k] = (float)dz[k];
    }
}

static void compare(const fq_run *r, const char *what)
{
    fq_out got, want;
    run_device(r, &got);
    run_oracle(r, &want);
    const size_t n = (size_t)count(r), c = r->axis <= -98 ? 1 : (size_t)r->shape[r->axis < 0 ? r->axis + r->ndim : r->axis];
    char msg[160];
    snprintf(msg, sizeof msg, "%s on %s: output", what, r->spec);
    assert_close_ulp(got.y, want.y, n, 0, msg);
    snprintf(msg, sizeof msg, "%s on %s: x's gradient", what, r->spec);
    assert_close_ulp(got.dx, want.dx, n, 0, msg);
    if (!r->learnable) return;
    snprintf(msg, sizeof msg, "%s on %s: scale's gradient", what, r->spec);
    assert_close_scaled(got.ds, want.ds, c, 1e-5, 1e-6, msg);
    snprintf(msg, sizeof msg, "%s on %s: the zero point's gradient", what, r->spec);
    assert_close_scaled(got.dz, want.dz, c, 1e-5, 1e-6, msg);
}

/* ---- against PyTorch's own outputs ---- */

static void pytorch_values(const char *spec)
{
    fq_out o;
    /* A: per tensor, scale 0.5, zero point 3, [0, 10], dy 1: ties
     * (-2.5 -> -2, -1.5 -> -2, -0.5 -> 0, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2),
     * on the edges (5 + 3 = 8 in, 7 + 3 = 10 in) and beyond (+-200) */
    static const float xa[12] = {-1.25f, -0.75f, -0.25f, 0.25f, 0.75f, 1.25f, 2.5f, 3.5f, 100, -100, 1.75f, -1.5f};
    static const float ones[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const float sa = 0.5f, za = 3.0f;
    fq_run a = {spec, 1, {12}, -98, 0, 10, 1.0f, xa, &sa, &za, ones, true};
    run_device(&a, &o);
    static const float ya[12] = {-1, -1, 0, 0, 1, 1, 2.5f, 3.5f, 3.5f, -1.5f, 2, -1.5f};
    static const float dxa[12] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1};
    assert_close_ulp(o.y, ya, 12, 0, "PyTorch A: output");
    assert_close_ulp(o.dx, dxa, 12, 0, "PyTorch A: x's gradient");
    assert_close(o.ds, (const float[]){3.5f}, 1, 1e-6, 0, "PyTorch A: scale's gradient");
    assert_close(o.dz, (const float[]){-1.0f}, 1, 1e-6, 0, "PyTorch A: the zero point's gradient");

    /* B: uint8, scale 1; zero point 300 (clamped to 255) and -0.5 (to 0);
     * 255.5 rounds to 256, past the top */
    static const float xb1[5] = {0, 1, -1, 254, -0.6f}, xb2[5] = {0, 1, -1, 255.5f, -0.6f}, sb = 1;
    static const float zb1 = 300, zb2 = -0.5f;
    fq_run b1 = {spec, 1, {5}, -99, 0, 255, 1.0f, xb1, &sb, &zb1, ones, true};
    run_device(&b1, &o);
    assert_close_ulp(o.y, (const float[]){0, 0, -1, 0, -1}, 5, 0, "PyTorch B1: output");
    assert_close_ulp(o.dx, (const float[]){1, 0, 1, 0, 1}, 5, 0, "PyTorch B1: x's gradient");
    assert_close(o.ds, (const float[]){-0.3999999761581421f}, 1, 1e-6, 0, "PyTorch B1: scale's gradient");
    assert_close(o.dz, (const float[]){-2.0f}, 1, 1e-6, 0, "PyTorch B1: the zero point's gradient");
    fq_run b2 = {spec, 1, {5}, -99, 0, 255, 1.0f, xb2, &sb, &zb2, ones, true};
    run_device(&b2, &o);
    assert_close_ulp(o.y, (const float[]){0, 1, 0, 255, 0}, 5, 0, "PyTorch B2: output");
    assert_close_ulp(o.dx, (const float[]){1, 1, 0, 0, 0}, 5, 0, "PyTorch B2: x's gradient");
    assert_close(o.ds, (const float[]){255.0f}, 1, 1e-6, 0, "PyTorch B2: scale's gradient");
    assert_close(o.dz, (const float[]){-3.0f}, 1, 1e-6, 0, "PyTorch B2: the zero point's gradient");

    /* C: per channel along axis 1 of [2, 3, 2], [-4, 3], grad_factor 0.5,
     * zero points 0, 2.5 (to 2) and -3.2 (to -3), dy 0.5 + 0.25 i */
    static const float xc[12] = {0.3f, -0.9f, 1.26f, -4.0f, 2.4f, -2.6f, 0.75f, 1.1f, -0.3f, 0.2f, 7.0f, -7.5f};
    static const float sc[3] = {0.5f, 0.25f, 1.0f}, zc[3] = {0.0f, 2.5f, -3.2f};
    static const float dyc[12] = {0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.25f, 2.5f, 2.75f, 3, 3.25f};
    fq_run cc = {spec, 3, {2, 3, 2}, 1, -4, 3, 0.5f, xc, sc, zc, dyc, true};
    run_device(&cc, &o);
    static const float yc[12] = {0.5f, -1.0f, 0.25f, -1.5f, 2.0f, -1.0f, 1.0f, 1.0f, -0.25f, 0.25f, 6.0f, -1.0f};
    static const float dxc[12] = {0.5f, 0.75f, 0, 0, 1.5f, 0, 2, 2.25f, 2.5f, 2.75f, 0, 0};
    assert_close_ulp(o.y, yc, 12, 0, "PyTorch C: output");
    assert_close_ulp(o.dx, dxc, 12, 0, "PyTorch C: x's gradient");
    assert_close(o.ds, (const float[]){0.2999999225139618f, -2.7249999046325684f, 6.199999809265137f}, 3, 1e-6, 1e-7,
                 "PyTorch C: scale's gradient");
    assert_close(o.dz, (const float[]){0.0f, -0.28125f, -4.0f}, 3, 1e-6, 1e-7, "PyTorch C: the zero point's gradient");

    /* D: ties at the top edge with an odd zero point (scale 0.5, zero point
     * 3, [0, 10]): x = 3.75 gives x / s = 7.5, rounded to 8 then + 3 = 11,
     * outside, by fake_quantize_per_tensor_affine (dx 0), but 10.5 rounded
     * to 10, inside, by the learnable op's backward (dx 1) */
    static const float xd[3] = {3.75f, -1.75f, 1.75f};
    static const float yd[3] = {3.5f, -1.5f, 2.0f};
    fq_run d = {spec, 1, {3}, -98, 0, 10, 1.0f, xd, &sa, &za, ones, false};
    run_device(&d, &o);
    assert_close_ulp(o.y, yd, 3, 0, "PyTorch D: output");
    assert_close_ulp(o.dx, (const float[]){0, 0, 1}, 3, 0, "PyTorch D: x's gradient, constant parameters");
    d.learnable = true;
    run_device(&d, &o);
    assert_close_ulp(o.y, yd, 3, 0, "PyTorch D, learnable: output");
    assert_close_ulp(o.dx, (const float[]){1, 1, 1}, 3, 0, "PyTorch D, learnable: x's gradient");
    assert_close(o.ds, (const float[]){-0.5f}, 1, 1e-6, 0, "PyTorch D, learnable: scale's gradient");
    assert_close(o.dz, (const float[]){0.0f}, 1, 1e-6, 1e-7, "PyTorch D, learnable: the zero point's gradient");
}

static void test_pytorch_values(void **state)
{
    (void)state;
    for_each_device(pytorch_values);
}

/* ---- random inputs against the oracle ---- */

static void random_runs(const char *spec)
{
    static float x[4096], dy[4096], s[64], z[64];
    rng_t rng = {0x5eed};
    static const struct {
        int ndim;
        int64_t shape[4];
        int axis, qmin, qmax;
        float gf, smin, smax, zlo, zhi;
        const char *what;
    } cases[] = {
        {1, {1001}, -99, -128, 127, 1.0f, 0.01f, 0.05f, -3, 3, "int8 per tensor, 0-d parameters"},
        {2, {37, 29}, -98, 0, 255, 0.25f, 0.01f, 0.05f, 90, 140, "uint8 per tensor, [1] parameters"},
        {4, {3, 5, 7, 9}, 1, -8, 7, 0.5f, 0.2f, 0.6f, -0.4f, 0.4f, "4-bit symmetric per channel, axis 1"},
        {3, {11, 4, 13}, -1, 0, 3, 1.0f, 0.5f, 2.0f, 0, 3, "2-bit per channel, axis -1"},
        {2, {17, 23}, 0, -128, 127, 2.0f, 0.01f, 0.03f, -140, 140, "int8 per channel, axis 0, zero points clamped"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fq_run r = {spec, cases[k].ndim, {0}, cases[k].axis, cases[k].qmin, cases[k].qmax, cases[k].gf, x, s, z, dy,
                    k % 2 == 0};
        memcpy(r.shape, cases[k].shape, sizeof r.shape);
        const int64_t n = count(&r);
        const int per_tensor = r.axis <= -98;
        const int64_t c = per_tensor ? 1 : r.shape[r.axis < 0 ? r.axis + r.ndim : r.axis];
        for (int64_t i = 0; i < n; i++) {
            x[i] = (float)rng_uniform(&rng, -4, 4);
            dy[i] = (float)rng_uniform(&rng, -2, 2);
        }
        for (int64_t j = 0; j < c; j++) {
            s[j] = (float)rng_uniform(&rng, cases[k].smin, cases[k].smax);
            z[j] = (float)rng_uniform(&rng, cases[k].zlo, cases[k].zhi);
        }
        /* a few elements exactly on ties, x = (m + 0.5) s with s a power of two */
        if (per_tensor) s[0] = 0.03125f;
        for (int64_t i = 0; per_tensor && i < n; i += 7) x[i] = ((float)(i % 41) - 20.5f) * s[0];
        compare(&r, cases[k].what);
    }
}

static void test_random(void **state)
{
    (void)state;
    for_each_device(random_runs);
}

/* ---- observers ---- */

/* An observer on device spec: x of shape, options o; run k feeds xs[k]
 * (training, or evaluation from run `eval_from` on) and reads the state
 * and the qparams (C each) into lo, hi, sc, zp + k * C. */
typedef struct {
    const char *spec;
    int ndim;
    int64_t shape[4];
    clg_observer_options o;
    int runs, eval_from;
    const float *const *xs;
} obs_run;

static void observe_device(const obs_run *r, int64_t C, float *lo, float *hi, float *sc, float *zp, float *y)
{
    clg_context *ctx = open_ctx(r->spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor x = clg_input(g, r->ndim, r->shape);
    clg_observer ob;
    clg_tensor fq = clg_fake_quantize_observed(g, x, &r->o, "obs", &ob);
    assert_true(fq.id >= 0);
    assert_true(ob.scale.id < 0 && ob.zero_point.id < 0); /* the fused form records no slices */
    CHECK_OK(ctx, clg_tensor_keep(g, ob.qparams));
    CHECK_OK(ctx, clg_tensor_keep(g, fq));
    float *qp = malloc((size_t)(2 * C) * sizeof *qp);
    assert_non_null(qp);
    const int64_t n = numel_of(r->ndim, r->shape);
    for (int k = 0; k < r->runs; k++) {
        if (k == r->eval_from) CHECK_OK(ctx, clg_graph_set_training(g, 0));
        CHECK_OK(ctx, clg_tensor_set(g, x, r->xs[k], (size_t)n));
        CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
        CHECK_OK(ctx, clg_tensor_get(g, ob.min_val, lo + k * C, (size_t)C));
        CHECK_OK(ctx, clg_tensor_get(g, ob.max_val, hi + k * C, (size_t)C));
        CHECK_OK(ctx, clg_tensor_get(g, ob.qparams, qp, (size_t)(2 * C)));
        memcpy(sc + k * C, qp, (size_t)C * sizeof *qp);
        memcpy(zp + k * C, qp + C, (size_t)C * sizeof *qp);
        if (y) CHECK_OK(ctx, clg_tensor_get(g, fq, y + k * n, (size_t)n));
    }
    free(qp);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/* PyTorch's observers written again (torch/ao/quantization/observer.py,
 * 1.13), in float: the state update, then _calculate_qparams */
static float nmin(float a, float b) { return isnan(a) || a < b ? a : b; }
static float nmax(float a, float b) { return isnan(a) || a > b ? a : b; }
static void observe_oracle(const obs_run *r, int64_t C, float *lo, float *hi, float *sc, float *zp)
{
    const clg_observer_options *o = &r->o;
    const int64_t n = numel_of(r->ndim, r->shape);
    int axis = o->axis < 0 ? o->axis + r->ndim : o->axis;
    int64_t inner = 1;
    for (int d = axis + 1; o->per_channel && d < r->ndim; d++) inner *= r->shape[d];
    float mn[64], mx[64];
    for (int64_t c = 0; c < C; c++) mn[c] = INFINITY, mx[c] = -INFINITY;
    for (int k = 0; k < r->runs; k++) {
        for (int64_t c = 0; c < C && k < r->eval_from; c++) {
            float m = INFINITY, M = -INFINITY;
            for (int64_t i = 0; i < n; i++)
                if (!o->per_channel || (i / inner) % C == c) m = nmin(m, r->xs[k][i]), M = nmax(M, r->xs[k][i]);
            if (!o->moving_average) {
                mn[c] = nmin(mn[c], m), mx[c] = nmax(mx[c], M);
            } else if (mn[c] == INFINITY && mx[c] == -INFINITY) {
                mn[c] = m, mx[c] = M;
            } else {
                volatile float d = m - mn[c]; /* PyTorch's three tensor ops, each rounded */
                d = o->averaging_constant * d;
                mn[c] = mn[c] + d;
                d = M - mx[c];
                d = o->averaging_constant * d;
                mx[c] = mx[c] + d;
            }
        }
        for (int64_t c = 0; c < C; c++) {
            const float qmin = (float)o->quant_min, qmax = (float)o->quant_max;
            const float neg = nmin(mn[c], 0), pos = nmax(mx[c], 0);
            float s, z;
            if (o->symmetric) {
                s = nmax(nmax(-neg, pos) / ((qmax - qmin) / 2), o->eps);
                z = o->quant_min < 0 ? 0 : o->quant_min == 0 && o->quant_max == 255 ? 128 : (float)((o->quant_min + o->quant_max) / 2);
            } else {
                s = nmax((pos - neg) / (qmax - qmin), o->eps);
                z = fminf(fmaxf(qmin - nearbyintf(neg / s), qmin), qmax);
            }
            lo[k * C + c] = mn[c], hi[k * C + c] = mx[c], sc[k * C + c] = s, zp[k * C + c] = z;
        }
    }
}

static void obs_pytorch(const char *spec)
{
    float lo[12], hi[12], sc[12], zp[12];
    static const float x1[4] = {-1.5f, 0.3f, 2.25f, 0.7f}, x2[4] = {3.1f, -0.2f, 1.0f, 0.5f};
    static const float x3[4] = {0.9f, -2.7f, 0.1f, 0.05f};
    const float *p123[3] = {x1, x2, x3};
    clg_observer_options o = clg_observer_defaults();
    /* P1: MinMaxObserver(dtype=torch.quint8), two batches */
    obs_run p1 = {spec, 1, {4}, o, 2, 99, p123};
    observe_device(&p1, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(lo, (const float[]){-1.5f, -1.5f}, 2, 0, "P1 min_val");
    assert_close_ulp(hi, (const float[]){2.25f, 3.0999999f}, 2, 0, "P1 max_val");
    assert_close_ulp(sc, (const float[]){0.0147058824f, 0.0180392154f}, 2, 0, "P1 scale");
    assert_close_ulp(zp, (const float[]){102, 83}, 2, 0, "P1 zero point");
    /* P2: MovingAverageMinMaxObserver(averaging_constant=0.25, dtype=torch.quint8) */
    obs_run p2 = p1;
    p2.runs = 3;
    p2.o.moving_average = 1;
    p2.o.averaging_constant = 0.25f;
    observe_device(&p2, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(lo, (const float[]){-1.5f, -1.17499995f, -1.55624998f}, 3, 0, "P2 min_val");
    assert_close_ulp(hi, (const float[]){2.25f, 2.4625001f, 2.0718751f}, 3, 0, "P2 max_val");
    assert_close_ulp(sc, (const float[]){0.0147058824f, 0.0142647065f, 0.0142279416f}, 3, 0, "P2 scale");
    assert_close_ulp(zp, (const float[]){102, 82, 109}, 3, 0, "P2 zero point");
    /* P3: MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5,
     * ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric) */
    static const float a1[12] = {0.5f, -1.25f, 0.75f, 2.0f, -3.3f, 0.1f, 0.2f, 0.3f, 0.01f, 0.02f, 0.03f, 0.04f};
    static const float a2[12] = {1.5f, -0.25f, 0.7f, 0.2f, -1.1f, 4.1f, 0.2f, 0.3f, -0.01f, 0.05f, 0.03f, 0.04f};
    const float *pa[2] = {a1, a2};
    obs_run p3 = {spec, 2, {3, 4}, o, 2, 99, pa};
    p3.o.moving_average = p3.o.per_channel = p3.o.symmetric = 1;
    p3.o.averaging_constant = 0.5f;
    p3.o.quant_min = -128;
    p3.o.quant_max = 127;
    observe_device(&p3, 3, lo, hi, sc, zp, NULL);
    assert_close_ulp(lo, (const float[]){-1.25f, -3.29999995f, 0.00999999978f, -0.75f, -2.20000005f, 0}, 6, 0, "P3 min_val");
    assert_close_ulp(hi, (const float[]){2, 0.300000012f, 0.0399999991f, 1.75f, 2.20000005f, 0.0450000018f}, 6, 0,
                     "P3 max_val");
    assert_close_ulp(sc,
                     (const float[]){0.0156862754f, 0.0258823521f, 0.000313725497f, 0.0137254903f, 0.017254902f,
                                     0.000352941192f},
                     6, 0, "P3 scale");
    assert_close_ulp(zp, (const float[]){0, 0, 0, 0, 0, 0}, 6, 0, "P3 zero point");
    /* P4: PerChannelMinMaxObserver(ch_axis=1, dtype=torch.quint8,
     * qscheme=torch.per_channel_symmetric, quant_min=0, quant_max=15) on [2, 3, 2] */
    static const float b1[12] = {0.4f, -0.6f, 1.7f, 0.2f, -0.05f, 0.9f, 2.5f, 0.3f, -1.2f, 0.8f, 0.1f, 0.15f};
    const float *pb[1] = {b1};
    obs_run p4 = {spec, 3, {2, 3, 2}, o, 1, 99, pb};
    p4.o.per_channel = p4.o.symmetric = 1;
    p4.o.axis = 1;
    p4.o.quant_max = 15;
    observe_device(&p4, 3, lo, hi, sc, zp, NULL);
    assert_close_ulp(lo, (const float[]){-0.600000024f, -1.20000005f, -0.0500000007f}, 3, 0, "P4 min_val");
    assert_close_ulp(hi, (const float[]){2.5f, 1.70000005f, 0.899999976f}, 3, 0, "P4 max_val");
    assert_close_ulp(sc, (const float[]){0.333333343f, 0.226666674f, 0.119999997f}, 3, 0, "P4 scale");
    assert_close_ulp(zp, (const float[]){7, 7, 7}, 3, 0, "P4 zero point (customised unsigned range)");
    /* P5 all positive, P6 qint8 affine, P7 all zeros (scale eps), P8 quint8 symmetric */
    static const float x5[3] = {0.25f, 0.5f, 3.0f}, x6[3] = {-0.3f, 5.0f, 1.0f}, x7[3] = {0, 0, 0};
    const float *p5x[1] = {x5}, *p6x[1] = {x6}, *p7x[1] = {x7};
    obs_run p5 = {spec, 1, {3}, o, 1, 99, p5x};
    observe_device(&p5, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(sc, (const float[]){0.0117647061f}, 1, 0, "P5 scale");
    assert_close_ulp(zp, (const float[]){0}, 1, 0, "P5 zero point");
    obs_run p6 = {spec, 1, {3}, o, 1, 99, p6x};
    p6.o.quant_min = -128;
    p6.o.quant_max = 127;
    observe_device(&p6, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(sc, (const float[]){0.0207843147f}, 1, 0, "P6 scale");
    assert_close_ulp(zp, (const float[]){-114}, 1, 0, "P6 zero point");
    obs_run p7 = {spec, 1, {3}, o, 1, 99, p7x};
    observe_device(&p7, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(sc, (const float[]){1.1920929e-07f}, 1, 0, "P7 scale (eps)");
    assert_close_ulp(zp, (const float[]){0}, 1, 0, "P7 zero point");
    obs_run p8 = {spec, 1, {4}, o, 1, 99, p123};
    p8.o.symmetric = 1;
    observe_device(&p8, 1, lo, hi, sc, zp, NULL);
    assert_close_ulp(sc, (const float[]){0.0176470596f}, 1, 0, "P8 scale");
    assert_close_ulp(zp, (const float[]){128}, 1, 0, "P8 zero point (quint8 symmetric)");
}

static void test_observer_pytorch_values(void **state)
{
    (void)state;
    for_each_device(obs_pytorch);
}

/* Random inputs against observe_oracle, small tensors (one launch: a part
 * a channel) and large ones whose channels split into several parts, the
 * last partial; three training runs then two in
 * evaluation (the state and qparams frozen); the fake-quantized output
 * against the oracle's fake quantization with the oracle's qparams. */
static void obs_random(const char *spec)
{
    enum { N = 100003 };
    static float xb[5][N], y[5 * N];
    static float lo[5 * 64], hi[5 * 64], sc[5 * 64], zp[5 * 64], wlo[5 * 64], whi[5 * 64], wsc[5 * 64], wzp[5 * 64];
    rng_t rng = {0xab5e};
    static const struct {
        int ndim;
        int64_t shape[4];
        int per_channel, axis, moving, symmetric, qmin, qmax;
        const char *what;
    } cases[] = {
        {1, {100003}, 0, 0, 1, 0, 0, 255, "uint8 affine per tensor, moving average, 100003 elements"},
        {2, {7, 3001}, 1, 0, 0, 1, -128, 127, "int8 symmetric per channel, axis 0, min/max"},
        {3, {33, 17, 5}, 1, 1, 1, 0, 0, 15, "4-bit affine per channel, axis 1, moving average"},
        {3, {9, 2, 61}, 1, -1, 0, 0, -8, 7, "4-bit signed affine per channel, axis -1"},
        {2, {3, 33001}, 1, 0, 1, 0, 0, 255, "uint8 affine per channel, axis 0, several parts a channel"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        obs_run r = {spec, cases[k].ndim, {0}, clg_observer_defaults(), 5, 3, NULL};
        memcpy(r.shape, cases[k].shape, sizeof r.shape);
        r.o.per_channel = cases[k].per_channel;
        r.o.axis = cases[k].axis;
        r.o.moving_average = cases[k].moving;
        r.o.averaging_constant = 0.1f;
        r.o.symmetric = cases[k].symmetric;
        r.o.quant_min = cases[k].qmin;
        r.o.quant_max = cases[k].qmax;
        const int64_t n = numel_of(r.ndim, r.shape);
        const int axis = r.o.axis < 0 ? r.o.axis + r.ndim : r.o.axis;
        const int64_t C = r.o.per_channel ? r.shape[axis] : 1;
        const float *xs[5];
        for (int j = 0; j < 5; j++) {
            /* a range that moves from run to run, so that each update matters */
            const double shift = rng_uniform(&rng, -1, 1), width = rng_uniform(&rng, 0.5, 4);
            for (int64_t i = 0; i < n; i++) xb[j][i] = (float)(shift + rng_uniform(&rng, -width, width));
            xs[j] = xb[j];
        }
        r.xs = xs;
        observe_device(&r, C, lo, hi, sc, zp, y);
        observe_oracle(&r, C, wlo, whi, wsc, wzp);
        char what[160];
        snprintf(what, sizeof what, "%s (%s): min_val", cases[k].what, spec);
        assert_close_ulp(lo, wlo, (size_t)(5 * C), 0, what);
        snprintf(what, sizeof what, "%s (%s): max_val", cases[k].what, spec);
        assert_close_ulp(hi, whi, (size_t)(5 * C), 0, what);
        snprintf(what, sizeof what, "%s (%s): scale", cases[k].what, spec);
        assert_close_ulp(sc, wsc, (size_t)(5 * C), 0, what);
        snprintf(what, sizeof what, "%s (%s): zero point", cases[k].what, spec);
        assert_close_ulp(zp, wzp, (size_t)(5 * C), 0, what);
        /* frozen in evaluation: runs 3 and 4 equal run 2 */
        assert_memory_equal(lo + 3 * C, lo + 2 * C, (size_t)C * sizeof *lo);
        assert_memory_equal(sc + 4 * C, sc + 2 * C, (size_t)C * sizeof *sc);
        int64_t inner = 1;
        for (int d = axis + 1; r.o.per_channel && d < r.ndim; d++) inner *= r.shape[d];
        for (int j = 0; j < 5; j++) {
            for (int64_t i = 0; i < n; i++) {
                const int64_t c = r.o.per_channel ? (i / inner) % C : 0;
                const fq_point p = oracle(xs[j][i], wsc[j * C + c], wzp[j * C + c], (float)r.o.quant_min,
                                          (float)r.o.quant_max, 1, 1, false);
                if (y[j * n + i] != p.y) {
                    snprintf(what, sizeof what, "%s (%s): run %d, element %lld: %.9g, want %.9g", cases[k].what, spec,
                             j, (long long)i, (double)y[j * n + i], (double)p.y);
                    fail_msg("%s", what);
                }
            }
        }
    }
}

static void test_observer_random(void **state)
{
    (void)state;
    for_each_device(obs_random);
}

/* State: named, +-inf (scale 1, zero point 0) before an observation,
 * written by clg_tensor_set and used as it is in evaluation, carried by a
 * checkpoint; refusals change nothing. */
static void test_observer_state(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t xs[2] = {3, 4};
    clg_tensor x = clg_input(g, 2, xs);
    clg_observer_options o = clg_observer_defaults();
    o.per_channel = 1;
    clg_observer ob;
    CHECK_OK(ctx, clg_observe(g, x, &o, "fc1.act", &ob));
    assert_string_equal(clg_tensor_name(g, ob.min_val), "fc1.act.min_val");
    assert_string_equal(clg_tensor_name(g, ob.max_val), "fc1.act.max_val");
    assert_int_equal(clg_tensor_numel(g, ob.scale), 3);
    CHECK_OK(ctx, clg_tensor_keep(g, ob.scale));
    CHECK_OK(ctx, clg_tensor_keep(g, ob.zero_point));
    float v[3], z[3], lo[3];
    CHECK_OK(ctx, clg_tensor_get(g, ob.min_val, lo, 3));
    assert_true(isinf(lo[0]) && lo[0] > 0);
    CHECK_OK(ctx, clg_graph_set_training(g, 0));
    CHECK_OK(ctx, clg_tensor_fill(g, x, 1.0f));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, ob.scale, v, 3));
    CHECK_OK(ctx, clg_tensor_get(g, ob.zero_point, z, 3));
    assert_close_ulp(v, (const float[]){1, 1, 1}, 3, 0, "scale before any observation");
    assert_close_ulp(z, (const float[]){0, 0, 0}, 3, 0, "zero point before any observation");
    CHECK_OK(ctx, clg_tensor_set(g, ob.min_val, (const float[]){-1.0f, 0.5f, -2.55f}, 3));
    CHECK_OK(ctx, clg_tensor_set(g, ob.max_val, (const float[]){1.55f, 2.0f, 0.0f}, 3));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, ob.scale, v, 3));
    assert_close_ulp(v, (const float[]){2.55f / 255, 2.0f / 255, 2.55f / 255}, 3, 0, "scale from a state written");
    float both[6];
    CHECK_OK(ctx, clg_tensor_keep(g, ob.qparams)); /* kept after planning: its own buffer from the next run */
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, ob.qparams, both, 6));
    CHECK_OK(ctx, clg_tensor_get(g, ob.zero_point, z, 3));
    assert_memory_equal(both, v, sizeof v);
    assert_memory_equal(both + 3, z, sizeof z);
    char path[] = "/tmp/clgrad_obs_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    CHECK_OK(ctx, clg_checkpoint_save(g, path, NULL, NULL, 0));
    CHECK_OK(ctx, clg_tensor_fill(g, ob.min_val, 0.0f));
    CHECK_OK(ctx, clg_checkpoint_load(g, path, NULL));
    CHECK_OK(ctx, clg_tensor_get(g, ob.min_val, lo, 3));
    assert_close_ulp(lo, (const float[]){-1.0f, 0.5f, -2.55f}, 3, 0, "min_val through a checkpoint");
    remove(path);

    /* refusals: nothing recorded, clg_graph_status untouched */
    const int32_t before = clg_graph_tensor_count(g);
    struct {
        void (*edit)(clg_observer_options *o);
        const char *prefix, *msg;
    } bad[] = {
        {NULL, "fc1.act", "is already named 'fc1.act.min_val'"},
        {NULL, "", "prefix '' makes a name outside 1 to 63 characters"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(clg_observe(g, x, &o, bad[k].prefix, &ob), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, bad[k].msg);
        assert_int_equal(clg_graph_tensor_count(g), before);
    }
    clg_observer_options b = o;
    b.averaging_constant = 0;
    b.moving_average = 1;
    assert_int_equal(clg_observe(g, x, &b, NULL, &ob), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "averaging_constant 0 is not in (0, 1]");
    b = o;
    b.quant_min = 7;
    b.quant_max = 7;
    assert_int_equal(clg_observe(g, x, &b, NULL, &ob), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "quant_min 7 and quant_max 7");
    b = o;
    b.eps = 0;
    assert_int_equal(clg_observe(g, x, &b, NULL, &ob), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "eps 0 is not positive");
    b = o;
    b.axis = 2;
    assert_int_not_equal(clg_observe(g, x, &b, NULL, &ob), CLG_OK);
    ASSERT_MSG_HAS(ctx, "axis 2 is out of range for shape [3,4]");
    b.size = 4;
    assert_int_equal(clg_observe(g, x, &b, NULL, &ob), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "opt->size is 4");
    assert_int_equal(clg_graph_tensor_count(g), before);
    assert_int_equal(clg_graph_status(g), CLG_OK);
    /* the fused form refuses as an op: a failed tensor, the graph's status */
    assert_true(clg_fake_quantize_observed(g, x, &b, NULL, NULL).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_graph_tensor_count(g), before);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/* ---- refusals ---- */

static void test_refusals(void **state)
{
    (void)state;
    clg_context *ctx = open_ctx("reference");
    const int64_t xs[2] = {4, 3}, three = 3, four = 4, one = 1;
    struct {
        int ns, nz;
        const int64_t *ss, *zs;
        int axis, qmin, qmax;
        float gf;
        clg_status want;
        const char *msg;
    } bad[] = {
        {1, 1, &three, &three, 0, -128, 127, 1, CLG_ERR_SHAPE, "scale [3] and zero_point [3] must both"},
        {1, 1, &four, &one, 0, -128, 127, 1, CLG_ERR_SHAPE, "zero_point [1]"},
        {1, 1, &three, &three, 2, -128, 127, 1, CLG_ERR_INVALID_ARGUMENT, "axis 2 is out of range for shape [4,3]"},
        {1, 1, &one, &one, 0, 5, 5, 1, CLG_ERR_INVALID_ARGUMENT, "quant_min 5 and quant_max 5"},
        {1, 1, &one, &one, 0, -40000, 0, 1, CLG_ERR_INVALID_ARGUMENT, "-32768 <= quant_min"},
        {1, 1, &one, &one, 0, 0, 255, INFINITY, CLG_ERR_INVALID_ARGUMENT, "grad_factor (inf) be finite"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        clg_tensor x = clg_input(g, 2, xs);
        clg_tensor s = clg_input(g, bad[k].ns, bad[k].ss), z = clg_input(g, bad[k].nz, bad[k].zs);
        clg_tensor y = clg_fake_quantize(g, x, s, z, bad[k].axis, bad[k].qmin, bad[k].qmax, bad[k].gf);
        assert_true(y.id < 0);
        assert_int_equal(clg_graph_status(g), bad[k].want);
        ASSERT_MSG_HAS(ctx, bad[k].msg);
        clg_graph_destroy(g);
    }
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pytorch_values),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_observer_pytorch_values),
        cmocka_unit_test(test_observer_random),
        cmocka_unit_test(test_observer_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
