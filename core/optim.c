/*
 * The optim family: clg_optimizer records one fused update per parameter,
 * the gradient-norm reduction of clipping and the accumulators of
 * gradient accumulation. The step count and the learning-rate schedule
 * stay on the host (g->optim); before each update run the step's factors
 * go into the update nodes, whose backends pass them as kernel arguments.
 */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static clg_optimizer_config defaults(clg_optimizer_kind kind)
{
    clg_optimizer_config c = {
        .size = sizeof c,
        .kind = kind,
        .lr = 1e-3f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .alpha = 0.99f,
        .schedule = CLG_LR_CONSTANT,
        .step_size = 1,
        .gamma = 0.1f,
        .t_max = 1,
        .warmup_start_factor = 1.0f / 3.0f,
        .scale_growth = 2.0f,
        .scale_backoff = 0.5f,
        .scale_interval = 2000,
    };
    if (kind == CLG_OPTIM_ADAMW) c.weight_decay = 1e-2f;
    if (kind == CLG_OPTIM_RMSPROP || kind == CLG_OPTIM_ADAGRAD) c.lr = 1e-2f;
    if (kind == CLG_OPTIM_ADAGRAD) c.eps = 1e-10f;
    return c;
}

/* The caller's struct may be older (smaller) or newer (larger) than this
 * library's: the fields both know are copied, and only those. */
clg_status clg_optimizer_config_init(clg_optimizer_config *cfg, size_t size, clg_optimizer_kind kind)
{
    if (!cfg || size < offsetof(clg_optimizer_config, kind) + sizeof cfg->kind) return CLG_ERR_INVALID_ARGUMENT;
    clg_optimizer_config c = defaults(kind);
    memset(cfg, 0, size);
    memcpy(cfg, &c, size < sizeof c ? size : sizeof c);
    cfg->size = size;
    return CLG_OK;
}

/* ---- the learning-rate schedule ---- */

static const double PI = 3.14159265358979323846;

/* The lr of the update after s earlier ones (see clg_lr_schedule). */
static double scheduled_lr(const clg_optimizer_config *c, int64_t s)
{
    const double lr = c->lr;
    if (s < c->warmup_steps) {
        const double f = c->warmup_start_factor;
        return lr * (f + (1.0 - f) * (double)s / (double)c->warmup_steps);
    }
    s -= c->warmup_steps;
    switch (c->schedule) {
    case CLG_LR_STEP: return lr * pow(c->gamma, (double)(s / c->step_size));
    case CLG_LR_EXPONENTIAL: return lr * pow(c->gamma, (double)s);
    case CLG_LR_COSINE: return c->eta_min + (lr - c->eta_min) * (1.0 + cos(PI * (double)s / (double)c->t_max)) / 2.0;
    default: return lr;
    }
}

/* The eight float arguments of update t (t from 1), as optim_arg reads
 * them back; computed in double and rounded once, as PyTorch does with
 * its Python-float factors. */
static void step_args(const clg_optimizer_config *c, int64_t t, float a[OPTIM_NARGS])
{
    const double lr = scheduled_lr(c, t - 1);
    for (int k = 0; k < OPTIM_NARGS; k++) a[k] = 0.0f;
    a[0] = (float)lr;
    a[1] = c->weight_decay;
    switch (c->kind) {
    case CLG_OPTIM_SGD:
        a[2] = c->momentum;
        a[3] = (float)(1.0 - (double)c->dampening);
        break;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW:
        if (c->kind == CLG_OPTIM_ADAMW) a[1] = (float)(1.0 - lr * c->weight_decay);
        a[2] = c->beta1;
        a[3] = c->beta2;
        a[4] = c->eps;
        a[5] = (float)(lr / (1.0 - pow(c->beta1, (double)t)));
        a[6] = (float)sqrt(1.0 - pow(c->beta2, (double)t));
        break;
    case CLG_OPTIM_RMSPROP:
        a[2] = c->alpha;
        a[3] = c->eps;
        a[4] = c->momentum;
        break;
    case CLG_OPTIM_ADAGRAD:
        a[0] = (float)(lr / (1.0 + (double)(t - 1) * c->lr_decay));
        a[2] = c->eps;
        break;
    }
}

void clg_optim_begin_update(clg_graph *g)
{
    struct clg_optim *o = g->optim;
    if (!o) return;
    o->step++;
    for (int32_t i = o->update_begin; i < o->update_end; i++) {
        clg_node *n = &g->nodes[i];
        float a[OPTIM_NARGS];
        step_args(&o->cfgs[o->group_of[i - o->update_begin]], o->step, a);
        /* scaled: the host's step count, which the kernel compares with
         * the device's (optim.h) */
        if (n->i[1] & OPTIM_F_SCALED) a[7] = (float)o->step;
        for (int k = 0; k < OPTIM_NARGS; k++) optim_set_arg(n, k, a[k]);
        if (o->step == 1) n->i[1] |= OPTIM_F_FIRST;
        else n->i[1] &= ~(int64_t)OPTIM_F_FIRST;
    }
}

void clg_optim_cancel_update(clg_graph *g)
{
    if (g->optim) g->optim->step--;
}

/* ---- checking the config ---- */

static clg_status bad_value(clg_graph *g, const char *field, double v, const char *want)
{
    return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: %s = %g is invalid (%s)", field, v, want);
}

#define CHECK_RANGE(cond, field, want)                                                             \
    do {                                                                                           \
        if (!(cond)) return bad_value(g, #field, (double)c->field, want);                          \
    } while (0)

static clg_status check_schedule(clg_graph *g, const clg_optimizer_config *c)
{
    switch (c->schedule) {
    case CLG_LR_CONSTANT: break;
    case CLG_LR_STEP:
        CHECK_RANGE(c->step_size >= 1, step_size, "must be >= 1");
        CHECK_RANGE(c->gamma > 0 && isfinite(c->gamma), gamma, "must be finite and > 0");
        break;
    case CLG_LR_EXPONENTIAL: CHECK_RANGE(c->gamma > 0 && isfinite(c->gamma), gamma, "must be finite and > 0"); break;
    case CLG_LR_COSINE:
        CHECK_RANGE(c->t_max >= 1, t_max, "must be >= 1");
        CHECK_RANGE(isfinite(c->eta_min) && c->eta_min >= 0, eta_min, "must be finite and >= 0");
        break;
    default:
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: unknown schedule %d", (int)c->schedule);
    }
    CHECK_RANGE(c->warmup_steps >= 0, warmup_steps, "must be >= 0");
    if (c->warmup_steps > 0)
        CHECK_RANGE(c->warmup_start_factor > 0 && c->warmup_start_factor <= 1, warmup_start_factor,
                    "must be in (0, 1]");
    return CLG_OK;
}

static clg_status check_config(clg_graph *g, const clg_optimizer_config *c)
{
    const char *nonneg = "must be finite and >= 0";
    CHECK_RANGE(isfinite(c->lr) && c->lr >= 0, lr, nonneg);
    CHECK_RANGE(isfinite(c->weight_decay) && c->weight_decay >= 0, weight_decay, nonneg);
    CHECK_RANGE(isfinite(c->max_grad_norm) && c->max_grad_norm >= 0, max_grad_norm, "must be finite and >= 0; 0 is off");
    CHECK_RANGE(c->loss_scale >= 0 && c->loss_scale < 0x1p126f, loss_scale,
                "must be in [0, 2^126): its reciprocal a normal float; 0 is off");
    if (c->loss_scale > 0) {
        CHECK_RANGE(isfinite(c->scale_growth) && c->scale_growth > 1, scale_growth, "must be finite and > 1");
        CHECK_RANGE(c->scale_backoff > 0 && c->scale_backoff < 1, scale_backoff, "must be in (0, 1)");
        CHECK_RANGE(c->scale_interval >= 1, scale_interval, "must be at least 1");
        if (c->accumulate)
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_optimizer: loss scaling with gradient accumulation (accumulate) is not supported "
                             "yet (a skipped step must still zero the accumulators)");
        if (c->kind == CLG_OPTIM_ADAGRAD && c->lr_decay != 0)
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_optimizer: loss scaling with Adagrad's lr_decay (%g) is not supported (a skipped "
                             "step would have to change the decayed lr on the device)",
                             (double)c->lr_decay);
    }
    switch (c->kind) {
    case CLG_OPTIM_SGD:
        CHECK_RANGE(isfinite(c->momentum) && c->momentum >= 0, momentum, nonneg);
        CHECK_RANGE(isfinite(c->dampening), dampening, "must be finite");
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_optimizer: nesterov needs momentum > 0 and dampening 0 (momentum %g, dampening %g)",
                             (double)c->momentum, (double)c->dampening);
        break;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW:
        CHECK_RANGE(c->beta1 >= 0 && c->beta1 < 1, beta1, "must be in [0, 1)");
        CHECK_RANGE(c->beta2 >= 0 && c->beta2 < 1, beta2, "must be in [0, 1)");
        CHECK_RANGE(isfinite(c->eps) && c->eps >= 0, eps, nonneg);
        break;
    case CLG_OPTIM_RMSPROP:
        CHECK_RANGE(c->alpha >= 0 && c->alpha <= 1, alpha, "must be in [0, 1]");
        CHECK_RANGE(isfinite(c->eps) && c->eps >= 0, eps, nonneg);
        CHECK_RANGE(isfinite(c->momentum) && c->momentum >= 0, momentum, nonneg);
        break;
    case CLG_OPTIM_ADAGRAD:
        CHECK_RANGE(isfinite(c->lr_decay) && c->lr_decay >= 0, lr_decay, nonneg);
        CHECK_RANGE(isfinite(c->initial_accumulator_value) && c->initial_accumulator_value >= 0,
                    initial_accumulator_value, nonneg);
        CHECK_RANGE(isfinite(c->eps) && c->eps >= 0, eps, nonneg);
        break;
    default:
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: unknown optimizer kind %d", (int)c->kind);
    }
    return check_schedule(g, c);
}

/* ---- recording ---- */

#define MAX_STATES 3

/* PyTorch's name of state slot k of the config's optimizer, NULL when
 * the slot is unused. */
static const char *state_name(const clg_optimizer_config *c, int k)
{
    switch (c->kind) {
    case CLG_OPTIM_SGD: return k == 0 && c->momentum > 0 ? "momentum_buffer" : NULL;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW: return k == 0 ? "exp_avg" : k == 1 ? "exp_avg_sq" : c->amsgrad ? "max_exp_avg_sq" : NULL;
    case CLG_OPTIM_RMSPROP:
        if (k == 0) return "square_avg";
        if (k == 1) return c->momentum > 0 ? "momentum_buffer" : NULL;
        return c->centered ? "grad_avg" : NULL;
    case CLG_OPTIM_ADAGRAD: return k == 0 ? "sum" : NULL;
    }
    return NULL;
}

bool clg_optim_is_state_name(const char *suffix)
{
    static const char *const all[] = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                                      "square_avg",      "grad_avg", "sum",       "grad_accum"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(suffix, all[i])) return true;
    return false;
}

static int64_t static_flags(const clg_optimizer_config *c)
{
    int64_t f = 0;
    bool sgd = c->kind == CLG_OPTIM_SGD, adam = c->kind == CLG_OPTIM_ADAM || c->kind == CLG_OPTIM_ADAMW;
    if (c->max_grad_norm > 0) f |= OPTIM_F_CLIP;
    if (c->accumulate) f |= OPTIM_F_ZERO_GRAD;
    if ((sgd || c->kind == CLG_OPTIM_RMSPROP) && c->momentum > 0) f |= OPTIM_F_MOMENTUM;
    if (sgd && c->nesterov) f |= OPTIM_F_NESTEROV;
    if (adam && c->amsgrad) f |= OPTIM_F_AMSGRAD;
    if (c->kind == CLG_OPTIM_ADAMW) f |= OPTIM_F_DECOUPLED;
    if (c->kind == CLG_OPTIM_RMSPROP && c->centered) f |= OPTIM_F_CENTERED;
    if (c->maximize) f |= OPTIM_F_MAXIMIZE;
    return f;
}

/* One parameter being given an optimizer. */
typedef struct param_rec {
    int32_t w;     /* the parameter */
    int grp;       /* its config: 0 the graph's, k > 0 group k - 1's */
    int32_t gsrc;  /* what its update reads: the gradient or the accumulator */
    int32_t state[MAX_STATES];
} param_rec;

static bool name_taken(const clg_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->n; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return true;
    return false;
}

/* The names "<param>.<suffix>" of the state must fit and be free; checked
 * before anything is recorded, so that a failure leaves the graph as it
 * was. */
static clg_status check_names(clg_graph *g, const clg_optimizer_config *cfgs, const param_rec *p, int np)
{
    for (int j = 0; j < np; j++) {
        const clg_optimizer_config *c = &cfgs[p[j].grp];
        const char *pn = g->nodes[p[j].w].name;
        if (!pn[0]) continue;
        for (int k = 0; k <= MAX_STATES; k++) {
            const char *s = k < MAX_STATES ? state_name(c, k) : c->accumulate ? "grad_accum" : NULL;
            if (!s) continue;
            char name[2 * sizeof g->nodes[0].name];
            snprintf(name, sizeof name, "%s.%s", pn, s);
            if (strlen(name) >= sizeof g->nodes[0].name)
                return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                                 "clg_optimizer: state name '%s' of parameter %d is longer than %zu characters", name,
                                 (int)p[j].w, sizeof g->nodes[0].name - 1);
            if (name_taken(g, name))
                return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                                 "clg_optimizer: the state of parameter %d would be named '%s', a name already taken",
                                 (int)p[j].w, name);
        }
    }
    return CLG_OK;
}

/* A zero-filled (or value-filled) leaf shaped like parameter w, named
 * "<w's name>.<suffix>" when w is named. */
static int32_t state_leaf(clg_graph *g, int32_t w, const char *suffix, float value)
{
    clg_node proto = {.op = CLG_OP_INPUT, .dtype = CLG_F32, .phase = CLG_RUN_FORWARD, .ndim = g->nodes[w].ndim,
                      .src = {-1, -1, -1, -1}};
    memcpy(proto.shape, g->nodes[w].shape, sizeof proto.shape);
    int32_t id = clg_graph_add_node(g, &proto, true);
    if (id < 0) return -1;
    g->nodes[id].role = CLG_ROLE_STATE;
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_fill(be, g->nodes[id].buf, value, (size_t)g->nodes[id].numel);
    if (s == CLG_OK && g->nodes[w].name[0]) {
        char name[2 * sizeof g->nodes[0].name]; /* fits: check_names */
        snprintf(name, sizeof name, "%s.%s", g->nodes[w].name, suffix);
        s = clg_tensor_set_name(g, clg_tref(g, id), name);
    }
    if (s != CLG_OK) {
        clg_error_wrap(g->ctx, s, "clg_optimizer: state '%s' of parameter %d", suffix, (int)w);
        clg_graph_fail(g, s);
        return -1;
    }
    return id;
}

/* An in-place node (update or accumulation) writing the buffer of dst. */
static int32_t in_place(clg_graph *g, clg_op op, uint8_t phase, int32_t dst, const int32_t src[CLG_MAX_SRC])
{
    const clg_node *d = &g->nodes[dst];
    clg_node proto = {.op = op, .dtype = CLG_F32, .phase = phase, .ndim = d->ndim, .buf = d->buf};
    memcpy(proto.shape, d->shape, sizeof proto.shape);
    memcpy(proto.src, src, sizeof proto.src);
    return clg_graph_add_node(g, &proto, false);
}

static int32_t scalar_op(clg_graph *g, clg_op op, int32_t a, int32_t b, float f0)
{
    clg_node proto = {.op = op, .dtype = CLG_F32, .phase = CLG_RUN_UPDATE, .ndim = 1, .shape = {1},
                      .src = {a, b, -1, -1}, .f = {f0}};
    int32_t id = clg_graph_add_node(g, &proto, true); /* not planned: updates read it by i[2] */
    if (id >= 0) g->nodes[id].role = CLG_ROLE_STATE;
    return id;
}

/* State leaves and accumulators of every parameter (accumulation runs in
 * the backward phase, after every gradient op). */
static clg_status record_state(clg_graph *g, const clg_optimizer_config *cfgs, param_rec *p, int np)
{
    for (int j = 0; j < np && g->status == CLG_OK; j++) {
        const clg_optimizer_config *c = &cfgs[p[j].grp];
        for (int k = 0; k < MAX_STATES; k++) {
            const char *s = state_name(c, k);
            float init = c->kind == CLG_OPTIM_ADAGRAD ? c->initial_accumulator_value : 0.0f;
            p[j].state[k] = s ? state_leaf(g, p[j].w, s, init) : -1;
        }
        if (c->accumulate) {
            int32_t acc = state_leaf(g, p[j].w, "grad_accum", 0.0f);
            if (acc < 0) break;
            in_place(g, CLG_OP_OPTIM_ACCUM, CLG_RUN_BACKWARD, acc, (int32_t[]){acc, p[j].gsrc, -1, -1});
            p[j].gsrc = acc;
        }
    }
    return g->status;
}

/* The clip coefficient's node: sum of squares over every gradient, one
 * running total per parameter, then min(1, max / (sqrt + 1e-6)). */
static int32_t record_clip(clg_graph *g, const clg_optimizer_config *c, const param_rec *p, int np)
{
    int32_t total = -1;
    for (int j = 0; j < np && g->status == CLG_OK; j++) total = scalar_op(g, CLG_OP_OPTIM_SQNORM, p[j].gsrc, total, 0);
    return g->status == CLG_OK ? scalar_op(g, CLG_OP_OPTIM_CLIP, total, -1, c->max_grad_norm) : -1;
}

/* ---- dynamic loss scaling (optim.h) ---- */

static const char *const scaler_names[3] = {"grad_scaler.scale", "grad_scaler.growth_tracker", "grad_scaler.steps"};

/* A [1] state leaf holding value, named name. */
static int32_t scalar_state(clg_graph *g, const char *name, float value)
{
    clg_node proto = {.op = CLG_OP_INPUT, .dtype = CLG_F32, .phase = CLG_RUN_FORWARD, .ndim = 1, .shape = {1},
                      .src = {-1, -1, -1, -1}};
    int32_t id = clg_graph_add_node(g, &proto, true);
    if (id < 0) return -1;
    g->nodes[id].role = CLG_ROLE_STATE;
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_fill(be, g->nodes[id].buf, value, 1);
    if (s == CLG_OK) s = clg_tensor_set_name(g, clg_tref(g, id), name);
    if (s != CLG_OK) {
        clg_error_wrap(g->ctx, s, "clg_optimizer: loss scaling's state '%s'", name);
        clg_graph_fail(g, s);
        return -1;
    }
    return id;
}

/* The count of non-finite gradient elements, the update factor {1 / scale
 * times the clip coefficient, t}, and the scaler's state; *coef the
 * factor's node. The scale itself is the backward pass's seed (the
 * constant dloss/dloss), made a state leaf holding cfg.loss_scale last,
 * when nothing can fail any more. */
static clg_status record_scaling(clg_graph *g, const clg_optimizer_config *c, const param_rec *p, int np,
                                 int32_t *coef, int32_t state[3])
{
    const int32_t seed = g->loss_seed - 1;
    if (seed < 0 || g->nodes[seed].op != CLG_OP_CONST || g->nodes[seed].numel != 1)
        return clg_error(g->ctx, CLG_ERR_STATE, "clg_optimizer: loss scaling needs the graph's clg_backward seed");
    for (int k = 0; k < 3; k++)
        if (name_taken(g, scaler_names[k]))
            return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                             "clg_optimizer: loss scaling's state name '%s' is taken by another tensor",
                             scaler_names[k]);
    state[0] = seed;
    state[1] = scalar_state(g, scaler_names[1], 0.0f);
    state[2] = state[1] >= 0 ? scalar_state(g, scaler_names[2], 0.0f) : -1;
    int32_t bad = -1, total = -1;
    for (int j = 0; j < np && g->status == CLG_OK; j++) {
        bad = scalar_op(g, CLG_OP_OPTIM_SQNORM, p[j].gsrc, bad, 0);
        if (bad >= 0) g->nodes[bad].i[0] = 1; /* count non-finite elements */
    }
    for (int j = 0; c->max_grad_norm > 0 && j < np && g->status == CLG_OK; j++)
        total = scalar_op(g, CLG_OP_OPTIM_SQNORM, p[j].gsrc, total, 0);
    if (g->status != CLG_OK) return g->status;
    clg_node proto = {.op = CLG_OP_OPTIM_UNSCALE, .dtype = CLG_F32, .phase = CLG_RUN_UPDATE, .ndim = 1, .shape = {2},
                      .src = {bad, seed, state[2], total}, .f = {c->max_grad_norm}};
    *coef = clg_graph_add_node(g, &proto, true); /* not planned: updates read it by i[2] */
    if (*coef >= 0) g->nodes[*coef].role = CLG_ROLE_STATE;
    return g->status;
}

static clg_status record(clg_graph *g, struct clg_optim *o, param_rec *p, int np)
{
    if (check_names(g, o->cfgs, p, np) != CLG_OK) return g->ctx->status;
    if (record_state(g, o->cfgs, p, np) != CLG_OK) return g->status;
    const bool scaled = o->cfg.loss_scale > 0;
    int32_t scaler[3] = {-1, -1, -1}, clip = -1;
    if (scaled) {
        clg_status s = record_scaling(g, &o->cfg, p, np, &clip, scaler);
        if (s != CLG_OK) return s;
    } else if (o->cfg.max_grad_norm > 0) clip = record_clip(g, &o->cfg, p, np);
    if (g->status != CLG_OK) return g->status;
    o->update_begin = g->n;
    for (int j = 0; j < np && g->status == CLG_OK; j++) {
        const clg_optimizer_config *c = &o->cfgs[p[j].grp];
        int32_t src[CLG_MAX_SRC] = {p[j].gsrc, p[j].state[0], p[j].state[1], p[j].state[2]};
        int32_t u = in_place(g, CLG_OP_OPTIM_UPDATE, CLG_RUN_UPDATE, p[j].w, src);
        if (u < 0) break;
        o->group_of[j] = p[j].grp;
        clg_node *n = &g->nodes[u];
        n->i[0] = c->kind;
        n->i[1] = static_flags(c) | (scaled ? OPTIM_F_CLIP | OPTIM_F_SCALED : 0);
        n->i[2] = clip;
        n->i[3] = p[j].w;
    }
    o->update_end = g->n;
    if (!scaled || g->status != CLG_OK) return g->status;
    /* after every update: the scale, its growth tracker and the steps taken */
    int32_t u = in_place(g, CLG_OP_OPTIM_SCALER, CLG_RUN_UPDATE, scaler[0],
                         (int32_t[]){scaler[0], g->nodes[clip].src[0], scaler[1], scaler[2]});
    if (u < 0) return g->status;
    g->nodes[u].f[0] = o->cfg.scale_growth;
    g->nodes[u].f[1] = o->cfg.scale_backoff;
    g->nodes[u].i[0] = o->cfg.scale_interval;
    /* the seed becomes the scale: a state leaf, named, holding loss_scale */
    clg_node *sd = &g->nodes[scaler[0]];
    clg_backend *be = g->ctx->be;
    clg_status s = be->vt->buffer_fill(be, sd->buf, o->cfg.loss_scale, 1);
    if (s != CLG_OK) {
        clg_graph_fail(g, s);
        return s;
    }
    sd->op = CLG_OP_INPUT;
    sd->role = CLG_ROLE_STATE;
    sd->f[0] = 0;
    snprintf(sd->name, sizeof sd->name, "%s", scaler_names[0]);
    return g->status;
}

/* A caller's config, of any version's size, as this version's struct;
 * what names it in messages is what. */
static clg_status full_config(clg_graph *g, const clg_optimizer_config *cfg, const char *what, clg_optimizer_config *out)
{
    if (!cfg) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: %s is NULL", what);
    /* size 0: a struct filled by hand in this version's layout */
    clg_optimizer_config full = defaults(cfg->kind);
    size_t size = cfg->size ? cfg->size : sizeof full;
    if (size < offsetof(clg_optimizer_config, accumulate) + sizeof full.accumulate)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                         "clg_optimizer: %s->size is %zu, less than any version's config (start from "
                         "clg_optimizer_defaults)", what, cfg->size);
    memcpy(&full, cfg, size < sizeof full ? size : sizeof full);
    full.size = sizeof full;
    *out = full;
    return check_config(g, out);
}

/* What one optimizer shares across its groups: the kind, the schedule
 * (one scheduler scales every group's lr, as torch.optim.lr_scheduler
 * does), clipping (one norm over all gradients) and accumulation. */
static clg_status check_group(clg_graph *g, const clg_optimizer_config *c, const clg_optimizer_config *gc, int k)
{
    const char *field = NULL;
    if (gc->kind != c->kind) field = "kind";
    else if (gc->schedule != c->schedule) field = "schedule";
    else if (gc->step_size != c->step_size) field = "step_size";
    else if (gc->gamma != c->gamma) field = "gamma";
    else if (gc->t_max != c->t_max) field = "t_max";
    else if (gc->eta_min != c->eta_min) field = "eta_min";
    else if (gc->warmup_steps != c->warmup_steps) field = "warmup_steps";
    else if (gc->warmup_start_factor != c->warmup_start_factor) field = "warmup_start_factor";
    else if (gc->max_grad_norm != c->max_grad_norm) field = "max_grad_norm";
    else if ((gc->accumulate != 0) != (c->accumulate != 0)) field = "accumulate";
    else if (gc->loss_scale != c->loss_scale) field = "loss_scale";
    else if (c->loss_scale > 0 && (gc->scale_growth != c->scale_growth || gc->scale_backoff != c->scale_backoff ||
                                   gc->scale_interval != c->scale_interval))
        field = "loss scaling's scale_growth, scale_backoff or scale_interval";
    if (!field) return CLG_OK;
    return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                     "clg_optimizer: group %d's %s differs from the config's (one optimizer shares its kind, "
                     "schedule, clipping, accumulation and loss scaling; lr, weight decay and the kind's own options "
                     "may differ)",
                     k, field);
}

static clg_status optimizer(clg_graph *g, const clg_optimizer_config *cfg, int ngroups,
                            const clg_optimizer_group *groups)
{
    clg_status s;
    if (!g->has_backward) return clg_error(g->ctx, CLG_ERR_STATE, "clg_optimizer: call clg_backward first");
    if (g->has_update)
        return clg_error(g->ctx, CLG_ERR_STATE, "clg_optimizer: the graph already has an update (clg_sgd or clg_optimizer)");
    if (ngroups < 0 || (ngroups > 0 && !groups))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: %d groups at %p", ngroups, (const void *)groups);
    clg_optimizer_config *cfgs = calloc((size_t)ngroups + 1, sizeof *cfgs);
    int *grp = calloc((size_t)g->n, sizeof *grp); /* each node's group + 1, 0: the config's */
    if (!cfgs || !grp) {
        free(cfgs);
        free(grp);
        return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "clg_optimizer: out of host memory");
    }
    s = full_config(g, cfg, "cfg", &cfgs[0]);
    for (int k = 0; k < ngroups && s == CLG_OK; k++) {
        char what[48];
        snprintf(what, sizeof what, "group %d's cfg", k);
        s = full_config(g, groups[k].cfg, what, &cfgs[k + 1]);
        if (s == CLG_OK) s = check_group(g, &cfgs[0], &cfgs[k + 1], k);
        if (s == CLG_OK && (groups[k].nparams < 0 || (groups[k].nparams > 0 && !groups[k].params)))
            s = clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer: group %d lists %d parameters at %p", k,
                          groups[k].nparams, (const void *)groups[k].params);
        for (int j = 0; s == CLG_OK && j < groups[k].nparams; j++) {
            clg_tensor t = groups[k].params[j];
            if ((s = clg_tensor_check(g, t, "clg_optimizer")) != CLG_OK) break;
            const clg_node *n = &g->nodes[t.id];
            if (n->op != CLG_OP_PARAM)
                s = clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                              "clg_optimizer: group %d's tensor %d (id %d) is not a parameter of this graph", k, j,
                              (int)t.id);
            else if (n->grad < 0)
                s = clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                              "clg_optimizer: group %d's parameter %d ('%s') has no gradient (the loss does not use it)",
                              k, (int)t.id, n->name);
            else if (grp[t.id])
                s = clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT,
                              "clg_optimizer: parameter %d ('%s') is in group %d and group %d", (int)t.id, n->name,
                              grp[t.id] - 1, k);
            else
                grp[t.id] = k + 1;
        }
    }
    int np = 0;
    for (int32_t i = 0; s == CLG_OK && i < g->n; i++) np += g->nodes[i].op == CLG_OP_PARAM && g->nodes[i].grad >= 0;
    if (s == CLG_OK && !np) s = clg_error(g->ctx, CLG_ERR_STATE, "clg_optimizer: no parameter has a gradient");
    param_rec *p = s == CLG_OK ? malloc((size_t)np * sizeof *p) : NULL;
    struct clg_optim *o = s == CLG_OK ? calloc(1, sizeof *o) : NULL;
    int *group_of = s == CLG_OK ? calloc((size_t)np, sizeof *group_of) : NULL;
    if (s == CLG_OK && (!p || !o || !group_of))
        s = clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "clg_optimizer: out of host memory");
    if (s == CLG_OK) {
        for (int32_t i = 0, j = 0; i < g->n; i++)
            if (g->nodes[i].op == CLG_OP_PARAM && g->nodes[i].grad >= 0)
                p[j++] = (param_rec){i, grp[i], g->nodes[i].grad, {-1, -1, -1}};
        o->cfg = cfgs[0];
        o->cfgs = cfgs;
        o->ngroups = ngroups;
        o->group_of = group_of;
        s = record(g, o, p, np);
    }
    free(p);
    free(grp);
    if (s != CLG_OK) {
        free(o);
        free(cfgs);
        free(group_of);
        return s;
    }
    g->optim = o;
    g->has_update = true;
    return CLG_OK;
}

clg_status clg_optimizer(clg_graph *g, const clg_optimizer_config *cfg)
{
    clg_status s = clg_graph_check(g, "clg_optimizer");
    if (s != CLG_OK) return s;
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end(g, txn, optimizer(g, cfg, 0, NULL));
}

clg_status clg_optimizer_groups(clg_graph *g, const clg_optimizer_config *cfg, int ngroups,
                                const clg_optimizer_group *groups)
{
    clg_status s = clg_graph_check(g, "clg_optimizer");
    if (s != CLG_OK) return s;
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end(g, txn, optimizer(g, cfg, ngroups, groups));
}

void clg_optim_free(struct clg_optim *o)
{
    if (!o) return;
    free(o->cfgs);
    free(o->group_of);
    free(o);
}

/* ---- step count, learning rate, accumulators ---- */

static struct clg_optim *optim_of(const clg_graph *g, const char *func)
{
    if (clg_graph_check(g, func) != CLG_OK) return NULL;
    if (!g->optim) clg_error(g->ctx, CLG_ERR_STATE, "%s: the graph has no optimizer (see clg_optimizer)", func);
    return g->optim;
}

clg_status clg_optimizer_get_step(const clg_graph *g, int64_t *step)
{
    struct clg_optim *o = optim_of(g, "clg_optimizer_get_step");
    if (!o) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (!step) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer_get_step: step is NULL");
    *step = o->step;
    return CLG_OK;
}

clg_status clg_optimizer_set_step(clg_graph *g, int64_t step)
{
    struct clg_optim *o = optim_of(g, "clg_optimizer_set_step");
    if (!o) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (step < 0)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer_set_step: step %lld is negative",
                         (long long)step);
    o->step = step;
    return CLG_OK;
}

clg_status clg_optimizer_get_lr(const clg_graph *g, float *lr)
{
    struct clg_optim *o = optim_of(g, "clg_optimizer_get_lr");
    if (!o) return g ? g->ctx->status : CLG_ERR_INVALID_ARGUMENT;
    if (!lr) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "clg_optimizer_get_lr: lr is NULL");
    *lr = (float)scheduled_lr(&o->cfg, o->step);
    return CLG_OK;
}

clg_status clg_zero_grads(clg_graph *g)
{
    clg_status s = clg_graph_check(g, "clg_zero_grads");
    if (s != CLG_OK) return s;
    if (!g->optim || !g->optim->cfg.accumulate) return CLG_OK;
    clg_backend *be = g->ctx->be;
    for (int32_t i = g->optim->update_begin; i < g->optim->update_end && s == CLG_OK; i++) {
        const clg_node *acc = &g->nodes[g->nodes[i].src[0]];
        s = be->vt->buffer_fill(be, acc->buf, 0.0f, (size_t)acc->numel);
    }
    return s == CLG_OK ? CLG_OK : clg_error_wrap(g->ctx, s, "clg_zero_grads");
}

clg_status clg_backward_optim(clg_graph *g, int32_t *grads, int32_t i)
{
    return clg_backward_unsupported(g, i);
}
