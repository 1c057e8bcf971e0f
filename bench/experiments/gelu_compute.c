/*
 * Experiment (not built by CMake): is the fused gelu(x + row bias) kernel
 * bound by memory or by its arithmetic on this device? Over 2^22 floats,
 * float16 vectors (PoCL's preferred width on AVX-512), alternated, best of
 * 9 launches each:
 *   copy     y = x                                  (bytes read + written)
 *   gelu     y = gelu(x + b[row])                   (the fused kernel's work)
 *   math     gelu of 2^22 values made from the index, summed in a register:
 *            the arithmetic alone, no stream of memory
 *   exp      e^v of the same values, the same way: exp's share of it
 * gelu as cl/common.cl computes it: x s, s = sigmoid(2u) from t = e^-|2u|
 * (one division, its numerator chosen first). Issue 10's target for the
 * chain is 80 % of copy bandwidth over 8 bytes per element (x in, y out):
 * the arithmetic alone must then fit in 8 * 2^22 / (0.8 * copy) seconds.
 *
 *   gcc -O2 -o /tmp/gelu_compute bench/experiments/gelu_compute.c -lOpenCL && /tmp/gelu_compute
 *
 * 2^22 floats in and out (32 MB) partly stay in this CPU's caches: the
 * copy here reads faster than the bench's copy ceiling (2^24 floats). The
 * math rows do not depend on it.
 *
 * The first OpenCL device of the first platform (PoCL on the CI machine).
 * Figures: bench/RESULTS.md, 2026-12-02 (third session).
 */
#include "experiment.h"
#include <stdio.h>
#include <stdlib.h>

static const char *src =
    "#define K 0.7978845608028654f\n"
    "#define C3 0.044715f\n"
    "inline float16 sig(float16 z){ const float16 t = exp(-fabs(z)); return (z >= 0.0f ? (float16)(1.0f) : t) / (1.0f + t); }\n"
    "inline float16 gelu(float16 x){ return x * sig(2.0f * K * (x + C3 * x * x * x)); }\n"
    "inline float16 made(long q){ return (float16)(0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15) * 1e-3f + (float)(q % 4096) * 1e-3f - 2.0f; }\n"
    "__kernel void copy(__global const float *x, __global const float *b, __global float *y, long nv)\n"
    "{ for (long q = get_global_id(0); q < nv; q += get_global_size(0)) vstore16(vload16(q, x), q, y); }\n"
    "__kernel void gelu_mem(__global const float *x, __global const float *b, __global float *y, long nv)\n"
    "{ for (long q = get_global_id(0); q < nv; q += get_global_size(0)) vstore16(gelu(vload16(q, x) + vload16(q % 64, b)), q, y); }\n"
    "__kernel void gelu_math(__global const float *x, __global const float *b, __global float *y, long nv)\n"
    "{ float16 a = 0.0f; for (long q = get_global_id(0); q < nv; q += get_global_size(0)) a += gelu(made(q));\n"
    "  vstore16(a, get_global_id(0), y); }\n"
    "__kernel void exp_math(__global const float *x, __global const float *b, __global float *y, long nv)\n"
    "{ float16 a = 0.0f; for (long q = get_global_id(0); q < nv; q += get_global_size(0)) a += exp(made(q));\n"
    "  vstore16(a, get_global_id(0), y); }\n";

int main(void)
{
    cl_device_id d;
    cl_context c;
    cl_command_queue q;
    cl_int e = first_device(&d, &c, &q);
    if (e != CL_SUCCESS) {
        printf("no OpenCL device (%d)\n", (int)e);
        return 1;
    }
    cl_program pr = clCreateProgramWithSource(c, 1, &src, NULL, &e);
    if (clBuildProgram(pr, 1, &d, "-cl-std=CL1.2", NULL, NULL) != CL_SUCCESS) {
        printf("build failed\n");
        return 1;
    }
    const long n = 1L << 22, nv = n / 16;
    float *h = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) h[i] = (float)(i % 4001) / 1000.0f - 2.0f;
    cl_mem x = clCreateBuffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(float) * (size_t)n, h, &e);
    cl_mem b = clCreateBuffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(float) * 1024, h, &e);
    cl_mem y = clCreateBuffer(c, CL_MEM_READ_WRITE, sizeof(float) * (size_t)n, NULL, &e);
    const char *names[4] = {"copy", "gelu_mem", "gelu_math", "exp_math"};
    cl_kernel k[4];
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int i = 0; i < 4; i++) {
        k[i] = clCreateKernel(pr, names[i], &e);
        clSetKernelArg(k[i], 0, sizeof x, &x);
        clSetKernelArg(k[i], 1, sizeof b, &b);
        clSetKernelArg(k[i], 2, sizeof y, &y);
        clSetKernelArg(k[i], 3, sizeof nv, &nv);
    }
    /* a vector per work-item, as clgrad launches its elementwise kernels;
     * GLOBAL=N for fewer that loop (PoCL's copy slows down with fewer) */
    size_t global = getenv("GLOBAL") ? (size_t)atol(getenv("GLOBAL")) : (size_t)nv;
    for (int r = 0; r < 9; r++)
        for (int i = 0; i < 4; i++) {
            double t0 = now();
            clEnqueueNDRangeKernel(q, k[i], 1, NULL, &global, NULL, 0, NULL, NULL);
            clFinish(q);
            double t = now() - t0;
            if (t < best[i]) best[i] = t;
        }
    const double copy_gbs = 8.0 * (double)n / best[0] * 1e-9, budget = 8.0 * (double)n / (0.8 * copy_gbs * 1e9);
    printf("copy           %.3f ms  %.1f GB/s\n", best[0] * 1e3, copy_gbs);
    printf("gelu (memory)  %.3f ms  %.1f GB/s  %.0f %% of copy\n", best[1] * 1e3, 8.0 * (double)n / best[1] * 1e-9,
           100.0 * best[0] / best[1]);
    printf("gelu (math)    %.3f ms  (80 %% of copy allows %.3f ms for the whole kernel)\n", best[2] * 1e3,
           budget * 1e3);
    printf("exp (math)     %.3f ms\n", best[3] * 1e3);
    return 0;
}
