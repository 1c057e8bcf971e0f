/* GEMM on OpenCL devices through CLBlast, for every family that needs one. */
#ifndef CLG_GEMM_H
#define CLG_GEMM_H

#include "cl_backend.h"

/*
 * Row-major, batched: for each of `batch` problems p,
 *   C_p = alpha * op(A_p) * op(B_p) + beta * C_p,
 * op(A_p) is m x k, op(B_p) k x n, C_p m x n; X_p starts at x_off + p *
 * x_stride elements (a stride of 0 shares one operand across the batch).
 * Errors name CLBlast's status and the problem's sizes.
 */
clg_status clg_cl_gemm(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem A,
                       size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb, size_t b_stride,
                       float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride, size_t batch);

const char *clg_clblast_status_name(int status);

/* A context that ran a GEMM is done with CLBlast (call before releasing
 * its OpenCL context). */
void clg_cl_gemm_release(clg_cl_backend *b);

#endif
