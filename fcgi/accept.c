/*
 * accept.c -- the accept loop and the queue of new connections (see
 * accept.h), from our listen socket and from zsse-handoff (handoff.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "accept.h"
#include "handoff.h"
#include "log.h"
#include "ring.h"

#define HANDOFF_BATCH 64            /* datagrams taken per turn */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    ring_t          q;              /* descriptors, as (void *)(intptr_t) */
    /* FCGI_WEB_SERVER_ADDRS: the web servers that may connect over TCP
     * (none listed: any) */
    int             nallow;
    struct in6_addr allow[ACCEPT_ADDRS_MAX];    /* IPv4 as ::ffff:a.b.c.d */
} A = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

int
accept_init(void)
{
    struct rlimit rl;
    size_t max = 1u << 20;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
        max = (size_t)rl.rlim_cur;
    /* small: a process of mod_fcgid's serves one request at a time */
    return ring_init(&A.q, 16, max);
}

/* IPv4 address V4 as ::ffff:a.b.c.d, so that one comparison does both */
static void
v4_mapped(struct in6_addr *a, const void *v4)
{
    memset(a, 0, sizeof(*a));
    a->s6_addr[10] = a->s6_addr[11] = 0xff;
    memcpy(&a->s6_addr[12], v4, 4);
}

int
accept_allow(const char *list, char *err, size_t errlen)
{
    char copy[1024], *save = NULL;

    if (!list || !*list)
        return 0;
    if (strlen(list) >= sizeof(copy)) {
        snprintf(err, errlen, "longer than %zu bytes", sizeof(copy) - 1);
        return -1;
    }
    strcpy(copy, list);
    for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        struct in_addr v4;
        struct in6_addr *a = &A.allow[A.nallow];
        if (A.nallow == ACCEPT_ADDRS_MAX) {
            snprintf(err, errlen, "more than %d addresses", ACCEPT_ADDRS_MAX);
            return -1;
        }
        if (inet_pton(AF_INET, t, &v4) == 1)
            v4_mapped(a, &v4);
        else if (inet_pton(AF_INET6, t, a) != 1) {
            snprintf(err, errlen, "'%.64s' is not an IP address", t);
            return -1;
        }
        A.nallow++;
    }
    return 0;
}

/* may FD's peer talk to us?  A unix socket's may (its file mode decides);
 * a TCP peer must be in FCGI_WEB_SERVER_ADDRS when that is set, as
 * libfcgi's own accept would check */
static int
allowed(int fd)
{
    static ratelimit_t rl;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct in6_addr peer;
    char name[INET6_ADDRSTRLEN] = "?";

    if (A.nallow == 0)
        return 1;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;   /* gone already */
    if (ss.ss_family == AF_INET)
        v4_mapped(&peer, &((const struct sockaddr_in *)&ss)->sin_addr);
    else if (ss.ss_family == AF_INET6)
        peer = ((const struct sockaddr_in6 *)&ss)->sin6_addr;
    else
        return 1;
    for (int i = 0; i < A.nallow; i++)
        if (memcmp(&A.allow[i], &peer, sizeof(peer)) == 0)
            return 1;
    if (IN6_IS_ADDR_V4MAPPED(&peer))
        inet_ntop(AF_INET, &peer.s6_addr[12], name, sizeof(name));
    else
        inet_ntop(AF_INET6, &peer, name, sizeof(name));
    log_limited(&rl, LOG_WARNING, "accept: %s is not in FCGI_WEB_SERVER_ADDRS: closed", name);
    return 0;
}

static void
push(int fd)
{
    pthread_mutex_lock(&A.mu);
    int r = ring_push(&A.q, (void *)(intptr_t)fd);
    if (r == 0)
        pthread_cond_signal(&A.cv);
    pthread_mutex_unlock(&A.mu);
    if (r < 0) {
        /* cannot happen while the ring may grow as long as the
         * descriptor limit; were it to, the web server sees a refusal */
        log_msg(LOG_WARNING, "accept: %zu connections waiting, one refused", A.q.len);
        close(fd);
    }
}

int
accept_next(void)
{
    pthread_mutex_lock(&A.mu);
    while (A.q.len == 0)
        pthread_cond_wait(&A.cv, &A.mu);
    int fd = (int)(intptr_t)ring_pop(&A.q);    /* (descriptor 0 is NULL: len decides) */
    pthread_mutex_unlock(&A.mu);
    return fd;
}

/* a connection for the queue: a setup thread reads the request, and a web
 * server that connects and sends nothing must not hold it for ever */
static void
take(int fd)
{
    static const struct timeval tv = { ACCEPT_READ_TIMEOUT, 0 };

    if (!allowed(fd)) {
        close(fd);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    push(fd);
}

/* accept one connection: 0, or -1 when the listen socket is gone */
static int
accept_one(int listen_fd)
{
    static ratelimit_t rl;

    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        take(fd);
        return 0;
    }
    switch (errno) {
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
        log_limited(&rl, LOG_WARNING, "accept: %s (retrying)", strerror(errno));
        usleep(100000);     /* until a stream ends and gives one back */
        return 0;
    case ECONNABORTED: case EPROTO: case EINTR: case EAGAIN:
        return 0;           /* that connection only: the next one */
    default:
        /* the web server closed our socket (mod_fcgid, lighttpd
         * stopping us): we are done */
        log_msg(LOG_INFO, "accept: %s: stopping", strerror(errno));
        return -1;
    }
}

int
accept_handoff_open(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int s;

    if (strlen(path) >= sizeof(a.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path));
    if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    unlink(path);               /* a stale socket of an earlier run */
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0660) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/* the descriptors of one datagram's SCM_RIGHTS into FDS: how many */
static int
fds_of(struct msghdr *m, int *fds, int max)
{
    int n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && n < max; i++)
            memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return n;
}

static int
is_stream_socket(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* take the connections waiting on the handoff socket, up to a batch (the
 * listen socket gets its turn).  A datagram that is not exactly
 * HANDOFF_TAG with one stream socket is closed, every descriptor it
 * carried with it, and logged. */
static void
take_handoffs(int s)
{
    static ratelimit_t rl;
    char tag[2];
    union { struct cmsghdr h; char b[CMSG_SPACE(8 * sizeof(int))]; } ctl;
    int fds[8];

    for (int k = 0; k < HANDOFF_BATCH; k++) {
        struct iovec iov = { tag, sizeof(tag) };
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
        };
        ssize_t r = recvmsg(s, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_limited(&rl, LOG_WARNING, "handoff: %s", strerror(errno));
            return;
        }
        int n = fds_of(&m, fds, 8);
        if (r == 1 && tag[0] == HANDOFF_TAG && n == 1 && !(m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
            && is_stream_socket(fds[0])) {
            take(fds[0]);
            continue;
        }
        /* (MSG_CTRUNC: descriptors that did not fit, or that the
         * descriptor limit refused, were closed by the kernel) */
        log_limited(&rl, LOG_WARNING, "handoff: a datagram of %zd bytes with %d descriptors%s "
            "is not a connection: dropped", r, n, m.msg_flags & MSG_CTRUNC ? " (truncated)" : "");
        for (int i = 0; i < n; i++)
            close(fds[i]);
    }
}

void
accept_run(int listen_fd, int handoff_fd)
{
    static ratelimit_t rl;
    struct pollfd p[2] = { { listen_fd, POLLIN, 0 }, { handoff_fd, POLLIN, 0 } };

    for (;;) {
        if (handoff_fd >= 0) {
            /* two sources (poll skips a listen_fd of -1): wait for either */
            if (poll(p, 2, -1) < 0) {
                if (errno != EINTR)
                    log_limited(&rl, LOG_WARNING, "accept: poll: %s", strerror(errno));
                continue;
            }
            if (p[1].revents)
                take_handoffs(handoff_fd);
            if (!p[0].revents)
                continue;
        }
        if (accept_one(listen_fd) < 0)
            return;
    }
}
