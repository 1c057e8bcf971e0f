/* The replicas clgrad-train trains (issue 15): one model per --device in
 * this process, and with mpirun the same on every rank, each taking its
 * slice of every batch (bench/fleet.c). */
#ifndef CLG_FLEET_H
#define CLG_FLEET_H

#include "models.h"

#define FLEET_MAX_DEVICES 8

typedef struct fleet {
    int n;                             /* replicas in this process */
    clg_context *ctx[FLEET_MAX_DEVICES];
    model m[FLEET_MAX_DEVICES];        /* m[0]: evaluation, checkpoints, messages */
    int rows[FLEET_MAX_DEVICES];       /* replica i takes rows [first[i], first[i] + rows[i]) of each batch */
    int first[FLEET_MAX_DEVICES];
    clg_replicas *r;                   /* NULL: one replica, one process */
    int rank, ranks;                   /* MPI (0 and 1 without) */
    void *comm;                        /* the MPI communicator (an MPI_Comm *), or NULL */
} fleet;

/* How a fleet is made: the options a model takes, the devices, how a
 * batch of `batch` rows is split. */
typedef struct fleet_spec {
    const char *kind;
    int batch, width, augment;
    uint64_t seed;
    float label_smoothing;
    const clg_optimizer_config *cfg;   /* weight decay for the weights; none for the 1-D parameters */
    const char *const *devices;        /* n specs (NULL entries: the default device) */
    int n;
    int by_speed;                      /* split by each device's measured step time, else evenly */
    int rank, ranks;
    void *comm;
    double timeout;                    /* seconds a rank waits for the others (MPI) */
    int qat;                           /* QAT_* (bench/models.h) */
    int precision;                     /* PRECISION_* (bench/models.h) */
} fleet_spec;

/* Contexts, models with optimizers, the split, the replicas. On an error
 * prints one line (naming the device) and returns nonzero; fleet_free
 * frees what was made. */
int fleet_build(fleet *f, const fleet_spec *s);
/* x and y: the whole batch; every replica takes its rows, then one step.
 * *loss: the batch's mean loss over this process's rows. */
int fleet_step(fleet *f, const float *x, const int32_t *y, double *loss);
void fleet_free(fleet *f);

#endif
