/*
 * clgrad_mpi.h: data parallelism across processes through MPI.
 *
 *   #include <mpi.h>
 *   #include <clgrad_mpi.h>
 *   ...
 *   clg_replicas_use_mpi(replicas, MPI_COMM_WORLD, 60.0);
 *
 * Each process (rank) runs the same model on its own slice of every batch
 * through clg_replicas (one replica or several), and clg_replicas_step
 * sums each bucket of gradients across the ranks with a non-blocking
 * MPI_Iallreduce, started as soon as this rank's replicas have produced
 * the bucket, so the sums travel while backward goes on. Gradients are
 * averaged over ranks x replicas; give every rank the same number of
 * replicas and rows, and the same parameters to start from (one seed, or
 * one checkpoint loaded by every rank).
 *
 * Header-only on purpose: it is compiled into the program with the
 * program's own MPI (Open MPI and MPICH differ in ABI: MPI_Comm is a
 * pointer in one and an int in the other), so libclgrad itself never
 * links MPI. Link the program with MPI (CMake: MPI::MPI_C).
 *
 * The reducer works on a duplicate of comm (its messages never meet the
 * program's) whose errors return instead of aborting. The sums are
 * MPI_SUM over doubles; Open MPI and MPICH choose the algorithm from the
 * message size and the number of ranks, so a configuration sums in the
 * same order on every run, and every rank receives the same bits (the
 * parameters stay identical; tests/test_mpi.c checks both).
 *
 * Failure: a rank waits at most timeout_s seconds (0: forever) for a sum;
 * then clg_replicas_step returns CLG_ERR_PEER with a message naming the
 * ranks that did not reach this step (each rank tells the others when it
 * starts a step), or saying that all did and the sum still did not
 * complete. Call MPI_Abort then: the other ranks may be blocked.
 *
 * Thread safety: as clg_replicas (one thread steps it); MPI must be
 * initialised, with at least MPI_THREAD_FUNNELED where other threads exist.
 * clg_replicas_destroy (or a later clg_replicas_set_reducer) frees the
 * duplicate communicator, which MPI_Finalize must follow.
 */
#ifndef CLGRAD_MPI_H
#define CLGRAD_MPI_H

#include <mpi.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clgrad.h"

typedef struct clg_mpi_state_ {
    MPI_Comm comm;
    int rank, size;
    double timeout;
    MPI_Request *req; /* [nreq]: bucket b's sum */
    int nreq;
    long step;                  /* steps started on this rank */
    int arrivals_open;          /* the previous step's arrival messages are not yet complete */
    int *arrived;               /* [size]: the step each rank said it started (received into) */
    int mine;                   /* what this rank sent */
    MPI_Request *arrive;        /* [2 * size]: receives, then sends */
} clg_mpi_state_;

static void clg_mpi_message_(int rc, char *err, size_t len, const char *what)
{
    char s[MPI_MAX_ERROR_STRING] = "";
    int n = 0;
    MPI_Error_string(rc, s, &n);
    snprintf(err, len, "%s: %s", what, s);
}

/* Every rank tells every other one that it has started step `step`, so
 * that a rank left waiting can say which ranks never came. */
static int clg_mpi_arrivals_(clg_mpi_state_ *m, char *err, size_t len)
{
    int rc = MPI_SUCCESS;
    if (m->arrivals_open) { /* the last step's sums completed, so every rank sent these */
        rc = MPI_Waitall(2 * m->size, m->arrive, MPI_STATUSES_IGNORE);
        m->arrivals_open = 0;
        if (rc != MPI_SUCCESS) {
            clg_mpi_message_(rc, err, len, "MPI_Waitall (the ranks' arrivals)");
            return 1;
        }
    }
    m->mine = (int)(m->step % 30000);
    for (int q = 0; q < m->size; q++) {
        m->arrive[q] = m->arrive[m->size + q] = MPI_REQUEST_NULL;
        m->arrived[q] = -1;
        if (q == m->rank) continue;
        if (rc == MPI_SUCCESS) rc = MPI_Irecv(&m->arrived[q], 1, MPI_INT, q, 1, m->comm, &m->arrive[q]);
        if (rc == MPI_SUCCESS) rc = MPI_Isend(&m->mine, 1, MPI_INT, q, 1, m->comm, &m->arrive[m->size + q]);
    }
    m->arrivals_open = 1;
    if (rc != MPI_SUCCESS) {
        clg_mpi_message_(rc, err, len, "MPI_Isend/MPI_Irecv (the ranks' arrivals)");
        return 1;
    }
    return 0;
}

static int clg_mpi_start_(void *user, int bucket, double *data, size_t count, char *err, size_t len)
{
    clg_mpi_state_ *m = (clg_mpi_state_ *)user;
    if (bucket == 0) {
        m->step++;
        if (clg_mpi_arrivals_(m, err, len)) return 1;
    }
    if (count > (size_t)INT_MAX) {
        snprintf(err, len, "a bucket of %zu gradients is more than MPI's int count takes (smaller buckets: "
                           "clg_replicas_set_bucket_size)", count);
        return 1;
    }
    if (bucket >= m->nreq) {
        int n = bucket + 16;
        MPI_Request *q = (MPI_Request *)realloc(m->req, (size_t)n * sizeof *q);
        if (!q) {
            snprintf(err, len, "out of host memory");
            return 1;
        }
        for (int i = m->nreq; i < n; i++) q[i] = MPI_REQUEST_NULL;
        m->req = q;
        m->nreq = n;
    }
    int rc = MPI_Iallreduce(MPI_IN_PLACE, data, (int)count, MPI_DOUBLE, MPI_SUM, m->comm, &m->req[bucket]);
    if (rc != MPI_SUCCESS) {
        clg_mpi_message_(rc, err, len, "MPI_Iallreduce");
        return 1;
    }
    return 0;
}

static int clg_mpi_wait_(void *user, int bucket, char *err, size_t len)
{
    clg_mpi_state_ *m = (clg_mpi_state_ *)user;
    if (bucket >= m->nreq || m->req[bucket] == MPI_REQUEST_NULL) return 0;
    const double t0 = MPI_Wtime();
    for (;;) {
        int done = 0;
        int rc = MPI_Test(&m->req[bucket], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            clg_mpi_message_(rc, err, len, "MPI_Test (a bucket's MPI_Iallreduce)");
            return 1;
        }
        if (done) return 0;
        /* polled as MPI_Wait polls (MPI_Test progresses the sum); by now
         * backward has finished, so the poll takes no device time */
        if (m->timeout > 0 && MPI_Wtime() - t0 > m->timeout) break;
    }
    /* who never started this step */
    char missing[256] = "";
    size_t used = 0;
    int nmissing = 0;
    for (int q = 0; q < m->size; q++) {
        if (q == m->rank) continue;
        int got = 1;
        if (m->arrive[q] != MPI_REQUEST_NULL) MPI_Test(&m->arrive[q], &got, MPI_STATUS_IGNORE);
        if (got) continue; /* its message for this step came */
        nmissing++;
        if (used + 16 < sizeof missing)
            used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%d", nmissing > 1 ? ", " : "", q);
    }
    if (nmissing)
        snprintf(err, len, "rank %d of %d waited %.0f s: rank%s %s did not start step %ld (died, hung or ran out of "
                           "memory)", m->rank, m->size, m->timeout, nmissing > 1 ? "s" : "", missing, m->step);
    else
        snprintf(err, len, "rank %d of %d waited %.0f s: every rank started step %ld, but bucket %d's sum did not "
                           "complete (a rank died, hung or ran out of memory during backward)",
                 m->rank, m->size, m->timeout, m->step, bucket);
    return 1;
}

static void clg_mpi_release_(void *user)
{
    clg_mpi_state_ *m = (clg_mpi_state_ *)user;
    if (!m) return;
    /* requests still open belong to a failed step; the job is ending */
    free(m->req);
    free(m->arrived);
    free(m->arrive);
    MPI_Comm_free(&m->comm);
    free(m);
}

/* Sums r's buckets across the ranks of comm (see above). */
static inline clg_status clg_replicas_use_mpi(clg_replicas *r, MPI_Comm comm, double timeout_s)
{
    if (!r) return CLG_ERR_INVALID_ARGUMENT;
    clg_mpi_state_ *m = (clg_mpi_state_ *)calloc(1, sizeof *m);
    if (!m) return CLG_ERR_OUT_OF_MEMORY;
    if (MPI_Comm_dup(comm, &m->comm) != MPI_SUCCESS) {
        free(m);
        return CLG_ERR_PEER;
    }
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    m->timeout = timeout_s > 0 ? timeout_s : 0;
    m->arrived = (int *)calloc((size_t)m->size, sizeof *m->arrived);
    m->arrive = (MPI_Request *)calloc((size_t)m->size * 2, sizeof *m->arrive);
    if (!m->arrived || !m->arrive) {
        clg_mpi_release_(m);
        return CLG_ERR_OUT_OF_MEMORY;
    }
    clg_reducer red = {m->size, m, clg_mpi_start_, clg_mpi_wait_, clg_mpi_release_};
    clg_status s = clg_replicas_set_reducer(r, &red);
    if (s != CLG_OK) clg_mpi_release_(m);
    return s;
}

#endif
