/* What clgrad-train checks before it loads data or trains: that its output
 * files can be written, and that --resume continues the run the checkpoint
 * recorded. A failure found after an epoch of training wastes the epoch. */
#define _XOPEN_SOURCE 700
#include "train.h"

#include <clgrad.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

int check_output_path(const char *option, const char *path)
{
    char folder[4096]; /* PATH_MAX on Linux, as realpath needs */
    struct stat st;
    if (!*path) {
        fprintf(stderr, "clgrad-train: %s: the path is empty\n", option);
        return 2;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "clgrad-train: %s %s: it is %s, not a regular file\n", option, path, kind_of(st.st_mode));
            return 2;
        }
        /* through symlinks: the new file is made beside the one they name */
        if (!realpath(path, folder)) snprintf(folder, sizeof folder, "%s", path);
    } else if (errno == ENOENT) {
        snprintf(folder, sizeof folder, "%s", path);
    } else {
        fprintf(stderr, "clgrad-train: %s %s: %s\n", option, path, strerror(errno));
        return 2;
    }
    char *slash = strrchr(folder, '/');
    if (!slash) snprintf(folder, sizeof folder, ".");
    else if (slash == folder) folder[1] = '\0';
    else *slash = '\0';
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "clgrad-train: %s %s: the folder %s does not exist\n", option, path, folder);
        return 2;
    }
    if (access(folder, W_OK | X_OK) != 0) {
        fprintf(stderr, "clgrad-train: %s %s: cannot write in %s: %s\n", option, path, folder, strerror(errno));
        return 2;
    }
    return 0;
}

static int conflict(const char *option, const char *given, const char *recorded)
{
    fprintf(stderr,
            "clgrad-train: --resume: %s %s differs from the checkpoint's %s; a resumed run keeps the checkpoint's "
            "options (leave %s out to take its value)\n",
            option, given, recorded, option);
    return 2;
}

/* The checkpoint's value of a string option, kept after its file is freed. */
static int take_string(const clg_meta *meta, const char *key, unsigned bit, options *o, const char **field,
                       char *store, size_t size)
{
    const char *v = clg_meta_get(meta, key);
    char option[32];
    snprintf(option, sizeof option, "--%s", key);
    if (!v) return -1;
    if (o->given & bit) return strcmp(v, *field) ? conflict(option, *field, v) : 0;
    snprintf(store, size, "%s", v);
    *field = store;
    return 0;
}

static int take_int(const clg_meta *meta, const char *key, unsigned bit, const options *o, long lo, long hi,
                    long given, long *out)
{
    int64_t v;
    char option[32], a[32], b[32];
    if (clg_meta_get_i64(meta, key, &v) != CLG_OK) return -1;
    if (v < lo || v > hi) {
        fprintf(stderr, "clgrad-train: --resume: the checkpoint's %s %lld is out of range\n", key, (long long)v);
        return 2;
    }
    snprintf(option, sizeof option, "--%s", key);
    snprintf(a, sizeof a, "%ld", given);
    snprintf(b, sizeof b, "%lld", (long long)v);
    if ((o->given & bit) && v != given) return conflict(option, a, b);
    *out = (long)v;
    return 0;
}

/* A float option recorded since 0.2.2 (an older checkpoint's run had its
 * default): compared as the float the run uses. */
static int take_float(const clg_meta *meta, const char *key, unsigned bit, options *o, double *field)
{
    double v;
    if (!clg_meta_get(meta, key)) return 0;
    if (clg_meta_get_f64(meta, key, &v) != CLG_OK) return -1;
    if ((o->given & bit) && (float)v != (float)*field) {
        char option[32], a[32], b[32];
        snprintf(option, sizeof option, "--%s", key);
        for (char *c = option; *c; c++)
            if (*c == '_') *c = '-';
        snprintf(a, sizeof a, "%g", *field);
        snprintf(b, sizeof b, "%g", v);
        return conflict(option, a, b);
    }
    *field = v;
    return 0;
}

int resume_options(options *o, double (*default_lr)(const char *optimizer))
{
    static char model[64], optimizer[64], schedule[64], augment[64], qat[64], precision[64];
    clg_safetensors *st = NULL;
    char err[512];
    if (clg_safetensors_read(o->resume, &st, err, sizeof err) != CLG_OK) {
        fprintf(stderr, "clgrad-train: --resume: %s\n", err);
        return 1;
    }
    const clg_meta *meta = clg_safetensors_meta(st);
    const char *format = clg_meta_get(meta, "format");
    int rc = format && !strcmp(format, "clgrad-train/1") ? 0 : -1;
    if (rc == 0) rc = take_string(meta, "model", GIVEN_MODEL, o, &o->model, model, sizeof model);
    if (rc == 0) rc = take_string(meta, "optimizer", GIVEN_OPTIMIZER, o, &o->optimizer, optimizer, sizeof optimizer);
    if (rc == 0) rc = take_string(meta, "schedule", GIVEN_SCHEDULE, o, &o->schedule, schedule, sizeof schedule);
    /* recorded since 0.2.2; an older checkpoint's run had neither */
    if (rc == 0 && clg_meta_get(meta, "augment"))
        rc = take_string(meta, "augment", GIVEN_AUGMENT, o, &o->augment, augment, sizeof augment);
    /* recorded since 0.3.2; an older checkpoint's run had none */
    if (rc == 0 && clg_meta_get(meta, "qat")) rc = take_string(meta, "qat", GIVEN_QAT, o, &o->qat, qat, sizeof qat);
    /* recorded since 0.3.3 */
    if (rc == 0 && clg_meta_get(meta, "precision"))
        rc = take_string(meta, "precision", GIVEN_PRECISION, o, &o->precision, precision, sizeof precision);
    if (rc == 0) rc = take_float(meta, "weight_decay", GIVEN_WEIGHT_DECAY, o, &o->weight_decay);
    if (rc == 0) rc = take_float(meta, "label_smoothing", GIVEN_LABEL_SMOOTHING, o, &o->label_smoothing);
    long v = 0;
    /* the ranges are those the command line accepts (limit 0: all images) */
    if (rc == 0 && (rc = take_int(meta, "batch", GIVEN_BATCH, o, 1, 65536, o->batch, &v)) == 0) o->batch = (int)v;
    if (rc == 0 && (rc = take_int(meta, "width", GIVEN_WIDTH, o, 1, 1024, o->width, &v)) == 0) o->width = (int)v;
    if (rc == 0 && (rc = take_int(meta, "limit", GIVEN_LIMIT, o, 0, 100000000, o->limit, &v)) == 0) o->limit = v;
    if (rc == 0 && (rc = take_int(meta, "epochs", GIVEN_EPOCHS, o, 1, 100000, o->epochs, &v)) == 0) o->epochs = (int)v;
    if (rc == 0 && (rc = take_int(meta, "warmup", GIVEN_WARMUP, o, 0, 100000000, o->warmup, &v)) == 0)
        o->warmup = (int)v;
    uint64_t seed;
    if (rc == 0 && clg_meta_get_u64(meta, "seed", &seed) != CLG_OK) rc = -1;
    if (rc == 0 && (o->given & GIVEN_SEED) && seed != o->seed) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%llu", (unsigned long long)o->seed);
        snprintf(b, sizeof b, "%llu", (unsigned long long)seed);
        rc = conflict("--seed", a, b);
    }
    if (rc == 0) o->seed = seed;
    double lr;
    if (rc == 0 && clg_meta_get_f64(meta, "lr", &lr) != CLG_OK) rc = -1;
    if (rc == 0 && (o->given & GIVEN_LR)) {
        /* compared as the optimizer holds it: a float, the default when
         * the checkpoint's run named none */
        double recorded = lr > 0 ? lr : default_lr(o->optimizer);
        bool in_float = recorded < FLT_MAX && o->lr < FLT_MAX; /* else the cast is undefined */
        if (in_float ? (float)recorded != (float)o->lr : recorded != o->lr) {
            char a[32], b[64];
            snprintf(a, sizeof a, "%g", o->lr);
            snprintf(b, sizeof b, "%g%s", recorded, lr > 0 ? "" : " (the optimizer's default)");
            rc = conflict("--lr", a, b);
        }
    }
    if (rc == 0 && !(o->given & GIVEN_LR)) o->lr = lr;
    /* recorded since 0.3.1: the same layout continues exactly (each replica's
     * batch norm statistics, the sums' order); older runs had one of each */
    int64_t ranks = 1, devices = 1;
    if (rc == 0 && clg_meta_get(meta, "ranks") && clg_meta_get_i64(meta, "ranks", &ranks) != CLG_OK) rc = -1;
    if (rc == 0 && clg_meta_get(meta, "devices") && clg_meta_get_i64(meta, "devices", &devices) != CLG_OK) rc = -1;
    if (rc == 0 && (ranks != o->ranks || devices != o->ndevices)) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%d rank%s x %d device%s", o->ranks, o->ranks > 1 ? "s" : "", o->ndevices,
                 o->ndevices > 1 ? "s" : "");
        snprintf(b, sizeof b, "%lld rank%s x %lld device%s", (long long)ranks, ranks > 1 ? "s" : "",
                 (long long)devices, devices > 1 ? "s" : "");
        fprintf(stderr, "clgrad-train: --resume: this run has %s, the checkpoint's had %s; resume with the same "
                        "(mpirun -np, --device), so that it continues exactly\n", a, b);
        rc = 2;
    }
    if (rc < 0) {
        fprintf(stderr, "clgrad-train: --resume: %s lacks clgrad-train's metadata\n", o->resume);
        rc = 1;
    }
    clg_safetensors_destroy(st);
    return rc;
}

FILE *output_begin(const char *path, output_file *out)
{
    memset(out, 0, sizeof *out);
    if (!realpath(path, out->target)) snprintf(out->target, sizeof out->target, "%s", path);
    if (snprintf(out->tmp, sizeof out->tmp, "%s.%ld.tmp", out->target, (long)getpid()) >= (int)sizeof out->tmp)
        return NULL;
    /* 0666 less the umask, as fopen would make it */
    int fd = open(out->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return NULL;
    if (!(out->f = fdopen(fd, "w"))) {
        close(fd);
        unlink(out->tmp);
    }
    return out->f;
}

int output_commit(output_file *out)
{
    int bad = fflush(out->f) != 0 || fsync(fileno(out->f)) != 0;
    bad |= fclose(out->f) != 0;
    out->f = NULL;
    if (!bad && rename(out->tmp, out->target) == 0) {
        out->tmp[0] = '\0';
        return 0;
    }
    unlink(out->tmp);
    out->tmp[0] = '\0';
    return -1;
}

void output_abandon(output_file *out)
{
    if (out->f) fclose(out->f);
    out->f = NULL;
    if (out->tmp[0]) unlink(out->tmp);
    out->tmp[0] = '\0';
}
