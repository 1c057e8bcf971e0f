/*
 * The op set shared by the core, the autodiff and every backend.
 *
 * Ops are grouped in families; each family lives in its own files:
 *   core/<family>.c      constructors (public API) and backward rules
 *   ref/ref_<family>.c   the reference implementation
 *   host/cl_<family>.c   the OpenCL dispatch
 *   cl/<family>.cl       the OpenCL kernels
 * A family's functions are found through CLG_FAMILY_LIST below, expanded
 * into tables in core/autodiff.c, ref/reference.c and host/backend.c.
 */
#ifndef CLG_OPS_H
#define CLG_OPS_H

#include <stdbool.h>

#define CLG_FAMILY_LIST(X)                                                                        \
    X(LEAF, leaf)                                                                                  \
    X(BASIC, basic)     /* elementwise, sum/mean, mse, expand, reduce_to, sgd */                   \
    X(MATMUL, matmul)   /* matmul (2-D, batched), through CLBlast on OpenCL */                     \
    X(CONV, conv)       /* conv2d, max/avg pool */                                                 \
    X(SHAPE, shape)     /* reshape, permute, slice, concat */                                      \
    X(AXIS, axis)       /* sum/mean/max/argmax along an axis */                                           \
    X(ACT, act)         /* leaky relu, gelu (both forms), silu, softplus, abs, clamp, pow */ \
    X(SOFTMAX, softmax) /* softmax, log-softmax, cross-entropy, bce with logits, one-hot */         \
    X(QUANT, quant)     /* fake quantization, observers, 16-bit casts */                                     \
    X(NORM, norm)       /* batch norm */                                                           \
    X(RANDOM, random)   /* philox, dropout, crop/flip, initialisers */                                        \
    X(OPTIM, optim)     /* optimizer updates (beyond plain sgd) */

typedef enum clg_family {
#define CLG_FAM_ENUM(e, lower) CLG_FAM_##e,
    CLG_FAMILY_LIST(CLG_FAM_ENUM)
#undef CLG_FAM_ENUM
        CLG_FAM_COUNT
} clg_family;

/* X(enum suffix, printable name, number of sources, family) */
#define CLG_OP_LIST(X)                                                                             \
    X(INPUT, "input", 0, LEAF)                                                                     \
    X(PARAM, "param", 0, LEAF)                                                                     \
    X(CONST, "constant", 0, LEAF)                                                                  \
    X(ADD, "add", 2, BASIC)                                                                        \
    X(SUB, "sub", 2, BASIC)                                                                        \
    X(MUL, "mul", 2, BASIC)                                                                        \
    X(DIV, "div", 2, BASIC)                                                                        \
    X(NEG, "neg", 1, BASIC)                                                                        \
    X(SCALE, "scale", 1, BASIC)                                                                    \
    X(SQUARE, "square", 1, BASIC)                                                                  \
    X(EXP, "exp", 1, BASIC)                                                                        \
    X(LOG, "log", 1, BASIC)                                                                        \
    X(SQRT, "sqrt", 1, BASIC)                                                                      \
    X(RELU, "relu", 1, BASIC)                                                                      \
    X(SIGMOID, "sigmoid", 1, BASIC)                                                                \
    X(TANH, "tanh", 1, BASIC)                                                                      \
    X(SUM, "sum", 1, BASIC)                                                                        \
    X(MEAN, "mean", 1, BASIC)                                                                      \
    X(MSE, "mse_loss", 2, BASIC)                                                                   \
    X(RELU_GRAD, "relu_backward", 2, BASIC)       /* (x or y, dy) */                                    \
    X(SIGMOID_GRAD, "sigmoid_backward", 2, BASIC) /* (y, dy) */                                    \
    X(TANH_GRAD, "tanh_backward", 2, BASIC)       /* (y, dy) */                                    \
    X(MSE_GRAD, "mse_loss_backward", 3, BASIC)    /* (pred, target, dloss) */                      \
    X(EXPAND, "expand", 1, BASIC)                 /* broadcast src up to this shape */             \
    X(REDUCE_TO, "reduce_to", 1, BASIC)           /* sum src down to this shape */                 \
    X(SGD, "sgd_update", 2, BASIC)                /* (w, grad), in place on w */                   \
    X(MAXIMUM, "maximum", 2, BASIC)                                                                \
    X(MINIMUM, "minimum", 2, BASIC)                                                                \
    X(TIE_WEIGHT, "tie_weight", 2, BASIC) /* (a, b): 1 if a > b, 1/2 if a == b, 0 if a < b */      \
    X(COMPARE, "compare", 2, BASIC)       /* (a, b) -> 0/1; f[0] = i[0] = the clg_comparison */    \
    X(WHERE, "where", 3, BASIC)           /* (condition, a, b) */                                  \
    /* matmul: i[0] = transpose a, i[1] = transpose b; the constructor adds the GEMM it runs:      \
     * i[2] = batch, i[3..5] = m, n, k, i[6..7] = batch strides of a and b (0: shared) */          \
    X(MATMUL, "matmul", 2, MATMUL)                                                                 \
    /* sum over the batch of op(a_p) op(b_p), 3-D by 3-D to 2-D: the gradient of a 2-D operand     \
     * shared across a batch (a weight); same i[] */                                               \
    X(MATMUL_BATCH_SUM, "matmul_batch_sum", 2, MATMUL)                                             \
    /* conv: i[] = stride h, w, pad h, w, dilation h, w */                                         \
    X(CONV2D, "conv2d", 3, CONV)                      /* (x, w, bias or -1) */                     \
    X(CONV2D_GRAD_INPUT, "conv2d_backward_input", 2, CONV)   /* (dy, conv node) */                 \
    /* (dy, conv node, x or -1): x, when given, the conv's input made again for backward (its     \
     * 16-bit source widened once more), read in place of the conv's src[0] */                    \
    X(CONV2D_GRAD_WEIGHT, "conv2d_backward_weight", 3, CONV)                                       \
    X(CONV2D_GRAD_BIAS, "conv2d_backward_bias", 1, CONV)     /* (dy) */                            \
    /* (x, w [C, OC, KH, KW], bias or -1); i[0..5] as conv2d, i[6..7] output padding */            \
    X(CONV_TRANSPOSE2D, "conv_transpose2d", 3, CONV)                                               \
    /* pooling: i[] = kernel h, w, stride h, w, pad h, w; max keeps argmax in aux[0] */            \
    X(MAXPOOL2D, "max_pool2d", 1, CONV)                                                            \
    X(MAXPOOL2D_GRAD, "max_pool2d_backward", 2, CONV) /* (dy, pool node) */                        \
    X(AVGPOOL2D, "avg_pool2d", 1, CONV)                                                            \
    X(AVGPOOL2D_GRAD, "avg_pool2d_backward", 2, CONV) /* (dy, pool node) */                        \
    /* shape: reshape is a view (shares its source's buffer, runs nothing) */                      \
    X(RESHAPE, "reshape", 1, SHAPE)                                                                \
    X(PERMUTE, "permute", 1, SHAPE)           /* i[0..ndim) = perm */                              \
    X(SLICE, "slice", 1, SHAPE)               /* i[0] = axis, i[1] = start */                      \
    X(SLICE_GRAD, "slice_backward", 1, SHAPE) /* (dy) into zeros; i[] as slice */                  \
    X(CONCAT, "concat", 2, SHAPE)             /* i[0] = axis */                                    \
    /* reductions along an axis: i[0] = axis, i[1] = keepdim; max keeps argmax in aux[0] */        \
    X(SUM_AXIS, "sum_axis", 1, AXIS)                                                               \
    X(MEAN_AXIS, "mean_axis", 1, AXIS)                                                             \
    X(MAX_AXIS, "max_axis", 1, AXIS)                                                               \
    X(MAX_AXIS_GRAD, "max_axis_backward", 2, AXIS) /* (dy, max node) */                            \
    X(ARGMAX, "argmax", 1, AXIS) /* (max node) -> int32: its saved arg-max indices */                \
    /* activations */                                                                              \
    X(LEAKY_RELU, "leaky_relu", 1, ACT)                                                            \
    X(LEAKY_RELU_GRAD, "leaky_relu_backward", 2, ACT) /* (x, dy) */                                \
    X(GELU, "gelu", 1, ACT)                                                                        \
    X(GELU_GRAD, "gelu_backward", 2, ACT)                                                          \
    X(SILU, "silu", 1, ACT)                                                                        \
    X(SILU_GRAD, "silu_backward", 2, ACT)                                                          \
    X(SOFTPLUS, "softplus", 1, ACT)                                                                \
    X(SOFTPLUS_GRAD, "softplus_backward", 2, ACT)                                                  \
    X(GELU_ERF, "gelu_erf", 1, ACT)                                                                \
    X(GELU_ERF_GRAD, "gelu_erf_backward", 2, ACT)                                                  \
    X(ABS, "abs", 1, ACT)                                                                          \
    X(ABS_GRAD, "abs_backward", 2, ACT)                                                            \
    X(CLAMP, "clamp", 1, ACT) /* f[0] = min, f[1] = max */                                         \
    X(CLAMP_GRAD, "clamp_backward", 2, ACT)                                                        \
    X(POW, "pow", 1, ACT) /* f[0] = the exponent */                                                \
    X(POW_GRAD, "pow_backward", 2, ACT)                                                            \
    X(SOFTPLUS_BETA, "softplus_beta", 1, ACT) /* f[0] = beta, f[1] = threshold */                  \
    X(SOFTPLUS_BETA_GRAD, "softplus_beta_backward", 2, ACT)                                        \
    /* fake quantization: (x, scale, zero_point); i[0] = axis or -1 (per tensor), i[1] = quant_min, \
     * i[2] = quant_max, i[3] = channels, i[4] = elements after the axis, f[0] = grad_factor;      \
     * i[7]: packed, scale and zero_point both an observer's [2, C] (zero points at channels) */    \
    X(FAKE_QUANT, "fake_quantize", 3, QUANT)                                                         \
    /* (x, scale, zero_point, dy), the forward's i and f; i[5]: 0 dx, 1 dscale's terms, 2 the      \
     * zero point's (x's shape: summed to the parameter's by REDUCE_TO); i[6]: learnable (scale or \
     * zero point a parameter: PyTorch's learnable ops' backward) */                               \
    X(FAKE_QUANT_GRAD, "fake_quantize_backward", 4, QUANT)                                           \
    /* observer: (x, min_val, max_val) -> [2, C], scales in row 0, zero points in row 1 (C = 1   \
     * per tensor); in training mode it first updates min_val and max_val (leaves, in place) from \
     * x. i[0] = axis or -1, i[1] = quant_min, i[2] = quant_max, i[3] = C, i[4] = elements after   \
     * the axis, i[5]: moving average, i[6]: symmetric, i[7] = symmetric zero point; f[0] = the    \
     * averaging constant, f[1] = eps */                                                          \
    X(OBSERVE, "observe", 3, QUANT)                                                                \
    /* cast between float32, float16 and bfloat16 (the node's dtype; core/half.h's rounding);      \
     * float32 to float32 rounds through i[0] (CLG_F16 or CLG_BF16): a 16-bit tensor's gradient.   \
     * i[1]: recorded by an op that takes 16-bit operands, recorded again in backward */          \
    X(CAST, "cast", 1, QUANT)                                                                      \
    /* softmax and losses: i[0] = axis */                                                          \
    X(SOFTMAX, "softmax", 1, SOFTMAX)                                                              \
    X(SOFTMAX_GRAD, "softmax_backward", 2, SOFTMAX)         /* (y, dy) */                          \
    X(LOG_SOFTMAX, "log_softmax", 1, SOFTMAX)                                                      \
    X(LOG_SOFTMAX_GRAD, "log_softmax_backward", 2, SOFTMAX) /* (y, dy) */                          \
    X(SOFTMAX_CE, "softmax_cross_entropy", 2, SOFTMAX)      /* (logits, labels) */                 \
    X(SOFTMAX_CE_GRAD, "softmax_cross_entropy_backward", 2, SOFTMAX) /* (ce node, dloss) */        \
    X(BCE_LOGITS, "bce_with_logits", 2, SOFTMAX)            /* (logits, targets) */                \
    X(BCE_LOGITS_GRAD, "bce_with_logits_backward", 3, SOFTMAX) /* (logits, targets, dloss) */      \
    X(ONE_HOT, "one_hot", 1, SOFTMAX) /* (labels) -> [N, C]; i[0] = C, i[1] = ignore_index */       \
    /* batch norm: f[0] = momentum, f[1] = eps */                                                  \
    X(BATCHNORM, "batch_norm", 3, NORM) /* (x, gamma, beta) */                                     \
    X(BATCHNORM_GRAD_GAMMA, "batch_norm_backward_gamma", 2, NORM) /* (dy, bn node) */              \
    X(BATCHNORM_GRAD_BETA, "batch_norm_backward_beta", 2, NORM)   /* (dy, bn node) */              \
    X(BATCHNORM_GRAD_INPUT, "batch_norm_backward_input", 4, NORM) /* (dy, bn, dgamma, dbeta) */    \
    /* randomness */                                                                               \
    X(DROPOUT, "dropout", 1, RANDOM)                                                               \
    X(DROPOUT_GRAD, "dropout_backward", 2, RANDOM) /* (dy, dropout node) */                        \
    X(RNG_FILL, "random_fill", 0, RANDOM)          /* run once by an initialiser */                \
    X(RANDOM_CROP_FLIP, "random_crop_flip", 1, RANDOM) /* i[0] padding, i[1] seed, i[2] flip */    \
    X(RANDOM_CROP_FLIP_GRAD, "random_crop_flip_backward", 2, RANDOM) /* (dy, crop node) */         \
    /* optimizers beyond plain sgd; layouts in core/optim.h */                                     \
    X(OPTIM_UPDATE, "optimizer_update", 4, OPTIM) /* (grad, state...), in place on a parameter */  \
    X(OPTIM_ACCUM, "grad_accumulate", 2, OPTIM)   /* (accumulator, grad), in place */              \
    X(OPTIM_SQNORM, "grad_sqnorm", 2, OPTIM)      /* (grad, running total or -1) -> [1] */         \
    X(OPTIM_CLIP, "clip_coefficient", 1, OPTIM)   /* (total sum of squares) -> [1] */              \
    X(OPTIM_UNSCALE, "loss_scale_coefficient", 4, OPTIM) /* (non-finite count, scale, steps, sum of squares or -1) -> [2] */ \
    X(OPTIM_SCALER, "loss_scale_update", 4, OPTIM) /* (scale, non-finite count, growth tracker, steps), in place */

typedef enum clg_op {
#define CLG_OP_ENUM(e, name, nsrc, fam) CLG_OP_##e,
    CLG_OP_LIST(CLG_OP_ENUM)
#undef CLG_OP_ENUM
        CLG_OP_COUNT
} clg_op;

const char *clg_op_name(clg_op op);
int clg_op_nsrc(clg_op op);
clg_family clg_op_family(clg_op op);

/*
 * The elementwise ops: element i of the output from element i of each
 * (broadcast) source alone. They take 16-bit tensors (computing in float32
 * and rounding the result to the node's dtype: the sources' 16-bit type
 * when they share one, float32 when any is float32, as PyTorch promotes),
 * and backends fuse them (host/cl_fuse.c: each has EW_<NAME> in
 * cl/common.cl).
 */
#define CLG_ELEMENTWISE_LIST(X)                                                                    \
    X(ADD) X(SUB) X(MUL) X(DIV) X(NEG) X(SCALE) X(SQUARE) X(EXP) X(LOG) X(SQRT) X(EXPAND) X(RELU) \
    X(RELU_GRAD) X(SIGMOID) X(SIGMOID_GRAD) X(TANH) X(TANH_GRAD) X(LEAKY_RELU) X(LEAKY_RELU_GRAD) \
    X(GELU) X(GELU_GRAD) X(SILU) X(SILU_GRAD) X(SOFTPLUS) X(SOFTPLUS_GRAD) X(GELU_ERF) X(GELU_ERF_GRAD) \
    X(ABS) X(ABS_GRAD) X(POW) X(POW_GRAD) X(MAXIMUM) X(MINIMUM) X(TIE_WEIGHT) X(COMPARE)

bool clg_op_elementwise(clg_op op);

#endif
