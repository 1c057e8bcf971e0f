/*
 * GEMM by the host's BLAS on a CPU device (issue 11, item 4).
 *
 * On an OpenCL CPU device the device's memory is the host's, and the
 * host's BLAS reaches several times what a generic OpenCL GEMM does there
 * (PoCL on 2 EPYC cores: OpenBLAS about 100 GFLOP/s at 512^3, CLBlast 7-10
 * untuned, about 60 tuned). The product runs as a native kernel
 * (clEnqueueNativeKernel): in order on the device's own queue with every
 * other kernel, the driver handing the function host pointers to the
 * buffers, so nothing is copied and nothing waits on the host.
 *
 * Built when CMake finds OpenBLAS (CLG_HAVE_BLAS); used on devices of
 * type CPU that report CL_EXEC_NATIVE_KERNEL. Which products take it is
 * host/gemm.c's choice.
 */
#include "gemm.h"

#include <stdint.h>
#include <stdio.h>

#ifdef CLG_HAVE_BLAS
#include <cblas.h>
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
        return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "native GEMM: out of host memory");
    void *ptr = NULL;
    native_ptr_probe a = {m, &ptr};
    const void *loc = &a.mem;
    cl_int err = clEnqueueNativeKernel(b->queue, run_ptr_probe, &a, sizeof a, 1, &m, &loc, 0, NULL, NULL);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clEnqueueNativeKernel (finding a buffer for the host's BLAS)");
    err = clFinish(b->queue);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clFinish (finding a buffer for the host's BLAS)");
    if (!ptr) return clg_error(b->base.ctx, CLG_ERR_DEVICE, "native GEMM: %s gave a buffer no host pointer", b->base.device);
    size_t j = slot_of(b, m);
    while (b->native_ptrs[j].mem) j = (j + 1) & (b->native_cap - 1);
    b->native_ptrs[j].mem = m;
    b->native_ptrs[j].ptr = ptr;
    b->native_count++;
    *out = ptr;
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
    free(b->native_ptrs);
    b->native_ptrs = NULL;
    b->native_cap = b->native_count = 0;
}

/* What the product reads: a copy is made at enqueue. The slots are the
 * driver's to overwrite (see above); the operands are host pointers. */
typedef struct native_gemm {
    void *slot[3];
    const float *A, *B;
    float *C;
    unsigned char ta, tb;
    size_t m, n, k, batch;
    size_t ld[3], stride[3];
    float alpha, beta;
} native_gemm;

static void CL_CALLBACK run_native_gemm(void *p)
{
    const native_gemm *g = p;
    float beta = g->beta;
    for (size_t i = 0; i < g->batch; i++) {
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, (int)g->m,
                    (int)g->n, (int)g->k, g->alpha, g->A + i * g->stride[0], (int)g->ld[0], g->B + i * g->stride[1],
                    (int)g->ld[1], beta, g->C + i * g->stride[2], (int)g->ld[2]);
        if (g->stride[2] == 0) beta = 1.0f; /* one C for the batch: the products add up */
    }
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

clg_status clg_cl_native_gemm_probe(clg_cl_backend *b, bool *possible)
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
    cl_mem m = clCreateBuffer(b->context, CL_MEM_READ_WRITE, 64, NULL, &err);
    if (err != CL_SUCCESS) return clg_cl_fail(b, err, "clCreateBuffer (probing native kernels)");
    clg_status s = CLG_OK;
    err = clEnqueueWriteBuffer(b->queue, m, CL_TRUE, 0, sizeof marker, &marker, 0, NULL, NULL);
    if (err != CL_SUCCESS) s = clg_cl_fail(b, err, "clEnqueueWriteBuffer (probing native kernels)");
    if (s == CLG_OK) s = host_ptr(b, m, &ptr);
    if (s == CLG_OK) {
        native_read_probe a = {ptr, &seen};
        const void *loc = &a.p;
        err = clEnqueueNativeKernel(b->queue, run_read_probe, &a, sizeof a, 1, &m, &loc, 0, NULL, NULL);
        if (err != CL_SUCCESS) s = clg_cl_fail(b, err, "clEnqueueNativeKernel (probing native kernels)");
    }
    if (s == CLG_OK && (err = clFinish(b->queue)) != CL_SUCCESS)
        s = clg_cl_fail(b, err, "clFinish (probing native kernels)");
    /* a pointer that does not reach the buffer's data: no native path */
    if (s == CLG_OK) *possible = seen == marker;
    clg_cl_native_forget(b, m);
    clReleaseMemObject(m);
    return s;
}

clg_status clg_cl_gemm_native(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                              cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb,
                              size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride,
                              size_t batch)
{
    /* BLAS reports bad sizes by printing (xerbla): refused here instead */
    const size_t a_cols = ta ? m : k, b_cols = tb ? k : n;
    if (m == 0 || n == 0 || k == 0 || batch == 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX ||
        lda < a_cols || ldb < b_cols || ldc < n || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
        return clg_error(b->base.ctx, CLG_ERR_INVALID_ARGUMENT,
                         "native GEMM (m %zu, n %zu, k %zu, batch %zu, lda %zu, ldb %zu, ldc %zu): sizes out of "
                         "BLAS's range",
                         m, n, k, batch, lda, ldb, ldc);
    native_gemm g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .batch = batch, .alpha = alpha, .beta = beta,
                     .ld = {lda, ldb, ldc}, .stride = {a_stride, b_stride, c_stride}};
    cl_mem ops[3] = {A, B, C}, list[3];
    size_t off[3] = {a_off, b_off, c_off};
    float *ptr[3];
    cl_uint count = 0;
    for (int i = 0; i < 3; i++) {
        /* a sub-buffer (the memory plan's views) as its parent and origin */
        cl_mem parent = NULL;
        size_t origin = 0;
        if (clGetMemObjectInfo(ops[i], CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) == CL_SUCCESS &&
            parent && clGetMemObjectInfo(ops[i], CL_MEM_OFFSET, sizeof origin, &origin, NULL) == CL_SUCCESS) {
            ops[i] = parent;
            off[i] += origin / sizeof(float);
        }
        clg_status s = host_ptr(b, ops[i], &ptr[i]);
        if (s != CLG_OK) return s;
        cl_uint j = 0;
        while (j < count && list[j] != ops[i]) j++;
        if (j == count) list[count++] = ops[i];
    }
    g.A = ptr[0] + off[0];
    g.B = ptr[1] + off[1];
    g.C = ptr[2] + off[2];
    const void *loc[3];
    for (cl_uint j = 0; j < count; j++) {
        g.slot[j] = (void *)list[j];
        loc[j] = &g.slot[j];
    }
    cl_int err = clEnqueueNativeKernel(b->queue, run_native_gemm, &g, sizeof g, count, list, loc, 0, NULL,
                                       clg_cl_event_slot(b));
    clg_cl_event_done(b);
    b->base.launches++;
    if (err == CL_SUCCESS) return CLG_OK;
    char what[160];
    snprintf(what, sizeof what, "clEnqueueNativeKernel (GEMM by the host's BLAS: m %zu, n %zu, k %zu, batch %zu)", m,
             n, k, batch);
    return clg_cl_fail(b, err, what);
}

#else

clg_status clg_cl_native_gemm_probe(clg_cl_backend *b, bool *possible)
{
    *possible = false;
    return CLG_OK;
}

void clg_cl_native_forget(clg_cl_backend *b, cl_mem m)
{
}

void clg_cl_native_release(clg_cl_backend *b)
{
}

clg_status clg_cl_gemm_native(clg_cl_backend *b, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                              cl_mem A, size_t a_off, size_t lda, size_t a_stride, cl_mem B, size_t b_off, size_t ldb,
                              size_t b_stride, float beta, cl_mem C, size_t c_off, size_t ldc, size_t c_stride,
                              size_t batch)
{
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "native GEMM: clgrad was built without a BLAS");
}

#endif
