/* The GEMM tuning store (host/tune.h). */
#define _POSIX_C_SOURCE 200809L
#include "tune.h"

#include "cache_file.h"

#include <clblast_c.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "clgrad-tune 1"

const char *const clg_conv_path_names[CLG_CONV_PATHS] = {"im2col", "direct", "onednn", "winograd"};

/* The kernels whose parameters an entry may set: CLBlast's names for the
 * GEMM routine's kernels (an unknown name makes the entry unparseable, not
 * a call CLBlast refuses later). */
static const char *const kernel_names[] = {"Xgemm",     "XgemmDirect", "GemmRoutine",
                                           "Copy",      "Pad",         "Transpose",
                                           "Padtranspose"};

static bool known_kernel(const char *name)
{
    for (size_t i = 0; i < sizeof kernel_names / sizeof kernel_names[0]; i++)
        if (!strcmp(name, kernel_names[i])) return true;
    return false;
}

/* A growing string; NULL once allocation fails. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (!t->p && t->cap) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->p ? vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap) : -2;
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (n >= 0 && cap - t->len <= (size_t)n) cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            free(t->p);
            t->p = NULL;
            t->cap = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

char *clg_tune_format(const clg_tune *t, size_t *len)
{
    text o = {0};
    put(&o, "%s\n", HEADER);
    for (int i = 0; i < t->nkernels; i++) {
        const clg_tune_kernel *k = &t->kernels[i];
        put(&o, "kernel %s", k->name);
        for (int j = 0; j < k->count; j++) put(&o, " %s=%zu", k->names[j], k->values[j]);
        put(&o, "\n");
    }
    for (int i = 0; i < t->nshapes; i++) {
        const clg_tune_shape *s = &t->shapes[i];
        put(&o, "shape %c%c %lld %lld %lld %lld %s %.3f\n", s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', (long long)s->m,
            (long long)s->n, (long long)s->k, (long long)s->batch, s->native ? "native" : "clblast", s->speedup);
    }
    for (int i = 0; i < t->nconvs; i++) {
        const clg_tune_conv *c = &t->convs[i];
        put(&o, "conv");
        for (int j = 0; j < 13; j++) put(&o, " %lld", (long long)c->geom[j]);
        put(&o, " %s %.3f\n", clg_conv_path_names[c->path], c->speedup);
    }
    if (o.p) *len = o.len;
    return o.p;
}

/* A decimal count from 1 to max, the whole token. */
static bool count_of(const char *tok, long long max, long long *out)
{
    if (!tok || *tok < '0' || *tok > '9') return false;
    errno = 0;
    char *end;
    long long v = strtoll(tok, &end, 10);
    if (*end || errno || v < 1 || v > max) return false;
    *out = v;
    return true;
}

static bool parse_kernel(char *save, clg_tune *t)
{
    clg_tune_kernel k = {0};
    char *name = strtok_r(NULL, " ", &save);
    if (!name || strlen(name) >= sizeof k.name || !known_kernel(name)) return false;
    strcpy(k.name, name);
    for (char *tok; (tok = strtok_r(NULL, " ", &save));) {
        char *eq = strchr(tok, '=');
        long long v;
        if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof k.names[0] || k.count == CLG_TUNE_MAX_PARAMS) return false;
        *eq = '\0';
        for (const char *c = tok; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
        /* parameters are sizes, flags and thresholds: 0 is one */
        if (!strcmp(eq + 1, "0")) v = 0;
        else if (!count_of(eq + 1, 1 << 20, &v)) return false;
        strcpy(k.names[k.count], tok);
        k.values[k.count++] = (size_t)v;
    }
    return k.count > 0 && clg_tune_set_kernel(t, &k);
}

static bool parse_shape(char *save, clg_tune *t)
{
    clg_tune_shape s = {0};
    char *tr = strtok_r(NULL, " ", &save);
    if (!tr || strlen(tr) != 2 || !strchr("NT", tr[0]) || !strchr("NT", tr[1])) return false;
    s.ta = tr[0] == 'T';
    s.tb = tr[1] == 'T';
    long long v[4];
    for (int i = 0; i < 4; i++)
        if (!count_of(strtok_r(NULL, " ", &save), (long long)1 << 40, &v[i])) return false;
    s.m = v[0], s.n = v[1], s.k = v[2], s.batch = v[3];
    char *path = strtok_r(NULL, " ", &save), *speed = strtok_r(NULL, " ", &save);
    if (!path || !speed || strtok_r(NULL, " ", &save)) return false;
    if (!strcmp(path, "native")) s.native = true;
    else if (strcmp(path, "clblast")) return false;
    char *end;
    errno = 0;
    s.speedup = strtod(speed, &end);
    if (*end || errno || !(s.speedup > 0 && s.speedup < 1e6)) return false;
    return clg_tune_set_shape(t, &s);
}

static bool parse_conv(char *save, clg_tune *t)
{
    clg_tune_conv c;
    memset(&c, 0, sizeof c);
    long long v;
    for (int i = 0; i < 13; i++) {
        char *tok = strtok_r(NULL, " ", &save);
        /* padding may be 0; every other size is at least 1 */
        if (tok && (i == 9 || i == 10) && !strcmp(tok, "0")) v = 0;
        else if (!count_of(tok, (long long)1 << 40, &v)) return false;
        c.geom[i] = v;
    }
    char *path = strtok_r(NULL, " ", &save), *speed = strtok_r(NULL, " ", &save);
    if (!path || !speed || strtok_r(NULL, " ", &save)) return false;
    c.path = -1;
    for (int k = 0; k < CLG_CONV_PATHS; k++)
        if (!strcmp(path, clg_conv_path_names[k])) c.path = k;
    if (c.path < 0) return false;
    char *end;
    errno = 0;
    c.speedup = strtod(speed, &end);
    if (*end || errno || !(c.speedup > 0 && c.speedup < 1e6)) return false;
    return clg_tune_set_conv(t, &c);
}

bool clg_tune_parse(const char *data, size_t len, clg_tune *t)
{
    memset(t, 0, sizeof *t);
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, data, len);
    copy[len] = '\0';
    bool ok = strlen(copy) == len && len > 0 && copy[len - 1] == '\n';
    int line = 0;
    char *save_line;
    for (char *l = ok ? strtok_r(copy, "\n", &save_line) : NULL; ok && l; l = strtok_r(NULL, "\n", &save_line)) {
        if (line++ == 0) {
            ok = !strcmp(l, HEADER);
            continue;
        }
        char *save;
        char *what = strtok_r(l, " ", &save);
        if (what && !strcmp(what, "kernel")) ok = parse_kernel(save, t);
        else if (what && !strcmp(what, "shape")) ok = parse_shape(save, t);
        else if (what && !strcmp(what, "conv")) ok = parse_conv(save, t);
        else ok = false;
    }
    free(copy);
    if (!ok || line == 0) memset(t, 0, sizeof *t);
    return ok && line > 0;
}

/* Everything an entry is valid for, verbatim, each field NUL-terminated. */
static size_t tune_key(cl_device_id dev, char *key, size_t size)
{
    static const cl_device_info fields[] = {CL_DEVICE_NAME, CL_DEVICE_VENDOR, CL_DRIVER_VERSION, CL_DEVICE_VERSION};
    size_t len = 0;
    char buf[512];
    int n = snprintf(key, size, "clgrad tuning key 1");
    len = (size_t)n + 1;
    cl_platform_id plat = NULL;
    if (clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL) != CL_SUCCESS ||
        clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof buf - 1, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[sizeof buf - 1] = '\0';
    n = snprintf(key + len, size - len, "%s", buf);
    len += (size_t)n + 1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && len < size; i++) {
        if (clGetDeviceInfo(dev, fields[i], sizeof buf - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
        buf[sizeof buf - 1] = '\0';
        n = snprintf(key + len, size - len, "%s", buf);
        len += (size_t)n + 1;
    }
    if (len < size) {
        n = snprintf(key + len, size - len, "CLBlast %d.%d.%d", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
                     CLBLAST_VERSION_PATCH);
        len += (size_t)n + 1;
    }
    return len <= size ? len : 0;
}

static bool tune_dir(const clg_context *ctx, char *dir, size_t size)
{
    char base[1024];
    if (!clg_cl_cache_dir(ctx, base, sizeof base)) return false;
    int n = snprintf(dir, size, "%s/tune", base);
    return n > 0 && (size_t)n < size;
}

bool clg_tune_path(const clg_context *ctx, cl_device_id dev, char *path, size_t size)
{
    char dir[1100], key[4096];
    size_t klen = tune_key(dev, key, sizeof key);
    if (!klen || !tune_dir(ctx, dir, sizeof dir)) return false;
    uint64_t h = clg_fnv1a64(CLG_FNV_OFFSET, key, klen);
    int n = snprintf(path, size, "%s/%016llx.tune", dir, (unsigned long long)h);
    return n > 0 && (size_t)n < size;
}

clg_tune_state clg_tune_load(const clg_context *ctx, cl_device_id dev, clg_tune *t)
{
    memset(t, 0, sizeof *t);
    const char *env = clg_setting(ctx, CLG_SET_TUNING);
    char path[1200], key[4096];
    size_t klen = tune_key(dev, key, sizeof key);
    if ((env && !strcmp(env, "off")) || !klen || !clg_tune_path(ctx, dev, path, sizeof path)) return CLG_TUNE_OFF;
    unsigned char *payload = NULL;
    size_t len = 0;
    clg_entry_state st = clg_cache_entry_read(path, (const unsigned char *)key, klen, &payload, &len);
    if (st == CLG_ENTRY_ABSENT) return CLG_TUNE_ABSENT;
    bool ok = st == CLG_ENTRY_VALID && clg_tune_parse((const char *)payload, len, t);
    free(payload);
    return ok ? CLG_TUNE_LOADED : CLG_TUNE_DAMAGED;
}

bool clg_tune_save(const clg_context *ctx, cl_device_id dev, const clg_tune *t)
{
    char path[1200], dir[1100], key[4096];
    size_t klen = tune_key(dev, key, sizeof key), len = 0;
    if (!klen || !tune_dir(ctx, dir, sizeof dir) || !clg_tune_path(ctx, dev, path, sizeof path)) return false;
    char *payload = clg_tune_format(t, &len);
    if (!payload) return false;
    clg_cl_make_dirs(dir);
    bool ok = clg_cache_entry_write(path, (const unsigned char *)key, klen, (const unsigned char *)payload, len);
    free(payload);
    return ok;
}

const clg_tune_shape *clg_tune_find(const clg_tune *t, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                    int64_t batch)
{
    for (int i = 0; i < t->nshapes; i++) {
        const clg_tune_shape *s = &t->shapes[i];
        if (s->ta == ta && s->tb == tb && s->m == m && s->n == n && s->k == k && s->batch == batch) return s;
    }
    return NULL;
}

bool clg_tune_set_kernel(clg_tune *t, const clg_tune_kernel *k)
{
    for (int i = 0; i < t->nkernels; i++)
        if (!strcmp(t->kernels[i].name, k->name)) {
            t->kernels[i] = *k;
            return true;
        }
    if (t->nkernels == CLG_TUNE_MAX_KERNELS) return false;
    t->kernels[t->nkernels++] = *k;
    return true;
}

bool clg_tune_set_shape(clg_tune *t, const clg_tune_shape *s)
{
    for (int i = 0; i < t->nshapes; i++) {
        clg_tune_shape *o = &t->shapes[i];
        if (o->ta == s->ta && o->tb == s->tb && o->m == s->m && o->n == s->n && o->k == s->k && o->batch == s->batch) {
            *o = *s;
            return true;
        }
    }
    if (t->nshapes == CLG_TUNE_MAX_SHAPES) return false;
    t->shapes[t->nshapes++] = *s;
    return true;
}

const clg_tune_conv *clg_tune_find_conv(const clg_tune *t, const int64_t geom[13])
{
    for (int i = 0; i < t->nconvs; i++)
        if (!memcmp(t->convs[i].geom, geom, sizeof t->convs[i].geom)) return &t->convs[i];
    return NULL;
}

bool clg_tune_set_conv(clg_tune *t, const clg_tune_conv *c)
{
    for (int i = 0; i < t->nconvs; i++)
        if (!memcmp(t->convs[i].geom, c->geom, sizeof c->geom)) {
            t->convs[i] = *c;
            return true;
        }
    if (t->nconvs == CLG_TUNE_MAX_CONVS) return false;
    t->convs[t->nconvs++] = *c;
    return true;
}
