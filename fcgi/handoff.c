/*
 * handoff.c -- zsse-handoff: the process mod_fcgid (or lighttpd bin-path)
 * starts, made thin.  It accepts each FastCGI connection on fd 0 and hands
 * it, unread, to the one zsse-fcgi that holds every stream (handoff.h).
 *
 * Links libc only and allocates nothing: a process of it is its stack and
 * libc's writable pages, a few tens of KiB, where a zsse-fcgi process with
 * libzmq, libjwt and OpenSSL is 1.2 MiB.  With mod_fcgid, one stream is
 * one process, so this is the cost of a stream.
 *
 * If zsse-fcgi is not there (stopped, restarting) it retries for
 * HANDOFF_RETRY_MS, then answers the request itself: 503 with
 * Retry-After, as zsse-fcgi does when the broker is away; and answers so
 * at once until zsse-fcgi is back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "handoff.h"
#include "record.h"
#include "zsse.h"

#define HANDOFF_DRAIN_MAX (1 << 20)     /* bytes of a refused request we read */

/* one line on stderr (the web server's error log), at most once a second:
 * with zsse-fcgi down every request would say the same */
static void
handoff_say(const char *fmt, ...)
{
    static int64_t last = -1;   /* s on the monotonic clock: one line a second */
    char line[512];
    va_list ap;
    int n;

    int64_t now = mono_ms() / 1000;
    if (now == last)
        return;
    last = now;
    n = snprintf(line, sizeof(line), "zsse-handoff[%ld]: ", (long)getpid());
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0)
        return;     /* no log: nothing else to tell */
}

/* send FD to zsse-fcgi: 0, or -1 when it cannot be reached.  Absent, it
 * is waited for HANDOFF_RETRY_MS (a restart); once it stayed away that
 * long, the next connections are answered at once until it is back: a
 * lighttpd backend gets many at a time, and they would wait in turn. */
static int
handoff_pass(int s, const struct sockaddr_un *to, int fd)
{
    static int away;
    char tag = HANDOFF_TAG;
    struct iovec iov = { &tag, 1 };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ctl;
    struct msghdr m = {
        .msg_name = (void *)to, .msg_namelen = sizeof(*to),
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    int waited = 0;

    memset(&ctl, 0, sizeof(ctl));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    for (;;) {
        if (sendmsg(s, &m, MSG_NOSIGNAL) == 1) {
            away = 0;
            return 0;
        }
        switch (errno) {
        case EINTR:
            continue;
        case ENOENT: case ECONNREFUSED:
            /* no zsse-fcgi on PATH: between a restart's stop and start? */
            if (away || waited >= HANDOFF_RETRY_MS) {
                away = 1;
                break;
            }
            usleep(100 * 1000);
            waited += 100;
            continue;
        case EAGAIN:
            handoff_say("%s: zsse-fcgi takes no connections (%d s): answering 503",
                to->sun_path, HANDOFF_SEND_TIMEOUT);
            return -1;
        }
        handoff_say("%s: %s: answering 503", to->sun_path, strerror(errno));
        return -1;
    }
}

static int
handoff_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* answer the request on FD with 503: its first record names the request
 * id, the rest is read and dropped so that the web server, still writing
 * it, sees no broken pipe */
static void
handoff_refuse(int fd)
{
    static const char json[] =
        "{\"error\": \"unavailable\", \"message\": \"zsse-fcgi unreachable\"}\n";
    struct timeval tv = { 2, 0 };
    unsigned char in[8];
    unsigned char out[512];
    char buf[4096];
    size_t drained = 0;
    ssize_t r;
    int n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (recv(fd, in, sizeof(in), MSG_WAITALL) != (ssize_t)sizeof(in) ||
        in[0] != FCGI_VERSION_1 || in[1] != FCGI_BEGIN_REQUEST)
        return;     /* not FastCGI: nothing to answer */
    unsigned id = (unsigned)in[2] << 8 | in[3];
    n = snprintf((char *)out + RECORD_HDR, sizeof(out) - RECORD_HDR - RECORD_TAIL,
        "Status: 503 Service Unavailable\r\nRetry-After: 5\r\n"
        "Content-Type: application/json\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n\r\n%s", sizeof(json) - 1, json);
    if (n < 0 || (size_t)n >= sizeof(out) - RECORD_HDR - RECORD_TAIL)
        return;     /* (a constant text: cannot happen) */
    record_header(out, RECORD_STDOUT, id, (size_t)n);
    n += RECORD_HDR;
    record_tail(out + n, id);
    n += RECORD_TAIL;
    if (handoff_write_all(fd, (const char *)out, (size_t)n) < 0)
        return;
    shutdown(fd, SHUT_WR);
    while (drained < HANDOFF_DRAIN_MAX && (r = read(fd, buf, sizeof(buf))) > 0)
        drained += (size_t)r;
}

static void
handoff_usage(FILE *fp)
{
    fprintf(fp,
        "usage: zsse-handoff [PATH]\n"
        "  Run by the web server (mod_fcgid, lighttpd bin-path) with the FastCGI socket\n"
        "  on fd 0: hands each connection to `zsse-fcgi --handoff PATH`, which answers it.\n"
        "  PATH: default $" HANDOFF_ENV ", else " HANDOFF_PATH_DEFAULT "\n"
        "  -h, --help, -V, --version\n");
}

int
main(int argc, char **argv)
{
    struct sockaddr_un to = { .sun_family = AF_UNIX };
    struct timeval tv = { HANDOFF_SEND_TIMEOUT, 0 };
    const char *path = getenv(HANDOFF_ENV);
    int s, v = 0;
    socklen_t vlen = sizeof(v);

    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        handoff_usage(stdout);
        return 0;
    }
    if (argc > 1 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
        printf("zsse-handoff %s\n", ZSSE_VERSION);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "zsse-handoff: unexpected argument '%s' (see --help)\n", argv[argc - 1]);
        return 2;
    }
    if (argc == 2)
        path = argv[1];
    if (!path || !*path)
        path = HANDOFF_PATH_DEFAULT;
    if (strlen(path) >= sizeof(to.sun_path)) {
        fprintf(stderr, "zsse-handoff: %s: longer than a unix socket path may be (%zu)\n",
            path, sizeof(to.sun_path) - 1);
        return 2;
    }
    memcpy(to.sun_path, path, strlen(path));
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) < 0 || !v) {
        fprintf(stderr, "zsse-handoff: fd 0 is not a listening socket: run it from the web "
            "server (mod_fcgid's FcgidWrapper, lighttpd's bin-path)\n");
        return 2;
    }
    if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
        fprintf(stderr, "zsse-handoff: socket: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept4(0, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                usleep(100 * 1000);
                continue;
            }
            return 0;   /* the web server closed our socket: stop */
        }
        if (handoff_pass(s, &to, fd) < 0)
            handoff_refuse(fd);
        close(fd);      /* zsse-fcgi holds it now (or it was answered) */
    }
}
