/*
 * One case per op: the declaration that drives the correctness tests
 * (tests/test_cases.c: every OpenCL device against the reference, the
 * reference's gradients against finite differences in double) and the
 * benchmark (clgrad-bench's `ops` group), as ggml's test-backend-ops and
 * CLBlast's routine tests do. Adding an op means adding one case to its
 * family's file (tests/cases/<family>.c); a new family is a new file and
 * one line of families.def. test_cases fails when a public op of clgrad.h
 * has no case.
 *
 * A case builds y = f(inputs) for inputs it sizes itself from one number,
 * n, the element count of its largest operand (about): the tests call it
 * with odd n and `aligned` false (odd extents everywhere: 7x9 planes, 37
 * columns), the benchmark with powers of two and `aligned` true (28x28
 * planes of 16 channels, 1024 columns, the shapes networks use).
 *
 * Nothing here depends on cmocka: clgrad-bench links it too.
 */
#ifndef CLG_CASES_H
#define CLG_CASES_H

#include <clgrad.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CASE_MAX_IN 4

typedef struct case_input {
    int ndim;
    int64_t shape[CLG_MAX_DIMS];
    bool param;         /* differentiate with respect to it */
    double lo, hi;      /* |value| range */
    bool positive;      /* no random sign */
    int32_t label_max;  /* > 0: int32 labels in [0, label_max) */
} case_input;

/* How close a result must be, each bound of the form
 * |got - want| <= rtol |want| + atol_of_max max|want| over the tensor. */
typedef struct case_tol {
    /* device vs reference, forward */
    double fwd_rtol, fwd_atol_of_max;
    /* device vs reference, gradients */
    double grad_rtol, grad_atol_of_max;
    /* double reference vs finite differences (h = fd_h |x|, at least fd_h; 0 means 1e-6) */
    double fd_rtol, fd_atol_of_max, fd_h;
    /* float reference vs double reference (output and gradients) */
    double f32_rtol, f32_atol_of_max;
} case_tol;

/* For ops whose float error stays within a few ulp per element: 4e-6
 * relative (about 32 ulp: a result chains a few ops with OpenCL 1.2's
 * bounds, exp 3 ulp, division 2.5) plus 1e-6 of the largest value (results
 * that cross zero, small against the values they come from); finite
 * differences 1e-6 relative + 1e-7 of the largest, h = 1e-6 |x|. */
extern const case_tol case_default_tol;

/* What one run must move and compute at least, forward ([0]) and backward
 * ([1]) of the benchmark's graphs: y = f(inputs) forward; the backward
 * phase of L = sum(y), whose upstream gradient is the broadcast constant 1
 * (so it is not counted as read). bytes: every tensor the phase must read
 * or write, once; flops: where exact (0 where not: transcendentals, pure
 * data movement). by_flops: rate the case in GFLOP/s against the device's
 * GEMM ceiling (compute-bound), else in GB/s against its copy bandwidth.
 * A case with neither bytes nor flops (a view) is reported as a time. */
typedef struct case_work {
    double bytes[2], flops[2];
    bool by_flops;
} case_work;

typedef struct op_case {
    const char *name; /* the benchmark's row, "<name> forward|backward"; unique */
    const char *ops;  /* the public functions it exercises, space-separated: "clg_gelu clg_add" */
    /* Sizes its inputs for about n elements; returns how many. */
    int (*inputs)(int64_t n, bool aligned, case_input *in);
    clg_tensor (*build)(clg_graph *g, const clg_tensor *in);
    void (*work)(const case_input *in, case_work *w);
    /* NULL: case_default_tol. Else fills *t for these inputs (sums of K
     * terms get K u of the largest value; see tol_sum). */
    void (*tol)(const case_input *in, case_tol *t);
    /* Why the gradients cannot be checked by finite differences (NULL: they are). */
    const char *no_fd;
} op_case;

/* Every case of every family (families.def), in order. */
size_t case_count(void);
const op_case *case_at(size_t i);

/* Fills v with in's values as the tests and the benchmark draw them
 * (labels as int32 in the same storage). Seeded; splitmix64. */
void case_fill(const case_input *in, uint64_t seed, float *v);
int64_t case_numel(const case_input *in);
/* A seed from a name (FNV-1a) and a variant. */
uint64_t case_seed(const char *name, int variant);

/* Shape helpers for the families. */
case_input case_vec(int64_t n);                              /* [n], signed, |x| in [0.1, 2] */
case_input case_mat(int64_t n, bool aligned);                /* [rows, cols] */
case_input case_img(int64_t n, bool aligned);                /* [batch, channels, h, w] */
case_input case_with_shape(case_input in, int ndim, const int64_t *shape);
/* Elements of the largest of the first nin inputs. */
double case_largest(const case_input *in, int nin);
/* Tolerance of a result that sums k_fwd terms forward and whose
 * gradients sum up to k_grad: (K) u of the largest value on top of the
 * default (test_conv.c explains the form). */
void tol_sum(case_tol *t, double k_fwd, double k_grad);

/* The family tables (families.def). */
#define CASE_FAMILY(f) extern const op_case f##_cases[]; extern const size_t f##_ncases;
#include "families.def"
#undef CASE_FAMILY

#endif
