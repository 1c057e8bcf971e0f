/* The models clgrad-train trains and clgrad-bench times: an MLP and a
 * small CNN for 28x28 grey images and 10 classes. */
#ifndef CLG_MODELS_H
#define CLG_MODELS_H

#include <clgrad.h>

#include <stdint.h>

#define MODEL_MAX_BN 4

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
} model;

/* kind "mlp": 784-256-128-10 with ReLU. kind "cnn": two blocks of conv 3x3
 * (padding 1) + batch norm + ReLU + 2x2 max-pool, with `width` and
 * 2*width channels, then a linear layer. Parameters are named
 * ("fc1.weight", "conv1.bias", ...) and initialised as PyTorch's layers
 * are by default, from seed. Records forward and backward; the caller adds
 * the optimizer. */
clg_status model_build(clg_context *ctx, const char *kind, int batch, int width, uint64_t seed, model *m);
/* The same network's forward pass at another batch size, in evaluation
 * mode, sharing train's parameters and batch norm statistics (no copies:
 * it follows train as it trains). */
clg_status model_build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, model *m);


#endif
