/*
 * Fused kernels (host/cl_fuse.c) against the same graphs run unfused
 * (CLGRAD_FUSION=off), on every OpenCL device: every fusable op in a chain
 * with broadcasting on both sides, random elementwise DAGs with tensors
 * used inside and outside the groups and kept ones, trained with in-place
 * optimizer updates; every optimizer's updates batched into one launch
 * (with and without clipping); small networks whose reductions take an
 * elementwise prologue (a bias's reduce_to, batch norm's sums behind
 * pooling's and ReLU's gradients) and whose batch norm takes its ReLU,
 * trained, evaluated and trained again. The fused kernels expand the same
 * math macros and per-element functions as the op kernels (cl/common.cl),
 * so the results must be equal bit for bit. Also: the fused graph enqueues fewer kernels, a fused graph
 * run again on new inputs equals a fresh graph, and CLGRAD_FUSION_DUMP
 * writes the generated source.
 *
 * A fused program that fails to build (clBuildProgram wrapped by the
 * linker here, --wrap) is an error naming the compiler log and the path of
 * its source, and the graph runs once the build works.
 *
 * The environment is changed only between contexts, before any run: PoCL's
 * threads read it while they run kernels.
 */
#define _GNU_SOURCE /* setenv, mkdtemp */
#include "util.h"

#include "cl_common.h" /* OpenCL types for the clBuildProgram wrapper */

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { R = 7, C = 33, NPARAM = 4 };

/* clBuildProgram, through the linker's --wrap: fails while fail_builds */
static bool fail_builds;
cl_int __real_clBuildProgram(cl_program p, cl_uint n, const cl_device_id *d, const char *opt,
                             void(CL_CALLBACK *notify)(cl_program, void *), void *data);
cl_int __wrap_clBuildProgram(cl_program p, cl_uint n, const cl_device_id *d, const char *opt,
                             void(CL_CALLBACK *notify)(cl_program, void *), void *data)
{
    cl_int err = __real_clBuildProgram(p, n, d, opt, notify, data);
    return fail_builds ? CL_BUILD_PROGRAM_FAILURE : err;
}

typedef struct {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor p[NPARAM]; /* [R,C], [C], [R,1], [1] */
    clg_tensor x;         /* input [R,C] */
    clg_tensor loss;
    clg_tensor kept[4];
    int nkept;
    clg_elem lowp; /* random_dag: x and the parameters cast to this first (0: float32) */
} fgraph;

typedef clg_tensor (*build_fn)(fgraph *f, void *arg);

static clg_context *ctx_with_fusion(const char *spec, bool fused)
{
    if (!fused) setenv("CLGRAD_FUSION", "off", 1);
    clg_context *ctx = open_ctx(spec);
    if (!fused) unsetenv("CLGRAD_FUSION");
    return ctx;
}

/* opt NULL: Adam when adam, else clg_sgd; else that optimizer */
static const clg_optimizer_config *opt_for_next_build;

static clg_elem lowp_for_next_build;

static void fbuild(fgraph *f, clg_context *ctx, build_fn body, void *arg, bool adam)
{
    memset(f, 0, sizeof *f);
    f->lowp = lowp_for_next_build;
    f->ctx = ctx;
    CHECK_OK(ctx, clg_graph_create(ctx, &f->g));
    const int64_t rc[2] = {R, C}, c1 = C, r1[2] = {R, 1}, one = 1;
    f->x = clg_input(f->g, 2, rc);
    f->p[0] = clg_param(f->g, 2, rc);
    f->p[1] = clg_param(f->g, 1, &c1);
    f->p[2] = clg_param(f->g, 2, r1);
    f->p[3] = clg_param(f->g, 1, &one);
    f->loss = body(f, arg);
    CHECK_OK(ctx, clg_graph_status(f->g));
    CHECK_OK(ctx, clg_backward(f->g, f->loss));
    if (opt_for_next_build) {
        CHECK_OK(ctx, clg_optimizer(f->g, opt_for_next_build));
    } else if (adam) {
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.lr = 0.01f;
        CHECK_OK(ctx, clg_optimizer(f->g, &c));
    } else {
        CHECK_OK(ctx, clg_sgd(f->g, 0.05f));
    }
}

/* Sets the inputs from seed, runs `steps` training steps; the losses, the
 * kept tensors and the parameters into out. */
static size_t frun(clg_context *ctx, fgraph *f, uint64_t seed, int steps, float *out)
{
    float v[R * C];
    rng_t q = {seed};
    size_t k = 0;
    rng_fill(&q, v, R * C, 0.5, 1.5, true);
    CHECK_OK(ctx, clg_tensor_set(f->g, f->x, v, R * C));
    for (int i = 0; i < NPARAM; i++) {
        size_t n = (size_t)clg_tensor_numel(f->g, f->p[i]);
        rng_fill(&q, v, n, 0.5, 1.5, true);
        CHECK_OK(ctx, clg_tensor_set(f->g, f->p[i], v, n));
    }
    for (int s = 0; s < steps; s++) {
        CHECK_OK(ctx, clg_graph_run(f->g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(f->g, f->loss, &out[k++], 1));
        for (int i = 0; i < f->nkept; i++) {
            size_t n = (size_t)clg_tensor_numel(f->g, f->kept[i]);
            CHECK_OK(ctx, clg_tensor_get(f->g, f->kept[i], &out[k], n));
            k += n;
        }
    }
    for (int i = 0; i < NPARAM; i++) {
        size_t n = (size_t)clg_tensor_numel(f->g, f->p[i]);
        CHECK_OK(ctx, clg_tensor_get(f->g, f->p[i], &out[k], n));
        k += n;
    }
    return k;
}

#define MAXV 8192

/* Builds body fused and unfused on spec, trains both, compares bit for bit;
 * returns the kernels each enqueued for the training. */
static void compare_on(const char *spec, const char *what, build_fn body, void *arg, bool adam, uint64_t seed,
                       uint64_t *fused_launches, uint64_t *plain_launches)
{
    clg_context *cf = ctx_with_fusion(spec, true), *cu = ctx_with_fusion(spec, false);
    fgraph ff, fu;
    fbuild(&ff, cf, body, arg, adam);
    fbuild(&fu, cu, body, arg, adam);
    float *a = malloc(MAXV * sizeof *a), *b = malloc(MAXV * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t l0 = clg_context_launches(cf), m0 = clg_context_launches(cu);
    size_t na = frun(cf, &ff, seed, 3, a), nb = frun(cu, &fu, seed, 3, b);
    if (fused_launches) *fused_launches = clg_context_launches(cf) - l0;
    if (plain_launches) *plain_launches = clg_context_launches(cu) - m0;
    assert_int_equal(na, nb);
    assert_true(na <= MAXV);
    for (size_t i = 0; i < na; i++) {
        /* finite, or the comparison says nothing (a NaN's sign is unspecified) */
        if (!isfinite(a[i])) fail_msg("%s on %s: value %zu is %g (the test's graph must stay finite)", what, spec, i, (double)a[i]);
        if (memcmp(&a[i], &b[i], sizeof *a))
            fail_msg("%s on %s: value %zu fused %.9g, unfused %.9g", what, spec, i, (double)a[i], (double)b[i]);
    }
    free(a);
    free(b);
    clg_context_destroy(cf);
    clg_context_destroy(cu);
}

/* fn on every OpenCL device */
static void on_opencl_devices(void (*fn)(const char *spec))
{
    char specs[8][32];
    int n = test_opencl_devices(specs, 8);
    for (int i = 0; i < n; i++) fn(specs[i]);
}

/* ---- every fusable op in a chain ---- */

typedef enum {
    F_ADD, F_SUB, F_MUL, F_DIV, F_NEG, F_SCALE, F_SQUARE, F_EXP, F_LOG, F_SQRT, F_RELU, F_SIGMOID, F_TANH,
    F_LEAKY_RELU, F_GELU, F_SILU, F_SOFTPLUS, F_GELU_ERF, F_ABS, F_MAXIMUM, F_MINIMUM, F_COMPARE, F_POW, F_COUNT
} fop;

static const char *const fop_names[F_COUNT] = {"add", "sub", "mul", "div", "neg", "scale", "square", "exp", "log",
                                                "sqrt", "relu", "sigmoid", "tanh", "leaky_relu", "gelu", "silu",
                                                "softplus", "gelu_erf", "abs", "maximum", "minimum",
                                                "compare", "pow"};

/* op applied to a (and b for binary ops); inputs in (0.5, 2.5) keep log,
 * sqrt and div finite */
static clg_tensor apply(clg_graph *g, int op, clg_tensor a, clg_tensor b)
{
    switch (op) {
    case F_ADD: return clg_add(g, a, b);
    case F_SUB: return clg_sub(g, a, b);
    case F_MUL: return clg_mul(g, a, b);
    case F_DIV: return clg_div(g, a, b);
    case F_NEG: return clg_neg(g, a);
    case F_SCALE: return clg_scale(g, a, -1.7f);
    case F_SQUARE: return clg_square(g, a);
    case F_EXP: return clg_exp(g, a);
    case F_LOG: return clg_log(g, a);
    case F_SQRT: return clg_sqrt(g, a);
    case F_RELU: return clg_relu(g, clg_sub(g, a, b)); /* both signs */
    case F_SIGMOID: return clg_sigmoid(g, a);
    case F_TANH: return clg_tanh(g, a);
    case F_LEAKY_RELU: return clg_leaky_relu(g, clg_sub(g, a, b), 0.07f);
    case F_GELU: return clg_gelu(g, clg_sub(g, a, b));
    case F_SILU: return clg_silu(g, clg_sub(g, a, b));
    case F_SOFTPLUS: return clg_softplus(g, clg_sub(g, a, b));
    case F_GELU_ERF: return clg_gelu_erf(g, clg_sub(g, a, b));
    case F_ABS: return clg_abs(g, clg_sub(g, a, b));
    case F_MAXIMUM: return clg_maximum(g, a, b);
    case F_MINIMUM: return clg_minimum(g, a, b);
    case F_COMPARE: return clg_mul(g, a, clg_compare(g, a, b, CLG_LE)); /* a mask fused in */
    default: return clg_pow(g, clg_abs(g, a), 1.5f); /* defined whatever training does to a */
    }
}

typedef struct {
    int op;
    bool left; /* the broadcast operand on the left */
} chain_arg;

/* t1 = x + p0 + row p1 (read again outside the chain), t2 = op(t1, col p2)
 * or op(col p2, t1), t3 = sigmoid(t2) * scalar p3: one group forward, the
 * gradients a group backward. */
static clg_tensor chain(fgraph *f, void *arg)
{
    const chain_arg *c = arg;
    clg_graph *g = f->g;
    clg_tensor t1 = clg_add(g, clg_add(g, f->x, f->p[0]), f->p[1]);
    clg_tensor t2 = c->left ? apply(g, c->op, f->p[2], t1) : apply(g, c->op, t1, f->p[2]);
    clg_tensor t3 = clg_mul(g, clg_sigmoid(g, t2), f->p[3]);
    f->kept[f->nkept++] = t3;
    CHECK_OK(f->ctx, clg_tensor_keep(g, t3));
    return clg_add(g, clg_sum(g, t3), clg_mean(g, clg_square(g, t1)));
}

static void chains_on(const char *spec)
{
    for (int op = 0; op < F_COUNT; op++)
        for (int left = 0; left < 2; left++) {
            chain_arg c = {op, left != 0};
            char what[64];
            snprintf(what, sizeof what, "chain with %s%s", fop_names[op], left ? " (broadcast on the left)" : "");
            uint64_t lf, lu;
            compare_on(spec, what, chain, &c, op % 2 == 0, 100 + (uint64_t)op, &lf, &lu);
            if (!(lf < lu)) fail_msg("%s on %s: %llu kernels fused, %llu unfused", what, spec, (unsigned long long)lf,
                                     (unsigned long long)lu);
        }
}

static void test_every_op_in_a_chain(void **s) { on_opencl_devices(chains_on); }

/* ---- ranks past 4 ---- */

/* x viewed as [7, 1, 3, 1, 11, 1] times p1 viewed as [3, 1, 1, 11]: a
 * 6-D [7, 1, 3, 1, 11, 11] with each operand stretched along an interior
 * axis, plus p2 as [7, 1, 1, 1, 1, 1] and the 0-d p3 (view of [1]); the
 * gradients sum back over those axes (reduce_to groups at rank 6). */
static clg_tensor high_rank(fgraph *f, void *arg)
{
    (void)arg;
    clg_graph *g = f->g;
    const int64_t xs[6] = {R, 1, 3, 1, C / 3, 1}, ps[4] = {3, 1, 1, C / 3}, cs[6] = {R, 1, 1, 1, 1, 1};
    clg_tensor u = clg_mul(g, clg_reshape(g, f->x, 6, xs), clg_reshape(g, f->p[1], 4, ps));
    clg_tensor v = clg_add(g, u, clg_reshape(g, f->p[2], 6, cs));
    clg_tensor w = clg_mul(g, clg_tanh(g, v), clg_reshape(g, f->p[3], 0, NULL));
    f->kept[f->nkept++] = w;
    CHECK_OK(f->ctx, clg_tensor_keep(g, w));
    return clg_add(g, clg_sum(g, w), clg_mean(g, clg_square(g, clg_sigmoid(g, u))));
}

static void high_rank_on(const char *spec)
{
    uint64_t lf, lu;
    compare_on(spec, "6-D broadcasts", high_rank, NULL, false, 77, &lf, &lu);
    if (!(lf < lu)) fail_msg("6-D broadcasts on %s: %llu kernels fused, %llu unfused", spec, (unsigned long long)lf,
                             (unsigned long long)lu);
}

static void test_high_rank(void **s) { on_opencl_devices(high_rank_on); }

/* ---- random DAGs ---- */

static clg_tensor random_dag(fgraph *f, void *arg)
{
    uint64_t seed = *(const uint64_t *)arg;
    rng_t q = {seed};
    clg_graph *g = f->g;
    /* in 16 bits: every op rounds its result, the groups in registers,
     * and so must equal the ops run alone (each its own kernel) */
    clg_tensor x = f->x, p[NPARAM];
    for (int i = 0; i < NPARAM; i++) p[i] = f->p[i];
    if (f->lowp) {
        x = clg_cast(g, x, f->lowp);
        for (int i = 0; i < NPARAM; i++) p[i] = clg_cast(g, p[i], f->lowp);
    }
    clg_tensor t[96];
    int nt = 0;
    t[nt++] = clg_add(g, x, p[0]);
    t[nt++] = clg_mul(g, x, p[1]);
    t[nt++] = clg_sigmoid(g, p[2]);
    /* 16-bit: fewer, as unfused each is a kernel PoCL compiles on first use */
    int nops = f->lowp ? 8 + (int)(rng_next(&q) % 8) : 20 + (int)(rng_next(&q) % 60);
    for (int k = 0; k < nops && nt < 96; k++) {
        /* mostly the newest tensors (long chains), sometimes old ones
         * (tensors read inside and outside a group) or a parameter */
        clg_tensor a = t[rng_next(&q) % 3 ? nt - 1 - (int)(rng_next(&q) % (nt < 3 ? nt : 3)) : (int)(rng_next(&q) % nt)];
        clg_tensor b = rng_next(&q) % 4 ? t[rng_next(&q) % nt] : p[1 + rng_next(&q) % 3];
        /* bounded: every unbounded op is followed by a squashing one */
        int op = (int)(rng_next(&q) % F_COUNT);
        /* positive and bounded, however training moves p3 */
        if (op == F_EXP || op == F_LOG || op == F_SQRT || op == F_DIV) a = clg_add(g, clg_sigmoid(g, a), clg_sigmoid(g, p[3]));
        if (op == F_DIV) b = clg_add(g, clg_sigmoid(g, b), clg_sigmoid(g, p[3]));
        clg_tensor y = clg_tanh(g, apply(g, op, a, b));
        if (y.id >= 0) t[nt++] = y;
        if (rng_next(&q) % 16 == 0 && f->nkept < 4) {
            f->kept[f->nkept++] = y;
            CHECK_OK(f->ctx, clg_tensor_keep(g, y));
        }
    }
    clg_tensor loss = clg_mean(g, clg_cast(g, t[nt - 1], CLG_ELEM_F32));
    for (int k = 0; k < 6; k++) loss = clg_add(g, loss, clg_sum(g, clg_cast(g, t[rng_next(&q) % nt], CLG_ELEM_F32)));
    return loss;
}

static void dags_on(const char *spec)
{
    for (uint64_t seed = 1; seed <= 12; seed++) {
        char what[64];
        snprintf(what, sizeof what, "random elementwise DAG %llu", (unsigned long long)seed);
        compare_on(spec, what, random_dag, &seed, seed % 2 == 0, seed, NULL, NULL);
    }
    /* one in bfloat16, one in float16 (fusion off: each op alone in its
     * generated kernel, which PoCL compiles on first use: few, for time) */
    static const clg_elem types[] = {CLG_ELEM_BF16, CLG_ELEM_F16};
    for (int ty = 0; ty < 2; ty++) {
        uint64_t seed = 1 + (uint64_t)ty;
        char what[64];
        snprintf(what, sizeof what, "random elementwise DAG %llu in %s", (unsigned long long)seed,
                 ty ? "float16" : "bfloat16");
        lowp_for_next_build = types[ty];
        uint64_t lf, lu;
        compare_on(spec, what, random_dag, &seed, seed % 2 == 0, seed, &lf, &lu);
        lowp_for_next_build = 0;
        if (!(lf < lu)) fail_msg("%s on %s: %llu kernels fused, %llu unfused", what, spec, (unsigned long long)lf,
                                 (unsigned long long)lu);
    }
}

static void test_random_dags(void **s) { on_opencl_devices(dags_on); }

/* ---- batched parameter updates ---- */

/* Every optimizer and its variants, with and without clipping: the four
 * parameters' updates run as one launch, equal bit for bit to one each. */
static void updates_on(const char *spec)
{
    static const struct {
        clg_optimizer_kind kind;
        float momentum, weight_decay;
        int nesterov, amsgrad, centered;
    } cases[] = {
        {CLG_OPTIM_SGD, 0.9f, 0.01f, 1, 0, 0},  {CLG_OPTIM_SGD, 0.0f, 0.0f, 0, 0, 0},
        {CLG_OPTIM_ADAM, 0, 0.01f, 0, 0, 0},    {CLG_OPTIM_ADAM, 0, 0, 0, 1, 0},
        {CLG_OPTIM_ADAMW, 0, 0.05f, 0, 1, 0},   {CLG_OPTIM_RMSPROP, 0.5f, 0.01f, 0, 0, 1},
        {CLG_OPTIM_RMSPROP, 0, 0, 0, 0, 0},     {CLG_OPTIM_ADAGRAD, 0, 0.01f, 0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int clip = 0; clip < 2; clip++) {
            clg_optimizer_config c = clg_optimizer_defaults(cases[k].kind);
            c.lr = 0.01f;
            c.momentum = cases[k].momentum;
            c.weight_decay = cases[k].weight_decay;
            c.nesterov = cases[k].nesterov;
            c.amsgrad = cases[k].amsgrad;
            c.centered = cases[k].centered;
            c.max_grad_norm = clip ? 0.5f : 0.0f;
            char what[96];
            snprintf(what, sizeof what, "optimizer case %zu (kind %d)%s", k, (int)cases[k].kind, clip ? ", clipped" : "");
            chain_arg ch = {F_MUL, false};
            uint64_t lf, lu;
            opt_for_next_build = &c;
            compare_on(spec, what, chain, &ch, false, 300 + k, &lf, &lu);
            opt_for_next_build = NULL;
            /* three steps, three parameter updates fewer each (four updates become one) */
            if (!(lf + 9 <= lu)) fail_msg("%s on %s: %llu kernels batched, %llu not", what, spec, (unsigned long long)lf,
                                         (unsigned long long)lu);
        }
}

static void test_batched_updates(void **s) { on_opencl_devices(updates_on); }

/* Parameters of 37 floats (two vectors of 16 and a tail of 5 at the
 * default width), w <- update(w, x) three times with loss = sum(w * x)
 * (dloss/dw = x exactly): the updates on vectors equal those a float at
 * a time (CLGRAD_VECTOR_WIDTH=1) bit for bit, fused or not. */
static void update_widths_on(const char *spec)
{
    const clg_optimizer_kind kinds[] = {CLG_OPTIM_SGD, CLG_OPTIM_ADAM, CLG_OPTIM_ADAMW, CLG_OPTIM_RMSPROP,
                                        CLG_OPTIM_ADAGRAD};
    const int64_t n = 37;
    float x[37], w0[37], got[2][2][37];
    rng_t q = {777};
    rng_fill(&q, x, (size_t)n, 0.1, 2.0, true);
    rng_fill(&q, w0, (size_t)n, 0.1, 1.0, true);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int width1 = 0; width1 < 2; width1++)
            for (int fused = 0; fused < 2; fused++) {
                if (width1) setenv("CLGRAD_VECTOR_WIDTH", "1", 1);
                clg_context *ctx = ctx_with_fusion(spec, fused);
                unsetenv("CLGRAD_VECTOR_WIDTH");
                clg_graph *g;
                CHECK_OK(ctx, clg_graph_create(ctx, &g));
                clg_tensor tw = clg_param(g, 1, &n), tw2 = clg_param(g, 1, &n), tx = clg_input(g, 1, &n);
                clg_tensor loss = clg_add(g, clg_sum(g, clg_mul(g, tw, tx)), clg_sum(g, clg_mul(g, tw2, tx)));
                CHECK_OK(ctx, clg_backward(g, loss));
                clg_optimizer_config c = clg_optimizer_defaults(kinds[k]);
                c.lr = 0.01f;
                c.weight_decay = 0.01f;
                c.momentum = kinds[k] == CLG_OPTIM_SGD || kinds[k] == CLG_OPTIM_RMSPROP ? 0.5f : 0.0f;
                CHECK_OK(ctx, clg_optimizer(g, &c));
                CHECK_OK(ctx, clg_tensor_set(g, tw, w0, (size_t)n));
                CHECK_OK(ctx, clg_tensor_set(g, tw2, w0, (size_t)n));
                CHECK_OK(ctx, clg_tensor_set(g, tx, x, (size_t)n));
                for (int step = 0; step < 3; step++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
                CHECK_OK(ctx, clg_tensor_get(g, tw, got[width1][fused], (size_t)n));
                clg_context_destroy(ctx);
            }
        for (int v = 1; v < 4; v++)
            for (int64_t i = 0; i < n; i++)
                if (memcmp(&got[v / 2][v % 2][i], &got[0][0][i], sizeof(float)))
                    fail_msg("optimizer kind %d on %s, %s%s: w[%lld] %.9g, on vectors unfused %.9g", (int)kinds[k], spec,
                             v / 2 ? "a float at a time" : "on vectors", v % 2 ? " fused" : " unfused", (long long)i,
                             (double)got[v / 2][v % 2][i], (double)got[0][0][i]);
    }
}

static void test_update_widths(void **s) { on_opencl_devices(update_widths_on); }

/* ---- group limits ---- */

/* 40 consecutive elementwise nodes (groups of at most 32) and 20 extra
 * parameters (batched updates of at most 16): split groups, same bits. */
static clg_tensor long_and_wide(fgraph *f, void *arg)
{
    (void)arg;
    clg_graph *g = f->g;
    const int64_t rc[2] = {R, C};
    clg_tensor t = clg_add(g, f->x, f->p[0]);
    for (int k = 0; k < 20; k++) t = clg_tanh(g, clg_mul(g, t, f->p[1])); /* 40 nodes in a row */
    clg_tensor loss = clg_sum(g, t);
    for (int k = 0; k < 20; k++) {
        clg_tensor q = clg_param(g, 2, rc);
        CHECK_OK(f->ctx, clg_init_uniform(g, q, 0.5, 1.5, 900 + (uint64_t)k));
        loss = clg_add(g, loss, clg_sum(g, clg_sigmoid(g, clg_mul(g, q, f->x))));
    }
    return loss;
}

static void test_group_limits(void **s)
{
    char specs[8][32];
    int n = test_opencl_devices(specs, 8);
    for (int i = 0; i < n; i++) {
        uint64_t lf, lu;
        compare_on(specs[i], "40-node chain, 24 parameters", long_and_wide, NULL, true, 41, &lf, &lu);
        if (!(lf < lu)) fail_msg("%s: %llu kernels fused, %llu unfused", specs[i], (unsigned long long)lf, (unsigned long long)lu);
    }
}

/* ---- networks: reductions with an elementwise prologue, batch norm + ReLU ---- */

enum { NET_CNN, NET_MLP, NET_POOL_BN_SIGMOID, NET_BN_GELU, NET_BN_RELU_ODD, NET_COUNT };
static const char *const net_names[NET_COUNT] = {"conv-bn-relu-pool CNN", "MLP", "relu-pool, bn-sigmoid",
                                                 "linear-bn-gelu", "conv-bn-relu on 5x5 planes"};

typedef struct net {
    clg_context *ctx;
    clg_graph *g;
    clg_tensor x, labels, loss, logits, bn;
    clg_tensor params[12];
    int np;
    int64_t nx, batch;
} net;

static clg_tensor net_param(net *n, int nd, const int64_t *shape)
{
    clg_tensor t = clg_param(n->g, nd, shape);
    CHECK_OK(n->ctx, clg_init_uniform(n->g, t, -0.6f, 0.6f, 500 + (uint64_t)n->np));
    n->params[n->np++] = t;
    return t;
}

static clg_tensor net_linear(net *n, clg_tensor x, int64_t in, int64_t out)
{
    const int64_t ws[2] = {out, in};
    clg_tensor w = net_param(n, 2, ws);
    return clg_linear(n->g, x, w, net_param(n, 1, &out));
}

static clg_tensor net_bn(net *n, clg_tensor x, int64_t c)
{
    clg_tensor gamma = net_param(n, 1, &c), beta = net_param(n, 1, &c);
    n->bn = clg_batch_norm(n->g, x, gamma, beta, 0.1f, 1e-5f);
    return n->bn;
}

/* Odd sizes but for the planes batch norm reads (8x8, 4x4: whole vectors,
 * its vector walk). NET_CNN: conv, batch norm + ReLU (one group forward),
 * max pool, linear, cross-entropy (with the bias add, one group); backward
 * the loss's gradient with the bias's reduce_to, and pool's, ReLU's
 * gradients with dgamma, dbeta (one group each). NET_MLP: the activations'
 * gradients with the biases' reduce_to. NET_POOL_BN_SIGMOID: overlapping
 * max pool's and ReLU's gradients without batch norm (a group a float at
 * a time), batch norm + sigmoid, batch norm's sums behind expand and
 * sigmoid's gradient. NET_BN_GELU: batch norm of [N, C] (a float at a
 * time), its sums from gelu's gradient (one group when the vectors are a
 * float wide; else the two sums alone: gelu rounds differently on vectors).
 * NET_BN_RELU_ODD: batch norm of planes that hold no whole vectors (5x5, a
 * float at a time), ReLU's gradient after it recomputing batch norm's
 * output from x, with the sums and the input gradient in one kernel. */
static void net_build(net *n, clg_context *ctx, int kind)
{
    memset(n, 0, sizeof *n);
    n->ctx = ctx;
    CHECK_OK(ctx, clg_graph_create(ctx, &n->g));
    clg_graph *g = n->g;
    clg_tensor h;
    if (kind == NET_MLP || kind == NET_BN_GELU) {
        const int64_t xs[2] = {9, 13};
        n->x = clg_input(g, 2, xs);
        /* the MLP's first layer 32 wide: its bias's gradient sums whole
         * vectors (CLG_FG_EW_REDUCE); the second 7, a float at a time */
        const int64_t w1 = kind == NET_MLP ? 32 : 11;
        h = net_linear(n, n->x, 13, w1);
        h = kind == NET_MLP ? clg_gelu(g, h) : clg_gelu(g, net_bn(n, h, 11));
        h = clg_leaky_relu(g, net_linear(n, h, w1, 7), 0.1f);
        n->logits = net_linear(n, h, 7, 5);
        n->batch = 9;
    } else {
        /* the CNN's planes hold whole vectors (8x8: batch norm's vector
         * walk), the other's batch norm input too (4x4 after pooling) */
        const int64_t side_in = kind == NET_CNN ? 8 : kind == NET_BN_RELU_ODD ? 5 : 7, xs[4] = {5, 3, side_in, side_in},
                      ws[4] = {4, 3, 3, 3};
        n->x = clg_input(g, 4, xs);
        h = clg_conv2d(g, n->x, net_param(n, 4, ws), CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
        n->batch = 5;
        if (kind == NET_CNN) {
            h = clg_max_pool2d(g, clg_relu(g, net_bn(n, h, 4)), 2, 2, 2, 2, 0, 0); /* 8x8 -> 4x4 */
        } else if (kind == NET_BN_RELU_ODD) {
            h = clg_relu(g, net_bn(n, h, 4));
            const int64_t flat[2] = {5, 4 * 5 * 5};
            n->logits = net_linear(n, clg_reshape(g, h, 2, flat), 4 * 5 * 5, 6);
        } else {
            h = clg_max_pool2d(g, clg_relu(g, h), 3, 3, 2, 2, 1, 1); /* 7x7 -> 4x4, overlapping */
            h = clg_sigmoid(g, net_bn(n, h, 4));
        }
        if (kind != NET_BN_RELU_ODD) {
            const int64_t side = 4, flat[2] = {5, 4 * side * side};
            n->logits = net_linear(n, clg_reshape(g, h, 2, flat), 4 * side * side, 6);
        }
    }
    n->nx = clg_tensor_numel(g, n->x);
    n->labels = clg_labels(g, 1, &n->batch);
    CHECK_OK(ctx, clg_tensor_keep(g, n->logits));
    n->loss = clg_softmax_cross_entropy(g, n->logits, n->labels);
    if (kind == NET_POOL_BN_SIGMOID) n->loss = clg_add(g, n->loss, clg_sum(g, clg_scale(g, h, 0.01f)));
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_backward(g, n->loss));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c.lr = 0.02f;
    CHECK_OK(ctx, clg_optimizer(g, &c));
}

/* Three training steps, an evaluation-mode forward, a step in evaluation
 * mode (batch norm frozen: its input gradient from the running statistics),
 * a training step more: losses, logits and parameters into out. Fused
 * groups get kernels for each mode (their members have no memory of their
 * own to run one by one). */
static size_t net_run(net *n, float *out)
{
    float x[5 * 3 * 8 * 8];
    int32_t y[9];
    rng_t q = {4242};
    rng_fill(&q, x, (size_t)n->nx, 0.2, 1.5, false);
    for (int64_t i = 0; i < n->batch; i++) y[i] = (int32_t)(rng_next(&q) % 5);
    CHECK_OK(n->ctx, clg_tensor_set(n->g, n->x, x, (size_t)n->nx));
    CHECK_OK(n->ctx, clg_tensor_set_i32(n->g, n->labels, y, (size_t)n->batch));
    size_t k = 0, nl = (size_t)clg_tensor_numel(n->g, n->logits);
    for (int s = 0; s < 6; s++) {
        const bool eval = s == 3 || s == 4;
        if (eval) CHECK_OK(n->ctx, clg_graph_set_training(n->g, 0));
        CHECK_OK(n->ctx, clg_graph_run(n->g, s == 3 ? CLG_RUN_FORWARD : CLG_RUN_ALL));
        if (eval) CHECK_OK(n->ctx, clg_graph_set_training(n->g, 1));
        CHECK_OK(n->ctx, clg_tensor_get(n->g, n->loss, &out[k++], 1));
        CHECK_OK(n->ctx, clg_tensor_get(n->g, n->logits, &out[k], nl));
        k += nl;
    }
    for (int i = 0; i < n->np; i++) {
        size_t c = (size_t)clg_tensor_numel(n->g, n->params[i]);
        CHECK_OK(n->ctx, clg_tensor_get(n->g, n->params[i], &out[k], c));
        k += c;
    }
    return k;
}

static void networks_on(const char *spec)
{
    for (int kind = 0; kind < NET_COUNT; kind++) {
        clg_context *cf = ctx_with_fusion(spec, true), *cu = ctx_with_fusion(spec, false);
        net nf, nu;
        net_build(&nf, cf, kind);
        net_build(&nu, cu, kind);
        float *a = malloc(MAXV * sizeof *a), *b = malloc(MAXV * sizeof *b);
        assert_non_null(a);
        assert_non_null(b);
        uint64_t l0 = clg_context_launches(cf), m0 = clg_context_launches(cu);
        size_t na = net_run(&nf, a), nb = net_run(&nu, b);
        uint64_t lf = clg_context_launches(cf) - l0, lu = clg_context_launches(cu) - m0;
        assert_int_equal(na, nb);
        assert_true(na <= MAXV);
        for (size_t i = 0; i < na; i++) {
            if (!isfinite(a[i])) fail_msg("%s on %s: value %zu is %g", net_names[kind], spec, i, (double)a[i]);
            if (memcmp(&a[i], &b[i], sizeof *a))
                fail_msg("%s on %s: value %zu fused %.9g, unfused %.9g", net_names[kind], spec, i, (double)a[i], (double)b[i]);
        }
        if (!(lf < lu)) fail_msg("%s on %s: %llu kernels fused, %llu unfused", net_names[kind], spec, (unsigned long long)lf,
                                 (unsigned long long)lu);
        /* in evaluation mode too the groups run fused */
        CHECK_OK(cf, clg_graph_set_training(nf.g, 0));
        CHECK_OK(cu, clg_graph_set_training(nu.g, 0));
        l0 = clg_context_launches(cf);
        m0 = clg_context_launches(cu);
        CHECK_OK(cf, clg_graph_run(nf.g, CLG_RUN_FORWARD));
        CHECK_OK(cu, clg_graph_run(nu.g, CLG_RUN_FORWARD));
        lf = clg_context_launches(cf) - l0;
        lu = clg_context_launches(cu) - m0;
        if (!(lf < lu)) fail_msg("%s on %s, evaluating: %llu kernels fused, %llu unfused", net_names[kind], spec,
                                 (unsigned long long)lf, (unsigned long long)lu);
        free(a);
        free(b);
        clg_context_destroy(cf);
        clg_context_destroy(cu);
    }
}

static void test_networks(void **s) { on_opencl_devices(networks_on); }

/* ---- state between runs ---- */

/* Run a fused graph, change its inputs, run again: as a fresh graph. */
static void hidden_state_on(const char *spec)
{
    clg_context *ctx = ctx_with_fusion(spec, true);
    chain_arg c = {F_GELU, false};
    fgraph used, fresh;
    fbuild(&used, ctx, chain, &c, true);
    fbuild(&fresh, ctx, chain, &c, true);
    float *a = malloc(MAXV * sizeof *a), *b = malloc(MAXV * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    frun(ctx, &used, 5, 1, a);
    /* the optimizer's state carried over: compare the forward pass alone */
    float v[R * C], la, lb;
    rng_t q = {77};
    rng_fill(&q, v, R * C, 0.5, 1.5, true);
    frun(ctx, &fresh, 5, 1, b);
    CHECK_OK(ctx, clg_tensor_set(used.g, used.x, v, R * C));
    CHECK_OK(ctx, clg_tensor_set(fresh.g, fresh.x, v, R * C));
    CHECK_OK(ctx, clg_graph_run(used.g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_graph_run(fresh.g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_tensor_get(used.g, used.loss, &la, 1));
    CHECK_OK(ctx, clg_tensor_get(fresh.g, fresh.loss, &lb, 1));
    if (memcmp(&la, &lb, sizeof la)) fail_msg("%s: loss after new inputs %.9g, fresh graph %.9g", spec, la, lb);
    CHECK_OK(ctx, clg_tensor_get(used.g, used.kept[0], a, R * C));
    CHECK_OK(ctx, clg_tensor_get(fresh.g, fresh.kept[0], b, R * C));
    assert_memory_equal(a, b, R * C * sizeof *a);
    free(a);
    free(b);
    clg_context_destroy(ctx);
}

static void test_new_inputs_as_a_fresh_graph(void **s) { on_opencl_devices(hidden_state_on); }

/* A fused group's members read only inside it have no memory (the memory
 * plan asks the backend for its groups), and those read after it or kept
 * are stored: y = relu(x) 2 + x, loss = sum(y), the product and ReLU in
 * registers, one of them kept in the second graph. */
static void no_memory_on(const char *spec)
{
    enum { N = 4099 }; /* not whole vectors */
    static float x[N], want_r[N];
    rng_t q = {31};
    rng_fill(&q, x, N, 0.5, 2.0, false);
    double loss_want = 0;
    for (int i = 0; i < N; i++) {
        want_r[i] = x[i] > 0 ? x[i] : 0;
        loss_want += (double)(want_r[i] * 2.0f + x[i]);
    }
    uint64_t act[2][2];
    for (int fused = 0; fused < 2; fused++)
        for (int keep = 0; keep < 2; keep++) {
            clg_context *ctx = ctx_with_fusion(spec, fused);
            clg_graph *g;
            CHECK_OK(ctx, clg_graph_create(ctx, &g));
            const int64_t n = N;
            clg_tensor xt = clg_input(g, 1, &n);
            clg_tensor r = clg_relu(g, xt);
            clg_tensor y = clg_add(g, clg_scale(g, r, 2.0f), xt);
            clg_tensor loss = clg_sum(g, y);
            if (keep) CHECK_OK(ctx, clg_tensor_keep(g, r));
            CHECK_OK(ctx, clg_graph_status(g));
            CHECK_OK(ctx, clg_tensor_set(g, xt, x, N));
            CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
            float l;
            CHECK_OK(ctx, clg_tensor_get(g, loss, &l, 1));
            if (!(fabs(l - loss_want) <= 1e-5 * fabs(loss_want)))
                fail_msg("%s, fused %d, kept %d: loss %.9g, want %.9g", spec, fused, keep, (double)l, loss_want);
            static float got[N];
            if (keep) {
                CHECK_OK(ctx, clg_tensor_get(g, r, got, N));
                assert_memory_equal(got, want_r, sizeof got);
            } else {
                assert_int_equal(clg_tensor_get(g, r, got, N), CLG_ERR_STATE); /* an intermediate, as ever */
            }
            clg_memory m;
            CHECK_OK(ctx, clg_graph_memory(g, &m));
            act[fused][keep] = m.activations;
            clg_graph_destroy(g);
            clg_context_destroy(ctx);
        }
    /* unfused: relu, scale and add each a buffer, two live at once (y may
     * take relu's); fused: y alone, and relu's own when kept */
    const uint64_t bytes = 4 * (uint64_t)N;
    if (!(act[1][0] < bytes + 1024 && act[0][0] >= 2 * bytes && act[1][1] >= 2 * bytes && act[1][1] < 2 * bytes + 2048))
        fail_msg("%s: activation bytes unfused %llu (kept %llu), fused %llu (kept %llu), for %llu-byte tensors", spec,
                 (unsigned long long)act[0][0], (unsigned long long)act[0][1], (unsigned long long)act[1][0],
                 (unsigned long long)act[1][1], (unsigned long long)bytes);
}

static void test_intermediates_without_memory(void **s) { on_opencl_devices(no_memory_on); }

/* CLGRAD_FUSION_DUMP=DIR: the generated source, one statement per node. */
static void test_dump(void **s)
{
    char specs[8][32];
    int n = test_opencl_devices(specs, 8);
    if (n == 0) return;
    char dir[] = "/tmp/clgrad-fuse-dump-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("CLGRAD_FUSION_DUMP", dir, 1);
    clg_context *ctx = ctx_with_fusion(specs[0], true);
    chain_arg c = {F_MUL, true};
    fgraph f;
    fbuild(&f, ctx, chain, &c, false);
    CHECK_OK(ctx, clg_graph_prepare(f.g));
    clg_context_destroy(ctx);
    unsetenv("CLGRAD_FUSION_DUMP");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    char path[512], text[8192];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        size_t len = fread(text, 1, sizeof text - 1, fp);
        text[len] = '\0';
        fclose(fp);
        if (!strstr(text, "__kernel void clg_fused_0") || !strstr(text, ": mul */") || !strstr(text, "EW_SIGMOID"))
            fail_msg("%s does not read as the chain's kernels:\n%s", path, text);
        unlink(path);
        files++;
    }
    closedir(d);
    rmdir(dir);
    assert_int_equal(files, 1);
}

static void test_build_failure(void **s)
{
    char specs[8][32];
    int n = test_opencl_devices(specs, 8);
    for (int i = 0; i < n; i++) {
        clg_context *ctx = ctx_with_fusion(specs[i], true);
        chain_arg c = {F_TANH, false};
        fgraph f;
        fbuild(&f, ctx, chain, &c, false);
        fail_builds = true;
        clg_status st = clg_graph_run(f.g, CLG_RUN_ALL);
        fail_builds = false;
        assert_int_equal(st, CLG_ERR_BUILD);
        const char *msg = clg_context_errmsg(ctx), *src = strstr(msg, "(source: ");
        if (!strstr(msg, "fused kernels") || !strstr(msg, "compiler log") || !src)
            fail_msg("message: %s", msg);
        char path[512];
        assert_int_equal(sscanf(src, "(source: %511[^)])", path), 1);
        FILE *fp = fopen(path, "r");
        if (!fp) fail_msg("the source is not at %s: %s", path, msg);
        char text[4096];
        size_t len = fread(text, 1, sizeof text - 1, fp);
        text[len] = '\0';
        fclose(fp);
        unlink(path);
        if (!strstr(text, "clg_fused_0")) fail_msg("%s holds no fused kernel", path);
        /* refused before any node ran; runs once the build works */
        CHECK_OK(ctx, clg_graph_run(f.g, CLG_RUN_ALL));
        float l;
        CHECK_OK(ctx, clg_tensor_get(f.g, f.loss, &l, 1));
        clg_context_destroy(ctx);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) cmocka_set_test_filter(argv[1]); /* e.g. '*networks*' */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_in_a_chain),
        cmocka_unit_test(test_random_dags),
        cmocka_unit_test(test_high_rank),
        cmocka_unit_test(test_batched_updates),
        cmocka_unit_test(test_update_widths),
        cmocka_unit_test(test_group_limits),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_new_inputs_as_a_fresh_graph),
        cmocka_unit_test(test_intermediates_without_memory),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_build_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
