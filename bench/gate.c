/* clgrad-bench --baseline: the regression gate (bench.h, bench_gate). */
#include "bench.h"

#include <math.h>
#include <string.h>

/* A run's own noise: its slowest over its fastest repeat, minus one. */
static double spread(const result *r)
{
    return r->min > 0 && r->max >= r->min ? r->max / r->min - 1 : 0;
}

static const device_run *match(const device_run *d, const device_run *base, int nbase)
{
    for (int b = 0; b < nbase; b++)
        if (!strcmp(base[b].spec, d->spec) && !strcmp(base[b].facts.name, d->facts.name)) return &base[b];
    for (int b = 0; b < nbase; b++) /* a baseline written without names: by label */
        if (!strcmp(base[b].label, d->label)) return &base[b];
    return NULL;
}

int bench_gate(const device_run *runs, int nruns, const device_run *base, int nbase, double threshold, FILE *out)
{
    int regressions = 0;
    for (int d = 0; d < nruns; d++) {
        const device_run *b = match(&runs[d], base, nbase);
        if (!b) {
            fprintf(out, "gate: %s: not in the baseline, nothing compared\n", runs[d].label);
            continue;
        }
        double logs = 0;
        int common = 0;
        for (int i = 0; i < runs[d].nresults; i++) {
            const result *now = &runs[d].results[i], *then = bench_find(b, now);
            /* kernel counts and start-up are not speed; rows only one side ran are not compared */
            if (!then || !strcmp(now->unit, "kernels") || !strcmp(now->group, "startup")) continue;
            const double g1 = bench_goodness(now), g0 = bench_goodness(then);
            if (!(g1 > 0) || !(g0 > 0)) continue;
            common++;
            logs += log(g0 / g1);
            const double slower = g0 / g1, noise = fmax(spread(now), spread(then));
            if (slower > (1 + threshold) * (1 + noise)) {
                regressions++;
                fprintf(out, "gate: %s: %s: %s (%s) %.2fx slower than the baseline (%.4g against %.4g %s; noise %.0f%%)\n",
                        runs[d].label, now->group, now->name, now->size, slower, now->rate, then->rate, now->unit,
                        100 * noise);
            }
        }
        const double gm = common ? exp(logs / common) : 1;
        if (common && gm > 1 + threshold) {
            regressions++;
            fprintf(out, "gate: %s: the suite is %.2fx slower than the baseline (geometric mean over %d rows)\n",
                    runs[d].label, gm, common);
        } else {
            fprintf(out, "gate: %s: %.2fx the baseline's time over %d common rows (geometric mean)\n", runs[d].label,
                    gm, common);
        }
    }
    fprintf(out, "gate: %d regression%s beyond %.0f%% and the runs' noise\n", regressions, regressions == 1 ? "" : "s",
            100 * threshold);
    return regressions;
}
