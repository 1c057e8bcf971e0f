/*
 * IDX files (MNIST and its kin): magic 00 00 <type> <ndim>, ndim big-endian
 * uint32 dimensions, then the elements, big-endian, C order. Plain or
 * gzip-compressed: files go through zlib's gz* API, memory through inflate.
 *
 * Nothing is allocated before the data is known to be there: a plain
 * input's size is known; a compressed one is decompressed once to count its
 * bytes (stopping one past what the header promises), then again into an
 * array of exactly that size.
 */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct source {
    const char *func, *name;
    char *err;
    size_t errlen;
    bool gzip;
    uint64_t plain_size; /* total bytes when not compressed */
    gzFile gz;           /* a file, plain or gzip */
    const unsigned char *mem;
    size_t len, pos; /* memory: the input and where the reader is */
    z_stream z;      /* compressed memory */
    bool z_on, z_end;
} source;

static bool is_gzip(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static clg_status fail(source *s, clg_status st, const char *what)
{
    return clg_data_fail(s->err, s->errlen, st, "%s: %s: %s", s->func, s->name, what);
}

static clg_status z_start(source *s)
{
    memset(&s->z, 0, sizeof s->z);
    s->z.next_in = (unsigned char *)s->mem; /* zlib's API is not const; it only reads */
    s->z.avail_in = s->len > UINT_MAX ? UINT_MAX : (unsigned)s->len;
    s->pos = s->z.avail_in;
    s->z_end = false;
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) return fail(s, CLG_ERR_OUT_OF_MEMORY, "inflateInit2 failed");
    s->z_on = true;
    return CLG_OK;
}

/* Refills zlib's input window from the memory (inputs over 4 GiB come in
 * pieces). */
static void z_feed(source *s)
{
    if (s->z.avail_in == 0 && s->pos < s->len) {
        size_t n = s->len - s->pos;
        s->z.next_in = (unsigned char *)s->mem + s->pos;
        s->z.avail_in = n > UINT_MAX ? UINT_MAX : (unsigned)n;
        s->pos += s->z.avail_in;
    }
}

static clg_status z_read(source *s, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !s->z_end) {
        z_feed(s);
        size_t want = n - *got > UINT_MAX ? UINT_MAX : n - *got;
        s->z.next_out = dst + *got;
        s->z.avail_out = (unsigned)want;
        int r = inflate(&s->z, Z_NO_FLUSH);
        *got += want - s->z.avail_out;
        if (r == Z_STREAM_END) {
            z_feed(s);
            /* Another member follows, or trailing bytes that gzread would
             * ignore too. */
            if (s->z.avail_in >= 2 && is_gzip(s->z.next_in, s->z.avail_in)) inflateReset(&s->z);
            else s->z_end = true;
        } else if (r == Z_BUF_ERROR && s->z.avail_out == want) {
            /* No progress with all the input given and room to write: the
             * stream stops short. */
            return fail(s, CLG_ERR_INVALID_ARGUMENT, "gzip data truncated (unexpected end of input)");
        } else if (r == Z_MEM_ERROR) {
            return fail(s, CLG_ERR_OUT_OF_MEMORY, "out of memory inflating");
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            char m[160];
            snprintf(m, sizeof m, "corrupt gzip data (%s)", s->z.msg ? s->z.msg : "inflate failed");
            return fail(s, CLG_ERR_INVALID_ARGUMENT, m);
        }
    }
    return CLG_OK;
}

static clg_status gz_read_all(source *s, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        unsigned want = n - *got > (1u << 30) ? 1u << 30 : (unsigned)(n - *got);
        int r = gzread(s->gz, dst + *got, want);
        if (r > 0) *got += (size_t)r;
        if (r < 0 || (unsigned)r < want) {
            int code;
            const char *m = gzerror(s->gz, &code);
            if (code == Z_MEM_ERROR) return fail(s, CLG_ERR_OUT_OF_MEMORY, "out of memory inflating");
            if (code != Z_OK) {
                char msg[200];
                snprintf(msg, sizeof msg, "%s data unreadable (%s)", s->gzip ? "gzip" : "file",
                         code == Z_BUF_ERROR ? "truncated: unexpected end of file" : m);
                return fail(s, CLG_ERR_INVALID_ARGUMENT, msg);
            }
            break;
        }
    }
    return CLG_OK;
}

/* Reads up to n bytes; fewer only at the end of the input. */
static clg_status src_read(source *s, void *dst, size_t n, size_t *got)
{
    if (s->gz) return gz_read_all(s, dst, n, got);
    if (s->gzip) return z_read(s, dst, n, got);
    *got = s->len - s->pos < n ? s->len - s->pos : n;
    if (*got) memcpy(dst, s->mem + s->pos, *got);
    s->pos += *got;
    return CLG_OK;
}

static clg_status src_rewind(source *s)
{
    if (s->gz) {
        if (gzrewind(s->gz) != 0) return fail(s, CLG_ERR_INVALID_ARGUMENT, "cannot rewind");
        return CLG_OK;
    }
    s->pos = 0;
    if (!s->gzip) return CLG_OK;
    inflateEnd(&s->z);
    s->z_on = false;
    return z_start(s);
}

static void src_close(source *s)
{
    if (s->gz) gzclose(s->gz);
    if (s->z_on) inflateEnd(&s->z);
}

/* Counts the decompressed bytes left, stopping past limit. */
static clg_status count_rest(source *s, uint64_t limit, uint64_t *count)
{
    unsigned char scratch[16384];
    *count = 0;
    for (;;) {
        size_t got;
        clg_status st = src_read(s, scratch, sizeof scratch, &got);
        if (st != CLG_OK) return st;
        *count += got;
        if (got < sizeof scratch || *count > limit) return CLG_OK;
    }
}

static clg_status idx_type(unsigned code, clg_elem *e)
{
    switch (code) {
    case 0x08: *e = CLG_ELEM_U8; return CLG_OK;
    case 0x09: *e = CLG_ELEM_I8; return CLG_OK;
    case 0x0B: *e = CLG_ELEM_I16; return CLG_OK;
    case 0x0C: *e = CLG_ELEM_I32; return CLG_OK;
    case 0x0D: *e = CLG_ELEM_F32; return CLG_OK;
    case 0x0E: *e = CLG_ELEM_F64; return CLG_OK;
    }
    return CLG_ERR_UNSUPPORTED;
}

typedef struct idx_header {
    clg_elem type;
    int ndim;
    int64_t shape[CLG_ARRAY_MAX_DIMS];
    size_t header_bytes;
    uint64_t data_bytes;
} idx_header;

static clg_status read_header(source *s, idx_header *h)
{
    unsigned char buf[4 + 4 * 255];
    size_t got;
    clg_status st = src_read(s, buf, 4, &got);
    if (st != CLG_OK) return st;
    char m[300];
    if (got < 4) {
        snprintf(m, sizeof m, "%zu bytes, too short for an IDX header", got);
        return fail(s, CLG_ERR_INVALID_ARGUMENT, m);
    }
    if (buf[0] || buf[1]) {
        snprintf(m, sizeof m, "not an IDX file (starts %02x %02x, not 00 00)", buf[0], buf[1]);
        return fail(s, CLG_ERR_INVALID_ARGUMENT, m);
    }
    if (idx_type(buf[2], &h->type) != CLG_OK) {
        snprintf(m, sizeof m, "unknown IDX element type 0x%02x (known: 08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64)",
                 buf[2]);
        return fail(s, CLG_ERR_UNSUPPORTED, m);
    }
    h->ndim = buf[3];
    if (h->ndim < 1 || h->ndim > CLG_ARRAY_MAX_DIMS) {
        snprintf(m, sizeof m, "%d dimensions (must be 1 to %d)", h->ndim, CLG_ARRAY_MAX_DIMS);
        return fail(s, h->ndim ? CLG_ERR_UNSUPPORTED : CLG_ERR_INVALID_ARGUMENT, m);
    }
    size_t dims_bytes = 4 * (size_t)h->ndim;
    st = src_read(s, buf + 4, dims_bytes, &got);
    if (st != CLG_OK) return st;
    if (got < dims_bytes) {
        snprintf(m, sizeof m, "truncated header: %d dimensions need %zu bytes, the input ends after %zu", h->ndim,
                 4 + dims_bytes, 4 + got);
        return fail(s, CLG_ERR_INVALID_ARGUMENT, m);
    }
    h->header_bytes = 4 + dims_bytes;
    for (int d = 0; d < h->ndim; d++) h->shape[d] = clg_load_be32(buf + 4 + 4 * d);
    /* The bound only avoids overflow; the size check against the input is exact. */
    if (!clg_shape_bytes(h->ndim, h->shape, clg_elem_size(h->type), (uint64_t)INT64_MAX, &h->data_bytes))
        h->data_bytes = UINT64_MAX;
    return CLG_OK;
}

static clg_status size_mismatch(source *s, const idx_header *h, uint64_t have, bool more)
{
    char sh[200], m[400];
    clg_array_shape_string(h->ndim, h->shape, sh, sizeof sh);
    const char *bytes = h->data_bytes == UINT64_MAX ? "more than 2^63" : NULL;
    char nb[32];
    if (!bytes) {
        snprintf(nb, sizeof nb, "%llu", (unsigned long long)h->data_bytes);
        bytes = nb;
    }
    snprintf(m, sizeof m, "header says %s %s, %s bytes of data, but the %s has %s%llu bytes after the %zu-byte header (%s)",
             clg_elem_name(h->type), sh, bytes, s->gzip ? "decompressed input" : "input", more ? "more than " : "",
             (unsigned long long)have, h->header_bytes, have < h->data_bytes ? "truncated" : "trailing data");
    return fail(s, CLG_ERR_INVALID_ARGUMENT, m);
}

static clg_status idx_parse(source *s, clg_array **out)
{
    idx_header h;
    clg_status st = read_header(s, &h);
    if (st != CLG_OK) return st;
    if (!s->gzip) {
        uint64_t have = s->plain_size - h.header_bytes;
        if (have != h.data_bytes) return size_mismatch(s, &h, have, false);
    } else {
        uint64_t have;
        uint64_t limit = h.data_bytes == UINT64_MAX ? UINT64_MAX - 1 : h.data_bytes;
        st = count_rest(s, limit, &have);
        if (st != CLG_OK) return st;
        if (have != h.data_bytes) return size_mismatch(s, &h, have, have > h.data_bytes);
        st = src_rewind(s);
        if (st != CLG_OK) return st;
        unsigned char skip[4 + 4 * CLG_ARRAY_MAX_DIMS];
        size_t got;
        st = src_read(s, skip, h.header_bytes, &got);
        if (st != CLG_OK) return st;
    }
    clg_array *a;
    st = clg_array_new(h.type, h.ndim, h.shape, &a, s->err, s->errlen);
    if (st != CLG_OK) return st;
    size_t got;
    st = src_read(s, a->data, (size_t)h.data_bytes, &got);
    if (st == CLG_OK && got != h.data_bytes) st = size_mismatch(s, &h, got, false);
    if (st != CLG_OK) {
        clg_array_destroy(a);
        return st;
    }
    size_t el = clg_elem_size(h.type);
    if (el > 1 && clg_host_is_little_endian()) clg_swap_elements(a->data, (size_t)a->numel, el);
    *out = a;
    return CLG_OK;
}

clg_status clg_idx_read_mem(const void *buf, size_t len, clg_array **out, char *err, size_t errlen)
{
    const char *func = "clg_idx_read_mem";
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", func);
    *out = NULL;
    if (!buf && len) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: buffer is NULL", func);
    source s = {.func = func, .name = "memory", .err = err, .errlen = errlen, .mem = buf, .len = len,
                .plain_size = len, .gzip = is_gzip(buf, len)};
    clg_status st = s.gzip ? z_start(&s) : CLG_OK;
    if (st == CLG_OK) st = idx_parse(&s, out);
    src_close(&s);
    return st;
}

clg_status clg_idx_read(const char *path, clg_array **out, char *err, size_t errlen)
{
    const char *func = "clg_idx_read";
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", func);
    *out = NULL;
    if (!path) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: path is NULL", func);
    source s = {.func = func, .name = path, .err = err, .errlen = errlen};
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait
     * forever, before fstat could refuse it; cleared below for the reads */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fail(&s, errno == ENOENT || errno == ENOTDIR ? CLG_ERR_NOT_FOUND : CLG_ERR_INVALID_ARGUMENT,
                    strerror(errno));
    struct stat st_;
    unsigned char magic[2];
    ssize_t r;
    if (fstat(fd, &st_) != 0) {
        int e = errno;
        close(fd);
        return fail(&s, CLG_ERR_INVALID_ARGUMENT, strerror(e));
    }
    if (!S_ISREG(st_.st_mode)) {
        close(fd);
        return fail(&s, CLG_ERR_INVALID_ARGUMENT, "not a regular file");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    do r = pread(fd, magic, 2, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        /* else a gzip file would be parsed as plain and called corrupt */
        int e = errno;
        close(fd);
        return fail(&s, CLG_ERR_INVALID_ARGUMENT, strerror(e));
    }
    s.gzip = r == 2 && is_gzip(magic, 2);
    s.plain_size = (uint64_t)st_.st_size;
    s.gz = gzdopen(fd, "rb");
    if (!s.gz) {
        close(fd);
        return fail(&s, CLG_ERR_OUT_OF_MEMORY, "out of host memory (gzdopen failed)");
    }
    gzbuffer(s.gz, 1 << 17);
    clg_status st = idx_parse(&s, out);
    src_close(&s);
    return st;
}
