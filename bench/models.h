/* The models clgrad-train trains and clgrad-bench times: an MLP and a
 * small CNN for 28x28 grey images and 10 classes. */
#ifndef CLG_MODELS_H
#define CLG_MODELS_H

#include <clgrad.h>

#include <stdint.h>

#define MODEL_MAX_BN 32
#define MODEL_MAX_OBS 64

/* Quantization-aware training (--qat): none; int8 fake quantization of the
 * weights and activations; or the activations alone (the evaluation of
 * int8 weights given as dequantized values). */
enum { QAT_NONE = 0, QAT_INT8 = 1, QAT_ACTIVATIONS = 2 };
/* Mixed precision (--precision): float32 throughout; or the operands of
 * every matrix product and convolution (inputs and weights) cast to
 * bfloat16 or float16, as autocast does (the products accumulate in
 * float32), and the MLP's hidden layers' outputs too (bias added in float32,
 * then rounded: ReLU and what backward keeps of them are 16-bit, as
 * autocast's are); the CNN's and the ResNet's convolution outputs (which
 * batch norm reads and keeps as they are), batch norm's outputs rounded,
 * the ReLUs, max pooling, the residual sums and the flattened features
 * 16-bit likewise (the ResNet widens before its global average pooling);
 * the logits and the loss float32. Gradients are
 * float32, rounded to the 16-bit type where they reach a cast. Weights and
 * optimizer state stay float32 (the masters). */
enum { PRECISION_F32 = 0, PRECISION_BF16 = 1, PRECISION_F16 = 2 };

typedef struct model {
    clg_graph *g;
    clg_status err; /* first failure while building */
    /* batch norm layers, their running statistics named as PyTorch's
     * ("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked") */
    int nbn;
    clg_tensor bn[MODEL_MAX_BN];
    int batch;
    clg_tensor x;      /* [batch, 784] (mlp) or [batch, 1, 28, 28] (cnn) */
    clg_tensor labels; /* int32 [batch] */
    clg_tensor logits; /* [batch, 10] */
    clg_tensor loss;   /* mean softmax cross-entropy */
    int64_t nparams;   /* parameter count */
    /* the 1-D parameters (biases, batch norm's weights and biases): the
     * ones a weight decay usually leaves alone */
    int nflat;
    clg_tensor flat[2 * MODEL_MAX_BN + 8];
    /* QAT: every observer, its state named "<prefix>.min_val" and
     * ".max_val"; weight the weight it quantizes (else CLG_NO_TENSOR),
     * qparams its scales and zero points (clg_observer), kept for reading */
    int qat, nobs;
    int precision; /* PRECISION_* */
    struct {
        char prefix[48];
        clg_tensor weight, qparams;
    } obs[MODEL_MAX_OBS];
} model;

/* kind "mlp": 784-256-128-10 with ReLU. kind "cnn": two blocks of conv 3x3
 * (padding 1) + batch norm + ReLU + 2x2 max-pool, with `width` and
 * 2*width channels, then a linear layer. kind "resnet": a residual network
 * (He et al. 2016, the CIFAR form): a stem conv 3x3 + batch norm + ReLU
 * with `width` channels, three stages of two basic blocks (conv 3x3, batch
 * norm, ReLU, conv 3x3, batch norm, plus the block's input, ReLU) with
 * width, 2 width and 4 width channels at 28x28, 14x14 and 7x7, the first
 * block of stages 2 and 3 of stride 2 with a 1x1 stride-2 projection and
 * batch norm on its shortcut, then global average pooling and a linear
 * layer. Parameters are named as PyTorch's modules would name them
 * ("fc1.weight", "conv1.bias", "layer2.0.downsample.0.weight", ...) and
 * initialised as PyTorch's layers are by default (torchvision's ResNet:
 * convolutions kaiming_normal, fan_out), from seed. augment: the training
 * graph crops and flips its input on the device first
 * (clg_random_crop_flip, padding 2). label_smoothing > 0: the loss is
 * clg_cross_entropy with that smoothing (else the fused
 * clg_softmax_cross_entropy). Records forward and backward; the caller
 * adds the optimizer. */
clg_status model_build(clg_context *ctx, const char *kind, int batch, int width, uint64_t seed, int augment,
                       float label_smoothing, int qat, int precision, model *m);
/* qat QAT_INT8: PyTorch's default QAT configuration (get_default_qat_qconfig,
 * without reduce_range): every weight fake-quantized to int8 per output
 * channel (symmetric, moving-average min/max observer), the input and
 * every layer's output (after its ReLU) to uint8 per tensor (affine,
 * moving-average min/max). Observers are named PyTorch's way:
 * "<layer>.weight_fake_quant", "<layer>.activation_post_process",
 * "quant.activation_post_process" for the input. Batch norm is not folded
 * into the convolutions' weights (PyTorch's ConvBnReLU2d folds it). */

/* The same network's forward pass at another batch size, in evaluation
 * mode and train's precision, sharing train's parameters, batch norm
 * statistics and observers (no copies: it follows train as it trains). */
clg_status model_build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, model *m);
/* As model_build_eval for a QAT model, but its weights are its own, not
 * fake-quantized, and set from the int8 values q, scales and zero points
 * of model_int8_weights ((q - zero point) scale): the deployed model. */
clg_status model_build_int8_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train,
                                 model *m);

/* QAT: the derived tensors a deployment reads, from an evaluation graph
 * that has run (its observers frozen): for every observer
 * "<prefix>.scale" (F32) and "<prefix>.zero_point" (I32), and for every
 * weight "<weight>_int8" (I8, its shape), q = clamp(round(w / s) + zp),
 * as the fake quantization rounds. *n arrays (at most 3 MODEL_MAX_OBS) and
 * names; free with model_derived_free. */
clg_status model_derived(const model *eval, int *n, char names[][64], clg_array **arrays);
void model_derived_free(int n, clg_array **arrays);
/* Sets the int8 evaluation graph's weights from the derived arrays. */
clg_status model_set_int8_weights(model *m, int n, char names[][64], clg_array *const *arrays);


#endif
