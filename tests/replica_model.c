#include "replica_model.h"

#include <string.h>

void build(model *m, const char *spec, int batch, bool cnn)
{
    memset(m, 0, sizeof *m);
    m->ctx = open_ctx(spec);
    m->batch = batch;
    CHECK_OK(m->ctx, clg_graph_create(m->ctx, &m->g));
    clg_graph *g = m->g;
    const int64_t nb = batch;
    m->labels = clg_labels(g, 1, &nb);
    clg_tensor logits;
    if (cnn) {
        const int64_t xs[4] = {batch, 1, 5, 5}, ws[4] = {2, 1, 3, 3}, two = 2, fc[2] = {50, OUT}, flat[2] = {batch, 50};
        m->x = clg_input(g, 4, xs);
        m->p[0] = clg_param(g, 4, ws);
        m->p[1] = clg_param(g, 1, &two);
        m->p[2] = clg_param(g, 2, fc);
        m->np = 3;
        clg_tensor h = clg_relu(g, clg_conv2d(g, m->x, m->p[0], m->p[1], 1, 1, 1, 1, 1, 1));
        logits = clg_matmul(g, clg_reshape(g, h, 2, flat), m->p[2], 0, 0);
    } else {
        const int64_t xs[2] = {batch, IN}, w1[2] = {IN, HID}, b1 = HID, w2[2] = {HID, OUT}, b2 = OUT;
        m->x = clg_input(g, 2, xs);
        m->p[0] = clg_param(g, 2, w1);
        m->p[1] = clg_param(g, 1, &b1);
        m->p[2] = clg_param(g, 2, w2);
        m->p[3] = clg_param(g, 1, &b2);
        m->np = 4;
        clg_tensor h = clg_relu(g, clg_add(g, clg_matmul(g, m->x, m->p[0], 0, 0), m->p[1]));
        logits = clg_add(g, clg_matmul(g, h, m->p[2], 0, 0), m->p[3]);
    }
    clg_tensor loss = clg_softmax_cross_entropy(g, logits, m->labels);
    CHECK_OK(m->ctx, clg_backward(g, loss));
    clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    CHECK_OK(m->ctx, clg_optimizer(g, &c));
}

void destroy(model *m) { clg_context_destroy(m->ctx); }

size_t numel(const model *m, int k) { return (size_t)clg_tensor_numel(m->g, m->p[k]); }

void init_params(model *m, uint64_t seed)
{
    rng_t r = {seed};
    float v[MAXW];
    for (int k = 0; k < m->np; k++) {
        rng_fill(&r, v, numel(m, k), 0.1, 0.6, false);
        CHECK_OK(m->ctx, clg_tensor_set(m->g, m->p[k], v, numel(m, k)));
    }
}

/* Step s's batch of B rows; rows [first, first + m->batch) into m. No
 * cmocka assertion: the reducer's threads call it. */
clg_status feed_status(model *m, int s, int first, bool cnn)
{
    const int per = cnn ? 25 : IN;
    float x[B * 25];
    int32_t l[B];
    rng_t r = {1000 + (uint64_t)s};
    rng_fill(&r, x, (size_t)(B * per), 0.1, 2.0, false);
    for (int i = 0; i < B; i++) l[i] = (int32_t)(rng_next(&r) % OUT);
    clg_status st = clg_tensor_set(m->g, m->x, x + first * per, (size_t)(m->batch * per));
    return st != CLG_OK ? st : clg_tensor_set_i32(m->g, m->labels, l + first, (size_t)m->batch);
}

void feed(model *m, int s, int first, bool cnn) { CHECK_OK(m->ctx, feed_status(m, s, first, cnn)); }

size_t params(model *m, float *out)
{
    size_t k = 0;
    for (int p = 0; p < m->np; p++) {
        CHECK_OK(m->ctx, clg_tensor_get(m->g, m->p[p], out + k, numel(m, p)));
        k += numel(m, p);
    }
    return k;
}

size_t train_one(bool cnn, float *out)
{
    model m;
    build(&m, "reference", B, cnn);
    init_params(&m, 7);
    for (int s = 0; s < STEPS; s++) {
        feed(&m, s, 0, cnn);
        CHECK_OK(m.ctx, clg_graph_run(m.g, CLG_RUN_ALL));
    }
    size_t k = params(&m, out);
    destroy(&m);
    return k;
}

