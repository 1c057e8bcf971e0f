/* Host arrays: element types, allocation, conversion; helpers of the data files. */
#include "data.h"
#include "../core/half.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

clg_status clg_data_fail(char *err, size_t errlen, clg_status s, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

bool clg_host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void clg_swap_elements(void *data, size_t count, size_t elsize)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += elsize)
        for (size_t a = 0, b = elsize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

bool clg_mul_limit(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out)
{
    if (a != 0 && b > limit / a) return false;
    *out = a * b;
    return *out <= limit;
}

bool clg_shape_bytes(int ndim, const int64_t *shape, size_t elsize, uint64_t limit, uint64_t *bytes)
{
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) {
            *bytes = 0;
            return true;
        }
    uint64_t b = elsize;
    for (int d = 0; d < ndim; d++)
        if (!clg_mul_limit(b, (uint64_t)shape[d], limit, &b)) return false;
    *bytes = b;
    return true;
}

size_t clg_elem_size(clg_elem e)
{
    switch (e) {
    case CLG_ELEM_U8: case CLG_ELEM_I8: case CLG_ELEM_BOOL: return 1;
    case CLG_ELEM_U16: case CLG_ELEM_I16: case CLG_ELEM_F16: case CLG_ELEM_BF16: return 2;
    case CLG_ELEM_U32: case CLG_ELEM_I32: case CLG_ELEM_F32: return 4;
    case CLG_ELEM_U64: case CLG_ELEM_I64: case CLG_ELEM_F64: return 8;
    }
    return 0;
}

const char *clg_elem_name(clg_elem e)
{
    switch (e) {
    case CLG_ELEM_U8: return "u8";
    case CLG_ELEM_I8: return "i8";
    case CLG_ELEM_U16: return "u16";
    case CLG_ELEM_I16: return "i16";
    case CLG_ELEM_U32: return "u32";
    case CLG_ELEM_I32: return "i32";
    case CLG_ELEM_U64: return "u64";
    case CLG_ELEM_I64: return "i64";
    case CLG_ELEM_F16: return "f16";
    case CLG_ELEM_BF16: return "bf16";
    case CLG_ELEM_F32: return "f32";
    case CLG_ELEM_F64: return "f64";
    case CLG_ELEM_BOOL: return "bool";
    }
    return "?";
}

void clg_array_shape_string(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    if (!size) return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

size_t clg_array_bytes(const clg_array *a)
{
    return (size_t)a->numel * clg_elem_size(a->type);
}

/* Largest array a caller may describe: its byte count must fit a size_t
 * and an int64_t. */
static uint64_t max_bytes(void)
{
    return SIZE_MAX < INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX;
}

static clg_status shape_numel(clg_elem type, int ndim, const int64_t *shape, int64_t *numel, const char *func,
                              char *err, size_t errlen)
{
    if (clg_elem_size(type) == 0)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: element type %d is not a clg_elem", func,
                             (int)type);
    if (ndim < 0 || ndim > CLG_ARRAY_MAX_DIMS || (ndim > 0 && !shape))
        return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: ndim %d (must be 0 to %d, with a shape)", func, ndim,
                             CLG_ARRAY_MAX_DIMS);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: dimension %d is %lld", func, d,
                                 (long long)shape[d]);
    uint64_t bytes;
    if (!clg_shape_bytes(ndim, shape, clg_elem_size(type), max_bytes(), &bytes)) {
        char sh[256];
        clg_array_shape_string(ndim, shape, sh, sizeof sh);
        return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: shape %s of %s is too large", func, sh,
                             clg_elem_name(type));
    }
    *numel = (int64_t)(bytes / clg_elem_size(type));
    return CLG_OK;
}

clg_status clg_array_check(const clg_array *a, const char *func, char *err, size_t errlen)
{
    if (!a) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: array is NULL", func);
    int64_t numel;
    clg_status s = shape_numel(a->type, a->ndim, a->shape, &numel, func, err, errlen);
    if (s != CLG_OK) return s;
    if (numel != a->numel) {
        char sh[256];
        clg_array_shape_string(a->ndim, a->shape, sh, sizeof sh);
        return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: numel is %lld but shape %s has %lld elements", func,
                             (long long)a->numel, sh, (long long)numel);
    }
    if (numel > 0 && !a->data)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: array data is NULL", func);
    return CLG_OK;
}

/* One block: the header, then the data at a 64-byte boundary. */
#define DATA_OFFSET ((sizeof(clg_array) + 63) / 64 * 64)

clg_status clg_array_new(clg_elem type, int ndim, const int64_t *shape, clg_array **out, char *err, size_t errlen)
{
    *out = NULL;
    int64_t numel;
    clg_status s = shape_numel(type, ndim, shape, &numel, "clg_array", err, errlen);
    if (s != CLG_OK) return s;
    size_t bytes = (size_t)numel * clg_elem_size(type);
    if (bytes > SIZE_MAX - DATA_OFFSET - 64)
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "array of %zu bytes is too large", bytes);
    unsigned char *block = malloc(DATA_OFFSET + bytes + 64);
    if (!block)
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "out of host memory for an array of %zu bytes",
                             bytes);
    clg_array *a = (clg_array *)block;
    memset(a, 0, sizeof *a);
    a->type = type;
    a->ndim = ndim;
    if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    a->numel = numel;
    /* malloc aligns to 16 at least; round the data up to 64 for vector loads. */
    uintptr_t p = (uintptr_t)(block + DATA_OFFSET);
    a->data = block + DATA_OFFSET + (size_t)((64 - p % 64) % 64);
    *out = a;
    return CLG_OK;
}

clg_status clg_array_create(clg_elem type, int ndim, const int64_t *shape, clg_array **out, char *err, size_t errlen)
{
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "clg_array_create: out is NULL");
    clg_status s = clg_array_new(type, ndim, shape, out, err, errlen);
    if (s == CLG_OK) memset((*out)->data, 0, clg_array_bytes(*out));
    return s;
}

void clg_array_destroy(clg_array *a)
{
    free(a);
}

/* ---- conversion ---- */

/* One element, widened: a float, or an integer (u64 values above INT64_MAX
 * kept apart, since no integer target can hold them). */
typedef struct num {
    bool is_float;
    bool huge;
    double f;
    int64_t i;
    uint64_t u;
} num;

static num load_num(const unsigned char *p, clg_elem t)
{
    num v = {0};
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64;
    } x;
    memcpy(&x, p, clg_elem_size(t));
    switch (t) {
    case CLG_ELEM_U8: v.i = x.u8; break;
    case CLG_ELEM_BOOL: v.i = x.u8 != 0; break;
    case CLG_ELEM_I8: v.i = x.i8; break;
    case CLG_ELEM_U16: v.i = x.u16; break;
    case CLG_ELEM_I16: v.i = x.i16; break;
    case CLG_ELEM_U32: v.i = x.u32; break;
    case CLG_ELEM_I32: v.i = x.i32; break;
    case CLG_ELEM_I64: v.i = x.i64; break;
    case CLG_ELEM_U64:
        v.u = x.u64;
        v.huge = x.u64 > (uint64_t)INT64_MAX;
        v.i = v.huge ? 0 : (int64_t)x.u64;
        break;
    case CLG_ELEM_F16: v.is_float = true; v.f = clg_f16_to_float(x.u16); break;
    case CLG_ELEM_BF16: v.is_float = true; v.f = clg_bf16_to_float(x.u16); break;
    case CLG_ELEM_F32: v.is_float = true; v.f = x.f32; break;
    case CLG_ELEM_F64: v.is_float = true; v.f = x.f64; break;
    }
    return v;
}

static double num_as_double(num v)
{
    return v.is_float ? v.f : v.huge ? (double)v.u : (double)v.i;
}

/* The value as an integer in [lo, hi], if it is exactly one. */
static bool num_as_int(num v, int64_t lo, int64_t hi, int64_t *out)
{
    if (v.huge) return false;
    if (v.is_float) {
        /* 2^63 as a double; the comparisons also reject NaN. */
        if (!(v.f >= -9223372036854775808.0 && v.f < 9223372036854775808.0)) return false;
        int64_t i = (int64_t)v.f;
        if ((double)i != v.f) return false;
        v.i = i;
    }
    if (v.i < lo || v.i > hi) return false;
    *out = v.i;
    return true;
}

static bool store_num(unsigned char *p, clg_elem to, num v)
{
    int64_t i;
    switch (to) {
    case CLG_ELEM_F32: { float f = (float)num_as_double(v); memcpy(p, &f, 4); return true; }
    case CLG_ELEM_F64: { double f = num_as_double(v); memcpy(p, &f, 8); return true; }
    case CLG_ELEM_U8: if (!num_as_int(v, 0, UINT8_MAX, &i)) return false; *p = (uint8_t)i; return true;
    case CLG_ELEM_I32: {
        if (!num_as_int(v, INT32_MIN, INT32_MAX, &i)) return false;
        int32_t x = (int32_t)i;
        memcpy(p, &x, 4);
        return true;
    }
    case CLG_ELEM_I64: if (!num_as_int(v, INT64_MIN, INT64_MAX, &i)) return false; memcpy(p, &i, 8); return true;
    default: return false;
    }
}

clg_status clg_array_convert(const clg_array *a, clg_elem to, clg_array **out, char *err, size_t errlen)
{
    const char *func = "clg_array_convert";
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: out is NULL", func);
    *out = NULL;
    clg_status s = clg_array_check(a, func, err, errlen);
    if (s != CLG_OK) return s;
    if (to != CLG_ELEM_U8 && to != CLG_ELEM_I32 && to != CLG_ELEM_I64 && to != CLG_ELEM_F32 && to != CLG_ELEM_F64)
        return clg_data_fail(err, errlen, CLG_ERR_UNSUPPORTED, "%s: cannot convert to %s (only u8, i32, i64, f32, f64)",
                             func, clg_elem_name(to));
    clg_array *r;
    s = clg_array_new(to, a->ndim, a->shape, &r, err, errlen);
    if (s != CLG_OK) return s;
    size_t in = clg_elem_size(a->type), on = clg_elem_size(to);
    const unsigned char *src = a->data;
    unsigned char *dst = r->data;
    if (a->type == CLG_ELEM_U8 && to == CLG_ELEM_F32) { /* images: the common case, kept fast */
        float *f = r->data;
        for (int64_t k = 0; k < a->numel; k++) f[k] = src[k];
        *out = r;
        return CLG_OK;
    }
    for (int64_t k = 0; k < a->numel; k++) {
        num v = load_num(src + (size_t)k * in, a->type);
        if (!store_num(dst + (size_t)k * on, to, v)) {
            clg_array_destroy(r);
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                 "%s: element %lld (%.17g) of a %s array is not a %s value", func, (long long)k,
                                 num_as_double(v), clg_elem_name(a->type), clg_elem_name(to));
        }
    }
    *out = r;
    return CLG_OK;
}

bool clg_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (len - i <= n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}
