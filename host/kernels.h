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
    X(maximum) X(maximum_bc) X(minimum) X(minimum_bc) X(tie_weight) X(tie_weight_bc)             \
    X(compare) X(compare_bc) X(where_f) X(where_bc)                                              \
    X(sum_partial) X(sqdiff_partial) X(sum_final) X(reduce_to) X(mse_backward)                  \
    X(sgd_update) X(fill)                                                                        \
    /* matmul */                                                                                   \
    /* conv */                                                                                     \
    X(conv_im2col) X(conv_col2im) X(conv_swap01) X(conv_bias_add) X(conv_bias_grad)                \
    X(conv_direct_forward) X(conv_direct_input_grad) X(conv_direct_weight_grad)                  \
    X(winograd_weight) X(winograd_weight_adjoint) X(winograd_input) X(winograd_input_adjoint)     \
    X(winograd_output) X(winograd_output_adjoint)                                                \
    X(pool_max_forward) X(pool_max_forward_dil) X(pool_max_backward) X(pool_max_backward_dil) X(pool_avg_forward)             \
    X(pool_avg_backward)            \
    /* shape */                                                                                    \
    X(shape_permute) X(shape_slice) X(shape_slice_backward) X(shape_concat)                      \
    /* axis */                                                                                     \
    X(axis_sum) X(axis_max) X(axis_max_backward)                                                 \
    /* act */                                                                                      \
    X(leaky_relu) X(leaky_relu_backward) X(gelu) X(gelu_backward) X(silu) X(silu_backward)       \
    X(softplus) X(softplus_backward) X(gelu_erf) X(gelu_erf_backward) X(abs_forward)              \
    X(abs_backward) X(clamp_forward) X(clamp_backward) X(pow_forward) X(pow_backward)            \
    X(softplus_beta_forward) X(softplus_beta_backward)                                           \
    /* softmax */                                                                                  \
    X(softmax_fwd_rows) X(softmax_fwd_group) X(softmax_bwd_rows) X(softmax_bwd_group)            \
    X(softmax_ce_forward) X(softmax_ce_small) X(softmax_ce_rows) X(softmax_ce_backward)          \
    X(bce_logits_partial)                                                                        \
    X(bce_logits_backward) X(one_hot)                                                            \
    /* quant */                                                                                    \
    X(fake_quant_forward) X(fake_quant_backward) X(observe_minmax) X(observe_update) X(cast_convert) \
    /* norm */                                                                                     \
    X(bn_forward) X(bn_backward_reduce) X(bn_backward_input)                                     \
    /* random */                                                                                   \
    X(rng_fill) X(dropout_forward) X(dropout_backward) X(crop_flip_forward) X(crop_flip_backward) \
    /* optim */                                                                                    \
    X(optim_sgd) X(optim_adam) X(optim_rmsprop) X(optim_adagrad) X(optim_accumulate)             \
    X(optim_sqnorm_partial) X(optim_sqnorm_final) X(optim_clip_coef) X(optim_nonfinite_partial)   \
    X(optim_unscale_coef) X(optim_scaler_update)

enum {
#define CLG_K_ENUM(k) K_##k,
    CLG_KERNEL_LIST(CLG_K_ENUM)
#undef CLG_K_ENUM
        K_COUNT
};

#endif
