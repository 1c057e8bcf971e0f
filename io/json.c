/* Strict JSON: recursive descent with depth and count limits. */
#include "json.h"
#include "data.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    clg_json *j;
    const clg_json_limits *lim;
    char *err;
    size_t errlen;
    bool failed;
    clg_status status;
} parser;

const char *clg_json_type_name(clg_json_type t)
{
    switch (t) {
    case CLG_JSON_NULL: return "null";
    case CLG_JSON_FALSE: case CLG_JSON_TRUE: return "a boolean";
    case CLG_JSON_NUMBER: return "a number";
    case CLG_JSON_STRING: return "a string";
    case CLG_JSON_ARRAY: return "an array";
    case CLG_JSON_OBJECT: return "an object";
    }
    return "?";
}

static int32_t jfail(parser *p, clg_status s, const char *what)
{
    if (!p->failed) p->status = clg_data_fail(p->err, p->errlen, s, "JSON: %s at byte %zu", what, p->pos);
    p->failed = true;
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int32_t new_value(parser *p, clg_json_type type)
{
    clg_json *j = p->j;
    if (j->n >= p->lim->max_values) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "too many values");
    if (j->n == j->cap) {
        /* doubling: a fixed step copies the array quadratically often */
        int32_t cap = j->cap ? (j->cap > p->lim->max_values / 2 ? p->lim->max_values : 2 * j->cap) : 256;
        clg_json_value *v = realloc(j->v, (size_t)cap * sizeof *v);
        if (!v) return jfail(p, CLG_ERR_OUT_OF_MEMORY, "out of host memory");
        j->v = v;
        j->cap = cap;
    }
    clg_json_value *v = &j->v[j->n];
    memset(v, 0, sizeof *v);
    v->type = type;
    v->first = v->next = -1;
    return j->n++;
}

static bool arena_reserve(parser *p, size_t n)
{
    clg_json *j = p->j;
    if (j->arena_cap - j->arena_len >= n) return true;
    size_t cap = j->arena_cap ? j->arena_cap : 256;
    while (cap - j->arena_len < n) cap *= 2;
    char *a = realloc(j->arena, cap);
    if (!a) {
        jfail(p, CLG_ERR_OUT_OF_MEMORY, "out of host memory");
        return false;
    }
    j->arena = a;
    j->arena_cap = cap;
    return true;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static bool hex4(parser *p, uint32_t *v)
{
    if (p->len - p->pos < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        *v = *v << 4 | (uint32_t)d;
    }
    p->pos += 4;
    return true;
}

/* p->pos at the opening quote. The decoded text is never longer than the
 * source, so the arena is reserved once. */
static bool parse_string(parser *p, size_t *off, size_t *out_len)
{
    size_t start = ++p->pos;
    size_t end = start;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "unterminated string"), false;
    if (!arena_reserve(p, end - start + 1)) return false;
    char *out = p->j->arena + p->j->arena_len;
    size_t n = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "control character in a string"), false;
        if (c != '\\') {
            out[n++] = (char)c;
            p->pos++;
            continue;
        }
        char e = p->s[++p->pos];
        p->pos++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            out[n++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        uint32_t cp, lo;
        if (e != 'u' || !hex4(p, &cp)) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "bad escape in a string"), false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return jfail(p, CLG_ERR_INVALID_ARGUMENT, "lone low surrogate in a string"), false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                return jfail(p, CLG_ERR_INVALID_ARGUMENT, "lone high surrogate in a string"), false;
            p->pos += 2;
            if (!hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                return jfail(p, CLG_ERR_INVALID_ARGUMENT, "bad surrogate pair in a string"), false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "\\u0000 in a string"), false;
        put_utf8(out, &n, cp);
    }
    p->pos = end + 1;
    out[n] = '\0';
    *off = p->j->arena_len;
    *out_len = n;
    p->j->arena_len += n + 1;
    return true;
}

static bool is_digit(parser *p)
{
    return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

static int32_t parse_number(parser *p)
{
    size_t start = p->pos;
    bool plain = true;
    uint64_t u = 0;
    if (p->s[p->pos] == '-') {
        plain = false;
        p->pos++;
    }
    if (!is_digit(p)) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "bad number");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (is_digit(p)) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "number with a leading zero");
    } else {
        while (is_digit(p)) {
            unsigned d = (unsigned)(p->s[p->pos++] - '0');
            if (u > (UINT64_MAX - d) / 10) plain = false;
            else u = u * 10 + d;
        }
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        plain = false;
        p->pos++;
        if (!is_digit(p)) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "bad number fraction");
        while (is_digit(p)) p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        plain = false;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (!is_digit(p)) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "bad number exponent");
        while (is_digit(p)) p->pos++;
    }
    int32_t id = new_value(p, CLG_JSON_NUMBER);
    size_t n = p->pos - start;
    if (id < 0 || !arena_reserve(p, n + 1)) return -1;
    clg_json_value *v = &p->j->v[id];
    v->str = p->j->arena_len;
    v->len = n;
    memcpy(p->j->arena + v->str, p->s + start, n);
    p->j->arena[v->str + n] = '\0';
    p->j->arena_len += n + 1;
    v->is_uint = plain;
    v->u = plain ? u : 0;
    return id;
}

static bool literal(parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) return false;
    p->pos += n;
    return true;
}

static int32_t parse_value(parser *p, int depth);

/* Arrays and objects: children linked in order. */
static int32_t parse_container(parser *p, int depth, bool object)
{
    if (depth >= p->lim->max_depth) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "nested too deeply");
    int32_t id = new_value(p, object ? CLG_JSON_OBJECT : CLG_JSON_ARRAY);
    if (id < 0) return -1;
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return id;
    }
    int32_t last = -1;
    for (;;) {
        size_t key = 0, key_len = 0;
        if (object) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return jfail(p, CLG_ERR_INVALID_ARGUMENT, "object key expected");
            if (!parse_string(p, &key, &key_len)) return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return jfail(p, CLG_ERR_INVALID_ARGUMENT, "':' expected");
            p->pos++;
        }
        int32_t child = parse_value(p, depth + 1);
        if (child < 0) return -1;
        p->j->v[child].key = key;
        p->j->v[child].key_len = key_len;
        if (last < 0) p->j->v[id].first = child;
        else p->j->v[last].next = child;
        last = child;
        p->j->v[id].count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return id;
        }
        return jfail(p, CLG_ERR_INVALID_ARGUMENT, object ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int32_t parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len) return jfail(p, CLG_ERR_INVALID_ARGUMENT, "value expected");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') return parse_container(p, depth, c == '{');
    if (c == '"') {
        int32_t id = new_value(p, CLG_JSON_STRING);
        size_t off, len;
        if (id < 0 || !parse_string(p, &off, &len)) return -1;
        p->j->v[id].str = off;
        p->j->v[id].len = len;
        return id;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
    if (literal(p, "true")) return new_value(p, CLG_JSON_TRUE);
    if (literal(p, "false")) return new_value(p, CLG_JSON_FALSE);
    if (literal(p, "null")) return new_value(p, CLG_JSON_NULL);
    return jfail(p, CLG_ERR_INVALID_ARGUMENT, "value expected");
}

void clg_json_free(clg_json *j)
{
    if (!j) return;
    free(j->v);
    free(j->arena);
    memset(j, 0, sizeof *j);
}

clg_status clg_json_parse(const char *text, size_t len, const clg_json_limits *limits, clg_json *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    parser p = {.s = text, .len = len, .j = out, .lim = limits, .err = err, .errlen = errlen};
    if (!clg_utf8_valid(text, len)) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "JSON: not valid UTF-8");
    int32_t root = parse_value(&p, 0);
    if (root >= 0) {
        skip_ws(&p);
        if (p.pos != p.len) jfail(&p, CLG_ERR_INVALID_ARGUMENT, "text after the value");
    }
    if (p.failed) {
        clg_json_free(out);
        return p.status;
    }
    return CLG_OK;
}
