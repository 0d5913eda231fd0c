/*
 * failwrite.c -- LD_PRELOAD shim for the journal fault tests
 * (tests/integration/journal_faults.sh): a full disk, and a count of
 * fdatasync calls, under a real zsse-broker.
 *
 *   FAILWRITE_MATCH=S|T   only files whose path contains S (or T ...) are
 *                         affected
 *   FAILWRITE_FLAG=PATH   while PATH exists, a write of more than one byte
 *                         to such a file is short (half of it goes), and
 *                         the write that follows fails with ENOSPC: the
 *                         way a filling disk answers
 *   FAILWRITE_SYNCS=PATH  each fdatasync of such a file appends one line
 *                         ("sync") to PATH
 *
 * The file behind a descriptor is found with readlink(/proc/self/fd/N).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fdatasync)(int);
static int short_written;       /* the last matching write was short */

static int
matches(int fd)
{
    const char *m = getenv("FAILWRITE_MATCH");
    char link[64], path[4096], alt[256];
    ssize_t n;

    if (!m || !*m)
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
        return 0;
    path[n] = '\0';
    while (*m) {
        size_t k = strcspn(m, "|");
        if (k > 0 && k < sizeof(alt)) {
            memcpy(alt, m, k);
            alt[k] = '\0';
            if (strstr(path, alt))
                return 1;
        }
        m += k + (m[k] == '|');
    }
    return 0;
}

static int
failing(void)
{
    const char *f = getenv("FAILWRITE_FLAG");
    return f && access(f, F_OK) == 0;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    if (!real_write)
        real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (!matches(fd) || !failing()) {
        short_written = 0;
        return real_write(fd, buf, n);
    }
    if (short_written || n < 2) {
        short_written = 0;
        errno = ENOSPC;
        return -1;
    }
    short_written = 1;
    return real_write(fd, buf, n / 2);
}

int
fdatasync(int fd)
{
    const char *s = getenv("FAILWRITE_SYNCS");
    if (!real_fdatasync)
        real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (s && matches(fd)) {
        int out = open(s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (out >= 0) {
            if (!real_write)
                real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
            (void)!real_write(out, "sync\n", 5);
            close(out);
        }
    }
    return real_fdatasync(fd);
}
