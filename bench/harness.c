/* Timing and result bookkeeping shared by the benchmark groups. */
#include "bench.h"
#include "progress.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

bool bench_time_graph(clg_graph *g, int phases, int warmup, int repeat, bool host_clock, result *r)
{
    size_t n = (size_t)(repeat > 0 ? repeat : 1);
    double *t = malloc(sizeof(double) * n), *enq = malloc(sizeof(double) * n);
    if (!t || !enq) {
        free(t);
        free(enq);
        result_fail(r, "out of memory");
        return false;
    }
    for (int i = 0; i < warmup; i++)
        if (clg_graph_run(g, phases) != CLG_OK || clg_graph_wait(g) != CLG_OK) goto fail;
    for (int i = 0; i < repeat; i++) {
        if (host_clock) {
            /* the run returns once enqueued: that part is the host's
             * dispatch, the rest waiting for the device */
            double t0 = now_seconds();
            if (clg_graph_run(g, phases) != CLG_OK) goto fail;
            double t1 = now_seconds();
            if (clg_graph_wait(g) != CLG_OK) goto fail;
            t[i] = now_seconds() - t0;
            enq[i] = t1 - t0;
        } else if (clg_graph_run_timed(g, phases, &t[i]) != CLG_OK) {
            goto fail;
        }
    }
    r->enqueue = host_clock ? median_of(enq, repeat) : 0;
    r->median = median_of(t, repeat);
    r->min = t[0];
    r->max = t[repeat - 1];
    free(t);
    free(enq);
    return true;
fail:
    free(t);
    free(enq);
    return false;
}

bool bench_wanted(const bench_opts *o, const char *name)
{
    if (!o->op) return true;
    if (strpbrk(o->op, "*?[")) return fnmatch(o->op, name, 0) == 0;
    return strstr(name, o->op) != NULL;
}

bool bench_within_budget(result *r, const bench_opts *o, double one_run_seconds, int warmup)
{
    const double est = one_run_seconds * (1 + warmup + o->repeat);
    if (o->budget <= 0 || est <= o->budget) return true;
    r->check = CHECK_SKIPPED;
    snprintf(r->note, sizeof r->note, "over budget: a run takes %.3g s, %d runs %.3g s > %.3g s (--budget)",
             one_run_seconds, 1 + warmup + o->repeat, est, o->budget);
    return false;
}

void result_set_rate(result *r, double work, const char *unit, double ceiling)
{
    r->work = work;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->rate = r->median > 0 ? work / r->median : 0;
    r->ratio = ceiling > 0 ? r->rate / ceiling : 0;
}

void result_fail(result *r, const char *fmt, ...)
{
    r->check = CHECK_FAILED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

result *bench_new_result(device_run *d, const char *group, const char *name, const char *size)
{
    if (d->nresults >= BENCH_MAX_RESULTS) return NULL;
    result *r = &d->results[d->nresults++];
    memset(r, 0, sizeof *r);
    snprintf(r->group, sizeof r->group, "%s", group);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->size, sizeof r->size, "%s", size);
    return r;
}
