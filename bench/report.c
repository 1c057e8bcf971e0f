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

static void cell(const result *r, char *buf, size_t n)
{
    if (r->check == CHECK_FAILED) snprintf(buf, n, "FAILED");
    else if (r->check == CHECK_SKIPPED) snprintf(buf, n, "skipped");
    else if (!strcmp(r->unit, "ms")) snprintf(buf, n, "%.1f ms", r->rate);
    else if (!strcmp(r->unit, "kernels")) snprintf(buf, n, "%.0f kernels", r->rate);
    else if (r->ratio > 0 && strcmp(r->group, "ceilings") != 0)
        snprintf(buf, n, "%.4g %s %3.0f%%", r->rate, r->unit, 100.0 * r->ratio);
    else snprintf(buf, n, "%.4g %s", r->rate, r->unit);
}

static const result *find(const device_run *d, const result *like)
{
    for (int i = 0; i < d->nresults; i++)
        if (!strcmp(d->results[i].group, like->group) && !strcmp(d->results[i].name, like->name) &&
            !strcmp(d->results[i].size, like->size))
            return &d->results[i];
    return NULL;
}

void print_table(device_run *runs, int nruns, FILE *out, const char *compare_label, device_run *compare)
{
    if (nruns == 0) return;
    const int w0 = 44, w = 26;
    fprintf(out, "%-*s", w0, "benchmark (size)");
    for (int d = 0; d < nruns; d++) fprintf(out, " %-*.*s", w, w, runs[d].label);
    if (compare) fprintf(out, " %-*.*s %s", w, w, compare_label, "clgrad/them");
    fprintf(out, "\n");
    static const char *const group_order[] = {"startup", "ceilings", "ops", "gemm", "optim", "train"};
    const char *group = "";
    /* rows: the union of results, group by group, in the order the first
     * device that has them ran them */
    for (size_t go = 0; go < sizeof group_order / sizeof group_order[0]; go++)
    for (int d0 = 0; d0 < nruns; d0++)
        for (int i = 0; i < runs[d0].nresults; i++) {
            const result *r = &runs[d0].results[i];
            if (strcmp(r->group, group_order[go]) != 0) continue;
            bool seen = false;
            for (int e = 0; e < d0 && !seen; e++) seen = find(&runs[e], r) != NULL;
            if (seen) continue;
            if (strcmp(group, r->group) != 0) {
                group = r->group;
                fprintf(out, "[%s]\n", group);
            }
            char label[2 + sizeof r->name + 2 + sizeof r->size + 1], c[64]; /* the whole label; the column cuts it */
            snprintf(label, sizeof label, "  %s (%s)", r->name, r->size);
            fprintf(out, "%-*.*s", w0, w0, label);
            for (int d = 0; d < nruns; d++) {
                const result *x = find(&runs[d], r);
                if (x) cell(x, c, sizeof c);
                else snprintf(c, sizeof c, "-");
                fprintf(out, " %-*s", w, c);
            }
            if (compare) {
                const result *x = find(compare, r);
                if (x) {
                    cell(x, c, sizeof c);
                    const result *mine = find(&runs[nruns - 1], r);
                    double ratio = 0;
                    if (mine && mine->check == CHECK_OK && x->rate > 0) {
                        /* rates: higher is better; times (ms) and kernel counts: lower is better */
                        bool lower = !strcmp(x->unit, "ms") || !strcmp(x->unit, "kernels");
                        ratio = lower ? x->rate / mine->rate : mine->rate / x->rate;
                    }
                    fprintf(out, " %-*s %.2fx", w, c, ratio);
                } else {
                    fprintf(out, " %-*s", w, "-");
                }
            }
            fprintf(out, "\n");
            for (int d = 0; d < nruns; d++) {
                const result *x = find(&runs[d], r);
                if (x && x->check == CHECK_FAILED) fprintf(out, "%*s%s: %s\n", w0, "", runs[d].label, x->note);
            }
        }
    for (int d = 0; d < nruns; d++)
        fprintf(out, "%s: %s\n", runs[d].label, runs[d].description);
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
    key_string(f, "  ", "suite", o->only_group ? o->only_group : o->quick ? "quick" : "full");
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

/* One bar per device for each result, as a fraction of the fastest device
 * on that result (times are inverted: the fastest is the shortest). */
int write_svg(const char *path, device_run *runs, int nruns, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    static const char *const colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"};
    const int label_w = 330, bar_w = 420, bar_h = 12, pad = 6;
    int rows = 0;
    for (int i = 0; i < runs[0].nresults; i++) rows++;
    int row_h = nruns * bar_h + pad;
    int height = 60 + rows * row_h + 20 * nruns + 20;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"11\">\n", label_w + bar_w + 140, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\">clgrad-bench: each result relative to the fastest device "
               "(longer is better)</text>\n");
    int y = 40;
    for (int d = 0; d < nruns; d++) {
        fprintf(f, "<rect x=\"10\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"26\" y=\"%d\">",
                y, colours[d % 6], y + 9);
        for (const char *s = runs[d].description; *s; s++) {
            if (*s == '<') fputs("&lt;", f);
            else if (*s == '&') fputs("&amp;", f);
            else fputc(*s, f);
        }
        fprintf(f, "</text>\n");
        y += 16;
    }
    y += 10;
    for (int i = 0; i < runs[0].nresults; i++) {
        const result *r = &runs[0].results[i];
        double best = 0;
        bool is_time = !strcmp(r->unit, "ms") || !strcmp(r->unit, "kernels"); /* lower is better */
        for (int d = 0; d < nruns; d++) {
            const result *x = find(&runs[d], r);
            if (!x || x->check != CHECK_OK || x->rate <= 0) continue;
            double v = is_time ? 1.0 / x->rate : x->rate;
            if (v > best) best = v;
        }
        fprintf(f, "<text x=\"10\" y=\"%d\">%s: %s (%s)</text>\n", y + bar_h, r->group, r->name, r->size);
        for (int d = 0; d < nruns; d++) {
            const result *x = find(&runs[d], r);
            double v = 0;
            if (x && x->check == CHECK_OK && x->rate > 0) v = (is_time ? 1.0 / x->rate : x->rate) / best;
            int w = (int)(v * bar_w);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", label_w, y + d * bar_h, w,
                    bar_h - 2, colours[d % 6]);
            if (x && x->check == CHECK_FAILED)
                fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"red\">FAILED</text>", label_w + 4, y + d * bar_h + 9);
            else if (x && x->rate > 0)
                fprintf(f, "<text x=\"%d\" y=\"%d\">%.3g %s</text>", label_w + w + 4, y + d * bar_h + 9, x->rate,
                        x->unit);
            fputc('\n', f);
        }
        y += row_h;
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "error writing %s", path);
        return -1;
    }
    return 0;
}
