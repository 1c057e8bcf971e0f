#include "models.h"

#include <math.h>
#include <stdlib.h>
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

/* QAT: an observer and fake quantization of x, recorded under prefix;
 * weight: x is that parameter (int8 per output channel, symmetric), else
 * an activation (uint8 per tensor, affine). Both with moving-average
 * min/max observers, PyTorch's default QAT configuration. */
static clg_tensor fake_quant(builder *b, const char *prefix, clg_tensor x, bool weight)
{
    model *m = b->m;
    if (x.id < 0) return x;
    if (m->nobs >= MODEL_MAX_OBS || strlen(prefix) >= sizeof m->obs[0].prefix) return failed(b, CLG_ERR_INVALID_ARGUMENT);
    clg_observer_options o = clg_observer_defaults();
    o.moving_average = 1;
    if (weight) {
        o.per_channel = 1;
        o.symmetric = 1;
        o.quant_min = -128;
        o.quant_max = 127;
    }
    clg_observer ob;
    clg_tensor y = clg_fake_quantize_observed(b->g, x, &o, prefix, &ob);
    if (y.id < 0) return failed(b, clg_graph_status(b->g));
    clg_status s = clg_tensor_keep(b->g, ob.qparams);
    if (s != CLG_OK) return failed(b, s);
    snprintf(m->obs[m->nobs].prefix, sizeof m->obs[0].prefix, "%s", prefix);
    m->obs[m->nobs].weight = weight ? x : CLG_NO_TENSOR;
    m->obs[m->nobs].qparams = ob.qparams;
    m->nobs++;
    return y;
}

/* a layer's weight as the layer uses it: fake-quantized under QAT_INT8 */
static clg_tensor used_weight(builder *b, const char *weight_name, clg_tensor w)
{
    if (b->m->qat != QAT_INT8) return w;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s_fake_quant", weight_name);
    return fake_quant(b, prefix, w, true);
}

/* a layer's output (after its ReLU) as the next layer sees it */
static clg_tensor act_quant(builder *b, const char *layer, clg_tensor x)
{
    if (b->m->qat == QAT_NONE) return x;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s.activation_post_process", layer);
    return fake_quant(b, prefix, x, false);
}

/* --precision: an operand of a matrix product or convolution as the op
 * reads it (bench/models.h) */
static clg_tensor lowp(builder *b, clg_tensor x)
{
    if (b->m->precision == PRECISION_F32 || x.id < 0) return x;
    return clg_cast(b->g, x, b->m->precision == PRECISION_BF16 ? CLG_ELEM_BF16 : CLG_ELEM_F16);
}

/* The batch: under --precision it is stored in 16 bits (rounded by
 * clg_tensor_set), since the first product reads it rounded anyway; the
 * augmentation ops read float32, so with them it stays float32. */
static clg_tensor batch_input(builder *b, bool augmented, int ndim, const int64_t *shape)
{
    const int p = b->m->precision;
    if (p == PRECISION_F32 || augmented) return clg_input(b->g, ndim, shape);
    return clg_input_as(b->g, p == PRECISION_BF16 ? CLG_ELEM_BF16 : CLG_ELEM_F16, ndim, shape);
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
    clg_tensor w = used_weight(b, n, param(b, n, 2, ws, bound));
    snprintf(n, sizeof n, "%s.bias", name);
    clg_tensor bias = param(b, n, 1, &out, bound);
    return clg_linear(b->g, lowp(b, x), lowp(b, w), bias);
}

/* conv 3x3 (padding 1, no bias: batch norm follows) + batch norm + ReLU + max-pool 2x2 */
static clg_tensor block(builder *b, int index, clg_tensor x, int64_t cin, int64_t cout)
{
    char n[64];
    const int64_t ws[4] = {cout, cin, 3, 3};
    snprintf(n, sizeof n, "conv%d.weight", index);
    clg_tensor w = used_weight(b, n, param(b, n, 4, ws, 1.0 / sqrt((double)(cin * 9))));
    /* under --precision the convolution's output is 16-bit, as autocast's,
     * and so is what batch norm keeps of it for backward */
    clg_tensor y = lowp(b, clg_conv2d(b->g, lowp(b, x), lowp(b, w), CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1));
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
    snprintf(n, sizeof n, "bn%d", index);
    /* the ReLU on batch norm's output rounded to 16 bits (autocast's
     * batch norm returns its input's type): what its gradient keeps is
     * 16-bit, and so is max pooling's output */
    return clg_max_pool2d(b->g, act_quant(b, n, clg_relu(b->g, lowp(b, y))), 2, 2, 2, 2, 0, 0);
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
    w = used_weight(b, n, w);
    const int64_t pad = k / 2;
    /* 16-bit under --precision, as block's: batch norm keeps it so */
    return lowp(b, clg_conv2d(b->g, lowp(b, x), lowp(b, w), CLG_NO_TENSOR, stride, stride, pad, pad, 1, 1));
}

/* torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
 * the shortcut a 1x1 strided conv + batch norm where the shape changes.
 * Under --precision every batch norm's output is rounded to 16 bits
 * (autocast's batch norm returns its input's type), so the sum, the ReLUs
 * and the block's output are 16-bit. */
static clg_tensor basic_block(builder *b, const char *name, clg_tensor x, int64_t cin, int64_t cout, int64_t stride)
{
    char n[96];
    snprintf(n, sizeof n, "%s.conv1", name);
    clg_tensor h = conv_he(b, n, x, cin, cout, 3, stride);
    snprintf(n, sizeof n, "%s.bn1", name);
    h = act_quant(b, n, clg_relu(b->g, lowp(b, norm(b, n, h, cout))));
    snprintf(n, sizeof n, "%s.conv2", name);
    h = conv_he(b, n, h, cout, cout, 3, 1);
    snprintf(n, sizeof n, "%s.bn2", name);
    h = lowp(b, norm(b, n, h, cout));
    clg_tensor shortcut = x;
    if (stride != 1 || cin != cout) {
        snprintf(n, sizeof n, "%s.downsample.0", name);
        shortcut = conv_he(b, n, x, cin, cout, 1, stride);
        snprintf(n, sizeof n, "%s.downsample.1", name);
        shortcut = lowp(b, norm(b, n, shortcut, cout));
    }
    return act_quant(b, name, clg_relu(b->g, clg_add(b->g, h, shortcut)));
}

static clg_tensor resnet(builder *b, clg_tensor x, int64_t B, int64_t width)
{
    clg_tensor h = act_quant(b, "bn1", clg_relu(b->g, lowp(b, norm(b, "bn1", conv_he(b, "conv1", x, 1, width, 3, 1), width))));
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
    /* (under --precision h is 16-bit, which the pooling's mean refuses: widened, exact) */
    h = clg_adaptive_avg_pool2d(b->g, clg_cast(b->g, h, CLG_ELEM_F32), 1, 1);
    const int64_t flat[2] = {B, c};
    return act_quant(b, "fc", linear(b, "fc", clg_reshape(b->g, h, 2, flat), c, 10));
}

/* The forward pass, parameters named and initialised; train adds the loss's backward. */
static clg_status build(clg_context *ctx, const char *kind, int batch, int width, uint64_t seed, bool train,
                        int augment, float label_smoothing, int qat, int precision, model *m)
{
    memset(m, 0, sizeof *m);
    m->batch = batch;
    m->qat = qat;
    m->precision = precision;
    clg_status s = clg_graph_create(ctx, &m->g);
    if (s != CLG_OK) return s;
    builder b = {m, m->g, seed, 0};
    const int64_t B = batch;
    const int64_t img[4] = {B, 1, 28, 28};
    if (!strcmp(kind, "mlp")) {
        const int64_t xs[2] = {B, 784};
        m->x = batch_input(&b, augment && train, 2, xs);
        clg_tensor in = m->x;
        if (augment && train)
            in = clg_reshape(m->g, clg_random_crop_flip(m->g, clg_reshape(m->g, in, 4, img), 2, 1, seed ^ 0xa5a5), 2, xs);
        in = act_quant(&b, "quant", in);
        clg_tensor h = act_quant(&b, "fc1", clg_relu(m->g, lowp(&b, linear(&b, "fc1", in, 784, 256))));
        h = act_quant(&b, "fc2", clg_relu(m->g, lowp(&b, linear(&b, "fc2", h, 256, 128))));
        m->logits = act_quant(&b, "fc3", linear(&b, "fc3", h, 128, 10));
    } else if (!strcmp(kind, "cnn")) {
        m->x = batch_input(&b, augment && train, 4, img);
        clg_tensor in = augment && train ? clg_random_crop_flip(m->g, m->x, 2, 1, seed ^ 0xa5a5) : m->x;
        clg_tensor h = block(&b, 1, act_quant(&b, "quant", in), 1, width);
        h = block(&b, 2, h, width, 2 * width);
        const int64_t flat[2] = {B, 2 * width * 7 * 7};
        h = clg_reshape(m->g, h, 2, flat); /* 16-bit under --precision: the product reads it so */
        m->logits = act_quant(&b, "fc", linear(&b, "fc", h, 2 * width * 7 * 7, 10));
    } else if (!strcmp(kind, "resnet")) {
        m->x = batch_input(&b, augment && train, 4, img);
        clg_tensor in = augment && train ? clg_random_crop_flip(m->g, m->x, 2, 1, seed ^ 0xa5a5) : m->x;
        m->logits = resnet(&b, act_quant(&b, "quant", in), B, width);
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
                       float label_smoothing, int qat, int precision, model *m)
{
    return build(ctx, kind, batch, width, seed, true, augment, label_smoothing, qat, precision, m);
}

/* Whether name is one of train's fake-quantized weights. */
static bool quantized_weight(const model *train, const char *name)
{
    for (int k = 0; k < train->nobs; k++)
        if (train->obs[k].weight.id >= 0 && !strcmp(clg_tensor_name(train->g, train->obs[k].weight), name)) return true;
    return false;
}

static clg_status build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, int qat,
                             model *m)
{
    clg_status s = build(ctx, kind, batch, width, 0, false, 0, 0, qat, train->precision, m);
    /* every parameter (found by name), observer and batch norm statistic is
     * the training graph's; the int8 evaluation's weights are its own */
    for (int32_t i = 0; s == CLG_OK && i < clg_graph_tensor_count(m->g); i++) {
        clg_tensor t = clg_graph_tensor(m->g, i);
        const char *name = clg_tensor_name(m->g, t);
        clg_tensor src = name ? clg_tensor_find(train->g, name) : CLG_NO_TENSOR;
        bool state = name && strstr(name, ".running_") != NULL; /* clg_batch_norm_state's, shared below */
        if (name && qat == QAT_ACTIVATIONS && quantized_weight(train, name)) continue;
        if (name && !state && strstr(name, ".num_batches_tracked") == NULL) s = clg_tensor_share(m->g, t, train->g, src);
    }
    for (int k = 0; s == CLG_OK && k < m->nbn && k < train->nbn; k++)
        s = clg_batch_norm_share_state(m->g, m->bn[k], train->g, train->bn[k]);
    if (s == CLG_OK) s = clg_graph_set_training(m->g, 0);
    return s;
}

clg_status model_build_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train, model *m)
{
    return build_eval(ctx, kind, batch, width, train, train->qat, m);
}

clg_status model_build_int8_eval(clg_context *ctx, const char *kind, int batch, int width, const model *train,
                                 model *m)
{
    return build_eval(ctx, kind, batch, width, train, QAT_ACTIVATIONS, m);
}

/* q = clamp(round(w (1/s)) + zp, -128, 127), as the fake quantization
 * computes it (C's float division and product are rounded to nearest) */
static int8_t quantize(float w, float s, float zp)
{
    const float q = fminf(fmaxf(nearbyintf(w * (1.0f / s)) + zp, -128.0f), 127.0f);
    return (int8_t)q;
}

void model_derived_free(int n, clg_array **arrays)
{
    for (int i = 0; i < n; i++) clg_array_destroy(arrays[i]);
}

clg_status model_derived(const model *eval, int *n, char names[][64], clg_array **arrays)
{
    clg_graph *g = eval->g;
    clg_status s = CLG_OK;
    *n = 0;
    float *w = NULL;
    for (int k = 0; k < eval->nobs && s == CLG_OK; k++) {
        const int64_t C = clg_tensor_numel(g, eval->obs[k].qparams) / 2;
        clg_array *sc = NULL, *zp = NULL;
        char err[256];
        s = clg_array_create(CLG_ELEM_F32, 1, &C, &sc, err, sizeof err);
        if (s == CLG_OK) arrays[(*n)++] = sc;
        if (s == CLG_OK) s = clg_array_create(CLG_ELEM_I32, 1, &C, &zp, err, sizeof err);
        if (s == CLG_OK) arrays[(*n)++] = zp;
        if (s != CLG_OK) break;
        snprintf(names[*n - 2], 64, "%s.scale", eval->obs[k].prefix);
        snprintf(names[*n - 1], 64, "%s.zero_point", eval->obs[k].prefix);
        float *qp = malloc((size_t)(2 * C) * sizeof *qp); /* scales, then zero points */
        s = qp ? clg_tensor_get(g, eval->obs[k].qparams, qp, (size_t)(2 * C)) : CLG_ERR_OUT_OF_MEMORY;
        for (int64_t c = 0; s == CLG_OK && c < C; c++) {
            ((float *)sc->data)[c] = qp[c];
            ((int32_t *)zp->data)[c] = (int32_t)qp[C + c];
        }
        free(qp);
        const clg_tensor wt = eval->obs[k].weight;
        if (s != CLG_OK || wt.id < 0) continue;
        const int64_t numel = clg_tensor_numel(g, wt), inner = numel / C;
        int64_t shape[8];
        const int ndim = clg_tensor_ndim(g, wt);
        for (int d = 0; d < ndim; d++) shape[d] = clg_tensor_dim(g, wt, d);
        clg_array *q = NULL;
        s = clg_array_create(CLG_ELEM_I8, ndim, shape, &q, err, sizeof err);
        if (s != CLG_OK) break;
        arrays[(*n)++] = q;
        snprintf(names[*n - 1], 64, "%s_int8", clg_tensor_name(g, wt));
        w = realloc(w, (size_t)numel * sizeof *w);
        s = w ? clg_tensor_get(g, wt, w, (size_t)numel) : CLG_ERR_OUT_OF_MEMORY;
        const float *scale = sc->data;
        for (int64_t i = 0; s == CLG_OK && i < numel; i++) /* per output channel: axis 0 */
            ((int8_t *)q->data)[i] = quantize(w[i], scale[i / inner], (float)((int32_t *)zp->data)[i / inner]);
    }
    free(w);
    if (s != CLG_OK) {
        model_derived_free(*n, arrays);
        *n = 0;
    }
    return s;
}

/* the derived array called name, or NULL */
static const clg_array *find_derived(int n, char names[][64], clg_array *const *arrays, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return arrays[i];
    return NULL;
}

clg_status model_set_int8_weights(model *m, int n, char names[][64], clg_array *const *arrays)
{
    clg_status s = CLG_OK;
    float *w = NULL;
    for (int i = 0; i < n && s == CLG_OK; i++) {
        const size_t len = strlen(names[i]);
        if (len < 5 || strcmp(names[i] + len - 5, "_int8")) continue;
        char wname[64], key[96];
        snprintf(wname, sizeof wname, "%.*s", (int)(len - 5), names[i]);
        snprintf(key, sizeof key, "%s_fake_quant.scale", wname);
        const clg_array *q = arrays[i], *sc = find_derived(n, names, arrays, key);
        snprintf(key, sizeof key, "%s_fake_quant.zero_point", wname);
        const clg_array *zp = find_derived(n, names, arrays, key);
        clg_tensor t = clg_tensor_find(m->g, wname);
        if (!sc || !zp || t.id < 0 || clg_tensor_numel(m->g, t) != q->numel) return CLG_ERR_INVALID_ARGUMENT;
        const int64_t inner = q->numel / sc->numel;
        w = realloc(w, (size_t)q->numel * sizeof *w);
        if (!w) return CLG_ERR_OUT_OF_MEMORY;
        for (int64_t k = 0; k < q->numel; k++) {
            const int64_t c = k / inner;
            w[k] = ((float)((const int8_t *)q->data)[k] - (float)((const int32_t *)zp->data)[c]) *
                   ((const float *)sc->data)[c];
        }
        s = clg_tensor_set(m->g, t, w, (size_t)q->numel);
    }
    free(w);
    return s;
}

