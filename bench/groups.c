/*
 * The benchmark groups. Every workload is checked before it is timed:
 * its output against the reference backend's for the same inputs (or
 * against an invariant where the reference would be too slow), within
 * 1e-4 relative (or the case's own relative tolerance where it is looser)
 * + 1e-5 of the largest value: a sanity bound that catches
 * wrong answers, not a precision test (the test suite does those, with
 * each op case's own tolerance at the tests' sizes: tests/test_cases.c).
 */
#include "bench.h"
#include "cases.h"
#include "progress.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
        v[i] = (float)(0.1 + 1.9 * u); /* positive, away from zero: the check's loss weights, the copy's input */
    }
}

/* Within the bound everywhere but at most n / 10^6 elements: a ReLU whose
 * input lies within rounding of 0 goes either way on two devices, and its
 * gradient with it (relu(batch norm(x)) backward at 2^24 elements: one
 * element whose batch norm output is 1.2e-7 in double came out negative on
 * PoCL, dx -1.43 against 1.21; the test suite checks the kernels at their
 * kinks). *outside gets how many were outside. */
static bool close_enough(const float *got, const float *want, int64_t n, double rtol, char *why, size_t whylen,
                         int64_t *outside)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > m) m = fabs(want[i]);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= rtol * fabs((double)want[i]) + 1e-5 * m) && bad++ == 0) first = i;
    }
    *outside = bad;
    if (bad > n / 1000000) {
        snprintf(why, whylen, "%lld elements outside the bound, the first %lld: %.7g, reference %.7g", (long long)bad,
                 (long long)first, (double)got[first], (double)want[first]);
        return false;
    }
    return true;
}

/* Builds y = f(inputs), and L = sum(y) with its backward for a backward
 * run. */
typedef struct built {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor in[CASE_MAX_IN], y;
    int64_t ny;
    int wrt; /* the input whose gradient the check reads: the first with one */
} built;

/* weighted: the loss is sum(y * c) with c varying over y, for the check:
 * sum(y) alone can have a zero gradient (batch norm's is), leaving only
 * rounding noise to compare. Timed graphs use sum(y). */
static bool build_workload(const char *spec, const op_case *c, const case_input *in, int nin, bool backward,
                           bool weighted, float *const *data, built *b, char *why, size_t whylen)
{
    memset(b, 0, sizeof *b);
    for (int i = nin - 1; i >= 0; i--)
        if (in[i].param && in[i].label_max <= 0) b->wrt = i;
    if (clg_context_create(spec, &b->ctx) != CLG_OK || clg_graph_create(b->ctx, &b->g) != CLG_OK) goto fail;
    for (int i = 0; i < nin; i++)
        b->in[i] = in[i].label_max > 0       ? clg_labels(b->g, in[i].ndim, in[i].shape)
                   : backward && in[i].param ? clg_param(b->g, in[i].ndim, in[i].shape)
                                             : clg_input(b->g, in[i].ndim, in[i].shape);
    if (clg_graph_status(b->g) != CLG_OK) goto fail;
    b->y = c->build(b->g, b->in);
    clg_tensor out = b->y;
    if (weighted && backward && clg_graph_status(b->g) == CLG_OK) {
        int64_t shape[CLG_MAX_DIMS], ny = clg_tensor_numel(b->g, b->y);
        int nd = clg_tensor_ndim(b->g, b->y);
        for (int k = 0; k < nd; k++) shape[k] = clg_tensor_dim(b->g, b->y, k);
        clg_tensor cw = clg_input(b->g, nd, shape);
        float *cv = malloc(sizeof(float) * (size_t)ny);
        if (!cv) goto fail;
        fill(cv, ny, 77);
        clg_status st = clg_tensor_set(b->g, cw, cv, (size_t)ny);
        free(cv);
        if (st != CLG_OK) goto fail;
        out = clg_mul(b->g, b->y, cw);
    }
    if (backward && clg_backward(b->g, clg_sum(b->g, out)) != CLG_OK) goto fail;
    if (clg_graph_status(b->g) != CLG_OK) goto fail;
    b->ny = clg_tensor_numel(b->g, b->y);
    for (int i = 0; i < nin; i++) {
        const size_t n = (size_t)case_numel(&in[i]);
        clg_status st = in[i].label_max > 0 ? clg_tensor_set_i32(b->g, b->in[i], (const int32_t *)(void *)data[i], n)
                                            : clg_tensor_set(b->g, b->in[i], data[i], n);
        if (st != CLG_OK) goto fail;
    }
    return true;
fail:
    snprintf(why, whylen, "%s", clg_context_errmsg(b->ctx));
    clg_context_destroy(b->ctx);
    b->ctx = NULL;
    return false;
}

/* Output (forward) or the first differentiated input's gradient (backward) after one run. */
static float *run_once(built *b, bool backward, int64_t *count)
{
    clg_tensor t = backward ? clg_grad(b->g, b->in[b->wrt]) : b->y;
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

/* The size column names the first input's shape: "1024x1024". */
static void shape_label(const case_input *in, char *buf, size_t len)
{
    size_t at = 0;
    for (int k = 0; k < in->ndim && at < len; k++) {
        int w = snprintf(buf + at, len - at, k ? "x%lld" : "%lld", (long long)in->shape[k]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

/* The check's relative bound: 1e-4, or the case's own where it is looser
 * (a gradient rounded to a 16-bit type may land one of its spacings from
 * the reference's). */
static double check_rtol(const op_case *c, const case_input *in, bool backward)
{
    case_tol t = case_default_tol;
    if (c->tol) c->tol(in, &t);
    const double own = backward ? t.grad_rtol : t.fwd_rtol;
    return own > 1e-4 ? own : 1e-4;
}

/* One case at about n elements (tests/cases/cases.h), aligned shapes. */
static void measure(device_run *d, const bench_opts *o, const op_case *c, int64_t n, bool backward)
{
    char name[64], size_label[48];
    snprintf(name, sizeof name, "%s %s", c->name, backward ? "backward" : "forward");
    if (!bench_wanted(o, name)) return;
    case_input in[CASE_MAX_IN];
    const int nin = c->inputs(n, true, in);
    shape_label(&in[0], size_label, sizeof size_label);
    result *r = bench_new_result(d, "ops", name, size_label);
    if (!r) return;
    bool any_param = false;
    for (int i = 0; i < nin; i++) any_param |= in[i].param;
    if (backward && !any_param) {
        result_fail(r, "no input of the case has a gradient");
        return;
    }
    float *data[CASE_MAX_IN] = {NULL};
    for (int i = 0; i < nin; i++) {
        data[i] = malloc(sizeof(float) * (size_t)case_numel(&in[i]));
        if (!data[i]) {
            result_fail(r, "out of host memory");
            goto done;
        }
        case_fill(&in[i], case_seed(c->name, 100 + i), data[i]);
    }
    built dev, ref;
    char why[160];
    if (!build_workload(d->spec, c, in, nin, backward, true, data, &dev, why, sizeof why)) {
        result_fail(r, "%s", why);
        goto done;
    }
    int64_t n1 = 0, n2 = 0, outside = 0;
    const double t0 = now_seconds();
    float *got = run_once(&dev, backward, &n1);
    const double first_run = now_seconds() - t0; /* with the first run's kernel builds: an overestimate */
    if (!got) {
        result_fail(r, "%s", clg_context_errmsg(dev.ctx));
    } else if (!d->is_reference) {
        if (!build_workload("reference", c, in, nin, backward, true, data, &ref, why, sizeof why)) {
            result_fail(r, "reference: %s", why);
        } else {
            float *want = run_once(&ref, backward, &n2);
            if (!want || n1 != n2) result_fail(r, "reference run failed");
            else if (!close_enough(got, want, n1, check_rtol(c, in, backward), why, sizeof why, &outside))
                result_fail(r, "wrong result: %s", why);
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
        if (!build_workload(d->spec, c, in, nin, backward, false, data, &dev, why, sizeof why)) {
            result_fail(r, "%s", why);
            goto done;
        }
    }
    /* the first run built the kernels (a new fused group's program takes
     * seconds on PoCL): before skipping on its time, time one more */
    double one_run = first_run;
    const int all_phases = backward ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD;
    if (r->check == CHECK_OK && o->budget > 0 && first_run * (3 + o->repeat) > o->budget) {
        const double t1 = now_seconds();
        if (clg_graph_run(dev.g, all_phases) == CLG_OK && clg_graph_wait(dev.g) == CLG_OK) one_run = now_seconds() - t1;
    }
    if (r->check == CHECK_OK && !bench_within_budget(r, o, one_run, 2)) {
        /* skipped, saying so */
    } else if (r->check == CHECK_OK) {
        /* time the phase itself: the backward alone after a forward */
        int phases = backward ? CLG_RUN_BACKWARD : CLG_RUN_FORWARD;
        case_work w;
        c->work(in, &w);
        const int p = backward ? 1 : 0;
        /* a view runs no kernel: the host's time for the run, by its clock */
        const bool view = w.bytes[p] <= 0 && w.flops[p] <= 0;
        if (backward && clg_graph_run(dev.g, CLG_RUN_FORWARD) != CLG_OK) result_fail(r, "%s", clg_context_errmsg(dev.ctx));
        else if (!bench_time_graph(dev.g, phases, 2, o->repeat, view, r)) result_fail(r, "%s", clg_context_errmsg(dev.ctx));
        else {
            r->flops = w.flops[p];
            r->bytes = w.bytes[p];
            if (view) {
                snprintf(r->unit, sizeof r->unit, "ms");
                r->rate = r->median * 1e3;
            } else if (w.by_flops) {
                result_set_rate(r, w.flops[p] * 1e-9, "GFLOP/s", d->gemm_gflops);
            } else {
                result_set_rate(r, w.bytes[p] * 1e-9, "GB/s", d->copy_gbs);
            }
        }
    }
    clg_context_destroy(dev.ctx);
done:
    for (int i = 0; i < nin; i++) free(data[i]);
}

static clg_tensor b_copy(clg_graph *g, clg_tensor x) { return clg_scale(g, x, 1.0f); }

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
    clg_tensor ty = b_copy(g, tx);
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

/* Every op case (tests/cases/, the tests' cases too) forward and backward,
 * at a small and a large size: the same sizes on every device, 4096
 * elements (launch-bound) and 2^24 (quick: 64 MB a tensor, beyond any CPU's
 * last-level cache; at 2^22 sum and the updates ran from this machine's
 * 32 MB L3, up to 388% of the copy ceiling) or 2^26 (full). */
static void ops_sizes(const bench_opts *o, int64_t sizes[2])
{
    sizes[0] = 1 << 12;
    sizes[1] = (int64_t)((o->quick ? (1 << 24) : (1 << 26)) * o->size_scale);
}

void group_ops(device_run *d, const bench_opts *o)
{
    int64_t sizes[2];
    ops_sizes(o, sizes);
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < case_count(); k++) {
            measure(d, o, case_at(k), sizes[s], false);
            measure(d, o, case_at(k), sizes[s], true);
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

/* The ops group's rows as JSON (schema "clgrad-bench-cases/1"): for each
 * case and size the row's name and size, each input's shape and values,
 * and the work one run must do. bench/compare_torch.py times PyTorch on
 * exactly these, so the two lists cannot drift apart. */
int list_cases(const bench_opts *o, FILE *f)
{
    int64_t sizes[2];
    ops_sizes(o, sizes);
    fprintf(f, "{\"schema\": \"clgrad-bench-cases/1\", \"rows\": [");
    bool first = true;
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < case_count(); k++) {
            const op_case *c = case_at(k);
            case_input in[CASE_MAX_IN];
            const int nin = c->inputs(sizes[s], true, in);
            case_work w;
            c->work(in, &w);
            char size[48];
            shape_label(&in[0], size, sizeof size);
            for (int p = 0; p < 2; p++) {
                char name[64];
                snprintf(name, sizeof name, "%s %s", c->name, p ? "backward" : "forward");
                if (!bench_wanted(o, name)) continue;
                fprintf(f, "%s\n {\"case\": \"%s\", \"name\": \"%s\", \"phase\": \"%s\", \"size\": \"%s\", \"ops\": \"%s\",",
                        first ? "" : ",", c->name, name, p ? "backward" : "forward", size, c->ops);
                first = false;
                fprintf(f, " \"bytes\": %.17g, \"flops\": %.17g, \"by_flops\": %s, \"inputs\": [", w.bytes[p], w.flops[p],
                        w.by_flops ? "true" : "false");
                for (int i = 0; i < nin; i++) {
                    fprintf(f, "%s{\"shape\": [", i ? ", " : "");
                    for (int d = 0; d < in[i].ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)in[i].shape[d]);
                    fprintf(f, "], \"lo\": %.17g, \"hi\": %.17g, \"positive\": %s, \"label_max\": %d, \"param\": %s}",
                            in[i].lo, in[i].hi, in[i].positive ? "true" : "false", (int)in[i].label_max,
                            in[i].param ? "true" : "false");
                }
                fprintf(f, "]}");
            }
        }
    fprintf(f, "\n]}\n");
    return ferror(f) ? -1 : 0;
}
