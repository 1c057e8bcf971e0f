/*
 * NumPy .npy: "\x93NUMPY", version major.minor, header length (u16 LE in
 * 1.0, u32 LE in 2.0), a Python dict literal ending in '\n', then the data.
 * The dict must be exactly {'descr': <str>, 'fortran_order': <bool>,
 * 'shape': <tuple of ints>} in any order, as numpy's own reader requires.
 */
#include "data.h"

#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20)
/* numpy leaves this many digits of room for the first dimension. */
#define NPY_GROWTH_DIGITS 21

typedef struct npy_ctx {
    const char *func, *name;
    char *err;
    size_t errlen;
    const char *p, *end; /* header text being parsed */
} npy_ctx;

static clg_status npy_fail(npy_ctx *c, clg_status s, const char *what, const char *detail)
{
    return clg_data_fail(c->err, c->errlen, s, "%s: %s: %s%s", c->func, c->name, what, detail ? detail : "");
}

static void skip_space(npy_ctx *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool eat(npy_ctx *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes, into buf. */
static bool parse_str(npy_ctx *c, char *buf, size_t size)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20 || n + 1 >= size) return false;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return false;
    c->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(npy_ctx *c, const char *w)
{
    skip_space(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
    const char *after = c->p + n;
    if (after < c->end && (*after == '_' || (*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9')))
        return false;
    c->p = after;
    return true;
}

/* A Python int literal >= 0 without sign or leading zeros. */
static bool parse_dim(npy_ctx *c, int64_t *v)
{
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return false;
    if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9') return false;
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (x > ((uint64_t)INT64_MAX - 9) / 10) return false;
        x = x * 10 + (uint64_t)(*c->p++ - '0');
    }
    *v = (int64_t)x;
    return true;
}

static clg_status parse_shape(npy_ctx *c, int *ndim, int64_t *shape)
{
    if (!eat(c, '(')) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: 'shape' is not a tuple", NULL);
    *ndim = 0;
    if (eat(c, ')')) return CLG_OK;
    for (;;) {
        int64_t v;
        if (!parse_dim(c, &v))
            return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: 'shape' holds something other than ints >= 0", NULL);
        if (*ndim == CLG_ARRAY_MAX_DIMS)
            return npy_fail(c, CLG_ERR_UNSUPPORTED, "header: more dimensions than CLG_ARRAY_MAX_DIMS", NULL);
        shape[(*ndim)++] = v;
        bool comma = eat(c, ',');
        if (eat(c, ')')) {
            /* "(3)" is an int in Python, not a tuple. */
            if (*ndim == 1 && !comma)
                return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: 'shape' (n) is not a tuple (write (n,))", NULL);
            return CLG_OK;
        }
        if (!comma) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: malformed 'shape' tuple", NULL);
    }
}

/* numpy's descr: byte order, kind, size: '<f4', '|u1', '>i8'. */
static clg_status parse_descr(npy_ctx *c, const char *d, clg_elem *type, bool *big_endian)
{
    static const struct { const char *code; clg_elem e; } types[] = {
        {"b1", CLG_ELEM_BOOL}, {"u1", CLG_ELEM_U8},  {"i1", CLG_ELEM_I8},  {"u2", CLG_ELEM_U16},
        {"i2", CLG_ELEM_I16},  {"u4", CLG_ELEM_U32}, {"i4", CLG_ELEM_I32}, {"u8", CLG_ELEM_U64},
        {"i8", CLG_ELEM_I64},  {"f2", CLG_ELEM_F16}, {"f4", CLG_ELEM_F32}, {"f8", CLG_ELEM_F64},
    };
    char order = d[0];
    if (order == '<' || order == '>' || order == '|') {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(d + 1, types[i].code) == 0) {
                size_t el = clg_elem_size(types[i].e);
                if (order == '|' && el > 1) break; /* no byte order for a multi-byte type */
                *type = types[i].e;
                *big_endian = order == '>';
                return CLG_OK;
            }
    }
    char m[160];
    snprintf(m, sizeof m, "'%.40s' (supported: b1 u1 i1 u2 i2 u4 i4 u8 i8 f2 f4 f8 with < or >)", d);
    return npy_fail(c, CLG_ERR_UNSUPPORTED, "header: unsupported descr ", m);
}

typedef struct npy_header {
    clg_elem type;
    bool big_endian;
    int ndim;
    int64_t shape[CLG_ARRAY_MAX_DIMS];
} npy_header;

static clg_status parse_dict(npy_ctx *c, npy_header *h)
{
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    if (!eat(c, '{')) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header is not a Python dict", NULL);
    while (!eat(c, '}')) {
        char key[32], val[64];
        if (!parse_str(c, key, sizeof key))
            return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: a dict key is not a short quoted string", NULL);
        if (!eat(c, ':')) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: ':' missing after key ", key);
        clg_status s = CLG_OK;
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &seen_descr;
            skip_space(c);
            if (c->p < c->end && *c->p == '[')
                return npy_fail(c, CLG_ERR_UNSUPPORTED, "header: structured dtypes (a list descr) are not supported",
                                NULL);
            if (!parse_str(c, val, sizeof val))
                return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: 'descr' is not a quoted string", NULL);
            s = parse_descr(c, val, &h->type, &h->big_endian);
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &seen_fortran;
            if (parse_word(c, "True"))
                return npy_fail(c, CLG_ERR_UNSUPPORTED,
                                "fortran_order is True: only C-order arrays are supported (save np.ascontiguousarray(a))",
                                NULL);
            if (!parse_word(c, "False"))
                return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: 'fortran_order' is not True or False", NULL);
        } else if (strcmp(key, "shape") == 0) {
            seen = &seen_shape;
            s = parse_shape(c, &h->ndim, h->shape);
        } else {
            return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: unexpected key ", key);
        }
        if (s != CLG_OK) return s;
        if (*seen) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: repeated key ", key);
        *seen = true;
        if (!eat(c, ',')) {
            if (eat(c, '}')) break;
            return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: ',' or '}' missing after ", key);
        }
    }
    const char *missing = !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : !seen_shape ? "shape" : NULL;
    if (missing) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: missing key ", missing);
    skip_space(c);
    if (c->p != c->end) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header: text after the dict", NULL);
    return CLG_OK;
}

static clg_status npy_parse(npy_ctx *c, const unsigned char *buf, size_t len, clg_array **out)
{
    char m[200];
    if (len < 10 || memcmp(buf, NPY_MAGIC, 6) != 0)
        return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "not a .npy file (no \\x93NUMPY magic)", NULL);
    unsigned major = buf[6], minor = buf[7];
    if ((major != 1 && major != 2) || minor != 0) {
        snprintf(m, sizeof m, "%u.%u (supported: 1.0, 2.0)", major, minor);
        return npy_fail(c, CLG_ERR_UNSUPPORTED, "unsupported format version ", m);
    }
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix) return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "truncated before the header length", NULL);
    uint64_t hlen = major == 1 ? (uint64_t)buf[8] | (uint64_t)buf[9] << 8 : clg_load_le32(buf + 8);
    if (hlen > NPY_MAX_HEADER) {
        snprintf(m, sizeof m, "%llu bytes (at most %u)", (unsigned long long)hlen, NPY_MAX_HEADER);
        return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header length ", m);
    }
    if (hlen > len - prefix) {
        snprintf(m, sizeof m, "%llu bytes, the input has %zu after the prefix", (unsigned long long)hlen, len - prefix);
        return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "truncated header: it says ", m);
    }
    const char *text = (const char *)buf + prefix;
    if (hlen == 0 || text[hlen - 1] != '\n')
        return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header does not end with a newline", NULL);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)text[i] >= 0x80 || text[i] == '\0')
            return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, "header holds a byte that is not ASCII text", NULL);
    c->p = text;
    c->end = text + hlen;
    npy_header h = {0};
    clg_status s = parse_dict(c, &h);
    if (s != CLG_OK) return s;

    size_t el = clg_elem_size(h.type);
    uint64_t have = len - prefix - hlen, bytes;
    bool fits = clg_shape_bytes(h.ndim, h.shape, el, (uint64_t)INT64_MAX, &bytes);
    if (!fits || bytes != have) {
        char sh[200], need[48], msg[400];
        clg_array_shape_string(h.ndim, h.shape, sh, sizeof sh);
        if (fits) snprintf(need, sizeof need, "%llu bytes", (unsigned long long)bytes);
        else snprintf(need, sizeof need, "more than 2^63 bytes");
        snprintf(msg, sizeof msg, "header says %s %s (%s) but %llu bytes of data follow (%s)", clg_elem_name(h.type),
                 sh, need, (unsigned long long)have, fits && bytes < have ? "trailing data" : "truncated");
        return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, msg, NULL);
    }
    const unsigned char *data = buf + prefix + hlen;
    if (h.type == CLG_ELEM_BOOL)
        for (uint64_t i = 0; i < bytes; i++)
            if (data[i] > 1) {
                snprintf(m, sizeof m, "bool element %llu is %u (must be 0 or 1)", (unsigned long long)i, data[i]);
                return npy_fail(c, CLG_ERR_INVALID_ARGUMENT, m, NULL);
            }
    clg_array *a;
    s = clg_array_new(h.type, h.ndim, h.shape, &a, c->err, c->errlen);
    if (s != CLG_OK) return s;
    if (bytes) memcpy(a->data, data, (size_t)bytes);
    if (el > 1 && h.big_endian == clg_host_is_little_endian()) clg_swap_elements(a->data, (size_t)a->numel, el);
    *out = a;
    return CLG_OK;
}

clg_status clg_npy_read_mem(const void *buf, size_t len, clg_array **out, char *err, size_t errlen)
{
    npy_ctx c = {.func = "clg_npy_read_mem", .name = "memory", .err = err, .errlen = errlen};
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", c.func);
    *out = NULL;
    if (!buf && len) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: buffer is NULL", c.func);
    return npy_parse(&c, buf, len, out);
}

clg_status clg_npy_read(const char *path, clg_array **out, char *err, size_t errlen)
{
    npy_ctx c = {.func = "clg_npy_read", .name = path, .err = err, .errlen = errlen};
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", c.func);
    *out = NULL;
    unsigned char *buf;
    size_t len;
    clg_status s = clg_file_read_all(path, SIZE_MAX, &buf, &len, c.func, err, errlen);
    if (s != CLG_OK) return s;
    s = npy_parse(&c, buf, len, out);
    free(buf);
    return s;
}

/* ---- writing ---- */

static const char *npy_descr(clg_elem e)
{
    switch (e) {
    case CLG_ELEM_BOOL: return "|b1";
    case CLG_ELEM_U8: return "|u1";
    case CLG_ELEM_I8: return "|i1";
    case CLG_ELEM_U16: return "<u2";
    case CLG_ELEM_I16: return "<i2";
    case CLG_ELEM_U32: return "<u4";
    case CLG_ELEM_I32: return "<i4";
    case CLG_ELEM_U64: return "<u8";
    case CLG_ELEM_I64: return "<i8";
    case CLG_ELEM_F16: return "<f2";
    case CLG_ELEM_F32: return "<f4";
    case CLG_ELEM_F64: return "<f8";
    case CLG_ELEM_BF16: break;
    }
    return NULL;
}

/* The prefix and header numpy itself writes: keys sorted, room for the
 * first dimension to grow, padded with spaces so that the data starts at a
 * multiple of 64 bytes. */
static clg_status npy_header_bytes(const clg_array *a, unsigned char *buf, size_t size, size_t *len, const char *func,
                                   char *err, size_t errlen)
{
    const char *descr = npy_descr(a->type);
    if (!descr)
        return clg_data_fail(err, errlen, CLG_ERR_UNSUPPORTED, "%s: numpy has no %s type", func,
                             clg_elem_name(a->type));
    char dict[512], shape[256];
    size_t n = (size_t)snprintf(shape, sizeof shape, "(");
    for (int d = 0; d < a->ndim; d++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, d ? ", %lld" : "%lld", (long long)a->shape[d]);
    snprintf(shape + n, sizeof shape - n, a->ndim == 1 ? ",)" : ")");
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    if (a->ndim > 0) {
        char first[32];
        int fl = snprintf(first, sizeof first, "%lld", (long long)a->shape[0]);
        for (int k = fl; k < NPY_GROWTH_DIGITS; k++) dict[dl++] = ' ';
        dict[dl] = '\0';
    }
    size_t hlen = (size_t)dl + 1;
    size_t prefix = hlen + 10 > 65535 ? 12 : 10;
    size_t pad = (64 - (prefix + hlen) % 64) % 64;
    size_t total = prefix + hlen + pad;
    if (total > size) return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: header too long", func);
    memcpy(buf, NPY_MAGIC, 6);
    buf[6] = prefix == 10 ? 1 : 2;
    buf[7] = 0;
    size_t body = total - prefix;
    for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (unsigned char)(body >> (8 * i));
    memcpy(buf + prefix, dict, (size_t)dl);
    memset(buf + prefix + dl, ' ', pad);
    buf[total - 1] = '\n';
    *len = total;
    return CLG_OK;
}

static clg_status npy_pieces(const clg_array *a, unsigned char *hdr, size_t hsize, clg_piece pieces[2], const char *func,
                             char *err, size_t errlen)
{
    clg_status s = clg_array_check(a, func, err, errlen);
    if (s != CLG_OK) return s;
    size_t hlen;
    s = npy_header_bytes(a, hdr, hsize, &hlen, func, err, errlen);
    if (s != CLG_OK) return s;
    pieces[0] = (clg_piece){hdr, hlen, 1};
    pieces[1] = (clg_piece){a->data, clg_array_bytes(a), clg_elem_size(a->type)};
    return CLG_OK;
}

clg_status clg_npy_write_mem(const clg_array *a, unsigned char **out, size_t *len, char *err, size_t errlen)
{
    unsigned char hdr[1024];
    clg_piece pieces[2];
    clg_status s = npy_pieces(a, hdr, sizeof hdr, pieces, "clg_npy_write_mem", err, errlen);
    return s != CLG_OK ? s : clg_pieces_to_mem(pieces, 2, out, len, err, errlen);
}

clg_status clg_npy_write(const char *path, const clg_array *a, char *err, size_t errlen)
{
    unsigned char hdr[1024];
    clg_piece pieces[2];
    clg_status s = npy_pieces(a, hdr, sizeof hdr, pieces, "clg_npy_write", err, errlen);
    return s != CLG_OK ? s : clg_write_atomic(path, pieces, 2, "clg_npy_write", err, errlen);
}
