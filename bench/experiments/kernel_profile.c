/*
 * Experiment tool (not built by CMake): the time each OpenCL kernel takes,
 * summed by kernel name, for any program, through an LD_PRELOAD shim over
 * clEnqueueNDRangeKernel (clgrad's queues profile events; CLBlast's
 * kernels go through the same call). Printed at exit, to stderr:
 *
 *   gcc -O1 -shared -fPIC -o /tmp/kernel_profile.so bench/experiments/kernel_profile.c -ldl -lOpenCL
 *   gcc -O1 -o /tmp/step_timer bench/experiments/step_timer.c bench/models.c -Iinclude -Ibench \
 *       -Lbuild -lclgrad -Wl,-rpath,$PWD/build -lm
 *   LD_PRELOAD=/tmp/kernel_profile.so /tmp/step_timer mlp 64 100
 *
 * Event times only: the gaps between kernels (launch overhead) are not in
 * them. Figures: bench/RESULTS.md, 2026-12-02 (third session).
 */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { cl_kernel k; cl_event e; } rec;
static rec recs[1 << 20]; static int nrec;
typedef struct { char name[64]; double t; long n; } agg;
static agg ag[512]; static int nag;
static void drain(void)
{
    for (int i = 0; i < nrec; i++) {
        cl_ulong a = 0, b = 0; char name[64] = "?";
        clWaitForEvents(1, &recs[i].e);
        clGetEventProfilingInfo(recs[i].e, CL_PROFILING_COMMAND_START, 8, &a, NULL);
        clGetEventProfilingInfo(recs[i].e, CL_PROFILING_COMMAND_END, 8, &b, NULL);
        if (recs[i].k) clGetKernelInfo(recs[i].k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        else strcpy(name, "(native kernel: host BLAS)");
        clReleaseEvent(recs[i].e); if (recs[i].k) clReleaseKernel(recs[i].k);
        int j = 0; while (j < nag && strcmp(ag[j].name, name)) j++;
        if (j == nag && nag < 512) { strcpy(ag[nag].name, name); nag++; }
        ag[j].t += (b - a) * 1e-6; ag[j].n++;
    }
    nrec = 0;
}
__attribute__((destructor)) static void report(void)
{
    drain();
    double tot = 0; for (int j = 0; j < nag; j++) tot += ag[j].t;
    for (int j = 0; j < nag; j++) fprintf(stderr, "%-40s %6ld launches %9.3f ms total %7.4f ms each %5.1f%%\n", ag[j].name, ag[j].n, ag[j].t, ag[j].t / ag[j].n, 100 * ag[j].t / tot);
    fprintf(stderr, "total %.3f ms\n", tot);
}
cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint d, const size_t *o, const size_t *g, const size_t *l, cl_uint nw, const cl_event *w, cl_event *ev)
{
    static cl_int (*real)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint, const cl_event *, cl_event *);
    if (!real) real = dlsym(RTLD_NEXT, "clEnqueueNDRangeKernel");
    cl_event mine;
    cl_int r = real(q, k, d, o, g, l, nw, w, &mine);
    if (r == CL_SUCCESS) {
        if (ev) { *ev = mine; clRetainEvent(mine); }
        clRetainKernel(k);
        recs[nrec].k = k; recs[nrec].e = mine; nrec++;
        if (nrec > 100000) drain();
    }
    return r;
}
/* GEMMs by the host's BLAS (host/gemm_native.c) run as native kernels */
cl_int clEnqueueNativeKernel(cl_command_queue q, void (CL_CALLBACK *fn)(void *), void *args, size_t cb, cl_uint nm, const cl_mem *ml, const void **loc, cl_uint nw, const cl_event *w, cl_event *ev)
{
    static cl_int (*real)(cl_command_queue, void (CL_CALLBACK *)(void *), void *, size_t, cl_uint, const cl_mem *, const void **, cl_uint, const cl_event *, cl_event *);
    if (!real) real = dlsym(RTLD_NEXT, "clEnqueueNativeKernel");
    cl_event mine;
    cl_int r = real(q, fn, args, cb, nm, ml, loc, nw, w, &mine);
    if (r == CL_SUCCESS) {
        if (ev) { *ev = mine; clRetainEvent(mine); }
        recs[nrec].k = NULL; recs[nrec].e = mine; nrec++;
        if (nrec > 100000) drain();
    }
    return r;
}
