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
 * - refusals, naming what is wrong.
 * The op cases (tests/cases/act.c) compare the devices with the reference
 * on odd sizes and benchmark it; finite differences do not apply (the
 * straight-through gradient is a definition).
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
