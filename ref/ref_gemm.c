/* Reference GEMM, shared by the reference families that need one. */
#include "ref_real.h"

void REF(clg_ref_gemm)(bool ta, bool tb, int64_t m, int64_t n, int64_t k, real alpha, const real *A, int64_t lda,
                       const real *B, int64_t ldb, real beta, real *C, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++) {
                real a = ta ? A[p * lda + i] : A[i * lda + p];
                real b = tb ? B[j * ldb + p] : B[p * ldb + j];
                acc += (double)a * (double)b;
            }
            C[i * ldc + j] = (real)((double)alpha * acc + (beta != 0 ? (double)beta * (double)C[i * ldc + j] : 0.0));
        }
}
