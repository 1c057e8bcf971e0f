/*
 * Experiment (not built by CMake), groundwork for issue 11: how fast
 * CLBlast's GEMM runs the MLP's training shapes on this device with its
 * default parameters, and with other XgemmDirect parameters set through
 * CLBlastOverrideParameters (what a tuner would search). Row-major, as
 * host/gemm.c calls it; best of 9 runs each (candidates also with
 * XGEMM_MIN_INDIRECT_SIZE = 4096: the direct kernel for every shape here);
 * every candidate's result is
 * compared with the default's (max |difference|) before it is timed, and
 * one CLBlast refuses (a combination its kernel cannot take) is skipped.
 *
 *   gcc -O2 -o /tmp/clblast_direct bench/experiments/clblast_direct.c -lclblast -lOpenCL && /tmp/clblast_direct
 *
 * The first OpenCL device of the first platform (PoCL on the CI machine).
 * Figures: bench/RESULTS.md, 2026-12-02 (third session).
 */
#include "experiment.h"
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct shape {
    const char *what;
    int ta, tb;
    size_t m, n, k;
} shape;

/* clgrad-train's MLP at batch 64 (784 -> 256 -> 128 -> 10), first layer:
 * forward y = x W^T, input gradient dx = dy W, weight gradient dW = dy^T x */
static const shape shapes[] = {
    {"fc1 forward   64x256x784  (N,T)", 0, 1, 64, 256, 784},
    {"fc1 dx        64x784x256  (N,N)", 0, 0, 64, 784, 256},
    {"fc1 dW       256x784x64   (T,N)", 1, 0, 256, 784, 64},
    {"square      512x512x512   (N,N)", 0, 0, 512, 512, 512},
};

/* WGD MDIMCD NDIMCD MDIMAD NDIMBD KWID VWMD VWND PADA PADB */
static const size_t candidates[][10] = {
    {8, 8, 8, 8, 8, 1, 1, 1, 1, 1},     {16, 8, 8, 8, 8, 2, 1, 1, 1, 1},   {16, 8, 8, 8, 8, 2, 2, 2, 1, 1},
    {32, 8, 8, 8, 8, 2, 4, 4, 1, 1},    {32, 8, 8, 8, 8, 8, 2, 2, 1, 1},   {32, 16, 16, 16, 16, 2, 2, 2, 1, 1},
    {32, 8, 8, 8, 8, 2, 1, 4, 0, 0},    {64, 8, 8, 8, 8, 2, 8, 8, 1, 1},   {64, 16, 16, 16, 16, 8, 4, 4, 1, 1},
    {32, 8, 16, 8, 16, 2, 4, 2, 1, 1},  {32, 16, 8, 16, 8, 2, 2, 4, 1, 1}, {16, 16, 16, 16, 16, 1, 1, 1, 0, 0},
};
static const char *names[10] = {"WGD", "MDIMCD", "NDIMCD", "MDIMAD", "NDIMBD", "KWID", "VWMD", "VWND", "PADA", "PADB"};

/* best time of 9, or -1 when CLBlast refuses */
static double run(cl_command_queue q, const shape *s, cl_mem a, cl_mem b, cl_mem c)
{
    const size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
        double t0 = now();
        CLBlastStatusCode st =
            CLBlastSgemm(CLBlastLayoutRowMajor, s->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                         s->tb ? CLBlastTransposeYes : CLBlastTransposeNo, s->m, s->n, s->k, 1.0f, a, 0, lda, b, 0, ldb,
                         0.0f, c, 0, s->n, &q, NULL);
        if (st != CLBlastSuccess) return -1;
        clFinish(q);
        if (r > 0 && now() - t0 < best) best = now() - t0;
    }
    return best;
}

int main(void)
{
    cl_device_id d;
    cl_context ctx;
    cl_command_queue q;
    cl_int e = first_device(&d, &ctx, &q);
    if (e != CL_SUCCESS) {
        printf("no OpenCL device (%d)\n", (int)e);
        return 1;
    }
    const size_t most = 512 * 784;
    float *h = malloc(sizeof(float) * most), *want, *got = malloc(sizeof(float) * most);
    for (size_t i = 0; i < most; i++) h[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(float) * most, h, &e);
    cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof(float) * most, h, &e);
    cl_mem c = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float) * most, NULL, &e);
    /* every shape with CLBlast's own parameters first: an override stays
     * in force for the process (CLBlastClearCache does not undo it) */
    enum { NS = sizeof shapes / sizeof shapes[0] };
    double t_default[NS];
    float *wants[NS];
    for (size_t si = 0; si < NS; si++) {
        const shape *s = &shapes[si];
        t_default[si] = run(q, s, a, b, c);
        wants[si] = malloc(sizeof(float) * s->m * s->n);
        clEnqueueReadBuffer(q, c, CL_TRUE, 0, sizeof(float) * s->m * s->n, wants[si], 0, NULL, NULL);
    }
    for (size_t si = 0; si < NS; si++) {
        const shape *s = &shapes[si];
        const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k, t0 = t_default[si];
        want = wants[si];
        printf("%s  default %7.2f GFLOP/s\n", s->what, flop / t0 * 1e-9);
        double best = t0;
        int best_k = -1;
        for (size_t k = 0; k < sizeof candidates / sizeof candidates[0]; k++) {
            if (CLBlastOverrideParameters(d, "XgemmDirect", CLBlastPrecisionSingle, 10, names, candidates[k]) !=
                CLBlastSuccess)
                continue;
            /* direct for every size: the routine's threshold to the indirect kernel set past these shapes */
            const char *rn[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
            const size_t rv[1] = {4096};
            CLBlastOverrideParameters(d, "GemmRoutine", CLBlastPrecisionSingle, 1, rn, rv);
            const double t = run(q, s, a, b, c);
            if (t < 0) continue;
            clEnqueueReadBuffer(q, c, CL_TRUE, 0, sizeof(float) * s->m * s->n, got, 0, NULL, NULL);
            double err = 0;
            for (size_t i = 0; i < s->m * s->n; i++) err = fmax(err, fabs((double)got[i] - want[i]));
            if (err > 1e-3) {
                printf("  candidate %zu: wrong result (max |diff| %g), skipped\n", k, err);
                continue;
            }
            printf("  candidate %2zu %7.2f GFLOP/s  (%.2fx)\n", k, flop / t * 1e-9, t0 / t);
            if (t < best) best = t, best_k = (int)k;
        }
        printf("  best: %s, %.2fx the default\n", best_k < 0 ? "the default" : "a candidate", t0 / best);
    }
    return 0;
}
