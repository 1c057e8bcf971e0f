/*
 * A small CNN built with clgrad's public API alone, as an embedder would:
 * conv 3x3 + bias, batch norm (its running statistics under PyTorch's
 * names, clg_batch_norm_state), ReLU, 2x2 max pool, linear. Trains 5 steps
 * (Adam) on seeded data, then writes, into DIR:
 *   model.safetensors   the checkpoint (every named tensor)
 *   x.npy, logits.npy   a batch and clgrad's logits in evaluation mode
 * for load.py, which loads the checkpoint into the same network in PyTorch
 * with load_state_dict(strict=True) and compares its logits.
 * Usage: torch_export DIR [DEVICE]
 */
#include <clgrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 4, C = 2, H = 6, W = 6, OC = 3, K = 5, STEPS = 5 };

static int fail(clg_context *ctx, const char *what)
{
    fprintf(stderr, "torch_export: %s: %s\n", what, clg_context_errmsg(ctx));
    return 1;
}

static float u(uint32_t i) /* a hash of i, uniform in [-1, 1) */
{
    i ^= i >> 16, i *= 0x7feb352du, i ^= i >> 15, i *= 0x846ca68bu, i ^= i >> 16;
    return (float)(i & 0xffffff) / 8388608.0f - 1.0f;
}

static int write_npy(const char *dir, const char *name, const float *v, int ndim, const int64_t *shape)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    clg_array *a;
    if (clg_array_create(CLG_ELEM_F32, ndim, shape, &a, err, sizeof err) != CLG_OK) return fprintf(stderr, "%s\n", err), 1;
    memcpy(a->data, v, (size_t)a->numel * sizeof(float));
    int rc = clg_npy_write(path, a, err, sizeof err) != CLG_OK;
    if (rc) fprintf(stderr, "%s\n", err);
    clg_array_destroy(a);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: torch_export DIR [DEVICE]\n"), 2;
    clg_context *ctx;
    if (clg_context_create(argc > 2 ? argv[2] : NULL, &ctx) != CLG_OK) return fail(ctx, "context");
    clg_graph *g;
    if (clg_graph_create(ctx, &g) != CLG_OK) return fail(ctx, "graph");
    const int64_t xs[4] = {N, C, H, W}, ws[4] = {OC, C, 3, 3}, oc = OC, flat[2] = {N, OC * 3 * 3},
                  fs[2] = {K, OC * 3 * 3}, k = K, n = N;
    clg_tensor x = clg_input(g, 4, xs), labels = clg_labels(g, 1, &n);
    clg_tensor cw = clg_param(g, 4, ws), cb = clg_param(g, 1, &oc), gamma = clg_param(g, 1, &oc),
               beta = clg_param(g, 1, &oc), fw = clg_param(g, 2, fs), fb = clg_param(g, 1, &k);
    const char *names[6] = {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"};
    const clg_tensor params[6] = {cw, cb, gamma, beta, fw, fb};
    for (int i = 0; i < 6; i++) {
        clg_tensor_set_name(g, params[i], names[i]);
        clg_init_kaiming_uniform(g, params[i], 100 + (uint64_t)i); /* 1-D ones are refused: filled below */
    }
    clg_graph_clear_status(g);
    clg_tensor_fill(g, gamma, 1.0f);
    clg_tensor_fill(g, beta, 0.0f);
    clg_tensor_fill(g, cb, 0.05f);
    clg_tensor_fill(g, fb, -0.05f);
    clg_tensor h = clg_conv2d(g, x, cw, cb, 1, 1, 1, 1, 1, 1);
    clg_tensor bn = clg_batch_norm(g, h, gamma, beta, 0.1f, 1e-5f);
    if (clg_batch_norm_state(g, bn, "bn1", NULL, NULL, NULL) != CLG_OK) return fail(ctx, "clg_batch_norm_state");
    h = clg_max_pool2d(g, clg_relu(g, bn), 2, 2, 2, 2, 0, 0);
    clg_tensor logits = clg_linear(g, clg_reshape(g, h, 2, flat), fw, fb);
    clg_tensor_keep(g, logits);
    clg_tensor loss = clg_softmax_cross_entropy(g, logits, labels);
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    cfg.lr = 0.01f;
    if (clg_graph_status(g) != CLG_OK || clg_backward(g, loss) != CLG_OK || clg_optimizer(g, &cfg) != CLG_OK)
        return fail(ctx, "building");
    float xv[N * C * H * W], out[N * K];
    int32_t yv[N];
    for (int i = 0; i < N * C * H * W; i++) xv[i] = 2.0f * u((uint32_t)i + 7u) + 0.5f;
    for (int i = 0; i < N; i++) yv[i] = i % K;
    if (clg_tensor_set(g, x, xv, N * C * H * W) || clg_tensor_set_i32(g, labels, yv, N)) return fail(ctx, "data");
    for (int s = 0; s < STEPS; s++)
        if (clg_graph_run(g, CLG_RUN_ALL) != CLG_OK) return fail(ctx, "training step");
    /* evaluation mode: the running statistics, as PyTorch's eval() uses them */
    if (clg_graph_set_training(g, 0) || clg_graph_run(g, CLG_RUN_FORWARD) || clg_tensor_get(g, logits, out, N * K))
        return fail(ctx, "evaluation");
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    if (clg_checkpoint_save(g, path, NULL, NULL, 0) != CLG_OK) return fail(ctx, "clg_checkpoint_save");
    const int64_t ls[2] = {N, K};
    int rc = write_npy(argv[1], "x.npy", xv, 4, xs) || write_npy(argv[1], "logits.npy", out, 2, ls);
    printf("torch_export: %d steps on %s; %s\n", STEPS, clg_context_device(ctx), path);
    clg_context_destroy(ctx);
    return rc;
}
