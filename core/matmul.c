/* The matmul family: constructors and backward rules. */
#include "internal.h"
#include "matmul.h"

#include <stdarg.h>
#include <stdio.h>

static clg_tensor mm_error(clg_graph *g, const char *op, const clg_node *a, const clg_node *b, int ta, int tb,
                           const char *fmt, ...)
{
    char why[192], full[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "(transpose_a %d, transpose_b %d) do not fit: %s", ta, tb, why);
    return clg_shape_error(g, op, a, b, full);
}

/* Extent of a matrix operand's rows (or, transposed, its columns). */
static int64_t op_rows(const clg_node *x, int t) { return x->shape[x->ndim - (t ? 1 : 2)]; }
static int64_t op_cols(const clg_node *x, int t) { return x->shape[x->ndim - (t ? 2 : 1)]; }

/* The node of C = op(a) op(b) (CLG_OP_MATMUL) or sum_p op(a_p) op(b_p)
 * (CLG_OP_MATMUL_BATCH_SUM) with the GEMM that computes it (core/matmul.h),
 * into *out; false (the error recorded) when the operands do not fit. */
static bool mm_node(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, int ta, int tb, clg_node *out)
{
    const char *name = clg_op_name(op);
    if (clg_graph_check(g, name) != CLG_OK) return false;
    if (!clg_tensor_ok_float(g, a, name) || !clg_tensor_ok_float(g, b, name)) return false;
    const clg_node *na = &g->nodes[a.id], *nb = &g->nodes[b.id];
    ta = ta != 0;
    tb = tb != 0;
    if (na->ndim < 2 || na->ndim > 3 || nb->ndim < 2 || nb->ndim > 3)
        return mm_error(g, name, na, nb, ta, tb, "operands must be 2-D or 3-D (a batch of matrices)"), false;
    int64_t m = op_rows(na, ta), k = op_cols(na, ta), kb = op_rows(nb, tb), n = op_cols(nb, tb);
    if (k != kb)
        return mm_error(g, name, na, nb, ta, tb, "the inner dimensions differ (%lld and %lld)", (long long)k,
                        (long long)kb),
               false;
    bool a3 = na->ndim == 3, b3 = nb->ndim == 3;
    if (a3 && b3 && na->shape[0] != nb->shape[0])
        return mm_error(g, name, na, nb, ta, tb, "the batch sizes differ (%lld and %lld)", (long long)na->shape[0],
                        (long long)nb->shape[0]),
               false;
    int64_t batch = a3 ? na->shape[0] : b3 ? nb->shape[0] : 1;
    int64_t a_stride = a3 ? m * k : 0, b_stride = b3 ? k * n : 0;

    clg_node p = {.op = op, .src = {a.id, b.id}};
    if (op == CLG_OP_MATMUL_BATCH_SUM) {
        if (!a3 || !b3) return mm_error(g, name, na, nb, ta, tb, "a sum over the batch needs two 3-D operands"), false;
        p.ndim = 2;
        p.shape[0] = m;
        p.shape[1] = n;
        if (ta && !tb) {
            /* k runs down the rows of both: the batch's rows are one long k */
            k *= batch;
            batch = 1;
        }
    } else {
        p.ndim = a3 || b3 ? 3 : 2;
        p.shape[0] = batch;
        p.shape[p.ndim - 2] = m;
        p.shape[p.ndim - 1] = n;
        if (a3 && !b3 && !ta) {
            /* a shared b: a's rows and C's rows stack into single matrices */
            m *= batch;
            batch = 1;
        }
    }
    if (batch == 1) a_stride = b_stride = 0;
    p.i[CLG_MM_TA] = ta;
    p.i[CLG_MM_TB] = tb;
    p.i[CLG_MM_BATCH] = batch;
    p.i[CLG_MM_M] = m;
    p.i[CLG_MM_N] = n;
    p.i[CLG_MM_K] = k;
    p.i[CLG_MM_A_STRIDE] = a_stride;
    p.i[CLG_MM_B_STRIDE] = b_stride;
    *out = p;
    return true;
}

/* The product recorded; a 16-bit operand read as it is where the backend
 * multiplies 16-bit operands so (supports_op), else widened to float32
 * first (core/quant.c: backward widens it again, keeping only the 16-bit
 * tensor). */
static clg_tensor mm_record(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, int ta, int tb)
{
    clg_node p;
    if (!mm_node(g, op, a, b, ta, tb, &p)) return CLG_FAILED;
    if (!clg_dtype_16(g->nodes[a.id].dtype) && !clg_dtype_16(g->nodes[b.id].dtype)) return clg_record(g, &p, 2);
    clg_backend *be = g->ctx->be;
    for (int k = 2; k < CLG_MAX_SRC; k++) p.src[k] = -1;
    p.numel = 1;
    for (int d = 0; d < p.ndim; d++) p.numel *= p.shape[d];
    if (be->vt->supports_op(be, g->nodes, &p)) return clg_record(g, &p, 2);
    clg_txn txn = clg_txn_begin(g); /* the widening casts and the product */
    a = clg_widen(g, a);
    b = a.id >= 0 ? clg_widen(g, b) : CLG_FAILED;
    if (b.id >= 0 && mm_node(g, op, a, b, ta, tb, &p)) b = clg_record(g, &p, 2);
    else b = CLG_FAILED;
    return clg_txn_end_tensor(g, txn, b);
}

clg_tensor clg_matmul(clg_graph *g, clg_tensor a, clg_tensor b, int transpose_a, int transpose_b)
{
    const char *name = "matmul";
    if (clg_graph_check(g, name) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok_float(g, a, name) || !clg_tensor_ok_float(g, b, name)) return CLG_FAILED;
    return mm_record(g, CLG_OP_MATMUL, a, b, transpose_a, transpose_b);
}

static clg_tensor linear_error(clg_graph *g, const clg_node *x, const clg_node *w, const clg_node *bias,
                               const char *why)
{
    char sx[96], sw[96], sb[96] = "none";
    clg_shape_string(x->ndim, x->shape, sx, sizeof sx);
    clg_shape_string(w->ndim, w->shape, sw, sizeof sw);
    if (bias) clg_shape_string(bias->ndim, bias->shape, sb, sizeof sb);
    clg_error(g->ctx, CLG_ERR_SHAPE, "linear: shapes x %s, w %s, bias %s do not fit: %s", sx, sw, sb, why);
    return clg_graph_fail(g, CLG_ERR_SHAPE);
}

static clg_tensor linear(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias)
{
    if (clg_graph_check(g, "linear") != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok_float(g, x, "linear") || !clg_tensor_ok_float(g, w, "linear")) return CLG_FAILED;
    bool has_bias = !(bias.id < 0 && bias.graph == 0); /* CLG_NO_TENSOR: none */
    if (has_bias && !clg_tensor_ok(g, bias, "linear")) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id], *nw = &g->nodes[w.id], *nb = bias.id >= 0 ? &g->nodes[bias.id] : NULL;
    if (nw->ndim != 2) return linear_error(g, nx, nw, nb, "w must be 2-D [out, in]");
    if (nx->ndim < 2 || nx->ndim > 3) return linear_error(g, nx, nw, nb, "x must be 2-D or 3-D [..., in]");
    if (nx->shape[nx->ndim - 1] != nw->shape[1])
        return linear_error(g, nx, nw, nb, "x's last dimension differs from w's second (in)");
    if (nb && (nb->ndim != 1 || nb->shape[0] != nw->shape[0]))
        return linear_error(g, nx, nw, nb, "bias must be 1-D [out], out being w's first dimension");
    clg_tensor y = clg_matmul(g, x, w, 0, 1);
    return nb ? clg_add(g, y, bias) : y;
}

clg_tensor clg_linear(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias)
{
    if (clg_graph_check(g, "linear") != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g); /* the product and the bias add */
    return clg_txn_end_tensor(g, txn, linear(g, x, w, bias));
}

/* op(x) op(y) as a contribution to the gradient of operand `target`:
 * summed over the batch when target is 2-D and shared across one. */
static clg_tensor grad_mm(clg_graph *g, int32_t target, clg_tensor x, clg_tensor y, int tx, int ty)
{
    bool sum = g->nodes[target].ndim == 2 && g->nodes[x.id].ndim == 3 && g->nodes[y.id].ndim == 3;
    return mm_record(g, sum ? CLG_OP_MATMUL_BATCH_SUM : CLG_OP_MATMUL, x, y, tx, ty);
}

clg_status clg_backward_matmul(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i]; /* a copy: recording may move the array */
    clg_tensor gy = clg_tref(g, grads[i]), a = clg_tref(g, n.src[0]), b = clg_tref(g, n.src[1]);
    int ta = (int)n.i[CLG_MM_TA], tb = (int)n.i[CLG_MM_TB];
    /* a 16-bit operand widened again here (core/quant.c), each once */
    const bool da = g->nodes[a.id].requires_grad, db = g->nodes[b.id].requires_grad;
    clg_tensor sa = db ? clg_saved_operand(g, a.id) : a, sb = da ? clg_saved_operand(g, b.id) : b;
    /* C = op(A) op(B) (per batch item, or summed over it) with upstream G:
     * d op(A) = G op(B)^T and d op(B) = op(A)^T G; an operand stored
     * transposed takes the transpose of that, (X Y)^T = Y^T X^T. */
    if (da) {
        clg_tensor ca = ta ? grad_mm(g, a.id, sb, gy, tb, 1) : grad_mm(g, a.id, gy, sb, 0, !tb);
        clg_grad_accumulate(g, grads, a.id, ca);
    }
    if (db) {
        clg_tensor cb = tb ? grad_mm(g, b.id, gy, sa, 1, ta) : grad_mm(g, b.id, sa, gy, !ta, 0);
        clg_grad_accumulate(g, grads, b.id, cb);
    }
    return g->status;
}
