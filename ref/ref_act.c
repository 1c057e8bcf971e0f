/* Reference implementation of the act family. */
#include "ref_real.h"

/* sqrt(2 / pi) and the cubic coefficient of GELU's tanh approximation. */
#define GELU_K ((real)0.7978845608028654)
#define GELU_C ((real)0.044715)

/* sigmoid(z) and 1 - sigmoid(z) from e^-|z| <= 1: neither overflows nor
 * loses accuracy to cancellation, for any z. */
static void sigmoid_pair(real z, real *s, real *one_minus_s)
{
    real t = exp(-fabs(z)), big = 1 / (1 + t), small = t / (1 + t);
    *s = z >= 0 ? big : small;
    *one_minus_s = z >= 0 ? small : big;
}

/*
 * gelu(x) = 0.5 x (1 + tanh u), u = k (x + c x^3); since 0.5 (1 + tanh u) =
 * sigmoid(2u) it is computed as x sigmoid(2u), which keeps its relative
 * accuracy for negative x where 1 + tanh u cancels.
 */
static real gelu(real x)
{
    real s, r;
    sigmoid_pair(2 * GELU_K * (x + GELU_C * x * x * x), &s, &r);
    return x * s;
}

/* d gelu / dx = s + 2 x s (1 - s) u',  s = sigmoid(2u), u' = k (1 + 3 c x^2) */
static real gelu_grad(real x)
{
    real s, r;
    sigmoid_pair(2 * GELU_K * (x + GELU_C * x * x * x), &s, &r);
    return s + 2 * x * s * r * GELU_K * (1 + 3 * GELU_C * x * x);
}

/* silu(x) = x sigmoid(x);  d/dx = s (1 + x (1 - s)) */
static real silu(real x)
{
    real s, r;
    sigmoid_pair(x, &s, &r);
    return x * s;
}

static real silu_grad(real x)
{
    real s, r;
    sigmoid_pair(x, &s, &r);
    return s * (1 + x * r);
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  d/dx = sigmoid(x) */
static real softplus(real x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

static real softplus_grad(real x)
{
    real s, r;
    sigmoid_pair(x, &s, &r);
    return s;
}

/* gelu_erf(x) = x Phi(x), Phi(x) = 0.5 erfc(-x / sqrt 2) (erfc: no
 * cancellation for x << 0, where 1 + erf would);  d/dx = Phi(x) + x phi(x),
 * phi(x) = e^(-x^2 / 2) / sqrt(2 pi) */
#define SQRT1_2 ((real)0.70710678118654752440)
#define INV_SQRT_2PI ((real)0.39894228040143267794)
static real phi_cdf(real x) { return (real)0.5 * erfc(-x * SQRT1_2); }
static real gelu_erf_grad(real x) { return phi_cdf(x) + x * INV_SQRT_2PI * exp((real)-0.5 * x * x); }

clg_status REF(clg_ref_act)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const real *x = ref_data(&nodes[n->src[0]]);
    const real *dy = n->src[1] >= 0 ? ref_data(&nodes[n->src[1]]) : NULL;
    real *y = ref_data(n), slope = (real)n->f[0], hi = (real)n->f[1];
    int64_t count = n->numel;

    switch (n->op) {
    case CLG_OP_LEAKY_RELU:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i];
        return CLG_OK;
    case CLG_OP_LEAKY_RELU_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] > 0 ? dy[i] : slope * dy[i];
        return CLG_OK;
    case CLG_OP_GELU:
        for (int64_t i = 0; i < count; i++) y[i] = gelu(x[i]);
        return CLG_OK;
    case CLG_OP_GELU_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = dy[i] * gelu_grad(x[i]);
        return CLG_OK;
    case CLG_OP_SILU:
        for (int64_t i = 0; i < count; i++) y[i] = silu(x[i]);
        return CLG_OK;
    case CLG_OP_SILU_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = dy[i] * silu_grad(x[i]);
        return CLG_OK;
    case CLG_OP_SOFTPLUS:
        for (int64_t i = 0; i < count; i++) y[i] = softplus(x[i]);
        return CLG_OK;
    case CLG_OP_SOFTPLUS_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = dy[i] * softplus_grad(x[i]);
        return CLG_OK;
    case CLG_OP_GELU_ERF:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] * phi_cdf(x[i]);
        return CLG_OK;
    case CLG_OP_GELU_ERF_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = dy[i] * gelu_erf_grad(x[i]);
        return CLG_OK;
    case CLG_OP_ABS:
        for (int64_t i = 0; i < count; i++) y[i] = fabs(x[i]);
        return CLG_OK;
    case CLG_OP_ABS_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] > 0 ? dy[i] : x[i] < 0 ? -dy[i] : 0;
        return CLG_OK;
    case CLG_OP_CLAMP: /* slope: lo; comparisons pass a NaN through */
        for (int64_t i = 0; i < count; i++) y[i] = x[i] < slope ? slope : x[i] > hi ? hi : x[i];
        return CLG_OK;
    case CLG_OP_CLAMP_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = x[i] >= slope && x[i] <= hi ? dy[i] : 0;
        return CLG_OK;
    case CLG_OP_SOFTPLUS_BETA: /* slope: beta, hi: the threshold */
        for (int64_t i = 0; i < count; i++) {
            const real z = slope * x[i];
            y[i] = z > hi ? x[i] : softplus(z) / slope;
        }
        return CLG_OK;
    case CLG_OP_SOFTPLUS_BETA_GRAD:
        for (int64_t i = 0; i < count; i++) {
            const real z = slope * x[i];
            y[i] = z > hi ? dy[i] : dy[i] * softplus_grad(z);
        }
        return CLG_OK;
    case CLG_OP_POW: /* slope: the exponent */
        for (int64_t i = 0; i < count; i++) y[i] = pow(x[i], slope);
        return CLG_OK;
    case CLG_OP_POW_GRAD:
        for (int64_t i = 0; i < count; i++) y[i] = dy[i] * slope * pow(x[i], slope - 1);
        return CLG_OK;
    default:
        return REF(clg_ref_unsupported)(be, n);
    }
}
