/* OpenCL platform and device discovery, and device specs. */
#include "cl_common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLG_MAX_CL_DEVICES 64

const char *clg_cl_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

/* Strings longer than the destination are cut, not lost (a driver's
 * version string can be long). */
static void device_string(cl_device_id dev, cl_device_info param, char *out, size_t size)
{
    char tmp[1024] = "";
    if (clGetDeviceInfo(dev, param, sizeof tmp - 1, tmp, NULL) != CL_SUCCESS) tmp[0] = '\0';
    snprintf(out, size, "%s", tmp);
}

/* Drivers initialise lazily on their first enumeration, and some are not
 * safe to initialise from two threads at once (PoCL 3.1 crashed, or listed
 * no device, when two threads made their first contexts together). So
 * enumeration is serialised process-wide: the one lock in the library,
 * held only while the platforms and devices are listed. */
static pthread_mutex_t enumerate_lock = PTHREAD_MUTEX_INITIALIZER;

static int enumerate_locked(clg_cl_device *out, int max);

int clg_cl_enumerate(clg_cl_device *out, int max)
{
    pthread_mutex_lock(&enumerate_lock);
    int n = enumerate_locked(out, max);
    pthread_mutex_unlock(&enumerate_lock);
    return n;
}

static int enumerate_locked(clg_cl_device *out, int max)
{
    cl_uint np = 0;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0) return 0;
    cl_platform_id plats[16];
    if (np > 16) np = 16;
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) return 0;
    int count = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        /* A platform with no usable device (a broken driver) is skipped,
         * never fatal: the others still count. */
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id devs[CLG_MAX_CL_DEVICES];
        if (nd > CLG_MAX_CL_DEVICES) nd = CLG_MAX_CL_DEVICES;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) continue;
        char pname[1024] = "", pvendor[1024] = "", pversion[1024] = "";
        if (clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL) != CL_SUCCESS) pname[0] = '\0';
        if (clGetPlatformInfo(plats[p], CL_PLATFORM_VENDOR, sizeof pvendor - 1, pvendor, NULL) != CL_SUCCESS)
            pvendor[0] = '\0';
        if (clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pversion - 1, pversion, NULL) != CL_SUCCESS)
            pversion[0] = '\0';
        for (cl_uint d = 0; d < nd && count < max; d++) {
            clg_cl_device *o = &out[count++];
            memset(o, 0, sizeof *o);
            o->platform = plats[p];
            o->device = devs[d];
            o->platform_index = (int)p;
            o->device_index = (int)d;
            snprintf(o->platform_name, sizeof o->platform_name, "%.*s", (int)sizeof o->platform_name - 1, pname);
            snprintf(o->platform_vendor, sizeof o->platform_vendor, "%.*s", (int)sizeof o->platform_vendor - 1, pvendor);
            snprintf(o->platform_version, sizeof o->platform_version, "%.*s", (int)sizeof o->platform_version - 1, pversion);
            device_string(devs[d], CL_DEVICE_NAME, o->device_name, sizeof o->device_name);
            device_string(devs[d], CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof o->type, &o->type, NULL);
        }
    }
    return count;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return false;
}

/* "cpu", "gpu" or "accelerator": the device type a spec names, or 0. */
static cl_device_type type_word(const char *spec)
{
    return !strcmp(spec, "cpu") ? CL_DEVICE_TYPE_CPU
         : !strcmp(spec, "gpu") ? CL_DEVICE_TYPE_GPU
         : !strcmp(spec, "accelerator") ? CL_DEVICE_TYPE_ACCELERATOR
                                        : 0;
}

/* A spec that is part of one of the device's names. */
static bool name_matches(const clg_cl_device *d, const char *spec)
{
    return contains_nocase(d->platform_name, spec) || contains_nocase(d->device_name, spec) ||
           contains_nocase(d->vendor, spec) || contains_nocase(d->platform_vendor, spec) ||
           contains_nocase(d->platform_version, spec);
}

/* The index of the device spec names; -1 none, -2 several (by name). */
static int find(const clg_cl_device *devs, int n, const char *spec)
{
    if (!*spec) {
        for (int i = 0; i < n; i++)
            if (devs[i].type & CL_DEVICE_TYPE_GPU) return i;
        return n > 0 ? 0 : -1;
    }
    const cl_device_type type = type_word(spec);
    if (type) {
        for (int i = 0; i < n; i++)
            if (devs[i].type & type) return i;
        return -1;
    }
    int p, d, used = 0;
    if (sscanf(spec, "%d:%d%n", &p, &d, &used) == 2 && spec[used] == '\0') {
        for (int i = 0; i < n; i++)
            if (devs[i].platform_index == p && devs[i].device_index == d) return i;
        return -1;
    }
    /* part of a name: one device, or the one GPU among several matches
     * ("amd": a Radeon and PoCL's "AuthenticAMD" CPU); more is ambiguous */
    int match = -1, count = 0, gpu = -1, gpus = 0;
    for (int i = 0; i < n; i++)
        if (name_matches(&devs[i], spec)) {
            if (count++ == 0) match = i;
            if (devs[i].type & CL_DEVICE_TYPE_GPU && gpus++ == 0) gpu = i;
        }
    if (count <= 1) return match;
    return gpus == 1 ? gpu : -2;
}


static int cl_device_count(void)
{
    clg_cl_device devs[CLG_MAX_CL_DEVICES];
    return clg_cl_enumerate(devs, CLG_MAX_CL_DEVICES);
}

clg_status clg_cl_select(clg_context *ctx, const char *spec, clg_cl_device *out)
{
    clg_cl_device devs[CLG_MAX_CL_DEVICES];
    int n = clg_cl_enumerate(devs, CLG_MAX_CL_DEVICES);
    int i = find(devs, n, spec);
    if (i >= 0) {
        *out = devs[i];
        return CLG_OK;
    }
    char list[4096];
    clg_device_list(list, sizeof list);
    size_t l = strlen(list);
    while (l && list[l - 1] == '\n') list[--l] = '\0';
    if (!*spec)
        return clg_error(ctx, CLG_ERR_NOT_FOUND, "no OpenCL device found; devices:\n%s", list);
    if (i == -2) { /* never a silent pick among several */
        char matches[2048] = "";
        size_t k = 0;
        for (int j = 0; j < n && k < sizeof matches; j++)
            if (name_matches(&devs[j], spec))
                k += (size_t)snprintf(matches + k, sizeof matches - k, "\n%d:%d  %s / %s (%s)", devs[j].platform_index,
                                      devs[j].device_index, devs[j].platform_name, devs[j].device_name,
                                      clg_cl_type_name(devs[j].type));
        return clg_error(ctx, CLG_ERR_INVALID_ARGUMENT,
                         "device spec '%s' matches several devices, and not exactly one GPU among them; name one "
                         "by P:D:%s",
                         spec, matches);
    }
    return clg_error(ctx, CLG_ERR_NOT_FOUND,
                     "unknown device spec '%s' (use reference, cpu, gpu, accelerator, P:D or part of a "
                     "platform or device name); devices:\n%s",
                     spec, list);
}

void clg_cl_describe(cl_device_id dev, clg_cl_device *out)
{
    clg_cl_device devs[CLG_MAX_CL_DEVICES];
    int n = clg_cl_enumerate(devs, CLG_MAX_CL_DEVICES);
    for (int i = 0; i < n; i++)
        if (devs[i].device == dev) {
            *out = devs[i];
            return;
        }
    /* not a listed device (a sub-device, say): what it says of itself */
    memset(out, 0, sizeof *out);
    out->device = dev;
    out->platform_index = out->device_index = -1;
    clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof out->platform, &out->platform, NULL);
    if (out->platform) {
        clGetPlatformInfo(out->platform, CL_PLATFORM_NAME, sizeof out->platform_name - 1, out->platform_name, NULL);
        clGetPlatformInfo(out->platform, CL_PLATFORM_VENDOR, sizeof out->platform_vendor - 1, out->platform_vendor,
                          NULL);
        clGetPlatformInfo(out->platform, CL_PLATFORM_VERSION, sizeof out->platform_version - 1,
                          out->platform_version, NULL);
    }
    device_string(dev, CL_DEVICE_NAME, out->device_name, sizeof out->device_name);
    device_string(dev, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor);
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof out->type, &out->type, NULL);
}

static clg_status cl_device_facts(int i, clg_device_facts *out)
{
    clg_cl_device devs[CLG_MAX_CL_DEVICES];
    int n = clg_cl_enumerate(devs, CLG_MAX_CL_DEVICES);
    if (!out || i < 0 || i >= n) return CLG_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    const clg_cl_device *d = &devs[i];
    snprintf(out->spec, sizeof out->spec, "%d:%d", d->platform_index, d->device_index);
    snprintf(out->type, sizeof out->type, "%s", clg_cl_type_name(d->type));
    snprintf(out->platform, sizeof out->platform, "%s", d->platform_name);
    snprintf(out->vendor, sizeof out->vendor, "%s", d->vendor);
    snprintf(out->name, sizeof out->name, "%s", d->device_name);
    device_string(d->device, CL_DRIVER_VERSION, out->driver_version, sizeof out->driver_version);
    device_string(d->device, CL_DEVICE_VERSION, out->opencl_version, sizeof out->opencl_version);
    cl_uint u = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS) out->compute_units = u;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS) out->clock_mhz = u;
    cl_ulong v = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof v, &v, NULL) == CL_SUCCESS) out->global_mem_bytes = v;
    if (clGetDeviceInfo(d->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof v, &v, NULL) == CL_SUCCESS) out->local_mem_bytes = v;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof v, &v, NULL) == CL_SUCCESS) out->max_alloc_bytes = v;
    return CLG_OK;
}

/* ---- the registry entry (core/backends.def) ---- */

static clg_status cl_create(clg_context *ctx, const char *spec, clg_backend **out)
{
    return clg_opencl_backend_create(ctx, spec, out);
}

const clg_backend_reg clg_opencl_backend = {
    .name = "opencl",
    .spec_help = "cpu, gpu, accelerator, P:D or part of a platform or device name",
    .device_count = cl_device_count,
    .device_facts = cl_device_facts,
    .create = cl_create,
};
