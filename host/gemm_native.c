/*
 * GEMM by the host's BLAS on a CPU device (issue 11, item 4).
 *
 * On an OpenCL CPU device the device's memory is the host's, and the
 * host's BLAS reaches several times what a generic OpenCL GEMM does there
 * (PoCL on 2 EPYC cores: OpenBLAS about 200 GFLOP/s at 1024^3, CLBlast 20-30
 * untuned). The product runs as a native kernel (host/native.c).
 *
 * Built when CMake finds OpenBLAS (CLG_HAVE_BLAS); used on devices of
 * type CPU whose native kernels work. Which products take it is
 * host/gemm.c's choice.
 */
#include "gemm.h"

#include "../core/half.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef CLG_HAVE_BLAS
#include <cblas.h>

/* What the product reads: a copy is made at enqueue. The slots are the
 * driver's to overwrite (see above); the operands are host pointers. */
typedef struct native_gemm {
    void *slot[3];
    const float *A, *B;
    float *C;
    unsigned char ta, tb;
    size_t m, n, k, batch;
    size_t ld[3], stride[3];
    float alpha, beta;
} native_gemm;

/* BLAS reports bad sizes by printing (xerbla): refused here instead. */
static clg_status blas_sizes(clg_cl_backend *b, const char *what, bool ta, bool tb, size_t m, size_t n, size_t k,
                             size_t batch, size_t lda, size_t ldb, size_t ldc)
{
    const size_t a_cols = ta ? m : k, b_cols = tb ? k : n;
    if (m == 0 || n == 0 || k == 0 || batch == 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX ||
        lda < a_cols || ldb < b_cols || ldc < n || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
        return clg_error(b->base.ctx, CLG_ERR_INVALID_ARGUMENT,
                         "native GEMM%s (m %zu, n %zu, k %zu, batch %zu, lda %zu, ldb %zu, ldc %zu): sizes out of "
                         "BLAS's range",
                         what, m, n, k, batch, lda, ldb, ldc);
    return CLG_OK;
}

static void CL_CALLBACK run_native_gemm(void *p)
{
    const native_gemm *g = p;
    float beta = g->beta;
    for (size_t i = 0; i < g->batch; i++) {
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
                    (int)g->n, (int)g->k, g->alpha, g->A + i * g->stride[0], (int)g->ld[0], g->B + i * g->stride[1],
                    (int)g->ld[1], beta, g->C + i * g->stride[2], (int)g->ld[2]);
        if (g->stride[2] == 0) beta = 1.0f; /* one C for the batch: the products add up */
    }
}

clg_status clg_cl_gemm_native(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                              cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb,
                              size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride,
                              size_t batch)
{
    clg_status s = blas_sizes(b, "", ta, tb, m, n, k, batch, lda, ldb, ldc);
    if (s != CLG_OK) return s;
    native_gemm g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .batch = batch, .alpha = alpha, .beta = beta,
                     .ld = {lda, ldb, ldc}, .stride = {a_stride, b_stride, c_stride}};
    const cl_mem ops[3] = {A, B, C};
    cl_mem list[3];
    float *ptr[3];
    cl_uint count;
    s = clg_cl_native_buffers(b, ops, 3, ptr, list, &count);
    if (s != CLG_OK) return s;
    g.A = ptr[0] + a_off;
    g.B = ptr[1] + b_off;
    g.C = ptr[2] + c_off;
    char what[128];
    snprintf(what, sizeof what, "GEMM by the host's BLAS: m %zu, n %zu, k %zu, batch %zu", m, n, k, batch);
    return clg_cl_native_enqueue(b, run_native_gemm, &g, sizeof g, g.slot, list, count, what);
}

/* The 16-bit form: an operand whose dtype is 16-bit is widened, one batch
 * item at a time, into host memory allocated at enqueue and freed by the
 * kernel (the native kernel's arguments are copied, the pointers with
 * them). OpenBLAS's sbgemm would read bfloat16 itself, but Debian 12's
 * build leaves it out (its header declares it; the library does not
 * export it). */
typedef struct native_gemm16 {
    void *slot[3];
    const void *X[2]; /* A, B: float or 16-bit values */
    float *C;
    float *tmp[2]; /* the widened operand of one item, or NULL (float32) */
    int dtype[2];
    unsigned char t[2];
    size_t m, n, k, batch;
    size_t ld[3], stride[3], count[2];
} native_gemm16;

static void CL_CALLBACK run_native_gemm16(void *p)
{
    native_gemm16 *g = p;
    for (size_t i = 0; i < g->batch; i++) {
        const float *op[2];
        for (int o = 0; o < 2; o++) {
            if (!g->tmp[o]) {
                op[o] = (const float *)g->X[o] + i * g->stride[o];
                continue;
            }
            /* a shared operand (stride 0) is widened once */
            if (i == 0 || g->stride[o])
                (g->dtype[o] == CLG_BF16 ? clg_bf16_widen : clg_f16_widen)(
                    g->tmp[o], (const uint16_t *)g->X[o] + i * g->stride[o], g->count[o]);
            op[o] = g->tmp[o];
        }
        cblas_sgemm(CblasRowMajor, g->t[0] ? CblasTrans : CblasNoTrans, g->t[1] ? CblasTrans : CblasNoTrans, (int)g->m,
                    (int)g->n, (int)g->k, 1.0f, op[0], (int)g->ld[0], op[1], (int)g->ld[1], 0.0f,
                    g->C + i * g->stride[2], (int)g->ld[2]);
    }
    free(g->tmp[0]);
    free(g->tmp[1]);
}

bool clg_cl_native_gemm_16(const clg_cl_backend *b) { return b->natives; }

clg_status clg_cl_gemm_native_16(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, cl_mem A,
                                 int a_dtype, size_t lda, size_t a_stride, cl_mem B, int b_dtype, size_t ldb,
                                 size_t b_stride, cl_mem C, size_t ldc, size_t c_stride, size_t batch)
{
    clg_status s = blas_sizes(b, " of 16-bit operands", ta, tb, m, n, k, batch, lda, ldb, ldc);
    if (s != CLG_OK) return s;
    native_gemm16 g = {.t = {ta, tb}, .m = m, .n = n, .k = k, .batch = batch, .dtype = {a_dtype, b_dtype},
                       .ld = {lda, ldb, ldc}, .stride = {a_stride, b_stride, c_stride},
                       .count = {(ta ? k : m) * lda, (tb ? n : k) * ldb}};
    const cl_mem ops[3] = {A, B, C};
    cl_mem list[3];
    float *ptr[3];
    cl_uint count;
    s = clg_cl_native_buffers(b, ops, 3, ptr, list, &count);
    if (s != CLG_OK) return s;
    g.X[0] = ptr[0];
    g.X[1] = ptr[1];
    g.C = ptr[2];
    for (int o = 0; o < 2; o++) {
        if (!clg_dtype_16((clg_dtype)g.dtype[o])) continue;
        g.tmp[o] = malloc(g.count[o] * sizeof(float));
        if (!g.tmp[o]) {
            free(g.tmp[0]);
            return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY,
                             "native GEMM of 16-bit operands: out of host memory widening %zu values", g.count[o]);
        }
    }
    char what[128];
    snprintf(what, sizeof what, "GEMM of 16-bit operands by the host's BLAS: m %zu, n %zu, k %zu, batch %zu", m, n,
             k, batch);
    s = clg_cl_native_enqueue(b, run_native_gemm16, &g, sizeof g, g.slot, list, count, what);
    if (s != CLG_OK) { /* never enqueued: the kernel does not free them */
        free(g.tmp[0]);
        free(g.tmp[1]);
    }
    return s;
}

#else

bool clg_cl_native_gemm_16(const clg_cl_backend *b) { return false; }

clg_status clg_cl_gemm_native_16(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, cl_mem A,
                                 int a_dtype, size_t lda, size_t a_stride, cl_mem B, int b_dtype, size_t ldb,
                                 size_t b_stride, cl_mem C, size_t ldc, size_t c_stride, size_t batch)
{
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "native GEMM: clgrad was built without a BLAS");
}

clg_status clg_cl_gemm_native(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                              cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb,
                              size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride,
                              size_t batch)
{
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "native GEMM: clgrad was built without a BLAS");
}

#endif
