/*
 * The optim family's node layout, shared by core/optim.c (recording and
 * the per-step arguments), ref/ref_optim.c and host/cl_optim.c.
 *
 * OPTIM_UPDATE, in place on a parameter (the node's buf is the parameter's):
 *   src[0]      the gradient, or the parameter's accumulator in accumulate
 *               mode (the update zeroes it after reading it)
 *   src[1..3]   the optimizer's state tensors of this parameter, -1 unused:
 *                 SGD      momentum_buffer (when momentum > 0)
 *                 Adam(W)  exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
 *                 RMSProp  square_avg, momentum_buffer (momentum > 0),
 *                          grad_avg (centered)
 *                 Adagrad  sum
 *   i[0] kind (clg_optimizer_kind), i[1] flags (OPTIM_F_*), i[2] the clip
 *   coefficient node or -1, i[3] the parameter's id.
 *   Eight float arguments, rewritten before every update run from the step
 *   count (optim_arg: f[0..3], then the float bits in i[4..7]); see
 *   optim_step_args in core/optim.c for what each kind puts there.
 * OPTIM_ACCUM (accumulator, grad), in place on the accumulator: acc += grad.
 * OPTIM_SQNORM (grad, running total or -1) -> [1]: total + sum(grad^2);
 *   i[0] = 1: total + the count of grad's elements that are not finite.
 * OPTIM_CLIP (total) -> [1]: min(1, f[0] / (sqrt(total) + 1e-6)).
 * Dynamic loss scaling (cfg.loss_scale > 0, PyTorch's GradScaler): the
 * backward pass starts from the scale instead of 1 (the seed constant
 * becomes the state leaf "grad_scaler.scale"), so every gradient is the
 * scale times the true one, then:
 * OPTIM_UNSCALE (non-finite count, scale, steps, sum of squares or -1)
 *   -> [2]: [0] = the factor updates multiply gradients by, 1 / scale
 *   times clipping's coefficient of the unscaled norm (f[0] = max norm,
 *   0: none); [1] = t, the number of this update among those taken
 *   (steps + 1), 0 when a gradient is not finite: the update is skipped.
 *   Updates read it through i[2] with OPTIM_F_CLIP | OPTIM_F_SCALED.
 * OPTIM_SCALER (scale, non-finite count, growth tracker, steps), in place
 *   on the scale after every update: PyTorch's _amp_update_scale_, f[0]
 *   growth, f[1] backoff, i[0] the growth interval; steps counts the
 *   updates taken.
 * A scaled update recomputes its step-dependent factors from t where t
 * differs from the host's step count (optim arg 7, written each step):
 * after a skipped step, as PyTorch's optimizer, whose step was not called.
 */
#ifndef CLG_OPTIM_H
#define CLG_OPTIM_H

#include "internal.h"

#include <string.h>

/* Update flags; the same values are #defined in cl/optim.cl. */
enum {
    OPTIM_F_CLIP = 1,       /* scale the gradient by the clip coefficient */
    OPTIM_F_ZERO_GRAD = 2,  /* src[0] is an accumulator: zero it after reading */
    OPTIM_F_MOMENTUM = 4,   /* SGD, RMSProp: a momentum buffer */
    OPTIM_F_NESTEROV = 8,   /* SGD */
    OPTIM_F_FIRST = 16,     /* SGD: the first step (buffer = gradient); set per step */
    OPTIM_F_AMSGRAD = 32,   /* Adam(W) */
    OPTIM_F_DECOUPLED = 64, /* AdamW: f-argument 1 is the decay factor 1 - lr wd */
    OPTIM_F_CENTERED = 128, /* RMSProp */
    OPTIM_F_MAXIMIZE = 256, /* the gradient negated first (cfg->maximize) */
    OPTIM_F_SCALED = 512    /* loss scaling: the coefficient node holds {factor, t} (skip when t is 0) */
};

#define OPTIM_NARGS 8

static inline float optim_arg(const clg_node *n, int k)
{
    if (k < 4) return n->f[k];
    uint32_t u = (uint32_t)n->i[k];
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline void optim_set_arg(clg_node *n, int k, float v)
{
    if (k < 4) {
        n->f[k] = v;
        return;
    }
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    n->i[k] = (int64_t)u;
}

/* The optimizer recorded by clg_optimizer (g->optim). */
struct clg_optim {
    clg_optimizer_config cfg;     /* the graph's config (cfgs[0]) */
    clg_optimizer_config *cfgs;   /* [1 + ngroups]: the config, then each group's */
    int ngroups;
    int *group_of;                /* per update node (from update_begin): index into cfgs */
    int64_t step;                 /* updates done so far */
    int32_t update_begin, update_end; /* node range of the OPTIM_UPDATE nodes */
};

#endif
