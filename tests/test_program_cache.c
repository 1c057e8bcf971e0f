/*
 * The program cache against damaged entries and its size cap. Every
 * context is made in a fresh process (this program run again with
 * --compute SPEC): a driver that crashes on a bad binary then fails one
 * case instead of the whole test, and no process reuses a program it
 * built itself.
 *
 * The entry format is read here again from its description in
 * host/cache_file.h, so the test does not trust the library's reader.
 */
#define _GNU_SOURCE /* utimensat's UTIME_* */
#include "util.h"
#include "cl_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char self[4096];

/* The child: one context and a tiny graph; 0 when it computes 55. */
static int compute(const char *spec)
{
    clg_context *ctx = NULL;
    if (clg_context_create(spec, &ctx) != CLG_OK) {
        fprintf(stderr, "context: %s\n", clg_context_errmsg(ctx));
        return 1;
    }
    clg_graph *g;
    const int64_t n = 5;
    const float v[5] = {1, 2, 3, 4, 5};
    float r = 0;
    int rc = 1;
    if (clg_graph_create(ctx, &g) == CLG_OK) {
        clg_tensor x = clg_input(g, 1, &n), y = clg_sum(g, clg_square(g, x));
        if (clg_tensor_set(g, x, v, 5) == CLG_OK && clg_graph_run(g, CLG_RUN_FORWARD) == CLG_OK &&
            clg_tensor_get(g, y, &r, 1) == CLG_OK)
            rc = r == 55.0f ? 0 : 2;
    }
    if (rc) fprintf(stderr, "compute: %s (got %g)\n", clg_context_errmsg(ctx), (double)r);
    clg_context_destroy(ctx);
    return rc;
}

/* Runs the child; fails the test naming how it ended unless it computed. */
static void run_child(const char *spec, const char *what)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "'%s' --compute '%s'", self, spec);
    int st = system(cmd);
    if (st == -1) fail_msg("%s: could not start %s", what, self);
    if (WIFSIGNALED(st)) fail_msg("%s: the child died of signal %d", what, WTERMSIG(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: the child exited with %d (a shell exit of 128+N is signal N)", what, WEXITSTATUS(st));
}

typedef struct blob {
    unsigned char *p;
    size_t len;
} blob;

static blob slurp(const char *path)
{
    blob b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    b.len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.len ? b.len : 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static void spill(const char *path, const unsigned char *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* host/cache_file.h's clg_sum64, written again: four lanes of words */
static uint64_t sum64(uint64_t h, const unsigned char *p, size_t n)
{
    uint64_t lane[4] = {h, h ^ 0x9e3779b97f4a7c15ull, h ^ 0xc2b2ae3d27d4eb4full, h ^ 0x165667b19e3779f9ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) lane[k] = (lane[k] ^ le(p + i + 8 * k, 8)) * 1099511628211ull;
    h = fnv(lane[0], p + i, n - i);
    for (int k = 1; k < 4; k++) h = fnv(h, (const unsigned char *)&lane[k], 8);
    return fnv(h, (const unsigned char *)&n, sizeof n);
}

/* Checks an entry as host/cache_file.h describes it; gives its key length. */
static size_t check_entry(const blob *b, const char *what)
{
    if (b->len < 32 || memcmp(b->p, "clgPCach", 8) != 0) fail_msg("%s: no entry header (%zu bytes)", what, b->len);
    if (le(b->p + 8, 4) != 2) fail_msg("%s: format version %llu", what, (unsigned long long)le(b->p + 8, 4));
    uint64_t k = le(b->p + 12, 4), n = le(b->p + 16, 8);
    if (n == 0 || 32 + k + n != b->len)
        fail_msg("%s: key %llu + payload %llu bytes in a file of %zu", what, (unsigned long long)k,
                 (unsigned long long)n, b->len);
    uint64_t sum = sum64(fnv(fnv(1469598103934665603ull, b->p, 24), b->p + 32, k), b->p + 32 + k, n);
    if (sum != le(b->p + 24, 8)) fail_msg("%s: checksum mismatch", what);
    return (size_t)k;
}

/* The one entry file in dir (fails unless there is exactly one). */
static void only_entry(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".bin") == 0) {
            n++;
            snprintf(path, size, "%s/%s", dir, de->d_name);
        } else if (de->d_name[0] != '.') {
            fail_msg("%s: an unexpected file %s", dir, de->d_name);
        }
    }
    closedir(d);
    if (n != 1) fail_msg("%s holds %d entries, expected 1", dir, n);
}

static void make_temp_dir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/clgrad-pcache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("CLGRAD_CACHE_DIR", dir, 1);
}

static void remove_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("CLGRAD_CACHE_DIR");
}

/* An entry for the same device but other sources: what another build's
 * entry looks like when it lands under this entry's name. */
static blob foreign_entry(const char *spec, const char *dir, const char *keep)
{
    clg_context *ctx = open_ctx("reference");
    clg_cl_device dev;
    CHECK_OK(ctx, clg_cl_select(ctx, spec, &dev));
    cl_int err;
    cl_context clctx = clCreateContext(NULL, 1, &dev.device, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    const char *src[] = {"__kernel void other(__global float *x) { x[get_global_id(0)] *= 2.0f; }\n"};
    cl_program prog;
    CHECK_OK(ctx, clg_cl_build_program(ctx, clctx, dev.device, src, 1, "", &prog));
    char saved[600];
    snprintf(saved, sizeof saved, "%s.keep", dir); /* beside the folder, not in it */
    assert_int_equal(rename(keep, saved), 0);
    clg_cl_cache_store(NULL, prog, dev.device, src, 1, "");
    char path[600];
    only_entry(dir, path, sizeof path);
    blob b = slurp(path);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rename(saved, keep), 0);
    clReleaseProgram(prog);
    clReleaseContext(clctx);
    clg_context_destroy(ctx);
    return b;
}

/* Every kind of damage: the entry is refused before the driver sees it,
 * the program is rebuilt, computes right, and a valid entry replaces the
 * damaged one. */
static void test_damaged_entries(void **s)
{
    char specs[16][32];
    int nd = test_opencl_devices(specs, 16);
    if (nd == 0) {
        print_message("skipped: no OpenCL device\n");
        skip();
    }
    for (int d = 0; d < nd; d++) {
        char dir[64], entry[600], what[640];
        make_temp_dir(dir, sizeof dir);
        run_child(specs[d], "first build");
        only_entry(dir, entry, sizeof entry);
        blob good = slurp(entry);
        size_t klen = check_entry(&good, "the stored entry");
        blob other = foreign_entry(specs[d], dir, entry);
        check_entry(&other, "the foreign entry");
        const size_t cuts[] = {0, 1, 31, 32, 32 + klen, good.len / 2, good.len - 1};
        const size_t flips[] = {0, 8, 12, 16, 24, 32 + klen / 2, 32 + klen + (good.len - 32 - klen) / 2, good.len - 1};
        const int ncuts = sizeof cuts / sizeof cuts[0], nflips = sizeof flips / sizeof flips[0];
        for (int c = 0; c < ncuts + nflips + 1; c++) {
            if (c < ncuts) {
                snprintf(what, sizeof what, "%s: entry cut to %zu of %zu bytes", specs[d], cuts[c], good.len);
                spill(entry, good.p, cuts[c]);
            } else if (c < ncuts + nflips) {
                size_t at = flips[c - ncuts];
                snprintf(what, sizeof what, "%s: bit flipped at byte %zu of %zu", specs[d], at, good.len);
                good.p[at] ^= 0x10;
                spill(entry, good.p, good.len);
                good.p[at] ^= 0x10;
            } else {
                snprintf(what, sizeof what, "%s: another key's entry under this name", specs[d]);
                spill(entry, other.p, other.len);
            }
            run_child(specs[d], what);
            blob now = slurp(entry);
            if (check_entry(&now, what) != klen || memcmp(now.p + 32, good.p + 32, klen) != 0)
                fail_msg("%s: the entry was not replaced by one for this key", what);
            free(now.p);
        }
        run_child(specs[d], "from the repaired entry");
        free(good.p);
        free(other.p);
        remove_dir(dir);
    }
}

static void make_file(const char *path, size_t size, time_t age)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++) fputc('x', f);
    assert_int_equal(fclose(f), 0);
    struct timespec t[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* CLGRAD_CACHE_MAX_MB: a store over the cap removes the least recently
 * used entries, and a hit counts as a use. */
static void test_size_cap(void **s)
{
    char specs[16][32];
    if (test_opencl_devices(specs, 1) == 0) {
        print_message("skipped: no OpenCL device\n");
        skip();
    }
    char dir[64], entry[600], old[600], mid[600], young[600], leftover[600], cap[32];
    make_temp_dir(dir, sizeof dir);
    run_child(specs[0], "first build");
    only_entry(dir, entry, sizeof entry);
    struct stat st;
    assert_int_equal(stat(entry, &st), 0);
    const size_t mb = 1 << 20;
    /* room for the entry and two of the three 1 MiB files below */
    snprintf(cap, sizeof cap, "%zu", ((size_t)st.st_size + mb - 1) / mb + 2);
    snprintf(old, sizeof old, "%s/00000000000000a1.bin", dir);
    snprintf(mid, sizeof mid, "%s/00000000000000a2.bin", dir);
    snprintf(young, sizeof young, "%s/00000000000000a3.bin", dir);
    snprintf(leftover, sizeof leftover, "%s/00000000000000a4.bin.Ab3dEf", dir);
    make_file(old, mb, 3 * 3600);
    make_file(mid, mb, 2 * 3600);
    make_file(young, mb, 1 * 3600);
    make_file(leftover, 100, 2 * 3600);
    /* a hit makes the entry the most recently used */
    struct timespec ancient[2] = {{time(NULL) - 5 * 3600, 0}, {time(NULL) - 5 * 3600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, entry, ancient, 0), 0);
    run_child(specs[0], "from the cache");
    assert_int_equal(stat(entry, &st), 0);
    if (st.st_mtime < time(NULL) - 600) fail_msg("a cache hit did not mark the entry as used");
    /* a store: here a rebuild after the entry is gone */
    char aside[640];
    snprintf(aside, sizeof aside, "%s.aside", entry);
    assert_int_equal(rename(entry, aside), 0);
    setenv("CLGRAD_CACHE_MAX_MB", cap, 1);
    run_child(specs[0], "store over the cap");
    unsetenv("CLGRAD_CACHE_MAX_MB");
    unlink(aside);
    assert_true(exists(entry));
    if (exists(old)) fail_msg("the least recently used entry was kept over a cap of %s MiB", cap);
    assert_true(exists(mid));
    assert_true(exists(young));
    if (exists(leftover)) fail_msg("a dead process's temporary file was kept");
    remove_dir(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--compute") == 0) return compute(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "test_program_cache: cannot find its own executable\n");
        return 1;
    }
    self[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damaged_entries),
        cmocka_unit_test(test_size_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
