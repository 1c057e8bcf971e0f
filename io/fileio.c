/* Files: bounded whole-file reads and atomic writes (POSIX). */
#define _POSIX_C_SOURCE 200809L
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The status of a failed system call. There is no I/O status in clg_status:
 * a missing file is NOT_FOUND, anything else the caller's bad argument. */
static clg_status errno_status(int e)
{
    if (e == ENOENT || e == ENOTDIR) return CLG_ERR_NOT_FOUND;
    if (e == ENOMEM) return CLG_ERR_OUT_OF_MEMORY;
    return CLG_ERR_INVALID_ARGUMENT;
}

clg_status clg_file_read_all(const char *path, size_t max, unsigned char **out, size_t *len, const char *func,
                             char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!path) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: path is NULL", func);
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait
     * forever, before fstat could refuse it; cleared below for the reads */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return clg_data_fail(err, errlen, errno_status(errno), "%s: %s: %s", func, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return clg_data_fail(err, errlen, errno_status(e), "%s: %s: %s", func, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: %s: %s", func, path,
                             S_ISDIR(st.st_mode) ? "is a folder" : "is not a regular file");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: %s: %lld bytes, more than the %zu this reader accepts",
                             func, path, (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory for %zu bytes", func,
                             path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: %s: %s after %zu of %zu bytes", func,
                                 path, r < 0 ? strerror(e) : "file shrank while reading", got, size);
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = size;
    return CLG_OK;
}

/* ---- writing ---- */

static bool write_piece(FILE *f, const clg_piece *p)
{
    if (p->elsize <= 1 || clg_host_is_little_endian()) return fwrite(p->data, 1, p->len, f) == p->len;
    unsigned char tmp[4096];
    size_t step = sizeof tmp / p->elsize * p->elsize;
    for (size_t off = 0; off < p->len; off += step) {
        size_t n = p->len - off < step ? p->len - off : step;
        memcpy(tmp, (const unsigned char *)p->data + off, n);
        clg_swap_elements(tmp, n / p->elsize, p->elsize);
        if (fwrite(tmp, 1, n, f) != n) return false;
    }
    return true;
}

clg_status clg_pieces_to_mem(const clg_piece *pieces, int npieces, unsigned char **out, size_t *len, char *err,
                             size_t errlen)
{
    size_t total = 0;
    for (int i = 0; i < npieces; i++) total += pieces[i].len;
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "out of host memory for %zu bytes", total);
    size_t at = 0;
    for (int i = 0; i < npieces; i++) {
        if (pieces[i].len) memcpy(buf + at, pieces[i].data, pieces[i].len);
        if (pieces[i].elsize > 1 && !clg_host_is_little_endian())
            clg_swap_elements(buf + at, pieces[i].len / pieces[i].elsize, pieces[i].elsize);
        at += pieces[i].len;
    }
    *out = buf;
    *len = total;
    return CLG_OK;
}

/* Splits path into its folder ("." when none) and file name. */
static bool split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (slash && dlen == 0) dlen = 1; /* "/file": the root */
    *dir = malloc(dlen + 1);
    if (!*dir) return false;
    memcpy(*dir, slash ? path : ".", dlen);
    (*dir)[dlen] = '\0';
    return true;
}

/* Creates "<dir>/.<base>.<pid>-<n>.tmp" exclusively. O_EXCL rather than
 * mkstemp so that the file gets the usual permissions (0666 less umask). */
static int create_temp(const char *dir, const char *base, char *tmp, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, size, "%s/.%s.%ld-%ld.tmp", dir, base, (long)getpid(), (long)(ts.tv_nsec + attempt) % 1000000000L);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Removes what create_temp left for base when its process was killed
 * mid-save: "<dir>/.<base>.<pid>-<n>.tmp" of a process that no longer
 * runs here, owned by this user. Best effort, after a save succeeded. A
 * writer of another PID namespace sharing the folder would lose its temp
 * file and see its own save fail, the target intact. */
static void remove_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t blen = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 || n[1 + blen] != '.') continue;
        char *end;
        long pid = strtol(n + blen + 2, &end, 10);
        if (end == n + blen + 2 || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
        strtol(end + 1, &end, 10);
        if (strcmp(end, ".tmp") != 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to ask */
        size_t len = strlen(dir) + strlen(n) + 2;
        char *path = malloc(len);
        struct stat st;
        if (path) {
            snprintf(path, len, "%s/%s", dir, n);
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) unlink(path);
            free(path);
        }
    }
    closedir(d);
}

static void sync_folder(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    /* Some file systems cannot sync a folder (EINVAL); the rename is done
     * either way, so there is nothing to undo. */
    fsync(fd);
    close(fd);
}

static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

/* Links followed before giving up, as the kernel's own limit (ELOOP). */
#define MAX_LINKS 40

/* The file a save replaces: path, or for a symlink (chains too) the file it
 * finally names, so that the rename puts the new content behind the link
 * instead of replacing the link and leaving its target stale. A link to a
 * missing file gives that file's path, as writing through the link would.
 * Anything there that is not a regular file is refused: renaming over a
 * device node, FIFO or socket would replace it with a plain file. */
static clg_status save_target(const char *path, char **out, const char *func, char *err, size_t errlen)
{
    char *cur = strdup(path);
    if (!cur) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    for (int links = 0;; links++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            int e = errno;
            if (e == ENOENT) break; /* a new file; a missing folder fails at the temporary file */
            clg_status s = clg_data_fail(err, errlen, errno_status(e), "%s: %s: %s", func, cur, strerror(e));
            free(cur);
            return s;
        }
        if (S_ISREG(st.st_mode)) break;
        if (!S_ISLNK(st.st_mode)) {
            clg_status s;
            if (strcmp(cur, path) == 0)
                s = clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                  "%s: %s is %s, not a regular file; nothing was written", func, path,
                                  kind_of(st.st_mode));
            else
                s = clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                  "%s: %s is a symlink to %s, which is %s, not a regular file; nothing was written",
                                  func, path, cur, kind_of(st.st_mode));
            free(cur);
            return s;
        }
        if (links == MAX_LINKS) {
            free(cur);
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                 "%s: %s: more than %d symlinks in a row (a loop?); nothing was written", func, path,
                                 MAX_LINKS);
        }
        /* st_size of a link is its target's length, but procfs-like
         * file systems report 0: size the buffer generously and check */
        size_t cap = (size_t)st.st_size + 1 > 4096 ? (size_t)st.st_size + 1 : 4096;
        char *target = malloc(cap);
        ssize_t n = target ? readlink(cur, target, cap) : -1;
        if (n < 0 || (size_t)n >= cap) {
            int e = target ? (n < 0 ? errno : ENAMETOOLONG) : ENOMEM;
            free(target);
            clg_status s = clg_data_fail(err, errlen, errno_status(e), "%s: %s: reading the symlink %s: %s", func,
                                         path, cur, strerror(e));
            free(cur);
            return s;
        }
        target[n] = '\0';
        char *next;
        if (target[0] == '/') {
            next = target;
        } else {
            /* relative to the folder holding the link */
            const char *slash = strrchr(cur, '/');
            size_t dlen = slash ? (size_t)(slash - cur) + 1 : 0;
            next = malloc(dlen + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, dlen);
                memcpy(next + dlen, target, (size_t)n + 1);
            }
            free(target);
        }
        free(cur);
        if (!next) return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
        cur = next;
    }
    *out = cur;
    return CLG_OK;
}

clg_status clg_write_atomic(const char *path, const clg_piece *pieces, int npieces, const char *func, char *err,
                            size_t errlen)
{
    if (!path || !*path) return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: path is empty", func);
    char *dir;
    const char *base;
    {
        /* "x/" and "x/." name folders whatever x is */
        const char *slash = strrchr(path, '/');
        const char *b = slash ? slash + 1 : path;
        if (!*b || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
            return clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT, "%s: %s names a folder, not a file", func,
                                 path);
    }
    char *target = NULL;
    clg_status ts = save_target(path, &target, func, err, errlen);
    if (ts != CLG_OK) return ts;
    bool split = split_path(target, &dir, &base);
    if (!split) {
        free(target);
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    }
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        clg_status s = clg_data_fail(err, errlen, CLG_ERR_INVALID_ARGUMENT,
                                     "%s: %s is a symlink to %s, which names a folder, not a file", func, path, target);
        free(dir);
        free(target);
        return s;
    }
    size_t tsize = strlen(dir) + strlen(base) + 64;
    char *tmp = malloc(tsize);
    if (!tmp) {
        free(dir);
        free(target);
        return clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: out of host memory", func);
    }
    clg_status s = CLG_OK;
    int fd = create_temp(dir, base, tmp, tsize);
    if (fd < 0) {
        s = clg_data_fail(err, errlen, errno_status(errno), "%s: cannot create a temporary file in %s: %s", func,
                          dir, strerror(errno));
        goto done;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        s = clg_data_fail(err, errlen, CLG_ERR_OUT_OF_MEMORY, "%s: fdopen: %s", func, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    const char *step = NULL;
    for (int i = 0; i < npieces && !step; i++)
        if (!write_piece(f, &pieces[i])) step = "write";
    if (!step && fflush(f) != 0) step = "flush";
    if (!step && fsync(fd) != 0) step = "fsync";
    int e = errno;
    if (fclose(f) != 0 && !step) {
        step = "close";
        e = errno;
    }
    if (!step && rename(tmp, target) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        s = clg_data_fail(err, errlen, errno_status(e),
                          "%s: %s: %s failed: %s (the previous file, if any, is unchanged)", func, path, step,
                          strerror(e));
        goto done;
    }
    sync_folder(dir);
    remove_stale_temps(dir, base);
done:
    free(tmp);
    free(dir);
    free(target);
    return s;
}
