/* The OpenCL backend: context, queue, kernels, buffers and node dispatch. */
#include "cl_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLG_KERNEL_LIST(X)                                                                        \
    X(add) X(add_bc) X(sub) X(sub_bc) X(mul) X(mul_bc) X(div) X(div_bc)                          \
    X(neg) X(scale) X(square) X(exp_f) X(log_f) X(sqrt_f) X(relu) X(sigmoid) X(tanh_f)          \
    X(relu_backward) X(relu_backward_bc) X(sigmoid_backward) X(sigmoid_backward_bc)             \
    X(tanh_backward) X(tanh_backward_bc) X(expand)                                               \
    X(sum_partial) X(sqdiff_partial) X(sum_final) X(reduce_to) X(mse_backward)                  \
    X(sgd_update)

enum {
#define K_ENUM(k) K_##k,
    CLG_KERNEL_LIST(K_ENUM)
#undef K_ENUM
        K_COUNT
};
static const char *const kernel_names[] = {
#define K_NAME(k) #k,
    CLG_KERNEL_LIST(K_NAME)
#undef K_NAME
};

/* Reductions to one element use at most this many work-groups. */
#define CLG_MAX_PARTIALS 1024

typedef struct clg_cl_backend {
    clg_backend base;
    clg_cl_device dev;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[K_COUNT];
    size_t wg;            /* local size for every kernel: a power of two */
    size_t max_global;    /* cap on work-items for grid-stride kernels */
    cl_mem partials;      /* scratch of the two-pass reductions */
} clg_cl_backend;

#define CLB(be) ((clg_cl_backend *)(be))
#define MEM(buf) ((cl_mem)(buf))

static clg_status cl_fail(clg_backend *be, cl_int err, const char *what)
{
    clg_status s = err == CL_OUT_OF_HOST_MEMORY || err == CL_MEM_OBJECT_ALLOCATION_FAILURE ? CLG_ERR_OUT_OF_MEMORY
                                                                                          : CLG_ERR_DEVICE;
    return clg_error(be->ctx, s, "%s failed on %s: %s (%d)", what, be->device, clg_cl_error_name(err), (int)err);
}

static void cl_destroy(clg_backend *be)
{
    clg_cl_backend *b = CLB(be);
    if (b->queue) clFinish(b->queue);
    if (b->partials) clReleaseMemObject(b->partials);
    for (int i = 0; i < K_COUNT; i++)
        if (b->kernels[i]) clReleaseKernel(b->kernels[i]);
    if (b->program) clReleaseProgram(b->program);
    if (b->queue) clReleaseCommandQueue(b->queue);
    if (b->context) clReleaseContext(b->context);
    free(b);
}

static clg_status cl_alloc(clg_backend *be, size_t bytes, clg_buffer **out)
{
    cl_int err;
    cl_mem m = clCreateBuffer(CLB(be)->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) return cl_fail(be, err, "clCreateBuffer");
    *out = (clg_buffer *)m;
    return CLG_OK;
}

static void cl_free(clg_backend *be, clg_buffer *buf)
{
    (void)be;
    clReleaseMemObject(MEM(buf));
}

static clg_status cl_write(clg_backend *be, clg_buffer *buf, size_t off, const void *src, size_t bytes)
{
    cl_int err = clEnqueueWriteBuffer(CLB(be)->queue, MEM(buf), CL_TRUE, off, bytes, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLG_OK : cl_fail(be, err, "clEnqueueWriteBuffer");
}

static clg_status cl_read(clg_backend *be, clg_buffer *buf, size_t off, void *dst, size_t bytes)
{
    cl_int err = clEnqueueReadBuffer(CLB(be)->queue, MEM(buf), CL_TRUE, off, bytes, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLG_OK : cl_fail(be, err, "clEnqueueReadBuffer");
}

static clg_status cl_fill(clg_backend *be, clg_buffer *buf, float v, size_t count)
{
    cl_int err = clEnqueueFillBuffer(CLB(be)->queue, MEM(buf), &v, sizeof v, 0, count * sizeof v, 0, NULL, NULL);
    if (err == CL_SUCCESS) err = clFinish(CLB(be)->queue);
    return err == CL_SUCCESS ? CLG_OK : cl_fail(be, err, "clEnqueueFillBuffer");
}

static clg_status cl_sync(clg_backend *be)
{
    cl_int err = clFinish(CLB(be)->queue);
    return err == CL_SUCCESS ? CLG_OK : cl_fail(be, err, "clFinish");
}

/* ---- dispatch ---- */

/* Sets kernel arguments from a list of (size, pointer) pairs. */
typedef struct { size_t size; const void *ptr; } karg;

static clg_status launch(clg_backend *be, int k, const karg *args, int nargs, size_t items, size_t local)
{
    clg_cl_backend *b = CLB(be);
    cl_kernel kern = b->kernels[k];
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", kernel_names[k], i);
            return cl_fail(be, err, what);
        }
    }
    if (!local) local = b->wg;
    size_t global = (items + local - 1) / local * local;
    if (global > b->max_global) global = b->max_global;
    if (global == 0) global = local;
    cl_int err = clEnqueueNDRangeKernel(b->queue, kern, 1, NULL, &global, &local, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", kernel_names[k]);
        return cl_fail(be, err, what);
    }
    return CLG_OK;
}

#define ARG(x) {sizeof(x), &(x)}
#define LOCAL_ARG(bytes) {(bytes), NULL}

static cl_long4 long4_of(const int64_t v[CLG_MAX_DIMS])
{
    cl_long4 r;
    for (int d = 0; d < 4; d++) r.s[d] = v[d];
    return r;
}

static bool same_shape(const clg_node *a, const clg_node *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static clg_status run_binary(clg_backend *be, int k, const clg_node *A, const clg_node *B, const clg_node *Y)
{
    cl_mem a = MEM(A->buf), b = MEM(B->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    bool fa = same_shape(A, Y), fb = same_shape(B, Y);
    if ((fa || A->numel == 1) && (fb || B->numel == 1)) {
        cl_long sa = fa ? 1 : 0, sb = fb ? 1 : 0;
        karg args[] = {ARG(a), ARG(b), ARG(y), ARG(n), ARG(sa), ARG(sb)};
        return launch(be, k, args, 6, (size_t)n, 0);
    }
    int64_t dims[4], sa[4], sb[4];
    clg_padded_shape(Y, dims);
    clg_broadcast_strides(A, Y, sa);
    clg_broadcast_strides(B, Y, sb);
    cl_long4 d4 = long4_of(dims), a4 = long4_of(sa), b4 = long4_of(sb);
    karg args[] = {ARG(a), ARG(b), ARG(y), ARG(n), ARG(d4), ARG(a4), ARG(b4)};
    return launch(be, k + 1, args, 7, (size_t)n, 0);
}

static clg_status run_unary(clg_backend *be, int k, const clg_node *X, const clg_node *Y, float c)
{
    cl_mem x = MEM(X->buf), y = MEM(Y->buf);
    cl_long n = Y->numel;
    karg args[] = {ARG(x), ARG(y), ARG(n), ARG(c)};
    return launch(be, k, args, 4, (size_t)n, 0);
}

/* y[0] = scale * sum over n elements of x (or of (x - x2)^2 when x2 is set). */
static clg_status run_reduce_all(clg_backend *be, cl_mem x, cl_mem x2, cl_long n, float scale, cl_mem y)
{
    clg_cl_backend *b = CLB(be);
    size_t groups = ((size_t)n + b->wg - 1) / b->wg;
    if (groups > CLG_MAX_PARTIALS) groups = CLG_MAX_PARTIALS;
    if (groups > b->max_global / b->wg) groups = b->max_global / b->wg;
    size_t items = groups * b->wg;
    clg_status s;
    if (x2) {
        karg args[] = {ARG(x), ARG(x2), ARG(n), ARG(b->partials), LOCAL_ARG(b->wg * sizeof(float))};
        s = launch(be, K_sqdiff_partial, args, 5, items, 0);
    } else {
        karg args[] = {ARG(x), ARG(n), ARG(b->partials), LOCAL_ARG(b->wg * sizeof(float))};
        s = launch(be, K_sum_partial, args, 4, items, 0);
    }
    if (s != CLG_OK) return s;
    cl_int m = (cl_int)groups;
    karg args[] = {ARG(b->partials), ARG(m), ARG(scale), ARG(y), LOCAL_ARG(b->wg * sizeof(float))};
    return launch(be, K_sum_final, args, 5, b->wg, 0);
}

static clg_status run_reduce_to(clg_backend *be, const clg_node *X, const clg_node *Y)
{
    if (Y->numel == 1) return run_reduce_all(be, MEM(X->buf), NULL, X->numel, 1.0f, MEM(Y->buf));
    int64_t sd[4], od[4], st[4], rd[4];
    clg_padded_shape(X, sd);
    clg_padded_shape(Y, od);
    int64_t stride = 1;
    cl_long k = 1;
    for (int d = 3; d >= 0; d--) {
        st[d] = stride;
        stride *= sd[d];
        rd[d] = od[d] == 1 ? sd[d] : 1;
        k *= rd[d];
    }
    cl_mem x = MEM(X->buf), y = MEM(Y->buf);
    cl_long m = Y->numel;
    cl_long4 o4 = long4_of(od), s4 = long4_of(st), r4 = long4_of(rd);
    karg args[] = {ARG(x), ARG(y), ARG(m), ARG(o4), ARG(s4), ARG(r4), ARG(k)};
    return launch(be, K_reduce_to, args, 7, (size_t)m, 0);
}

static clg_status cl_run(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = n->src[0] >= 0 ? &nodes[n->src[0]] : NULL;
    const clg_node *s1 = n->src[1] >= 0 ? &nodes[n->src[1]] : NULL;
    switch (n->op) {
    case CLG_OP_ADD: return run_binary(be, K_add, s0, s1, n);
    case CLG_OP_SUB: return run_binary(be, K_sub, s0, s1, n);
    case CLG_OP_MUL: return run_binary(be, K_mul, s0, s1, n);
    case CLG_OP_DIV: return run_binary(be, K_div, s0, s1, n);
    case CLG_OP_RELU_GRAD: return run_binary(be, K_relu_backward, s0, s1, n);
    case CLG_OP_SIGMOID_GRAD: return run_binary(be, K_sigmoid_backward, s0, s1, n);
    case CLG_OP_TANH_GRAD: return run_binary(be, K_tanh_backward, s0, s1, n);
    case CLG_OP_NEG: return run_unary(be, K_neg, s0, n, 0.0f);
    case CLG_OP_SCALE: return run_unary(be, K_scale, s0, n, n->f[0]);
    case CLG_OP_SQUARE: return run_unary(be, K_square, s0, n, 0.0f);
    case CLG_OP_EXP: return run_unary(be, K_exp_f, s0, n, 0.0f);
    case CLG_OP_LOG: return run_unary(be, K_log_f, s0, n, 0.0f);
    case CLG_OP_SQRT: return run_unary(be, K_sqrt_f, s0, n, 0.0f);
    case CLG_OP_RELU: return run_unary(be, K_relu, s0, n, 0.0f);
    case CLG_OP_SIGMOID: return run_unary(be, K_sigmoid, s0, n, 0.0f);
    case CLG_OP_TANH: return run_unary(be, K_tanh_f, s0, n, 0.0f);
    case CLG_OP_SUM: return run_reduce_all(be, MEM(s0->buf), NULL, s0->numel, 1.0f, MEM(n->buf));
    case CLG_OP_MEAN:
        return run_reduce_all(be, MEM(s0->buf), NULL, s0->numel, (float)(1.0 / (double)s0->numel), MEM(n->buf));
    case CLG_OP_MSE:
        return run_reduce_all(be, MEM(s0->buf), MEM(s1->buf), s0->numel, (float)(1.0 / (double)s0->numel),
                              MEM(n->buf));
    case CLG_OP_MSE_GRAD: {
        cl_mem p = MEM(s0->buf), t = MEM(s1->buf), gy = MEM(nodes[n->src[2]].buf), y = MEM(n->buf);
        cl_long cnt = n->numel;
        karg args[] = {ARG(p), ARG(t), ARG(gy), ARG(y), ARG(cnt)};
        return launch(be, K_mse_backward, args, 5, (size_t)cnt, 0);
    }
    case CLG_OP_EXPAND: {
        int64_t dims[4], st[4];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, st);
        cl_mem x = MEM(s0->buf), y = MEM(n->buf);
        cl_long cnt = n->numel;
        cl_long4 d4 = long4_of(dims), s4 = long4_of(st);
        karg args[] = {ARG(x), ARG(y), ARG(cnt), ARG(d4), ARG(s4)};
        return launch(be, K_expand, args, 5, (size_t)cnt, 0);
    }
    case CLG_OP_REDUCE_TO: return run_reduce_to(be, s0, n);
    case CLG_OP_SGD: {
        cl_mem w = MEM(n->buf), gr = MEM(s1->buf);
        cl_long cnt = n->numel;
        float lr = n->f[0];
        karg args[] = {ARG(w), ARG(gr), ARG(cnt), ARG(lr)};
        return launch(be, K_sgd_update, args, 4, (size_t)cnt, 0);
    }
    default:
        return clg_error(be->ctx, CLG_ERR_UNSUPPORTED, "opencl: op '%s' is not implemented", clg_op_name(n->op));
    }
}

static const clg_backend_vtable cl_vtable = {
    .kind = "opencl",
    .destroy = cl_destroy,
    .buffer_alloc = cl_alloc,
    .buffer_free = cl_free,
    .buffer_write = cl_write,
    .buffer_read = cl_read,
    .buffer_fill = cl_fill,
    .run_node = cl_run,
    .synchronize = cl_sync,
};

static clg_status setup(clg_cl_backend *b)
{
    clg_backend *be = &b->base;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)b->dev.platform, 0};
    b->context = clCreateContext(props, 1, &b->dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return cl_fail(be, err, "clCreateContext");
    b->queue = clCreateCommandQueue(b->context, b->dev.device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) return cl_fail(be, err, "clCreateCommandQueue");

    clg_status s = clg_cl_build_program(be->ctx, b->context, b->dev.device, clg_cl_sources, clg_cl_source_count,
                                        "-cl-std=CL1.2", &b->program);
    if (s != CLG_OK) return clg_error_wrap(be->ctx, s, "building clgrad's kernels for %s", be->device);

    size_t dev_wg = 256;
    clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev_wg, &dev_wg, NULL);
    size_t wg = dev_wg < 256 ? dev_wg : 256;
    for (int i = 0; i < K_COUNT; i++) {
        b->kernels[i] = clCreateKernel(b->program, kernel_names[i], &err);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clCreateKernel(%s)", kernel_names[i]);
            return cl_fail(be, err, what);
        }
        size_t kwg = wg;
        if (clGetKernelWorkGroupInfo(b->kernels[i], b->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                                     NULL) == CL_SUCCESS &&
            kwg < wg)
            wg = kwg;
    }
    size_t p2 = 1;
    while (p2 * 2 <= wg) p2 *= 2;
    b->wg = p2;

    cl_uint cus = 1;
    clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL);
    /* Enough work-items to fill every compute unit many times over; beyond
     * that the grid-stride loops take the rest. */
    b->max_global = (size_t)cus * 2048;
    if (b->max_global < 64 * b->wg) b->max_global = 64 * b->wg;
    b->max_global = b->max_global / b->wg * b->wg;

    b->partials = clCreateBuffer(b->context, CL_MEM_READ_WRITE, CLG_MAX_PARTIALS * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS) return cl_fail(be, err, "clCreateBuffer(partials)");
    return CLG_OK;
}

clg_status clg_opencl_backend_create(clg_context *ctx, const char *spec, clg_backend **out)
{
    clg_cl_backend *b = calloc(1, sizeof *b);
    if (!b) return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "opencl: out of host memory");
    b->base.vt = &cl_vtable;
    b->base.ctx = ctx;
    clg_status s = clg_cl_select(ctx, spec, &b->dev);
    if (s != CLG_OK) {
        free(b);
        return s;
    }
    snprintf(b->base.device, sizeof b->base.device, "%s / %s (%s, %d:%d)", b->dev.platform_name,
             b->dev.device_name, clg_cl_type_name(b->dev.type), b->dev.platform_index, b->dev.device_index);
    s = setup(b);
    if (s != CLG_OK) {
        cl_destroy(&b->base);
        return s;
    }
    *out = &b->base;
    return CLG_OK;
}
