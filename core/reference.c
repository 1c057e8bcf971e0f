/*
 * The reference backend: plain C, single-threaded, written for clarity.
 * It is the oracle every other backend is tested against, so it keeps
 * float storage like the devices but accumulates reductions in double.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct clg_buffer {
    size_t bytes;
    float data[];
};

static void ref_destroy(clg_backend *be) { free(be); }

static clg_status ref_alloc(clg_backend *be, size_t bytes, clg_buffer **out)
{
    *out = malloc(sizeof(clg_buffer) + bytes);
    if (!*out) return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "reference: out of host memory (%zu bytes)", bytes);
    (*out)->bytes = bytes;
    return CLG_OK;
}

static void ref_free(clg_backend *be, clg_buffer *buf)
{
    (void)be;
    free(buf);
}

static clg_status ref_write(clg_backend *be, clg_buffer *buf, size_t off, const void *src, size_t bytes)
{
    if (off + bytes > buf->bytes)
        return clg_error(be->ctx, CLG_ERR_INVALID_ARGUMENT, "reference: write past the end of a buffer");
    memcpy((char *)buf->data + off, src, bytes);
    return CLG_OK;
}

static clg_status ref_read(clg_backend *be, clg_buffer *buf, size_t off, void *dst, size_t bytes)
{
    if (off + bytes > buf->bytes)
        return clg_error(be->ctx, CLG_ERR_INVALID_ARGUMENT, "reference: read past the end of a buffer");
    memcpy(dst, (char *)buf->data + off, bytes);
    return CLG_OK;
}

static clg_status ref_fill(clg_backend *be, clg_buffer *buf, float v, size_t count)
{
    (void)be;
    for (size_t i = 0; i < count; i++) buf->data[i] = v;
    return CLG_OK;
}

static clg_status ref_sync(clg_backend *be)
{
    (void)be;
    return CLG_OK;
}

/* Offset into a broadcast source for linear output index i. */
static int64_t bcast_offset(int64_t i, const int64_t dims[CLG_MAX_DIMS], const int64_t strides[CLG_MAX_DIMS])
{
    int64_t off = 0;
    for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
        off += (i % dims[d]) * strides[d];
        i /= dims[d];
    }
    return off;
}

static float binary(clg_op op, float a, float b)
{
    switch (op) {
    case CLG_OP_ADD: return a + b;
    case CLG_OP_SUB: return a - b;
    case CLG_OP_MUL: return a * b;
    case CLG_OP_DIV: return a / b;
    case CLG_OP_RELU_GRAD: return a > 0.0f ? b : 0.0f;
    case CLG_OP_SIGMOID_GRAD: return b * a * (1.0f - a);
    case CLG_OP_TANH_GRAD: return b * (1.0f - a * a);
    default: return NAN;
    }
}

static float unary(clg_op op, float x, float c)
{
    switch (op) {
    case CLG_OP_NEG: return -x;
    case CLG_OP_SCALE: return c * x;
    case CLG_OP_SQUARE: return x * x;
    case CLG_OP_EXP: return expf(x);
    case CLG_OP_LOG: return logf(x);
    case CLG_OP_SQRT: return sqrtf(x);
    case CLG_OP_RELU: return x > 0.0f ? x : 0.0f;
    case CLG_OP_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case CLG_OP_TANH: return tanhf(x);
    default: return NAN;
    }
}

static clg_status ref_run(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = n->src[0] >= 0 ? &nodes[n->src[0]] : NULL;
    const clg_node *s1 = n->src[1] >= 0 ? &nodes[n->src[1]] : NULL;
    const float *x = s0 ? s0->buf->data : NULL, *b = s1 ? s1->buf->data : NULL;
    float *y = n->buf->data;
    int64_t count = n->numel;

    switch (n->op) {
    case CLG_OP_ADD:
    case CLG_OP_SUB:
    case CLG_OP_MUL:
    case CLG_OP_DIV:
    case CLG_OP_RELU_GRAD:
    case CLG_OP_SIGMOID_GRAD:
    case CLG_OP_TANH_GRAD: {
        int64_t dims[CLG_MAX_DIMS], sa[CLG_MAX_DIMS], sb[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, sa);
        clg_broadcast_strides(s1, n, sb);
        for (int64_t i = 0; i < count; i++)
            y[i] = binary(n->op, x[bcast_offset(i, dims, sa)], b[bcast_offset(i, dims, sb)]);
        return CLG_OK;
    }
    case CLG_OP_NEG:
    case CLG_OP_SCALE:
    case CLG_OP_SQUARE:
    case CLG_OP_EXP:
    case CLG_OP_LOG:
    case CLG_OP_SQRT:
    case CLG_OP_RELU:
    case CLG_OP_SIGMOID:
    case CLG_OP_TANH:
        for (int64_t i = 0; i < count; i++) y[i] = unary(n->op, x[i], n->f[0]);
        return CLG_OK;
    case CLG_OP_SUM:
    case CLG_OP_MEAN: {
        double acc = 0.0;
        for (int64_t i = 0; i < s0->numel; i++) acc += x[i];
        y[0] = (float)(n->op == CLG_OP_MEAN ? acc / (double)s0->numel : acc);
        return CLG_OK;
    }
    case CLG_OP_MSE: {
        double acc = 0.0;
        for (int64_t i = 0; i < s0->numel; i++) {
            double d = (double)x[i] - (double)b[i];
            acc += d * d;
        }
        y[0] = (float)(acc / (double)s0->numel);
        return CLG_OK;
    }
    case CLG_OP_MSE_GRAD: {
        /* d/dpred mean((pred - target)^2) = 2 (pred - target) / n */
        float k = 2.0f * nodes[n->src[2]].buf->data[0] / (float)count;
        for (int64_t i = 0; i < count; i++) y[i] = k * (x[i] - b[i]);
        return CLG_OK;
    }
    case CLG_OP_EXPAND: {
        int64_t dims[CLG_MAX_DIMS], sx[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, sx);
        for (int64_t i = 0; i < count; i++) y[i] = x[bcast_offset(i, dims, sx)];
        return CLG_OK;
    }
    case CLG_OP_REDUCE_TO: {
        /* Output element j sums, in double, the source elements that
         * broadcast from it: an odometer over the reduced axes. */
        int64_t sd[CLG_MAX_DIMS], od[CLG_MAX_DIMS], ss[CLG_MAX_DIMS];
        clg_padded_shape(s0, sd);
        clg_padded_shape(n, od);
        int64_t stride = 1;
        for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
            ss[d] = stride;
            stride *= sd[d];
        }
        for (int64_t j = 0; j < count; j++) {
            int64_t base = 0, rem = j;
            for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
                base += (rem % od[d]) * ss[d];
                rem /= od[d];
            }
            int64_t idx[CLG_MAX_DIMS] = {0};
            double acc = 0.0;
            for (;;) {
                int64_t off = base;
                for (int d = 0; d < CLG_MAX_DIMS; d++) off += idx[d] * ss[d];
                acc += x[off];
                int d = CLG_MAX_DIMS - 1;
                for (; d >= 0; d--) {
                    if (od[d] != 1 || sd[d] == 1) continue;
                    if (++idx[d] < sd[d]) break;
                    idx[d] = 0;
                }
                if (d < 0) break;
            }
            y[j] = (float)acc;
        }
        return CLG_OK;
    }
    case CLG_OP_SGD:
        for (int64_t i = 0; i < count; i++) y[i] -= n->f[0] * b[i];
        return CLG_OK;
    default:
        return clg_error(be->ctx, CLG_ERR_UNSUPPORTED, "reference: op '%s' is not implemented",
                         clg_op_name(n->op));
    }
}

static const clg_backend_vtable ref_vtable = {
    .kind = "reference",
    .destroy = ref_destroy,
    .buffer_alloc = ref_alloc,
    .buffer_free = ref_free,
    .buffer_write = ref_write,
    .buffer_read = ref_read,
    .buffer_fill = ref_fill,
    .run_node = ref_run,
    .synchronize = ref_sync,
};

clg_status clg_reference_backend_create(clg_context *ctx, clg_backend **out)
{
    clg_backend *be = calloc(1, sizeof *be);
    if (!be) return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "reference: out of host memory");
    be->vt = &ref_vtable;
    be->ctx = ctx;
    strcpy(be->device, "reference (plain C on the host)");
    *out = be;
    return CLG_OK;
}
