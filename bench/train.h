/* clgrad-train's options, and the checks made before it trains
 * (bench/train_setup.c). */
#ifndef CLG_TRAIN_H
#define CLG_TRAIN_H

#include <stdint.h>
#include <stdio.h>

/* The options a checkpoint records; a bit each in options.given when the
 * command line named it. */
enum {
    GIVEN_MODEL = 1 << 0,
    GIVEN_OPTIMIZER = 1 << 1,
    GIVEN_SCHEDULE = 1 << 2,
    GIVEN_BATCH = 1 << 3,
    GIVEN_WIDTH = 1 << 4,
    GIVEN_LIMIT = 1 << 5,
    GIVEN_EPOCHS = 1 << 6,
    GIVEN_WARMUP = 1 << 7,
    GIVEN_LR = 1 << 8,
    GIVEN_SEED = 1 << 9,
    GIVEN_WEIGHT_DECAY = 1 << 10,
    GIVEN_AUGMENT = 1 << 11,
    GIVEN_LABEL_SMOOTHING = 1 << 12,
    GIVEN_QAT = 1 << 13,
    GIVEN_PRECISION = 1 << 14,
};

typedef struct options {
    const char *model, *optimizer, *schedule, *device, *data, *save, *resume, *json, *augment, *qat, *precision;
    double weight_decay; /* on the weights; 1-D parameters are left out (a parameter group) */
    double label_smoothing;
    double lr; /* <= 0: the optimizer's default */
    double target; /* > 0: stop after the first epoch whose test accuracy reaches it */
    int epochs, batch, width, warmup, stop_after;
    long limit;
    /* data parallelism: --device given n times (devices[0] is device),
     * --split, and under mpirun the ranks and how long one waits */
    const char *devices[8];
    int ndevices, ranks;
    const char *split;
    double timeout;
    uint64_t seed;
    unsigned given;
} options;

/* 0 when a file can be written at path (for `option`'s messages): its
 * folder exists and is writable, and what is there, through symlinks, is
 * a regular file or nothing. Else prints why and returns 2. */
int check_output_path(const char *option, const char *path);

/* For --resume: reads the checkpoint's recorded options; those not given
 * on the command line are taken from it, and one given with another value
 * is refused (the run would not be the one the checkpoint continues).
 * default_lr gives an optimizer's learning rate when none was recorded.
 * 0, or prints why and returns 1 (unreadable) or 2 (a conflict). */
int resume_options(options *o, double (*default_lr)(const char *optimizer));

/* An output written to a temporary file beside its destination (through
 * symlinks) and renamed over it only when complete: a failed run leaves
 * the old file or none, never a half-written one. */
typedef struct output_file {
    FILE *f;
    char tmp[4160], target[4096]; /* PATH_MAX on Linux, and room for a suffix */
} output_file;
FILE *output_begin(const char *path, output_file *out); /* NULL on failure */
int output_commit(output_file *out);                     /* 0, or -1 (the temporary file removed) */
void output_abandon(output_file *out);                   /* removes the temporary file, if still there */

#endif
