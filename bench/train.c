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
 *
 * Data parallelism (bench/fleet.c): --device given several times trains
 * one replica per device, each on its slice of every batch; built with
 * MPI, `mpirun -np N clgrad-train ...` trains one rank per process, each
 * on the --device its local rank picks, and rank 0 evaluates, prints and
 * writes the checkpoints.
 */
#include "cli.h"
#include "fleet.h"
#include "models.h"
#include "progress.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLG_TRAIN_MPI
#include <mpi.h>
#endif

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Errors are one line: a library message's line breaks (a device list,
 * a compiler log) become "; ". */
static int rank = 0, ranks = 1; /* MPI's, when mpirun started this process */

static int die(const char *fmt, const char *a, const char *b)
{
    char msg[4096];
    snprintf(msg, sizeof msg, fmt, a, b);
    for (char *c = msg; *c; c++)
        if (*c == '\n') *c = ';';
    if (ranks > 1) fprintf(stderr, "clgrad-train: rank %d: %s\n", rank, msg);
    else fprintf(stderr, "clgrad-train: %s\n", msg);
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
    {"qat", "NAME", "none, or int8: quantization-aware training (weights int8 per channel, activations uint8 per "
                    "tensor, moving-average observers); checkpoints then also hold the int8 weights with every "
                    "scale and zero point, and the summary the accuracy with the int8 weights; default none"},
    {"precision", "NAME", "f32, bf16 or fp16: mixed precision as autocast does it (every matrix product's and "
                          "convolution's inputs and weights cast to the 16-bit type, products accumulated in "
                          "float32; float32 master weights, optimizer state and gradients), fp16 with dynamic loss "
                          "scaling as PyTorch's GradScaler; default f32"},
    {"epochs", "N", "from 1 to 100000; default 10"},
    {"batch", "N", "from 1 to 65536; default 64"},
    {"width", "N", "hidden width (mlp) or first channels (cnn, resnet), from 1 to 1024; default 32"},
    {"device", "SPEC", "default $CLGRAD_DEVICE, else the first GPU, else the first OpenCL device; repeat it to "
                       "train on several devices at once (data parallel), or under mpirun to give each local rank "
                       "its own (the rank's local number picks, cycling)"},
    {"split", "HOW", "how several devices share a batch: even, or speed (in proportion to each one's measured "
                     "forward and backward time); default even"},
    {"timeout", "S", "under mpirun: seconds a rank waits for the others before it stops the job, from 1 to "
                     "86400; default 300"},
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
enum { O_MODEL, O_OPTIMIZER, O_LR, O_SCHEDULE, O_WARMUP, O_WEIGHT_DECAY, O_LABEL_SMOOTHING, O_AUGMENT, O_QAT, O_PRECISION, O_EPOCHS, O_BATCH, O_WIDTH, O_DEVICE, O_SPLIT, O_TIMEOUT, O_SEED, O_DATA,
       O_LIMIT, O_SAVE, O_RESUME, O_JSON, O_STOP_AFTER, O_TARGET };
static const unsigned recorded[] = {
    [O_MODEL] = GIVEN_MODEL, [O_OPTIMIZER] = GIVEN_OPTIMIZER, [O_LR] = GIVEN_LR,         [O_SCHEDULE] = GIVEN_SCHEDULE,
    [O_WARMUP] = GIVEN_WARMUP, [O_WEIGHT_DECAY] = GIVEN_WEIGHT_DECAY, [O_AUGMENT] = GIVEN_AUGMENT,
    [O_LABEL_SMOOTHING] = GIVEN_LABEL_SMOOTHING, [O_QAT] = GIVEN_QAT, [O_PRECISION] = GIVEN_PRECISION,
    [O_EPOCHS] = GIVEN_EPOCHS,     [O_BATCH] = GIVEN_BATCH,   [O_WIDTH] = GIVEN_WIDTH,
    [O_SEED] = GIVEN_SEED,     [O_LIMIT] = GIVEN_LIMIT,       [O_STOP_AFTER] = 0,        [O_TARGET] = 0,
};

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.model = "mlp", .optimizer = "adam", .schedule = "constant", .data = DEFAULT_DATA, .lr = -1,
                   .epochs = 10, .batch = 64, .width = 32, .seed = 1, .augment = "none", .qat = "none", .precision = "f32", .weight_decay = -1,
                   .split = "even", .timeout = 300, .ranks = ranks};
    cli c;
    cli_init(&c, "clgrad-train", NULL,
             "Fashion-MNIST end to end on one device or several: per epoch the training loss, test accuracy\n"
             "and time, then a summary naming the device.",
             cli_options, sizeof cli_options / sizeof cli_options[0]);
    static const char *const models[] = {"mlp", "cnn", "resnet", NULL};
    static const char *const augments[] = {"none", "crop-flip", NULL};
    static const char *const qats[] = {"none", "int8", NULL};
    static const char *const precisions[] = {"f32", "bf16", "fp16", NULL};
    static const char *const optimizers[] = {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", NULL};
    static const char *const schedules[] = {"constant", "step", "exponential", "cosine", NULL};
    static const char *const splits[] = {"even", "speed", NULL};
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
        case O_QAT: ok = cli_choice(&c, "qat", v, qats) >= 0, o->qat = v; break;
        case O_PRECISION: ok = cli_choice(&c, "precision", v, precisions) >= 0, o->precision = v; break;
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
        case O_DEVICE:
            ok = o->ndevices < 8;
            if (!ok) cli_fail(&c, "--device at most 8 times");
            else o->devices[o->ndevices++] = v;
            break;
        case O_SPLIT: ok = cli_choice(&c, "split", v, splits) >= 0, o->split = v; break;
        case O_TIMEOUT: ok = cli_double(&c, "timeout", v, 1, 86400, "from 1 to 86400", &o->timeout); break;
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
    if (strcmp(o->qat, "none") && strcmp(o->precision, "f32")) {
        fprintf(stderr, "clgrad-train: --qat %s and --precision %s: quantization-aware training runs in f32; give "
                        "one of them\n", o->qat, o->precision);
        return 2;
    }
    if (o->ndevices == 0) o->devices[o->ndevices++] = NULL; /* the default device */
    o->device = o->devices[0];
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
            /* float16: PyTorch's GradScaler and its defaults (bfloat16 has
             * float32's range and needs none) */
            if (!strcmp(o->precision, "fp16")) cfg->loss_scale = 65536.0f;
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

static int save_checkpoint(clg_context *ctx, model *m, const model *ev, const options *o, clg_loader *l, int devices)
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
                    clg_meta_set_u64(meta, "rng_counter", rng) || clg_meta_set_i64(meta, "ranks", ranks) ||
                    clg_meta_set_i64(meta, "devices", devices) || clg_meta_set(meta, "qat", o->qat) ||
                    clg_meta_set(meta, "precision", o->precision)))
        rc = die("out of memory", NULL, NULL);
    if (rc == 0 && m->qat == QAT_NONE) rc = check(ctx, clg_checkpoint_save_meta(m->g, o->save, meta));
    if (rc == 0 && m->qat != QAT_NONE) {
        /* the deployment's tensors, from the evaluation graph that has just run */
        static char names[3 * MODEL_MAX_OBS][64];
        clg_array *arrays[3 * MODEL_MAX_OBS];
        const char *nm[3 * MODEL_MAX_OBS];
        int n = 0;
        rc = check(ctx, model_derived(ev, &n, names, arrays));
        for (int i = 0; i < n; i++) nm[i] = names[i];
        if (rc == 0)
            rc = check(ctx, clg_checkpoint_save_derived(m->g, o->save, meta, n, nm, (const clg_array *const *)arrays));
        model_derived_free(n, arrays);
    }
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

/* Under MPI, what every rank adds up at the end of an epoch: its loss
 * sums (rank 0 prints them for the whole batch). */
static void epoch_sums(double *v, int n)
{
#ifdef CLG_TRAIN_MPI
    if (ranks > 1) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)v, (void)n;
#endif
}

static int train(int argc, char **argv, void *comm)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help or --version answered */
    if (ranks > 1) { /* one device per rank: the local rank picks */
        const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
        if (!lr) lr = getenv("MPI_LOCALRANKID");
        int local = lr ? atoi(lr) : rank;
        o.device = o.devices[local % o.ndevices];
        o.devices[0] = o.device;
        o.ndevices = 1;
    }
    const bool lead = rank == 0; /* prints, evaluates, writes */
    /* before the data is loaded: a bad path or option fails at once */
    if (lead && o.save && (rc = check_output_path("--save", o.save))) return rc;
    if (lead && o.json && (rc = check_output_path("--json", o.json))) return rc;
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
    fleet fl = {0};
    clg_context *ctx = NULL;
    model *m = &fl.m[0], ev = {0};
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
    fleet_spec fs = {o.model, o.batch, o.width, !strcmp(o.augment, "crop-flip"), o.seed, (float)o.label_smoothing,
                     &cfg, o.devices, o.ndevices, !strcmp(o.split, "speed"), rank, ranks, comm, o.timeout,
                     !strcmp(o.qat, "int8") ? QAT_INT8 : QAT_NONE,
                     !strcmp(o.precision, "bf16") ? PRECISION_BF16 : !strcmp(o.precision, "fp16") ? PRECISION_F16
                                                                                                 : PRECISION_F32};
    if ((rc = fleet_build(&fl, &fs))) goto done;
    ctx = fl.ctx[0];
    if (model_build_eval(ctx, o.model, EVAL_BATCH, o.width, m, &ev) != CLG_OK) {
        rc = die("%s", clg_context_errmsg(ctx), NULL);
        goto done;
    }
    int first_epoch = 0;
    for (int i = 0; o.resume && i < fl.n; i++) /* every replica continues the same parameters and state */
        if ((rc = resume_checkpoint(fl.ctx[i], &fl.m[i], &o, loader, &first_epoch))) goto done;
    if (lead && o.json && !(json = output_begin(o.json, &json_out))) {
        rc = die("cannot write %s", o.json, NULL);
        goto done;
    }

    char where[1024];
    int at = snprintf(where, sizeof where, "%s", clg_context_device(ctx));
    for (int i = 1; i < fl.n && at < (int)sizeof where; i++)
        at += snprintf(where + at, sizeof where - (size_t)at, " + %s", clg_context_device(fl.ctx[i]));
    if (ranks > 1 && at < (int)sizeof where)
        snprintf(where + at, sizeof where - (size_t)at, " (rank 0 of %d ranks)", ranks);
    if (lead) {
        printf("clgrad-train: %s (%lld parameters), %s, lr %g, weight decay %g, %s schedule, batch %d, augment %s, "
               "label smoothing %g, precision %s,%s on %s\n",
               o.model, (long long)m->nparams, o.optimizer, (double)cfg.lr, (double)cfg.weight_decay, o.schedule,
               o.batch, o.augment, o.label_smoothing, o.precision, m->qat ? " quantization-aware (int8)," : "", where);
        if (fl.n > 1 || ranks > 1) {
            printf("data parallel: %d rank%s x %d device%s; rows per batch on this rank:", ranks, ranks > 1 ? "s" : "",
                   fl.n, fl.n > 1 ? "s" : "");
            for (int i = 0; i < fl.n; i++) printf(" %d", fl.rows[i]);
            printf(" (%s); gradients averaged in %d bucket%s\n", fl.n > 1 ? o.split : "one device",
                   clg_replicas_buckets(fl.r), clg_replicas_buckets(fl.r) == 1 ? "" : "s");
        }
        printf("matrix products: %s\n", clg_context_gemm(ctx));
        printf("data: %lld training and %lld test images from %s\n", (long long)train.images->shape[0],
               (long long)test.images->shape[0], o.data);
        clg_memory mem;
        if (clg_graph_memory(m->g, &mem) == CLG_OK)
            printf("device memory: %.1f MB (parameters %.1f, optimizer state %.1f, inputs %.1f, activations %.1f, "
                   "workspaces %.1f; %.1f MB with a buffer per tensor)%s\n",
                   mem.total / 1e6, mem.parameters / 1e6, mem.optimizer_state / 1e6, mem.inputs / 1e6,
                   mem.activations / 1e6, mem.workspaces / 1e6, mem.unplanned_total / 1e6,
                   fl.n > 1 || ranks > 1 ? " on the first device" : "");
        fflush(stdout);
    }
    progress p;
    progress_init(&p, lead ? stderr : NULL);
    double t_start = now_seconds(), train_seconds = 0, final_acc = 0, to_target = 0;
    int epochs_run = 0, reached = 0;
    long long samples = 0;
    if (json) fprintf(json, "{\n  \"epochs\": [");
    if (first_epoch >= o.epochs && lead) {
        /* nothing left to train: the summary reports the checkpoint's model */
        if ((rc = evaluate(ctx, &ev, &test, mean, std, &final_acc))) goto done;
        printf("resumed: %s has finished all %d epochs; its test accuracy %.4f\n", o.resume, o.epochs, final_acc);
    }
    for (int e = first_epoch; e < o.epochs; e++) {
        double t0 = now_seconds(), sums[3] = {0, 0, 0}; /* the epoch's loss, its first and last tenth */
        int64_t count, done_steps = 0, remaining = steps_per_epoch, tenth = steps_per_epoch / 10 > 0 ? steps_per_epoch / 10 : 1;
        int64_t already = 0, le, lb;
        if (clg_loader_position(loader, &le, &lb) == CLG_OK && le == e) already = lb;
        remaining -= already;
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, o.epochs);
        while ((rc = check(ctx, clg_loader_next(loader, x, y, &count) == CLG_OK ? CLG_OK : CLG_ERR_INVALID_ARGUMENT)) == 0 &&
               count > 0) {
            double loss;
            if ((rc = fleet_step(&fl, x, y, &loss))) goto done;
            if (!isfinite(loss)) {
                rc = die("the training loss is %s: lower --lr", isnan(loss) ? "NaN" : "infinite", NULL);
                goto done;
            }
            sums[0] += loss;
            if (done_steps < tenth) sums[1] += loss;
            if (done_steps >= remaining - tenth) sums[2] += loss;
            done_steps++;
            samples += count;
            double el = now_seconds() - t0;
            progress_update(&p, label, (long)done_steps, (long)steps_per_epoch,
                            el > 0 ? (double)(done_steps * o.batch) / el : 0, sums[0] / (double)done_steps);
        }
        if (rc) goto done;
        double t_train = now_seconds() - t0;
        train_seconds += t_train;
        progress_clear(&p);
        epoch_sums(sums, 3); /* every rank's rows: the whole batch's mean loss */
        for (int k = 0; k < 3; k++) sums[k] /= ranks;
        double acc = 0;
        if (lead && (rc = evaluate(ctx, &ev, &test, mean, std, &acc))) goto done;
        final_acc = acc;
        int64_t nt = done_steps < tenth ? done_steps : tenth;
        epoch_stats st = {done_steps ? sums[0] / (double)done_steps : 0, acc, now_seconds() - t0,
                          t_train > 0 ? (double)(done_steps * o.batch) / t_train : 0,
                          nt ? sums[1] / (double)nt : 0, nt ? sums[2] / (double)nt : 0};
        if (lead) {
            printf("epoch %2d/%d  train loss %.4f  test accuracy %.4f  %.1f s  (%.0f samples/s)\n", e + 1, o.epochs,
                   st.train_loss, st.test_accuracy, st.seconds, st.samples_per_s);
            fflush(stdout);
        }
        if (json)
            fprintf(json, "%s\n    {\"epoch\": %d, \"train_loss\": %.6g, \"loss_first_tenth\": %.6g, "
                          "\"loss_last_tenth\": %.6g, \"test_accuracy\": %.6g, \"seconds\": %.4g, \"samples_per_s\": %.6g}",
                    e > first_epoch ? "," : "", e + 1, st.train_loss, st.loss_first, st.loss_last, st.test_accuracy,
                    st.seconds, st.samples_per_s);
        if (lead && o.save && (rc = save_checkpoint(ctx, m, &ev, &o, loader, fl.n))) goto done;
        epochs_run = e + 1;
        to_target += st.seconds;
        /* rank 0's accuracy decides for every rank */
        double stop = o.target > 0 && acc >= o.target;
        epoch_sums(&stop, 1);
        if (stop > 0) {
            reached = e + 1;
            if (lead)
                printf("target: test accuracy %.4f >= %.4g after epoch %d: %.1f s of training and evaluation\n", acc,
                       o.target, reached, to_target);
            break;
        }
        if (o.stop_after && e + 1 >= o.stop_after) break;
    }
    if (lead && o.target > 0 && !reached)
        printf("target: test accuracy %.4g not reached in %d epochs (final %.4f)\n", o.target, epochs_run, final_acc);
    /* QAT: the deployed model, its weights the int8 values of the
     * checkpoint (dequantized) and the activations fake-quantized as trained */
    double int8_acc = -1;
    if (lead && m->qat != QAT_NONE) {
        static char names[3 * MODEL_MAX_OBS][64];
        clg_array *arrays[3 * MODEL_MAX_OBS];
        int n = 0;
        model q = {0};
        rc = check(ctx, model_build_int8_eval(ctx, o.model, EVAL_BATCH, o.width, m, &q));
        if (rc == 0) rc = check(ctx, model_derived(&ev, &n, names, arrays));
        if (rc == 0) rc = check(ctx, model_set_int8_weights(&q, n, names, arrays));
        if (rc == 0) rc = evaluate(ctx, &q, &test, mean, std, &int8_acc);
        model_derived_free(n, arrays);
        clg_graph_destroy(q.g);
        if (rc) goto done;
        printf("int8 weights (dequantized) and the trained activation ranges: test accuracy %.4f (the QAT model: "
               "%.4f)\n",
               int8_acc, final_acc);
    }
    double total = now_seconds() - t_start;
    /* loss scaling: where the scale ended, and the steps it skipped */
    clg_tensor sc = clg_tensor_find(m->g, "grad_scaler.scale"), taken = clg_tensor_find(m->g, "grad_scaler.steps");
    int64_t host_steps = 0;
    float scale_now = 0, steps_taken = 0;
    if (lead && sc.id >= 0 && clg_tensor_get(m->g, sc, &scale_now, 1) == CLG_OK &&
        clg_tensor_get(m->g, taken, &steps_taken, 1) == CLG_OK && clg_optimizer_get_step(m->g, &host_steps) == CLG_OK)
        printf("loss scaling: scale %g after %lld steps, %lld of them skipped (a gradient not finite)\n",
               (double)scale_now, (long long)host_steps, (long long)(host_steps - (int64_t)steps_taken));
    if (lead)
        printf("summary: device %s; model %s; optimizer %s; epochs %d; final test accuracy %.4f; %.0f samples/s; "
               "%.1f s\n",
               where, o.model, o.optimizer, epochs_run ? epochs_run : o.epochs, final_acc,
               train_seconds > 0 ? (double)samples / train_seconds : 0, total);
    if (json) {
        fprintf(json, "\n  ],\n  \"summary\": {\"device\": \"");
        for (const char *c = where; *c; c++) {
            if (*c == '"' || *c == '\\') fputc('\\', json);
            fputc(*c, json);
        }
        fprintf(json, "\", \"devices\": %d, \"ranks\": %d, \"model\": \"%s\", \"optimizer\": \"%s\", \"epochs\": %d, "
                      "\"final_test_accuracy\": %.6g, \"samples_per_s\": %.6g, \"seconds\": %.4g",
                fl.n, ranks, o.model, o.optimizer, epochs_run ? epochs_run : o.epochs, final_acc,
                train_seconds > 0 ? (double)samples / train_seconds : 0, total);
        fprintf(json, ", \"precision\": \"%s\"", o.precision);
        if (int8_acc >= 0) fprintf(json, ", \"int8_test_accuracy\": %.6g", int8_acc);
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
    fleet_free(&fl);
    split_free(&train);
    split_free(&test);
    free(mean);
    free(std);
    free(x);
    free(y);
    return rc;
}

int main(int argc, char **argv)
{
#ifdef CLG_TRAIN_MPI
    /* MPI only when a launcher started this process: alone, clgrad-train
     * never touches it */
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &ranks);
        MPI_Comm world = MPI_COMM_WORLD;
        int rc = train(argc, argv, &world);
        /* any rank's failure ends the job: the others may be waiting for
         * it (its one line is on stderr; a checkpoint is renamed into place
         * complete or not at all) */
        int any = rc;
        if (ranks > 1 && rc) MPI_Abort(MPI_COMM_WORLD, rc);
        MPI_Finalize();
        return any;
    }
#endif
    return train(argc, argv, NULL);
}
