/*
 * Many contexts, one after another, each running a GEMM: the process must
 * not grow with them. CLBlast keeps every context's programs in a
 * process-wide cache (and with them the OpenCL context), about 1.7 MB a
 * context on PoCL, until clgrad clears it when the last context that used
 * CLBlast goes.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WARMUP 20
#define CYCLES 200

static double rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int n = fscanf(f, "%ld %ld", &pages, &resident);
    fclose(f);
    return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : -1;
}

/* Create, run a 33x17 by 17x9 product, check one entry, destroy. */
static void cycle(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t sa[2] = {33, 17}, sb[2] = {17, 9};
    clg_tensor a = clg_input(g, 2, sa), b = clg_input(g, 2, sb), c = clg_matmul(g, a, b, 0, 0);
    CHECK_OK(ctx, clg_graph_status(g));
    float va[33 * 17], vb[17 * 9], vc[33 * 9];
    for (int i = 0; i < 33 * 17; i++) va[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 17 * 9; i++) vb[i] = (float)(i % 5) - 2.0f;
    CHECK_OK(ctx, clg_tensor_set(g, a, va, 33 * 17));
    CHECK_OK(ctx, clg_tensor_set(g, b, vb, 17 * 9));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, c, vc, 33 * 9));
    float want = 0; /* row 5, column 4: small integers, exact */
    for (int k = 0; k < 17; k++) want += va[5 * 17 + k] * vb[k * 9 + 4];
    assert_true(vc[5 * 9 + 4] == want);
    clg_context_destroy(ctx);
}

static void test_gemm_contexts_do_not_grow(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's quarantine holds freed memory: RSS says nothing here */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    for (int d = 0; d < n; d++) {
        for (int i = 0; i < WARMUP; i++) cycle(specs[d]);
        double before = rss_mb();
        for (int i = 0; i < CYCLES; i++) cycle(specs[d]);
        double after = rss_mb();
        double per = (after - before) / CYCLES;
        printf("%s: RSS %.1f MB -> %.1f MB over %d contexts with a GEMM (%.3f MB each)\n", specs[d], before, after,
               CYCLES, per);
        /* the leak was 1.7 MB a context; allow allocator noise */
        assert_true(before > 0 && after > 0);
        assert_true(per < 0.1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemm_contexts_do_not_grow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
