/* Core-private structures: the context and the graph. */
#ifndef CLG_INTERNAL_H
#define CLG_INTERNAL_H

#include "backend.h"

#define CLG_MSG_SIZE 16384

struct clg_context {
    clg_status status;
    char msg[CLG_MSG_SIZE];
    char *settings[CLG_SET_COUNT]; /* clg_context_create_with's values (copies), NULL where not given */
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
    uint32_t tag;      /* in every tensor handle this graph gives out */
    clg_status status; /* the error of the recording call under way (see clg_txn) */
    clg_status first;  /* the first refused call: clg_graph_status */
    int txn_depth;
    /* memory planning (core/plan.c) */
    bool plan_on;    /* op outputs get their buffers at prepare */
    int plan_packing; /* 0: the smallest plan; 1, 2: the arena in run order, by size (tests) */
    bool prepared;   /* the plan matches the nodes */
    bool replan;     /* a pooled tensor was kept: plan again at the next forward run */
    void *be_plan;   /* the backend's compiled plan (plan_build), or NULL */
    clg_buffer **pool;
    size_t *pool_cap;
    int npool;
    uint64_t pool_act, pool_work; /* pool bytes holding op outputs / only workspaces */
    bool has_backward;
    bool has_update;
    uint8_t phase; /* phase given to ops recorded now */
    bool training; /* given to ops recorded now; see clg_graph_set_training */
    uint64_t runs; /* forward runs so far: the RNG counter of dropout */
    bool checked;  /* the backend supports every node (clg_graph_check_support); reset by each new node */
    struct clg_optim *optim; /* clg_optimizer's step count and config (core/optim.h), or NULL */
    int32_t loss_seed;       /* clg_backward's dloss/dloss constant: its id + 1 (0: none) */
};

/* A context on a backend the caller makes (the tests' double reference). */
clg_status clg_context_create_backend(clg_context **out, clg_status (*create)(clg_context *, clg_backend **));
/* A context with settings (checked first) on a backend made by
 * create(ctx, arg, &be) (the registry's device, or host/interop.c: the
 * application's OpenCL objects); *out set as clg_context_create does. */
clg_status clg_context_create_from(clg_context **out, const char *const *settings,
                                   clg_status (*create)(clg_context *, void *, clg_backend **),
                                   void *arg);

/* Batch norm's running state as tensors (core/norm.c): node id's values
 * (state_of set) read into dst / written from src, counts and dtypes as
 * the node's; a write is checked first (variances finite and >= 0, the
 * count >= 0) and changes nothing when refused. */
clg_status clg_state_read(clg_graph *g, int32_t id, void *dst, const char *func);
clg_status clg_state_write(clg_graph *g, int32_t id, const void *src, const char *func);
clg_status clg_state_check(clg_graph *g, int32_t id, const void *src, const char *func);

/* Leaf id of g takes buffer buf (a reference the caller hands over) in
 * place of its own, which is freed; the nodes working in place on it
 * follow, and the compiled plan goes. The caller has waited for runs in
 * flight (clg_tensor_share, clg_tensor_bind_opencl). */
void clg_leaf_replace_buffer(clg_graph *g, int32_t id, clg_buffer *buf);

/* Makes sure node id has a buffer of its own (preparing the graph if it
 * changed); CLG_ERR_STATE, naming the tensor, when it shares the pool. */
clg_status clg_node_storage(clg_graph *g, int32_t id, const char *func);
/* Checks that g is a live graph; sets an error on its context if not. */
clg_status clg_graph_check(const clg_graph *g, const char *func);
/* The element count of shape into *numel; false, with the error recorded
 * ("what: shape [..] has more elements than ..."), when the product
 * passes the backend's largest buffer (or wraps). */
bool clg_numel_fits(clg_graph *g, const char *what, int ndim, const int64_t *shape, int64_t *numel);
/* Appends a node; allocates its buffer when alloc is true. Returns its id
 * or -1 (error recorded in g). */
int32_t clg_graph_add_node(clg_graph *g, const clg_node *proto, bool alloc);
/* Records err as the graph's first error and returns an invalid tensor. */
clg_tensor clg_graph_fail(clg_graph *g, clg_status s);
/* The handle of node id of g (id < 0: a failed tensor). */
clg_tensor clg_tref(const clg_graph *g, int32_t id);
/* A tensor marked as the result of a refused call. */
#define CLG_FAILED ((clg_tensor){-1, CLG_TENSOR_FAILED})
/* True when t is one of g's tensors (its tag and an id in range). */
bool clg_tensor_in(const clg_graph *g, clg_tensor t);
/* Sets "func: tensor ... <why it is not one of g's>" and returns
 * CLG_ERR_INVALID_ARGUMENT; CLG_OK when t is one of g's tensors. */
clg_status clg_tensor_check(clg_graph *g, clg_tensor t, const char *func);

/* A public call that records several nodes (or a node and its state) is
 * one transaction: when it fails, every node it recorded is removed, so a
 * refused call changes nothing and the graph runs as before. Nested calls
 * join the outermost one. */
typedef struct clg_txn {
    int32_t n;
    bool outer;
} clg_txn;
clg_txn clg_txn_begin(clg_graph *g);
/* Ends the call whose result is s; returns s. */
clg_status clg_txn_end(clg_graph *g, clg_txn t, clg_status s);
/* For calls that return a tensor: ends the call, returns y or CLG_FAILED. */
clg_tensor clg_txn_end_tensor(clg_graph *g, clg_txn t, clg_tensor y);
/* Validates a tensor handle for an op (float32, or the given dtype);
 * records the error on g. */
bool clg_tensor_ok(clg_graph *g, clg_tensor t, const char *op);
bool clg_tensor_ok_dtype(clg_graph *g, clg_tensor t, const char *op, clg_dtype dtype);
/* float32, float16 or bfloat16 (ops that take 16-bit operands) */
bool clg_tensor_ok_float(clg_graph *g, clg_tensor t, const char *op);
/* The float dtype of to (CLG_ELEM_F32, _F16, _BF16); otherwise an error
 * naming func, the graph failed, and false. */
bool clg_float_dtype(clg_graph *g, clg_elem to, const char *func, clg_dtype *out);
/* As op takes it: 16-bit too for the elementwise ops (core/ops.h), else float32. */
bool clg_tensor_ok_for(clg_graph *g, clg_tensor t, clg_op op);
/* Ops that take 16-bit operands (core/quant.c): clg_widen records x
 * widened to float32 (x itself when it is float32), marked so that a
 * backward rule reading the operand calls clg_saved_operand, which widens
 * the 16-bit tensor again there instead of keeping the float32 copy alive
 * from forward to backward (any other node: itself). */
clg_tensor clg_widen(clg_graph *g, clg_tensor x);
clg_tensor clg_saved_operand(clg_graph *g, int32_t id);
/* Allocates aux buffer `slot` of node id (count 4-byte elements). */
clg_status clg_node_alloc_aux(clg_graph *g, int32_t id, int slot, int64_t count);
/* Gives node id the workspaces its backend asks for (vtable workspaces),
 * as aux buffers; for the op families whose kernels are the backend's
 * choice. An error is recorded in g. */
clg_status clg_node_workspaces(clg_graph *g, int32_t id);
/* Records an op node from proto: sets its phase and requires_grad from
 * its nsrc sources (ids < 0 are skipped), allocates its output. */
clg_tensor clg_record(clg_graph *g, clg_node *proto, int nsrc);
/* Shape error "op: shapes A and B <why>"; returns an invalid tensor. */
clg_tensor clg_shape_error(clg_graph *g, const char *op, const clg_node *a, const clg_node *b, const char *why);

/* Autodiff helpers for the families' backward rules (core/autodiff.c). */
/* Adds contribution c to the gradient of node id (sums repeated uses). */
void clg_grad_accumulate(clg_graph *g, int32_t *grads, int32_t id, clg_tensor c);
/* Sums a gradient at a broadcast output's shape back to node src's shape. */
clg_tensor clg_grad_unbroadcast(clg_graph *g, clg_tensor c, int32_t src);
/* Records "op X has no backward" for node i (second derivatives of the
 * gradient ops, updates) and returns CLG_ERR_UNSUPPORTED. */
clg_status clg_backward_unsupported(clg_graph *g, int32_t i);
/* Normalises a possibly negative axis of x into *out; false, with the
 * error recorded ("op: <what> 5 is out of range for shape [..]"), when it
 * is out of range. */
bool clg_axis_ok(clg_graph *g, const char *op, const clg_node *x, int axis, const char *what, int *out);
/* A family's backward rule: appends the gradient ops of node i, whose
 * upstream gradient is grads[i], and accumulates into grads[src]. */
typedef clg_status (*clg_backward_fn)(clg_graph *g, int32_t *grads, int32_t i);
#define CLG_FAM_DECL_BACKWARD(e, lower) clg_status clg_backward_##lower(clg_graph *g, int32_t *grads, int32_t i);
CLG_FAMILY_LIST(CLG_FAM_DECL_BACKWARD)
#undef CLG_FAM_DECL_BACKWARD

void clg_graph_free_nodes(clg_graph *g);

/* The plan (core/plan.c): buffers for every deferred node, own or pooled.
 * Run by clg_graph_run, data access and clg_graph_memory when the graph
 * changed; clg_plan_release frees the pool. */
clg_status clg_plan_prepare(clg_graph *g);

/* clg_graph_run in three parts, so that data parallelism (core/replicas.c)
 * can enqueue backward a segment at a time and read each bucket of
 * gradients while the rest runs: begin checks, prepares and stamps the
 * nodes of phases; run_nodes enqueues [from, to) of them and flushes (from
 * and to at fused group boundaries: clg_graph_group_ends); end counts the
 * run. */
clg_status clg_graph_run_begin(clg_graph *g, int phases);
clg_status clg_graph_run_nodes(clg_graph *g, int phases, int32_t from, int32_t to);
void clg_graph_run_end(clg_graph *g, int phases);
/* end[i]: the last node of the fused group node i runs in (i alone), as
 * the backend groups g's nodes (g->n entries); stored (NULL: not asked):
 * the members the group's kernel stores for itself (vtable fusion). */
void clg_graph_group_ends(const clg_graph *g, int32_t *end, bool *stored);
void clg_plan_release(clg_graph *g);

/* Asks the backend whether it supports each of g's nodes (supports_op);
 * CLG_ERR_UNSUPPORTED naming the first it refuses (the node, its op and
 * shapes, the backend and device), else sets g->checked. clg_graph_run
 * calls it when the graph changed since the last check (core/registry.c). */
clg_status clg_graph_check_support(clg_graph *g);

/* Before each run of the update phase: the next step's learning rate and
 * bias corrections into the optimizer's nodes (core/optim.c). */
void clg_optim_begin_update(clg_graph *g);
/* Whether suffix is one that names an optimizer's state of a parameter
 * ("<param>.<suffix>": exp_avg, momentum_buffer, grad_accum, ...). */
bool clg_optim_is_state_name(const char *suffix);
/* After a run of the update phase failed: undoes begin_update's step. */
void clg_optim_cancel_update(clg_graph *g);
void clg_optim_free(struct clg_optim *o);

/* Labels written to tensor t (count values) must lie in [0, C) for every
 * softmax_cross_entropy using that tensor (core/softmax.c). */
clg_status clg_softmax_check_labels(clg_graph *g, clg_tensor t, const int32_t *data, size_t count);

/* Ops used by autodiff to build gradient graphs (same checks as public). */
clg_tensor clg_op_unary(clg_graph *g, clg_op op, clg_tensor x, float c);
clg_tensor clg_op_binary(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b);
/* maximum's gradient weights (1, 1/2 or 0 as a >, ==, < b); no gradient */
clg_tensor clg_tie_weight(clg_graph *g, clg_tensor a, clg_tensor b);
clg_tensor clg_op_shaped(clg_graph *g, clg_op op, clg_tensor x, int ndim, const int64_t *shape);
clg_tensor clg_op_grad2(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b);
clg_tensor clg_op_grad3(clg_graph *g, clg_op op, clg_tensor a, clg_tensor b, clg_tensor c);
/* An in-place update of parameter w from its gradient (phase UPDATE). */
clg_tensor clg_op_update(clg_graph *g, clg_op op, clg_tensor w, clg_tensor grad, float lr);

#endif
