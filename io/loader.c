/* Mini-batches over an in-memory data set: per-epoch seeded shuffle, per-pixel normalisation. */
#include "data.h"
#include "../core/internal.h" /* clg_loader_feed reports on the graph's context */

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

struct clg_loader {
    const float *x;
    const int32_t *y;
    int64_t n, sample, batch_size, batches;
    uint64_t seed;
    bool shuffle, drop_last, normalize;
    float *mean, *std;
    int64_t *perm, perm_epoch; /* the order of perm_epoch (-1: none yet) */
    int64_t epoch, batch;      /* the next batch; batch == batches: the end-of-epoch call */
    float *stage_x;            /* clg_loader_feed's batch on the host, made at its first call */
    int32_t *stage_y;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ull;
    return mix64(*state);
}

/* Uniform in [0, bound) without modulo bias: draws in the top partial
 * block of 2^64 are drawn again. */
static uint64_t below(uint64_t *state, uint64_t bound)
{
    uint64_t rem = (UINT64_MAX % bound + 1) % bound; /* 2^64 mod bound */
    for (;;) {
        uint64_t r = splitmix64(state);
        if (rem == 0 || r < 0 - rem) return r % bound;
    }
}

static void make_order(clg_loader *l, int64_t epoch)
{
    for (int64_t i = 0; i < l->n; i++) l->perm[i] = i;
    if (l->shuffle) {
        uint64_t state = mix64(l->seed ^ mix64((uint64_t)epoch));
        for (int64_t i = l->n - 1; i > 0; i--) {
            int64_t j = (int64_t)below(&state, (uint64_t)i + 1);
            int64_t t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->perm_epoch = epoch;
}

/* Two passes in double: the mean, then the mean squared deviation. */
static bool compute_stats(clg_loader *l)
{
    double *acc = calloc((size_t)l->sample, sizeof *acc);
    if (!acc) return false;
    for (int64_t i = 0; i < l->n; i++) {
        const float *s = l->x + i * l->sample;
        for (int64_t p = 0; p < l->sample; p++) acc[p] += s[p];
    }
    for (int64_t p = 0; p < l->sample; p++) {
        acc[p] /= (double)l->n;
        l->mean[p] = (float)acc[p];
    }
    double *var = calloc((size_t)l->sample, sizeof *var);
    if (!var) {
        free(acc);
        return false;
    }
    for (int64_t i = 0; i < l->n; i++) {
        const float *s = l->x + i * l->sample;
        for (int64_t p = 0; p < l->sample; p++) {
            double d = s[p] - acc[p];
            var[p] += d * d;
        }
    }
    for (int64_t p = 0; p < l->sample; p++) l->std[p] = (float)sqrt(var[p] / (double)l->n);
    free(var);
    free(acc);
    return true;
}

static clg_status check_inputs(const clg_array *images, const clg_array *labels, const clg_loader_options *opt,
                               char *err, size_t errlen)
{
    const char *f = "clg_loader_create";
    clg_status s = clg_array_check(images, f, err, errlen);
    if (s != CLG_OK) return s;
    char sh[200];
    clg_array_shape_string(images->ndim, images->shape, sh, sizeof sh);
    if (images->type != CLG_ELEM_F32 || images->ndim < 1 || images->numel < 1)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                             "%s: images are %s %s; they must be f32 [N, ...] with N >= 1 and non-empty samples "
                             "(clg_array_convert turns u8 into f32)",
                             f, clg_elem_name(images->type), sh);
    if (labels) {
        s = clg_array_check(labels, f, err, errlen);
        if (s != CLG_OK) return s;
        char lsh[200];
        clg_array_shape_string(labels->ndim, labels->shape, lsh, sizeof lsh);
        if (labels->type != CLG_ELEM_I32 || labels->ndim != 1 || labels->shape[0] != images->shape[0])
            return clg_data_fail(err, errlen, CLG_ERR_SHAPE, "%s: labels are %s %s; for images %s they must be i32 [%lld]",
                                 f, clg_elem_name(labels->type), lsh, sh, (long long)images->shape[0]);
    }
    if (!opt) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: options are NULL", f);
    if (opt->batch_size < 1)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: batch size %lld (must be >= 1)", f,
                             (long long)opt->batch_size);
    if (opt->drop_last && opt->batch_size > images->shape[0])
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                             "%s: batch size %lld with drop_last leaves no batch of %lld samples", f,
                             (long long)opt->batch_size, (long long)images->shape[0]);
    if (opt->normalize < CLG_NORMALIZE_NONE || opt->normalize > CLG_NORMALIZE_GIVEN)
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: normalize %d is not a CLG_NORMALIZE_* value", f,
                             opt->normalize);
    if (opt->normalize == CLG_NORMALIZE_GIVEN) {
        if (!opt->mean || !opt->std)
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: CLG_NORMALIZE_GIVEN needs mean and std", f);
        int64_t sample = images->numel / images->shape[0];
        for (int64_t p = 0; p < sample; p++)
            if (!isfinite(opt->mean[p]) || !isfinite(opt->std[p]) || opt->std[p] < 0)
                return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                     "%s: element %lld: mean %g, std %g (need finite values, std >= 0)", f, (long long)p,
                                     (double)opt->mean[p], (double)opt->std[p]);
    }
    return CLG_OK;
}

clg_status clg_loader_create(const clg_array *images, const clg_array *labels, const clg_loader_options *given,
                             clg_loader **out, char *err, size_t errlen)
{
    if (!out) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "clg_loader_create: out is NULL");
    *out = NULL;
    /* size 0: a struct filled by hand in this version's layout; a newer
     * caller's larger struct gives the fields this library knows */
    clg_loader_options o = {0};
    if (given) {
        size_t size = given->size ? given->size : sizeof o;
        if (size < offsetof(clg_loader_options, std) + sizeof o.std)
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                 "clg_loader_create: opt->size is %zu, less than any version's options", given->size);
        memcpy(&o, given, size < sizeof o ? size : sizeof o);
    }
    const clg_loader_options *opt = given ? &o : NULL;
    clg_status s = check_inputs(images, labels, opt, err, errlen);
    if (s != CLG_OK) return s;
    clg_loader *l = calloc(1, sizeof *l);
    if (!l) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "clg_loader_create: out of host memory");
    l->x = images->data;
    l->y = labels ? labels->data : NULL;
    l->n = images->shape[0];
    l->sample = images->numel / l->n;
    l->batch_size = opt->batch_size;
    l->drop_last = opt->drop_last != 0;
    l->batches = l->drop_last ? l->n / l->batch_size : (l->n + l->batch_size - 1) / l->batch_size;
    l->seed = opt->seed;
    l->shuffle = opt->shuffle != 0;
    l->normalize = opt->normalize != CLG_NORMALIZE_NONE;
    l->perm_epoch = -1;
    l->perm = malloc((size_t)l->n * sizeof *l->perm);
    l->mean = malloc((size_t)l->sample * sizeof *l->mean);
    l->std = malloc((size_t)l->sample * sizeof *l->std);
    bool ok = l->perm && l->mean && l->std;
    if (ok && opt->normalize == CLG_NORMALIZE_COMPUTE) ok = compute_stats(l);
    if (ok && opt->normalize == CLG_NORMALIZE_GIVEN) {
        memcpy(l->mean, opt->mean, (size_t)l->sample * sizeof *l->mean);
        memcpy(l->std, opt->std, (size_t)l->sample * sizeof *l->std);
    }
    if (ok && opt->normalize == CLG_NORMALIZE_NONE)
        for (int64_t p = 0; p < l->sample; p++) {
            l->mean[p] = 0;
            l->std[p] = 1;
        }
    if (!ok) {
        clg_loader_destroy(l);
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "clg_loader_create: out of host memory");
    }
    *out = l;
    return CLG_OK;
}

void clg_loader_destroy(clg_loader *l)
{
    if (!l) return;
    free(l->perm);
    free(l->mean);
    free(l->std);
    free(l->stage_x);
    free(l->stage_y);
    free(l);
}

int64_t clg_loader_sample_numel(const clg_loader *l)
{
    return l ? l->sample : 0;
}

int64_t clg_loader_batches(const clg_loader *l)
{
    return l ? l->batches : 0;
}

static void copy_sample(const clg_loader *l, int64_t src, float *dst)
{
    const float *s = l->x + src * l->sample;
    if (!l->normalize) {
        memcpy(dst, s, (size_t)l->sample * sizeof *dst);
        return;
    }
    for (int64_t p = 0; p < l->sample; p++) {
        double c = (double)s[p] - l->mean[p];
        dst[p] = (float)(l->std[p] > 0 ? c / l->std[p] : c);
    }
}

clg_status clg_loader_next(clg_loader *l, float *x, int32_t *y, int64_t *count)
{
    if (!l || !x || !count) return CLG_ERR_INVALID_ARGUMENT;
    if (l->batch == l->batches) {
        *count = 0;
        l->epoch++;
        l->batch = 0;
        return CLG_OK;
    }
    if (l->perm_epoch != l->epoch) make_order(l, l->epoch);
    int64_t first = l->batch * l->batch_size;
    int64_t n = l->n - first < l->batch_size ? l->n - first : l->batch_size;
    for (int64_t k = 0; k < n; k++) {
        int64_t src = l->perm[first + k];
        copy_sample(l, src, x + k * l->sample);
        if (y) y[k] = l->y ? l->y[src] : 0;
    }
    l->batch++;
    *count = n;
    return CLG_OK;
}

clg_status clg_loader_feed(clg_loader *l, clg_graph *g, clg_tensor x, clg_tensor labels, int64_t *count)
{
    const char *f = "clg_loader_feed";
    if (clg_graph_check(g, f) != CLG_OK) return CLG_ERR_INVALID_ARGUMENT;
    if (!l || !count) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the loader or count is NULL", f);
    const bool with_labels = !(labels.id < 0 && labels.graph != CLG_TENSOR_FAILED);
    const int64_t want = l->batch_size * l->sample, nx = clg_tensor_numel(g, x);
    if (nx != want)
        return clg_error(g->ctx, nx < 0 ? CLG_ERR_INVALID_ARGUMENT : CLG_ERR_SHAPE,
                         "%s: x holds %lld values, a batch %lld (%lld samples of %lld)", f, (long long)nx,
                         (long long)want, (long long)l->batch_size, (long long)l->sample);
    if (with_labels) {
        const int64_t ny = clg_tensor_numel(g, labels);
        if (ny != l->batch_size)
            return clg_error(g->ctx, ny < 0 ? CLG_ERR_INVALID_ARGUMENT : CLG_ERR_SHAPE,
                             "%s: labels hold %lld values, a batch %lld", f, (long long)ny, (long long)l->batch_size);
        if (!l->y) return clg_error(g->ctx, CLG_ERR_INVALID_ARGUMENT, "%s: the loader was made without labels", f);
    }
    /* a partial last batch would leave rows of x from the batch before:
     * refused, before anything moves */
    if (l->batch < l->batches) {
        const int64_t left = l->n - l->batch * l->batch_size;
        if (left < l->batch_size)
            return clg_error(g->ctx, CLG_ERR_SHAPE,
                             "%s: the epoch's last batch holds %lld samples, x takes %lld: make the loader with "
                             "drop_last, or take that batch with clg_loader_next",
                             f, (long long)left, (long long)l->batch_size);
    }
    if (!l->stage_x) l->stage_x = malloc((size_t)want * sizeof *l->stage_x);
    if (!l->stage_y) l->stage_y = malloc((size_t)l->batch_size * sizeof *l->stage_y);
    if (!l->stage_x || !l->stage_y) return clg_error(g->ctx, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", f);
    const int64_t epoch = l->epoch, batch = l->batch;
    clg_status s = clg_loader_next(l, l->stage_x, l->stage_y, count);
    if (s != CLG_OK || *count == 0) return s;
    s = clg_tensor_set(g, x, l->stage_x, (size_t)want);
    if (s == CLG_OK && with_labels) s = clg_tensor_set_i32(g, labels, l->stage_y, (size_t)l->batch_size);
    if (s != CLG_OK) { /* refused (a label out of range): the loader stays where it was */
        l->epoch = epoch;
        l->batch = batch;
        *count = 0;
    }
    return s;
}

clg_status clg_loader_position(const clg_loader *l, int64_t *epoch, int64_t *batch)
{
    if (!l || !epoch || !batch) return CLG_ERR_INVALID_ARGUMENT;
    *epoch = l->epoch;
    *batch = l->batch;
    return CLG_OK;
}

clg_status clg_loader_seek(clg_loader *l, int64_t epoch, int64_t batch)
{
    if (!l || epoch < 0 || batch < 0 || batch > l->batches) return CLG_ERR_INVALID_ARGUMENT;
    l->epoch = epoch;
    l->batch = batch;
    return CLG_OK;
}

clg_status clg_loader_stats(const clg_loader *l, float *mean, float *std)
{
    if (!l || !mean || !std) return CLG_ERR_INVALID_ARGUMENT;
    memcpy(mean, l->mean, (size_t)l->sample * sizeof *mean);
    memcpy(std, l->std, (size_t)l->sample * sizeof *std);
    return CLG_OK;
}
