/*
 * The hostile battery's C side (tests/hostile/run.sh builds it with cc
 * against a build tree's static library; it is not a CTest test).
 *
 *   hostile good-ckpt DEVICE PATH        a good checkpoint of the probe graph
 *   hostile feed DEVICES MANIFEST FROM   feed bad files (lines "kind path") to the readers;
 *                                        kinds: st npy idx ck (ck: checkpoint load on each
 *                                        device of the comma list DEVICES)
 *   hostile api DEVICE                   bad API calls, then train and compare with a clean graph
 *   hostile cycles DEVICE N              N context + GEMM graph + run + destroy cycles; RSS
 *   hostile threads DEVICES T RUNS       T threads, each its own context (devices in turn),
 *                                        RUNS training steps, compared with a lone run
 *   hostile stcheck PATH                 the file reads as safetensors (exit 0) or fails (1)
 *   hostile save-big PATH FLOATS         a checkpoint of FLOATS floats saved over PATH
 *
 * Every check prints one line "RESULT <category> <survived|lost> <what>"; the
 * driver counts them. A crash or sanitizer report ends the process: the driver
 * counts the item it was on as lost and starts again after it.
 */
#include "clgrad.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_lost;

static void result(const char *cat, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void result(const char *cat, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("RESULT %s %s ", cat, ok ? "survived" : "lost");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (!ok) n_lost++;
}

/* ---- the probe graph: a small MLP with Adam, named parameters ---------- */

typedef struct probe {
    clg_graph *g;
    clg_tensor x, y, w1, b1, w2, b2, loss;
} probe;

enum { P_N = 8, P_IN = 5, P_H = 7, P_C = 3 };

static clg_status probe_build(clg_context *ctx, probe *p)
{
    memset(p, 0, sizeof *p);
    clg_status s = clg_graph_create(ctx, &p->g);
    if (s != CLG_OK) return s;
    clg_graph *g = p->g;
    int64_t xs[2] = {P_N, P_IN}, ys[1] = {P_N}, w1s[2] = {P_H, P_IN}, b1s[1] = {P_H}, w2s[2] = {P_C, P_H},
            b2s[1] = {P_C};
    p->x = clg_input(g, 2, xs);
    p->y = clg_labels(g, 1, ys);
    p->w1 = clg_param(g, 2, w1s);
    p->b1 = clg_param(g, 1, b1s);
    p->w2 = clg_param(g, 2, w2s);
    p->b2 = clg_param(g, 1, b2s);
    clg_tensor_set_name(g, p->w1, "fc1.weight");
    clg_tensor_set_name(g, p->b1, "fc1.bias");
    clg_tensor_set_name(g, p->w2, "fc2.weight");
    clg_tensor_set_name(g, p->b2, "fc2.bias");
    clg_tensor h = clg_relu(g, clg_linear(g, p->x, p->w1, p->b1));
    clg_tensor z = clg_linear(g, h, p->w2, p->b2);
    p->loss = clg_softmax_cross_entropy(g, z, p->y);
    s = clg_graph_status(g);
    if (s != CLG_OK) return s;
    if ((s = clg_backward(g, p->loss)) != CLG_OK) return s;
    clg_optimizer_config cfg = clg_optimizer_defaults(CLG_OPTIM_ADAM);
    cfg.lr = 0.01f;
    if ((s = clg_optimizer(g, &cfg)) != CLG_OK) return s;
    clg_init_kaiming_uniform(g, p->w1, 11);
    clg_init_uniform(g, p->b1, -0.1f, 0.1f, 12);
    clg_init_kaiming_uniform(g, p->w2, 13);
    clg_init_uniform(g, p->b2, -0.1f, 0.1f, 14);
    float xv[P_N * P_IN];
    int32_t yv[P_N];
    for (int i = 0; i < P_N * P_IN; i++) xv[i] = (float)((i * 37 % 19) - 9) / 7.0f;
    for (int i = 0; i < P_N; i++) yv[i] = i % P_C;
    if ((s = clg_tensor_set(g, p->x, xv, P_N * P_IN)) != CLG_OK) return s;
    if ((s = clg_tensor_set_i32(g, p->y, yv, P_N)) != CLG_OK) return s;
    return clg_graph_status(g);
}

/* Every float32 named tensor of the graph, concatenated (a fingerprint). */
static size_t probe_state(clg_graph *g, float *out, size_t cap)
{
    size_t k = 0;
    int32_t n = clg_graph_tensor_count(g);
    for (int32_t i = 0; i < n; i++) {
        clg_tensor t = clg_graph_tensor(g, i);
        if (!clg_tensor_name(g, t)) continue;
        int64_t m = clg_tensor_numel(g, t);
        if (m <= 0 || k + (size_t)m > cap) continue;
        if (clg_tensor_get(g, t, out + k, (size_t)m) == CLG_OK) k += (size_t)m;
    }
    return k;
}

static int probe_train(probe *p, int steps, float *losses)
{
    for (int i = 0; i < steps; i++) {
        if (clg_graph_run(p->g, CLG_RUN_ALL) != CLG_OK) return 1;
        if (clg_tensor_get(p->g, p->loss, &losses[i], 1) != CLG_OK) return 1;
    }
    return 0;
}

/* ---- good-ckpt ---------------------------------------------------------- */

static int cmd_good_ckpt(const char *dev, const char *path)
{
    clg_context *ctx = NULL;
    if (clg_context_create(dev, &ctx) != CLG_OK) {
        fprintf(stderr, "context: %s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 2;
    }
    probe p;
    float l[2];
    int rc = 0;
    const char *k[] = {"step", "note"}, *v[] = {"2", "hostile battery"};
    if (probe_build(ctx, &p) != CLG_OK || probe_train(&p, 2, l)) {
        fprintf(stderr, "probe: %s\n", clg_context_errmsg(ctx));
        rc = 2;
    } else if (clg_checkpoint_save(p.g, path, k, v, 2) != CLG_OK) {
        fprintf(stderr, "save: %s\n", clg_context_errmsg(ctx));
        rc = 1;
    }
    clg_context_destroy(ctx);
    return rc;
}

/* ---- feed ---------------------------------------------------------------- */

#define STATE_CAP 4096

typedef struct dev_probe {
    const char *spec;
    clg_context *ctx;
    probe p;
} dev_probe;

static int cmd_feed(const char *devices, const char *manifest, int from)
{
    FILE *f = fopen(manifest, "r");
    if (!f) {
        perror(manifest);
        return 2;
    }
    dev_probe dp[4];
    int nd = 0;
    char devbuf[256];
    snprintf(devbuf, sizeof devbuf, "%s", devices);
    for (char *tok = strtok(devbuf, ","); tok && nd < 4; tok = strtok(NULL, ",")) {
        dp[nd].spec = tok;
        dp[nd].ctx = NULL;
        if (clg_context_create(tok, &dp[nd].ctx) != CLG_OK || probe_build(dp[nd].ctx, &dp[nd].p) != CLG_OK) {
            fprintf(stderr, "device %s: %s\n", tok, clg_context_errmsg(dp[nd].ctx));
            return 2;
        }
        float l[1];
        probe_train(&dp[nd].p, 1, l);
        nd++;
    }
    static float before[STATE_CAP], after[STATE_CAP];
    char line[4096];
    int idx = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        int my = idx++;
        if (my < from) continue;
        char kind[16], path[4000];
        if (sscanf(line, "%15s %3999s", kind, path) != 2) continue;
        printf("BEGIN %d %s\n", my, path);
        fflush(stdout);
        char err[512] = "";
        if (!strcmp(kind, "ck")) {
            for (int d = 0; d < nd; d++) {
                clg_graph *g = dp[d].p.g;
                size_t nb = probe_state(g, before, STATE_CAP);
                clg_meta *meta = NULL;
                clg_status s = clg_checkpoint_load(g, path, &meta);
                const char *msg = clg_context_errmsg(dp[d].ctx);
                size_t na = probe_state(g, after, STATE_CAP);
                int same = na == nb && !memcmp(before, after, nb * sizeof(float));
                clg_graph_clear_status(g);
                float l[1];
                int runs = !probe_train(&dp[d].p, 1, l) && isfinite(l[0]);
                int ok = s != CLG_OK && msg && msg[0] && same && runs && !meta;
                result("files", ok, "%s [%s] status=%s same=%d runs=%d msg=%.160s", path, dp[d].spec,
                       clg_status_string(s), same, runs, msg ? msg : "(null)");
                if (meta) clg_meta_destroy(meta);
            }
            continue;
        }
        clg_status s;
        if (!strcmp(kind, "st")) {
            clg_safetensors *st = NULL;
            s = clg_safetensors_read(path, &st, err, sizeof err);
            if (s == CLG_OK) clg_safetensors_destroy(st);
            else if (st) s = CLG_OK; /* a failed read must not hand back an object */
        } else if (!strcmp(kind, "npy")) {
            clg_array *a = NULL;
            s = clg_npy_read(path, &a, err, sizeof err);
            if (s == CLG_OK) clg_array_destroy(a);
            else if (a) s = CLG_OK;
        } else if (!strcmp(kind, "idx")) {
            clg_array *a = NULL;
            s = clg_idx_read(path, &a, err, sizeof err);
            if (s == CLG_OK) clg_array_destroy(a);
            else if (a) s = CLG_OK;
        } else {
            fprintf(stderr, "unknown kind %s\n", kind);
            continue;
        }
        result("files", s != CLG_OK && err[0], "%s [%s] status=%s msg=%.160s", path, kind, clg_status_string(s), err);
    }
    fclose(f);
    for (int d = 0; d < nd; d++) clg_context_destroy(dp[d].ctx);
    printf("END\n");
    return 0;
}

/* ---- api ----------------------------------------------------------------- */

static clg_context *A_ctx;
static const char *A_dev;
static int A_tried;

/* A refused call: an error status and a message. */
#define BAD(expr)                                                                                                   \
    do {                                                                                                            \
        A_tried++;                                                                                                  \
        printf("BEGIN api %d %s\n", A_tried, #expr);                                                                \
        fflush(stdout);                                                                                             \
        clg_status s_ = (expr);                                                                                     \
        const char *m_ = clg_context_errmsg(A_ctx);                                                                 \
        result("api", s_ != CLG_OK && m_ && m_[0], "[%s] %s -> %s: %.160s", A_dev, #expr, clg_status_string(s_),    \
               m_ ? m_ : "(null)");                                                                                 \
    } while (0)
/* A refused call with no context to hold a message (status only). */
#define BADS(expr)                                                                                                  \
    do {                                                                                                            \
        A_tried++;                                                                                                  \
        printf("BEGIN api %d %s\n", A_tried, #expr);                                                                \
        fflush(stdout);                                                                                             \
        clg_status s_ = (expr);                                                                                     \
        result("api", s_ != CLG_OK, "[%s] %s -> %s", A_dev, #expr, clg_status_string(s_));                        \
    } while (0)
/* A refused op: a failed tensor, the graph's status set, a message; then cleared. */
#define BADT(g, expr)                                                                                               \
    do {                                                                                                            \
        A_tried++;                                                                                                  \
        printf("BEGIN api %d %s\n", A_tried, #expr);                                                                \
        fflush(stdout);                                                                                             \
        clg_tensor t_ = (expr);                                                                                     \
        clg_status s_ = clg_graph_status(g);                                                                        \
        const char *m_ = clg_context_errmsg(A_ctx);                                                                 \
        result("api", t_.id < 0 && s_ != CLG_OK && m_ && m_[0], "[%s] %s -> id %d %s: %.160s", A_dev, #expr,       \
               (int)t_.id, clg_status_string(s_), m_ ? m_ : "(null)");                                              \
        clg_graph_clear_status(g);                                                                                  \
    } while (0)
/* clg_grad: a failed tensor and a message (it leaves the graph's status alone). */
#define BADG(expr)                                                                                                  \
    do {                                                                                                            \
        A_tried++;                                                                                                  \
        printf("BEGIN api %d %s\n", A_tried, #expr);                                                                \
        fflush(stdout);                                                                                             \
        clg_tensor t_ = (expr);                                                                                     \
        const char *m_ = clg_context_errmsg(A_ctx);                                                                 \
        result("api", t_.id < 0 && m_ && m_[0], "[%s] %s -> id %d: %.160s", A_dev, #expr, (int)t_.id,             \
               m_ ? m_ : "(null)");                                                                                 \
    } while (0)
/* A refused call with a sentinel result (no status). */
#define BADV(cond)                                                                                                  \
    do {                                                                                                            \
        A_tried++;                                                                                                  \
        printf("BEGIN api %d %s\n", A_tried, #cond);                                                                \
        fflush(stdout);                                                                                             \
        result("api", (cond), "[%s] %s", A_dev, #cond);                                                             \
    } while (0)

static int cmd_api(const char *dev)
{
    A_dev = dev;
    /* devices and contexts */
    clg_context *bad = NULL;
    A_ctx = NULL;
    BADS(clg_context_create(dev, NULL));
    {
        static const char *specs[] = {"no-such-device", "9:9", "0:99", "-1:0", "99999999999999999999:0", ":",
                                      "0:", ":0", "1:-1", "\xff\xfe", "gpu", "accelerator"};
        for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
            A_tried++;
            printf("BEGIN api %d spec %zu\n", A_tried, i);
            fflush(stdout);
            bad = NULL;
            clg_status s = clg_context_create(specs[i], &bad);
            const char *m = clg_context_errmsg(bad);
            result("api", s != CLG_OK && bad && m && m[0], "[%s] clg_context_create(spec %zu) -> %s: %.120s", dev, i,
                   clg_status_string(s), m ? m : "(null)");
            clg_context_destroy(bad);
        }
    }
    BADV(clg_context_errmsg(NULL) != NULL);
    BADV(clg_context_status(NULL) != CLG_OK);
    BADV(clg_context_backend(NULL) != NULL);
    BADV(clg_context_device(NULL) != NULL);
    BADS(clg_graph_create(NULL, NULL));
    BADS(clg_device_spec(-1, (char[16]){0}, 16));
    BADS(clg_device_spec(1 << 30, (char[16]){0}, 16));
    BADS(clg_device_get_facts(-5, &(clg_device_facts){0}));
    BADS(clg_device_get_facts(0, NULL));
    BADS(clg_device_get_facts_sized(0, &(clg_device_facts){0}, 3));
    {
        char tiny[1];
        A_tried++;
        size_t need = clg_device_list(tiny, 1);
        result("api", need > 0 && tiny[0] == 0, "[%s] clg_device_list(buf, 1) truncates and terminates", dev);
        A_tried++;
        need = clg_device_list(NULL, 0);
        result("api", need > 0, "[%s] clg_device_list(NULL, 0) says the length", dev);
    }

    clg_context *ctx = NULL;
    if (clg_context_create(dev, &ctx) != CLG_OK) {
        fprintf(stderr, "context %s: %s\n", dev, clg_context_errmsg(ctx));
        return 2;
    }
    A_ctx = ctx;
    BAD(clg_graph_create(ctx, NULL));

    /* a second graph, for foreign tensors; a destroyed graph */
    clg_graph *other, *dead;
    clg_graph_create(ctx, &other);
    clg_graph_create(ctx, &dead);
    int64_t s3[1] = {3};
    clg_tensor foreign = clg_param(other, 1, s3);
    clg_tensor dead_t = clg_param(dead, 1, s3);
    clg_graph_destroy(dead);

    /* the graph under attack, built interleaved with bad calls */
    probe p;
    memset(&p, 0, sizeof p);
    clg_graph_create(ctx, &p.g);
    clg_graph *g = p.g;
    int64_t xs[2] = {P_N, P_IN}, ys[1] = {P_N}, w1s[2] = {P_H, P_IN}, b1s[1] = {P_H}, w2s[2] = {P_C, P_H},
            b2s[1] = {P_C};
    p.x = clg_input(g, 2, xs);
    /* leaves */
    int64_t neg[2] = {-1, 4}, zero[2] = {0, 4}, huge1[2] = {16777217, 1099511562241LL},
            huge2[2] = {1LL << 40, 4}, huge3[4] = {1LL << 20, 1LL << 20, 1LL << 20, 1LL << 20},
            max64[2] = {INT64_MAX, 2}, five[5] = {1, 1, 1, 1, 1};
    BADV(clg_input(NULL, 2, xs).id < 0);
    BADT(g, clg_input(g, 2, NULL));
    BADT(g, clg_input(g, -1, xs));
    BADT(g, clg_input(g, 5, five));
    BADT(g, clg_input(g, 2, neg));
    BADT(g, clg_input(g, 2, zero));
    BADT(g, clg_input(g, 2, huge1));
    BADT(g, clg_param(g, 2, huge2));
    BADT(g, clg_param(g, 4, huge3));
    BADT(g, clg_constant(g, 2, max64, 1.0f));
    BADT(g, clg_labels(g, 2, huge1));
    BADT(g, clg_param(g, 0, xs));
    p.y = clg_labels(g, 1, ys);
    p.w1 = clg_param(g, 2, w1s);
    p.b1 = clg_param(g, 1, b1s);
    BAD(clg_tensor_set_name(g, p.w1, NULL));
    BAD(clg_tensor_set_name(g, p.w1, ""));
    BAD(clg_tensor_set_name(g, p.w1, "a-name-that-is-far-too-long-for-the-limit-of-sixty-three-characters-xxxxx"));
    p.w2 = clg_param(g, 2, w2s);
    p.b2 = clg_param(g, 1, b2s);
    clg_tensor_set_name(g, p.w1, "fc1.weight");
    clg_tensor_set_name(g, p.b1, "fc1.bias");
    BAD(clg_tensor_set_name(g, p.w2, "fc1.weight")); /* duplicate */
    BAD(clg_tensor_set_name(g, foreign, "x"));
    BAD(clg_tensor_set_name(g, CLG_NO_TENSOR, "x"));
    clg_tensor_set_name(g, p.w2, "fc2.weight");
    clg_tensor_set_name(g, p.b2, "fc2.bias");

    /* ops with bad operands */
    clg_tensor failed = {-1, CLG_TENSOR_FAILED};
    clg_tensor wild = {123456, 0}, wild2 = {-7, 0};
    clg_tensor other_graph_same_id = {p.w1.id, foreign.graph};
    BADT(g, clg_add(g, p.w1, foreign));
    BADT(g, clg_add(g, p.w1, other_graph_same_id));
    BADT(g, clg_mul(g, failed, p.w1));
    BADT(g, clg_sub(g, p.w1, CLG_NO_TENSOR));
    BADT(g, clg_div(g, wild, p.w1));
    BADT(g, clg_neg(g, wild2));
    BADT(g, clg_relu(g, dead_t));
    BADT(g, clg_add(g, p.w1, p.w2)); /* [7,5] + [3,7] */
    BADT(g, clg_add(g, p.x, p.b1));  /* [8,5] + [7] */
    BADT(g, clg_add(g, p.x, p.y));   /* float + int32 */
    BADT(g, clg_exp(g, p.y));
    BADV(clg_sum(NULL, p.x).id < 0);
    BADT(g, clg_mse_loss(g, p.w1, p.w2));
    BADT(g, clg_matmul(g, p.x, p.w2, 0, 0));
    BADT(g, clg_matmul(g, p.x, p.w1, 0, 0));
    BADT(g, clg_matmul(g, p.x, p.w1, 1, 1));
    BADT(g, clg_matmul(g, p.b1, p.w1, 0, 0));
    BADT(g, clg_linear(g, p.x, p.w2, p.b2));
    BADT(g, clg_linear(g, p.x, p.w1, p.b2));
    BADT(g, clg_linear(g, p.x, p.w1, failed));
    BADT(g, clg_linear(g, p.x, p.w1, foreign));
    BADT(g, clg_linear(g, p.x, CLG_NO_TENSOR, p.b1));
    /* axes and shapes */
    BADT(g, clg_sum_axis(g, p.x, 2, 0));
    BADT(g, clg_mean_axis(g, p.x, -3, 1));
    BADT(g, clg_max_axis(g, p.x, 1 << 30, 0));
    BADT(g, clg_softmax(g, p.x, 5));
    BADT(g, clg_log_softmax(g, p.x, -9));
    BADT(g, clg_transpose(g, p.x, 0, 2));
    BADT(g, clg_permute(g, p.x, (const int[]){0, 0}));
    BADT(g, clg_permute(g, p.x, (const int[]){1, 2}));
    BADT(g, clg_permute(g, p.x, NULL));
    BADT(g, clg_slice(g, p.x, 0, 5, 4));
    BADT(g, clg_slice(g, p.x, 0, -1, 2));
    BADT(g, clg_slice(g, p.x, 0, 0, 0));
    BADT(g, clg_slice(g, p.x, 0, INT64_MAX, INT64_MAX));
    BADT(g, clg_slice(g, p.x, 3, 0, 1));
    BADT(g, clg_concat(g, p.x, p.w1, 1));
    BADT(g, clg_concat(g, p.x, p.x, 2));
    BADT(g, clg_reshape(g, p.x, 2, (const int64_t[]){3, 13}));
    BADT(g, clg_reshape(g, p.x, 2, (const int64_t[]){-1, -1}));
    BADT(g, clg_reshape(g, p.x, 2, (const int64_t[]){-1, 0}));
    BADT(g, clg_reshape(g, p.x, 2, (const int64_t[]){-1, 7}));
    BADT(g, clg_reshape(g, p.x, 2, huge1));
    BADT(g, clg_reshape(g, p.x, 2, (const int64_t[]){INT64_MAX, 2}));
    BADT(g, clg_reshape(g, p.x, 9, xs));
    {
        /* broadcasting to 2^40 elements: [2^20,1] op [1,2^20] */
        int64_t col[2] = {1LL << 20, 1}, row[2] = {1, 1LL << 20};
        clg_graph *bg;
        clg_graph_create(ctx, &bg);
        clg_tensor c = clg_input(bg, 2, col), r = clg_input(bg, 2, row);
        BADT(bg, clg_add(bg, c, r));
        BADT(bg, clg_mul(bg, c, r));
        clg_graph_destroy(bg);
    }
    /* conv and pooling */
    {
        int64_t img[4] = {2, 3, 6, 6}, k[4] = {4, 3, 3, 3}, kbad[4] = {4, 2, 3, 3}, k9[4] = {4, 3, 9, 9};
        clg_graph *cg;
        clg_graph_create(ctx, &cg);
        clg_tensor im = clg_input(cg, 4, img), kw = clg_param(cg, 4, k), kb = clg_param(cg, 4, kbad),
                   kbig = clg_param(cg, 4, k9);
        BADT(cg, clg_conv2d(cg, im, kb, CLG_NO_TENSOR, 1, 1, 0, 0, 1, 1));
        BADT(cg, clg_conv2d(cg, im, kw, CLG_NO_TENSOR, 0, 1, 0, 0, 1, 1));
        BADT(cg, clg_conv2d(cg, im, kw, CLG_NO_TENSOR, 1, 1, -1, 0, 1, 1));
        BADT(cg, clg_conv2d(cg, im, kw, CLG_NO_TENSOR, 1, 1, 0, 0, 0, 1));
        BADT(cg, clg_conv2d(cg, im, kbig, CLG_NO_TENSOR, 1, 1, 0, 0, 1, 1));
        BADT(cg, clg_conv2d(cg, im, kw, CLG_NO_TENSOR, 1, 1, 0, 0, 1 << 30, 1));
        BADT(cg, clg_conv2d(cg, im, kw, CLG_NO_TENSOR, 1, 1, 1 << 30, 1 << 30, 1, 1));
        BADT(cg, clg_conv2d(cg, im, kw, im, 1, 1, 0, 0, 1, 1));
        BADT(cg, clg_max_pool2d(cg, im, 0, 2, 2, 2, 0, 0));
        BADT(cg, clg_max_pool2d(cg, im, 2, 2, 2, 2, 2, 0));
        BADT(cg, clg_max_pool2d(cg, im, 9, 9, 1, 1, 0, 0));
        BADT(cg, clg_avg_pool2d(cg, im, 2, 2, 0, 2, 0, 0));
        BADT(cg, clg_avg_pool2d(cg, kw, 2, 2, -1, -1, 0, 0));
        BADT(cg, clg_batch_norm(cg, im, kw, kw, 0.1f, 1e-5f));
        BADT(cg, clg_batch_norm(cg, im, CLG_NO_TENSOR, CLG_NO_TENSOR, 0.1f, 1e-5f));
        BADT(cg, clg_dropout(cg, im, 1.0f, 1));
        BADT(cg, clg_dropout(cg, im, -0.5f, 1));
        BADT(cg, clg_dropout(cg, im, NAN, 1));
        BADT(cg, clg_leaky_relu(cg, im, INFINITY));
        clg_graph_destroy(cg);
    }
    /* losses with bad labels */
    BADT(g, clg_softmax_cross_entropy(g, p.x, p.x));
    BADT(g, clg_softmax_cross_entropy(g, p.y, p.y));
    BADT(g, clg_softmax_cross_entropy(g, p.w1, p.y));
    BADT(g, clg_bce_with_logits(g, p.x, p.w1));

    /* build the real thing, checking it */
    clg_tensor h = clg_relu(g, clg_linear(g, p.x, p.w1, p.b1));
    clg_tensor z = clg_linear(g, h, p.w2, p.b2);
    p.loss = clg_softmax_cross_entropy(g, z, p.y);
    if (clg_graph_status(g) != CLG_OK) {
        fprintf(stderr, "building after misuse failed: %s\n", clg_context_errmsg(ctx));
        n_lost++;
    }
    /* data in and out */
    float buf[64] = {0};
    int32_t ib[64] = {0};
    BAD(clg_tensor_set(g, p.x, buf, 3));
    BAD(clg_tensor_set(g, p.x, NULL, P_N * P_IN));
    BAD(clg_tensor_set(g, p.x, buf, SIZE_MAX));
    BAD(clg_tensor_get(g, p.x, buf, 41));
    BAD(clg_tensor_get(g, p.x, NULL, 40));
    BAD(clg_tensor_get(g, foreign, buf, 3));
    BAD(clg_tensor_get(g, failed, buf, 3));
    BAD(clg_tensor_set(g, CLG_NO_TENSOR, buf, 3));
    BAD(clg_tensor_set(g, p.y, buf, P_N));
    BAD(clg_tensor_set_i32(g, p.x, ib, 40));
    BAD(clg_tensor_set_i32(g, p.y, ib, 7));
    BAD(clg_tensor_set_i32(g, p.y, (const int32_t[]){0, 1, 2, 3, 0, 1, 2, 0}, P_N)); /* 3 >= C */
    BAD(clg_tensor_set_i32(g, p.y, (const int32_t[]){0, 1, -1, 0, 0, 1, 2, 0}, P_N));
    BAD(clg_tensor_set_i32(g, p.y, (const int32_t[]){0, 1, 2, INT32_MAX, 0, 1, 2, 0}, P_N));
    BAD(clg_tensor_get_i32(g, p.y, NULL, P_N));
    BAD(clg_tensor_fill(g, foreign, 1.0f));
    BAD(clg_tensor_fill(g, p.y, 1.0f));
    BAD(clg_init_uniform(g, p.w1, 1.0f, -1.0f, 1));
    BAD(clg_init_uniform(g, p.w1, NAN, 1.0f, 1));
    BAD(clg_init_normal(g, p.w1, 0.0f, -1.0f, 1));
    BAD(clg_init_kaiming_uniform(g, p.b1, 1)); /* needs 2 dims */
    BAD(clg_init_xavier_normal(g, p.y, 1));
    BAD(clg_random_bits(g, p.x, 1, 0));
    BADV(clg_tensor_numel(g, foreign) < 0 || clg_tensor_numel(g, foreign) == 0);
    BADV(clg_tensor_ndim(g, wild) <= 0);
    BADV(clg_tensor_dim(g, p.x, 7) <= 0);
    BADV(clg_tensor_name(g, wild) == NULL);
    BADV(clg_tensor_find(g, NULL).id < 0);
    BADV(clg_tensor_find(g, "nope").id < 0);
    BADV(clg_graph_tensor(g, -1).id < 0);
    BADV(clg_graph_tensor(g, 1 << 30).id < 0);
    clg_graph_clear_status(g);
    /* runs, backward, optimizer */
    BAD(clg_graph_run(g, 0));
    BAD(clg_graph_run(g, 8));
    BAD(clg_graph_run(g, -1));
    BAD(clg_graph_run_timed(g, CLG_RUN_FORWARD, NULL));
    BAD(clg_backward(g, h));          /* not one element */
    BAD(clg_backward(g, foreign));
    BAD(clg_backward(g, failed));
    BAD(clg_backward(g, CLG_NO_TENSOR));
    BAD(clg_sgd(g, 0.1f));            /* before backward */
    {
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        BAD(clg_optimizer(g, &c)); /* before backward */
    }
    BADV(clg_grad(g, p.w1).id < 0);
    clg_graph_clear_status(g);
    if (clg_backward(g, p.loss) != CLG_OK) {
        fprintf(stderr, "backward after misuse failed: %s\n", clg_context_errmsg(ctx));
        n_lost++;
    }
    BAD(clg_backward(g, p.loss)); /* twice */
    BADT(g, clg_param(g, 1, s3)); /* a parameter after backward */
    BADG(clg_grad(g, foreign));
    BADG(clg_grad(g, p.x));
    BADG(clg_grad(g, other_graph_same_id));
    {
        clg_optimizer_config c;
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        BAD(clg_optimizer(g, NULL));
        c.lr = -1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.lr = NAN;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.beta1 = 1.0f;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.beta2 = -0.1f;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.eps = -1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_SGD);
        c.nesterov = 1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_SGD);
        c.momentum = INFINITY;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.kind = (clg_optimizer_kind)99;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.schedule = (clg_lr_schedule)77;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.schedule = CLG_LR_STEP;
        c.step_size = 0;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.schedule = CLG_LR_COSINE;
        c.t_max = -5;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.warmup_steps = -1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.warmup_steps = 10;
        c.warmup_start_factor = 0;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.max_grad_norm = -1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_RMSPROP);
        c.alpha = 2;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAGRAD);
        c.lr_decay = -1;
        BAD(clg_optimizer(g, &c));
        c = clg_optimizer_defaults(CLG_OPTIM_ADAMW);
        c.weight_decay = NAN;
        BAD(clg_optimizer(g, &c));
        BAD(clg_sgd(g, NAN));
    }
    clg_graph_clear_status(g);
    BAD(clg_optimizer_set_step(g, 5)); /* no optimizer yet */
    {
        clg_optimizer_config c = clg_optimizer_defaults(CLG_OPTIM_ADAM);
        c.lr = 0.01f;
        if (clg_optimizer(g, &c) != CLG_OK) {
            fprintf(stderr, "optimizer after misuse failed: %s\n", clg_context_errmsg(ctx));
            n_lost++;
        }
        BAD(clg_optimizer(g, &c)); /* twice */
        BAD(clg_sgd(g, 0.1f));     /* after an optimizer */
    }
    BAD(clg_optimizer_set_step(g, -1));
    BAD(clg_optimizer_get_step(g, NULL));
    BAD(clg_optimizer_get_lr(g, NULL));
    BAD(clg_batch_norm_running(g, p.w1, buf, buf, 7));
    BAD(clg_checkpoint_save(g, NULL, NULL, NULL, 0));
    BAD(clg_checkpoint_save(g, "", NULL, NULL, 0));
    BAD(clg_checkpoint_save(g, "/nonexistent-dir/x.safetensors", NULL, NULL, 0));
    BAD(clg_checkpoint_save(g, "/tmp/hostile-api.safetensors", (const char *[]){"k", "k"},
                            (const char *[]){"a", "b"}, 2));
    BAD(clg_checkpoint_save(g, "/tmp/hostile-api.safetensors", (const char *[]){NULL}, (const char *[]){"a"}, 1));
    BAD(clg_checkpoint_save(g, "/tmp/hostile-api.safetensors", NULL, NULL, -3));
    BAD(clg_checkpoint_load(g, NULL, NULL));
    BAD(clg_checkpoint_load(g, "/nonexistent-file", NULL));
    BAD(clg_checkpoint_load(g, "/dev/null", NULL));
    BAD(clg_checkpoint_load(g, "/proc/self", NULL));
    /* destroyed graph and other graph handles */
    BAD(clg_graph_run(dead, CLG_RUN_ALL));
    BAD(clg_backward(dead, dead_t));
    BAD(clg_tensor_set(dead, dead_t, buf, 3));
    BAD(clg_tensor_get(dead, dead_t, buf, 3));
    BAD(clg_checkpoint_save(dead, "/tmp/hostile-api.safetensors", NULL, NULL, 0));
    BAD(clg_graph_set_training(dead, 0));
    BADS(clg_graph_run(NULL, CLG_RUN_ALL));
    BADS(clg_backward(NULL, p.loss));
    BADS(clg_tensor_set(NULL, p.x, buf, 40));
    BADS(clg_optimizer(NULL, NULL));
    BADS(clg_checkpoint_load(NULL, "/dev/null", NULL));
    BADV(clg_graph_status(dead) != CLG_OK);
    BADV(clg_graph_tensor_count(dead) <= 0);
    clg_graph_destroy(dead); /* twice: recognised, not freed again */
    clg_graph_destroy(NULL);
    /* data API without a context */
    {
        char err[256];
        clg_array *a = NULL;
        int64_t sh[2] = {1LL << 40, 1LL << 40};
        BADS(clg_array_create(CLG_ELEM_F32, 2, sh, &a, err, sizeof err));
        BADS(clg_array_create((clg_elem)99, 1, sh, &a, err, sizeof err));
        BADS(clg_array_create(CLG_ELEM_F32, 9, sh, &a, err, sizeof err));
        BADS(clg_npy_read(NULL, &a, err, sizeof err));
        BADS(clg_idx_read_mem(NULL, 5, &a, err, sizeof err));
        BADS(clg_safetensors_read_mem("", 0, NULL, err, sizeof err));
        BADS(clg_safetensors_write("/tmp/hostile-x.st", -1, NULL, NULL, NULL, err, sizeof err));
        BADS(clg_npy_write("/tmp/hostile-x.npy", NULL, err, sizeof err));
        clg_meta *m = NULL;
        clg_meta_create(&m);
        BADS(clg_meta_set(m, "", "x"));
        BADS(clg_meta_set(m, NULL, "x"));
        BADS(clg_meta_set(m, "\xff\xfe", "x"));
        BADS(clg_meta_get_i64(m, "missing", &(int64_t){0}));
        clg_meta_set(m, "f", "1e999x");
        BADS(clg_meta_get_f64(m, "f", &(double){0}));
        clg_meta_destroy(m);
        clg_loader *l = NULL;
        clg_loader_options o = {0};
        BADS(clg_loader_create(NULL, NULL, &o, &l, err, sizeof err));
    }

    /* after all of that, the graph trains exactly as a clean one */
    enum { STEPS = 5 };
    clg_init_kaiming_uniform(g, p.w1, 11);
    clg_init_uniform(g, p.b1, -0.1f, 0.1f, 12);
    clg_init_kaiming_uniform(g, p.w2, 13);
    clg_init_uniform(g, p.b2, -0.1f, 0.1f, 14);
    float xv[P_N * P_IN];
    int32_t yv[P_N];
    for (int i = 0; i < P_N * P_IN; i++) xv[i] = (float)((i * 37 % 19) - 9) / 7.0f;
    for (int i = 0; i < P_N; i++) yv[i] = i % P_C;
    clg_tensor_set(g, p.x, xv, P_N * P_IN);
    clg_tensor_set_i32(g, p.y, yv, P_N);
    float la[STEPS], lb[STEPS];
    int fa = probe_train(&p, STEPS, la);
    static float sa[STATE_CAP], sb[STATE_CAP];
    size_t na = probe_state(g, sa, STATE_CAP);

    clg_context *ctx2 = NULL;
    probe q;
    clg_context_create(dev, &ctx2);
    int fb = probe_build(ctx2, &q) != CLG_OK || probe_train(&q, STEPS, lb);
    size_t nb = probe_state(q.g, sb, STATE_CAP);
    int same = !fa && !fb && !memcmp(la, lb, sizeof la) && na == nb && na > 0 && !memcmp(sa, sb, na * sizeof(float));
    A_tried++;
    result("api", same, "[%s] after %d bad calls the graph trains bitwise as a clean one (%zu floats, losses %g..%g)",
           dev, A_tried - 1, na, la[0], la[STEPS - 1]);
    clg_context_destroy(ctx2);
    clg_context_destroy(ctx);
    printf("END api tried %d\n", A_tried);
    return 0;
}

/* ---- cycles ---------------------------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int one_cycle(const char *dev)
{
    clg_context *ctx = NULL;
    if (clg_context_create(dev, &ctx) != CLG_OK) {
        fprintf(stderr, "%s\n", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    clg_graph *g;
    int64_t as[2] = {17, 33}, bs[2] = {33, 9};
    float a[17 * 33], b[33 * 9], c[17 * 9];
    for (int i = 0; i < 17 * 33; i++) a[i] = (float)(i % 7) - 3;
    for (int i = 0; i < 33 * 9; i++) b[i] = (float)(i % 5) - 2;
    int bad = clg_graph_create(ctx, &g) != CLG_OK;
    clg_tensor ta = clg_input(g, 2, as), tb = clg_input(g, 2, bs);
    clg_tensor tc = clg_matmul(g, ta, tb, 0, 0);
    bad = bad || clg_tensor_set(g, ta, a, 17 * 33) || clg_tensor_set(g, tb, b, 33 * 9) ||
          clg_graph_run(g, CLG_RUN_FORWARD) || clg_tensor_get(g, tc, c, 17 * 9);
    for (int i = 0; !bad && i < 17; i++)
        for (int j = 0; j < 9; j++) {
            float s = 0;
            for (int k = 0; k < 33; k++) s += a[i * 33 + k] * b[k * 9 + j];
            if (c[i * 9 + j] != s) bad = 1; /* small integers: exact */
        }
    if (bad) fprintf(stderr, "cycle on %s: %s\n", dev, clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return bad;
}

static int cmd_cycles(const char *dev, int n)
{
    int warm = n / 10 > 20 ? n / 10 : 20, failed = 0;
    long r0 = rss_kib(), r1 = 0;
    for (int i = 0; i < n; i++) {
        failed += one_cycle(dev);
        if (i + 1 == warm) r1 = rss_kib();
    }
    long r2 = rss_kib();
    double per = (double)(r2 - r1) / (n - warm);
    printf("CYCLES %s n=%d failed=%d rss_start_kib=%ld rss_after_%d_kib=%ld rss_end_kib=%ld growth_per_cycle_kib=%.2f\n",
           dev, n, failed, r0, warm, r1, r2, per);
    /* flat: under 1 KiB a cycle after warm-up, or under 1 MiB in all (a
     * short run sees allocator noise of tens of KiB) */
    int flat = per < 1.0 || r2 - r1 < 1024;
    printf("RESULT cycles %s %s n=%d failed=%d growth/cycle=%.2f KiB\n", flat && !failed ? "survived" : "lost", dev, n,
           failed, per);
    return 0;
}

/* ---- threads ---------------------------------------------------------------- */

typedef struct job {
    const char *dev;
    int runs;
    float losses[4];
    float state[STATE_CAP];
    size_t n;
    int failed;
    char why[256];
} job;

static int train_job(job *j)
{
    clg_context *ctx = NULL;
    probe p;
    if (clg_context_create(j->dev, &ctx) != CLG_OK || probe_build(ctx, &p) != CLG_OK) {
        snprintf(j->why, sizeof j->why, "%s", clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    float l[1];
    for (int i = 0; i < j->runs; i++)
        if (probe_train(&p, 1, l)) {
            snprintf(j->why, sizeof j->why, "%s", clg_context_errmsg(ctx));
            clg_context_destroy(ctx);
            return 1;
        }
    j->losses[0] = l[0];
    j->n = probe_state(p.g, j->state, STATE_CAP);
    clg_context_destroy(ctx);
    return 0;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    j->failed = train_job(j);
    return NULL;
}

static int cmd_threads(const char *devices, int nt, int runs)
{
    const char *devs[4];
    int nd = 0;
    static char devbuf[256];
    snprintf(devbuf, sizeof devbuf, "%s", devices);
    for (char *tok = strtok(devbuf, ","); tok && nd < 4; tok = strtok(NULL, ",")) devs[nd++] = tok;
    job *base = calloc((size_t)nd, sizeof *base), *jobs = calloc((size_t)nt, sizeof *jobs);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    /* lone runs first (this also initialises the platform once) */
    for (int d = 0; d < nd; d++) {
        base[d].dev = devs[d];
        base[d].runs = runs;
        if (train_job(&base[d])) {
            fprintf(stderr, "lone run on %s: %s\n", devs[d], base[d].why);
            return 2;
        }
    }
    for (int i = 0; i < nt; i++) {
        jobs[i].dev = devs[i % nd];
        jobs[i].runs = runs;
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    }
    for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < nt; i++) {
        job *b = &base[i % nd];
        int ok = !jobs[i].failed && jobs[i].n == b->n &&
                 !memcmp(jobs[i].state, b->state, b->n * sizeof(float)) && jobs[i].losses[0] == b->losses[0];
        result("threads", ok, "thread %d on %s: %d runs, state %s the lone run's%s%s", i, jobs[i].dev, runs,
               ok ? "equal to" : "DIFFERENT from", jobs[i].failed ? ": " : "", jobs[i].failed ? jobs[i].why : "");
    }
    free(base);
    free(jobs);
    free(th);
    return 0;
}

/* ---- stcheck, save-big --------------------------------------------------- */

static int cmd_stcheck(const char *path)
{
    char err[256];
    clg_safetensors *st = NULL;
    if (clg_safetensors_read(path, &st, err, sizeof err) != CLG_OK) {
        printf("unreadable: %s\n", err);
        return 1;
    }
    printf("complete: %d tensors\n", clg_safetensors_count(st));
    clg_safetensors_destroy(st);
    return 0;
}

static int cmd_save_big(const char *path, long floats)
{
    clg_context *ctx = NULL;
    if (clg_context_create("reference", &ctx) != CLG_OK) return 2;
    clg_graph *g;
    clg_graph_create(ctx, &g);
    int64_t sh[1] = {floats};
    clg_tensor w = clg_param(g, 1, sh);
    clg_tensor_set_name(g, w, "w");
    clg_tensor_fill(g, w, 0.5f);
    clg_status s = clg_checkpoint_save(g, path, NULL, NULL, 0);
    printf("save of %ld floats over %s: %s: %s\n", floats, path, clg_status_string(s),
           s == CLG_OK ? "" : clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return s == CLG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "good-ckpt")) return cmd_good_ckpt(argv[2], argv[3]);
    if (argc >= 5 && !strcmp(argv[1], "feed")) return cmd_feed(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "api")) return cmd_api(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "cycles")) return cmd_cycles(argv[2], atoi(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "threads")) return cmd_threads(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 3 && !strcmp(argv[1], "stcheck")) return cmd_stcheck(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "save-big")) return cmd_save_big(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: see the comment at the top of tests/hostile/hostile.c\n");
    return 2;
}
