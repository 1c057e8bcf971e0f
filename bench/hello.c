/*
 * The textbook first step of gradient descent, on the device:
 *   w = 5; loss = (w - 2)^2; loss.backward(); w -= 0.1 * w.grad
 * prints "Gradient: 6.0" and "Updated Weight: 4.4", as PyTorch does.
 * Usage: clgrad-hello [--device SPEC] [--steps N]
 *   --steps N  iterate N steps and print w after each (it converges to 2)
 */
#include <clgrad.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(clg_context *ctx)
{
    fprintf(stderr, "clgrad-hello: %s\n", clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return 1;
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    long steps = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            /* the whole value, a count from 1 to a million: "abc", "-5" or
             * "1e30" is refused, not read as 0, -5 or 1 */
            const char *v = argv[++i];
            char *end;
            errno = 0;
            steps = strtol(v, &end, 10);
            if (end == v || *end || errno || steps < 1 || steps > 1000000) {
                fprintf(stderr, "clgrad-hello: --steps must be a whole number from 1 to 1000000, not '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: clgrad-hello [--device SPEC] [--steps N]\n");
            return 2;
        }
    }

    clg_context *ctx;
    if (clg_context_create(&ctx, device) != CLG_OK) return fail(ctx);
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

    for (long s = 1; s < steps; s++) {
        if (clg_graph_run(g, CLG_RUN_ALL) != CLG_OK || clg_tensor_get(g, w, &v, 1) != CLG_OK) return fail(ctx);
        printf("step %ld: w = %.6f\n", s + 1, v);
    }
    clg_context_destroy(ctx);
    return 0;
}
