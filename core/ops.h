/* The op set shared by the core, the autodiff and every backend. */
#ifndef CLG_OPS_H
#define CLG_OPS_H

/* X(enum suffix, printable name, number of sources) */
#define CLG_OP_LIST(X)                                                                            \
    X(INPUT, "input", 0)                                                                           \
    X(PARAM, "param", 0)                                                                           \
    X(CONST, "constant", 0)                                                                        \
    X(ADD, "add", 2)                                                                               \
    X(SUB, "sub", 2)                                                                               \
    X(MUL, "mul", 2)                                                                               \
    X(DIV, "div", 2)                                                                               \
    X(NEG, "neg", 1)                                                                               \
    X(SCALE, "scale", 1)                                                                           \
    X(SQUARE, "square", 1)                                                                         \
    X(EXP, "exp", 1)                                                                               \
    X(LOG, "log", 1)                                                                               \
    X(SQRT, "sqrt", 1)                                                                             \
    X(RELU, "relu", 1)                                                                             \
    X(SIGMOID, "sigmoid", 1)                                                                       \
    X(TANH, "tanh", 1)                                                                             \
    X(SUM, "sum", 1)                                                                               \
    X(MEAN, "mean", 1)                                                                             \
    X(MSE, "mse_loss", 2)                                                                          \
    /* gradient ops, appended by clg_backward */                                                   \
    X(RELU_GRAD, "relu_backward", 2)       /* (x, dy) */                                           \
    X(SIGMOID_GRAD, "sigmoid_backward", 2) /* (y, dy) */                                           \
    X(TANH_GRAD, "tanh_backward", 2)       /* (y, dy) */                                           \
    X(MSE_GRAD, "mse_loss_backward", 3)    /* (pred, target, dloss) */                             \
    X(EXPAND, "expand", 1)                 /* broadcast src to this shape */                       \
    X(REDUCE_TO, "reduce_to", 1)           /* sum src down to this (broadcastable) shape */        \
    /* updates */                                                                                  \
    X(SGD, "sgd_update", 2) /* (w, grad), in place on w */

typedef enum clg_op {
#define CLG_OP_ENUM(e, name, nsrc) CLG_OP_##e,
    CLG_OP_LIST(CLG_OP_ENUM)
#undef CLG_OP_ENUM
        CLG_OP_COUNT
} clg_op;

const char *clg_op_name(clg_op op);
int clg_op_nsrc(clg_op op);

#endif
