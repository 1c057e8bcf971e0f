/* Reference implementation of the norm family: batch norm, forward and
 * backward, sums in double. */
#include "ref_real.h"

/* x seen as [N, C, inner]: channel c's M = N * inner values. */
typedef struct bn_dims {
    int64_t N, C, inner, M;
} bn_dims;

static bn_dims dims_of(const clg_node *x)
{
    bn_dims d = {.N = x->shape[0], .C = x->shape[1], .inner = 1};
    for (int k = 2; k < x->ndim; k++) d.inner *= x->shape[k];
    d.M = d.N * d.inner;
    return d;
}

/* Element i of x, which may be 16-bit (in real, not through float: the
 * double reference keeps a float32 x exact) */
static double x_at(const clg_node *x, int64_t i)
{
    return clg_dtype_16(x->dtype) ? (double)ref_widen16(x->dtype, ref_data16(x)[i]) : (double)ref_data(x)[i];
}

/* Offset of value m of channel c. */
static int64_t at(const bn_dims *d, int64_t c, int64_t m)
{
    int64_t n = m / d->inner;
    return (n * d->C + c) * d->inner + m % d->inner;
}

static clg_status check_batch(clg_backend *be, const clg_node *nodes, const clg_node *bn, const bn_dims *d)
{
    if (!bn->training || d->M > 1) return CLG_OK;
    char desc[256];
    clg_node_describe(nodes, bn, desc, sizeof desc);
    return clg_error(be->ctx, CLG_ERR_SHAPE,
                     "%s: training mode needs more than one value per channel (N*H*W = %lld); "
                     "use evaluation mode for a single sample",
                     desc, (long long)d->M);
}

/*
 * training: mean = sum x / M, var = sum (x - mean)^2 / M, running
 *           averages updated with the unbiased variance var M / (M - 1);
 * eval:     mean and var are the running averages;
 * y = gamma (x - mean) / sqrt(var + eps) + beta; (mean, invstd) saved.
 */
static clg_status forward(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *xn = &nodes[n->src[0]];
    const bn_dims d = dims_of(xn);
    clg_status s = check_batch(be, nodes, n, &d);
    if (s != CLG_OK) return s;
    const real *gamma = ref_data(&nodes[n->src[1]]), *beta = ref_data(&nodes[n->src[2]]);
    real *y = ref_data(n), *saved = ref_aux(n, 0), *run = ref_aux(n, 1);
    const double mom = n->f[0], eps = n->f[1];
    for (int64_t c = 0; c < d.C; c++) {
        double mean, var;
        if (n->training) {
            double acc = 0.0;
            for (int64_t m = 0; m < d.M; m++) acc += x_at(xn, at(&d, c, m));
            mean = acc / (double)d.M;
            acc = 0.0;
            for (int64_t m = 0; m < d.M; m++) {
                double dev = x_at(xn, at(&d, c, m)) - mean;
                acc += dev * dev;
            }
            var = acc / (double)d.M;
            run[c] = (real)((1 - mom) * run[c] + mom * mean);
            run[d.C + c] = (real)((1 - mom) * run[d.C + c] + mom * var * (double)d.M / (double)(d.M - 1));
        } else {
            mean = run[c];
            var = run[d.C + c];
        }
        const double invstd = 1.0 / sqrt(var + eps);
        saved[c] = (real)mean;
        saved[d.C + c] = (real)invstd;
        for (int64_t m = 0; m < d.M; m++) {
            int64_t i = at(&d, c, m);
            y[i] = (real)(gamma[c] * (x_at(xn, i) - mean) * invstd + beta[c]);
        }
    }
    return CLG_OK;
}

/* dgamma[c] = sum dy x^ (with_xhat), dbeta[c] = sum dy; x^ = (x - mean) invstd */
static void channel_sums(const clg_node *nodes, const clg_node *n, bool with_xhat)
{
    const clg_node *bn = &nodes[n->src[1]], *xn = &nodes[bn->src[0]];
    const bn_dims d = dims_of(xn);
    const real *dy = ref_data(&nodes[n->src[0]]), *saved = ref_aux(bn, 0);
    real *out = ref_data(n);
    for (int64_t c = 0; c < d.C; c++) {
        double acc = 0.0;
        for (int64_t m = 0; m < d.M; m++) {
            int64_t i = at(&d, c, m);
            acc += with_xhat ? (double)dy[i] * (x_at(xn, i) - saved[c]) * saved[d.C + c] : dy[i];
        }
        out[c] = (real)acc;
    }
}

/* training: dx = gamma invstd / M (M dy - dbeta - x^ dgamma); eval: dx = gamma invstd dy */
static clg_status input_grad(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *bn = &nodes[n->src[1]], *xn = &nodes[bn->src[0]];
    const bn_dims d = dims_of(xn);
    clg_status s = check_batch(be, nodes, bn, &d);
    if (s != CLG_OK) return s;
    const real *dy = ref_data(&nodes[n->src[0]]), *gamma = ref_data(&nodes[bn->src[1]]);
    const real *saved = ref_aux(bn, 0), *dgamma = ref_data(&nodes[n->src[2]]), *dbeta = ref_data(&nodes[n->src[3]]);
    real *dx = ref_data(n);
    const double M = (double)d.M;
    for (int64_t c = 0; c < d.C; c++) {
        const double mean = saved[c], invstd = saved[d.C + c], k = gamma[c] * invstd;
        for (int64_t m = 0; m < d.M; m++) {
            int64_t i = at(&d, c, m);
            double xhat = (x_at(xn, i) - mean) * invstd;
            dx[i] = (real)(bn->training ? k / M * (M * dy[i] - dbeta[c] - xhat * dgamma[c]) : k * dy[i]);
        }
    }
    return CLG_OK;
}

clg_status REF(clg_ref_norm)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    switch (n->op) {
    case CLG_OP_BATCHNORM: return forward(be, nodes, n);
    case CLG_OP_BATCHNORM_GRAD_GAMMA: channel_sums(nodes, n, true); return CLG_OK;
    case CLG_OP_BATCHNORM_GRAD_BETA: channel_sums(nodes, n, false); return CLG_OK;
    case CLG_OP_BATCHNORM_GRAD_INPUT: return input_grad(be, nodes, n);
    default: return REF(clg_ref_unsupported)(be, n);
    }
}
