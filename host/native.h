/* Native kernels on CPU devices (host/native.c). */
#ifndef CLG_NATIVE_H
#define CLG_NATIVE_H

#include "cl_backend.h"

/* *possible: a CPU device whose native kernels work (checked with one:
 * a buffer's pointer found, its data read through it). An error when the
 * check itself failed (the context fails rather than choose a path). */
clg_status clg_cl_native_probe(clg_cl_backend *b, bool *possible);
/* For a native kernel: *m's host pointer (a sub-buffer's: its parent's
 * plus its origin), *m replaced by the buffer to list (the parent). */
clg_status clg_cl_native_buffer(clg_cl_backend *b, cl_mem *m, float **ptr);
/* Learns m's host pointer now (where native kernels run; else nothing):
 * for a new buffer, before any command uses it, so that the first native
 * kernel on it needs no probe while the queue may wait on events. */
clg_status clg_cl_native_learn(clg_cl_backend *b, cl_mem m);
#define CLG_NATIVE_MAX_BUFFERS 4

/* The n buffers' host pointers into ptrs (clg_cl_native_buffer), and the
 * distinct buffers to list with the kernel in list[0 .. *count). */
clg_status clg_cl_native_buffers(clg_cl_backend *b, const cl_mem *mems, int n, float **ptrs, cl_mem *list,
                                 cl_uint *count);
/* Enqueues fn on a copy of args (size bytes) with the listed buffers;
 * slots, inside args, take the driver's pointers (which the function
 * ignores: the order they come in is the driver's, see native.c), one per
 * buffer. `what` names the call in an error. */
clg_status clg_cl_native_enqueue(clg_cl_backend *b, void(CL_CALLBACK *fn)(void *), void *args, size_t size,
                                 void **slots, const cl_mem *list, cl_uint count, const char *what);
/* Buffer m is being freed: native kernels forget where it lived. */
void clg_cl_native_forget(clg_cl_backend *b, cl_mem m);
/* The context is going: the table goes with it. */
void clg_cl_native_release(clg_cl_backend *b);

#endif
