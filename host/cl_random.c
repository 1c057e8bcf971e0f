/* OpenCL dispatch of the random family: Philox fills and dropout
 * (cl/random.cl). */
#include "cl_backend.h"

static clg_status copy(clg_cl_backend *b, const clg_node *from, const clg_node *to)
{
    if (clg_cl_opaque(b)) return CLG_OK;
    b->base.launches++;
    cl_int err = clEnqueueCopyBuffer(b->queue, MEM(from->buf), MEM(to->buf), 0, 0, (size_t)to->numel * 4, 0, NULL,
                                     NULL);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(b, err, "clEnqueueCopyBuffer");
}

static clg_status fill(clg_cl_backend *b, const clg_node *n)
{
    cl_mem y = MEM(n->buf);
    cl_long count = n->numel;
    uint64_t seed = (uint64_t)n->i[1];
    cl_uint k0 = (cl_uint)seed, k1 = (cl_uint)(seed >> 32), c0 = (cl_uint)n->counter, c1 = (cl_uint)(n->counter >> 32);
    cl_ulong block0 = (cl_ulong)n->i[2];
    cl_int dist = (cl_int)n->i[0];
    float a = n->f[0], bb = n->f[1];
    clg_karg args[] = {ARG(y), ARG(count), ARG(k0), ARG(k1), ARG(c0), ARG(c1), ARG(block0), ARG(dist), ARG(a), ARG(bb)};
    return clg_cl_launch(b, K_rng_fill, args, 10, (size_t)(count + 3) / 4, 0);
}

static clg_status dropout(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *xn = &nodes[n->src[0]];
    if (!n->training) return copy(b, xn, n);
    cl_mem x = MEM(xn->buf), y = MEM(n->buf), mask = MEM(n->aux[0]);
    cl_long count = n->numel;
    uint64_t seed = (uint64_t)n->i[1];
    cl_uint k0 = (cl_uint)seed, k1 = (cl_uint)(seed >> 32), c0 = (cl_uint)n->counter, c1 = (cl_uint)(n->counter >> 32);
    float p = n->f[0], scale = n->f[1];
    clg_karg args[] = {ARG(x), ARG(y), ARG(mask), ARG(count), ARG(k0), ARG(k1), ARG(c0), ARG(c1), ARG(p), ARG(scale)};
    return clg_cl_launch(b, K_dropout_forward, args, 10, (size_t)(count + 3) / 4, 0);
}

static clg_status dropout_grad(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *dyn = &nodes[n->src[0]], *drop = &nodes[n->src[1]];
    if (!drop->training) return copy(b, dyn, n);
    cl_mem dy = MEM(dyn->buf), mask = MEM(drop->aux[0]), dx = MEM(n->buf);
    cl_long count = n->numel;
    clg_karg args[] = {ARG(dy), ARG(mask), ARG(dx), ARG(count)};
    return clg_cl_launch(b, K_dropout_backward, args, 4, (size_t)count, 0);
}

/* forward and backward alike: the crop node's draw, x (or dy) in, y (or dx) out */
static clg_status crop_flip(clg_cl_backend *b, const clg_node *nodes, const clg_node *n, bool backward)
{
    const clg_node *crop = backward ? &nodes[n->src[1]] : n;
    const clg_node *xn = &nodes[n->src[0]];
    if (!crop->training) return copy(b, xn, n);
    cl_mem x = MEM(xn->buf), y = MEM(n->buf);
    cl_int C = (cl_int)n->shape[1], H = (cl_int)n->shape[2], W = (cl_int)n->shape[3];
    cl_int pad = (cl_int)crop->i[0], flip = (cl_int)crop->i[2];
    cl_long rows = n->numel / W; /* a work-item a row */
    uint64_t seed = (uint64_t)crop->i[1], ctr = crop->counter;
    cl_uint k0 = (cl_uint)seed, k1 = (cl_uint)(seed >> 32), c0 = (cl_uint)ctr, c1 = (cl_uint)(ctr >> 32);
    clg_karg args[] = {ARG(x), ARG(y), ARG(rows), ARG(C), ARG(H), ARG(W), ARG(pad), ARG(flip),
                       ARG(k0), ARG(k1), ARG(c0), ARG(c1)};
    return clg_cl_launch(b, backward ? K_crop_flip_backward : K_crop_flip_forward, args, 12, (size_t)rows, 0);
}

clg_status clg_cl_random(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_RNG_FILL: return fill(b, n);
    case CLG_OP_DROPOUT: return dropout(b, nodes, n);
    case CLG_OP_DROPOUT_GRAD: return dropout_grad(b, nodes, n);
    case CLG_OP_RANDOM_CROP_FLIP: return crop_flip(b, nodes, n, false);
    case CLG_OP_RANDOM_CROP_FLIP_GRAD: return crop_flip(b, nodes, n, true);
    default: return clg_cl_unsupported(b, n);
    }
}
