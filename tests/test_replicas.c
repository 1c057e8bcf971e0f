/*
 * Data parallelism in one process (clg_replicas, core/replicas.c): n
 * replicas with batch B/n each take the steps one graph takes with batch B.
 * An MLP and a small CNN (no batch norm: its statistics are per replica),
 * SGD with momentum, three steps; the replicas on the reference, on every
 * OpenCL device (two contexts on one device), and mixed (reference and a
 * device), against one reference graph: parameters within 1e-5 relative
 * plus 1e-6 of the largest (the averaged gradient differs from the whole
 * batch's by the rounding of the two means, a few ulp; three steps of lr
 * 0.1 carry that into the weights). Two runs of the same replicas agree
 * bit for bit, and with buckets of one gradient each (segments of
 * backward, reads while the rest runs) as with one bucket. Replica 0's
 * parameters reach the others at create; the refusals (parameters that
 * differ, no backward, accumulation, a graph twice) change nothing.
 *
 * Processes through a clg_reducer: two threads stand for two processes
 * (each its own contexts and replicas), exchanging their buckets through
 * a reducer of the tests' own (barriers, sums in process order), so the
 * reducer contract is tested without MPI (tests/test_mpi.c runs the MPI
 * one under mpirun): 2 processes x 2 replicas against one graph, equal
 * across processes bit for bit; a reducer that fails, at the start or the
 * wait of a bucket, gives CLG_ERR_PEER with its message, each started
 * bucket is waited for, and the replicas step again afterwards.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica_model.h"

/* n replicas on specs[i] (batch B / n each), STEPS steps; their parameters
 * (checked equal across replicas) into out. bucket: 0 for the default
 * (one bucket: these models are small), else 1 byte (a bucket per
 * gradient). */
static size_t train_replicas(const char *const *specs, int n, bool cnn, size_t bucket, float *out)
{
    model m[4];
    clg_graph *gs[4];
    for (int i = 0; i < n; i++) {
        build(&m[i], specs[i], B / n, cnn);
        init_params(&m[i], i == 0 ? 7 : 100 + (uint64_t)i); /* replica 0's reach the others */
        gs[i] = m[i].g;
    }
    clg_replicas *r;
    CHECK_OK(m[0].ctx, clg_replicas_create(gs, n, &r));
    assert_int_equal(clg_replicas_count(r), n);
    if (bucket) CHECK_OK(m[0].ctx, clg_replicas_set_bucket_size(r, bucket));
    assert_int_equal(clg_replicas_buckets(r), bucket ? m[0].np : 1);
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < n; i++) feed(&m[i], s, i * (B / n), cnn);
        CHECK_OK(m[0].ctx, clg_replicas_step(r));
    }
    size_t k = params(&m[0], out);
    float other[MAXW];
    for (int i = 1; i < n; i++) {
        assert_int_equal(params(&m[i], other), k);
        if (memcmp(other, out, k * sizeof *out))
            fail_msg("replica %d on %s differs from replica 0 on %s", i, specs[i], specs[0]);
    }
    clg_replicas_destroy(r);
    for (int i = 0; i < n; i++) destroy(&m[i]);
    return k;
}

static void check(const char *const *specs, int n, bool cnn)
{
    float want[MAXW], got[MAXW], again[MAXW], split[MAXW];
    const size_t k = train_one(cnn, want);
    assert_int_equal(train_replicas(specs, n, cnn, 0, got), k);
    char what[160];
    snprintf(what, sizeof what, "%s, %d replicas (%s, %s...) against one graph", cnn ? "cnn" : "mlp", n, specs[0],
             specs[1]);
    assert_close_scaled(got, want, k, 1e-5, 1e-6, what);
    /* and moved: the comparison says something */
    float init[MAXW];
    model m;
    build(&m, "reference", B, cnn);
    init_params(&m, 7);
    params(&m, init);
    destroy(&m);
    double moved = 0;
    for (size_t i = 0; i < k; i++) moved += (got[i] - init[i]) * (got[i] - init[i]);
    assert_true(moved > 1e-4);
    assert_int_equal(train_replicas(specs, n, cnn, 0, again), k);
    if (memcmp(again, got, k * sizeof *got)) fail_msg("%s: two runs differ", what);
    assert_int_equal(train_replicas(specs, n, cnn, 1, split), k);
    if (memcmp(split, got, k * sizeof *got)) fail_msg("%s: a bucket per gradient differs from one bucket", what);
}

static void test_reference_replicas(void **state)
{
    (void)state;
    const char *const two[2] = {"reference", "reference"}, *const four[4] = {"reference", "reference", "reference",
                                                                              "reference"};
    check(two, 2, false);
    check(four, 4, false);
    check(two, 2, true);
}

static void test_device_replicas(void **state)
{
    (void)state;
    char specs[8][32];
    const int nd = test_opencl_devices(specs, 8);
    for (int d = 0; d < nd; d++) {
        const char *const same[2] = {specs[d], specs[d]}, *const mixed[2] = {"reference", specs[d]};
        check(same, 2, false);
        check(same, 2, true);
        check(mixed, 2, false);
    }
}

/* Slices of 6 and 2 rows, weighed by clg_replicas_set_rows, take one
 * graph's steps; without the weights they do not (the equal average
 * weighs the 2 rows as much as the 6). */
static void unequal(const char *spec, bool cnn)
{
    float want[MAXW], got[MAXW];
    const size_t k = train_one(cnn, want);
    for (int weighed = 1; weighed >= 0; weighed--) {
        model m[2];
        const int rows[2] = {6, 2};
        clg_graph *gs[2];
        for (int i = 0; i < 2; i++) {
            build(&m[i], i ? spec : "reference", rows[i], cnn);
            init_params(&m[i], 7);
            gs[i] = m[i].g;
        }
        clg_replicas *r;
        CHECK_OK(m[0].ctx, clg_replicas_create(gs, 2, &r));
        const int64_t rr[2] = {rows[0], rows[1]}, zero[2] = {6, 0};
        assert_int_equal(clg_replicas_set_rows(r, zero), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(m[0].ctx, "replica 1 has 0 rows");
        if (weighed) CHECK_OK(m[0].ctx, clg_replicas_set_rows(r, rr));
        for (int s = 0; s < STEPS; s++) {
            feed(&m[0], s, 0, cnn);
            feed(&m[1], s, rows[0], cnn);
            CHECK_OK(m[0].ctx, clg_replicas_step(r));
        }
        assert_int_equal(params(&m[0], got), k);
        char what[128];
        snprintf(what, sizeof what, "%s, 6 rows on the reference and 2 on %s, weighed", cnn ? "cnn" : "mlp", spec);
        if (weighed) {
            assert_close_scaled(got, want, k, 1e-5, 1e-6, what);
        } else {
            double d = 0;
            for (size_t j = 0; j < k; j++) d = fmax(d, fabs(got[j] - want[j]));
            assert_true(d > 1e-3);
        }
        clg_replicas_destroy(r);
        for (int i = 0; i < 2; i++) destroy(&m[i]);
    }
}

static void test_unequal_rows(void **state)
{
    (void)state;
    unequal("reference", false);
    unequal("reference", true);
    char specs[8][32];
    const int nd = test_opencl_devices(specs, 8);
    for (int d = 0; d < nd; d++) unequal(specs[d], false);
}

/* ---- processes through a reducer ---- */

enum { PROCS = 2, LOCAL = 2, MAXB = 8 };

/* What the processes share: each bucket's sums, one pointer per process. */
typedef struct {
    pthread_barrier_t bar;
    double *slot[PROCS][MAXB];
    size_t count[PROCS][MAXB];
} exchange;

typedef struct {
    exchange *x;
    int rank;
    int started, waited, released;
    int fail_start, fail_wait; /* the bucket that fails (-1: none); no peer then */
} peer;

static int ex_start(void *user, int b, double *data, size_t count, char *err, size_t len)
{
    peer *p = user;
    if (b == p->fail_start) {
        snprintf(err, len, "process 1 hung up");
        return 1;
    }
    p->started++;
    if (!p->x) return 0;
    if (b >= MAXB) {
        snprintf(err, len, "more than %d buckets", MAXB);
        return 1;
    }
    p->x->slot[p->rank][b] = data;
    p->x->count[p->rank][b] = count;
    return 0;
}

/* Every process has started b (first barrier), each sums the slots in
 * process order, and none overwrites its data before all have read it
 * (second barrier). */
static int ex_wait(void *user, int b, char *err, size_t len)
{
    peer *p = user;
    p->waited++;
    if (b == p->fail_wait) {
        snprintf(err, len, "no answer from process 1 in 30 s");
        return 1;
    }
    if (!p->x) return 0;
    exchange *x = p->x;
    pthread_barrier_wait(&x->bar);
    const size_t c = x->count[p->rank][b];
    double *t = malloc((c ? c : 1) * sizeof *t);
    bool same = true;
    for (int q = 0; q < PROCS; q++) same &= x->count[q][b] == c;
    for (size_t j = 0; t && same && j < c; j++) {
        t[j] = 0;
        for (int q = 0; q < PROCS; q++) t[j] += x->slot[q][b][j];
    }
    pthread_barrier_wait(&x->bar);
    if (t && same) memcpy(x->slot[p->rank][b], t, c * sizeof *t);
    free(t);
    if (!same || !t) snprintf(err, len, "bucket %d: %s", b, !same ? "sizes differ between processes" : "no memory");
    return !same || !t;
}

static void ex_release(void *user) { ((peer *)user)->released++; }

typedef struct {
    clg_replicas *r;
    model *m; /* LOCAL of them */
    int rank;
    bool cnn;
    clg_status status;
} process;

static void *run_process(void *arg)
{
    process *pr = arg;
    const int per = B / (PROCS * LOCAL);
    for (int s = 0; s < STEPS && pr->status == CLG_OK; s++) {
        for (int i = 0; i < LOCAL && pr->status == CLG_OK; i++)
            pr->status = feed_status(&pr->m[i], s, (pr->rank * LOCAL + i) * per, pr->cnn);
        if (pr->status == CLG_OK) pr->status = clg_replicas_step(pr->r);
    }
    return NULL;
}

static void processes(const char *spec, bool cnn)
{
    model m[PROCS][LOCAL];
    exchange x;
    memset(&x, 0, sizeof x);
    assert_int_equal(pthread_barrier_init(&x.bar, NULL, PROCS), 0);
    peer peers[PROCS];
    process pr[PROCS];
    for (int p = 0; p < PROCS; p++) {
        clg_graph *gs[LOCAL];
        for (int i = 0; i < LOCAL; i++) {
            build(&m[p][i], spec, B / (PROCS * LOCAL), cnn);
            init_params(&m[p][i], 7); /* the same everywhere, as a broadcast from rank 0 would make them */
            gs[i] = m[p][i].g;
        }
        peers[p] = (peer){&x, p, 0, 0, 0, -1, -1};
        pr[p] = (process){NULL, m[p], p, cnn, CLG_OK};
        CHECK_OK(m[p][0].ctx, clg_replicas_create(gs, LOCAL, &pr[p].r));
        CHECK_OK(m[p][0].ctx, clg_replicas_set_bucket_size(pr[p].r, 1));
        clg_reducer red = {PROCS, &peers[p], ex_start, ex_wait, ex_release};
        CHECK_OK(m[p][0].ctx, clg_replicas_set_reducer(pr[p].r, &red));
    }
    pthread_t t[PROCS];
    for (int p = 0; p < PROCS; p++) assert_int_equal(pthread_create(&t[p], NULL, run_process, &pr[p]), 0);
    for (int p = 0; p < PROCS; p++) pthread_join(t[p], NULL);
    for (int p = 0; p < PROCS; p++) {
        if (pr[p].status != CLG_OK) fail_msg("process %d: %s", p, clg_context_errmsg(m[p][0].ctx));
        assert_int_equal(peers[p].started, STEPS * m[p][0].np);
        assert_int_equal(peers[p].waited, STEPS * m[p][0].np);
    }
    float want[MAXW], got[PROCS][MAXW];
    const size_t k = train_one(cnn, want);
    for (int p = 0; p < PROCS; p++) {
        assert_int_equal(params(&m[p][0], got[p]), k);
        if (p && memcmp(got[p], got[0], k * sizeof **got)) fail_msg("process %d differs from process 0 on %s", p, spec);
    }
    char what[160];
    snprintf(what, sizeof what, "%s, %d processes x %d replicas on %s against one graph", cnn ? "cnn" : "mlp", PROCS,
             LOCAL, spec);
    assert_close_scaled(got[0], want, k, 1e-5, 1e-6, what);
    for (int p = 0; p < PROCS; p++) {
        clg_replicas_destroy(pr[p].r);
        assert_int_equal(peers[p].released, 1);
        for (int i = 0; i < LOCAL; i++) destroy(&m[p][i]);
    }
    pthread_barrier_destroy(&x.bar);
}

static void test_processes(void **state)
{
    (void)state;
    processes("reference", false);
    processes("reference", true);
    char specs[8][32];
    const int nd = test_opencl_devices(specs, 8);
    for (int d = 0; d < nd; d++) processes(specs[d], true);
}

/* A reducer that fails: CLG_ERR_PEER with its message and the bucket;
 * every bucket it started is waited for; the replicas step again once it
 * is gone. */
static void test_peer_failure(void **state)
{
    (void)state;
    model m[2];
    clg_graph *gs[2];
    for (int i = 0; i < 2; i++) {
        build(&m[i], "reference", B / 2, false);
        init_params(&m[i], 7);
        gs[i] = m[i].g;
        feed(&m[i], 0, i * (B / 2), false);
    }
    clg_replicas *r;
    CHECK_OK(m[0].ctx, clg_replicas_create(gs, 2, &r));
    CHECK_OK(m[0].ctx, clg_replicas_set_bucket_size(r, 1));
    peer p = {NULL, 0, 0, 0, 0, 1, -1};
    clg_reducer red = {2, &p, ex_start, ex_wait, ex_release};
    CHECK_OK(m[0].ctx, clg_replicas_set_reducer(r, &red));
    assert_int_equal(clg_replicas_step(r), CLG_ERR_PEER);
    ASSERT_MSG_HAS(m[0].ctx, "clg_replicas_step: starting to sum bucket 1 of 4");
    ASSERT_MSG_HAS(m[0].ctx, "across 2 processes: process 1 hung up");
    assert_int_equal(p.started, 1);
    assert_int_equal(p.waited, 1);

    peer q = {NULL, 0, 0, 0, 0, -1, 2};
    clg_reducer red2 = {2, &q, ex_start, ex_wait, ex_release};
    CHECK_OK(m[0].ctx, clg_replicas_set_reducer(r, &red2));
    assert_int_equal(p.released, 1); /* replaced */
    assert_int_equal(clg_replicas_step(r), CLG_ERR_PEER);
    ASSERT_MSG_HAS(m[0].ctx, "summing bucket 2 of 4");
    ASSERT_MSG_HAS(m[0].ctx, "no answer from process 1 in 30 s");
    assert_int_equal(q.started, 4);
    assert_int_equal(q.waited, 4);

    clg_reducer bad = {0, NULL, NULL, NULL, NULL};
    assert_int_equal(clg_replicas_set_reducer(r, &bad), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(m[0].ctx, "processes is 0");
    bad.processes = 2;
    assert_int_equal(clg_replicas_set_reducer(r, &bad), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(q.released, 0); /* a refused reducer leaves the one set */
    assert_int_equal(clg_replicas_set_bucket_size(r, 0), CLG_ERR_INVALID_ARGUMENT);
    CHECK_OK(m[0].ctx, clg_replicas_set_reducer(r, NULL));
    assert_int_equal(q.released, 1);
    assert_int_equal(clg_replicas_set_reducer(NULL, &red), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_replicas_set_bucket_size(NULL, 1), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_replicas_set_rows(NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_replicas_buckets(NULL), 0);
    CHECK_OK(m[0].ctx, clg_replicas_step(r));
    clg_replicas_destroy(r);
    for (int i = 0; i < 2; i++) destroy(&m[i]);
}

/* Refused: nothing changes (the parameters of replica 1 stay its own). */
static void test_refusals(void **state)
{
    (void)state;
    model a, b, c;
    build(&a, "reference", 4, false);
    build(&b, "reference", 4, true); /* another model */
    init_params(&a, 1);
    init_params(&b, 2);
    float before[MAXW], after[MAXW];
    const size_t nb = params(&b, before);
    clg_replicas *r = (clg_replicas *)&r;
    clg_graph *ab[2] = {a.g, b.g}, *aa[2] = {a.g, a.g};
    assert_int_equal(clg_replicas_create(ab, 2, &r), CLG_ERR_SHAPE);
    assert_null(r);
    ASSERT_MSG_HAS(a.ctx, "replica 1 has 3 parameters, replica 0 has 4");
    assert_int_equal(params(&b, after), nb);
    assert_memory_equal(before, after, nb * sizeof *before);
    assert_int_equal(clg_replicas_create(aa, 2, &r), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(a.ctx, "replica 1 is replica 0 again");
    assert_int_equal(clg_replicas_create(ab, 0, &r), CLG_ERR_INVALID_ARGUMENT); /* no graph to tell */
    assert_int_equal(clg_replicas_create(NULL, 2, &r), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_replicas_step(NULL), CLG_ERR_INVALID_ARGUMENT);
    clg_replicas_destroy(NULL);

    /* a parameter of another shape: named in the message */
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &c.g));
    c.ctx = NULL;
    const int64_t w1[2] = {IN, HID + 1}, b1 = HID + 1, w2[2] = {HID + 1, OUT}, b2 = OUT;
    clg_tensor p0 = clg_param(c.g, 2, w1);
    CHECK_OK(a.ctx, clg_tensor_set_name(c.g, p0, "fc1.weight"));
    clg_tensor q[3] = {clg_param(c.g, 1, &b1), clg_param(c.g, 2, w2), clg_param(c.g, 1, &b2)};
    const int64_t xs[2] = {4, IN};
    clg_tensor y = clg_matmul(c.g, clg_input(c.g, 2, xs), p0, 0, 0);
    y = clg_matmul(c.g, clg_relu(c.g, clg_add(c.g, y, q[0])), q[1], 0, 0);
    CHECK_OK(a.ctx, clg_backward(c.g, clg_sum(c.g, clg_add(c.g, y, q[2]))));
    clg_graph *ac[2] = {a.g, c.g};
    assert_int_equal(clg_replicas_create(ac, 2, &r), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(a.ctx, "replica 1: parameter 0 ('fc1.weight') is [6,9], replica 0's ('') [6,8]");

    /* no backward; gradient accumulation */
    clg_graph *nb_g;
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &nb_g));
    clg_param(nb_g, 2, w1);
    clg_graph *an[2] = {a.g, nb_g};
    assert_int_equal(clg_replicas_create(an, 2, &r), CLG_ERR_STATE);
    ASSERT_MSG_HAS(a.ctx, "replica 1 has no backward");
    clg_graph *acc;
    CHECK_OK(a.ctx, clg_graph_create(a.ctx, &acc));
    const int64_t one = 1;
    clg_tensor p = clg_param(acc, 1, &one);
    CHECK_OK(a.ctx, clg_backward(acc, clg_sum(acc, clg_square(acc, p))));
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
    cfg.accumulate = 1;
    CHECK_OK(a.ctx, clg_optimizer(acc, &cfg));
    clg_graph *solo[1] = {acc};
    assert_int_equal(clg_replicas_create(solo, 1, &r), CLG_ERR_UNSUPPORTED);
    ASSERT_MSG_HAS(a.ctx, "accumulates gradients");
    destroy(&a);
    destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_replicas),
        cmocka_unit_test(test_device_replicas),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_unequal_rows),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_peer_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
