/*
 * safetensors: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * then the data: each tensor little-endian, C order, at [begin, end) of the
 * bytes after the header. As in the reference implementation, the tensors
 * must cover the data exactly, end to end, with no gap and no overlap.
 */
#include "data.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* The format's own bound on the header (the reference implementation's). */
#define ST_MAX_HEADER 100000000u
#define ST_MAX_DEPTH 16
#define ST_MAX_VALUES (1 << 22)

typedef struct st_tensor {
    char *name;
    clg_array arr;
    void *copy; /* the data, moved here when misaligned in the file */
    uint64_t begin, end;
} st_tensor;

struct clg_safetensors {
    int n;
    st_tensor *t; /* sorted by name */
    clg_meta *meta;
    unsigned char *buf; /* the whole input; tensor data points into it */
};

static const struct {
    const char *name;
    clg_elem e;
} dtypes[] = {
    {"BOOL", CLG_ELEM_BOOL}, {"U8", CLG_ELEM_U8},   {"I8", CLG_ELEM_I8},   {"U16", CLG_ELEM_U16},
    {"I16", CLG_ELEM_I16},   {"U32", CLG_ELEM_U32}, {"I32", CLG_ELEM_I32}, {"U64", CLG_ELEM_U64},
    {"I64", CLG_ELEM_I64},   {"F16", CLG_ELEM_F16}, {"BF16", CLG_ELEM_BF16}, {"F32", CLG_ELEM_F32},
    {"F64", CLG_ELEM_F64},
};

const char *clg_safetensors_dtype_name(clg_elem e)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].e == e) return dtypes[i].name;
    return NULL;
}

static bool dtype_of(const char *name, clg_elem *e)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) {
            *e = dtypes[i].e;
            return true;
        }
    return false;
}

void clg_safetensors_destroy(clg_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->n; i++) {
        free(st->t[i].name);
        free(st->t[i].copy);
    }
    free(st->t);
    clg_meta_destroy(st->meta);
    free(st->buf);
    free(st);
}

int clg_safetensors_count(const clg_safetensors *st)
{
    return st ? st->n : 0;
}

const char *clg_safetensors_name(const clg_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n ? st->t[i].name : NULL;
}

const clg_array *clg_safetensors_get(const clg_safetensors *st, int i)
{
    return st && i >= 0 && i < st->n ? &st->t[i].arr : NULL;
}

const clg_array *clg_safetensors_find(const clg_safetensors *st, const char *name)
{
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return &st->t[mid].arr;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const clg_meta *clg_safetensors_meta(const clg_safetensors *st)
{
    return st ? st->meta : NULL;
}

/* ---- reading ---- */

typedef struct st_reader {
    const char *func, *name;
    char *err;
    size_t errlen;
    clg_json json;
    clg_safetensors *st;
} st_reader;

static clg_status rfail(st_reader *r, clg_status s, const char *fmt, const char *a, const char *b)
{
    char m[512];
    snprintf(m, sizeof m, fmt, a ? a : "", b ? b : "");
    return clg_data_fail(r->err, r->errlen, s, "%s: %s: %s", r->func, r->name, m);
}

static clg_status parse_metadata(st_reader *r, const clg_json_value *obj)
{
    const clg_json *j = &r->json;
    if (obj->type != CLG_JSON_OBJECT)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "__metadata__ is %s, not an object of strings",
                     clg_json_type_name(obj->type), NULL);
    for (int32_t c = obj->first; c >= 0; c = j->v[c].next) {
        const clg_json_value *v = &j->v[c];
        if (v->type != CLG_JSON_STRING)
            return rfail(r, CLG_ERR_INVALID_ARGUMENT, "__metadata__ value of '%.100s' is %s, not a string",
                         clg_json_key(j, v), clg_json_type_name(v->type));
        if (v->key_len == 0) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "__metadata__ has an empty key", NULL, NULL);
        if (clg_meta_append(r->st->meta, clg_json_key(j, v), clg_json_str(j, v)) != CLG_OK)
            return rfail(r, CLG_ERR_OUT_OF_MEMORY, "out of host memory", NULL, NULL);
    }
    const char *dup;
    if (!clg_meta_sort_unique(r->st->meta, &dup))
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "__metadata__ key '%.100s' appears twice", dup, NULL);
    return CLG_OK;
}

static bool json_uint(const clg_json_value *v, uint64_t *out)
{
    if (v->type != CLG_JSON_NUMBER || !v->is_uint) return false;
    *out = v->u;
    return true;
}

static clg_status parse_tensor(st_reader *r, const clg_json_value *obj, st_tensor *t, size_t data_len)
{
    const clg_json *j = &r->json;
    const char *name = clg_json_key(j, obj);
    if (obj->type != CLG_JSON_OBJECT)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s' is %s, not an object", name, clg_json_type_name(obj->type));
    const clg_json_value *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (int32_t c = obj->first; c >= 0; c = j->v[c].next) {
        const clg_json_value *v = &j->v[c];
        const char *k = clg_json_key(j, v);
        const clg_json_value **slot = strcmp(k, "dtype") == 0          ? &dtype
                                      : strcmp(k, "shape") == 0        ? &shape
                                      : strcmp(k, "data_offsets") == 0 ? &offsets
                                                                       : NULL;
        if (!slot) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s' has an unknown field '%.60s'", name, k);
        if (*slot) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s' has field '%.60s' twice", name, k);
        *slot = v;
    }
    if (!dtype || !shape || !offsets)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s' lacks field '%s'", name,
                     !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (dtype->type != CLG_JSON_STRING)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': dtype is %s, not a string", name,
                     clg_json_type_name(dtype->type));
    if (!dtype_of(clg_json_str(j, dtype), &t->arr.type))
        return rfail(r, CLG_ERR_UNSUPPORTED,
                     "tensor '%.100s': unsupported dtype '%.40s' (known: BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64)",
                     name, clg_json_str(j, dtype));
    if (shape->type != CLG_JSON_ARRAY)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': shape is %s, not an array", name,
                     clg_json_type_name(shape->type));
    if (shape->count > CLG_ARRAY_MAX_DIMS)
        return rfail(r, CLG_ERR_UNSUPPORTED, "tensor '%.100s': more dimensions than CLG_ARRAY_MAX_DIMS", name, NULL);
    size_t el = clg_elem_size(t->arr.type);
    t->arr.ndim = 0;
    for (int32_t c = shape->first; c >= 0; c = j->v[c].next) {
        uint64_t d;
        if (!json_uint(&j->v[c], &d) || d > (uint64_t)INT64_MAX)
            return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': shape holds something other than integers >= 0",
                         name, NULL);
        t->arr.shape[t->arr.ndim++] = (int64_t)d;
    }
    uint64_t bytes;
    bool fits = clg_shape_bytes(t->arr.ndim, t->arr.shape, el, (uint64_t)INT64_MAX, &bytes);
    if (offsets->type != CLG_JSON_ARRAY || offsets->count != 2 || !json_uint(&j->v[offsets->first], &t->begin) ||
        !json_uint(&j->v[j->v[offsets->first].next], &t->end))
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': data_offsets is not [begin, end] in integers >= 0",
                     name, NULL);
    char m[400];
    if (t->begin > t->end || t->end > data_len) {
        snprintf(m, sizeof m, "data_offsets [%llu, %llu] outside the %zu bytes of data", (unsigned long long)t->begin,
                 (unsigned long long)t->end, data_len);
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': %s", name, m);
    }
    if (!fits || bytes != t->end - t->begin) {
        char sh[200];
        clg_array_shape_string(t->arr.ndim, t->arr.shape, sh, sizeof sh);
        char need[48];
        if (fits) snprintf(need, sizeof need, "%llu bytes", (unsigned long long)bytes);
        else snprintf(need, sizeof need, "more than 2^63 bytes");
        snprintf(m, sizeof m, "%.8s %.200s needs %s, data_offsets give %llu", clg_json_str(j, dtype), sh, need,
                 (unsigned long long)(t->end - t->begin));
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': %s", name, m);
    }
    uint64_t numel = 1;
    for (int d = 0; d < t->arr.ndim; d++) numel *= (uint64_t)t->arr.shape[d]; /* wraps only before a 0 */
    t->arr.numel = (int64_t)numel;
    return CLG_OK;
}

static int by_offset(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static clg_status check_layout(st_reader *r, size_t data_len)
{
    clg_safetensors *st = r->st;
    qsort(st->t, (size_t)st->n, sizeof *st->t, by_offset);
    uint64_t at = 0;
    char m[300];
    for (int i = 0; i < st->n; i++) {
        const st_tensor *t = &st->t[i];
        if (t->begin < at) {
            snprintf(m, sizeof m, "bytes [%llu, %llu) of tensor '%.100s' overlap tensor '%.100s'",
                     (unsigned long long)t->begin, (unsigned long long)t->end, t->name, st->t[i - 1].name);
            return rfail(r, CLG_ERR_INVALID_ARGUMENT, "%s", m, NULL);
        }
        if (t->begin > at) {
            snprintf(m, sizeof m, "bytes [%llu, %llu) of the data belong to no tensor", (unsigned long long)at,
                     (unsigned long long)t->begin);
            return rfail(r, CLG_ERR_INVALID_ARGUMENT, "%s", m, NULL);
        }
        at = t->end;
    }
    if (at != data_len) {
        snprintf(m, sizeof m, "the tensors cover %llu of the %zu bytes of data", (unsigned long long)at, data_len);
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "%s", m, NULL);
    }
    qsort(st->t, (size_t)st->n, sizeof *st->t, by_name);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0)
            return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s' appears twice", st->t[i].name, NULL);
    return CLG_OK;
}

/* Points each tensor at its data: in place when aligned, else a copy;
 * native byte order; bools must be 0 or 1. */
static clg_status place_data(st_reader *r, unsigned char *data)
{
    for (int i = 0; i < r->st->n; i++) {
        st_tensor *t = &r->st->t[i];
        size_t el = clg_elem_size(t->arr.type), bytes = (size_t)(t->end - t->begin);
        unsigned char *p = data + t->begin;
        if (bytes && (uintptr_t)p % el) {
            t->copy = malloc(bytes);
            if (!t->copy) return rfail(r, CLG_ERR_OUT_OF_MEMORY, "out of host memory", NULL, NULL);
            memcpy(t->copy, p, bytes);
            p = t->copy;
        }
        if (t->arr.type == CLG_ELEM_BOOL)
            for (size_t k = 0; k < bytes; k++)
                if (p[k] > 1) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "tensor '%.100s': a BOOL byte is not 0 or 1", t->name, NULL);
        if (el > 1 && !clg_host_is_little_endian()) clg_swap_elements(p, (size_t)t->arr.numel, el);
        t->arr.data = p;
    }
    return CLG_OK;
}

static clg_status parse_header(st_reader *r, size_t data_len)
{
    const clg_json *j = &r->json;
    const clg_json_value *root = &j->v[0];
    if (root->type != CLG_JSON_OBJECT)
        return rfail(r, CLG_ERR_INVALID_ARGUMENT, "the header is %s, not an object", clg_json_type_name(root->type), NULL);
    clg_safetensors *st = r->st;
    st->t = calloc((size_t)root->count + 1, sizeof *st->t);
    if (!st->t) return rfail(r, CLG_ERR_OUT_OF_MEMORY, "out of host memory", NULL, NULL);
    bool seen_meta = false;
    for (int32_t c = root->first; c >= 0; c = j->v[c].next) {
        const clg_json_value *v = &j->v[c];
        const char *key = clg_json_key(j, v);
        clg_status s;
        if (strcmp(key, "__metadata__") == 0) {
            if (seen_meta) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "__metadata__ appears twice", NULL, NULL);
            seen_meta = true;
            s = parse_metadata(r, v);
        } else {
            if (!*key) return rfail(r, CLG_ERR_INVALID_ARGUMENT, "a tensor has an empty name", NULL, NULL);
            st_tensor *t = &st->t[st->n];
            t->name = malloc(v->key_len + 1);
            if (!t->name) return rfail(r, CLG_ERR_OUT_OF_MEMORY, "out of host memory", NULL, NULL);
            memcpy(t->name, key, v->key_len + 1);
            st->n++;
            s = parse_tensor(r, v, t, data_len);
        }
        if (s != CLG_OK) return s;
    }
    return check_layout(r, data_len);
}

/* Takes buf (the whole input, malloc'd) in all cases. */
static clg_status st_parse(const char *func, const char *name, unsigned char *buf, size_t len, clg_safetensors **out,
                           char *err, size_t errlen)
{
    st_reader r = {.func = func, .name = name, .err = err, .errlen = errlen};
    char m[200];
    clg_status s;
    if (len < 8) {
        free(buf);
        snprintf(m, sizeof m, "%zu bytes, too short for the 8-byte header length", len);
        return rfail(&r, CLG_ERR_INVALID_ARGUMENT, "%s", m, NULL);
    }
    uint64_t hlen = clg_load_le64(buf);
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        free(buf);
        snprintf(m, sizeof m, "header length %llu is %s (the input has %zu bytes after the length)",
                 (unsigned long long)hlen, hlen > ST_MAX_HEADER ? "over the format's limit of 100000000" : "past the end",
                 len - 8);
        return rfail(&r, CLG_ERR_INVALID_ARGUMENT, "%s", m, NULL);
    }
    r.st = calloc(1, sizeof *r.st);
    if (!r.st || clg_meta_create(&r.st->meta) != CLG_OK) {
        free(r.st);
        free(buf);
        return rfail(&r, CLG_ERR_OUT_OF_MEMORY, "out of host memory", NULL, NULL);
    }
    r.st->buf = buf;
    const clg_json_limits limits = {ST_MAX_DEPTH, ST_MAX_VALUES};
    char jerr[200] = "";
    s = clg_json_parse((const char *)buf + 8, (size_t)hlen, &limits, &r.json, jerr, sizeof jerr);
    if (s != CLG_OK) {
        rfail(&r, s, "header: %s", jerr, NULL);
    } else {
        s = parse_header(&r, len - 8 - (size_t)hlen);
        if (s == CLG_OK) s = place_data(&r, buf + 8 + hlen);
    }
    clg_json_free(&r.json);
    if (s != CLG_OK) {
        clg_safetensors_destroy(r.st);
        return s;
    }
    *out = r.st;
    return CLG_OK;
}

clg_status clg_safetensors_read_mem(const void *buf, size_t len, clg_safetensors **out, char *err, size_t errlen)
{
    const char *func = "clg_safetensors_read_mem";
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", func);
    *out = NULL;
    if (!buf && len) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: buffer is NULL", func);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory for %zu bytes", func, len);
    if (len) memcpy(copy, buf, len);
    return st_parse(func, "memory", copy, len, out, err, errlen);
}

clg_status clg_safetensors_read(const char *path, clg_safetensors **out, char *err, size_t errlen)
{
    const char *func = "clg_safetensors_read";
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", func);
    *out = NULL;
    unsigned char *buf;
    size_t len;
    clg_status s = clg_file_read_all(path, SIZE_MAX, &buf, &len, func, err, errlen);
    return s != CLG_OK ? s : st_parse(func, path, buf, len, out, err, errlen);
}

/* ---- writing ---- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_json_string(sbuf *b, const char *s)
{
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    put(b, "\"", 1);
}

typedef struct wtensor {
    const char *name;
    const clg_array *a;
    uint64_t begin, end;
} wtensor;

static int w_by_name(const void *a, const void *b)
{
    return strcmp(((const wtensor *)a)->name, ((const wtensor *)b)->name);
}

/* The order of the reference implementation (its Dtype enum, last first),
 * so that files come out byte for byte as Python's safetensors writes them
 * (with at most one metadata key: it writes a hash map's order). It puts
 * larger elements first, which keeps every tensor aligned to its element
 * size, as the format allows no gaps. */
static int dtype_rank(clg_elem e)
{
    static const clg_elem order[] = {CLG_ELEM_BOOL, CLG_ELEM_U8, CLG_ELEM_I8,  CLG_ELEM_I16, CLG_ELEM_U16,
                                     CLG_ELEM_F16,  CLG_ELEM_BF16, CLG_ELEM_I32, CLG_ELEM_U32, CLG_ELEM_F32,
                                     CLG_ELEM_F64,  CLG_ELEM_I64, CLG_ELEM_U64};
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (order[i] == e) return i;
    return -1;
}

static int w_by_layout(const void *a, const void *b)
{
    const wtensor *x = a, *y = b;
    int rx = dtype_rank(x->a->type), ry = dtype_rank(y->a->type);
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

typedef struct st_out {
    wtensor *w;
    sbuf header;
    unsigned char len8[8];
    clg_piece *pieces;
    int npieces;
} st_out;

static void st_out_free(st_out *o)
{
    free(o->w);
    free(o->header.s);
    free(o->pieces);
}

static clg_status st_prepare(int n, const char *const *names, const clg_array *const *arrays, const clg_meta *meta,
                             st_out *o, const char *func, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (n < 0 || (n > 0 && (!names || !arrays)))
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: %d tensors with names %s and arrays %s", func,
                             n, names ? "given" : "NULL", arrays ? "given" : "NULL");
    o->w = calloc((size_t)n + 1, sizeof *o->w);
    o->pieces = calloc((size_t)n + 2, sizeof *o->pieces);
    if (!o->w || !o->pieces) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    for (int i = 0; i < n; i++) {
        const char *name = names[i];
        if (!name || !*name || !clg_utf8_valid(name, strlen(name)) || strcmp(name, "__metadata__") == 0)
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                 "%s: tensor %d: a name must be non-empty UTF-8 other than __metadata__", func, i);
        clg_status s = clg_array_check(arrays[i], func, err, errlen);
        if (s != CLG_OK) return s;
        o->w[i] = (wtensor){name, arrays[i], 0, 0};
    }
    qsort(o->w, (size_t)n, sizeof *o->w, w_by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(o->w[i - 1].name, o->w[i].name) == 0)
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: tensor name '%.100s' given twice", func,
                                 o->w[i].name);
    qsort(o->w, (size_t)n, sizeof *o->w, w_by_layout);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        o->w[i].begin = at;
        at += clg_array_bytes(o->w[i].a);
        o->w[i].end = at;
        o->pieces[2 + i] = (clg_piece){o->w[i].a->data, clg_array_bytes(o->w[i].a), clg_elem_size(o->w[i].a->type)};
    }

    sbuf *b = &o->header;
    puts_(b, "{");
    bool comma = false;
    if (clg_meta_count(meta) > 0) {
        puts_(b, "\"__metadata__\":{");
        for (int i = 0; i < clg_meta_count(meta); i++) {
            if (i) puts_(b, ",");
            put_json_string(b, clg_meta_key(meta, i));
            puts_(b, ":");
            put_json_string(b, clg_meta_value(meta, i));
        }
        puts_(b, "}");
        comma = true;
    }
    for (int i = 0; i < n; i++) {
        const clg_array *a = o->w[i].a;
        char tmp[64];
        if (comma) puts_(b, ",");
        comma = true;
        put_json_string(b, o->w[i].name);
        puts_(b, ":{\"dtype\":");
        put_json_string(b, clg_safetensors_dtype_name(a->type));
        puts_(b, ",\"shape\":[");
        for (int d = 0; d < a->ndim; d++) {
            snprintf(tmp, sizeof tmp, d ? ",%lld" : "%lld", (long long)a->shape[d]);
            puts_(b, tmp);
        }
        snprintf(tmp, sizeof tmp, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)o->w[i].begin,
                 (unsigned long long)o->w[i].end);
        puts_(b, tmp);
    }
    puts_(b, "}");
    while (b->len % 8 && !b->oom) puts_(b, " "); /* put appends nothing once out of memory */
    if (b->oom) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    if (b->len > ST_MAX_HEADER)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: header of %zu bytes is over the format's limit",
                             func, b->len);
    clg_store_le64(o->len8, b->len);
    o->pieces[0] = (clg_piece){o->len8, 8, 1};
    o->pieces[1] = (clg_piece){b->s, b->len, 1};
    o->npieces = n + 2;
    return CLG_OK;
}

clg_status clg_safetensors_write_mem(int n, const char *const *names, const clg_array *const *arrays,
                                     const clg_meta *meta, unsigned char **out, size_t *len, char *err, size_t errlen)
{
    st_out o;
    clg_status s = st_prepare(n, names, arrays, meta, &o, "clg_safetensors_write_mem", err, errlen);
    if (s == CLG_OK) s = clg_pieces_to_mem(o.pieces, o.npieces, out, len, err, errlen);
    st_out_free(&o);
    return s;
}

clg_status clg_safetensors_write(const char *path, int n, const char *const *names, const clg_array *const *arrays,
                                 const clg_meta *meta, char *err, size_t errlen)
{
    const char *func = "clg_safetensors_write";
    st_out o;
    clg_status s = st_prepare(n, names, arrays, meta, &o, func, err, errlen);
    if (s == CLG_OK) s = clg_write_atomic(path, o.pieces, o.npieces, func, err, errlen);
    st_out_free(&o);
    return s;
}
