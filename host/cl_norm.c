/* OpenCL dispatch of the norm family: batch norm (cl/norm.cl). */
#include "cl_backend.h"

typedef struct bn_dims {
    cl_long C, inner, M;
} bn_dims;

void clg_cl_bn_dims(const clg_node *x, int64_t *C, int64_t *inner, int64_t *M)
{
    *C = x->shape[1];
    *inner = 1;
    for (int k = 2; k < x->ndim; k++) *inner *= x->shape[k];
    *M = x->shape[0] * *inner;
}

static bn_dims dims_of(const clg_node *x)
{
    int64_t C, inner, M;
    clg_cl_bn_dims(x, &C, &inner, &M);
    return (bn_dims){.C = C, .inner = inner, .M = M};
}

static clg_status check_batch(clg_cl_backend *b, const clg_node *nodes, const clg_node *bn, const bn_dims *d)
{
    if (!bn->training || d->M > 1) return CLG_OK;
    char desc[256];
    clg_node_describe(nodes, bn, desc, sizeof desc);
    return clg_error(b->base.ctx, CLG_ERR_SHAPE,
                     "%s: training mode needs more than one value per channel (N*H*W = %lld); "
                     "use evaluation mode for a single sample",
                     desc, (long long)d->M);
}

static clg_status forward(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *xn = &nodes[n->src[0]];
    bn_dims d = dims_of(xn);
    clg_status s = check_batch(b, nodes, n, &d);
    if (s != CLG_OK) return s;
    cl_mem x = MEM(xn->buf), gamma = MEM(nodes[n->src[1]].buf), beta = MEM(nodes[n->src[2]].buf);
    cl_mem y = MEM(n->buf), saved = MEM(n->aux[0]), running = MEM(n->aux[1]);
    cl_int training = n->training;
    float mom = n->f[0], eps = n->f[1];
    cl_int from = clg_cl_type_code(xn);
    clg_karg args[] = {ARG(x),       ARG(from),    ARG(gamma),   ARG(beta), ARG(y),
                       ARG(saved),   ARG(running), ARG(d.C),     ARG(d.inner), ARG(d.M),
                       ARG(training), ARG(mom),    ARG(eps),     LOCAL_ARG(b->kwg[K_bn_forward] * sizeof(float))};
    return clg_cl_launch(b, K_bn_forward, args, 14, (size_t)d.C * b->kwg[K_bn_forward], b->kwg[K_bn_forward]);
}

static clg_status channel_sums(clg_cl_backend *b, const clg_node *nodes, const clg_node *n, cl_int with_xhat)
{
    const clg_node *bn = &nodes[n->src[1]], *xn = &nodes[bn->src[0]];
    bn_dims d = dims_of(xn);
    cl_mem dy = MEM(nodes[n->src[0]].buf), x = MEM(xn->buf), saved = MEM(bn->aux[0]), out = MEM(n->buf);
    cl_int from = clg_cl_type_code(xn);
    clg_karg args[] = {ARG(dy),  ARG(x),      ARG(from),     ARG(saved), ARG(out),
                       ARG(d.C), ARG(d.inner), ARG(d.M),     ARG(with_xhat),
                       LOCAL_ARG(b->kwg[K_bn_backward_reduce] * sizeof(float))};
    return clg_cl_launch(b, K_bn_backward_reduce, args, 10, (size_t)d.C * b->kwg[K_bn_backward_reduce],
                                  b->kwg[K_bn_backward_reduce]);
}

static clg_status input_grad(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *bn = &nodes[n->src[1]], *xn = &nodes[bn->src[0]];
    bn_dims d = dims_of(xn);
    clg_status s = check_batch(b, nodes, bn, &d);
    if (s != CLG_OK) return s;
    cl_mem dy = MEM(nodes[n->src[0]].buf), x = MEM(xn->buf), gamma = MEM(nodes[bn->src[1]].buf);
    cl_mem saved = MEM(bn->aux[0]), dgamma = MEM(nodes[n->src[2]].buf), dbeta = MEM(nodes[n->src[3]].buf);
    cl_mem dx = MEM(n->buf);
    cl_long count = n->numel;
    cl_int training = bn->training, from = clg_cl_type_code(xn);
    clg_karg args[] = {ARG(dy),   ARG(x),   ARG(from), ARG(gamma),   ARG(saved), ARG(dgamma), ARG(dbeta),
                       ARG(dx),   ARG(count), ARG(d.C), ARG(d.inner), ARG(d.M),  ARG(training)};
    /* on vectors where a plane holds whole ones (BN_PLANES in cl/common.cl) */
    size_t items = b->vw > 1 && d.inner % b->vw == 0 ? clg_cl_vector_items(b, count) : (size_t)count;
    return clg_cl_launch(b, K_bn_backward_input, args, 13, items, 0);
}

clg_status clg_cl_norm(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_BATCHNORM: return forward(b, nodes, n);
    case CLG_OP_BATCHNORM_GRAD_GAMMA: return channel_sums(b, nodes, n, 1);
    case CLG_OP_BATCHNORM_GRAD_BETA: return channel_sums(b, nodes, n, 0);
    case CLG_OP_BATCHNORM_GRAD_INPUT: return input_grad(b, nodes, n);
    default: return clg_cl_unsupported(b, n);
    }
}
