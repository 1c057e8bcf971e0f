/*
 * Fault injection, as SQLite tests it: the N-th host allocation, the N-th
 * device allocation, the N-th OpenCL enqueue and the N-th file operation
 * fail, for N = 1, 2, ... until the operation under test makes fewer than N
 * such calls, over context creation, recording an MLP and a small CNN with
 * batch norm, backward, the optimizer, a training step, checkpoint save and
 * checkpoint load, on the reference backend and every OpenCL device.
 *
 * The library's own calls are redirected by the linker (--wrap, see
 * tests/CMakeLists.txt): this program links the static library's objects,
 * so every malloc, clCreateBuffer, clEnqueue* or fwrite they make comes
 * here first. Calls made inside other libraries (PoCL, CLBlast, libc) are
 * not seen. The counter counts only while armed, around the call under
 * test, so the test's own and cmocka's calls never fail.
 *
 * After every injected failure: the status is an error of the kind
 * injected, the context's message is set and names the failure, the graph
 * either still works (a later run gives the clean result) or refuses to
 * run with CLG_ERR_STATE, a failed save leaves the previous file
 * byte-identical with no temporary file beside it, a failed load returns
 * no metadata; no OpenCL object and no file descriptor is left over (LSan
 * cannot see those), everything is destroyed at the end, and ASan/LSan
 * watch for crashes and leaks. An operation that succeeds although one of
 * its calls failed (a best-effort cache, a fallback) must give exactly the
 * clean result.
 *
 * The data readers and writers (npy, IDX plain and gzip'd, safetensors,
 * the loader, conversion), which need no context, go through the same
 * loop for host allocations and file operations: their status and err
 * message, no object returned on failure, the previous file kept.
 */
#define _GNU_SOURCE
#include "util.h"

#include "cl_common.h" /* OpenCL types for the wrappers */
#include "internal.h"  /* the context's message, cleared before each try */

#include <clblast_c.h>
#include <zlib.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the injector ---------------------------------------------------- */

enum { K_HOST, K_DEVICE, K_ENQUEUE, K_IO, K_NONE, K_KINDS = K_NONE };
static const char *const kind_names[K_KINDS] = {"host allocation", "device allocation", "OpenCL enqueue",
                                                "file operation"};

static struct {
    bool armed;
    int kind;      /* which kind fails */
    long fail_at;  /* the fail_at-th call of that kind fails */
    long calls[K_KINDS];
    const char *failed_fn; /* the call that was made to fail, NULL if none */
    int failed_errno;
    const char *failed_clerr; /* the OpenCL error a device allocation failed with */
} fi;

static void arm(int kind, long n)
{
    memset(&fi, 0, sizeof fi);
    fi.kind = kind;
    fi.fail_at = n;
    fi.armed = true;
}

static void disarm(void) { fi.armed = false; }

/* True when this call is the one to fail. */
static bool inject(int kind, const char *fn, int err)
{
    if (!fi.armed) return false;
    if (++fi.calls[kind] != fi.fail_at || kind != fi.kind) return false;
    fi.failed_fn = fn;
    fi.failed_errno = err;
    if (err) errno = err;
    return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { return inject(K_HOST, "malloc", ENOMEM) ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return inject(K_HOST, "calloc", ENOMEM) ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return inject(K_HOST, "realloc", ENOMEM) ? NULL : __real_realloc(p, n); }

/* OpenCL objects the library holds, by type: made by the wrapped calls,
 * given back through the wrapped releases. LSan cannot see these (what
 * PoCL allocates for them is suppressed in tests/lsan.supp), so each try
 * checks they are back where they were. */
enum { O_MEM, O_CONTEXT, O_QUEUE, O_PROGRAM, O_KERNEL, O_EVENT, O_TYPES };
static const char *const object_names[O_TYPES] = {"buffer", "context", "queue", "program", "kernel", "event"};
static long live[O_TYPES];

static void *made(int type, void *obj)
{
    if (obj) live[type]++;
    return obj;
}

static cl_int released(int type, cl_int err)
{
    if (err == CL_SUCCESS) live[type]--;
    return err;
}

/* An enqueue that gives back an event makes one. */
static cl_int enqueued(cl_int err, cl_event *ev)
{
    if (err == CL_SUCCESS && ev && *ev) live[O_EVENT]++;
    return err;
}

cl_int __real_clReleaseMemObject(cl_mem o);
cl_int __wrap_clReleaseMemObject(cl_mem o) { return released(O_MEM, __real_clReleaseMemObject(o)); }
cl_int __real_clReleaseContext(cl_context o);
cl_int __wrap_clReleaseContext(cl_context o) { return released(O_CONTEXT, __real_clReleaseContext(o)); }
cl_int __real_clReleaseCommandQueue(cl_command_queue o);
cl_int __wrap_clReleaseCommandQueue(cl_command_queue o) { return released(O_QUEUE, __real_clReleaseCommandQueue(o)); }
cl_int __real_clReleaseProgram(cl_program o);
cl_int __wrap_clReleaseProgram(cl_program o) { return released(O_PROGRAM, __real_clReleaseProgram(o)); }
cl_int __real_clReleaseKernel(cl_kernel o);
cl_int __wrap_clReleaseKernel(cl_kernel o) { return released(O_KERNEL, __real_clReleaseKernel(o)); }
cl_int __real_clReleaseEvent(cl_event o);
cl_int __wrap_clReleaseEvent(cl_event o) { return released(O_EVENT, __real_clReleaseEvent(o)); }

/* Device allocations: buffers, and the context, queue, program and
 * kernels a context makes. */
static bool device_fail(const char *fn, cl_int *err, cl_int code, const char *name)
{
    if (!inject(K_DEVICE, fn, 0)) return false;
    fi.failed_clerr = name;
    if (err) *err = code;
    return true;
}
#define DEV_FAIL(fn, err) device_fail(#fn, err, CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY")

cl_mem __real_clCreateBuffer(cl_context c, cl_mem_flags f, size_t size, void *host, cl_int *err);
cl_mem __wrap_clCreateBuffer(cl_context c, cl_mem_flags f, size_t size, void *host, cl_int *err)
{
    if (device_fail("clCreateBuffer", err, CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE"))
        return NULL;
    return made(O_MEM, __real_clCreateBuffer(c, f, size, host, err));
}
/* the arena's views (core/plan.c's one-buffer plan): buffers too */
cl_mem __real_clCreateSubBuffer(cl_mem m, cl_mem_flags f, cl_buffer_create_type t, const void *info, cl_int *err);
cl_mem __wrap_clCreateSubBuffer(cl_mem m, cl_mem_flags f, cl_buffer_create_type t, const void *info, cl_int *err)
{
    if (device_fail("clCreateSubBuffer", err, CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE"))
        return NULL;
    return made(O_MEM, __real_clCreateSubBuffer(m, f, t, info, err));
}
cl_context __real_clCreateContext(const cl_context_properties *p, cl_uint n, const cl_device_id *d,
                                  void(CL_CALLBACK *cb)(const char *, const void *, size_t, void *), void *u,
                                  cl_int *err);
cl_context __wrap_clCreateContext(const cl_context_properties *p, cl_uint n, const cl_device_id *d,
                                  void(CL_CALLBACK *cb)(const char *, const void *, size_t, void *), void *u,
                                  cl_int *err)
{
    return DEV_FAIL(clCreateContext, err) ? NULL : made(O_CONTEXT, __real_clCreateContext(p, n, d, cb, u, err));
}
cl_command_queue __real_clCreateCommandQueue(cl_context c, cl_device_id d, cl_command_queue_properties p, cl_int *err);
cl_command_queue __wrap_clCreateCommandQueue(cl_context c, cl_device_id d, cl_command_queue_properties p, cl_int *err)
{
    return DEV_FAIL(clCreateCommandQueue, err) ? NULL : made(O_QUEUE, __real_clCreateCommandQueue(c, d, p, err));
}
cl_program __real_clCreateProgramWithSource(cl_context c, cl_uint n, const char **src, const size_t *len, cl_int *err);
cl_program __wrap_clCreateProgramWithSource(cl_context c, cl_uint n, const char **src, const size_t *len, cl_int *err)
{
    return DEV_FAIL(clCreateProgramWithSource, err)
               ? NULL
               : made(O_PROGRAM, __real_clCreateProgramWithSource(c, n, src, len, err));
}
cl_program __real_clCreateProgramWithBinary(cl_context c, cl_uint n, const cl_device_id *d, const size_t *len,
                                            const unsigned char **bin, cl_int *st, cl_int *err);
cl_program __wrap_clCreateProgramWithBinary(cl_context c, cl_uint n, const cl_device_id *d, const size_t *len,
                                            const unsigned char **bin, cl_int *st, cl_int *err)
{
    return DEV_FAIL(clCreateProgramWithBinary, err)
               ? NULL
               : made(O_PROGRAM, __real_clCreateProgramWithBinary(c, n, d, len, bin, st, err));
}
cl_kernel __real_clCreateKernel(cl_program p, const char *name, cl_int *err);
cl_kernel __wrap_clCreateKernel(cl_program p, const char *name, cl_int *err)
{
    return DEV_FAIL(clCreateKernel, err) ? NULL : made(O_KERNEL, __real_clCreateKernel(p, name, err));
}

#define ENQ_FAIL(fn) if (inject(K_ENQUEUE, #fn, 0)) return CL_OUT_OF_RESOURCES
/* Setting a kernel's arguments is part of launching it. */
cl_int __real_clSetKernelArg(cl_kernel k, cl_uint i, size_t size, const void *value);
cl_int __wrap_clSetKernelArg(cl_kernel k, cl_uint i, size_t size, const void *value)
{
    ENQ_FAIL(clSetKernelArg);
    return __real_clSetKernelArg(k, i, size, value);
}
cl_int __real_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dim, const size_t *off,
                                     const size_t *global, const size_t *local, cl_uint nw, const cl_event *w,
                                     cl_event *ev);
cl_int __wrap_clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dim, const size_t *off,
                                     const size_t *global, const size_t *local, cl_uint nw, const cl_event *w,
                                     cl_event *ev)
{
    ENQ_FAIL(clEnqueueNDRangeKernel);
    return enqueued(__real_clEnqueueNDRangeKernel(q, k, dim, off, global, local, nw, w, ev), ev);
}
cl_int __real_clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size,
                                   const void *p, cl_uint nw, const cl_event *w, cl_event *ev);
cl_int __wrap_clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size,
                                   const void *p, cl_uint nw, const cl_event *w, cl_event *ev)
{
    ENQ_FAIL(clEnqueueWriteBuffer);
    return enqueued(__real_clEnqueueWriteBuffer(q, m, block, off, size, p, nw, w, ev), ev);
}
cl_int __real_clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size, void *p,
                                  cl_uint nw, const cl_event *w, cl_event *ev);
cl_int __wrap_clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool block, size_t off, size_t size, void *p,
                                  cl_uint nw, const cl_event *w, cl_event *ev)
{
    ENQ_FAIL(clEnqueueReadBuffer);
    return enqueued(__real_clEnqueueReadBuffer(q, m, block, off, size, p, nw, w, ev), ev);
}
cl_int __real_clEnqueueFillBuffer(cl_command_queue q, cl_mem m, const void *pat, size_t psize, size_t off,
                                  size_t size, cl_uint nw, const cl_event *w, cl_event *ev);
cl_int __wrap_clEnqueueFillBuffer(cl_command_queue q, cl_mem m, const void *pat, size_t psize, size_t off,
                                  size_t size, cl_uint nw, const cl_event *w, cl_event *ev)
{
    ENQ_FAIL(clEnqueueFillBuffer);
    return enqueued(__real_clEnqueueFillBuffer(q, m, pat, psize, off, size, nw, w, ev), ev);
}
cl_int __real_clEnqueueCopyBuffer(cl_command_queue q, cl_mem a, cl_mem b, size_t ao, size_t bo, size_t size,
                                  cl_uint nw, const cl_event *w, cl_event *ev);
cl_int __wrap_clEnqueueCopyBuffer(cl_command_queue q, cl_mem a, cl_mem b, size_t ao, size_t bo, size_t size,
                                  cl_uint nw, const cl_event *w, cl_event *ev)
{
    ENQ_FAIL(clEnqueueCopyBuffer);
    return enqueued(__real_clEnqueueCopyBuffer(q, a, b, ao, bo, size, nw, w, ev), ev);
}
/* GEMMs by the host's BLAS on CPU devices (host/gemm_native.c), and the
 * probes that find their buffers. */
cl_int __real_clEnqueueNativeKernel(cl_command_queue q, void(CL_CALLBACK *fn)(void *), void *args, size_t cb,
                                    cl_uint nmem, const cl_mem *mems, const void **locs, cl_uint nw,
                                    const cl_event *w, cl_event *ev);
cl_int __wrap_clEnqueueNativeKernel(cl_command_queue q, void(CL_CALLBACK *fn)(void *), void *args, size_t cb,
                                    cl_uint nmem, const cl_mem *mems, const void **locs, cl_uint nw,
                                    const cl_event *w, cl_event *ev)
{
    ENQ_FAIL(clEnqueueNativeKernel);
    return enqueued(__real_clEnqueueNativeKernel(q, fn, args, cb, nmem, mems, locs, nw, w, ev), ev);
}
/* A failed clFinish reports an error of commands already enqueued: they
 * are waited for, then the error is returned. */
cl_int __real_clFinish(cl_command_queue q);
cl_int __wrap_clFinish(cl_command_queue q)
{
    cl_int e = __real_clFinish(q);
    return inject(K_ENQUEUE, "clFinish", 0) ? CL_OUT_OF_RESOURCES : e;
}

CLBlastStatusCode __real_CLBlastSgemm(const CLBlastLayout layout, const CLBlastTranspose ta, const CLBlastTranspose tb,
                                      const size_t m, const size_t n, const size_t k, const float alpha,
                                      const cl_mem a, const size_t ao, const size_t lda, const cl_mem b,
                                      const size_t bo, const size_t ldb, const float beta, cl_mem c, const size_t co,
                                      const size_t ldc, cl_command_queue *queue, cl_event *event);
CLBlastStatusCode __wrap_CLBlastSgemm(const CLBlastLayout layout, const CLBlastTranspose ta, const CLBlastTranspose tb,
                                      const size_t m, const size_t n, const size_t k, const float alpha,
                                      const cl_mem a, const size_t ao, const size_t lda, const cl_mem b,
                                      const size_t bo, const size_t ldb, const float beta, cl_mem c, const size_t co,
                                      const size_t ldc, cl_command_queue *queue, cl_event *event)
{
    if (inject(K_ENQUEUE, "CLBlastSgemm", 0)) return CLBlastOpenCLOutOfResources;
    CLBlastStatusCode st =
        __real_CLBlastSgemm(layout, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc, queue, event);
    enqueued(st == CLBlastSuccess ? CL_SUCCESS : -1, event);
    return st;
}
CLBlastStatusCode __real_CLBlastSgemmStridedBatched(
    const CLBlastLayout layout, const CLBlastTranspose ta, const CLBlastTranspose tb, const size_t m, const size_t n,
    const size_t k, const float alpha, const cl_mem a, const size_t ao, const size_t lda, const size_t as,
    const cl_mem b, const size_t bo, const size_t ldb, const size_t bs, const float beta, cl_mem c, const size_t co,
    const size_t ldc, const size_t cs, const size_t batch, cl_command_queue *queue, cl_event *event);
CLBlastStatusCode __wrap_CLBlastSgemmStridedBatched(
    const CLBlastLayout layout, const CLBlastTranspose ta, const CLBlastTranspose tb, const size_t m, const size_t n,
    const size_t k, const float alpha, const cl_mem a, const size_t ao, const size_t lda, const size_t as,
    const cl_mem b, const size_t bo, const size_t ldb, const size_t bs, const float beta, cl_mem c, const size_t co,
    const size_t ldc, const size_t cs, const size_t batch, cl_command_queue *queue, cl_event *event)
{
    if (inject(K_ENQUEUE, "CLBlastSgemmStridedBatched", 0)) return CLBlastOpenCLOutOfResources;
    CLBlastStatusCode st = __real_CLBlastSgemmStridedBatched(layout, ta, tb, m, n, k, alpha, a, ao, lda, as, b, bo,
                                                             ldb, bs, beta, c, co, ldc, cs, batch, queue, event);
    enqueued(st == CLBlastSuccess ? CL_SUCCESS : -1, event);
    return st;
}

/* File operations, each failing with a plausible errno. */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (inject(K_IO, "open", EACCES)) return -1;
    return __real_open(path, flags, mode);
}
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n) { return inject(K_IO, "read", EIO) ? -1 : __real_read(fd, buf, n); }
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode)
{
    return inject(K_IO, "fopen", EACCES) ? NULL : __real_fopen(path, mode);
}
FILE *__real_fdopen(int fd, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode) { return inject(K_IO, "fdopen", ENOMEM) ? NULL : __real_fdopen(fd, mode); }
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    return inject(K_IO, "fwrite", ENOSPC) ? 0 : __real_fwrite(p, size, n, f);
}
int __real_fflush(FILE *f);
int __wrap_fflush(FILE *f) { return inject(K_IO, "fflush", ENOSPC) ? EOF : __real_fflush(f); }
int __real_fsync(int fd);
int __wrap_fsync(int fd) { return inject(K_IO, "fsync", EIO) ? -1 : __real_fsync(fd); }
/* fclose frees the stream even when it fails: close it, then report. */
int __real_fclose(FILE *f);
int __wrap_fclose(FILE *f)
{
    int r = __real_fclose(f);
    return inject(K_IO, "fclose", EIO) ? EOF : r;
}
int __real_rename(const char *a, const char *b);
int __wrap_rename(const char *a, const char *b) { return inject(K_IO, "rename", EIO) ? -1 : __real_rename(a, b); }
int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st) { return inject(K_IO, "fstat", EIO) ? -1 : __real_fstat(fd, st); }
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
    return inject(K_IO, "pread", EIO) ? -1 : __real_pread(fd, buf, n, off);
}

/* zlib allocates for the IDX reader: its stream setups fail as host
 * allocations. */
gzFile __real_gzdopen(int fd, const char *mode);
gzFile __wrap_gzdopen(int fd, const char *mode)
{
    return inject(K_HOST, "gzdopen", ENOMEM) ? NULL : __real_gzdopen(fd, mode);
}
int __real_inflateInit2_(z_streamp strm, int bits, const char *version, int size);
int __wrap_inflateInit2_(z_streamp strm, int bits, const char *version, int size)
{
    return inject(K_HOST, "inflateInit2_", 0) ? Z_MEM_ERROR : __real_inflateInit2_(strm, bits, version, size);
}

/* ---- reporting -------------------------------------------------------- */

static int violations;
static char where[512]; /* device, model, operation, kind, N: printed with each violation */

#define VIOLATION(...)                                                                                     \
    do {                                                                                                   \
        violations++;                                                                                      \
        fprintf(stderr, "VIOLATION [%s]: ", where);                                                        \
        fprintf(stderr, __VA_ARGS__);                                                                      \
        fprintf(stderr, "\n");                                                                             \
    } while (0)

/* Returned by a step that failed while every call it made said CLG_OK. */
#define STATUS_LOST ((clg_status)1000)

static void clear_error(clg_context *ctx)
{
    ctx->status = CLG_OK;
    ctx->msg[0] = '\0';
}

/* What the message of a failure of the injected kind must mention. */
static bool message_names_failure(const char *msg)
{
    switch (fi.kind) {
    case K_HOST: return strstr(msg, "memory") != NULL;
    case K_DEVICE: return strstr(msg, fi.failed_clerr) && strstr(msg, fi.failed_fn);
    case K_ENQUEUE:
        return strstr(msg, "CL_OUT_OF_RESOURCES") &&
               strstr(msg, strncmp(fi.failed_fn, "CLBlast", 7) ? fi.failed_fn : "CLBlast");
    case K_IO: return strstr(msg, strerror(fi.failed_errno)) != NULL;
    }
    return false;
}

/* Checks a failed operation's status and the context's message. */
static void check_failure(clg_context *ctx, clg_status s)
{
    if (s == STATUS_LOST) {
        VIOLATION("failed (%s made to fail) with every call returning CLG_OK", fi.failed_fn ? fi.failed_fn : "nothing");
        return;
    }
    if (!fi.failed_fn) {
        VIOLATION("failed with %s although no call was made to fail: %s", clg_status_string(s),
                  ctx ? clg_context_errmsg(ctx) : "(no context)");
        return;
    }
    if (fi.kind == K_HOST || fi.kind == K_DEVICE) {
        if (s != CLG_ERR_OUT_OF_MEMORY)
            VIOLATION("%s failed: status %s, want CLG_ERR_OUT_OF_MEMORY (%s)", fi.failed_fn, clg_status_string(s),
                      ctx ? clg_context_errmsg(ctx) : "");
    } else if (fi.kind == K_ENQUEUE && s != CLG_ERR_DEVICE) {
        VIOLATION("%s failed: status %s, want CLG_ERR_DEVICE (%s)", fi.failed_fn, clg_status_string(s),
                  ctx ? clg_context_errmsg(ctx) : "");
    }
    if (!ctx) return;
    if (!ctx->msg[0]) VIOLATION("%s failed with %s and no message", fi.failed_fn, clg_status_string(s));
    else if (!message_names_failure(ctx->msg))
        VIOLATION("%s failed with %s; the message does not say so: %s", fi.failed_fn, clg_status_string(s), ctx->msg);
    if (ctx->status != s)
        VIOLATION("returned %s but the context's status is %s", clg_status_string(s), clg_status_string(ctx->status));
}

/* ---- models ------------------------------------------------------------ */

enum { M_MLP, M_CNN, M_MISC, M_COUNT };
static const char *const model_names[M_COUNT] = {"mlp", "cnn", "misc"};

#define MAX_PARAMS 8
typedef struct model {
    int kind;
    clg_context *ctx;
    clg_graph *g;
    clg_tensor x, y, loss, params[MAX_PARAMS], bn;
    int np;
    int64_t xn, yn;
    /* Recording goes on after a failed op, as the README allows ("ops
     * record and fail softly"): the graph's status and the context's
     * message must still be those of the first failure. */
    bool soft;
} model;

/* A step of building a model: its status, or STATUS_LOST when it failed
 * with every call saying CLG_OK. */
#define CALL(m, expr)                                                                                      \
    do {                                                                                                   \
        clg_status before_ = (m)->ctx->status;                                                             \
        clg_status s_ = (expr);                                                                            \
        if (s_ != CLG_OK) return s_;                                                                       \
        if (before_ == CLG_OK && (m)->ctx->status != CLG_OK) return STATUS_LOST;                           \
    } while (0)
#define TENSOR(m, t, expr)                                                                                 \
    do {                                                                                                   \
        (t) = (expr);                                                                                      \
        if ((t).id < 0 && !(m)->soft) {                                                                    \
            clg_status s_ = clg_graph_status((m)->g);                                                      \
            return s_ != CLG_OK ? s_ : STATUS_LOST;                                                        \
        }                                                                                                  \
    } while (0)

/* A call on tensor t, skipped when t failed (soft recording). */
#define CALL_ON(m, t, expr)                                                                                \
    do {                                                                                                   \
        if ((t).id >= 0) CALL(m, expr);                                                                    \
    } while (0)

/* A step of this file's own (checked inside). */
#define STEP(expr)                                                                                         \
    do {                                                                                                   \
        clg_status s_ = (expr);                                                                            \
        if (s_ != CLG_OK) return s_;                                                                       \
    } while (0)

static clg_status add_param(model *m, clg_tensor *out, int ndim, const int64_t *shape, const char *name, uint64_t seed)
{
    clg_tensor t;
    TENSOR(m, t, clg_param(m->g, ndim, shape));
    CALL_ON(m, t, clg_tensor_set_name(m->g, t, name));
    if (ndim >= 2) CALL_ON(m, t, clg_init_kaiming_uniform(m->g, t, seed));
    else CALL_ON(m, t, clg_init_uniform(m->g, t, -0.1f, 0.1f, seed));
    m->params[m->np++] = t;
    *out = t;
    return CLG_OK;
}

/* Graph and forward pass (leaves initialised and named): the MLP with
 * dropout, the CNN with batch norm. */
static clg_status record(model *m)
{
    m->np = 0;
    m->bn = CLG_NO_TENSOR;
    CALL(m, clg_graph_create(m->ctx, &m->g));
    clg_graph *g = m->g;
    clg_tensor logits, w, b;
    if (m->kind == M_MLP) {
        const int64_t xs[2] = {5, 12}, w1[2] = {8, 12}, b1 = 8, w2[2] = {3, 8}, b2 = 3, ys = 5;
        m->xn = 5 * 12;
        m->yn = 5;
        TENSOR(m, m->x, clg_input(g, 2, xs));
        TENSOR(m, m->y, clg_labels(g, 1, &ys));
        STEP(add_param(m, &w, 2, w1, "fc1.weight", 1));
        STEP(add_param(m, &b, 1, &b1, "fc1.bias", 2));
        clg_tensor h;
        TENSOR(m, h, clg_linear(g, m->x, w, b));
        TENSOR(m, h, clg_relu(g, h));
        TENSOR(m, h, clg_dropout(g, h, 0.25f, 5));
        STEP(add_param(m, &w, 2, w2, "fc2.weight", 3));
        STEP(add_param(m, &b, 1, &b2, "fc2.bias", 4));
        TENSOR(m, logits, clg_linear(g, h, w, b));
    } else if (m->kind == M_MISC) {
        /* the other families' constructors and state: batched GEMM, shape
         * ops, max along an axis (arg-max state), pooling, losses */
        const int64_t xs[3] = {2, 3, 4}, ws[2] = {5, 4}, four[4] = {1, 2, 3, 5}, ts[2] = {2, 3};
        const int perm[3] = {0, 2, 1};
        m->xn = 2 * 3 * 4;
        m->yn = 0;
        m->y = CLG_NO_TENSOR;
        TENSOR(m, m->x, clg_input(g, 3, xs));
        STEP(add_param(m, &w, 2, ws, "misc.weight", 6));
        clg_tensor a, bt, mm, sl, cc, mx, ls, pool, t, target, l1, l2;
        TENSOR(m, a, clg_linear(g, m->x, w, CLG_NO_TENSOR));
        TENSOR(m, a, clg_gelu(g, a));
        TENSOR(m, bt, clg_permute(g, a, perm));
        TENSOR(m, mm, clg_matmul(g, a, bt, 0, 0));
        TENSOR(m, sl, clg_slice(g, mm, 2, 0, 2));
        TENSOR(m, cc, clg_concat(g, sl, mm, 2));
        TENSOR(m, mx, clg_max_axis(g, cc, 2, 0));
        TENSOR(m, ls, clg_log_softmax(g, mx, 1));
        TENSOR(m, pool, clg_avg_pool2d(g, clg_reshape(g, cc, 4, four), 2, 2, 1, 1, 0, 0));
        TENSOR(m, t, clg_mean_axis(g, pool, 3, 0));
        TENSOR(m, target, clg_constant(g, 2, ts, 0.25f));
        TENSOR(m, l1, clg_bce_with_logits(g, clg_tanh(g, mx), target));
        TENSOR(m, l2, clg_add(g, clg_scale(g, clg_sum(g, t), 0.01f), clg_neg(g, clg_mean(g, ls))));
        TENSOR(m, m->loss, clg_add(g, l1, l2));
        clg_status s = clg_graph_status(g);
        return s == CLG_OK && m->loss.id < 0 ? STATUS_LOST : s;
    } else {
        const int64_t xs[4] = {2, 1, 6, 6}, cw[4] = {3, 1, 3, 3}, cb = 3, ys = 2, flat[2] = {2, 27},
                      fw[2] = {4, 27}, fb = 4;
        m->xn = 2 * 36;
        m->yn = 2;
        TENSOR(m, m->x, clg_input(g, 4, xs));
        TENSOR(m, m->y, clg_labels(g, 1, &ys));
        STEP(add_param(m, &w, 4, cw, "conv.weight", 1));
        STEP(add_param(m, &b, 1, &cb, "conv.bias", 2));
        clg_tensor h, gamma, beta;
        TENSOR(m, h, clg_conv2d(g, m->x, w, b, 1, 1, 1, 1, 1, 1));
        TENSOR(m, gamma, clg_param(g, 1, &cb));
        CALL_ON(m, gamma, clg_tensor_set_name(g, gamma, "bn.weight"));
        CALL_ON(m, gamma, clg_tensor_fill(g, gamma, 1.0f));
        TENSOR(m, beta, clg_param(g, 1, &cb));
        CALL_ON(m, beta, clg_tensor_set_name(g, beta, "bn.bias"));
        CALL_ON(m, beta, clg_tensor_fill(g, beta, 0.0f));
        m->params[m->np++] = gamma;
        m->params[m->np++] = beta;
        TENSOR(m, h, clg_batch_norm(g, h, gamma, beta, 0.1f, 1e-5f));
        m->bn = h;
        TENSOR(m, h, clg_relu(g, h));
        TENSOR(m, h, clg_max_pool2d(g, h, 2, 2, 2, 2, 0, 0));
        TENSOR(m, h, clg_reshape(g, h, 2, flat));
        STEP(add_param(m, &w, 2, fw, "fc.weight", 3));
        STEP(add_param(m, &b, 1, &fb, "fc.bias", 4));
        TENSOR(m, logits, clg_linear(g, h, w, b));
    }
    TENSOR(m, m->loss, clg_softmax_cross_entropy(g, logits, m->y));
    clg_status s = clg_graph_status(g);
    return s == CLG_OK && m->loss.id < 0 ? STATUS_LOST : s;
}

static clg_status backward(model *m)
{
    CALL(m, clg_backward(m->g, m->loss));
    return CLG_OK;
}

/* Adam with clipping on the MLP, SGD with Nesterov momentum and gradient
 * accumulation on the CNN, centred RMSProp with momentum on the rest:
 * state tensors, the clipping reduction, the accumulators and the update
 * kernels. */
static clg_status optimizer(model *m)
{
    clg_optimizer_config c;
    if (m->kind == M_MLP) {
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.lr = 0.01f;
        c.max_grad_norm = 1.0f;
    } else if (m->kind == M_MISC) {
        c = clg_optimizer_defaults(CLG_OPTIM_RMSPROP);
        c.momentum = 0.5f;
        c.centered = 1;
    } else {
        c = clg_optimizer_defaults(CLG_OPTIM_SGD);
        c.lr = 0.05f;
        c.momentum = 0.9f;
        c.nesterov = 1;
        c.accumulate = 1;
    }
    CALL(m, clg_optimizer(m->g, &c));
    return CLG_OK;
}

static clg_status set_data(model *m)
{
    float x[128];
    int32_t y[8];
    rng_t r = {7};
    rng_fill(&r, x, (size_t)m->xn, 0.1, 2.0, false);
    for (int64_t i = 0; i < m->yn; i++) y[i] = (int32_t)(i % (m->kind == M_MLP ? 3 : 4));
    CALL(m, clg_tensor_set(m->g, m->x, x, (size_t)m->xn));
    if (m->yn) CALL(m, clg_tensor_set_i32(m->g, m->y, y, (size_t)m->yn));
    return CLG_OK;
}

/* The CNN's runs are timed: events are kept and released too. */
/* A run waited for (run_timed waits, and a run that fails on the device is
 * then no step): nothing is left running when the test next changes the
 * environment, which is not safe while PoCL's threads run kernels (they
 * call getenv). */
static clg_status run(model *m)
{
    double t;
    CALL(m, clg_graph_run_timed(m->g, CLG_RUN_ALL, &t));
    return CLG_OK;
}

/* The loss of the last run, every parameter and the batch norm's running
 * statistics, for bitwise comparison with a clean run. */
#define FP_MAX 512
typedef struct fingerprint {
    int n;
    float v[FP_MAX];
} fingerprint;

static void take_fingerprint(model *m, fingerprint *fp)
{
    fp->n = 0;
    CHECK_OK(m->ctx, clg_tensor_get(m->g, m->loss, fp->v, 1));
    fp->n = 1;
    for (int i = 0; i < m->np; i++) {
        size_t k = (size_t)clg_tensor_numel(m->g, m->params[i]);
        assert_true(fp->n + k <= FP_MAX);
        CHECK_OK(m->ctx, clg_tensor_get(m->g, m->params[i], fp->v + fp->n, k));
        fp->n += (int)k;
    }
    if (m->bn.id >= 0) {
        CHECK_OK(m->ctx, clg_batch_norm_running(m->g, m->bn, fp->v + fp->n, fp->v + fp->n + 3, 3));
        fp->n += 6;
    }
}

/* Bitwise, unless two clean runs on this device differ (a driver whose
 * reductions or GEMMs are not deterministic): then within 1e-5. */
static bool bitwise = true;

static bool same_values(const float *a, const float *b, int n)
{
    if (bitwise) return memcmp(a, b, (size_t)n * sizeof *a) == 0;
    for (int i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-5f * fabsf(b[i]) + 1e-6f)) return false;
    return true;
}

static bool same_fingerprint(const fingerprint *a, const fingerprint *b)
{
    return a->n == b->n && same_values(a->v, b->v, a->n);
}

/* A whole model built clean, with its data, not run yet. */
static void build_clean(model *m, clg_context *ctx, int kind)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->ctx = ctx;
    clear_error(ctx);
    CHECK_OK(ctx, record(m));
    CHECK_OK(ctx, backward(m));
    CHECK_OK(ctx, optimizer(m));
    CHECK_OK(ctx, set_data(m));
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[256], cachedir[300];

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Files in tmpdir other than those named (NULL-terminated). */
static int stray_files(const char *const *keep)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        bool kept = false;
        for (int i = 0; keep[i]; i++) kept |= strcmp(e->d_name, keep[i]) == 0;
        if (!kept) {
            fprintf(stderr, "stray file: %s/%s\n", tmpdir, e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* ---- the operations ---------------------------------------------------- */

/* In this order: each operation's preconditions are the ones before it
 * (record-soft and record both record). */
enum {
    OP_CONTEXT, OP_CONTEXT_NOCACHE, OP_RECORD_SOFT, OP_RECORD, OP_BACKWARD, OP_OPTIMIZER, OP_RUN, OP_SAVE, OP_LOAD,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {"context", "context-nocache", "record-soft", "record", "backward",
                                               "optimizer", "run", "save", "load"};

static const char *const meta_keys[2] = {"epoch", "note"};
static const char *const meta_values[2] = {"3", "fault injection"};

typedef struct device_state {
    const char *spec;
    bool opencl;
    clg_context *ctx;
    fingerprint clean[M_COUNT];
    long fb_enqueues[M_COUNT]; /* enqueues of a run's forward and backward phases */
} device_state;

/* Iterations per operation and kind, printed as a summary. */
static long tries[OP_COUNT][K_KINDS], max_calls[OP_COUNT][K_KINDS], injected_ok[OP_COUNT][K_KINDS];

/* After a failed op: a refused call changes nothing (README), so the
 * graph runs what was recorded before it; and once the call is made again
 * and the model finished, a step equals the clean one bit for bit. */
static void check_graph_after_failure(model *m, int op, const fingerprint *clean)
{
    clg_status s = CLG_OK;
    if (op <= OP_RECORD) { /* the model is unfinished: what it holds still runs */
        clear_error(m->ctx);
        s = clg_graph_run(m->g, CLG_RUN_ALL);
        if (s == CLG_OK) s = clg_graph_wait(m->g);
        if (s != CLG_OK)
            VIOLATION("a graph with a refused op does not run what it holds: %s: %s", clg_status_string(s),
                      clg_context_errmsg(m->ctx));
        return;
    }
    clg_graph_clear_status(m->g);
    clear_error(m->ctx);
    if (op == OP_BACKWARD) s = backward(m);
    if (s == CLG_OK && op <= OP_OPTIMIZER) s = optimizer(m);
    if (s == CLG_OK && op <= OP_OPTIMIZER) s = set_data(m);
    if (s == CLG_OK) s = run(m);
    if (s != CLG_OK) {
        VIOLATION("the graph took the failure without recording it, then failed again: %s: %s", clg_status_string(s),
                  clg_context_errmsg(m->ctx));
        return;
    }
    if (op <= OP_OPTIMIZER) {
        fingerprint fp;
        take_fingerprint(m, &fp);
        if (!same_fingerprint(&fp, clean)) VIOLATION("after a refused %s and a retry, the step differs from a clean one", op_names[op]);
    }
}

/* Open file descriptors: a failed save or load must not leave one open. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* The count after a try, given the count before: a driver's thread may
 * hold a file open for a moment, so a difference is looked at again for
 * up to 100 ms before it counts. */
static int fds_after(int before)
{
    int n = count_fds();
    for (int i = 0; i < 20 && n != before; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        n = count_fds();
    }
    return n;
}

static bool try_once_inner(device_state *dev, int op, int mk, int kind, long n);

/* One try: operation op on model kind mk with the n-th call of `kind`
 * failing; true when the operation made fewer than n such calls (the loop
 * is done). Afterwards every OpenCL object it made is released and every
 * file it opened is closed. */
static bool try_once(device_state *dev, int op, int mk, int kind, long n)
{
    long live0[O_TYPES];
    memcpy(live0, live, sizeof live0);
    int fds0 = count_fds();
    bool done = try_once_inner(dev, op, mk, kind, n);
    for (int t = 0; t < O_TYPES; t++)
        if (live[t] != live0[t]) VIOLATION("%ld OpenCL %s object(s) more than before", live[t] - live0[t], object_names[t]);
    int fds = fds_after(fds0);
    if (fds != fds0) VIOLATION("%d file descriptor(s) open, %d before", fds, fds0);
    return done;
}

static bool try_once_inner(device_state *dev, int op, int mk, int kind, long n)
{
    snprintf(where, sizeof where, "%s, %s, %s, %s #%ld", dev->spec, model_names[mk], op_names[op], kind_names[kind], n);
    const fingerprint *clean = &dev->clean[mk];
    clg_status s = CLG_OK;
    bool done;

    if (op == OP_CONTEXT || op == OP_CONTEXT_NOCACHE) {
        clg_context *ctx = NULL;
        if (op == OP_CONTEXT_NOCACHE) setenv("CLGRAD_CACHE_DIR", "off", 1);
        arm(kind, n);
        s = clg_context_create(dev->spec, &ctx);
        disarm();
        setenv("CLGRAD_CACHE_DIR", cachedir, 1);
        done = fi.calls[kind] < n;
        if (s == CLG_OK && !done) {
            injected_ok[op][kind]++;
            fprintf(stderr, "note [%s]: succeeded although %s failed\n", where, fi.failed_fn);
        }
        if (s != CLG_OK) {
            if (!ctx && s != CLG_ERR_OUT_OF_MEMORY) VIOLATION("no context, status %s", clg_status_string(s));
            check_failure(ctx, s);
        } else {
            if (!ctx) VIOLATION("CLG_OK and no context");
            if (ctx->msg[0]) VIOLATION("CLG_OK with a message: %s", ctx->msg);
            /* whatever was skipped, the context works as a clean one */
            model m;
            build_clean(&m, ctx, mk);
            CHECK_OK(ctx, run(&m));
            fingerprint fp;
            take_fingerprint(&m, &fp);
            if (!same_fingerprint(&fp, clean)) VIOLATION("a context made despite a failure computes another step");
            clg_graph_destroy(m.g);
        }
        clg_context_destroy(ctx);
        goto out;
    }

    clg_context *ctx = dev->ctx;
    model m = {.kind = mk, .ctx = ctx};
    const char *path = NULL;
    char good[300], want[300];
    unsigned char *before = NULL, *expect = NULL;
    size_t before_len = 0, expect_len = 0;
    float tensors_before[FP_MAX];
    fingerprint fp_before = {0};
    clg_meta *meta = (clg_meta *)&meta; /* must come back NULL on failure */

    /* preconditions, clean */
    clear_error(ctx);
    if (op > OP_RECORD) CHECK_OK(ctx, record(&m));
    if (op > OP_BACKWARD) CHECK_OK(ctx, backward(&m));
    if (op > OP_OPTIMIZER) CHECK_OK(ctx, set_data(&m));
    if (op > OP_OPTIMIZER) CHECK_OK(ctx, optimizer(&m));
    if (op == OP_SAVE || op == OP_LOAD) {
        snprintf(good, sizeof good, "%s/model.safetensors", tmpdir);
        snprintf(want, sizeof want, "%s/expected.safetensors", tmpdir);
        path = good;
        CHECK_OK(ctx, run(&m));
        CHECK_OK(ctx, clg_checkpoint_save(m.g, good, meta_keys, meta_values, 2));
        before = slurp(good, &before_len);
        assert_non_null(before);
        CHECK_OK(ctx, run(&m)); /* other weights in the graph than in the file */
        if (op == OP_SAVE) {
            CHECK_OK(ctx, clg_checkpoint_save(m.g, want, meta_keys, meta_values, 2));
            expect = slurp(want, &expect_len);
            assert_non_null(expect);
            assert_int_equal(unlink(want), 0);
        }
        take_fingerprint(&m, &fp_before);
        memcpy(tensors_before, fp_before.v, sizeof tensors_before);
    }

    clear_error(ctx);
    arm(kind, n);
    switch (op) {
    case OP_RECORD_SOFT: m.soft = true; s = record(&m); break;
    case OP_RECORD: s = record(&m); break;
    case OP_BACKWARD: s = backward(&m); break;
    case OP_OPTIMIZER: s = optimizer(&m); break;
    case OP_RUN: s = run(&m); break;
    case OP_SAVE: s = clg_checkpoint_save(m.g, path, meta_keys, meta_values, 2); break;
    case OP_LOAD: s = clg_checkpoint_load(m.g, path, &meta); break;
    }
    disarm();
    done = fi.calls[kind] < n;

    if (s != CLG_OK) {
        check_failure(ctx, s);
        if (op <= OP_RECORD && !m.g) {
            /* clg_graph_create itself failed */
        } else if (op == OP_SAVE) {
            size_t len = 0;
            unsigned char *now = slurp(path, &len);
            if (!now || len != before_len || memcmp(now, before, len))
                VIOLATION("the failed save changed the previous file (%zu bytes, was %zu)", now ? len : 0, before_len);
            free(now);
            if (stray_files((const char *[]){"model.safetensors", "cache", NULL}))
                VIOLATION("the failed save left a file behind");
        } else if (op == OP_LOAD) {
            if (meta) VIOLATION("a failed load returned metadata");
            /* Only a load that fails before it writes can leave the graph
             * unchanged; an upload that fails half way cannot. */
            if (kind != K_ENQUEUE) {
                fingerprint fp;
                take_fingerprint(&m, &fp);
                if (memcmp(fp.v + 1, tensors_before + 1, (size_t)(fp.n - 1) * sizeof(float)))
                    VIOLATION("a load that failed before writing changed the graph's tensors");
            }
        } else if (op == OP_RUN) {
            int64_t step = -1;
            CHECK_OK(ctx, clg_optimizer_get_step(m.g, &step));
            if (step != 0) VIOLATION("a failed run counts as an optimizer step (step %lld)", (long long)step);
            clear_error(ctx);
            /* the CNN accumulates: drop what the failed run added, as the
             * header says to */
            clg_status r = m.kind == M_CNN ? clg_zero_grads(m.g) : CLG_OK;
            if (r == CLG_OK) r = run(&m);
            if (r != CLG_OK) VIOLATION("the graph does not run after a failed run: %s", clg_context_errmsg(ctx));
            /* A run that failed before the update phase changed no
             * parameter (batch norm's running statistics, yes): the retry
             * is the clean step. */
            fingerprint fp;
            take_fingerprint(&m, &fp);
            int nbn = m.bn.id >= 0 ? 6 : 0;
            if (r == CLG_OK && n <= dev->fb_enqueues[mk] &&
                (fp.n != clean->n || !same_values(fp.v, clean->v, fp.n - nbn)))
                VIOLATION("a run that failed before its update, then a retry, is not the clean step");
        } else {
            check_graph_after_failure(&m, op, clean);
        }
    } else {
        if (ctx->msg[0]) VIOLATION("CLG_OK with a message: %s", ctx->msg);
        if (!done) {
            injected_ok[op][kind]++;
            fprintf(stderr, "note [%s]: succeeded although %s failed\n", where, fi.failed_fn);
        }
        /* success, injected or not: the clean result */
        if (op == OP_SAVE) {
            size_t len = 0;
            unsigned char *now = slurp(path, &len);
            if (!now || len != expect_len || memcmp(now, expect, len))
                VIOLATION("a save that returned CLG_OK wrote another file than a clean save");
            free(now);
            if (stray_files((const char *[]){"model.safetensors", "cache", NULL})) VIOLATION("the save left a file behind");
        } else if (op == OP_LOAD) {
            fingerprint fp;
            take_fingerprint(&m, &fp);
            CHECK_OK(ctx, clg_checkpoint_save(m.g, want, meta_keys, meta_values, 2));
            size_t len = 0;
            unsigned char *now = slurp(want, &len);
            if (!now || len != before_len || memcmp(now, before, len))
                VIOLATION("a load that returned CLG_OK did not restore the file's tensors");
            free(now);
            unlink(want);
            if (!meta || clg_meta_count(meta) != 2 || strcmp(clg_meta_get(meta, "note") ? clg_meta_get(meta, "note") : "", "fault injection"))
                VIOLATION("a load that returned CLG_OK did not return the metadata");
        } else {
            if (op < OP_RUN) {
                if (op <= OP_RECORD) CHECK_OK(ctx, backward(&m));
                if (op <= OP_BACKWARD) CHECK_OK(ctx, optimizer(&m));
                if (op <= OP_OPTIMIZER) CHECK_OK(ctx, set_data(&m));
                CHECK_OK(ctx, run(&m));
            }
            fingerprint fp;
            take_fingerprint(&m, &fp);
            if (!same_fingerprint(&fp, clean)) VIOLATION("CLG_OK, but the step differs from a clean one");
        }
    }
    if (meta != (clg_meta *)&meta) clg_meta_destroy(meta);
    if (m.g) clg_graph_destroy(m.g);
    free(before);
    free(expect);
    if (path) unlink(path);

out:
    tries[op][kind]++;
    if (fi.calls[kind] > max_calls[op][kind]) max_calls[op][kind] = fi.calls[kind];
    return done;
}

static void inject_all(device_state *dev)
{
    for (int mk = 0; mk < M_COUNT; mk++) {
        model m;
        build_clean(&m, dev->ctx, mk);
        CHECK_OK(dev->ctx, run(&m));
        take_fingerprint(&m, &dev->clean[mk]);
        clg_graph_destroy(m.g);
        /* the comparisons are bitwise: a second clean build must match */
        fingerprint again;
        build_clean(&m, dev->ctx, mk);
        CHECK_OK(dev->ctx, run(&m));
        take_fingerprint(&m, &again);
        clg_graph_destroy(m.g);
        build_clean(&m, dev->ctx, mk);
        arm(K_NONE, 0);
        CHECK_OK(dev->ctx, clg_graph_run(m.g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
        disarm();
        dev->fb_enqueues[mk] = fi.calls[K_ENQUEUE];
        clg_graph_destroy(m.g);
        if (bitwise && !same_fingerprint(&again, &dev->clean[mk])) {
            fprintf(stderr, "%s, %s: two clean runs differ; results are compared within 1e-5\n", dev->spec,
                    model_names[mk]);
            bitwise = false;
        }
        if (!same_fingerprint(&again, &dev->clean[mk]))
            fail_msg("%s, %s: two clean runs differ by more than 1e-5", dev->spec, model_names[mk]);
    }
    for (int op = 0; op < OP_COUNT; op++)
        for (int mk = 0; mk < M_COUNT; mk++) {
            if ((op == OP_CONTEXT || op == OP_CONTEXT_NOCACHE) && mk != M_MLP) continue;
            for (int kind = 0; kind < K_KINDS; kind++) {
                if (!dev->opencl && (kind == K_DEVICE || kind == K_ENQUEUE)) continue;
                for (long n = 1; !try_once(dev, op, mk, kind, n); n++)
                    if (n == 100000) fail_msg("%s: %s still fails at N = %ld", dev->spec, op_names[op], n);
            }
        }
}

/* The redirection works: the library's own calls reach the wrappers. */
static void check_wrapping(device_state *dev)
{
    model m = {.kind = M_MLP, .ctx = dev->ctx};
    arm(K_NONE, 0);
    CHECK_OK(dev->ctx, record(&m));
    disarm();
    if (fi.calls[K_HOST] == 0) fail_msg("%s: no host allocation seen while recording: --wrap is not in effect", dev->spec);
    if (dev->opencl && fi.calls[K_DEVICE] == 0) fail_msg("%s: no clCreateBuffer seen while recording", dev->spec);
    if (dev->opencl && (live[O_CONTEXT] != 1 || live[O_KERNEL] == 0 || live[O_MEM] == 0))
        fail_msg("%s: the OpenCL objects of a context are not counted", dev->spec);
    CHECK_OK(dev->ctx, backward(&m));
    CHECK_OK(dev->ctx, optimizer(&m));
    CHECK_OK(dev->ctx, set_data(&m));
    CHECK_OK(dev->ctx, run(&m)); /* the first run prepares the graph: buffers by the plan */
    arm(K_NONE, 0);
    CHECK_OK(dev->ctx, run(&m));
    disarm();
    if (dev->opencl && fi.calls[K_ENQUEUE] == 0) fail_msg("%s: no enqueue seen in a run", dev->spec);
    /* a later run allocates nothing on the host (README: no allocation per step) */
    if (fi.calls[K_HOST] != 0) fail_msg("%s: a run made %ld host allocations", dev->spec, fi.calls[K_HOST]);
    clg_graph_destroy(m.g);
}

static void test_device(const char *spec)
{
    violations = 0;
    bitwise = true;
    device_state dev = {.spec = spec, .opencl = strcmp(spec, "reference") != 0};
    memset(tries, 0, sizeof tries);
    memset(max_calls, 0, sizeof max_calls);
    memset(injected_ok, 0, sizeof injected_ok);
    dev.ctx = open_ctx(spec);
    check_wrapping(&dev);
    inject_all(&dev);
    clg_context_destroy(dev.ctx);
    for (int t = 0; t < O_TYPES; t++)
        if (live[t]) VIOLATION("%ld OpenCL %s object(s) left after the last context", live[t], object_names[t]);
    fprintf(stderr, "%s: operation, kind: tries (most calls in one try; successes despite a failure)\n", spec);
    for (int op = 0; op < OP_COUNT; op++) {
        fprintf(stderr, "  %-15s", op_names[op]);
        for (int k = 0; k < K_KINDS; k++)
            if (tries[op][k]) fprintf(stderr, "  %s: %ld (%ld; %ld)", kind_names[k], tries[op][k], max_calls[op][k], injected_ok[op][k]);
        fprintf(stderr, "\n");
    }
}

static void test_reference(void **state)
{
    (void)state;
    test_device("reference");
    if (violations) fail_msg("%d violations (listed above)", violations);
}

static void test_opencl(void **state)
{
    (void)state;
    char specs[16][32];
    int n = test_opencl_devices(specs, 16);
    int total = 0;
    for (int i = 0; i < n; i++) {
        test_device(specs[i]);
        total += violations;
    }
    /* the program cache's stores that failed left nothing half written */
    DIR *d = opendir(cachedir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) {
            fprintf(stderr, "VIOLATION: the program cache holds a temporary file: %s\n", e->d_name);
            total++;
        }
    if (d) closedir(d);
    if (total) fail_msg("%d violations (listed above)", total);
}

/* ---- data files, without a context ------------------------------------ */

/* A failed data call: an error status and a message in err that names
 * the failure. */
static void check_data_failure(clg_status s, const char *err)
{
    if (!fi.failed_fn) {
        VIOLATION("failed with %s although no call was made to fail: %s", clg_status_string(s), err);
        return;
    }
    if (fi.kind == K_HOST && s != CLG_ERR_OUT_OF_MEMORY)
        VIOLATION("%s failed: status %s, want CLG_ERR_OUT_OF_MEMORY (%s)", fi.failed_fn, clg_status_string(s), err);
    if (!err[0]) VIOLATION("%s failed with %s and no message", fi.failed_fn, clg_status_string(s));
    else if (!message_names_failure(err))
        VIOLATION("%s failed with %s; the message does not say so: %s", fi.failed_fn, clg_status_string(s), err);
}

static bool same_array(const clg_array *a, const clg_array *b)
{
    return a->type == b->type && a->ndim == b->ndim && a->numel == b->numel &&
           !memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) &&
           !memcmp(a->data, b->data, (size_t)a->numel * clg_elem_size(a->type));
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

enum { D_NPY_WRITE, D_NPY_READ, D_IDX_READ, D_IDX_READ_GZ, D_IDX_READ_MEM_GZ, D_ST_READ, D_ST_READ_MEM, D_LOADER,
       D_CONVERT, D_COUNT };
static const char *const data_op_names[D_COUNT] = {"npy write", "npy read", "idx read", "idx read (gzip)",
                                                   "idx read_mem (gzip)", "safetensors read", "safetensors read_mem",
                                                   "loader", "convert"};

typedef struct data_env {
    clg_array *a, *b;               /* f32 [3,5]: the file's, then other values */
    clg_array *u8;                  /* u8 [2,3,4]: the IDX files' */
    char npy[300], idx[300], idxgz[300], st[300];
    unsigned char *gz, *stbuf;      /* the gzip'd IDX file and the safetensors file, in memory */
    size_t gz_len, st_len;
    float mean[5], std[5];          /* a clean loader's statistics of a */
} data_env;

/* a as 3 samples of 5 values, statistics computed */
static const clg_loader_options loader_options = {.batch_size = 2, .seed = 3, .shuffle = 1,
                                                  .normalize = CLG_NORMALIZE_COMPUTE};

/* One try of data operation op; true when it made fewer than n calls. */
static bool data_try(data_env *e, int op, int kind, long n)
{
    snprintf(where, sizeof where, "data, %s, %s #%ld", data_op_names[op], kind_names[kind], n);
    char err[1024] = "";
    clg_array *out = NULL;
    clg_safetensors *st = NULL;
    clg_loader *l = NULL;
    clg_status s = CLG_OK;
    size_t before_len = 0;
    unsigned char *before = NULL;
    int fds0 = count_fds();
    if (op == D_NPY_WRITE) before = slurp(e->npy, &before_len);
    const clg_loader_options lo = loader_options;

    arm(kind, n);
    switch (op) {
    case D_NPY_WRITE: s = clg_npy_write(e->npy, e->b, err, sizeof err); break;
    case D_NPY_READ: s = clg_npy_read(e->npy, &out, err, sizeof err); break;
    case D_IDX_READ: s = clg_idx_read(e->idx, &out, err, sizeof err); break;
    case D_IDX_READ_GZ: s = clg_idx_read(e->idxgz, &out, err, sizeof err); break;
    case D_IDX_READ_MEM_GZ: s = clg_idx_read_mem(e->gz, e->gz_len, &out, err, sizeof err); break;
    case D_ST_READ: s = clg_safetensors_read(e->st, &st, err, sizeof err); break;
    case D_ST_READ_MEM: s = clg_safetensors_read_mem(e->stbuf, e->st_len, &st, err, sizeof err); break;
    case D_LOADER: s = clg_loader_create(e->a, NULL, &lo, &l, err, sizeof err); break;
    case D_CONVERT: s = clg_array_convert(e->u8, CLG_ELEM_F32, &out, err, sizeof err); break;
    }
    disarm();
    bool done = fi.calls[kind] < n;

    if (s != CLG_OK) {
        check_data_failure(s, err);
        if (out || st || l) VIOLATION("a failed call returned an object");
        if (op == D_NPY_WRITE) {
            size_t len = 0;
            unsigned char *now = slurp(e->npy, &len);
            if (!now || len != before_len || memcmp(now, before, len))
                VIOLATION("the failed write changed the previous file");
            free(now);
            if (stray_files((const char *[]){"a.npy", "a.idx", "a.idx.gz", "a.safetensors", "cache", NULL}))
                VIOLATION("the failed write left a file behind");
        }
    } else {
        if (!done) {
            fprintf(stderr, "note [%s]: succeeded although %s failed\n", where, fi.failed_fn);
        }
        switch (op) {
        case D_NPY_WRITE: {
            clg_array *back = NULL;
            CHECK_OK(NULL, clg_npy_read(e->npy, &back, err, sizeof err));
            if (!same_array(back, e->b)) VIOLATION("a write that returned CLG_OK wrote other values");
            clg_array_destroy(back);
            /* the next try overwrites a's file again */
            CHECK_OK(NULL, clg_npy_write(e->npy, e->a, err, sizeof err));
            break;
        }
        case D_NPY_READ:
            if (!same_array(out, e->a)) VIOLATION("CLG_OK, but other values");
            break;
        case D_IDX_READ:
        case D_IDX_READ_GZ:
        case D_IDX_READ_MEM_GZ:
            if (!same_array(out, e->u8)) VIOLATION("CLG_OK, but other values");
            break;
        case D_ST_READ:
        case D_ST_READ_MEM:
            if (clg_safetensors_count(st) != 1 || !same_array(clg_safetensors_get(st, 0), e->a) ||
                !clg_meta_get(clg_safetensors_meta(st), "k") || strcmp(clg_meta_get(clg_safetensors_meta(st), "k"), "v"))
                VIOLATION("CLG_OK, but another file");
            break;
        case D_LOADER: {
            float mean[5], std[5];
            CHECK_OK(NULL, clg_loader_stats(l, mean, std));
            if (memcmp(mean, e->mean, sizeof mean) || memcmp(std, e->std, sizeof std))
                VIOLATION("CLG_OK, but other statistics");
            break;
        }
        case D_CONVERT:
            for (int64_t i = 0; i < out->numel; i++)
                if (((float *)out->data)[i] != (float)((unsigned char *)e->u8->data)[i])
                    VIOLATION("CLG_OK, but value %lld differs", (long long)i);
            break;
        }
    }
    clg_array_destroy(out);
    clg_safetensors_destroy(st);
    clg_loader_destroy(l);
    free(before);
    int fds = fds_after(fds0);
    if (fds != fds0) VIOLATION("%d file descriptor(s) open, %d before", fds, fds0);
    return done;
}

static void test_data_files(void **state)
{
    (void)state;
    violations = 0;
    data_env e = {0};
    char err[512];
    const int64_t shape[2] = {3, 5}, ushape[3] = {2, 3, 4};
    CHECK_OK(NULL, clg_array_create(CLG_ELEM_F32, 2, shape, &e.a, err, sizeof err));
    CHECK_OK(NULL, clg_array_create(CLG_ELEM_F32, 2, shape, &e.b, err, sizeof err));
    CHECK_OK(NULL, clg_array_create(CLG_ELEM_U8, 3, ushape, &e.u8, err, sizeof err));
    rng_t r = {11};
    rng_fill(&r, e.a->data, 15, 0.5, 3.0, false);
    rng_fill(&r, e.b->data, 15, 0.5, 3.0, false);
    for (int i = 0; i < 24; i++) ((unsigned char *)e.u8->data)[i] = (unsigned char)(i * 7);

    snprintf(e.npy, sizeof e.npy, "%s/a.npy", tmpdir);
    snprintf(e.idx, sizeof e.idx, "%s/a.idx", tmpdir);
    snprintf(e.idxgz, sizeof e.idxgz, "%s/a.idx.gz", tmpdir);
    snprintf(e.st, sizeof e.st, "%s/a.safetensors", tmpdir);
    CHECK_OK(NULL, clg_npy_write(e.npy, e.a, err, sizeof err));
    unsigned char idx[4 + 12 + 24] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(idx + 16, e.u8->data, 24);
    write_file(e.idx, idx, sizeof idx);
    gzFile gz = gzopen(e.idxgz, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, idx, sizeof idx), (int)sizeof idx);
    assert_int_equal(gzclose(gz), Z_OK);
    e.gz = slurp(e.idxgz, &e.gz_len);
    assert_non_null(e.gz);
    clg_meta *meta;
    CHECK_OK(NULL, clg_meta_create(&meta));
    CHECK_OK(NULL, clg_meta_set(meta, "k", "v"));
    const char *names[1] = {"t"};
    const clg_array *arrays[1] = {e.a};
    CHECK_OK(NULL, clg_safetensors_write(e.st, 1, names, arrays, meta, err, sizeof err));
    clg_meta_destroy(meta);
    e.stbuf = slurp(e.st, &e.st_len);
    assert_non_null(e.stbuf);
    clg_loader *l;
    CHECK_OK(NULL, clg_loader_create(e.a, NULL, &loader_options, &l, err, sizeof err));
    CHECK_OK(NULL, clg_loader_stats(l, e.mean, e.std));
    clg_loader_destroy(l);

    for (int op = 0; op < D_COUNT; op++)
        for (int kind = 0; kind < K_KINDS; kind++) {
            if (kind == K_DEVICE || kind == K_ENQUEUE) continue;
            long n = 1;
            while (!data_try(&e, op, kind, n))
                if (++n == 100000) fail_msg("%s still fails at N = %ld", data_op_names[op], n);
            fprintf(stderr, "data: %-20s %s: %ld tries\n", data_op_names[op], kind_names[kind], n);
        }

    unlink(e.npy);
    unlink(e.idx);
    unlink(e.idxgz);
    unlink(e.st);
    free(e.gz);
    free(e.stbuf);
    clg_array_destroy(e.a);
    clg_array_destroy(e.b);
    clg_array_destroy(e.u8);
    if (violations) fail_msg("%d violations (listed above)", violations);
}

/* A folder of its own for the files, and for the cache of built programs,
 * whose loads and stores fail too (best effort: a context is made anyway). */
static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/clgrad-fault-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(cachedir, sizeof cachedir, "%s/cache", tmpdir);
    return setenv("CLGRAD_CACHE_DIR", cachedir, 1);
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(cachedir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[600];
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", cachedir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(cachedir);
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_opencl),
        cmocka_unit_test(test_data_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
