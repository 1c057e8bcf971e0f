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

#include "util.h"

typedef struct gc_input {
    int ndim;
    int64_t shape[4];
    bool param;         /* differentiate with respect to it */
    double lo, hi;      /* |value| range */
    bool positive;      /* no random sign */
    int32_t label_max;  /* > 0: int32 labels in [0, label_max) */
} gc_input;

typedef clg_tensor (*gc_build_fn)(clg_graph *g, const clg_tensor *inputs, void *arg);

typedef struct gc_tol {
    /* device vs reference, forward: |d| <= fwd_rtol |ref| + fwd_atol_of_max max|ref| */
    double fwd_rtol, fwd_atol_of_max;
    /* device vs reference, gradients: same form */
    double grad_rtol, grad_atol_of_max;
    /* double reference vs finite differences (h = fd_h, 0 means 1e-6) */
    double fd_rtol, fd_atol_of_max, fd_h;
    /* float reference vs double reference (output and gradients) */
    double f32_rtol, f32_atol_of_max;
} gc_tol;

/* Tolerances for ops whose float error stays within a few ulp per element. */
extern const gc_tol gc_default_tol;

void gc_check_devices(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                      uint64_t seed);
void gc_check_fd(const char *name, gc_build_fn f, void *arg, const gc_input *in, int nin, const gc_tol *tol,
                 uint64_t seed);

/* When set, called with each OpenCL device's context as gc_check_devices
 * opens it, before any graph: for tests that change a backend setting. */
extern void (*gc_device_hook)(clg_context *ctx);

/* Evaluates f on one device spec ("reference", "reference64", "P:D") and
 * returns the output (caller frees) and its element count; for tests that
 * compare outputs themselves. */
float *gc_eval(const char *spec, gc_build_fn f, void *arg, const gc_input *in, int nin, const float *const *values,
               int64_t *count);
/* Fills values[i] for each input as the checks do (caller frees each). */
void gc_make_inputs(const gc_input *in, int nin, uint64_t seed, float **values);

#endif
