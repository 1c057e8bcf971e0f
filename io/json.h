/*
 * A small strict JSON parser (RFC 8259) for file headers: UTF-8 input,
 * objects, arrays, strings with every escape, numbers, true/false/null,
 * with limits on nesting depth and value count. Strings are decoded into an
 * arena, NUL-terminated (a \u0000 escape is refused). Duplicate object keys
 * are left for the caller to refuse (it sorts them anyway).
 */
#ifndef CLG_JSON_H
#define CLG_JSON_H

#include "clgrad.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum clg_json_type {
    CLG_JSON_NULL,
    CLG_JSON_FALSE,
    CLG_JSON_TRUE,
    CLG_JSON_NUMBER,
    CLG_JSON_STRING,
    CLG_JSON_ARRAY,
    CLG_JSON_OBJECT
} clg_json_type;

typedef struct clg_json_value {
    clg_json_type type;
    int32_t first, next; /* first child, next sibling (value indices; -1: none) */
    int32_t count;       /* children of an array or object */
    size_t str, len;     /* STRING: decoded text; NUMBER: its literal (arena offsets) */
    size_t key, key_len; /* an object member's key (arena offset) */
    bool is_uint;        /* NUMBER: digits only, no sign, fraction or exponent, < 2^64 */
    uint64_t u;
} clg_json_value;

typedef struct clg_json {
    clg_json_value *v; /* v[0] is the root */
    int32_t n, cap;    /* values used and allocated */
    char *arena;
    size_t arena_len, arena_cap;
} clg_json;

typedef struct clg_json_limits {
    int max_depth;      /* arrays and objects nested at most this deep */
    int32_t max_values; /* values in the whole document */
} clg_json_limits;

clg_status clg_json_parse(const char *text, size_t len, const clg_json_limits *limits, clg_json *out, char *err,
                          size_t errlen);
void clg_json_free(clg_json *j);

static inline const char *clg_json_str(const clg_json *j, const clg_json_value *v)
{
    return j->arena + v->str;
}
static inline const char *clg_json_key(const clg_json *j, const clg_json_value *v)
{
    return j->arena + v->key;
}
const char *clg_json_type_name(clg_json_type t);

#endif
