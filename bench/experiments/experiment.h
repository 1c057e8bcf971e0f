/* What the single-file OpenCL experiments here share: the first device of
 * the first platform (PoCL on the CI machine) with a context and an
 * in-order queue, and a monotonic clock. */
#ifndef CLGRAD_EXPERIMENT_H
#define CLGRAD_EXPERIMENT_H
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 0 on success, else the OpenCL error */
static cl_int first_device(cl_device_id *d, cl_context *ctx, cl_command_queue *q)
{
    cl_platform_id p;
    cl_int e = clGetPlatformIDs(1, &p, NULL);
    if (e == CL_SUCCESS) e = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, d, NULL);
    if (e == CL_SUCCESS) *ctx = clCreateContext(NULL, 1, d, NULL, NULL, &e);
    if (e == CL_SUCCESS) *q = clCreateCommandQueue(*ctx, *d, 0, &e);
    return e;
}
#endif
