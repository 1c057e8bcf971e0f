/* Time to accuracy: clgrad-train (the same build's, beside this program)
 * trains the Fashion-MNIST MLP to 0.88 and the CNN to 0.91 test accuracy
 * on the device, stopping at the first epoch that reaches it; the result
 * is its training and evaluation time to that epoch. bench/compare_torch.py
 * --suite tta times PyTorch on the same models, optimizer, schedule and
 * batch. Not in the quick suite: minutes per device. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "progress.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct tta_case {
    const char *model, *schedule;
    double target;
    int cap; /* epochs */
} tta_case;

static const tta_case cases[] = {
    {"mlp", "constant", 0.88, 10},
    {"cnn", "cosine", 0.91, 10},
};

/* clgrad-train beside this program */
static bool train_path(char *out, size_t size)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = '\0';
    int k = snprintf(out, size, "%s/clgrad-train", self);
    return k > 0 && (size_t)k < size && access(out, X_OK) == 0;
}

static void run_case(device_run *d, const bench_opts *o, const tta_case *c, const char *train)
{
    char name[64], size[48];
    snprintf(name, sizeof name, "%s to %.2f", c->model, c->target);
    snprintf(size, sizeof size, "batch 64, adam, %s, cap %d", c->schedule, c->cap);
    if (!bench_wanted(o, name)) return;
    result *r = bench_new_result(d, "tta", name, size);
    if (!r) return;
    char json[] = "/tmp/clgrad-bench-tta-XXXXXX";
    int fd = mkstemp(json);
    if (fd < 0) {
        result_fail(r, "cannot make a temporary file");
        return;
    }
    close(fd);
    char cap[16], target[16];
    snprintf(cap, sizeof cap, "%d", c->cap);
    snprintf(target, sizeof target, "%g", c->target);
    char *argv[] = {(char *)train, "--model", (char *)c->model, "--device", d->spec, "--epochs", cap,
                    "--schedule", (char *)c->schedule, "--target-accuracy", target, "--json", json, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = now_seconds();
    /* the limit: minutes, not the per-result budget of a timed kernel */
    const double limit = o->budget * 30 > 600 ? o->budget * 30 : 600;
    int st = posix_spawn(&pid, train, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (st != 0) {
        result_fail(r, "cannot start %s", train);
        unlink(json);
        return;
    }
    int status = 0;
    bool killed = false;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0) break;
        if (now_seconds() - t0 > limit && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    train_summary ts;
    char why[256] = "";
    const bool read = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                      read_train_summary(json, &ts, why, sizeof why) == 0;
    unlink(json);
    if (killed) {
        r->check = CHECK_SKIPPED;
        snprintf(r->note, sizeof r->note, "over budget: stopped after %.0f s", limit);
    } else if (!read) {
        result_fail(r, "clgrad-train failed (exit %d)%s%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    why[0] ? ": " : "", why);
    } else if (!ts.reached) {
        result_fail(r, "not reached in %d epochs (final test accuracy %.4f)", c->cap, ts.final_accuracy);
    } else {
        r->median = r->min = r->max = ts.seconds_to_target;
        snprintf(r->unit, sizeof r->unit, "s");
        r->rate = ts.seconds_to_target;
        snprintf(r->note, sizeof r->note, "reached after epoch %d", ts.reached_epoch);
    }
}

void group_tta(device_run *d, const bench_opts *o)
{
    char train[4200];
    bool found = train_path(train, sizeof train);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (!found) {
            result *r = bench_new_result(d, "tta", cases[k].model, "-");
            if (r) result_fail(r, "clgrad-train is not beside clgrad-bench");
            continue;
        }
        run_case(d, o, &cases[k], train);
    }
}
