/* OpenCL dispatch of the axis family (kernels in cl/axis.cl). */
#include "cl_backend.h"
#include "../core/shape_layout.h"

static clg_status reduce(clg_cl_backend *b, const clg_node *x, const clg_node *y)
{
    int axis = (int)y->i[0];
    cl_long m = y->numel, len = x->shape[axis], inner = clg_inner(x, axis);
    cl_mem xm = MEM(x->buf), ym = MEM(y->buf);
    if (y->op == CLG_OP_MAX_AXIS) {
        cl_mem idx = MEM(y->aux[0]);
        clg_karg args[] = {ARG(xm), ARG(ym), ARG(idx), ARG(m), ARG(len), ARG(inner)};
        return clg_cl_launch(b, K_axis_max, args, 6, (size_t)m, 0);
    }
    float scale = y->op == CLG_OP_MEAN_AXIS ? (float)(1.0 / (double)len) : 1.0f;
    clg_karg args[] = {ARG(xm), ARG(ym), ARG(m), ARG(len), ARG(inner), ARG(scale)};
    return clg_cl_launch(b, K_axis_sum, args, 6, (size_t)m, 0);
}

static clg_status max_backward(clg_cl_backend *b, const clg_node *dy, const clg_node *max, const clg_node *dx)
{
    int axis = (int)max->i[0];
    cl_long n = dx->numel, len = dx->shape[axis], inner = clg_inner(dx, axis);
    cl_mem g = MEM(dy->buf), idx = MEM(max->aux[0]), out = MEM(dx->buf);
    clg_karg args[] = {ARG(g), ARG(idx), ARG(out), ARG(n), ARG(len), ARG(inner)};
    return clg_cl_launch(b, K_axis_max_backward, args, 6, (size_t)n, 0);
}

/* the max node's indices, copied as they are */
static clg_status argmax(clg_cl_backend *b, const clg_node *max, const clg_node *n)
{
    if (clg_cl_opaque(b)) return CLG_OK;
    b->base.launches++;
    cl_int err = clEnqueueCopyBuffer(b->queue, MEM(max->aux[0]), MEM(n->buf), 0, 0, (size_t)n->numel * 4, 0, NULL,
                                     NULL);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(b, err, "clEnqueueCopyBuffer (argmax)");
}

clg_status clg_cl_axis(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = &nodes[n->src[0]];
    switch (n->op) {
    case CLG_OP_SUM_AXIS:
    case CLG_OP_MEAN_AXIS:
    case CLG_OP_MAX_AXIS: return reduce(b, s0, n);
    case CLG_OP_MAX_AXIS_GRAD: return max_backward(b, s0, &nodes[n->src[1]], n);
    case CLG_OP_ARGMAX: return argmax(b, s0, n);
    default: return clg_cl_unsupported(b, n);
    }
}
