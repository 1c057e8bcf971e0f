/*
 * Data parallelism across processes (include/clgrad_mpi.h), run by ctest
 * as `mpirun -np 2 test_mpi`: every rank runs these tests, in step.
 *
 * - 2 ranks x 1 replica (batch B/2 each) and 2 ranks x 2 replicas (B/4,
 *   a bucket per gradient) take the steps one graph takes with batch B:
 *   the MLP and the CNN on the reference and on the first OpenCL device,
 *   parameters within 1e-5 relative plus 1e-6 of the largest of the one
 *   graph's (as tests/test_replicas.c states); equal on every rank bit for
 *   bit; and two runs of the same configuration equal bit for bit.
 * - A rank that does not come: rank 1 stays away past rank 0's timeout;
 *   rank 0's step fails with CLG_ERR_PEER naming rank 1, then rank 1
 *   comes, so that the job ends cleanly.
 *
 * cmocka on every rank: a failed assertion on one rank leaves the other
 * waiting until its reducer's timeout (TIMEOUT), then failing too.
 */
#include "replica_model.h"

#include <mpi.h>

#include <clgrad_mpi.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT 120.0

static int rank, size;

/* The parameters after STEPS steps of `local` replicas per rank, each on
 * spec with rows of its own slice; equal on every rank (checked). */
static size_t train_ranks(const char *spec, int local, bool cnn, size_t bucket, float *out)
{
    model m[2];
    clg_graph *gs[2];
    const int per = B / (size * local);
    for (int i = 0; i < local; i++) {
        build(&m[i], spec, per, cnn);
        init_params(&m[i], i == 0 ? 7 : 100 + (uint64_t)i); /* every rank's replica 0 the same, as a program
                                                                 starts them (one seed or one checkpoint) */
        gs[i] = m[i].g;
    }
    clg_replicas *r;
    CHECK_OK(m[0].ctx, clg_replicas_create(gs, local, &r));
    if (bucket) CHECK_OK(m[0].ctx, clg_replicas_set_bucket_size(r, bucket));
    CHECK_OK(m[0].ctx, clg_replicas_use_mpi(r, MPI_COMM_WORLD, TIMEOUT));
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < local; i++) feed(&m[i], s, (rank * local + i) * per, cnn);
        CHECK_OK(m[0].ctx, clg_replicas_step(r));
    }
    const size_t k = params(&m[0], out);
    float *all = malloc((size_t)size * k * sizeof *all);
    assert_non_null(all);
    MPI_Allgather(out, (int)k, MPI_FLOAT, all, (int)k, MPI_FLOAT, MPI_COMM_WORLD);
    for (int q = 1; q < size; q++)
        if (memcmp(all + (size_t)q * k, all, k * sizeof *all))
            fail_msg("rank %d's parameters differ from rank 0's (%s, %d replicas per rank)", q, spec, local);
    free(all);
    clg_replicas_destroy(r);
    for (int i = 0; i < local; i++) destroy(&m[i]);
    return k;
}

static void check(const char *spec, int local, bool cnn, size_t bucket)
{
    float want[MAXW], got[MAXW], again[MAXW];
    const size_t k = train_one(cnn, want);
    assert_int_equal(train_ranks(spec, local, cnn, bucket, got), k);
    char what[160];
    snprintf(what, sizeof what, "%s, %d ranks x %d replicas on %s against one graph", cnn ? "cnn" : "mlp", size, local,
             spec);
    assert_close_scaled(got, want, k, 1e-5, 1e-6, what);
    assert_int_equal(train_ranks(spec, local, cnn, bucket, again), k);
    if (memcmp(again, got, k * sizeof *got)) fail_msg("%s: two runs differ", what);
}

static void test_ranks(void **state)
{
    (void)state;
    char specs[8][32];
    const char *spec[2] = {"reference", NULL};
    if (test_opencl_devices(specs, 8) > 0) spec[1] = specs[0];
    for (int d = 0; d < 2 && spec[d]; d++) {
        check(spec[d], 1, false, 0);
        check(spec[d], 1, true, 0);
        check(spec[d], 2, false, 1);
        check(spec[d], 2, true, 1);
    }
}

/* Rank 1 comes late: rank 0 gives up after 2 s naming it. */
static void test_late_rank(void **state)
{
    (void)state;
    model m;
    build(&m, "reference", B / size, false);
    init_params(&m, 7);
    feed(&m, 0, rank * (B / size), false);
    clg_replicas *r;
    CHECK_OK(m.ctx, clg_replicas_create(&m.g, 1, &r));
    CHECK_OK(m.ctx, clg_replicas_use_mpi(r, MPI_COMM_WORLD, 2.0));
    if (rank == 0) {
        assert_int_equal(clg_replicas_step(r), CLG_ERR_PEER);
        char want[64];
        snprintf(want, sizeof want, "rank 0 of %d waited 2 s: rank%s 1", size, size > 2 ? "s" : "");
        ASSERT_MSG_HAS(m.ctx, want);
        ASSERT_MSG_HAS(m.ctx, "did not start step 1");
        MPI_Barrier(MPI_COMM_WORLD);
    } else {
        MPI_Barrier(MPI_COMM_WORLD); /* after rank 0 gave up */
        CHECK_OK(m.ctx, clg_replicas_step(r)); /* joins rank 0's sums, which it left in flight */
    }
    MPI_Barrier(MPI_COMM_WORLD);
    clg_replicas_destroy(r);
    destroy(&m);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2 || B % (size * 2)) {
        if (rank == 0) fprintf(stderr, "test_mpi: run it with mpirun -np 2 (or 4)\n");
        MPI_Finalize();
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranks),
        cmocka_unit_test(test_late_rank),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
