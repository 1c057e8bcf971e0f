/*
 * The backend registry: the backends listed in core/backends.def, their
 * devices numbered across all of them (the public clg_device_* calls), the
 * choice of a device from a spec, and the check, before a graph runs, that
 * its backend supports every op in it.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define CLG_BACKEND(name) extern const clg_backend_reg clg_##name##_backend;
#include "backends.def"
#undef CLG_BACKEND

static const clg_backend_reg *const registry[] = {
#define CLG_BACKEND(name) &clg_##name##_backend,
#include "backends.def"
#undef CLG_BACKEND
};
#define CLG_NBACKENDS ((int)(sizeof registry / sizeof registry[0]))

int clg_device_count(void)
{
    int n = 0;
    for (int b = 0; b < CLG_NBACKENDS; b++) n += registry[b]->device_count();
    return n;
}

clg_status clg_device_get_facts_sized(int i, clg_device_facts *out, size_t size)
{
    if (!out || i < 0 || size < offsetof(clg_device_facts, backend) + sizeof out->backend)
        return CLG_ERR_INVALID_ARGUMENT;
    for (int b = 0; b < CLG_NBACKENDS; b++) {
        int n = registry[b]->device_count();
        if (i < n) {
            clg_device_facts f;
            memset(&f, 0, sizeof f);
            clg_status s = registry[b]->device_facts(i, &f);
            if (s != CLG_OK) return s;
            snprintf(f.backend, sizeof f.backend, "%s", registry[b]->name);
            /* a newer caller's larger struct: what this library knows, the rest zero */
            memset(out, 0, size);
            memcpy(out, &f, size < sizeof f ? size : sizeof f);
            return CLG_OK;
        }
        i -= n;
    }
    return CLG_ERR_INVALID_ARGUMENT;
}

clg_status clg_device_spec(int i, char *buf, size_t size)
{
    clg_device_facts f;
    if (!buf || size == 0) return CLG_ERR_INVALID_ARGUMENT;
    clg_status s = clg_device_get_facts(i, &f);
    if (s != CLG_OK) return s;
    if (strlen(f.spec) >= size) return CLG_ERR_INVALID_ARGUMENT;
    memcpy(buf, f.spec, strlen(f.spec) + 1);
    return CLG_OK;
}

size_t clg_device_list(char *buf, size_t size)
{
    size_t len = 0;
    int n = clg_device_count();
    for (int i = 0; i < n; i++) {
        clg_device_facts f;
        if (clg_device_get_facts(i, &f) != CLG_OK) continue;
        char line[512];
        int k = f.platform[0] ? snprintf(line, sizeof line, "%-12s %s / %s (%s)\n", f.spec, f.platform, f.name, f.type)
                              : snprintf(line, sizeof line, "%-12s %s\n", f.spec, f.name);
        if (k < 0) continue;
        if ((size_t)k >= sizeof line) k = (int)sizeof line - 1;
        if (buf && len < size) snprintf(buf + len, size - len, "%s", line);
        len += (size_t)k;
    }
    if (buf && size) buf[len < size ? len : size - 1] = '\0';
    return len;
}

/* The default device: the first GPU across the backends, else the first
 * device not on the host, else the first device (the reference backend).
 * Its spec into spec; false when there is no device at all. */
static bool default_spec(char *spec, size_t size)
{
    int n = clg_device_count(), pick = -1;
    clg_device_facts f;
    for (int pass = 0; pass < 3 && pick < 0; pass++)
        for (int i = 0; i < n && pick < 0; i++) {
            if (clg_device_get_facts(i, &f) != CLG_OK) continue;
            if (pass == 2 || (pass == 0 && strcmp(f.type, "gpu") == 0) || (pass == 1 && strcmp(f.type, "host") != 0)) {
                pick = i;
                snprintf(spec, size, "%s", f.spec);
            }
        }
    return pick >= 0;
}

clg_status clg_backend_open(clg_context *ctx, const char *spec, clg_backend **out)
{
    char chosen[sizeof ((clg_device_facts *)0)->spec];
    if (!*spec) {
        if (!default_spec(chosen, sizeof chosen)) return clg_error(ctx, CLG_ERR_NOT_FOUND, "no device found");
        spec = chosen;
    }
    for (int b = 0; b < CLG_NBACKENDS; b++) {
        clg_status s = registry[b]->create(ctx, spec, out);
        if (s != CLG_ERR_NOT_FOUND) return s;
    }
    char help[512] = "", list[4096];
    size_t k = 0;
    for (int b = 0; b < CLG_NBACKENDS && k < sizeof help; b++)
        k += (size_t)snprintf(help + k, sizeof help - k, "%s%s", b ? ", " : "", registry[b]->spec_help);
    clg_device_list(list, sizeof list);
    size_t l = strlen(list);
    while (l && list[l - 1] == '\n') list[--l] = '\0';
    /* a kind of device that no backend has: say so, not that the spec is unknown */
    static const char *const kinds[][2] = {{"gpu", "GPU"}, {"cpu", "CPU device"}, {"accelerator", "accelerator"}};
    for (size_t k2 = 0; k2 < sizeof kinds / sizeof kinds[0]; k2++)
        if (!strcmp(spec, kinds[k2][0]))
            return clg_error(ctx, CLG_ERR_NOT_FOUND,
                             "no %s found (README, \"Choosing a device\", says how to make one visible); "
                             "devices:\n%s",
                             kinds[k2][1], list);
    return clg_error(ctx, CLG_ERR_NOT_FOUND, "unknown device spec '%s' (use %s); devices:\n%s", spec, help, list);
}

/* ---- ops a backend supports ---- */

clg_status clg_backend_check_op(clg_backend *be, const clg_node *nodes, const clg_node *n, const char *where)
{
    if (be->vt->supports_op(be, nodes, n)) return CLG_OK;
    char desc[256];
    clg_node_describe(nodes, n, desc, sizeof desc);
    return clg_error(be->ctx, CLG_ERR_UNSUPPORTED, "%s (%s) is not supported by the %s backend on %s", where, desc,
                     be->vt->kind, be->device);
}

clg_status clg_graph_check_support(clg_graph *g)
{
    clg_backend *be = g->ctx->be;
    for (int32_t i = 0; i < g->n; i++) {
        char where[32];
        snprintf(where, sizeof where, "node %d", (int)i);
        clg_status s = clg_backend_check_op(be, g->nodes, &g->nodes[i], where);
        if (s != CLG_OK) return s;
    }
    g->checked = true;
    return CLG_OK;
}
