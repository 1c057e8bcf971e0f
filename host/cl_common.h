/* Host-side OpenCL helpers shared by the files of the OpenCL backend. */
#ifndef CLG_CL_COMMON_H
#define CLG_CL_COMMON_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#include "../core/backend.h"

#include <stdbool.h>

/* "CL_OUT_OF_RESOURCES" for -5; "unknown OpenCL error -1234" otherwise. */
const char *clg_cl_error_name(cl_int err);

/* One OpenCL device found on the machine. */
typedef struct clg_cl_device {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index, device_index;
    cl_device_type type;
    char platform_name[128];
    char device_name[128];
    char vendor[128];
    /* matched by name specs too: "pocl" appears only in these */
    char platform_vendor[128];
    char platform_version[128];
} clg_cl_device;

/* Every device on every platform; returns how many (at most max). */
int clg_cl_enumerate(clg_cl_device *out, int max);
/* Finds the device a spec names ("" = default). CLG_ERR_NOT_FOUND with a
 * message listing the devices when none matches. */
clg_status clg_cl_select(clg_context *ctx, const char *spec, clg_cl_device *out);
/* dev as clg_cl_enumerate lists it, or (a device it does not list, such
 * as a sub-device) as it describes itself, with indices -1. */
void clg_cl_describe(cl_device_id dev, clg_cl_device *out);
/* The OpenCL backend's instance on the device spec names ("" is the
 * default: the first GPU, else the first device); CLG_ERR_NOT_FOUND with a
 * message listing the devices when nothing matches. */
clg_status clg_opencl_backend_create(clg_context *ctx, const char *spec, clg_backend **out);
/* The OpenCL backend on the application's objects (include/clgrad_opencl.h):
 * retains them; queue NULL makes its own. Checks that they belong together
 * and that the queue is in order. */
clg_status clg_opencl_backend_adopt(clg_context *ctx, cl_context context, cl_device_id device,
                                    cl_command_queue queue, clg_backend **out);
const char *clg_cl_type_name(cl_device_type t);

/* Builds a program from sources for one device; on failure the context's
 * message carries the compiler log. */
clg_status clg_cl_build_program(clg_context *ctx, cl_context clctx, cl_device_id dev,
                                const char *const *sources, int count, const char *options,
                                cl_program *out);

/* The on-disk cache of built programs (host/program_cache.c): load gives
 * a built program when the cache holds one for exactly these sources,
 * options and device; store saves one. Neither can fail a build. */
bool clg_cl_cache_load(const clg_context *ctx, cl_context clctx, cl_device_id dev, const char *const *sources,
                       int count, const char *options, cl_program *out);
void clg_cl_cache_store(const clg_context *ctx, cl_program prog, cl_device_id dev, const char *const *sources,
                        int count, const char *options);

/* The cache's folder for ctx (NULL: the environment alone): the setting
 * cache_dir ($CLGRAD_CACHE_DIR), else $XDG_CACHE_HOME/clgrad, else
 * $HOME/.cache/clgrad; false when it is off ("off") or has no home. And
 * mkdir -p for it or a folder inside it. */
bool clg_cl_cache_dir(const clg_context *ctx, char *dir, size_t size);
void clg_cl_make_dirs(const char *dir);

/* The embedded cl/ sources, in compile order (generated at build time). */
extern const char *const clg_cl_sources[];
extern const char *const clg_cl_source_names[];
extern const int clg_cl_source_count;

#endif
