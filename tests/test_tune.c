/*
 * The GEMM tuning store (host/tune.h): its text, its entries on disk
 * (atomic, keyed by device and driver; damaged, cut and foreign entries
 * ignored and reported in clg_context_gemm), and that what it says takes
 * effect: a shape marked for the other path runs there, bit for bit as that
 * path alone gives, and CLBlast's parameters from an entry still give
 * products within matmul's tolerance.
 *
 * Every context is made in a child process (this program run again with
 * --product): CLBlast's parameters are process-wide and cannot be taken
 * back, so each case starts from CLBlast's own.
 */
#define _GNU_SOURCE /* mkdtemp, setenv */
#include "util.h"

#include "cache_file.h"
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_DEV 8
/* the product the children compute: odd sizes, A transposed. K long
 * enough that OpenBLAS splits it into blocks: with K = 71, on a Xeon with
 * AVX-512 (2026-12-02), OpenBLAS's kernel and CLBlast's summed in the same
 * order and agreed bit for bit, so the test could not tell the paths apart */
#define PM 37
#define PN 53
#define PK 711

static char self[4096];

/* ---- the child ---- */

/* the convolution the children compute: x [CN, CC, CH, CW] by [CO, CC, 3, 3], padding 1 */
#define CN 3
#define CC 4
#define CH 9
#define CW 11
#define CO 5
#define CONV_OUT (CN * CO * CH * CW)

/* Computes C = A^T B (A stored [K, M]) on spec, or with `conv` the
 * convolution above (its output's first PM * PN floats); writes
 * clg_context_gemm's text (256 bytes, NUL-padded) and C to out. 0 on
 * success. */
static int product(const char *spec, const char *out, bool conv)
{
    clg_context *ctx = NULL;
    if (clg_context_create(spec, &ctx) != CLG_OK) {
        fprintf(stderr, "context: %s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    static float A[PK * PM], B[PK * PN], C[PM * PN], X[CN * CC * CH * CW], W[CO * CC * 9], Y[CONV_OUT];
    rng_t r = {1234};
    rng_fill(&r, A, PK * PM, 0.1, 1.0, false);
    rng_fill(&r, B, PK * PN, 0.1, 1.0, false);
    rng_fill(&r, X, CN * CC * CH * CW, 0.1, 1.0, false);
    rng_fill(&r, W, CO * CC * 9, 0.1, 1.0, false);
    clg_graph *g;
    const int64_t as[2] = {PK, PM}, bs[2] = {PK, PN}, xs[4] = {CN, CC, CH, CW}, ws[4] = {CO, CC, 3, 3};
    int rc = 1;
    const bool made = clg_graph_create(ctx, &g) == CLG_OK;
    if (made && !conv) {
        clg_tensor a = clg_input(g, 2, as), b = clg_input(g, 2, bs), c = clg_matmul(g, a, b, true, false);
        if (clg_graph_status(g) == CLG_OK && clg_tensor_set(g, a, A, PK * PM) == CLG_OK &&
            clg_tensor_set(g, b, B, PK * PN) == CLG_OK && clg_graph_run(g, CLG_RUN_FORWARD) == CLG_OK &&
            clg_tensor_get(g, c, C, PM * PN) == CLG_OK)
            rc = 0;
    } else if (made) {
        clg_tensor x = clg_input(g, 4, xs), w = clg_input(g, 4, ws);
        clg_tensor y = clg_conv2d(g, x, w, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
        if (clg_graph_status(g) == CLG_OK && clg_tensor_set(g, x, X, CN * CC * CH * CW) == CLG_OK &&
            clg_tensor_set(g, w, W, CO * CC * 9) == CLG_OK && clg_graph_run(g, CLG_RUN_FORWARD) == CLG_OK &&
            clg_tensor_get(g, y, Y, CONV_OUT) == CLG_OK) {
            memcpy(C, Y, sizeof Y); /* the rest of C stays 0 */
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "product: %s\n", clg_context_errmsg(ctx));
    char text[256] = "";
    snprintf(text, sizeof text, "%s", clg_context_gemm(ctx));
    FILE *f = rc ? NULL : fopen(out, "wb");
    if (f) {
        rc = fwrite(text, 1, sizeof text, f) != sizeof text || fwrite(C, sizeof C[0], PM * PN, f) != PM * PN;
        rc |= fclose(f) != 0;
    } else {
        rc = 1;
    }
    clg_context_destroy(ctx);
    return rc;
}

/* ---- the parent ---- */

typedef struct run {
    char gemm[256];
    float c[PM * PN];
} run;

static char dir[64];

/* Runs the child on spec with the environment given ("NAME=value", or
 * NULL), the cache in dir; fails the test unless it computed. */
static void run_child_as(const char *mode, const char *spec, const char *env, run *r)
{
    char cmd[4400], out[128];
    snprintf(out, sizeof out, "%s/out.bin", dir);
    snprintf(cmd, sizeof cmd, "env CLGRAD_CACHE_DIR='%s' %s '%s' %s '%s' '%s'", dir, env ? env : "", self, mode,
             spec, out);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s (%s): the child failed (%d)", spec, env ? env : "", st);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    assert_int_equal(fread(r->gemm, 1, sizeof r->gemm, f), sizeof r->gemm);
    assert_int_equal(fread(r->c, sizeof r->c[0], PM * PN, f), PM * PN);
    fclose(f);
    r->gemm[sizeof r->gemm - 1] = '\0';
}

static void run_child(const char *spec, const char *env, run *r)
{
    run_child_as("--product", spec, env, r);
}

static bool same(const run *a, const run *b)
{
    return memcmp(a->c, b->c, sizeof a->c) == 0;
}

/* The device of spec, for the store's own functions (keys, paths). */
static cl_device_id device_of(const char *spec)
{
    int p = -1, d = -1;
    if (sscanf(spec, "%d:%d", &p, &d) != 2) fail_msg("spec %s", spec);
    cl_platform_id plats[16];
    cl_uint np = 0;
    assert_int_equal(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    assert_true(p < (int)np);
    cl_device_id devs[16];
    cl_uint nd = 0;
    assert_int_equal(clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd), CL_SUCCESS);
    assert_true(d < (int)nd);
    return devs[d];
}

static void fresh_dir(void)
{
    char cmd[128];
    if (dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(dir, sizeof dir, "/tmp/clgrad-tune-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("CLGRAD_CACHE_DIR", dir, 1);
}

static clg_tune one_shape(bool native)
{
    clg_tune t = {0};
    clg_tune_shape s = {.ta = true, .tb = false, .m = PM, .n = PN, .k = PK, .batch = 1, .native = native,
                        .speedup = 1.5};
    assert_true(clg_tune_set_shape(&t, &s));
    return t;
}

/* The text: what format writes parse reads back; anything else is refused
 * whole. */
static void test_text(void **state)
{
    clg_tune t = {0};
    clg_tune_kernel k = {.name = "XgemmDirect", .count = 2, .names = {"WGD", "PADA"}, .values = {64, 0}};
    assert_true(clg_tune_set_kernel(&t, &k));
    clg_tune_shape s1 = {.ta = false, .tb = true, .m = 256, .n = 256, .k = 784, .batch = 1, .native = true,
                         .speedup = 9.25};
    clg_tune_shape s2 = {.ta = true, .tb = false, .m = 3, .n = 5, .k = 7, .batch = 12, .native = false,
                         .speedup = 0.5};
    assert_true(clg_tune_set_shape(&t, &s1));
    assert_true(clg_tune_set_shape(&t, &s2));
    size_t len = 0;
    char *text = clg_tune_format(&t, &len);
    assert_non_null(text);
    clg_tune back;
    assert_true(clg_tune_parse(text, len, &back));
    assert_int_equal(back.nkernels, 1);
    assert_string_equal(back.kernels[0].name, "XgemmDirect");
    assert_int_equal(back.kernels[0].count, 2);
    assert_string_equal(back.kernels[0].names[1], "PADA");
    assert_int_equal(back.kernels[0].values[0], 64);
    assert_int_equal(back.nshapes, 2);
    const clg_tune_shape *f = clg_tune_find(&back, true, false, 3, 5, 7, 12);
    assert_non_null(f);
    assert_false(f->native);
    assert_true(fabs(f->speedup - 0.5) < 1e-9);
    assert_null(clg_tune_find(&back, true, true, 3, 5, 7, 12));
    free(text);
    clg_tune_conv cv = {.geom = {64, 32, 14, 14, 64, 3, 3, 1, 1, 0, 1, 2, 1}, .path = CLG_CONV_DIRECT, .speedup = 2.5};
    assert_true(clg_tune_set_conv(&t, &cv));
    text = clg_tune_format(&t, &len);
    assert_non_null(text);
    assert_true(clg_tune_parse(text, len, &back));
    assert_int_equal(back.nconvs, 1);
    const clg_tune_conv *fc = clg_tune_find_conv(&back, cv.geom);
    assert_non_null(fc);
    assert_int_equal(fc->path, CLG_CONV_DIRECT);
    assert_int_equal(fc->geom[9], 0);
    assert_int_equal(fc->geom[11], 2);
    free(text);

    static const char *const bad[] = {
        "",
        "clgrad-tune 1",                                    /* no final newline */
        "clgrad-tune 2\n",                                  /* another format */
        "clgrad-tune 1\nkernel Xgemm\n",                    /* no parameters */
        "clgrad-tune 1\nkernel Xconv WGD=8\n",              /* not CLBlast's GEMM kernel */
        "clgrad-tune 1\nkernel Xgemm WGD=-8\n",             /* negative */
        "clgrad-tune 1\nkernel Xgemm WGD=8x\n",             /* not a number */
        "clgrad-tune 1\nkernel Xgemm wgd=8\n",              /* not a parameter's name */
        "clgrad-tune 1\nkernel Xgemm WGD=99999999999\n",    /* out of range */
        "clgrad-tune 1\nshape NX 1 2 3 1 native 1.0\n",     /* transposes */
        "clgrad-tune 1\nshape NN 1 2 3 1 cublas 1.0\n",     /* path */
        "clgrad-tune 1\nshape NN 1 2 0 1 native 1.0\n",     /* k 0 */
        "clgrad-tune 1\nshape NN 1 2 3 1 native\n",         /* no speed-up */
        "clgrad-tune 1\nshape NN 1 2 3 1 native 1.0 x\n",   /* more */
        "clgrad-tune 1\nshape NN 1 2 3 1 native nan\n",     /* not a speed-up */
        "clgrad-tune 1\nmystery\n",                         /* unknown line */
        "clgrad-tune 1\nconv 1 2 3 4 5 3 3 1 1 1 1 1 onednn 1.0\n",    /* 12 sizes */
        "clgrad-tune 1\nconv 1 2 3 4 5 3 3 0 1 1 1 1 1 onednn 1.0\n",  /* stride 0 */
        "clgrad-tune 1\nconv 1 2 3 4 5 3 3 1 1 1 1 1 1 fft 1.0\n",      /* path */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clg_tune x;
        memset(&x, 0x5a, sizeof x);
        if (clg_tune_parse(bad[i], strlen(bad[i]), &x)) fail_msg("parsed: '%s'", bad[i]);
        assert_int_equal(x.nkernels, 0);
        assert_int_equal(x.nshapes, 0);
    }
    /* a NUL inside */
    const char nul[] = "clgrad-tune 1\nshape NN 1 2 3 1 native 1.0\n\0\n";
    assert_false(clg_tune_parse(nul, sizeof nul - 1, &back));
}

/* A shape marked for the other path runs there, bit for bit; a damaged,
 * cut or foreign entry, or CLGRAD_TUNING=off, changes nothing and the
 * first three are reported. */
static void test_shape_paths(void **state)
{
    char specs[MAX_DEV][32];
    int n = test_opencl_devices(specs, MAX_DEV);
    for (int d = 0; d < n; d++) {
        fresh_dir();
        run plain, clblast, native, tuned;
        run_child(specs[d], NULL, &plain);
        run_child(specs[d], "CLGRAD_GEMM=clblast", &clblast);
        const bool has_native = strstr(plain.gemm, "host BLAS") != NULL;
        if (!has_native) {
            /* one path only: an entry's shapes change nothing */
            clg_tune t = one_shape(true);
            assert_true(clg_tune_save(NULL, device_of(specs[d]), &t));
            run_child(specs[d], NULL, &tuned);
            assert_true(same(&tuned, &plain));
            continue;
        }
        run_child(specs[d], "CLGRAD_GEMM=native", &native);
        assert_true(same(&plain, &native));
        if (same(&native, &clblast)) fail_msg("%s: the two paths agree bit for bit: the check below cannot tell them apart", specs[d]);

        cl_device_id dev = device_of(specs[d]);
        clg_tune t = one_shape(false);
        assert_true(clg_tune_save(NULL, dev, &t));
        run_child(specs[d], NULL, &tuned);
        if (!strstr(tuned.gemm, "CLBlast for 1 tuned shape")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        assert_true(same(&tuned, &clblast));
        /* a path named in the environment wins over the entry */
        run_child(specs[d], "CLGRAD_GEMM=native", &tuned);
        assert_true(same(&tuned, &native));
        run_child(specs[d], "CLGRAD_TUNING=off", &tuned);
        assert_true(same(&tuned, &native));
        assert_null(strstr(tuned.gemm, "tune"));

        char path[1200];
        assert_true(clg_tune_path(NULL, dev, path, sizeof path));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        /* damaged: one byte of the payload changed */
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, st.st_size - 3, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, st.st_size - 3, SEEK_SET);
        fputc(ch ^ 1, f);
        fclose(f);
        run_child(specs[d], NULL, &tuned);
        if (!strstr(tuned.gemm, "damaged")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        assert_true(same(&tuned, &native));
        /* cut */
        assert_true(clg_tune_save(NULL, dev, &t));
        assert_int_equal(truncate(path, st.st_size - 1), 0);
        run_child(specs[d], NULL, &tuned);
        if (!strstr(tuned.gemm, "damaged")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        assert_true(same(&tuned, &native));
        /* foreign: a whole entry, under this device's name, for another device */
        size_t len = 0;
        char *payload = clg_tune_format(&t, &len);
        static const char key[] = "clgrad tuning key 1\0some platform\0another device\0vendor\0driver\0OpenCL 3.0";
        assert_true(clg_cache_entry_write(path, (const unsigned char *)key, sizeof key, (const unsigned char *)payload,
                                          len));
        free(payload);
        run_child(specs[d], NULL, &tuned);
        if (!strstr(tuned.gemm, "damaged")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        assert_true(same(&tuned, &native));
    }
}

/* CLBlast's parameters from an entry: applied (said so), products within
 * matmul's tolerance (tests/test_matmul.c: (K + 4) u S per element); a set
 * CLBlast refuses is reported and the products are CLBlast's own. */
static void test_kernel_parameters(void **state)
{
    char specs[MAX_DEV][32];
    int n = test_opencl_devices(specs, MAX_DEV);
    static float A[PK * PM], B[PK * PN];
    rng_t r = {1234};
    rng_fill(&r, A, PK * PM, 0.1, 1.0, false);
    rng_fill(&r, B, PK * PN, 0.1, 1.0, false);
    for (int d = 0; d < n; d++) {
        fresh_dir();
        cl_device_id dev = device_of(specs[d]);
        run base, tuned;
        run_child(specs[d], "CLGRAD_GEMM=clblast", &base);
        /* every product through the direct kernel, with other parameters */
        clg_tune t = {0};
        clg_tune_kernel direct = {.name = "XgemmDirect", .count = 10,
                                  .names = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD",
                                            "VWND", "WGD"},
                                  .values = {2, 8, 8, 8, 8, 1, 1, 2, 2, 16}};
        clg_tune_kernel routine = {.name = "GemmRoutine", .count = 1, .names = {"XGEMM_MIN_INDIRECT_SIZE"},
                                   .values = {4096}};
        assert_true(clg_tune_set_kernel(&t, &direct));
        assert_true(clg_tune_set_kernel(&t, &routine));
        assert_true(clg_tune_save(NULL, dev, &t));
        run_child(specs[d], "CLGRAD_GEMM=clblast", &tuned);
        if (!strstr(tuned.gemm, "CLBlast tuned")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        for (int i = 0; i < PM; i++)
            for (int j = 0; j < PN; j++) {
                double want = 0, s = 0;
                for (int p = 0; p < PK; p++) {
                    want += (double)A[p * PM + i] * B[p * PN + j];
                    s += fabs((double)A[p * PM + i] * B[p * PN + j]);
                }
                const double tol = (PK + 4) * ldexp(1.0, -24) * s;
                if (fabs(tuned.c[i * PN + j] - want) > tol)
                    fail_msg("%s: C[%d,%d] = %.9g, want %.9g (tolerance %.3g)", specs[d], i, j,
                             (double)tuned.c[i * PN + j], want, tol);
            }
        /* a set CLBlast does not take (parameters missing) */
        clg_tune bad = {0};
        clg_tune_kernel half = {.name = "XgemmDirect", .count = 1, .names = {"WGD"}, .values = {16}};
        assert_true(clg_tune_set_kernel(&bad, &half));
        assert_true(clg_tune_save(NULL, dev, &bad));
        run_child(specs[d], "CLGRAD_GEMM=clblast", &tuned);
        if (!strstr(tuned.gemm, "refused")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
        assert_true(same(&tuned, &base));
    }
}

/* A convolution the entry sends to a path runs there, bit for bit as
 * CLGRAD_CONV naming that path gives; CLGRAD_CONV wins over the entry; an
 * entry for another geometry changes nothing. */
static void test_conv_paths(void **state)
{
    char specs[MAX_DEV][32];
    int n = test_opencl_devices(specs, MAX_DEV);
    for (int d = 0; d < n; d++) {
        fresh_dir();
        cl_device_id dev = device_of(specs[d]);
        static const int paths[3] = {CLG_CONV_IM2COL, CLG_CONV_DIRECT, CLG_CONV_WINOGRAD};
        static const char *const env[3] = {"CLGRAD_CONV=im2col", "CLGRAD_CONV=direct", "CLGRAD_CONV=winograd"};
        run plain, forced[3], tuned;
        run_child_as("--conv", specs[d], NULL, &plain);
        for (int k = 0; k < 3; k++) run_child_as("--conv", specs[d], env[k], &forced[k]);
        for (int k = 0; k < 3; k++)
            if (same(&forced[k], &forced[(k + 1) % 3]))
                fail_msg("%s: %s and %s agree bit for bit: the check cannot tell them apart", specs[d], env[k],
                         env[(k + 1) % 3]);
        for (int k = 0; k < 3; k++) {
            clg_tune t = {0};
            clg_tune_conv c = {.geom = {CN, CC, CH, CW, CO, 3, 3, 1, 1, 1, 1, 1, 1}, .path = paths[k], .speedup = 1.25};
            assert_true(clg_tune_set_conv(&t, &c));
            assert_true(clg_tune_save(NULL, dev, &t));
            run_child_as("--conv", specs[d], NULL, &tuned);
            if (!strstr(tuned.gemm, "as tuned per layer")) fail_msg("%s: gemm '%s'", specs[d], tuned.gemm);
            if (!same(&tuned, &forced[k])) fail_msg("%s: the entry's %s path did not run", specs[d], env[k]);
            run_child_as("--conv", specs[d], env[(k + 1) % 3], &tuned);
            assert_true(same(&tuned, &forced[(k + 1) % 3]));
            /* another geometry in the entry changes nothing here */
            t.convs[0].geom[0] = CN + 1;
            assert_true(clg_tune_save(NULL, dev, &t));
            run_child_as("--conv", specs[d], NULL, &tuned);
            assert_true(same(&tuned, &plain));
        }
    }
}

/* Writers replace the entry while a reader reads it: every read finds one
 * whole entry or the other, never a mix, and no temporary file stays. */
static void test_atomic(void **state)
{
    char specs[MAX_DEV][32];
    test_opencl_devices(specs, MAX_DEV);
    fresh_dir();
    cl_device_id dev = device_of(specs[0]);
    clg_tune a = one_shape(true), b = one_shape(false);
    for (int i = 0; i < 40; i++) {
        clg_tune_shape s = {.m = 1 + i, .n = 2, .k = 3, .batch = 1, .speedup = 1};
        assert_true(clg_tune_set_shape(&b, &s));
    }
    assert_true(clg_tune_save(NULL, dev, &a));
    pid_t kids[2];
    for (int w = 0; w < 2; w++) {
        kids[w] = fork();
        assert_true(kids[w] >= 0);
        if (kids[w] == 0) {
            for (int i = 0; i < 150; i++)
                if (!clg_tune_save(NULL, dev, w ? &b : &a)) _exit(1);
            _exit(0);
        }
    }
    for (int i = 0; i < 400; i++) {
        clg_tune t;
        clg_tune_state st = clg_tune_load(NULL, dev, &t);
        if (st != CLG_TUNE_LOADED) fail_msg("read %d: state %d", i, (int)st);
        if (t.nshapes != 1 && t.nshapes != 41) fail_msg("read %d: %d shapes", i, t.nshapes);
    }
    for (int w = 0; w < 2; w++) {
        int st;
        assert_int_equal(waitpid(kids[w], &st, 0), kids[w]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s/tune' | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
}

static int cleanup(void **state)
{
    if (dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--product") == 0) return product(argv[2], argv[3], false);
    if (argc == 4 && strcmp(argv[1], "--conv") == 0) return product(argv[2], argv[3], true);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "test_tune: cannot find its own executable\n");
        return 1;
    }
    self[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_shape_paths),
        cmocka_unit_test(test_kernel_parameters),
        cmocka_unit_test(test_conv_paths),
        cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
