/* Helpers shared by the cmocka tests. */
#ifndef CLG_TEST_UTIL_H
#define CLG_TEST_UTIL_H

#include <clgrad.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

/* Seeded generator (splitmix64): every test draws fresh inputs from its
 * own seed, printed when a comparison fails. */
typedef struct { uint64_t s; } rng_t;
uint64_t rng_next(rng_t *r);
double rng_uniform(rng_t *r, double lo, double hi);
double rng_normal(rng_t *r);
/* Values with |v| in [lo, hi] and a random sign (never zero when lo > 0);
 * positive_only skips the sign. */
void rng_fill(rng_t *r, float *v, size_t n, double lo, double hi, bool positive_only);

/* The OpenCL devices to test ("P:D" specs). Fails the test when there
 * are none, unless CLGRAD_ALLOW_NO_OPENCL=1: the suite is meant to run
 * on PoCL at least. */
int test_opencl_devices(char specs[][32], int max);

/* Calls fn with the spec of every device of every backend in the
 * registry ("reference", then each OpenCL device's "P:D"). */
void for_each_device(void (*fn)(const char *spec));

/* Distance in units in the last place between two finite floats. */
uint32_t ulp_distance(float a, float b);

/* Asserts |got - want| <= max_ulp ulps element by element, naming the
 * first bad index. */
void assert_close_ulp(const float *got, const float *want, size_t n, uint32_t max_ulp, const char *what);
/* Asserts |got - want| <= atol + rtol * |want| element by element. */
void assert_close(const float *got, const float *want, size_t n, double rtol, double atol, const char *what);
/* As assert_close with atol = atol_of_max * max |want|: for results that
 * may be small against the values they were computed from (cancellation). */
void assert_close_scaled(const float *got, const float *want, size_t n, double rtol, double atol_of_max,
                         const char *what);
void assert_close_d(const float *got, const double *want, size_t n, double rtol, double atol, const char *what);

/* Opens a context, failing the test with the context's message if not. */
clg_context *open_ctx(const char *spec);
/* the context's last message mentions text */
#define ASSERT_MSG_HAS(ctx, text)                                                                   \
    do {                                                                                           \
        if (!strstr(clg_context_errmsg(ctx), (text)))                                              \
            fail_msg("message \"%s\" does not mention \"%s\"", clg_context_errmsg(ctx), (text));   \
    } while (0)
#define CHECK_OK(ctx, call)                                                                         \
    do {                                                                                           \
        clg_status st_ = (call);                                                                   \
        if (st_ != CLG_OK) fail_msg("%s -> %s: %s", #call, clg_status_string(st_), clg_context_errmsg(ctx)); \
    } while (0)

/* Broadcasting, written again here so the tests do not trust the library's:
 * out shape of a and b, and the offsets of each output element in a, b. */
int bcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int64_t *out);
int64_t bcast_src_offset(int64_t i, int nout, const int64_t *out, int nsrc, const int64_t *src);
int64_t numel_of(int n, const int64_t *shape);

#endif
