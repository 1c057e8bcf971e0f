#include "gemm.h"

#include <clblast_c.h>
#include <pthread.h>
#include <stdio.h>

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

clg_status clg_cl_gemm(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem A,
                       size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb, size_t b_stride,
                       float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride, size_t batch)
{
    CLBlastTranspose opa = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose opb = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode st;
    if (clg_cl_opaque(b)) return CLG_OK;
    use_clblast(b);
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
