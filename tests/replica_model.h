/*
 * The models the data-parallel tests train (tests/test_replicas.c,
 * tests/test_mpi.c): a small MLP and a small CNN (no batch norm: its
 * statistics are per replica), SGD with momentum, on fresh random data
 * per step; rows [first, first + batch) of step s's batch of B rows go to
 * a replica, so slices over replicas and processes add up to the batch one
 * graph takes.
 */
#ifndef CLG_TEST_REPLICA_MODEL_H
#define CLG_TEST_REPLICA_MODEL_H

#include "util.h"

#include <stdbool.h>

enum { B = 8, IN = 6, HID = 8, OUT = 3, STEPS = 3, MAXP = 4, MAXW = 512 };

typedef struct {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor x, labels, p[MAXP];
    int np, batch;
} model;

/* cnn: x [b, 1, 5, 5], conv 3x3 (2 channels, padding 1), relu, [b, 50] x
 * [50, 3]; else x [b, 6], [6, 8] + [8], relu, [8, 3] + [3]. */
void build(model *m, const char *spec, int batch, bool cnn);
void destroy(model *m);
size_t numel(const model *m, int k);
void init_params(model *m, uint64_t seed);
/* No cmocka assertion: threads and MPI ranks call it. */
clg_status feed_status(model *m, int s, int first, bool cnn);
void feed(model *m, int s, int first, bool cnn);
/* The parameters, concatenated; their count. */
size_t params(model *m, float *out);
/* One reference graph with batch B, STEPS steps from init_params(7). */
size_t train_one(bool cnn, float *out);

#endif
