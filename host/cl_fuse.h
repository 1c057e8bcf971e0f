/* Fused kernels (host/cl_fuse.c). */
#ifndef CLG_CL_FUSE_H
#define CLG_CL_FUSE_H

#include "cl_backend.h"

/* A group is at most this many nodes, and its kernel takes at most
 * b->fuse_max_ptrs buffers (within the device's
 * CL_DEVICE_MAX_PARAMETER_SIZE, and CLG_FUSED_MAX_ARGS). */
#define CLG_FUSED_MAX_NODES 32
#define CLG_FUSED_MAX_ARGS 128
/* A batched update takes five buffers per parameter: at most 16 of them
 * (81 buffers and 9 scalars, 684 bytes of arguments; fewer where the device
 * asks: b->fuse_max_updates). */
#define CLG_FUSED_MAX_UPDATES 16

typedef enum clg_cl_group_kind {
    CLG_FG_NONE,
    CLG_FG_EW,         /* elementwise, on the vectors of cl/common.cl */
    CLG_FG_EW_REDUCE,  /* ... then a reduce_to of one over leading axes, on vectors of outputs */
    CLG_FG_EW_SCALAR,  /* elementwise with a gathering member (pooling's or cross-entropy's gradient) */
    CLG_FG_REDUCE,     /* elementwise members, then a reduce_to of one of them */
    CLG_FG_BN_SUMS,    /* elementwise members, then batch norm's dgamma and dbeta sums [and its input gradient] */
    CLG_FG_BN_FORWARD, /* batch norm, then elementwise members on its output */
    CLG_FG_CE,         /* elementwise members, then softmax cross-entropy of one (a small batch) */
    CLG_FG_UPDATE      /* parameter updates of one optimizer, batched */
} clg_cl_group_kind;

typedef struct clg_cl_fused_group {
    int32_t first, last; /* its nodes: first to last, consecutive */
    clg_cl_group_kind kind;
    cl_kernel kern;
    cl_mem args[CLG_FUSED_MAX_ARGS];
    int nargs; /* buffers bound once; an update group's step arguments follow them */
    int64_t n; /* work items: elements, outputs of a reduce_to, channels (times the
                * local size), or elements of every updated parameter */
    size_t global, local;
} clg_cl_fused_group;

/* A group's kernel made again for its nodes' current fields, by source. */
typedef struct clg_cl_variant {
    char *src;
    cl_program program;
} clg_cl_variant;

typedef struct clg_cl_fused {
    cl_program program; /* every group's kernel as the plan was built */
    clg_cl_fused_group *group;
    int count;
    clg_cl_variant *variant;
    int nvariants;
} clg_cl_fused;

/* The groups of nodes[0, count): end[i] is the last node of i's group (i
 * when alone). The same for the core's memory plan (vtable fusion, before
 * buffers exist) and for clg_cl_fuse_build. */
/* Whether node n runs only in a generated kernel: an elementwise op on
 * 16-bit tensors (the op kernels read and write float32). */
bool clg_cl_generated_only(const clg_node *nodes, const clg_node *n);
void clg_cl_fusion_groups(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t *end, bool *stored);
void clg_cl_fusion(const clg_backend *be, const clg_node *nodes, int32_t count, int32_t *end, bool *stored);
/* Generates, builds and binds the groups' kernels (on the graph's buffers). */
clg_status clg_cl_fuse_build(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *out);
/* Group k's kernel generated again from its nodes' current fields (the
 * training flag, a buffer), built once per source; on an error the group
 * is as it was. */
clg_status clg_cl_fuse_regenerate(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *f, int k);
void clg_cl_fuse_free(clg_cl_fused *f);
/* The step arguments of update node n, as its kernel takes them. */
void clg_cl_fused_update_args(const clg_node *n, float a[8], cl_int *flags);

#endif
