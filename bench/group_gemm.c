/* GEMM through the matmul op (CLBlast on OpenCL devices): the ceiling's
 * best rate, and training-shaped problems with both transposes. Timed by
 * a host clock around synchronised runs: CLBlast's event covers only its
 * last kernel. Checked on 64 sampled entries against dot products in
 * double. */
#include "bench.h"
#include "progress.h" /* now_seconds */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float value(uint64_t i, uint64_t salt)
{
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
    return (float)((double)(z >> 40) / 16777216.0 - 0.5);
}

/* C = op(A) op(B), A stored [m,k] or [k,m], B [k,n] or [n,k]. */
static result *gemm_case(device_run *d, const bench_opts *o, const char *group, int64_t m, int64_t n, int64_t k,
                         bool ta, bool tb)
{
    char name[64], size[48];
    snprintf(name, sizeof name, "gemm %s%s", ta ? "T" : "N", tb ? "T" : "N");
    snprintf(size, sizeof size, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
    if (strcmp(group, "ceilings") != 0 && !bench_wanted(o, name)) return NULL;
    result *r = bench_new_result(d, group, name, size);
    if (!r) return NULL;
    const double flops = 2.0 * (double)m * (double)n * (double)k;
    /* sizes are the same on every device: where the device's best GEMM rate
     * so far says even the check run would blow the budget, say so instead */
    if (d->gemm_seen > 0 && !bench_within_budget(r, o, flops * 1e-9 / d->gemm_seen, 2)) return r;
    const int64_t as[2] = {ta ? k : m, ta ? m : k}, bs[2] = {tb ? n : k, tb ? k : n};
    float *A = malloc(sizeof(float) * (size_t)(m * k)), *B = malloc(sizeof(float) * (size_t)(k * n));
    float *C = malloc(sizeof(float) * (size_t)(m * n));
    clg_context *ctx = NULL;
    clg_graph *g;
    if (!A || !B || !C) {
        result_fail(r, "out of host memory");
        goto done;
    }
    for (int64_t i = 0; i < m * k; i++) A[i] = value((uint64_t)i, 1);
    for (int64_t i = 0; i < k * n; i++) B[i] = value((uint64_t)i, 2);
    if (clg_context_create(d->spec, &ctx) != CLG_OK || clg_graph_create(ctx, &g) != CLG_OK) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    clg_tensor a = clg_input(g, 2, as), b = clg_input(g, 2, bs);
    clg_tensor c = clg_matmul(g, a, b, ta, tb);
    double t0 = now_seconds();
    if (clg_graph_status(g) != CLG_OK || clg_tensor_set(g, a, A, (size_t)(m * k)) != CLG_OK ||
        clg_tensor_set(g, b, B, (size_t)(k * n)) != CLG_OK || clg_graph_run(g, CLG_RUN_FORWARD) != CLG_OK ||
        clg_tensor_get(g, c, C, (size_t)(m * n)) != CLG_OK) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    for (int s = 0; s < 64; s++) {
        int64_t i = (int64_t)((uint64_t)s * 2654435761u % (uint64_t)m), j = (int64_t)((uint64_t)s * 40503u % (uint64_t)n);
        double acc = 0, mag = 0;
        for (int64_t p = 0; p < k; p++) {
            double av = ta ? A[p * m + i] : A[i * k + p], bv = tb ? B[j * k + p] : B[p * n + j];
            acc += av * bv;
            mag += fabs(av * bv);
        }
        /* float accumulation over k terms: error within k * 2^-24 of sum |a b| */
        if (fabs(C[i * n + j] - acc) > (double)k * 6e-8 * mag + 1e-6) {
            result_fail(r, "C[%lld,%lld] = %.7g, want %.7g", (long long)i, (long long)j, (double)C[i * n + j], acc);
            goto done;
        }
    }
    if (!bench_within_budget(r, o, now_seconds() - t0, 2)) goto done;
    if (!bench_time_graph(g, CLG_RUN_FORWARD, 2, o->repeat, true, r)) {
        result_fail(r, "%s", clg_context_errmsg(ctx));
        goto done;
    }
    result_set_rate(r, flops * 1e-9, "GFLOP/s", d->gemm_gflops);
    r->flops = flops;
    r->bytes = 4.0 * (double)(m * k + k * n + m * n);
    if (r->rate > d->gemm_seen) d->gemm_seen = r->rate;
done:
    clg_context_destroy(ctx);
    free(A);
    free(B);
    free(C);
    return r;
}

void ceilings_gemm(device_run *d, const bench_opts *o)
{
    /* the best of a few square sizes is the device's GEMM ceiling; the
     * same sizes on every device, smallest first, so that the budget
     * skips (saying so) those a slow device cannot take */
    static const int64_t quick[] = {128, 256, 512, 1024, 2048}, full[] = {128, 256, 512, 1024, 2048, 4096, 8192};
    const int64_t *sizes = o->quick ? quick : full;
    const size_t ns = o->quick ? sizeof quick / sizeof quick[0] : sizeof full / sizeof full[0];
    double best = 0;
    for (size_t i = 0; i < ns; i++) {
        int64_t s = (int64_t)((double)sizes[i] * o->size_scale);
        result *r = gemm_case(d, o, "ceilings", s, s, s, false, false);
        if (r && r->check == CHECK_OK && r->rate > best) best = r->rate;
    }
    d->gemm_gflops = best;
    for (int i = 0; i < d->nresults; i++)
        if (!strcmp(d->results[i].group, "ceilings") && !strcmp(d->results[i].unit, "GFLOP/s"))
            d->results[i].ratio = best > 0 ? d->results[i].rate / best : 0;
}

void group_gemm(device_run *d, const bench_opts *o)
{
    /* an MLP layer's three GEMMs at batch 256: forward x W^T, input
     * gradient dY W, weight gradient dY^T x; then square ones transposed
     * either way (quick 1024, full 4096), the same on every device */
    gemm_case(d, o, "gemm", 256, 256, 784, false, true);
    gemm_case(d, o, "gemm", 256, 784, 256, false, false);
    gemm_case(d, o, "gemm", 256, 784, 256, true, false);
    const int64_t s = (int64_t)((o->quick ? 1024 : 4096) * o->size_scale);
    gemm_case(d, o, "gemm", s, s, s, false, false);
    gemm_case(d, o, "gemm", s, s, s, true, false);
    gemm_case(d, o, "gemm", s, s, s, false, true);
}
