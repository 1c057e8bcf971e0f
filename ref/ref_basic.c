/* Reference implementation of the basic ops: elementwise with
 * broadcasting, sum/mean, mse, expand, reduce_to, sgd. */
#include "ref_real.h"

/* a op b for clg_compare's op (its enum order) */
static bool compare(int op, real a, real b)
{
    switch (op) {
    case 0: return a < b;
    case 1: return a <= b;
    case 2: return a > b;
    case 3: return a >= b;
    case 4: return a == b;
    default: return a != b;
    }
}

static real binary(clg_op op, real a, real b, int code)
{
    switch (op) {
    case CLG_OP_MAXIMUM: return a >= b || isnan(a) ? a : b; /* a tie gives a, as PyTorch */
    case CLG_OP_MINIMUM: return a <= b || isnan(a) ? a : b;
    case CLG_OP_TIE_WEIGHT: return a < b ? 0 : a == b ? (real)0.5 : 1;
    case CLG_OP_COMPARE: return compare(code, a, b) ? 1 : 0;
    case CLG_OP_ADD: return a + b;
    case CLG_OP_SUB: return a - b;
    case CLG_OP_MUL: return a * b;
    case CLG_OP_DIV: return a / b;
    case CLG_OP_RELU_GRAD: return a > 0 ? b : 0;
    case CLG_OP_SIGMOID_GRAD: return b * a * (1 - a);
    case CLG_OP_TANH_GRAD: return b * (1 - a * a);
    default: return NAN;
    }
}

static real unary(clg_op op, real x, real c)
{
    switch (op) {
    case CLG_OP_NEG: return -x;
    case CLG_OP_SCALE: return c * x;
    case CLG_OP_SQUARE: return x * x;
    case CLG_OP_EXP: return exp(x);
    case CLG_OP_LOG: return log(x);
    case CLG_OP_SQRT: return sqrt(x);
    case CLG_OP_RELU: return x > 0 ? x : 0;
    case CLG_OP_SIGMOID: return 1 / (1 + exp(-x));
    case CLG_OP_TANH: return tanh(x);
    default: return NAN;
    }
}

clg_status REF(clg_ref_basic)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    const clg_node *s0 = n->src[0] >= 0 ? &nodes[n->src[0]] : NULL;
    const clg_node *s1 = n->src[1] >= 0 ? &nodes[n->src[1]] : NULL;
    const real *x = s0 ? ref_data(s0) : NULL, *b = s1 ? ref_data(s1) : NULL;
    real *y = ref_data(n);
    int64_t count = n->numel;

    switch (n->op) {
    case CLG_OP_ADD:
    case CLG_OP_SUB:
    case CLG_OP_MUL:
    case CLG_OP_DIV:
    case CLG_OP_RELU_GRAD:
    case CLG_OP_SIGMOID_GRAD:
    case CLG_OP_TANH_GRAD:
    case CLG_OP_MAXIMUM:
    case CLG_OP_MINIMUM:
    case CLG_OP_TIE_WEIGHT:
    case CLG_OP_COMPARE: {
        int64_t dims[CLG_MAX_DIMS], sa[CLG_MAX_DIMS], sb[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, sa);
        clg_broadcast_strides(s1, n, sb);
        for (int64_t i = 0; i < count; i++)
            y[i] = binary(n->op, x[ref_bcast_offset(i, dims, sa)], b[ref_bcast_offset(i, dims, sb)], n->i[0]);
        return CLG_OK;
    }
    case CLG_OP_WHERE: {
        const clg_node *s2 = &nodes[n->src[2]];
        const real *c = x, *va = b, *vb = ref_data(s2);
        int64_t dims[CLG_MAX_DIMS], sc[CLG_MAX_DIMS], sa[CLG_MAX_DIMS], sb[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, sc);
        clg_broadcast_strides(s1, n, sa);
        clg_broadcast_strides(s2, n, sb);
        for (int64_t i = 0; i < count; i++)
            y[i] = c[ref_bcast_offset(i, dims, sc)] != 0 ? va[ref_bcast_offset(i, dims, sa)]
                                                         : vb[ref_bcast_offset(i, dims, sb)];
        return CLG_OK;
    }
    case CLG_OP_NEG:
    case CLG_OP_SCALE:
    case CLG_OP_SQUARE:
    case CLG_OP_EXP:
    case CLG_OP_LOG:
    case CLG_OP_SQRT:
    case CLG_OP_RELU:
    case CLG_OP_SIGMOID:
    case CLG_OP_TANH:
        for (int64_t i = 0; i < count; i++) y[i] = unary(n->op, x[i], (real)n->f[0]);
        return CLG_OK;
    case CLG_OP_SUM:
    case CLG_OP_MEAN: {
        double acc = 0.0;
        for (int64_t i = 0; i < s0->numel; i++) acc += x[i];
        y[0] = (real)(n->op == CLG_OP_MEAN ? acc / (double)s0->numel : acc);
        return CLG_OK;
    }
    case CLG_OP_MSE: {
        double acc = 0.0;
        for (int64_t i = 0; i < s0->numel; i++) {
            double d = (double)x[i] - (double)b[i];
            acc += d * d;
        }
        y[0] = (real)(acc / (double)s0->numel);
        return CLG_OK;
    }
    case CLG_OP_MSE_GRAD: {
        /* d/dpred mean((pred - target)^2) = 2 (pred - target) / n */
        real k = 2 * ref_data(&nodes[n->src[2]])[0] / (real)count;
        for (int64_t i = 0; i < count; i++) y[i] = k * (x[i] - b[i]);
        return CLG_OK;
    }
    case CLG_OP_EXPAND: {
        int64_t dims[CLG_MAX_DIMS], sx[CLG_MAX_DIMS];
        clg_padded_shape(n, dims);
        clg_broadcast_strides(s0, n, sx);
        for (int64_t i = 0; i < count; i++) y[i] = x[ref_bcast_offset(i, dims, sx)];
        return CLG_OK;
    }
    case CLG_OP_REDUCE_TO: {
        /* Output element j sums, in double, the source elements that
         * broadcast from it: an odometer over the reduced axes. */
        int64_t sd[CLG_MAX_DIMS], od[CLG_MAX_DIMS], ss[CLG_MAX_DIMS];
        clg_padded_shape(s0, sd);
        clg_padded_shape(n, od);
        int64_t stride = 1;
        for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
            ss[d] = stride;
            stride *= sd[d];
        }
        for (int64_t j = 0; j < count; j++) {
            int64_t base = 0, rem = j;
            for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
                base += (rem % od[d]) * ss[d];
                rem /= od[d];
            }
            int64_t idx[CLG_MAX_DIMS] = {0};
            double acc = 0.0;
            for (;;) {
                int64_t off = base;
                for (int d = 0; d < CLG_MAX_DIMS; d++) off += idx[d] * ss[d];
                acc += x[off];
                int d = CLG_MAX_DIMS - 1;
                for (; d >= 0; d--) {
                    if (od[d] != 1 || sd[d] == 1) continue;
                    if (++idx[d] < sd[d]) break;
                    idx[d] = 0;
                }
                if (d < 0) break;
            }
            y[j] = (real)acc;
        }
        return CLG_OK;
    }
    case CLG_OP_SGD:
        for (int64_t i = 0; i < count; i++) y[i] -= (real)n->f[0] * b[i];
        return CLG_OK;
    default:
        return REF(clg_ref_unsupported)(be, n);
    }
}

