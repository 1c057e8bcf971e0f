/* The random family: dropout, the initialisers and raw Philox bits
 * (the stream layout is in core/random.h). */
#include "internal.h"
#include "random.h"

#include <math.h>
#include <string.h>

static clg_tensor dropout(clg_graph *g, clg_tensor x, float p, uint64_t seed)
{
    const char *op = "dropout";
    if (clg_graph_check(g, op) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    if (!(p >= 0.0f && p < 1.0f)) {
        char sh[96];
        clg_shape_string(nx->ndim, nx->shape, sh, sizeof sh);
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "dropout: input %s: p must be in [0, 1) (got %g)", sh, (double)p);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    /* the scale is rounded once here, so every backend multiplies by the same float */
    clg_node proto = {.op = CLG_OP_DROPOUT, .src = {x.id}, .ndim = nx->ndim, .f = {p, 1.0f / (1.0f - p)},
                      .i = {0, (int64_t)seed}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    clg_tensor y = clg_record(g, &proto, 1);
    if (y.id >= 0 && clg_node_alloc_aux(g, y.id, 0, g->nodes[y.id].numel) != CLG_OK) return CLG_FAILED;
    return y;
}

clg_tensor clg_dropout(clg_graph *g, clg_tensor x, float p, uint64_t seed)
{
    if (clg_graph_check(g, "dropout") != CLG_OK) return CLG_FAILED;
    clg_txn txn = clg_txn_begin(g); /* the node and its mask */
    return clg_txn_end_tensor(g, txn, dropout(g, x, p, seed));
}

clg_tensor clg_random_crop_flip(clg_graph *g, clg_tensor x, int64_t padding, int flip, uint64_t seed)
{
    const char *op = "random_crop_flip";
    if (clg_graph_check(g, op) != CLG_OK) return CLG_FAILED;
    if (!clg_tensor_ok(g, x, op)) return CLG_FAILED;
    const clg_node *nx = &g->nodes[x.id];
    char sh[96];
    clg_shape_string(nx->ndim, nx->shape, sh, sizeof sh);
    if (nx->ndim != 4) {
        clg_error(g->ctx, CLG_ERR_SHAPE, "random_crop_flip: input %s: want 4 dimensions [N, C, H, W]", sh);
        return clg_graph_fail(g, CLG_ERR_SHAPE);
    }
    if (padding < 0 || padding > 65535) {
        clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "random_crop_flip: input %s: padding %lld is not in [0, 65535]",
                  sh, (long long)padding);
        return clg_graph_fail(g, CLG_ERR_INVALID_ARGUMENT);
    }
    clg_node proto = {.op = CLG_OP_RANDOM_CROP_FLIP, .src = {x.id}, .ndim = 4,
                      .i = {padding, (int64_t)seed, flip != 0}};
    memcpy(proto.shape, nx->shape, sizeof proto.shape);
    clg_txn txn = clg_txn_begin(g);
    return clg_txn_end_tensor(g, txn, clg_record(g, &proto, 1));
}

/* dx = dy * mask, the mask the forward kept (identity in evaluation mode);
 * a crop's is its transpose, the same words drawn again */
clg_status clg_backward_random(clg_graph *g, int32_t *grads, int32_t i)
{
    const clg_node n = g->nodes[i];
    if (n.op == CLG_OP_RANDOM_CROP_FLIP) {
        clg_tensor dx = clg_op_grad2(g, CLG_OP_RANDOM_CROP_FLIP_GRAD, clg_tref(g, grads[i]), clg_tref(g, i));
        clg_grad_accumulate(g, grads, n.src[0], dx);
        return g->status;
    }
    if (n.op != CLG_OP_DROPOUT) {
        return clg_backward_unsupported(g, i);
    }
    clg_tensor dx = clg_op_grad2(g, CLG_OP_DROPOUT_GRAD, clg_tref(g, grads[i]), clg_tref(g, i));
    clg_grad_accumulate(g, grads, n.src[0], dx);
    return g->status;
}

clg_status clg_rng_fill_now(clg_graph *g, clg_tensor t, clg_rng_dist dist, float a, float b, uint64_t seed,
                            uint64_t counter, uint64_t block0, const char *func)
{
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if ((s = clg_tensor_check(g, t, func)) != CLG_OK) return s;
    if ((s = clg_node_storage(g, t.id, func)) != CLG_OK) return s;
    const clg_node *target = &g->nodes[t.id];
    const clg_dtype want = dist == CLG_RNG_BITS ? CLG_I32 : CLG_F32;
    if (target->dtype != want)
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: tensor %d holds %s, this fills %s", func, (int)t.id,
                         target->dtype == CLG_I32 ? "int32 labels" : "float32 values",
                         want == CLG_I32 ? "int32 tensors" : "float32 tensors");
    /* a node of its own, never recorded, writing into the target's buffer */
    clg_node fill = {.op = CLG_OP_RNG_FILL, .dtype = target->dtype, .phase = CLG_RUN_FORWARD, .ndim = target->ndim,
                     .numel = target->numel, .src = {-1, -1, -1, -1}, .grad = -1, .f = {a, b},
                     .i = {dist, (int64_t)seed, (int64_t)block0}, .buf = target->buf, .counter = counter,
                     .training = true};
    memcpy(fill.shape, target->shape, sizeof fill.shape);
    clg_backend *be = g->ctx->be;
    s = clg_backend_check_op(be, g->nodes, &fill, "the initialiser");
    if (s == CLG_OK) s = be->vt->run_node(be, g->nodes, &fill);
    if (s == CLG_OK) s = be->vt->synchronize(be);
    if (s != CLG_OK) {
        char sh[96];
        clg_shape_string(target->ndim, target->shape, sh, sizeof sh);
        return clg_error_wrap(g->ctx, s, "%s: filling tensor %d of shape %s", func, (int)t.id, sh);
    }
    return CLG_OK;
}

static bool finite2(float a, float b) { return isfinite(a) && isfinite(b); }

clg_status clg_random_bits(clg_graph *g, clg_tensor t, uint64_t seed, uint64_t counter)
{
    return clg_rng_fill_now(g, t, CLG_RNG_BITS, 0.0f, 0.0f, seed, counter, 0, "clg_random_bits");
}

static clg_status uniform(clg_graph *g, clg_tensor t, float lo, float hi, uint64_t seed, const char *func)
{
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if (!finite2(lo, hi) || !(lo <= hi))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the range [%g, %g] is not finite with lo <= hi", func,
                         (double)lo, (double)hi);
    return clg_rng_fill_now(g, t, CLG_RNG_UNIFORM, lo, hi, seed, 0, 0, func);
}

static clg_status normal(clg_graph *g, clg_tensor t, float mean, float std, uint64_t seed, const char *func)
{
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if (!finite2(mean, std) || !(std >= 0.0f))
        return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: mean %g and std %g must be finite with std >= 0",
                         func, (double)mean, (double)std);
    return clg_rng_fill_now(g, t, CLG_RNG_NORMAL, mean, std, seed, 0, 0, func);
}

clg_status clg_init_uniform(clg_graph *g, clg_tensor t, float lo, float hi, uint64_t seed)
{
    return uniform(g, t, lo, hi, seed, "clg_init_uniform");
}

clg_status clg_init_normal(clg_graph *g, clg_tensor t, float mean, float std, uint64_t seed)
{
    return normal(g, t, mean, std, seed, "clg_init_normal");
}

/* PyTorch's _calculate_fan_in_and_fan_out: w is [out, in, *kernel], the
 * receptive field the product of the kernel dimensions. */
static clg_status fans(clg_graph *g, clg_tensor t, const char *func, double *fan_in, double *fan_out)
{
    clg_status s = clg_graph_check(g, func);
    if (s != CLG_OK) return s;
    if ((s = clg_tensor_check(g, t, func)) != CLG_OK) return s;
    const clg_node *n = &g->nodes[t.id];
    if (n->ndim < 2) {
        char sh[96];
        clg_shape_string(n->ndim, n->shape, sh, sizeof sh);
        return clg_error(g->ctx, CLG_ERR_SHAPE,
                         "%s: tensor %d has shape %s; fans need a weight of at least 2 dimensions "
                         "([out, in] or [out, in, kh, kw])",
                         func, (int)t.id, sh);
    }
    double receptive = 1;
    for (int d = 2; d < n->ndim; d++) receptive *= (double)n->shape[d];
    *fan_in = (double)n->shape[1] * receptive;
    *fan_out = (double)n->shape[0] * receptive;
    return CLG_OK;
}

/* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, gain 1) */
clg_status clg_init_xavier_uniform(clg_graph *g, clg_tensor t, uint64_t seed)
{
    const char *func = "clg_init_xavier_uniform";
    double fi = 0, fo = 0; /* set unless fans fails; GCC 12 cannot tell */
    clg_status s = fans(g, t, func, &fi, &fo);
    if (s != CLG_OK) return s;
    float a = (float)sqrt(6.0 / (fi + fo));
    return uniform(g, t, -a, a, seed, func);
}

/* N(0, 2 / (fan_in + fan_out)) */
clg_status clg_init_xavier_normal(clg_graph *g, clg_tensor t, uint64_t seed)
{
    const char *func = "clg_init_xavier_normal";
    double fi = 0, fo = 0;
    clg_status s = fans(g, t, func, &fi, &fo);
    if (s != CLG_OK) return s;
    return normal(g, t, 0.0f, (float)sqrt(2.0 / (fi + fo)), seed, func);
}

/* U(-a, a), a = sqrt(6 / fan_in): He et al. for ReLU (gain sqrt 2, fan_in) */
clg_status clg_init_kaiming_uniform(clg_graph *g, clg_tensor t, uint64_t seed)
{
    const char *func = "clg_init_kaiming_uniform";
    double fi = 0, fo = 0;
    clg_status s = fans(g, t, func, &fi, &fo);
    if (s != CLG_OK) return s;
    float a = (float)sqrt(6.0 / fi);
    return uniform(g, t, -a, a, seed, func);
}

/* N(0, 2 / fan_in) */
clg_status clg_init_kaiming_normal(clg_graph *g, clg_tensor t, uint64_t seed)
{
    const char *func = "clg_init_kaiming_normal";
    double fi = 0, fo = 0;
    clg_status s = fans(g, t, func, &fi, &fo);
    if (s != CLG_OK) return s;
    return normal(g, t, 0.0f, (float)sqrt(2.0 / fi), seed, func);
}
