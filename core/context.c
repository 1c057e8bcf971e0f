/* Contexts: one device (backend), its graphs, and the last error. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *clg_status_string(clg_status s)
{
    switch (s) {
    case CLG_OK: return "CLG_OK";
    case CLG_ERR_INVALID_ARGUMENT: return "CLG_ERR_INVALID_ARGUMENT";
    case CLG_ERR_SHAPE: return "CLG_ERR_SHAPE";
    case CLG_ERR_STATE: return "CLG_ERR_STATE";
    case CLG_ERR_NOT_FOUND: return "CLG_ERR_NOT_FOUND";
    case CLG_ERR_OUT_OF_MEMORY: return "CLG_ERR_OUT_OF_MEMORY";
    case CLG_ERR_DEVICE: return "CLG_ERR_DEVICE";
    case CLG_ERR_BUILD: return "CLG_ERR_BUILD";
    case CLG_ERR_UNSUPPORTED: return "CLG_ERR_UNSUPPORTED";
    case CLG_ERR_PEER: return "CLG_ERR_PEER";
    }
    return "CLG_ERR_UNKNOWN";
}

#define CLG_STR2(x) #x
#define CLG_STR(x) CLG_STR2(x)
const char *clg_version(void)
{
    return CLG_STR(CLG_VERSION_MAJOR) "." CLG_STR(CLG_VERSION_MINOR) "." CLG_STR(CLG_VERSION_PATCH);
}

int clg_version_number(void)
{
    return CLG_VERSION_NUMBER;
}

clg_status clg_error(clg_context *ctx, clg_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    ctx->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    return s;
}

clg_status clg_error_wrap(clg_context *ctx, clg_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t pl = strlen(prefix), ml = strlen(ctx->msg);
    if (pl + 2 + ml >= sizeof ctx->msg) ml = sizeof ctx->msg - pl - 3;
    memmove(ctx->msg + pl + 2, ctx->msg, ml);
    ctx->msg[pl + 2 + ml] = '\0';
    memcpy(ctx->msg, prefix, pl);
    ctx->msg[pl] = ':';
    ctx->msg[pl + 1] = ' ';
    ctx->status = s;
    return s;
}

static void clg_clear_error(clg_context *ctx)
{
    ctx->status = CLG_OK;
    ctx->msg[0] = '\0';
}

static const struct {
    const char *name, *env;
} setting_names[CLG_SET_COUNT] = {
#define CLG_SETTING(id, name, what) [CLG_SET_##id] = {#name, "CLGRAD_" #id},
#include "settings.def"
#undef CLG_SETTING
};

const char *clg_setting(const clg_context *ctx, clg_setting_id id)
{
    if ((unsigned)id >= CLG_SET_COUNT) return NULL;
    if (ctx && ctx->settings[id]) return ctx->settings[id];
    return getenv(setting_names[id].env);
}

const char *clg_setting_source(const clg_context *ctx, clg_setting_id id, char *buf, size_t size)
{
    if ((unsigned)id >= CLG_SET_COUNT) return "";
    if (ctx && ctx->settings[id]) snprintf(buf, size, "setting %s", setting_names[id].name);
    else snprintf(buf, size, "%s", setting_names[id].env);
    return buf;
}

const char *clg_context_setting(const clg_context *ctx, const char *name)
{
    for (int i = 0; name && i < CLG_SET_COUNT; i++)
        if (!strcmp(name, setting_names[i].name)) return clg_setting(ctx, (clg_setting_id)i);
    return NULL;
}

/* Copies the NULL-terminated name, value list into ctx, refusing an
 * unknown name, a name without a value and a name given twice. */
static clg_status take_settings(clg_context *ctx, const char *const *settings)
{
    for (int i = 0; settings && settings[i]; i += 2) {
        int id = -1;
        for (int k = 0; k < CLG_SET_COUNT; k++)
            if (!strcmp(settings[i], setting_names[k].name)) id = k;
        if (id < 0) {
            char known[512] = "";
            size_t len = 0;
            for (int k = 0; k < CLG_SET_COUNT; k++) {
                int n = snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "", setting_names[k].name);
                if (n > 0 && (size_t)n < sizeof known - len) len += (size_t)n;
            }
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_context_create_with: unknown setting '%s' (%s)",
                             settings[i], known);
        }
        if (!settings[i + 1])
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_context_create_with: setting '%s' has no value "
                             "(the list is name, value pairs ending with NULL)", settings[i]);
        if (ctx->settings[id])
            return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT, "clg_context_create_with: setting '%s' given twice",
                             settings[i]);
        if (!(ctx->settings[id] = strdup(settings[i + 1])))
            return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "clg_context_create_with: out of memory");
    }
    return CLG_OK;
}

static clg_status open_registry(clg_context *ctx, void *arg, clg_backend **be)
{
    const char *spec = arg;
    /* Through the registry (core/registry.c): a named spec goes to the
     * first backend that knows it; the default is the first GPU, else the
     * first device not on the host, else the reference backend. */
    clg_status s = clg_backend_open(ctx, spec, be);
    if (s != CLG_OK && ctx->status == CLG_OK) clg_error(ctx, s, "could not open device '%s'", spec);
    return s;
}

clg_status clg_context_create_with(const char *device_spec, const char *const *settings, clg_context **out)
{
    const char *spec = device_spec;
    if (!spec || !*spec) spec = getenv("CLGRAD_DEVICE");
    if (!spec) spec = "";
    return clg_context_create_from(out, settings, open_registry, (void *)spec);
}

clg_status clg_context_create(const char *device_spec, clg_context **out)
{
    return clg_context_create_with(device_spec, NULL, out);
}

clg_status clg_context_create_backend(clg_context **out, clg_status (*create)(clg_context *, clg_backend **))
{
    clg_context *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return CLG_ERR_OUT_OF_MEMORY;
    return create(ctx, &ctx->be);
}

clg_status clg_context_create_from(clg_context **out, const char *const *settings,
                                   clg_status (*create)(clg_context *, void *, clg_backend **), void *arg)
{
    if (!out) return CLG_ERR_INVALID_ARGUMENT;
    clg_context *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return CLG_ERR_OUT_OF_MEMORY;
    clg_status s = take_settings(ctx, settings);
    if (s == CLG_OK) s = create(ctx, arg, &ctx->be);
    if (s == CLG_OK) clg_clear_error(ctx);
    else if (ctx->status == CLG_OK) clg_error(ctx, s, "could not open the device");
    return s;
}

void clg_context_destroy(clg_context *ctx)
{
    if (!ctx) return;
    clg_graph *g = ctx->graphs;
    while (g) {
        clg_graph *next = g->next;
        clg_graph_free_nodes(g);
        free(g);
        g = next;
    }
    if (ctx->be) ctx->be->vt->destroy(ctx->be);
    for (int i = 0; i < CLG_SET_COUNT; i++) free(ctx->settings[i]);
    free(ctx);
}

uint64_t clg_context_launches(const clg_context *ctx)
{
    return ctx && ctx->be ? ctx->be->launches : 0;
}

const char *clg_context_errmsg(const clg_context *ctx)
{
    if (!ctx) return "no context (NULL)";
    return ctx->msg[0] ? ctx->msg : clg_status_string(ctx->status);
}

clg_status clg_context_status(const clg_context *ctx)
{
    return ctx ? ctx->status : CLG_ERR_INVALID_ARGUMENT;
}

const char *clg_context_backend(const clg_context *ctx)
{
    return ctx && ctx->be ? ctx->be->vt->kind : "none";
}

const char *clg_context_device(const clg_context *ctx)
{
    return ctx && ctx->be ? ctx->be->device : "none";
}

const char *clg_context_gemm(const clg_context *ctx)
{
    return ctx && ctx->be ? (ctx->be->gemm[0] ? ctx->be->gemm : "the backend's own") : "none";
}

/* ---- descriptions shared by error messages ---- */

static const char *const op_names[] = {
#define CLG_OP_NAME(e, name, nsrc, fam) name,
    CLG_OP_LIST(CLG_OP_NAME)
#undef CLG_OP_NAME
};
static const int op_nsrc[] = {
#define CLG_OP_NSRC(e, name, nsrc, fam) nsrc,
    CLG_OP_LIST(CLG_OP_NSRC)
#undef CLG_OP_NSRC
};

const char *clg_op_name(clg_op op)
{
    return (unsigned)op < CLG_OP_COUNT ? op_names[op] : "?";
}

static const clg_family op_family[] = {
#define CLG_OP_FAM(e, name, nsrc, fam) CLG_FAM_##fam,
    CLG_OP_LIST(CLG_OP_FAM)
#undef CLG_OP_FAM
};

clg_family clg_op_family(clg_op op)
{
    return (unsigned)op < CLG_OP_COUNT ? op_family[op] : CLG_FAM_LEAF;
}

int clg_op_nsrc(clg_op op)
{
    return (unsigned)op < CLG_OP_COUNT ? op_nsrc[op] : 0;
}

bool clg_op_elementwise(clg_op op)
{
    switch (op) {
#define CLG_EW_CASE(e) case CLG_OP_##e:
        CLG_ELEMENTWISE_LIST(CLG_EW_CASE)
#undef CLG_EW_CASE
        return true;
    default: return false;
    }
}

void clg_shape_string(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t k = 0;
    if (size == 0) return;
    k += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

void clg_node_describe(const clg_node *nodes, const clg_node *node, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "%s", clg_op_name(node->op));
    char sh[96];
    for (int i = 0; i < clg_op_nsrc(node->op) && k < size; i++) {
        if (node->src[i] < 0) continue;
        const clg_node *s = &nodes[node->src[i]];
        clg_shape_string(s->ndim, s->shape, sh, sizeof sh);
        k += (size_t)snprintf(buf + k, size - k, " %s", sh);
    }
    clg_shape_string(node->ndim, node->shape, sh, sizeof sh);
    if (k < size) snprintf(buf + k, size - k, " -> %s", sh);
}

void clg_padded_shape(const clg_node *n, int64_t out[CLG_MAX_DIMS])
{
    int pad = CLG_MAX_DIMS - n->ndim;
    for (int d = 0; d < CLG_MAX_DIMS; d++) out[d] = d < pad ? 1 : n->shape[d - pad];
}

int clg_collapse_axes(int64_t dims[CLG_MAX_DIMS], int nst, int64_t *const *st)
{
    enum { MAX_ST = 4 };
    int64_t d[CLG_MAX_DIMS], s[MAX_ST][CLG_MAX_DIMS];
    int n = 0; /* axes kept, innermost first */
    if (nst > MAX_ST) return CLG_MAX_DIMS; /* left as they are */
    for (int a = CLG_MAX_DIMS - 1; a >= 0; a--) {
        if (dims[a] == 1) continue;
        bool merge = n > 0;
        for (int k = 0; merge && k < nst; k++) merge = st[k][a] == s[k][n - 1] * d[n - 1];
        if (merge) {
            d[n - 1] *= dims[a];
            continue;
        }
        d[n] = dims[a];
        for (int k = 0; k < nst; k++) s[k][n] = st[k][a];
        n++;
    }
    for (int j = 0; j < CLG_MAX_DIMS; j++) {
        const int a = CLG_MAX_DIMS - 1 - j;
        dims[a] = j < n ? d[j] : 1;
        for (int k = 0; k < nst; k++) st[k][a] = j < n ? s[k][j] : 0;
    }
    return n;
}

void clg_broadcast_strides(const clg_node *in, const clg_node *out, int64_t strides[CLG_MAX_DIMS])
{
    int64_t ins[CLG_MAX_DIMS], outs[CLG_MAX_DIMS];
    clg_padded_shape(in, ins);
    clg_padded_shape(out, outs);
    int64_t stride = 1;
    for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
        strides[d] = (ins[d] == 1 && outs[d] != 1) ? 0 : stride;
        stride *= ins[d];
    }
}
