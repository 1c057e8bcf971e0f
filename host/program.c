/* Program builds: a failure carries the compiler's log. */
#include "cl_common.h"

#include <stdlib.h>
#include <string.h>

clg_status clg_cl_build_program(clg_context *ctx, cl_context clctx, cl_device_id dev,
                                const char *const *sources, int count, const char *options,
                                cl_program *out)
{
    cl_int err;
    *out = NULL;
    cl_program prog = clCreateProgramWithSource(clctx, (cl_uint)count, (const char **)sources, NULL, &err);
    if (err != CL_SUCCESS)
        return clg_error(ctx, err == CL_OUT_OF_HOST_MEMORY ? CLG_ERR_OUT_OF_MEMORY : CLG_ERR_DEVICE,
                         "clCreateProgramWithSource failed: %s", clg_cl_error_name(err));
    err = clBuildProgram(prog, 1, &dev, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t len = 0;
        char *log = NULL;
        if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS && len > 0 &&
            (log = malloc(len + 1)) != NULL) {
            if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, len, log, NULL) != CL_SUCCESS) log[0] = '\0';
            log[len] = '\0';
        }
        clg_error(ctx, CLG_ERR_BUILD, "clBuildProgram failed: %s; compiler log:\n%s", clg_cl_error_name(err),
                  log && log[0] ? log : "(the compiler gave no log)");
        free(log);
        clReleaseProgram(prog);
        return CLG_ERR_BUILD;
    }
    *out = prog;
    return CLG_OK;
}
