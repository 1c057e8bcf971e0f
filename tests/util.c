#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double rng_uniform(rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

double rng_normal(rng_t *r)
{
    double u1 = ((rng_next(r) >> 11) + 1.0) / 9007199254740993.0, u2 = rng_uniform(r, 0, 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_fill(rng_t *r, float *v, size_t n, double lo, double hi, bool positive_only)
{
    for (size_t i = 0; i < n; i++) {
        double x = rng_uniform(r, lo, hi);
        v[i] = (float)(positive_only || (rng_next(r) & 1) ? x : -x);
    }
}

int test_opencl_devices(char specs[][32], int max)
{
    int n = 0, all = clg_device_count();
    for (int i = 0; i < all && n < max; i++) {
        clg_device_facts f;
        if (clg_device_get_facts(i, &f) == CLG_OK && strcmp(f.backend, "opencl") == 0)
            snprintf(specs[n++], 32, "%s", f.spec);
    }
    if (n == 0) {
        const char *allow = getenv("CLGRAD_ALLOW_NO_OPENCL");
        if (!allow || strcmp(allow, "1") != 0)
            fail_msg("no OpenCL device found (install pocl-opencl-icd, or set CLGRAD_ALLOW_NO_OPENCL=1 "
                     "to test the reference backend alone)");
    }
    return n;
}

void for_each_device(void (*fn)(const char *spec))
{
    char specs[16][32];
    test_opencl_devices(specs, 16); /* fails when there is no OpenCL device */
    int n = clg_device_count();
    for (int i = 0; i < n; i++) {
        char spec[32];
        if (clg_device_spec(i, spec, sizeof spec) == CLG_OK) fn(spec);
    }
}

uint32_t ulp_distance(float a, float b)
{
    if (a == b) return 0;
    if (isnan(a) || isnan(b)) return UINT32_MAX;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    /* map to a monotonic integer line */
    if (ia < 0) ia = (int32_t)(0x80000000u - (uint32_t)ia);
    if (ib < 0) ib = (int32_t)(0x80000000u - (uint32_t)ib);
    int64_t d = (int64_t)ia - (int64_t)ib;
    return (uint32_t)(d < 0 ? -d : d);
}

void assert_close_ulp(const float *got, const float *want, size_t n, uint32_t max_ulp, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t d = ulp_distance(got[i], want[i]);
        if (d > max_ulp)
            fail_msg("%s: element %zu of %zu: got %.9g, want %.9g (%u ulp apart, allowed %u)", what, i, n,
                     (double)got[i], (double)want[i], d, max_ulp);
    }
}

void assert_close(const float *got, const float *want, size_t n, double rtol, double atol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= atol + rtol * fabs((double)want[i])))
            fail_msg("%s: element %zu of %zu: got %.9g, want %.9g (|diff| %.3g > %.3g + %.3g * |want|)", what, i, n,
                     (double)got[i], (double)want[i], d, atol, rtol);
    }
}

void assert_close_scaled(const float *got, const float *want, size_t n, double rtol, double atol_of_max,
                         const char *what)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > m) m = fabs((double)want[i]);
    assert_close(got, want, n, rtol, atol_of_max * m, what);
}

void assert_close_d(const float *got, const double *want, size_t n, double rtol, double atol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= atol + rtol * fabs(want[i])))
            fail_msg("%s: element %zu of %zu: got %.9g, want %.12g (|diff| %.3g > %.3g + %.3g * |want|)", what, i, n,
                     (double)got[i], want[i], d, atol, rtol);
    }
}

clg_context *open_ctx(const char *spec)
{
    clg_context *ctx = NULL;
    clg_status s = clg_context_create(spec, &ctx);
    if (s != CLG_OK) fail_msg("clg_context_create(%s): %s: %s", spec, clg_status_string(s), clg_context_errmsg(ctx));
    return ctx;
}

int64_t numel_of(int n, const int64_t *shape)
{
    int64_t k = 1;
    for (int i = 0; i < n; i++) k *= shape[i];
    return k;
}

int bcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        int64_t ea = d - (n - na) >= 0 ? a[d - (n - na)] : 1;
        int64_t eb = d - (n - nb) >= 0 ? b[d - (n - nb)] : 1;
        out[d] = ea == 1 ? eb : ea;
    }
    return n;
}

int64_t bcast_src_offset(int64_t i, int nout, const int64_t *out, int nsrc, const int64_t *src)
{
    int64_t off = 0, stride = 1;
    for (int d = nout - 1; d >= 0; d--) {
        int64_t idx = i % out[d];
        i /= out[d];
        int sd = d - (nout - nsrc);
        if (sd >= 0) {
            if (src[sd] != 1) off += idx * stride;
            stride *= src[sd];
        }
    }
    return off;
}
