/*
 * clgrad inside an application that owns its OpenCL objects
 * (include/clgrad_opencl.h), on every OpenCL device:
 *  - the application makes its context and queue, fills clgrad's input
 *    and its own target buffer with its own kernel, trains a linear model
 *    through clgrad with no host copy of the data, and reads the learnt
 *    weights with its own kernel; its objects' reference counts are back
 *    where they were once the clgrad context is gone, and its queue works;
 *  - events: a run waits for the application's event on another queue
 *    (held back by a user event, so that the order is forced, not lucky),
 *    and the application's read waits for the run's event;
 *  - a leaf bound at an offset in a larger buffer;
 *  - refusals, each changing nothing: an out-of-order queue, a queue of
 *    another context, a buffer too small, read-only, of another context or
 *    at an unaligned offset, an op's output, a pooled intermediate, the
 *    reference backend, timing on a queue without profiling.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "util.h"

#define CL_TARGET_OPENCL_VERSION 120
#include <clgrad_opencl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEV 8
enum { N = 96, D = 5 };

/* The application's kernels: data (x uniform in [-1, 1] from a hash of
 * the index, y = x . w_true + 0.25), and a copy of clgrad's weights. */
static const char *app_source =
    "float u(uint i) { i ^= i >> 16; i *= 0x7feb352dU; i ^= i >> 15; i *= 0x846ca68bU; i ^= i >> 16;\n"
    "                  return (float)(i & 0xffffff) / 8388608.0f - 1.0f; }\n"
    "float w_true(int j) { return 0.5f * (j + 1) - 1.0f; }\n"
    "__kernel void make_x(__global float *x, int n, int d) {\n"
    "    int i = get_global_id(0); if (i < n * d) x[i] = u((uint)i + 1u); }\n"
    "__kernel void make_y(__global float *y, int n, int d) {\n"
    "    int r = get_global_id(0); if (r >= n) return;\n"
    "    float s = 0.25f; for (int j = 0; j < d; j++) s += u((uint)(r * d + j) + 1u) * w_true(j);\n"
    "    y[r] = s; }\n"
    "__kernel void copy(__global const float *src, __global float *dst, int n) {\n"
    "    int i = get_global_id(0); if (i < n) dst[i] = src[i]; }\n";

typedef struct app {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel make_x, make_y, copy;
} app;

static float w_true(int j)
{
    return 0.5f * (float)(j + 1) - 1.0f;
}

/* The application's own setup on device spec "P:D", as a program that
 * knows nothing of clgrad would write it. */
static void app_open(const char *spec, cl_command_queue_properties props, app *a)
{
    int p = -1, d = -1;
    assert_int_equal(sscanf(spec, "%d:%d", &p, &d), 2);
    cl_platform_id plats[16];
    cl_uint np = 0;
    assert_int_equal(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    assert_true(p >= 0 && (cl_uint)p < np);
    cl_device_id devs[16];
    cl_uint nd = 0;
    assert_int_equal(clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd), CL_SUCCESS);
    assert_true(d >= 0 && (cl_uint)d < nd);
    memset(a, 0, sizeof *a);
    a->platform = plats[p];
    a->device = devs[d];
    cl_int err;
    cl_context_properties cp[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)a->platform, 0};
    a->context = clCreateContext(cp, 1, &a->device, NULL, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    a->queue = clCreateCommandQueue(a->context, a->device, props, &err);
    assert_int_equal(err, CL_SUCCESS);
    a->program = clCreateProgramWithSource(a->context, 1, &app_source, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    assert_int_equal(clBuildProgram(a->program, 1, &a->device, "", NULL, NULL), CL_SUCCESS);
    a->make_x = clCreateKernel(a->program, "make_x", &err);
    assert_int_equal(err, CL_SUCCESS);
    a->make_y = clCreateKernel(a->program, "make_y", &err);
    assert_int_equal(err, CL_SUCCESS);
    a->copy = clCreateKernel(a->program, "copy", &err);
    assert_int_equal(err, CL_SUCCESS);
}

static void app_close(app *a)
{
    clReleaseKernel(a->make_x);
    clReleaseKernel(a->make_y);
    clReleaseKernel(a->copy);
    clReleaseProgram(a->program);
    clReleaseCommandQueue(a->queue);
    clReleaseContext(a->context);
}

/* kernel(buf, n, d) on queue q, one work-item per element; *ev if given. */
static void app_fill(cl_command_queue q, cl_kernel k, cl_mem buf, size_t items, cl_uint nwait, const cl_event *wait,
                     cl_event *ev)
{
    cl_int n = N, d = D;
    assert_int_equal(clSetKernelArg(k, 0, sizeof buf, &buf), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(k, 1, sizeof n, &n), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(k, 2, sizeof d, &d), CL_SUCCESS);
    assert_int_equal(clEnqueueNDRangeKernel(q, k, 1, NULL, &items, NULL, nwait, wait, ev), CL_SUCCESS);
}

static void app_copy(app *a, cl_command_queue q, cl_mem src, cl_mem dst, int n, cl_uint nwait, const cl_event *wait)
{
    size_t items = (size_t)n;
    cl_int cn = n;
    assert_int_equal(clSetKernelArg(a->copy, 0, sizeof src, &src), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(a->copy, 1, sizeof dst, &dst), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(a->copy, 2, sizeof cn, &cn), CL_SUCCESS);
    assert_int_equal(clEnqueueNDRangeKernel(q, a->copy, 1, NULL, &items, NULL, nwait, wait, NULL), CL_SUCCESS);
}

static cl_uint refs_context(cl_context c)
{
    cl_uint r = 0;
    assert_int_equal(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof r, &r, NULL), CL_SUCCESS);
    return r;
}

static cl_uint refs_queue(cl_command_queue q)
{
    cl_uint r = 0;
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof r, &r, NULL), CL_SUCCESS);
    return r;
}

static cl_uint refs_mem(cl_mem m)
{
    cl_uint r = 0;
    assert_int_equal(clGetMemObjectInfo(m, CL_MEM_REFERENCE_COUNT, sizeof r, &r, NULL), CL_SUCCESS);
    return r;
}

/* Waits (up to a second) for the reference counts to come back to rc, rq
 * and rm, then asserts them: PoCL drops its finished commands' references
 * to the queue and buffers from its own threads, a little later; a
 * reference clgrad kept would never go. */
static void settle(cl_context c, cl_command_queue q, cl_mem m, cl_uint rc, cl_uint rq, cl_uint rm)
{
    for (int i = 0; i < 100 && (refs_context(c) != rc || refs_queue(q) != rq || refs_mem(m) != rm); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(refs_context(c), rc);
    assert_int_equal(refs_queue(q), rq);
    assert_int_equal(refs_mem(m), rm);
}

/* The linear model: x [N, D] input, y [N, 1] input, w [D, 1], b [1]. */
typedef struct model {
    clg_graph *g;
    clg_tensor x, y, w, b, product, pred, loss;
} model;

static void build(clg_context *ctx, model *m, bool train)
{
    const int64_t xs[2] = {N, D}, ys[2] = {N, 1}, ws[2] = {D, 1}, bs = 1;
    CHECK_OK(ctx, clg_graph_create(ctx, &m->g));
    m->x = clg_input(m->g, 2, xs);
    m->y = clg_input(m->g, 2, ys);
    m->w = clg_param(m->g, 2, ws);
    m->b = clg_param(m->g, 1, &bs);
    m->product = clg_matmul(m->g, m->x, m->w, 0, 0);
    m->pred = clg_add(m->g, m->product, m->b);
    m->loss = clg_mse_loss(m->g, m->pred, m->y);
    CHECK_OK(ctx, clg_tensor_keep(m->g, m->pred));
    if (train) {
        CHECK_OK(ctx, clg_backward(m->g, m->loss));
        clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        cfg.lr = 0.05f;
        CHECK_OK(ctx, clg_optimizer(m->g, &cfg));
    }
    CHECK_OK(ctx, clg_graph_status(m->g));
}

static void test_train_on_application_buffers(void **state)
{
    char specs[MAX_DEV][32];
    int nd = test_opencl_devices(specs, MAX_DEV);
    for (int k = 0; k < nd; k++) {
        app a;
        app_open(specs[k], 0, &a); /* in order, no profiling */
        cl_int err;
        cl_mem ybuf = clCreateBuffer(a.context, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        cl_mem out = clCreateBuffer(a.context, CL_MEM_READ_WRITE, D * sizeof(float), NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        /* the counts to come back to, taken after commands of the
         * application's own on each of its buffers: PoCL keeps each
         * buffer's last command, which holds a reference to its queue,
         * until the buffer's next command */
        app_fill(a.queue, a.make_y, ybuf, N, 0, NULL, NULL);
        app_copy(&a, a.queue, ybuf, out, D, 0, NULL);
        assert_int_equal(clFinish(a.queue), CL_SUCCESS);
        const cl_uint rc = refs_context(a.context), rq = refs_queue(a.queue), rm = refs_mem(ybuf);

        clg_context *ctx = NULL;
        CHECK_OK(ctx, clg_context_create_opencl(a.context, a.device, a.queue, NULL, &ctx));
        assert_true(refs_context(a.context) > rc);
        assert_true(refs_queue(a.queue) > rq);
        assert_non_null(strstr(clg_context_device(ctx), "the application's context"));
        cl_context c2;
        cl_device_id d2;
        cl_command_queue q2;
        CHECK_OK(ctx, clg_context_get_opencl(ctx, &c2, &d2, &q2));
        assert_true(c2 == a.context && d2 == a.device && q2 == a.queue);

        model m;
        build(ctx, &m, true);
        /* x: clgrad's buffer, written by the application's kernel */
        cl_mem xbuf = NULL;
        size_t off = 1;
        CHECK_OK(ctx, clg_tensor_get_opencl(m.g, m.x, &xbuf, &off));
        assert_non_null(xbuf);
        assert_int_equal(off, 0);
        app_fill(a.queue, a.make_x, xbuf, N * D, 0, NULL, NULL);
        /* y: the application's buffer, as clgrad's input */
        app_fill(a.queue, a.make_y, ybuf, N, 0, NULL, NULL);
        CHECK_OK(ctx, clg_tensor_bind_opencl(m.g, m.y, ybuf, 0));
        assert_true(refs_mem(ybuf) > rm);
        /* no queue profiling: timing is refused, and nothing runs */
        double secs = -1;
        const uint64_t before = clg_context_launches(ctx);
        assert_int_equal(clg_graph_run_timed(m.g, CLG_RUN_ALL, &secs), CLG_ERR_UNSUPPORTED);
        assert_non_null(strstr(clg_context_errmsg(ctx), "CL_QUEUE_PROFILING_ENABLE"));
        assert_true(clg_context_launches(ctx) == before);
        for (int step = 0; step < 400; step++) CHECK_OK(ctx, clg_graph_run(m.g, CLG_RUN_ALL));
        clg_graph_wait(m.g);
        CHECK_OK(ctx, clg_graph_run(m.g, CLG_RUN_FORWARD));
        /* the weights, read by the application's kernel, in order on its queue */
        cl_mem wbuf = NULL;
        CHECK_OK(ctx, clg_tensor_get_opencl(m.g, m.w, &wbuf, NULL));
        app_copy(&a, a.queue, wbuf, out, D, 0, NULL);
        float w[D], loss = -1;
        assert_int_equal(clEnqueueReadBuffer(a.queue, out, CL_TRUE, 0, sizeof w, w, 0, NULL, NULL), CL_SUCCESS);
        for (int j = 0; j < D; j++)
            if (fabsf(w[j] - w_true(j)) > 2e-2f)
                fail_msg("%s: w[%d] = %g, want %g (y = x . w + 0.25, Adam, 400 steps)", specs[k], j, w[j], w_true(j));
        CHECK_OK(ctx, clg_tensor_get(m.g, m.loss, &loss, 1));
        if (!(loss < 1e-3f)) fail_msg("%s: loss %g after 400 steps", specs[k], loss);

        clg_context_destroy(ctx);
        /* the application's queue and buffers still work (and their last
         * commands are the application's again, as when counted) */
        app_fill(a.queue, a.make_y, ybuf, N, 0, NULL, NULL);
        app_copy(&a, a.queue, ybuf, out, D, 0, NULL);
        assert_int_equal(clFinish(a.queue), CL_SUCCESS);
        settle(a.context, a.queue, ybuf, rc, rq, rm);
        clReleaseMemObject(out);
        clReleaseMemObject(ybuf);
        app_close(&a);
    }
}

static void test_events(void **state)
{
    char specs[MAX_DEV][32];
    int nd = test_opencl_devices(specs, MAX_DEV);
    for (int k = 0; k < nd; k++) {
        app a;
        app_open(specs[k], 0, &a);
        cl_int err;
        clg_context *ctx = NULL;
        /* no queue given: clgrad makes its own (with profiling) in the application's context */
        CHECK_OK(ctx, clg_context_create_opencl(a.context, a.device, NULL, NULL, &ctx));
        cl_command_queue own;
        CHECK_OK(ctx, clg_context_get_opencl(ctx, NULL, NULL, &own));
        assert_true(own != a.queue);
        model m;
        build(ctx, &m, false);
        const float w[D] = {1, -2, 0.5f, 3, -1}, b = 0.5f;
        CHECK_OK(ctx, clg_tensor_set(m.g, m.w, w, D));
        CHECK_OK(ctx, clg_tensor_set(m.g, m.b, &b, 1));
        CHECK_OK(ctx, clg_graph_prepare(m.g));
        cl_mem xbuf, pbuf;
        CHECK_OK(ctx, clg_tensor_get_opencl(m.g, m.x, &xbuf, NULL));
        CHECK_OK(ctx, clg_tensor_get_opencl(m.g, m.pred, &pbuf, NULL));
        cl_mem out = clCreateBuffer(a.context, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
        assert_int_equal(err, CL_SUCCESS);

        /* the application's fill waits for a user event it holds back */
        cl_event gate = clCreateUserEvent(a.context, &err), filled, done = NULL;
        assert_int_equal(err, CL_SUCCESS);
        app_fill(a.queue, a.make_x, xbuf, N * D, 1, &gate, &filled);
        assert_int_equal(clFlush(a.queue), CL_SUCCESS);
        CHECK_OK(ctx, clg_graph_run_opencl(m.g, CLG_RUN_FORWARD, 1, &filled, &done));
        assert_non_null(done);
        app_copy(&a, a.queue, pbuf, out, N, 1, &done);
        cl_int status = CL_QUEUED;
        assert_int_equal(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL),
                         CL_SUCCESS);
        if (status == CL_COMPLETE) fail_msg("%s: the run finished before the event it waits for", specs[k]);
        assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
        float pred[N];
        assert_int_equal(clEnqueueReadBuffer(a.queue, out, CL_TRUE, 0, sizeof pred, pred, 0, NULL, NULL), CL_SUCCESS);
        float x[N * D];
        CHECK_OK(ctx, clg_tensor_get(m.g, m.x, x, N * D));
        for (int r = 0; r < N; r++) {
            double want = b;
            for (int j = 0; j < D; j++) want += (double)x[r * D + j] * w[j];
            if (fabs(pred[r] - want) > 1e-5 * (1 + fabs(want)))
                fail_msg("%s: row %d: %g, want %g", specs[k], r, pred[r], want);
        }
        /* profiling on clgrad's own queue: a run can be timed */
        double secs = -1;
        CHECK_OK(ctx, clg_graph_run_timed(m.g, CLG_RUN_FORWARD, &secs));
        assert_true(secs >= 0);
        /* a wait list and its count must agree; a refused run gives no event */
        cl_event none = (cl_event)1;
        assert_int_equal(clg_graph_run_opencl(m.g, CLG_RUN_FORWARD, 1, NULL, &none), CLG_ERR_INVALID_ARGUMENT);
        assert_null(none);
        assert_int_equal(clg_graph_run_opencl(m.g, 0, 0, NULL, NULL), CLG_ERR_INVALID_ARGUMENT);
        clReleaseEvent(done);
        clReleaseEvent(filled);
        clReleaseEvent(gate);
        clReleaseMemObject(out);
        clg_context_destroy(ctx);
        app_close(&a);
    }
}

/* A parameter stored at an aligned offset inside the application's
 * buffer: clgrad's writes land there, the bytes around it stay. */
static void test_bind_at_offset(void **state)
{
    char specs[MAX_DEV][32];
    int nd = test_opencl_devices(specs, MAX_DEV);
    for (int k = 0; k < nd; k++) {
        app a;
        app_open(specs[k], 0, &a);
        cl_uint align_bits = 0;
        assert_int_equal(clGetDeviceInfo(a.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL),
                         CL_SUCCESS);
        const size_t off = align_bits / 8, total = off + D * sizeof(float) + 64;
        float *init = malloc(total);
        assert_non_null(init);
        for (size_t i = 0; i < total / sizeof(float); i++) init[i] = -7.0f;
        cl_int err;
        cl_mem big = clCreateBuffer(a.context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, total, init, &err);
        assert_int_equal(err, CL_SUCCESS);
        clg_context *ctx = NULL;
        CHECK_OK(ctx, clg_context_create_opencl(a.context, a.device, a.queue, NULL, &ctx));
        model m;
        build(ctx, &m, false);
        CHECK_OK(ctx, clg_tensor_bind_opencl(m.g, m.w, big, off));
        float w[D], got[D];
        for (int j = 0; j < D; j++) w[j] = -7.0f;
        CHECK_OK(ctx, clg_tensor_get(m.g, m.w, got, D)); /* the buffer's contents, not clgrad's old zeros */
        assert_memory_equal(got, w, sizeof w);
        for (int j = 0; j < D; j++) w[j] = (float)j + 0.5f;
        CHECK_OK(ctx, clg_tensor_set(m.g, m.w, w, D));
        float *back = malloc(total);
        assert_non_null(back);
        assert_int_equal(clEnqueueReadBuffer(a.queue, big, CL_TRUE, 0, total, back, 0, NULL, NULL), CL_SUCCESS);
        assert_memory_equal((char *)back + off, w, sizeof w);
        for (size_t i = 0; i < off / sizeof(float); i++) assert_true(back[i] == -7.0f);
        for (size_t i = (off + sizeof w) / sizeof(float); i < total / sizeof(float); i++) assert_true(back[i] == -7.0f);
        clg_context_destroy(ctx);
        free(back);
        free(init);
        clReleaseMemObject(big);
        app_close(&a);
    }
}

#define REFUSED(ctx, call, status, text)                                                            \
    do {                                                                                           \
        clg_status s_ = (call);                                                                    \
        if (s_ != (status))                                                                        \
            fail_msg("%s -> %s, want %s (%s)", #call, clg_status_string(s_), clg_status_string(status), \
                     clg_context_errmsg(ctx));                                                     \
        if (!strstr(clg_context_errmsg(ctx), (text)))                                              \
            fail_msg("%s: message \"%s\" does not say \"%s\"", #call, clg_context_errmsg(ctx), (text)); \
    } while (0)

static void test_refusals(void **state)
{
    char specs[MAX_DEV][32];
    int nd = test_opencl_devices(specs, MAX_DEV);
    for (int k = 0; k < nd; k++) {
        app a, other;
        app_open(specs[k], 0, &a);
        app_open(specs[k], 0, &other); /* a second context on the same device */
        cl_int err;
        clg_context *ctx = NULL;
        /* out of order, where the device offers it */
        cl_command_queue_properties props = 0;
        clGetDeviceInfo(a.device, CL_DEVICE_QUEUE_PROPERTIES, sizeof props, &props, NULL);
        if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
            cl_command_queue ooo =
                clCreateCommandQueue(a.context, a.device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
            assert_int_equal(err, CL_SUCCESS);
            REFUSED(ctx, clg_context_create_opencl(a.context, a.device, ooo, NULL, &ctx), CLG_ERR_INVALID_ARGUMENT,
                    "out of order");
            clg_context_destroy(ctx);
            clReleaseCommandQueue(ooo);
        }
        ctx = NULL;
        REFUSED(ctx, clg_context_create_opencl(a.context, a.device, other.queue, NULL, &ctx), CLG_ERR_INVALID_ARGUMENT,
                "another context");
        clg_context_destroy(ctx);
        ctx = NULL;
        REFUSED(ctx, clg_context_create_opencl(a.context, NULL, NULL, NULL, &ctx), CLG_ERR_INVALID_ARGUMENT,
                "the device is NULL");
        clg_context_destroy(ctx);

        CHECK_OK(ctx, clg_context_create_opencl(a.context, a.device, a.queue, NULL, &ctx));
        model m;
        build(ctx, &m, false);
        const float w[D] = {1, 2, 3, 4, 5};
        CHECK_OK(ctx, clg_tensor_set(m.g, m.w, w, D));
        cl_mem small = clCreateBuffer(a.context, CL_MEM_READ_WRITE, (D - 1) * sizeof(float), NULL, &err);
        cl_mem ro = clCreateBuffer(a.context, CL_MEM_READ_ONLY, D * sizeof(float), NULL, &err);
        cl_mem foreign = clCreateBuffer(other.context, CL_MEM_READ_WRITE, D * sizeof(float), NULL, &err);
        cl_mem big = clCreateBuffer(a.context, CL_MEM_READ_WRITE, 4096, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.w, small, 0), CLG_ERR_SHAPE, "needs 20 bytes");
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.w, ro, 0), CLG_ERR_INVALID_ARGUMENT, "CL_MEM_READ_ONLY");
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.w, foreign, 0), CLG_ERR_INVALID_ARGUMENT, "another cl_context");
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.w, big, 4), CLG_ERR_INVALID_ARGUMENT, "alignment");
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.w, NULL, 0), CLG_ERR_INVALID_ARGUMENT, "mem is NULL");
        REFUSED(ctx, clg_tensor_bind_opencl(m.g, m.pred, big, 0), CLG_ERR_INVALID_ARGUMENT, "not a leaf");
        /* each refusal changed nothing: w still holds its values, in its own buffer */
        float got[D];
        CHECK_OK(ctx, clg_tensor_get(m.g, m.w, got, D));
        assert_memory_equal(got, w, sizeof w);
        cl_mem wbuf;
        CHECK_OK(ctx, clg_tensor_get_opencl(m.g, m.w, &wbuf, NULL));
        assert_true(wbuf != small && wbuf != ro && wbuf != foreign && wbuf != big);
        /* an intermediate whose memory others reuse has no buffer to give */
        cl_mem none = NULL;
        REFUSED(ctx, clg_tensor_get_opencl(m.g, m.product, &none, NULL), CLG_ERR_STATE, "clg_tensor_keep");
        assert_null(none);
        clg_context_destroy(ctx);

        /* the reference backend has no OpenCL objects */
        clg_context *ref = open_ctx("reference");
        model r;
        build(ref, &r, false);
        REFUSED(ref, clg_tensor_get_opencl(r.g, r.x, &none, NULL), CLG_ERR_UNSUPPORTED, "reference");
        REFUSED(ref, clg_tensor_bind_opencl(r.g, r.x, big, 0), CLG_ERR_UNSUPPORTED, "not on OpenCL");
        REFUSED(ref, clg_graph_run_opencl(r.g, CLG_RUN_FORWARD, 0, NULL, NULL), CLG_ERR_UNSUPPORTED, "reference");
        REFUSED(ref, clg_context_get_opencl(ref, NULL, NULL, NULL), CLG_ERR_UNSUPPORTED, "reference");
        clg_context_destroy(ref);

        clReleaseMemObject(small);
        clReleaseMemObject(ro);
        clReleaseMemObject(foreign);
        clReleaseMemObject(big);
        app_close(&other);
        app_close(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_on_application_buffers),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_bind_at_offset),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
