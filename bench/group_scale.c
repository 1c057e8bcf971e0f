/*
 * Data parallelism (issue 15): what replicas cost, and how much of the
 * gradients' averaging backward hides.
 *
 * - "gradient average": clg_replicas_step on a graph whose only work is
 *   one parameter of the bucket's size (loss = sum(w * c)), less the same
 *   graph's plain step once per replica: the averaging alone (read every replica's bucket,
 *   sum in double, write the average into every replica), as GB/s of
 *   those reads and writes.
 * - "<model> replicas step": clgrad-train's MLP and CNN at batch 64 split
 *   over 1, 2 and 4 replicas on this device (strong scaling: the same
 *   batch), then 2 replicas with one bucket (nothing to overlap) and with
 *   64 KiB buckets (averaged while backward runs).
 * - "<model> averaging hidden": the share of the averaging that the
 *   buckets took off the step, (one bucket - 64 KiB buckets) / the
 *   averaging of that many parameters; skipped, saying so, where the
 *   averaging takes less than the steps' own spread (max - min).
 *
 * Several replicas on one device measure the machinery, not a speed-up:
 * they share the device (and on a CPU device the host's cores, which the
 * averaging uses too). Across devices: clgrad-train --device A --device B.
 */
#include "bench.h"
#include "models.h"
#include "progress.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAXR = 4, BATCH = 64 };

static float value(uint64_t i, uint64_t salt)
{
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
    return (float)((double)(z >> 40) / 16777216.0 - 0.5);
}

typedef struct set {
    int n;
    clg_context *ctx[MAXR];
    clg_graph *g[MAXR];
    clg_replicas *r;
} set;

static void set_free(set *s)
{
    clg_replicas_destroy(s->r);
    for (int i = 0; i < s->n; i++) clg_context_destroy(s->ctx[i]);
    memset(s, 0, sizeof *s);
}

/* Median seconds of `repeat` steps after two, waiting for every replica;
 * n == 0: the plain step of s->g[0]. */
static bool time_steps(set *s, bool plain, int repeat, result *r)
{
    double t[64];
    if (repeat > 64) repeat = 64;
    for (int k = 0; k < repeat + 2; k++) {
        double t0 = now_seconds();
        clg_status st = plain ? clg_graph_run(s->g[0], CLG_RUN_ALL) : clg_replicas_step(s->r);
        for (int i = 0; i < (plain ? 1 : s->n) && st == CLG_OK; i++) st = clg_graph_wait(s->g[i]);
        if (st != CLG_OK) {
            result_fail(r, "%s", clg_context_errmsg(s->ctx[0]));
            return false;
        }
        if (k >= 2) t[k - 2] = now_seconds() - t0;
    }
    for (int a = 1; a < repeat; a++) /* sorted: median, min, max */
        for (int b = a; b > 0 && t[b] < t[b - 1]; b--) {
            double x = t[b];
            t[b] = t[b - 1];
            t[b - 1] = x;
        }
    r->median = t[repeat / 2];
    r->min = t[0];
    r->max = t[repeat - 1];
    return true;
}

/* n replicas of loss = sum(w * c), w and c of m elements. */
static bool average_set(const char *spec, int n, int64_t m, set *s, result *r)
{
    memset(s, 0, sizeof *s);
    float *c = malloc(sizeof(float) * (size_t)m);
    bool ok = c != NULL;
    for (int64_t j = 0; ok && j < m; j++) c[j] = value((uint64_t)j, 3);
    for (int i = 0; ok && i < n; i++) {
        if (clg_context_create(spec, &s->ctx[i]) != CLG_OK || clg_graph_create(s->ctx[i], &s->g[i]) != CLG_OK) {
            ok = false;
            s->n = i + 1;
            break;
        }
        s->n = i + 1;
        clg_graph *g = s->g[i];
        clg_tensor w = clg_param(g, 1, &m), tc = clg_input(g, 1, &m);
        clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
        ok = clg_backward(g, clg_sum(g, clg_mul(g, w, tc))) == CLG_OK && clg_optimizer(g, &cfg) == CLG_OK &&
             clg_tensor_fill(g, w, 0.5f) == CLG_OK && clg_tensor_set(g, tc, c, (size_t)m) == CLG_OK;
    }
    if (ok && (clg_replicas_create(s->g, n, &s->r) != CLG_OK ||
               clg_replicas_set_bucket_size(s->r, (size_t)m * 4) != CLG_OK))
        ok = false;
    if (!ok) result_fail(r, "%s", c ? clg_context_errmsg(s->ctx[0]) : "out of host memory");
    free(c);
    return ok;
}

/* Seconds the averaging of m gradients over n replicas takes: the
 * replicas' step less n plain steps (the replicas' own work, one after
 * another on the one device). */
static double average_seconds(const char *spec, int n, int64_t m, const bench_opts *o, result *r)
{
    set s;
    double avg = NAN;
    if (average_set(spec, n, m, &s, r)) {
        result plain = *r;
        if (time_steps(&s, false, o->repeat, r) && time_steps(&s, true, o->repeat, &plain))
            avg = r->median - n * plain.median > 0 ? r->median - n * plain.median : 0;
    }
    set_free(&s);
    return avg;
}

/* The model split over n replicas on spec: a step's loss (the replicas'
 * mean) and the replicas left ready to time. */
static bool model_set(const char *spec, const char *kind, int n, size_t bucket, set *s, model *m, int64_t *params,
                      double *loss, result *r)
{
    memset(s, 0, sizeof *s);
    const int rows = BATCH / n;
    float *x = malloc(sizeof(float) * BATCH * 784);
    int32_t y[BATCH];
    bool ok = x != NULL;
    for (int j = 0; ok && j < BATCH * 784; j++) x[j] = value((uint64_t)j, 5) + 0.5f;
    for (int j = 0; j < BATCH; j++) y[j] = (int32_t)((unsigned)(value((uint64_t)j, 6) * 1e6f + 5e5f) % 10u);
    for (int i = 0; ok && i < n; i++) {
        s->n = i + 1;
        clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        ok = clg_context_create(spec, &s->ctx[i]) == CLG_OK &&
             model_build(s->ctx[i], kind, rows, 32, 1234, 0, 0, QAT_NONE, PRECISION_F32, &m[i]) == CLG_OK &&
             clg_optimizer(m[i].g, &cfg) == CLG_OK &&
             clg_tensor_set(m[i].g, m[i].x, x + (size_t)i * rows * 784, (size_t)rows * 784) == CLG_OK &&
             clg_tensor_set_i32(m[i].g, m[i].labels, y + i * rows, (size_t)rows) == CLG_OK;
        if (ok) s->g[i] = m[i].g;
    }
    if (ok && (clg_replicas_create(s->g, n, &s->r) != CLG_OK ||
               (bucket && clg_replicas_set_bucket_size(s->r, bucket) != CLG_OK) || clg_replicas_step(s->r) != CLG_OK))
        ok = false;
    *loss = 0;
    for (int i = 0; ok && i < n; i++) {
        float l;
        ok = clg_tensor_get(m[i].g, m[i].loss, &l, 1) == CLG_OK;
        *loss += l / n;
    }
    if (ok) *params = m[0].nparams;
    if (!ok) result_fail(r, "%s", x ? clg_context_errmsg(s->ctx[s->n ? s->n - 1 : 0]) : "out of host memory");
    free(x);
    return ok;
}

/* After a step, every replica holds replica 0's biases (the model's 1-D
 * parameters) bit for bit: one kind of device, the same updates of the
 * same average. */
static bool replicas_agree(set *s, model *m, result *r)
{
    for (int k = 0; k < m[0].nflat; k++) {
        const size_t n = (size_t)clg_tensor_numel(m[0].g, m[0].flat[k]);
        float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
        bool ok = a && b && clg_tensor_get(m[0].g, m[0].flat[k], a, n) == CLG_OK;
        for (int i = 1; ok && i < s->n; i++)
            ok = clg_tensor_get(m[i].g, m[i].flat[k], b, n) == CLG_OK && !memcmp(a, b, n * sizeof *a);
        free(a);
        free(b);
        if (!ok) {
            result_fail(r, "the replicas' 1-D parameter %d differs after a step", k);
            return false;
        }
    }
    return true;
}

void group_scale(device_run *d, const bench_opts *o)
{
    static const int64_t kib[] = {64, 1024, 16384};
    for (int k = 0; k < 3; k++) {
        char size[48];
        const int64_t m = kib[k] * 256; /* floats */
        snprintf(size, sizeof size, "2 replicas, %lld KiB", (long long)kib[k]);
        if (!bench_wanted(o, "gradient average")) break;
        result *r = bench_new_result(d, "scale", "gradient average", size);
        if (!r) return;
        double sec = average_seconds(d->spec, 2, m, o, r);
        if (r->check != CHECK_OK) continue;
        /* every replica's bucket read, the average written into every one */
        r->median = r->min = r->max = sec;
        if (sec > 0) result_set_rate(r, 2.0 * 2.0 * (double)m * 4 * 1e-9, "GB/s", 0);
        else snprintf(r->note, sizeof r->note, "no slower than the plain step: below the timer's noise");
    }

    static const char *const kinds[] = {"mlp", "cnn"};
    for (int k = 0; k < 2; k++) {
        char name[48], size[48];
        snprintf(name, sizeof name, "%s replicas step", kinds[k]);
        if (!bench_wanted(o, name)) continue;
        double one = 0, loss1 = 0, t_one_bucket = 0, t_small = 0, spread = 0;
        int64_t params = 0;
        static const struct {
            int n;
            size_t bucket;
            const char *what;
        } runs[] = {{1, 0, ""}, {2, 0, ""}, {4, 0, ""}, {2, SIZE_MAX, ", one bucket"}, {2, 64 << 10, ", 64 KiB buckets"}};
        for (size_t c = 0; c < sizeof runs / sizeof runs[0]; c++) {
            snprintf(size, sizeof size, "%d replica%s, batch %d%s", runs[c].n, runs[c].n > 1 ? "s" : "", BATCH,
                     runs[c].what);
            result *r = bench_new_result(d, "scale", name, size);
            if (!r) return;
            set s;
            model m[MAXR];
            double loss;
            const double t0 = now_seconds();
            bool ok = model_set(d->spec, kinds[k], runs[c].n, runs[c].bucket, &s, m, &params, &loss, r);
            if (ok && c == 0) loss1 = loss;
            /* the MLP's first loss is the batch's however split (a mean of
             * means of equal slices); the CNN's batch norm normalises each
             * slice by its own statistics, as DDP does */
            if (ok && k == 0 && !(fabs(loss - loss1) <= 1e-5 * fabs(loss1) + 1e-6)) {
                result_fail(r, "first-step loss %.7g, one replica's %.7g", loss, loss1);
                ok = false;
            }
            if (ok && !replicas_agree(&s, m, r)) ok = false;
            if (ok && bench_within_budget(r, o, now_seconds() - t0, 2) && time_steps(&s, false, o->repeat, r)) {
                result_set_rate(r, BATCH, "samples/s", 0);
                if (c == 0) one = r->median;
                else if (one > 0)
                    snprintf(r->note, sizeof r->note, "%.2f x one replica's step time", r->median / one);
                if (c == 3) t_one_bucket = r->median;
                if (c == 4) t_small = r->median;
                if (c >= 3 && r->max - r->min > spread) spread = r->max - r->min;
            }
            set_free(&s);
        }
        snprintf(name, sizeof name, "%s averaging hidden", kinds[k]);
        result *h = bench_new_result(d, "scale", name, "2 replicas, 64 KiB buckets");
        if (!h) return;
        double avg = t_one_bucket > 0 && t_small > 0 ? average_seconds(d->spec, 2, params, o, h) : NAN;
        if (h->check == CHECK_OK && avg > 0 && avg < spread) {
            h->check = CHECK_SKIPPED;
            snprintf(h->note, sizeof h->note,
                     "not measurable here: averaging %lld gradients takes %.3f ms, the steps vary by %.3f ms",
                     (long long)params, avg * 1e3, spread * 1e3);
        } else if (h->check == CHECK_OK && t_one_bucket > 0 && t_small > 0 && avg > 0) {
            double hidden = (t_one_bucket - t_small) / avg;
            h->median = h->min = h->max = avg;
            snprintf(h->unit, sizeof h->unit, "%%");
            h->rate = 100.0 * hidden;
            snprintf(h->note, sizeof h->note,
                     "averaging %lld gradients takes %.3f ms; one bucket %.3f ms a step, 64 KiB buckets %.3f ms",
                     (long long)params, avg * 1e3, t_one_bucket * 1e3, t_small * 1e3);
        } else if (h->check == CHECK_OK) {
            h->check = CHECK_SKIPPED;
            snprintf(h->note, sizeof h->note, "the steps or the averaging were not timed, or below the noise");
        }
    }
}
