/* The OpenCL backend: context, queue, kernels, buffers and node dispatch. */
#include "cl_backend.h"
#include "cl_fuse.h"
#include "conv_native.h"
#include "gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kernel_names[] = {
#define K_NAME(k) #k,
    CLG_KERNEL_LIST(K_NAME)
#undef K_NAME
};


clg_status clg_cl_fail(clg_cl_backend *b, cl_int err, const char *what)
{
    clg_backend *be = &b->base;
    clg_status s = err == CL_OUT_OF_HOST_MEMORY || err == CL_MEM_OBJECT_ALLOCATION_FAILURE ? CLG_ERR_OUT_OF_MEMORY
                                                                                          : CLG_ERR_DEVICE;
    return clg_error(be->ctx, s, "%s failed on %s: %s (%d)", what, be->device, clg_cl_error_name(err), (int)err);
}

static void release_timing(clg_cl_backend *b)
{
    if (b->first_ev) clReleaseEvent(b->first_ev);
    if (b->last_ev) clReleaseEvent(b->last_ev);
    b->first_ev = b->last_ev = NULL;
}

static void cl_destroy(clg_backend *be)
{
    clg_cl_backend *b = CLB(be);
    if (b->queue) clFinish(b->queue);
    clg_cl_gemm_release(b);
    clg_cl_native_release(b);
    clg_cl_gemm_tune_release(b);
    clg_cl_conv_native_release(b);
    release_timing(b);
    if (b->partials) clReleaseMemObject(b->partials);
    for (int i = 0; i < K_COUNT; i++)
        if (b->kernels[i]) clReleaseKernel(b->kernels[i]);
    if (b->program) clReleaseProgram(b->program);
    if (b->queue) clReleaseCommandQueue(b->queue);
    if (b->context) clReleaseContext(b->context);
    if (b->device_retained) clReleaseDevice(b->dev.device);
    free(b);
}

static clg_status fill(clg_cl_backend *b, cl_mem m, float v, size_t count)
{
    cl_long n = (cl_long)count;
    clg_karg args[] = {ARG(m), ARG(n), ARG(v)};
    return clg_cl_launch(b, K_fill, args, 3, count, 0);
}

static clg_status cl_alloc(clg_backend *be, size_t count, clg_buffer **out)
{
    cl_int err;
    cl_mem m = clCreateBuffer(CLB(be)->context, CL_MEM_READ_WRITE, (count ? count : 1) * 4, NULL, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(CLB(be), err, "clCreateBuffer");
    /* where native kernels run, the buffer's host pointer, before any command uses it */
    clg_status ls = clg_cl_native_learn(CLB(be), m);
    if (ls != CLG_OK) {
        clReleaseMemObject(m);
        return ls;
    }
    /* Every buffer starts as zeros, not as whatever the device held: a
     * backward or update before any set must not read stale memory. The
     * queue is in order, so nothing can see the buffer before the fill. */
    clg_status s = fill(CLB(be), m, 0.0f, count ? count : 1);
    if (s != CLG_OK) {
        clg_cl_native_forget(CLB(be), m);
        clReleaseMemObject(m);
        return clg_error_wrap(be->ctx, s, "zeroing a new buffer of %zu elements", count);
    }
    *out = (clg_buffer *)m;
    return CLG_OK;
}

static clg_status cl_view(clg_backend *be, clg_buffer *parent, size_t offset, size_t count, clg_buffer **out)
{
    cl_buffer_region r = {offset * 4, (count ? count : 1) * 4};
    cl_int err;
    cl_mem m = clCreateSubBuffer(MEM(parent), CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(CLB(be), err, "clCreateSubBuffer");
    *out = (clg_buffer *)m;
    return CLG_OK;
}

static void cl_free(clg_backend *be, clg_buffer *buf)
{
    /* and a sub-buffer's parent: the application's buffer bound at an
     * offset (include/clgrad_opencl.h) may go once clgrad lets it, and a
     * new one may come back under the same handle; an arena's views go
     * with the arena, whose pointer would be learnt again */
    cl_mem parent = NULL;
    if (clGetMemObjectInfo(MEM(buf), CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) == CL_SUCCESS && parent)
        clg_cl_native_forget(CLB(be), parent);
    clg_cl_native_forget(CLB(be), MEM(buf));
    clReleaseMemObject(MEM(buf));
}

static void cl_retain(clg_backend *be, clg_buffer *buf)
{
    (void)be;
    clRetainMemObject(MEM(buf));
}

static clg_status cl_write(clg_backend *be, clg_buffer *buf, size_t off, const void *src, size_t count,
                           clg_dtype dtype)
{
    cl_int err = clEnqueueWriteBuffer(CLB(be)->queue, MEM(buf), CL_TRUE, off * 4, count * 4, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clEnqueueWriteBuffer");
}

static clg_status cl_read(clg_backend *be, clg_buffer *buf, size_t off, void *dst, size_t count, clg_dtype dtype)
{
    cl_int err = clEnqueueReadBuffer(CLB(be)->queue, MEM(buf), CL_TRUE, off * 4, count * 4, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clEnqueueReadBuffer");
}

static clg_status cl_read_start(clg_backend *be, clg_buffer *buf, size_t off, float *dst, size_t count, void **event)
{
    cl_event ev = NULL;
    cl_int err = clEnqueueReadBuffer(CLB(be)->queue, MEM(buf), CL_FALSE, off * 4, count * 4, dst, 0, NULL, &ev);
    *event = ev;
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clEnqueueReadBuffer(not waiting)");
}

static clg_status cl_read_wait(clg_backend *be, void *event)
{
    cl_event ev = event;
    cl_int err = clWaitForEvents(1, &ev);
    cl_int st = CL_COMPLETE;
    if (err == CL_SUCCESS)
        err = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
    clReleaseEvent(ev);
    if (err == CL_SUCCESS && st < 0) err = st; /* the read (or a kernel before it) failed */
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clWaitForEvents(a read)");
}

/* Pinned host memory: a buffer the runtime allocates on the host side,
 * mapped once; GPUs copy to and from it by DMA without a staging copy. */
typedef struct {
    cl_mem mem;
    void *ptr;
} pinned;

static void cl_host_free(clg_backend *be, void *handle)
{
    pinned *p = handle;
    if (!p) return;
    if (p->ptr) {
        cl_event ev = NULL;
        if (clEnqueueUnmapMemObject(CLB(be)->queue, p->mem, p->ptr, 0, NULL, &ev) == CL_SUCCESS && ev) {
            clWaitForEvents(1, &ev);
            clReleaseEvent(ev);
        }
    }
    if (p->mem) clReleaseMemObject(p->mem);
    free(p);
}

static clg_status cl_host_alloc(clg_backend *be, size_t count, float **ptr, void **handle)
{
    clg_cl_backend *b = CLB(be);
    pinned *p = calloc(1, sizeof *p);
    if (!p) return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "pinned host memory: out of host memory");
    cl_int err;
    p->mem = clCreateBuffer(b->context, CL_MEM_ALLOC_HOST_PTR, (count ? count : 1) * 4, NULL, &err);
    if (err == CL_SUCCESS)
        p->ptr = clEnqueueMapBuffer(b->queue, p->mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, (count ? count : 1) * 4,
                                    0, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        p->ptr = NULL;
        cl_host_free(be, p);
        return clg_cl_fail(b, err, "pinned host memory (clCreateBuffer with CL_MEM_ALLOC_HOST_PTR, mapped)");
    }
    *ptr = p->ptr;
    *handle = p;
    return CLG_OK;
}

static clg_status cl_fill(clg_backend *be, clg_buffer *buf, float v, size_t count)
{
    return count ? fill(CLB(be), MEM(buf), v, count) : CLG_OK;
}

static clg_status cl_flush(clg_backend *be)
{
    cl_int err = clFlush(CLB(be)->queue);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clFlush");
}

static clg_status cl_sync(clg_backend *be)
{
    cl_int err = clFinish(CLB(be)->queue);
    return err == CL_SUCCESS ? CLG_OK : clg_cl_fail(CLB(be), err, "clFinish");
}

/* ---- dispatch ---- */

const char *clg_cl_kernel_name(int k)
{
    return k >= 0 && k < K_COUNT ? kernel_names[k] : "?";
}

clg_status clg_cl_launch(clg_cl_backend *b, int k, const clg_karg *args, int nargs, size_t items, size_t local)
{
    cl_kernel kern = b->kernels[k];
    if (!kern)
        return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "kernel '%s' is not in this build's OpenCL program",
                         kernel_names[k]);
    if (!local) local = b->kwg[k];
    size_t global = (items + local - 1) / local * local;
    if (global > b->max_global) global = b->max_global / local * local;
    if (global == 0) global = local;
    if (b->rec) return clg_cl_record_launch(b, k, args, nargs, global, local);
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", kernel_names[k], i);
            return clg_cl_fail(b, err, what);
        }
    }
    cl_int err = clEnqueueNDRangeKernel(b->queue, kern, 1, NULL, &global, &local, 0, NULL, clg_cl_event_slot(b));
    clg_cl_event_done(b);
    b->base.launches++;
    if (err != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", kernel_names[k]);
        return clg_cl_fail(b, err, what);
    }
    return CLG_OK;
}

cl_event *clg_cl_event_slot(clg_cl_backend *b)
{
    b->pending = NULL;
    return b->timing ? &b->pending : NULL;
}

void clg_cl_event_done(clg_cl_backend *b)
{
    if (!b->pending) return;
    if (!b->first_ev) {
        b->first_ev = b->pending;
    } else {
        if (b->last_ev) clReleaseEvent(b->last_ev);
        b->last_ev = b->pending;
    }
    b->pending = NULL;
}

/* Device time from the start of the first command to the end of the last,
 * by event profiling (the queue is created with profiling enabled). */
static clg_status cl_timer(clg_backend *be, bool start, double *seconds)
{
    clg_cl_backend *b = CLB(be);
    if (start) {
        release_timing(b);
        if (!b->profiling)
            return clg_error(be->ctx, CLG_ERR_UNSUPPORTED,
                             "timing a run needs a queue with CL_QUEUE_PROFILING_ENABLE; the application's queue on "
                             "%s was made without it",
                             be->device);
        b->timing = true;
        return CLG_OK;
    }
    b->timing = false;
    *seconds = 0;
    if (!b->first_ev) return CLG_OK;
    cl_event last = b->last_ev ? b->last_ev : b->first_ev;
    cl_ulong t0 = 0, t1 = 0;
    cl_int err = clWaitForEvents(1, &last);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(b->first_ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
    if (err == CL_SUCCESS) err = clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
    release_timing(b);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clGetEventProfilingInfo");
    *seconds = t1 > t0 ? (double)(t1 - t0) * 1e-9 : 0.0;
    return CLG_OK;
}



clg_status clg_cl_unsupported(clg_cl_backend *b, const clg_node *n)
{
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "opencl: op '%s' is not implemented", clg_op_name(n->op));
}

clg_status clg_cl_leaf(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    return CLG_OK;
}

typedef clg_status (*cl_family_fn)(clg_cl_backend *b, const clg_node *nodes, const clg_node *n);
static const cl_family_fn families[CLG_FAM_COUNT] = {
#define CLG_CL_ENTRY(e, lower) [CLG_FAM_##e] = clg_cl_##lower,
    CLG_FAMILY_LIST(CLG_CL_ENTRY)
#undef CLG_CL_ENTRY
};

clg_status clg_cl_run_node(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    /* the plan runs it in its group's kernel, built on the node's fields:
     * here when they changed since (elementwise ops' never do) */
    if (clg_cl_generated_only(nodes, n))
        return clg_error(be->ctx, CLG_ERR_UNSUPPORTED,
                         "%s on 16-bit tensors runs only in its graph's generated kernel, which was built on other "
                         "constants or buffers", clg_op_name(n->op));
    return families[clg_op_family(n->op)](CLB(be), nodes, n);
}

/* Every op in core/ops.h (a development build that embeds part of cl/
 * reports a missing kernel when the op runs instead). */
static bool cl_supports_op(const clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    if ((unsigned)n->op >= CLG_OP_COUNT) return false;
    if (clg_op_family(n->op) == CLG_FAM_MATMUL) return clg_cl_matmul_supports(CLB(be), nodes, n);
    return true;
}

static bool cl_workspaces(const clg_backend *be, const clg_node *nodes, const clg_node *n,
                          int64_t counts[CLG_MAX_AUX], uint8_t *scratch)
{
    switch (clg_op_family(n->op)) {
    case CLG_FAM_CONV: return clg_cl_conv_workspaces(CLB(be), nodes, n, counts, scratch);
    case CLG_FAM_QUANT: return clg_cl_quant_workspaces(CLB(be), nodes, n, counts, scratch);
    default: return true;
    }
}

static const clg_backend_vtable cl_vtable = {
    .kind = "opencl",
    .destroy = cl_destroy,
    .buffer_alloc = cl_alloc,
    .buffer_free = cl_free,
    .buffer_retain = cl_retain,
    .buffer_view = cl_view,
    .buffer_write = cl_write,
    .buffer_read = cl_read,
    .buffer_fill = cl_fill,
    .run_node = clg_cl_run_node,
    .synchronize = cl_sync,
    .flush = cl_flush,
    .timer = cl_timer,
    .supports_op = cl_supports_op,
    .workspaces = cl_workspaces,
    .plan_build = clg_cl_plan_build,
    .plan_run = clg_cl_plan_run,
    .plan_free = clg_cl_plan_free,
    .fusion = clg_cl_fusion,
    .buffer_read_start = cl_read_start,
    .read_wait = cl_read_wait,
    .host_alloc = cl_host_alloc,
    .host_free = cl_host_free,
};

/* Kernel kern's local size: the largest power of two within the device's
 * cap and the kernel's own limit (registers and local memory lower it per
 * kernel on GPUs). Powers of two because the reductions halve it; they
 * are also multiples of any warp or wavefront that fits. */
static size_t kernel_local_size(const clg_cl_backend *b, cl_kernel kern, size_t cap)
{
    size_t limit = cap;
    if (clGetKernelWorkGroupInfo(kern, b->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit, &limit, NULL) !=
            CL_SUCCESS ||
        limit > cap)
        limit = cap;
    size_t p2 = 1;
    while (p2 * 2 <= limit) p2 *= 2;
    return p2;
}

/* Everything but the context and the queue, which b already holds. */
static clg_status setup(clg_cl_backend *b)
{
    clg_backend *be = &b->base;
    cl_int err;

    /* the elementwise kernels' vector width: the device's preferred one
     * (16 on PoCL with AVX-512, 1 on NVIDIA); CLGRAD_VECTOR_WIDTH=N for
     * comparisons (1, 2, 4, 8 or 16) */
    cl_uint pref = 1;
    if (clGetDeviceInfo(b->dev.device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof pref, &pref, NULL) != CL_SUCCESS)
        pref = 1;
    const char *vwenv = clg_setting(be->ctx, CLG_SET_VECTOR_WIDTH);
    if (vwenv && *vwenv) {
        char src[64];
        if (strcmp(vwenv, "1") && strcmp(vwenv, "2") && strcmp(vwenv, "4") && strcmp(vwenv, "8") && strcmp(vwenv, "16"))
            return clg_error(be->ctx, CLG_ERR_INVALID_ARGUMENT, "%s='%s' is not one of 1, 2, 4, 8, 16",
                             clg_setting_source(be->ctx, CLG_SET_VECTOR_WIDTH, src, sizeof src), vwenv);
        pref = (cl_uint)atoi(vwenv);
    }
    b->vw = pref >= 16 ? 16 : pref >= 8 ? 8 : pref >= 4 ? 4 : pref >= 2 ? 2 : 1;
    snprintf(b->options, sizeof b->options, "-cl-std=CL1.2 -DCLG_VW=%d", b->vw);
    const char *options = b->options;
    clg_status s = CLG_OK;
    if (!clg_cl_cache_load(be->ctx, b->context, b->dev.device, clg_cl_sources, clg_cl_source_count, options,
                           &b->program)) {
        s = clg_cl_build_program(be->ctx, b->context, b->dev.device, clg_cl_sources, clg_cl_source_count, options,
                                 &b->program);
        if (s == CLG_OK)
            clg_cl_cache_store(be->ctx, b->program, b->dev.device, clg_cl_sources, clg_cl_source_count, options);
    }
    if (s != CLG_OK) return clg_error_wrap(be->ctx, s, "building clgrad's kernels for %s", be->device);

    size_t dev_wg = 256;
    clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev_wg, &dev_wg, NULL);
    size_t wg = dev_wg < 256 ? dev_wg : 256;
    for (int i = 0; i < K_COUNT; i++) {
        b->kernels[i] = clCreateKernel(b->program, kernel_names[i], &err);
        if (err == CL_INVALID_KERNEL_NAME) {
            /* Only in development builds that embed part of cl/: the op
             * needing it reports the kernel missing. */
            b->kernels[i] = NULL;
            b->kwg[i] = 1;
            continue;
        }
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clCreateKernel(%s)", kernel_names[i]);
            return clg_cl_fail(b, err, what);
        }
        b->kwg[i] = kernel_local_size(b, b->kernels[i], wg);
    }

    /* One work-item per element: PoCL runs grid-stride loops (a few
     * work-items walking the whole array) about 20 times slower, and GPUs
     * lose nothing. The cap only keeps global sizes sane for huge tensors,
     * where the kernels' loops take the rest. */
    b->max_global = (size_t)1 << 30;
    const char *fusion = clg_setting(be->ctx, CLG_SET_FUSION);
    b->fuse = !(fusion && strcmp(fusion, "off") == 0);
    /* a fused kernel takes a few pointers per node (host/cl_fuse.c's
     * ptr_cost), a batched update five per parameter and 9 scalars: groups
     * stay within the device's kernel-argument bytes (1024 at least on
     * full-profile devices), 64 of them left for the scalars */
    size_t param_bytes = 1024;
    if (clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_PARAMETER_SIZE, sizeof param_bytes, &param_bytes, NULL) !=
            CL_SUCCESS ||
        param_bytes < 256)
        param_bytes = 256; /* the least any device takes (embedded profile) */
    size_t ptr = sizeof(cl_mem) > 8 ? sizeof(cl_mem) : 8;
    b->fuse_max_ptrs = (int)((param_bytes - 64) / ptr);
    if (b->fuse_max_ptrs > CLG_FUSED_MAX_ARGS) b->fuse_max_ptrs = CLG_FUSED_MAX_ARGS;
    b->fuse_max_updates = (int)((param_bytes - 64) / (5 * ptr));
    if (b->fuse_max_updates > CLG_FUSED_MAX_UPDATES) b->fuse_max_updates = CLG_FUSED_MAX_UPDATES;
    b->optim_source = -1;
    for (int i = 0; i < clg_cl_source_count; i++)
        if (strcmp(clg_cl_source_names[i], "optim.cl") == 0) b->optim_source = i;

    /* For the tests: a small cap makes every kernel walk its grid-stride
     * and group-stride loops on small tensors, as huge ones would. */
    const char *cap = clg_setting(be->ctx, CLG_SET_MAX_LAUNCH);
    if (cap && *cap) {
        char *end, src[64];
        unsigned long long v = strtoull(cap, &end, 10);
        if (*end || v < 1 || v > b->max_global)
            return clg_error(be->ctx, CLG_ERR_INVALID_ARGUMENT, "%s='%s' is not a work-item count from 1 to %zu",
                             clg_setting_source(be->ctx, CLG_SET_MAX_LAUNCH, src, sizeof src), cap, b->max_global);
        b->max_global = (size_t)v;
    }

    cl_ulong max_alloc = 0;
    if (clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL) ==
        CL_SUCCESS)
        be->max_buffer_bytes = max_alloc;

    /* sub-buffers (the memory plan's arena) start at multiples of this */
    cl_uint align_bits = 0;
    if (clGetDeviceInfo(b->dev.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL) ==
            CL_SUCCESS &&
        align_bits >= 32)
        be->view_align = align_bits / 32;
    else
        be->view_align = 1024 / 32; /* 128 bytes: what most devices ask */

    clg_status gs = clg_cl_gemm_setup(b);
    if (gs == CLG_OK) gs = clg_cl_conv_setup(b);
    if (gs != CLG_OK) return gs;

    b->partials = clCreateBuffer(b->context, CL_MEM_READ_WRITE, CLG_MAX_PARTIALS * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(CLB(be), err, "clCreateBuffer(partials)");
    return CLG_OK;
}

clg_cl_backend *clg_cl_backend_of(clg_backend *be)
{
    return be && be->vt == &cl_vtable ? CLB(be) : NULL;
}

static clg_cl_backend *new_backend(clg_context *ctx)
{
    clg_cl_backend *b = calloc(1, sizeof *b);
    if (!b) {
        clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "opencl: out of host memory");
        return NULL;
    }
    b->base.vt = &cl_vtable;
    b->base.ctx = ctx;
    return b;
}

/* setup, then *out; on failure, b goes (and what it holds). */
static clg_status finish(clg_cl_backend *b, clg_backend **out)
{
    clg_status s = setup(b);
    if (s != CLG_OK) {
        cl_destroy(&b->base);
        return s;
    }
    *out = &b->base;
    return CLG_OK;
}

clg_status clg_opencl_backend_create(clg_context *ctx, const char *spec, clg_backend **out)
{
    clg_cl_backend *b = new_backend(ctx);
    if (!b) return CLG_ERR_OUT_OF_MEMORY;
    clg_status s = clg_cl_select(ctx, spec, &b->dev);
    if (s != CLG_OK) {
        free(b);
        return s;
    }
    snprintf(b->base.device, sizeof b->base.device, "%s / %s (%s, %d:%d)", b->dev.platform_name,
             b->dev.device_name, clg_cl_type_name(b->dev.type), b->dev.platform_index, b->dev.device_index);
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)b->dev.platform, 0};
    b->context = clCreateContext(props, 1, &b->dev.device, NULL, NULL, &err);
    if (err == CL_SUCCESS) b->queue = clCreateCommandQueue(b->context, b->dev.device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        s = clg_cl_fail(b, err, b->context ? "clCreateCommandQueue" : "clCreateContext");
        cl_destroy(&b->base);
        return s;
    }
    b->profiling = true;
    return finish(b, out);
}

clg_status clg_opencl_backend_adopt(clg_context *ctx, cl_context context, cl_device_id device,
                                    cl_command_queue queue, clg_backend **out)
{
    if (!context || !device)
        return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_context_create_opencl: %s is NULL",
                         context ? "the device" : "the context");
    /* the device must be one of the context's */
    cl_uint ndev = 0;
    cl_int err = clGetContextInfo(context, CL_CONTEXT_NUM_DEVICES, sizeof ndev, &ndev, NULL);
    if (err != CL_SUCCESS)
        return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_context_create_opencl: the context is not valid: %s (%d)",
                         clg_cl_error_name(err), (int)err);
    cl_device_id *devs = calloc(ndev ? ndev : 1, sizeof *devs);
    if (!devs) return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "opencl: out of host memory");
    bool member = false;
    if (clGetContextInfo(context, CL_CONTEXT_DEVICES, ndev * sizeof *devs, devs, NULL) == CL_SUCCESS)
        for (cl_uint i = 0; i < ndev; i++) member |= devs[i] == device;
    free(devs);
    if (!member)
        return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT,
                         "clg_context_create_opencl: the device is not one of the context's %u devices", ndev);
    /* the queue: that context's, that device's, in order */
    cl_command_queue_properties props = CL_QUEUE_PROFILING_ENABLE;
    if (queue) {
        cl_context qc = NULL;
        cl_device_id qd = NULL;
        err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qc, &qc, NULL);
        if (err == CL_SUCCESS) err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qd, &qd, NULL);
        if (err == CL_SUCCESS) err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
        if (err != CL_SUCCESS)
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_context_create_opencl: the queue is not valid: %s (%d)", clg_cl_error_name(err),
                             (int)err);
        if (qc != context || qd != device)
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_context_create_opencl: the queue belongs to another %s",
                             qc != context ? "context" : "device");
        if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_context_create_opencl: the queue executes out of order; clgrad needs an in-order "
                             "queue (its work depends on the order it is enqueued in)");
    }
    clg_cl_backend *b = new_backend(ctx);
    if (!b) return CLG_ERR_OUT_OF_MEMORY;
    clg_cl_describe(device, &b->dev);
    if (b->dev.platform_index >= 0)
        snprintf(b->base.device, sizeof b->base.device, "%s / %s (%s, %d:%d, the application's context)",
                 b->dev.platform_name, b->dev.device_name, clg_cl_type_name(b->dev.type), b->dev.platform_index,
                 b->dev.device_index);
    else
        snprintf(b->base.device, sizeof b->base.device, "%s / %s (%s, the application's context)",
                 b->dev.platform_name, b->dev.device_name, clg_cl_type_name(b->dev.type));
    clRetainDevice(device);
    b->device_retained = true;
    clRetainContext(context);
    b->context = context;
    if (queue) {
        clRetainCommandQueue(queue);
        b->queue = queue;
    } else {
        b->queue = clCreateCommandQueue(context, device, CL_QUEUE_PROFILING_ENABLE, &err);
        if (err != CL_SUCCESS) {
            clg_status s = clg_cl_fail(b, err, "clCreateCommandQueue");
            cl_destroy(&b->base);
            return s;
        }
    }
    b->profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
    return finish(b, out);
}
