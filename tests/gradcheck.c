#include "gradcheck.h"

#include "half.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From the double build of the reference backend (tests/CMakeLists.txt). */
clg_status clg_reference_backend_create_f64(clg_context *ctx, clg_backend **out);
double *clg_ref64_data(const clg_buffer *buf);


#define GC_MAX_IN 8

void (*gc_device_hook)(clg_context *ctx);

typedef struct {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor in[GC_MAX_IN];
    clg_tensor y, loss;
    int64_t ny;
    bool any_param;
} gc_graph;

clg_context *gc_open(const char *spec)
{
    if (strcmp(spec, "reference64") != 0) return open_ctx(spec);
    clg_context *ctx = NULL;
    clg_status s = clg_context_create_backend(&ctx, clg_reference_backend_create_f64);
    if (s != CLG_OK) fail_msg("reference64: %s", clg_context_errmsg(ctx));
    return ctx;
}

void gc_make_inputs(const gc_input *in, int nin, uint64_t seed, float **values)
{
    rng_t r = {seed};
    for (int i = 0; i < nin; i++) {
        size_t n = (size_t)numel_of(in[i].ndim, in[i].shape);
        values[i] = malloc(n * sizeof(float));
        assert_non_null(values[i]);
        if (in[i].label_max > 0) {
            int32_t *l = (int32_t *)(void *)values[i];
            for (size_t k = 0; k < n; k++) l[k] = (int32_t)(rng_next(&r) % (uint64_t)in[i].label_max);
        } else {
            rng_fill(&r, values[i], n, in[i].lo, in[i].hi, in[i].positive);
        }
    }
}

static void build(gc_graph *G, const char *spec, gc_build_fn f, void *arg, const gc_input *in, int nin,
                  float *const *values, uint64_t seed, bool with_loss)
{
    assert_true(nin <= GC_MAX_IN);
    memset(G, 0, sizeof *G);
    G->ctx = gc_open(spec);
    if (gc_device_hook && strncmp(spec, "reference", 9) != 0) gc_device_hook(G->ctx);
    CHECK_OK(G->ctx, clg_graph_create(G->ctx, &G->g));
    for (int i = 0; i < nin; i++) {
        if (in[i].label_max > 0) G->in[i] = clg_labels(G->g, in[i].ndim, in[i].shape);
        else if (in[i].param) G->in[i] = clg_param(G->g, in[i].ndim, in[i].shape);
        else G->in[i] = clg_input(G->g, in[i].ndim, in[i].shape);
        G->any_param |= in[i].param;
    }
    CHECK_OK(G->ctx, clg_graph_status(G->g));
    G->y = f(G->g, G->in, arg);
    clg_tensor_keep(G->g, G->y); /* read after each run */
    CHECK_OK(G->ctx, clg_graph_status(G->g));
    G->ny = clg_tensor_numel(G->g, G->y);
    float *w = NULL;
    clg_tensor tw = CLG_NO_TENSOR;
    if (with_loss && G->any_param) {
        int64_t shape[CLG_MAX_DIMS];
        int nd = clg_tensor_ndim(G->g, G->y);
        for (int d = 0; d < nd; d++) shape[d] = clg_tensor_dim(G->g, G->y, d);
        tw = clg_input(G->g, nd, shape);
        G->loss = clg_sum(G->g, clg_mul(G->g, G->y, tw));
        CHECK_OK(G->ctx, clg_graph_status(G->g));
        CHECK_OK(G->ctx, clg_backward(G->g, G->loss));
        w = malloc((size_t)G->ny * sizeof(float));
        assert_non_null(w);
        rng_t r = {seed ^ 0x5eedf00dull};
        rng_fill(&r, w, (size_t)G->ny, 0.5, 1.5, false);
    }
    for (int i = 0; i < nin; i++) {
        size_t n = (size_t)numel_of(in[i].ndim, in[i].shape);
        if (in[i].label_max > 0) CHECK_OK(G->ctx, clg_tensor_set_i32(G->g, G->in[i], (const int32_t *)(void *)values[i], n));
        else CHECK_OK(G->ctx, clg_tensor_set(G->g, G->in[i], values[i], n));
    }
    if (w) {
        CHECK_OK(G->ctx, clg_tensor_set(G->g, tw, w, (size_t)G->ny));
        free(w);
    }
}

static void run(gc_graph *G, int phases)
{
    CHECK_OK(G->ctx, clg_graph_run(G->g, phases));
}

static float *get_y(gc_graph *G)
{
    float *y = malloc((size_t)G->ny * sizeof(float));
    assert_non_null(y);
    CHECK_OK(G->ctx, clg_tensor_get(G->g, G->y, y, (size_t)G->ny));
    return y;
}

static float *get_grad(gc_graph *G, int i, int64_t n)
{
    clg_tensor gt = clg_grad(G->g, G->in[i]);
    if (gt.id < 0) fail_msg("input %d: no gradient: %s", i, clg_context_errmsg(G->ctx));
    float *g = malloc((size_t)n * sizeof(float));
    assert_non_null(g);
    CHECK_OK(G->ctx, clg_tensor_get(G->g, gt, g, (size_t)n));
    return g;
}

static void compare(const char *what, const float *got, const double *want, int64_t n, double rtol, double atol_of_max)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > m) m = fabs(want[i]);
    assert_close_d(got, want, (size_t)n, rtol, atol_of_max * m, what);
}

static double *widen(const float *v, int64_t n)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof(double));
    assert_non_null(d);
    for (int64_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

/* Each parameter input's gradient on D against R's; label says which run. */
static void compare_grads(gc_graph *R, gc_graph *D, const gc_input *in, int nin, const char *label, double rtol,
                          double atol_of_max)
{
    char what[1200];
    for (int i = 0; i < nin; i++) {
        if (!in[i].param) continue;
        int64_t n = numel_of(in[i].ndim, in[i].shape);
        float *rg = get_grad(R, i, n), *dg = get_grad(D, i, n);
        double *rgd = widen(rg, n);
        snprintf(what, sizeof what, "%s: gradient of input %d", label, i);
        compare(what, dg, rgd, n, rtol, atol_of_max);
        free(rg);
        free(dg);
        free(rgd);
    }
}

void gc_check_devices(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                      uint64_t seed)
{
    char specs[16][32];
    int ndev = test_opencl_devices(specs, 16);
    float *values[GC_MAX_IN];
    gc_make_inputs(in, nin, seed, values);
    gc_graph R;
    build(&R, "reference", f, arg, in, nin, values, seed, true);
    run(&R, R.any_param ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD);
    float *ry = get_y(&R);
    double *ryd = widen(ry, R.ny);
    char what[1024];
    for (int d = 0; d < ndev; d++) {
        gc_graph D;
        build(&D, specs[d], f, arg, in, nin, values, seed, true);
        run(&D, D.any_param ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD);
        float *dy = get_y(&D);
        snprintf(what, sizeof what, "%s forward on %s vs reference (seed %llu)", name, specs[d], (unsigned long long)seed);
        compare(what, dy, ryd, R.ny, tol->fwd_rtol, tol->fwd_atol_of_max);
        free(dy);
        snprintf(what, sizeof what, "%s on %s vs reference (seed %llu)", name, specs[d], (unsigned long long)seed);
        compare_grads(&R, &D, in, nin, what, tol->grad_rtol, tol->grad_atol_of_max);
        clg_context_destroy(D.ctx);
    }
    free(ry);
    free(ryd);
    clg_context_destroy(R.ctx);
    for (int i = 0; i < nin; i++) free(values[i]);
}

void gc_check_fd(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                 uint64_t seed)
{
    float *values[GC_MAX_IN];
    gc_make_inputs(in, nin, seed, values);
    gc_graph D;
    build(&D, "reference64", f, arg, in, nin, values, seed, true);
    if (!D.any_param) fail_msg("%s: gc_check_fd needs at least one parameter input", name);
    run(&D, CLG_RUN_FORWARD | CLG_RUN_BACKWARD);
    const double h0 = tol->fd_h > 0 ? tol->fd_h : 1e-6;
    char what[1024];

    /* the double reference's own output and gradients, kept before probing */
    const clg_node *yn = &D.g->nodes[D.y.id];
    double *y64 = malloc((size_t)D.ny * sizeof(double));
    assert_non_null(y64);
    memcpy(y64, clg_ref64_data(yn->buf), (size_t)D.ny * sizeof(double));
    double *g64[GC_MAX_IN] = {0};
    for (int i = 0; i < nin; i++) {
        if (!in[i].param) continue;
        int64_t n = numel_of(in[i].ndim, in[i].shape);
        clg_tensor gt = clg_grad(D.g, D.in[i]);
        if (gt.id < 0) fail_msg("%s: input %d has no gradient: %s", name, i, clg_context_errmsg(D.ctx));
        g64[i] = malloc((size_t)n * sizeof(double));
        assert_non_null(g64[i]);
        memcpy(g64[i], clg_ref64_data(D.g->nodes[gt.id].buf), (size_t)n * sizeof(double));
    }

    for (int i = 0; i < nin; i++) {
        if (!in[i].param) continue;
        int64_t n = numel_of(in[i].ndim, in[i].shape);
        double *p = clg_ref64_data(D.g->nodes[D.in[i].id].buf);
        double *fd = malloc((size_t)n * sizeof(double));
        float *g32 = malloc((size_t)n * sizeof(float));
        assert_non_null(fd);
        assert_non_null(g32);
        for (int64_t j = 0; j < n; j++) {
            double keep = p[j], h = h0 * (fabs(keep) > 1 ? fabs(keep) : 1);
            p[j] = keep + h;
            run(&D, CLG_RUN_FORWARD);
            double lp = clg_ref64_data(D.g->nodes[D.loss.id].buf)[0];
            p[j] = keep - h;
            run(&D, CLG_RUN_FORWARD);
            double lm = clg_ref64_data(D.g->nodes[D.loss.id].buf)[0];
            p[j] = keep;
            fd[j] = (lp - lm) / (2 * h);
            g32[j] = (float)g64[i][j];
        }
        /* compare in double: narrow the analytic gradient only for the
         * message helper's sake, not the check */
        double m = 0;
        for (int64_t j = 0; j < n; j++)
            if (fabs(fd[j]) > m) m = fabs(fd[j]);
        for (int64_t j = 0; j < n; j++) {
            double diff = fabs(g64[i][j] - fd[j]);
            if (!(diff <= tol->fd_rtol * fabs(fd[j]) + tol->fd_atol_of_max * m))
                fail_msg("%s gradient of input %d vs finite differences in double (seed %llu): element %lld of %lld: "
                         "analytic %.12g, finite differences %.12g (|diff| %.3g)",
                         name, i, (unsigned long long)seed, (long long)j, (long long)n, g64[i][j], fd[j], diff);
        }
        free(fd);
        free(g32);
    }

    /* the float reference against the double one */
    gc_graph R;
    build(&R, "reference", f, arg, in, nin, values, seed, true);
    run(&R, CLG_RUN_FORWARD | CLG_RUN_BACKWARD);
    float *ry = get_y(&R);
    snprintf(what, sizeof what, "%s float reference forward vs double (seed %llu)", name, (unsigned long long)seed);
    compare(what, ry, y64, R.ny, tol->f32_rtol, tol->f32_atol_of_max);
    free(ry);
    for (int i = 0; i < nin; i++) {
        if (!in[i].param) continue;
        int64_t n = numel_of(in[i].ndim, in[i].shape);
        float *rg = get_grad(&R, i, n);
        snprintf(what, sizeof what, "%s float reference gradient of input %d vs double (seed %llu)", name, i,
                 (unsigned long long)seed);
        compare(what, rg, g64[i], n, tol->f32_rtol, tol->f32_atol_of_max);
        free(rg);
        free(g64[i]);
    }
    free(y64);
    clg_context_destroy(R.ctx);
    clg_context_destroy(D.ctx);
    for (int i = 0; i < nin; i++) free(values[i]);
}

float *gc_eval(const char *spec, gc_build_fn f, void *arg, const gc_input *in, int nin, const float *const *values,
               int64_t *count)
{
    gc_graph G;
    build(&G, spec, f, arg, in, nin, (float *const *)values, 0, false);
    run(&G, CLG_RUN_FORWARD);
    float *y = get_y(&G);
    *count = G.ny;
    clg_context_destroy(G.ctx);
    return y;
}

/* Op nodes of g that round to 16 bits (casts aside). */
static int roundings_16(const clg_graph *g)
{
    int k = 0;
    for (int32_t i = 0; i < g->n; i++) {
        const clg_node *n = &g->nodes[i];
        k += clg_dtype_16(n->dtype) && n->op != CLG_OP_CAST && clg_op_family(n->op) != CLG_FAM_LEAF;
    }
    return k;
}

int gc_check_16(const char *name, gc_build_fn f16, gc_build_fn f32, void *arg, bool bf16, const gc_input *in, int nin,
                const gc_tol *tol, uint64_t seed)
{
    char specs[17][32] = {"reference"};
    int ndev = 1 + test_opencl_devices(specs + 1, 16);
    float *values[GC_MAX_IN];
    gc_make_inputs(in, nin, seed, values);
    gc_graph R;
    build(&R, "reference", f32, arg, in, nin, values, seed, true);
    run(&R, R.any_param ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD);
    float *ry = get_y(&R);
    double *ryd = widen(ry, R.ny);
    const double u = bf16 ? 1.0 / 256 : 1.0 / 2048; /* unit roundoff: 2^-8, 2^-11 */
    char what[1024];
    int k = 0;
    for (int d = 0; d < ndev; d++) {
        gc_graph D;
        build(&D, specs[d], f16, arg, in, nin, values, seed, true);
        run(&D, D.any_param ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_FORWARD);
        k = roundings_16(D.g);
        float *dy = get_y(&D);
        /* one rounding: the float32 result rounded, bit for bit, on the
         * reference (a device's float32 result may differ by its ulps) */
        const bool exact = k == 1 && d == 0 && clg_dtype_16(D.g->nodes[D.y.id].dtype);
        for (int64_t j = 0; exact && j < R.ny; j++) {
            const float want = bf16 ? clg_bf16_to_float(clg_float_to_bf16(ry[j])) : clg_f16_to_float(clg_float_to_f16(ry[j]));
            if (memcmp(&dy[j], &want, sizeof want) != 0 && !(isnan(dy[j]) && isnan(want)))
                fail_msg("%s in %s on the reference: element %lld: %.9g, the float32 path's %.9g rounded is %.9g", name,
                         bf16 ? "bfloat16" : "float16", (long long)j, (double)dy[j], (double)ry[j], (double)want);
        }
        snprintf(what, sizeof what, "%s in %s (%d roundings) forward on %s vs the float32 path (seed %llu)", name,
                 bf16 ? "bfloat16" : "float16", k, specs[d], (unsigned long long)seed);
        compare(what, dy, ryd, R.ny, tol->fwd_rtol + 2 * k * u, tol->fwd_atol_of_max + 2 * k * u);
        free(dy);
        snprintf(what, sizeof what, "%s in %s (%d roundings) on %s vs the float32 path (seed %llu)", name,
                 bf16 ? "bfloat16" : "float16", k, specs[d], (unsigned long long)seed);
        compare_grads(&R, &D, in, nin, what, tol->grad_rtol + 2 * (k + 1) * u, tol->grad_atol_of_max + 2 * (k + 1) * u);
        clg_context_destroy(D.ctx);
    }
    free(ry);
    free(ryd);
    clg_context_destroy(R.ctx);
    for (int i = 0; i < nin; i++) free(values[i]);
    return k;
}
