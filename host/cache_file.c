/* Program cache entries on disk: checked reading, synced writing, eviction
 * of the least recently used. Best effort throughout: every failure means
 * "no entry", never an error. */
#define _POSIX_C_SOURCE 200809L
#include "cache_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char magic[8] = {'c', 'l', 'g', 'P', 'C', 'a', 'c', 'h'};

/* Entries larger than this are damaged: no program binary comes near. */
#define MAX_ENTRY ((uint64_t)1 << 30)
/* A temporary file this old belongs to a process that died mid-store. */
#define STALE_TEMP_SECONDS 3600

uint64_t clg_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

uint64_t clg_sum64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t lane[4] = {h, h ^ 0x9e3779b97f4a7c15ull, h ^ 0xc2b2ae3d27d4eb4full, h ^ 0x165667b19e3779f9ull};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w = 0;
            for (int b = 7; b >= 0; b--) w = w << 8 | p[i + 8 * k + b];
            lane[k] = (lane[k] ^ w) * 1099511628211ull;
        }
    h = clg_fnv1a64(lane[0], p + i, n - i);
    for (int k = 1; k < 4; k++) h = clg_fnv1a64(h, &lane[k], sizeof lane[k]);
    return clg_fnv1a64(h, &n, sizeof n);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static bool read_exact(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

clg_entry_state clg_cache_entry_read(const char *path, const unsigned char *key, size_t key_len,
                                     unsigned char **payload, size_t *payload_len)
{
    *payload = NULL;
    *payload_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    /* one that cannot be opened is not removed either: a store renames over it */
    if (fd < 0) return CLG_ENTRY_ABSENT;
    struct stat st;
    unsigned char head[CLG_CACHE_HEADER];
    clg_entry_state state = CLG_ENTRY_DAMAGED;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < CLG_CACHE_HEADER ||
        (uint64_t)st.st_size > MAX_ENTRY || !read_exact(fd, head, sizeof head))
        goto done;
    uint64_t klen = get_le(head + 12, 4), plen = get_le(head + 16, 8);
    /* lengths first, so that no allocation trusts a damaged header */
    if (memcmp(head, magic, sizeof magic) != 0 || get_le(head + 8, 4) != CLG_CACHE_VERSION || klen != key_len ||
        plen == 0 || plen > MAX_ENTRY || (uint64_t)st.st_size != CLG_CACHE_HEADER + klen + plen)
        goto done;
    size_t rest = (size_t)(klen + plen);
    buf = malloc(rest);
    if (!buf || !read_exact(fd, buf, rest)) goto done;
    uint64_t sum = clg_fnv1a64(CLG_FNV_OFFSET, head, 24);
    sum = clg_sum64(clg_fnv1a64(sum, buf, (size_t)klen), buf + klen, (size_t)plen);
    if (sum != get_le(head + 24, 8) || memcmp(buf, key, key_len) != 0) goto done;
    /* the payload moves to the front of the same block */
    memmove(buf, buf + key_len, (size_t)plen);
    *payload = buf;
    *payload_len = (size_t)plen;
    buf = NULL;
    state = CLG_ENTRY_VALID;
done:
    free(buf);
    close(fd);
    return state;
}

bool clg_cache_entry_write(const char *path, const unsigned char *key, size_t key_len, const unsigned char *payload,
                           size_t payload_len)
{
    if (key_len > UINT32_MAX || payload_len == 0 || (uint64_t)payload_len > MAX_ENTRY) return false;
    unsigned char head[CLG_CACHE_HEADER];
    memcpy(head, magic, sizeof magic);
    put_le(head + 8, CLG_CACHE_VERSION, 4);
    put_le(head + 12, key_len, 4);
    put_le(head + 16, payload_len, 8);
    uint64_t sum = clg_fnv1a64(CLG_FNV_OFFSET, head, 24);
    sum = clg_sum64(clg_fnv1a64(sum, key, key_len), payload, payload_len);
    put_le(head + 24, sum, 8);

    /* mkstemp: unique across processes and threads, so concurrent stores
     * never share a temporary file; ".tmp" marks leftovers for eviction */
    size_t tlen = strlen(path) + 16;
    char *tmp = malloc(tlen);
    if (!tmp) return false;
    snprintf(tmp, tlen, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return false;
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f != NULL;
    if (!f) close(fd);
    ok = ok && fwrite(head, 1, sizeof head, f) == sizeof head && fwrite(key, 1, key_len, f) == key_len &&
         fwrite(payload, 1, payload_len, f) == payload_len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0) ok = false;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
    free(tmp);
    return ok;
}

void clg_cache_entry_touch(const char *path)
{
    utimensat(AT_FDCWD, path, NULL, 0);
}

/* "0123456789abcdef.bin", as program_cache.c names entries */
static bool is_entry_name(const char *name)
{
    size_t n = strlen(name);
    if (n != 20 || strcmp(name + 16, ".bin") != 0) return false;
    for (int i = 0; i < 16; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return false;
    return true;
}

/* "<entry>.XXXXXX" from clg_cache_entry_write */
static bool is_temp_name(const char *name)
{
    return strlen(name) == 27 && name[20] == '.' && strncmp(name + 16, ".bin", 4) == 0;
}

uint64_t clg_cache_cap_bytes(const char *v)
{
    if (v && *v) {
        char *end;
        errno = 0;
        unsigned long long mb = strtoull(v, &end, 10);
        /* a malformed value cannot be reported from here: the default holds */
        if (!*end && errno == 0 && mb >= 1 && mb <= ((uint64_t)1 << 40) && v[0] != '-') return (uint64_t)mb << 20;
    }
    return (uint64_t)CLG_CACHE_DEFAULT_MAX_MB << 20;
}

typedef struct entry {
    char name[32];
    uint64_t size;
    struct timespec mtime;
} entry;

static int older_first(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

void clg_cache_evict(const char *dir, uint64_t limit)
{
    DIR *d = opendir(dir);
    if (!d) return;
    entry *list = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    time_t now = time(NULL);
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)) != NULL) {
        bool is_entry = is_entry_name(de->d_name);
        if (!is_entry && !is_temp_name(de->d_name)) continue;
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path || lstat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (!is_entry) {
            if (now - st.st_mtime > STALE_TEMP_SECONDS) unlink(path);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            entry *l = realloc(list, ncap * sizeof *l);
            if (!l) break;
            list = l;
            cap = ncap;
        }
        memcpy(list[n].name, de->d_name, 21); /* is_entry_name: 20 characters */
        list[n].size = (uint64_t)st.st_size;
        list[n].mtime = st.st_mtim;
        total += list[n].size;
        n++;
    }
    closedir(d);
    if (total > limit && n > 0) {
        qsort(list, n, sizeof *list, older_first);
        for (size_t i = 0; i < n && total > limit; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
            if (unlink(path) == 0 || errno == ENOENT) total -= list[i].size;
        }
    }
    free(list);
}
