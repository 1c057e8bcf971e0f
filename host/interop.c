/*
 * The application's OpenCL objects (include/clgrad_opencl.h): a context
 * on its cl_context, device and queue; a tensor's buffer; a leaf stored in
 * its buffer; runs ordered by its events.
 */
#include "cl_backend.h"
#include "native.h"

#include "../core/internal.h"
#include "clgrad_opencl.h"

#include <string.h>

typedef struct adopt_args {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue;
} adopt_args;

static clg_status adopt(clg_context *ctx, void *arg, clg_backend **out)
{
    const adopt_args *a = arg;
    return clg_opencl_backend_adopt(ctx, a->context, a->device, a->queue, out);
}

clg_status clg_context_create_opencl(cl_context context, cl_device_id device, cl_command_queue queue,
                                     const char *const *settings, clg_context **out)
{
    adopt_args a = {context, device, queue};
    return clg_context_create_from(out, settings, adopt, &a);
}

/* The OpenCL backend of ctx, or NULL with CLG_ERR_UNSUPPORTED recorded. */
static clg_cl_backend *backend_of(clg_context *ctx, const char *func)
{
    clg_cl_backend *b = clg_cl_backend_of(ctx->be);
    if (!b)
        clg_error(ctx, CLG_ERR_UNSUPPORTED, "%s: the context runs on the %s backend, not on OpenCL", func,
                  clg_context_backend(ctx));
    return b;
}

clg_status clg_context_get_opencl(const clg_context *ctx, cl_context *context, cl_device_id *device,
                                  cl_command_queue *queue)
{
    if (!ctx) return CLG_ERR_INVALID_ARGUMENT;
    clg_cl_backend *b = backend_of((clg_context *)ctx, "clg_context_get_opencl");
    if (!b) return CLG_ERR_UNSUPPORTED;
    if (context) *context = b->context;
    if (device) *device = b->dev.device;
    if (queue) *queue = b->queue;
    return CLG_OK;
}

/* g live, on OpenCL, t one of its tensors: its backend, else NULL (the
 * status recorded, returned through *s). */
static clg_cl_backend *check(clg_graph *g, clg_tensor t, const char *func, clg_status *s)
{
    if ((*s = clg_graph_check(g, func)) != CLG_OK) {
        if (g) *s = g->ctx->status;
        return NULL;
    }
    clg_cl_backend *b = backend_of(g->ctx, func);
    if (!b) {
        *s = CLG_ERR_UNSUPPORTED;
        return NULL;
    }
    if ((*s = clg_tensor_check(g, t, func)) != CLG_OK) return NULL;
    return b;
}

clg_status clg_tensor_get_opencl(clg_graph *g, clg_tensor t, cl_mem *mem, size_t *offset)
{
    const char *func = "clg_tensor_get_opencl";
    clg_status s;
    if (!check(g, t, func, &s)) return s;
    if (!mem) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: mem is NULL", func);
    if ((s = clg_node_storage(g, t.id, func)) != CLG_OK) return s;
    *mem = MEM(g->nodes[t.id].buf);
    if (offset) *offset = 0; /* a planned tensor's buffer is a sub-buffer of its own */
    return CLG_OK;
}

static bool is_leaf(clg_op op)
{
    return clg_op_family(op) == CLG_FAM_LEAF;
}

clg_status clg_tensor_bind_opencl(clg_graph *g, clg_tensor t, cl_mem mem, size_t offset)
{
    const char *func = "clg_tensor_bind_opencl";
    clg_status s;
    clg_cl_backend *b = check(g, t, func, &s);
    if (!b) return s;
    clg_node *n = &g->nodes[t.id];
    char d[256];
    clg_node_describe(g->nodes, n, d, sizeof d);
    if (!is_leaf(n->op) || !n->owns_buf)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: tensor %d (%s) is not a leaf (an input, parameter, constant or labels): only a leaf's "
                         "storage can be the application's",
                         func, (int)t.id, d);
    if (!mem) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: mem is NULL", func);
    cl_context mc = NULL;
    size_t size = 0;
    cl_mem_flags flags = 0;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof mc, &mc, NULL);
    if (err == CL_SUCCESS) err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err == CL_SUCCESS) err = clGetMemObjectInfo(mem, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
    if (err != CL_SUCCESS)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the buffer is not valid: %s (%d)", func,
                         clg_cl_error_name(err), (int)err);
    if (mc != b->context)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the buffer belongs to another cl_context than %s",
                         func, b->base.device);
    if (flags & (CL_MEM_READ_ONLY | CL_MEM_WRITE_ONLY))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: the buffer is %s; clgrad reads and writes its tensors' buffers (CL_MEM_READ_WRITE)",
                         func, flags & CL_MEM_READ_ONLY ? "CL_MEM_READ_ONLY" : "CL_MEM_WRITE_ONLY");
    const size_t bytes = (size_t)n->numel * 4, align = (size_t)b->base.view_align * 4;
    if (offset > size || size - offset < bytes)
        return clg_error(g->ctx, CLG_ERR_SHAPE,
                         "%s: tensor %d (%s) needs %zu bytes from offset %zu; the buffer holds %zu bytes", func,
                         (int)t.id, d, bytes, offset, size);
    if (offset % align)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "%s: offset %zu is not a multiple of the device's base address alignment (%zu bytes)", func,
                         offset, align);
    clg_backend *be = &b->base;
    /* runs in flight may still use the old buffer */
    if ((s = be->vt->synchronize(be)) != CLG_OK) return clg_error_wrap(g->ctx, s, "%s", func);
    cl_mem m = mem;
    if (offset) {
        cl_buffer_region r = {offset, bytes ? bytes : 4};
        m = clCreateSubBuffer(mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &err);
        if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clg_tensor_bind_opencl: clCreateSubBuffer");
    } else {
        clRetainMemObject(mem);
    }
    /* its host pointer, where native kernels run (waits for the application's work on it) */
    if ((s = clg_cl_native_learn(b, m)) != CLG_OK) {
        clReleaseMemObject(m);
        return clg_error_wrap(g->ctx, s, "%s", func);
    }
    clg_leaf_replace_buffer(g, t.id, (clg_buffer *)m);
    return CLG_OK;
}

clg_status clg_graph_run_opencl(clg_graph *g, int phases, cl_uint num_wait, const cl_event *wait_list,
                                cl_event *done)
{
    const char *func = "clg_graph_run_opencl";
    if (done) *done = NULL;
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    clg_cl_backend *b = backend_of(g->ctx, func);
    if (!b) return CLG_ERR_UNSUPPORTED;
    if ((num_wait > 0) != (wait_list != NULL))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %u events to wait for, wait_list %s", func, num_wait,
                         wait_list ? "given" : "NULL");
    if (phases & ~CLG_RUN_ALL || !phases)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: phases 0x%x is not a set of CLG_RUN_* flags", func,
                         (unsigned)phases);
    /* what could refuse the run, before the barrier goes in */
    if ((s = clg_graph_prepare(g)) != CLG_OK) return clg_error_wrap(g->ctx, s, "%s", func);
    if (num_wait) {
        /* everything after the barrier waits for the application's events */
        cl_int err = clEnqueueBarrierWithWaitList(b->queue, num_wait, wait_list, NULL);
        if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clg_graph_run_opencl: clEnqueueBarrierWithWaitList");
    }
    if ((s = clg_graph_run(g, phases)) != CLG_OK) return s;
    if (done) {
        cl_int err = clEnqueueMarkerWithWaitList(b->queue, 0, NULL, done);
        if (err != CL_SUCCESS) {
            *done = NULL;
            return clg_cl_fail(b, err, "clg_graph_run_opencl: clEnqueueMarkerWithWaitList");
        }
    }
    return CLG_OK;
}
