/* clgrad-bench's outputs: the terminal table, JSON (bench/SCHEMA.md), CSV
 * and an SVG bar chart. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *check_name(check_status c)
{
    return c == CHECK_OK ? "ok" : c == CHECK_FAILED ? "FAILED" : "skipped";
}

/* A rate above the device's own ceiling (by more than the timing noise):
 * the data sat in a cache, the op mostly reads (a CPU's copy pays a read
 * for every line it writes, so a read stream beats it), the ceiling was
 * measured wrong, or the op counts bytes it does not move. Flagged "!",
 * never shown as normal. */
static bool above_ceiling(const result *r)
{
    return r->ratio > 1.05 && strcmp(r->group, "ceilings") != 0;
}

static void cell(const result *r, char *buf, size_t n)
{
    if (r->check == CHECK_FAILED) snprintf(buf, n, "FAILED");
    else if (r->check == CHECK_SKIPPED) snprintf(buf, n, "skipped");
    else if (!strcmp(r->unit, "ms")) snprintf(buf, n, "%.3g ms", r->rate);
    else if (!strcmp(r->unit, "s")) snprintf(buf, n, "%.1f s", r->rate);
    else if (!strcmp(r->unit, "kernels")) snprintf(buf, n, "%.0f kernels", r->rate);
    else if (r->ratio > 0 && strcmp(r->group, "ceilings") != 0)
        snprintf(buf, n, "%.4g %s %3.0f%%%s", r->rate, r->unit, 100.0 * r->ratio, above_ceiling(r) ? "!" : "");
    else snprintf(buf, n, "%.4g %s", r->rate, r->unit);
}

const result *bench_find(const device_run *d, const result *like)
{
    for (int i = 0; i < d->nresults; i++)
        if (!strcmp(d->results[i].group, like->group) && !strcmp(d->results[i].name, like->name) &&
            !strcmp(d->results[i].size, like->size))
            return &d->results[i];
    return NULL;
}

static const char *const group_order[] = {BENCH_GROUPS(BENCH_GROUP_NAME)};
#define NGROUP_ORDER (sizeof group_order / sizeof group_order[0])

/* The rows of the table, the chart and the summaries: the union of every
 * device's results (and the compared run's), group by group, each in the
 * order the first device that has it ran it. Returns how many. */
/* The rows the devices ran (or skipped), each once, in group order. A row
 * of the compared run alone is left out: the devices' run chose its rows
 * (--op, --group), and the comparison's file may hold more. */
static int collect_rows(const device_run *runs, int nruns, const device_run *compare, const result **rows, int max)
{
    (void)compare;
    int n = 0;
    for (size_t go = 0; go < NGROUP_ORDER; go++)
        for (int d0 = 0; d0 < nruns; d0++) {
            const device_run *src = &runs[d0];
            for (int i = 0; i < src->nresults && n < max; i++) {
                const result *r = &src->results[i];
                if (strcmp(r->group, group_order[go]) != 0) continue;
                bool seen = false;
                for (int k = 0; k < n && !seen; k++)
                    seen = !strcmp(rows[k]->group, r->group) && !strcmp(rows[k]->name, r->name) &&
                           !strcmp(rows[k]->size, r->size);
                if (!seen) rows[n++] = r;
            }
        }
    return n;
}

static bool lower_is_better(const result *r)
{
    return !strcmp(r->unit, "ms") || !strcmp(r->unit, "s") || !strcmp(r->unit, "kernels");
}

/* Higher is better for every unit: rates as they are, times inverted. 0
 * when the result did not run. */
double bench_goodness(const result *x)
{
    if (!x || x->check != CHECK_OK || !(x->rate > 0)) return 0;
    return lower_is_better(x) ? 1.0 / x->rate : x->rate;
}

/* The geometric mean of d's goodness over base's across the group's rows
 * where both ran (kernel counts left out: fewer is not faster); *count
 * gets how many rows. 0 when none. */
static double group_geomean(const result *const *rows, int nrows, const char *group, const device_run *d,
                            const device_run *base, int *count)
{
    double logs = 0;
    int k = 0;
    for (int i = 0; i < nrows; i++) {
        /* kernel counts are not speed; start-up is 0 ms where nothing builds (the reference) */
        if (strcmp(rows[i]->group, group) != 0 || !strcmp(rows[i]->unit, "kernels") || !strcmp(group, "startup"))
            continue;
        double a = bench_goodness(bench_find(d, rows[i])), b = bench_goodness(bench_find(base, rows[i]));
        if (a > 0 && b > 0) {
            logs += log(a / b);
            k++;
        }
    }
    *count = k;
    return k ? exp(logs / k) : 0;
}

void print_table(device_run *runs, int nruns, FILE *out, const char *compare_label, device_run *compare)
{
    if (nruns == 0) return;
    static const result *rows[BENCH_MAX_RESULTS * (BENCH_MAX_DEVICES + 1)];
    const int nrows = collect_rows(runs, nruns, compare, rows, (int)(sizeof rows / sizeof rows[0]));
    const int w0 = 50;
    int w = 26; /* columns fit their labels (short name and P:D) */
    for (int d = 0; d < nruns; d++)
        if ((int)strlen(runs[d].label) > w) w = (int)strlen(runs[d].label);
    if (w > 44) w = 44;
    fprintf(out, "%-*s", w0, "benchmark (size)");
    for (int d = 0; d < nruns; d++) fprintf(out, " %-*.*s", w, w, runs[d].label);
    if (compare) fprintf(out, " %-*.*s %s", w, w, compare_label, "clgrad/them");
    fprintf(out, "\n");
    bool flagged = false;
    for (int i = 0; i < nrows; i++) {
        const result *r = rows[i];
        if (i == 0 || strcmp(rows[i - 1]->group, r->group) != 0) fprintf(out, "[%s]\n", r->group);
        char label[2 + sizeof r->name + 2 + sizeof r->size + 1], c[64]; /* the whole label; the column cuts it */
        snprintf(label, sizeof label, "  %s (%s)", r->name, r->size);
        fprintf(out, "%-*.*s", w0, w0, label);
        for (int d = 0; d < nruns; d++) {
            const result *x = bench_find(&runs[d], r);
            if (x) cell(x, c, sizeof c);
            else snprintf(c, sizeof c, "not run");
            flagged |= x && x->check == CHECK_OK && above_ceiling(x);
            fprintf(out, " %-*s", w, c);
        }
        if (compare) {
            const result *x = bench_find(compare, r);
            if (x) {
                cell(x, c, sizeof c);
                const result *mine = bench_find(&runs[nruns - 1], r);
                double ratio = 0, a = bench_goodness(mine), b = bench_goodness(x);
                if (a > 0 && b > 0) ratio = a / b;
                if (ratio > 0) fprintf(out, " %-*s %.2fx", w, c, ratio);
                else fprintf(out, " %-*s -", w, c);
            } else {
                fprintf(out, " %-*s", w, "-");
            }
        }
        fprintf(out, "\n");
        for (int d = 0; d < nruns; d++) {
            const result *x = bench_find(&runs[d], r);
            if (x && x->check != CHECK_OK && x->note[0]) fprintf(out, "%*s%s: %s\n", w0, "", runs[d].label, x->note);
        }
        /* the group's summary after its last row */
        if (i + 1 == nrows || strcmp(rows[i + 1]->group, r->group) != 0) {
            fprintf(out, "%-*s", w0, nruns > 1 ? "  geomean vs the first device" : "  rows that ran");
            for (int d = 0; d < nruns; d++) {
                int k;
                double gm = group_geomean(rows, nrows, r->group, &runs[d], &runs[0], &k);
                if (!k) snprintf(c, sizeof c, "-");
                else if (nruns > 1) snprintf(c, sizeof c, "%.3gx over %d", gm, k);
                else snprintf(c, sizeof c, "%d", k);
                fprintf(out, " %-*s", w, c);
            }
            if (compare) {
                int k;
                double gm = group_geomean(rows, nrows, r->group, &runs[nruns - 1], compare, &k);
                fprintf(out, " %-*s %s", w, "", "");
                if (k) fprintf(out, "%.2fx over %d", gm, k);
                else fprintf(out, "-");
            }
            fprintf(out, "\n");
        }
    }
    if (flagged)
        fprintf(out, "!: above the device's own ceiling: the data sat in a cache (the 4096-element rows fit in one), the "
                     "op mostly reads (a copy's writes cost a read too on CPUs), or its byte count is off\n");
    for (int d = 0; d < nruns; d++) fprintf(out, "%s: %s\n", runs[d].label, runs[d].description);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fprintf(f, "null");
}

/* ", \"key\": value" (sep "" for an object's first member). */
static void key_string(FILE *f, const char *sep, const char *key, const char *v)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    json_string(f, v);
}

static void key_number(FILE *f, const char *sep, const char *key, double v)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    json_number(f, v);
}

int write_json(const char *path, device_run *runs, int nruns, const bench_opts *o, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    struct utsname u;
    memset(&u, 0, sizeof u);
    uname(&u);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\n  \"schema\": \"clgrad-bench/1\",\n  \"date\": \"%s\",\n  \"tool\": \"clgrad-bench %s\",\n", date,
            clg_version());
    fprintf(f, "  \"machine\": {");
    key_string(f, "", "hostname", host);
    key_string(f, ", ", "os", u.sysname);
    key_string(f, ", ", "release", u.release);
    key_string(f, ", ", "arch", u.machine);
    fprintf(f, ", \"cpus\": %ld},\n", sysconf(_SC_NPROCESSORS_ONLN));
    char suite[48];
    snprintf(suite, sizeof suite, "%s%s%s", o->quick ? "quick" : "full", o->only_group ? ":" : "",
             o->only_group ? o->only_group : "");
    key_string(f, "  ", "suite", suite);
    fprintf(f, ",\n  \"repeat\": %d,\n  \"devices\": [\n", o->repeat);
    for (int d = 0; d < nruns; d++) {
        const device_run *r = &runs[d];
        key_string(f, "    {", "spec", r->spec);
        key_string(f, ", ", "label", r->label);
        key_string(f, ", ", "description", r->description);
        key_string(f, ",\n     ", "type", r->facts.type);
        key_string(f, ", ", "vendor", r->facts.vendor);
        key_string(f, ", ", "name", r->facts.name);
        key_string(f, ", ", "driver_version", r->facts.driver_version);
        key_string(f, ", ", "opencl_version", r->facts.opencl_version);
        fprintf(f, ",\n     \"compute_units\": %u, \"clock_mhz\": %u, \"global_mem_bytes\": %llu, \"local_mem_bytes\": %llu,\n",
                r->facts.compute_units, r->facts.clock_mhz, (unsigned long long)r->facts.global_mem_bytes,
                (unsigned long long)r->facts.local_mem_bytes);
        key_number(f, "     \"ceilings\": {", "copy_gbs", r->copy_gbs);
        key_number(f, ", ", "gemm_gflops", r->gemm_gflops);
        fprintf(f, "},\n     \"results\": [\n");
        for (int i = 0; i < r->nresults; i++) {
            const result *x = &r->results[i];
            key_string(f, "       {", "group", x->group);
            key_string(f, ", ", "name", x->name);
            key_string(f, ", ", "size", x->size);
            key_number(f, ", ", "median_s", x->median);
            key_number(f, ", ", "min_s", x->min);
            key_number(f, ", ", "max_s", x->max);
            if (x->enqueue > 0) key_number(f, ", ", "enqueue_s", x->enqueue);
            key_string(f, ", ", "unit", x->unit);
            key_number(f, ", ", "rate", x->rate);
            key_number(f, ", ", "ratio_to_ceiling", x->ratio);
            if (x->flops > 0) key_number(f, ", ", "flops", x->flops);
            if (x->bytes > 0) key_number(f, ", ", "bytes", x->bytes);
            key_string(f, ", ", "check", check_name(x->check));
            key_string(f, ", ", "note", x->note);
            fprintf(f, "}%s\n", i + 1 < r->nresults ? "," : "");
        }
        fprintf(f, "     ]}%s\n", d + 1 < nruns ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int write_csv(const char *path, device_run *runs, int nruns, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "device,group,name,size,median_s,min_s,max_s,unit,rate,ratio_to_ceiling,check\n");
    for (int d = 0; d < nruns; d++)
        for (int i = 0; i < runs[d].nresults; i++) {
            const result *x = &runs[d].results[i];
            csv_field(f, runs[d].spec);
            fputc(',', f);
            csv_field(f, x->group);
            fputc(',', f);
            csv_field(f, x->name);
            fputc(',', f);
            csv_field(f, x->size);
            fprintf(f, ",%.6g,%.6g,%.6g,", x->median, x->min, x->max);
            csv_field(f, x->unit);
            fprintf(f, ",%.6g,%.6g,%s\n", x->rate, x->ratio, check_name(x->check));
        }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}

static void svg_text(FILE *f, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        if (s[i] == '<') fputs("&lt;", f);
        else if (s[i] == '>') fputs("&gt;", f);
        else if (s[i] == '&') fputs("&amp;", f);
        else fputc(s[i], f);
    }
}

static const char *const colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                                      "#9c755f"};
#define NCOLOURS (sizeof colours / sizeof colours[0])

/* Every row of the table, grouped, one bar per device (and the compared
 * run), as a fraction of the best device on that row (times inverted);
 * on a log scale when the rows' spreads span more than a factor 20. A
 * summary row per group: each device's geometric mean over the first's. */
int write_svg(const char *path, device_run *runs, int nruns, const device_run *compare, char *err, size_t errlen)
{
    static const result *rows[BENCH_MAX_RESULTS * (BENCH_MAX_DEVICES + 1)];
    const int nrows = collect_rows(runs, nruns, compare, rows, (int)(sizeof rows / sizeof rows[0]));
    const int nser = nruns + (compare ? 1 : 0);
    const device_run *ser[BENCH_MAX_DEVICES + 1];
    for (int d = 0; d < nruns; d++) ser[d] = &runs[d];
    if (compare) ser[nruns] = compare;
    /* the scale: decades when the spread within rows is wide */
    double spread = 1;
    for (int i = 0; i < nrows; i++) {
        double best = 0, worst = 0;
        for (int d = 0; d < nser; d++) {
            double v = bench_goodness(bench_find(ser[d], rows[i]));
            if (v <= 0) continue;
            if (v > best) best = v;
            if (worst == 0 || v < worst) worst = v;
        }
        if (worst > 0 && best / worst > spread) spread = best / worst;
    }
    const int decades = spread > 20 ? (int)fmin(4, ceil(log10(spread))) : 0;
    int ngroups = 0;
    for (int i = 0; i < nrows; i++) ngroups += i == 0 || strcmp(rows[i - 1]->group, rows[i]->group) != 0;
    const int label_w = 320, bar_w = 460, bar_h = 12, pad = 8, legend_h = 18 * nser + 40;
    const int row_h = nser * bar_h + pad;
    const int height = 60 + legend_h + (nrows + ngroups) * row_h + ngroups * 24 + 20;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            label_w + bar_w + 190, height);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">clgrad-bench: each row as a fraction "
               "of its best device (longer is better)</text>\n");
    if (decades)
        fprintf(f, "<text x=\"10\" y=\"36\">log scale: the bar's end at 1, 1/10, ... 1/10^%d of the row's best "
                   "(grid lines); value, unit and %% of the device's ceiling after each bar</text>\n", decades);
    else
        fprintf(f, "<text x=\"10\" y=\"36\">linear scale; value, unit and %% of the device's ceiling after each "
                   "bar</text>\n");
    int y = 52;
    for (int d = 0; d < nser; d++) {
        fprintf(f, "<rect x=\"10\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"26\" y=\"%d\">"
                   "<tspan font-weight=\"bold\">", y, colours[d % NCOLOURS], y + 9);
        svg_text(f, ser[d]->label, 96);
        fputs("</tspan>: ", f);
        svg_text(f, ser[d]->description, 118 - strlen(ser[d]->label));
        fputs("</text>\n", f);
        y += 18;
    }
    y += 16;
    for (int i = 0; i < nrows; i++) {
        const result *r = rows[i];
        if (i == 0 || strcmp(rows[i - 1]->group, r->group) != 0) {
            fprintf(f, "<text x=\"10\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", y + 14, r->group);
            fprintf(f, "<line x1=\"10\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n", y + 18,
                    label_w + bar_w + 180, y + 18);
            y += 24;
        }
        double best = 0;
        for (int d = 0; d < nser; d++) best = fmax(best, bench_goodness(bench_find(ser[d], r)));
        for (int k = 1; decades && k <= decades; k++) { /* decade grid */
            int gx = label_w + (int)(bar_w * (1.0 - (double)k / decades));
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>", gx, y, gx, y + nser * bar_h);
        }
        fprintf(f, "<text x=\"10\" y=\"%d\">", y + bar_h);
        svg_text(f, r->name, 60);
        fprintf(f, " (");
        svg_text(f, r->size, 40);
        fprintf(f, ")</text>\n");
        for (int d = 0; d < nser; d++) {
            const result *x = bench_find(ser[d], r);
            double v = bench_goodness(x), frac = best > 0 && v > 0 ? v / best : 0;
            if (decades && frac > 0) frac = fmax(0.01, 1.0 + log10(frac) / decades);
            int w = (int)(frac * bar_w), ty = y + d * bar_h + 9;
            if (w > 0)
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", label_w,
                        y + d * bar_h, w, bar_h - 2, colours[d % NCOLOURS]);
            char c[64];
            if (!x) snprintf(c, sizeof c, "not run");
            else cell(x, c, sizeof c);
            const char *fill = !x || x->check == CHECK_SKIPPED ? "#777" : x->check == CHECK_FAILED ? "red"
                               : above_ceiling(x)                   ? "#c00"
                                                                    : "black";
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", label_w + w + 4, ty, fill);
            svg_text(f, c, 60);
            fputs("</text>\n", f);
        }
        y += row_h;
        if (i + 1 == nrows || strcmp(rows[i + 1]->group, r->group) != 0) {
            /* the group's summary: geometric means over the first device, on a linear scale of the largest */
            double gm[BENCH_MAX_DEVICES + 1], top = 0;
            int cnt[BENCH_MAX_DEVICES + 1];
            for (int d = 0; d < nser; d++) {
                gm[d] = group_geomean(rows, nrows, r->group, ser[d], ser[0], &cnt[d]);
                top = fmax(top, gm[d]);
            }
            fprintf(f, "<text x=\"10\" y=\"%d\" font-style=\"italic\">%s: geometric mean over %s</text>\n",
                    y + bar_h, r->group, nser > 1 ? "the first device" : "itself");
            for (int d = 0; d < nser; d++) {
                int w = top > 0 ? (int)(gm[d] / top * bar_w) : 0;
                fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" fill-opacity=\"0.55\"/>",
                        label_w, y + d * bar_h, w, bar_h - 2, colours[d % NCOLOURS]);
                if (cnt[d]) fprintf(f, "<text x=\"%d\" y=\"%d\">%.3gx over %d rows</text>\n", label_w + w + 4,
                                    y + d * bar_h + 9, gm[d], cnt[d]);
                else fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#777\">no common rows</text>\n", label_w + 4,
                             y + d * bar_h + 9);
            }
            y += row_h + 6;
        }
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}

/* The roofline: achieved GFLOP/s against arithmetic intensity (flops per
 * byte), both on log scales, for every result whose flops and bytes are
 * both known, under each device's roof min(intensity x copy, GEMM). */
int write_roofline(const char *path, device_run *runs, int nruns, char *err, size_t errlen)
{
    const double xmin = 0.01, xmax = 1000;
    double ymax = 1;
    for (int d = 0; d < nruns; d++) {
        ymax = fmax(ymax, runs[d].gemm_gflops);
        for (int i = 0; i < runs[d].nresults; i++) {
            const result *r = &runs[d].results[i];
            if (r->check == CHECK_OK && r->flops > 0 && r->median > 0) ymax = fmax(ymax, r->flops / r->median * 1e-9);
        }
    }
    ymax = pow(10, ceil(log10(ymax * 1.5)));
    const double ymin = ymax / 1e5;
    const int left = 70, top = 50, w = 640, h = 420, legend_x = left + w + 20;
    /* the points' names, once each over every device (the same op shares
     * its intensity everywhere; a row one device skipped still counts) */
    static const result *named[BENCH_MAX_RESULTS * (BENCH_MAX_DEVICES + 1)];
    int nnamed = 0;
    for (int d = 0; d < nruns; d++)
        for (int i = 0; i < runs[d].nresults; i++) {
            const result *r = &runs[d].results[i];
            if (!(r->flops > 0) || !(r->bytes > 0) || !strcmp(r->group, "ceilings")) continue;
            bool seen = false;
            for (int k = 0; k < nnamed && !seen; k++) seen = !strcmp(named[k]->name, r->name) && !strcmp(named[k]->size, r->size);
            if (!seen) named[nnamed++] = r;
        }
    const int list_top = top + 18 * nruns + 26, list_end = list_top + 14 * nnamed + 20;
    const int height = list_end > top + h + 60 ? list_end : top + h + 60;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
#define RX(v) (left + (int)(w * (log10(v) - log10(xmin)) / (log10(xmax) - log10(xmin))))
#define RY(v) (top + h - (int)(h * (log10(v) - log10(ymin)) / (log10(ymax) - log10(ymin))))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            legend_x + 470, height);
    fprintf(f, "<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">clgrad-bench roofline: achieved "
               "GFLOP/s against flops per byte moved; dashed, each device's roof min(intensity x copy bandwidth, best "
               "GEMM)</text>\n");
    for (double v = xmin; v <= xmax * 1.001; v *= 10) {
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>", RX(v), top, RX(v), top + h);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", RX(v), top + h + 16, v);
    }
    for (double v = ymin; v <= ymax * 1.001; v *= 10) {
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>", left, RY(v), left + w, RY(v));
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g</text>\n", left - 6, RY(v) + 4, v);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", left, top, w, h);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">arithmetic intensity (flops per byte)</text>\n",
            left + w / 2, top + h + 36);
    fprintf(f, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">GFLOP/s</text>\n",
            top + h / 2, top + h / 2);
    int ly = top;
    for (int d = 0; d < nruns; d++) {
        const device_run *dv = &runs[d];
        const char *col = colours[d % NCOLOURS];
        if (dv->copy_gbs > 0 && dv->gemm_gflops > 0) {
            const double knee = dv->gemm_gflops / dv->copy_gbs;
            double x0 = xmin, y0 = xmin * dv->copy_gbs;
            if (y0 < ymin) x0 = ymin / dv->copy_gbs, y0 = ymin;
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-dasharray=\"6 3\" points=\"%d,%d %d,%d %d,%d\"/>\n",
                    col, RX(x0), RY(y0), RX(fmin(knee, xmax)), RY(fmin(knee, xmax) * dv->copy_gbs), RX(xmax),
                    RY(dv->gemm_gflops));
        }
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
                legend_x, ly, col, legend_x + 16, ly + 9);
        svg_text(f, dv->label, 60);
        if (dv->copy_gbs > 0 && dv->gemm_gflops > 0)
            fprintf(f, ": copy %.3g GB/s, GEMM %.3g GFLOP/s</text>\n", dv->copy_gbs, dv->gemm_gflops);
        else fprintf(f, ": ceilings not measured in this run</text>\n");
        ly += 18;
        for (int i = 0; i < dv->nresults; i++) {
            const result *r = &dv->results[i];
            if (r->check != CHECK_OK || !(r->flops > 0) || !(r->bytes > 0) || !(r->median > 0)) continue;
            if (!strcmp(r->group, "ceilings")) continue;
            const double ai = r->flops / r->bytes, gf = r->flops / r->median * 1e-9;
            if (ai < xmin || ai > xmax || gf < ymin) continue;
            fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"><title>", RX(ai), RY(gf), col);
            svg_text(f, r->name, 60);
            fprintf(f, " (%s): %.3g GFLOP/s at %.3g flops/byte</title></circle>\n", r->size, gf, ai);
        }
    }
    ly = list_top - 16;
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">points (intensity: name)</text>\n", legend_x, ly);
    ly += 16;
    for (int k = 0; k < nnamed; k++) {
        const result *r = named[k];
        fprintf(f, "<text x=\"%d\" y=\"%d\">%.3g: ", legend_x, ly, r->flops / r->bytes);
        svg_text(f, r->name, 40);
        fprintf(f, " (");
        svg_text(f, r->size, 24);
        fprintf(f, ")</text>\n");
        ly += 14;
    }
#undef RX
#undef RY
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}
