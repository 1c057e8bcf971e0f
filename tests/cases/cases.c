/* The case registry and the helpers the families share. */
#include "cases.h"

#include <math.h>
#include <string.h>

const case_tol case_default_tol = {
    .fwd_rtol = 4e-6, .fwd_atol_of_max = 1e-6,
    .grad_rtol = 4e-6, .grad_atol_of_max = 1e-6,
    .fd_rtol = 1e-6, .fd_atol_of_max = 1e-7, .fd_h = 1e-6,
    .f32_rtol = 4e-6, .f32_atol_of_max = 1e-6,
};

static const struct {
    const op_case *cases;
    const size_t *n;
} families[] = {
#define CASE_FAMILY(f) {f##_cases, &f##_ncases},
#include "families.def"
#undef CASE_FAMILY
};

size_t case_count(void)
{
    size_t n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) n += *families[f].n;
    return n;
}

const op_case *case_at(size_t i)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (i < *families[f].n) return &families[f].cases[i];
        i -= *families[f].n;
    }
    return NULL;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t case_numel(const case_input *in)
{
    int64_t k = 1;
    for (int d = 0; d < in->ndim; d++) k *= in->shape[d];
    return k;
}

void case_fill(const case_input *in, uint64_t seed, float *v)
{
    uint64_t s = seed;
    const int64_t n = case_numel(in);
    if (in->label_max > 0) {
        int32_t *l = (int32_t *)(void *)v;
        for (int64_t i = 0; i < n; i++) l[i] = (int32_t)(splitmix(&s) % (uint64_t)in->label_max);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = splitmix(&s);
        double u = (double)(r >> 11) / 9007199254740992.0;
        double x = in->lo + (in->hi - in->lo) * u;
        v[i] = (float)(in->positive || (r & 1) ? x : -x);
    }
}

uint64_t case_seed(const char *name, int variant)
{
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return h ^ (uint64_t)variant * 0x9e3779b97f4a7c15ull;
}

case_input case_vec(int64_t n)
{
    return (case_input){.ndim = 1, .shape = {n > 0 ? n : 1}, .param = true, .lo = 0.1, .hi = 2};
}

/* aligned: 1024 columns (a layer's width); else odd ones (37, 7, 3) so
 * that no kernel's vector width or work-group divides them */
case_input case_mat(int64_t n, bool aligned)
{
    int64_t cols = aligned ? (n >= 1024 ? 1024 : n) : n >= 1000 ? 37 : n >= 60 ? 7 : 3;
    int64_t rows = n / cols > 0 ? n / cols : 1;
    return (case_input){.ndim = 2, .shape = {rows, cols}, .param = true, .lo = 0.1, .hi = 2};
}

/* aligned: 16 channels of 28x28 (Fashion-MNIST's CNN); else 3 of 7x9 */
case_input case_img(int64_t n, bool aligned)
{
    int64_t c = aligned ? 16 : 3, h = aligned ? 28 : 7, w = aligned ? 28 : 9;
    int64_t b = n / (c * h * w) > 0 ? n / (c * h * w) : 1;
    return (case_input){.ndim = 4, .shape = {b, c, h, w}, .param = true, .lo = 0.1, .hi = 2};
}

case_input case_with_shape(case_input in, int ndim, const int64_t *shape)
{
    in.ndim = ndim;
    memset(in.shape, 0, sizeof in.shape);
    if (ndim > 0) memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    return in;
}

double case_largest(const case_input *in, int nin)
{
    double m = 0;
    for (int i = 0; i < nin; i++) m = fmax(m, (double)case_numel(&in[i]));
    return m;
}

/* 2^-24, float's unit roundoff */
#define U 5.9604644775390625e-08

void tol_sum(case_tol *t, double k_fwd, double k_grad)
{
    *t = case_default_tol;
    t->fwd_atol_of_max = fmax(t->fwd_atol_of_max, k_fwd * U);
    t->grad_atol_of_max = fmax(t->grad_atol_of_max, k_grad * U);
}
