/*
 * A cache of built programs on disk, so that a process's first context
 * does not pay the OpenCL compiler on drivers that keep no cache of their
 * own. Best effort: any failure falls back to building from source, and
 * nothing here can fail a build.
 *
 * Where: $CLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/clgrad, else
 * $HOME/.cache/clgrad; CLGRAD_CACHE_DIR=off turns it off. A file is named
 * by a hash of everything the binary depends on: platform and driver
 * versions, the device, the build options and the sources.
 */
#define _POSIX_C_SOURCE 200809L
#include "cl_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s, strlen(s) + 1);
}

static uint64_t fnv_info(uint64_t h, cl_device_id dev, cl_device_info what)
{
    char buf[1024] = "";
    if (clGetDeviceInfo(dev, what, sizeof buf - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    return fnv_str(h, buf);
}

/* The cache file's path, or false when the cache is off or has no home. */
static bool cache_path(cl_device_id dev, const char *const *sources, int count, const char *options, char *path,
                       size_t size)
{
    const char *dir = getenv("CLGRAD_CACHE_DIR"), *base = NULL, *sub = "";
    if (dir && (!strcmp(dir, "off") || !*dir)) return false;
    if (dir) base = dir;
    else if ((base = getenv("XDG_CACHE_HOME")) && *base) sub = "/clgrad";
    else if ((base = getenv("HOME")) && *base) sub = "/.cache/clgrad";
    else return false;

    uint64_t h = 1469598103934665603ull;
    cl_platform_id plat = NULL;
    char buf[1024] = "";
    if (clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL) == CL_SUCCESS &&
        clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof buf - 1, buf, NULL) == CL_SUCCESS)
        h = fnv_str(h, buf);
    h = fnv_info(h, dev, CL_DEVICE_NAME);
    h = fnv_info(h, dev, CL_DEVICE_VENDOR);
    h = fnv_info(h, dev, CL_DRIVER_VERSION);
    h = fnv_info(h, dev, CL_DEVICE_VERSION);
    h = fnv_str(h, options ? options : "");
    for (int i = 0; i < count; i++) h = fnv_str(h, sources[i]);
    int n = snprintf(path, size, "%s%s/%016llx.bin", base, sub, (unsigned long long)h);
    return n > 0 && (size_t)n < size;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* mkdir -p for the cache's folder. */
static void make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    char tmp[1100], dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    make_dirs(dir);
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) return;
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    /* the rename makes a half-written file impossible to read */
    if (!ok || rename(tmp, path) != 0) remove(tmp);
}

bool clg_cl_cache_load(cl_context clctx, cl_device_id dev, const char *const *sources, int count, const char *options,
                       cl_program *out)
{
    char path[1024];
    size_t len;
    if (!cache_path(dev, sources, count, options, path, sizeof path)) return false;
    unsigned char *bin = read_file(path, &len);
    if (!bin) return false;
    cl_int st, err;
    const unsigned char *bins[1] = {bin};
    cl_program prog = clCreateProgramWithBinary(clctx, 1, &dev, &len, bins, &st, &err);
    free(bin);
    if (err == CL_SUCCESS && st == CL_SUCCESS && clBuildProgram(prog, 1, &dev, options, NULL, NULL) == CL_SUCCESS) {
        *out = prog;
        return true;
    }
    if (prog) clReleaseProgram(prog);
    remove(path); /* stale or damaged: the next build replaces it */
    return false;
}

void clg_cl_cache_store(cl_program prog, cl_device_id dev, const char *const *sources, int count, const char *options)
{
    char path[1024];
    size_t len = 0;
    if (!cache_path(dev, sources, count, options, path, sizeof path)) return;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS || len == 0) return;
    unsigned char *bin = malloc(len);
    unsigned char *bins[1] = {bin};
    if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
        write_file(path, bin, len);
    free(bin);
}
