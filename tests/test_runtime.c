/* The OpenCL runtime: device specs, the device list, build failures with
 * the compiler's log, OpenCL errors by name. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"
#include "cl_common.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void expect_backend(const char *spec, const char *backend)
{
    clg_context *ctx = open_ctx(spec);
    assert_string_equal(clg_context_backend(ctx), backend);
    clg_context_destroy(ctx);
}

/* The version: the string, the number and the macros agree. */
static void test_version(void **s)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CLG_VERSION_MAJOR, CLG_VERSION_MINOR, CLG_VERSION_PATCH);
    assert_string_equal(clg_version(), want);
    assert_int_equal(clg_version_number(), CLG_VERSION_NUMBER);
    assert_int_equal(CLG_VERSION_NUMBER, CLG_VERSION_MAJOR * 10000 + CLG_VERSION_MINOR * 100 + CLG_VERSION_PATCH);
}

static void test_specs(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    expect_backend("reference", "reference");
    for (int i = 0; i < n; i++) {
        clg_context *ctx = open_ctx(specs[i]);
        assert_string_equal(clg_context_backend(ctx), "opencl");
        assert_non_null(strstr(clg_context_device(ctx), specs[i]));
        clg_context_destroy(ctx);
    }
    if (n == 0) return;
    clg_cl_device devs[16];
    int m = clg_cl_enumerate(devs, 16);
    assert_int_equal(m, n);
    /* by type, and by a name substring in any case */
    clg_context *ctx = open_ctx(clg_cl_type_name(devs[0].type));
    assert_string_equal(clg_context_backend(ctx), "opencl");
    clg_context_destroy(ctx);
    char upper[128];
    size_t k = 0;
    for (; devs[0].platform_name[k] && k < 6; k++)
        upper[k] = (char)(devs[0].platform_name[k] >= 'a' && devs[0].platform_name[k] <= 'z'
                              ? devs[0].platform_name[k] - 32
                              : devs[0].platform_name[k]);
    upper[k] = '\0';
    ctx = open_ctx(upper);
    assert_string_equal(clg_context_backend(ctx), "opencl");
    clg_context_destroy(ctx);
    /* a type that is absent is an error, not a fallback */
    static const char *const types[] = {"gpu", "accelerator", "cpu"};
    for (int t = 0; t < 3; t++) {
        bool present = false;
        for (int i = 0; i < m; i++) present |= strcmp(clg_cl_type_name(devs[i].type), types[t]) == 0;
        clg_status st = clg_context_create(types[t], &ctx);
        assert_int_equal(st, present ? CLG_OK : CLG_ERR_NOT_FOUND);
        clg_context_destroy(ctx);
    }
}

static void test_default_and_env(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    setenv("CLGRAD_DEVICE", "reference", 1);
    expect_backend(NULL, "reference");
    expect_backend("", "reference");
    unsetenv("CLGRAD_DEVICE");
    if (n == 0) {
        expect_backend(NULL, "reference");
        return;
    }
    /* default: the first GPU, else the first device */
    clg_cl_device devs[16];
    int m = clg_cl_enumerate(devs, 16), want = 0;
    for (int i = m - 1; i >= 0; i--)
        if (devs[i].type & CL_DEVICE_TYPE_GPU) want = i;
    clg_context *ctx = open_ctx(NULL);
    char tag[32];
    snprintf(tag, sizeof tag, "%d:%d)", devs[want].platform_index, devs[want].device_index);
    assert_non_null(strstr(clg_context_device(ctx), tag));
    clg_context_destroy(ctx);
}

static void test_device_list(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    size_t need = clg_device_list(NULL, 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(clg_device_list(buf, need + 1), need);
    assert_int_equal(strlen(buf), need);
    assert_true(strncmp(buf, "reference", 9) == 0);
    for (int i = 0; i < n; i++) assert_non_null(strstr(buf, specs[i]));
    char tiny[8];
    clg_device_list(tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 7);
    free(buf);
}

/* Builds a tiny graph and checks one value: a context whose program came
 * from the cache must compute like any other. */
static void compute_check(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 5;
    clg_tensor x = clg_input(g, 1, &n), y = clg_sum(g, clg_square(g, x));
    const float v[5] = {1, 2, 3, 4, 5};
    float r = 0;
    CHECK_OK(ctx, clg_tensor_set(g, x, v, 5));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(g, y, &r, 1));
    assert_true(r == 55.0f);
    clg_context_destroy(ctx);
}

static int count_bins(const char *dir, char *first, size_t size)
{
    char cmd[700]; /* the folder (up to 600) and the pattern */
    snprintf(cmd, sizeof cmd, "ls %s/*.bin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        if (n++ == 0 && first) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(first, size, "%s", line);
        }
    }
    if (p) pclose(p);
    return n;
}

/* Devices among specs that differ in what the program cache keys on. */
static int distinct_devices(char specs[][32], int n)
{
    clg_device_facts f[16];
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (int d = 0; d < clg_device_count() && !found; d++) {
            char spec[32];
            if (clg_device_spec(d, spec, sizeof spec) == CLG_OK && strcmp(spec, specs[i]) == 0)
                found = clg_device_get_facts(d, &f[i]) == CLG_OK;
        }
        assert_true(found);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(f[i].platform, f[j].platform) && !strcmp(f[i].name, f[j].name) &&
                   !strcmp(f[i].vendor, f[j].vendor) && !strcmp(f[i].driver_version, f[j].driver_version) &&
                   !strcmp(f[i].opencl_version, f[j].opencl_version);
        distinct += !seen;
    }
    return distinct;
}

/* The program cache: a first context writes a binary per device, a later
 * one computes from it; a damaged file is rebuilt, not trusted; "off"
 * writes nothing. */
static void test_program_cache(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    char dir[] = "/tmp/clgrad-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("CLGRAD_CACHE_DIR", dir, 1);
    char bin[512] = "";
    for (int i = 0; i < n; i++) compute_check(specs[i]);
    /* one binary per distinct device: identical devices (POCL_DEVICES=
     * "pthread pthread") share their key and so their entry */
    assert_int_equal(count_bins(dir, bin, sizeof bin), distinct_devices(specs, n));
    for (int i = 0; i < n; i++) compute_check(specs[i]); /* from the cache */
    if (n > 0) {
        FILE *f = fopen(bin, "wb");
        assert_non_null(f);
        fputs("not a program binary", f);
        fclose(f);
        for (int i = 0; i < n; i++) compute_check(specs[i]);
        struct stat st;
        assert_int_equal(stat(bin, &st), 0);
        assert_true(st.st_size > 100); /* rebuilt and stored again */
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    /* by default under $XDG_CACHE_HOME/clgrad; "off" writes nothing there */
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/clgrad-cache-test-XXXXXX")));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/clgrad", dir);
    const char *old_xdg = getenv("XDG_CACHE_HOME");
    char saved[512] = "";
    if (old_xdg) snprintf(saved, sizeof saved, "%s", old_xdg);
    setenv("XDG_CACHE_HOME", dir, 1);
    setenv("CLGRAD_CACHE_DIR", "off", 1);
    for (int i = 0; i < n; i++) compute_check(specs[i]);
    assert_int_equal(count_bins(sub, NULL, 0), 0);
    unsetenv("CLGRAD_CACHE_DIR");
    for (int i = 0; i < n; i++) compute_check(specs[i]);
    assert_int_equal(count_bins(sub, NULL, 0), distinct_devices(specs, n));
    if (old_xdg) setenv("XDG_CACHE_HOME", saved, 1);
    else unsetenv("XDG_CACHE_HOME");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("CLGRAD_CACHE_DIR");
}

/* The registry's devices: the reference first, then each OpenCL device;
 * and the deprecated clg_opencl_* calls, which number the OpenCL ones
 * alone. */
static void test_device_facts(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    clg_device_facts f;
    char spec[32];
    assert_int_equal(clg_device_count(), 1 + n);
    CHECK_OK(NULL, clg_device_get_facts(0, &f));
    assert_string_equal(f.spec, "reference");
    assert_string_equal(f.backend, "reference");
    assert_string_equal(f.type, "host");
    assert_true(f.name[0] && !f.platform[0]);
    CHECK_OK(NULL, clg_device_spec(0, spec, sizeof spec));
    assert_string_equal(spec, "reference");
    for (int i = 0; i < n; i++) {
        CHECK_OK(NULL, clg_device_get_facts(1 + i, &f));
        assert_string_equal(f.spec, specs[i]);
        assert_string_equal(f.backend, "opencl");
        assert_true(f.name[0] && f.platform[0] && f.opencl_version[0]);
        assert_true(f.compute_units >= 1 && f.global_mem_bytes > 0 && f.local_mem_bytes > 0);
        assert_true(strcmp(f.type, "gpu") == 0 || strcmp(f.type, "cpu") == 0 || strcmp(f.type, "accelerator") == 0 ||
                    strcmp(f.type, "other") == 0);
        CHECK_OK(NULL, clg_device_spec(1 + i, spec, sizeof spec));
        assert_string_equal(spec, specs[i]);
        /* a caller built with a shorter struct (an older header) gets
         * what fits, nothing written past it; a longer one, zeros after */
        unsigned char older[offsetof(clg_device_facts, backend) + 16 + 8], newer[sizeof f + 64];
        memset(older, 0xab, sizeof older);
        memset(newer, 0xab, sizeof newer);
        CHECK_OK(NULL, clg_device_get_facts_sized(1 + i, (clg_device_facts *)(void *)older, sizeof older - 8));
        CHECK_OK(NULL, clg_device_get_facts_sized(1 + i, (clg_device_facts *)(void *)newer, sizeof newer));
        assert_memory_equal(older, &f, sizeof older - 8);
        for (size_t k = sizeof older - 8; k < sizeof older; k++) assert_int_equal(older[k], 0xab);
        assert_memory_equal(newer, &f, sizeof f);
        for (size_t k = sizeof f; k < sizeof newer; k++) assert_int_equal(newer[k], 0);
    }
    assert_int_equal(clg_device_get_facts_sized(0, &f, offsetof(clg_device_facts, backend)), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_device_get_facts(1 + n, &f), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_device_get_facts(-1, &f), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_device_get_facts(0, NULL), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_device_spec(1 + n, spec, sizeof spec), CLG_ERR_INVALID_ARGUMENT);
    assert_int_equal(clg_device_spec(0, spec, 4), CLG_ERR_INVALID_ARGUMENT); /* "reference" does not fit */
}

static void test_build_failure_has_log(void **s)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    for (int i = 0; i < n; i++) {
        clg_context *ctx = open_ctx(specs[i]);
        clg_cl_device dev;
        CHECK_OK(ctx, clg_cl_select(ctx, specs[i], &dev));
        cl_int err;
        cl_context clctx = clCreateContext(NULL, 1, &dev.device, NULL, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        const char *bad[] = {"__kernel void k(__global float *x) { x[0] = undefined_thing_42; }\n"};
        cl_program prog;
        assert_int_equal(clg_cl_build_program(ctx, clctx, dev.device, bad, 1, "", &prog), CLG_ERR_BUILD);
        assert_null(prog);
        const char *msg = clg_context_errmsg(ctx);
        assert_non_null(strstr(msg, "CL_BUILD_PROGRAM_FAILURE"));
        assert_non_null(strstr(msg, "undefined_thing_42")); /* from the compiler's log */
        clReleaseContext(clctx);
        clg_context_destroy(ctx);
    }
}

static void test_errors_by_name(void **s)
{
    assert_string_equal(clg_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(clg_cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    assert_string_equal(clg_cl_error_name(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS");
    assert_string_equal(clg_cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    assert_string_equal(clg_cl_error_name(-9999), "unknown OpenCL error");
    /* a device error reaches the user by name: a buffer larger than any
     * device allows */
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    for (int i = 0; i < n; i++) {
        clg_context *ctx = open_ctx(specs[i]);
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        /* the graph refuses a shape past the device's largest buffer
         * before OpenCL sees it, naming the limit */
        const int64_t huge[2] = {(int64_t)1 << 20, (int64_t)1 << 20};
        assert_true(clg_input(g, 2, huge).id < 0);
        assert_int_equal(clg_context_status(ctx), CLG_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(clg_context_errmsg(ctx), "[1048576,1048576]"));
        assert_non_null(strstr(clg_context_errmsg(ctx), "largest buffer"));
        /* the backend itself, asked directly, names the OpenCL error */
        clg_buffer *buf = NULL;
        assert_int_not_equal(ctx->be->vt->buffer_alloc(ctx->be, (size_t)1 << 40, &buf), CLG_OK);
        const char *msg = clg_context_errmsg(ctx);
        if (!strstr(msg, "CL_INVALID_BUFFER_SIZE") && !strstr(msg, "CL_MEM_OBJECT_ALLOCATION_FAILURE") &&
            !strstr(msg, "CL_OUT_OF_HOST_MEMORY"))
            fail_msg("message does not name the OpenCL error: %s", msg);
        assert_non_null(strstr(msg, "clCreateBuffer"));
        clg_context_destroy(ctx);
    }
}

/* Runs return once enqueued. A chain of runs asked for back to back, with
 * uploads between them, gives what the same runs give one at a time; a
 * graph (and its context) destroyed with runs in flight is no crash. */
static void async_on(const char *spec)
{
    enum { N = 1 << 16, STEPS = 6 };
    float *x = malloc(N * sizeof *x), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(x);
    assert_non_null(a);
    assert_non_null(b);
    for (int pass = 0; pass < 2; pass++) {
        clg_context *ctx = open_ctx(spec);
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t n = N;
        clg_tensor tx = clg_input(g, 1, &n), w = clg_param(g, 1, &n);
        clg_tensor loss = clg_sum(g, clg_square(g, clg_sub(g, w, tx)));
        CHECK_OK(ctx, clg_backward(g, loss));
        CHECK_OK(ctx, clg_sgd(g, 0.1f));
        for (int step = 0; step < STEPS; step++) {
            for (int i = 0; i < N; i++) x[i] = (float)((i * 7 + step * 13) % 101) * 0.01f;
            CHECK_OK(ctx, clg_tensor_set(g, tx, x, N)); /* after the step before: in order */
            CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
            if (pass == 1) CHECK_OK(ctx, clg_graph_wait(g));
        }
        CHECK_OK(ctx, clg_tensor_get(g, w, pass ? b : a, N));
        if (pass == 0) {
            /* runs in flight when the graph and the context go */
            for (int i = 0; i < 4; i++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
            clg_graph_destroy(g);
            assert_int_equal(clg_graph_run(g, CLG_RUN_ALL), CLG_ERR_STATE);
            clg_graph *h;
            CHECK_OK(ctx, clg_graph_create(ctx, &h));
            tx = clg_input(h, 1, &n);
            clg_tensor y = clg_scale(h, tx, 2.0f);
            CHECK_OK(ctx, clg_tensor_set(h, tx, x, N));
            for (int i = 0; i < 3; i++) CHECK_OK(ctx, clg_graph_run(h, CLG_RUN_FORWARD));
            CHECK_OK(ctx, clg_graph_wait(h));
            float y0;
            CHECK_OK(ctx, clg_tensor_get(h, y, b, N));
            y0 = b[N - 1];
            assert_true(y0 == 2.0f * x[N - 1]);
            CHECK_OK(ctx, clg_graph_run(h, CLG_RUN_FORWARD));
        }
        clg_context_destroy(ctx);
    }
    assert_memory_equal(a, b, N * sizeof *a);
    free(x);
    free(a);
    free(b);
}

/* A graph's memory with a context's settings: planned, its pool holds
 * less than a buffer per tensor; plan=off gives each its own. */
static void memory_of(const char *spec, const char *const *settings, clg_memory *m)
{
    clg_context *ctx = NULL;
    assert_int_equal(clg_context_create_with(spec, settings, &ctx), CLG_OK);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    /* products: no fusion joins them, so their outputs need memory */
    const int64_t n[2] = {67, 67};
    clg_tensor x = clg_input(g, 2, n), w = clg_input(g, 2, n);
    clg_tensor y = clg_sum(g, clg_matmul(g, clg_matmul(g, clg_matmul(g, clg_matmul(g, x, w, 0, 0), w, 0, 0), w, 0, 0), w, 0, 0));
    assert_true(y.id >= 0);
    CHECK_OK(ctx, clg_graph_prepare(g));
    CHECK_OK(ctx, clg_graph_memory(g, m));
    clg_context_destroy(ctx);
}

/* Settings per context (clg_context_create_with): each overrides its
 * environment variable for that context alone, two contexts in one
 * process may differ, and a bad list is refused with a message that names
 * the setting. */
static void test_settings(void **s)
{
    unsetenv("CLGRAD_PLAN");
    clg_context *ctx = NULL;
    const char *unknown[] = {"cache_directory", "/tmp", NULL};
    assert_int_equal(clg_context_create_with("reference", unknown, &ctx), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "unknown setting 'cache_directory'"));
    assert_non_null(strstr(clg_context_errmsg(ctx), "cache_dir, cache_max_mb"));
    clg_context_destroy(ctx);
    const char *no_value[] = {"plan", NULL};
    assert_int_equal(clg_context_create_with("reference", no_value, &ctx), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "'plan' has no value"));
    clg_context_destroy(ctx);
    const char *twice[] = {"plan", "off", "plan", "on", NULL};
    assert_int_equal(clg_context_create_with("reference", twice, &ctx), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "given twice"));
    clg_context_destroy(ctx);
    assert_int_equal(clg_context_create_with("reference", NULL, NULL), CLG_ERR_INVALID_ARGUMENT);

    /* the context's own value, else the environment's */
    setenv("CLGRAD_FUSION", "off", 1);
    const char *mine[] = {"fusion", "on", "tuning", "off", NULL};
    assert_int_equal(clg_context_create_with("reference", mine, &ctx), CLG_OK);
    assert_string_equal(clg_context_setting(ctx, "fusion"), "on");
    assert_string_equal(clg_context_setting(ctx, "tuning"), "off");
    assert_null(clg_context_setting(ctx, "no_such_setting"));
    clg_context_destroy(ctx);
    ctx = open_ctx("reference");
    assert_string_equal(clg_context_setting(ctx, "fusion"), "off");
    clg_context_destroy(ctx);
    unsetenv("CLGRAD_FUSION");

    /* plan, on every device */
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    const char *plan_off[] = {"plan", "off", NULL};
    for (int i = -1; i < n; i++) {
        const char *spec = i < 0 ? "reference" : specs[i];
        clg_memory planned, own;
        memory_of(spec, NULL, &planned);
        memory_of(spec, plan_off, &own);
        assert_true(planned.total < planned.unplanned_total);
        assert_true(own.total == own.unplanned_total);
    }
    if (n == 0) return;

    /* cache_dir beats $CLGRAD_CACHE_DIR=off: the kernels land in the
     * context's folder, and a context without the setting writes nothing */
    char dir[] = "/tmp/clgrad-settings-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("CLGRAD_CACHE_DIR", "off", 1);
    ctx = open_ctx(specs[0]);
    clg_context_destroy(ctx);
    assert_int_equal(count_bins(dir, NULL, 0), 0);
    const char *cache[] = {"cache_dir", dir, NULL};
    assert_int_equal(clg_context_create_with(specs[0], cache, &ctx), CLG_OK);
    assert_string_equal(clg_context_setting(ctx, "cache_dir"), dir);
    clg_context_destroy(ctx);
    assert_true(count_bins(dir, NULL, 0) >= 1);
    unsetenv("CLGRAD_CACHE_DIR");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);

    /* two contexts at once on different paths; a bad value names the setting */
    const char *clblast[] = {"gemm", "clblast", NULL}, *fft[] = {"conv", "fft", NULL};
    clg_context *a = NULL, *b = NULL;
    assert_int_equal(clg_context_create_with(specs[0], clblast, &a), CLG_OK);
    b = open_ctx(specs[0]);
    assert_int_equal(strncmp(clg_context_gemm(a), "CLBlast", 7), 0);
    clg_context_destroy(a);
    clg_context_destroy(b);
    assert_int_equal(clg_context_create_with(specs[0], fft, &ctx), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(clg_context_errmsg(ctx), "setting conv='fft' is not one of"));
    clg_context_destroy(ctx);
}

static void test_runs_do_not_block(void **s)
{
    for_each_device(async_on);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_specs),         cmocka_unit_test(test_default_and_env),
        cmocka_unit_test(test_device_list),   cmocka_unit_test(test_build_failure_has_log),
        cmocka_unit_test(test_device_facts),  cmocka_unit_test(test_program_cache),
        cmocka_unit_test(test_errors_by_name), cmocka_unit_test(test_runs_do_not_block),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
