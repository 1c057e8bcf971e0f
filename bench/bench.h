/* clgrad-bench: shared types of the harness and its groups. */
#ifndef CLG_BENCH_H
#define CLG_BENCH_H

#include <clgrad.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BENCH_MAX_RESULTS 512
#define BENCH_MAX_DEVICES 16

typedef enum { CHECK_OK, CHECK_FAILED, CHECK_SKIPPED } check_status;

typedef struct result {
    char group[16];
    char name[64];
    char size[48];
    double median, min, max; /* seconds */
    double enqueue;          /* host clock: median seconds until the run was enqueued (0: not measured) */
    double work;             /* bytes or flops or samples per run, per unit below */
    char unit[12];           /* "GB/s", "GFLOP/s", "samples/s", "params/s", "ms" */
    double rate;             /* work / median in unit */
    double ratio;            /* rate / the device's ceiling for this unit, or 0 */
    double flops, bytes;     /* per run, where known (0 otherwise): the roofline's intensity */
    check_status check;
    char note[160]; /* why a check failed or a result was skipped */
} result;

typedef struct device_run {
    char spec[32];
    char label[96]; /* short column title */
    char description[448];
    bool is_reference;
    clg_device_facts facts;
    double copy_gbs;     /* ceiling: copy bandwidth, bytes read + written */
    double gemm_gflops;  /* ceiling: best GEMM rate */
    double gemm_seen;    /* the best GEMM rate measured so far (the budget's estimates) */
    result results[BENCH_MAX_RESULTS];
    int nresults;
} device_run;

typedef struct bench_opts {
    int repeat;
    double size_scale; /* --size: multiplies the default sizes */
    bool quick;
    const char *only_group; /* NULL: all groups of the suite */
    double budget;          /* seconds a result may take; one estimated to take longer is skipped, saying so */
    const char *op;         /* --op: only results whose name matches (a shell pattern, else a substring) */
} bench_opts;

/* Whether --op picks a result of this name (ceilings always run: the
 * ratios need them). */
bool bench_wanted(const bench_opts *o, const char *name);

/* The estimated seconds of a result's runs (the check run, warm-up and
 * repeats) from one run's seconds: over o->budget, the result is skipped
 * with a note naming the estimate. Returns true when it may run. */
bool bench_within_budget(result *r, const bench_opts *o, double one_run_seconds, int warmup);

/* A benchmark measures one workload on one device: it builds the graph,
 * checks one run's output against the reference (or an invariant), then
 * times `repeat` runs after warm-up. Returns false when it could not run
 * at all (the result says why). */
typedef struct bench_case bench_case;

/* Times runs of g (phases) after `warmup` untimed runs; device time by
 * event profiling, or a host clock around synchronised runs when
 * host_clock is set. Fills median/min/max. */
bool bench_time_graph(clg_graph *g, int phases, int warmup, int repeat, bool host_clock, result *r);
void result_set_rate(result *r, double work, const char *unit, double ceiling);
void result_fail(result *r, const char *fmt, ...);

/* The groups, in the order they run and are reported: one list that
 * clgrad-bench's table (bench.c), the report's order (report.c) and the
 * JSON schema's check (schema.c) expand. X(name, in_quick): group_<name>
 * appends its results to d; in_quick: part of --suite quick. */
#define BENCH_GROUPS(X)                                                                                              \
    X(startup, true) X(ceilings, true) X(ops, true) X(gemm, true) X(optim, true) X(train, true)                     \
    X(scale, false) X(tta, false) /* scale: a minute per device; tta: minutes. The full suite or --group */
#define BENCH_GROUP_NAME(name, quick) #name,

/* The groups. Each appends results to d. */
void group_scale(device_run *d, const bench_opts *o);
void group_ceilings(device_run *d, const bench_opts *o);
/* Part of the ceilings: the best GEMM rate over square sizes. */
void ceilings_gemm(device_run *d, const bench_opts *o);
void group_ops(device_run *d, const bench_opts *o);
void group_gemm(device_run *d, const bench_opts *o);
void group_optim(device_run *d, const bench_opts *o);
void group_train(device_run *d, const bench_opts *o);
void group_startup(device_run *d, const bench_opts *o);
/* The ops group's rows, inputs and work as JSON (bench/compare_torch.py). */
int list_cases(const bench_opts *o, FILE *f);
void group_tta(device_run *d, const bench_opts *o);

result *bench_new_result(device_run *d, const char *group, const char *name, const char *size);

/* d's result with like's group, name and size, or NULL. */
const result *bench_find(const device_run *d, const result *like);
/* Higher is better for every unit: a rate, or a time's inverse; 0 when
 * the result did not run. */
double bench_goodness(const result *x);

/* Output. */
void print_table(device_run *runs, int nruns, FILE *out, const char *compare_label, device_run *compare);
int write_json(const char *path, device_run *runs, int nruns, const bench_opts *o, char *err, size_t errlen);
int write_csv(const char *path, device_run *runs, int nruns, char *err, size_t errlen);
/* Every row of the table as bars per device (and the compared run, or NULL). */
int write_svg(const char *path, device_run *runs, int nruns, const device_run *compare, char *err, size_t errlen);
/* Achieved GFLOP/s against flops per byte, under each device's roof. */
int write_roofline(const char *path, device_run *runs, int nruns, char *err, size_t errlen);
/* Reads a JSON file of the same schema (e.g. from bench/compare_torch.py)
 * into one device_run. */
int read_compare_json(const char *path, device_run *out, char *err, size_t errlen);
/* The summary of a clgrad-train --json file run with --target-accuracy. */
typedef struct train_summary {
    bool reached;          /* the target was reached */
    int reached_epoch;     /* 0 when not */
    double seconds_to_target;
    double final_accuracy;
} train_summary;
int read_train_summary(const char *path, train_summary *out, char *err, size_t errlen);
/* Every device of such a file, up to max. */
int read_runs_json(const char *path, device_run *out, int max, int *n, char *err, size_t errlen);
/* The regression gate: each device of runs against the baseline's device
 * of the same spec and name. A result regresses when its rate (a time's
 * inverse) fell below the baseline's by more than threshold beyond the
 * noise both runs measured (their max/min spreads); a device regresses
 * when the geometric mean over its common rows fell by more than
 * threshold. Prints what it found; returns the number of regressions. */
int bench_gate(const device_run *runs, int nruns, const device_run *base, int nbase, double threshold, FILE *out);
/* Checks a file against bench/SCHEMA.md; 0 when it conforms. */
int bench_check_json(const char *path, char *err, size_t errlen);

#endif
