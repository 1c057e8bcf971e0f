/*
 * clgrad-bench: every device side by side.
 *   clgrad-bench --list
 *   clgrad-bench [--device SPEC]... [--suite quick|full|GROUP] [--repeat N] [--size S]
 *                [--json FILE] [--csv FILE] [--svg FILE] [--compare FILE]
 *   clgrad-bench --list-cases (the ops group's rows, for bench/compare_torch.py)
 * (--help says more).
 * Groups: startup, ceilings, ops (the op cases of tests/cases/), gemm, optim, train, tta. Results are checked
 * against the reference backend before they are timed; a wrong answer is
 * reported as FAILED, never timed. See bench/SCHEMA.md for the JSON.
 */
#include "bench.h"
#include "cli.h"
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An output path, checked before any benchmark runs (a full suite takes an
 * hour): an existing file must be a regular file (fopen on a FIFO waits for
 * a reader forever), and its folder must exist and be writable. Returns 0,
 * or prints why and returns 2. */
static int check_output(const char *option, const char *path)
{
    struct stat st;
    if (!*path) {
        fprintf(stderr, "clgrad-bench: %s: the path is empty\n", option);
        return 2;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "clgrad-bench: %s %s: %s, not a regular file\n", option, path,
                S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
        return 2;
    }
    char folder[4096];
    snprintf(folder, sizeof folder, "%s", path);
    char *slash = strrchr(folder, '/');
    if (!slash) snprintf(folder, sizeof folder, ".");
    else if (slash == folder) folder[1] = '\0';
    else *slash = '\0';
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "clgrad-bench: %s %s: the folder %s does not exist\n", option, path, folder);
        return 2;
    }
    if (access(folder, W_OK | X_OK) != 0) {
        fprintf(stderr, "clgrad-bench: %s %s: cannot write in %s: %s\n", option, path, folder, strerror(errno));
        return 2;
    }
    return 0;
}

static void list_devices(void)
{
    printf("%-10s %-12s %-22s %-40s %-47s %4s %6s %9s %8s\n", "spec", "type", "vendor", "name", "driver / OpenCL", "CUs",
           "MHz", "global", "local");
    int n = clg_device_count(); /* every backend's devices, the reference first */
    for (int i = 0; i < n; i++) {
        clg_device_facts f;
        if (clg_device_get_facts(i, &f) != CLG_OK) continue;
        if (!strcmp(f.backend, "reference")) {
            char name[160];
            snprintf(name, sizeof name, "%s (the tests' oracle)", f.name);
            printf("%-10s %-12s %-22s %-40s\n", f.spec, f.type, f.vendor[0] ? f.vendor : "-", name);
            continue;
        }
        char ver[140];
        snprintf(ver, sizeof ver, "%s / %.24s", f.driver_version, f.opencl_version);
        printf("%-10s %-12s %-22.22s %-40.40s %-47.47s %4u %6u %6.1f GB %5.0f KB\n", f.spec, f.type, f.vendor, f.name,
               ver, f.compute_units, f.clock_mhz, (double)f.global_mem_bytes / 1e9, (double)f.local_mem_bytes / 1024.0);
        printf("%-10s platform: %s\n", "", f.platform);
    }
}

typedef void (*group_fn)(device_run *, const bench_opts *);
static const struct {
    const char *name;
    group_fn fn;
    bool in_quick;
} groups[] = {
#define GROUP_ROW(name, quick) {#name, group_##name, quick},
    BENCH_GROUPS(GROUP_ROW)
#undef GROUP_ROW
};
#define NGROUPS (sizeof groups / sizeof groups[0])

static int setup_device(device_run *d, const char *spec)
{
    memset(d, 0, sizeof *d);
    clg_context *ctx = NULL;
    if (clg_context_create(spec, &ctx) != CLG_OK) {
        fprintf(stderr, "clgrad-bench: %s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return -1;
    }
    snprintf(d->description, sizeof d->description, "%s; matrix products by %s", clg_context_device(ctx),
             clg_context_gemm(ctx));
    d->is_reference = strcmp(clg_context_backend(ctx), "reference") == 0;
    clg_context_destroy(ctx);
    if (d->is_reference) {
        snprintf(d->spec, sizeof d->spec, "reference");
        snprintf(d->label, sizeof d->label, "reference");
        snprintf(d->facts.type, sizeof d->facts.type, "host");
        return 0;
    }
    /* resolve the spec to P:D to find the device's facts */
    for (int i = 0; i < clg_device_count(); i++) {
        clg_device_facts f;
        if (clg_device_get_facts(i, &f) != CLG_OK || !strcmp(f.backend, "reference")) continue;
        char tag[32];
        snprintf(tag, sizeof tag, "%s)", f.spec);
        if (strstr(d->description, tag)) {
            d->facts = f;
            snprintf(d->spec, sizeof d->spec, "%s", f.spec);
            /* short enough for a column, with P:D to tell identical devices apart */
            snprintf(d->label, sizeof d->label, "%.32s (%s)", f.name, f.spec);
            return 0;
        }
    }
    fprintf(stderr, "clgrad-bench: could not find the facts of %s\n", d->description);
    return -1;
}

static const cli_option options[] = {
    {"list", NULL, "list the devices a --device can name, then exit"},
    {"check-json", "FILE", "check that FILE conforms to the clgrad-bench/1 schema, then exit"},
    {"list-cases", NULL, "print the ops group's rows (with --suite, --size and --op), their inputs and work, as "
                         "JSON for bench/compare_torch.py, then exit"},
    {"device", "SPEC", "a device to benchmark; repeat it for several; default every device, the reference first"},
    {"suite", "NAME", "quick or full (the sizes), or one group at quick sizes; default quick"},
    {"op", "PATTERN", "only the results whose name matches: a shell pattern ('relu*'), else a substring ('adam')"},
    {"group", "NAME", "run only this group: startup ceilings ops gemm optim train tta (with --suite full: at full "
                      "sizes)"},
    {"repeat", "N", "timed runs per result, from 1 to 1000; default 5 (quick) or 20"},
    {"size", "S", "multiply the default sizes by S, a decimal from 0.0078125 (1/128) to 1024; default 1"},
    {"budget", "SECONDS", "skip (saying so) a result whose runs would take longer; default 20 (quick) or 120"},
    {"json", "FILE", "write the results as JSON (bench/SCHEMA.md)"},
    {"csv", "FILE", "write the results as CSV"},
    {"svg", "FILE", "write every row as bars per device, grouped, with summaries, as SVG"},
    {"roofline", "FILE", "write a roofline chart (GFLOP/s against flops per byte) as SVG"},
    {"compare", "FILE", "a JSON of PyTorch's times (bench/compare_torch.py) to compare with"},
    {"baseline", "FILE", "a stored run (--json) to gate against: exit 3 when a result or the suite is slower by "
                         "more than --threshold beyond the runs' noise"},
    {"threshold", "PCT", "the gate's allowance, in percent; default 20"},
};
enum { O_LIST, O_CHECK_JSON, O_LIST_CASES, O_DEVICE, O_SUITE, O_OP, O_GROUP, O_REPEAT, O_SIZE, O_BUDGET, O_JSON, O_CSV, O_SVG, O_ROOFLINE,
       O_COMPARE, O_BASELINE, O_THRESHOLD };

int main(int argc, char **argv)
{
    const char *specs[BENCH_MAX_DEVICES], *json = NULL, *csv = NULL, *svg = NULL, *roofline = NULL, *compare = NULL;
    const char *baseline = NULL;
    double threshold = 20;
    int nspecs = 0;
    bool list_only = false;
    bench_opts o = {.repeat = 0, .size_scale = 1.0, .quick = true, .only_group = NULL};
    cli c;
    cli_init(&c, "clgrad-bench", NULL,
             "Every device side by side: device ceilings, ops, matrix products, optimizers and training steps,\n"
             "each checked against the reference backend before it is timed.",
             options, sizeof options / sizeof options[0]);
    const char *v;
    int k;
    while ((k = cli_next(&c, argc, argv, &v)) >= 0) {
        long long n;
        switch (k) {
        case O_LIST:
            list_devices();
            return 0;
        case O_CHECK_JSON: {
            char err[512];
            if (bench_check_json(v, err, sizeof err) != 0) {
                fprintf(stderr, "clgrad-bench: %s\n", err);
                return 1;
            }
            printf("%s: conforms to clgrad-bench/1\n", v);
            return 0;
        }
        case O_LIST_CASES: list_only = true; break;
        case O_DEVICE:
            if (nspecs == BENCH_MAX_DEVICES) return cli_fail(&c, "at most %d --device options", BENCH_MAX_DEVICES);
            specs[nspecs++] = v;
            break;
        case O_SUITE: {
            const char *names[NGROUPS + 3] = {"quick", "full"};
            for (size_t g = 0; g < NGROUPS; g++) names[2 + g] = groups[g].name;
            int i = cli_choice(&c, "suite", v, names);
            if (i < 0) return 2;
            if (i < 2) o.quick = i == 0;
            else o.only_group = groups[i - 2].name;
            break;
        }
        case O_OP: o.op = v; break;
        case O_GROUP: {
            const char *names[NGROUPS + 1] = {NULL};
            for (size_t g = 0; g < NGROUPS; g++) names[g] = groups[g].name;
            int i = cli_choice(&c, "group", v, names);
            if (i < 0) return 2;
            o.only_group = groups[i].name;
            break;
        }
        case O_REPEAT:
            if (!cli_long(&c, "repeat", v, 1, 1000, &n)) return 2;
            o.repeat = (int)n;
            break;
        case O_SIZE:
            /* Checked here, once: a factor no workload can use would
             * otherwise fail every row of the table one by one. The bounds
             * keep the smallest default size (128) at least 1 and the
             * largest element count (2^26) well inside int64. */
            if (!cli_double(&c, "size", v, 1.0 / 128, 1024, "from 0.0078125 (1/128) to 1024", &o.size_scale)) return 2;
            break;
        case O_BUDGET:
            if (!cli_double(&c, "budget", v, 0.001, 1e6, "of seconds from 0.001 to 1000000", &o.budget)) return 2;
            break;
        case O_JSON: json = v; break;
        case O_CSV: csv = v; break;
        case O_SVG: svg = v; break;
        case O_ROOFLINE: roofline = v; break;
        case O_COMPARE: compare = v; break;
        case O_BASELINE: baseline = v; break;
        default:
            if (!cli_double(&c, "threshold", v, 0, 1000, "of percent from 0 to 1000", &threshold)) return 2;
            break;
        }
    }
    if (k != CLI_END) return cli_status(k);
    if (list_only) return list_cases(&o, stdout) == 0 ? 0 : 1;
    if (!o.repeat) o.repeat = o.quick ? 5 : 20;
    if (!o.budget) o.budget = o.quick ? 20 : 120;
    {
        const char *names[4] = {"--json", "--csv", "--svg", "--roofline"}, *paths[4] = {json, csv, svg, roofline};
        for (int k = 0; k < 4; k++)
            if (paths[k] && check_output(names[k], paths[k]) != 0) return 2;
    }

    device_run *runs = calloc(BENCH_MAX_DEVICES + 1, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "clgrad-bench: out of memory\n");
        return 1;
    }
    int nruns = 0;
    if (nspecs == 0) {
        /* every device of every backend, the reference first */
        for (int i = 0; i < clg_device_count() && nruns < BENCH_MAX_DEVICES + 1; i++) {
            char spec[32];
            if (clg_device_spec(i, spec, sizeof spec) == CLG_OK && setup_device(&runs[nruns], spec) == 0) nruns++;
        }
    } else {
        for (int i = 0; i < nspecs; i++) {
            if (setup_device(&runs[nruns], specs[i]) != 0) {
                free(runs);
                return 1;
            }
            nruns++;
        }
    }

    device_run cmp;
    char err[256];
    if (compare && read_compare_json(compare, &cmp, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-bench: %s\n", err);
        free(runs);
        return 1;
    }
    /* read before anything runs: a bad baseline fails at once */
    device_run *base = NULL;
    int nbase = 0;
    if (baseline) {
        base = calloc(BENCH_MAX_DEVICES + 1, sizeof *base);
        if (!base || read_runs_json(baseline, base, BENCH_MAX_DEVICES + 1, &nbase, err, sizeof err) != 0) {
            fprintf(stderr, "clgrad-bench: --baseline %s: %s\n", baseline, base ? err : "out of memory");
            free(base);
            free(runs);
            return 1;
        }
    }

    progress p;
    progress_init(&p, stderr);
    for (int d = 0; d < nruns; d++)
        for (size_t k = 0; k < NGROUPS; k++) {
            if (o.only_group && strcmp(o.only_group, groups[k].name) != 0) continue;
            if (o.quick && !groups[k].in_quick && !o.only_group) continue; /* tta: asked for by name */
            if (p.tty) {
                fprintf(stderr, "\r%-79s", "");
                fprintf(stderr, "\rbenchmarking %s: %s ...", runs[d].label, groups[k].name);
                fflush(stderr);
            }
            groups[k].fn(&runs[d], &o);
        }
    progress_clear(&p);

    print_table(runs, nruns, stdout, compare ? cmp.label : NULL, compare ? &cmp : NULL);
    int rc = 0;
    if (json && write_json(json, runs, nruns, &o, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-bench: %s\n", err);
        rc = 1;
    }
    if (csv && write_csv(csv, runs, nruns, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-bench: %s\n", err);
        rc = 1;
    }
    if (roofline && write_roofline(roofline, runs, nruns, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-bench: %s\n", err);
        rc = 1;
    }
    if (svg && write_svg(svg, runs, nruns, compare ? &cmp : NULL, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-bench: %s\n", err);
        rc = 1;
    }
    if (base) {
        if (bench_gate(runs, nruns, base, nbase, threshold / 100, stdout) > 0 && rc == 0) rc = 3;
        free(base);
    }
    for (int d = 0; d < nruns; d++)
        for (int i = 0; i < runs[d].nresults; i++)
            if (runs[d].results[i].check == CHECK_FAILED) rc = 1;
    free(runs);
    return rc;
}
