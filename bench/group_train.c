/* Optimizer updates and whole training steps. */
#include "bench.h"
#include "models.h"
#include "progress.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float value(uint64_t i, uint64_t salt)
{
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
    return (float)((double)(z >> 40) / 16777216.0 - 0.5);
}

typedef struct optim_case {
    const char *name;
    clg_optimizer_kind kind;
    float momentum;
    int amsgrad;
    double bytes_per_param; /* read and written by the fused update */
} optim_case;

/* One update of n parameters with gradients c; returns the parameters
 * after two updates, or NULL (why in r). */
static float *optim_run(const char *spec, const optim_case *oc, int64_t n, const float *w0, const float *c,
                        const bench_opts *o, result *timed)
{
    clg_context *ctx = NULL;
    clg_graph *g;
    float *out = NULL;
    if (clg_context_create(spec, &ctx) != CLG_OK || clg_graph_create(ctx, &g) != CLG_OK) goto fail;
    clg_tensor w = clg_param(g, 1, &n), tc = clg_input(g, 1, &n);
    clg_tensor loss = clg_sum(g, clg_mul(g, w, tc));
    clg_optimizer_config cfg = clg_optimizer_defaults(oc->kind);
    cfg.momentum = oc->momentum;
    cfg.amsgrad = oc->amsgrad;
    if (clg_tensor_set_name(g, w, "w") != CLG_OK || clg_backward(g, loss) != CLG_OK ||
        clg_optimizer(g, &cfg) != CLG_OK || clg_tensor_set(g, w, w0, (size_t)n) != CLG_OK ||
        clg_tensor_set(g, tc, c, (size_t)n) != CLG_OK || clg_graph_run(g, CLG_RUN_ALL) != CLG_OK ||
        clg_graph_run(g, CLG_RUN_UPDATE) != CLG_OK)
        goto fail;
    out = malloc(sizeof(float) * (size_t)n);
    if (!out || clg_tensor_get(g, w, out, (size_t)n) != CLG_OK) goto fail;
    if (timed && !bench_time_graph(g, CLG_RUN_UPDATE, 2, o->repeat, false, timed)) goto fail;
    clg_context_destroy(ctx);
    return out;
fail:
    if (timed) result_fail(timed, "%s", clg_context_errmsg(ctx));
    free(out);
    clg_context_destroy(ctx);
    return NULL;
}

void group_optim(device_run *d, const bench_opts *o)
{
    static const optim_case cases[] = {
        {"sgd update", CLG_OPTIM_SGD, 0, 0, 12},           /* w, g read; w written */
        {"sgd momentum update", CLG_OPTIM_SGD, 0.9f, 0, 20}, /* + buffer read and written */
        {"adam update", CLG_OPTIM_ADAM, 0, 0, 28},         /* w, g, m, v read; w, m, v written */
        {"adamw update", CLG_OPTIM_ADAMW, 0, 0, 28},
        {"adam amsgrad update", CLG_OPTIM_ADAM, 0, 1, 36},
        {"rmsprop update", CLG_OPTIM_RMSPROP, 0, 0, 20},
        {"adagrad update", CLG_OPTIM_ADAGRAD, 0, 0, 20},
    };
    /* the same sizes on every device, beyond the cache (10^6 parameters'
     * 28 MB of Adam ran from a 32 MB L3 at 250% of the copy ceiling):
     * quick 10^7, full 10^7 and 10^8 */
    int64_t sizes[2] = {10000000, 100000000};
    int nsizes = o->quick ? 1 : 2;
    for (int s = 0; s < nsizes; s++) {
        int64_t n = sizes[s];
        char size[48];
        snprintf(size, sizeof size, "%.0e params", (double)n);
        float *w0 = malloc(sizeof(float) * (size_t)n), *c = malloc(sizeof(float) * (size_t)n);
        if (!w0 || !c) {
            free(w0);
            free(c);
            return;
        }
        for (int64_t i = 0; i < n; i++) {
            w0[i] = value((uint64_t)i, 3);
            c[i] = value((uint64_t)i, 4);
        }
        /* the reference checks a 1e6 prefix: updates are elementwise */
        int64_t ncheck = n < 1000000 ? n : 1000000;
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            if (!bench_wanted(o, cases[k].name)) continue;
            result *r = bench_new_result(d, "optim", cases[k].name, size);
            if (!r) break;
            /* the budget's estimate: this case at the size ten times smaller, if measured */
            const result *prev = NULL;
            if (s > 0) {
                result like = {.group = "optim"};
                snprintf(like.name, sizeof like.name, "%s", cases[k].name);
                snprintf(like.size, sizeof like.size, "%.0e params", (double)sizes[s - 1]);
                prev = bench_find(d, &like);
            }
            if (prev && prev->check == CHECK_OK && prev->median > 0 && !bench_within_budget(r, o, 10 * prev->median, 4))
                continue;
            float *got = optim_run(d->spec, &cases[k], n, w0, c, o, r);
            if (!got) continue;
            if (!d->is_reference) {
                float *want = optim_run("reference", &cases[k], ncheck, w0, c, o, NULL);
                if (!want) result_fail(r, "the reference run failed");
                for (int64_t i = 0; want && i < ncheck; i++)
                    if (fabs((double)got[i] - (double)want[i]) > 1e-5 * fabs((double)want[i]) + 1e-6) {
                        result_fail(r, "w[%lld] = %.7g, reference %.7g", (long long)i, (double)got[i],
                                    (double)want[i]);
                        break;
                    }
                free(want);
            }
            free(got);
            if (r->check == CHECK_OK) {
                result_set_rate(r, (double)n * cases[k].bytes_per_param * 1e-9, "GB/s", d->copy_gbs);
                r->bytes = (double)n * cases[k].bytes_per_param;
            } else if (r->check == CHECK_FAILED) {
                r->median = r->min = r->max = 0;
            }
        }
        free(w0);
        free(c);
    }
}

/* One training step (forward, backward, Adam update) of clgrad-train's
 * models on random inputs; checked by the first step's loss against the
 * reference backend's (same initialisation: Philox draws are identical on
 * every backend). */
static double first_loss(const char *spec, const char *kind, int batch, const float *x, const int32_t *y,
                         model *keep, clg_context **keep_ctx, char *why, size_t whylen)
{
    clg_context *ctx = NULL;
    model m;
    double loss = NAN;
    if (clg_context_create(spec, &ctx) != CLG_OK || model_build(ctx, kind, batch, 32, 1234, 0, 0, QAT_NONE, PRECISION_F32, &m) != CLG_OK) goto fail;
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    int64_t nx = clg_tensor_numel(m.g, m.x);
    float l;
    if (clg_optimizer(m.g, &cfg) != CLG_OK || clg_tensor_set(m.g, m.x, x, (size_t)nx) != CLG_OK ||
        clg_tensor_set_i32(m.g, m.labels, y, (size_t)batch) != CLG_OK || clg_graph_run(m.g, CLG_RUN_ALL) != CLG_OK ||
        clg_tensor_get(m.g, m.loss, &l, 1) != CLG_OK)
        goto fail;
    loss = l;
    if (keep) {
        *keep = m;
        *keep_ctx = ctx;
        return loss;
    }
    clg_context_destroy(ctx);
    return loss;
fail:
    snprintf(why, whylen, "%s", clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return NAN;
}

void group_train(device_run *d, const bench_opts *o)
{
    static const char *const kinds[] = {"mlp", "cnn"};
    static const int batches[] = {64, 256};
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 2; b++) {
            int batch = batches[b]; /* both on every device: the budget skips what is too slow */
            char name[32], size[32];
            snprintf(name, sizeof name, "%s step", kinds[k]);
            snprintf(size, sizeof size, "batch %d", batch);
            if (!bench_wanted(o, name)) continue;
            result *r = bench_new_result(d, "train", name, size);
            if (!r) return;
            float *x = malloc(sizeof(float) * (size_t)batch * 784);
            int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
            if (!x || !y) {
                result_fail(r, "out of host memory");
                free(x);
                free(y);
                continue;
            }
            for (int i = 0; i < batch * 784; i++) x[i] = value((uint64_t)i, 5) + 0.5f;
            for (int i = 0; i < batch; i++) y[i] = (int32_t)((unsigned)(value((uint64_t)i, 6) * 1e6f + 5e5f) % 10u);
            model m;
            clg_context *ctx = NULL;
            char why[160];
            const double t0 = now_seconds();
            double l = first_loss(d->spec, kinds[k], batch, x, y, &m, &ctx, why, sizeof why);
            const double first = now_seconds() - t0; /* with the build: an overestimate */
            if (isnan(l)) {
                result_fail(r, "%s", why);
            } else if (!d->is_reference && batch == 64) {
                double lr = first_loss("reference", kinds[k], batch, x, y, NULL, NULL, why, sizeof why);
                if (!(fabs(l - lr) <= 1e-4 * fabs(lr) + 1e-5))
                    result_fail(r, "first-step loss %.7g, reference %.7g", l, lr);
            } else if (!(l > 0 && isfinite(l))) {
                result_fail(r, "first-step loss %g", l);
            }
            if (r->check == CHECK_OK && bench_within_budget(r, o, first, 2)) {
                if (!bench_time_graph(m.g, CLG_RUN_ALL, 2, o->repeat, true, r)) result_fail(r, "%s", clg_context_errmsg(ctx));
                else result_set_rate(r, (double)batch, "samples/s", 0);
            }
            /* device memory of the step, planned and as one buffer per tensor */
            clg_memory mem;
            if (r->check == CHECK_OK && clg_graph_memory(m.g, &mem) == CLG_OK)
                snprintf(r->note, sizeof r->note, "device memory %.1f MB (%.1f MB with a buffer per tensor)",
                         mem.total / 1e6, mem.unplanned_total / 1e6);
            /* the host's share: time until clg_graph_run returned */
            snprintf(name, sizeof name, "%s step enqueue", kinds[k]);
            result *e = bench_new_result(d, "train", name, size);
            if (e && r->check == CHECK_OK && r->enqueue > 0) {
                e->median = e->min = e->max = r->enqueue;
                snprintf(e->unit, sizeof e->unit, "ms");
                e->rate = r->enqueue * 1e3;
                snprintf(e->note, sizeof e->note, "%.0f%% of the step (%.3f of %.3f ms)", 100.0 * r->enqueue / r->median,
                         r->enqueue * 1e3, r->median * 1e3);
            } else if (e) {
                e->check = CHECK_SKIPPED;
                snprintf(e->note, sizeof e->note, "the step was not timed");
            }
            /* kernels enqueued by one step (fused ones and CLBlast calls count one each) */
            snprintf(name, sizeof name, "%s step kernels", kinds[k]);
            result *kr = bench_new_result(d, "train", name, size);
            uint64_t before = clg_context_launches(ctx);
            if (kr && r->check == CHECK_OK && clg_graph_run(m.g, CLG_RUN_ALL) == CLG_OK && clg_graph_wait(m.g) == CLG_OK) {
                double count = (double)(clg_context_launches(ctx) - before);
                kr->median = kr->min = kr->max = count;
                snprintf(kr->unit, sizeof kr->unit, "kernels");
                kr->rate = count;
                snprintf(kr->note, sizeof kr->note, "commands enqueued by one step (clg_context_launches)");
            } else if (kr) {
                kr->check = CHECK_SKIPPED;
                snprintf(kr->note, sizeof kr->note, "the step did not run");
            }
            clg_context_destroy(ctx);
            free(x);
            free(y);
        }
}
