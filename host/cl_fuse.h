/* Fused elementwise kernels (host/cl_fuse.c). */
#ifndef CLG_CL_FUSE_H
#define CLG_CL_FUSE_H

#include "cl_backend.h"

/* A group is at most this many nodes: its kernel takes at most 2 inputs
 * per node and an output per node (fewer where the device's
 * CL_DEVICE_MAX_PARAMETER_SIZE asks: b->fuse_max_nodes). */
#define CLG_FUSED_MAX_NODES 32
#define CLG_FUSED_MAX_ARGS (3 * CLG_FUSED_MAX_NODES)
/* A batched update takes five buffers per parameter: at most 16 of them
 * (81 buffers and 9 scalars, 684 bytes of arguments; fewer where the device
 * asks: b->fuse_max_updates). */
#define CLG_FUSED_MAX_UPDATES 16

typedef struct clg_cl_fused_group {
    int32_t first, last; /* its nodes: first to last, consecutive */
    cl_kernel kern;
    cl_mem args[CLG_FUSED_MAX_ARGS];
    int nargs, ninputs; /* buffers bound once; an update group's step arguments follow them */
    int64_t n;          /* work items: elements of the output, or of every updated parameter */
    bool update;        /* a batched parameter update */
    size_t global, local;
} clg_cl_fused_group;

typedef struct clg_cl_fused {
    cl_program program; /* every group's kernel */
    clg_cl_fused_group *group;
    int count;
} clg_cl_fused;

/* The groups of nodes[0, count): end[i] is the last node of i's group (i
 * when alone). The same for the core's memory plan (vtable fusion, before
 * buffers exist) and for clg_cl_fuse_build. */
void clg_cl_fusion_groups(const clg_cl_backend *b, const clg_node *nodes, int32_t count, int32_t *end);
void clg_cl_fusion(const clg_backend *be, const clg_node *nodes, int32_t count, int32_t *end);
/* Generates, builds and binds the groups' kernels (on the graph's buffers). */
clg_status clg_cl_fuse_build(clg_cl_backend *b, const clg_node *nodes, int32_t count, clg_cl_fused *out);
void clg_cl_fuse_free(clg_cl_fused *f);
/* The step arguments of update node n, as its kernel takes them. */
void clg_cl_fused_update_args(const clg_node *n, float a[8], cl_int *flags);

#endif
