/*
 * Optimizers (clg_optimizer) on the reference backend and every OpenCL
 * device:
 *  - every optimizer and option combination (32 configs: SGD momentum,
 *    dampening, Nesterov, weight decay; Adam and AdamW with and without
 *    AMSGrad and weight decay; RMSProp momentum, centered, weight decay;
 *    Adagrad lr_decay, initial accumulator, weight decay), each with one of
 *    four learning-rate schedules and in three modes (plain, gradient
 *    clipping, accumulation of two micro-batches): ten steps on fresh
 *    random parameters of shapes [3,5], [17,33,7] and [1], with gradients
 *    fed through loss = sum(w * c) (so grad = c, a new random c each
 *    step), against a double-precision host computation written from
 *    PyTorch's documented equations; parameters and every named state
 *    tensor compared;
 *  - each optimizer drives a convex quadratic to its minimum;
 *  - schedules' lr sequences against literal values and closed forms;
 *  - clipping: the clipped step against the host-computed coefficient;
 *  - accumulation over micro-batches against the single large batch, and
 *    clg_zero_grads dropping a partial accumulation;
 *  - checkpoint resume: named state tensors and the step count carry a
 *    run on in a fresh graph exactly;
 *  - bad configs and calls.
 *
 * Tolerance of the host comparison, |got - want| <= 2e-5 |want| + 2e-6 max|want|:
 * each step rounds some ten float operations per element (about 6e-7
 * relative on the step), and the states feed back over ten steps, so the
 * parameter drifts from the double computation by about 10 steps x 6e-7 x
 * |step| plus 10 roundings of w itself (half an ulp each, 3e-7 of |w| in
 * all): a few 1e-6 of max|w| at most. The clip coefficient adds its float
 * sum of 3943 squares (tree order, about 1e-6 relative). Measured worst
 * case (printed by the test) on the reference and PoCL: 2.3e-6 of
 * |want| + 0.1 max|want|, against the bound's 2e-5 of the same. The same
 * bound covers the state tensors, compared likewise.
 */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

static const double HOST_RTOL = 2e-5, HOST_ATOL_OF_MAX = 2e-6;

typedef void (*device_fn)(const char *spec, clg_context *ctx);

/* One context per device: the kernels build once per device. */
static void each_device(device_fn fn)
{
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    for (int i = -1; i < n; i++) {
        const char *spec = i < 0 ? "reference" : specs[i];
        clg_context *ctx = open_ctx(spec);
        fn(spec, ctx);
        clg_context_destroy(ctx);
    }
}

/* ---- the host oracle: PyTorch's documented equations in double ---- */

/* Written from the docs of LinearLR + SequentialLR and each scheduler's
 * closed form, independently of the library's code. */
static double host_lr(const clg_optimizer_config *c, int64_t s)
{
    if (s < c->warmup_steps) {
        double f = c->warmup_start_factor;
        return c->lr * (f + (1.0 - f) * (double)s / (double)c->warmup_steps);
    }
    int64_t e = s - c->warmup_steps;
    switch (c->schedule) {
    case CLG_LR_STEP: return c->lr * pow(c->gamma, floor((double)e / (double)c->step_size));
    case CLG_LR_EXPONENTIAL: return c->lr * pow(c->gamma, (double)e);
    case CLG_LR_COSINE:
        return c->eta_min + ((double)c->lr - c->eta_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)e / (double)c->t_max));
    default: return c->lr;
    }
}

/* PyTorch's state names, by the slot the host keeps them in (NULL: no
 * such slot), and whether a config uses the slot. */
static const char *host_slot_name(clg_optimizer_kind kind, int k)
{
    static const char *const names[][3] = {
        [CLG_OPTIM_SGD] = {"momentum_buffer", NULL, NULL},
        [CLG_OPTIM_ADAM] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
        [CLG_OPTIM_ADAMW] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
        [CLG_OPTIM_RMSPROP] = {"square_avg", "momentum_buffer", "grad_avg"},
        [CLG_OPTIM_ADAGRAD] = {"sum", NULL, NULL},
    };
    return names[kind][k];
}

static bool host_slot_used(const clg_optimizer_config *c, int k)
{
    switch (c->kind) {
    case CLG_OPTIM_SGD: return c->momentum != 0;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW: return k < 2 || c->amsgrad;
    case CLG_OPTIM_RMSPROP: return k == 0 || (k == 1 && c->momentum > 0) || (k == 2 && c->centered);
    default: return true;
    }
}

typedef struct host_opt {
    clg_optimizer_config c;
    int64_t t;
    size_t n;
    double *w, *s[3]; /* state slots as host_slot_name */
} host_opt;

static void host_init(host_opt *h, const clg_optimizer_config *c, const float *w0, size_t n)
{
    h->c = *c;
    h->t = 0;
    h->n = n;
    h->w = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) h->w[i] = w0[i];
    for (int k = 0; k < 3; k++) {
        h->s[k] = malloc(n * sizeof(double));
        double init = c->kind == CLG_OPTIM_ADAGRAD ? c->initial_accumulator_value : 0.0;
        for (size_t i = 0; i < n; i++) h->s[k][i] = init;
    }
}

static void host_free(host_opt *h)
{
    free(h->w);
    for (int k = 0; k < 3; k++) free(h->s[k]);
}

/* torch.nn.utils.clip_grad_norm_ over the whole gradient vector. */
static void host_clip(double *g, size_t n, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += g[i] * g[i];
    double coef = max_norm / (sqrt(ss) + 1e-6);
    if (coef > 1) coef = 1;
    for (size_t i = 0; i < n; i++) g[i] *= coef;
}

static void host_sgd(host_opt *h, double lr, const double *g)
{
    const clg_optimizer_config *c = &h->c;
    for (size_t i = 0; i < h->n; i++) {
        double gi = g[i];
        if (c->weight_decay != 0) gi += c->weight_decay * h->w[i];
        if (c->momentum != 0) {
            double *b = &h->s[0][i];
            *b = h->t > 1 ? c->momentum * *b + (1.0 - c->dampening) * gi : gi;
            gi = c->nesterov ? gi + c->momentum * *b : *b;
        }
        h->w[i] -= lr * gi;
    }
}

static void host_adam(host_opt *h, double lr, const double *g)
{
    const clg_optimizer_config *c = &h->c;
    const double b1 = c->beta1, b2 = c->beta2, t = (double)h->t;
    for (size_t i = 0; i < h->n; i++) {
        double gi = g[i];
        if (c->kind == CLG_OPTIM_ADAMW) h->w[i] -= lr * c->weight_decay * h->w[i];
        else if (c->weight_decay != 0) gi += c->weight_decay * h->w[i];
        double *m = &h->s[0][i], *v = &h->s[1][i], *vmax = &h->s[2][i];
        *m = b1 * *m + (1 - b1) * gi;
        *v = b2 * *v + (1 - b2) * gi * gi;
        double mhat = *m / (1 - pow(b1, t)), vhat;
        if (c->amsgrad) {
            *vmax = fmax(*vmax, *v);
            vhat = *vmax / (1 - pow(b2, t));
        } else {
            vhat = *v / (1 - pow(b2, t));
        }
        h->w[i] -= lr * mhat / (sqrt(vhat) + c->eps);
    }
}

static void host_rmsprop(host_opt *h, double lr, const double *g)
{
    const clg_optimizer_config *c = &h->c;
    const double a = c->alpha;
    for (size_t i = 0; i < h->n; i++) {
        double gi = g[i];
        if (c->weight_decay != 0) gi += c->weight_decay * h->w[i];
        double *v = &h->s[0][i], *b = &h->s[1][i], *gavg = &h->s[2][i];
        *v = a * *v + (1 - a) * gi * gi;
        double vt = *v;
        if (c->centered) {
            *gavg = a * *gavg + (1 - a) * gi;
            vt -= *gavg * *gavg;
        }
        if (c->momentum > 0) {
            *b = c->momentum * *b + gi / (sqrt(vt) + c->eps);
            h->w[i] -= lr * *b;
        } else {
            h->w[i] -= lr * gi / (sqrt(vt) + c->eps);
        }
    }
}

static void host_adagrad(host_opt *h, double lr, const double *g)
{
    const clg_optimizer_config *c = &h->c;
    const double clr = lr / (1 + (double)(h->t - 1) * c->lr_decay);
    for (size_t i = 0; i < h->n; i++) {
        double gi = g[i];
        if (c->weight_decay != 0) gi += c->weight_decay * h->w[i];
        h->s[0][i] += gi * gi;
        h->w[i] -= clr * gi / (sqrt(h->s[0][i]) + c->eps);
    }
}

/* One update with gradient g (modified: clipped). */
static void host_step(host_opt *h, double *g)
{
    h->t++;
    const double lr = host_lr(&h->c, h->t - 1);
    if (h->c.max_grad_norm > 0) host_clip(g, h->n, h->c.max_grad_norm);
    switch (h->c.kind) {
    case CLG_OPTIM_SGD: host_sgd(h, lr, g); break;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW: host_adam(h, lr, g); break;
    case CLG_OPTIM_RMSPROP: host_rmsprop(h, lr, g); break;
    case CLG_OPTIM_ADAGRAD: host_adagrad(h, lr, g); break;
    }
}

/* ---- graphs ---- */

enum { NP = 3 };
static const int param_ndim[NP] = {2, 3, 1};
static const int64_t param_shape[NP][3] = {{3, 5}, {17, 33, 7}, {1}};

/* A tensor by name, or id -1. */
static clg_tensor find_named(clg_graph *g, const char *name)
{
    return clg_tensor_find(g, name);
}

/* loss = sum_k sum(w_k * c_k): grad w_k = c_k. Parameters named p0..p2. */
typedef struct lin_graph {
    clg_graph *g;
    clg_tensor w[NP], c[NP];
    size_t off[NP + 1];
} lin_graph;

/* gcfg[k] non-NULL: parameter k in a group of its own with that config */
static void lin_build_groups(clg_context *ctx, lin_graph *L, const clg_optimizer_config *cfg,
                             const clg_optimizer_config *const gcfg[NP]);

static void lin_build(clg_context *ctx, lin_graph *L, const clg_optimizer_config *cfg)
{
    lin_build_groups(ctx, L, cfg, NULL);
}

static void lin_build_groups(clg_context *ctx, lin_graph *L, const clg_optimizer_config *cfg,
                             const clg_optimizer_config *const gcfg[NP])
{
    CHECK_OK(ctx, clg_graph_create(ctx, &L->g));
    clg_tensor loss = CLG_NO_TENSOR;
    L->off[0] = 0;
    for (int k = 0; k < NP; k++) {
        L->w[k] = clg_param(L->g, param_ndim[k], param_shape[k]);
        L->c[k] = clg_input(L->g, param_ndim[k], param_shape[k]);
        char name[16];
        snprintf(name, sizeof name, "p%d", k);
        CHECK_OK(ctx, clg_tensor_set_name(L->g, L->w[k], name));
        clg_tensor term = clg_sum(L->g, clg_mul(L->g, L->w[k], L->c[k]));
        loss = k ? clg_add(L->g, loss, term) : term;
        L->off[k + 1] = L->off[k] + (size_t)numel_of(param_ndim[k], param_shape[k]);
    }
    CHECK_OK(ctx, clg_backward(L->g, loss));
    clg_optimizer_group groups[NP];
    int ng = 0;
    for (int k = 0; gcfg && k < NP; k++)
        if (gcfg[k]) groups[ng++] = (clg_optimizer_group){gcfg[k], 1, &L->w[k]};
    if (gcfg) CHECK_OK(ctx, clg_optimizer_groups(L->g, cfg, ng, groups));
    else CHECK_OK(ctx, clg_optimizer(L->g, cfg));
}

static void lin_set(clg_context *ctx, lin_graph *L, clg_tensor *t, const float *v)
{
    for (int k = 0; k < NP; k++) CHECK_OK(ctx, clg_tensor_set(L->g, t[k], v + L->off[k], L->off[k + 1] - L->off[k]));
}

static void lin_get(clg_context *ctx, lin_graph *L, clg_tensor *t, float *v)
{
    for (int k = 0; k < NP; k++) CHECK_OK(ctx, clg_tensor_get(L->g, t[k], v + L->off[k], L->off[k + 1] - L->off[k]));
}

/* ---- every optimizer and option against the host ---- */

enum { MODE_PLAIN, MODE_CLIP, MODE_ACCUM, MODE_COUNT };
static const char *const mode_names[] = {"plain", "clip", "accumulate"};

/* The schedule of case i: each of the four, two with a warm-up. */
static void set_schedule(clg_optimizer_config *c, int i)
{
    switch (i % 4) {
    case 1:
        c->schedule = CLG_LR_STEP;
        c->step_size = 3;
        c->gamma = 0.5f;
        c->warmup_steps = 2;
        c->warmup_start_factor = 0.25f;
        break;
    case 2:
        c->schedule = CLG_LR_EXPONENTIAL;
        c->gamma = 0.9f;
        break;
    case 3:
        c->schedule = CLG_LR_COSINE;
        c->t_max = 5; /* ten steps run past t_max: the closed form rises again */
        c->eta_min = 0.1f * c->lr;
        c->warmup_steps = 3;
        c->warmup_start_factor = 0.5f;
        break;
    default: break;
    }
}

static int make_cases(clg_optimizer_config *out)
{
    int n = 0;
    const float wds[2] = {0.0f, 0.1f};
    for (int w = 0; w < 2; w++) {
        for (int mom = 0; mom < 2; mom++)
            for (int damp = 0; damp < 2; damp++)
                for (int nest = 0; nest < 2; nest++) {
                    if ((!mom && (damp || nest)) || (nest && damp)) continue;
                    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
                    c.lr = 0.05f;
                    c.momentum = mom ? 0.9f : 0.0f;
                    c.dampening = damp ? 0.25f : 0.0f;
                    c.nesterov = nest;
                    c.weight_decay = wds[w];
                    out[n++] = c;
                }
        for (int kind = CLG_OPTIM_ADAM; kind <= CLG_OPTIM_ADAMW; kind++)
            for (int ams = 0; ams < 2; ams++) {
                clg_optimizer_config c = clg_optimizer_defaults((clg_optimizer_kind)kind);
                c.lr = 0.02f;
                c.amsgrad = ams;
                c.weight_decay = wds[w];
                out[n++] = c;
            }
        for (int mom = 0; mom < 2; mom++)
            for (int cen = 0; cen < 2; cen++) {
                clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_RMSPROP);
                c.momentum = mom ? 0.5f : 0.0f;
                c.centered = cen;
                c.weight_decay = wds[w];
                out[n++] = c;
            }
        for (int dec = 0; dec < 2; dec++)
            for (int init = 0; init < 2; init++) {
                clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD);
                c.lr = 0.1f;
                c.lr_decay = dec ? 0.05f : 0.0f;
                c.initial_accumulator_value = init ? 0.1f : 0.0f;
                c.weight_decay = wds[w];
                out[n++] = c;
            }
    }
    for (int i = 0; i < n; i++) set_schedule(&out[i], i);
    return n;
}

static void describe(const clg_optimizer_config *c, int mode, char *buf, size_t size)
{
    static const char *const kinds[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
    snprintf(buf, size,
             "%s lr=%g wd=%g mom=%g damp=%g nest=%d ams=%d cen=%d lr_decay=%g init=%g sched=%d warmup=%lld %s",
             kinds[c->kind], c->lr, c->weight_decay, c->momentum, c->dampening, c->nesterov, c->amsgrad, c->centered,
             c->lr_decay, c->initial_accumulator_value, (int)c->schedule, (long long)c->warmup_steps,
             mode_names[mode]);
}

static double worst_rel_seen; /* the largest error against the bound's scale, for the report */

static void compare_d(const float *got, const double *want, size_t n, const char *what)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) + 0.1 * m; /* the bound is 2e-5 times this */
        worst_rel_seen = fmax(worst_rel_seen, fabs(got[i] - want[i]) / scale);
    }
    assert_close_d(got, want, n, HOST_RTOL, HOST_ATOL_OF_MAX * m, what);
}

static void run_case(const char *spec, clg_context *ctx, clg_optimizer_config cfg, int mode, uint64_t seed)
{
    enum { STEPS = 10 };
    if (mode == MODE_CLIP) cfg.max_grad_norm = seed % 2 ? 10.0f : 1e4f; /* active (norm about 75) or not */
    if (mode == MODE_ACCUM) cfg.accumulate = 1;
    char label[320];
    describe(&cfg, mode, label, sizeof label);
    lin_graph L;
    lin_build(ctx, &L, &cfg);
    const size_t n = L.off[NP];
    float *w0 = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    double *g = malloc(n * sizeof(double));
    rng_t r = {seed};
    rng_fill(&r, w0, n, 0.5, 2.0, false);
    lin_set(ctx, &L, L.w, w0);
    host_opt h;
    host_init(&h, &cfg, w0, n);
    const int micro = mode == MODE_ACCUM ? 2 : 1;
    for (int step = 0; step < STEPS; step++) {
        for (size_t i = 0; i < n; i++) g[i] = 0;
        for (int mb = 0; mb < micro; mb++) {
            rng_fill(&r, c, n, 0.1, 2.0, false);
            for (size_t i = 0; i < n; i++) g[i] += c[i];
            lin_set(ctx, &L, L.c, c);
            CHECK_OK(ctx, clg_graph_run(L.g, micro > 1 ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_ALL));
        }
        if (micro > 1) CHECK_OK(ctx, clg_graph_run(L.g, CLG_RUN_UPDATE));
        host_step(&h, g);
    }
    int64_t steps;
    CHECK_OK(ctx, clg_optimizer_get_step(L.g, &steps));
    assert_int_equal(steps, STEPS);

    char what[512];
    lin_get(ctx, &L, L.w, got);
    snprintf(what, sizeof what, "%s: %s: parameters after %d steps", spec, label, STEPS);
    compare_d(got, h.w, n, what);
    for (int k = 0; k < 3; k++) {
        const char *sn = host_slot_name(cfg.kind, k);
        for (int p = 0; sn && p < NP; p++) {
            char name[64];
            snprintf(name, sizeof name, "p%d.%s", p, sn);
            clg_tensor t = find_named(L.g, name);
            if (!host_slot_used(&cfg, k)) {
                if (t.id >= 0) fail_msg("%s: %s: a state tensor %s that the optimizer does not keep", spec, label, name);
                continue;
            }
            if (t.id < 0) fail_msg("%s: %s: no state tensor named %s", spec, label, name);
            size_t cnt = L.off[p + 1] - L.off[p];
            CHECK_OK(ctx, clg_tensor_get(L.g, t, got, cnt));
            snprintf(what, sizeof what, "%s: %s: state %s", spec, label, name);
            compare_d(got, h.s[k] + L.off[p], cnt, what);
        }
    }
    if (mode == MODE_ACCUM) { /* the update zeroed the accumulators */
        clg_tensor acc = find_named(L.g, "p1.grad_accum");
        assert_true(acc.id >= 0);
        CHECK_OK(ctx, clg_tensor_get(L.g, acc, got, L.off[2] - L.off[1]));
        for (size_t i = 0; i < L.off[2] - L.off[1]; i++) assert_true(got[i] == 0.0f);
    }
    host_free(&h);
    free(w0);
    free(c);
    free(got);
    free(g);
    clg_graph_destroy(L.g);
}

static void all_cases(const char *spec, clg_context *ctx)
{
    clg_optimizer_config cases[64];
    int n = make_cases(cases);
    assert_int_equal(n, 32);
    for (int i = 0; i < n; i++)
        for (int mode = 0; mode < MODE_COUNT; mode++) run_case(spec, ctx, cases[i], mode, 7001 + 31 * (uint64_t)i + mode);
}

static void test_matches_host(void **state)
{
    worst_rel_seen = 0;
    each_device(all_cases);
    print_message("worst |got - want| / (|want| + 0.1 max|want|): %.3g (bound %.3g)\n", worst_rel_seen, HOST_RTOL);
}

/* ---- convergence on a convex quadratic ---- */

/* loss = sum((w - t)^2 d), d > 0: minimum at w = t. Hyperparameters picked
 * for each optimizer; the adaptive ones anneal lr to 0 (cosine) so that
 * they settle instead of hovering at a distance ~lr. */
static void converge(const char *spec, clg_context *ctx)
{
    enum { N = 37, STEPS = 400 };
    clg_optimizer_config cfgs[5];
    for (int k = 0; k < 5; k++) cfgs[k] = clg_optimizer_defaults((clg_optimizer_kind)k);
    cfgs[CLG_OPTIM_SGD].lr = 0.1f;
    cfgs[CLG_OPTIM_SGD].momentum = 0.9f;
    cfgs[CLG_OPTIM_SGD].nesterov = 1;
    cfgs[CLG_OPTIM_ADAM].lr = 0.1f;
    cfgs[CLG_OPTIM_ADAMW].lr = 0.1f;
    cfgs[CLG_OPTIM_ADAMW].weight_decay = 0; /* decay would move the minimum */
    cfgs[CLG_OPTIM_RMSPROP].lr = 0.05f;
    cfgs[CLG_OPTIM_ADAGRAD].lr = 0.5f;
    for (int k = CLG_OPTIM_ADAM; k <= CLG_OPTIM_RMSPROP; k++) {
        cfgs[k].schedule = CLG_LR_COSINE;
        cfgs[k].t_max = STEPS;
    }
    for (int k = 0; k < 5; k++) {
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t n = N;
        clg_tensor w = clg_param(g, 1, &n), t = clg_input(g, 1, &n), d = clg_input(g, 1, &n);
        clg_tensor loss = clg_sum(g, clg_mul(g, clg_square(g, clg_sub(g, w, t)), d));
        CHECK_OK(ctx, clg_backward(g, loss));
        CHECK_OK(ctx, clg_optimizer(g, &cfgs[k]));
        float wv[N], tv[N], dv[N];
        rng_t r = {900 + (uint64_t)k};
        rng_fill(&r, wv, N, 0.5, 2.0, false);
        rng_fill(&r, tv, N, 0.5, 2.0, false);
        rng_fill(&r, dv, N, 0.5, 2.0, true);
        CHECK_OK(ctx, clg_tensor_set(g, w, wv, N));
        CHECK_OK(ctx, clg_tensor_set(g, t, tv, N));
        CHECK_OK(ctx, clg_tensor_set(g, d, dv, N));
        for (int s = 0; s < STEPS; s++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
        CHECK_OK(ctx, clg_tensor_get(g, w, wv, N));
        /* from up to 4 away to within 1e-4 (the reference reaches 2e-6 or
         * better with these settings; float resolution at |t| <= 2 is 2e-7) */
        for (int i = 0; i < N; i++)
            if (fabs(wv[i] - tv[i]) > 1e-4)
                fail_msg("%s: optimizer %d: w[%d] = %.7g after %d steps, minimum at %.7g", spec, k, i, wv[i], STEPS,
                         tv[i]);
        clg_graph_destroy(g);
    }
}

static void test_converges(void **state) { each_device(converge); }

/* ---- schedules ---- */

static clg_graph *tiny_graph(clg_context *ctx, const clg_optimizer_config *cfg, clg_tensor *w)
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t one = 1;
    *w = clg_param(g, 1, &one);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, *w, clg_scalar(g, 1.0f)))));
    CHECK_OK(ctx, clg_optimizer(g, cfg));
    return g;
}

static void check_lrs(clg_context *ctx, const clg_optimizer_config *cfg, const double *want, int n, const char *what)
{
    clg_tensor w;
    clg_graph *g = tiny_graph(ctx, cfg, &w);
    for (int s = 0; s < n; s++) {
        float lr;
        CHECK_OK(ctx, clg_optimizer_set_step(g, s));
        CHECK_OK(ctx, clg_optimizer_get_lr(g, &lr));
        /* a float rounded from a double: one ulp (the library's double may
         * differ from ours in its last bits and round the other way), plus
         * 1e-12 absolute for the values at 0 */
        double w_s = want ? want[s] : host_lr(cfg, s);
        if (!(fabs(lr - w_s) <= 1.2e-7 * fabs(w_s) + 1e-12))
            fail_msg("%s: lr at step %d = %.9g, want %.12g", what, s, lr, w_s);
    }
    clg_graph_destroy(g);
}

static void schedules(const char *spec, clg_context *ctx)
{
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c.lr = 1.0f;
    static const double constant[4] = {1, 1, 1, 1};
    check_lrs(ctx, &c, constant, 4, "constant");

    c.schedule = CLG_LR_STEP;
    c.step_size = 3;
    c.gamma = 0.5f;
    static const double step[8] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25};
    check_lrs(ctx, &c, step, 8, "step");

    c.schedule = CLG_LR_EXPONENTIAL;
    static const double expo[4] = {1, 0.5, 0.25, 0.125};
    check_lrs(ctx, &c, expo, 4, "exponential");

    c.schedule = CLG_LR_COSINE;
    c.t_max = 4;
    c.eta_min = 0;
    static const double cosine[7] = {1, 0.85355339059327373, 0.5, 0.14644660940672624, 0, 0.14644660940672624, 0.5};
    check_lrs(ctx, &c, cosine, 7, "cosine");

    /* warm-up 4 steps from 0.25, then the cosine from its start */
    c.warmup_steps = 4;
    c.warmup_start_factor = 0.25f;
    static const double warm[10] = {0.25, 0.4375, 0.625, 0.8125, 1, 0.85355339059327373, 0.5, 0.14644660940672624, 0,
                                    0.14644660940672624};
    check_lrs(ctx, &c, warm, 10, "warm-up + cosine");

    /* closed forms with other values */
    const clg_lr_schedule kinds[4] = {CLG_LR_CONSTANT, CLG_LR_STEP, CLG_LR_EXPONENTIAL, CLG_LR_COSINE};
    for (int k = 0; k < 4; k++)
        for (int warmup = 0; warmup < 2; warmup++) {
            clg_optimizer_config d = clg_optimizer_defaults(CLG_OPTIM_ADAM);
            d.lr = 3e-3f;
            d.schedule = kinds[k];
            d.step_size = 7;
            d.gamma = 0.93f;
            d.t_max = 50;
            d.eta_min = 1e-4f;
            d.warmup_steps = warmup ? 11 : 0;
            check_lrs(ctx, &d, NULL, 120, "closed form");
        }

    /* runs advance the step; forward/backward alone do not */
    clg_tensor w;
    clg_graph *g = tiny_graph(ctx, &c, &w);
    int64_t s;
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_optimizer_get_step(g, &s));
    assert_int_equal(s, 0);
    for (int i = 0; i < 3; i++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_ALL));
    CHECK_OK(ctx, clg_optimizer_get_step(g, &s));
    assert_int_equal(s, 3);
    float lr;
    CHECK_OK(ctx, clg_optimizer_get_lr(g, &lr));
    assert_true(fabs(lr - 0.8125) < 1e-7);
    clg_graph_destroy(g);
    (void)spec;
}

static void test_schedules(void **state) { each_device(schedules); }

/* ---- clipping ---- */

/* SGD with lr 1 and no momentum: w_new = w - coef * g, coef from the
 * host's norm over both parameters. */
static void clipping(const char *spec, clg_context *ctx)
{
    const double max_norms[2] = {3.0, 1e3}; /* norm about 23: clipped, then not */
    for (int k = 0; k < 2; k++) {
        clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
        cfg.lr = 1.0f;
        cfg.max_grad_norm = (float)max_norms[k];
        lin_graph L;
        lin_build(ctx, &L, &cfg);
        const size_t n = L.off[NP];
        float *w = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
        double *want = malloc(n * sizeof(double));
        rng_t r = {555 + (uint64_t)k};
        rng_fill(&r, w, n, 0.5, 2.0, false);
        rng_fill(&r, c, n, 0.01, 0.7, false);
        lin_set(ctx, &L, L.w, w);
        lin_set(ctx, &L, L.c, c);
        CHECK_OK(ctx, clg_graph_run(L.g, CLG_RUN_ALL));
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (double)c[i] * c[i];
        double coef = fmin(1.0, max_norms[k] / (sqrt(ss) + 1e-6));
        if (k == 0) assert_true(coef < 0.2);
        for (size_t i = 0; i < n; i++) want[i] = w[i] - coef * c[i];
        lin_get(ctx, &L, L.w, got);
        char what[128];
        snprintf(what, sizeof what, "%s: clipped step (max_norm %g, coefficient %.6f)", spec, max_norms[k], coef);
        /* the coefficient's float sum over 3943 squares: ~1e-6 relative on the step (<= 0.7) */
        assert_close_d(got, want, n, 2e-7, 1e-6, what);
        free(w);
        free(c);
        free(got);
        free(want);
        clg_graph_destroy(L.g);
    }
}

static void test_clipping(void **state) { each_device(clipping); }

/* ---- accumulation ---- */

/* loss = sum((x w + b - y)^2) over a batch of rows, w and b [F] broadcast
 * over rows. Graph A sees the 64 rows at once, graph B four micro-batches
 * of 16, after a stray micro-batch dropped by clg_zero_grads. SGD with
 * momentum and clipping (which Adam's scale invariance would hide), five
 * steps. */
enum { ROWS = 64, MICRO = 4, F = 19 };

static clg_graph *regression(clg_context *ctx, int rows, int accumulate, clg_tensor io[4])
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t xs[2] = {rows, F}, ws[1] = {F};
    io[0] = clg_input(g, 2, xs);
    io[1] = clg_input(g, 2, xs);
    io[2] = clg_param(g, 1, ws);
    io[3] = clg_param(g, 1, ws);
    clg_tensor pred = clg_add(g, clg_mul(g, io[0], io[2]), io[3]);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, clg_sub(g, pred, io[1])))));
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
    cfg.lr = 0.01f;
    cfg.momentum = 0.9f;
    cfg.max_grad_norm = 20.0f; /* the gradient norm is in the hundreds: clipped every step */
    cfg.accumulate = accumulate;
    CHECK_OK(ctx, clg_optimizer(g, &cfg));
    return g;
}

static void accumulation(const char *spec, clg_context *ctx)
{
    clg_tensor A[4], B[4];
    clg_graph *ga = regression(ctx, ROWS, 0, A), *gb = regression(ctx, ROWS / MICRO, 1, B);
    static float x[ROWS * F], y[ROWS * F], w[2][F];
    rng_t r = {4242};
    rng_fill(&r, w[0], F, 0.5, 2.0, false);
    rng_fill(&r, w[1], F, 0.5, 2.0, false);
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, clg_tensor_set(ga, A[2 + k], w[k], F));
        CHECK_OK(ctx, clg_tensor_set(gb, B[2 + k], w[k], F));
    }
    const size_t mb = (size_t)(ROWS / MICRO) * F;
    for (int step = 0; step < 5; step++) {
        rng_fill(&r, x, ROWS * F, 0.1, 2.0, false);
        rng_fill(&r, y, ROWS * F, 0.1, 2.0, false);
        CHECK_OK(ctx, clg_tensor_set(ga, A[0], x, ROWS * F));
        CHECK_OK(ctx, clg_tensor_set(ga, A[1], y, ROWS * F));
        CHECK_OK(ctx, clg_graph_run(ga, CLG_RUN_ALL));
        /* a stray micro-batch, dropped */
        CHECK_OK(ctx, clg_tensor_set(gb, B[0], y, mb));
        CHECK_OK(ctx, clg_tensor_set(gb, B[1], x, mb));
        CHECK_OK(ctx, clg_graph_run(gb, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        CHECK_OK(ctx, clg_zero_grads(gb));
        for (int m = 0; m < MICRO; m++) {
            CHECK_OK(ctx, clg_tensor_set(gb, B[0], x + m * mb, mb));
            CHECK_OK(ctx, clg_tensor_set(gb, B[1], y + m * mb, mb));
            CHECK_OK(ctx, clg_graph_run(gb, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        }
        CHECK_OK(ctx, clg_graph_run(gb, CLG_RUN_UPDATE));
    }
    for (int k = 0; k < 2; k++) {
        float wa[F], wb[F];
        CHECK_OK(ctx, clg_tensor_get(ga, A[2 + k], wa, F));
        CHECK_OK(ctx, clg_tensor_get(gb, B[2 + k], wb, F));
        char what[96];
        snprintf(what, sizeof what, "%s: accumulated vs single batch, parameter %d", spec, k);
        /* the two sum the same 64 rows in different orders: each gradient
         * component differs by at most 64 roundings of terms of size ~10,
         * 4e-5, against a norm in the hundreds; the clipped step lr * 20 *
         * g / |g| moves it by under 1e-8 per step, momentum multiplying
         * that by at most 5 over five steps. 1e-6 of max |w| (~2) keeps
         * room for the float rounding of w itself. */
        assert_close_scaled(wb, wa, F, 1e-6, 1e-6, what);
    }
    clg_graph_destroy(ga);
    clg_graph_destroy(gb);
}

static void test_accumulation(void **state) { each_device(accumulation); }

/* ---- checkpoint resume: named state and the step count ---- */

static clg_graph *resume_graph(clg_context *ctx, clg_tensor *w, clg_tensor *c)
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s[2] = {5, 7};
    *w = clg_param(g, 2, s);
    *c = clg_input(g, 2, s);
    CHECK_OK(ctx, clg_tensor_set_name(g, *w, "fc.weight"));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, *w, *c))));
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAMW);
    cfg.lr = 0.02f;
    cfg.amsgrad = 1;
    cfg.schedule = CLG_LR_COSINE;
    cfg.t_max = 10;
    cfg.warmup_steps = 2;
    CHECK_OK(ctx, clg_optimizer(g, &cfg));
    return g;
}

static void resume(const char *spec, clg_context *ctx)
{
    enum { N = 35 };
    static const char *const names[] = {"fc.weight", "fc.weight.exp_avg", "fc.weight.exp_avg_sq",
                                        "fc.weight.max_exp_avg_sq"};
    float w0[N], cs[10][N], wa[N], wc[N], buf[N];
    rng_t r = {31337};
    rng_fill(&r, w0, N, 0.5, 2.0, false);
    for (int s = 0; s < 10; s++) rng_fill(&r, cs[s], N, 0.1, 2.0, false);
    clg_tensor w, c;
    /* A: ten steps straight */
    clg_graph *a = resume_graph(ctx, &w, &c);
    CHECK_OK(ctx, clg_tensor_set(a, w, w0, N));
    for (int s = 0; s < 10; s++) {
        CHECK_OK(ctx, clg_tensor_set(a, c, cs[s], N));
        CHECK_OK(ctx, clg_graph_run(a, CLG_RUN_ALL));
    }
    CHECK_OK(ctx, clg_tensor_get(a, w, wa, N));
    /* B: five steps, then every named tensor and the step into a fresh C */
    clg_graph *b = resume_graph(ctx, &w, &c);
    CHECK_OK(ctx, clg_tensor_set(b, w, w0, N));
    for (int s = 0; s < 5; s++) {
        CHECK_OK(ctx, clg_tensor_set(b, c, cs[s], N));
        CHECK_OK(ctx, clg_graph_run(b, CLG_RUN_ALL));
    }
    clg_graph *gc = resume_graph(ctx, &w, &c);
    for (int k = 0; k < 4; k++) {
        clg_tensor tb = find_named(b, names[k]), tc = find_named(gc, names[k]);
        if (tb.id < 0 || tc.id < 0) fail_msg("%s: no tensor named %s", spec, names[k]);
        CHECK_OK(ctx, clg_tensor_get(b, tb, buf, N));
        CHECK_OK(ctx, clg_tensor_set(gc, tc, buf, N));
    }
    int64_t step;
    CHECK_OK(ctx, clg_optimizer_get_step(b, &step));
    assert_int_equal(step, 5);
    CHECK_OK(ctx, clg_optimizer_set_step(gc, step));
    for (int s = 5; s < 10; s++) {
        CHECK_OK(ctx, clg_tensor_set(gc, c, cs[s], N));
        CHECK_OK(ctx, clg_graph_run(gc, CLG_RUN_ALL));
    }
    CHECK_OK(ctx, clg_tensor_get(gc, w, wc, N));
    /* the same operations on the same device: bit for bit */
    assert_memory_equal(wa, wc, sizeof wa);
    clg_graph_destroy(a);
    clg_graph_destroy(b);
    clg_graph_destroy(gc);
}

static void test_resume(void **state) { each_device(resume); }

/* ---- state tensors: names and initial values ---- */

static void state_init(const char *spec, clg_context *ctx)
{
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD);
    cfg.initial_accumulator_value = 0.375f;
    cfg.accumulate = 1;
    clg_tensor w;
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 300;
    w = clg_param(g, 1, &n);
    clg_tensor u = clg_param(g, 1, &n); /* unnamed: its state is unnamed */
    CHECK_OK(ctx, clg_tensor_set_name(g, w, "emb"));
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, w, u))));
    CHECK_OK(ctx, clg_optimizer(g, &cfg));
    float v[300];
    clg_tensor s = find_named(g, "emb.sum"), acc = find_named(g, "emb.grad_accum");
    assert_true(s.id >= 0 && acc.id >= 0);
    CHECK_OK(ctx, clg_tensor_get(g, s, v, 300));
    for (int i = 0; i < 300; i++) assert_true(v[i] == 0.375f);
    CHECK_OK(ctx, clg_tensor_get(g, acc, v, 300));
    for (int i = 0; i < 300; i++) assert_true(v[i] == 0.0f);
    int named = 0;
    for (int32_t i = 0; i < clg_graph_tensor_count(g); i++) named += clg_tensor_name(g, clg_graph_tensor(g, i)) != NULL;
    assert_int_equal(named, 3); /* emb, emb.sum, emb.grad_accum */
    clg_graph_destroy(g);
    (void)spec;
}

static void test_state_init(void **state) { each_device(state_init); }

/* ---- bad input ---- */

static clg_graph *ready_graph(clg_context *ctx, clg_tensor *w)
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 4;
    *w = clg_param(g, 1, &n);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, *w))));
    return g;
}

static void expect_bad(clg_context *ctx, clg_graph *g, clg_optimizer_config c, const char *field)
{
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "clg_optimizer");
    ASSERT_MSG_HAS(ctx, field);
    assert_int_equal(clg_graph_status(g), CLG_OK); /* a bad config records nothing */
}

static void errors(const char *spec, clg_context *ctx)
{
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 4;
    clg_tensor w = clg_param(g, 1, &n);
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "clg_backward first");
    int64_t step;
    assert_int_equal(clg_optimizer_get_step(g, &step), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "no optimizer");
    assert_int_equal(clg_zero_grads(g), CLG_OK); /* nothing accumulates: nothing to zero */
    clg_graph_destroy(g);

    g = ready_graph(ctx, &w);
    assert_int_equal(clg_optimizer(g, NULL), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "cfg is NULL");
    clg_optimizer_config b;
    b = c, b.lr = -1;
    expect_bad(ctx, g, b, "lr = -1");
    b = c, b.beta1 = 1;
    expect_bad(ctx, g, b, "beta1 = 1");
    b = c, b.beta2 = NAN;
    expect_bad(ctx, g, b, "beta2");
    b = c, b.eps = -1e-8f;
    expect_bad(ctx, g, b, "eps");
    b = c, b.kind = (clg_optimizer_kind)17;
    expect_bad(ctx, g, b, "kind 17");
    b = c, b.max_grad_norm = INFINITY;
    expect_bad(ctx, g, b, "max_grad_norm");
    b = c, b.schedule = CLG_LR_STEP, b.step_size = 0;
    expect_bad(ctx, g, b, "step_size = 0");
    b = c, b.schedule = CLG_LR_COSINE, b.t_max = 0;
    expect_bad(ctx, g, b, "t_max = 0");
    b = c, b.warmup_steps = 5, b.warmup_start_factor = 0;
    expect_bad(ctx, g, b, "warmup_start_factor");
    b = clg_optimizer_defaults(CLG_OPTIM_SGD), b.nesterov = 1;
    expect_bad(ctx, g, b, "nesterov");
    b.momentum = 0.9f, b.dampening = 0.1f;
    expect_bad(ctx, g, b, "dampening 0.1");
    b = clg_optimizer_defaults(CLG_OPTIM_RMSPROP), b.alpha = 1.5f;
    expect_bad(ctx, g, b, "alpha = 1.5");
    b = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD), b.initial_accumulator_value = -1;
    expect_bad(ctx, g, b, "initial_accumulator_value");

    /* after the bad ones, a good one works; a second does not */
    CHECK_OK(ctx, clg_optimizer(g, &c));
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_STATE);
    ASSERT_MSG_HAS(ctx, "already has an update");
    assert_int_equal(clg_sgd(g, 0.1f), CLG_ERR_STATE);
    assert_int_equal(clg_optimizer_set_step(g, -1), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "negative");
    assert_int_equal(clg_optimizer_get_lr(g, NULL), CLG_ERR_INVALID_ARGUMENT);
    clg_graph_destroy(g);
    assert_int_equal(clg_optimizer_set_step(g, 3), CLG_ERR_STATE); /* destroyed */

    /* a state name that would not fit */
    g = ready_graph(ctx, &w);
    char longname[64];
    memset(longname, 'x', 60);
    longname[60] = '\0';
    CHECK_OK(ctx, clg_tensor_set_name(g, w, longname));
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, ".exp_avg'");
    ASSERT_MSG_HAS(ctx, "longer than 63");
    clg_graph_destroy(g);

    /* a state name already taken */
    g = ready_graph(ctx, &w);
    CHECK_OK(ctx, clg_tensor_set_name(g, w, "w"));
    CHECK_OK(ctx, clg_tensor_set_name(g, clg_grad(g, w), "w.exp_avg"));
    assert_int_equal(clg_optimizer(g, &c), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "'w.exp_avg', a name already taken");
    assert_int_equal(clg_graph_status(g), CLG_OK); /* nothing recorded */
    clg_graph_destroy(g);
    (void)spec;
}

static void test_errors(void **state) { each_device(errors); }

/* maximize (PyTorch's maximize=True) negates the gradient before weight
 * decay and state, so maximizing sum(w * c) is minimizing sum(w * -c): the
 * same parameters bit for bit (the negation is exact), for every
 * optimizer, option and schedule of make_cases, plain, clipped and
 * accumulated; and a caller's struct that ends before the field (an
 * older header's) leaves it off whatever follows. */
static void maximize_one(clg_context *ctx, clg_optimizer_config cfg, int mode, uint64_t seed, const char *spec)
{
    enum { STEPS = 4 };
    if (mode == MODE_CLIP) cfg.max_grad_norm = 10.0f;
    if (mode == MODE_ACCUM) cfg.accumulate = 1;
    lin_graph L[3];
    clg_optimizer_config c2 = cfg, c3 = cfg;
    cfg.maximize = 1;
    c3.maximize = 1;
    c3.size = offsetof(clg_optimizer_config, maximize); /* an older struct: the field is not read */
    lin_build(ctx, &L[0], &cfg);
    lin_build(ctx, &L[1], &c2);
    lin_build(ctx, &L[2], &c3);
    const size_t n = L[0].off[NP];
    float *w0 = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float)), *neg = malloc(n * sizeof(float));
    float *got[3] = {malloc(n * sizeof(float)), malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    rng_t r = {seed};
    rng_fill(&r, w0, n, 0.5, 2.0, false);
    for (int k = 0; k < 3; k++) lin_set(ctx, &L[k], L[k].w, w0);
    const int micro = mode == MODE_ACCUM ? 2 : 1;
    for (int step = 0; step < STEPS; step++) {
        for (int mb = 0; mb < micro; mb++) {
            rng_fill(&r, c, n, 0.1, 2.0, false);
            for (size_t i = 0; i < n; i++) neg[i] = -c[i];
            for (int k = 0; k < 3; k++) {
                lin_set(ctx, &L[k], L[k].c, k == 1 ? neg : c);
                CHECK_OK(ctx, clg_graph_run(L[k].g, micro > 1 ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_ALL));
            }
        }
        for (int k = 0; micro > 1 && k < 3; k++) CHECK_OK(ctx, clg_graph_run(L[k].g, CLG_RUN_UPDATE));
    }
    for (int k = 0; k < 3; k++) lin_get(ctx, &L[k], L[k].w, got[k]);
    char label[320], what[400];
    describe(&cfg, mode, label, sizeof label);
    snprintf(what, sizeof what, "%s: %s: maximize sum(w c) against minimize sum(w -c)", spec, label);
    assert_close_ulp(got[0], got[1], n, 0, what);
    /* the older struct minimized sum(w c): it moved the other way */
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += got[2][i] != got[0][i];
    if (differ == 0) fail_msg("%s: %s: a struct without the maximize field maximized", spec, label);
    for (int k = 0; k < 3; k++) {
        free(got[k]);
        clg_graph_destroy(L[k].g);
    }
    free(w0);
    free(c);
    free(neg);
}

static void maximize(const char *spec, clg_context *ctx)
{
    clg_optimizer_config cases[64];
    const int n = make_cases(cases);
    for (int i = 0; i < n; i++)
        for (int mode = 0; mode < MODE_COUNT; mode++) maximize_one(ctx, cases[i], mode, 900 + (uint64_t)i, spec);
}

static void test_maximize(void **state) { each_device(maximize); }

/* Parameter groups: p1 and p2 in groups of their own with other options
 * (lr, weight decay and the kind's own: momentum on or off, nesterov,
 * betas, amsgrad, alpha, centered, lr_decay, maximize), p0 on the graph's
 * config. Each parameter must end bit for bit where a graph with its
 * group's config for every parameter takes it, for every case of
 * make_cases, plain, clipped (one norm over all gradients) and
 * accumulated; the state tensors follow the group's options. */
static clg_optimizer_config group_variant(clg_optimizer_config c, int v)
{
    c.lr *= v == 1 ? 0.3f : 2.0f;
    c.weight_decay = v == 1 ? 0.0f : 0.05f;
    switch (c.kind) {
    case CLG_OPTIM_SGD:
        if (v == 1) c.momentum = c.momentum > 0 ? 0.0f : 0.8f, c.nesterov = 0, c.dampening = 0;
        else c.momentum = 0.5f, c.nesterov = 1, c.dampening = 0;
        break;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW:
        c.beta1 = v == 1 ? 0.8f : 0.95f;
        c.amsgrad = !c.amsgrad;
        break;
    case CLG_OPTIM_RMSPROP:
        c.alpha = 0.9f;
        c.centered = !c.centered;
        c.momentum = v == 1 ? 0.0f : 0.3f;
        break;
    case CLG_OPTIM_ADAGRAD: c.lr_decay = 0.01f; break;
    }
    if (v == 2) c.maximize = !c.maximize;
    return c;
}

static void groups_one(clg_context *ctx, clg_optimizer_config cfg, int mode, uint64_t seed, const char *spec)
{
    enum { STEPS = 4 };
    if (mode == MODE_CLIP) cfg.max_grad_norm = 10.0f;
    if (mode == MODE_ACCUM) cfg.accumulate = 1;
    const clg_optimizer_config v1 = group_variant(cfg, 1), v2 = group_variant(cfg, 2);
    const clg_optimizer_config *const gcfg[NP] = {NULL, &v1, &v2};
    /* L[0] grouped; L[1..3] every parameter on cfg, v1, v2 */
    lin_graph L[4];
    lin_build_groups(ctx, &L[0], &cfg, gcfg);
    lin_build(ctx, &L[1], &cfg);
    lin_build(ctx, &L[2], &v1);
    lin_build(ctx, &L[3], &v2);
    const size_t n = L[0].off[NP];
    float *w0 = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
    float *got[4];
    for (int k = 0; k < 4; k++) got[k] = malloc(n * sizeof(float));
    rng_t r = {seed};
    rng_fill(&r, w0, n, 0.5, 2.0, false);
    for (int k = 0; k < 4; k++) lin_set(ctx, &L[k], L[k].w, w0);
    const int micro = mode == MODE_ACCUM ? 2 : 1;
    for (int step = 0; step < STEPS; step++) {
        for (int mb = 0; mb < micro; mb++) {
            rng_fill(&r, c, n, -2.0, 2.0, false);
            for (int k = 0; k < 4; k++) {
                lin_set(ctx, &L[k], L[k].c, c);
                CHECK_OK(ctx, clg_graph_run(L[k].g, micro > 1 ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_ALL));
            }
        }
        for (int k = 0; micro > 1 && k < 4; k++) CHECK_OK(ctx, clg_graph_run(L[k].g, CLG_RUN_UPDATE));
    }
    for (int k = 0; k < 4; k++) lin_get(ctx, &L[k], L[k].w, got[k]);
    char label[320], what[480];
    describe(&cfg, mode, label, sizeof label);
    for (int p = 0; p < NP; p++) {
        snprintf(what, sizeof what, "%s: %s: parameter p%d of the grouped graph", spec, label, p);
        assert_close_ulp(got[0] + L[0].off[p], got[1 + p] + L[0].off[p], L[0].off[p + 1] - L[0].off[p], 0, what);
        /* the state follows the group: p<k>.<slot> exists iff the group's options use it */
        const clg_optimizer_config *pc = p == 0 ? &cfg : gcfg[p];
        for (int slot = 0; slot < 3; slot++) {
            const char *sname = host_slot_name(pc->kind, slot);
            if (!sname) continue;
            char name[48];
            snprintf(name, sizeof name, "p%d.%s", p, sname);
            bool has = find_named(L[0].g, name).id >= 0;
            if (has != host_slot_used(pc, slot))
                fail_msg("%s: %s: state %s %s", spec, label, name, has ? "exists, unused" : "is missing");
        }
    }
    for (int k = 0; k < 4; k++) {
        free(got[k]);
        clg_graph_destroy(L[k].g);
    }
    free(w0);
    free(c);
}

static void groups(const char *spec, clg_context *ctx)
{
    clg_optimizer_config cases[64];
    const int n = make_cases(cases);
    for (int i = 0; i < n; i++)
        for (int mode = 0; mode < MODE_COUNT; mode++) groups_one(ctx, cases[i], mode, 1300 + (uint64_t)i, spec);
}

static void test_groups(void **state) { each_device(groups); }

/* Refused groups name what is wrong and record nothing: a good call follows. */
static void test_group_errors(void **state)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t n = 3;
    clg_tensor w = clg_param(g, 1, &n), v = clg_param(g, 1, &n), unused = clg_param(g, 1, &n);
    clg_tensor x = clg_input(g, 1, &n);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_mul(g, clg_mul(g, w, v), x))));
    const clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    clg_optimizer_config adam = clg_optimizer_defaults(CLG_OPTIM_ADAM), cos = c, clip = c, bad = c;
    cos.schedule = CLG_LR_COSINE;
    cos.t_max = 10;
    clip.max_grad_norm = 1.0f;
    bad.lr = -1.0f;
    const clg_tensor both[2] = {w, w};
    struct {
        clg_optimizer_group grp[2];
        int ng;
        const char *says;
    } cases[] = {
        {{{&adam, 1, &w}}, 1, "group 0's kind differs"},
        {{{&cos, 1, &w}}, 1, "group 0's schedule differs"},
        {{{&clip, 1, &w}}, 1, "group 0's max_grad_norm differs"},
        {{{&bad, 1, &w}}, 1, "lr = -1 is invalid"},
        {{{NULL, 1, &w}}, 1, "group 0's cfg is NULL"},
        {{{&c, 1, &x}}, 1, "is not a parameter"},
        {{{&c, 1, &unused}}, 1, "has no gradient"},
        {{{&c, 2, both}}, 1, "is in group 0 and group 0"},
        {{{&c, 1, &w}, {&c, 1, &w}}, 2, "is in group 0 and group 1"},
        {{{&c, -1, &w}}, 1, "lists -1 parameters"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(clg_optimizer_groups(g, &c, cases[k].ng, cases[k].grp), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, cases[k].says);
        clg_graph_clear_status(g);
    }
    int32_t before = clg_graph_tensor_count(g);
    const clg_optimizer_group ok = {&c, 1, &v};
    CHECK_OK(ctx, clg_optimizer_groups(g, &c, 1, &ok));
    assert_true(clg_graph_tensor_count(g) > before);
    assert_int_equal(clg_optimizer_groups(g, &c, 1, &ok), CLG_ERR_STATE);
    clg_graph_destroy(g);
    clg_context_destroy(ctx);
}

/* The config's size field: a caller's struct from another version of the
 * header. Hand-filled (size 0) is this version's layout; a longer struct
 * gets this version's defaults and zeros after them; one shorter than any
 * version's is refused, the graph unchanged. */
static void test_config_size(void **state)
{
    unsigned char longer[sizeof(clg_optimizer_config) + 32];
    memset(longer, 0xab, sizeof longer);
    assert_int_equal(clg_optimizer_config_init((clg_optimizer_config *)(void *)longer, sizeof longer, CLG_OPTIM_ADAMW),
                     CLG_OK);
    clg_optimizer_config d = clg_optimizer_defaults(CLG_OPTIM_ADAMW), l;
    memcpy(&l, longer, sizeof l);
    assert_int_equal(d.size, sizeof d);
    assert_int_equal(l.size, sizeof longer);
    assert_true(l.weight_decay == 1e-2f && l.beta2 == d.beta2 && l.warmup_start_factor == d.warmup_start_factor);
    for (size_t k = sizeof l; k < sizeof longer; k++) assert_int_equal(longer[k], 0);
    assert_int_equal(clg_optimizer_config_init(&l, 2, CLG_OPTIM_SGD), CLG_ERR_INVALID_ARGUMENT);

    clg_context *ctx = open_ctx("reference");
    for (int k = 0; k < 3; k++) {
        clg_graph *g;
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        const int64_t n = 3;
        clg_tensor w = clg_param(g, 1, &n);
        CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_square(g, w))));
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
        c.size = k == 0 ? 0 : k == 1 ? sizeof longer : 16;
        assert_int_equal(clg_optimizer(g, &c), k < 2 ? CLG_OK : CLG_ERR_INVALID_ARGUMENT);
        if (k == 2) {
            assert_non_null(strstr(clg_context_errmsg(ctx), "cfg->size is 16"));
            /* refused: nothing recorded, a good config still goes in */
            c.size = sizeof c;
            clg_graph_clear_status(g);
            CHECK_OK(ctx, clg_optimizer(g, &c));
        }
        clg_graph_destroy(g);
    }
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_host), cmocka_unit_test(test_converges), cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clipping),     cmocka_unit_test(test_accumulation), cmocka_unit_test(test_resume),
        cmocka_unit_test(test_state_init),   cmocka_unit_test(test_errors), cmocka_unit_test(test_config_size),
        cmocka_unit_test(test_maximize),     cmocka_unit_test(test_groups), cmocka_unit_test(test_group_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
