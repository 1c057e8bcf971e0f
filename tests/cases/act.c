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

/* abs: |x| >= 0.05 keeps the kink at 0 away from the steps; clamp to
 * [-1, 1.5] with |x| in [0.05, 4]: both bounds bite, and no x lies within
 * a step of them in practice (the tests' inputs are drawn at random: one
 * within 1e-6 |x| of a bound would need a draw 1 in ~10^6 per element);
 * pow with p = 1.5 on positive x in [0.1, 2] */
static int in_pos(int64_t n, bool aligned, case_input *in)
{
    in_x(n, aligned, in);
    in[0].lo = 0.1;
    in[0].hi = 2;
    in[0].positive = true;
    return 1;
}

static clg_tensor b_leaky(clg_graph *g, const clg_tensor *in) { return clg_leaky_relu(g, in[0], 0.07f); }
static clg_tensor b_gelu(clg_graph *g, const clg_tensor *in) { return clg_gelu(g, in[0]); }
static clg_tensor b_silu(clg_graph *g, const clg_tensor *in) { return clg_silu(g, in[0]); }
static clg_tensor b_softplus(clg_graph *g, const clg_tensor *in) { return clg_softplus(g, in[0]); }
static clg_tensor b_gelu_erf(clg_graph *g, const clg_tensor *in) { return clg_gelu_erf(g, in[0]); }
static clg_tensor b_abs(clg_graph *g, const clg_tensor *in) { return clg_abs(g, in[0]); }
static clg_tensor b_clamp(clg_graph *g, const clg_tensor *in) { return clg_clamp(g, in[0], -1.0f, 1.5f); }
static clg_tensor b_pow(clg_graph *g, const clg_tensor *in) { return clg_pow(g, in[0], 1.5f); }
/* beta 2, threshold 3: both sides for |x| in [0.05, 4] (the switch at x = 1.5) */
static clg_tensor b_softplus_beta(clg_graph *g, const clg_tensor *in) { return clg_softplus_beta(g, in[0], 2.0f, 3.0f); }

const op_case act_cases[] = {
    {"leaky relu", "clg_leaky_relu", in_x, b_leaky, w_act, NULL, NULL},
    {"gelu", "clg_gelu", in_x, b_gelu, w_act, NULL, NULL},
    {"silu", "clg_silu", in_x, b_silu, w_act, NULL, NULL},
    {"softplus", "clg_softplus", in_x, b_softplus, w_act, NULL, NULL},
    {"gelu erf", "clg_gelu_erf", in_x, b_gelu_erf, w_act, NULL, NULL},
    {"abs", "clg_abs", in_x, b_abs, w_act, NULL, NULL},
    {"clamp", "clg_clamp", in_x, b_clamp, w_act, NULL, NULL},
    {"pow", "clg_pow", in_pos, b_pow, w_act, NULL, NULL},
    {"softplus beta 2 threshold 3", "clg_softplus_beta", in_x, b_softplus_beta, w_act, NULL, NULL},
};
const size_t act_ncases = sizeof act_cases / sizeof act_cases[0];
