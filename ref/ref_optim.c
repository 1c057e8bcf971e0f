/* Reference implementation of the optim family: the equations of
 * cl/optim.cl, element by element (layouts in core/optim.h). */
#include "../core/optim.h"
#include "ref_real.h"

/* What every update reads first: the clip coefficient, the gradient
 * source (zeroed when it is an accumulator) and the state slots. */
typedef struct update_io {
    real *w, *g;
    real *s[3];
    real clip;
    int64_t flags;
} update_io;

static update_io update_io_of(const clg_node *nodes, const clg_node *n)
{
    update_io io = {.w = ref_data(n), .g = ref_data(&nodes[n->src[0]]), .clip = 1, .flags = n->i[1]};
    for (int k = 0; k < 3; k++) io.s[k] = n->src[1 + k] >= 0 ? ref_data(&nodes[n->src[1 + k]]) : NULL;
    if (io.flags & OPTIM_F_CLIP) io.clip = ref_data(&nodes[n->i[2]])[0];
    if (io.flags & OPTIM_F_MAXIMIZE) io.clip = -io.clip;
    return io;
}

/* Loss scaling (core/optim.h): t, this update's number among those taken
 * (0: skipped), from the coefficient node; where it is not the host's
 * count (arg 7: a step was skipped before), the step-dependent factors
 * again from t, in float as cl/optim.cl's optim_scaled_args: SGD's first
 * step, Adam's lr / (1 - b1^t) and sqrt(1 - b2^t) as expm1 of t log b. */
static float scaled_t(const clg_node *nodes, const clg_node *n)
{
    return (n->i[1] & OPTIM_F_SCALED) ? (float)ref_data(&nodes[n->i[2]])[1] : optim_arg(n, 7);
}

static void rescale_args(const clg_node *n, float t, float a[OPTIM_NARGS], int64_t *flags)
{
    for (int k = 0; k < OPTIM_NARGS; k++) a[k] = optim_arg(n, k);
    if (!(*flags & OPTIM_F_SCALED) || t == a[7]) return;
    if (t == 1.0f) *flags |= OPTIM_F_FIRST;
    else *flags &= ~(int64_t)OPTIM_F_FIRST;
    const float bc1 = -expm1f(t * logf(a[2])), bc2 = -expm1f(t * logf(a[3]));
    a[5] = a[0] / bc1;
    a[6] = sqrtf(bc2);
}

static real take_grad(const update_io *io, int64_t i)
{
    real g = io->clip * io->g[i];
    if (io->flags & OPTIM_F_ZERO_GRAD) io->g[i] = 0;
    return g;
}

static void sgd(const update_io *io, const clg_node *n, const float *a)
{
    const real lr = a[0], wd = a[1], mu = a[2], damp1 = a[3];
    for (int64_t i = 0; i < n->numel; i++) {
        real g = take_grad(io, i) + wd * io->w[i];
        if (io->flags & OPTIM_F_MOMENTUM) {
            real b = (io->flags & OPTIM_F_FIRST) ? g : mu * io->s[0][i] + damp1 * g;
            io->s[0][i] = b;
            g = (io->flags & OPTIM_F_NESTEROV) ? g + mu * b : b;
        }
        io->w[i] -= lr * g;
    }
}

static void adam(const update_io *io, const clg_node *n, const float *a)
{
    const real wd = a[1], b1 = a[2], b2 = a[3], eps = a[4];
    const real step_size = a[5], bc2_sqrt = a[6];
    real *m = io->s[0], *v = io->s[1], *vmax = io->s[2];
    for (int64_t i = 0; i < n->numel; i++) {
        real w = io->w[i], g = take_grad(io, i);
        if (io->flags & OPTIM_F_DECOUPLED) w *= wd;
        else g += wd * w;
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        real vv = v[i];
        if (io->flags & OPTIM_F_AMSGRAD) vv = vmax[i] = fmax(vmax[i], vv);
        io->w[i] = w - step_size * m[i] / (sqrt(vv) / bc2_sqrt + eps);
    }
}

static void rmsprop(const update_io *io, const clg_node *n, const float *a)
{
    const real lr = a[0], wd = a[1], alpha = a[2], eps = a[3];
    const real mu = a[4];
    real *v = io->s[0], *b = io->s[1], *ga = io->s[2];
    for (int64_t i = 0; i < n->numel; i++) {
        const real g = take_grad(io, i) + wd * io->w[i];
        v[i] = alpha * v[i] + (1 - alpha) * g * g;
        real vc = v[i];
        if (io->flags & OPTIM_F_CENTERED) {
            ga[i] = alpha * ga[i] + (1 - alpha) * g;
            vc -= ga[i] * ga[i];
        }
        const real step = g / (sqrt(vc) + eps);
        if (io->flags & OPTIM_F_MOMENTUM) {
            b[i] = mu * b[i] + step;
            io->w[i] -= lr * b[i];
        } else {
            io->w[i] -= lr * step;
        }
    }
}

static void adagrad(const update_io *io, const clg_node *n, const float *a)
{
    const real clr = a[0], wd = a[1], eps = a[2];
    real *s = io->s[0];
    for (int64_t i = 0; i < n->numel; i++) {
        const real g = take_grad(io, i) + wd * io->w[i];
        s[i] += g * g;
        io->w[i] -= clr * g / (sqrt(s[i]) + eps);
    }
}

static clg_status update(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    update_io io = update_io_of(nodes, n);
    const float t = scaled_t(nodes, n);
    if ((io.flags & OPTIM_F_SCALED) && t == 0.0f) return CLG_OK; /* a non-finite gradient: skipped */
    float a[OPTIM_NARGS];
    rescale_args(n, t, a, &io.flags);
    switch ((clg_optimizer_kind)n->i[0]) {
    case CLG_OPTIM_SGD: sgd(&io, n, a); break;
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW: adam(&io, n, a); break;
    case CLG_OPTIM_RMSPROP: rmsprop(&io, n, a); break;
    case CLG_OPTIM_ADAGRAD: adagrad(&io, n, a); break;
    default: return REF(clg_ref_unsupported)(be, n);
    }
    return CLG_OK;
}

clg_status REF(clg_ref_optim)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = n->src[0] >= 0 ? &nodes[n->src[0]] : NULL;
    real *y = ref_data(n);
    switch (n->op) {
    case CLG_OP_OPTIM_UPDATE: return update(be, nodes, n);
    case CLG_OP_OPTIM_ACCUM: {
        const real *g = ref_data(&nodes[n->src[1]]);
        for (int64_t i = 0; i < n->numel; i++) y[i] += g[i];
        return CLG_OK;
    }
    case CLG_OP_OPTIM_SQNORM: {
        const real *g = ref_data(s0);
        double acc = n->src[1] >= 0 ? (double)ref_data(&nodes[n->src[1]])[0] : 0.0;
        for (int64_t i = 0; i < s0->numel; i++) acc += n->i[0] ? !isfinite((float)g[i]) : (double)g[i] * (double)g[i];
        y[0] = (real)acc;
        return CLG_OK;
    }
    case CLG_OP_OPTIM_UNSCALE: {
        /* {1 / scale times the clip coefficient of the unscaled norm, t}
         * (core/optim.h), in float as cl/optim.cl */
        const float bad = (float)ref_data(s0)[0], scale = (float)ref_data(&nodes[n->src[1]])[0];
        const float steps = (float)ref_data(&nodes[n->src[2]])[0];
        float c = 1.0f / scale;
        if (n->src[3] >= 0) {
            const float norm = sqrtf((float)ref_data(&nodes[n->src[3]])[0]) / scale;
            c *= fminf(1.0f, n->f[0] / (norm + 1e-6f));
        }
        y[0] = c;
        y[1] = bad > 0 ? 0.0f : steps + 1.0f;
        return CLG_OK;
    }
    case CLG_OP_OPTIM_SCALER: {
        /* PyTorch's _amp_update_scale_ */
        real *scale = y, *tracker = ref_data(&nodes[n->src[2]]), *steps = ref_data(&nodes[n->src[3]]);
        if ((float)ref_data(&nodes[n->src[1]])[0] > 0) {
            scale[0] = (real)((float)scale[0] * n->f[1]);
            tracker[0] = 0;
            return CLG_OK;
        }
        steps[0] = (real)((float)steps[0] + 1.0f);
        const float good = (float)tracker[0] + 1.0f;
        if (good >= (float)n->i[0]) {
            const float grown = (float)scale[0] * n->f[0];
            if (grown < 0x1p126f) scale[0] = grown; /* its reciprocal stays a normal float */
            tracker[0] = 0;
        } else {
            tracker[0] = good;
        }
        return CLG_OK;
    }
    case CLG_OP_OPTIM_CLIP: {
        const real c = (real)n->f[0] / (sqrt(ref_data(s0)[0]) + (real)1e-6);
        y[0] = c < 1 ? c : 1;
        return CLG_OK;
    }
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
