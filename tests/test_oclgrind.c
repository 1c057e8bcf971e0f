/*
 * Every kernel family at tiny sizes, for the `oclgrind` CTest label
 * (tests/CMakeLists.txt): CTest runs this with OCL_ICD_VENDORS naming a
 * folder that registers Oclgrind alone, and with Oclgrind's checks on
 * (out-of-bounds accesses, data races, API misuse, and uninitialised
 * values where Oclgrind 21.10 can follow them); any report Oclgrind prints
 * fails the test (FAIL_REGULAR_EXPRESSION), whatever the numbers.
 *
 * The numbers are checked too: each op's output and gradients on Oclgrind
 * against the reference backend (gc_check_devices), the optimizers'
 * parameters and state after a few steps, the initialisers' values and the
 * running statistics of batch norm. Sizes are tiny because Oclgrind
 * interprets every work-item (a conv at batch 16 takes minutes), yet
 * ragged (3x5, 7, 2x3x5x6) so that partial work-groups and tails run.
 *
 * test_grid_stride then caps every launch at one work-group
 * (gc_device_hook): grid-stride loops, im2col's channel blocks and the
 * one-row-per-work-item softmax kernels, which a device otherwise runs only
 * on tensors of millions of elements, run on small ones.
 *
 * Tolerances are those of the family's own test file, for the same
 * reasons (see there): gc_default_tol for elementwise, activation,
 * reduction along an axis (axes of at most 5 here), softmax, shape, batch
 * norm and dropout, and for the full sums too (at most 323 positive terms
 * summed in a tree: within (log2 323 + 1) u = 6e-7 relative, u = 2^-24);
 * K u of the largest result (K the longest sum) for GEMMs and
 * convolutions, as test_conv.c derives; the
 * optimizers' 2e-5 |want| + 2e-6 max|want| of test_optim.c; initialisers
 * exact for uniforms (the same float operations in the same order) and
 * gc_default_tol for Box-Muller's log, cos and sin.
 *
 * Run it alone with `ctest -L oclgrind`. Without the label's environment
 * it runs on whatever OpenCL devices there are, and fails at once unless
 * they are all Oclgrind: the label would otherwise pass without checking
 * anything.
 */
#define _GNU_SOURCE /* setenv */
#include "cl_backend.h"
#include "gradcheck.h"
#include "internal.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double U = 5.9604644775390625e-08; /* 2^-24, float's unit roundoff */

/* Whether this run has Oclgrind's uninitialised-value check on
 * (tests/CMakeLists.txt: test oclgrind-uninitialized). That check
 * misjudges buffers the host initialised piecewise: Oclgrind 21.10
 * resizes its shadow of a whole buffer to the size of each host store
 * into it (Uninitialized::hostMemoryStore -> ShadowMemory::allocate;
 * unchanged on Oclgrind's master as of March 2026), so after
 * clEnqueueFillBuffer (stored one pattern at a time) or writes of parts,
 * loads past the last store's size read as uninitialised, and the
 * kernels' own stores there are dropped. So the library fills buffers
 * with a kernel and writes batch norm's running statistics in one piece. */
static bool uninitialized_check(void)
{
    const char *v = getenv("OCLGRIND_UNINITIALIZED");
    return v && strcmp(v, "1") == 0;
}

/* ---- the device must be Oclgrind ---- */

static void test_devices_are_oclgrind(void **state)
{
    int n = clg_device_count(), opencl = 0;
    for (int i = 0; i < n; i++) {
        clg_device_facts f;
        assert_int_equal(clg_device_get_facts(i, &f), CLG_OK);
        if (strcmp(f.backend, "opencl") != 0) continue;
        opencl++;
        if (!strstr(f.platform, "Oclgrind"))
            fail_msg("device %s (%s / %s) is not Oclgrind: run this test through `ctest -L oclgrind`", f.spec,
                     f.platform, f.name);
    }
    if (opencl == 0) fail_msg("no OpenCL device: is OCL_ICD_VENDORS set to the folder holding oclgrind.icd?");
}

/* ---- elementwise, losses, full reductions ---- */

typedef clg_tensor (*unary_fn)(clg_graph *g, clg_tensor x);
typedef clg_tensor (*binary_fn)(clg_graph *g, clg_tensor a, clg_tensor b);

static clg_tensor scale3(clg_graph *g, clg_tensor x) { return clg_scale(g, x, -3.0f); }
static clg_tensor leaky(clg_graph *g, clg_tensor x) { return clg_leaky_relu(g, x, 0.1f); }
/* sum and mean give one element; times x keeps a gradient per element */
static clg_tensor sum_times(clg_graph *g, clg_tensor x) { return clg_mul(g, x, clg_sum(g, x)); }
static clg_tensor mean_times(clg_graph *g, clg_tensor x) { return clg_mul(g, x, clg_mean(g, x)); }

static clg_tensor build_unary(clg_graph *g, const clg_tensor *in, void *arg)
{
    return ((unary_fn)arg)(g, in[0]);
}

static clg_tensor build_binary(clg_graph *g, const clg_tensor *in, void *arg)
{
    return ((binary_fn)arg)(g, in[0], in[1]);
}

/* compare (with its constant), where's kernels and their backward */
static clg_tensor where_ge(clg_graph *g, clg_tensor a, clg_tensor b)
{
    return clg_where(g, clg_compare(g, a, b, CLG_GE), a, b);
}
static clg_tensor clamp_op(clg_graph *g, clg_tensor x) { return clg_clamp(g, x, -1.0f, 1.5f); }
static clg_tensor pow_op(clg_graph *g, clg_tensor x) { return clg_pow(g, x, 1.5f); }
static clg_tensor softplus_beta_op(clg_graph *g, clg_tensor x) { return clg_softplus_beta(g, x, 2.0f, 3.0f); }

static void test_elementwise(void **state)
{
    static const struct {
        const char *name;
        unary_fn f;
        bool positive; /* log and sqrt */
    } unary[] = {
        {"neg", clg_neg, false},          {"scale", scale3, false},     {"square", clg_square, false},
        {"exp", clg_exp, false},          {"log", clg_log, true},       {"sqrt", clg_sqrt, true},
        {"relu", clg_relu, false},        {"sigmoid", clg_sigmoid, false}, {"tanh", clg_tanh, false},
        {"leaky_relu", leaky, false},     {"gelu", clg_gelu, false},    {"silu", clg_silu, false},
        {"softplus", clg_softplus, false}, {"sum", sum_times, false},   {"mean", mean_times, false},
        {"gelu_erf", clg_gelu_erf, false}, {"abs", clg_abs, false},     {"clamp", clamp_op, false},
        {"pow", pow_op, true},             {"softplus_beta", softplus_beta_op, false},
    };
    for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++) {
        const gc_input in = {
            .ndim = 2, .shape = {3, 5}, .param = true, .lo = 0.1, .hi = 2, .positive = unary[k].positive};
        gc_check_devices(unary[k].name, build_unary, (void *)unary[k].f, &in, 1, &gc_default_tol, 100 + k);
    }

    static const struct {
        const char *name;
        binary_fn f;
    } binary[] = {{"add", clg_add},         {"sub", clg_sub},         {"mul", clg_mul},
                  {"div", clg_div},         {"maximum", clg_maximum}, {"minimum", clg_minimum},
                  {"where(a >= b, a, b)", where_ge}, {"mse_loss", clg_mse_loss}, {"bce_with_logits", clg_bce_with_logits}};
    /* same shapes; a one-element side (no index arithmetic); broadcasting
     * of a row and of a column (the _bc kernels and reduce_to backward) */
    static const struct {
        int nb;
        int64_t b[2];
    } rhs[] = {{2, {3, 5}}, {1, {1}}, {1, {5}}, {2, {3, 1}}};
    for (size_t k = 0; k < sizeof binary / sizeof binary[0]; k++)
        for (size_t r = 0; r < sizeof rhs / sizeof rhs[0]; r++) {
            if (k >= 7 && r > 0) break; /* the losses take equal shapes */
            gc_input in[2] = {{.ndim = 2, .shape = {3, 5}, .param = true, .lo = 0.1, .hi = 2},
                              {.ndim = rhs[r].nb, .param = true, .lo = 0.5, .hi = 2}};
            memcpy(in[1].shape, rhs[r].b, sizeof rhs[r].b);
            char name[64];
            snprintf(name, sizeof name, "%s, right side %d-D [%lld...]", binary[k].name, rhs[r].nb,
                     (long long)rhs[r].b[0]);
            gc_check_devices(name, build_binary, (void *)binary[k].f, in, 2, &gc_default_tol, 200 + 10 * k + r);
        }
}

/* fake quantization per channel along the middle axis, learnable scale and
 * zero point (uint8, zero points 100..150, x / scale up to 100: both sides
 * clip), then per tensor with one-element parameters */
static clg_tensor fake_quant_op(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_fake_quantize(g, in[0], in[1], in[2], arg ? 1 : 0, 0, 255, 0.5f);
}

static void test_fake_quantize(void **state)
{
    (void)state;
    for (int per_channel = 1; per_channel >= 0; per_channel--) {
        const int64_t c = per_channel ? 3 : 1;
        gc_input in[3] = {{.ndim = 3, .shape = {2, 3, 5}, .param = true, .lo = 0.05, .hi = 4},
                          {.ndim = 1, .shape = {c}, .param = true, .lo = 0.04, .hi = 0.08, .positive = true},
                          {.ndim = 1, .shape = {c}, .param = true, .lo = 100, .hi = 150, .positive = true}};
        gc_tol tol = gc_default_tol;
        tol.grad_atol_of_max = 30 * U; /* scale's gradient sums 10 or 30 terms */
        gc_check_devices(per_channel ? "fake_quantize per channel" : "fake_quantize per tensor", fake_quant_op,
                         per_channel ? (void *)1 : NULL, in, 3, &tol, 300 + per_channel);
    }
}

/* Observed fake quantization: the observers' two-launch reduction (local
 * memory, barriers in a group-stride loop) per channel over [3, 5, 7]
 * along axis 1, and per tensor over 192 elements (more would split the
 * loss's sum over work-groups: see test_high_rank; several parts per
 * channel are covered on PoCL by tests/test_quant.c, with launches capped
 * too) */
static clg_tensor observed_op(clg_graph *g, const clg_tensor *in, void *arg)
{
    clg_observer_options o = clg_observer_defaults();
    o.per_channel = arg != NULL;
    o.axis = 1;
    o.moving_average = 1;
    o.symmetric = arg != NULL;
    return clg_fake_quantize_observed(g, in[0], &o, NULL, NULL);
}

static void test_observer(void **state)
{
    (void)state;
    gc_input ch = {.ndim = 3, .shape = {3, 5, 7}, .param = true, .lo = 0.05, .hi = 4};
    gc_check_devices("observed fake quantize per channel", observed_op, (void *)1, &ch, 1, &gc_default_tol, 310);
    gc_input t = {.ndim = 2, .shape = {2, 96}, .param = true, .lo = 0.05, .hi = 4};
    gc_check_devices("observed fake quantize per tensor", observed_op, NULL, &t, 1, &gc_default_tol, 311);
}

/* 16-bit casts: an odd count of 16-bit elements (the last 4-byte word
 * half used), the round-trip gradient rounded through the type, and a
 * product of 16-bit operands widened forward and again in backward;
 * rounding is exact against the reference (core/half.h), the product's
 * gradient may round either way at a boundary: one bf16 spacing */
static clg_tensor cast_trip(clg_graph *g, const clg_tensor *in, void *arg)
{
    const clg_elem t = arg ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    return clg_cast(g, clg_cast(g, in[0], t), CLG_ELEM_F32);
}

static clg_tensor cast_product(clg_graph *g, const clg_tensor *in, void *arg)
{
    (void)arg;
    return clg_matmul(g, clg_cast(g, in[0], CLG_ELEM_BF16), clg_cast(g, in[1], CLG_ELEM_BF16), 0, 1);
}

/* sigmoid(x) * y + a row, then its GELU, on 16-bit tensors (arg: bfloat16,
 * else float16): one generated kernel reading and writing 16 bits forward,
 * more backward; f32 the same on values rounded to the type but float32 */
static clg_tensor chain16(clg_graph *g, const clg_tensor *in, void *arg, bool f32)
{
    const clg_elem t = arg ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    clg_tensor v[3];
    for (int k = 0; k < 3; k++) v[k] = f32 ? clg_cast(g, clg_cast(g, in[k], t), CLG_ELEM_F32) : clg_cast(g, in[k], t);
    return clg_gelu(g, clg_add(g, clg_mul(g, clg_sigmoid(g, v[0]), v[1]), v[2]));
}
static clg_tensor chain16_h(clg_graph *g, const clg_tensor *in, void *arg) { return chain16(g, in, arg, false); }
static clg_tensor chain16_f(clg_graph *g, const clg_tensor *in, void *arg) { return chain16(g, in, arg, true); }

/* relu(batch norm(x)) of a 16-bit x (a convolution's output under mixed
 * precision; arg: bfloat16, else float16), gamma and beta float32 */
static clg_tensor bn16(clg_graph *g, const clg_tensor *in, void *arg, bool f32)
{
    const clg_elem t = arg ? CLG_ELEM_BF16 : CLG_ELEM_F16;
    clg_tensor x = f32 ? clg_cast(g, clg_cast(g, in[0], t), CLG_ELEM_F32) : clg_cast(g, in[0], t);
    return clg_relu(g, clg_batch_norm(g, x, in[1], in[2], 0.1f, 1e-5f));
}
static clg_tensor bn16_h(clg_graph *g, const clg_tensor *in, void *arg) { return bn16(g, in, arg, false); }
static clg_tensor bn16_f(clg_graph *g, const clg_tensor *in, void *arg) { return bn16(g, in, arg, true); }

static void test_cast(void **state)
{
    (void)state;
    /* 16-bit loads and stores in generated kernels, a float at a time and
     * on vectors of 4 (5x7: a tail; the row bias read as a vector) */
    const gc_input xyz[3] = {{.ndim = 2, .shape = {5, 8}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 2, .shape = {5, 8}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 1, .shape = {8}, .param = true, .lo = 0.1, .hi = 2}};
    const gc_input odd[3] = {{.ndim = 2, .shape = {5, 7}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 2, .shape = {5, 7}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 1, .shape = {7}, .param = true, .lo = 0.1, .hi = 2}};
    for (int w = 0; w < 2; w++) {
        if (w) setenv("CLGRAD_VECTOR_WIDTH", "4", 1);
        gc_check_16("chain 5x8", chain16_h, chain16_f, (void *)1, true, xyz, 3, &gc_default_tol, 323);
        gc_check_16("chain 5x7", chain16_h, chain16_f, NULL, false, odd, 3, &gc_default_tol, 324);
        unsetenv("CLGRAD_VECTOR_WIDTH");
    }
    const gc_input x = {.ndim = 2, .shape = {5, 7}, .param = true, .lo = 1e-6, .hi = 100};
    gc_tol exact = gc_default_tol;
    exact.fwd_rtol = exact.fwd_atol_of_max = exact.grad_rtol = exact.grad_atol_of_max = 0;
    gc_check_devices("cast float16 round trip", cast_trip, NULL, &x, 1, &exact, 320);
    gc_check_devices("cast bfloat16 round trip", cast_trip, (void *)1, &x, 1, &exact, 321);
    const gc_input ab[2] = {{.ndim = 2, .shape = {5, 9}, .param = true, .lo = 0.1, .hi = 2},
                            {.ndim = 2, .shape = {3, 9}, .param = true, .lo = 0.1, .hi = 2}};
    gc_tol tol = gc_default_tol;
    tol.fwd_atol_of_max = 9 * U;
    tol.grad_rtol = 0x1p-7; /* one bf16 spacing */
    gc_check_devices("matmul of bfloat16 operands", cast_product, NULL, ab, 2, &tol, 322);
}

/* Batch norm reading 16 bits: its op kernels (fusion off) and the
 * generated ones, on planes of whole vectors of 4 (BN_PLANES) and not.
 * Not under the uninitialised-value checks: Oclgrind 21.10's plugin
 * crashes (a SIGSEGV in a memcpy of Uninitialized::instructionExecuted) on
 * batch norm's kernels, float32 ones too, before this change as after
 * (checked by running them with the earlier cl/ sources). */
static void test_batch_norm_16(void **state)
{
    (void)state;
    if (getenv("OCLGRIND_UNINITIALIZED")) skip();
    const gc_input bn_even[3] = {{.ndim = 4, .shape = {2, 3, 2, 4}, .param = true, .lo = 0.1, .hi = 2},
                                 {.ndim = 1, .shape = {3}, .param = true, .lo = 0.5, .hi = 2},
                                 {.ndim = 1, .shape = {3}, .param = true, .lo = -1, .hi = 1}};
    const gc_input bn_odd[3] = {{.ndim = 4, .shape = {2, 3, 1, 3}, .param = true, .lo = 0.1, .hi = 2},
                                {.ndim = 1, .shape = {3}, .param = true, .lo = 0.5, .hi = 2},
                                {.ndim = 1, .shape = {3}, .param = true, .lo = -1, .hi = 1}};
    setenv("CLGRAD_VECTOR_WIDTH", "4", 1);
    for (int fused = 0; fused < 2; fused++) {
        if (!fused) setenv("CLGRAD_FUSION", "off", 1);
        gc_check_16("batch norm 2x3x2x4", bn16_h, bn16_f, (void *)1, true, bn_even, 3, &gc_default_tol, 325);
        gc_check_16("batch norm 2x3x1x3", bn16_h, bn16_f, NULL, false, bn_odd, 3, &gc_default_tol, 326);
        unsetenv("CLGRAD_FUSION");
    }
    unsetenv("CLGRAD_VECTOR_WIDTH");
}

/* ---- ranks past 4 ---- */

static clg_tensor permute6(clg_graph *g, clg_tensor x)
{
    static const int perm[6] = {5, 3, 0, 4, 1, 2};
    return clg_permute(g, x, perm);
}

/* 8-D against 7-D, each stretched along interior axes: bcast_offset's
 * long path in the _bc kernels, reduce_to at rank 8 backward; a 0-d side;
 * a 6-D permutation */
static void test_high_rank(void **state)
{
    (void)state;
    /* outputs of 192 elements: the loss's sum stays in one work-group
     * (Oclgrind 21.10's uninitialised-value check flags sum_final's read
     * of the second work-group's partial, though the sums come out right) */
    const gc_input x8 = {.ndim = 8, .shape = {2, 1, 2, 1, 2, 1, 1, 3}, .param = true, .lo = 0.1, .hi = 2};
    gc_input y7 = {.ndim = 7, .shape = {2, 1, 2, 1, 2, 1, 3}, .param = true, .lo = 0.5, .hi = 2};
    const gc_input pair[2] = {x8, y7};
    gc_check_devices("add 8-D and 7-D", build_binary, (void *)clg_add, pair, 2, &gc_default_tol, 900);
    gc_check_devices("where 8-D and 7-D", build_binary, (void *)where_ge, pair, 2, &gc_default_tol, 901);
    y7.ndim = 0;
    gc_input scalar[2] = {x8, y7};
    scalar[0].positive = true; /* the 0-d side's gradient sums x dz: no cancellation */
    gc_check_devices("mul 8-D and 0-d", build_binary, (void *)clg_mul, scalar, 2, &gc_default_tol, 902);
    const gc_input x6 = {.ndim = 6, .shape = {2, 3, 1, 2, 3, 2}, .param = true, .lo = 0.1, .hi = 2};
    gc_check_devices("permute 6-D", build_unary, (void *)permute6, &x6, 1, &gc_default_tol, 903);
}

/* ---- reductions along an axis ---- */

typedef struct axis_case {
    int which, axis, keep; /* which: 0 sum, 1 mean, 2 max */
} axis_case;

static clg_tensor build_axis(clg_graph *g, const clg_tensor *in, void *arg)
{
    const axis_case *c = arg;
    if (c->which == 0) return clg_sum_axis(g, in[0], c->axis, c->keep);
    if (c->which == 1) return clg_mean_axis(g, in[0], c->axis, c->keep);
    return clg_max_axis(g, in[0], c->axis, c->keep);
}

static void test_axis_reductions(void **state)
{
    static const char *const names[] = {"sum_axis", "mean_axis", "max_axis"};
    const gc_input in = {.ndim = 3, .shape = {3, 4, 5}, .param = true, .lo = 0.1, .hi = 2};
    for (int which = 0; which < 3; which++)
        for (int axis = 0; axis < 3; axis++) {
            axis_case c = {which, axis, axis == 1};
            char name[64];
            snprintf(name, sizeof name, "%s axis %d%s", names[which], axis, c.keep ? " keepdim" : "");
            gc_check_devices(name, build_axis, &c, &in, 1, &gc_default_tol, 300 + 3 * which + axis);
        }
}

/* ---- softmax, log-softmax, cross-entropy ---- */

typedef struct sm_case {
    int log, axis;
} sm_case;

static clg_tensor build_softmax(clg_graph *g, const clg_tensor *in, void *arg)
{
    const sm_case *c = arg;
    return c->log ? clg_log_softmax(g, in[0], c->axis) : clg_softmax(g, in[0], c->axis);
}

static clg_tensor build_ce(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_softmax_cross_entropy(g, in[0], in[1]);
}

/* one-hot rows (ignoring class 2) times x: the one-hot kernel */
static clg_tensor build_one_hot(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_mul(g, clg_one_hot(g, in[1], clg_tensor_dim(g, in[0], 1), 2), in[0]);
}

static void test_softmax(void **state)
{
    /* The last axis (contiguous rows) and the middle one (rows `inner`
     * apart). Both run the one-work-group-per-row kernels: the
     * one-work-item-per-row ones (softmax_*_rows) take over only from
     * max_global / wg rows, millions, far beyond what Oclgrind can run. */
    const gc_input in = {.ndim = 3, .shape = {2, 7, 3}, .param = true, .lo = 0.1, .hi = 3};
    for (int log = 0; log < 2; log++)
        for (int axis = 1; axis < 3; axis++) {
            sm_case c = {log, axis};
            char name[64];
            snprintf(name, sizeof name, "%s axis %d", log ? "log_softmax" : "softmax", axis);
            gc_check_devices(name, build_softmax, &c, &in, 1, &gc_default_tol, 400 + 2 * log + axis);
        }
    const gc_input ce[2] = {{.ndim = 2, .shape = {5, 7}, .param = true, .lo = 0.1, .hi = 3},
                            {.ndim = 1, .shape = {5}, .label_max = 7}};
    gc_check_devices("softmax_cross_entropy 5x7", build_ce, NULL, ce, 2, &gc_default_tol, 410);
    /* rows of >= 8 logits: a gradient vector's lanes select between two rows */
    const gc_input ce11[2] = {{.ndim = 2, .shape = {6, 11}, .param = true, .lo = 0.1, .hi = 3},
                              {.ndim = 1, .shape = {6}, .label_max = 11}};
    gc_check_devices("softmax_cross_entropy 6x11", build_ce, NULL, ce11, 2, &gc_default_tol, 411);
    gc_check_devices("one_hot 5x7 times x", build_one_hot, NULL, ce, 2, &gc_default_tol, 412);
}

/* ---- conv and pooling ---- */

typedef struct conv_case {
    const char *name;
    int64_t x[4], w[4];
    bool bias;
    int sh, sw, ph, pw, dh, dw;
} conv_case;

static clg_tensor build_conv(clg_graph *g, const clg_tensor *in, void *arg)
{
    const conv_case *c = arg;
    return clg_conv2d(g, in[0], in[1], c->bias ? in[2] : CLG_NO_TENSOR, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw);
}

static int64_t out_extent(int64_t in, int64_t k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

static void test_conv(void **state)
{
    static const conv_case cases[] = {
        {"conv 2x3x5x6 * 4x3x3x3 + bias, padding 1", {2, 3, 5, 6}, {4, 3, 3, 3}, true, 1, 1, 1, 1, 1, 1},
        {"conv stride 2, dilation 2, no bias", {1, 2, 7, 6}, {3, 2, 2, 3}, false, 2, 1, 1, 0, 2, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const conv_case *c = &cases[k];
        gc_input in[3] = {{.ndim = 4, .param = true, .lo = 0.1, .hi = 2},
                          {.ndim = 4, .param = true, .lo = 0.1, .hi = 1},
                          {.ndim = 1, .shape = {c->w[0]}, .param = true, .lo = 0.1, .hi = 1}};
        memcpy(in[0].shape, c->x, sizeof c->x);
        memcpy(in[1].shape, c->w, sizeof c->w);
        /* test_conv.c's bound: K u of the largest result, per tensor */
        int64_t oh = out_extent(c->x[2], c->w[2], c->sh, c->ph, c->dh);
        int64_t ow = out_extent(c->x[3], c->w[3], c->sw, c->pw, c->dw);
        double k_out = (double)(c->w[1] * c->w[2] * c->w[3]);
        double k_dw = (double)(c->x[0] * oh * ow), k_dx = (double)(c->w[0] * c->w[2] * c->w[3]);
        gc_tol tol = gc_default_tol;
        tol.fwd_atol_of_max = fmax(tol.fwd_atol_of_max, k_out * U);
        tol.grad_atol_of_max = fmax(tol.grad_atol_of_max, fmax(k_dw, k_dx) * U);
        gc_check_devices(c->name, build_conv, (void *)c, in, c->bias ? 3 : 2, &tol, 500 + k);
        /* and the direct kernels (cl/conv.cl), whose weight gradient reduces
         * in work-groups, and Winograd (cl/winograd.cl: the first case; the
         * second falls back to im2col) */
        static const char *const paths[] = {"direct", "winograd"};
        for (int p = 0; p < 2; p++) {
            setenv("CLGRAD_CONV", paths[p], 1);
            char name[96];
            snprintf(name, sizeof name, "%s, %s", c->name, paths[p]);
            gc_check_devices(name, build_conv, (void *)c, in, c->bias ? 3 : 2, &tol, 600 + 10 * p + k);
            unsetenv("CLGRAD_CONV");
        }
    }
}

/* the transposed convolution: its forward is the direct input-gradient
 * kernel (with the bias pass), its backward a conv2d and that conv's
 * weight gradient; stride 2 with output padding 1, and stride and dilation 2 */
static clg_tensor build_convt(clg_graph *g, const clg_tensor *in, void *arg)
{
    return *(const int *)arg ? clg_conv_transpose2d(g, in[0], in[1], in[2], 2, 2, 2, 1, 1, 0, 2, 2)
                             : clg_conv_transpose2d(g, in[0], in[1], in[2], 2, 2, 1, 1, 1, 1, 1, 1);
}

static void test_conv_transpose(void **state)
{
    (void)state;
    const gc_input in[3] = {{.ndim = 4, .shape = {2, 3, 4, 3}, .param = true, .lo = 0.1, .hi = 2},
                            {.ndim = 4, .shape = {3, 2, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
                            {.ndim = 1, .shape = {2}, .param = true, .lo = 0.1, .hi = 1}};
    /* test_conv.c's bound: sums of at most C k^2 = 27 (forward), 2 * 3 * 3
     * (dx) and N H W = 24 terms (dw) */
    gc_tol tol = gc_default_tol;
    tol.fwd_atol_of_max = fmax(tol.fwd_atol_of_max, 28 * U);
    tol.grad_atol_of_max = fmax(tol.grad_atol_of_max, 24 * U);
    static const int which[2] = {0, 1};
    gc_check_devices("conv_transpose2d stride 2, output padding 1", build_convt, (void *)&which[0], in, 3, &tol, 650);
    gc_check_devices("conv_transpose2d stride 2, dilation 2", build_convt, (void *)&which[1], in, 3, &tol, 651);
}

typedef struct pool_case {
    bool max;
    int k, s, p;
    int dilation, ceil_mode, count_include_pad; /* 0, 0, 0: the plain calls */
} pool_case;

static clg_tensor build_pool(clg_graph *g, const clg_tensor *in, void *arg)
{
    const pool_case *c = arg;
    if (c->dilation) {
        clg_pool_options o;
        clg_pool_options_init(&o, sizeof o);
        o.dilation_h = o.dilation_w = c->dilation;
        o.ceil_mode = c->ceil_mode;
        o.count_include_pad = c->count_include_pad;
        return c->max ? clg_max_pool2d_opt(g, in[0], c->k, c->k, c->s, c->s, c->p, c->p, &o)
                      : clg_avg_pool2d_opt(g, in[0], c->k, c->k, c->s, c->s, c->p, c->p, &o);
    }
    return c->max ? clg_max_pool2d(g, in[0], c->k, c->k, c->s, c->s, c->p, c->p)
                  : clg_avg_pool2d(g, in[0], c->k, c->k, c->s, c->s, c->p, c->p);
}

static void test_pool(void **state)
{
    /* and the options: ceil mode's clipped windows on the 5x6 planes,
     * dilated taps, the divisor without the padding */
    static const pool_case cases[] = {
        {true, 2, 2, 0, 0, 0, 0},  {true, 3, 2, 1, 0, 0, 0},  {false, 2, 2, 0, 0, 0, 0}, {false, 3, 2, 1, 0, 0, 0},
        {true, 2, 2, 0, 1, 1, 1},  {true, 3, 2, 1, 2, 1, 1},  {false, 2, 2, 0, 1, 1, 1}, {false, 3, 2, 1, 1, 1, 0}};
    const gc_input in = {.ndim = 4, .shape = {2, 3, 5, 6}, .param = true, .lo = 0.1, .hi = 2};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s_pool2d %dx%d stride %d padding %d%s dilation %d", cases[k].max ? "max" : "avg",
                 cases[k].k, cases[k].k, cases[k].s, cases[k].p, cases[k].ceil_mode ? " ceil" : "",
                 cases[k].dilation ? cases[k].dilation : 1);
        /* at most k*k terms per sum: within gc_default_tol (test_conv.c) */
        gc_check_devices(name, build_pool, (void *)&cases[k], &in, 1, &gc_default_tol, 520 + k);
    }
}

/* ---- batch norm ---- */

typedef struct bn_case {
    bool eval;
} bn_case;

static const float RUN_MEAN[3] = {0.3f, -1.2f, 0.05f};
static const float RUN_VAR[3] = {0.8f, 1.7f, 0.2f};

static clg_tensor build_bn(clg_graph *g, const clg_tensor *in, void *arg)
{
    const bn_case *k = arg;
    clg_tensor y = clg_batch_norm(g, in[0], in[1], in[2], 0.1f, 1e-5f);
    if (k->eval) {
        if (clg_batch_norm_set_running(g, y, RUN_MEAN, RUN_VAR, 3) != CLG_OK) return CLG_NO_TENSOR;
        clg_graph_set_training(g, 0);
    }
    return y;
}

static void bn_inputs(gc_input in[3], int ndim, const int64_t *shape)
{
    memset(in, 0, 3 * sizeof *in);
    in[0] = (gc_input){.ndim = ndim, .param = true, .lo = 0.05, .hi = 2};
    memcpy(in[0].shape, shape, (size_t)ndim * sizeof *shape);
    in[1] = (gc_input){.ndim = 1, .shape = {shape[1]}, .param = true, .lo = 0.5, .hi = 1.5};
    in[2] = (gc_input){.ndim = 1, .shape = {shape[1]}, .param = true, .lo = 0.1, .hi = 1};
}

/* The running statistics after two training runs, Oclgrind against the
 * reference (the forward kernel updates them). */
static void bn_running(const char *spec, const float *x, const int64_t *shape, float *mean, float *var)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t c = shape[1];
    clg_tensor tx = clg_input(g, 4, shape), gamma = clg_param(g, 1, &c), beta = clg_param(g, 1, &c);
    clg_tensor y = clg_batch_norm(g, tx, gamma, beta, 0.1f, 1e-5f);
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_tensor_set(g, tx, x, (size_t)numel_of(4, shape)));
    CHECK_OK(ctx, clg_tensor_fill(g, gamma, 1.0f));
    CHECK_OK(ctx, clg_tensor_fill(g, beta, 0.0f));
    for (int run = 0; run < 2; run++) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_FORWARD));
    CHECK_OK(ctx, clg_batch_norm_running(g, y, mean, var, (size_t)c));
    clg_context_destroy(ctx);
}

static void test_batch_norm(void **state)
{
    static const int64_t nchw[4] = {2, 3, 2, 3}, nc[2] = {6, 3};
    gc_input in[3];
    const bn_case train = {false}, eval = {true};
    bn_inputs(in, 4, nchw);
    gc_check_devices("batch_norm 2x3x2x3", build_bn, (void *)&train, in, 3, &gc_default_tol, 601);
    gc_check_devices("batch_norm eval 2x3x2x3", build_bn, (void *)&eval, in, 3, &gc_default_tol, 602);
    bn_inputs(in, 2, nc);
    gc_check_devices("batch_norm 6x3", build_bn, (void *)&train, in, 3, &gc_default_tol, 603);

    float x[36], rm[3], rv[3], dm[3], dv[3];
    rng_t r = {604};
    rng_fill(&r, x, 36, 0.05, 2, false);
    bn_running("reference", x, nchw, rm, rv);
    char specs[4][32];
    int n = test_opencl_devices(specs, 4);
    for (int d = 0; d < n; d++) {
        bn_running(specs[d], x, nchw, dm, dv);
        assert_close_scaled(dm, rm, 3, 4e-6, 1e-6, "batch_norm running mean");
        assert_close_scaled(dv, rv, 3, 4e-6, 1e-6, "batch_norm running variance");
    }
}

/* ---- RNG: initialisers, raw words, dropout ---- */

static clg_tensor build_dropout(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_dropout(g, in[0], 0.3f, 77);
}

static clg_tensor build_crop_flip(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_random_crop_flip(g, in[0], 3, 1, 78);
}

enum { INIT_KINDS = 6 };

/* Each initialiser on a [7, 5] weight (30 elements: a partial block of
 * four at the end), and raw words into 13 int32 labels. */
static void init_values(const char *spec, float out[INIT_KINDS][35], int32_t words[13])
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t shape[2] = {7, 5}, nl = 13;
    clg_tensor w = clg_param(g, 2, shape), l = clg_labels(g, 1, &nl);
    CHECK_OK(ctx, clg_graph_status(g));
    for (int k = 0; k < INIT_KINDS; k++) {
        switch (k) {
        case 0: CHECK_OK(ctx, clg_init_uniform(g, w, -0.5f, 2.0f, 11)); break;
        case 1: CHECK_OK(ctx, clg_init_normal(g, w, 0.25f, 3.0f, 12)); break;
        case 2: CHECK_OK(ctx, clg_init_xavier_uniform(g, w, 13)); break;
        case 3: CHECK_OK(ctx, clg_init_xavier_normal(g, w, 14)); break;
        case 4: CHECK_OK(ctx, clg_init_kaiming_uniform(g, w, 15)); break;
        case 5: CHECK_OK(ctx, clg_init_kaiming_normal(g, w, 16)); break;
        }
        CHECK_OK(ctx, clg_tensor_get(g, w, out[k], 35));
    }
    CHECK_OK(ctx, clg_random_bits(g, l, 17, 3));
    CHECK_OK(ctx, clg_tensor_get_i32(g, l, words, 13));
    clg_context_destroy(ctx);
}

static void test_random(void **state)
{
    float ref[INIT_KINDS][35], dev[INIT_KINDS][35];
    int32_t ref_words[13], dev_words[13];
    init_values("reference", ref, ref_words);
    char specs[4][32];
    int n = test_opencl_devices(specs, 4);
    for (int d = 0; d < n; d++) {
        init_values(specs[d], dev, dev_words);
        for (int k = 0; k < INIT_KINDS; k++) {
            char what[192];
            snprintf(what, sizeof what, "initialiser %d on %s", k, specs[d]);
            if (k % 2 == 0) assert_close_ulp(dev[k], ref[k], 35, 0, what); /* uniforms: exact */
            else assert_close_scaled(dev[k], ref[k], 35, gc_default_tol.fwd_rtol, gc_default_tol.fwd_atol_of_max, what);
        }
        assert_memory_equal(dev_words, ref_words, sizeof ref_words);
    }
    const gc_input in = {.ndim = 2, .shape = {3, 5}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("dropout 3x5", build_dropout, NULL, &in, 1, &gc_default_tol, 701);
    /* 5 images of 2x3x5: crops past every edge with padding 3 */
    const gc_input img = {.ndim = 4, .shape = {5, 2, 3, 5}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("random_crop_flip 5x2x3x5", build_crop_flip, NULL, &img, 1, &gc_default_tol, 702);
}

/* ---- optimizers and global-norm clipping ---- */

/* test_optim.c's bound for parameters and state after a few steps */
static const double OPT_RTOL = 2e-5, OPT_ATOL_OF_MAX = 2e-6;
enum { OPT_STEPS = 3 };

/* loss = sum(w0 * c0) + sum(w1^2 c1) over w0 [3, 5], w1 [7]: gradients
 * that change with w, so momentum and state matter. Runs OPT_STEPS steps
 * (two micro-batches each with accumulation) and returns w0 then w1. */
static void optim_run(const char *spec, const clg_optimizer_config *cfg, bool plain_sgd, float *out)
{
    clg_context *ctx = open_ctx(spec);
    clg_graph *g;
    CHECK_OK(ctx, clg_graph_create(ctx, &g));
    const int64_t s0[2] = {3, 5}, s1 = 7;
    clg_tensor w0 = clg_param(g, 2, s0), c0 = clg_input(g, 2, s0), w1 = clg_param(g, 1, &s1), c1 = clg_input(g, 1, &s1);
    clg_tensor loss = clg_add(g, clg_sum(g, clg_mul(g, w0, c0)), clg_sum(g, clg_mul(g, clg_square(g, w1), c1)));
    CHECK_OK(ctx, clg_tensor_set_name(g, w0, "w0"));
    CHECK_OK(ctx, clg_tensor_set_name(g, w1, "w1"));
    CHECK_OK(ctx, clg_graph_status(g));
    CHECK_OK(ctx, clg_backward(g, loss));
    if (plain_sgd) {
        CHECK_OK(ctx, clg_sgd(g, 0.05f));
    } else {
        CHECK_OK(ctx, clg_optimizer(g, cfg));

    }
    rng_t r = {800};
    float v[15];
    rng_fill(&r, v, 15, 0.5, 2, false);
    CHECK_OK(ctx, clg_tensor_set(g, w0, v, 15));
    rng_fill(&r, v, 7, 0.5, 2, false);
    CHECK_OK(ctx, clg_tensor_set(g, w1, v, 7));
    const int micro = !plain_sgd && cfg->accumulate ? 2 : 1;
    for (int step = 0; step < OPT_STEPS; step++) {
        for (int mb = 0; mb < micro; mb++) {
            rng_fill(&r, v, 15, 0.1, 2, false);
            CHECK_OK(ctx, clg_tensor_set(g, c0, v, 15));
            rng_fill(&r, v, 7, 0.1, 2, false);
            CHECK_OK(ctx, clg_tensor_set(g, c1, v, 7));
            CHECK_OK(ctx, clg_graph_run(g, micro > 1 ? CLG_RUN_FORWARD | CLG_RUN_BACKWARD : CLG_RUN_ALL));
        }
        if (micro > 1) CHECK_OK(ctx, clg_graph_run(g, CLG_RUN_UPDATE));
    }
    CHECK_OK(ctx, clg_tensor_get(g, w0, out, 15));
    CHECK_OK(ctx, clg_tensor_get(g, w1, out + 15, 7));
    clg_context_destroy(ctx);
}

static void test_optimizers(void **state)
{
    clg_optimizer_config cfgs[16];
    const char *names[16];
    int n = 0;
#define CASE(label) (names[n] = (label), &cfgs[n++])
    clg_optimizer_config *c;
    c = CASE("sgd momentum, weight decay, clipped");
    *c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c->lr = 0.05f, c->momentum = 0.9f, c->dampening = 0.1f, c->weight_decay = 0.01f, c->max_grad_norm = 1.0f;
    c = CASE("sgd nesterov");
    *c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c->lr = 0.05f, c->momentum = 0.9f, c->nesterov = 1;
    c = CASE("sgd, accumulated");
    *c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c->lr = 0.05f, c->accumulate = 1;
    c = CASE("adam, weight decay, clipped");
    *c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c->lr = 0.05f, c->weight_decay = 0.01f, c->max_grad_norm = 1.0f;
    c = CASE("adam amsgrad");
    *c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c->lr = 0.05f, c->amsgrad = 1;
    c = CASE("adamw amsgrad, accumulated");
    *c = clg_optimizer_defaults(CLG_OPTIM_ADAMW);
    c->lr = 0.05f, c->amsgrad = 1, c->accumulate = 1;
    c = CASE("rmsprop");
    *c = clg_optimizer_defaults(CLG_OPTIM_RMSPROP);
    c = CASE("rmsprop momentum, centered, weight decay");
    *c = clg_optimizer_defaults(CLG_OPTIM_RMSPROP);
    c->momentum = 0.5f, c->centered = 1, c->weight_decay = 0.01f;
    c = CASE("adagrad lr_decay, initial accumulator, clipped");
    *c = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD);
    c->lr_decay = 0.1f, c->initial_accumulator_value = 0.5f, c->weight_decay = 0.01f, c->max_grad_norm = 1.0f;
    c = CASE("adam, loss scaled (the non-finite count), clipped");
    *c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    c->lr = 0.05f, c->loss_scale = 1024.0f, c->max_grad_norm = 1.0f;
#undef CASE
    char specs[4][32];
    int ndev = test_opencl_devices(specs, 4);
    float want[22], got[22];
    /* then at vector width 4 (Oclgrind prefers 1): the updates walk their
     * tensors in vectors and finish the last floats one at a time; not
     * under the uninitialised-value check (see test_fused) */
    const char *uninit = getenv("OCLGRIND_UNINITIALIZED");
    const int widths = uninit && *uninit && strcmp(uninit, "0") != 0 ? 1 : 2;
    for (int w = 0; w < widths; w++) {
        if (w) setenv("CLGRAD_VECTOR_WIDTH", "4", 1);
        for (int k = -1; k < n; k++) {
            const char *label = k < 0 ? "clg_sgd" : names[k];
            optim_run("reference", k < 0 ? NULL : &cfgs[k], k < 0, want);
            for (int d = 0; d < ndev; d++) {
                optim_run(specs[d], k < 0 ? NULL : &cfgs[k], k < 0, got);
                char what[256];
                snprintf(what, sizeof what, "%s on %s%s: parameters after %d steps", label, specs[d],
                         w ? " at vector width 4" : "", OPT_STEPS);
                assert_close_scaled(got, want, 22, OPT_RTOL, OPT_ATOL_OF_MAX, what);
            }
        }
    }
    unsetenv("CLGRAD_VECTOR_WIDTH");
}

/* ---- matmul (CLBlast) ---- */

typedef struct mm_case {
    int ta, tb;
} mm_case;

static clg_tensor build_mm(clg_graph *g, const clg_tensor *in, void *arg)
{
    const mm_case *c = arg;
    return clg_matmul(g, in[0], in[1], c->ta, c->tb);
}

static clg_tensor build_linear(clg_graph *g, const clg_tensor *in, void *arg)
{
    return clg_linear(g, in[0], in[1], in[2]);
}

/* K u of the largest result as in test_conv.c, K the longest sum of any
 * of the GEMMs (forward k, the gradients' m and n, times the batch where
 * a gradient sums over it). */
static gc_tol gemm_tol(double k)
{
    gc_tol t = gc_default_tol;
    t.fwd_atol_of_max = fmax(t.fwd_atol_of_max, (k + 4) * U);
    t.grad_atol_of_max = fmax(t.grad_atol_of_max, (k + 4) * U);
    return t;
}

static void test_matmul(void **state)
{
    const int64_t M = 3, K = 4, N = 5, B = 2;
    const gc_tol tol = gemm_tol((double)(B * N));
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            mm_case c = {ta, tb};
            gc_input in[2] = {{.ndim = 2, .param = true, .lo = 0.1, .hi = 2},
                              {.ndim = 2, .param = true, .lo = 0.1, .hi = 2}};
            in[0].shape[0] = ta ? K : M, in[0].shape[1] = ta ? M : K;
            in[1].shape[0] = tb ? N : K, in[1].shape[1] = tb ? K : N;
            char name[64];
            snprintf(name, sizeof name, "matmul 3x4x5%s%s", ta ? " A^T" : "", tb ? " B^T" : "");
            gc_check_devices(name, build_mm, &c, in, 2, &tol, 900 + 2 * ta + tb);
        }
    /* batched: both operands, b shared (a weight), a shared (its gradient
     * sums over the batch) */
    static const struct {
        int na, nb;
    } batched[] = {{3, 3}, {3, 2}, {2, 3}};
    for (size_t k = 0; k < sizeof batched / sizeof batched[0]; k++) {
        mm_case c = {0, k == 2};
        gc_input in[2] = {{.ndim = batched[k].na, .param = true, .lo = 0.1, .hi = 2},
                          {.ndim = batched[k].nb, .param = true, .lo = 0.1, .hi = 2}};
        int64_t a[3] = {B, M, K}, b[3] = {B, c.tb ? N : K, c.tb ? K : N};
        memcpy(in[0].shape, a + 3 - batched[k].na, (size_t)batched[k].na * sizeof *a);
        memcpy(in[1].shape, b + 3 - batched[k].nb, (size_t)batched[k].nb * sizeof *b);
        char name[64];
        snprintf(name, sizeof name, "batched matmul, %d-D x %d-D%s", batched[k].na, batched[k].nb, c.tb ? " B^T" : "");
        gc_check_devices(name, build_mm, &c, in, 2, &tol, 910 + k);
    }
    const gc_input lin[3] = {{.ndim = 2, .shape = {M, K}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 2, .shape = {N, K}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 1, .shape = {N}, .param = true, .lo = 0.1, .hi = 2}};
    gc_check_devices("linear 3x4 -> 5 + bias", build_linear, NULL, lin, 3, &tol, 920);
}

/* ---- shape ops ---- */

typedef struct shape_case {
    int op, axis; /* op: 0 permute, 1 slice, 2 concat */
} shape_case;

static clg_tensor build_shape(clg_graph *g, const clg_tensor *in, void *arg)
{
    const shape_case *c = arg;
    static const int perm[3] = {2, 0, 1};
    if (c->op == 0) return clg_permute(g, in[0], perm);
    if (c->op == 1) return clg_slice(g, in[0], c->axis, 1, c->axis ? 2 : 1);
    return clg_concat(g, in[0], in[1], c->axis);
}

static void test_shape(void **state)
{
    const gc_input x = {.ndim = 3, .shape = {2, 3, 4}, .param = true, .lo = 0.1, .hi = 2};
    shape_case c = {0, 0};
    gc_check_devices("permute 2x3x4 (2, 0, 1)", build_shape, &c, &x, 1, &gc_default_tol, 1000);
    for (int axis = 0; axis < 3; axis++) {
        char name[64];
        c = (shape_case){1, axis};
        snprintf(name, sizeof name, "slice 2x3x4 axis %d from 1", axis);
        gc_check_devices(name, build_shape, &c, &x, 1, &gc_default_tol, 1010 + axis);
        gc_input in[2] = {x, x};
        in[1].shape[axis] = 3;
        c = (shape_case){2, axis};
        snprintf(name, sizeof name, "concat 2x3x4 axis %d", axis);
        gc_check_devices(name, build_shape, &c, in, 2, &gc_default_tol, 1020 + axis);
    }
}

/* ---- grid-stride loops and the paths for huge tensors ---- */

/* Caps every launch at one work-group's worth of work-items (the backend
 * assumes at least that): grid-stride loops then take several turns, im2col
 * gives each work-item several channels, reductions to one element run in
 * one group, and softmax picks its one-work-item-per-row kernels, paths a
 * device otherwise takes only for tensors of millions of elements. */
static void cap_launches(clg_context *ctx)
{
    clg_cl_backend *b = (clg_cl_backend *)ctx->be;
    size_t wg = 1;
    for (int k = 0; k < K_COUNT; k++)
        if (b->kwg[k] > wg) wg = b->kwg[k];
    b->max_global = wg;
}

/* ---- fused kernels (host/cl_fuse.c) ---- */

/* conv, batch norm + ReLU, max pool, linear, cross-entropy: forward, batch
 * norm + ReLU and the loss with its bias add fuse; backward, the loss's
 * gradient with the bias's, and max pool's gradient, ReLU's and batch
 * norm's sums (the generated kernels with barriers and gathers). */
static clg_tensor build_bn_relu(clg_graph *g, const clg_tensor *in, void *arg)
{
    (void)arg;
    return clg_relu(g, clg_batch_norm(g, in[0], in[1], in[2], 0.1f, 1e-5f));
}

static clg_tensor build_block(clg_graph *g, const clg_tensor *in, void *arg)
{
    (void)arg;
    clg_tensor h = clg_conv2d(g, in[0], in[1], CLG_NO_TENSOR, 1, 1, 1, 1, 1, 1);
    h = clg_max_pool2d(g, clg_relu(g, clg_batch_norm(g, h, in[2], in[3], 0.1f, 1e-5f)), 2, 2, 2, 2, 0, 0);
    const int64_t flat[2] = {3, 3 * 3 * 3};
    return clg_softmax_cross_entropy(g, clg_linear(g, clg_reshape(g, h, 2, flat), in[4], in[5]), in[6]);
}

/* linear, ReLU, linear, sigmoid, linear, cross-entropy: the activations'
 * gradients with the biases' reduce_to */
static clg_tensor build_mlp(clg_graph *g, const clg_tensor *in, void *arg)
{
    (void)arg;
    clg_tensor h = clg_relu(g, clg_linear(g, in[0], in[1], in[2]));
    h = clg_sigmoid(g, clg_linear(g, h, in[3], in[4]));
    const int64_t ws[2] = {3, 16};
    clg_tensor w = clg_input(g, 2, ws);
    if (clg_init_uniform(g, w, -0.5f, 0.5f, 9) != CLG_OK) return CLG_NO_TENSOR;
    return clg_softmax_cross_entropy(g, clg_linear(g, h, w, in[5]), in[6]);
}

static void test_fused(void **state)
{
    const gc_input block[7] = {{.ndim = 4, .shape = {3, 2, 7, 7}, .param = true, .lo = 0.1, .hi = 2},
                               {.ndim = 4, .shape = {3, 2, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
                               {.ndim = 1, .shape = {3}, .param = true, .lo = 0.5, .hi = 1.5},
                               {.ndim = 1, .shape = {3}, .param = true, .lo = 0.1, .hi = 1},
                               {.ndim = 2, .shape = {5, 27}, .param = true, .lo = 0.1, .hi = 1},
                               {.ndim = 1, .shape = {5}, .param = true, .lo = 0.1, .hi = 1},
                               {.ndim = 1, .shape = {3}, .label_max = 5}};
    gc_tol tol = gc_default_tol; /* test_conv.c's bound for the convolution */
    tol.fwd_atol_of_max = fmax(tol.fwd_atol_of_max, 18 * U);
    tol.grad_atol_of_max = fmax(tol.grad_atol_of_max, 147 * U);
    gc_check_devices("conv-bn-relu-pool-linear-ce, fused", build_block, NULL, block, 7, &tol, 1200);
    const gc_input mlp[7] = {{.ndim = 2, .shape = {5, 7}, .param = true, .lo = 0.1, .hi = 2},
                             {.ndim = 2, .shape = {32, 7}, .param = true, .lo = 0.1, .hi = 1},
                             {.ndim = 1, .shape = {32}, .param = true, .lo = 0.1, .hi = 1},
                             {.ndim = 2, .shape = {16, 32}, .param = true, .lo = 0.1, .hi = 1},
                             {.ndim = 1, .shape = {16}, .param = true, .lo = 0.1, .hi = 1},
                             {.ndim = 1, .shape = {3}, .param = true, .lo = 0.1, .hi = 1},
                             {.ndim = 1, .shape = {5}, .label_max = 3}};
    gc_check_devices("linear-relu-linear-sigmoid-linear-ce, fused", build_mlp, NULL, mlp, 7, &gc_default_tol, 1201);
    /* vectors of 4 (Oclgrind prefers 1): batch norm's planes of 4x4 are
     * whole vectors, so its walk, the fused batch norm + ReLU and the fused
     * sums with the input gradient's second pass run on them. Not under
     * the uninitialised-value check: Oclgrind 21.10's plugin crashes
     * (SIGSEGV in Uninitialized::instructionExecuted) on these kernels at
     * width 4, fused or not. */
    const char *uninit = getenv("OCLGRIND_UNINITIALIZED");
    if (uninit && *uninit && strcmp(uninit, "0") != 0) return;
    setenv("CLGRAD_VECTOR_WIDTH", "4", 1);
    const gc_input bn[3] = {{.ndim = 4, .shape = {3, 2, 4, 4}, .param = true, .lo = 0.1, .hi = 2},
                            {.ndim = 1, .shape = {2}, .param = true, .lo = 0.5, .hi = 1.5},
                            {.ndim = 1, .shape = {2}, .param = true, .lo = 0.1, .hi = 1}};
    gc_check_devices("batch_norm-relu 3x2x4x4 on vectors of 4, fused", build_bn_relu, NULL, bn, 3, &gc_default_tol, 1202);
    unsetenv("CLGRAD_VECTOR_WIDTH");
}

static void test_grid_stride(void **state)
{
    gc_device_hook = cap_launches;
    const gc_input v = {.ndim = 2, .shape = {17, 19}, .param = true, .lo = 0.1, .hi = 2};
    gc_check_devices("exp 17x19, capped", build_unary, (void *)clg_exp, &v, 1, &gc_default_tol, 1100);
    const gc_input pos = {.ndim = 2, .shape = {17, 19}, .param = true, .lo = 0.1, .hi = 2, .positive = true};
    gc_check_devices("sum 17x19, capped", build_unary, (void *)sum_times, &pos, 1, &gc_default_tol, 1101);
    const gc_input row[2] = {v, {.ndim = 1, .shape = {19}, .param = true, .lo = 0.5, .hi = 2}};
    gc_check_devices("add 17x19 + 19, capped", build_binary, (void *)clg_add, row, 2, &gc_default_tol, 1102);
    gc_check_devices("mse_loss 17x19, capped", build_binary, (void *)clg_mse_loss, (gc_input[]){v, v}, 2,
                     &gc_default_tol, 1103);

    const gc_input wide = {.ndim = 2, .shape = {2, 300}, .param = true, .lo = 0.1, .hi = 2};
    for (int which = 0; which < 3; which += 2) {
        axis_case c = {which, 0, 0};
        gc_check_devices(which ? "max_axis 2x300 axis 0, capped" : "sum_axis 2x300 axis 0, capped", build_axis, &c,
                         &wide, 1, &gc_default_tol, 1110 + which);
    }

    const gc_input strided = {.ndim = 3, .shape = {2, 7, 3}, .param = true, .lo = 0.1, .hi = 3};
    const gc_input rows = {.ndim = 2, .shape = {70, 3}, .param = true, .lo = 0.1, .hi = 3};
    for (int log = 0; log < 2; log++) {
        sm_case c = {log, 1};
        gc_check_devices(log ? "log_softmax 2x7x3 axis 1, capped (a row per work-item)"
                             : "softmax 2x7x3 axis 1, capped (a row per work-item)",
                         build_softmax, &c, &strided, 1, &gc_default_tol, 1120 + log);
        gc_check_devices(log ? "log_softmax 70x3 axis 1, capped (groups take several rows)"
                             : "softmax 70x3 axis 1, capped (groups take several rows)",
                         build_softmax, &c, &rows, 1, &gc_default_tol, 1122 + log);
    }
    const gc_input ce[2] = {rows, {.ndim = 1, .shape = {70}, .label_max = 3}};
    gc_check_devices("softmax_cross_entropy 70x3, capped", build_ce, NULL, ce, 2, &gc_default_tol, 1124);

    /* N*OH*OW = 126 columns: two channel blocks in 256 work-items, the second partial */
    const conv_case cc = {"conv 2x3x7x9 * 4x3x3x3, padding 1, capped (2 channels per work-item)",
                          {2, 3, 7, 9}, {4, 3, 3, 3}, true, 1, 1, 1, 1, 1, 1};
    gc_input in[3] = {{.ndim = 4, .shape = {2, 3, 7, 9}, .param = true, .lo = 0.1, .hi = 2},
                      {.ndim = 4, .shape = {4, 3, 3, 3}, .param = true, .lo = 0.1, .hi = 1},
                      {.ndim = 1, .shape = {4}, .param = true, .lo = 0.1, .hi = 1}};
    gc_tol tol = gc_default_tol; /* test_conv.c's bound, as in test_conv */
    tol.fwd_atol_of_max = fmax(tol.fwd_atol_of_max, 27 * U);
    tol.grad_atol_of_max = fmax(tol.grad_atol_of_max, 126 * U);
    gc_check_devices(cc.name, build_conv, (void *)&cc, in, 3, &tol, 1130);
    const pool_case pc = {true, 2, 2, 0, 0, 0, 0};
    const gc_input plane = {.ndim = 4, .shape = {2, 3, 12, 12}, .param = true, .lo = 0.1, .hi = 2};
    gc_check_devices("max_pool2d 2x3x12x12, capped", build_pool, (void *)&pc, &plane, 1, &gc_default_tol, 1131);

    if (!uninitialized_check()) { /* see test_batch_norm */
        const bn_case train = {false};
        const int64_t big[4] = {20, 2, 4, 4};
        bn_inputs(in, 4, big);
        gc_check_devices("batch_norm 20x2x4x4, capped", build_bn, (void *)&train, in, 3, &gc_default_tol, 1140);
    }
    const gc_input drop = {.ndim = 2, .shape = {33, 33}, .param = true, .lo = 0.05, .hi = 2};
    gc_check_devices("dropout 33x33, capped", build_dropout, NULL, &drop, 1, &gc_default_tol, 1150);
    shape_case sc = {0, 0};
    const gc_input cube = {.ndim = 3, .shape = {5, 7, 9}, .param = true, .lo = 0.1, .hi = 2};
    gc_check_devices("permute 5x7x9, capped", build_shape, &sc, &cube, 1, &gc_default_tol, 1160);
    sc = (shape_case){2, 1};
    gc_check_devices("concat 5x7x9 axis 1, capped", build_shape, &sc, (gc_input[]){cube, cube}, 2, &gc_default_tol,
                     1161);
    gc_device_hook = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_are_oclgrind),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_fake_quantize),
        cmocka_unit_test(test_observer),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_batch_norm_16),
        cmocka_unit_test(test_high_rank),
        cmocka_unit_test(test_axis_reductions),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_batch_norm),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_fused),
        cmocka_unit_test(test_grid_stride),
    };
    /* e.g. CLGRAD_TEST_FILTER=test_conv: one family, to read its reports */
    const char *filter = getenv("CLGRAD_TEST_FILTER");
    if (filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
