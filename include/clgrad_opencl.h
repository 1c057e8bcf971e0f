/*
 * clgrad with the application's own OpenCL objects.
 *
 * Everything in clgrad's API that names an OpenCL type is here, so that
 * clgrad.h stays free of OpenCL headers. Include this after defining
 * CL_TARGET_OPENCL_VERSION as your program does (120 if you do not).
 *
 * Rules, for every call below:
 *  - Retention. clgrad retains the context, device and queue it is given,
 *    and a buffer it is given, for as long as it uses them, and releases
 *    only those references: the application keeps its own and releases
 *    them when it likes (before or after clg_context_destroy).
 *  - Order. clgrad enqueues all its work (kernels, CLBlast's, native
 *    kernels, reads and writes) on the context's one in-order queue. Work
 *    the application enqueues on that same queue runs in order with it:
 *    nothing else is needed. Work on another queue synchronises through
 *    events (clg_graph_run_opencl).
 *  - Waiting. clg_graph_wait, blocking reads (clg_tensor_get) and
 *    clg_context_destroy wait for the queue: for the application's work
 *    enqueued on it before them too.
 *  - Refusals. A call on a context that does not run on OpenCL (the
 *    reference backend) returns CLG_ERR_UNSUPPORTED; a refused call
 *    changes nothing, and the context's message says why.
 * Thread-safety is clgrad.h's: a context and its graphs, one thread at a
 * time; the OpenCL objects themselves follow OpenCL's rules.
 */
#ifndef CLGRAD_OPENCL_H
#define CLGRAD_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#include "clgrad.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A context on the application's device, in its cl_context, running on
 * its queue. queue may be NULL: clgrad then makes its own in-order queue
 * in that context (with profiling, which clg_graph_run_timed needs). A
 * queue given must be in order (not CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
 * and belong to that context and device; the device must be one of the
 * context's. Without CL_QUEUE_PROFILING_ENABLE on the queue,
 * clg_graph_run_timed is CLG_ERR_UNSUPPORTED. settings as
 * clg_context_create_with (NULL for none). As clg_context_create, *out is
 * set even on failure (unless memory ran out): read its message, then
 * destroy it. */
CLG_API clg_status clg_context_create_opencl(cl_context context, cl_device_id device, cl_command_queue queue,
                                             const char *const *settings, clg_context **out);

/* The context's OpenCL objects (its own, or the application's), not
 * retained for the caller: valid until clg_context_destroy. Any pointer
 * may be NULL. */
CLG_API clg_status clg_context_get_opencl(const clg_context *ctx, cl_context *context, cl_device_id *device,
                                          cl_command_queue *queue);

/* The buffer holding tensor t: its numel floats (int32 for labels) start
 * *offset bytes into *mem, packed in row-major order. Not retained for
 * the caller (retain it to keep it past the rules below).
 *
 * Valid: a leaf's (input, parameter, constant, labels) for the graph's
 * life, unless clg_tensor_bind_opencl gives it another; an op's output
 * once the graph is prepared (clg_graph_prepare or a run; this call
 * prepares it) if the output has a buffer of its own (clgrad.h, "Memory":
 * kept, named, the loss, a gradient), until the graph next changes (an op
 * recorded, clg_backward, an optimizer, clg_tensor_keep): ask again then.
 * An intermediate whose memory others reuse is CLG_ERR_STATE, as for
 * clg_tensor_get.
 *
 * Reading and writing it directly: on the context's queue, in order with
 * clgrad's work; on another queue, after the event of the run that last
 * wrote it, and before the next run (pass your event to it). */
CLG_API clg_status clg_tensor_get_opencl(clg_graph *g, clg_tensor t, cl_mem *mem, size_t *offset);

/* Makes the application's buffer the storage of leaf t (an input,
 * parameter, constant or labels), without a copy: t reads and writes
 * [offset, offset + 4 numel) of mem from now on, and its old buffer and
 * contents are dropped. mem must belong to the context's cl_context, hold
 * that range, and offset be a multiple of the device's base address
 * alignment (CL_DEVICE_MEM_BASE_ADDR_ALIGN) unless it is 0. clgrad
 * retains mem until the tensor's graph is destroyed or t is bound again.
 * Waits for runs in flight first. */
CLG_API clg_status clg_tensor_bind_opencl(clg_graph *g, clg_tensor t, cl_mem mem, size_t offset);

/* As clg_graph_run, with events: the run's work starts after the
 * num_wait events in wait_list have completed (they may come from any
 * queue of the context), and *done (if done is not NULL) receives an
 * event that completes when the run's work and everything enqueued on the
 * context's queue before it have: the caller releases it. On a refusal,
 * *done is NULL. */
CLG_API clg_status clg_graph_run_opencl(clg_graph *g, int phases, cl_uint num_wait, const cl_event *wait_list,
                                        cl_event *done);

#ifdef __cplusplus
}
#endif
#endif /* CLGRAD_OPENCL_H */
