/*
 * Every op of the foundation, forward and backward:
 *  - forward: each OpenCL device against the reference backend on fresh
 *    seeded random inputs (never zero), sizes 1, 7, 1000 and 1000003 and
 *    broadcast shapes; the reference itself against the op's formula in
 *    double;
 *  - backward: reference gradients against central finite differences of
 *    a double-precision evaluation of the same loss, and each device's
 *    gradients against the reference's.
 * The loss differentiated is L = sum(op(a, b) * w) with random w, so every
 * output element carries a different upstream gradient.
 *
 * Tolerances, and why:
 *  - device vs reference forward: in ulps of the reference, 0 for ops
 *    IEEE rounds exactly (add, sub, mul, neg, scale, square, relu, maximum,
 *    minimum); for the
 *    others the OpenCL 1.2 spec's own bounds (div 2.5, exp/log/sqrt 3,
 *    tanh 5 ulp) plus the reference libm's 1 ulp, rounded up: div, exp,
 *    log, sqrt 4; tanh 6; sigmoid (exp, add, div chained) 8;
 *  - reductions to one element: |device - ref| <= 1e-5 * sum |x| (float
 *    accumulation in a different order against double);
 *  - device vs reference gradients: |diff| <= 4e-6 |ref| + 1e-6 max |ref|:
 *    the relative part is about 32 ulp (each gradient chains two or three
 *    of the ops above); the second part covers results that are small
 *    against the values they come from, where relative accuracy is lost
 *    by cancellation: sums over broadcast axes, and 1 - y in sigmoid's
 *    backward where y carries the forward's 8 ulp;
 *  - reference vs double: forward relative 1e-6; gradients against finite
 *    differences |diff| <= 2e-6 + 2e-5 |fd| (float against double; h = 1e-5,
 *    whose truncation error is about 1e-10).
 */
#include "gradcheck.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ELEMENTWISE, REDUCE } kind_t;

typedef struct opcase {
    const char *name;
    kind_t kind;
    int arity;
    clg_tensor (*bin)(clg_graph *, clg_tensor, clg_tensor);
    clg_tensor (*un)(clg_graph *, clg_tensor);
    double (*f)(double a, double b); /* elementwise formula, or per-term for REDUCE */
    double alo, ahi;
    bool apos;
    double blo, bhi;
    bool bpos;
    uint32_t ulp;
} opcase;

static const double SCALE_C = -1.75;
static clg_tensor scale_op(clg_graph *g, clg_tensor x) { return clg_scale(g, x, (float)SCALE_C); }

static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }
static double f_neg(double a, double b) { return -a; }
static double f_scale(double a, double b) { return SCALE_C * a; }
static double f_square(double a, double b) { return a * a; }
static double f_exp(double a, double b) { return exp(a); }
static double f_log(double a, double b) { return log(a); }
static double f_sqrt(double a, double b) { return sqrt(a); }
static double f_relu(double a, double b) { return a > 0 ? a : 0; }
static double f_sigmoid(double a, double b) { return 1.0 / (1.0 + exp(-a)); }
static double f_tanh(double a, double b) { return tanh(a); }
static double f_id(double a, double b) { return a; }
static double f_max(double a, double b) { return a >= b ? a : b; }
static double f_min(double a, double b) { return a <= b ? a : b; }
static double f_sqdiff(double a, double b) { return (a - b) * (a - b); }

static const opcase cases[] = {
    {"add", ELEMENTWISE, 2, clg_add, NULL, f_add, 0.1, 4, false, 0.1, 4, false, 0},
    {"sub", ELEMENTWISE, 2, clg_sub, NULL, f_sub, 0.1, 4, false, 0.1, 4, false, 0},
    {"mul", ELEMENTWISE, 2, clg_mul, NULL, f_mul, 0.1, 4, false, 0.1, 4, false, 0},
    {"div", ELEMENTWISE, 2, clg_div, NULL, f_div, 0.1, 4, false, 0.5, 3, false, 4},
    {"neg", ELEMENTWISE, 1, NULL, clg_neg, f_neg, 0.1, 4, false, 0, 0, false, 0},
    {"scale", ELEMENTWISE, 1, NULL, scale_op, f_scale, 0.1, 4, false, 0, 0, false, 0},
    {"square", ELEMENTWISE, 1, NULL, clg_square, f_square, 0.1, 4, false, 0, 0, false, 0},
    {"exp", ELEMENTWISE, 1, NULL, clg_exp, f_exp, 0.01, 5, false, 0, 0, false, 4},
    {"log", ELEMENTWISE, 1, NULL, clg_log, f_log, 0.05, 10, true, 0, 0, false, 4},
    {"sqrt", ELEMENTWISE, 1, NULL, clg_sqrt, f_sqrt, 0.05, 10, true, 0, 0, false, 4},
    {"relu", ELEMENTWISE, 1, NULL, clg_relu, f_relu, 0.05, 4, false, 0, 0, false, 0},
    {"sigmoid", ELEMENTWISE, 1, NULL, clg_sigmoid, f_sigmoid, 0.01, 8, false, 0, 0, false, 8},
    {"tanh", ELEMENTWISE, 1, NULL, clg_tanh, f_tanh, 0.01, 4, false, 0, 0, false, 6},
    {"maximum", ELEMENTWISE, 2, clg_maximum, NULL, f_max, 0.1, 4, false, 0.1, 4, false, 0},
    {"minimum", ELEMENTWISE, 2, clg_minimum, NULL, f_min, 0.1, 4, false, 0.1, 4, false, 0},
    {"sum", REDUCE, 1, NULL, clg_sum, f_id, 0.1, 4, false, 0, 0, false, 0},
    {"mean", REDUCE, 1, NULL, clg_mean, f_id, 0.1, 4, false, 0, 0, false, 0},
    {"mse_loss", REDUCE, 2, clg_mse_loss, NULL, f_sqdiff, 0.1, 4, false, 0.1, 4, false, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

typedef struct {
    int na, nb, ny;
    int64_t a[CLG_MAX_DIMS], b[CLG_MAX_DIMS], y[CLG_MAX_DIMS];
} shapes_t;

static shapes_t make_shapes(const opcase *c, int na, const int64_t *a, int nb, const int64_t *b)
{
    shapes_t s = {.na = na, .nb = c->arity == 2 ? nb : 0};
    memcpy(s.a, a, sizeof(int64_t) * (size_t)na);
    if (c->arity == 2) memcpy(s.b, b, sizeof(int64_t) * (size_t)nb);
    if (c->kind == REDUCE) {
        s.ny = 0; /* a 0-d scalar */
    } else if (c->arity == 2) {
        s.ny = bcast_shape(na, a, nb, b, s.y);
    } else {
        s.ny = na;
        memcpy(s.y, a, sizeof(int64_t) * (size_t)na);
    }
    return s;
}

/* Runs L = sum(op(a, b) * w) forward and backward on one device. */
static void eval(const char *spec, const opcase *c, const shapes_t *s, const float *a, const float *b, const float *w,
                 float *y, float *ga, float *gb)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    clg_tensor ta = clg_param(g, s->na, s->a), tb = CLG_NO_TENSOR;
    if (c->arity == 2) tb = clg_param(g, s->nb, s->b);
    clg_tensor ty = c->arity == 2 ? c->bin(g, ta, tb) : c->un(g, ta);
    clg_tensor_keep(g, ty); /* read after the run */
    clg_tensor tw = clg_input(g, s->ny, s->y);
    clg_tensor loss = clg_sum(g, clg_mul(g, ty, tw));
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_backward(g, loss));
    size_t na = (size_t)numel_of(s->na, s->a), nb = (size_t)numel_of(s->nb, s->b), ny = (size_t)numel_of(s->ny, s->y);
    CHECK_OK(ctx, clg_tensor_set(g, ta, a, na));
    if (c->arity == 2) CHECK_OK(ctx, clg_tensor_set(g, tb, b, nb));
    CHECK_OK(ctx, clg_tensor_set(g, tw, w, ny));
    CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD | CLG_RUN_BACKWARD));
    CHECK_OK(ctx, clg_tensor_get(g, ty, y, ny));
    CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, ta), ga, na));
    if (c->arity == 2) CHECK_OK(ctx, clg_tensor_get(g, clg_grad(g, tb), gb, nb));
    clg_context_destroy(ctx);
}

/* The same loss in double, written independently of the library. */
static double loss_d(const opcase *c, const shapes_t *s, const double *a, const double *b, const double *w)
{
    int64_t na = numel_of(s->na, s->a);
    if (c->kind == REDUCE) {
        double acc = 0;
        for (int64_t i = 0; i < na; i++) acc += c->f(a[i], c->arity == 2 ? b[i] : 0);
        if (strcmp(c->name, "sum") != 0) acc /= (double)na;
        return w[0] * acc;
    }
    int64_t ny = numel_of(s->ny, s->y);
    double acc = 0;
    for (int64_t i = 0; i < ny; i++) {
        double av = a[bcast_src_offset(i, s->ny, s->y, s->na, s->a)];
        double bv = c->arity == 2 ? b[bcast_src_offset(i, s->ny, s->y, s->nb, s->b)] : 0;
        acc += w[i] * c->f(av, bv);
    }
    return acc;
}

typedef struct {
    float *a, *b, *w, *y, *ga, *gb;
    size_t na, nb, ny;
} bufs_t;

static bufs_t make_inputs(const opcase *c, const shapes_t *s, rng_t *r)
{
    bufs_t k;
    k.na = (size_t)numel_of(s->na, s->a);
    k.nb = c->arity == 2 ? (size_t)numel_of(s->nb, s->b) : 1;
    k.ny = (size_t)numel_of(s->ny, s->y);
    k.a = malloc(k.na * 4);
    k.b = malloc(k.nb * 4);
    k.w = malloc(k.ny * 4);
    k.y = malloc(k.ny * 4);
    k.ga = malloc(k.na * 4);
    k.gb = malloc(k.nb * 4);
    assert_non_null(k.a);
    assert_non_null(k.b);
    assert_non_null(k.w);
    assert_non_null(k.y);
    assert_non_null(k.ga);
    assert_non_null(k.gb);
    rng_fill(r, k.a, k.na, c->alo, c->ahi, c->apos);
    rng_fill(r, k.b, k.nb, c->blo ? c->blo : 0.1, c->bhi ? c->bhi : 1, c->bpos);
    rng_fill(r, k.w, k.ny, 0.5, 1.5, false);
    return k;
}

static void free_bufs(bufs_t *k)
{
    free(k->a);
    free(k->b);
    free(k->w);
    free(k->y);
    free(k->ga);
    free(k->gb);
}

/* Each device against the reference, forward and gradients. */
static void compare_devices(const opcase *c, const shapes_t *s, uint64_t seed)
{
    char specs[16][32];
    int ndev = test_opencl_devices(specs, 16);
    rng_t r = {seed};
    bufs_t ref = make_inputs(c, s, &r);
    eval("reference", c, s, ref.a, ref.b, ref.w, ref.y, ref.ga, ref.gb);
    float *y = malloc(ref.ny * 4), *ga = malloc(ref.na * 4), *gb = malloc(ref.nb * 4);
    assert_non_null(y);
    assert_non_null(ga);
    assert_non_null(gb);
    char what[700];
    for (int d = 0; d < ndev; d++) {
        eval(specs[d], c, s, ref.a, ref.b, ref.w, y, ga, gb);
        snprintf(what, sizeof what, "%s forward on %s (%zu elements, seed %llu)", c->name, specs[d], ref.na,
                 (unsigned long long)seed);
        if (c->kind == REDUCE) {
            double mag = 0;
            for (size_t i = 0; i < ref.na; i++) {
                double t = c->f(ref.a[i], c->arity == 2 ? ref.b[i] : 0);
                mag += fabs(t);
            }
            if (strcmp(c->name, "sum") != 0) mag /= (double)ref.na;
            assert_close(y, ref.y, 1, 0, 1e-5 * mag, what);
        } else {
            assert_close_ulp(y, ref.y, ref.ny, c->ulp, what);
        }
        snprintf(what, sizeof what, "%s gradient of a on %s (seed %llu)", c->name, specs[d], (unsigned long long)seed);
        assert_close_scaled(ga, ref.ga, ref.na, 4e-6, 1e-6, what);
        if (c->arity == 2) {
            snprintf(what, sizeof what, "%s gradient of b on %s (seed %llu)", c->name, specs[d],
                     (unsigned long long)seed);
            assert_close_scaled(gb, ref.gb, ref.nb, 4e-6, 1e-6, what);
        }
    }
    free(y);
    free(ga);
    free(gb);
    free_bufs(&ref);
}

/* The reference against double precision: forward formula and central
 * finite differences of the loss. */
static void check_reference(const opcase *c, const shapes_t *s, uint64_t seed)
{
    rng_t r = {seed};
    bufs_t k = make_inputs(c, s, &r);
    eval("reference", c, s, k.a, k.b, k.w, k.y, k.ga, k.gb);
    double *a = malloc(k.na * 8), *b = malloc(k.nb * 8), *w = malloc(k.ny * 8), *fd = malloc((k.na + k.nb) * 8);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(w);
    assert_non_null(fd);
    for (size_t i = 0; i < k.na; i++) a[i] = k.a[i];
    for (size_t i = 0; i < k.nb; i++) b[i] = k.b[i];
    for (size_t i = 0; i < k.ny; i++) w[i] = k.w[i];
    char what[700];

    if (c->kind == ELEMENTWISE) {
        double *yd = malloc(k.ny * 8);
        assert_non_null(yd);
        for (size_t i = 0; i < k.ny; i++)
            yd[i] = c->f(a[bcast_src_offset((int64_t)i, s->ny, s->y, s->na, s->a)],
                         c->arity == 2 ? b[bcast_src_offset((int64_t)i, s->ny, s->y, s->nb, s->b)] : 0);
        snprintf(what, sizeof what, "%s reference forward vs double (seed %llu)", c->name, (unsigned long long)seed);
        assert_close_d(k.y, yd, k.ny, 1e-6, 0, what);
        free(yd);
    } else {
        double wd = 1.0, yd = loss_d(c, s, a, b, &wd);
        snprintf(what, sizeof what, "%s reference forward vs double (seed %llu)", c->name, (unsigned long long)seed);
        assert_close_d(k.y, &yd, 1, 1e-6, 0, what);
    }

    const double h = 1e-5;
    for (size_t i = 0; i < k.na; i++) {
        double keep = a[i];
        a[i] = keep + h;
        double lp = loss_d(c, s, a, b, w);
        a[i] = keep - h;
        double lm = loss_d(c, s, a, b, w);
        a[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    snprintf(what, sizeof what, "%s gradient of a vs finite differences (seed %llu)", c->name, (unsigned long long)seed);
    assert_close_d(k.ga, fd, k.na, 2e-5, 2e-6, what);
    if (c->arity == 2) {
        for (size_t i = 0; i < k.nb; i++) {
            double keep = b[i];
            b[i] = keep + h;
            double lp = loss_d(c, s, a, b, w);
            b[i] = keep - h;
            double lm = loss_d(c, s, a, b, w);
            b[i] = keep;
            fd[i] = (lp - lm) / (2 * h);
        }
        snprintf(what, sizeof what, "%s gradient of b vs finite differences (seed %llu)", c->name,
                 (unsigned long long)seed);
        assert_close_d(k.gb, fd, k.nb, 2e-5, 2e-6, what);
    }
    free(a);
    free(b);
    free(w);
    free(fd);
    free_bufs(&k);
}

static uint64_t seed_for(const char *name, int variant)
{
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h ^ (uint64_t)variant * 0x9e3779b97f4a7c15ull;
}

static const int64_t sizes[] = {1, 7, 1000, 1000003};

static void test_devices_same_shape(void **state)
{
    for (size_t c = 0; c < NCASES; c++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            shapes_t s = make_shapes(&cases[c], 1, &sizes[k], 1, &sizes[k]);
            compare_devices(&cases[c], &s, seed_for(cases[c].name, (int)k));
        }
}

/* Broadcast pairs: scalar either side ([1] and 0-d), row, column, 4-D
 * against 1-D; 6-D against 5-D and 8-D against 8-D, each side stretched
 * along interior axes (bcast_offset's long path). */
static const struct {
    int na;
    int64_t a[CLG_MAX_DIMS];
    int nb;
    int64_t b[CLG_MAX_DIMS];
} bshapes[] = {
    {2, {3, 5}, 1, {1}},      {1, {1}, 2, {3, 5}},        {2, {3, 5}, 1, {5}},     {2, {3, 1}, 2, {1, 5}},
    {4, {2, 3, 4, 5}, 1, {5}}, {3, {4, 1, 5}, 2, {3, 1}}, {2, {17, 33}, 2, {17, 1}},
    {0, {0}, 3, {3, 1, 5}},   {2, {3, 5}, 0, {0}},
    {6, {2, 3, 1, 5, 1, 7}, 5, {3, 4, 1, 6, 1}},
    {8, {2, 1, 3, 1, 2, 1, 3, 1}, 8, {1, 2, 1, 3, 1, 2, 1, 5}},
    {1, {1000003}, 1, {1}}, /* last: test_reference_vs_double leaves it out (finite differences) */
};

static void test_devices_broadcast(void **state)
{
    for (size_t c = 0; c < NCASES; c++) {
        if (cases[c].arity != 2 || cases[c].kind != ELEMENTWISE) continue;
        for (size_t k = 0; k < sizeof bshapes / sizeof bshapes[0]; k++) {
            shapes_t s = make_shapes(&cases[c], bshapes[k].na, bshapes[k].a, bshapes[k].nb, bshapes[k].b);
            compare_devices(&cases[c], &s, seed_for(cases[c].name, 100 + (int)k));
        }
    }
}

static void test_reference_vs_double(void **state)
{
    const int64_t seven = 7, odd[3] = {3, 1, 5};
    for (size_t c = 0; c < NCASES; c++) {
        shapes_t s = make_shapes(&cases[c], 1, &seven, 1, &seven);
        check_reference(&cases[c], &s, seed_for(cases[c].name, 7));
        s = make_shapes(&cases[c], 3, odd, 3, odd);
        check_reference(&cases[c], &s, seed_for(cases[c].name, 8));
        if (cases[c].arity == 2 && cases[c].kind == ELEMENTWISE)
            for (size_t k = 0; k + 1 < sizeof bshapes / sizeof bshapes[0]; k++) {
                s = make_shapes(&cases[c], bshapes[k].na, bshapes[k].a, bshapes[k].nb, bshapes[k].b);
                check_reference(&cases[c], &s, seed_for(cases[c].name, 200 + (int)k));
            }
    }
}

/* A composite graph through the generic checker: broadcasting, a tensor
 * used three times, and every kind of basic op on one path. */
static clg_tensor composite(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_tensor a = in[0], b = in[1];
    clg_tensor t = clg_tanh(g, clg_add(g, clg_mul(g, a, b), a));
    clg_tensor u = clg_div(g, clg_sigmoid(g, t), clg_add(g, clg_square(g, b), clg_scalar(g, 1.0f)));
    return clg_sub(g, clg_mul(g, u, clg_exp(g, clg_scale(g, a, 0.3f))), clg_mean(g, clg_relu(g, a)));
}

static void test_composite_graph(void **state)
{
    const gc_input in[] = {
        {.ndim = 2, .shape = {5, 7}, .param = true, .lo = 0.05, .hi = 2},
        {.ndim = 1, .shape = {7}, .param = true, .lo = 0.1, .hi = 2},
    };
    gc_check_fd("composite", composite, NULL, in, 2, &gc_default_tol, 11);
    gc_check_devices("composite", composite, NULL, in, 2, &gc_default_tol, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vs_double),
        cmocka_unit_test(test_devices_same_shape),
        cmocka_unit_test(test_devices_broadcast),
        cmocka_unit_test(test_composite_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
