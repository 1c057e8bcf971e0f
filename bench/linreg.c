/*
 * Linear regression by full-batch gradient descent, on the device:
 *   y = w1 x1 + w2 x2 + b + noise,  noise ~ N(0, 0.1^2)
 * w1, w2 and b are one-element parameters broadcast against the columns;
 * the loss is the mean squared error. The fit must recover the true
 * values within the noise and agree with the least-squares solution
 * computed in double on the host; the exit status says whether it did.
 *
 * --help lists the options.
 */
#define _POSIX_C_SOURCE 199309L
#include "cli.h"

#include <clgrad.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const double W1 = 2.0, W2 = -3.0, B = 0.5, NOISE = 0.1;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double normal(uint64_t *s)
{
    double u1 = ((splitmix(s) >> 11) + 1.0) / 9007199254740993.0, u2 = (splitmix(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Least squares in double: solves the 3x3 normal equations. */
static void ols(const float *x1, const float *x2, const float *y, int n, double out[3])
{
    double A[3][4] = {{0}};
    for (int i = 0; i < n; i++) {
        double r[3] = {x1[i], x2[i], 1.0};
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 3; k++) A[j][k] += r[j] * r[k];
            A[j][3] += r[j] * y[i];
        }
    }
    for (int c = 0; c < 3; c++)
        for (int r = c + 1; r < 3; r++) {
            double f = A[r][c] / A[c][c];
            for (int k = c; k < 4; k++) A[r][k] -= f * A[c][k];
        }
    for (int r = 2; r >= 0; r--) {
        double v = A[r][3];
        for (int k = r + 1; k < 3; k++) v -= A[r][k] * out[k];
        out[r] = v / A[r][r];
    }
}

static int fit(const char *device, int rows, int steps, uint64_t seed)
{
    float *x1 = malloc(sizeof(float) * (size_t)rows), *x2 = malloc(sizeof(float) * (size_t)rows),
          *y = malloc(sizeof(float) * (size_t)rows);
    if (!x1 || !x2 || !y) {
        fprintf(stderr, "clgrad-linreg: out of memory\n");
        return 1;
    }
    uint64_t s = seed;
    for (int i = 0; i < rows; i++) {
        x1[i] = (float)normal(&s);
        x2[i] = (float)normal(&s);
        y[i] = (float)(W1 * x1[i] + W2 * x2[i] + B + NOISE * normal(&s));
    }

    int rc = 1;
    clg_context *ctx = NULL;
    clg_graph *g = NULL;
    if (clg_context_create(device, &ctx) != CLG_OK || clg_graph_create(ctx, &g) != CLG_OK) goto done;
    const int64_t n = rows, one = 1;
    clg_tensor tx1 = clg_input(g, 1, &n), tx2 = clg_input(g, 1, &n), ty = clg_input(g, 1, &n);
    clg_tensor w1 = clg_param(g, 1, &one), w2 = clg_param(g, 1, &one), b = clg_param(g, 1, &one);
    clg_tensor pred = clg_add(g, clg_add(g, clg_mul(g, w1, tx1), clg_mul(g, w2, tx2)), b);
    clg_tensor loss = clg_mse_loss(g, pred, ty);
    if (clg_graph_status(g) != CLG_OK || clg_backward(g, loss) != CLG_OK || clg_sgd(g, 0.1f) != CLG_OK) goto done;
    if (clg_tensor_set(g, tx1, x1, (size_t)rows) || clg_tensor_set(g, tx2, x2, (size_t)rows) ||
        clg_tensor_set(g, ty, y, (size_t)rows) || clg_tensor_fill(g, w1, 0.0f) || clg_tensor_fill(g, w2, 0.0f) ||
        clg_tensor_fill(g, b, 0.0f))
        goto done;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    float first = 0.0f, last = 0.0f;
    for (int i = 0; i < steps; i++) {
        if (clg_graph_run(g, CLG_RUN_ALL) != CLG_OK) goto done;
        if (i == 0 && clg_tensor_get(g, loss, &first, 1) != CLG_OK) goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (clg_graph_run(g, CLG_RUN_FORWARD) != CLG_OK || clg_tensor_get(g, loss, &last, 1) != CLG_OK) goto done;
    float v[3];
    if (clg_tensor_get(g, w1, &v[0], 1) || clg_tensor_get(g, w2, &v[1], 1) || clg_tensor_get(g, b, &v[2], 1))
        goto done;

    double ls[3], truth[3] = {W1, W2, B};
    ols(x1, x2, y, rows, ls);
    /* The least-squares estimate is off the truth by about NOISE/sqrt(rows)
     * per coefficient; gradient descent must reach that estimate. */
    double se = NOISE / sqrt((double)rows);
    bool ok = true;
    for (int k = 0; k < 3; k++) ok = ok && fabs(v[k] - ls[k]) < 1e-3 && fabs(v[k] - truth[k]) < 6 * se + 1e-3;
    double ms = 1e3 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / steps;
    printf("%s\n  w1 = %.4f  w2 = %.4f  b = %.4f   (true 2, -3, 0.5; least squares %.4f, %.4f, %.4f)\n"
           "  mse %.5f -> %.5f (noise variance %.5f) in %d steps, %.3f ms/step: %s\n",
           clg_context_device(ctx), v[0], v[1], v[2], ls[0], ls[1], ls[2], first, last, NOISE * NOISE, steps, ms,
           ok ? "recovered" : "NOT RECOVERED");
    rc = ok ? 0 : 1;
done:
    if (rc && ctx && clg_context_status(ctx) != CLG_OK)
        fprintf(stderr, "clgrad-linreg: %s\n", clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    free(x1);
    free(x2);
    free(y);
    return rc;
}

static const cli_option options[] = {
    {"device", "SPEC", "a device to fit on; repeat it for several; default $CLGRAD_DEVICE, else the first GPU, "
                       "else the first OpenCL device"},
    {"all", NULL, "fit on every device, the reference first"},
    {"rows", "N", "data points, from 10 to 10000000; default 4000"},
    {"steps", "N", "full-batch gradient descent steps, from 1 to 1000000; default 200"},
    {"seed", "S", "the data's seed, from 0 to 2^64 - 1; default 42"},
};

int main(int argc, char **argv)
{
    const char *devices[16];
    int ndev = 0, all = 0;
    long long rows = 4000, steps = 200;
    uint64_t seed = 42;
    cli c;
    cli_init(&c, "clgrad-linreg", NULL,
             "Linear regression y = 2 x1 - 3 x2 + 0.5 + noise by gradient descent on each device; the exit\n"
             "status says whether every fit recovered the coefficients.",
             options, sizeof options / sizeof options[0]);
    const char *v;
    int k;
    while ((k = cli_next(&c, argc, argv, &v)) >= 0) {
        bool ok = true;
        if (k == 0) {
            if (ndev == 16) return cli_fail(&c, "at most 16 --device options");
            devices[ndev++] = v;
        } else if (k == 1) all = 1;
        else if (k == 2) ok = cli_long(&c, "rows", v, 10, 10000000, &rows);
        else if (k == 3) ok = cli_long(&c, "steps", v, 1, 1000000, &steps);
        else ok = cli_u64(&c, "seed", v, &seed);
        if (!ok) return 2;
    }
    if (k != CLI_END) return cli_status(k);
    int rc = 0;
    if (all) {
        for (int i = 0; i < clg_device_count(); i++) { /* the reference first */
            char spec[32];
            if (clg_device_spec(i, spec, sizeof spec) == CLG_OK) rc |= fit(spec, (int)rows, (int)steps, seed);
        }
    } else if (ndev == 0) {
        rc = fit(NULL, (int)rows, (int)steps, seed);
    }
    for (int i = 0; i < ndev; i++) rc |= fit(devices[i], (int)rows, (int)steps, seed);
    return rc;
}
