/* The OpenCL backend's state and launch helpers, shared by host/cl_*.c. */
#ifndef CLG_CL_BACKEND_H
#define CLG_CL_BACKEND_H

#include "cl_common.h"
#include "kernels.h"

#include <stdbool.h>

struct clg_conv_geom; /* core/conv_geom.h */
struct clg_cl_backend;
/* be as the OpenCL backend, or NULL when it is another backend. */
struct clg_cl_backend *clg_cl_backend_of(clg_backend *be);

/* Reductions to one element use at most this many work-groups. */
#define CLG_MAX_PARTIALS 1024

/* A buffer and its host pointer, for GEMMs by the host's BLAS. */
typedef struct clg_cl_native_ptr {
    cl_mem mem;
    void *ptr;
} clg_cl_native_ptr;

typedef struct clg_cl_backend {
    clg_backend base;
    clg_cl_device dev;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[K_COUNT];
    size_t kwg[K_COUNT]; /* each kernel's local size: a power of two within its own limits */
    size_t max_global; /* cap on work-items for grid-stride kernels */
    cl_mem partials;   /* scratch of the two-pass reductions */
    /* clg_graph_run_timed: the first and last command of a timed run */
    bool timing;
    bool profiling; /* the queue profiles its commands (clg_graph_run_timed) */
    bool device_retained; /* the application's device, retained (a sub-device needs it) */
    cl_event pending, first_ev, last_ev;
    bool used_clblast; /* counted in gemm.c's users of CLBlast's cache */
    /* GEMMs through the host's BLAS as native kernels (host/gemm_native.c)
     * rather than CLBlast: CPU devices that run native kernels, unless
     * CLGRAD_GEMM=clblast */
    bool gemm_native;
    bool natives;     /* a CPU device whose native kernels work (host/native.c) */
    bool conv_native; /* oneDNN may run convolutions, as native kernels (host/conv_native.c) */
    int conv_forced;  /* the CLG_CONV_* path CLGRAD_CONV names, or -1 */
    struct clg_dnnl *dnnl; /* oneDNN's engine, stream and primitives, or NULL */
    /* clgrad-tune (bench/tune.c): told of every product and convolution the graph runs */
    void (*gemm_seen)(void *user, bool ta, bool tb, size_t m, size_t n, size_t k, size_t batch);
    void (*conv_seen)(void *user, const struct clg_conv_geom *g);
    void *seen_user;
    struct clg_tune *tune; /* the device's tuning entry (host/tune.h), or NULL */
    bool tune_paths;       /* its products' paths apply (no CLGRAD_GEMM, both paths possible) */
    bool tune_convs;       /* its convolutions' paths apply (no CLGRAD_CONV, oneDNN possible) */
    struct clg_cl_native_ptr *native_ptrs; /* buffers' host pointers (host/gemm_native.c) */
    cl_command_queue probe_queue;          /* where those are learnt (host/native.c) */
    size_t native_cap, native_count;
    /* Recording a plan (host/cl_plan.c): the node whose launches are being
     * recorded instead of enqueued, and whether it did something a plan
     * cannot hold (a CLBlast call, a copy). NULL when enqueuing. */
    struct clg_cl_node_plan *rec;
    bool rec_opaque;
    bool fuse; /* fused kernels (host/cl_fuse.c); CLGRAD_FUSION=off clears it */
    int optim_source; /* optim.cl among clg_cl_sources (batched updates use it), or -1 */
    int fuse_max_ptrs, fuse_max_updates; /* groups' buffers within CL_DEVICE_MAX_PARAMETER_SIZE */
    int vw;              /* floats per work-item of the elementwise kernels (CLG_VW in cl/common.cl) */
    char options[64];    /* the build options of clgrad's program and of the fused ones */
} clg_cl_backend;

#define CLB(be) ((clg_cl_backend *)(be))
#define MEM(buf) ((cl_mem)(buf))

/* Reports an OpenCL failure by name: "<what> failed on <device>: CL_... (-5)". */
clg_status clg_cl_fail(clg_cl_backend *b, cl_int err, const char *what);
clg_status clg_cl_unsupported(clg_cl_backend *b, const clg_node *n);
const char *clg_cl_kernel_name(int k);

/* Runs node n now, through the family functions (vtable run_node). */
clg_status clg_cl_run_node(clg_backend *be, const clg_node *nodes, const clg_node *n);

/* Kernel arguments as (size, pointer) pairs; LOCAL_ARG reserves local memory. */
typedef struct { size_t size; const void *ptr; } clg_karg;
/* A tensor's element type as kernels take it (CAST_F32, CAST_F16, CAST_BF16
 * in cl/common.cl): clgrad's dtype codes themselves */
static inline cl_int clg_cl_type_code(const clg_node *t) { return (cl_int)t->dtype; }

#define ARG(x) {sizeof(x), &(x)}
#define LOCAL_ARG(bytes) {(bytes), NULL}

/* Plans (host/cl_plan.c): the vtable's plan_build, plan_run, plan_free;
 * the launch helpers record into b->rec while a plan is built. */
clg_status clg_cl_plan_build(clg_backend *be, const clg_node *nodes, int32_t count, void **plan);
clg_status clg_cl_plan_run(clg_backend *be, void *plan, const clg_node *nodes, int32_t from, int32_t count, int phases,
                           int32_t *failed);
void clg_cl_plan_free(clg_backend *be, void *plan);
clg_status clg_cl_record_launch(clg_cl_backend *b, int k, const clg_karg *args, int nargs, size_t global,
                                size_t local);
/* For a command that is not a launch of clgrad's kernels: true while a plan
 * is recorded (the command must then be skipped: the node will run node
 * by node), false when the command should be enqueued now. */
bool clg_cl_opaque(clg_cl_backend *b);
/* Sets the arguments of kernel k and enqueues it over `items` work-items
 * (rounded up to the local size, capped at max_global: every kernel
 * grid-strides, over items or over work-groups, so no launch is ever
 * larger than that, whatever the tensor). local 0 means the kernel's own,
 * b->kwg[k]. */
clg_status clg_cl_launch(clg_cl_backend *b, int k, const clg_karg *args, int nargs, size_t items, size_t local);

/* Where an enqueue call should put its event: NULL unless a timed run is
 * under way. After the enqueue, clg_cl_event_done keeps it. */
cl_event *clg_cl_event_slot(clg_cl_backend *b);
void clg_cl_event_done(clg_cl_backend *b);

/* Shared with the fused kernels (host/cl_fuse.c), which compute what these
 * ops' kernels do: reduce_to's output dims, strides and reduced dims
 * (padded to 4-D; returns the reduced count), batch norm's view of x as
 * [N, C, inner] with M = N * inner values per channel, and a convolution's
 * or pooling's sizes as cl/common.cl's conv_geom takes them. */
int64_t clg_cl_reduce_to_geometry(const clg_node *X, const clg_node *Y, int64_t od[CLG_MAX_DIMS],
                                   int64_t st[CLG_MAX_DIMS], int64_t rd[CLG_MAX_DIMS]);
void clg_cl_bn_dims(const clg_node *x, int64_t *C, int64_t *inner, int64_t *M);
cl_int16 clg_cl_geom16(const struct clg_conv_geom *g);

/* Up to this many logits, softmax cross-entropy's forward runs as one
 * work-group (one launch, where the general path takes three): a training
 * batch's loss. Its local size: a power of two up to the rows, within
 * limit (the kernel's) and max_global. */
#define CLG_CE_SMALL_LOGITS (1 << 16)
size_t clg_cl_ce_small_local(const clg_cl_backend *b, int64_t rows, size_t limit);

/* y[0] = scale * sum of n elements of x (of (x - x2)^2 when x2 is set). */
clg_status clg_cl_reduce_all(clg_cl_backend *b, cl_mem x, cl_mem x2, cl_long n, float scale, cl_mem y);
/* The two passes of a reduction to one element (reduce.cl's scheme): pass
 * 1 runs kernel k over n elements into b->partials, one per work-group, and
 * gives their count; the final pass runs kernel k in one work-group. In
 * both, the caller's args leave their last slot (and pass 1 the one before
 * it, for b->partials) to be filled here: the local scratch, sized by k's
 * own local size. */
clg_status clg_cl_partials(clg_cl_backend *b, int k, clg_karg *args, int nargs, cl_long n, cl_int *groups);
clg_status clg_cl_final(clg_cl_backend *b, int k, clg_karg *args, int nargs);

/* Convolution's workspaces (vtable workspaces, host/cl_conv.c). */
bool clg_cl_conv_workspaces(const struct clg_cl_backend *b, const clg_node *nodes, const clg_node *n,
                            int64_t counts[CLG_MAX_AUX], uint8_t *scratch);
/* the observers' partial minima and maxima (host/cl_quant.c) */
bool clg_cl_quant_workspaces(const struct clg_cl_backend *b, const clg_node *nodes, const clg_node *n,
                             int64_t counts[CLG_MAX_AUX], uint8_t *scratch);

/* Work-items of an elementwise kernel over n floats, CLG_VW per item. */
static inline size_t clg_cl_vector_items(const clg_cl_backend *b, int64_t n)
{
    return (size_t)((n + b->vw - 1) / b->vw);
}

cl_long8 clg_cl_long8(const int64_t v[CLG_MAX_DIMS]);
bool clg_same_shape(const clg_node *a, const clg_node *b);

/* One function per family runs that family's ops (host/cl_<family>.c). */
#define CLG_CL_DECL(e, lower) clg_status clg_cl_##lower(clg_cl_backend *b, const clg_node *nodes, const clg_node *n);
CLG_FAMILY_LIST(CLG_CL_DECL)
#undef CLG_CL_DECL

#endif
