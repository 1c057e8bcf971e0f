/*
 * What a matmul node's integers mean, for the constructor (core/matmul.c)
 * and the backends that run it (ref/ref_matmul.c, host/cl_matmul.c).
 *
 * The constructor reduces every supported case to one row-major GEMM,
 * batched with strides: C_p = op(A_p) op(B_p), op(A_p) m x k, op(B_p)
 * k x n, C_p m x n at p * m * n. Leading dimensions follow from the
 * transposes: lda = ta ? m : k, ldb = tb ? k : n, ldc = n.
 *
 * CLG_OP_MATMUL_BATCH_SUM writes sum_p op(A_p) op(B_p) into one m x n
 * matrix instead; with batch 1 it is a plain GEMM (the constructor folds
 * the batch into k when it can).
 */
#ifndef CLG_MATMUL_H
#define CLG_MATMUL_H

enum {
    CLG_MM_TA,       /* transpose a (the public parameter) */
    CLG_MM_TB,       /* transpose b (the public parameter) */
    CLG_MM_BATCH,
    CLG_MM_M,
    CLG_MM_N,
    CLG_MM_K,
    CLG_MM_A_STRIDE, /* elements between A_p and A_p+1; 0 shares A */
    CLG_MM_B_STRIDE
};

#endif
