/*
 * The shape family: reshape, permute/transpose, slice, concat.
 *  - forward of the reference against the op's definition, written again
 *    here with explicit 4-D indices (so that the library is not checked
 *    against its own index arithmetic);
 *  - gc_check_fd: gradients of the double reference against central finite
 *    differences, then the float reference against the double one, on
 *    small shapes (1x1, 3x5, 2x3x4x5);
 *  - gc_check_devices: each OpenCL device against the reference, forward
 *    and backward, on those and on 17x33x65 (a size no work-group divides).
 * Tolerances: gc_default_tol throughout. These ops only move values (and
 * write zeros), so device and reference agree exactly; the default's
 * slack is never used, and nothing needs a looser bound.
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { RESHAPE, PERMUTE, TRANSPOSE, SLICE, CONCAT } op_kind;

typedef struct {
    op_kind op;
    int ndim;              /* reshape target */
    int64_t shape[4];      /* reshape target */
    int perm[4];           /* permute */
    int axis, axis1;       /* transpose: axis, axis1; slice, concat: axis */
    int64_t start, length; /* slice */
} shape_case;

static clg_tensor build_op(clg_graph *g, const clg_tensor *in, void *arg)
{
    const shape_case *c = arg;
    switch (c->op) {
    case RESHAPE: return clg_reshape(g, in[0], c->ndim, c->shape);
    case PERMUTE: return clg_permute(g, in[0], c->perm);
    case TRANSPOSE: return clg_transpose(g, in[0], c->axis, c->axis1);
    case SLICE: return clg_slice(g, in[0], c->axis, c->start, c->length);
    case CONCAT: return clg_concat(g, in[0], in[1], c->axis);
    }
    return CLG_NO_TENSOR;
}

static gc_input param_of(int ndim, const int64_t *shape)
{
    gc_input in = {.ndim = ndim, .param = true, .lo = 0.1, .hi = 4};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    return in;
}

static void check(const char *name, shape_case c, const gc_input *in, int nin, bool fd, uint64_t seed)
{
    if (fd) gc_check_fd(name, build_op, &c, in, nin, &gc_default_tol, seed);
    gc_check_devices(name, build_op, &c, in, nin, &gc_default_tol, seed);
}

/* ---- the definitions, with explicit indices ---- */

typedef struct {
    int64_t d[4]; /* extents padded to 4-D on the left */
} dims4;

static dims4 pad4(int ndim, const int64_t *shape)
{
    dims4 r = {{1, 1, 1, 1}};
    for (int k = 0; k < ndim; k++) r.d[4 - ndim + k] = shape[k];
    return r;
}

static int64_t at4(const dims4 *s, const int64_t c[4])
{
    return ((c[0] * s->d[1] + c[1]) * s->d[2] + c[2]) * s->d[3] + c[3];
}

/* calls fn for every 4-D index c of s, in row-major order */
#define FOR_EACH4(s, c)                                                                            \
    for (c[0] = 0; c[0] < (s).d[0]; c[0]++)                                                        \
        for (c[1] = 0; c[1] < (s).d[1]; c[1]++)                                                    \
            for (c[2] = 0; c[2] < (s).d[2]; c[2]++)                                                \
                for (c[3] = 0; c[3] < (s).d[3]; c[3]++)

static float *reference_out(const shape_case *c, const gc_input *in, int nin, float **values, int64_t *n)
{
    return gc_eval("reference", build_op, (void *)c, in, nin, (const float *const *)values, n);
}

/* ---- reshape ---- */

static void test_reshape(void **state)
{
    const int64_t s11[2] = {1, 1}, s35[2] = {3, 5}, s2345[4] = {2, 3, 4, 5}, big[3] = {17, 33, 65};
    const struct {
        int nx;
        const int64_t *x;
        int ny;
        int64_t y[4];
        bool fd;
    } cases[] = {
        {2, s11, 1, {1}, true},           {2, s11, 3, {1, -1, 1}, true},  {2, s35, 2, {5, 3}, true},
        {2, s35, 1, {-1}, true},          {2, s35, 3, {15, 1, 1}, true},  {2, s35, 4, {1, 3, 1, 5}, true},
        {4, s2345, 3, {6, -1, 5}, true},  {4, s2345, 2, {-1, 1}, true},   {3, big, 2, {33, -1}, false},
        {3, big, 4, {-1, 17, 65, 1}, false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        shape_case c = {.op = RESHAPE, .ndim = cases[k].ny};
        memcpy(c.shape, cases[k].y, sizeof c.shape);
        gc_input in = param_of(cases[k].nx, cases[k].x);
        char name[64];
        snprintf(name, sizeof name, "reshape case %zu", k);
        check(name, c, &in, 1, cases[k].fd, 100 + k);
    }
}

/* A view: it holds x's values as soon as x has them, with no run, and the
 * -1 is resolved in its shape. Labels reshape too. */
static void test_reshape_is_view(void **state)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s35[2] = {3, 5}, req[3] = {5, -1, 1};
    clg_tensor x = clg_input(g, 2, s35), v = clg_reshape(g, x, 3, req);
    CHECK_OK(ctx, clg_graph_status(g));
    assert_int_equal(clg_tensor_ndim(g, v), 3);
    assert_int_equal(clg_tensor_dim(g, v, 0), 5);
    assert_int_equal(clg_tensor_dim(g, v, 1), 3);
    assert_int_equal(clg_tensor_dim(g, v, 2), 1);
    float vals[15], back[15];
    for (int i = 0; i < 15; i++) vals[i] = (float)i - 6.5f;
    CHECK_OK(ctx, clg_tensor_set(g, x, vals, 15));
    CHECK_OK(ctx, clg_tensor_get(g, v, back, 15));
    assert_memory_equal(back, vals, sizeof vals);

    const int64_t s6[1] = {6}, s23[2] = {2, 3};
    clg_tensor l = clg_labels(g, 1, s6), lv = clg_reshape(g, l, 2, s23);
    CHECK_OK(ctx, clg_graph_status(g));
    int32_t lab[6] = {0, 1, 2, 3, 4, 5}, lback[6];
    CHECK_OK(ctx, clg_tensor_set_i32(g, l, lab, 6));
    CHECK_OK(ctx, clg_tensor_get_i32(g, lv, lback, 6));
    assert_memory_equal(lback, lab, sizeof lab);
    clg_context_destroy(ctx);
}

/* y = reshape(x, 5x3) * transpose(x): x reaches the loss through a view
 * and a copy, so its gradient sums the two backward paths. */
static clg_tensor build_view_and_copy(clg_graph *g, const clg_tensor *in, void *arg)
{
    const int64_t s53[2] = {5, 3};
    return clg_mul(g, clg_reshape(g, in[0], 2, s53), clg_transpose(g, in[0], 0, 1));
}

/* reshape of a computed tensor, and a reshape of a reshape */
static clg_tensor build_reshape_chain(clg_graph *g, const clg_tensor *in, void *arg)
{
    const int64_t s15[1] = {15}, s53[2] = {5, 3};
    return clg_reshape(g, clg_reshape(g, clg_square(g, in[0]), 1, s15), 2, s53);
}

static void test_reshape_composed(void **state)
{
    const int64_t s35[2] = {3, 5};
    gc_input in = param_of(2, s35);
    gc_check_fd("reshape * transpose", build_view_and_copy, NULL, &in, 1, &gc_default_tol, 7);
    gc_check_devices("reshape * transpose", build_view_and_copy, NULL, &in, 1, &gc_default_tol, 7);
    gc_check_fd("reshape chain", build_reshape_chain, NULL, &in, 1, &gc_default_tol, 8);
    gc_check_devices("reshape chain", build_reshape_chain, NULL, &in, 1, &gc_default_tol, 8);
}

/* ---- permute and transpose ---- */

static void check_permute_values(const shape_case *c, const gc_input *in, uint64_t seed)
{
    float *values[1];
    gc_make_inputs(in, 1, seed, values);
    int64_t n;
    float *y = reference_out(c, in, 1, values, &n);
    int nd = in->ndim;
    dims4 xs = pad4(nd, in->shape);
    int64_t ys_[4];
    for (int d = 0; d < nd; d++) ys_[d] = in->shape[c->perm[d]];
    dims4 ys = pad4(nd, ys_);
    int64_t yc[4], xc[4] = {0, 0, 0, 0};
    FOR_EACH4(ys, yc)
    {
        for (int d = 0; d < nd; d++) xc[4 - nd + c->perm[d]] = yc[4 - nd + d];
        if (y[at4(&ys, yc)] != values[0][at4(&xs, xc)])
            fail_msg("permute [%d,%d,%d,%d]: y[%lld] is %g, want x[%lld] = %g", c->perm[0], c->perm[1], c->perm[2],
                     c->perm[3], (long long)at4(&ys, yc), y[at4(&ys, yc)], (long long)at4(&xs, xc),
                     values[0][at4(&xs, xc)]);
    }
    free(y);
    free(values[0]);
}

/* Calls fn for every permutation of 0..n-1 (Heap's algorithm). */
static void each_perm(int n, void (*fn)(const int *perm, void *arg), void *arg)
{
    int p[4] = {0, 1, 2, 3}, cnt[4] = {0, 0, 0, 0};
    fn(p, arg);
    for (int i = 1; i < n;) {
        if (cnt[i] < i) {
            int j = i % 2 ? cnt[i] : 0, t = p[j];
            p[j] = p[i];
            p[i] = t;
            fn(p, arg);
            cnt[i]++;
            i = 1;
        } else {
            cnt[i++] = 0;
        }
    }
}

typedef struct {
    gc_input in;
    bool fd;
    int count;
} perm_run;

static void run_perm(const int *perm, void *arg)
{
    perm_run *r = arg;
    shape_case c = {.op = PERMUTE};
    memcpy(c.perm, perm, sizeof c.perm);
    char name[64];
    snprintf(name, sizeof name, "permute [%d,%d,%d,%d] of %d-D", perm[0], perm[1], perm[2], perm[3], r->in.ndim);
    check_permute_values(&c, &r->in, 200 + r->count);
    check(name, c, &r->in, 1, r->fd, 200 + r->count);
    r->count++;
}

static void test_permute_every_order(void **state)
{
    const int64_t s2345[4] = {2, 3, 4, 5}, big[3] = {17, 33, 65}, s35[2] = {3, 5};
    perm_run r = {param_of(4, s2345), true, 0};
    each_perm(4, run_perm, &r);
    assert_int_equal(r.count, 24);
    r = (perm_run){param_of(3, big), false, 0};
    each_perm(3, run_perm, &r);
    assert_int_equal(r.count, 6);
    r = (perm_run){param_of(2, s35), true, 0};
    each_perm(2, run_perm, &r);
    const int64_t s11[2] = {1, 1};
    r = (perm_run){param_of(2, s11), true, 0};
    each_perm(2, run_perm, &r);
}

static void test_transpose(void **state)
{
    const int64_t s2345[4] = {2, 3, 4, 5}, big[3] = {17, 33, 65};
    gc_input in = param_of(4, s2345);
    /* every pair, each given as a positive and as a negative axis */
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) {
            shape_case c = {.op = TRANSPOSE, .axis = a, .axis1 = b - 4};
            shape_case p = {.op = PERMUTE, .perm = {0, 1, 2, 3}};
            p.perm[a] = b;
            p.perm[b] = a;
            check_permute_values(&p, &in, 300 + a * 4 + b);
            /* transpose gives what the permute it stands for gives */
            float *values[1];
            gc_make_inputs(&in, 1, 300 + a * 4 + b, values);
            int64_t n1, n2;
            float *y1 = reference_out(&c, &in, 1, values, &n1), *y2 = reference_out(&p, &in, 1, values, &n2);
            assert_int_equal(n1, n2);
            assert_memory_equal(y1, y2, (size_t)n1 * sizeof(float));
            free(y1);
            free(y2);
            free(values[0]);
            char name[64];
            snprintf(name, sizeof name, "transpose %d,%d", a, b - 4);
            check(name, c, &in, 1, true, 300 + a * 4 + b);
        }
    gc_input bin = param_of(3, big);
    shape_case c = {.op = TRANSPOSE, .axis = -1, .axis1 = 0};
    check("transpose of 17x33x65", c, &bin, 1, false, 320);
    c = (shape_case){.op = TRANSPOSE, .axis = 1, .axis1 = 1}; /* the identity */
    check("transpose 1,1", c, &in, 1, true, 321);
}

/* ---- slice ---- */

static void check_slice_values(const shape_case *c, const gc_input *in, uint64_t seed)
{
    float *values[1];
    gc_make_inputs(in, 1, seed, values);
    int64_t n;
    float *y = reference_out(c, in, 1, values, &n);
    int nd = in->ndim, ax = c->axis < 0 ? c->axis + nd : c->axis;
    dims4 xs = pad4(nd, in->shape);
    int64_t ysh[4];
    memcpy(ysh, in->shape, sizeof ysh);
    ysh[ax] = c->length;
    dims4 ys = pad4(nd, ysh);
    assert_int_equal(n, numel_of(nd, ysh));
    int64_t yc[4], xc[4];
    FOR_EACH4(ys, yc)
    {
        memcpy(xc, yc, sizeof xc);
        xc[4 - nd + ax] += c->start;
        if (y[at4(&ys, yc)] != values[0][at4(&xs, xc)])
            fail_msg("slice axis %d start %lld: y[%lld] is %g, want x[%lld] = %g", c->axis, (long long)c->start,
                     (long long)at4(&ys, yc), y[at4(&ys, yc)], (long long)at4(&xs, xc), values[0][at4(&xs, xc)]);
    }
    free(y);
    free(values[0]);
}

static void slice_windows(const gc_input *in, bool fd, uint64_t seed)
{
    for (int ax = -in->ndim; ax < in->ndim; ax++) {
        int64_t e = in->shape[ax < 0 ? ax + in->ndim : ax];
        /* start, middle (where the extent allows) and end; and the whole axis */
        const int64_t win[4][2] = {{0, e > 1 ? e - 1 : 1}, {e / 3, e > 2 ? e / 3 : 1}, {e - 1, 1}, {0, e}};
        for (int w = 0; w < 4; w++) {
            shape_case c = {.op = SLICE, .axis = ax, .start = win[w][0], .length = win[w][1]};
            bool seen = false;
            for (int v = 0; v < w; v++) seen |= win[v][0] == c.start && win[v][1] == c.length;
            if (seen) continue;
            char name[96];
            snprintf(name, sizeof name, "slice axis %d start %lld length %lld of %d-D", ax, (long long)c.start,
                     (long long)c.length, in->ndim);
            check_slice_values(&c, in, seed);
            check(name, c, in, 1, fd, seed++);
        }
    }
}

static void test_slice(void **state)
{
    const int64_t s11[2] = {1, 1}, s35[2] = {3, 5}, s2345[4] = {2, 3, 4, 5}, big[3] = {17, 33, 65};
    gc_input in = param_of(2, s11);
    slice_windows(&in, true, 400);
    in = param_of(2, s35);
    slice_windows(&in, true, 420);
    in = param_of(4, s2345);
    slice_windows(&in, true, 440);
    in = param_of(3, big);
    slice_windows(&in, false, 480);
}

/* The gradient of a slice is written whole: zeros outside the window even
 * where its buffer held something else before (here 7). */
static void slice_grad_zeros(const char *spec)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s = 1000;
    clg_tensor x = clg_param(g, 1, &s);
    CHECK_OK(ctx, clg_backward(g, clg_sum(g, clg_slice(g, x, 0, 300, 400))));
    clg_tensor gx = clg_grad(g, x);
    CHECK_OK(ctx, clg_tensor_fill(g, x, 0.5f));
    CHECK_OK(ctx, clg_tensor_fill(g, gx, 7.0f));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    float gv[1000];
    CHECK_OK(ctx, clg_tensor_get(g, gx, gv, 1000));
    for (int i = 0; i < 1000; i++) {
        float want = i >= 300 && i < 700 ? 1.0f : 0.0f;
        if (gv[i] != want) fail_msg("%s: slice gradient [%d] is %g, want %g", spec, i, gv[i], want);
    }
    clg_context_destroy(ctx);
}

static void test_slice_grad_writes_zeros(void **state) { for_each_device(slice_grad_zeros); }

/* ---- concat ---- */

static void check_concat_values(const shape_case *c, const gc_input *in, uint64_t seed)
{
    float *values[2];
    gc_make_inputs(in, 2, seed, values);
    int64_t n;
    float *y = reference_out(c, in, 2, values, &n);
    int nd = in[0].ndim, ax = c->axis < 0 ? c->axis + nd : c->axis;
    int64_t la = in[0].shape[ax], ysh[4];
    memcpy(ysh, in[0].shape, sizeof ysh);
    ysh[ax] += in[1].shape[ax];
    dims4 as = pad4(nd, in[0].shape), bs = pad4(nd, in[1].shape), ys = pad4(nd, ysh);
    assert_int_equal(n, numel_of(nd, ysh));
    int64_t yc[4], sc[4];
    FOR_EACH4(ys, yc)
    {
        memcpy(sc, yc, sizeof sc);
        bool from_a = yc[4 - nd + ax] < la;
        if (!from_a) sc[4 - nd + ax] -= la;
        float want = from_a ? values[0][at4(&as, sc)] : values[1][at4(&bs, sc)];
        if (y[at4(&ys, yc)] != want)
            fail_msg("concat axis %d: y[%lld] is %g, want %g from %s", c->axis, (long long)at4(&ys, yc),
                     y[at4(&ys, yc)], want, from_a ? "a" : "b");
    }
    free(y);
    free(values[0]);
    free(values[1]);
}

static void concat_each_axis(int nd, const int64_t *shape, int64_t b_extent, bool fd, uint64_t seed)
{
    for (int ax = -nd; ax < nd; ax++) {
        gc_input in[2] = {param_of(nd, shape), param_of(nd, shape)};
        in[1].shape[ax < 0 ? ax + nd : ax] = b_extent;
        shape_case c = {.op = CONCAT, .axis = ax};
        char name[64];
        snprintf(name, sizeof name, "concat axis %d of %d-D (b extent %lld)", ax, nd, (long long)b_extent);
        check_concat_values(&c, in, seed);
        check(name, c, in, 2, fd, seed++);
    }
}

static clg_tensor build_concat_self(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_concat(g, in[0], in[0], *(int *)arg);
}

static void test_concat(void **state)
{
    const int64_t s11[2] = {1, 1}, s35[2] = {3, 5}, s2345[4] = {2, 3, 4, 5}, big[3] = {17, 33, 65};
    concat_each_axis(2, s11, 1, true, 500);
    concat_each_axis(2, s35, 2, true, 510);
    concat_each_axis(4, s2345, 3, true, 520);
    concat_each_axis(4, s2345, 1, true, 530);
    concat_each_axis(3, big, 7, false, 540);
    /* x twice: the gradient sums both slices */
    gc_input in = param_of(4, s2345);
    for (int ax = 0; ax < 4; ax++) {
        gc_check_fd("concat(x, x)", build_concat_self, &ax, &in, 1, &gc_default_tol, 550 + ax);
        gc_check_devices("concat(x, x)", build_concat_self, &ax, &in, 1, &gc_default_tol, 550 + ax);
    }
    /* only b a parameter */
    gc_input mixed[2] = {param_of(2, s35), param_of(2, s35)};
    mixed[0].param = false;
    shape_case c = {.op = CONCAT, .axis = 0};
    check("concat(input, param)", c, mixed, 2, true, 560);
}

/* ---- bad input ---- */

static void test_errors(void **state)
{
    clg_context *ctx = open_ctx("reference");
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s35[2] = {3, 5}, s34[2] = {3, 4}, s235[3] = {2, 3, 5};
    clg_tensor x = clg_input(g, 2, s35);

    const int64_t huge[4] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40};
    const int64_t s44[2] = {4, 4}, two_inferred[2] = {-1, -1}, s4x[2] = {4, -1}, s0[2] = {0, 15},
                  s9[CLG_MAX_DIMS + 1] = {1, 1, 1, 1, 1, 1, 1, 3, 5};
    assert_true(clg_reshape(g, x, 2, s44).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "reshape");
    ASSERT_MSG_HAS(ctx, "[3,5]");
    ASSERT_MSG_HAS(ctx, "[4,4]");
    ASSERT_MSG_HAS(ctx, "16 elements");
    const struct {
        int ndim;
        const int64_t *shape;
        const char *says;
    } bad_reshapes[] = {
        {2, two_inferred, "dimension 1 is -1"}, {2, s4x, "[4,-1]"}, {2, s0, "dimension 0 is 0"},
        {CLG_MAX_DIMS + 1, s9, "ndim must be 0..8"}, {-1, s44, "ndim must be 0..8"}, {2, NULL, "shape NULL"}, {4, huge, "more elements"},
    };
    for (size_t k = 0; k < sizeof bad_reshapes / sizeof bad_reshapes[0]; k++) {
        clg_graph *h;
        CHECK_OK(ctx, clg_graph_create(ctx, &h));
        clg_tensor hx = clg_input(h, 2, s35);
        assert_true(clg_reshape(h, hx, bad_reshapes[k].ndim, bad_reshapes[k].shape).id < 0);
        assert_int_equal(clg_graph_status(h), CLG_ERR_SHAPE);
        ASSERT_MSG_HAS(ctx, "reshape");
        ASSERT_MSG_HAS(ctx, "[3,5]");
        ASSERT_MSG_HAS(ctx, bad_reshapes[k].says);
    }

    /* each further check on a fresh graph, so the status is its own */
    const int dup[3] = {0, 2, 0}, out_of_range[3] = {0, 3, 1};
    const struct {
        const int *perm;
        const char *says;
    } bad_perms[] = {{dup, "perm [0,2,0]"}, {out_of_range, "perm [0,3,1]"}, {NULL, "perm is NULL"}};
    for (size_t k = 0; k < 3; k++) {
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        assert_true(clg_permute(g, clg_input(g, 3, s235), bad_perms[k].perm).id < 0);
        assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
        ASSERT_MSG_HAS(ctx, "permute");
        ASSERT_MSG_HAS(ctx, "[2,3,5]");
        ASSERT_MSG_HAS(ctx, bad_perms[k].says);
    }

    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_transpose(g, clg_input(g, 2, s35), 0, -3).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "transpose");
    ASSERT_MSG_HAS(ctx, "axis1 -3");
    ASSERT_MSG_HAS(ctx, "[3,5]");

    const struct {
        int axis;
        int64_t start, length;
        const char *says;
    } bad_slices[] = {
        {2, 0, 1, "axis 2"},          {-3, 0, 1, "axis -3"},         {1, 3, 3, "start 3, length 3"},
        {1, -1, 2, "start -1"},       {0, 1, 0, "length 0"},         {0, 3, 1, "start 3, length 1"},
    };
    for (size_t k = 0; k < sizeof bad_slices / sizeof bad_slices[0]; k++) {
        CHECK_OK(ctx, clg_graph_create(ctx, &g));
        assert_true(clg_slice(g, clg_input(g, 2, s35), bad_slices[k].axis, bad_slices[k].start,
                              bad_slices[k].length).id < 0);
        assert_int_not_equal(clg_graph_status(g), CLG_OK);
        ASSERT_MSG_HAS(ctx, "slice");
        ASSERT_MSG_HAS(ctx, "[3,5]");
        ASSERT_MSG_HAS(ctx, bad_slices[k].says);
    }

    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_concat(g, clg_input(g, 2, s35), clg_input(g, 2, s34), 0).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_SHAPE);
    ASSERT_MSG_HAS(ctx, "concat");
    ASSERT_MSG_HAS(ctx, "[3,5] and [3,4]");
    ASSERT_MSG_HAS(ctx, "dimension 1 (5 vs 4)");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_concat(g, clg_input(g, 2, s35), clg_input(g, 3, s235), 0).id < 0);
    ASSERT_MSG_HAS(ctx, "[3,5] and [2,3,5]");
    ASSERT_MSG_HAS(ctx, "numbers of dimensions");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_concat(g, clg_input(g, 2, s35), clg_input(g, 2, s35), 2).id < 0);
    assert_int_equal(clg_graph_status(g), CLG_ERR_INVALID_ARGUMENT);
    ASSERT_MSG_HAS(ctx, "concat: axis 2");
    /* a concat of labels is refused by dtype, and a failed tensor keeps
     * the first message */
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor bad = clg_slice(g, clg_input(g, 2, s35), 0, 5, 1);
    assert_true(clg_concat(g, bad, bad, 0).id < 0);
    ASSERT_MSG_HAS(ctx, "start 5");
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    assert_true(clg_concat(g, clg_labels(g, 2, s35), clg_input(g, 2, s35), 0).id < 0);
    ASSERT_MSG_HAS(ctx, "int32 labels");
    clg_context_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape),           cmocka_unit_test(test_reshape_is_view),
        cmocka_unit_test(test_reshape_composed),  cmocka_unit_test(test_permute_every_order),
        cmocka_unit_test(test_transpose),         cmocka_unit_test(test_slice),
        cmocka_unit_test(test_slice_grad_writes_zeros), cmocka_unit_test(test_concat),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
