/* String maps for metadata: sorted keys, binary search. */
#include "data.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

struct clg_meta {
    int n, cap;
    char **keys, **values;
};

clg_status clg_meta_create(clg_meta **out)
{
    if (!out) return CLG_ERR_INVALID_ARGUMENT;
    *out = calloc(1, sizeof **out);
    return *out ? CLG_OK : CLG_ERR_OUT_OF_MEMORY;
}

void clg_meta_destroy(clg_meta *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    free(m);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool grow(clg_meta *m)
{
    if (m->n < m->cap) return true;
    if (m->cap > INT32_MAX / 2) return false;
    int cap = m->cap ? m->cap * 2 : 8;
    char **k = realloc(m->keys, (size_t)cap * sizeof *k);
    if (!k) return false;
    m->keys = k;
    char **v = realloc(m->values, (size_t)cap * sizeof *v);
    if (!v) return false;
    m->values = v;
    m->cap = cap;
    return true;
}

/* Index of key, or -(insertion point) - 1. */
static int find(const clg_meta *m, const char *key)
{
    int lo = 0, hi = m->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(m->keys[mid], key);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

clg_status clg_meta_set(clg_meta *m, const char *key, const char *value)
{
    if (!m || !key || !*key || !value || !clg_utf8_valid(key, strlen(key)) || !clg_utf8_valid(value, strlen(value)))
        return CLG_ERR_INVALID_ARGUMENT;
    char *v = dup_str(value);
    if (!v) return CLG_ERR_OUT_OF_MEMORY;
    int i = find(m, key);
    if (i >= 0) {
        free(m->values[i]);
        m->values[i] = v;
        return CLG_OK;
    }
    char *k = dup_str(key);
    if (!k || !grow(m)) {
        free(k);
        free(v);
        return CLG_ERR_OUT_OF_MEMORY;
    }
    i = -i - 1;
    memmove(m->keys + i + 1, m->keys + i, (size_t)(m->n - i) * sizeof *m->keys);
    memmove(m->values + i + 1, m->values + i, (size_t)(m->n - i) * sizeof *m->values);
    m->keys[i] = k;
    m->values[i] = v;
    m->n++;
    return CLG_OK;
}

clg_status clg_meta_append(clg_meta *m, const char *key, const char *value)
{
    char *k = dup_str(key), *v = dup_str(value);
    if (!k || !v || !grow(m)) {
        free(k);
        free(v);
        return CLG_ERR_OUT_OF_MEMORY;
    }
    m->keys[m->n] = k;
    m->values[m->n] = v;
    m->n++;
    return CLG_OK;
}

typedef struct pair {
    char *k, *v;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const pair *)a)->k, ((const pair *)b)->k);
}

bool clg_meta_sort_unique(clg_meta *m, const char **dup)
{
    *dup = NULL;
    if (m->n < 2) return true;
    pair *p = malloc((size_t)m->n * sizeof *p);
    if (p) {
        for (int i = 0; i < m->n; i++) p[i] = (pair){m->keys[i], m->values[i]};
        qsort(p, (size_t)m->n, sizeof *p, pair_cmp);
        for (int i = 0; i < m->n; i++) {
            m->keys[i] = p[i].k;
            m->values[i] = p[i].v;
        }
        free(p);
    } else { /* no memory for the fast way: insertion sort in place */
        for (int i = 1; i < m->n; i++)
            for (int j = i; j > 0 && strcmp(m->keys[j - 1], m->keys[j]) > 0; j--) {
                char *t = m->keys[j]; m->keys[j] = m->keys[j - 1]; m->keys[j - 1] = t;
                t = m->values[j]; m->values[j] = m->values[j - 1]; m->values[j - 1] = t;
            }
    }
    for (int i = 1; i < m->n; i++)
        if (strcmp(m->keys[i - 1], m->keys[i]) == 0) {
            *dup = m->keys[i];
            return false;
        }
    return true;
}

const char *clg_meta_get(const clg_meta *m, const char *key)
{
    if (!m || !key) return NULL;
    int i = find(m, key);
    return i >= 0 ? m->values[i] : NULL;
}

int clg_meta_count(const clg_meta *m)
{
    return m ? m->n : 0;
}

const char *clg_meta_key(const clg_meta *m, int i)
{
    return m && i >= 0 && i < m->n ? m->keys[i] : NULL;
}

const char *clg_meta_value(const clg_meta *m, int i)
{
    return m && i >= 0 && i < m->n ? m->values[i] : NULL;
}

clg_status clg_meta_set_i64(clg_meta *m, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return clg_meta_set(m, key, buf);
}

clg_status clg_meta_set_u64(clg_meta *m, const char *key, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    return clg_meta_set(m, key, buf);
}

/* Files must read the same in every locale: '.' is the decimal point in
 * the text, whatever the process's locale says. */
static char locale_point(void)
{
    const struct lconv *lc = localeconv();
    return lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point[0] : '.';
}

clg_status clg_meta_set_f64(clg_meta *m, const char *key, double value)
{
    char buf[40], point = locale_point();
    snprintf(buf, sizeof buf, "%.17g", value);
    for (char *c = buf; *c; c++)
        if (*c == point) *c = '.';
    return clg_meta_set(m, key, buf);
}

static clg_status lookup(const clg_meta *m, const char *key, const char **text)
{
    if (!m || !key) return CLG_ERR_INVALID_ARGUMENT;
    *text = clg_meta_get(m, key);
    return *text ? CLG_OK : CLG_ERR_NOT_FOUND;
}

static bool parse_u64(const char *t, uint64_t *v)
{
    if (!*t) return false;
    uint64_t x = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9') return false;
        unsigned d = (unsigned)(*t - '0');
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

clg_status clg_meta_get_u64(const clg_meta *m, const char *key, uint64_t *value)
{
    const char *t;
    clg_status s = lookup(m, key, &t);
    if (s != CLG_OK) return s;
    if (!value) return CLG_ERR_INVALID_ARGUMENT;
    return parse_u64(t, value) ? CLG_OK : CLG_ERR_INVALID_ARGUMENT;
}

clg_status clg_meta_get_i64(const clg_meta *m, const char *key, int64_t *value)
{
    const char *t;
    clg_status s = lookup(m, key, &t);
    if (s != CLG_OK) return s;
    if (!value) return CLG_ERR_INVALID_ARGUMENT;
    bool neg = *t == '-';
    uint64_t u;
    if (!parse_u64(t + neg, &u)) return CLG_ERR_INVALID_ARGUMENT;
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX) return CLG_ERR_INVALID_ARGUMENT;
    *value = !neg ? (int64_t)u : u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    return CLG_OK;
}

clg_status clg_meta_get_f64(const clg_meta *m, const char *key, double *value)
{
    const char *t;
    clg_status s = lookup(m, key, &t);
    if (s != CLG_OK) return s;
    if (!value) return CLG_ERR_INVALID_ARGUMENT;
    char buf[64], point = locale_point();
    size_t n = strlen(t);
    if (n == 0 || n >= sizeof buf) return CLG_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i <= n; i++) {
        char c = t[i];
        if (c == ' ' || c == '\t' || c == '\n' || (c == point && c != '.')) return CLG_ERR_INVALID_ARGUMENT;
        buf[i] = c == '.' ? point : c;
    }
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || end == buf) return CLG_ERR_INVALID_ARGUMENT;
    *value = v;
    return CLG_OK;
}
