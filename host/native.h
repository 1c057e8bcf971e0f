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
/* Buffer m is being freed: native kernels forget where it lived. */
void clg_cl_native_forget(clg_cl_backend *b, cl_mem m);
/* The context is going: the table goes with it. */
void clg_cl_native_release(clg_cl_backend *b);

#endif
