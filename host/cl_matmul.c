/* OpenCL dispatch of the matmul family: every op is GEMMs (host/gemm.c). */
#include "../core/matmul.h"
#include "gemm.h"

static bool operand_16(const clg_node *nodes, const clg_node *n)
{
    return clg_dtype_16(nodes[n->src[0]].dtype) || clg_dtype_16(nodes[n->src[1]].dtype);
}

/* 16-bit operands as they are: where the host's BLAS runs the product
 * (the native kernel widens them as it reads), one GEMM; elsewhere the
 * core widens them first (a cast kernel), CLBlast's HGEMM accumulating in
 * half precision. */
bool clg_cl_matmul_supports(const clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    if (n->op != CLG_OP_MATMUL && n->op != CLG_OP_MATMUL_BATCH_SUM) return false;
    if (!operand_16(nodes, n)) return true;
    const size_t batch = (size_t)n->i[CLG_MM_BATCH];
    if (n->op == CLG_OP_MATMUL_BATCH_SUM && batch > 1) return false;
    return clg_cl_native_gemm_16(b) && clg_cl_gemm_is_native(b, n->i[CLG_MM_TA], n->i[CLG_MM_TB], (size_t)n->i[CLG_MM_M],
                                                          (size_t)n->i[CLG_MM_N], (size_t)n->i[CLG_MM_K], batch);
}

clg_status clg_cl_matmul(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    if (n->op != CLG_OP_MATMUL && n->op != CLG_OP_MATMUL_BATCH_SUM) return clg_cl_unsupported(b, n);
    cl_mem A = MEM(nodes[n->src[0]].buf), B = MEM(nodes[n->src[1]].buf), C = MEM(n->buf);
    bool ta = n->i[CLG_MM_TA], tb = n->i[CLG_MM_TB];
    size_t batch = (size_t)n->i[CLG_MM_BATCH], m = (size_t)n->i[CLG_MM_M], nn = (size_t)n->i[CLG_MM_N],
           k = (size_t)n->i[CLG_MM_K];
    size_t as = (size_t)n->i[CLG_MM_A_STRIDE], bs = (size_t)n->i[CLG_MM_B_STRIDE];
    size_t lda = ta ? m : k, ldb = tb ? k : nn;
    if (operand_16(nodes, n)) { /* clg_cl_matmul_supports: one native GEMM */
        if (clg_cl_opaque(b)) return CLG_OK;
        return clg_cl_gemm_native_16(b, ta, tb, m, nn, k, A, nodes[n->src[0]].dtype, lda, as, B, nodes[n->src[1]].dtype,
                                     ldb, bs, C, nn, m * nn, batch);
    }
    if (n->op == CLG_OP_MATMUL || batch == 1)
        return clg_cl_gemm(b, ta, tb, m, nn, k, 1.0f, A, 0, lda, as, B, 0, ldb, bs, 0.0f, C, 0, nn, m * nn, batch);
    /* A sum over the batch that no single GEMM covers (k does not run down
     * the rows of both): each item's product accumulates into C. */
    for (size_t p = 0; p < batch; p++) {
        clg_status s = clg_cl_gemm(b, ta, tb, m, nn, k, 1.0f, A, p * as, lda, 0, B, p * bs, ldb, 0, p ? 1.0f : 0.0f,
                                   C, 0, nn, 0, 1);
        if (s != CLG_OK) return s;
    }
    return CLG_OK;
}
