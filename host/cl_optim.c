/* OpenCL dispatch of the optim family (layouts in core/optim.h). */
#include "../core/optim.h"
#include "cl_backend.h"

/* Source k of an update, or the parameter itself for an unused slot (the
 * kernel's flags keep it untouched). */
static cl_mem src_or(const clg_node *nodes, int32_t id, cl_mem fallback)
{
    return id >= 0 ? MEM(nodes[id].buf) : fallback;
}

static clg_status run_update(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    cl_mem w = MEM(n->buf), gr = MEM(nodes[n->src[0]].buf);
    cl_mem s0 = src_or(nodes, n->src[1], w), s1 = src_or(nodes, n->src[2], w), s2 = src_or(nodes, n->src[3], w);
    cl_mem clip = src_or(nodes, (int32_t)n->i[2], w);
    cl_long cnt = n->numel;
    cl_int flags = (cl_int)n->i[1];
    float a[OPTIM_NARGS];
    for (int k = 0; k < OPTIM_NARGS; k++) a[k] = optim_arg(n, k);
    switch ((clg_optimizer_kind)n->i[0]) {
    case CLG_OPTIM_SGD: {
        clg_karg args[] = {ARG(w),    ARG(gr),   ARG(s0),   ARG(clip),  ARG(cnt), ARG(a[0]),
                           ARG(a[1]), ARG(a[2]), ARG(a[3]), ARG(flags), ARG(a[7])};
        return clg_cl_launch(b, K_optim_sgd, args, 11, clg_cl_vector_items(b, cnt), 0);
    }
    case CLG_OPTIM_ADAM:
    case CLG_OPTIM_ADAMW: {
        clg_karg args[] = {ARG(w),    ARG(gr),   ARG(s0),   ARG(s1),   ARG(s2),   ARG(clip),  ARG(cnt),   ARG(a[1]),
                           ARG(a[2]), ARG(a[3]), ARG(a[4]), ARG(a[5]), ARG(a[6]), ARG(flags), ARG(a[0]), ARG(a[7])};
        return clg_cl_launch(b, K_optim_adam, args, 16, clg_cl_vector_items(b, cnt), 0);
    }
    case CLG_OPTIM_RMSPROP: {
        clg_karg args[] = {ARG(w),    ARG(gr),   ARG(s0),   ARG(s1),   ARG(s2),   ARG(clip),  ARG(cnt),
                           ARG(a[0]), ARG(a[1]), ARG(a[2]), ARG(a[3]), ARG(a[4]), ARG(flags), ARG(a[7])};
        return clg_cl_launch(b, K_optim_rmsprop, args, 14, clg_cl_vector_items(b, cnt), 0);
    }
    case CLG_OPTIM_ADAGRAD: {
        clg_karg args[] = {ARG(w),    ARG(gr),   ARG(s0),   ARG(clip),  ARG(cnt),
                           ARG(a[0]), ARG(a[1]), ARG(a[2]), ARG(flags), ARG(a[7])};
        return clg_cl_launch(b, K_optim_adagrad, args, 10, clg_cl_vector_items(b, cnt), 0);
    }
    default: return clg_cl_unsupported(b, n);
    }
}

/* y = (prev) + sum of x^2 over n elements: the reduce.cl scheme, into
 * the shared partials. */
static clg_status run_sqnorm(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *x = &nodes[n->src[0]];
    cl_mem xm = MEM(x->buf), y = MEM(n->buf), prev = src_or(nodes, n->src[1], y);
    cl_long cnt = x->numel;
    cl_int has_prev = n->src[1] >= 0;
    cl_int m;
    clg_karg pass1[] = {ARG(xm), ARG(cnt), {0}, {0}};
    const int k = n->i[0] ? K_optim_nonfinite_partial : K_optim_sqnorm_partial;
    /* A count is exact in any order, so it takes a few work-groups a
     * compute unit, each item counting many elements: one group per 256
     * elements paid group_sum's barriers (a loop over the group each, on
     * PoCL) so often that the count took 18% of an fp16 MLP step. The
     * norm keeps reduce.cl's partition, and so its sums. */
    cl_long span = cnt;
    cl_uint units = 1;
    if (n->i[0] && clGetDeviceInfo(b->dev.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL) == CL_SUCCESS &&
        units > 0 && span > (cl_long)b->kwg[k] * 8 * units)
        span = (cl_long)b->kwg[k] * 8 * units;
    clg_status s = clg_cl_partials(b, k, pass1, 4, span, &m);
    if (s != CLG_OK) return s;
    clg_karg pass2[] = {ARG(b->partials), ARG(m), ARG(prev), ARG(has_prev), ARG(y), {0}};
    return clg_cl_final(b, K_optim_sqnorm_final, pass2, 6);
}

clg_status clg_cl_optim(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_OPTIM_UPDATE: return run_update(b, nodes, n);
    case CLG_OP_OPTIM_ACCUM: {
        cl_mem acc = MEM(n->buf), gr = MEM(nodes[n->src[1]].buf);
        cl_long cnt = n->numel;
        clg_karg args[] = {ARG(acc), ARG(gr), ARG(cnt)};
        return clg_cl_launch(b, K_optim_accumulate, args, 3, clg_cl_vector_items(b, cnt), 0);
    }
    case CLG_OP_OPTIM_SQNORM: return run_sqnorm(b, nodes, n);
    case CLG_OP_OPTIM_UNSCALE: {
        cl_mem bad = MEM(nodes[n->src[0]].buf), scale = MEM(nodes[n->src[1]].buf), steps = MEM(nodes[n->src[2]].buf);
        cl_mem total = src_or(nodes, n->src[3], bad), y = MEM(n->buf);
        cl_int has_clip = n->src[3] >= 0;
        float max_norm = n->f[0];
        clg_karg args[] = {ARG(bad), ARG(scale), ARG(steps), ARG(total), ARG(has_clip), ARG(max_norm), ARG(y)};
        return clg_cl_launch(b, K_optim_unscale_coef, args, 7, 1, 0);
    }
    case CLG_OP_OPTIM_SCALER: {
        cl_mem scale = MEM(n->buf), bad = MEM(nodes[n->src[1]].buf), tracker = MEM(nodes[n->src[2]].buf);
        cl_mem steps = MEM(nodes[n->src[3]].buf);
        float growth = n->f[0], backoff = n->f[1];
        cl_int interval = (cl_int)n->i[0];
        clg_karg args[] = {ARG(scale), ARG(bad), ARG(tracker), ARG(steps), ARG(growth), ARG(backoff), ARG(interval)};
        return clg_cl_launch(b, K_optim_scaler_update, args, 7, 1, 0);
    }
    case CLG_OP_OPTIM_CLIP: {
        cl_mem total = MEM(nodes[n->src[0]].buf), y = MEM(n->buf);
        float max_norm = n->f[0];
        clg_karg args[] = {ARG(total), ARG(max_norm), ARG(y)};
        return clg_cl_launch(b, K_optim_clip_coef, args, 3, 1, 0);
    }
    default: return clg_cl_unsupported(b, n);
    }
}
