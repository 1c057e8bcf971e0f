/*
 * The benchmark groups. Every workload is checked before it is timed:
 * its output against the reference backend's for the same inputs (or
 * against an invariant where the reference would be too slow), within
 * 1e-4 relative + 1e-5 of the largest value: a sanity bound that catches
 * wrong answers, not a precision test (the test suite does those).
 */
#include "bench.h"
#include "progress.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef clg_tensor (*build_fn)(clg_graph *g, const clg_tensor *in);

typedef struct workload {
    const char *name;
    int nin;
    int ndim[3];
    int64_t shape[3][4]; /* of each input */
    build_fn build;
    /* work per run: bytes (GB/s) or flops (GFLOP/s, when flops is set) */
    double work_fwd, work_bwd;
    bool flops;
    /* the other count per run where it is exact (flops of a bytes-rated op,
     * bytes of a flops-rated one), 0 where it is not: the roofline's */
    double other_fwd, other_bwd;
} workload;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(float *v, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(mix(seed + (uint64_t)i * 0x9e3779b97f4a7c15ull) >> 11) / 9007199254740992.0;
        v[i] = (float)(0.1 + 1.9 * u); /* positive, away from zero: log and sqrt are defined */
    }
}

static int64_t numel(int nd, const int64_t *s)
{
    int64_t k = 1;
    for (int i = 0; i < nd; i++) k *= s[i];
    return k;
}

/* Within the bound everywhere but at most n / 10^6 elements: a ReLU whose
 * input lies within rounding of 0 goes either way on two devices, and its
 * gradient with it (relu(batch norm(x)) backward at 2^24 elements: one
 * element whose batch norm output is 1.2e-7 in double came out negative on
 * PoCL, dx -1.43 against 1.21; the test suite checks the kernels at their
 * kinks). *outside gets how many were outside. */
static bool close_enough(const float *got, const float *want, int64_t n, char *why, size_t whylen, int64_t *outside)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > m) m = fabs(want[i]);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= 1e-4 * fabs((double)want[i]) + 1e-5 * m) && bad++ == 0) first = i;
    }
    *outside = bad;
    if (bad > n / 1000000) {
        snprintf(why, whylen, "%lld elements outside the bound, the first %lld: %.7g, reference %.7g", (long long)bad,
                 (long long)first, (double)got[first], (double)want[first]);
        return false;
    }
    return true;
}

/* Builds L = sum(f(inputs)) so that backward has a scalar; returns the
 * output of f in *y. */
typedef struct built {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor in[3], y;
    int64_t ny;
} built;

/* weighted: the loss is sum(y * c) with c varying over y, for the check:
 * sum(y) alone can have a zero gradient (batch norm's is), leaving only
 * rounding noise to compare. Timed graphs use sum(y). */
static bool build_workload(const char *spec, const workload *w, bool backward, bool weighted, float *const *data,
                           built *b, char *why, size_t whylen)
{
    memset(b, 0, sizeof *b);
    if (clg_context_create(spec, &b->ctx) != CLG_OK || clg_graph_create(b->ctx, &b->g) != CLG_OK) goto fail;
    for (int i = 0; i < w->nin; i++)
        b->in[i] = backward ? clg_param(b->g, w->ndim[i], w->shape[i]) : clg_input(b->g, w->ndim[i], w->shape[i]);
    b->y = w->build(b->g, b->in);
    clg_tensor out = b->y;
    if (weighted && backward && clg_graph_status(b->g) == CLG_OK) {
        int64_t shape[4], ny = clg_tensor_numel(b->g, b->y);
        int nd = clg_tensor_ndim(b->g, b->y);
        for (int k = 0; k < nd; k++) shape[k] = clg_tensor_dim(b->g, b->y, k);
        clg_tensor c = clg_input(b->g, nd, shape);
        float *cv = malloc(sizeof(float) * (size_t)ny);
        if (!cv) goto fail;
        fill(cv, ny, 77);
        clg_status st = clg_tensor_set(b->g, c, cv, (size_t)ny);
        free(cv);
        if (st != CLG_OK) goto fail;
        out = clg_mul(b->g, b->y, c);
    }
    if (backward && clg_backward(b->g, clg_sum(b->g, out)) != CLG_OK) goto fail;
    if (clg_graph_status(b->g) != CLG_OK) goto fail;
    b->ny = clg_tensor_numel(b->g, b->y);
    for (int i = 0; i < w->nin; i++)
        if (clg_tensor_set(b->g, b->in[i], data[i], (size_t)numel(w->ndim[i], w->shape[i])) != CLG_OK) goto fail;
    return true;
fail:
    snprintf(why, whylen, "%s", clg_context_errmsg(b->ctx));
    clg_context_destroy(b->ctx);
    b->ctx = NULL;
    return false;
}

/* Output (forward) or the first input's gradient (backward) after one run. */
static float *run_once(built *b, const workload *w, bool backward, int64_t *count)
{
    clg_tensor t = backward ? clg_grad(b->g, b->in[0]) : b->y;
    *count = clg_tensor_numel(b->g, t);
    float *out = malloc(sizeof(float) * (size_t)*count);
    if (!out) return NULL;
    if (clg_graph_run(b->g, backward ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD) != CLG_OK ||
        clg_tensor_get(b->g, t, out, (size_t)*count) != CLG_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static void measure(device_run *d, const bench_opts *o, const workload *w, bool backward, const char *size_label)
{
    char name[64];
    snprintf(name, sizeof name, "%s %s", w->name, backward ? "backward" : "forward");
    if (!bench_wanted(o, name)) return;
    result *r = bench_new_result(d, "ops", name, size_label);
    if (!r) return;
    float *data[3] = {NULL, NULL, NULL};
    for (int i = 0; i < w->nin; i++) {
        int64_t n = numel(w->ndim[i], w->shape[i]);
        data[i] = malloc(sizeof(float) * (size_t)n);
        if (!data[i]) {
            result_fail(r, "out of host memory");
            goto done;
        }
        fill(data[i], n, 1000 + (uint64_t)i);
    }
    built dev, ref;
    char why[160];
    if (!build_workload(d->spec, w, backward, true, data, &dev, why, sizeof why)) {
        result_fail(r, "%s", why);
        goto done;
    }
    int64_t n1 = 0, n2 = 0, outside = 0;
    const double t0 = now_seconds();
    float *got = run_once(&dev, w, backward, &n1);
    const double first_run = now_seconds() - t0; /* with the first run's kernel builds: an overestimate */
    if (!got) {
        result_fail(r, "%s", clg_context_errmsg(dev.ctx));
    } else if (!d->is_reference) {
        if (!build_workload("reference", w, backward, true, data, &ref, why, sizeof why)) {
            result_fail(r, "reference: %s", why);
        } else {
            float *want = run_once(&ref, w, backward, &n2);
            if (!want || n1 != n2) result_fail(r, "reference run failed");
            else if (!close_enough(got, want, n1, why, sizeof why, &outside)) result_fail(r, "wrong result: %s", why);
            else if (outside)
                snprintf(r->note, sizeof r->note, "%lld of %lld elements outside the check's bound (up to n/10^6 "
                         "allowed: ReLU kinks)", (long long)outside, (long long)n1);
            free(want);
            clg_context_destroy(ref.ctx);
        }
    }
    free(got);
    if (r->check == CHECK_OK && backward) {
        clg_context_destroy(dev.ctx);
        if (!build_workload(d->spec, w, backward, false, data, &dev, why, sizeof why)) {
            result_fail(r, "%s", why);
            goto done;
        }
    }
    if (r->check == CHECK_OK && !bench_within_budget(r, o, first_run, 2)) {
        /* skipped, saying so */
    } else if (r->check == CHECK_OK) {
        /* time the phase itself: the backward alone after a forward */
        int phases = backward ? CLG_RUN_BACKWARD : CLG_RUN_FORWARD;
        if (backward && clg_graph_run(dev.g, CLG_RUN_FORWARD) != CLG_OK) result_fail(r, "%s", clg_context_errmsg(dev.ctx));
        else if (!bench_time_graph(dev.g, phases, 2, o->repeat, false, r)) result_fail(r, "%s", clg_context_errmsg(dev.ctx));
        else {
            const double work = backward ? w->work_bwd : w->work_fwd, other = backward ? w->other_bwd : w->other_fwd;
            result_set_rate(r, work * 1e-9, w->flops ? "GFLOP/s" : "GB/s", w->flops ? d->gemm_gflops : d->copy_gbs);
            r->flops = w->flops ? work : other;
            r->bytes = w->flops ? other : work;
        }
    }
    clg_context_destroy(dev.ctx);
done:
    for (int i = 0; i < w->nin; i++) free(data[i]);
}

static clg_tensor b_add(clg_graph *g, const clg_tensor *in) { return clg_add(g, in[0], in[1]); }
static clg_tensor b_mul(clg_graph *g, const clg_tensor *in) { return clg_mul(g, in[0], in[1]); }
static clg_tensor b_relu(clg_graph *g, const clg_tensor *in) { return clg_relu(g, in[0]); }
static clg_tensor b_sigmoid(clg_graph *g, const clg_tensor *in) { return clg_sigmoid(g, in[0]); }
static clg_tensor b_exp(clg_graph *g, const clg_tensor *in) { return clg_exp(g, in[0]); }
static clg_tensor b_copy(clg_graph *g, const clg_tensor *in) { return clg_scale(g, in[0], 1.0f); }
static clg_tensor b_sum(clg_graph *g, const clg_tensor *in) { return clg_sum(g, in[0]); }
static clg_tensor b_row_bias(clg_graph *g, const clg_tensor *in) { return clg_add(g, in[0], in[1]); }
/* Chains of elementwise ops: one fused kernel each way where the device
 * fuses (host/cl_fuse.c); the bytes counted are those that must move. */
static clg_tensor b_bias_gelu(clg_graph *g, const clg_tensor *in) { return clg_gelu(g, clg_add(g, in[0], in[1])); }
static clg_tensor b_sigmoid_mul_add(clg_graph *g, const clg_tensor *in)
{
    return clg_add(g, clg_mul(g, clg_sigmoid(g, in[0]), in[1]), in[2]);
}

void group_ceilings(device_run *d, const bench_opts *o)
{
    /* Copy bandwidth: y = 1 * x, counting bytes read plus written, on the
     * same size for every device, well beyond any last-level cache (2 x
     * 128 MB quick, 2 x 256 MB full): a memory-bound op's fraction of it
     * means what it says. (At 2 x 16 MB it ran in this machine's 32 MB L3
     * and ops read up to 1745% of it.) */
    int64_t n = (int64_t)((o->quick ? (1 << 25) : (1 << 26)) * o->size_scale);
    char size[48];
    snprintf(size, sizeof size, "%lld floats", (long long)n);
    result *r = bench_new_result(d, "ceilings", "copy bandwidth", size);
    if (!r) return;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    clg_context *ctx = NULL;
    clg_graph *g;
    if (!x || !y) {
        result_fail(r, "out of host memory");
        goto done;
    }
    fill(x, n, 7);
    if (clg_context_create(d->spec, &ctx) != CLG_OK || clg_graph_create(ctx, &g) != CLG_OK) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    clg_tensor tx = clg_input(g, 1, &n);
    clg_tensor ty = b_copy(g, &tx);
    if (clg_tensor_set(g, tx, x, (size_t)n) != CLG_OK || clg_graph_run(g, CLG_RUN_FORWARD) != CLG_OK ||
        clg_tensor_get(g, ty, y, (size_t)n) != CLG_OK) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    if (memcmp(x, y, sizeof(float) * (size_t)n) != 0) { /* invariant: an exact copy */
        result_fail(r, "the copy differs from its input");
        goto done;
    }
    if (!bench_time_graph(g, CLG_RUN_FORWARD, 3, o->repeat, false, r)) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    result_set_rate(r, 8.0 * (double)n * 1e-9, "GB/s", 0);
    r->bytes = 8.0 * (double)n;
    /* the ceiling is the best repeat, not the median: a ceiling read low on
     * a noisy run put a dozen ops "above" it */
    d->copy_gbs = r->min > 0 ? 8.0 * (double)n * 1e-9 / r->min : r->rate;
    r->ratio = 1.0;
    snprintf(r->note, sizeof r->note, "the ceiling: %.4g GB/s, the best of %d runs", d->copy_gbs, o->repeat);
done:
    clg_context_destroy(ctx);
    free(x);
    free(y);
    ceilings_gemm(d, o);
}

static clg_tensor b_ce(clg_graph *g, const clg_tensor *in)
{
    int64_t rows = clg_tensor_dim(g, in[0], 0), classes = clg_tensor_dim(g, in[0], 1);
    clg_tensor labels = clg_labels(g, 1, &rows);
    int32_t *v = malloc(sizeof(int32_t) * (size_t)rows);
    if (!v) return CLG_NO_TENSOR;
    for (int64_t i = 0; i < rows; i++) v[i] = (int32_t)((i * 7) % classes);
    clg_status s = clg_tensor_set_i32(g, labels, v, (size_t)rows);
    free(v);
    return s == CLG_OK ? clg_softmax_cross_entropy(g, in[0], labels) : CLG_NO_TENSOR;
}
static clg_tensor b_conv(clg_graph *g, const clg_tensor *in)
{
    return clg_conv2d(g, in[0], in[1], CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
}
static clg_tensor b_maxpool(clg_graph *g, const clg_tensor *in) { return clg_max_pool2d(g, in[0], 2, 2, 2, 2, 0, 0); }
static clg_tensor b_avgpool(clg_graph *g, const clg_tensor *in) { return clg_avg_pool2d(g, in[0], 2, 2, 2, 2, 0, 0); }
static clg_tensor b_bn(clg_graph *g, const clg_tensor *in) { return clg_batch_norm(g, in[0], in[1], in[2], 0.1f, 1e-5f); }
static clg_tensor b_bn_relu(clg_graph *g, const clg_tensor *in) { return clg_relu(g, b_bn(g, in)); }

/* Elementwise and broadcast ops, reductions, softmax cross-entropy, conv2d,
 * pooling and batch norm at a small and a large size. Bytes count what
 * each kernel must read and write at least; conv counts its flops. */
void group_ops(device_run *d, const bench_opts *o)
{
    /* the same sizes on every device: 4096 elements (launch-bound) and 2^24
     * (quick: 64 MB a tensor, beyond any CPU's last-level cache; at 2^22
     * sum and the updates ran from this machine's 32 MB L3, up to 388% of
     * the copy ceiling) or 2^26 (full) */
    int64_t large = o->quick ? (1 << 24) : (1 << 26), small = 1 << 12;
    large = (int64_t)(large * o->size_scale);
    const int64_t sizes[2] = {small, large};
    for (int s = 0; s < 2; s++) {
        int64_t n = sizes[s], rows = n / 1024;
        double e = (double)n;
        /* images: batch B of C channels 28x28 with about n elements */
        int64_t C = 16, B = n / (C * 28 * 28) > 0 ? n / (C * 28 * 28) : 1, img = B * C * 28 * 28;
        double conv_flops = 2.0 * (double)B * 28 * 28 * (double)C * (double)C * 9;
        char label[48];
        snprintf(label, sizeof label, "%lld", (long long)n);
        workload ws[] = {
            {"add", 2, {1, 1}, {{n}, {n}}, b_add, 12 * e, 16 * e, false, e, 0},
            {"mul", 2, {1, 1}, {{n}, {n}}, b_mul, 12 * e, 24 * e, false, e, 2 * e},
            {"relu", 1, {1}, {{n}}, b_relu, 8 * e, 12 * e, false, 0, 0},
            {"sigmoid", 1, {1}, {{n}}, b_sigmoid, 8 * e, 12 * e, false, 0, 0},
            {"exp", 1, {1}, {{n}}, b_exp, 8 * e, 12 * e, false, 0, 0},
            {"sum", 1, {1}, {{n}}, b_sum, 4 * e, 4 * e, false, e, 0},
            {"add row bias", 2, {2, 2}, {{rows, 1024}, {1, 1024}}, b_row_bias, 8 * e, 8 * e, false, 0, 0},
            /* forward: x in, y out; backward: dy and x + b in, dx out */
            {"gelu(x + row bias), chain", 2, {2, 2}, {{rows, 1024}, {1, 1024}}, b_bias_gelu, 8 * e, 12 * e, false, 0, 0},
            /* forward: x, y, z in, out; backward: dout, x, y in, dx, dy, dz out */
            {"sigmoid(x) * y + z, chain", 3, {1, 1, 1}, {{n}, {n}, {n}}, b_sigmoid_mul_add, 16 * e, 24 * e, false, 0, 0},
            {"softmax cross-entropy", 1, {2}, {{n / 10, 10}}, b_ce, 4 * e, 8 * e, false, 0, 0},
            /* bytes: x, w and y once each (backward: dy, x, w in; dx, dw out) */
            {"conv2d 3x3", 2, {4, 4}, {{B, C, 28, 28}, {C, C, 3, 3}}, b_conv, conv_flops, 2 * conv_flops, true,
             4.0 * (2.0 * (double)img + 9.0 * (double)(C * C)), 4.0 * (3.0 * (double)img + 18.0 * (double)(C * C))},
            {"max pool 2x2", 1, {4}, {{B, C, 28, 28}}, b_maxpool, 5.0 * (double)img, 5.0 * (double)img, false, 0, 0},
            {"avg pool 2x2", 1, {4}, {{B, C, 28, 28}}, b_avgpool, 5.0 * (double)img, 5.0 * (double)img, false, 0, 0},
            {"batch norm", 3, {4, 1, 1}, {{B, C, 28, 28}, {C}, {C}}, b_bn, 8.0 * (double)img, 12.0 * (double)img, false, 0, 0},
            /* forward: x in, y out; backward: dy and x in, dx out */
            {"relu(batch norm(x)), chain", 3, {4, 1, 1}, {{B, C, 28, 28}, {C}, {C}}, b_bn_relu, 8.0 * (double)img,
             12.0 * (double)img, false, 0, 0},
        };
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) {
            measure(d, o, &ws[k], false, label);
            measure(d, o, &ws[k], true, label);
        }
    }
}

void group_startup(device_run *d, const bench_opts *o)
{
    /* Context creation builds the kernels: the first in a process pays the
     * compiler (or its cache), later ones what the driver keeps. */
    for (int pass = 0; pass < 2; pass++) {
        result *r = bench_new_result(d, "startup", pass == 0 ? "context + kernel build, first" : "context + kernel build, again", "-");
        if (!r) return;
        int reps = pass == 0 ? 1 : (o->repeat < 5 ? o->repeat : 5);
        double best = 1e30, worst = 0, total = 0;
        for (int i = 0; i < reps; i++) {
            double t0 = now_seconds();
            clg_context *ctx = NULL;
            clg_status s = clg_context_create(d->spec, &ctx);
            double t = now_seconds() - t0;
            if (s != CLG_OK) result_fail(r, "%s", clg_context_errmsg(ctx));
            clg_context_destroy(ctx);
            if (t < best) best = t;
            if (t > worst) worst = t;
            total += t;
        }
        r->min = best;
        r->max = worst;
        r->median = total / reps;
        snprintf(r->unit, sizeof r->unit, "ms");
        r->rate = r->median * 1e3;
    }
}
