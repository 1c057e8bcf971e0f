/*
 * Native kernels on CPU devices (clEnqueueNativeKernel): host functions
 * run in order on the device's own queue with every other kernel, on the
 * buffers' own memory, so nothing is copied and nothing waits on the host.
 * The host's BLAS (host/gemm_native.c) and oneDNN's convolutions
 * (host/conv_native.c) run so; this file finds where buffers live and
 * checks that the device's native kernels work.
 */
#include "gemm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Where each buffer lives. A native kernel is meant to get its buffers'
 * host pointers written over the handles at args_mem_loc, but PoCL 3.1
 * writes them in its own order (its buffers sorted by creation), not in
 * mem_list's: with two buffers or more a slot can get another buffer's
 * pointer (seen: products written over other tensors, heap corruption).
 * With one buffer there is no order to get wrong, so each buffer's
 * pointer is learnt once, by a native kernel given that buffer alone, and
 * kept until the buffer is freed (clg_cl_native_forget): a CPU device's
 * buffer stays where it was first placed. The products still list their
 * buffers, for the queue's dependencies, and ignore the slots.
 */
typedef struct native_ptr_probe {
    void *mem;
    void **out;
} native_ptr_probe;

static void CL_CALLBACK run_ptr_probe(void *p)
{
    const native_ptr_probe *a = p;
    *a->out = a->mem;
}

static size_t slot_of(const clg_cl_backend *b, cl_mem m)
{
    return ((uintptr_t)m >> 4) * 0x9e3779b97f4a7c15ull >> 20 & (b->native_cap - 1);
}

static bool grow_table(clg_cl_backend *b)
{
    size_t cap = b->native_cap ? b->native_cap * 2 : 64;
    clg_cl_native_ptr *t = calloc(cap, sizeof *t), *old = b->native_ptrs;
    if (!t) return false;
    size_t old_cap = b->native_cap;
    b->native_ptrs = t;
    b->native_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].mem) {
            size_t j = slot_of(b, old[i].mem);
            while (t[j].mem) j = (j + 1) & (cap - 1);
            t[j] = old[i];
        }
    free(old);
    return true;
}

/* The host pointer of buffer m (not a sub-buffer), learnt on first use. */
/* The queue of the probes: a second in-order queue on the device, so that
 * learning a pointer never waits for the context's queue (where the
 * application's work may wait for its own events: include/clgrad_opencl.h). */
static clg_status probe_queue(clg_cl_backend *b, cl_command_queue *q)
{
    if (!b->probe_queue) {
        cl_int err;
        b->probe_queue = clCreateCommandQueue(b->context, b->dev.device, 0, &err);
        if (err != CL_SUCCESS) {
            b->probe_queue = NULL;
            return clg_cl_fail(b, err, "clCreateCommandQueue (a queue for native kernels' probes)");
        }
    }
    *q = b->probe_queue;
    return CLG_OK;
}

static clg_status host_ptr(clg_cl_backend *b, cl_mem m, float **out)
{
    if (b->native_cap) {
        for (size_t j = slot_of(b, m); b->native_ptrs[j].mem; j = (j + 1) & (b->native_cap - 1))
            if (b->native_ptrs[j].mem == m) {
                *out = b->native_ptrs[j].ptr;
                return CLG_OK;
            }
    }
    if ((b->native_count + 1) * 2 > b->native_cap && !grow_table(b))
        return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "native kernels: out of host memory");
    void *ptr = NULL;
    native_ptr_probe a = {m, &ptr};
    const void *loc = &a.mem;
    cl_command_queue q = NULL;
    clg_status s = probe_queue(b, &q);
    if (s != CLG_OK) return s;
    cl_int err = clEnqueueNativeKernel(q, run_ptr_probe, &a, sizeof a, 1, &m, &loc, 0, NULL, NULL);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clEnqueueNativeKernel (finding a buffer for a native kernel)");
    err = clFinish(q);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clFinish (finding a buffer for a native kernel)");
    if (!ptr)
        return clg_error(b->base.ctx, CLG_ERR_DEVICE, "native kernels: %s gave a buffer no host pointer",
                         b->base.device);
    size_t j = slot_of(b, m);
    while (b->native_ptrs[j].mem) j = (j + 1) & (b->native_cap - 1);
    b->native_ptrs[j].mem = m;
    b->native_ptrs[j].ptr = ptr;
    b->native_count++;
    *out = ptr;
    return CLG_OK;
}

clg_status clg_cl_native_learn(clg_cl_backend *b, cl_mem m)
{
    float *ptr;
    return b->natives ? clg_cl_native_buffer(b, &m, &ptr) : CLG_OK;
}

clg_status clg_cl_native_buffer(clg_cl_backend *b, cl_mem *m, float **ptr)
{
    /* a sub-buffer (the memory plan's views) as its parent and origin */
    cl_mem parent = NULL;
    size_t origin = 0;
    if (clGetMemObjectInfo(*m, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) != CL_SUCCESS || !parent ||
        clGetMemObjectInfo(*m, CL_MEM_OFFSET, sizeof origin, &origin, NULL) != CL_SUCCESS) {
        parent = *m;
        origin = 0;
    }
    clg_status s = host_ptr(b, parent, ptr);
    if (s != CLG_OK) return s;
    *m = parent;
    *ptr += origin / sizeof(float);
    return CLG_OK;
}

void clg_cl_native_forget(clg_cl_backend *b, cl_mem m)
{
    if (!b->native_cap) return;
    size_t j = slot_of(b, m), mask = b->native_cap - 1;
    while (b->native_ptrs[j].mem && b->native_ptrs[j].mem != m) j = (j + 1) & mask;
    if (!b->native_ptrs[j].mem) return;
    /* backward-shift deletion keeps every probe chain whole */
    b->native_ptrs[j].mem = NULL;
    b->native_count--;
    for (size_t k = (j + 1) & mask; b->native_ptrs[k].mem; k = (k + 1) & mask) {
        size_t home = slot_of(b, b->native_ptrs[k].mem);
        if (((k - home) & mask) >= ((k - j) & mask)) {
            b->native_ptrs[j] = b->native_ptrs[k];
            b->native_ptrs[k].mem = NULL;
            j = k;
        }
    }
}

void clg_cl_native_release(clg_cl_backend *b)
{
    if (b->probe_queue) clReleaseCommandQueue(b->probe_queue);
    b->probe_queue = NULL;
    free(b->native_ptrs);
    b->native_ptrs = NULL;
    b->native_cap = b->native_count = 0;
}

/* Whether the pointer learnt for a buffer is where its data is: a marker
 * written by the queue, read back by a native kernel through it. */
typedef struct native_read_probe {
    const float *p;
    float *out;
} native_read_probe;

static void CL_CALLBACK run_read_probe(void *p)
{
    const native_read_probe *a = p;
    *a->out = *a->p;
}

clg_status clg_cl_native_probe(clg_cl_backend *b, bool *possible)
{
    cl_device_exec_capabilities caps = 0;
    *possible = false;
    if (!(b->dev.type & CL_DEVICE_TYPE_CPU)) return CLG_OK;
    if (clGetDeviceInfo(b->dev.device, CL_DEVICE_EXECUTION_CAPABILITIES, sizeof caps, &caps, NULL) != CL_SUCCESS ||
        !(caps & CL_EXEC_NATIVE_KERNEL))
        return CLG_OK;
    /* From here a failure is the device's or the host's, not a missing
     * capability: it fails the context rather than choosing the other path,
     * so that a context's products never depend on a transient error. */
    cl_int err;
    const float marker = 1.25f;
    float seen = 0, *ptr = NULL;
    cl_command_queue q = NULL;
    clg_status s = probe_queue(b, &q);
    if (s != CLG_OK) return s;
    cl_mem m = clCreateBuffer(b->context, CL_MEM_READ_WRITE, 64, NULL, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clCreateBuffer (probing native kernels)");
    err = clEnqueueWriteBuffer(q, m, CL_TRUE, 0, sizeof marker, &marker, 0, NULL, NULL);
    if (err != CL_SUCCESS) s = clg_cl_fail(b, err, "clEnqueueWriteBuffer (probing native kernels)");
    if (s == CLG_OK) s = host_ptr(b, m, &ptr);
    if (s == CLG_OK) {
        native_read_probe a = {ptr, &seen};
        const void *loc = &a.p;
        err = clEnqueueNativeKernel(q, run_read_probe, &a, sizeof a, 1, &m, &loc, 0, NULL, NULL);
        if (err != CL_SUCCESS) s = clg_cl_fail(b, err, "clEnqueueNativeKernel (probing native kernels)");
    }
    if (s == CLG_OK && (err = clFinish(q)) != CL_SUCCESS)
        s = clg_cl_fail(b, err, "clFinish (probing native kernels)");
    /* a pointer that does not reach the buffer's data: no native path */
    if (s == CLG_OK) *possible = seen == marker;
    clg_cl_native_forget(b, m);
    clReleaseMemObject(m);
    return s;
}


clg_status clg_cl_native_buffers(clg_cl_backend *b, const cl_mem *mems, int n, float **ptrs, cl_mem *list,
                                 cl_uint *count)
{
    *count = 0;
    for (int i = 0; i < n; i++) {
        cl_mem m = mems[i];
        clg_status s = clg_cl_native_buffer(b, &m, &ptrs[i]);
        if (s != CLG_OK) return s;
        cl_uint j = 0;
        while (j < *count && list[j] != m) j++;
        if (j == *count) list[(*count)++] = m;
    }
    return CLG_OK;
}

clg_status clg_cl_native_enqueue(clg_cl_backend *b, void(CL_CALLBACK *fn)(void *), void *args, size_t size,
                                 void **slots, const cl_mem *list, cl_uint count, const char *what)
{
    const void *loc[CLG_NATIVE_MAX_BUFFERS];
    for (cl_uint j = 0; j < count; j++) {
        slots[j] = (void *)list[j];
        loc[j] = &slots[j];
    }
    cl_int err = clEnqueueNativeKernel(b->queue, fn, args, size, count, list, loc, 0, NULL, clg_cl_event_slot(b));
    clg_cl_event_done(b);
    b->base.launches++;
    if (err == CL_SUCCESS) return CLG_OK;
    char msg[200];
    snprintf(msg, sizeof msg, "clEnqueueNativeKernel (%s)", what);
    return clg_cl_fail(b, err, msg);
}
