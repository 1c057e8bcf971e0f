/* OpenCL dispatch of the act family: one elementwise kernel per op. */
#include "cl_backend.h"

static clg_status run_forward(clg_cl_backend *b, int k, const clg_node *X, const clg_node *Y)
{
    cl_mem x = MEM(X->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    float slope = Y->f[0];
    clg_karg args[] = {ARG(x), ARG(y), ARG(n), ARG(slope)};
    return clg_cl_launch(b, k, args, 4, clg_cl_vector_items(b, n), 0);
}

static clg_status run_backward(clg_cl_backend *b, int k, const clg_node *X, const clg_node *DY, const clg_node *DX)
{
    cl_mem x = MEM(X->buf), dy = MEM(DY->buf), dx = MEM(DX->buf);
    cl_long n = DX->numel;
    float slope = DX->f[0];
    clg_karg args[] = {ARG(x), ARG(dy), ARG(dx), ARG(n), ARG(slope)};
    return clg_cl_launch(b, k, args, 5, clg_cl_vector_items(b, n), 0);
}

/* clamp and softplus_beta: two constants (f[0], f[1]); kf and kb the
 * forward and backward kernels, items the work-items n elements take */
static clg_status run_two_constants(clg_cl_backend *b, int kf, int kb, const clg_node *X, const clg_node *DY,
                                    const clg_node *OUT, size_t items)
{
    cl_mem x = MEM(X->buf), out = MEM(OUT->buf);
    cl_long n = OUT->numel;
    float f0 = OUT->f[0], f1 = OUT->f[1];
    if (!DY) {
        clg_karg args[] = {ARG(x), ARG(out), ARG(n), ARG(f0), ARG(f1)};
        return clg_cl_launch(b, kf, args, 5, items, 0);
    }
    cl_mem dy = MEM(DY->buf);
    clg_karg args[] = {ARG(x), ARG(dy), ARG(out), ARG(n), ARG(f0), ARG(f1)};
    return clg_cl_launch(b, kb, args, 6, items, 0);
}

clg_status clg_cl_act(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *x = &nodes[n->src[0]];
    const clg_node *dy = n->src[1] >= 0 ? &nodes[n->src[1]] : NULL;
    switch (n->op) {
    case CLG_OP_LEAKY_RELU: return run_forward(b, K_leaky_relu, x, n);
    case CLG_OP_GELU: return run_forward(b, K_gelu, x, n);
    case CLG_OP_SILU: return run_forward(b, K_silu, x, n);
    case CLG_OP_SOFTPLUS: return run_forward(b, K_softplus, x, n);
    case CLG_OP_LEAKY_RELU_GRAD: return run_backward(b, K_leaky_relu_backward, x, dy, n);
    case CLG_OP_GELU_GRAD: return run_backward(b, K_gelu_backward, x, dy, n);
    case CLG_OP_SILU_GRAD: return run_backward(b, K_silu_backward, x, dy, n);
    case CLG_OP_SOFTPLUS_GRAD: return run_backward(b, K_softplus_backward, x, dy, n);
    case CLG_OP_GELU_ERF: return run_forward(b, K_gelu_erf, x, n);
    case CLG_OP_GELU_ERF_GRAD: return run_backward(b, K_gelu_erf_backward, x, dy, n);
    case CLG_OP_ABS: return run_forward(b, K_abs_forward, x, n);
    case CLG_OP_ABS_GRAD: return run_backward(b, K_abs_backward, x, dy, n);
    case CLG_OP_POW: return run_forward(b, K_pow_forward, x, n);
    case CLG_OP_POW_GRAD: return run_backward(b, K_pow_backward, x, dy, n);
    case CLG_OP_CLAMP:
    case CLG_OP_CLAMP_GRAD:
        return run_two_constants(b, K_clamp_forward, K_clamp_backward, x, dy, n, clg_cl_vector_items(b, n->numel));
    case CLG_OP_SOFTPLUS_BETA:
    case CLG_OP_SOFTPLUS_BETA_GRAD: /* scalar kernels: a work-item an element */
        return run_two_constants(b, K_softplus_beta_forward, K_softplus_beta_backward, x, dy, n, (size_t)n->numel);
    default: return clg_cl_unsupported(b, n);
    }
}
