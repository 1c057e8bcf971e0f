/*
 * Ranks past 4 and 0-d scalars (CLG_MAX_DIMS is 8): broadcasting across
 * interior axes of 6-D and 8-D tensors, whose index splits take
 * bcast_offset's long path (cl/common.cl); a 0-d parameter; a reduction,
 * a permutation and a select at rank 6. The gradients of the broadcast
 * operands sum over the axes they were stretched along (reduce_to at rank
 * 6 and 8, or to one value for the 0-d one).
 */
#include "cases.h"

/* x [b, 3, 2, 5, 3, 7] (aligned: [b, 4, 8, 4, 16, 16]) */
static case_input six_d(int64_t n, bool aligned)
{
    const int64_t in5[5] = {3, 2, 5, 3, 7}, al5[5] = {4, 8, 4, 16, 16};
    const int64_t *inner = aligned ? al5 : in5;
    int64_t per = 1;
    for (int d = 0; d < 5; d++) per *= inner[d];
    const int64_t s[6] = {n / per > 0 ? n / per : 1, inner[0], inner[1], inner[2], inner[3], inner[4]};
    return case_with_shape(case_vec(1), 6, s);
}

/* x 6-D and y [3, 1, 5, 1, 7]: y stretched along x's axes 0, 2 and 4 */
static int in_six_bcast(int64_t n, bool aligned, case_input *in)
{
    in[0] = six_d(n, aligned);
    const int64_t y[5] = {in[0].shape[1], 1, in[0].shape[3], 1, in[0].shape[5]};
    in[1] = case_with_shape(in[0], 5, y);
    return 2;
}

/* x [2, 3, 2, 3, 2, 3, 2, 5] times b along axis 0 (aligned: [b, 2, 4, 2,
 * 4, 2, 8, 16]) and y 7-D with every other axis 1: all eight index
 * positions, s0 and s1 included, vary */
static int in_eight_bcast(int64_t n, bool aligned, case_input *in)
{
    const int64_t in7[7] = {3, 2, 3, 2, 3, 2, 5}, al7[7] = {2, 4, 2, 4, 2, 8, 16};
    const int64_t *inner = aligned ? al7 : in7;
    int64_t per = 1;
    for (int d = 0; d < 7; d++) per *= inner[d];
    int64_t x[8] = {n / per > 1 ? n / per : 2}, y[7];
    for (int d = 0; d < 7; d++) {
        x[d + 1] = inner[d];
        y[d] = d % 2 ? 1 : inner[d];
    }
    in[0] = case_with_shape(case_vec(1), 8, x);
    in[0].positive = true; /* dy sums x dz: no cancellation (tol_bcast) */
    in[1] = case_with_shape(in[0], 7, y);
    return 2;
}

/* x 6-D and s 0-d */
static int in_six_scalar(int64_t n, bool aligned, case_input *in)
{
    in[0] = six_d(n, aligned);
    in[0].positive = true; /* ds sums x dz: no cancellation (tol_bcast) */
    in[1] = case_with_shape(in[0], 0, NULL);
    return 2;
}

static int in_six(int64_t n, bool aligned, case_input *in)
{
    in[0] = six_d(n, aligned);
    return 1;
}

/* positive: a sum's error bound (tests/cases/reduce.c) */
static int in_six_pos(int64_t n, bool aligned, case_input *in)
{
    in[0] = six_d(n, aligned);
    in[0].positive = true;
    return 1;
}

#define E(in) (4.0 * (double)case_numel(&(in)[0]))
/* x and a smaller y in, out; backward dx (the upstream itself or a
 * product) and dy, the stretched axes summed */
static void w_bcast(const case_input *in, case_work *w)
{
    const double y = 4.0 * (double)case_numel(&in[1]);
    *w = (case_work){{2 * E(in) + y, 2 * E(in) + 2 * y}, {E(in) / 4, 0}, false};
}
static void w_sum_axis(const case_input *in, case_work *w)
{
    const double y = E(in) / (double)in[0].shape[2];
    *w = (case_work){{E(in) + y, E(in)}, {E(in) / 4, 0}, false};
}
static void w_move(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), E(in)}, {0, 0}, false}; }

/* dy sums numel(x) / numel(y) terms */
static void tol_bcast(const case_input *in, case_tol *t)
{
    tol_sum(t, 1, (double)case_numel(&in[0]) / (double)case_numel(&in[1]));
}
static void tol_axis(const case_input *in, case_tol *t) { tol_sum(t, (double)in[0].shape[2], 1); }

static clg_tensor b_add(clg_graph *g, const clg_tensor *in) { return clg_add(g, in[0], in[1]); }
static clg_tensor b_mul(clg_graph *g, const clg_tensor *in) { return clg_mul(g, in[0], in[1]); }
static clg_tensor b_sum_axis(clg_graph *g, const clg_tensor *in) { return clg_sum_axis(g, in[0], 2, 0); }
static clg_tensor b_permute(clg_graph *g, const clg_tensor *in)
{
    static const int perm[6] = {4, 0, 5, 2, 1, 3};
    return clg_permute(g, in[0], perm);
}
/* where(y > 0, x, y): the condition and one branch broadcast */
static clg_tensor b_where(clg_graph *g, const clg_tensor *in)
{
    return clg_where(g, clg_compare(g, in[1], clg_scalar(g, 0.0f), CLG_GT), in[0], in[1]);
}

const op_case dims_cases[] = {
    {"add 6-D and a broadcast 5-D", "clg_add", in_six_bcast, b_add, w_bcast, tol_bcast, NULL},
    {"mul 8-D and a broadcast 7-D", "clg_mul", in_eight_bcast, b_mul, w_bcast, tol_bcast, NULL},
    {"mul 6-D by a 0-d parameter", "clg_mul", in_six_scalar, b_mul, w_bcast, tol_bcast, NULL},
    {"sum_axis of 6-D, axis 2", "clg_sum_axis", in_six_pos, b_sum_axis, w_sum_axis, tol_axis, NULL},
    {"permute 6-D", "clg_permute", in_six, b_permute, w_move, NULL, NULL},
    {"where 6-D, a 5-D condition and branch", "clg_where clg_compare", in_six_bcast, b_where, w_bcast, tol_bcast,
     NULL},
};
const size_t dims_ncases = sizeof dims_cases / sizeof dims_cases[0];
