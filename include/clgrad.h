/*
 * clgrad: gradient descent on any OpenCL device.
 *
 * One header, opaque handles, status codes. Nothing here aborts, exits or
 * prints: every fallible call returns a clg_status and the context keeps a
 * message saying what failed and where (op, shapes, OpenCL error by name,
 * compiler log).
 *
 * Threading: a clg_context and everything made from it (graphs, tensors)
 * may be used by one thread at a time. Different contexts are independent
 * and may be used concurrently from different threads. There is no global
 * state.
 *
 * Lifetime: a graph belongs to its context. clg_context_destroy destroys
 * every graph still alive. A graph handle passed to clg_graph_destroy
 * stays recognisable until its context is destroyed, so a later call on
 * it returns CLG_ERR_STATE instead of touching freed memory.
 */
#ifndef CLGRAD_H
#define CLGRAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CLGRAD_SHARED_BUILD)
#define CLG_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLG_API __attribute__((visibility("default")))
#else
#define CLG_API
#endif

#define CLG_VERSION_MAJOR 0
#define CLG_VERSION_MINOR 1
#define CLG_VERSION_PATCH 0

#define CLG_MAX_DIMS 4

typedef enum clg_status {
    CLG_OK = 0,
    CLG_ERR_INVALID_ARGUMENT, /* NULL handle, bad value, bad id */
    CLG_ERR_SHAPE,            /* shapes that do not fit the op */
    CLG_ERR_STATE,            /* call not valid now (destroyed graph, earlier error) */
    CLG_ERR_NOT_FOUND,        /* unknown device spec */
    CLG_ERR_OUT_OF_MEMORY,    /* host or device allocation failed */
    CLG_ERR_DEVICE,           /* an OpenCL call failed; message names the error */
    CLG_ERR_BUILD,            /* kernel build failed; message has the compiler log */
    CLG_ERR_UNSUPPORTED       /* op or feature missing on this backend or device */
} clg_status;

typedef struct clg_context clg_context;
typedef struct clg_graph clg_graph;

/* A tensor is a handle into its graph: a small value, valid while the
 * graph lives. An id below zero means "no tensor" (an op that failed). */
typedef struct clg_tensor {
    int32_t id;
} clg_tensor;

CLG_API const char *clg_status_string(clg_status s);
CLG_API const char *clg_version(void);

/* ---- Contexts and devices --------------------------------------------- */

/*
 * Device spec, the same string everywhere (API, CLGRAD_DEVICE, --device):
 *   "reference"                 the plain-C backend
 *   "cpu" | "gpu" | "accelerator"  the first OpenCL device of that type
 *   "P:D"                       platform index P, device index D
 *   anything else               case-insensitive substring of a platform
 *                               or device name ("nvidia", "pocl", "intel")
 * NULL or "" means the default: $CLGRAD_DEVICE when set, else the first
 * GPU, else the first OpenCL device, else "reference".
 *
 * Like sqlite3_open, *out is set even on failure (unless memory ran out)
 * so that clg_context_errmsg can say why; destroy it either way.
 */
CLG_API clg_status clg_context_create(clg_context **out, const char *device_spec);
CLG_API void clg_context_destroy(clg_context *ctx);
CLG_API const char *clg_context_errmsg(const clg_context *ctx);
CLG_API clg_status clg_context_status(const clg_context *ctx);
/* "reference" or "opencl" */
CLG_API const char *clg_context_backend(const clg_context *ctx);
/* e.g. "Portable Computing Language / pthread-skylake-avx512 (cpu, 0:0)" */
CLG_API const char *clg_context_device(const clg_context *ctx);

/* Lists every device a spec can name, one per line, "reference" first.
 * Writes at most size bytes (always NUL-terminated when size > 0) and
 * returns the length the full list needs, excluding the NUL. */
CLG_API size_t clg_device_list(char *buf, size_t size);
/* Number of OpenCL devices across all platforms (0 when there is no
 * OpenCL runtime) and the spec "P:D" of the i-th one. */
CLG_API int clg_opencl_device_count(void);
CLG_API clg_status clg_opencl_device_spec(int i, char *buf, size_t size);

/* What a device says of itself, for listings and benchmark reports. */
typedef struct clg_device_facts {
    char spec[16];            /* "P:D" */
    char type[16];            /* "gpu", "cpu", "accelerator", "other" */
    char platform[128];
    char vendor[128];
    char name[128];
    char driver_version[64];
    char opencl_version[64];
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
} clg_device_facts;
CLG_API clg_status clg_opencl_device_facts(int i, clg_device_facts *out);

/* ---- Graphs ------------------------------------------------------------- */

CLG_API clg_status clg_graph_create(clg_context *ctx, clg_graph **out);
CLG_API void clg_graph_destroy(clg_graph *g);
/* The first error met while recording ops (CLG_OK if none). Ops on a
 * failed tensor fail too, so a whole graph can be built and checked once. */
CLG_API clg_status clg_graph_status(const clg_graph *g);

/* Leaves of the graph. Shapes are up to CLG_MAX_DIMS dimensions. */
CLG_API clg_tensor clg_input(clg_graph *g, int ndim, const int64_t *shape);
CLG_API clg_tensor clg_param(clg_graph *g, int ndim, const int64_t *shape);
CLG_API clg_tensor clg_constant(clg_graph *g, int ndim, const int64_t *shape, float value);
CLG_API clg_tensor clg_scalar(clg_graph *g, float value); /* a one-element constant */
/* An input of int32 values (class labels); set with clg_tensor_set_i32. */
CLG_API clg_tensor clg_labels(clg_graph *g, int ndim, const int64_t *shape);

/* Elementwise binary ops with NumPy broadcasting (a one-element tensor on
 * either side is the common case); backward sums the gradient back to
 * each input's shape. */
CLG_API clg_tensor clg_add(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_sub(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_mul(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_div(clg_graph *g, clg_tensor a, clg_tensor b);

/* Elementwise unary ops. */
CLG_API clg_tensor clg_neg(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_scale(clg_graph *g, clg_tensor x, float c);
CLG_API clg_tensor clg_square(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_exp(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_log(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_sqrt(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_relu(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_sigmoid(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_tanh(clg_graph *g, clg_tensor x);

/* Reductions over all elements, giving a one-element tensor. */
CLG_API clg_tensor clg_sum(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_mean(clg_graph *g, clg_tensor x);

/* Losses. mse = mean((pred - target)^2), same shapes. */
CLG_API clg_tensor clg_mse_loss(clg_graph *g, clg_tensor pred, clg_tensor target);

/* ---- Ops for networks (one section per family) ------------------------ */

/* matmul */

/* conv */

/* shape */

/* axis */

/* act */

/* softmax */

/* norm */

/* random */

/* optim */

/* data */

/* checkpoint */

/* ---- Autodiff and updates ------------------------------------------------ */

/* Reverse-mode autodiff: appends to g the ops giving d loss / d t for
 * every parameter t that loss depends on. loss must have one element.
 * May be called once per graph. */
CLG_API clg_status clg_backward(clg_graph *g, clg_tensor loss);
/* The gradient tensor of a parameter after clg_backward (id < 0 if the
 * loss does not depend on it; the status says why). */
CLG_API clg_tensor clg_grad(clg_graph *g, clg_tensor param);

/* Plain gradient descent: appends, for every parameter with a gradient,
 * the update w -= lr * grad (one kernel per parameter). */
CLG_API clg_status clg_sgd(clg_graph *g, float lr);

/* What clg_graph_run executes: recorded ops fall in three phases. */
enum {
    CLG_RUN_FORWARD = 1,
    CLG_RUN_BACKWARD = 2,
    CLG_RUN_UPDATE = 4,
    CLG_RUN_ALL = 7
};
/* Runs the chosen phases in order, with no allocation, and waits until
 * the device is done. */
CLG_API clg_status clg_graph_run(clg_graph *g, int phases);
/* As clg_graph_run, and gives the device time of the run: from the start
 * of its first kernel to the end of its last, by OpenCL event profiling
 * (CLBlast reports only its last kernel, so a run that starts with a
 * GEMM is undercounted: time those with a host clock), host time on the
 * reference backend. */
CLG_API clg_status clg_graph_run_timed(clg_graph *g, int phases, double *device_seconds);
/* Training mode (the default) or evaluation mode, for the ops that differ:
 * batch norm (batch statistics vs running averages), dropout (mask vs
 * identity). */
CLG_API clg_status clg_graph_set_training(clg_graph *g, int training);

/* ---- Tensor data ------------------------------------------------------- */

CLG_API int clg_tensor_ndim(const clg_graph *g, clg_tensor t);
CLG_API int64_t clg_tensor_dim(const clg_graph *g, clg_tensor t, int axis);
CLG_API int64_t clg_tensor_numel(const clg_graph *g, clg_tensor t);
/* Copy count floats (must equal the tensor's element count). */
CLG_API clg_status clg_tensor_set(clg_graph *g, clg_tensor t, const float *data, size_t count);
CLG_API clg_status clg_tensor_get(clg_graph *g, clg_tensor t, float *data, size_t count);
CLG_API clg_status clg_tensor_fill(clg_graph *g, clg_tensor t, float value);
/* Names (up to 63 characters, unique in the graph) are what checkpoints
 * save and match on load. */
CLG_API clg_status clg_tensor_set_name(clg_graph *g, clg_tensor t, const char *name);
CLG_API const char *clg_tensor_name(const clg_graph *g, clg_tensor t); /* NULL if unnamed */
CLG_API clg_status clg_tensor_set_i32(clg_graph *g, clg_tensor t, const int32_t *data, size_t count);
CLG_API clg_status clg_tensor_get_i32(clg_graph *g, clg_tensor t, int32_t *data, size_t count);

#ifdef __cplusplus
}
#endif
#endif /* CLGRAD_H */
