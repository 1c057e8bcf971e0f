/* clgrad-bench: shared types of the harness and its groups. */
#ifndef CLG_BENCH_H
#define CLG_BENCH_H

#include <clgrad.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BENCH_MAX_RESULTS 256
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
    result results[BENCH_MAX_RESULTS];
    int nresults;
} device_run;

typedef struct bench_opts {
    int repeat;
    double size_scale; /* --size: multiplies the default sizes */
    bool quick;
    const char *only_group; /* NULL: all groups of the suite */
} bench_opts;

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

/* The groups. Each appends results to d. */
void group_ceilings(device_run *d, const bench_opts *o);
/* Part of the ceilings: the best GEMM rate over square sizes. */
void ceilings_gemm(device_run *d, const bench_opts *o);
void group_ops(device_run *d, const bench_opts *o);
void group_gemm(device_run *d, const bench_opts *o);
void group_optim(device_run *d, const bench_opts *o);
void group_train(device_run *d, const bench_opts *o);
void group_startup(device_run *d, const bench_opts *o);

result *bench_new_result(device_run *d, const char *group, const char *name, const char *size);

/* Output. */
void print_table(device_run *runs, int nruns, FILE *out, const char *compare_label, device_run *compare);
int write_json(const char *path, device_run *runs, int nruns, const bench_opts *o, char *err, size_t errlen);
int write_csv(const char *path, device_run *runs, int nruns, char *err, size_t errlen);
int write_svg(const char *path, device_run *runs, int nruns, char *err, size_t errlen);
/* Reads a JSON file of the same schema (e.g. from bench/compare_torch.py)
 * into one device_run. */
int read_compare_json(const char *path, device_run *out, char *err, size_t errlen);
/* Checks a file against bench/SCHEMA.md; 0 when it conforms. */
int bench_check_json(const char *path, char *err, size_t errlen);

#endif
