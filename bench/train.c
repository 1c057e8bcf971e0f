/*
 * clgrad-train: Fashion-MNIST end to end on any device.
 *
 *   clgrad-train [--model mlp|cnn|resnet] [--optimizer NAME] [--lr F] [--epochs N] ... (--help lists them)
 *
 * Reads the gzip'd IDX files of Debian's dataset-fashion-mnist package
 * (/usr/share/datasets/fashion-mnist) or --data DIR. Per epoch: training
 * loss, test accuracy, time; at the end a summary. --save writes a
 * checkpoint (safetensors: parameters, optimizer state, batch norm
 * statistics, and in its metadata the step, the loader's position and the
 * options) after every epoch; --resume continues one exactly, with the
 * options it recorded (bench/train_setup.c).
 */
#include "cli.h"
#include "models.h"
#include "progress.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Errors are one line: a library message's line breaks (a device list,
 * a compiler log) become "; ". */
static int die(const char *fmt, const char *a, const char *b)
{
    char msg[4096];
    snprintf(msg, sizeof msg, fmt, a, b);
    for (char *c = msg; *c; c++)
        if (*c == '\n') *c = ';';
    fprintf(stderr, "clgrad-train: %s\n", msg);
    return 1;
}

/* One table: the getopt list, --help, and which options a checkpoint
 * records (bit: the GIVEN_* flag, 0 for options it does not record). */
static const cli_option cli_options[] = {
    {"model", "NAME", "mlp, cnn or resnet; default mlp"},
    {"optimizer", "NAME", "sgd, momentum, nesterov, adam, adamw, rmsprop or adagrad; default adam"},
    {"lr", "F", "learning rate; default the optimizer's (sgd 0.05, momentum/nesterov 0.01, adagrad 0.01, "
                "others 0.001)"},
    {"schedule", "NAME", "constant, step, exponential or cosine; default constant"},
    {"warmup", "STEPS", "linear warm-up steps, from 0 to 100000000; default 0"},
    {"weight-decay", "F", "L2 weight decay (decoupled for adamw) of the weights; biases and batch norm parameters "
                          "get none (a parameter group); default 0 (adamw 0.01)"},
    {"label-smoothing", "F", "cross-entropy's label smoothing, from 0 to 1 (below 1); default 0"},
    {"augment", "NAME", "none, or crop-flip: random crop with padding 2 and horizontal flip on the device; "
                        "default none"},
    {"epochs", "N", "from 1 to 100000; default 10"},
    {"batch", "N", "from 1 to 65536; default 64"},
    {"width", "N", "hidden width (mlp) or first channels (cnn, resnet), from 1 to 1024; default 32"},
    {"device", "SPEC", "default $CLGRAD_DEVICE, else the first GPU, else the first OpenCL device"},
    {"seed", "S", "from 0 to 2147483647; default 1"},
    {"data", "DIR", "the gzip'd IDX files; default " DEFAULT_DATA},
    {"limit", "N", "the first N training images (and N/6, at least 1000, test images); default all"},
    {"save", "FILE", "write a checkpoint (safetensors) after every epoch"},
    {"resume", "FILE", "continue a checkpoint exactly, with the options it recorded"},
    {"json", "FILE", "write the run's figures as JSON"},
    {"stop-after", "N", "stop after N epochs as an interruption would (for testing --resume)"},
    {"target-accuracy", "A", "stop after the first epoch whose test accuracy reaches A (0 to 1), and report the time "
                             "to it (clgrad-bench's tta group); --epochs is the cap"},
};
enum { O_MODEL, O_OPTIMIZER, O_LR, O_SCHEDULE, O_WARMUP, O_WEIGHT_DECAY, O_LABEL_SMOOTHING, O_AUGMENT, O_EPOCHS, O_BATCH, O_WIDTH, O_DEVICE, O_SEED, O_DATA,
       O_LIMIT, O_SAVE, O_RESUME, O_JSON, O_STOP_AFTER, O_TARGET };
static const unsigned recorded[] = {
    [O_MODEL] = GIVEN_MODEL, [O_OPTIMIZER] = GIVEN_OPTIMIZER, [O_LR] = GIVEN_LR,         [O_SCHEDULE] = GIVEN_SCHEDULE,
    [O_WARMUP] = GIVEN_WARMUP, [O_WEIGHT_DECAY] = GIVEN_WEIGHT_DECAY, [O_AUGMENT] = GIVEN_AUGMENT,
    [O_LABEL_SMOOTHING] = GIVEN_LABEL_SMOOTHING,
    [O_EPOCHS] = GIVEN_EPOCHS,     [O_BATCH] = GIVEN_BATCH,   [O_WIDTH] = GIVEN_WIDTH,
    [O_SEED] = GIVEN_SEED,     [O_LIMIT] = GIVEN_LIMIT,       [O_STOP_AFTER] = 0,        [O_TARGET] = 0,
};

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.model = "mlp", .optimizer = "adam", .schedule = "constant", .data = DEFAULT_DATA, .lr = -1,
                   .epochs = 10, .batch = 64, .width = 32, .seed = 1, .augment = "none", .weight_decay = -1};
    cli c;
    cli_init(&c, "clgrad-train", NULL,
             "Fashion-MNIST end to end on one device: per epoch the training loss, test accuracy and time,\n"
             "then a summary naming the device.",
             cli_options, sizeof cli_options / sizeof cli_options[0]);
    static const char *const models[] = {"mlp", "cnn", "resnet", NULL};
    static const char *const augments[] = {"none", "crop-flip", NULL};
    static const char *const optimizers[] = {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", NULL};
    static const char *const schedules[] = {"constant", "step", "exponential", "cosine", NULL};
    const char *v;
    int k;
    while ((k = cli_next(&c, argc, argv, &v)) >= 0) {
        long long n = 0;
        bool ok = true;
        if ((size_t)k < sizeof recorded / sizeof recorded[0]) o->given |= recorded[k];
        switch (k) {
        case O_MODEL: ok = cli_choice(&c, "model", v, models) >= 0, o->model = v; break;
        case O_OPTIMIZER: ok = cli_choice(&c, "optimizer", v, optimizers) >= 0, o->optimizer = v; break;
        case O_SCHEDULE: ok = cli_choice(&c, "schedule", v, schedules) >= 0, o->schedule = v; break;
        case O_LR: {
            /* as the float the optimizer takes: 1e-50 would become 0 (a run
             * that silently learns nothing), 1e39 infinity */
            char *end;
            o->lr = strtod(v, &end);
            const float f = (float)o->lr;
            ok = end != v && !*end && f > 0 && isfinite(f);
            if (!ok) cli_fail(&c, "--lr must be a positive number a float holds (1.4e-45 to 3.4e38), not '%s'", v);
            break;
        }
        case O_AUGMENT: ok = cli_choice(&c, "augment", v, augments) >= 0, o->augment = v; break;
        case O_LABEL_SMOOTHING: {
            double e;
            ok = cli_double(&c, "label-smoothing", v, 0, 0.999999, "from 0 to below 1", &e);
            o->label_smoothing = e;
            break;
        }
        case O_WEIGHT_DECAY: {
            double wd;
            ok = cli_double(&c, "weight-decay", v, 0, 1, "from 0 to 1", &wd);
            o->weight_decay = wd;
            break;
        }
        case O_WARMUP: ok = cli_long(&c, "warmup", v, 0, 100000000, &n), o->warmup = (int)n; break;
        case O_EPOCHS: ok = cli_long(&c, "epochs", v, 1, 100000, &n), o->epochs = (int)n; break;
        case O_BATCH: ok = cli_long(&c, "batch", v, 1, 65536, &n), o->batch = (int)n; break;
        case O_WIDTH: ok = cli_long(&c, "width", v, 1, 1024, &n), o->width = (int)n; break;
        case O_SEED: ok = cli_long(&c, "seed", v, 0, 2147483647, &n), o->seed = (uint64_t)n; break;
        case O_LIMIT: ok = cli_long(&c, "limit", v, 1, 100000000, &n), o->limit = (long)n; break;
        case O_STOP_AFTER: ok = cli_long(&c, "stop-after", v, 1, 100000, &n), o->stop_after = (int)n; break;
        case O_DEVICE: o->device = v; break;
        case O_DATA: o->data = v; break;
        case O_SAVE: o->save = v; break;
        case O_RESUME: o->resume = v; break;
        case O_TARGET: {
            double t;
            ok = cli_double(&c, "target-accuracy", v, 1e-9, 1, "above 0, at most 1", &t);
            o->target = t;
            break;
        }
        default: o->json = v; break;
        }
        if (!ok) return 2;
    }
    if (k != CLI_END) return k == CLI_EXIT_OK ? -1 : 2;
    return 0;
}

static const struct {
    const char *name;
    clg_optimizer_kind kind;
    float momentum;
    int nesterov;
    float lr;
} table[] = {
    {"sgd", CLG_OPTIM_SGD, 0, 0, 0.05f},      {"momentum", CLG_OPTIM_SGD, 0.9f, 0, 0.01f},
    {"nesterov", CLG_OPTIM_SGD, 0.9f, 1, 0.01f}, {"adam", CLG_OPTIM_ADAM, 0, 0, 1e-3f},
    {"adamw", CLG_OPTIM_ADAMW, 0, 0, 1e-3f},  {"rmsprop", CLG_OPTIM_RMSPROP, 0, 0, 1e-3f},
    {"adagrad", CLG_OPTIM_ADAGRAD, 0, 0, 1e-2f},
};

/* An optimizer's learning rate when --lr is not given (0 if unknown). */
static double default_lr(const char *optimizer)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(optimizer, table[i].name)) return table[i].lr;
    return 0;
}

static int optimizer_config(const options *o, int64_t steps_per_epoch, clg_optimizer_config *cfg)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(o->optimizer, table[i].name)) {
            *cfg = clg_optimizer_defaults(table[i].kind);
            cfg->momentum = table[i].momentum;
            cfg->nesterov = table[i].nesterov;
            cfg->lr = o->lr > 0 ? (float)o->lr : table[i].lr;
            if (o->weight_decay >= 0) cfg->weight_decay = (float)o->weight_decay;
            int64_t total = steps_per_epoch * o->epochs;
            if (!strcmp(o->schedule, "constant")) cfg->schedule = CLG_LR_CONSTANT;
            else if (!strcmp(o->schedule, "step")) {
                cfg->schedule = CLG_LR_STEP; /* a tenth every third of the run */
                cfg->step_size = total / 3 > 0 ? total / 3 : 1;
                cfg->gamma = 0.1f;
            } else if (!strcmp(o->schedule, "exponential")) {
                cfg->schedule = CLG_LR_EXPONENTIAL; /* a hundredth by the end */
                cfg->gamma = (float)pow(0.01, 1.0 / (double)(total > 0 ? total : 1));
            } else if (!strcmp(o->schedule, "cosine")) {
                cfg->schedule = CLG_LR_COSINE;
                cfg->t_max = total - o->warmup > 0 ? total - o->warmup : 1;
            } else {
                fprintf(stderr, "clgrad-train: unknown schedule '%s' (constant, step, exponential, cosine)\n",
                        o->schedule);
                return 2;
            }
            cfg->warmup_steps = o->warmup;
            return 0;
        }
    fprintf(stderr, "clgrad-train: unknown optimizer '%s' (sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad)\n",
            o->optimizer);
    return 2;
}

/* One split of the data set: images as f32 [N, 784], labels i32 [N]. */
typedef struct split {
    clg_array *images, *labels;
} split;

static void split_free(split *s)
{
    clg_array_destroy(s->images);
    clg_array_destroy(s->labels);
}

static int load_split(const char *dir, const char *prefix, long limit, split *out)
{
    char path[1024], err[512];
    clg_array *raw = NULL, *lab = NULL;
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    if (clg_idx_read(path, &raw, err, sizeof err) != CLG_OK) return die("%s", err, NULL);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    if (clg_idx_read(path, &lab, err, sizeof err) != CLG_OK) {
        clg_array_destroy(raw);
        return die("%s", err, NULL);
    }
    if (raw->ndim != 3 || raw->shape[1] != 28 || raw->shape[2] != 28 || lab->ndim != 1 ||
        lab->shape[0] != raw->shape[0]) {
        clg_array_destroy(raw);
        clg_array_destroy(lab);
        return die("%s: not 28x28 images with one label each", dir, NULL);
    }
    /* a prefix of the split: the same memory, fewer rows */
    int64_t n = raw->shape[0];
    if (limit > 0 && limit < n) n = limit;
    clg_array head_images = *raw, head_labels = *lab;
    head_images.ndim = 2;
    head_images.shape[0] = n;
    head_images.shape[1] = 784;
    head_images.numel = n * 784;
    head_labels.shape[0] = n;
    head_labels.numel = n;
    int rc = 0;
    if (clg_array_convert(&head_images, CLG_ELEM_F32, &out->images, err, sizeof err) != CLG_OK ||
        clg_array_convert(&head_labels, CLG_ELEM_I32, &out->labels, err, sizeof err) != CLG_OK) {
        rc = die("%s", err, NULL);
        split_free(out);
    }
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        int32_t l = ((int32_t *)out->labels->data)[i];
        if (l < 0 || l > 9) {
            rc = die("%s: a label is outside 0..9", dir, NULL);
            split_free(out);
        }
    }
    clg_array_destroy(raw);
    clg_array_destroy(lab);
    return rc;
}

typedef struct epoch_stats {
    double train_loss, test_accuracy, seconds, samples_per_s;
    double loss_first, loss_last; /* mean over the epoch's first and last tenth */
} epoch_stats;

static int check(clg_context *ctx, clg_status s)
{
    return s == CLG_OK ? 0 : die("%s", clg_context_errmsg(ctx), NULL);
}

/* Test accuracy through the evaluation graph (model_build_eval: the
 * training graph's parameters and statistics, EVAL_BATCH images a run);
 * the last partial batch is padded with copies of its first sample, which
 * are not counted. */
#define EVAL_BATCH 500
static int evaluate(clg_context *ctx, model *m, const split *test, const float *mean, const float *std,
                    double *accuracy)
{
    char err[512];
    clg_loader_options lo = {.batch_size = m->batch, .normalize = CLG_NORMALIZE_GIVEN, .mean = mean, .std = std};
    clg_loader *l;
    if (clg_loader_create(test->images, test->labels, &lo, &l, err, sizeof err) != CLG_OK)
        return die("%s", err, NULL);
    size_t B = (size_t)m->batch;
    float *x = malloc(B * 784 * sizeof(float)), *logits = malloc(B * 10 * sizeof(float));
    int32_t *y = malloc(B * sizeof(int32_t));
    int rc = !x || !logits || !y ? die("out of memory", NULL, NULL) : 0;
    int64_t right = 0, total = 0, count;
    while (rc == 0 && clg_loader_next(l, x, y, &count) == CLG_OK && count > 0) {
        for (int64_t i = count; i < m->batch; i++) {
            memcpy(x + i * 784, x, 784 * sizeof(float));
            y[i] = y[0];
        }
        rc = check(ctx, clg_tensor_set(m->g, m->x, x, B * 784));
        rc = rc ? rc : check(ctx, clg_tensor_set_i32(m->g, m->labels, y, B));
        rc = rc ? rc : check(ctx, clg_graph_run(m->g, CLG_RUN_FORWARD));
        rc = rc ? rc : check(ctx, clg_tensor_get(m->g, m->logits, logits, B * 10));
        for (int64_t i = 0; rc == 0 && i < count; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
            right += best == y[i];
            total++;
        }
    }
    *accuracy = total ? (double)right / (double)total : 0;
    free(x);
    free(logits);
    free(y);
    clg_loader_destroy(l);
    return rc;
}

static int save_checkpoint(clg_context *ctx, model *m, const options *o, clg_loader *l)
{
    int64_t step, epoch, batch;
    clg_meta *meta = NULL;
    uint64_t rng = 0;
    int rc = check(ctx, clg_optimizer_get_step(m->g, &step));
    if (rc == 0) rc = check(ctx, clg_graph_get_rng_counter(m->g, &rng));
    if (rc == 0 && clg_loader_position(l, &epoch, &batch) != CLG_OK) rc = die("cannot read the loader position", NULL, NULL);
    if (rc == 0 && clg_meta_create(&meta) != CLG_OK) rc = die("out of memory", NULL, NULL);
    if (rc == 0 && (clg_meta_set(meta, "format", "clgrad-train/1") || clg_meta_set(meta, "model", o->model) ||
                    clg_meta_set(meta, "optimizer", o->optimizer) || clg_meta_set(meta, "schedule", o->schedule) ||
                    clg_meta_set_i64(meta, "batch", o->batch) || clg_meta_set_i64(meta, "width", o->width) ||
                    clg_meta_set_i64(meta, "epochs", o->epochs) || clg_meta_set_i64(meta, "warmup", o->warmup) ||
                    clg_meta_set_i64(meta, "limit", o->limit) || clg_meta_set_f64(meta, "lr", o->lr) ||
                    clg_meta_set_u64(meta, "seed", o->seed) || clg_meta_set_i64(meta, "step", step) ||
                    clg_meta_set_i64(meta, "loader_epoch", epoch) || clg_meta_set_i64(meta, "loader_batch", batch) ||
                    clg_meta_set(meta, "augment", o->augment) || clg_meta_set_f64(meta, "weight_decay", o->weight_decay) ||
                    clg_meta_set_f64(meta, "label_smoothing", o->label_smoothing) ||
                    clg_meta_set_u64(meta, "rng_counter", rng)))
        rc = die("out of memory", NULL, NULL);
    if (rc == 0) rc = check(ctx, clg_checkpoint_save_meta(m->g, o->save, meta));
    clg_meta_destroy(meta);
    return rc;
}

/* The options were reconciled with the checkpoint's before the model was
 * built (resume_options); here come its tensors and positions. */
static int resume_checkpoint(clg_context *ctx, model *m, const options *o, clg_loader *l, int *first_epoch)
{
    clg_meta *meta = NULL;
    if (check(ctx, clg_checkpoint_load(m->g, o->resume, &meta))) return 1;
    int rc = 0;
    int64_t step = 0, le = 0, lb = 0;
    if (clg_meta_get_i64(meta, "step", &step) || clg_meta_get_i64(meta, "loader_epoch", &le) ||
        clg_meta_get_i64(meta, "loader_batch", &lb))
        rc = die("--resume: %s lacks clgrad-train's metadata", o->resume, NULL);
    if (rc == 0) rc = check(ctx, clg_optimizer_set_step(m->g, step));
    /* the random ops' counter (augmentation, dropout); absent before 0.2.2 */
    uint64_t rng;
    if (rc == 0 && clg_meta_get_u64(meta, "rng_counter", &rng) == CLG_OK)
        rc = check(ctx, clg_graph_set_rng_counter(m->g, rng));
    if (rc == 0 && clg_loader_seek(l, le, lb) != CLG_OK) rc = die("--resume: bad loader position", NULL, NULL);
    *first_epoch = (int)le;
    clg_meta_destroy(meta);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help or --version answered */
    /* before the data is loaded: a bad path or option fails at once */
    if (o.save && (rc = check_output_path("--save", o.save))) return rc;
    if (o.json && (rc = check_output_path("--json", o.json))) return rc;
    if (o.resume && (rc = resume_options(&o, default_lr))) return rc;
    split train, test;
    if (load_split(o.data, "train", o.limit, &train)) return 1;
    if (load_split(o.data, "t10k", o.limit > 0 ? (o.limit / 6 > 1000 ? o.limit / 6 : 1000) : 0, &test)) {
        split_free(&train);
        return 1;
    }
    char err[512];
    clg_loader_options lo = {.batch_size = o.batch, .seed = o.seed, .shuffle = 1, .drop_last = 1,
                             .normalize = CLG_NORMALIZE_COMPUTE};
    clg_loader *loader = NULL;
    clg_context *ctx = NULL;
    model m = {0}, ev = {0};
    float *mean = malloc(784 * sizeof(float)), *std = malloc(784 * sizeof(float));
    float *x = malloc((size_t)o.batch * 784 * sizeof(float));
    int32_t *y = malloc((size_t)o.batch * sizeof(int32_t));
    output_file json_out = {0};
    FILE *json = NULL;
    if (!mean || !std || !x || !y) {
        rc = die("out of memory", NULL, NULL);
        goto done;
    }
    if (clg_loader_create(train.images, train.labels, &lo, &loader, err, sizeof err) != CLG_OK ||
        clg_loader_stats(loader, mean, std) != CLG_OK) {
        rc = die("%s", err, NULL);
        goto done;
    }
    int64_t steps_per_epoch = clg_loader_batches(loader);
    if (steps_per_epoch < 1) {
        rc = die("--batch is larger than the training set", NULL, NULL);
        goto done;
    }
    clg_optimizer_config cfg;
    if ((rc = optimizer_config(&o, steps_per_epoch, &cfg))) goto done;
    if (clg_context_create(o.device, &ctx) != CLG_OK) {
        rc = die("%s", clg_context_errmsg(ctx), NULL);
        goto done;
    }
    /* no weight decay for biases and batch norm parameters: a group of their own */
    clg_optimizer_config flat_cfg = cfg;
    flat_cfg.weight_decay = 0;
    if (model_build(ctx, o.model, o.batch, o.width, o.seed, !strcmp(o.augment, "crop-flip"),
                    (float)o.label_smoothing, &m) != CLG_OK ||
        clg_optimizer_groups(m.g, &cfg, cfg.weight_decay > 0 && m.nflat > 0,
                             &(clg_optimizer_group){&flat_cfg, m.nflat, m.flat}) != CLG_OK ||
        model_build_eval(ctx, o.model, EVAL_BATCH, o.width, &m, &ev) != CLG_OK) {
        rc = die("%s", clg_context_errmsg(ctx), NULL);
        goto done;
    }
    int first_epoch = 0;
    if (o.resume && (rc = resume_checkpoint(ctx, &m, &o, loader, &first_epoch))) goto done;
    if (o.json && !(json = output_begin(o.json, &json_out))) {
        rc = die("cannot write %s", o.json, NULL);
        goto done;
    }

    printf("clgrad-train: %s (%lld parameters), %s, lr %g, weight decay %g, %s schedule, batch %d, augment %s, "
           "label smoothing %g, on %s\n",
           o.model, (long long)m.nparams, o.optimizer, (double)cfg.lr, (double)cfg.weight_decay, o.schedule, o.batch,
           o.augment, o.label_smoothing, clg_context_device(ctx));
    printf("matrix products: %s\n", clg_context_gemm(ctx));
    printf("data: %lld training and %lld test images from %s\n", (long long)train.images->shape[0],
           (long long)test.images->shape[0], o.data);
    clg_memory mem;
    if (clg_graph_memory(m.g, &mem) == CLG_OK)
        printf("device memory: %.1f MB (parameters %.1f, optimizer state %.1f, inputs %.1f, activations %.1f, "
               "workspaces %.1f; %.1f MB with a buffer per tensor)\n",
               mem.total / 1e6, mem.parameters / 1e6, mem.optimizer_state / 1e6, mem.inputs / 1e6,
               mem.activations / 1e6, mem.workspaces / 1e6, mem.unplanned_total / 1e6);
    fflush(stdout);
    progress p;
    progress_init(&p, stderr);
    double t_start = now_seconds(), train_seconds = 0, final_acc = 0, to_target = 0;
    int epochs_run = 0, reached = 0;
    long long samples = 0;
    if (json) fprintf(json, "{\n  \"epochs\": [");
    if (first_epoch >= o.epochs) {
        /* nothing left to train: the summary reports the checkpoint's model */
        if ((rc = evaluate(ctx, &ev, &test, mean, std, &final_acc))) goto done;
        printf("resumed: %s has finished all %d epochs; its test accuracy %.4f\n", o.resume, o.epochs, final_acc);
    }
    for (int e = first_epoch; e < o.epochs; e++) {
        double t0 = now_seconds(), loss_sum = 0, first_sum = 0, last_sum = 0;
        int64_t count, done_steps = 0, remaining = steps_per_epoch, tenth = steps_per_epoch / 10 > 0 ? steps_per_epoch / 10 : 1;
        int64_t already = 0, le, lb;
        if (clg_loader_position(loader, &le, &lb) == CLG_OK && le == e) already = lb;
        remaining -= already;
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, o.epochs);
        while ((rc = check(ctx, clg_loader_next(loader, x, y, &count) == CLG_OK ? CLG_OK : CLG_ERR_INVALID_ARGUMENT)) == 0 &&
               count > 0) {
            float loss;
            rc = check(ctx, clg_tensor_set(m.g, m.x, x, (size_t)o.batch * 784));
            rc = rc ? rc : check(ctx, clg_tensor_set_i32(m.g, m.labels, y, (size_t)o.batch));
            rc = rc ? rc : check(ctx, clg_graph_run(m.g, CLG_RUN_ALL));
            rc = rc ? rc : check(ctx, clg_tensor_get(m.g, m.loss, &loss, 1));
            if (rc) goto done;
            if (!isfinite(loss)) {
                rc = die("the training loss is %s: lower --lr", isnan(loss) ? "NaN" : "infinite", NULL);
                goto done;
            }
            loss_sum += loss;
            if (done_steps < tenth) first_sum += loss;
            if (done_steps >= remaining - tenth) last_sum += loss;
            done_steps++;
            samples += count;
            double el = now_seconds() - t0;
            progress_update(&p, label, (long)done_steps, (long)steps_per_epoch,
                            el > 0 ? (double)(done_steps * o.batch) / el : 0, loss_sum / (double)done_steps);
        }
        if (rc) goto done;
        double t_train = now_seconds() - t0;
        train_seconds += t_train;
        progress_clear(&p);
        double acc;
        if ((rc = evaluate(ctx, &ev, &test, mean, std, &acc))) goto done;
        final_acc = acc;
        int64_t nt = done_steps < tenth ? done_steps : tenth;
        epoch_stats st = {done_steps ? loss_sum / (double)done_steps : 0, acc, now_seconds() - t0,
                          t_train > 0 ? (double)(done_steps * o.batch) / t_train : 0,
                          nt ? first_sum / (double)nt : 0, nt ? last_sum / (double)nt : 0};
        printf("epoch %2d/%d  train loss %.4f  test accuracy %.4f  %.1f s  (%.0f samples/s)\n", e + 1, o.epochs,
               st.train_loss, st.test_accuracy, st.seconds, st.samples_per_s);
        fflush(stdout);
        if (json)
            fprintf(json, "%s\n    {\"epoch\": %d, \"train_loss\": %.6g, \"loss_first_tenth\": %.6g, "
                          "\"loss_last_tenth\": %.6g, \"test_accuracy\": %.6g, \"seconds\": %.4g, \"samples_per_s\": %.6g}",
                    e > first_epoch ? "," : "", e + 1, st.train_loss, st.loss_first, st.loss_last, st.test_accuracy,
                    st.seconds, st.samples_per_s);
        if (o.save && (rc = save_checkpoint(ctx, &m, &o, loader))) goto done;
        epochs_run = e + 1;
        to_target += st.seconds;
        if (o.target > 0 && acc >= o.target) {
            reached = e + 1;
            printf("target: test accuracy %.4f >= %.4g after epoch %d: %.1f s of training and evaluation\n", acc,
                   o.target, reached, to_target);
            break;
        }
        if (o.stop_after && e + 1 >= o.stop_after) break;
    }
    if (o.target > 0 && !reached)
        printf("target: test accuracy %.4g not reached in %d epochs (final %.4f)\n", o.target, epochs_run, final_acc);
    double total = now_seconds() - t_start;
    printf("summary: device %s; model %s; optimizer %s; epochs %d; final test accuracy %.4f; %.0f samples/s; "
           "%.1f s\n",
           clg_context_device(ctx), o.model, o.optimizer, epochs_run ? epochs_run : o.epochs, final_acc,
           train_seconds > 0 ? (double)samples / train_seconds : 0, total);
    if (json) {
        fprintf(json, "\n  ],\n  \"summary\": {\"device\": \"");
        for (const char *s = clg_context_device(ctx); *s; s++) {
            if (*s == '"' || *s == '\\') fputc('\\', json);
            fputc(*s, json);
        }
        fprintf(json, "\", \"model\": \"%s\", \"optimizer\": \"%s\", \"epochs\": %d, \"final_test_accuracy\": %.6g, "
                      "\"samples_per_s\": %.6g, \"seconds\": %.4g",
                o.model, o.optimizer, epochs_run ? epochs_run : o.epochs, final_acc,
                train_seconds > 0 ? (double)samples / train_seconds : 0, total);
        if (o.target > 0) {
            fprintf(json, ", \"target_accuracy\": %.6g, \"reached_epoch\": %d, \"seconds_to_target\": ", o.target,
                    reached);
            if (reached) fprintf(json, "%.4g", to_target);
            else fprintf(json, "null");
        }
        fprintf(json, "}\n}\n");
    }
done:
    if (json && rc == 0 && output_commit(&json_out) != 0) rc = die("error writing %s", o.json, NULL);
    if (json && rc != 0) output_abandon(&json_out); /* complete or absent, never half */
    clg_loader_destroy(loader);
    clg_context_destroy(ctx);
    split_free(&train);
    split_free(&test);
    free(mean);
    free(std);
    free(x);
    free(y);
    return rc;
}
