#include "gemm.h"

#include "tune.h"

#include "cache_file.h"

#include <clblast_c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CLBlast keeps the programs it builds in a process-wide cache keyed by
 * OpenCL context, and those hold their context: about 2-3 MB a context on
 * PoCL that never goes, so a program that opens and closes contexts grows
 * without end. CLBlast 1.5 can only clear the whole cache, so it is
 * cleared when the last context that used it goes; a context still using
 * it is never disturbed. The count is process-wide, as CLBlast's cache. */
static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;
static long clblast_users;

static void use_clblast(clg_cl_backend *b)
{
    if (b->used_clblast) return;
    pthread_mutex_lock(&clblast_lock);
    clblast_users++;
    pthread_mutex_unlock(&clblast_lock);
    b->used_clblast = true;
}

void clg_cl_gemm_release(clg_cl_backend *b)
{
    if (!b->used_clblast) return;
    pthread_mutex_lock(&clblast_lock);
    if (--clblast_users == 0) CLBlastClearCache();
    pthread_mutex_unlock(&clblast_lock);
    b->used_clblast = false;
}

/* CLBlast's parameters are process-wide, per device: an entry's are given
 * to CLBlast once per process and device (again, they would only make
 * CLBlast rebuild its programs), unless the entry changed. */
#define MAX_APPLIED 16
static struct {
    cl_device_id dev;
    uint64_t sum;
} applied[MAX_APPLIED];
static int napplied;

static uint64_t tune_sum(const clg_tune *t)
{
    return clg_fnv1a64(CLG_FNV_OFFSET, t->kernels, sizeof t->kernels[0] * (size_t)t->nkernels);
}

/* Gives CLBlast the entry's parameters; false, with CLBlast's status, when
 * it refuses one set (the sets before it stay: CLBlast cannot take them back). */
static bool apply_kernels(cl_device_id dev, const clg_tune *t, const char **refused, CLBlastStatusCode *why)
{
    bool ok = true;
    const uint64_t sum = tune_sum(t);
    pthread_mutex_lock(&clblast_lock);
    int i = 0;
    while (i < napplied && applied[i].dev != dev) i++;
    if (i == napplied || applied[i].sum != sum) {
        for (int k = 0; k < t->nkernels && ok; k++) {
            const char *names[CLG_TUNE_MAX_PARAMS];
            for (int j = 0; j < t->kernels[k].count; j++) names[j] = t->kernels[k].names[j];
            CLBlastStatusCode st = CLBlastOverrideParameters(dev, t->kernels[k].name, CLBlastPrecisionSingle,
                                                             (size_t)t->kernels[k].count, names,
                                                             t->kernels[k].values);
            if (st != CLBlastSuccess) {
                ok = false;
                *refused = t->kernels[k].name;
                *why = st;
            }
        }
        if (ok && i == napplied && napplied < MAX_APPLIED) napplied++;
        if (ok && i < MAX_APPLIED) applied[i].dev = dev, applied[i].sum = sum;
    }
    pthread_mutex_unlock(&clblast_lock);
    return ok;
}

clg_status clg_cl_gemm_setup(clg_cl_backend *b)
{
    const char *env = clg_setting(b->base.ctx, CLG_SET_GEMM), *conv = clg_setting(b->base.ctx, CLG_SET_CONV);
    char src[64];
    clg_setting_source(b->base.ctx, CLG_SET_GEMM, src, sizeof src);
    /* native kernels are probed unless neither products nor convolutions may take them */
    if (!env || strcmp(env, "clblast") || !conv || strcmp(conv, "im2col")) {
        clg_status s = clg_cl_native_probe(b, &b->natives);
        if (s != CLG_OK) return s;
    }
#ifdef CLG_HAVE_BLAS
    const bool possible = b->natives;
#else
    const bool possible = false;
#endif
    const bool forced = env && *env && strcmp(env, "auto");
    if (!forced) b->gemm_native = possible;
    else if (!strcmp(env, "clblast")) b->gemm_native = false;
    else if (!strcmp(env, "native") && possible) b->gemm_native = true;
    else if (!strcmp(env, "native"))
        return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED,
                         "%s=native: %s cannot take the host's BLAS (%s)", src, b->base.device,
#ifdef CLG_HAVE_BLAS
                         "not a CPU device that runs native kernels"
#else
                         "clgrad was built without a BLAS"
#endif
        );
    else
        return clg_error(b->base.ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s='%s' is not one of auto, clblast, native", src, env);
    const char *path = b->gemm_native ? "host BLAS (OpenBLAS) as native kernels" : "CLBlast";
    char *out = b->base.gemm;
    const size_t size = sizeof b->base.gemm;

    /* the device's tuning (host/tune.h) */
    clg_tune *t = calloc(1, sizeof *t);
    if (!t) return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "opencl: out of host memory");
    clg_tune_state st = clg_tune_load(b->base.ctx, b->dev.device, t);
    const char *refused = NULL;
    CLBlastStatusCode why = CLBlastSuccess;
    if (st == CLG_TUNE_LOADED && !apply_kernels(b->dev.device, t, &refused, &why)) st = CLG_TUNE_DAMAGED;
    if (st == CLG_TUNE_LOADED) {
        int other = 0;
        for (int i = 0; i < t->nshapes; i++) other += t->shapes[i].native != b->gemm_native;
        /* CLGRAD_GEMM=clblast|native keeps every product on that path */
        b->tune_paths = !forced && possible;
        b->tune = t;
        t = NULL;
        if (b->tune_paths && other)
            snprintf(out, size, "%s, %s for %d tuned shape%s (clgrad-tune)", path,
                     b->gemm_native ? "CLBlast" : "the host's BLAS", other, other == 1 ? "" : "s");
        else
            snprintf(out, size, "%s (CLBlast tuned by clgrad-tune)", path);
    } else if (st == CLG_TUNE_DAMAGED && refused) {
        snprintf(out, size, "%s (CLBlast refused the tuning entry's %s parameters: %s; rerun clgrad-tune)", path,
                 refused, clg_clblast_status_name(why));
    } else if (st == CLG_TUNE_DAMAGED) {
        snprintf(out, size, "%s (the tuning entry is damaged or not this driver's: ignored; rerun clgrad-tune)",
                 path);
    } else {
        snprintf(out, size, "%s", path);
    }
    free(t);
    return CLG_OK;
}

void clg_cl_gemm_tune_release(clg_cl_backend *b)
{
    free(b->tune);
    b->tune = NULL;
}

const char *clg_clblast_status_name(int status)
{
    if (status > -1000) return clg_cl_error_name(status);
    switch (status) {
#define S(x) case x: return #x;
        S(CLBlastNotImplemented) S(CLBlastInvalidMatrixA) S(CLBlastInvalidMatrixB) S(CLBlastInvalidMatrixC)
        S(CLBlastInvalidVectorX) S(CLBlastInvalidVectorY) S(CLBlastInvalidDimension) S(CLBlastInvalidLeadDimA)
        S(CLBlastInvalidLeadDimB) S(CLBlastInvalidLeadDimC) S(CLBlastInvalidIncrementX) S(CLBlastInvalidIncrementY)
        S(CLBlastInsufficientMemoryA) S(CLBlastInsufficientMemoryB) S(CLBlastInsufficientMemoryC)
        S(CLBlastInsufficientMemoryX) S(CLBlastInsufficientMemoryY) S(CLBlastInsufficientMemoryTemp)
        S(CLBlastInvalidBatchCount) S(CLBlastInvalidOverrideKernel) S(CLBlastMissingOverrideParameter)
        S(CLBlastInvalidLocalMemUsage) S(CLBlastNoHalfPrecision) S(CLBlastNoDoublePrecision)
        S(CLBlastInvalidVectorScalar) S(CLBlastInsufficientMemoryScalar) S(CLBlastDatabaseError)
        S(CLBlastUnknownError) S(CLBlastUnexpectedError)
#undef S
    }
    return "unknown CLBlast status";
}

/* The products through CLBlast. */
static clg_status clblast_gemm(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                               cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off,
                               size_t ldb, size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc,
                               size_t c_stride, size_t batch)
{
    CLBlastTranspose opa = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose opb = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode st;
    use_clblast(b);
    if (batch > 1 && c_stride == 0) {
        /* one C for the batch: CLBlast's batch runs at once, so one call each */
        for (size_t p = 0; p < batch; p++) {
            clg_status s = clblast_gemm(b, ta, tb, m, n, k, alpha, A, a_off + p * a_stride, lda, 0, B,
                                        b_off + p * b_stride, ldb, 0, p ? 1.0f : beta, C, c_off, ldc, 0, 1);
            if (s != CLG_OK) return s;
        }
        return CLG_OK;
    }
    if (batch == 1)
        st = CLBlastSgemm(CLBlastLayoutRowMajor, opa, opb, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off,
                          ldc, &b->queue, clg_cl_event_slot(b));
    else
        st = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, opa, opb, m, n, k, alpha, A, a_off, lda, a_stride, B,
                                        b_off, ldb, b_stride, beta, C, c_off, ldc, c_stride, batch, &b->queue,
                                        clg_cl_event_slot(b));
    clg_cl_event_done(b); /* CLBlast's event covers only its last kernel */
    b->base.launches++;
    if (st == CLBlastSuccess) return CLG_OK;
    clg_status s = st == CLBlastOpenCLOutOfHostMemory || st == CLBlastTempBufferAllocFailure ? CLG_ERR_OUT_OF_MEMORY
                                                                                               : CLG_ERR_DEVICE;
    return clg_error(b->base.ctx, s,
                     "CLBlast GEMM (m %zu, n %zu, k %zu, batch %zu, %s%s) failed on %s: %s (%d)", m, n, k, batch,
                     ta ? "A transposed" : "A plain", tb ? ", B transposed" : ", B plain", b->base.device,
                     clg_clblast_status_name(st), (int)st);
}

bool clg_cl_gemm_is_native(const clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, size_t batch)
{
    if (b->tune && b->tune_paths) {
        const clg_tune_shape *t =
            clg_tune_find(b->tune, ta, tb, (int64_t)m, (int64_t)n, (int64_t)k, (int64_t)batch);
        if (t) return t->native;
    }
    return b->gemm_native;
}

clg_status clg_cl_gemm(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem A,
                       size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb, size_t b_stride,
                       float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride, size_t batch)
{
    if (clg_cl_opaque(b)) return CLG_OK;
    if (b->gemm_seen) b->gemm_seen(b->seen_user, ta, tb, m, n, k, batch);
    if (clg_cl_gemm_is_native(b, ta, tb, m, n, k, batch))
        return clg_cl_gemm_native(b, ta, tb, m, n, k, alpha, A, a_off, lda, a_stride, B, b_off, ldb, b_stride, beta, C,
                                  c_off, ldc, c_stride, batch);
    return clblast_gemm(b, ta, tb, m, n, k, alpha, A, a_off, lda, a_stride, B, b_off, ldb, b_stride, beta, C, c_off,
                        ldc, c_stride, batch);
}
