/*
 * GEMM tuning per device, persisted (issue 11): CLBlast's kernel parameters
 * that clgrad-tune measured fastest on this device, and for each product
 * shape it measured, which path runs it (CLBlast or, on CPU devices, the
 * host's BLAS).
 *
 * One entry per device and driver, in the cache's folder under tune/
 * ($CLGRAD_CACHE_DIR/tune, ...; see host/program_cache.c), in the format of
 * host/cache_file.h: a key naming the platform, device, vendor, driver and
 * OpenCL versions and CLBlast's version, verbatim, then the payload, a
 * checksum over both. It is written through a temporary file and a rename,
 * so a reader sees the old entry or the new one, never a mix. An entry
 * that is cut, damaged, of another device or driver, or whose text does not
 * parse is not used (clg_context_gemm says so), and nothing crashes.
 *
 * The payload is text, one item a line:
 *   clgrad-tune 1
 *   kernel XgemmDirect WGD=64 MDIMCD=8 ...      CLBlast parameters, applied
 *                                               with CLBlastOverrideParameters
 *   shape NT 256 256 784 1 native 4.10          a product (transposes, m n k
 *                                               batch), its path, and the
 *                                               speed-up measured over
 *                                               untuned CLBlast
 *   conv 64 32 14 14 64 3 3 1 1 1 1 1 1 onednn 2.5
 *                                               a convolution (N C H W OC KH
 *                                               KW, strides, padding,
 *                                               dilation), its path (onednn,
 *                                               direct or im2col), the
 *                                               speed-up of its forward and
 *                                               backward over the next
 *                                               fastest path
 * CLGRAD_TUNING=off ignores the entry (clgrad-tune measures the defaults so).
 */
#ifndef CLG_TUNE_H
#define CLG_TUNE_H

#include "cl_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLG_TUNE_MAX_KERNELS 8
#define CLG_TUNE_MAX_PARAMS 20
#define CLG_TUNE_MAX_SHAPES 64

typedef struct clg_tune_kernel {
    char name[24]; /* CLBlast's kernel: Xgemm, XgemmDirect, GemmRoutine, Copy, ... */
    int count;
    char names[CLG_TUNE_MAX_PARAMS][32];
    size_t values[CLG_TUNE_MAX_PARAMS];
} clg_tune_kernel;

typedef struct clg_tune_shape {
    bool ta, tb;
    int64_t m, n, k, batch;
    bool native;    /* the host's BLAS, else CLBlast */
    double speedup; /* over untuned CLBlast, as measured */
} clg_tune_shape;

#define CLG_TUNE_MAX_CONVS 32

/* A convolution's paths (host/cl_conv.c), and their names in the entry. */
enum { CLG_CONV_IM2COL, CLG_CONV_DIRECT, CLG_CONV_ONEDNN, CLG_CONV_WINOGRAD, CLG_CONV_PATHS };
extern const char *const clg_conv_path_names[CLG_CONV_PATHS];

/* A convolution's geometry: N C H W OC KH KW SH SW PH PW DH DW. */
typedef struct clg_tune_conv {
    int64_t geom[13];
    int path;       /* CLG_CONV_* */
    double speedup; /* over the next fastest path, as measured */
} clg_tune_conv;

typedef struct clg_tune {
    int nkernels, nshapes, nconvs;
    clg_tune_kernel kernels[CLG_TUNE_MAX_KERNELS];
    clg_tune_shape shapes[CLG_TUNE_MAX_SHAPES];
    clg_tune_conv convs[CLG_TUNE_MAX_CONVS];
} clg_tune;

typedef enum { CLG_TUNE_ABSENT, CLG_TUNE_LOADED, CLG_TUNE_DAMAGED, CLG_TUNE_OFF } clg_tune_state;

/* The payload's text, and back: parse is false on anything it does not
 * know (a line, a name, a number out of range), and then *t is empty. */
char *clg_tune_format(const clg_tune *t, size_t *len);
bool clg_tune_parse(const char *text, size_t len, clg_tune *t);

/* The entry's file for dev in ctx's cache folder (ctx NULL: the
 * environment's); false when the cache is off. */
bool clg_tune_path(const clg_context *ctx, cl_device_id dev, char *path, size_t size);
/* Reads dev's entry into *t (empty unless LOADED). DAMAGED: present but
 * cut, damaged, foreign or unparseable (the file is left for clgrad-tune
 * to replace). OFF: the setting tuning is "off" or no cache folder. */
clg_tune_state clg_tune_load(const clg_context *ctx, cl_device_id dev, clg_tune *t);
/* Writes dev's entry atomically; false when it could not. */
bool clg_tune_save(const clg_context *ctx, cl_device_id dev, const clg_tune *t);

/* The shape's entry, or NULL. */
const clg_tune_shape *clg_tune_find(const clg_tune *t, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                    int64_t batch);
/* The convolution's entry, or NULL. */
const clg_tune_conv *clg_tune_find_conv(const clg_tune *t, const int64_t geom[13]);
/* Adds or replaces a kernel's parameters / a shape's or a convolution's
 * choice; false when full. */
bool clg_tune_set_kernel(clg_tune *t, const clg_tune_kernel *k);
bool clg_tune_set_shape(clg_tune *t, const clg_tune_shape *s);
bool clg_tune_set_conv(clg_tune *t, const clg_tune_conv *c);

#endif
