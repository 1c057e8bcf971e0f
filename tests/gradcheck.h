/*
 * Generic checks of an op (or any small graph) built by a callback:
 *
 *  gc_check_devices: L = sum(f(inputs) * w) with random w, forward and
 *    backward on the reference backend and on every OpenCL device; the
 *    output and every parameter's gradient of each device against the
 *    reference's.
 *  gc_check_fd: the same loss on the reference backend compiled in double
 *    (ref/ref_real.h): its gradients against central finite differences
 *    of its own forward, in double; then the float reference's output and
 *    gradients against the double one.
 *
 * Inputs are fresh seeded random values, never zero: |v| in [lo, hi] with
 * a random sign (or positive only), or int32 labels in [0, label_max).
 */
#ifndef CLG_GRADCHECK_H
#define CLG_GRADCHECK_H

#include "cases/cases.h"
#include "util.h"

/* The inputs and tolerances are those of the op cases (tests/cases/cases.h). */
typedef case_input gc_input;
typedef clg_tensor (*gc_build_fn)(clg_graph *g, const clg_tensor *inputs, void *arg);

typedef case_tol gc_tol;

/* Tolerances for ops whose float error stays within a few ulp per element. */
#define gc_default_tol case_default_tol

void gc_check_devices(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                      uint64_t seed);
void gc_check_fd(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                 uint64_t seed);

/* A graph's 16-bit path against its float32 path: f16 builds it on inputs
 * cast to bfloat16 (bf16) or float16, f32 on the same inputs rounded
 * through that type but float32; each device's (the reference's too)
 * output and gradients of f16 against the reference's of f32, within tol
 * plus 2 k u (k: the ops that round to 16 bits, u the type's unit roundoff;
 * gradients 2 (k + 1) u); with k = 1 the reference's output must be the
 * float32 path's rounded, bit for bit. Returns k. */
int gc_check_16(const char *name, gc_build_fn f16, gc_build_fn f32, void *arg, bool bf16, const gc_input *in, int nin,
                const gc_tol *tol, uint64_t seed);

/* When set, called with each OpenCL device's context as gc_check_devices
 * opens it, before any graph: for tests that change a backend setting. */
extern void (*gc_device_hook)(clg_context *ctx);

/* Evaluates f on one device spec ("reference", "reference64", "P:D") and
 * returns the output (caller frees) and its element count; for tests that
 * compare outputs themselves. */
float *gc_eval(const char *spec, gc_build_fn f, void *arg, const gc_input *in, int nin, const float *const *values,
               int64_t *count);
/* Fills values[i] for each input as the checks do (caller frees each). */
/* A context on spec, or on the reference backend in double for "reference64". */
clg_context *gc_open(const char *spec);
void gc_make_inputs(const gc_input *in, int nin, uint64_t seed, float **values);

#endif
