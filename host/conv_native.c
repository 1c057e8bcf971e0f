/*
 * Convolutions by oneDNN on a CPU device (issue 11, items 3 and 4).
 *
 * oneDNN (Debian's libdnnl-dev, the library PyTorch's CPU convolutions
 * use) runs the convolution itself, forward, input gradient and weight
 * gradient, as a native kernel (host/native.c): in order on the device's
 * queue, on the buffers' own memory. Its fast kernels (jit:avx512_core
 * here) want blocked layouts (nChw16c): each tensor in clgrad's plain NCHW
 * / OIHW is reordered into the layout the primitive chose and back, inside
 * the same native kernel. On PoCL's 2 CI cores a 16-channel 3x3 layer ran
 * at about 460 GFLOP/s inside oneDNN, against 20-25 through im2col and the
 * host's BLAS; with plain layouts oneDNN itself falls back to im2col and a
 * GEMM (33-87 GFLOP/s).
 *
 * The algorithm is direct convolution (not Winograd): each output is the
 * same sum of products, in another order, so the matmul family's
 * tolerance holds (tests/test_conv.c runs every case through it on PoCL).
 *
 * Primitives are made the first time a geometry runs (oneDNN compiles its
 * kernels then) and kept with the context. A geometry oneDNN does not take
 * (clg_cl_conv_native_takes) runs through im2col: decided when the node is
 * recorded, so that its workspaces exist.
 *
 * Threads. Debian's oneDNN runs on OpenMP, whose threads spin for a few
 * milliseconds after each parallel region; PoCL's own worker threads
 * share the same cores, and the next kernel's work-groups wait for the
 * spinning thread's time slice to end: a 16-channel 28x28 layer's forward
 * and backward at batch 1 took 3.9 ms against 0.3-0.45 ms on one thread
 * (OMP_NUM_THREADS=1; bench/RESULTS.md). Below 2^24 flops per phase
 * (threads_for) a primitive is made and run on one thread, so no region
 * is opened; above, the threads are worth their spin. The calling
 * thread's OpenMP thread count is set for the call and restored after it.
 */
#include "conv_native.h"

#include "gemm.h"
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clg_status start_engine(clg_cl_backend *b);

clg_status clg_cl_conv_setup(clg_cl_backend *b)
{
    const char *env = clg_setting(b->base.ctx, CLG_SET_CONV);
    char src[64];
    clg_setting_source(b->base.ctx, CLG_SET_CONV, src, sizeof src);
    b->conv_forced = -1;
    if (env && *env && strcmp(env, "auto")) {
        for (int k = 0; k < CLG_CONV_PATHS; k++)
            if (!strcmp(env, clg_conv_path_names[k])) b->conv_forced = k;
        if (b->conv_forced < 0)
            return clg_error(b->base.ctx, CLG_ERR_INVALID_ARGUMENT,
                             "%s='%s' is not one of auto, im2col, direct, onednn, winograd", src, env);
    }
#ifdef CLG_HAVE_DNNL
    const bool onednn = b->natives;
#else
    const bool onednn = false;
#endif
    if (b->conv_forced == CLG_CONV_ONEDNN && !onednn)
        return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED,
                         "%s=onednn: %s cannot take oneDNN's convolutions (%s)", src, b->base.device,
#ifdef CLG_HAVE_DNNL
                         "not a CPU device that runs native kernels"
#else
                         "clgrad was built without oneDNN"
#endif
        );
    b->conv_native = onednn && (b->conv_forced < 0 || b->conv_forced == CLG_CONV_ONEDNN);
    if (b->conv_native) {
        clg_status st = start_engine(b);
        if (st != CLG_OK) return st;
    }
    /* a path named in CLGRAD_CONV keeps every convolution there */
    b->tune_convs = b->tune && b->conv_forced < 0;
    int tuned = b->tune_convs ? b->tune->nconvs : 0;
    const int def = b->conv_forced >= 0 ? b->conv_forced : b->conv_native ? CLG_CONV_ONEDNN : CLG_CONV_IM2COL;
    static const char *const says[CLG_CONV_PATHS] = {"im2col and the products", "direct kernels",
                                                     "oneDNN as native kernels",
                                                     "Winograd F(2x2,3x3) where a layer allows it, else im2col"};
    size_t len = strlen(b->base.gemm);
    snprintf(b->base.gemm + len, sizeof b->base.gemm - len, "; convolutions by %s%s", says[def],
             tuned ? ", or as tuned per layer" : "");
    return CLG_OK;
}

bool clg_cl_winograd_takes(const clg_conv_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1;
}

int clg_cl_conv_path(const clg_cl_backend *b, const clg_conv_geom *g)
{
    const int fallback = b->conv_native ? CLG_CONV_ONEDNN : CLG_CONV_IM2COL;
    int path = fallback;
    if (b->conv_forced >= 0)
        path = b->conv_forced;
    else if (b->tune_convs) {
        const int64_t key[13] = {g->n, g->c, g->h, g->w, g->oc, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw};
        const clg_tune_conv *c = clg_tune_find_conv(b->tune, key);
        if (c && (c->path != CLG_CONV_ONEDNN || b->conv_native)) path = c->path;
    }
    return path == CLG_CONV_WINOGRAD && !clg_cl_winograd_takes(g) ? fallback : path;
}

#ifdef CLG_HAVE_DNNL
#include <dnnl.h>
#ifdef CLG_HAVE_OMP
#include <omp.h>
#endif

#define MAX_ARGS 4

/* One primitive: a phase of one geometry, with the reorders around it. */
typedef struct conv_prim {
    struct conv_prim *next;
    int phase;
    bool bias;
    int threads; /* OpenMP threads it was made for and runs on (0: OpenMP's own count) */
    clg_conv_geom g;
    dnnl_primitive_t conv;
    int nargs;
    struct {
        int arg;                   /* DNNL_ARG_* */
        bool out;                  /* written by the convolution */
        dnnl_memory_t user, inner; /* clgrad's layout, the primitive's (NULL: the same) */
        dnnl_primitive_t reorder;  /* user -> inner for inputs, inner -> user for outputs */
    } a[MAX_ARGS];
    volatile int failed; /* set by the native kernel; reported by the next enqueue */
} conv_prim;

struct clg_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    conv_prim *prims;
};

static const char *dnnl_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "dnnl_success";
    case dnnl_out_of_memory: return "dnnl_out_of_memory";
    case dnnl_invalid_arguments: return "dnnl_invalid_arguments";
    case dnnl_unimplemented: return "dnnl_unimplemented";
    case dnnl_iterator_ends: return "dnnl_iterator_ends";
    case dnnl_runtime_error: return "dnnl_runtime_error";
    case dnnl_not_required: return "dnnl_not_required";
    default: return "unknown oneDNN status";
    }
}

/* The layouts oneDNN sees: x [N, C, H, W], w [OC, C, KH, KW], y [N, OC,
 * OH, OW]; padding on the right/bottom is what makes the output sizes
 * come out (negative where the last inputs are not reached). */
typedef struct conv_desc {
    dnnl_memory_desc_t x, w, b, y;       /* "any": the primitive chooses */
    dnnl_memory_desc_t px, pw, pb, py;   /* clgrad's plain layouts */
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_desc;

static dnnl_status_t describe(const clg_conv_geom *g, conv_desc *d)
{
    const dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, wd = {g->oc, g->c, g->kh, g->kw},
                      yd = {g->n, g->oc, g->oh, g->ow}, bd = {g->oc};
    dnnl_status_t s = dnnl_success;
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->x, 4, xd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->w, 4, wd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->y, 4, yd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->b, 1, bd, dnnl_f32, dnnl_a);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->px, 4, xd, dnnl_f32, dnnl_nchw);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->pw, 4, wd, dnnl_f32, dnnl_oihw);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&d->py, 4, yd, dnnl_f32, dnnl_nchw);
    d->pb = d->b;
    d->strides[0] = g->sh, d->strides[1] = g->sw;
    d->dilates[0] = g->dh - 1, d->dilates[1] = g->dw - 1;
    d->pad_l[0] = g->ph, d->pad_l[1] = g->pw;
    d->pad_r[0] = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph;
    d->pad_r[1] = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw;
    return s;
}

/* The primitive descriptor of one phase (a forward one as the backward
 * phases' hint); *pd NULL on failure. */
static dnnl_status_t make_pd(dnnl_engine_t eng, int phase, bool bias, conv_desc *d, dnnl_primitive_desc_t *pd)
{
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t hint = NULL;
    *pd = NULL;
    dnnl_status_t s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                                 &d->x, &d->w, bias ? &d->b : NULL, &d->y,
                                                                 d->strides, d->dilates, d->pad_l, d->pad_r);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(phase == CLG_CONV_FORWARD ? pd : &hint, &cd, NULL, eng, NULL);
    if (s != dnnl_success || phase == CLG_CONV_FORWARD) return s;
    if (phase == CLG_CONV_INPUT_GRAD)
        s = dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d->x, &d->w, &d->y,
                                                              d->strides, d->dilates, d->pad_l, d->pad_r);
    else
        s = dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &d->x, &d->w, NULL,
                                                                 &d->y, d->strides, d->dilates, d->pad_l, d->pad_r);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, NULL, eng, hint);
    dnnl_primitive_desc_destroy(hint);
    return s;
}

static void free_prim(conv_prim *p)
{
    for (int i = 0; i < p->nargs; i++) {
        if (p->a[i].reorder) dnnl_primitive_destroy(p->a[i].reorder);
        if (p->a[i].inner) dnnl_memory_destroy(p->a[i].inner);
        if (p->a[i].user) dnnl_memory_destroy(p->a[i].user);
    }
    if (p->conv) dnnl_primitive_destroy(p->conv);
    free(p);
}

/* Adds argument `arg` (clgrad's layout plain, the primitive's the pd's
 * query `what`) to p, with a reorder where the two differ. */
static dnnl_status_t add_arg(struct clg_dnnl *e, conv_prim *p, const_dnnl_primitive_desc_t pd, int arg,
                             dnnl_query_t what, int index, const dnnl_memory_desc_t *plain, bool out)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, index);
    int i = p->nargs++;
    p->a[i].arg = arg;
    p->a[i].out = out;
    dnnl_status_t s = dnnl_memory_create(&p->a[i].user, plain, e->engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success || !md || dnnl_memory_desc_equal(md, plain)) return s;
    s = dnnl_memory_create(&p->a[i].inner, md, e->engine, DNNL_MEMORY_ALLOCATE);
    dnnl_primitive_desc_t rpd = NULL;
    if (s == dnnl_success)
        s = out ? dnnl_reorder_primitive_desc_create(&rpd, md, e->engine, plain, e->engine, NULL)
                : dnnl_reorder_primitive_desc_create(&rpd, plain, e->engine, md, e->engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->a[i].reorder, rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return s;
}

static clg_status engine(clg_cl_backend *b, struct clg_dnnl **out)
{
    if (!b->dnnl) {
        struct clg_dnnl *e = calloc(1, sizeof *e);
        if (!e) return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "oneDNN convolution: out of host memory");
        dnnl_status_t s = dnnl_engine_create(&e->engine, dnnl_cpu, 0);
        if (s == dnnl_success) s = dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags);
        if (s != dnnl_success) {
            if (e->engine) dnnl_engine_destroy(e->engine);
            free(e);
            return clg_error(b->base.ctx, CLG_ERR_DEVICE, "oneDNN convolution: no CPU engine (%s)", dnnl_name(s));
        }
        b->dnnl = e;
    }
    *out = b->dnnl;
    return CLG_OK;
}

static const char *const phase_names[] = {"forward", "input gradient", "weight gradient"};

/* One thread for a phase of under 2^24 flops (see the top of the file),
 * else 0: OpenMP's own count. Every phase does the forward's flops. On the
 * CI machine one thread won clearly at 3.6 and 14 Mflop per phase (16
 * channels in and out, batch 1 and 4: 0.2-0.45 ms against 3.9 forward and
 * backward), mostly at 58 and 116; for the CNN's layers (29 Mflop and up)
 * the step time did not tell the lines 2^24, 2^26 and 2^27 apart (8 and 4
 * alternated runs), and with one channel in, one thread lost by a fifth
 * at 115 Mflop (clgrad-tune): the line stays low. */
static int threads_for(const clg_conv_geom *g)
{
    const double flops =
        2.0 * (double)g->n * (double)g->oc * (double)(g->oh * g->ow) * (double)g->c * (double)(g->kh * g->kw);
    return flops < 16777216.0 ? 1 : 0;
}

/* Sets the calling thread's OpenMP thread count to `threads` (unless 0)
 * and returns what to restore (0: nothing). */
static int threads_enter(int threads)
{
#ifdef CLG_HAVE_OMP
    if (!threads) return 0;
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    return before;
#else
    (void)threads;
    return 0;
#endif
}

static void threads_leave(int before)
{
#ifdef CLG_HAVE_OMP
    if (before) omp_set_num_threads(before);
#else
    (void)before;
#endif
}

/* The primitive of this phase and geometry, made on first use. */
static clg_status get_prim(clg_cl_backend *b, int phase, bool bias, const clg_conv_geom *g, conv_prim **out)
{
    struct clg_dnnl *e;
    clg_status st = engine(b, &e);
    if (st != CLG_OK) return st;
    for (conv_prim *p = e->prims; p; p = p->next)
        if (p->phase == phase && p->bias == bias && !memcmp(&p->g, g, sizeof *g)) {
            if (!p->conv) {
                *out = NULL; /* a geometry oneDNN does not take */
                return CLG_OK;
            }
            if (p->failed)
                return clg_error(b->base.ctx, CLG_ERR_DEVICE,
                                 "oneDNN convolution (%s, [%lld,%lld,%lld,%lld] by %lldx%lld to %lld channels) failed "
                                 "when it last ran",
                                 phase_names[phase], (long long)g->n, (long long)g->c, (long long)g->h,
                                 (long long)g->w, (long long)g->kh, (long long)g->kw, (long long)g->oc);
            *out = p;
            return CLG_OK;
        }
    conv_prim *p = calloc(1, sizeof *p);
    if (!p) return clg_error(b->base.ctx, CLG_ERR_OUT_OF_MEMORY, "oneDNN convolution: out of host memory");
    p->phase = phase;
    p->bias = bias;
    p->threads = threads_for(g);
    p->g = *g;
    conv_desc d;
    dnnl_primitive_desc_t pd = NULL;
    /* oneDNN fixes a primitive's thread count when it is made */
    const int restore = threads_enter(p->threads);
    dnnl_status_t s = describe(g, &d);
    if (s == dnnl_success) s = make_pd(e->engine, phase, bias, &d, &pd);
    if (s == dnnl_unimplemented) {
        threads_leave(restore);
        /* remembered, so that the next run does not ask again: im2col runs it */
        p->next = e->prims;
        e->prims = p;
        *out = NULL;
        return CLG_OK;
    }
    if (s == dnnl_success) s = dnnl_primitive_create(&p->conv, pd);
    /* inputs first, in the order the native kernel reorders them */
    if (s == dnnl_success && phase == CLG_CONV_FORWARD) {
        s = add_arg(e, p, pd, DNNL_ARG_SRC, dnnl_query_src_md, 0, &d.px, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &d.pw, false);
        if (s == dnnl_success && bias) s = add_arg(e, p, pd, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, &d.pb, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_DST, dnnl_query_dst_md, 0, &d.py, true);
    } else if (s == dnnl_success && phase == CLG_CONV_INPUT_GRAD) {
        s = add_arg(e, p, pd, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &d.py, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &d.pw, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, &d.px, true);
    } else if (s == dnnl_success) {
        s = add_arg(e, p, pd, DNNL_ARG_SRC, dnnl_query_src_md, 0, &d.px, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &d.py, false);
        if (s == dnnl_success) s = add_arg(e, p, pd, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, &d.pw, true);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    threads_leave(restore);
    if (s != dnnl_success) {
        free_prim(p);
        return clg_error(b->base.ctx, s == dnnl_out_of_memory ? CLG_ERR_OUT_OF_MEMORY : CLG_ERR_DEVICE,
                         "oneDNN convolution (%s, [%lld,%lld,%lld,%lld] by %lldx%lld to %lld channels): %s",
                         phase_names[phase], (long long)g->n, (long long)g->c, (long long)g->h, (long long)g->w,
                         (long long)g->kh, (long long)g->kw, (long long)g->oc, dnnl_name(s));
    }
    p->next = e->prims;
    e->prims = p;
    *out = p;
    return CLG_OK;
}

/* What the native kernel reads (a copy is made at enqueue). */
typedef struct native_conv {
    void *slot[MAX_ARGS]; /* the driver's to overwrite (host/native.c) */
    conv_prim *p;
    dnnl_stream_t stream;
    float *ptr[MAX_ARGS]; /* each argument's data, in p->a's order */
} native_conv;

static void CL_CALLBACK run_native_conv(void *v)
{
    const native_conv *c = v;
    conv_prim *p = c->p;
    dnnl_exec_arg_t args[MAX_ARGS];
    dnnl_status_t s = dnnl_success;
    const int restore = threads_enter(p->threads); /* the reorders read it as they run */
    for (int i = 0; i < p->nargs && s == dnnl_success; i++) {
        s = dnnl_memory_set_data_handle(p->a[i].user, c->ptr[i]);
        args[i].arg = p->a[i].arg;
        args[i].memory = p->a[i].inner ? p->a[i].inner : p->a[i].user;
        if (s == dnnl_success && p->a[i].reorder && !p->a[i].out) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->a[i].user}, {DNNL_ARG_TO, p->a[i].inner}};
            s = dnnl_primitive_execute(p->a[i].reorder, c->stream, 2, r);
        }
    }
    if (s == dnnl_success) s = dnnl_primitive_execute(p->conv, c->stream, p->nargs, args);
    for (int i = 0; i < p->nargs && s == dnnl_success; i++)
        if (p->a[i].reorder && p->a[i].out) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->a[i].inner}, {DNNL_ARG_TO, p->a[i].user}};
            s = dnnl_primitive_execute(p->a[i].reorder, c->stream, 2, r);
        }
    if (s == dnnl_success) s = dnnl_stream_wait(c->stream);
    threads_leave(restore);
    if (s != dnnl_success) p->failed = 1;
}

/* oneDNN 2.6.3's backward-data convolution (x64:gemm:jit) with a stride
 * and a dilation both above 1 returned dnnl_invalid_arguments, then wrote
 * out of bounds (a crash in its memset; x [2,2,7,9] by [3,2,3,3], stride 2,
 * dilation 2, padding 1, 2026-12-02): such convolutions take clgrad's own
 * kernels, every phase (one path per node). Its forward crashed too (a
 * segmentation fault in a parallel_nd of its jit kernels) when a padding
 * reaches the dilated kernel's extent (k - 1) d + 1: kernels 1, 2, 3 with
 * paddings 1, 2, 3, kernel 2 dilation 2 with padding 3; not with padding
 * 2 there, nor with padding k - 1 (seen 2026-12-03, x [1,3,6,6]). On a
 * CPU without AVX-512 (an AMD EPYC, where it picks jit:avx2) its
 * backward-weights convolution crashed in a memset with dilation 2 and
 * stride 1 (x [2,3,7,9] by [4,3,3,3], padding 2; test_conv, 2026-12-03).
 * So no dilated convolution goes to oneDNN: none of the benchmarked
 * models has one. */
static bool avoided(const clg_conv_geom *g)
{
    const bool pad_beyond = g->ph >= (g->kh - 1) * g->dh + 1 || g->pw >= (g->kw - 1) * g->dw + 1;
    return pad_beyond || g->dh > 1 || g->dw > 1;
}

bool clg_cl_conv_native_takes(const clg_cl_backend *b, const clg_conv_geom *g)
{
    if (!b->conv_native || !b->dnnl || avoided(g)) return false;
    /* every phase must be made, bias or not: asked once per node recorded */
    conv_desc d;
    if (describe(g, &d) != dnnl_success) return false;
    for (int phase = 0; phase < 3; phase++) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_status_t s = make_pd(b->dnnl->engine, phase, phase == CLG_CONV_FORWARD, &d, &pd);
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (s != dnnl_success) return false;
    }
    return true;
}

clg_status clg_cl_conv_native(clg_cl_backend *b, int phase, const clg_conv_geom *g, cl_mem in0, cl_mem in1,
                              cl_mem bias, cl_mem out, bool *taken)
{
    conv_prim *p;
    *taken = false;
    if (avoided(g)) return CLG_OK;
    clg_status st = get_prim(b, phase, bias != NULL, g, &p);
    if (st != CLG_OK || !p) return st;
    *taken = true;
    /* a plan being recorded cannot hold a native kernel: the node runs on its own */
    if (clg_cl_opaque(b)) return CLG_OK;
    native_conv c = {.p = p, .stream = b->dnnl->stream};
    cl_mem mems[MAX_ARGS] = {in0, in1}, list[MAX_ARGS];
    int n = 2;
    if (bias) mems[n++] = bias;
    mems[n++] = out;
    cl_uint count;
    st = clg_cl_native_buffers(b, mems, n, c.ptr, list, &count);
    if (st != CLG_OK) return st;
    char what[64];
    snprintf(what, sizeof what, "oneDNN convolution, %s", phase_names[phase]);
    return clg_cl_native_enqueue(b, run_native_conv, &c, sizeof c, c.slot, list, count, what);
}

static clg_status start_engine(clg_cl_backend *b)
{
    struct clg_dnnl *e;
    return engine(b, &e);
}

void clg_cl_conv_native_release(clg_cl_backend *b)
{
    struct clg_dnnl *e = b->dnnl;
    if (!e) return;
    for (conv_prim *p = e->prims, *next; p; p = next) {
        next = p->next;
        free_prim(p);
    }
    dnnl_stream_destroy(e->stream);
    dnnl_engine_destroy(e->engine);
    free(e);
    b->dnnl = NULL;
}

#else

static clg_status start_engine(clg_cl_backend *b)
{
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "oneDNN convolution: clgrad was built without oneDNN");
}

bool clg_cl_conv_native_takes(const clg_cl_backend *b, const clg_conv_geom *g)
{
    return false;
}

clg_status clg_cl_conv_native(clg_cl_backend *b, int phase, const clg_conv_geom *g, cl_mem in0, cl_mem in1,
                              cl_mem bias, cl_mem out, bool *taken)
{
    *taken = false;
    return clg_error(b->base.ctx, CLG_ERR_UNSUPPORTED, "oneDNN convolution: clgrad was built without oneDNN");
}

void clg_cl_conv_native_release(clg_cl_backend *b)
{
}

#endif
