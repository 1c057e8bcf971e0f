/*
 * clgrad-tune: GEMM tuning for one device (issue 11), stored where every
 * context on that device and driver finds it (host/tune.h).
 *
 *   clgrad-tune [--device SPEC] [--quick | --thorough] [--budget SECONDS] [--dry-run]
 *
 * 1. The products training runs: the MLP's and the CNN's forward and
 *    backward at batch 64 and 256 (clgrad-bench's train workloads), each
 *    graph run once with the backend telling this program of every GEMM,
 *    plus square ones.
 * 2. Each of them timed through CLBlast as it comes (the baseline), through
 *    its direct kernel and its indirect one with their default parameters,
 *    and, on CPU devices that can, through the host's BLAS.
 * 3. Parameter sets for XgemmDirect and for Xgemm, given to CLBlast
 *    (CLBlastOverrideParameters); each must compute odd-sized products in
 *    all four transposes within matmul's tolerance (|c - exact| <=
 *    (k + 4) u sum|a b|, tests/test_matmul.c) before it is timed on the
 *    products that take the longest; the fastest of each kernel, if it
 *    beats the default, is timed on every product.
 * 4. CLBlast picks direct or indirect by one threshold (m n k below T^3:
 *    direct); T is chosen to minimise the products' total time. Each product
 *    then takes the faster of CLBlast so tuned and the host's BLAS.
 * 5. The entry is written (unless --dry-run) and a table printed: each
 *    product's time on every path and its speed-up over the baseline.
 *    Each convolution the graphs ran is timed, forward and backward, in
 *    contexts of their own, through im2col, the direct kernels, Winograd
 *    (3x3 stride 1) and (CPU devices) oneDNN, and takes the fastest.
 *
 * Timing: a host clock around each call and clFinish (CLBlast's event
 * covers only its last kernel), the best of a few runs after one that
 * compiles. --quick (the default) tries a few sets per kernel (on CPU
 * devices XgemmDirect's only: PoCL compiles an Xgemm set in a minute or
 * more) and starts no set that would end past 200 s (--budget), so that
 * the whole run stays under five minutes on the CI machine; --thorough
 * tries many more, for up to an hour.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "models.h"
#include "progress.h"

#include "../core/conv_geom.h"
#include "../core/internal.h"
#include "../host/cl_backend.h"
#include "../host/conv_native.h"
#include "../host/gemm.h"
#include "../host/tune.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHAPES 64
#define FORCE_DIRECT (1u << 20) /* m n k < T^3 for every product */
#define FORCE_INDIRECT 1u

typedef struct shape {
    bool ta, tb;
    size_t m, n, k, batch;
    const char *from;
    /* seconds: CLBlast as it comes, its direct and indirect kernels with
     * the defaults and with the chosen sets, the host's BLAS */
    double base, dir0, ind0, dir, ind, native, best;
    bool use_native;
} shape;

#define MAX_CONVS 16

/* A convolution the graphs ran. */
typedef struct conv_case {
    clg_conv_geom g;
    const char *from;
} conv_case;

typedef struct tuner {
    clg_cl_backend *b;
    conv_case conv[MAX_CONVS];
    int nconv;
    bool gpu, quick, can_native;
    int reps;
    shape s[MAX_SHAPES];
    int n;
    const char *from;
    progress prog;
    double start, budget;
    size_t max_wg, local_mem;
} tuner;

static void seen(void *user, bool ta, bool tb, size_t m, size_t n, size_t k, size_t batch)
{
    tuner *t = user;
    for (int i = 0; i < t->n; i++)
        if (t->s[i].ta == ta && t->s[i].tb == tb && t->s[i].m == m && t->s[i].n == n && t->s[i].k == k &&
            t->s[i].batch == batch)
            return;
    if (t->n < MAX_SHAPES)
        t->s[t->n++] = (shape){.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .batch = batch, .from = t->from};
}

static void conv_seen(void *user, const clg_conv_geom *g)
{
    tuner *t = user;
    for (int i = 0; i < t->nconv; i++)
        if (!memcmp(&t->conv[i].g, g, sizeof *g)) return;
    if (t->nconv < MAX_CONVS) t->conv[t->nconv++] = (conv_case){.g = *g, .from = t->from};
}

static float value(uint64_t i, uint64_t salt)
{
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
    return (float)((double)(z >> 40) / 16777216.0 - 0.5);
}

/* ---- products ---- */

typedef struct operands {
    cl_mem a, b, c;
    float *ha, *hb; /* host copies, for the checks */
} operands;

static void free_operands(tuner *t, operands *o)
{
    /* the native path keeps buffers' pointers until they are freed */
    const cl_mem m[3] = {o->a, o->b, o->c};
    for (int i = 0; i < 3; i++)
        if (m[i]) {
            clg_cl_native_forget(t->b, m[i]);
            clReleaseMemObject(m[i]);
        }
    free(o->ha);
    free(o->hb);
    memset(o, 0, sizeof *o);
}

static bool make_operands(tuner *t, const shape *s, operands *o)
{
    memset(o, 0, sizeof *o);
    const size_t na = s->batch * s->m * s->k, nb = s->batch * s->k * s->n, nc = s->batch * s->m * s->n;
    cl_int e1, e2, e3;
    o->ha = malloc(na * sizeof(float));
    o->hb = malloc(nb * sizeof(float));
    o->a = clCreateBuffer(t->b->context, CL_MEM_READ_WRITE, na * sizeof(float), NULL, &e1);
    o->b = clCreateBuffer(t->b->context, CL_MEM_READ_WRITE, nb * sizeof(float), NULL, &e2);
    o->c = clCreateBuffer(t->b->context, CL_MEM_READ_WRITE, nc * sizeof(float), NULL, &e3);
    if (!o->ha || !o->hb || e1 || e2 || e3) {
        free_operands(t, o);
        return false;
    }
    for (size_t i = 0; i < na; i++) o->ha[i] = value(i, 11);
    for (size_t i = 0; i < nb; i++) o->hb[i] = value(i, 12);
    if (clEnqueueWriteBuffer(t->b->queue, o->a, CL_TRUE, 0, na * 4, o->ha, 0, NULL, NULL) ||
        clEnqueueWriteBuffer(t->b->queue, o->b, CL_TRUE, 0, nb * 4, o->hb, 0, NULL, NULL)) {
        free_operands(t, o);
        return false;
    }
    return true;
}

/* One product through CLBlast (native: the host's BLAS); 0 on success,
 * else CLBlast's or OpenCL's status. */
static int gemm(tuner *t, const shape *s, const operands *o, bool native)
{
    const size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    const size_t as = s->m * s->k, bs = s->k * s->n, cs = s->m * s->n;
    if (native)
        return clg_cl_gemm_native(t->b, s->ta, s->tb, s->m, s->n, s->k, 1.0f, o->a, 0, lda, as, o->b, 0, ldb, bs,
                                  0.0f, o->c, 0, s->n, cs, s->batch) == CLG_OK
                   ? 0
                   : -1;
    const CLBlastTranspose ta = s->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                           tb = s->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    if (s->batch == 1)
        return CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, s->m, s->n, s->k, 1.0f, o->a, 0, lda, o->b, 0, ldb, 0.0f,
                            o->c, 0, s->n, &t->b->queue, NULL);
    return CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, s->m, s->n, s->k, 1.0f, o->a, 0, lda, as, o->b,
                                      0, ldb, bs, 0.0f, o->c, 0, s->n, cs, s->batch, &t->b->queue, NULL);
}

/* The best of t->reps runs after one (which compiles); +inf on failure. */
static double time_product(tuner *t, const shape *s, bool native)
{
    operands o;
    if (!make_operands(t, s, &o)) return INFINITY;
    double best = INFINITY;
    for (int r = 0; r <= t->reps; r++) {
        double t0 = now_seconds();
        if (gemm(t, s, &o, native) != 0 || clFinish(t->b->queue) != CL_SUCCESS) {
            best = INFINITY;
            break;
        }
        double dt = now_seconds() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free_operands(t, &o);
    return best;
}

/* Within matmul's tolerance on every element, through CLBlast as it is
 * set now: odd sizes, all four transposes, and (batched) a batched
 * product, which CLBlast compiles as a program of its own: the search
 * checks that on its winner alone. */
static bool check(tuner *t, bool batched, char *why, size_t size)
{
    static const shape cases[] = {
        {.ta = false, .tb = false, .m = 37, .n = 53, .k = 71, .batch = 1},
        {.ta = true, .tb = false, .m = 37, .n = 53, .k = 71, .batch = 1},
        {.ta = false, .tb = true, .m = 37, .n = 53, .k = 71, .batch = 1},
        {.ta = true, .tb = true, .m = 67, .n = 29, .k = 131, .batch = 1},
        {.ta = false, .tb = false, .m = 19, .n = 23, .k = 29, .batch = 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const shape *s = &cases[c];
        if ((s->batch > 1) != batched) continue;
        operands o;
        if (!make_operands(t, s, &o)) {
            snprintf(why, size, "could not make the check's buffers");
            return false;
        }
        const size_t nc = s->batch * s->m * s->n;
        float *hc = malloc(nc * sizeof(float));
        int st = hc ? gemm(t, s, &o, false) : -1;
        if (st == 0) st = clEnqueueReadBuffer(t->b->queue, o.c, CL_TRUE, 0, nc * 4, hc, 0, NULL, NULL);
        bool ok = st == 0;
        if (!ok) snprintf(why, size, "%s", clg_clblast_status_name(st));
        for (size_t p = 0; ok && p < s->batch; p++)
            for (size_t i = 0; ok && i < s->m; i++)
                for (size_t j = 0; ok && j < s->n; j++) {
                    double want = 0, mag = 0;
                    for (size_t q = 0; q < s->k; q++) {
                        double a = o.ha[p * s->m * s->k + (s->ta ? q * s->m + i : i * s->k + q)];
                        double b = o.hb[p * s->k * s->n + (s->tb ? j * s->k + q : q * s->n + j)];
                        want += a * b;
                        mag += fabs(a * b);
                    }
                    double got = hc[p * s->m * s->n + i * s->n + j];
                    if (!(fabs(got - want) <= ((double)s->k + 4) * ldexp(1.0, -24) * mag)) {
                        snprintf(why, size, "%c%c %zux%zux%zu: C[%zu,%zu] = %.9g, want %.9g",
                                 s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, i, j, got, want);
                        ok = false;
                    }
                }
        free(hc);
        free_operands(t, &o);
        if (!ok) return false;
    }
    return true;
}

/* ---- CLBlast's parameters ---- */

static bool set_kernel(const tuner *t, const clg_tune_kernel *k)
{
    const char *names[CLG_TUNE_MAX_PARAMS];
    for (int i = 0; i < k->count; i++) names[i] = k->names[i];
    return CLBlastOverrideParameters(t->b->dev.device, k->name, CLBlastPrecisionSingle, (size_t)k->count, names,
                                     k->values) == CLBlastSuccess;
}

static clg_tune_kernel routine(size_t threshold)
{
    return (clg_tune_kernel){.name = "GemmRoutine", .count = 1, .names = {"XGEMM_MIN_INDIRECT_SIZE"},
                             .values = {threshold}};
}

static bool set_threshold(const tuner *t, size_t threshold)
{
    clg_tune_kernel r = routine(threshold);
    return set_kernel(t, &r);
}

#define MAX_CANDIDATES 256

/* XgemmDirect's sets: CLBlast's constraints (its tuner's), the device's
 * work-group and local memory limits. */
static int direct_candidates(const tuner *t, clg_tune_kernel *out)
{
    static const size_t wgds[] = {8, 16, 32, 64, 128}, dims[] = {8, 16, 32}, kwids[] = {2, 8, 16},
                        vws[] = {1, 2, 4, 8}, pads[] = {0, 1};
    int n = 0;
    for (size_t a = 0; a < 5; a++)
        for (size_t mc = 0; mc < 3; mc++)
            for (size_t nc = 0; nc < 3; nc++)
                for (size_t kw = 0; kw < 3; kw++)
                    for (size_t vm = 0; vm < 4; vm++)
                        for (size_t vn = 0; vn < 4; vn++)
                            for (size_t pd = 0; pd < 2; pd++) {
                                const size_t wgd = wgds[a], mdimcd = dims[mc], ndimcd = dims[nc], kwid = kwids[kw],
                                             vwmd = vws[vm], vwnd = vws[vn], pad = pads[pd];
                                const size_t mdimad = mdimcd, ndimbd = ndimcd;
                                if (t->quick && (kwid != 2 || vwmd != vwnd || mdimcd != ndimcd || pad != 1 ||
                                                 wgd < 16 || wgd > 64 || mdimcd > 16 || vwmd < 2))
                                    continue;
                                if (wgd % kwid || wgd % (mdimcd * vwmd) || wgd % (ndimcd * vwnd) ||
                                    wgd % (mdimad * vwmd) || wgd % (ndimbd * vwnd) ||
                                    wgd % (mdimcd * ndimcd / mdimad) || wgd % (mdimcd * ndimcd / ndimbd))
                                    continue;
                                if (mdimcd * ndimcd > t->max_wg || 2 * wgd * (wgd + pad) * 4 > t->local_mem) continue;
                                if (n == MAX_CANDIDATES) return n;
                                out[n++] = (clg_tune_kernel){
                                    .name = "XgemmDirect",
                                    .count = 10,
                                    .names = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD",
                                              "VWND", "WGD"},
                                    .values = {kwid, mdimad, mdimcd, ndimbd, ndimcd, pad, pad, vwmd, vwnd, wgd}};
                            }
    return n;
}

static int indirect_candidates(const tuner *t, clg_tune_kernel *out)
{
    static const size_t wgs[] = {32, 64, 128}, dims[] = {8, 16, 32}, kwgs[] = {16, 32}, vws[] = {1, 2, 4, 8},
                        shared[] = {0, 1};
    int n = 0;
    for (size_t a = 0; a < 3; a++)
        for (size_t mc = 0; mc < 3; mc++)
            for (size_t nc = 0; nc < 3; nc++)
                for (size_t kw = 0; kw < 2; kw++)
                    for (size_t vm = 0; vm < 4; vm++)
                        for (size_t vn = 0; vn < 4; vn++)
                            for (size_t sh = 0; sh < 2; sh++) {
                                const size_t mwg = wgs[a], nwg = wgs[a], mdimc = dims[mc], ndimc = dims[nc],
                                             kwg = kwgs[kw], vwm = vws[vm], vwn = vws[vn], sa = shared[sh], kwi = 2;
                                const size_t mdima = mdimc, ndimb = ndimc;
                                /* shared-memory tiles pay on GPUs; on CPUs "local" memory is plain memory */
                                if (t->quick && (vwm != vwn || mdimc != ndimc || kwg != 32 || sa != (t->gpu ? 1 : 0) ||
                                                 vwm < 2 || mdimc > 16))
                                    continue;
                                if (kwg % kwi || mwg % (mdimc * vwm) || nwg % (ndimc * vwn) || mwg % (mdima * vwm) ||
                                    nwg % (ndimb * vwn) || kwg % (mdimc * ndimc / mdima) ||
                                    kwg % (mdimc * ndimc / ndimb))
                                    continue;
                                if (mdimc * ndimc > t->max_wg || (sa * kwg * mwg + sa * kwg * nwg) * 4 > t->local_mem)
                                    continue;
                                if (n == MAX_CANDIDATES) return n;
                                out[n++] = (clg_tune_kernel){
                                    .name = "Xgemm",
                                    .count = 16,
                                    .names = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC",
                                              "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"},
                                    .values = {0, 1, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg, sa, sa, 0, 0, vwm,
                                               vwn}};
                            }
    return n;
}

/* The products the search times every set on: those that took longest on
 * the baseline (at most 4), in s[] order. */
static int pick_heavy(const tuner *t, int *idx)
{
    int n = 0;
    bool used[MAX_SHAPES] = {false};
    for (int r = 0; r < 4 && r < t->n; r++) {
        int best = -1;
        for (int i = 0; i < t->n; i++)
            if (!used[i] && isfinite(t->s[i].base) && (best < 0 || t->s[i].base > t->s[best].base)) best = i;
        if (best < 0) break;
        used[best] = true;
        idx[n++] = best;
    }
    return n;
}

/* Searches one kernel's sets (with every product forced onto it by the
 * threshold); the winner in *best, false when none beat the default. */
static bool search(tuner *t, const char *kernel, size_t threshold, clg_tune_kernel *cands, int ncand, const int *heavy,
                   int nheavy, clg_tune_kernel *best)
{
    double base = 0;
    for (int h = 0; h < nheavy; h++) {
        const shape *s = &t->s[heavy[h]];
        base += threshold == FORCE_DIRECT ? s->dir0 : s->ind0;
    }
    double best_time = base;
    int refused = 0, wrong = 0, tried = 0;
    double checking = 0, timing = 0;
    bool found = false;
    char why[256] = "";
    const double search_start = now_seconds();
    for (int c = 0; c < ncand; c++) {
        /* a set is not started unless it and the winner's batched check
         * (a program of its own, about twice a set's on PoCL: measured
         * cold, 4 min 28 s in all with a reserve of one set) fit the budget */
        const double per_set = c ? (now_seconds() - search_start) / c : 0;
        if (now_seconds() + 3 * per_set - t->start > t->budget) {
            progress_clear(&t->prog);
            printf("  %s: time budget reached after %d of %d sets\n", kernel, c, ncand);
            break;
        }
        progress_update(&t->prog, kernel, c, ncand, 0, best_time * 1e3);
        tried++;
        if (!set_kernel(t, &cands[c]) || !set_threshold(t, threshold)) {
            refused++;
            continue;
        }
        double c0 = now_seconds();
        if (!check(t, false, why, sizeof why)) {
            wrong++;
            continue;
        }
        double c1 = now_seconds();
        double total = 0;
        for (int h = 0; h < nheavy && isfinite(total); h++) total += time_product(t, &t->s[heavy[h]], false);
        checking += c1 - c0;
        timing += now_seconds() - c1;
        if (total < best_time) {
            best_time = total;
            *best = cands[c];
            found = true;
        }
    }
    progress_clear(&t->prog);
    /* the winner through the batched routine too */
    if (found && (!set_kernel(t, best) || !set_threshold(t, threshold) || !check(t, true, why, sizeof why))) {
        printf("  %s: the best set fails the batched check (%s): not kept\n", kernel, why);
        found = false;
    }
    printf("  %s (%.0f s): %d sets tried (%d refused by CLBlast, %d outside the tolerance%s%s); ", kernel, now_seconds() - t->start, tried, refused,
           wrong, wrong ? ", last: " : "", wrong ? why : "");
    printf("[check %.0f s, timing %.0f s] ", checking, timing);
    if (found) printf("best %.3f ms on the heaviest products, default %.3f ms\n", best_time * 1e3, base * 1e3);
    else printf("none beat the default (%.3f ms on the heaviest products)\n", base * 1e3);
    return found;
}

static unsigned long long mnk(const shape *s)
{
    return (unsigned long long)s->m * s->n * s->k;
}

/* CLBlast takes the direct kernel when m n k < T^3. */
static bool direct_at(const shape *s, size_t threshold)
{
    unsigned long long t3 = (unsigned long long)threshold * threshold * threshold;
    return mnk(s) < t3;
}

static size_t choose_threshold(const tuner *t)
{
    size_t best_t = FORCE_DIRECT;
    double best = INFINITY;
    for (int c = -2; c < t->n; c++) {
        size_t th = c == -2 ? FORCE_DIRECT : c == -1 ? FORCE_INDIRECT : (size_t)ceil(cbrt((double)mnk(&t->s[c]))) + 1;
        double total = 0;
        for (int i = 0; i < t->n; i++) total += direct_at(&t->s[i], th) ? t->s[i].dir : t->s[i].ind;
        if (total < best || (total == best && th < best_t)) best = total, best_t = th;
    }
    return best_t;
}

/* Runs one training graph's forward and backward, the backend telling
 * seen() of each product. */
static void record(tuner *t, clg_context *ctx, const char *kind, int batch, const char *label)
{
    model m;
    if (model_build(ctx, kind, batch, 32, 1, 0, 0, QAT_NONE, PRECISION_F32, &m) != CLG_OK) {
        fprintf(stderr, "clgrad-tune: %s: %s\n", label, clg_context_errmsg(ctx));
        return;
    }
    const int64_t nx = (int64_t)batch * 784;
    float *x = malloc(sizeof(float) * (size_t)nx);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
    if (x && y) {
        for (int64_t i = 0; i < nx; i++) x[i] = value((uint64_t)i, 3) + 0.5f;
        for (int i = 0; i < batch; i++) y[i] = i % 10;
        t->from = label;
        t->b->gemm_seen = seen;
        t->b->conv_seen = conv_seen;
        t->b->seen_user = t;
        if (clg_tensor_set(m.g, m.x, x, (size_t)nx) != CLG_OK ||
            clg_tensor_set_i32(m.g, m.labels, y, (size_t)batch) != CLG_OK ||
            clg_graph_run(m.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD) != CLG_OK)
            fprintf(stderr, "clgrad-tune: %s: %s\n", label, clg_context_errmsg(ctx));
        t->b->gemm_seen = NULL;
        t->b->conv_seen = NULL;
    } else {
        fprintf(stderr, "clgrad-tune: %s: out of host memory\n", label);
    }
    free(x);
    free(y);
    clg_graph_destroy(m.g);
}

/* The settings of every context the tuner makes: measurements start from
 * CLBlast's own parameters and every path, whatever the environment says. */
#define TUNER_SETTINGS "tuning", "off", "gemm", "auto"

/* One convolution's forward and backward (x and w both take gradients,
 * loss = sum(y)) in a context of its own on the given path: the best of 5
 * runs after 2; +inf on failure. */
static double time_conv(const char *spec, const clg_conv_geom *g, const char *path)
{
    const char *settings[] = {TUNER_SETTINGS, "conv", path, NULL};
    clg_context *ctx = NULL;
    clg_graph *gr;
    double best = INFINITY;
    if (clg_context_create_with(spec, settings, &ctx) == CLG_OK && clg_graph_create(ctx, &gr) == CLG_OK) {
        const int64_t sx[4] = {g->n, g->c, g->h, g->w}, sw[4] = {g->oc, g->c, g->kh, g->kw};
        clg_tensor x = clg_param(gr, 4, sx), w = clg_param(gr, 4, sw);
        clg_tensor y = clg_conv2d(gr, x, w, CLG_NO_TENSOR, (int)g->sh, (int)g->sw, (int)g->ph, (int)g->pw, (int)g->dh,
                                  (int)g->dw);
        const size_t nx = (size_t)(g->n * g->c * g->h * g->w), nw = (size_t)(g->oc * g->c * g->kh * g->kw);
        float *hx = malloc(nx * sizeof(float)), *hw = malloc(nw * sizeof(float));
        bool ok = hx && hw && clg_backward(gr, clg_sum(gr, y)) == CLG_OK;
        for (size_t i = 0; ok && i < nx; i++) hx[i] = value(i, 5);
        for (size_t i = 0; ok && i < nw; i++) hw[i] = value(i, 6);
        ok = ok && clg_tensor_set(gr, x, hx, nx) == CLG_OK && clg_tensor_set(gr, w, hw, nw) == CLG_OK;
        for (int r = 0; ok && r < 7; r++) {
            double t0 = now_seconds();
            ok = clg_graph_run(gr, CLG_RUN_FORWARD | CLG_RUN_BACKWARD) == CLG_OK && clg_graph_wait(gr) == CLG_OK;
            double dt = now_seconds() - t0;
            if (ok && r >= 2 && dt < best) best = dt;
        }
        if (!ok) best = INFINITY;
        free(hx);
        free(hw);
    }
    clg_context_destroy(ctx);
    return best;
}

static const cli_option options[] = {
    {"device", "SPEC", "the OpenCL device to tune; default $CLGRAD_DEVICE, else the first GPU, else the first "
                       "OpenCL device"},
    {"quick", NULL, "the training graphs' products and a few squares, about 200 s (the default)"},
    {"thorough", NULL, "more shapes and candidates, up to an hour"},
    {"budget", "SECONDS", "stop measuring after this long; default 200 (quick) or 3600 (thorough)"},
    {"dry-run", NULL, "measure and report, store nothing"},
};

int main(int argc, char **argv)
{
    const char *spec = "";
    bool thorough = false, dry = false;
    double budget = 0;
    cli c;
    cli_init(&c, "clgrad-tune", NULL,
             "Measures each matrix product and convolution of the training graphs on one device, picks the\n"
             "fastest path and CLBlast's parameters, and stores them for every later context on it.",
             options, sizeof options / sizeof options[0]);
    const char *v;
    int k;
    while ((k = cli_next(&c, argc, argv, &v)) >= 0) {
        if (k == 0) spec = v;
        else if (k == 1) thorough = false;
        else if (k == 2) thorough = true;
        else if (k == 3) {
            if (!cli_double(&c, "budget", v, 1, 1e6, "of seconds from 1 to 1000000", &budget)) return 2;
        } else dry = true;
    }
    if (k != CLI_END) return cli_status(k);
    const char *settings[] = {TUNER_SETTINGS, "conv", "auto", NULL};
    clg_context *ctx = NULL;
    if (clg_context_create_with(spec, settings, &ctx) != CLG_OK) {
        fprintf(stderr, "clgrad-tune: %s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    if (strcmp(clg_context_backend(ctx), "opencl") != 0) {
        fprintf(stderr, "clgrad-tune: %s is not an OpenCL device: nothing to tune\n", clg_context_device(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    static tuner t;
    t.b = CLB(ctx->be);
    t.gpu = (t.b->dev.type & CL_DEVICE_TYPE_GPU) != 0;
    t.quick = !thorough;
    t.reps = 3;
    t.budget = budget > 0 ? budget : thorough ? 3600 : 200;
    t.can_native = t.b->gemm_native;
    cl_ulong local = 0;
    clGetDeviceInfo(t.b->dev.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof t.max_wg, &t.max_wg, NULL);
    clGetDeviceInfo(t.b->dev.device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    t.local_mem = (size_t)local;
    progress_init(&t.prog, stderr);
    t.start = now_seconds();
    printf("clgrad-tune: %s (%s)\n", clg_context_device(ctx), thorough ? "thorough" : "quick");

    /* 1. the products */
    record(&t, ctx, "mlp", 64, "mlp b64");
    record(&t, ctx, "mlp", 256, "mlp b256");
    record(&t, ctx, "cnn", 64, "cnn b64");
    record(&t, ctx, "cnn", 256, "cnn b256");
    static const size_t cpu_sq[] = {256, 512, 1024}, gpu_sq[] = {1024, 2048, 4096, 8192};
    const size_t *sq = t.gpu ? gpu_sq : cpu_sq;
    const int nsq = t.gpu ? (thorough ? 4 : 3) : 3;
    for (int i = 0; i < nsq; i++) {
        t.from = "square";
        seen(&t, false, false, sq[i], sq[i], sq[i], 1);
    }
    printf("  %d products: %d from training graphs, %d square\n", t.n, t.n - nsq, nsq);

    /* 2. the baseline, each kernel's defaults, the host's BLAS */
    const char *phase[] = {"baseline", "direct kernel", "indirect kernel", "host BLAS"};
    for (int p = 0; p < 4; p++) {
        if (p == 3 && !t.can_native) break;
        if (p == 1) set_threshold(&t, FORCE_DIRECT);
        if (p == 2) set_threshold(&t, FORCE_INDIRECT);
        for (int i = 0; i < t.n; i++) {
            progress_update(&t.prog, phase[p], i, t.n, 0, 0);
            double dt = time_product(&t, &t.s[i], p == 3);
            if (p == 0) t.s[i].base = dt;
            else if (p == 1) t.s[i].dir0 = t.s[i].dir = dt;
            else if (p == 2) t.s[i].ind0 = t.s[i].ind = dt;
            else t.s[i].native = dt;
        }
    }
    if (!t.can_native)
        for (int i = 0; i < t.n; i++) t.s[i].native = INFINITY;
    progress_clear(&t.prog);
    printf("  timed through CLBlast as it comes, its two kernels%s: %.0f s\n", t.can_native ? " and the host's BLAS" : "",
           now_seconds() - t.start);

    /* 3. each kernel's sets */
    int heavy[4], nheavy = pick_heavy(&t, heavy);
    static clg_tune_kernel cands[MAX_CANDIDATES];
    clg_tune_kernel best_direct, best_indirect;
    bool have_direct = false, have_indirect = false;
    int nc = direct_candidates(&t, cands);
    if (search(&t, "XgemmDirect", FORCE_DIRECT, cands, nc, heavy, nheavy, &best_direct)) {
        have_direct = set_kernel(&t, &best_direct) && set_threshold(&t, FORCE_DIRECT);
        for (int i = 0; have_direct && i < t.n; i++) {
            double dt = time_product(&t, &t.s[i], false);
            t.s[i].dir = dt < t.s[i].dir0 ? dt : t.s[i].dir0;
        }
    }
    /* PoCL takes a minute and more to compile one Xgemm set on the CI's two
     * cores (89 s measured; an XgemmDirect set about 4 s): on CPU devices
     * only --thorough searches it */
    nc = t.quick && !t.gpu ? 0 : indirect_candidates(&t, cands);
    if (!nc) printf("  Xgemm: not searched (--quick on a CPU device: each set compiles for a minute or more)\n");
    if (nc && search(&t, "Xgemm", FORCE_INDIRECT, cands, nc, heavy, nheavy, &best_indirect)) {
        have_indirect = set_kernel(&t, &best_indirect) && set_threshold(&t, FORCE_INDIRECT);
        for (int i = 0; have_indirect && i < t.n; i++) {
            double dt = time_product(&t, &t.s[i], false);
            t.s[i].ind = dt < t.s[i].ind0 ? dt : t.s[i].ind0;
        }
    }
    /* a kernel's set is kept only where it beat the default in total */
    double d_new = 0, d_old = 0, i_new = 0, i_old = 0;
    for (int i = 0; i < t.n; i++) {
        d_new += t.s[i].dir, d_old += t.s[i].dir0, i_new += t.s[i].ind, i_old += t.s[i].ind0;
    }
    if (have_direct && !(d_new < d_old)) have_direct = false;
    if (have_indirect && !(i_new < i_old)) have_indirect = false;
    for (int i = 0; i < t.n; i++) {
        if (!have_direct) t.s[i].dir = t.s[i].dir0;
        if (!have_indirect) t.s[i].ind = t.s[i].ind0;
    }

    /* 4. the threshold, then each product's path */
    const size_t threshold = choose_threshold(&t);
    clg_tune out = {0};
    if (have_direct) clg_tune_set_kernel(&out, &best_direct);
    if (have_indirect) clg_tune_set_kernel(&out, &best_indirect);
    clg_tune_kernel r = routine(threshold);
    clg_tune_set_kernel(&out, &r);
    printf("\n%-9s %-22s %10s %10s %10s %10s  %-8s %8s\n", "from", "product (m n k batch)", "CLBlast ms", "tuned ms",
           "BLAS ms", "best ms", "path", "speed-up");
    double before = 0, after = 0;
    for (int i = 0; i < t.n; i++) {
        shape *s = &t.s[i];
        const double tuned = direct_at(s, threshold) ? s->dir : s->ind;
        s->use_native = t.can_native && s->native < tuned;
        s->best = s->use_native ? s->native : tuned;
        char prod[48];
        snprintf(prod, sizeof prod, "%c%c %zu %zu %zu %zu", s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k,
                 s->batch);
        printf("%-9s %-22s %10.3f %10.3f %10.3f %10.3f  %-8s %7.2fx\n", s->from, prod, s->base * 1e3, tuned * 1e3,
               s->native * 1e3, s->best * 1e3, s->use_native ? "BLAS" : "CLBlast", s->base / s->best);
        before += s->base, after += s->best;
        clg_tune_shape ts = {.ta = s->ta, .tb = s->tb, .m = (int64_t)s->m, .n = (int64_t)s->n, .k = (int64_t)s->k,
                             .batch = (int64_t)s->batch, .native = s->use_native,
                             .speedup = isfinite(s->base / s->best) && s->base / s->best > 0 ? s->base / s->best : 1};
        clg_tune_set_shape(&out, &ts);
    }
    printf("all products: %.1f ms -> %.1f ms (%.2fx); CLBlast takes the direct kernel below m n k = %zu^3; "
           "%.0f s\n",
           before * 1e3, after * 1e3, before / after, threshold, now_seconds() - t.start);

    /* 5. each convolution's path: im2col, the direct kernels, oneDNN and
     * Winograd where they may run */
    if (t.nconv) {
        printf("\n%-9s %-34s %10s %10s %10s %10s  %-8s %8s\n", "from", "convolution (N C H W -> OC, KHxKW)",
               "im2col ms", "direct ms", "oneDNN ms", "Winograd ms", "path", "speed-up");
        static const char *const shown[CLG_CONV_PATHS] = {"im2col", "direct", "oneDNN", "Winograd"};
        for (int i = 0; i < t.nconv; i++) {
            conv_case *c = &t.conv[i];
            double secs[CLG_CONV_PATHS];
            for (int k = 0; k < CLG_CONV_PATHS; k++) {
                progress_update(&t.prog, "convolutions", i * CLG_CONV_PATHS + k, t.nconv * CLG_CONV_PATHS, 0, 0);
                const bool can = k == CLG_CONV_ONEDNN     ? t.b->conv_native
                                 : k == CLG_CONV_WINOGRAD ? clg_cl_winograd_takes(&c->g)
                                                          : true;
                secs[k] = can ? time_conv(spec, &c->g, clg_conv_path_names[k]) : INFINITY;
            }
            progress_clear(&t.prog);
            int best = 0;
            for (int k = 1; k < CLG_CONV_PATHS; k++)
                if (secs[k] < secs[best]) best = k;
            double next = INFINITY;
            for (int k = 0; k < CLG_CONV_PATHS; k++)
                if (k != best && secs[k] < next) next = secs[k];
            char geom[64];
            snprintf(geom, sizeof geom, "%lld %lld %lld %lld -> %lld, %lldx%lld", (long long)c->g.n,
                     (long long)c->g.c, (long long)c->g.h, (long long)c->g.w, (long long)c->g.oc, (long long)c->g.kh,
                     (long long)c->g.kw);
            printf("%-9s %-34s %10.3f %10.3f %10.3f %11.3f  %-8s %7.2fx\n", c->from, geom, secs[0] * 1e3,
                   secs[1] * 1e3, secs[2] * 1e3, secs[3] * 1e3, shown[best], next / secs[best]);
            if (!isfinite(secs[best])) continue;
            clg_tune_conv tc = {.geom = {c->g.n, c->g.c, c->g.h, c->g.w, c->g.oc, c->g.kh, c->g.kw, c->g.sh, c->g.sw,
                                         c->g.ph, c->g.pw, c->g.dh, c->g.dw},
                                .path = best,
                                .speedup = isfinite(next / secs[best]) ? next / secs[best] : 1};
            clg_tune_set_conv(&out, &tc);
        }
        printf("%.0f s\n", now_seconds() - t.start);
    }

    int rc = 0;
    char path[1200] = "(no cache folder)";
    clg_tune_path(ctx, t.b->dev.device, path, sizeof path);
    if (dry) {
        printf("--dry-run: not written to %s\n", path);
    } else if (clg_tune_save(ctx, t.b->dev.device, &out)) {
        printf("written: %s\n", path);
    } else {
        fprintf(stderr, "clgrad-tune: could not write %s\n", path);
        rc = 1;
    }
    clg_context_destroy(ctx);
    return rc;
}
