/* Convolutions by oneDNN on CPU devices (host/conv_native.c). */
#ifndef CLG_CONV_NATIVE_H
#define CLG_CONV_NATIVE_H

#include "../core/conv_geom.h"
#include "cl_backend.h"
#include "tune.h"

enum { CLG_CONV_FORWARD, CLG_CONV_INPUT_GRAD, CLG_CONV_WEIGHT_GRAD };

/* Sets b->conv_native (oneDNN may run convolutions: b->natives, in a
 * build with it) and b->conv_forced from CLGRAD_CONV (auto, im2col,
 * direct or onednn), applies the tuning entry's per-layer paths unless a
 * path is named, and says which in the context's GEMM description; an
 * error names a value that cannot be honoured. */
clg_status clg_cl_conv_setup(clg_cl_backend *b);
/* The path a geometry wants (CLG_CONV_*, host/tune.h): CLGRAD_CONV's, else
 * the tuning entry's, else oneDNN where it may run, else im2col; Winograd
 * only where clg_cl_winograd_takes (else the default). oneDNN may still
 * refuse a geometry (clg_cl_conv_native_takes): im2col runs it. */
int clg_cl_conv_path(const clg_cl_backend *b, const clg_conv_geom *g);
/* Whether Winograd F(2x2,3x3) (cl/winograd.cl) computes this geometry:
 * 3x3 kernels, stride 1, dilation 1, any padding. */
bool clg_cl_winograd_takes(const clg_conv_geom *g);
/* Whether oneDNN takes this geometry (every phase): asked when a node is
 * recorded, so that the im2col path's workspaces exist where it does not. */
bool clg_cl_conv_native_takes(const clg_cl_backend *b, const clg_conv_geom *g);
/* One phase as a native kernel (*taken false, nothing done: a geometry
 * oneDNN does not take, which im2col runs):
 *   forward:          in0 x, in1 w, bias (or NULL), out y
 *   input gradient:   in0 dy, in1 w, out dx
 *   weight gradient:  in0 x, in1 dy, out dw   */
clg_status clg_cl_conv_native(clg_cl_backend *b, int phase, const clg_conv_geom *g, cl_mem in0, cl_mem in1,
                              cl_mem bias, cl_mem out, bool *taken);
void clg_cl_conv_native_release(clg_cl_backend *b);

#endif
