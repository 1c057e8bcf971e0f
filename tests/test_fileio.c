/* The atomic writer against what may already be at the path: a FIFO, a
 * device node or a folder is refused untouched; a symlink (or a chain of
 * them) keeps being a link and names the new content. */
#define _GNU_SOURCE /* mknod, makedev */
#include "util.h"
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static int setup(void **s)
{
    snprintf(dir, sizeof dir, "/tmp/clgrad-fileio-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void at(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static clg_status save(const char *path, const char *text, char *err, size_t errlen)
{
    clg_piece p = {text, strlen(text), 1};
    return clg_write_atomic(path, &p, 1, "test_save", err, errlen);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void assert_content(const char *path, const char *want)
{
    char buf[256] = "";
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

/* No file named like the writer's temporaries is left in the folder. */
static void assert_no_temporaries(const char *folder)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q '\\.tmp$'", folder);
    if (system(cmd) == 0) fail_msg("a temporary file was left in %s", folder);
}

static void refused_untouched(const char *path, mode_t type, const char *kind)
{
    char err[512] = "";
    assert_int_not_equal(save(path, "new", err, sizeof err), CLG_OK);
    if (!strstr(err, path) || !strstr(err, kind)) fail_msg("message names neither %s nor '%s': %s", path, kind, err);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    if ((st.st_mode & S_IFMT) != type) fail_msg("%s was replaced (mode %o)", path, (unsigned)st.st_mode);
    assert_no_temporaries(dir);
}

static void test_fifo_refused(void **s)
{
    char path[128];
    at(path, sizeof path, "pipe");
    assert_int_equal(mkfifo(path, 0600), 0);
    refused_untouched(path, S_IFIFO, "FIFO");
}

static void test_folder_refused(void **s)
{
    char path[128];
    at(path, sizeof path, "sub");
    assert_int_equal(mkdir(path, 0700), 0);
    refused_untouched(path, S_IFDIR, "folder");
}

/* A character device with /dev/null's numbers, made in the test's own
 * folder: never a real system node. */
static void test_device_refused(void **s)
{
    char path[128];
    at(path, sizeof path, "null");
    if (geteuid() != 0) {
        print_message("skipped: making a device node needs root\n");
        skip();
    }
    if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) != 0) {
        print_message("skipped: mknod failed (%s): no device nodes here\n", strerror(errno));
        skip();
    }
    refused_untouched(path, S_IFCHR, "character device");
}

static void test_symlink_to_fifo_refused(void **s)
{
    char fifo[128], link[128];
    at(fifo, sizeof fifo, "pipe2");
    at(link, sizeof link, "pipe2.link");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, link), 0);
    refused_untouched(link, S_IFLNK, "FIFO");
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

static void assert_is_link_to(const char *link, const char *target)
{
    char got[256];
    ssize_t n = readlink(link, got, sizeof got - 1);
    if (n < 0) fail_msg("%s is no longer a symlink", link);
    got[n] = '\0';
    assert_string_equal(got, target);
}

/* A chain link2 -> link1 -> sub/target, the last one relative to its own
 * folder: the content lands in sub/target, both links stay links. */
static void test_symlink_chain_written_through(void **s)
{
    char sub[128], target[160], link1[128], link2[128], err[512] = "";
    at(sub, sizeof sub, "real");
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(target, sizeof target, "%s/target.st", sub);
    at(link1, sizeof link1, "link1");
    at(link2, sizeof link2, "link2");
    put(target, "old content, longer than the new");
    assert_int_equal(symlink("real/target.st", link1), 0);
    assert_int_equal(symlink(link1, link2), 0);
    if (save(link2, "new", err, sizeof err) != CLG_OK) fail_msg("%s", err);
    assert_is_link_to(link2, link1);
    assert_is_link_to(link1, "real/target.st");
    assert_content(target, "new");
    assert_content(link2, "new");
    assert_no_temporaries(dir);
    assert_no_temporaries(sub);
}

/* A link to a file that does not exist yet creates that file, as writing
 * through the link would. */
static void test_dangling_symlink_creates_target(void **s)
{
    char target[128], link[128], err[512] = "";
    at(target, sizeof target, "later.st");
    at(link, sizeof link, "later.link");
    assert_int_equal(symlink("later.st", link), 0);
    if (save(link, "made", err, sizeof err) != CLG_OK) fail_msg("%s", err);
    assert_is_link_to(link, "later.st");
    assert_content(target, "made");
}

static void test_symlink_loop_refused(void **s)
{
    char a[128], b[128], err[512] = "";
    at(a, sizeof a, "loop.a");
    at(b, sizeof b, "loop.b");
    assert_int_equal(symlink(b, a), 0);
    assert_int_equal(symlink(a, b), 0);
    assert_int_not_equal(save(a, "x", err, sizeof err), CLG_OK);
    assert_non_null(strstr(err, a));
    assert_is_link_to(a, b);
    assert_is_link_to(b, a);
}

/* A regular file is still replaced, not written in place. */
static void test_regular_file_replaced(void **s)
{
    char path[128], err[512] = "";
    at(path, sizeof path, "plain.st");
    put(path, "before");
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    if (save(path, "after", err, sizeof err) != CLG_OK) fail_msg("%s", err);
    assert_content(path, "after");
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino != after.st_ino);
    assert_no_temporaries(dir);
}

/* A save removes the temporary files a killed writer left for the same
 * target (tests/hostile/run.sh: kill -9 during clgrad-train --save), and
 * only those: a live process's, another target's, another name's stay. */
static void test_stale_temporaries_removed(void **s)
{
    char path[128], dead[192], live[192], other[192], odd[192], err[512] = "";
    at(path, sizeof path, "ck.st");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child); /* now a pid with no process */
    snprintf(dead, sizeof dead, "%s/.ck.st.%ld-12345.tmp", dir, (long)child);
    snprintf(live, sizeof live, "%s/.ck.st.%ld-777.tmp", dir, (long)getppid());
    snprintf(other, sizeof other, "%s/.other.st.%ld-1.tmp", dir, (long)child);
    snprintf(odd, sizeof odd, "%s/.ck.st.%ldx-1.tmp", dir, (long)child);
    put(dead, "half a checkpoint");
    put(live, "being written");
    put(other, "another target's");
    put(odd, "not the writer's name");
    if (save(path, "saved", err, sizeof err) != CLG_OK) fail_msg("%s", err);
    assert_content(path, "saved");
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(odd, F_OK), 0);
}

/* The readers refuse a FIFO at once: open() used to wait for a writer
 * forever, before fstat could see it is not a regular file (found by
 * tests/hostile/run.sh with clgrad-train --resume FIFO). alarm() turns a
 * hang into a failure. */
static void test_readers_refuse_fifo(void **s)
{
    char path[128], err[512];
    at(path, sizeof path, "pipe");
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20);
    clg_array *a = NULL;
    clg_safetensors *st = NULL;
    err[0] = 0;
    assert_int_equal(clg_safetensors_read(path, &st, err, sizeof err), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(st);
    err[0] = 0;
    assert_int_equal(clg_npy_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(a);
    err[0] = 0;
    assert_int_equal(clg_idx_read(path, &a, err, sizeof err), CLG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(a);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_to_fifo_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_chain_written_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_symlink_creates_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_loop_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regular_file_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_refuse_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_temporaries_removed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
