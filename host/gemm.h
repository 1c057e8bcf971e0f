/* GEMM on OpenCL devices through CLBlast, for every family that needs one. */
#ifndef CLG_GEMM_H
#define CLG_GEMM_H

#include "cl_backend.h"
#include "native.h"

/*
 * Row-major, batched: for each of `batch` problems p,
 *   C_p = alpha * op(A_p) * op(B_p) + beta * C_p,
 * op(A_p) is m x k, op(B_p) k x n, C_p m x n; X_p starts at x_off + p *
 * x_stride elements (a stride of 0 shares one operand across the batch;
 * for C, the batch's products are summed into it:
 *   C = alpha * sum_p op(A_p) op(B_p) + beta * C).
 * Errors name CLBlast's status and the problem's sizes.
 */
clg_status clg_cl_gemm(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem A,
                       size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb, size_t b_stride,
                       float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride, size_t batch);

/* Whether clg_cl_gemm gives this product to the host's BLAS (the device's
 * path, or the tuned shape's). */
bool clg_cl_gemm_is_native(const clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, size_t batch);
/* The same through the host's BLAS as a native kernel (host/gemm_native.c),
 * on devices where clg_cl_native_gemm_possible. */
clg_status clg_cl_gemm_native(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                              cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb,
                              size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride,
                              size_t batch);
/* C = op(A) op(B) (beta 0) through the host's BLAS, A and B each float32
 * or 16-bit (a clg_dtype), a 16-bit one widened to float32 as the native
 * kernel reads it (host memory for one operand of one batch item, held
 * while the kernel runs). */
clg_status clg_cl_gemm_native_16(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, cl_mem A,
                                 int a_dtype, size_t lda, size_t a_stride, cl_mem B, int b_dtype, size_t ldb,
                                 size_t b_stride, cl_mem C, size_t ldc, size_t c_stride, size_t batch);
/* Whether clg_cl_gemm_native_16 can run here (a BLAS, native kernels). */
bool clg_cl_native_gemm_16(const clg_cl_backend *b);
/* Whether the backend multiplies node n (the matmul family) with its
 * operands' dtypes as they are (host/cl_matmul.c). */
bool clg_cl_matmul_supports(const clg_cl_backend *b, const clg_node *nodes, const clg_node *n);

/* Sets b->gemm_native from the device and CLGRAD_GEMM (auto, clblast or
 * native), and applies the device's tuning (host/tune.h): CLBlast's
 * parameters, and the path of each tuned shape (unless CLGRAD_GEMM names
 * one); the context's GEMM description says which. An error names a value
 * of CLGRAD_GEMM that cannot be honoured. */
clg_status clg_cl_gemm_setup(clg_cl_backend *b);
void clg_cl_gemm_tune_release(clg_cl_backend *b);

const char *clg_clblast_status_name(int status);

/* A context that ran a GEMM is done with CLBlast (call before releasing
 * its OpenCL context). */
void clg_cl_gemm_release(clg_cl_backend *b);

#endif
