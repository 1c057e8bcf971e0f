#include <clgrad.h>
#include <clgrad_opencl.h> /* installed too: the OpenCL objects' side of the API */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    /* the library that runs is the one built against (before 1.0: same minor) */
    if (clg_version_number() / 100 != CLG_VERSION_NUMBER / 100) {
        fprintf(stderr, "built against clgrad %d, running with %d\n", CLG_VERSION_NUMBER, clg_version_number());
        return 1;
    }
    clg_context *ctx;
    if (clg_context_create(argc > 1 ? argv[1] : NULL, &ctx) != CLG_OK) {
        fprintf(stderr, "%s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    clg_graph *g;
    const int64_t one = 1;
    clg_graph_create(ctx, &g);
    clg_tensor w = clg_param(g, 1, &one);
    clg_tensor loss = clg_square(g, clg_sub(g, w, clg_scalar(g, 2.0f)));
    float v = 5.0f, grad = 0;
    if (clg_backward(g, loss) || clg_sgd(g, 0.1f) || clg_tensor_set(g, w, &v, 1) ||
        clg_graph_run(g, CLG_RUN_ALL) || clg_tensor_get(g, clg_grad(g, w), &grad, 1) ||
        clg_tensor_get(g, w, &v, 1)) {
        fprintf(stderr, "%s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    /* a context's OpenCL objects: only an OpenCL context has them */
    cl_context oc = NULL;
    clg_status os = clg_context_get_opencl(ctx, &oc, NULL, NULL);
    if (strcmp(clg_context_backend(ctx), "opencl") == 0 ? os != CLG_OK || !oc : os != CLG_ERR_UNSUPPORTED) {
        fprintf(stderr, "clg_context_get_opencl: %s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    printf("clgrad %s on %s: Gradient: %.1f Updated Weight: %.1f\n", clg_version(), clg_context_device(ctx), grad, v);
    clg_context_destroy(ctx);
    return 0;
}
