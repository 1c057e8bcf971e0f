#include "models.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct builder {
    model *m;
    clg_graph *g;
    uint64_t seed;
    int layer;
} builder;

static clg_tensor failed(builder *b, clg_status s)
{
    if (b->m->err == CLG_OK) b->m->err = s;
    return CLG_NO_TENSOR;
}

static bool remember_flat(builder *b, clg_tensor t)
{
    model *m = b->m;
    if (m->nflat >= (int)(sizeof m->flat / sizeof m->flat[0])) {
        failed(b, CLG_ERR_INVALID_ARGUMENT);
        return false;
    }
    m->flat[m->nflat++] = t;
    return true;
}

/* PyTorch's default for Linear and Conv2d: weight and bias uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)). */
static clg_tensor param(builder *b, const char *name, int ndim, const int64_t *shape, double bound)
{
    clg_tensor t = clg_param(b->g, ndim, shape);
    if (t.id < 0) return t;
    b->m->nparams += clg_tensor_numel(b->g, t);
    if (ndim == 1 && !remember_flat(b, t)) return CLG_NO_TENSOR;
    clg_status s = clg_tensor_set_name(b->g, t, name);
    if (s == CLG_OK)
        s = clg_init_uniform(b->g, t, (float)-bound, (float)bound, b->seed + (uint64_t)(++b->layer) * 7919);
    return s == CLG_OK ? t : failed(b, s);
}

static clg_tensor filled(builder *b, const char *name, int64_t n, float v)
{
    clg_tensor t = clg_param(b->g, 1, &n);
    if (t.id < 0) return t;
    b->m->nparams += n;
    if (!remember_flat(b, t)) return CLG_NO_TENSOR;
    clg_status s = clg_tensor_set_name(b->g, t, name);
    if (s == CLG_OK) s = clg_tensor_fill(b->g, t, v);
    return s == CLG_OK ? t : failed(b, s);
}

static clg_tensor linear(builder *b, const char *name, clg_tensor x, int64_t in, int64_t out)
{
    char n[64];
    const int64_t ws[2] = {out, in};
    double bound = 1.0 / sqrt((double)in);
    snprintf(n, sizeof n, "%s.weight", name);
    clg_tensor w = param(b, n, 2, ws, bound);
    snprintf(n, sizeof n, "%s.bias", name);
    clg_tensor bias = param(b, n, 1, &out, bound);
    return clg_linear(b->g, x, w, bias);
}

/* conv 3x3 (padding 1, no bias: batch norm follows) + batch norm + ReLU + max-pool 2x2 */
static clg_tensor block(builder *b, int index, clg_tensor x, int64_t cin, int64_t cout)
{
    char n[64];
    const int64_t ws[4] = {cout, cin, 3, 3};
    snprintf(n, sizeof n, "conv%d.weight", index);
    clg_tensor w = param(b, n, 4, ws, 1.0 / sqrt((double)(cin * 9)));
    clg_tensor y = clg_conv2d(b->g, x, w, CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
    snprintf(n, sizeof n, "bn%d.weight", index);
    clg_tensor gamma = filled(b, n, cout, 1.0f);
    snprintf(n, sizeof n, "bn%d.bias", index);
    clg_tensor beta = filled(b, n, cout, 0.0f);
    y = clg_batch_norm(b->g, y, gamma, beta, 0.1f, 1e-5f);
    model *m = b->m;
    if (m->nbn < MODEL_MAX_BN && y.id >= 0) {
        /* its running statistics, under PyTorch's names: checkpoints carry them */
        snprintf(n, sizeof n, "bn%d", index);
        clg_status s = clg_batch_norm_state(b->g, y, n, NULL, NULL, NULL);
        if (s != CLG_OK) return failed(b, s);
        m->bn[m->nbn++] = y;
    }
    return clg_max_pool2d(b->g, clg_relu(b->g, y), 2, 2, 2, 2, 0, 0);
}

/* batch norm with PyTorch's defaults, its running statistics named
 * "<name>.running_mean", ... */
static clg_tensor norm(builder *b, const char *name, clg_tensor x, int64_t c)
{
    char n[96];
    snprintf(n, sizeof n, "%s.weight", name);
    clg_tensor gamma = filled(b, n, c, 1.0f);
    snprintf(n, sizeof n, "%s.bias", name);
    clg_tensor beta = filled(b, n, c, 0.0f);
    clg_tensor y = clg_batch_norm(b->g, x, gamma, beta, 0.1f, 1e-5f);
    model *m = b->m;
    if (y.id < 0) return y;
    if (m->nbn >= MODEL_MAX_BN) return failed(b, CLG_ERR_INVALID_ARGUMENT);
    clg_status s = clg_batch_norm_state(b->g, y, name, NULL, NULL, NULL);
    if (s != CLG_OK) return failed(b, s);
    m->bn[m->nbn++] = y;
    return y;
}

/* conv k x k without bias (batch norm follows), torchvision's ResNet
 * init: kaiming_normal_(mode="fan_out", nonlinearity="relu"), N(0, 2 / (cout k k)) */
static clg_tensor conv_he(builder *b, const char *name, clg_tensor x, int64_t cin, int64_t cout, int64_t k,
                          int64_t stride)
{
    char n[96];
    const int64_t ws[4] = {cout, cin, k, k};
    snprintf(n, sizeof n, "%s.weight", name);
    clg_tensor w = clg_param(b->g, 4, ws);
    if (w.id < 0) return w;
    b->m->nparams += cout * cin * k * k;
    clg_status s = clg_tensor_set_name(b->g, w, n);
    if (s == CLG_OK)
        s = clg_init_normal(b->g, w, 0.0f, (float)sqrt(2.0 / (double)(cout * k * k)),
                            b->seed + (uint64_t)(++b->layer) * 7919);
    if (s != CLG_OK) return failed(b, s);
    const int64_t pad = k / 2;
    return clg_conv2d(b->g, x, w, CLG_NO_TENSOR, stride, stride, pad, pad, 1, 1);
}

/* torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
 * the shortcut a 1x1 strided conv + batch norm where the shape changes */
static clg_tensor basic_block(builder *b, const char *name, clg_tensor x, int64_t cin, int64_t cout, int64_t stride)
{
    char n[96];
    snprintf(n, sizeof n, "%s.conv1", name);
    clg_tensor h = conv_he(b, n, x, cin, cout, 3, stride);
    snprintf(n, sizeof n, "%s.bn1", name);
    h = clg_relu(b->g, norm(b, n, h, cout));
    snprintf(n, sizeof n, "%s.conv2", name);
    h = conv_he(b, n, h, cout, cout, 3, 1);
    snprintf(n, sizeof n, "%s.bn2", name);
    h = norm(b, n, h, cout);
    clg_tensor shortcut = x;
    if (stride != 1 || cin != cout) {
        snprintf(n, sizeof n, "%s.downsample.0", name);
        shortcut = conv_he(b, n, x, cin, cout, 1, stride);
        snprintf(n, sizeof n, "%s.downsample.1", name);
        shortcut = norm(b, n, shortcut, cout);
    }
    return clg_relu(b->g, clg_add(b->g, h, shortcut));
}

static clg_tensor resnet(builder *b, clg_tensor x, int64_t B, int64_t width)
{
    clg_tensor h = clg_relu(b->g, norm(b, "bn1", conv_he(b, "conv1", x, 1, width, 3, 1), width));
    int64_t c = width;
    for (int stage = 1; stage <= 3; stage++) {
        const int64_t out = width << (stage - 1);
        for (int k = 0; k < 2; k++) {
            char n[32];
            snprintf(n, sizeof n, "layer%d.%d", stage, k);
            h = basic_block(b, n, h, c, out, stage > 1 && k == 0 ? 2 : 1);
            c = out;
        }
    }
    h = clg_adaptive_avg_pool2d(b->g, h, 1, 1);
    const int64_t flat[2] = {B, c};
    return linear(b, "fc", clg_reshape(b->g, h, 2, flat), c, 10);
}

/* The forward pass, parameters named and initialised; train adds the loss's backward. */
static clg_status build(clg_context *ctx, const char *kind, int batch, int width, uint64_t seed, bool train,
                        int augment, float label_smoothing, model *m)
{
    memset(m, 0, sizeof *m);
    m->batch = batch;
    clg_status s = clg_graph_create(ctx, &m->g);
    if (s != CLG_OK) return s;
    builder b = {m, m->g, seed, 0};
    const int64_t B = batch;
    const int64_t img[4] = {B, 1, 28, 28};
    if (!strcmp(kind, "mlp")) {
        const int64_t xs[2] = {B, 784};
        m->x = clg_input(m->g, 2, xs);
        clg_tensor in = m->x;
        if (augment && train)
            in = clg_reshape(m->g, clg_random_crop_flip(m->g, clg_reshape(m->g, in, 4, img), 2, 1, seed ^ 0xa5a5), 2, xs);
        clg_tensor h = clg_relu(m->g, linear(&b, "fc1", in, 784, 256));
        h = clg_relu(m->g, linear(&b, "fc2", h, 256, 128));
        m->logits = linear(&b, "fc3", h, 128, 10);
    } else if (!strcmp(kind, "cnn")) {
        m->x = clg_input(m->g, 4, img);
        clg_tensor in = augment && train ? clg_random_crop_flip(m->g, m->x, 2, 1, seed ^ 0xa5a5) : m->x;
        clg_tensor h = block(&b, 1, in, 1, width);
        h = block(&b, 2, h, width, 2 * width);
        const int64_t flat[2] = {B, 2 * width * 7 * 7};
        h = clg_reshape(m->g, h, 2, flat);
        m->logits = linear(&b, "fc", h, 2 * width * 7 * 7, 10);
    } else if (!strcmp(kind, "resnet")) {
        m->x = clg_input(m->g, 4, img);
        clg_tensor in = augment && train ? clg_random_crop_flip(m->g, m->x, 2, 1, seed ^ 0xa5a5) : m->x;
        m->logits = resnet(&b, in, B, width);
    } else {
        return CLG_ERR_INVALID_ARGUMENT;
    }
    m->labels = clg_labels(m->g, 1, &B);
    clg_tensor_keep(m->g, m->logits); /* read for the accuracy */
    if (label_smoothing > 0) {
        clg_loss_options lo = clg_loss_defaults();
        lo.label_smoothing = label_smoothing;
        m->loss = clg_cross_entropy(m->g, m->logits, m->labels, &lo);
    } else {
        m->loss = clg_softmax_cross_entropy(m->g, m->logits, m->labels);
    }
    if (m->err != CLG_OK) return m->err;
    s = clg_graph_status(m->g);
    if (s == CLG_OK && train) s = clg_backward(m->g, m->loss);
    return s;
}

clg_status model_build(clg_context *ctx, const char *kind, int batch, int width, uint64_t seed, int augment,
                       float label_smoothing, model *m)
{
    return build(ctx, kind, batch, width, seed, true, augment, label_smoothing, m);
}

clg_status model_build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, model *m)
{
    clg_status s = build(ctx, kind, batch, width, 0, false, 0, 0, m);
    /* every parameter (found by name) and batch norm statistic is the training graph's */
    for (int32_t i = 0; s == CLG_OK && i < clg_graph_tensor_count(m->g); i++) {
        clg_tensor t = clg_graph_tensor(m->g, i);
        const char *name = clg_tensor_name(m->g, t);
        clg_tensor src = name ? clg_tensor_find(train->g, name) : CLG_NO_TENSOR;
        bool state = name && strstr(name, ".running_") != NULL; /* clg_batch_norm_state's, shared below */
        if (name && !state && strstr(name, ".num_batches_tracked") == NULL) s = clg_tensor_share(m->g, t, train->g, src);
    }
    for (int k = 0; s == CLG_OK && k < m->nbn && k < train->nbn; k++)
        s = clg_batch_norm_share_state(m->g, m->bn[k], train->g, train->bn[k]);
    if (s == CLG_OK) s = clg_graph_set_training(m->g, 0);
    return s;
}

