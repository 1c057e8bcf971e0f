/* The models clgrad-train trains and clgrad-bench times: an MLP and a
 * small CNN for 28x28 grey images and 10 classes. */
#ifndef CLG_MODELS_H
#define CLG_MODELS_H

#include <clgrad.h>

#include <stdint.h>

#define MODEL_MAX_BN 32

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
                       float label_smoothing, model *m);
/* The same network's forward pass at another batch size, in evaluation
 * mode, sharing train's parameters and batch norm statistics (no copies:
 * it follows train as it trains). */
clg_status model_build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, model *m);


#endif
