// The headers from C++: they compile clean (-Wall -Wextra -pedantic
// -Werror), CLG_NO_TENSOR and the inline wrappers work, and a C++ program
// links and runs against the installed library.
#include <clgrad.h>
#include <clgrad_opencl.h>

#include <cstdio>

int main()
{
    clg_context *ctx = nullptr;
    if (clg_context_create("reference", &ctx) != CLG_OK) return 1;
    clg_graph *g = nullptr;
    if (clg_graph_create(ctx, &g) != CLG_OK) return 1;
    const int64_t xs[2] = {2, 3}, ws[2] = {1, 3};
    clg_tensor x = clg_input(g, 2, xs), w = clg_param(g, 2, ws);
    clg_tensor y = clg_sum(g, clg_linear(g, x, w, CLG_NO_TENSOR)); // no bias
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_SGD);
    cfg.lr = 0.5f;
    const float xv[6] = {1, 2, 3, 4, 5, 6}, wv[3] = {1, 1, 1};
    float out = 0;
    clg_memory mem;
    clg_device_facts facts;
    bool ok = clg_backward(g, y) == CLG_OK && clg_optimizer(g, &cfg) == CLG_OK && clg_tensor_set(g, x, xv, 6) == CLG_OK &&
              clg_tensor_set(g, w, wv, 3) == CLG_OK && clg_graph_run(g, CLG_RUN_FORWARD) == CLG_OK &&
              clg_tensor_get(g, y, &out, 1) == CLG_OK && clg_graph_memory(g, &mem) == CLG_OK &&
              clg_device_get_facts(0, &facts) == CLG_OK;
    if (!ok) std::printf("C++: %s\n", clg_context_errmsg(ctx));
    else std::printf("C++: sum = %.1f on %s, %llu bytes\n", out, facts.name, (unsigned long long)mem.total);
    clg_context_destroy(ctx);
    return ok && out == 21.0f ? 0 : 1;
}
