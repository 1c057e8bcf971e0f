/*
 * The textbook first step of gradient descent, on the device:
 *   w = 5; loss = (w - 2)^2; loss.backward(); w -= 0.1 * w.grad
 * prints "Gradient: 6.0" and "Updated Weight: 4.4", as PyTorch does.
 * The device it ran on is named on stderr, so that stdout is PyTorch's
 * two lines exactly. --help lists the options.
 */
#include "cli.h"

#include <clgrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(clg_context *ctx)
{
    fprintf(stderr, "clgrad-hello: %s\n", clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return 1;
}

static const cli_option options[] = {
    {"device", "SPEC", "the device (reference, cpu, gpu, P:D or part of a name); default $CLGRAD_DEVICE, else the "
                       "first GPU, else the first OpenCL device"},
    {"steps", "N", "iterate N steps, printing w after each (it converges to 2); default 1"},
};

int main(int argc, char **argv)
{
    const char *device = NULL;
    long long steps = 0;
    cli c;
    cli_init(&c, "clgrad-hello", NULL,
             "The textbook first step of gradient descent, on the device: w = 5, loss = (w - 2)^2,\n"
             "backward, w -= 0.1 grad. Prints \"Gradient: 6.0\" and \"Updated Weight: 4.4\" as PyTorch does;\n"
             "the device it ran on goes to stderr.",
             options, sizeof options / sizeof options[0]);
    const char *arg;
    int k;
    while ((k = cli_next(&c, argc, argv, &arg)) >= 0) {
        if (k == 0) device = arg;
        else if (!cli_long(&c, "steps", arg, 1, 1000000, &steps)) return 2;
    }
    if (k != CLI_END) return cli_status(k);

    clg_context *ctx;
    if (clg_context_create(device, &ctx) != CLG_OK) return fail(ctx);
    fprintf(stderr, "clgrad-hello: on %s\n", clg_context_device(ctx));
    clg_graph *g;
    if (clg_graph_create(ctx, &g) != CLG_OK) return fail(ctx);

    const int64_t one = 1;
    clg_tensor w = clg_param(g, 1, &one);
    clg_tensor loss = clg_square(g, clg_sub(g, w, clg_scalar(g, 2.0f)));
    if (clg_graph_status(g) != CLG_OK || clg_backward(g, loss) != CLG_OK || clg_sgd(g, 0.1f) != CLG_OK)
        return fail(ctx);

    float v = 5.0f, grad;
    if (clg_tensor_set(g, w, &v, 1) != CLG_OK) return fail(ctx);
    if (clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD) != CLG_OK) return fail(ctx);
    if (clg_tensor_get(g, clg_grad(g, w), &grad, 1) != CLG_OK) return fail(ctx);
    printf("Gradient: %.1f\n", grad);
    if (clg_graph_run(g, CLG_RUN_UPDATE) != CLG_OK) return fail(ctx);
    if (clg_tensor_get(g, w, &v, 1) != CLG_OK) return fail(ctx);
    printf("Updated Weight: %.1f\n", v);

    for (long long s = 1; s < steps; s++) {
        if (clg_graph_run(g, CLG_RUN_ALL) != CLG_OK || clg_tensor_get(g, w, &v, 1) != CLG_OK) return fail(ctx);
        printf("step %lld: w = %.6f\n", s + 1, v);
    }
    clg_context_destroy(ctx);
    return 0;
}
