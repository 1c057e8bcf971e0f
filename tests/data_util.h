/* Files for the data and checkpoint tests: a scratch folder, whole-file
 * reads and writes, gzip in memory, and Python for the cross-checks. */
#ifndef CLG_TEST_DATA_UTIL_H
#define CLG_TEST_DATA_UTIL_H

#include "util.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ASSERT_HAS(text, part)                                                                     \
    do {                                                                                           \
        if (!strstr((text), (part))) fail_msg("message \"%s\" does not mention \"%s\"", (text), (part)); \
    } while (0)

/* A fresh folder under $TMPDIR (or /tmp), removed by scratch_remove. */
static inline void scratch_make(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/clgrad-data-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) fail_msg("mkdtemp(%s) failed", dir);
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* a test may have made a folder read-only */
    return remove(path);
}

static inline void scratch_remove(const char *dir)
{
    chmod(dir, 0700);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void path_in(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static inline void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) fail_msg("cannot write %s", path);
}

/* The whole file (free()); *len its size. NULL if it cannot be read. */
static inline unsigned char *read_bytes(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Names in dir other than . and .., besides `except` (may be NULL). */
static inline int other_entries(const char *dir, const char *except)
{
    DIR *d = opendir(dir);
    if (!d) fail_msg("opendir %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!except || strcmp(e->d_name, except))) n++;
    closedir(d);
    return n;
}

/* gzip of in[0..len) (free()). */
static inline unsigned char *gzip_mem(const void *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail_msg("deflateInit2");
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) fail_msg("deflate");
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* The Python with the modules of `imports` ("numpy", "safetensors.numpy"):
 * $CLGRAD_TEST_PYTHON or python3. NULL when it lacks them. */
static inline const char *python_with(const char *imports)
{
    const char *py = getenv("CLGRAD_TEST_PYTHON");
    if (!py || !*py) py = "python3";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", py, imports);
    return system(cmd) == 0 ? py : NULL;
}

#endif
