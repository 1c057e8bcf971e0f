/* Convolutions by oneDNN on CPU devices (host/conv_native.c). */
#ifndef CLG_CONV_NATIVE_H
#define CLG_CONV_NATIVE_H

#include "../core/conv_geom.h"
#include "cl_backend.h"

enum { CLG_CONV_FORWARD, CLG_CONV_INPUT_GRAD, CLG_CONV_WEIGHT_GRAD };

/* Sets b->conv_native from the device (b->natives), the build and
 * CLGRAD_CONV (auto, im2col or onednn); an error names a value that
 * cannot be honoured. */
clg_status clg_cl_conv_setup(clg_cl_backend *b);
/* Whether the device's tuning entry sends this geometry to im2col. */
bool clg_cl_conv_tuned_im2col(const clg_cl_backend *b, const clg_conv_geom *g);
/* Whether oneDNN takes this geometry (every phase; not sent to im2col by
 * the tuning): asked when a node is recorded, so that the im2col path's
 * workspaces exist where it does not run. */
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
