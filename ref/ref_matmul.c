/* Reference implementation of the matmul family. */
#include "../core/matmul.h"
#include "ref_real.h"

/* C = sum_p op(A_p) op(B_p), accumulated in double over p and k alike. */
static void gemm_batch_sum(bool ta, bool tb, int64_t batch, int64_t m, int64_t n, int64_t k, const real *A,
                           int64_t a_stride, const real *B, int64_t b_stride, real *C)
{
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < batch; p++) {
                const real *Ap = A + p * a_stride, *Bp = B + p * b_stride;
                for (int64_t q = 0; q < k; q++) {
                    real a = ta ? Ap[q * lda + i] : Ap[i * lda + q];
                    real b = tb ? Bp[j * ldb + q] : Bp[q * ldb + j];
                    acc += (double)a * (double)b;
                }
            }
            C[i * n + j] = (real)acc;
        }
}

clg_status REF(clg_ref_matmul)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    if (n->op != CLG_OP_MATMUL && n->op != CLG_OP_MATMUL_BATCH_SUM) return REF(clg_ref_unsupported)(be, n);
    const real *A = ref_data(&nodes[n->src[0]]), *B = ref_data(&nodes[n->src[1]]);
    real *C = ref_data(n);
    bool ta = n->i[CLG_MM_TA], tb = n->i[CLG_MM_TB];
    int64_t batch = n->i[CLG_MM_BATCH], m = n->i[CLG_MM_M], nn = n->i[CLG_MM_N], k = n->i[CLG_MM_K];
    int64_t as = n->i[CLG_MM_A_STRIDE], bs = n->i[CLG_MM_B_STRIDE];
    if (n->op == CLG_OP_MATMUL_BATCH_SUM && batch > 1) {
        gemm_batch_sum(ta, tb, batch, m, nn, k, A, as, B, bs, C);
        return CLG_OK;
    }
    for (int64_t p = 0; p < batch; p++)
        REF(clg_ref_gemm)(ta, tb, m, nn, k, (real)1, A + p * as, ta ? m : k, B + p * bs, tb ? k : nn, (real)0,
                          C + p * m * nn, nn);
    return CLG_OK;
}
