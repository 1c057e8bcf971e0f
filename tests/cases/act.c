/* The act family (core/act.c, cl/act.cl): one input x, y the same shape;
 * backward reads x, writes dx. |x| in [0.05, 4]: leaky relu's kink at 0
 * is 5e4 finite-difference steps away, and the curved parts of gelu, silu
 * and softplus are covered. tests/test_act.c checks the formulas. */
#include "cases.h"

static int in_x(int64_t n, bool aligned, case_input *in)
{
    (void)aligned;
    in[0] = case_vec(n);
    in[0].lo = 0.05;
    in[0].hi = 4;
    return 1;
}

static void w_act(const case_input *in, case_work *w)
{
    const double e = 4.0 * (double)case_numel(&in[0]);
    *w = (case_work){{2 * e, 2 * e}, {0, 0}, false};
}

static clg_tensor b_leaky(clg_graph *g, const clg_tensor *in) { return clg_leaky_relu(g, in[0], 0.07f); }
static clg_tensor b_gelu(clg_graph *g, const clg_tensor *in) { return clg_gelu(g, in[0]); }
static clg_tensor b_silu(clg_graph *g, const clg_tensor *in) { return clg_silu(g, in[0]); }
static clg_tensor b_softplus(clg_graph *g, const clg_tensor *in) { return clg_softplus(g, in[0]); }

const op_case act_cases[] = {
    {"leaky relu", "clg_leaky_relu", in_x, b_leaky, w_act, NULL, NULL},
    {"gelu", "clg_gelu", in_x, b_gelu, w_act, NULL, NULL},
    {"silu", "clg_silu", in_x, b_silu, w_act, NULL, NULL},
    {"softplus", "clg_softplus", in_x, b_softplus, w_act, NULL, NULL},
};
const size_t act_ncases = sizeof act_cases / sizeof act_cases[0];
