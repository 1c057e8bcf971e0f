/*
 * The reference backend: plain C, single-threaded, written for clarity.
 * It is the oracle every other backend is tested against: float storage
 * like the devices, reductions accumulated in double. The ops themselves
 * are in ref/ref_<family>.c.
 */
#define _POSIX_C_SOURCE 199309L
#include "ref_real.h"

#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ref_destroy(clg_backend *be) { free(be); }

static clg_status ref_alloc(clg_backend *be, size_t count, clg_buffer **out)
{
    *out = NULL;
    if (count > ((size_t)1 << 36) ||
        !(*out = calloc(1, sizeof(clg_buffer) + (count ? count : 1) * sizeof(real)))) /* zero: never stale */
        return clg_error(be->ctx, CLG_ERR_OUT_OF_MEMORY, "reference: out of host memory (%zu elements)", count);
    (*out)->count = count;
    return CLG_OK;
}

static void ref_free(clg_backend *be, clg_buffer *buf)
{
    (void)be;
    if (buf->shares) buf->shares--;
    else free(buf);
}

static void ref_retain(clg_backend *be, clg_buffer *buf)
{
    (void)be;
    buf->shares++;
}

static clg_status bounds(clg_backend *be, clg_buffer *buf, size_t off, size_t count, const char *what)
{
    if (off + count <= buf->count) return CLG_OK;
    return clg_error(be->ctx, CLG_ERR_INVALID_ARGUMENT, "reference: %s past the end of a buffer", what);
}

static clg_status ref_write(clg_backend *be, clg_buffer *buf, size_t off, const void *src, size_t count,
                            clg_dtype dtype)
{
    if (bounds(be, buf, off, count, "write")) return CLG_ERR_INVALID_ARGUMENT;
    if (dtype == CLG_I32) {
        memcpy((int32_t *)(void *)buf->data + off, src, count * sizeof(int32_t));
    } else {
        const float *f = src;
        for (size_t i = 0; i < count; i++) buf->data[off + i] = (real)f[i];
    }
    return CLG_OK;
}

static clg_status ref_read(clg_backend *be, clg_buffer *buf, size_t off, void *dst, size_t count, clg_dtype dtype)
{
    if (bounds(be, buf, off, count, "read")) return CLG_ERR_INVALID_ARGUMENT;
    if (dtype == CLG_I32) {
        memcpy(dst, (int32_t *)(void *)buf->data + off, count * sizeof(int32_t));
    } else {
        float *f = dst;
        for (size_t i = 0; i < count; i++) f[i] = (float)buf->data[off + i];
    }
    return CLG_OK;
}

static clg_status ref_fill(clg_backend *be, clg_buffer *buf, float v, size_t count)
{
    (void)be;
    for (size_t i = 0; i < count; i++) buf->data[i] = (real)v;
    return CLG_OK;
}

/* The reference backend runs on the host: its device time is host time. */
static clg_status ref_timer(clg_backend *be, bool start, double *seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    if (start) be->timer_t0 = now;
    else *seconds = now - be->timer_t0;
    return CLG_OK;
}

static clg_status ref_sync(clg_backend *be)
{
    (void)be;
    return CLG_OK;
}

clg_status REF(clg_ref_unsupported)(clg_backend *be, const clg_node *n)
{
    return clg_error(be->ctx, CLG_ERR_UNSUPPORTED, "reference: op '%s' is not implemented", clg_op_name(n->op));
}

clg_status REF(clg_ref_leaf)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    return CLG_OK;
}

typedef clg_status (*ref_family_fn)(clg_backend *be, const clg_node *nodes, const clg_node *n);
static const ref_family_fn families[CLG_FAM_COUNT] = {
#define CLG_REF_ENTRY(e, lower) [CLG_FAM_##e] = REF(clg_ref_##lower),
    CLG_FAMILY_LIST(CLG_REF_ENTRY)
#undef CLG_REF_ENTRY
};

/* An elementwise op with 16-bit sources or result (core/ops.h), or a
 * product of 16-bit operands, as a device computes it in float32 inside its
 * kernel: the op run on float copies of its sources (the 16-bit ones
 * widened), a 16-bit result rounded into the node's buffer. (The double
 * reference rounds through float.) */
static clg_status ref_run_16(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const int nsrc = clg_op_nsrc(n->op);
    clg_node loc[CLG_MAX_SRC + 1];
    clg_buffer *tmp[CLG_MAX_SRC + 1] = {0};
    clg_status s = CLG_OK;
    loc[nsrc] = *n;
    for (int k = 0; k <= nsrc && s == CLG_OK; k++) {
        const clg_node *x = k < nsrc ? &nodes[n->src[k]] : n;
        if (k < nsrc) {
            loc[k] = *x;
            loc[nsrc].src[k] = k;
        }
        if (!clg_dtype_16(x->dtype)) continue;
        s = ref_alloc(be, (size_t)x->numel, &tmp[k]);
        if (s != CLG_OK) break;
        for (int64_t i = 0; k < nsrc && i < x->numel; i++) tmp[k]->data[i] = (real)ref_load_float(x, i);
        loc[k].buf = tmp[k];
        loc[k].dtype = CLG_F32;
    }
    if (s == CLG_OK) s = families[clg_op_family(n->op)](be, loc, &loc[nsrc]);
    if (s == CLG_OK && tmp[nsrc])
        for (int64_t i = 0; i < n->numel; i++) ref_data16(n)[i] = ref_narrow16(n->dtype, (float)tmp[nsrc]->data[i]);
    for (int k = 0; k <= nsrc; k++)
        if (tmp[k]) free(tmp[k]);
    return s;
}

static bool touches_16(const clg_node *nodes, const clg_node *n)
{
    bool any = clg_dtype_16(n->dtype);
    for (int k = 0; k < clg_op_nsrc(n->op); k++) any |= n->src[k] >= 0 && clg_dtype_16(nodes[n->src[k]].dtype);
    return any;
}

static clg_status ref_run(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    be->launches++;
    if ((clg_op_elementwise(n->op) || clg_op_family(n->op) == CLG_FAM_MATMUL) && touches_16(nodes, n))
        return ref_run_16(be, nodes, n);
    return families[clg_op_family(n->op)](be, nodes, n);
}

/* Every op in core/ops.h: each family has its function above. */
static bool ref_supports_op(const clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    return (unsigned)n->op < CLG_OP_COUNT && families[clg_op_family(n->op)] != NULL;
}

/* Convolution here is direct loops (ref_conv.c): no workspaces, so no
 * workspaces hook. */
static const clg_backend_vtable ref_vtable = {
#ifdef CLG_REF_DOUBLE
    .kind = "reference64",
#else
    .kind = "reference",
#endif
    .destroy = ref_destroy,
    .buffer_alloc = ref_alloc,
    .buffer_free = ref_free,
    .buffer_retain = ref_retain,
    .buffer_write = ref_write,
    .buffer_read = ref_read,
    .buffer_fill = ref_fill,
    .run_node = ref_run,
    .synchronize = ref_sync,
    .timer = ref_timer,
    .supports_op = ref_supports_op,
};

clg_status REF(clg_reference_backend_create)(clg_context *ctx, clg_backend **out)
{
    clg_backend *be = calloc(1, sizeof *be);
    if (!be) return clg_error(ctx, CLG_ERR_OUT_OF_MEMORY, "reference: out of host memory");
    be->vt = &ref_vtable;
    be->ctx = ctx;
    be->max_buffer_bytes = (uint64_t)4 << 36; /* ref_alloc's limit */
#ifdef CLG_REF_DOUBLE
    strcpy(be->device, "reference64 (plain C on the host, in double; tests only)");
#else
    strcpy(be->device, "reference (plain C on the host)");
#endif
    strcpy(be->gemm, "plain C loops");
    *out = be;
    return CLG_OK;
}

#ifdef CLG_REF_DOUBLE
double *clg_ref64_data(const clg_buffer *buf) { return (double *)buf->data; }
#endif

#ifndef CLG_REF_DOUBLE
/* ---- the registry entry (core/backends.def): one device, "reference" ---- */

static int ref_device_count(void) { return 1; }

static clg_status ref_device_facts(int i, clg_device_facts *out)
{
    if (i != 0) return CLG_ERR_INVALID_ARGUMENT;
    strcpy(out->spec, "reference");
    strcpy(out->type, "host");
    strcpy(out->name, "plain C on the host");
    out->compute_units = 1; /* single-threaded */
    out->max_alloc_bytes = (uint64_t)4 << 36; /* ref_alloc's limit */
    return CLG_OK;
}

static clg_status ref_create(clg_context *ctx, const char *spec, clg_backend **out)
{
    if (strcmp(spec, "reference") != 0) return CLG_ERR_NOT_FOUND;
    return clg_reference_backend_create(ctx, out);
}

const clg_backend_reg clg_reference_backend = {
    .name = "reference",
    .spec_help = "reference",
    .device_count = ref_device_count,
    .device_facts = ref_device_facts,
    .create = ref_create,
};
#endif
