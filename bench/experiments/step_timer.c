/*
 * Experiment tool (not built by CMake): one training step of clgrad-train's
 * models (bench/models.c, Adam, width 32) timed by the host clock, repeated:
 * the median and the best step after two warm-up steps.
 *
 *   gcc -O1 -o /tmp/step_timer bench/experiments/step_timer.c bench/models.c -Iinclude -Ibench \
 *       -Lbuild -lclgrad -Wl,-rpath,$PWD/build -lm
 *   /tmp/step_timer cnn 64 15      # model, batch, steps; CLGRAD_FUSION=off for unfused
 *
 * The device is 0:0. Figures: bench/RESULTS.md, 2026-12-02 (third session).
 */
#include "models.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc, char **argv)
{
    const char *kind = argv[1]; int batch = atoi(argv[2]), reps = argc > 3 ? atoi(argv[3]) : 20;
    clg_context *ctx; model m;
    if (clg_context_create("0:0", &ctx) || model_build(ctx, kind, batch, 32, 1234, 0, 0, QAT_NONE, &m)) { printf("fail %s\n", clg_context_errmsg(ctx)); return 1; }
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    clg_optimizer(m.g, &cfg);
    int64_t nx = clg_tensor_numel(m.g, m.x);
    float *x = calloc(nx, 4); int32_t *y = calloc(batch, 4);
    for (int i = 0; i < nx; i++) x[i] = (i % 17) * 0.1f;
    clg_tensor_set(m.g, m.x, x, nx); clg_tensor_set_i32(m.g, m.labels, y, batch);
    double best = 1e9, t, ts[1000]; int nt = 0;
    for (int s = 0; s < reps; s++) {
        double t0 = now();
        if (clg_graph_run(m.g, CLG_RUN_ALL)) { printf("run fail %s\n", clg_context_errmsg(ctx)); return 1; }
        clg_graph_wait(m.g);
        t = now() - t0; if (s > 1 && t < best) best = t; if (s > 1) ts[nt++] = t;
    }
    for (int a = 0; a < nt; a++) for (int b = a + 1; b < nt; b++) if (ts[b] < ts[a]) { double u = ts[a]; ts[a] = ts[b]; ts[b] = u; }
    printf("median %.2f ms ", ts[nt / 2] * 1e3);
    printf("%s %d: best step %.2f ms (%.0f samples/s)\n", kind, batch, best * 1e3, batch / best);
    return 0;
}
