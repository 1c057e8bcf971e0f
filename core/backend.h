/*
 * The backend interface: the small vtable the core calls through, and the
 * registry entry by which a backend makes itself known (its name, its
 * devices and their facts, how to open one). A new device kind is a new
 * folder that fills both, plus one line in core/backends.def; nothing here
 * knows about OpenCL.
 */
#ifndef CLG_BACKEND_H
#define CLG_BACKEND_H

#include "clgrad.h"
#include "ops.h"

#include <stdbool.h>

/* A context's settings (core/settings.def): what a backend reads when it
 * opens a device, instead of the environment. */
typedef enum clg_setting_id {
#define CLG_SETTING(id, name, what) CLG_SET_##id,
#include "settings.def"
#undef CLG_SETTING
    CLG_SET_COUNT
} clg_setting_id;

/* A setting's value for ctx: the context's own, else its environment
 * variable's, else NULL. ctx may be NULL (the environment alone). */
const char *clg_setting(const clg_context *ctx, clg_setting_id id);
/* Where that value came from, for messages: "setting conv" or "CLGRAD_CONV". */
const char *clg_setting_source(const clg_context *ctx, clg_setting_id id, char *buf, size_t size);

typedef struct clg_buffer clg_buffer; /* defined by each backend */
typedef struct clg_backend clg_backend;

#define CLG_MAX_SRC 4
#define CLG_MAX_AUX 2

/* One recorded op (or leaf). Sizes are fixed when it is recorded. */
/* F16 and BF16 nodes hold their values' bits two to a 4-byte element
 * (element i at byte 2 i): their buffers hold clg_node_words() elements,
 * and only the cast op (core/quant.c) reads or writes them. */
typedef enum clg_dtype { CLG_F32 = 0, CLG_I32 = 1, CLG_F16 = 2, CLG_BF16 = 3 } clg_dtype;

enum { CLG_ROLE_ACT = 0, CLG_ROLE_PARAM, CLG_ROLE_STATE, CLG_ROLE_INPUT };

typedef struct clg_node {
    clg_op op;
    clg_dtype dtype;
    uint8_t phase;         /* CLG_RUN_FORWARD, _BACKWARD or _UPDATE */
    bool requires_grad;    /* a parameter, or depends on one */
    bool owns_buf;         /* false: buf belongs to another node (in-place ops) */
    int ndim;
    int64_t shape[CLG_MAX_DIMS];
    int64_t numel;
    int32_t src[CLG_MAX_SRC]; /* input node ids, -1 when unused */
    int32_t grad;             /* parameters: id of the gradient node, or -1 */
    float f[4];               /* op constants (scale factor, lr, momentum, eps) */
    int64_t i[8];             /* op integers (axes, strides, paddings, flags) */
    clg_buffer *buf;
    /* Per-node state kept between forward and backward or across steps
     * (saved statistics, argmax indices, running averages), allocated by
     * the core when the op is recorded: aux_count[k] 4-byte elements. */
    clg_buffer *aux[CLG_MAX_AUX];
    int64_t aux_count[CLG_MAX_AUX];
    /* Memory planning (core/plan.c). A node recorded as an op gets its
     * buffer when the graph is prepared: its own when it is kept (the user
     * reads it), else a share of the graph's pool by liveness. */
    bool deferred;      /* buffer given at prepare */
    bool pooled;        /* buf is a pool slot (not owned) */
    bool keep;          /* clg_tensor_keep, the loss, a gradient asked for */
    uint8_t aux_pooled; /* bit k: aux[k] is a pool slot */
    uint8_t aux_persist; /* bit k: aux[k] lives across runs (running statistics) */
    uint8_t aux_scratch; /* bit k: aux[k] is used only while the node runs (any slot free then) */
    uint8_t role;       /* CLG_ROLE_*: what clg_graph_memory counts it as */
    uint64_t counter; /* set by the core before each run: RNG offsets */
    /* batch norm's running state as tensors (core/norm.c): a leaf with no
     * buffer, read and written through the batch_norm node state_of - 1
     * (part 0 running mean, 1 running variance, 2 num_batches_tracked);
     * on a batch_norm node, its training forward runs so far */
    int32_t state_of;
    uint8_t state_part;
    int64_t batches;
    bool training;    /* set by clg_graph_set_training: batch norm, dropout */
    char name[64];    /* optional; names what checkpoints save */
} clg_node;

static inline bool clg_dtype_16(clg_dtype d) { return d == CLG_F16 || d == CLG_BF16; }
/* The 4-byte elements a node's buffer holds. */
static inline int64_t clg_node_words(const clg_node *n)
{
    return clg_dtype_16(n->dtype) ? (n->numel + 1) / 2 : n->numel;
}
/* "float32", "int32 labels", "float16", "bfloat16" */
const char *clg_dtype_name(clg_dtype d);

typedef struct clg_backend_vtable {
    const char *kind; /* "reference", "opencl" */
    void (*destroy)(clg_backend *be);
    /* Buffers hold count 4-byte elements (f32, i32, or two 16-bit
     * values); offsets and counts are in elements. buffer_read/write with
     * CLG_I32 copy the elements' bytes unchanged (16-bit nodes' too). */
    clg_status (*buffer_alloc)(clg_backend *be, size_t count, clg_buffer **out);
    void (*buffer_free)(clg_backend *be, clg_buffer *buf);
    /* A buffer that is elements [offset, offset + count) of parent, freed
     * by buffer_free before parent is; offset a multiple of view_align.
     * NULL: the backend has no views, and the memory plan gives whole
     * buffers (slots) instead of offsets in one arena. */
    clg_status (*buffer_view)(clg_backend *be, clg_buffer *parent, size_t offset, size_t count, clg_buffer **out);
    /* One more reference to buf: buffer_free drops one, the last frees it
     * (graphs sharing a buffer: clg_tensor_share). NULL: no sharing. */
    void (*buffer_retain)(clg_backend *be, clg_buffer *buf);
    clg_status (*buffer_write)(clg_backend *be, clg_buffer *buf, size_t offset, const void *src, size_t count,
                               clg_dtype dtype);
    clg_status (*buffer_read)(clg_backend *be, clg_buffer *buf, size_t offset, void *dst, size_t count,
                              clg_dtype dtype);
    clg_status (*buffer_fill)(clg_backend *be, clg_buffer *buf, float value, size_t count);
    /* Enqueue (or do) one op. nodes is the graph's node array, so that
     * node->src[i] indexes it. Must not allocate. */
    clg_status (*run_node)(clg_backend *be, const clg_node *nodes, const clg_node *node);
    clg_status (*synchronize)(clg_backend *be);
    /* Starts what was enqueued without waiting (NULL: nothing to do). */
    clg_status (*flush)(clg_backend *be);
    /* Timed runs: start, then stop after synchronize gives the device time
     * of what ran in between, in seconds. */
    clg_status (*timer)(clg_backend *be, bool start, double *seconds);
    /* Whether this backend can run node n (its op, attributes, dtypes and
     * shapes; nodes as for run_node). Required. Asked of every node before
     * a graph first runs after it changed (clg_graph_check_support) and
     * before an initialiser runs, so that an op a backend lacks is refused
     * then, naming the op, its shapes and the device, never mid-training. */
    bool (*supports_op)(const clg_backend *be, const clg_node *nodes, const clg_node *n);
    /* The workspaces node n needs to run here, sized from its shapes: counts[k]
     * 4-byte elements in aux slot k (0: none), scratch bit k when slot k is
     * used only while n runs (else it lives as long as n's output: saved for
     * a backward op). Asked when an op whose family lets backends choose
     * (convolution) is recorded; the core allocates them, planned with the
     * rest. False when a count overflows. NULL: no workspaces. */
    bool (*workspaces)(const clg_backend *be, const clg_node *nodes, const clg_node *n, int64_t counts[CLG_MAX_AUX],
                       uint8_t *scratch);
    /* Whole-graph plans (NULL: the core calls run_node node by node).
     * plan_build gets the graph once its buffers are assigned and compiles
     * what it can (kernels chosen, arguments bound); plan_run enqueues the
     * nodes of [from, count) whose phase is in phases, in order (from is 0 or
     * one past the last node of a fused group), and on an error
     * sets *failed to the node's index; plan_free releases a plan (runs in
     * flight may still use what it holds: the backend keeps that alive).
     * The core builds a plan again whenever the graph's nodes or buffers
     * change; fields of a node may change between runs (optimizer
     * constants, the training flag, RNG counters), and the plan must run
     * each node as run_node would with its fields now. */
    clg_status (*plan_build)(clg_backend *be, const clg_node *nodes, int32_t count, void **plan);
    clg_status (*plan_run)(clg_backend *be, void *plan, const clg_node *nodes, int32_t from, int32_t count,
                           int phases, int32_t *failed);
    void (*plan_free)(clg_backend *be, void *plan);
    /* Fusion (NULL: none): end[i] = the last node of the group that node i
     * runs in (i when it runs alone), for the nodes of [0, count); groups
     * are runs of consecutive nodes, decided from ops, shapes, types and
     * phases alone (never from a node's fields, buffers or mode, which may
     * change after the plan is built). stored (NULL: not asked) gets true
     * for a member the group's kernel writes to memory and reads back
     * itself. Asked before the memory plan, which keeps what a group reads
     * alive until the group's last node, and gives no buffer to a member
     * read only inside its group and not stored: the group's kernel must
     * write exactly its members that have a buffer. plan_build must form
     * the same groups. */
    void (*fusion)(const clg_backend *be, const clg_node *nodes, int32_t count, int32_t *end, bool *stored);
    /* Reads without waiting (NULL: the core reads with buffer_read): the
     * read is enqueued after what was enqueued before it, *event set to a
     * handle that read_wait waits for and releases (each exactly once).
     * Lets data parallelism read a bucket of gradients while the rest of
     * backward runs. */
    clg_status (*buffer_read_start)(clg_backend *be, clg_buffer *buf, size_t offset, float *dst, size_t count,
                                    void **event);
    clg_status (*read_wait)(clg_backend *be, void *event);
    /* Host memory the device transfers to and from fastest (pinned, mapped;
     * NULL: the core uses malloc): count floats at *ptr, released with
     * host_free(handle). */
    clg_status (*host_alloc)(clg_backend *be, size_t count, float **ptr, void **handle);
    void (*host_free)(clg_backend *be, void *handle);
} clg_backend_vtable;

struct clg_backend {
    const clg_backend_vtable *vt;
    clg_context *ctx;      /* where errors are reported */
    double timer_t0;       /* host-clock timers */
    uint64_t max_buffer_bytes; /* the largest buffer the device takes (0: INT64_MAX) */
    int64_t view_align;        /* buffer_view's offsets: a multiple of this many elements (0: any) */
    uint64_t launches;         /* commands enqueued (clg_context_launches): the backend counts them */
    char device[320];      /* human-readable device description */
    char gemm[192];        /* how matrix products run (clg_context_gemm) */
};

/* Reporting: sets the context's status and message, returns status. */
clg_status clg_error(clg_context *ctx, clg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Like clg_error, but keeps the current message after the new text:
 * "<new text>: <previous message>". */
clg_status clg_error_wrap(clg_context *ctx, clg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* "add [3,4] [1] -> [3,4]": the op and its shapes, for error messages. */
void clg_node_describe(const clg_node *nodes, const clg_node *node, char *buf, size_t size);
void clg_shape_string(int ndim, const int64_t *shape, char *buf, size_t size);

/* Broadcasting helpers shared by backends: the output shape padded to
 * CLG_MAX_DIMS on the left, and an input's strides against it (0 where the
 * input has extent 1). */
void clg_padded_shape(const clg_node *n, int64_t out[CLG_MAX_DIMS]);
/* Ops that read, besides their sources, the sources of the forward node
 * they are given (batch norm's x, cross-entropy's logits and labels; the
 * convolution's w for its input gradient, its x for its weight gradient
 * unless given a copy, core/ops.h): which source is that forward node, or
 * -1. The memory plan's liveness follows it (core/plan.c). */
int clg_op_forward_source(clg_op op);
void clg_broadcast_strides(const clg_node *in, const clg_node *out, int64_t strides[CLG_MAX_DIMS]);
/* The same walk in fewer axes: drops extent-1 axes and merges two
 * neighbours where each of the nst operands steps through them as one
 * (its stride along the outer is the inner's times the inner's extent: a
 * contiguous run, or 0 along both). dims and each st[k] are rewritten,
 * right-aligned, padded on the left with extent 1 and stride 0; index
 * arithmetic over them then splits the index at fewer axes (an integer
 * division each). Returns how many axes are left. */
int clg_collapse_axes(int64_t dims[CLG_MAX_DIMS], int nst, int64_t *const *st);

/* A backend as the registry knows it. Each backend defines one, named
 * clg_<name>_backend, and core/backends.def lists them: the order in which
 * specs are tried and devices are numbered (clg_device_get_facts). */
typedef struct clg_backend_reg {
    const char *name; /* "reference", "opencl": clg_device_facts.backend */
    /* The specs it takes, for the message about an unknown spec. */
    const char *spec_help;
    /* Its devices now (0 when its runtime has none), and the facts of
     * device i < device_count() into *out (zeroed; the registry sets
     * backend): spec, type ("gpu", "cpu", "accelerator", "other"; "host"
     * for a backend that runs on the host itself) and as many of the rest
     * as it knows. Facts with a platform are
     * listed as "platform / name (type)", others by name alone. */
    int (*device_count)(void);
    clg_status (*device_facts)(int i, clg_device_facts *out);
    /* Opens the device spec names (never ""; the registry resolves the
     * default to a device's own spec). CLG_ERR_NOT_FOUND when the spec
     * names none of its devices: the next backend is tried, and any
     * message set is replaced. Any other error is final. */
    clg_status (*create)(clg_context *ctx, const char *spec, clg_backend **out);
} clg_backend_reg;

/* The registry (core/registry.c): opens the device spec names through the
 * backends in order. */
clg_status clg_backend_open(clg_context *ctx, const char *spec, clg_backend **out);
/* CLG_OK when be can run node n; otherwise CLG_ERR_UNSUPPORTED, with
 * "<where> (<op> <shapes>) is not supported by the <kind> backend on
 * <device>" as the context's message. */
clg_status clg_backend_check_op(clg_backend *be, const clg_node *nodes, const clg_node *n, const char *where);

/* The reference backend's instance, also for contexts the tests make
 * (clg_context_create_backend). */
clg_status clg_reference_backend_create(clg_context *ctx, clg_backend **out);

#endif
