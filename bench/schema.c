/* Reading and checking clgrad-bench JSON (bench/SCHEMA.md) with the
 * library's strict JSON parser. */
#include "bench.h"

#include "data.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

static const clg_json_value *member(const clg_json *j, const clg_json_value *obj, const char *key)
{
    if (obj->type != CLG_JSON_OBJECT) return NULL;
    for (int32_t c = obj->first; c >= 0; c = j->v[c].next)
        if (!strcmp(clg_json_key(j, &j->v[c]), key)) return &j->v[c];
    return NULL;
}

static double number(const clg_json *j, const clg_json_value *v)
{
    return v && v->type == CLG_JSON_NUMBER ? strtod(j->arena + v->str, NULL) : 0.0;
}

static const char *string(const clg_json *j, const clg_json_value *v)
{
    return v && v->type == CLG_JSON_STRING ? clg_json_str(j, v) : "";
}

typedef struct field {
    const char *key;
    clg_json_type type; /* CLG_JSON_NUMBER also accepts null when nullable */
    bool nullable;
} field;

static bool check_fields(const clg_json *j, const clg_json_value *obj, const field *f, int n, const char *where,
                         char *err, size_t errlen)
{
    if (obj->type != CLG_JSON_OBJECT) {
        snprintf(err, errlen, "%s: not an object", where);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const clg_json_value *v = member(j, obj, f[i].key);
        if (!v) {
            snprintf(err, errlen, "%s: missing \"%s\"", where, f[i].key);
            return false;
        }
        if (v->type != f[i].type && !(f[i].nullable && v->type == CLG_JSON_NULL)) {
            snprintf(err, errlen, "%s: \"%s\" is %s, not %s", where, f[i].key, clg_json_type_name(v->type),
                     clg_json_type_name(f[i].type));
            return false;
        }
    }
    return true;
}

static bool one_of(const char *s, const char *const *options)
{
    for (; *options; options++)
        if (!strcmp(s, *options)) return true;
    return false;
}

static int load(const char *path, clg_json *j, char *err, size_t errlen)
{
    /* The library's reader: a regular file only (a FIFO waited for a writer
     * forever, /dev/zero grew the buffer until memory ran out), 256 MiB at most. */
    unsigned char *ubuf = NULL;
    size_t len = 0;
    if (clg_file_read_all(path, (size_t)256 << 20, &ubuf, &len, "cannot read", err, errlen) != CLG_OK) return -1;
    char *buf = (char *)ubuf;
    clg_json_limits lim = {64, 1 << 22};
    clg_status s = buf ? clg_json_parse(buf, len, &lim, j, err, errlen) : CLG_ERR_OUT_OF_MEMORY;
    free(buf);
    if (s != CLG_OK) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "%s: %s", path, buf ? inner : "out of memory");
        return -1;
    }
    return 0;
}

int bench_check_json(const char *path, char *err, size_t errlen)
{
    clg_json j;
    if (load(path, &j, err, errlen)) return -1;
    static const field top[] = {{"schema", CLG_JSON_STRING, false},  {"date", CLG_JSON_STRING, false},   {"tool", CLG_JSON_STRING, false},
                                {"machine", CLG_JSON_OBJECT, false}, {"suite", CLG_JSON_STRING, false},  {"repeat", CLG_JSON_NUMBER, false},
                                {"devices", CLG_JSON_ARRAY, false}};
    static const field machine[] = {{"hostname", CLG_JSON_STRING, false}, {"os", CLG_JSON_STRING, false}, {"release", CLG_JSON_STRING, false},
                                    {"arch", CLG_JSON_STRING, false}, {"cpus", CLG_JSON_NUMBER, false}};
    static const field device[] = {
        {"spec", CLG_JSON_STRING, false},         {"label", CLG_JSON_STRING, false},          {"description", CLG_JSON_STRING, false},
        {"type", CLG_JSON_STRING, false},         {"vendor", CLG_JSON_STRING, false},         {"name", CLG_JSON_STRING, false},
        {"driver_version", CLG_JSON_STRING, false}, {"opencl_version", CLG_JSON_STRING, false}, {"compute_units", CLG_JSON_NUMBER, false},
        {"clock_mhz", CLG_JSON_NUMBER, false},    {"global_mem_bytes", CLG_JSON_NUMBER, false}, {"local_mem_bytes", CLG_JSON_NUMBER, false},
        {"ceilings", CLG_JSON_OBJECT, false},     {"results", CLG_JSON_ARRAY, false}};
    static const field ceilings[] = {{"copy_gbs", CLG_JSON_NUMBER, true}, {"gemm_gflops", CLG_JSON_NUMBER, true}};
    static const field res[] = {
        {"group", CLG_JSON_STRING, false},        {"name", CLG_JSON_STRING, false},         {"size", CLG_JSON_STRING, false},
        {"median_s", CLG_JSON_NUMBER, true}, {"min_s", CLG_JSON_NUMBER, true},  {"max_s", CLG_JSON_NUMBER, true},
        {"unit", CLG_JSON_STRING, false},         {"rate", CLG_JSON_NUMBER, true},   {"ratio_to_ceiling", CLG_JSON_NUMBER, true},
        {"check", CLG_JSON_STRING, false},        {"note", CLG_JSON_STRING, false}};
    static const char *const groups[] = {BENCH_GROUPS(BENCH_GROUP_NAME) NULL};
    static const char *const units[] = {"GB/s", "GFLOP/s", "samples/s", "params/s", "ms", "kernels", "s", "%", NULL};
    static const char *const checks[] = {"ok", "FAILED", "skipped", NULL};
    static const char *const types[] = {"gpu", "cpu", "accelerator", "other", "host", NULL};
    const clg_json_value *root = &j.v[0];
    int rc = -1;
    char where[128];
    if (!check_fields(&j, root, top, 7, "top level", err, errlen)) goto done;
    if (strcmp(string(&j, member(&j, root, "schema")), "clgrad-bench/1")) {
        snprintf(err, errlen, "schema is not \"clgrad-bench/1\"");
        goto done;
    }
    if (number(&j, member(&j, root, "repeat")) < 1) {
        snprintf(err, errlen, "repeat must be at least 1");
        goto done;
    }
    if (!check_fields(&j, member(&j, root, "machine"), machine, 5, "machine", err, errlen)) goto done;
    const clg_json_value *devs = member(&j, root, "devices");
    if (devs->count < 1) {
        snprintf(err, errlen, "devices is empty");
        goto done;
    }
    int di = 0;
    for (int32_t d = devs->first; d >= 0; d = j.v[d].next, di++) {
        const clg_json_value *dv = &j.v[d];
        snprintf(where, sizeof where, "devices[%d]", di);
        if (!check_fields(&j, dv, device, 14, where, err, errlen)) goto done;
        if (!one_of(string(&j, member(&j, dv, "type")), types)) {
            snprintf(err, errlen, "%s: unknown type \"%s\"", where, string(&j, member(&j, dv, "type")));
            goto done;
        }
        if (!check_fields(&j, member(&j, dv, "ceilings"), ceilings, 2, where, err, errlen)) goto done;
        const clg_json_value *rs = member(&j, dv, "results");
        int ri = 0;
        for (int32_t r = rs->first; r >= 0; r = j.v[r].next, ri++) {
            const clg_json_value *rv = &j.v[r];
            snprintf(where, sizeof where, "devices[%d].results[%d]", di, ri);
            if (!check_fields(&j, rv, res, 11, where, err, errlen)) goto done;
            const char *g = string(&j, member(&j, rv, "group")), *u = string(&j, member(&j, rv, "unit")),
                       *c = string(&j, member(&j, rv, "check"));
            if (!one_of(g, groups) || !one_of(c, checks) || (!one_of(u, units) && strcmp(c, "ok") == 0)) {
                snprintf(err, errlen, "%s: group \"%s\", unit \"%s\" or check \"%s\" is not one the schema allows",
                         where, g, u, c);
                goto done;
            }
            static const char *const optional[] = {"enqueue_s", "flops", "bytes"};
            for (int k = 0; k < 3; k++) {
                const clg_json_value *v = member(&j, rv, optional[k]);
                if (v && !(v->type == CLG_JSON_NUMBER && number(&j, v) >= 0)) {
                    snprintf(err, errlen, "%s: \"%s\" is not a number >= 0", where, optional[k]);
                    goto done;
                }
            }
            double med = number(&j, member(&j, rv, "median_s")), lo = number(&j, member(&j, rv, "min_s")),
                   hi = number(&j, member(&j, rv, "max_s"));
            if (!strcmp(c, "ok") && !(lo <= med && med <= hi && lo >= 0)) {
                snprintf(err, errlen, "%s: min %g <= median %g <= max %g does not hold", where, lo, med, hi);
                goto done;
            }
        }
    }
    rc = 0;
done:
    clg_json_free(&j);
    return rc;
}

int read_runs_json(const char *path, device_run *out, int max, int *n, char *err, size_t errlen)
{
    *n = 0;
    if (bench_check_json(path, err, errlen)) return -1;
    clg_json j;
    if (load(path, &j, err, errlen)) return -1;
    for (int32_t di = member(&j, &j.v[0], "devices")->first; di >= 0 && *n < max; di = j.v[di].next) {
        const clg_json_value *dv = &j.v[di];
        device_run *o = &out[(*n)++];
        memset(o, 0, sizeof *o);
        snprintf(o->spec, sizeof o->spec, "%s", string(&j, member(&j, dv, "spec")));
        snprintf(o->label, sizeof o->label, "%s", string(&j, member(&j, dv, "label")));
        snprintf(o->description, sizeof o->description, "%s", string(&j, member(&j, dv, "description")));
        snprintf(o->facts.name, sizeof o->facts.name, "%s", string(&j, member(&j, dv, "name")));
        const clg_json_value *ce = member(&j, dv, "ceilings");
        o->copy_gbs = number(&j, member(&j, ce, "copy_gbs"));
        o->gemm_gflops = number(&j, member(&j, ce, "gemm_gflops"));
        const clg_json_value *rs = member(&j, dv, "results");
        for (int32_t r = rs->first; r >= 0 && o->nresults < BENCH_MAX_RESULTS; r = j.v[r].next) {
            const clg_json_value *rv = &j.v[r];
            result *x = &o->results[o->nresults++];
            snprintf(x->group, sizeof x->group, "%s", string(&j, member(&j, rv, "group")));
            snprintf(x->name, sizeof x->name, "%s", string(&j, member(&j, rv, "name")));
            snprintf(x->size, sizeof x->size, "%s", string(&j, member(&j, rv, "size")));
            snprintf(x->unit, sizeof x->unit, "%s", string(&j, member(&j, rv, "unit")));
            x->median = number(&j, member(&j, rv, "median_s"));
            x->min = number(&j, member(&j, rv, "min_s"));
            x->max = number(&j, member(&j, rv, "max_s"));
            x->rate = number(&j, member(&j, rv, "rate"));
            x->ratio = number(&j, member(&j, rv, "ratio_to_ceiling"));
            const clg_json_value *fl = member(&j, rv, "flops"), *by = member(&j, rv, "bytes");
            x->flops = fl ? number(&j, fl) : 0;
            x->bytes = by ? number(&j, by) : 0;
            const char *c = string(&j, member(&j, rv, "check"));
            x->check = !strcmp(c, "ok") ? CHECK_OK : !strcmp(c, "FAILED") ? CHECK_FAILED : CHECK_SKIPPED;
        }
    }
    clg_json_free(&j);
    return 0;
}

int read_compare_json(const char *path, device_run *out, char *err, size_t errlen)
{
    int n;
    return read_runs_json(path, out, 1, &n, err, errlen);
}

int read_train_summary(const char *path, train_summary *out, char *err, size_t errlen)
{
    clg_json j;
    memset(out, 0, sizeof *out);
    if (load(path, &j, err, errlen)) return -1;
    const clg_json_value *sum = member(&j, &j.v[0], "summary");
    if (!sum || sum->type != CLG_JSON_OBJECT) {
        snprintf(err, errlen, "%s: no \"summary\" object", path);
        clg_json_free(&j);
        return -1;
    }
    const clg_json_value *reached = member(&j, sum, "reached_epoch"), *secs = member(&j, sum, "seconds_to_target");
    out->final_accuracy = number(&j, member(&j, sum, "final_test_accuracy"));
    out->reached_epoch = (int)number(&j, reached);
    out->reached = out->reached_epoch > 0 && secs && secs->type == CLG_JSON_NUMBER;
    out->seconds_to_target = number(&j, secs);
    clg_json_free(&j);
    return 0;
}
