/*
 * An embedder's MLP: Fashion-MNIST, 784 -> 128 -> 10, Adam, batch 64, one
 * epoch, against the installed clgrad, with nothing but clgrad.h. What
 * PyTorch writes as
 *
 *   model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
 *   opt = torch.optim.Adam(model.parameters())
 *   for x, y in loader:
 *       loss = F.cross_entropy(model(x), y)
 *       opt.zero_grad(); loss.backward(); opt.step()
 *
 * Usage: clgrad-example-mlp [DATA_DIR [DEVICE]]
 */
#include <clgrad.h>

#include <stdio.h>
#include <stdlib.h>

static clg_loader *load(const char *dir, const char *split, const clg_loader_options *opt, clg_array **x, clg_array **y)
{
    char path[1024], err[256];
    clg_array *raw = NULL;
    clg_loader *l = NULL;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    if (clg_idx_read(path, &raw, err, sizeof err) == CLG_OK && clg_array_convert(raw, CLG_ELEM_F32, x, err, sizeof err) == CLG_OK) {
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
        clg_array_destroy(raw);
        raw = NULL;
        if (clg_idx_read(path, &raw, err, sizeof err) == CLG_OK && clg_array_convert(raw, CLG_ELEM_I32, y, err, sizeof err) == CLG_OK)
            clg_loader_create(*x, *y, opt, &l, err, sizeof err);
    }
    clg_array_destroy(raw);
    if (!l) fprintf(stderr, "%s\n", err);
    return l;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    clg_array *xs = NULL, *ys = NULL;
    clg_loader_options opt = {.batch_size = 64, .seed = 1, .shuffle = 1, .drop_last = 1, .normalize = CLG_NORMALIZE_COMPUTE};
    clg_loader *train = load(dir, "train", &opt, &xs, &ys);
    clg_context *ctx = NULL;
    clg_graph *g = NULL;
    if (!train || clg_context_create(argc > 2 ? argv[2] : NULL, &ctx) != CLG_OK || clg_graph_create(ctx, &g) != CLG_OK)
        return fprintf(stderr, "%s\n", clg_context_errmsg(ctx)), 1;

    /* --- the model and its training: the lines PyTorch's nine match --- */
    const int64_t xshape[2] = {64, 784}, n = 64;
    clg_tensor x = clg_input(g, 2, xshape), labels = clg_labels(g, 1, &n);
    clg_tensor h = clg_relu(g, clg_linear_layer(g, x, 128, 1, "fc1", 1));
    clg_tensor loss = clg_softmax_cross_entropy(g, clg_linear_layer(g, h, 10, 1, "fc2", 3), labels);
    clg_optimizer_config adam = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    if (clg_backward(g, loss) != CLG_OK || clg_optimizer(g, &adam) != CLG_OK)
        return fprintf(stderr, "%s\n", clg_context_errmsg(ctx)), 1;
    int64_t count;
    while (clg_loader_feed(train, g, x, labels, &count) == CLG_OK && count > 0)
        if (clg_graph_run(g, CLG_RUN_ALL) != CLG_OK) break;
    /* --- end --- */

    float last = 0;
    clg_status s = clg_graph_run(g, CLG_RUN_FORWARD);
    if (s == CLG_OK) s = clg_tensor_get(g, loss, &last, 1);
    printf("%s: one epoch on %s, last batch's loss %.4f\n", s == CLG_OK ? "trained" : clg_context_errmsg(ctx),
           clg_context_device(ctx), last);
    clg_context_destroy(ctx);
    clg_loader_destroy(train);
    clg_array_destroy(xs);
    clg_array_destroy(ys);
    return s == CLG_OK && last < 1.0f ? 0 : 1;
}
