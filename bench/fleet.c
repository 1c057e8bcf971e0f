/*
 * clgrad-train's replicas: one model per --device, each with the same
 * optimizer, stepped together by clg_replicas (gradients averaged in
 * buckets while backward runs), and under mpirun the same on every rank,
 * summed across the ranks by clgrad_mpi.h's reducer.
 *
 * The whole batch comes from the loader on every rank (one seed, one
 * shuffled order); rank r takes rows [r B/R, (r + 1) B/R) and splits them
 * over its devices, evenly or in proportion to each device's measured
 * forward and backward time (clg_replicas_set_rows weighs the slices).
 */
#include "fleet.h"
#include "progress.h"

#ifdef CLG_TRAIN_MPI
#include <mpi.h>

#include <clgrad_mpi.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const fleet *f, int i, const char *what, const char *msg)
{
    char line[4096];
    snprintf(line, sizeof line, "%s", msg ? msg : "");
    for (char *c = line; *c; c++)
        if (*c == '\n') *c = ';';
    char who[32] = "";
    if (f->ranks > 1) snprintf(who, sizeof who, "rank %d: ", f->rank);
    if (i >= 0 && f->n > 1)
        fprintf(stderr, "clgrad-train: %sdevice %d (%s): %s: %s\n", who, i,
                f->ctx[i] ? clg_context_device(f->ctx[i]) : "?", what, line);
    else
        fprintf(stderr, "clgrad-train: %s%s: %s\n", who, what, line);
    return 1;
}

static int build_model(fleet *f, const fleet_spec *s, int i, int rows)
{
    model *m = &f->m[i];
    clg_optimizer_config flat = *s->cfg;
    flat.weight_decay = 0;
    if (model_build(f->ctx[i], s->kind, rows, s->width, s->seed, s->augment, s->label_smoothing, s->qat,
                    s->precision, m) != CLG_OK ||
        clg_optimizer_groups(m->g, s->cfg, s->cfg->weight_decay > 0 && m->nflat > 0,
                             &(clg_optimizer_group){&flat, m->nflat, m->flat}) != CLG_OK)
        return fail(f, i, "building the model", clg_context_errmsg(f->ctx[i]));
    return 0;
}

/* Seconds of forward and backward for device i at `rows` rows: the median
 * of three after one to compile and warm. */
static int time_device(fleet *f, const fleet_spec *s, int i, int rows, double *seconds)
{
    if (build_model(f, s, i, rows)) return 1;
    model *m = &f->m[i];
    clg_status st = clg_tensor_fill(m->g, m->x, 0.5f);
    int32_t *y = calloc((size_t)rows, sizeof *y);
    if (!y) return fail(f, i, "measuring its speed", "out of memory");
    if (st == CLG_OK) st = clg_tensor_set_i32(m->g, m->labels, y, (size_t)rows);
    free(y);
    double t[4];
    for (int k = 0; k < 4 && st == CLG_OK; k++) {
        double t0 = now_seconds();
        st = clg_graph_run(m->g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD);
        if (st == CLG_OK) st = clg_graph_wait(m->g);
        t[k] = now_seconds() - t0;
    }
    if (st != CLG_OK) return fail(f, i, "measuring its speed", clg_context_errmsg(f->ctx[i]));
    double a = t[1], b = t[2], c = t[3];
    *seconds = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    clg_graph_destroy(m->g);
    memset(m, 0, sizeof *m);
    return 0;
}

/* rows[i] in proportion to 1 / seconds[i] (rows per second at an equal
 * split), at least 1 each, summing to total. */
static void split_by_speed(int n, const double *seconds, int total, int *rows)
{
    double speed[FLEET_MAX_DEVICES], sum = 0;
    for (int i = 0; i < n; i++) sum += speed[i] = 1.0 / (seconds[i] > 1e-9 ? seconds[i] : 1e-9);
    int given = 0;
    for (int i = 0; i < n; i++) {
        rows[i] = (int)(total * speed[i] / sum);
        if (rows[i] < 1) rows[i] = 1;
        given += rows[i];
    }
    while (given > total) { /* from the largest, never below 1 */
        int big = 0;
        for (int i = 1; i < n; i++)
            if (rows[i] > rows[big]) big = i;
        rows[big]--;
        given--;
    }
    while (given < total) { /* to the fastest */
        int fast = 0;
        for (int i = 1; i < n; i++)
            if (speed[i] > speed[fast]) fast = i;
        rows[fast]++;
        given++;
    }
}

int fleet_build(fleet *f, const fleet_spec *s)
{
    memset(f, 0, sizeof *f);
    f->n = s->n;
    f->rank = s->rank;
    f->ranks = s->ranks;
    f->comm = s->comm;
    if (s->n < 1 || s->n > FLEET_MAX_DEVICES) return fail(f, -1, "--device", "1 to 8 devices");
    if (s->batch % s->ranks)
        return fail(f, -1, "--batch", "must be a multiple of the number of ranks (each takes an equal share)");
    const int mine = s->batch / s->ranks;
    if (mine < s->n) return fail(f, -1, "--batch", "gives a device no rows: fewer rows per rank than devices");
    for (int i = 0; i < s->n; i++)
        if (clg_context_create(s->devices[i], &f->ctx[i]) != CLG_OK)
            return fail(f, i, "opening the device", clg_context_errmsg(f->ctx[i]));
    for (int i = 0; i < s->n; i++) f->rows[i] = mine / s->n + (i < mine % s->n);
    if (s->by_speed && s->n > 1) {
        double sec[FLEET_MAX_DEVICES];
        for (int i = 0; i < s->n; i++)
            if (time_device(f, s, i, f->rows[i], &sec[i])) return 1;
        split_by_speed(s->n, sec, mine, f->rows);
        if (f->rank == 0)
            for (int i = 0; i < s->n; i++)
                printf("split: device %d (%s) %.2f ms for forward and backward at an equal share; takes %d rows\n", i,
                       clg_context_device(f->ctx[i]), sec[i] * 1e3, f->rows[i]);
    }
    for (int i = 0, at = f->rank * mine; i < s->n; at += f->rows[i], i++) f->first[i] = at;
    for (int i = 0; i < s->n; i++)
        if (build_model(f, s, i, f->rows[i])) return 1;
    if (s->n == 1 && s->ranks == 1) return 0;
    clg_graph *gs[FLEET_MAX_DEVICES];
    int64_t rows[FLEET_MAX_DEVICES];
    bool equal = true;
    for (int i = 0; i < s->n; i++) {
        gs[i] = f->m[i].g;
        rows[i] = f->rows[i];
        equal &= f->rows[i] == f->rows[0];
    }
    if (clg_replicas_create(gs, s->n, &f->r) != CLG_OK || (!equal && clg_replicas_set_rows(f->r, rows) != CLG_OK))
        return fail(f, -1, "data parallelism", clg_context_errmsg(f->ctx[0]));
#ifdef CLG_TRAIN_MPI
    if (s->ranks > 1 && clg_replicas_use_mpi(f->r, *(MPI_Comm *)s->comm, s->timeout) != CLG_OK)
        return fail(f, -1, "data parallelism across ranks", clg_context_errmsg(f->ctx[0]));
#endif
    return 0;
}

int fleet_step(fleet *f, const float *x, const int32_t *y, double *loss)
{
    for (int i = 0; i < f->n; i++) {
        model *m = &f->m[i];
        if (clg_tensor_set(m->g, m->x, x + (size_t)f->first[i] * 784, (size_t)f->rows[i] * 784) != CLG_OK ||
            clg_tensor_set_i32(m->g, m->labels, y + f->first[i], (size_t)f->rows[i]) != CLG_OK)
            return fail(f, i, "a batch", clg_context_errmsg(f->ctx[i]));
    }
    if (f->r) {
        if (clg_replicas_step(f->r) != CLG_OK) return fail(f, -1, "a step", clg_context_errmsg(f->ctx[0]));
    } else if (clg_graph_run(f->m[0].g, CLG_RUN_ALL) != CLG_OK) {
        return fail(f, 0, "a step", clg_context_errmsg(f->ctx[0]));
    }
    double sum = 0;
    int rows = 0;
    for (int i = 0; i < f->n; i++) {
        float l;
        if (clg_tensor_get(f->m[i].g, f->m[i].loss, &l, 1) != CLG_OK)
            return fail(f, i, "reading the loss", clg_context_errmsg(f->ctx[i]));
        sum += (double)l * f->rows[i];
        rows += f->rows[i];
    }
    *loss = sum / rows;
    return 0;
}

void fleet_free(fleet *f)
{
    clg_replicas_destroy(f->r);
    for (int i = 0; i < f->n; i++) clg_context_destroy(f->ctx[i]);
    memset(f, 0, sizeof *f);
}
