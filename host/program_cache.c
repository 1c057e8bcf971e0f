/*
 * A cache of built programs on disk, so that a process's first context
 * does not pay the OpenCL compiler on drivers that keep no cache of their
 * own. Best effort: any failure falls back to building from source, and
 * nothing here can fail a build.
 *
 * Where: $CLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/clgrad, else
 * $HOME/.cache/clgrad; CLGRAD_CACHE_DIR=off turns it off. An entry holds
 * everything the binary depends on (platform and driver versions, the
 * device, the build options, the sources) and is named by its hash; the
 * format and its checks are in host/cache_file.h. A damaged, cut or foreign
 * entry is removed and rebuilt. The folder is kept within
 * CLGRAD_CACHE_MAX_MB megabytes (default 256) by dropping the least
 * recently used entries after each store.
 */
#define _POSIX_C_SOURCE 200809L
#include "cl_common.h"

#include "cache_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A growing byte string; on allocation failure it is marked failed. */
typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    bool failed;
} bytes;

static void add(bytes *b, const void *data, size_t n)
{
    if (b->failed) return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Each field with its terminating NUL, so that no two keys run together. */
static void add_str(bytes *b, const char *s)
{
    add(b, s, strlen(s) + 1);
}

static void add_info(bytes *b, cl_device_id dev, cl_device_info what)
{
    char buf[1024] = "";
    if (clGetDeviceInfo(dev, what, sizeof buf - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    add_str(b, buf);
}

/* Everything a binary depends on, verbatim: the sources themselves rather
 * than a hash of them, so that equal keys cannot be a collision. */
static bool cache_key(cl_device_id dev, const char *const *sources, int count, const char *options, bytes *key)
{
    memset(key, 0, sizeof *key);
    add_str(key, "clgrad program cache key 1");
    cl_platform_id plat = NULL;
    char buf[1024] = "";
    if (clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL) != CL_SUCCESS ||
        clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof buf - 1, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    add_str(key, buf);
    add_info(key, dev, CL_DEVICE_NAME);
    add_info(key, dev, CL_DEVICE_VENDOR);
    add_info(key, dev, CL_DRIVER_VERSION);
    add_info(key, dev, CL_DEVICE_VERSION);
    add_str(key, options ? options : "");
    for (int i = 0; i < count; i++) add_str(key, sources[i]);
    if (key->failed) free(key->p);
    return !key->failed;
}

/* The cache's folder, or false when the cache is off or has no home. */
bool clg_cl_cache_dir(const clg_context *ctx, char *dir, size_t size)
{
    const char *env = clg_setting(ctx, CLG_SET_CACHE_DIR), *base = NULL, *sub = "";
    if (env && (!strcmp(env, "off") || !*env)) return false;
    if (env) base = env;
    else if ((base = getenv("XDG_CACHE_HOME")) && *base) sub = "/clgrad";
    else if ((base = getenv("HOME")) && *base) sub = "/.cache/clgrad";
    else return false;
    int n = snprintf(dir, size, "%s%s", base, sub);
    return n > 0 && (size_t)n < size;
}

/* The entry's file: named by a hash of the key, which the entry holds in
 * full, so a file under a colliding name is rejected on reading. */
static bool cache_path(const char *dir, const bytes *key, char *path, size_t size)
{
    uint64_t h = clg_fnv1a64(CLG_FNV_OFFSET, key->p, key->len);
    int n = snprintf(path, size, "%s/%016llx.bin", dir, (unsigned long long)h);
    return n > 0 && (size_t)n < size;
}

/* mkdir -p for the cache's folder. */
void clg_cl_make_dirs(const char *dir)
{
    char path[1100];
    if (snprintf(path, sizeof path, "%s/", dir) >= (int)sizeof path) return;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
}

bool clg_cl_cache_load(const clg_context *ctx, cl_context clctx, cl_device_id dev, const char *const *sources,
                       int count, const char *options, cl_program *out)
{
    char dir[1024], path[1100];
    bytes key;
    if (!clg_cl_cache_dir(ctx, dir, sizeof dir) || !cache_key(dev, sources, count, options, &key)) return false;
    bool found = false;
    unsigned char *bin = NULL;
    size_t len = 0;
    clg_entry_state state = cache_path(dir, &key, path, sizeof path)
                                ? clg_cache_entry_read(path, key.p, key.len, &bin, &len)
                                : CLG_ENTRY_ABSENT;
    free(key.p);
    if (state == CLG_ENTRY_VALID) {
        cl_int st = CL_SUCCESS, err;
        const unsigned char *bins[1] = {bin};
        cl_program prog = clCreateProgramWithBinary(clctx, 1, &dev, &len, bins, &st, &err);
        if (err == CL_SUCCESS && st == CL_SUCCESS && clBuildProgram(prog, 1, &dev, options, NULL, NULL) == CL_SUCCESS) {
            *out = prog;
            found = true;
            clg_cache_entry_touch(path);
        } else {
            if (prog) clReleaseProgram(prog);
            state = CLG_ENTRY_DAMAGED; /* intact but refused by the driver: stale */
        }
    }
    free(bin);
    /* the next store replaces it */
    if (state == CLG_ENTRY_DAMAGED) remove(path);
    return found;
}

void clg_cl_cache_store(const clg_context *ctx, cl_program prog, cl_device_id dev, const char *const *sources,
                        int count, const char *options)
{
    char dir[1024], path[1100];
    bytes key;
    size_t len = 0;
    if (!clg_cl_cache_dir(ctx, dir, sizeof dir) || !cache_key(dev, sources, count, options, &key)) return;
    if (cache_path(dir, &key, path, sizeof path) &&
        clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) == CL_SUCCESS && len > 0) {
        unsigned char *bin = malloc(len);
        unsigned char *bins[1] = {bin};
        if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
            clg_cl_make_dirs(dir);
            if (clg_cache_entry_write(path, key.p, key.len, bin, len)) clg_cache_evict(dir, clg_cache_cap_bytes(clg_setting(ctx, CLG_SET_CACHE_MAX_MB)));
        }
        free(bin);
    }
    free(key.p);
}
