/*
 * Every kernel the OpenCL backend creates, by family. Kernel K_name is the
 * __kernel function `name` in cl/. One section per family: add a family's
 * kernels to its own section.
 */
#ifndef CLG_KERNELS_H
#define CLG_KERNELS_H

#define CLG_KERNEL_LIST(X)                                                                        \
    /* basic */                                                                                    \
    X(add) X(add_bc) X(sub) X(sub_bc) X(mul) X(mul_bc) X(div) X(div_bc)                          \
    X(neg) X(scale) X(square) X(exp_f) X(log_f) X(sqrt_f) X(relu) X(sigmoid) X(tanh_f)          \
    X(relu_backward) X(relu_backward_bc) X(sigmoid_backward) X(sigmoid_backward_bc)             \
    X(tanh_backward) X(tanh_backward_bc) X(expand)                                               \
    X(sum_partial) X(sqdiff_partial) X(sum_final) X(reduce_to) X(mse_backward)                  \
    X(sgd_update)                                                                                \
    /* matmul */                                                                                   \
    /* conv */                                                                                     \
    /* shape */                                                                                    \
    /* axis */                                                                                     \
    /* act */                                                                                      \
    /* softmax */                                                                                  \
    /* norm */                                                                                     \
    /* random */                                                                                   \
    /* optim */

enum {
#define CLG_K_ENUM(k) K_##k,
    CLG_KERNEL_LIST(CLG_K_ENUM)
#undef CLG_K_ENUM
        K_COUNT
};

#endif
