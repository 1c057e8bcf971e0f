/* Core-private structures: the context and the graph. */
#ifndef CLG_INTERNAL_H
#define CLG_INTERNAL_H

#include "backend.h"

#define CLG_MSG_SIZE 16384

struct clg_context {
    clg_status status;
    char msg[CLG_MSG_SIZE];
    clg_backend *be;
    clg_graph *graphs; /* live and destroyed graphs, freed with the context */
};

#define CLG_GRAPH_LIVE 0x4752414cu /* "GRAL" */
#define CLG_GRAPH_DEAD 0x44454144u /* "DEAD" */

struct clg_graph {
    uint32_t magic;
    clg_context *ctx;
    clg_graph *next;
    clg_node *nodes;
    int32_t n, cap;
    clg_status status; /* first error while recording */
    bool has_backward;
    bool has_update;
    uint8_t phase; /* phase given to ops recorded now */
};

/* Checks that g is a live graph; sets an error on its context if not. */
clg_status clg_graph_check(const clg_graph *g, const char *func);
/* Appends a node; allocates its buffer when alloc is true. Returns its id
 * or -1 (error recorded in g). */
int32_t clg_graph_add_node(clg_graph *g, const clg_node *proto, bool alloc);
/* Records err as the graph's first error and returns an invalid tensor. */
clg_tensor clg_graph_fail(clg_graph *g, clg_status s);
/* Validates a tensor handle for an op; records the error on g. */
bool clg_tensor_ok(clg_graph *g, clg_tensor t, const char *op);

void clg_graph_free_nodes(clg_graph *g);

/* Ops used by autodiff to build gradient graphs (same checks as public). */
clg_tensor clg_op_unary(clg_graph *g, clg_op op, clg_tensor x, float c);
clg_tensor clg_op_binary(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b);
clg_tensor clg_op_shaped(clg_graph *g, clg_op op, clg_tensor x, int ndim, const int64_t *shape);
clg_tensor clg_op_grad2(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b);
clg_tensor clg_op_grad3(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, clg_tensor c);
/* An in-place update of parameter w from its gradient (phase UPDATE). */
clg_tensor clg_op_update(clg_graph *g, clg_op op, clg_tensor w, clg_tensor grad, float lr);

#endif
