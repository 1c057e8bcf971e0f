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
 * and may be created, used and destroyed concurrently from different
 * threads. The library's only process-wide state is behind locks and
 * changes no result: OpenCL platform listing is serialised (drivers
 * initialise lazily, not always thread-safely), and CLBlast's program
 * cache is cleared when the last context that used it is destroyed.
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

/* Linux is what is built and tested (README, "ABI policy"); no Windows
 * export branch is kept that nothing builds. */
#if defined(__GNUC__)
#define CLG_API __attribute__((visibility("default")))
#else
#define CLG_API
#endif

/* The version (the build reads it from here). ABI policy (README): from
 * 1.0, within a major version no function is removed or changes its
 * signature, enum values are only appended, and public structs only grow
 * at their end where the library fills them from a caller-given size or
 * the caller gets them from an init function (clg_optimizer_defaults);
 * the SONAME is libclgrad.so.MAJOR. Before 1.0 a minor version may break
 * the ABI, and the SONAME is libclgrad.so.0.MINOR. A program checks at run
 * time that it runs with the library it was built against:
 *   clg_version_number() / 100 == CLG_VERSION_NUMBER / 100  (before 1.0)
 */
#define CLG_VERSION_MAJOR 0
#define CLG_VERSION_MINOR 3
#define CLG_VERSION_PATCH 7
#define CLG_VERSION_NUMBER (CLG_VERSION_MAJOR * 10000 + CLG_VERSION_MINOR * 100 + CLG_VERSION_PATCH)

/* Element types of host arrays and data files (below), and clg_cast's
 * targets. */
typedef enum clg_elem {
    CLG_ELEM_U8, CLG_ELEM_I8, CLG_ELEM_U16, CLG_ELEM_I16, CLG_ELEM_U32, CLG_ELEM_I32,
    CLG_ELEM_U64, CLG_ELEM_I64, CLG_ELEM_F16, CLG_ELEM_BF16, CLG_ELEM_F32, CLG_ELEM_F64,
    CLG_ELEM_BOOL
} clg_elem;

/* Tensors have 0 (a scalar) to CLG_MAX_DIMS dimensions (4 before 0.3). */
#define CLG_MAX_DIMS 8

typedef enum clg_status {
    CLG_OK = 0,
    CLG_ERR_INVALID_ARGUMENT, /* NULL handle, bad value, bad id */
    CLG_ERR_SHAPE,            /* shapes that do not fit the op */
    CLG_ERR_STATE,            /* call not valid now (destroyed graph, earlier error) */
    CLG_ERR_NOT_FOUND,        /* unknown device spec */
    CLG_ERR_OUT_OF_MEMORY,    /* host or device allocation failed */
    CLG_ERR_DEVICE,           /* an OpenCL call failed; message names the error */
    CLG_ERR_BUILD,            /* kernel build failed; message has the compiler log */
    CLG_ERR_UNSUPPORTED,      /* op or feature missing on this backend or device */
    CLG_ERR_PEER              /* another process of a data-parallel job failed or did not answer in time
                                 (clg_reducer); added in 0.3.1 */
} clg_status;

typedef struct clg_context clg_context;
typedef struct clg_graph clg_graph;

/* A tensor is a handle into its graph: a small value, valid while the
 * graph lives. `graph` identifies the graph that made it, so a tensor
 * passed to another graph is refused (CLG_ERR_INVALID_ARGUMENT), never
 * taken for that graph's tensor of the same id. Make handles only with
 * the API; copy them freely.
 *
 * An id below zero means no tensor: CLG_NO_TENSOR where an argument is
 * optional (a bias), or the result of an op that was refused, which is
 * marked so (graph == CLG_TENSOR_FAILED) and makes an op given it fail in
 * turn: a whole graph can be built and its status checked once. */
typedef struct clg_tensor {
    int32_t id;
    uint32_t graph;
} clg_tensor;
#define CLG_TENSOR_FAILED 0xffffffffu
#ifdef __cplusplus
#define CLG_NO_TENSOR (clg_tensor{-1, 0})
#else
#define CLG_NO_TENSOR ((clg_tensor){-1, 0})
#endif

CLG_API const char *clg_status_string(clg_status s);
CLG_API const char *clg_version(void); /* "0.1.0": static storage */
CLG_API int clg_version_number(void);  /* CLG_VERSION_NUMBER of the library that runs */

/* ---- Contexts and devices --------------------------------------------- */

/*
 * Device spec, the same string everywhere (API, CLGRAD_DEVICE, --device):
 *   "reference"                 the plain-C backend
 *   "cpu" | "gpu" | "accelerator"  the first OpenCL device of that type
 *   "P:D"                       platform index P, device index D
 *   anything else               case-insensitive substring of a platform
 *                               or device name ("nvidia", "pocl", "intel");
 *                               of several devices, the one GPU among them,
 *                               else CLG_ERR_INVALID_ARGUMENT listing them
 * A kind no device is ("gpu" with no GPU) is CLG_ERR_NOT_FOUND saying so.
 * NULL or "" means the default: $CLGRAD_DEVICE when set, else the first
 * GPU, else the first OpenCL device, else "reference".
 *
 * Like sqlite3_open, *out is set even on failure (unless memory ran out)
 * so that clg_context_errmsg can say why; destroy it either way.
 */
CLG_API clg_status clg_context_create(const char *device_spec, clg_context **out);
/*
 * As clg_context_create, with settings for this context alone: NULL, or a
 * list of name, value strings ending with NULL, e.g.
 *   const char *set[] = {"cache_dir", "/var/cache/app", "fusion", "off", NULL};
 * Each overrides the environment variable CLGRAD_<NAME> (the name in
 * capitals), which is otherwise read when the context is made:
 *   cache_dir     folder of compiled kernels and tuning entries; "off": none
 *   cache_max_mb  the cache's size cap in megabytes (default 256)
 *   tuning        "off": ignore clgrad-tune's stored entry
 *   gemm          matrix products: auto, clblast, native
 *   conv          convolutions: auto, im2col, direct, onednn, winograd
 *   fusion        "off": elementwise chains run unfused
 *   fusion_dump   a folder where each generated fused program is written
 *   plan          "off": every tensor of a graph made on the context gets
 *                 its own buffer
 *   vector_width  elementwise kernels' vector width: 1, 2, 4, 8 or 16
 *   max_launch    the largest launch in work-items (debugging)
 * An unknown name, a name without a value or one given twice is
 * CLG_ERR_INVALID_ARGUMENT; a value the backend cannot use fails as the
 * environment variable would, the message naming the setting. The strings
 * are copied.
 */
CLG_API clg_status clg_context_create_with(const char *device_spec, const char *const *settings, clg_context **out);
/* The value a setting has for ctx (its own, else the environment's), NULL
 * when neither gives one or the name is unknown. A context's own value
 * lives as long as the context; the environment's, until the environment
 * changes. */
CLG_API const char *clg_context_setting(const clg_context *ctx, const char *name);
CLG_API void clg_context_destroy(clg_context *ctx);
/* The message of the last refused call on the context (its status's name
 * when there is none), or a fixed text for a NULL context. The pointer is
 * valid until clg_context_destroy; the text changes at the next refused
 * call: copy it to keep it. */
CLG_API const char *clg_context_errmsg(const clg_context *ctx);
CLG_API clg_status clg_context_status(const clg_context *ctx);
/* "reference" or "opencl"; a static string. */
CLG_API const char *clg_context_backend(const clg_context *ctx);
/* e.g. "Portable Computing Language / pthread-skylake-avx512 (cpu, 0:0)";
 * valid until clg_context_destroy (as is clg_context_gemm's). */
CLG_API const char *clg_context_device(const clg_context *ctx);
/* How the context's matrix products (matmul, convolutions) run: "CLBlast",
 * "host BLAS (OpenBLAS) as native kernels" on CPU devices where that path
 * is taken, or the reference backend's loops. */
CLG_API const char *clg_context_gemm(const clg_context *ctx);
/* The device commands the context has enqueued so far: every clgrad kernel
 * (a fused one included) and every CLBlast call counts one; the reference
 * backend counts one per node it runs. The difference across a run is the
 * kernels of a step (clgrad-bench's train group reports it). */
CLG_API uint64_t clg_context_launches(const clg_context *ctx);

/* Lists every device a spec can name, one per line, "reference" first.
 * Writes at most size bytes (always NUL-terminated when size > 0) and
 * returns the length the full list needs, excluding the NUL. */
CLG_API size_t clg_device_list(char *buf, size_t size);

/* What a device says of itself, for listings and benchmark reports. */
typedef struct clg_device_facts {
    char spec[16];            /* "reference", "P:D": what clg_context_create takes */
    char type[16];            /* "gpu", "cpu", "accelerator", "other"; "host" for the reference */
    char platform[128];       /* empty for the reference */
    char vendor[128];
    char name[128];
    char driver_version[64];
    char opencl_version[64];  /* empty when not an OpenCL device */
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    char backend[16];         /* the backend that runs it: "reference", "opencl" */
} clg_device_facts;

/* Every device a spec can name, across all backends, in the order of
 * clg_device_list: device 0 is the reference backend, then each OpenCL
 * device. clg_device_spec writes device i's spec (CLG_ERR_INVALID_ARGUMENT
 * when i is out of range or the spec does not fit in size bytes). */
CLG_API int clg_device_count(void);
CLG_API clg_status clg_device_spec(int i, char *buf, size_t size);
/* Structs the library fills take the caller's sizeof, so that a library
 * with more fields never writes past an older caller's struct: call the
 * inline wrapper. */
CLG_API clg_status clg_device_get_facts_sized(int i, clg_device_facts *out, size_t size);
static inline clg_status clg_device_get_facts(int i, clg_device_facts *out)
{
    return clg_device_get_facts_sized(i, out, sizeof *out);
}

/* ---- Graphs ------------------------------------------------------------- */

CLG_API clg_status clg_graph_create(clg_context *ctx, clg_graph **out);
CLG_API void clg_graph_destroy(clg_graph *g);
/* The first refused call since the graph was made or the status last
 * cleared (CLG_OK if none). A refused call changes nothing: the graph
 * keeps running as recorded before it, and ops given the failed tensor it
 * returned fail too, so a whole graph can be built and checked once. */
CLG_API clg_status clg_graph_status(const clg_graph *g);
CLG_API void clg_graph_clear_status(clg_graph *g);
/* The graph's tensors in recording order (leaves, ops, gradients,
 * optimizer state), and a tensor found by its name (id < 0 if none). */
CLG_API int32_t clg_graph_tensor_count(const clg_graph *g);
CLG_API clg_tensor clg_graph_tensor(const clg_graph *g, int32_t index);
CLG_API clg_tensor clg_tensor_find(const clg_graph *g, const char *name);

/* Leaves of the graph: ndim 0 (a scalar; shape may be NULL) to
 * CLG_MAX_DIMS, each extent 1..2^40. */
CLG_API clg_tensor clg_input(clg_graph *g, int ndim, const int64_t *shape);
/* An input of type CLG_ELEM_F32 (as clg_input), CLG_ELEM_BF16 or
 * CLG_ELEM_F16 (see clg_cast): clg_tensor_set rounds the floats it is
 * given on the host, so a 16-bit batch crosses to the device and is
 * stored in two bytes a value, and the ops that take 16-bit tensors read
 * it without a float32 copy. A 16-bit input has no gradient
 * (clg_tensor_requires_grad refuses it). Added in 0.3.5. */
CLG_API clg_tensor clg_input_as(clg_graph *g, clg_elem type, int ndim, const int64_t *shape);
CLG_API clg_tensor clg_param(clg_graph *g, int ndim, const int64_t *shape);
CLG_API clg_tensor clg_constant(clg_graph *g, int ndim, const int64_t *shape, float value);
CLG_API clg_tensor clg_scalar(clg_graph *g, float value); /* a 0-d constant */
/* An input of int32 values (class labels); set with clg_tensor_set_i32. */
CLG_API clg_tensor clg_labels(clg_graph *g, int ndim, const int64_t *shape);

/* Elementwise binary ops with NumPy broadcasting (a one-element tensor on
 * either side is the common case); backward sums the gradient back to
 * each input's shape. */
CLG_API clg_tensor clg_add(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_sub(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_mul(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_div(clg_graph *g, clg_tensor a, clg_tensor b);
/* PyTorch's maximum / minimum: the larger (smaller) of a and b, with
 * broadcasting; a NaN on either side gives NaN. Where a == b the gradient
 * is split evenly between them, as PyTorch does. Added in 0.2.3. */
CLG_API clg_tensor clg_maximum(clg_graph *g, clg_tensor a, clg_tensor b);
CLG_API clg_tensor clg_minimum(clg_graph *g, clg_tensor a, clg_tensor b);
/* Comparisons, with broadcasting: 1.0 where `a op b` holds, else 0.0 (a
 * comparison with a NaN is false, but CLG_NE's true), as float: PyTorch's
 * lt/le/gt/ge/eq/ne followed by .float(). Not differentiable (the result
 * never requires a gradient). Added in 0.2.3. */
typedef enum clg_comparison { CLG_LT, CLG_LE, CLG_GT, CLG_GE, CLG_EQ, CLG_NE } clg_comparison;
CLG_API clg_tensor clg_compare(clg_graph *g, clg_tensor a, clg_tensor b, clg_comparison op);
/* torch.where(condition != 0, a, b), the three broadcast together: a
 * where the float condition is nonzero (NaN counts as nonzero, as in
 * PyTorch's bool()), else b. The gradient goes to a where the condition
 * holds and to b elsewhere, none to the condition. Added in 0.2.3. */
CLG_API clg_tensor clg_where(clg_graph *g, clg_tensor condition, clg_tensor a, clg_tensor b);

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

/* Reductions over all elements, giving a 0-d tensor (PyTorch's shape;
 * [1] before 0.3). */
CLG_API clg_tensor clg_sum(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_mean(clg_graph *g, clg_tensor x);
/* The largest (smallest) element, a 0-d tensor (torch.amax /
 * amin over all dimensions); the gradient goes to the first extreme
 * element when several are equal (PyTorch splits it evenly among them);
 * a NaN propagates. Built from max_axis. Added in 0.2.2. */
CLG_API clg_tensor clg_max(clg_graph *g, clg_tensor x);
CLG_API clg_tensor clg_min(clg_graph *g, clg_tensor x);

/* Losses, each a 0-d tensor. mse = mean((pred - target)^2), same shapes. */
CLG_API clg_tensor clg_mse_loss(clg_graph *g, clg_tensor pred, clg_tensor target);
/* PyTorch's huber_loss and smooth_l1_loss (mean reduction, same shapes),
 * d = pred - target: huber = mean(0.5 d^2 where |d| <= delta, else
 * delta (|d| - 0.5 delta)), delta > 0; smooth L1 = huber with delta = beta,
 * divided by beta (beta >= 0; 0 gives mean |d|). Built from abs and clamp. */
CLG_API clg_tensor clg_huber_loss(clg_graph *g, clg_tensor pred, clg_tensor target, float delta);
CLG_API clg_tensor clg_smooth_l1_loss(clg_graph *g, clg_tensor pred, clg_tensor target, float beta);

/* ---- Ops for networks (one section per family) ------------------------ */

/* matmul */

/* C = op(a) op(b), op transposing the last two dimensions when its flag
 * is set. a and b are 2-D matrices or 3-D batches of them:
 *   [m,k]   x [k,n]   -> [m,n]
 *   [B,m,k] x [B,k,n] -> [B,m,n]   (equal batch)
 *   [B,m,k] x [k,n]   -> [B,m,n]   (b shared by the batch: a weight)
 *   [m,k]   x [B,k,n] -> [B,m,n]   (a shared)
 * (shapes before transposing). CLG_ERR_SHAPE names both shapes and the
 * transposes when they do not fit. An operand may be float16 or bfloat16
 * (clg_cast; since 0.3.3): the product reads it widened to float32 and
 * accumulates in float32, keeping only the 16-bit tensor for backward; C
 * is float32. Where the backend's GEMM reads 16-bit operands (a CPU
 * device's host BLAS, since 0.3.4) no float32 copy is stored; elsewhere a
 * widened copy lives while the product runs (made again in backward). */
CLG_API clg_tensor clg_matmul(clg_graph *g, clg_tensor a, clg_tensor b, int transpose_a, int transpose_b);
/* y = x w^T + bias: x [..., in] (2-D or 3-D), w [out, in], bias [out] or
 * CLG_NO_TENSOR for none (a failed tensor fails the op); x and w may be
 * 16-bit as for clg_matmul, bias is float32. */
CLG_API clg_tensor clg_linear(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias);

/* conv */

/*
 * 2-D convolution (cross-correlation, as in PyTorch), NCHW float tensors:
 * x [N,C,H,W], w [OC,C,KH,KW], bias [OC] or CLG_NO_TENSOR for none;
 * groups = 1 (clg_conv2d_grouped below for more). y [N,OC,OH,OW] with
 *   OH = (H + 2 pad_h - dilation_h (KH - 1) - 1) / stride_h + 1
 * (rounded down; OW likewise). Strides and dilations must be >= 1,
 * paddings >= 0, and the dilated kernel must fit the padded input.
 * Memory: besides y, the op keeps (C*KH*KW + OC) * N*OH*OW floats (the
 * im2col matrix and a scratch; every backend allocates them), and the
 * gradient of x C*KH*KW * N*OH*OW more. x and w may be float16 or
 * bfloat16 (clg_cast; since 0.3.3): the convolution reads them widened to
 * float32, and keeps the widened copies for backward.
 */
CLG_API clg_tensor clg_conv2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h, int stride_w,
                              int pad_h, int pad_w, int dilation_h, int dilation_w);
/* Grouped convolution (PyTorch's groups): x [N, C, H, W], w [OC, C /
 * groups, KH, KW], groups dividing C and OC; output channels of group k
 * see input channels [k C / groups, (k + 1) C / groups) only. groups = C
 * = OC is the depthwise convolution. Built from one clg_conv2d per group
 * on channel slices, concatenated: correct and differentiable, but
 * `groups` products instead of one (a grouped kernel would be faster for
 * many groups). groups 1 is clg_conv2d. Added in 0.2.2. */
CLG_API clg_tensor clg_conv2d_grouped(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h,
                                      int stride_w, int pad_h, int pad_w, int dilation_h, int dilation_w, int groups);
/* PyTorch's conv_transpose2d (groups 1; the argument order is PyTorch's):
 * x [N, C, H, W], w [C, OC, KH, KW] (PyTorch's layout: input channels
 * first), bias [OC] or CLG_NO_TENSOR; y [N, OC, OH, OW] with
 *   OH = (H - 1) stride_h - 2 pad_h + dilation_h (KH - 1) + output_pad_h + 1
 * (OW likewise). It is the gradient of clg_conv2d with respect to its
 * input (the learned upsampling of U-Nets and decoders): y[n, o, i, j] sums
 * x[n, c, p, q] w[c, o, kh, kw] over i = p stride - pad + kh dilation.
 * Strides and dilations >= 1, paddings >= 0, 0 <= output padding < stride
 * (PyTorch also allows it below the dilation; refused here), OH, OW >= 1.
 * Added in 0.2.3. */
CLG_API clg_tensor clg_conv_transpose2d(clg_graph *g, clg_tensor x, clg_tensor w, clg_tensor bias, int stride_h,
                                        int stride_w, int pad_h, int pad_w, int output_pad_h, int output_pad_w,
                                        int dilation_h, int dilation_w);
/*
 * Pooling over kh x kw windows of x [N,C,H,W], giving [N,C,OH,OW] with
 * OH = (H + 2 pad_h - kh) / stride_h + 1 (rounded down; ceil mode and the
 * other options: the _opt forms below).
 * Paddings may be at most half the window (as in PyTorch), so every window
 * holds at least one cell of x. Max pooling: padding cells never win; the
 * gradient goes to the first maximum of each window in row-major order.
 * Average pooling counts the padding cells (PyTorch's default
 * count_include_pad=True): every window divides by kh * kw. Max pooling
 * takes a 16-bit x (clg_cast) and gives y in its type (each y is a cell of
 * x: exact), as PyTorch's; its gradient is float32 (since 0.3.6).
 */
CLG_API clg_tensor clg_max_pool2d(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h,
                                  int pad_w);
CLG_API clg_tensor clg_avg_pool2d(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w, int pad_h,
                                  int pad_w);
/* PyTorch's other pooling arguments (nn.MaxPool2d's dilation and
 * ceil_mode, nn.AvgPool2d's ceil_mode and count_include_pad), for the
 * _opt forms below; NULL gives the defaults, which are the plain calls'.
 *  - dilation: max pooling's taps h0 + p dilation_h (average pooling has
 *    none: must be 1); a window whose taps all fall in the padding gives
 *    -inf and no gradient;
 *  - ceil_mode: OH = ceil((H + 2 pad_h - dilation_h (kh - 1) - 1) /
 *    stride_h) + 1, less one when that last window would start beyond x
 *    and its left padding (PyTorch's rule); windows reaching past the
 *    input are clipped;
 *  - count_include_pad 0: average pooling divides each window by its cells
 *    inside x; 1 (the default) by its cells inside the padded input (kh kw
 *    but for ceil mode's clipped last windows).
 * Added in 0.2.3. */
typedef struct clg_pool_options {
    size_t size;               /* sizeof, set by clg_pool_options_init */
    int dilation_h, dilation_w; /* 1 */
    int ceil_mode;             /* 0 */
    int count_include_pad;     /* 1 */
} clg_pool_options;
CLG_API clg_status clg_pool_options_init(clg_pool_options *opt, size_t size);
CLG_API clg_tensor clg_max_pool2d_opt(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w,
                                      int pad_h, int pad_w, const clg_pool_options *opt);
CLG_API clg_tensor clg_avg_pool2d_opt(clg_graph *g, clg_tensor x, int kh, int kw, int stride_h, int stride_w,
                                      int pad_h, int pad_w, const clg_pool_options *opt);
/* PyTorch's adaptive_avg_pool2d to out_h x out_w: 1x1 is the global
 * average pool (a mean over each plane); H and W multiples of out_h and
 * out_w, an average pool (equal windows); otherwise (windows of different
 * sizes, [floor(i H / out_h), ceil((i + 1) H / out_h)) as PyTorch's, since
 * 0.2.3) two products by constant window matrices, [out_w, W] then
 * [out_h, H] (each below 2^24 entries, else CLG_ERR_UNSUPPORTED). Built
 * from the ops above. */
CLG_API clg_tensor clg_adaptive_avg_pool2d(clg_graph *g, clg_tensor x, int64_t out_h, int64_t out_w);
/* Nearest-neighbour upsampling by integer factors (PyTorch's
 * F.interpolate(x, scale_factor=(scale_h, scale_w), mode="nearest"), the
 * nn.Upsample of YOLO-style necks): y[n,c,i,j] = x[n,c,i / scale_h,
 * j / scale_w] for x [N, C, H, W]; the gradient sums each scale_h x
 * scale_w block. Built from broadcasting products by ones (exact). Added
 * in 0.2.2. */
CLG_API clg_tensor clg_upsample_nearest2d(clg_graph *g, clg_tensor x, int64_t scale_h, int64_t scale_w);
/* Bilinear resizing to out_h x out_w (PyTorch's F.interpolate(x, size=(out_h,
 * out_w), mode="bilinear", align_corners=...), for x [N, C, H, W]; larger
 * or smaller). Output i reads the source position (i + 0.5) H / out_h -
 * 0.5 (clamped at 0), or i (H - 1) / (out_h - 1) with align_corners;
 * PyTorch's weights. Built from two products by constant interpolation
 * matrices, [out_w, W] then [out_h, H] (each below 2^24 entries, else
 * CLG_ERR_UNSUPPORTED): exact in form, but W + H multiply-adds per output
 * where a gathering kernel needs 4 (fine at feature-map sizes; a kernel
 * would be faster on large images). Added in 0.2.3. */
CLG_API clg_tensor clg_upsample_bilinear2d(clg_graph *g, clg_tensor x, int64_t out_h, int64_t out_w,
                                           int align_corners);

/* layers */

/*
 * An op with its parameters, made, named and initialised as PyTorch's
 * module does it, so that a network is a line per layer and checkpoints
 * hold PyTorch's state_dict names. Each is one call: refused, it leaves
 * nothing behind. name must be unique among the graph's names (a tensor
 * name holds 63 characters, "<name>.weight" included); the parameters are
 * found again with clg_tensor_find(g, "<name>.weight").
 *   linear      nn.Linear(in, out_features, bias): x [..., in]; weight
 *               [out, in] and bias [out] from U(-1/sqrt(in), 1/sqrt(in))
 *               (PyTorch's default: kaiming_uniform with a = sqrt 5)
 *   conv2d      nn.Conv2d(c, out_channels, kernel, stride, padding, bias):
 *               x [N, c, H, W], square kernel, U(+-1/sqrt(c kernel^2))
 *   batch_norm  nn.BatchNorm1d/2d(c): weight 1, bias 0, momentum 0.1,
 *               eps 1e-5, running statistics named as clg_batch_norm_state
 * The weight is drawn from stream (seed, 0), the bias from (seed + 1, 0).
 */
CLG_API clg_tensor clg_linear_layer(clg_graph *g, clg_tensor x, int64_t out_features, int bias, const char *name,
                                    uint64_t seed);
CLG_API clg_tensor clg_conv2d_layer(clg_graph *g, clg_tensor x, int64_t out_channels, int kernel, int stride,
                                    int padding, int bias, const char *name, uint64_t seed);
CLG_API clg_tensor clg_batch_norm_layer(clg_graph *g, clg_tensor x, const char *name);

/* shape */

/* A view of x with another shape and the same elements in the same
 * (row-major) order: it shares x's data and runs nothing. One extent may
 * be -1, inferred from the element count. Int32 labels may be reshaped,
 * and 16-bit tensors (since 0.3.7: the view keeps x's type; its gradient
 * is float32, as every gradient). ndim 0 (shape may be NULL) makes a
 * one-element x a 0-d scalar. */
CLG_API clg_tensor clg_reshape(clg_graph *g, clg_tensor x, int ndim, const int64_t *shape);
/* Output axis d is x's axis perm[d] (perm holds ndim entries, a
 * permutation of 0..ndim-1; NULL for a 0-d x). A copy. */
CLG_API clg_tensor clg_permute(clg_graph *g, clg_tensor x, const int *perm);
/* Swaps two axes (a permute); negative axes count from the end. */
CLG_API clg_tensor clg_transpose(clg_graph *g, clg_tensor x, int axis0, int axis1);
/* Elements start..start+length-1 along axis (negative counts from the
 * end); the other axes whole. A copy. */
CLG_API clg_tensor clg_slice(clg_graph *g, clg_tensor x, int axis, int64_t start, int64_t length);
/* a then b along axis; every other extent must match. */
CLG_API clg_tensor clg_concat(clg_graph *g, clg_tensor a, clg_tensor b, int axis);

/* axis */

/* Sum, mean or max along one axis (negative counts from the end). keepdim
 * nonzero keeps the axis with extent 1; otherwise it is dropped (a 1-D x
 * gives a 0-d tensor). max: the gradient goes to the first maximum along the
 * axis when several are equal; a NaN propagates (the first NaN is taken). */
CLG_API clg_tensor clg_sum_axis(clg_graph *g, clg_tensor x, int axis, int keepdim);
CLG_API clg_tensor clg_mean_axis(clg_graph *g, clg_tensor x, int axis, int keepdim);
CLG_API clg_tensor clg_max_axis(clg_graph *g, clg_tensor x, int axis, int keepdim);
/* The index along axis of each maximum, as int32 (torch.argmax(x, axis,
 * keepdim)): the first maximum on ties, the first NaN if any. Read it
 * with clg_tensor_get_i32 (after clg_tensor_keep), or give it to
 * clg_one_hot, e.g. for the accuracy on the device:
 * sum(one_hot(argmax(logits, 1)) * one_hot(labels)). Not differentiable.
 * Added in 0.2.2. */
CLG_API clg_tensor clg_argmax(clg_graph *g, clg_tensor x, int axis, int keepdim);

/* act */

/* Elementwise activations; each has its backward. */
/* y = x for x > 0, negative_slope * x otherwise (finite slope) */
CLG_API clg_tensor clg_leaky_relu(clg_graph *g, clg_tensor x, float negative_slope);
/* GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
CLG_API clg_tensor clg_gelu(clg_graph *g, clg_tensor x);
/* x * sigmoid(x) */
CLG_API clg_tensor clg_silu(clg_graph *g, clg_tensor x);
/* log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|): finite for any finite x */
CLG_API clg_tensor clg_softplus(clg_graph *g, clg_tensor x);
/* GELU, exact (erf) form, PyTorch's default nn.GELU(): x Phi(x) =
 * 0.5 x erfc(-x / sqrt 2) */
CLG_API clg_tensor clg_gelu_erf(clg_graph *g, clg_tensor x);
/* |x|; the gradient is sign(x) dy, 0 at x = 0 (as PyTorch's) */
CLG_API clg_tensor clg_abs(clg_graph *g, clg_tensor x);
/* min(max(x, lo), hi); -INFINITY or INFINITY for no bound on that side;
 * lo <= hi, neither NaN. A NaN x stays NaN. The gradient passes where
 * lo <= x <= hi (bounds included, as PyTorch's), else 0. */
CLG_API clg_tensor clg_clamp(clg_graph *g, clg_tensor x, float lo, float hi);
/* x^p for a finite exponent p (C's pow: a negative x with a non-integer p
 * gives NaN); the gradient is p x^(p-1) dy. */
CLG_API clg_tensor clg_pow(clg_graph *g, clg_tensor x, float p);
/* PyTorch's softplus(x, beta, threshold): log(1 + e^(beta x)) / beta, and
 * x where beta x > threshold (PyTorch's defaults: beta 1, threshold 20);
 * beta > 0 and threshold finite. The gradient is sigmoid(beta x), 1
 * beyond the threshold. */
CLG_API clg_tensor clg_softplus_beta(clg_graph *g, clg_tensor x, float beta, float threshold);

/*
 * Fake quantization, for quantization-aware training, as PyTorch defines
 * it (fake_quantize_per_tensor_affine, fake_quantize_per_channel_affine,
 * and their learnable forms _fake_quantize_learnable_*):
 *   zp = clamp(nearbyint(zero_point), quant_min, quant_max)
 *   q  = clamp(nearbyint(x * (1 / scale)) + zp, quant_min, quant_max)
 *   y  = (q - zp) * scale
 * in float, rounding half to even, the reciprocal rounded to float first
 * (PyTorch's inv_scale). scale and zero_point are tensors, so that
 * observers or the optimizer update them on the device: one element each
 * (0-d or [1]) quantizes per tensor (axis ignored); 1-D of x's extent along
 * axis (negative counts from the end), per channel. Any integer range with
 * quant_min < quant_max within [-32768, 65535]: 2 to 16 bits, affine or
 * symmetric (the zero point says which). scale must be positive (0 or
 * less gives inf or NaN, as in PyTorch).
 * Gradients, PyTorch's: x's is straight-through, dy where
 * nearbyint(x / scale) + zp lies in [quant_min, quant_max], else 0. Where
 * scale and zero_point are parameters (learnable, LSQ), their gradients
 * are grad_factor times, summed over each channel's elements,
 *   scale:      dy (nearbyint(x / s) - x / s) inside, dy (quant_min - zp)
 *               below, dy (quant_max - zp) above;
 *   zero point: 0 inside, -dy scale outside.
 * grad_factor: PyTorch's (1 for plain LSQ; 1 / sqrt(elements x quant_max)
 * in the LSQ paper); finite. Added in 0.3.1.
 */
CLG_API clg_tensor clg_fake_quantize(clg_graph *g, clg_tensor x, clg_tensor scale, clg_tensor zero_point, int axis,
                                     int quant_min, int quant_max, float grad_factor);

/*
 * Observers: the scale and zero point that quantize x, from the range of
 * the values seen so far, as PyTorch's observers compute them
 * (torch.ao.quantization's MinMaxObserver, MovingAverageMinMaxObserver and
 * their PerChannel forms; fields named as their arguments).
 *
 * State: min_val and max_val, 0-d per tensor or [C] per channel (C = x's
 * extent along axis), +inf and -inf until the first observation. In
 * training mode (clg_graph_set_training) each forward run first updates
 * them from x's minimum m and maximum M (per channel: over all elements
 * but the axis; a NaN propagates, as torch.aminmax):
 *   min/max:        min_val = min(min_val, m), max_val = max(max_val, M)
 *   moving average: min_val = min_val + c (m - min_val) (each step rounded
 *                   to float, no fma), max_val likewise; the first
 *                   observation sets them to m and M.
 * In evaluation they are frozen. Then, from the state, with
 * lo = min(min_val, 0), hi = max(max_val, 0):
 *   affine:    scale = max((hi - lo) / (quant_max - quant_min), eps),
 *              zero_point = clamp(quant_min - round(lo / scale), quant_min,
 *              quant_max) (round half to even)
 *   symmetric: scale = max(max(-lo, hi) / ((quant_max - quant_min) / 2), eps),
 *              zero_point = 0 for a signed range (quant_min < 0); for an
 *              unsigned one 128 when it is [0, 255], else
 *              floor((quant_min + quant_max) / 2) (PyTorch's quint8 without
 *              and with a customised range)
 * in float, divisions rounded to nearest; scale 1 and zero point 0 while
 * nothing was observed. Not differentiable: x is observed detached.
 */
typedef struct clg_observer_options {
    size_t size;              /* sizeof, set by clg_observer_options_init; 0: this version's layout */
    int moving_average;       /* 0: min/max; nonzero: moving average */
    float averaging_constant; /* 0.01, in (0, 1] */
    int per_channel;          /* 0: one scale and zero point for x; nonzero: one per index of axis */
    int axis;                 /* 0 (PyTorch's ch_axis); negative counts from the end */
    int symmetric;            /* 0: affine (per_*_affine); nonzero: per_*_symmetric */
    int quant_min, quant_max; /* 0, 255 (quint8); quant_min < quant_max within [-32768, 65535] */
    float eps;                /* FLT_EPSILON (torch.finfo(torch.float32).eps); positive, finite */
} clg_observer_options;
CLG_API clg_status clg_observer_options_init(clg_observer_options *opt, size_t size);
static inline clg_observer_options clg_observer_defaults(void)
{
    clg_observer_options o;
    clg_observer_options_init(&o, sizeof o);
    return o;
}
/* An observer's tensors: scale and zero_point, float [C] ([1] per tensor),
 * ready for clg_fake_quantize (clg_tensor_keep them to read them after a
 * run); its state min_val and max_val: leaves read and written with
 * clg_tensor_get/set, saved by checkpoints when named; qparams, float
 * [2, C], the observer's own output: the scales in row 0, the zero points
 * in row 1 (scale and zero_point are its rows). */
typedef struct clg_observer {
    clg_tensor scale, zero_point;
    clg_tensor min_val, max_val;
    clg_tensor qparams;
} clg_observer;
/* Records an observer of x (opt NULL: the defaults). With prefix, its
 * state is named "<prefix>.min_val" and "<prefix>.max_val" (PyTorch's
 * names within the observer module). Added in 0.3.2. */
CLG_API clg_status clg_observe(clg_graph *g, clg_tensor x, const clg_observer_options *opt, const char *prefix,
                               clg_observer *out);
/* PyTorch's FakeQuantize module: an observer of x (as clg_observe; opt
 * NULL: the defaults) whose scale and zero point fake-quantize x
 * (clg_fake_quantize, quant_min and quant_max the observer's, axis its own
 * per channel, grad_factor 1), read straight from the observer's qparams.
 * obs (may be NULL) receives the observer, its scale and zero_point
 * CLG_NO_TENSOR (they are qparams' rows, not recorded apart). Added in
 * 0.3.2. */
CLG_API clg_tensor clg_fake_quantize_observed(clg_graph *g, clg_tensor x, const clg_observer_options *opt,
                                              const char *prefix, clg_observer *obs);

/* x as another float type: to is CLG_ELEM_F32, CLG_ELEM_F16 (IEEE
 * binary16) or CLG_ELEM_BF16 (bfloat16); x itself when it already is one.
 * Narrowing rounds to nearest, ties to even, keeps subnormals, overflows
 * to infinity and keeps NaN a NaN, as PyTorch's x.half() / x.bfloat16(); a
 * 16-bit tensor's storage takes two bytes an element. Ops take 16-bit
 * tensors where their comment says so (clg_matmul, clg_linear,
 * clg_conv2d, clg_batch_norm's x, clg_max_pool2d, clg_reshape), and so do the elementwise ops (since 0.3.4): clg_add, _sub,
 * _mul, _div, _neg, _scale, _square, _exp, _log, _sqrt, _relu, _sigmoid,
 * _tanh, _leaky_relu, _gelu, _gelu_erf, _silu, _softplus, _abs, _pow,
 * _maximum, _minimum, _compare: they compute in float32 and
 * round the result to their sources' 16-bit type when the sources share
 * one, else return float32 (PyTorch's promotion), so a chain of them on a
 * bfloat16 tensor stays bfloat16 (and a device fuses it into one kernel
 * that reads and writes 16 bits). Others refuse 16-bit tensors, and
 * clg_tensor_get/set convert (set rounds). The gradient is PyTorch's:
 * narrowing passes dy rounded to the 16-bit type, widening passes it
 * unchanged; gradients are float32 tensors, also those of 16-bit
 * results (PyTorch's would be 16-bit). Added in 0.3.3. */
CLG_API clg_tensor clg_cast(clg_graph *g, clg_tensor x, clg_elem to);

/* softmax */

/* Softmax and log-softmax along one axis (negative counts from the end),
 * with the row maximum subtracted first: finite for any finite input. */
CLG_API clg_tensor clg_softmax(clg_graph *g, clg_tensor x, int axis);
CLG_API clg_tensor clg_log_softmax(clg_graph *g, clg_tensor x, int axis);
/*
 * Mean over the batch of -log softmax(logits_i)[labels_i]: logits [N, C],
 * labels int32 [N] (clg_labels) in [0, C). One-element result. Labels are
 * checked by clg_tensor_set_i32 when written after this op is recorded; a
 * label out of range that escapes that check (written before) makes the
 * loss and its row of the gradient NaN. Differentiable in the logits.
 */
CLG_API clg_tensor clg_softmax_cross_entropy(clg_graph *g, clg_tensor logits, clg_tensor labels);
/*
 * Binary cross-entropy on logits, mean over all elements:
 *   mean(max(z, 0) - z t + log1p(e^-|z|)), logits z and targets t of the
 * same shape (t usually in [0, 1]). Differentiable in both: d/dz =
 * (sigmoid(z) - t) / n, d/dt = -z / n.
 */
CLG_API clg_tensor clg_bce_with_logits(clg_graph *g, clg_tensor logits, clg_tensor targets);
/*
 * One-hot rows: labels int32 [N] to float [N, classes], row i the unit
 * vector of class labels[i]; a row whose label equals ignore_index is all
 * zeros. A label neither in [0, classes) nor ignore_index is refused by
 * clg_tensor_set_i32 when written after this op is recorded (and makes
 * its row NaN if written before). Not differentiable (labels are
 * integers). Added in 0.2.2.
 */
CLG_API clg_tensor clg_one_hot(clg_graph *g, clg_tensor labels, int64_t classes, int32_t ignore_index);

/* Options of the classification losses, PyTorch's arguments. */
typedef enum clg_reduction {
    CLG_REDUCTION_MEAN, /* a 0-d result: the weighted mean over the rows not ignored */
    CLG_REDUCTION_SUM,  /* 0-d: the sum over the rows */
    CLG_REDUCTION_NONE  /* [N]: one loss per row (0 for an ignored row) */
} clg_reduction;
typedef struct clg_loss_options {
    size_t size;              /* sizeof, set by clg_loss_options_init; 0: this version's layout */
    clg_reduction reduction;  /* CLG_REDUCTION_MEAN */
    clg_tensor weight;        /* CLG_NO_TENSOR, or float [C]: a weight per class */
    int32_t ignore_index;     /* -100: rows with this label count for nothing */
    float label_smoothing;    /* 0, in [0, 1] (cross-entropy only) */
} clg_loss_options;
CLG_API clg_status clg_loss_options_init(clg_loss_options *opt, size_t size);
static inline clg_loss_options clg_loss_defaults(void)
{
    clg_loss_options o;
    clg_loss_options_init(&o, sizeof o);
    return o;
}
/*
 * PyTorch's nll_loss and cross_entropy on x [N, C] and labels int32 [N]
 * (opt NULL: the defaults). With w the class weights (1 without), O the
 * one-hot rows (zero for ignored rows) and e the label smoothing:
 *   nll            l_i = -w_{y_i} x_{i, y_i}
 *   cross_entropy  p = log_softmax(x, 1); l_i = (1 - e) (-w_{y_i} p_{i, y_i})
 *                  + (e / C) (-sum_j w_j p_{i, j}) for rows not ignored
 * reduced as opt->reduction says; the mean divides the sum of the l_i by
 * sum_i w_{y_i} over the rows not ignored (NaN when every row is
 * ignored, as PyTorch). Built from one-hot rows and the public ops, so
 * differentiable in x (and in the weights); clg_softmax_cross_entropy is
 * the fused kernel for the default case. Added in 0.2.2.
 */
CLG_API clg_tensor clg_nll_loss(clg_graph *g, clg_tensor x, clg_tensor labels, const clg_loss_options *opt);
CLG_API clg_tensor clg_cross_entropy(clg_graph *g, clg_tensor logits, clg_tensor labels, const clg_loss_options *opt);

/* norm */

/* Batch normalisation of x [N,C] (per feature over the batch) or [N,C,...]
 * ([N,C,H,W]: per channel over N, H, W), M values per channel:
 *   y = gamma (x - mean) / sqrt(var + eps) + beta,
 * gamma and beta of shape [C] (parameters the caller makes; usually 1 and
 * 0). Training mode (the default) uses the batch's mean and biased
 * variance and updates running averages as PyTorch does:
 *   running = (1 - momentum) running + momentum batch,
 * the variance's from the unbiased batch variance (var M / (M - 1)); they
 * start at mean 0, variance 1. Evaluation mode normalises with the
 * running averages. Training needs M > 1: running otherwise fails with
 * CLG_ERR_SHAPE. PyTorch's defaults are momentum 0.1, eps 1e-5. x may be
 * 16-bit (clg_cast; since 0.3.6): read as it is (backward keeps the 16-bit
 * x), statistics, y and gradients float32, gamma and beta float32. */
CLG_API clg_tensor clg_batch_norm(clg_graph *g, clg_tensor x, clg_tensor gamma, clg_tensor beta, float momentum,
                                  float eps);
/* Layer norm over the last dimension (PyTorch's F.layer_norm(x, [D],
 * gamma, beta, eps)): y = (x - mean) / sqrt(var + eps) * gamma + beta,
 * mean and biased variance over each row of D = x's last extent; gamma
 * and beta [D], either may be CLG_NO_TENSOR (no scale, no shift). Group
 * norm (F.group_norm(x, groups, gamma, beta, eps)): x [N, C, ...] (3 or 4
 * dimensions), the same normalisation over each of the `groups` groups of
 * C / groups channels and all their positions; gamma and beta [C]. Both
 * work the same in training and evaluation (no running statistics). Built
 * from mean_axis and the elementwise ops. Added in 0.2.2. */
CLG_API clg_tensor clg_layer_norm(clg_graph *g, clg_tensor x, clg_tensor gamma, clg_tensor beta, float eps);
CLG_API clg_tensor clg_group_norm(clg_graph *g, clg_tensor x, int64_t groups, clg_tensor gamma, clg_tensor beta,
                                  float eps);
/* Embedding lookup (F.embedding(ids, weight)): ids int32 [N] (clg_labels,
 * each in [0, V), checked on upload as labels are), weight [V, D] ->
 * [N, D], row i = weight[ids[i]]; the weight's gradient adds each row's
 * upstream gradient into row ids[i] (a scatter-add). Built as one-hot
 * rows times the weight (clg_one_hot, clg_matmul): exact, but N V D
 * multiply-adds, so for vocabularies of thousands a gather kernel would
 * be faster. Added in 0.2.2. */
CLG_API clg_tensor clg_embedding(clg_graph *g, clg_tensor ids, clg_tensor weight);

/* The running mean and variance of a batch_norm output (C values each;
 * either pointer may be NULL), for checkpoints and tests. */
CLG_API clg_status clg_batch_norm_running(clg_graph *g, clg_tensor bn, float *mean, float *var, size_t C);
/* The running statistics of a batch_norm output as tensors of the graph,
 * as PyTorch's BatchNorm holds them: running_mean and running_var [C]
 * (float32) and num_batches_tracked (int32, 0-dimensional: the training
 * forward runs so far). With prefix, they are named "<prefix>.running_mean",
 * "<prefix>.running_var" and "<prefix>.num_batches_tracked", PyTorch's
 * names, so that checkpoints save and load them (prefix "bn1" beside
 * "bn1.weight" and "bn1.bias"); NULL leaves them as they are. Calling it
 * again gives the same tensors. They are read and written with
 * clg_tensor_get/set (_i32) and by checkpoints, not given to ops; any
 * output pointer may be NULL. */
CLG_API clg_status clg_batch_norm_state(clg_graph *g, clg_tensor bn, const char *prefix, clg_tensor *running_mean,
                                        clg_tensor *running_var, clg_tensor *num_batches_tracked);
/* Batch norm output bn of g uses the running statistics of src_bn (a
 * batch_norm output of src, same channels, same context) from now on, not
 * copies: an evaluation graph at another batch size follows the training
 * graph's statistics as it trains (with clg_tensor_share for the
 * parameters). Either graph may be destroyed first. num_batches_tracked
 * stays each graph's own count. */
CLG_API clg_status clg_batch_norm_share_state(clg_graph *g, clg_tensor bn, clg_graph *src, clg_tensor src_bn);
CLG_API clg_status clg_batch_norm_set_running(clg_graph *g, clg_tensor bn, const float *mean, const float *var,
                                              size_t C);

/* random */

/* Randomness comes from Philox-4x32-10, a counter-based generator: the
 * same (seed, counter) gives the same 32-bit words on every device.
 * Element i takes word i % 4 of philox(ctr = {i / 4 as 64 bits, counter
 * as 64 bits}, key = seed). Uniform floats are (word >> 8) 2^-24, exact,
 * hence bit-identical everywhere too; normals use Box-Muller, whose log,
 * cos and sin differ by a few ulp between devices. */

/* Dropout. Training mode: y = x * mask / (1 - p), mask[i] = 1 with
 * probability 1 - p, drawn from (seed, counter = the graph's forward-run
 * count), so each run draws a new mask; the backward multiplies by the
 * same mask. Evaluation mode: y = x. p in [0, 1). Give each dropout its
 * own seed: two of the same shape and seed drop the same elements. */
CLG_API clg_tensor clg_dropout(clg_graph *g, clg_tensor x, float p, uint64_t seed);

/* Data augmentation on the device: torchvision's RandomCrop(H x W,
 * padding, zero fill) then, when flip is nonzero, RandomHorizontalFlip(0.5),
 * per image of x [N, C, H, W], drawn as dropout's masks are (training
 * mode, counter = the graph's run count, so each run draws anew). Image n
 * takes block n of the stream: words w0, w1, w2 give the crop's corner in
 * the padded image, oy = w0 mod (2 padding + 1), ox = w1 mod (2 padding +
 * 1), and a flip when w2 < 2^31 (u < 1/2). Then
 *   y[n,c,i,j] = x[n,c, i + oy - padding, j' + ox - padding], 0 outside x,
 *   j' = W - 1 - j when flipped, else j.
 * Integer arithmetic only: every device crops and flips every image the
 * same way. The gradient is the transpose (each x element reaches at most
 * one y element). Evaluation mode: y = x. padding in [0, 65535]. Added in
 * 0.2.2. */
CLG_API clg_tensor clg_random_crop_flip(clg_graph *g, clg_tensor x, int64_t padding, int flip, uint64_t seed);

/* Initialisers: fill t (float32, e.g. a parameter) now, on its device,
 * from stream (seed, counter 0). uniform: [lo, hi]; normal: mean, std.
 * The fans follow PyTorch for weights [out, in] and [out, in, kh, kw]
 * (fan_in = in kh kw, fan_out = out kh kw; at least 2 dimensions):
 *   xavier_uniform U(-a, a), a = sqrt(6 / (fan_in + fan_out));
 *   xavier_normal  N(0, 2 / (fan_in + fan_out));
 *   kaiming_uniform U(-a, a), a = sqrt(6 / fan_in) (He, for ReLU);
 *   kaiming_normal N(0, 2 / fan_in). */
CLG_API clg_status clg_init_uniform(clg_graph *g, clg_tensor t, float lo, float hi, uint64_t seed);
CLG_API clg_status clg_init_normal(clg_graph *g, clg_tensor t, float mean, float std, uint64_t seed);
CLG_API clg_status clg_init_xavier_uniform(clg_graph *g, clg_tensor t, uint64_t seed);
CLG_API clg_status clg_init_xavier_normal(clg_graph *g, clg_tensor t, uint64_t seed);
CLG_API clg_status clg_init_kaiming_uniform(clg_graph *g, clg_tensor t, uint64_t seed);
CLG_API clg_status clg_init_kaiming_normal(clg_graph *g, clg_tensor t, uint64_t seed);
/* Fills an int32 tensor (clg_labels) with the raw words of stream
 * (seed, counter), now. */
CLG_API clg_status clg_random_bits(clg_graph *g, clg_tensor t, uint64_t seed, uint64_t counter);


/* optim */

/*
 * Optimizers with the update equations of PyTorch's torch.optim
 * documentation, one fused kernel per parameter tensor. With g_t the
 * gradient (after clipping), lr_t the scheduled learning rate and t the
 * update count from 1:
 *   SGD      g += wd w; with momentum mu: b = g at t = 1, else
 *            b = mu b + (1 - dampening) g; g = nesterov ? g + mu b : b;
 *            w -= lr_t g
 *   Adam     g += wd w; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *            amsgrad: vmax = max(vmax, v), v' = vmax, else v' = v;
 *            w -= lr_t (m / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)
 *   AdamW    w -= lr_t wd w first (decoupled), then Adam without wd
 *   RMSProp  g += wd w; v = alpha v + (1 - alpha) g^2; v' = v, centered:
 *            ga = alpha ga + (1 - alpha) g, v' = v - ga^2; with momentum
 *            mu > 0: b = mu b + g / (sqrt(v') + eps), w -= lr_t b; else
 *            w -= lr_t g / (sqrt(v') + eps)
 *   Adagrad  lr' = lr_t / (1 + (t - 1) lr_decay); g += wd w; s += g^2;
 *            w -= lr' g / (sqrt(s) + eps)
 * State tensors start at 0 (Adagrad's sum at initial_accumulator_value).
 */
typedef enum clg_optimizer_kind {
    CLG_OPTIM_SGD,
    CLG_OPTIM_ADAM,
    CLG_OPTIM_ADAMW,
    CLG_OPTIM_RMSPROP,
    CLG_OPTIM_ADAGRAD
} clg_optimizer_kind;

/* Learning rate of the update after s earlier updates (s from 0), from
 * the config's lr; the first warmup_steps updates ramp linearly from
 * lr * warmup_start_factor (PyTorch's LinearLR), then the schedule runs
 * with s counted from the end of the warm-up (SequentialLR):
 *   constant     lr
 *   step         lr * gamma^floor(s / step_size)          (StepLR)
 *   exponential  lr * gamma^s                             (ExponentialLR)
 *   cosine       eta_min + (lr - eta_min) (1 + cos(pi s / t_max)) / 2
 *                (CosineAnnealingLR's closed form: past t_max it rises again)
 * warm-up: lr * (f + (1 - f) s / warmup_steps) for s < warmup_steps. */
typedef enum clg_lr_schedule {
    CLG_LR_CONSTANT,
    CLG_LR_STEP,
    CLG_LR_EXPONENTIAL,
    CLG_LR_COSINE
} clg_lr_schedule;

/* Start from clg_optimizer_defaults(kind): zero is not a usable value for
 * every field. Defaults are PyTorch's, listed per field. */
typedef struct clg_optimizer_config {
    /* sizeof(clg_optimizer_config) as the caller was built with (set by
     * clg_optimizer_defaults), so that fields added at the end later keep
     * their defaults for this caller; 0 means this version's layout. */
    size_t size;
    clg_optimizer_kind kind;
    float lr;           /* SGD, Adam, AdamW 1e-3; RMSProp, Adagrad 1e-2 */
    float weight_decay; /* 0 (AdamW 1e-2): L2 added to the gradient, decoupled in AdamW */
    float momentum;     /* SGD, RMSProp: 0 */
    float dampening;    /* SGD: 0 */
    int nesterov;       /* SGD: 0; needs momentum > 0 and dampening 0 */
    float beta1, beta2; /* Adam, AdamW: 0.9, 0.999 */
    float eps;          /* Adam, AdamW, RMSProp 1e-8; Adagrad 1e-10 */
    int amsgrad;        /* Adam, AdamW: 0 */
    float alpha;        /* RMSProp: 0.99 */
    int centered;       /* RMSProp: 0 */
    float lr_decay;     /* Adagrad: 0 */
    float initial_accumulator_value; /* Adagrad: 0 */

    clg_lr_schedule schedule; /* CLG_LR_CONSTANT */
    int64_t step_size;        /* step: 1 */
    float gamma;              /* step 0.1; exponential: set it */
    int64_t t_max;            /* cosine: 1; set it */
    float eta_min;            /* cosine: 0 */
    int64_t warmup_steps;     /* 0: no warm-up */
    float warmup_start_factor; /* 1/3, in (0, 1] */

    /* > 0: before the update, scale every gradient by
     * min(1, max_grad_norm / (norm + 1e-6)), norm the L2 norm of all the
     * gradients together (torch.nn.utils.clip_grad_norm_), on the device. */
    float max_grad_norm; /* 0 */
    /* Nonzero: gradient accumulation. Each backward run adds the gradients
     * into a per-parameter accumulator; the update uses the sums and zeroes
     * them. Run FORWARD | BACKWARD once per micro-batch, then UPDATE once
     * (for a mean over the whole batch, scale each micro-batch's loss by
     * 1 / micro-batches). */
    int accumulate; /* 0 */
    /* Nonzero: maximize the loss (PyTorch's maximize=True): every update
     * starts from the negated gradient, before weight decay and state, so
     * it equals minimizing -loss. Added in 0.2.1; a smaller struct (size)
     * leaves it 0. */
    int maximize; /* 0 */
    /* > 0: dynamic loss scaling on the device, as PyTorch's GradScaler
     * (for float16 training, where small gradients would round to zero):
     * backward starts from the scale instead of 1, so the gradients
     * clg_grad reads are scaled; the update first counts non-finite
     * gradient elements, then skips the step entirely (parameters and
     * state unchanged, the step not counted by Adam's bias corrections or
     * SGD's first momentum step) and multiplies the scale by
     * scale_backoff when there are any, else unscales (and clips the
     * unscaled norm) and steps, and multiplies the scale by scale_growth
     * after scale_interval good steps in a row (never to 2^126 or more, so
     * that its reciprocal is a normal float: PyTorch stops at infinity). The
     * host never waits for the decision. The learning-rate schedule counts
     * every step, skipped or not (as PyTorch's schedulers). State leaves
     * "grad_scaler.scale", "grad_scaler.growth_tracker" and
     * "grad_scaler.steps" (the updates taken) go into checkpoints. Not
     * with Adagrad's lr_decay, nor with accumulate (yet). Added in 0.3.3;
     * a smaller struct leaves it off. */
    float loss_scale;    /* 0 (off), below 2^126; PyTorch's init_scale is 65536 */
    float scale_growth;  /* 2, > 1 */
    float scale_backoff; /* 0.5, in (0, 1) */
    int scale_interval;  /* 2000, >= 1 */
} clg_optimizer_config;

/* Fills the first size bytes of *cfg with kind's defaults and sets
 * cfg->size. clg_optimizer_defaults calls it with the caller's sizeof. */
CLG_API clg_status clg_optimizer_config_init(clg_optimizer_config *cfg, size_t size, clg_optimizer_kind kind);
static inline clg_optimizer_config clg_optimizer_defaults(clg_optimizer_kind kind)
{
    clg_optimizer_config c;
    clg_optimizer_config_init(&c, sizeof c, kind);
    return c;
}

/*
 * Appends, after clg_backward and in phase CLG_RUN_UPDATE, one fused
 * update per parameter with a gradient (and the clipping reduction when
 * max_grad_norm > 0). Once per graph, instead of clg_sgd. The optimizer's
 * state tensors are leaves of the graph named "<param name>.<state>" for
 * named parameters (PyTorch's state names: momentum_buffer, exp_avg,
 * exp_avg_sq, max_exp_avg_sq, square_avg, grad_avg, sum; the accumulator
 * is grad_accum), so checkpoints save them: name parameters first.
 * Each run of CLG_RUN_UPDATE is one step: the step count lives on the host
 * and the learning rate and bias corrections go to the kernels as
 * arguments; nothing is read back from the device (with loss scaling, a
 * kernel recomputes the bias corrections from the device's count of steps
 * taken once a step was skipped: in float, within a few ulp of the host's).
 */
CLG_API clg_status clg_optimizer(clg_graph *g, const clg_optimizer_config *cfg);
/* Parameter groups, as torch.optim's: the parameters a group lists are
 * updated with its cfg, every other parameter with cfg (e.g. no weight
 * decay for biases and norm parameters, or another lr for a part of the
 * model). A group may change the lr (the schedule scales each group's
 * from its own, as PyTorch's schedulers scale each group's base lr),
 * weight_decay, maximize and the kind's own options (momentum, nesterov,
 * betas, eps, ...; the state tensors follow the group's options). It
 * must share cfg's kind, schedule and its fields, warm-up, max_grad_norm
 * (one norm over all gradients) and accumulate. A parameter in two
 * groups, or without a gradient, is refused. Once per graph, instead of
 * clg_optimizer (which is clg_optimizer_groups with no group). Added in
 * 0.2.2. */
typedef struct clg_optimizer_group {
    const clg_optimizer_config *cfg;
    int nparams;
    const clg_tensor *params;
} clg_optimizer_group;
CLG_API clg_status clg_optimizer_groups(clg_graph *g, const clg_optimizer_config *cfg, int ngroups,
                                        const clg_optimizer_group *groups);
/* Updates done so far; set it when restoring a checkpoint (with the
 * state tensors) so that schedules and bias corrections continue. */
CLG_API clg_status clg_optimizer_get_step(const clg_graph *g, int64_t *step);
CLG_API clg_status clg_optimizer_set_step(clg_graph *g, int64_t step);
/* The learning rate the next update will use (before Adagrad's lr_decay). */
CLG_API clg_status clg_optimizer_get_lr(const clg_graph *g, float *lr);
/* Zeroes the gradient accumulators (accumulate mode), e.g. to drop a
 * partial accumulation; updates zero them already. Without accumulation
 * each backward run overwrites the gradients and this does nothing. */
CLG_API clg_status clg_zero_grads(clg_graph *g);

/* data */

/*
 * Host arrays and data files (IDX, NumPy .npy, safetensors) and a
 * mini-batch loader. These calls need no context: each returns a status
 * and writes what went wrong into the caller's buffer err (errlen bytes,
 * NUL-terminated when errlen > 0; err may be NULL). A reader never
 * allocates more than its input holds, and a failed call changes nothing.
 */
/* clg_elem (element types) is defined near the top: clg_cast takes one. */
CLG_API size_t clg_elem_size(clg_elem e);      /* bytes; 0 for a value not in the enum */
CLG_API const char *clg_elem_name(clg_elem e); /* "u8", "f32", ...; "?" if unknown */

#define CLG_ARRAY_MAX_DIMS 8
/* A dense array in host memory: C order, native byte order. Readers return
 * one that owns its data (clg_array_destroy); to write buffers of your own,
 * fill one on the stack. */
typedef struct clg_array {
    clg_elem type;
    int ndim; /* 0 (a scalar) to CLG_ARRAY_MAX_DIMS */
    int64_t shape[CLG_ARRAY_MAX_DIMS];
    int64_t numel; /* product of shape[0..ndim) */
    void *data;
} clg_array;
/* A zero-filled array. */
CLG_API clg_status clg_array_create(clg_elem type, int ndim, const int64_t *shape, clg_array **out, char *err,
                                    size_t errlen);
CLG_API void clg_array_destroy(clg_array *a);
/* A copy as another element type (to u8, i32, i64, f32 or f64). Integers and
 * f16/bf16 convert to floats as C casts do; a value the target cannot hold
 * exactly as an integer (out of range, or a float with a fraction) is an
 * error naming its index. */
CLG_API clg_status clg_array_convert(const clg_array *a, clg_elem to, clg_array **out, char *err, size_t errlen);

/* IDX files (the MNIST family), plain or gzip-compressed, told apart by their
 * first bytes. Element types u8, i8, i16, i32, f32, f64; 1 to
 * CLG_ARRAY_MAX_DIMS dimensions; the data must fill the file exactly. */
CLG_API clg_status clg_idx_read(const char *path, clg_array **out, char *err, size_t errlen);
CLG_API clg_status clg_idx_read_mem(const void *buf, size_t len, clg_array **out, char *err, size_t errlen);

/* NumPy .npy files, format 1.0 and 2.0, C order, any byte order on read;
 * every type but bf16. Write: little-endian, format 1.0 (2.0 when the header
 * needs it), atomically as clg_safetensors_write. */
CLG_API clg_status clg_npy_read(const char *path, clg_array **out, char *err, size_t errlen);
CLG_API clg_status clg_npy_read_mem(const void *buf, size_t len, clg_array **out, char *err, size_t errlen);
CLG_API clg_status clg_npy_write(const char *path, const clg_array *a, char *err, size_t errlen);

/* A string map, for checkpoint and safetensors metadata: unique non-empty
 * UTF-8 keys, kept sorted; setting a key again replaces its value. The
 * typed setters store decimal text (f64 with 17 digits: exact round trip);
 * the typed getters return CLG_ERR_NOT_FOUND for a missing key and
 * CLG_ERR_INVALID_ARGUMENT for text that is not such a number. */
typedef struct clg_meta clg_meta;
CLG_API clg_status clg_meta_create(clg_meta **out);
CLG_API void clg_meta_destroy(clg_meta *m);
CLG_API clg_status clg_meta_set(clg_meta *m, const char *key, const char *value);
CLG_API clg_status clg_meta_set_i64(clg_meta *m, const char *key, int64_t value);
CLG_API clg_status clg_meta_set_u64(clg_meta *m, const char *key, uint64_t value);
CLG_API clg_status clg_meta_set_f64(clg_meta *m, const char *key, double value);
CLG_API const char *clg_meta_get(const clg_meta *m, const char *key); /* NULL if absent */
CLG_API clg_status clg_meta_get_i64(const clg_meta *m, const char *key, int64_t *value);
CLG_API clg_status clg_meta_get_u64(const clg_meta *m, const char *key, uint64_t *value);
CLG_API clg_status clg_meta_get_f64(const clg_meta *m, const char *key, double *value);
CLG_API int clg_meta_count(const clg_meta *m);
CLG_API const char *clg_meta_key(const clg_meta *m, int i); /* in key order; NULL out of range */
CLG_API const char *clg_meta_value(const clg_meta *m, int i);

/* safetensors files (what PyTorch's safetensors library reads and writes).
 * Read checks everything: header length, a strict JSON parse, dtypes (BOOL,
 * U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64), shapes, and
 * data offsets that cover the data exactly without overlap. Tensors are
 * listed in name order. */
typedef struct clg_safetensors clg_safetensors;
CLG_API clg_status clg_safetensors_read(const char *path, clg_safetensors **out, char *err, size_t errlen);
CLG_API clg_status clg_safetensors_read_mem(const void *buf, size_t len, clg_safetensors **out, char *err,
                                            size_t errlen);
CLG_API void clg_safetensors_destroy(clg_safetensors *st);
CLG_API int clg_safetensors_count(const clg_safetensors *st);
CLG_API const char *clg_safetensors_name(const clg_safetensors *st, int i);
CLG_API const clg_array *clg_safetensors_get(const clg_safetensors *st, int i);
CLG_API const clg_array *clg_safetensors_find(const clg_safetensors *st, const char *name); /* NULL if absent */
CLG_API const clg_meta *clg_safetensors_meta(const clg_safetensors *st); /* "__metadata__" */
/* Writes n tensors (unique names) and meta (may be NULL, keys sorted).
 * Tensors go in the order Python's safetensors uses, by dtype (U64 I64 F64
 * F32 U32 I32 BF16 F16 U16 I16 I8 U8 BOOL), then by name, so that each is
 * aligned to its element size (the format allows no gaps); the header is
 * padded with spaces to a multiple of 8 bytes. Atomic: the file is
 * written beside path, synced, then renamed over it; on any failure the
 * previous file at path is intact and no temporary file is left. */
CLG_API clg_status clg_safetensors_write(const char *path, int n, const char *const *names,
                                         const clg_array *const *arrays, const clg_meta *meta, char *err,
                                         size_t errlen);

/* Mini-batches from an in-memory data set: images f32 [N, ...] and labels
 * i32 [N] (or none), both borrowed: they must outlive the loader.
 *
 * Order: with shuffle, epoch e visits the samples in the order of a
 * Fisher-Yates shuffle (i from N-1 down to 1 swaps i with j = r mod (i+1),
 * r drawn again while r >= 2^64 - 2^64 mod (i+1)) driven by splitmix64
 * started at state mix64(seed ^ mix64(e)) (mix64: splitmix64's finaliser):
 * the same on every machine, and a function of (seed, e) alone, so a run
 * resumes exactly from clg_loader_seek. Without shuffle: 0..N-1.
 *
 * Normalisation, per element of a sample (per pixel): x' = (x - mean) / std,
 * with mean and std (population) computed over the given images (in
 * double), or given. An element whose std is 0 is only centred. */
typedef struct clg_loader clg_loader;
enum { CLG_NORMALIZE_NONE = 0, CLG_NORMALIZE_COMPUTE = 1, CLG_NORMALIZE_GIVEN = 2 };
typedef struct clg_loader_options {
    size_t size; /* 0 (this version's layout) or sizeof(clg_loader_options) */
    int64_t batch_size;
    uint64_t seed;
    int shuffle;             /* nonzero: a new order every epoch */
    int drop_last;           /* nonzero: drop the last batch when it is partial */
    int normalize;           /* CLG_NORMALIZE_* */
    const float *mean, *std; /* CLG_NORMALIZE_GIVEN: one per sample element */
} clg_loader_options;
CLG_API clg_status clg_loader_create(const clg_array *images, const clg_array *labels, const clg_loader_options *opt,
                                     clg_loader **out, char *err, size_t errlen);
CLG_API void clg_loader_destroy(clg_loader *l);
CLG_API int64_t clg_loader_sample_numel(const clg_loader *l); /* floats per sample */
CLG_API int64_t clg_loader_batches(const clg_loader *l);      /* per epoch */
/* Copies the next batch: *count samples (batch_size, fewer for a kept
 * partial last batch) into x (batch_size * sample_numel floats) and their
 * labels into y (may be NULL). After an epoch's last batch one call gives
 * *count = 0; the call after it starts the next epoch. */
CLG_API clg_status clg_loader_next(clg_loader *l, float *x, int32_t *y, int64_t *count);
/* As clg_loader_next, straight into a graph's tensors: x (batch_size *
 * sample_numel floats) and labels (batch_size int32, or CLG_NO_TENSOR),
 * through a host buffer the loader keeps. Full batches only: a partial
 * last batch (without drop_last) is CLG_ERR_SHAPE before anything moves.
 * *count = 0 at the end of an epoch, as clg_loader_next. Errors go to g's
 * context; a refused call (a label out of range) leaves the loader where
 * it was. */
CLG_API clg_status clg_loader_feed(clg_loader *l, clg_graph *g, clg_tensor x, clg_tensor labels, int64_t *count);
/* Where the next call starts, to save with a checkpoint, and back there. */
CLG_API clg_status clg_loader_position(const clg_loader *l, int64_t *epoch, int64_t *batch);
CLG_API clg_status clg_loader_seek(clg_loader *l, int64_t epoch, int64_t batch);
/* The normalisation in use (sample_numel floats each; mean 0, std 1 when
 * none): a test set is normalised with the training set's. */
CLG_API clg_status clg_loader_stats(const clg_loader *l, float *mean, float *std);

/* checkpoint */

/* Saves every named tensor of g (clg_tensor_set_name) as safetensors:
 * float32 tensors as F32, int32 ones as I32, 16-bit ones (clg_cast) as F16
 * or BF16 (since 0.3.3), with nmeta metadata strings
 * (unique keys). Written atomically as clg_safetensors_write. Files are
 * those of PyTorch's safetensors (safetensors.torch.load_file reads them). */
CLG_API clg_status clg_checkpoint_save(clg_graph *g, const char *path, const char *const *meta_keys,
                                       const char *const *meta_values, int nmeta);
CLG_API clg_status clg_checkpoint_save_meta(clg_graph *g, const char *path, const clg_meta *meta);
/* As clg_checkpoint_save_meta, plus n host arrays of any dtype saved beside
 * the graph's tensors: values derived from the model for other tools (a
 * deployment's int8 weights, scales and zero points). Their names go in
 * the metadata key "clgrad.derived" (comma-separated), and
 * clg_checkpoint_load and _load_model skip exactly those tensors: the graph
 * that loads the file need not hold them. Each name is non-empty, unique,
 * no graph tensor's, without a comma; meta (may be NULL) must not hold
 * "clgrad.derived". Added in 0.3.2. */
CLG_API clg_status clg_checkpoint_save_derived(clg_graph *g, const char *path, const clg_meta *meta, int n,
                                               const char *const *names, const clg_array *const *arrays);
/* Loads a checkpoint into g's named tensors. The file must hold exactly the
 * graph's named tensors, each with the same shape and dtype; it is read
 * and checked whole before any tensor is written, so a bad file changes
 * nothing. When meta is not NULL, *meta receives the file's metadata (free
 * with clg_meta_destroy); optimizers store their step count and generator
 * state there (clg_meta_set_u64 / clg_meta_get_u64). */
CLG_API clg_status clg_checkpoint_load(clg_graph *g, const char *path, clg_meta **meta);
/* As clg_checkpoint_load, for a graph holding the model alone (evaluation
 * or inference: no optimizer): the file's tensors that are an optimizer's
 * state of one of the graph's named parameters ("fc.weight.exp_avg", ...)
 * or loss scaling's ("grad_scaler.scale", ...; since 0.3.3) are skipped,
 * and *skipped (if not NULL) says how many; everything else
 * is as strict (every named tensor of the graph, shapes, dtypes, nothing
 * unknown); the derived tensors of clg_checkpoint_save_derived are skipped by
 * both loaders. */
CLG_API clg_status clg_checkpoint_load_model(clg_graph *g, const char *path, clg_meta **meta, int *skipped);

/* ---- Autodiff and updates ------------------------------------------------ */

/* Reverse-mode autodiff: appends to g the ops giving d loss / d t for
 * every parameter t that loss depends on. loss must have one element.
 * May be called once per graph. */
CLG_API clg_status clg_backward(clg_graph *g, clg_tensor loss);
/* The gradient tensor of a parameter, or of an input marked by
 * clg_tensor_requires_grad, after clg_backward (id < 0 if the loss does
 * not depend on it; the status says why). */
CLG_API clg_tensor clg_grad(clg_graph *g, clg_tensor param);
/* Asks for d loss / d input of a float input (clg_input), as PyTorch's
 * requires_grad_(): for input attributions, adversarial examples and
 * gradient penalties. Call it before any op reads the input and before
 * clg_backward (CLG_ERR_STATE otherwise, naming the op that reads it);
 * labels cannot have one (CLG_ERR_INVALID_ARGUMENT). The optimizer
 * updates parameters only. A parameter already has one: CLG_OK. */
CLG_API clg_status clg_tensor_requires_grad(clg_graph *g, clg_tensor input);

/* Plain gradient descent: appends, for every parameter with a gradient,
 * the update w -= lr * grad (one kernel per parameter). lr must be finite
 * and >= 0 (CLG_ERR_INVALID_ARGUMENT otherwise, as clg_optimizer). */
CLG_API clg_status clg_sgd(clg_graph *g, float lr);

/* What clg_graph_run executes: recorded ops fall in three phases. */
enum {
    CLG_RUN_FORWARD = 1,
    CLG_RUN_BACKWARD = 2,
    CLG_RUN_UPDATE = 4,
    CLG_RUN_ALL = 7
};
/* Runs the chosen phases in order, with no allocation. It enqueues the
 * work and returns without waiting for the device, so the host can prepare
 * the next batch meanwhile. Everything on a context runs in the order it
 * was asked for: clg_tensor_set waits for the runs before it to finish
 * with its tensor's old contents (an upload never races a step in
 * flight), clg_tensor_get returns the values after every earlier run, and
 * a run asked for while another is in flight simply follows it.
 * Destroying a graph (or its context) while a run is in flight is safe.
 * An error the device meets while running is returned by the next call
 * that waits for it (clg_graph_wait, a read). */
CLG_API clg_status clg_graph_run(clg_graph *g, int phases);
/* Waits until every run enqueued on g's context has finished. */
CLG_API clg_status clg_graph_wait(clg_graph *g);

/*
 * Memory. Leaves (inputs, parameters, constants) and optimizer state have
 * buffers of their own from the start. The outputs of ops get theirs when
 * the graph is prepared (by the first run, or clg_graph_prepare, after the
 * graph last changed): an output that nothing in the graph reads, that is
 * named, that is the loss given to clg_backward, a gradient returned by
 * clg_grad, or that is marked with clg_tensor_keep has a buffer of its own
 * and can be read after a run; the others share a pool by liveness, and
 * reading or writing one is CLG_ERR_STATE (never stale data).
 * CLGRAD_PLAN=off in the environment when a graph is made gives every
 * tensor its own buffer (for debugging).
 */
CLG_API clg_status clg_tensor_keep(clg_graph *g, clg_tensor t);
CLG_API clg_status clg_graph_prepare(clg_graph *g);
typedef struct clg_memory {
    uint64_t parameters;      /* bytes on the device */
    uint64_t optimizer_state; /* moments, accumulators, clipping scalars */
    uint64_t inputs;          /* inputs, labels, constants */
    uint64_t activations;     /* op outputs: kept ones and the shared pool */
    uint64_t workspaces;      /* ops' saved state and scratch (im2col, masks, statistics); where
                                 outputs and workspaces share one arena, what they add to it */
    uint64_t total;
    uint64_t unplanned_total; /* what every tensor and workspace with a buffer of its own would take */
} clg_memory;
CLG_API clg_status clg_graph_memory_sized(clg_graph *g, clg_memory *out, size_t size);
static inline clg_status clg_graph_memory(clg_graph *g, clg_memory *out)
{
    return clg_graph_memory_sized(g, out, sizeof *out);
}
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
/* The count of forward runs so far, the counter random ops draw from
 * (dropout's masks, clg_random_crop_flip's crops). Save it with a
 * checkpoint and set it when restoring one, with the optimizer's step,
 * so that a resumed run draws what the uninterrupted run would have.
 * Added in 0.2.2. */
CLG_API clg_status clg_graph_get_rng_counter(const clg_graph *g, uint64_t *counter);
CLG_API clg_status clg_graph_set_rng_counter(clg_graph *g, uint64_t counter);

/* ---- Data parallelism ---------------------------------------------------- */

/*
 * Replicas: n graphs of one model (built by the same code, so the same
 * parameters in the same order and shapes), each on its own context (any
 * devices, any platforms) or several on one, each with clg_backward and
 * usually an optimizer. Give each replica an equal slice of the batch
 * (its inputs, set as usual) and a mean loss; clg_replicas_step then runs
 * forward and backward on all of them and averages each parameter's
 * gradient over the replicas, as PyTorch's DistributedDataParallel does:
 * the gradients are grouped into buckets of about
 * clg_replicas_set_bucket_size bytes (1 MiB by default) in the order
 * backward produces them, and each bucket is read from the devices
 * (through pinned host memory where the backend has it) and summed while
 * the devices run the rest of backward. The sums are in double in replica
 * order, rounded once: the same bits whatever the timing; with equal
 * slices, the gradient of the whole batch. The average is written into
 * every replica, which then runs its update. Create copies replica 0's
 * parameters into the others, so they start and stay identical: bit for
 * bit on one kind of device; across kinds (whose update kernels may round
 * differently) by copying replica 0's parameters into the others after
 * each update. Batch norm keeps its statistics per replica (PyTorch's
 * DistributedDataParallel without SyncBatchNorm). Gradient accumulation
 * (clg_optimizer_config.accumulate) is refused for now.
 * Messages go to replica 0's context (a failing replica named with its
 * device). Not thread-safe: one thread steps a replicas handle, and uses
 * its graphs only between steps. The graphs must outlive it; destroying
 * it leaves them as they are. Added in 0.3; buckets, the reducer and
 * clg_replicas_buckets in 0.3.1.
 */
typedef struct clg_replicas clg_replicas;
CLG_API clg_status clg_replicas_create(clg_graph *const *graphs, int n, clg_replicas **out);
CLG_API clg_status clg_replicas_step(clg_replicas *r);
CLG_API int clg_replicas_count(const clg_replicas *r);
CLG_API void clg_replicas_destroy(clg_replicas *r);
CLG_API clg_status clg_replicas_set_bucket_size(clg_replicas *r, size_t bytes);
/* Slices of unequal size (a fast device and a slow one): replica i takes
 * rows[i] rows of the process's batch, and its gradient (of a mean loss)
 * weighs rows[i] / the sum of rows; NULL: equal slices (the default).
 * Every process of a reducer must have the same total. Added in 0.3.1. */
CLG_API clg_status clg_replicas_set_rows(clg_replicas *r, const int64_t *rows);
/* How many buckets a step has (0 on an error: the message is replica 0's). */
CLG_API int clg_replicas_buckets(clg_replicas *r);

/*
 * A reducer sums the replicas' buckets across processes (machines), each
 * process running the same replicas code on its own slice of the batch:
 * clgrad_mpi.h makes one from an MPI communicator, and a program may
 * write its own. Each step, for bucket b = 0, 1, ... in turn (the same
 * buckets in the same order on every process), start is handed the
 * bucket's sum over this process's replicas, count doubles, and begins
 * summing them in place across the processes without waiting; wait(b)
 * returns when data holds the total, which must be the same bits on every
 * process (so that parameters stay identical). The gradients are then
 * averaged over processes x replicas. Both return 0, or nonzero with a
 * message in err (a peer that died or did not answer in time), which
 * clg_replicas_step reports as CLG_ERR_PEER; after a failure, wait is
 * still called for every bucket started. release(user) runs when the
 * reducer is replaced or the replicas destroyed (NULL: nothing to free).
 * clg_replicas_set_reducer(r, NULL) goes back to this process alone.
 * Added in 0.3.1.
 */
typedef struct clg_reducer {
    int processes;
    void *user;
    int (*start)(void *user, int bucket, double *data, size_t count, char *err, size_t errlen);
    int (*wait)(void *user, int bucket, char *err, size_t errlen);
    void (*release)(void *user);
} clg_reducer;
CLG_API clg_status clg_replicas_set_reducer(clg_replicas *r, const clg_reducer *reducer);

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
/* Leaf t of g (an input, parameter, constant or labels) uses the storage
 * of leaf s of src from now on, without a copy: same context, shape and
 * dtype. Its own old buffer and contents go; writes through either graph
 * (clg_tensor_set, src's optimizer) are seen by both, and either graph may
 * be destroyed first. For an evaluation graph (another batch size, no
 * backward) that follows a training graph's parameters. Waits for runs in
 * flight. */
CLG_API clg_status clg_tensor_share(clg_graph *g, clg_tensor t, clg_graph *src, clg_tensor s);
CLG_API const char *clg_tensor_name(const clg_graph *g, clg_tensor t); /* NULL if unnamed */
CLG_API clg_status clg_tensor_set_i32(clg_graph *g, clg_tensor t, const int32_t *data, size_t count);
CLG_API clg_status clg_tensor_get_i32(clg_graph *g, clg_tensor t, int32_t *data, size_t count);

#ifdef __cplusplus
}
#endif
#endif /* CLGRAD_H */
