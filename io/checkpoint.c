/* Checkpoints: a graph's named tensors as a safetensors file. */
#include "data.h"
#include "../core/internal.h"

#include <stdlib.h>
#include <string.h>

#define ERRLEN 1024

static bool graph_has_name(const clg_graph *g, const char *name);

/* a tensor's shape is copied into an array's */
_Static_assert(CLG_MAX_DIMS <= CLG_ARRAY_MAX_DIMS, "a tensor of CLG_MAX_DIMS must fit a clg_array");

/* The named tensors of g, as host arrays read from the device. */
typedef struct named_set {
    int n;
    int32_t *ids;
    const char **names;
    clg_array *arrays;
    const clg_array **ptrs;
} named_set;

static void named_free(named_set *s)
{
    for (int i = 0; i < s->n && s->arrays; i++) free(s->arrays[i].data);
    free(s->ids);
    free(s->names);
    free(s->arrays);
    free(s->ptrs);
}

static clg_elem node_elem(const clg_node *n)
{
    switch (n->dtype) {
    case CLG_I32: return CLG_ELEM_I32;
    case CLG_F16: return CLG_ELEM_F16;
    case CLG_BF16: return CLG_ELEM_BF16;
    default: return CLG_ELEM_F32;
    }
}

/* A 16-bit tensor from a file's halves: whole words (an odd count's last
 * half zero), so nothing past the array is read. */
static clg_status write_16(clg_graph *g, const clg_node *n, const clg_array *a)
{
    const size_t words = (size_t)clg_node_words(n);
    uint16_t *w = calloc(words ? 2 * words : 2, sizeof *w);
    if (!w) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "out of host memory for tensor '%s'", n->name);
    memcpy(w, a->data, (size_t)a->numel * sizeof *w);
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_write(be, n->buf, 0, w, words, CLG_I32);
    free(w);
    return s;
}

static clg_status collect_named(clg_graph *g, named_set *s, const char *func)
{
    memset(s, 0, sizeof *s);
    int count = 0;
    for (int32_t i = 0; i < g->n; i++) count += g->nodes[i].name[0] != '\0';
    s->ids = calloc((size_t)count + 1, sizeof *s->ids);
    s->names = calloc((size_t)count + 1, sizeof *s->names);
    s->arrays = calloc((size_t)count + 1, sizeof *s->arrays);
    s->ptrs = calloc((size_t)count + 1, sizeof *s->ptrs);
    if (!s->ids || !s->names || !s->arrays || !s->ptrs)
        return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        if (!n->name[0]) continue;
        clg_array *a = &s->arrays[s->n];
        a->type = node_elem(n);
        a->ndim = n->ndim;
        memcpy(a->shape, n->shape, (size_t)n->ndim * sizeof *n->shape);
        a->numel = n->numel;
        s->ids[s->n] = i;
        s->names[s->n] = n->name;
        s->ptrs[s->n] = a;
        s->n++;
    }
    return CLG_OK;
}

static clg_status download(clg_graph *g, named_set *s, const char *func)
{
    clg_backend *be = g->ctx->be;
    for (int i = 0; i < s->n; i++) {
        clg_array *a = &s->arrays[i];
        const clg_node *n = &g->nodes[s->ids[i]];
        a->data = malloc((size_t)a->numel * 4);
        if (!a->data)
            return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory for tensor '%s'", func, n->name);
        clg_status st = n->state_of ? clg_state_read(g, s->ids[i], a->data, func) : clg_node_storage(g, s->ids[i], func);
        /* a 16-bit tensor's words as they are: its numel halves (a->data holds 4 bytes an element) */
        if (st == CLG_OK && !n->state_of)
            st = clg_dtype_16(n->dtype) ? be->vt->buffer_read(be, n->buf, 0, a->data, (size_t)clg_node_words(n), CLG_I32)
                                        : be->vt->buffer_read(be, n->buf, 0, a->data, (size_t)a->numel, n->dtype);
        if (st != CLG_OK) return clg_error_wrap(g->ctx, st, "%s: reading tensor '%s'", func, n->name);
    }
    return CLG_OK;
}

#define DERIVED_KEY "clgrad.derived"

/* The graph's named tensors and n derived arrays (listed under DERIVED_KEY
 * in the metadata when n > 0), written atomically. */
static clg_status save(clg_graph *g, const char *path, const clg_meta *meta, int n, const char *const *names,
                       const clg_array *const *arrays, const char *func)
{
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if (!path || !*path) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: path is empty", func);
    if (n < 0 || (n > 0 && (!names || !arrays)))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %d derived tensors with names %s and arrays %s", func, n,
                         names ? "given" : "NULL", arrays ? "given" : "NULL");
    if (n > 0 && meta && clg_meta_get(meta, DERIVED_KEY))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the metadata already holds '" DERIVED_KEY "'", func);
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i] || strchr(names[i], ',') || !arrays[i])
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "%s: derived tensor %d: a name (non-empty, without commas) and an array are needed", func,
                             i);
        if (graph_has_name(g, names[i]))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: derived tensor '%s' is a graph tensor's name",
                             func, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: derived tensor '%s' is given twice", func,
                                 names[i]);
        len += strlen(names[i]) + 1;
    }
    clg_meta *all = NULL; /* meta, and the list of derived tensors */
    char *list = n > 0 ? malloc(len) : NULL;
    named_set set = {0};
    const char **nm = NULL;
    const clg_array **ar = NULL;
    if (n > 0) {
        s = list && clg_meta_create(&all) == CLG_OK ? CLG_OK : CLG_ERR_OUT_OF_MEMORY;
        for (int i = 0; s == CLG_OK && i < n; i++) {
            if (i) strcat(list, ",");
            else list[0] = '\0';
            strcat(list, names[i]);
        }
        for (int i = 0; meta && i < clg_meta_count(meta) && s == CLG_OK; i++)
            s = clg_meta_set(all, clg_meta_key(meta, i), clg_meta_value(meta, i));
        if (s == CLG_OK) s = clg_meta_set(all, DERIVED_KEY, list);
        if (s != CLG_OK) clg_error(g->ctx, s, "%s: out of host memory", func);
    }
    if (s == CLG_OK) s = collect_named(g, &set, func);
    if (s == CLG_OK) s = download(g, &set, func);
    if (s == CLG_OK && n > 0) {
        nm = malloc((size_t)(set.n + n) * sizeof *nm);
        ar = malloc((size_t)(set.n + n) * sizeof *ar);
        if (!nm || !ar) s = clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
        for (int i = 0; s == CLG_OK && i < set.n + n; i++) {
            nm[i] = i < set.n ? set.names[i] : names[i - set.n];
            ar[i] = i < set.n ? set.ptrs[i] : arrays[i - set.n];
        }
    }
    if (s == CLG_OK) {
        char err[ERRLEN];
        s = n > 0 ? clg_safetensors_write(path, set.n + n, nm, ar, all, err, sizeof err)
                  : clg_safetensors_write(path, set.n, set.names, set.ptrs, meta, err, sizeof err);
        if (s != CLG_OK) clg_error(g->ctx, s, "%s: %s", func, err + (strncmp(err, "clg_safetensors_write: ", 23) ? 0 : 23));
    }
    free(nm);
    free(ar);
    named_free(&set);
    clg_meta_destroy(all);
    free(list);
    return s;
}

clg_status clg_checkpoint_save_meta(clg_graph *g, const char *path, const clg_meta *meta)
{
    return save(g, path, meta, 0, NULL, NULL, "clg_checkpoint_save");
}

clg_status clg_checkpoint_save_derived(clg_graph *g, const char *path, const clg_meta *meta, int n,
                                       const char *const *names, const clg_array *const *arrays)
{
    return save(g, path, meta, n, names, arrays, "clg_checkpoint_save_derived");
}

/* Whether the file lists name among its derived tensors (clg_checkpoint_save_derived). */
static bool derived(const clg_safetensors *st, const char *name)
{
    const char *list = clg_meta_get(clg_safetensors_meta(st), DERIVED_KEY);
    const size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        const size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == len && !strncmp(p, name, len)) return true;
        p = end ? end + 1 : p + l;
    }
    return false;
}

clg_status clg_checkpoint_save(clg_graph *g, const char *path, const char *const *meta_keys,
                               const char *const *meta_values, int nmeta)
{
    const char *func = "clg_checkpoint_save";
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if (nmeta < 0 || (nmeta > 0 && (!meta_keys || !meta_values)))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %d metadata entries with keys %s and values %s", func,
                         nmeta, meta_keys ? "given" : "NULL", meta_values ? "given" : "NULL");
    clg_meta *meta;
    if (clg_meta_create(&meta) != CLG_OK) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    for (int i = 0; i < nmeta && s == CLG_OK; i++) {
        const char *k = meta_keys[i], *v = meta_values[i];
        if (k && clg_meta_get(meta, k))
            s = clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' is given twice", func, k);
        else if ((s = clg_meta_set(meta, k, v)) != CLG_OK)
            clg_error(g->ctx, s, "%s: metadata %d: %s", func, i,
                      s == CLG_ERR_OUT_OF_MEMORY ? "out of host memory"
                                                 : "key and value must be UTF-8 strings, the key non-empty");
    }
    if (s == CLG_OK) s = clg_checkpoint_save_meta(g, path, meta);
    clg_meta_destroy(meta);
    return s;
}

/* ---- loading ---- */

static clg_status match(clg_graph *g, const clg_node *n, const clg_array *a, const char *path)
{
    const char *func = "clg_checkpoint_load";
    char gs[128], fs[128];
    clg_shape_string(n->ndim, n->shape, gs, sizeof gs);
    if (!a) return clg_error(g->ctx, CLG_ERR_NOT_FOUND, "%s: %s: graph tensor '%s' %s is not in the file", func, path,
                             n->name, gs);
    clg_array_shape_string(a->ndim, a->shape, fs, sizeof fs);
    if (a->type != node_elem(n))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: %s: tensor '%s' is %s in the file, the graph holds %s",
                         func, path, n->name, clg_safetensors_dtype_name(a->type),
                         clg_safetensors_dtype_name(node_elem(n)));
    bool same = a->ndim == n->ndim;
    for (int d = 0; same && d < n->ndim; d++) same = a->shape[d] == n->shape[d];
    if (!same)
        return clg_error(g->ctx, CLG_ERR_SHAPE, "%s: %s: tensor '%s' has shape %s in the file, %s in the graph", func,
                         path, n->name, fs, gs);
    return CLG_OK;
}

static bool graph_has_name(const clg_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return true;
    return false;
}

/* Whether name is "<a parameter of g>.<an optimizer state's suffix>", or
 * loss scaling's state ("grad_scaler.scale", ...) where g has none. */
static bool optimizer_state_of_param(const clg_graph *g, const char *name)
{
    if (!strncmp(name, "grad_scaler.", 12) && clg_tensor_find(g, name).id < 0) return true;
    const char *dot = strrchr(name, '.');
    if (!dot || !clg_optim_is_state_name(dot + 1)) return false;
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        const size_t len = (size_t)(dot - name);
        if (n->op == CLG_OP_PARAM && strlen(n->name) == len && !strncmp(n->name, name, len)) return true;
    }
    return false;
}

/* Every named tensor matches, nothing else is in the file (but, for a
 * model alone, the optimizer's state of its parameters: counted in
 * *skipped), and the label tensors hold valid labels: checked before
 * anything is written. */
static clg_status validate(clg_graph *g, const clg_safetensors *st, const char *path, bool model_only, int *skipped)
{
    *skipped = 0;
    int named = 0;
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        if (!n->name[0]) continue;
        named++;
        const clg_array *a = clg_safetensors_find(st, n->name);
        clg_status s = match(g, n, a, path);
        if (s != CLG_OK) return s;
        if (n->state_of && (s = clg_state_check(g, i, a->data, "clg_checkpoint_load")) != CLG_OK)
            return clg_error_wrap(g->ctx, s, "clg_checkpoint_load: %s: tensor '%s'", path, n->name);
        if (n->dtype == CLG_I32 && !n->state_of &&
            (s = clg_softmax_check_labels(g, clg_tref(g, i), a->data, (size_t)a->numel)) != CLG_OK)
            return clg_error_wrap(g->ctx, s, "clg_checkpoint_load: %s: tensor '%s'", path, n->name);
    }
    if (named != clg_safetensors_count(st))
        for (int k = 0; k < clg_safetensors_count(st); k++) {
            const char *name = clg_safetensors_name(st, k);
            if (graph_has_name(g, name) || derived(st, name)) continue;
            if (model_only && optimizer_state_of_param(g, name)) {
                ++*skipped;
                continue;
            }
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_checkpoint_load: %s: the file has tensor '%s', which no tensor of the graph is "
                             "named%s",
                             path, name, model_only ? " (nor is it an optimizer's state of a parameter)" : "");
        }
    return CLG_OK;
}

static clg_status load(clg_graph *g, const char *path, clg_meta **meta, bool model_only, int *skipped)
{
    const char *func = "clg_checkpoint_load";
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if (meta) *meta = NULL;
    if (!path || !*path) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: path is empty", func);
    char err[ERRLEN];
    clg_safetensors *st;
    s = clg_safetensors_read(path, &st, err, sizeof err);
    if (s != CLG_OK)
        return clg_error(g->ctx, s, "%s: %s", func, err + (strncmp(err, "clg_safetensors_read: ", 22) ? 0 : 22));
    clg_meta *copy = NULL;
    int skip = 0;
    s = validate(g, st, path, model_only, &skip);
    if (s == CLG_OK && meta) {
        /* Copied first: after the upload nothing may fail. */
        const clg_meta *m = clg_safetensors_meta(st);
        s = clg_meta_create(&copy);
        for (int i = 0; i < clg_meta_count(m) && s == CLG_OK; i++)
            s = clg_meta_set(copy, clg_meta_key(m, i), clg_meta_value(m, i));
        if (s != CLG_OK) clg_error(g->ctx, s, "%s: out of host memory for the metadata", func);
    }
    clg_backend *be = g->ctx->be;
    for (int32_t i = 0; i < g->n && s == CLG_OK; i++) {
        const clg_node *n = &g->nodes[i];
        if (!n->name[0]) continue;
        const clg_array *a = clg_safetensors_find(st, n->name);
        if (n->state_of) {
            s = clg_state_write(g, i, a->data, func);
        } else {
            s = clg_node_storage(g, i, func);
            if (s == CLG_OK && clg_dtype_16(n->dtype)) s = write_16(g, n, a);
            else if (s == CLG_OK) s = be->vt->buffer_write(be, n->buf, 0, a->data, (size_t)a->numel, n->dtype);
        }
        if (s != CLG_OK) clg_error_wrap(g->ctx, s, "%s: %s: writing tensor '%s'", func, path, n->name);
    }
    clg_safetensors_destroy(st);
    if (s != CLG_OK) {
        clg_meta_destroy(copy);
        return s;
    }
    if (meta) *meta = copy;
    if (skipped) *skipped = skip;
    return CLG_OK;
}

clg_status clg_checkpoint_load(clg_graph *g, const char *path, clg_meta **meta)
{
    return load(g, path, meta, false, NULL);
}

clg_status clg_checkpoint_load_model(clg_graph *g, const char *path, clg_meta **meta, int *skipped)
{
    if (skipped) *skipped = 0;
    return load(g, path, meta, true, skipped);
}
