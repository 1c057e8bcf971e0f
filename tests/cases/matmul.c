/*
 * matmul and linear (core/matmul.c; CLBlast, the host's BLAS or the
 * OpenCL GEMM kernels). A [m, k] x B [k, n]; linear x [m, k], w [n, k],
 * bias [n]. Aligned: k = n = 128 (a hidden layer; clgrad-bench's gemm
 * group has the square and training-shaped sizes) and at most 32768 rows
 * (a batch, not a data set: the benchmark checks every result against the
 * reference's plain loops, which take seconds a GFLOP); odd: k = 37, n = 13.
 *
 * An output sums k products, dA's elements n and dB's m: tol_sum with those
 * K (tests/test_matmul.c bounds each element by its own sum of |terms|
 * instead). Operands are positive, so the forward's terms share a sign.
 */
#include "cases.h"

static void dims(int64_t count, bool aligned, int64_t *m, int64_t *k, int64_t *n)
{
    *k = aligned ? 128 : count >= 1000 ? 37 : 7;
    *n = aligned ? 128 : count >= 1000 ? 13 : 5;
    *m = count / *k > 0 ? count / *k : 1;
    if (aligned && *m > 32768) *m = 32768;
}

static case_input operand(int64_t r, int64_t c)
{
    return (case_input){.ndim = 2, .shape = {r, c}, .param = true, .lo = 0.1, .hi = 1, .positive = true};
}

static int in_matmul(int64_t count, bool aligned, case_input *in)
{
    int64_t m, k, n;
    dims(count, aligned, &m, &k, &n);
    in[0] = operand(m, k);
    in[1] = operand(k, n);
    return 2;
}
static int in_linear(int64_t count, bool aligned, case_input *in)
{
    int64_t m, k, n;
    dims(count, aligned, &m, &k, &n);
    in[0] = operand(m, k);
    in[1] = operand(n, k);
    in[2] = (case_input){.ndim = 1, .shape = {n}, .param = true, .lo = 0.1, .hi = 1, .positive = true};
    return 3;
}

/* m, k, n of either case: in[0] is [m, k]; in[1] [k, n] or [n, k] */
static void mkn(const case_input *in, bool linear, double *m, double *k, double *n)
{
    *m = (double)in[0].shape[0];
    *k = (double)in[0].shape[1];
    *n = (double)in[1].shape[linear ? 0 : 1];
}
/* forward: A, B in, C out; backward: A, B in, dA, dB out (the upstream
 * gradient is the broadcast 1, not counted) */
static void w_matmul(const case_input *in, case_work *w)
{
    double m, k, n;
    mkn(in, false, &m, &k, &n);
    *w = (case_work){{4 * (m * k + k * n + m * n), 8 * (m * k + k * n)}, {2 * m * k * n, 4 * m * k * n}, true};
}
static void w_linear(const case_input *in, case_work *w)
{
    double m, k, n;
    mkn(in, true, &m, &k, &n);
    *w = (case_work){{4 * (m * k + k * n + m * n + n), 8 * (m * k + k * n) + 4 * n},
                     {2 * m * k * n + m * n, 4 * m * k * n + m * n}, true};
}

static void tol_mm(const case_input *in, bool linear, case_tol *t)
{
    double m, k, n;
    mkn(in, linear, &m, &k, &n);
    tol_sum(t, k + (linear ? 1 : 0), m > n ? m : n);
}
static void tol_matmul(const case_input *in, case_tol *t) { tol_mm(in, false, t); }
static void tol_linear(const case_input *in, case_tol *t) { tol_mm(in, true, t); }

/* ids [N] in [0, V) and a weight [V, D]: V 1000, D 64 aligned (a small
 * vocabulary); V 13, D 37 otherwise; N rows of the output of about n, at
 * most 16384 aligned (the one-hot rows are N V floats: 65 MB there) */
static int in_embedding(int64_t count, bool aligned, case_input *in)
{
    const int64_t v = aligned ? 1000 : 13, d = aligned ? 64 : 37;
    int64_t rows = count / d > 0 ? count / d : 1;
    if (aligned && rows > 16384) rows = 16384;
    in[0] = (case_input){.ndim = 1, .shape = {rows}, .label_max = (int32_t)v};
    in[1] = (case_input){.ndim = 2, .shape = {v, d}, .param = true, .lo = 0.1, .hi = 1};
    return 2;
}
/* forward: ids and the weight in, rows out; backward: the weight's gradient
 * out; the one-hot product's flops, N V D each way */
static void w_embedding(const case_input *in, case_work *w)
{
    const double n = (double)in[0].shape[0], v = (double)in[1].shape[0], d = (double)in[1].shape[1];
    *w = (case_work){{4 * (n + v * d + n * d), 4 * v * d}, {2 * n * v * d, 2 * n * v * d}, true};
}
/* a weight row's gradient sums the rows of its id, up to N of them */
static void tol_embedding(const case_input *in, case_tol *t) { tol_sum(t, 1, (double)in[0].shape[0]); }
static clg_tensor b_embedding(clg_graph *g, const clg_tensor *in) { return clg_embedding(g, in[0], in[1]); }

static clg_tensor b_matmul(clg_graph *g, const clg_tensor *in) { return clg_matmul(g, in[0], in[1], 0, 0); }
static clg_tensor b_linear(clg_graph *g, const clg_tensor *in) { return clg_linear(g, in[0], in[1], in[2]); }

const op_case matmul_cases[] = {
    {"matmul", "clg_matmul", in_matmul, b_matmul, w_matmul, tol_matmul, NULL},
    {"linear", "clg_linear", in_linear, b_linear, w_linear, tol_linear, NULL},
    {"embedding", "clg_embedding", in_embedding, b_embedding, w_embedding, tol_embedding, NULL},
};
const size_t matmul_ncases = sizeof matmul_cases / sizeof matmul_cases[0];
