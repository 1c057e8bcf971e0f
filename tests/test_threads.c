/*
 * Contexts from several threads at once. Drivers initialise lazily, and
 * PoCL crashed (or reported no device, so "unknown device spec") when two
 * threads made the first contexts of a process together; the header
 * promises that separate contexts are independent across threads.
 *
 * The race is only at a process's first contexts, so each round runs in a
 * fresh child process: 8 threads each create, use and destroy contexts;
 * the parent counts children that crashed and contexts that failed.
 */
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define PER_THREAD 6
#define ROUNDS 6

static const char *spec_in_child;

/* One context: create it, run x*2 on it, check the answer, destroy it.
 * Returns 0 when all of that worked. */
static int one_context(const char *spec, char *why, size_t size)
{
    clg_context *ctx = NULL;
    clg_status s = clg_context_create(spec, &ctx);
    if (s != CLG_OK) {
        snprintf(why, size, "clg_context_create('%s'): %s", spec, clg_context_errmsg(ctx));
        clg_context_destroy(ctx);
        return 1;
    }
    clg_graph *g;
    const int64_t n = 5;
    float x[5] = {1, 2, 3, 4, 5}, y[5] = {0};
    int bad = clg_graph_create(ctx, &g) != CLG_OK;
    clg_tensor tx = bad ? CLG_NO_TENSOR : clg_input(g, 1, &n);
    clg_tensor ty = bad ? CLG_NO_TENSOR : clg_scale(g, tx, 2.0f);
    bad = bad || clg_tensor_set(g, tx, x, 5) != CLG_OK || clg_graph_run(g, CLG_RUN_FORWARD) != CLG_OK ||
          clg_tensor_get(g, ty, y, 5) != CLG_OK;
    for (int i = 0; !bad && i < 5; i++) bad = y[i] != 2 * x[i];
    if (bad) snprintf(why, size, "a run on '%s' failed: %s", spec, clg_context_errmsg(ctx));
    clg_context_destroy(ctx);
    return bad;
}

static void *worker(void *arg)
{
    (void)arg;
    intptr_t failures = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        char why[1024];
        if (one_context(spec_in_child, why, sizeof why)) {
            failures++;
            fprintf(stderr, "%s\n", why);
        }
    }
    return (void *)failures;
}

/* A child's whole life: THREADS threads at once, exit status = failures. */
static int child(const char *spec)
{
    /* cmocka's handlers would turn a crash into a test result inside the
     * child: the parent must see the signal */
    const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    spec_in_child = spec;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0) return 100;
    intptr_t failures = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        failures += (intptr_t)r;
    }
    return failures > 99 ? 99 : (int)failures;
}

static void concurrent_first_contexts(void **state)
{
    (void)state;
    /* This process never touches OpenCL: its children must each be the
     * first in their process to enumerate (and a driver's threads do not
     * survive fork). The default spec enumerates every platform, as "cpu",
     * "gpu" and substrings do. */
    const char *specs[] = {"", "reference"};
    for (int d = 0; d < 2; d++) {
        const char *spec = specs[d];
        int crashed = 0, failed = 0;
        for (int r = 0; r < ROUNDS; r++) {
            fflush(NULL);
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) _exit(child(spec));
            int st = 0;
            assert_int_equal(waitpid(pid, &st, 0), pid);
            if (WIFSIGNALED(st)) {
                crashed++;
                fprintf(stderr, "round %d on '%s': child killed by signal %d\n", r, spec, WTERMSIG(st));
            } else {
                failed += WEXITSTATUS(st);
            }
        }
        printf("'%s': %d rounds x %d threads x %d contexts: %d crashed rounds, %d failed contexts\n",
               *spec ? spec : "(default device)", ROUNDS, THREADS, PER_THREAD, crashed, failed);
        assert_int_equal(crashed, 0);
        assert_int_equal(failed, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(concurrent_first_contexts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
