/* Shape ops (core/shape.c, cl/shape.cl): they only move values, so the
 * default tolerance's slack is unused. A reshape is a view: its forward
 * moves nothing and is reported as a time. */
#include "cases.h"

static int in_mat(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_mat(n, aligned);
    return 1;
}
static int in_img(int64_t n, bool aligned, case_input *in)
{
    in[0] = case_img(n, aligned);
    return 1;
}
static int in_two_mats(int64_t n, bool aligned, case_input *in)
{
    in[0] = in[1] = case_mat(n, aligned);
    return 2;
}

#define E(in) (4.0 * (double)case_numel(&(in)[0]))
/* a view forward; backward writes dx */
static void w_view(const case_input *in, case_work *w) { *w = (case_work){{0, E(in)}, {0, 0}, false}; }
/* a copy in a new order; backward writes dx */
static void w_move(const case_input *in, case_work *w) { *w = (case_work){{2 * E(in), E(in)}, {0, 0}, false}; }
static void w_slice(const case_input *in, case_work *w)
{
    const int64_t cols = in[0].shape[1], len = cols / 2 > 0 ? cols / 2 : 1;
    const double part = E(in) * (double)len / (double)cols;
    *w = (case_work){{2 * part, E(in)}, {0, 0}, false};
}
static void w_concat(const case_input *in, case_work *w) { *w = (case_work){{4 * E(in), 2 * E(in)}, {0, 0}, false}; }

static clg_tensor b_reshape(clg_graph *g, const clg_tensor *in)
{
    const int64_t s[2] = {clg_tensor_dim(g, in[0], 1), clg_tensor_dim(g, in[0], 0)};
    return clg_reshape(g, in[0], 2, s);
}
/* NCHW to NHWC */
static clg_tensor b_permute(clg_graph *g, const clg_tensor *in)
{
    static const int perm[4] = {0, 2, 3, 1};
    return clg_permute(g, in[0], perm);
}
static clg_tensor b_transpose(clg_graph *g, const clg_tensor *in) { return clg_transpose(g, in[0], 0, 1); }
/* columns 1 .. cols/2: an unaligned start */
static clg_tensor b_slice(clg_graph *g, const clg_tensor *in)
{
    const int64_t cols = clg_tensor_dim(g, in[0], 1);
    return clg_slice(g, in[0], 1, cols > 1 ? 1 : 0, cols / 2 > 0 ? cols / 2 : 1);
}
static clg_tensor b_concat(clg_graph *g, const clg_tensor *in) { return clg_concat(g, in[0], in[1], 1); }

const op_case shape_cases[] = {
    {"reshape", "clg_reshape", in_mat, b_reshape, w_view, NULL, NULL},
    {"permute NCHW to NHWC", "clg_permute", in_img, b_permute, w_move, NULL, NULL},
    {"transpose", "clg_transpose", in_mat, b_transpose, w_move, NULL, NULL},
    {"slice columns", "clg_slice", in_mat, b_slice, w_slice, NULL, NULL},
    {"concat columns", "clg_concat", in_two_mats, b_concat, w_concat, NULL, NULL},
};
const size_t shape_ncases = sizeof shape_cases / sizeof shape_cases[0];
