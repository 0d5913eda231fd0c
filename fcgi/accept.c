/*
 * accept.c -- the accept loop and the queue of new connections (see
 * accept.h), from our listen socket and from zsse-handoff (handoff.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "accept.h"
#include "clock.h"
#include "gate.h"
#include "handoff.h"
#include "log.h"
#include "ring.h"

#define ACCEPT_HANDOFF_BATCH 64     /* datagrams taken per turn */
#define ACCEPT_BATCH         64     /* connections accepted per turn */
#define ACCEPT_PORT_MAX      65535  /* a TCP port is 16 bits (RFC 793) */
#define ACCEPT_ALLOW_MAX     1024   /* bytes of FCGI_WEB_SERVER_ADDRS */
/* descriptors read from one handoff datagram: zsse-handoff sends one; a
 * few more room to see (and close) what a stray sender passed */
#define ACCEPT_HANDOFF_FDS   8
#define ACCEPT_TICK_MS       100    /* the watchdog's resolution */

typedef struct {                    /* a connection in the queue */
    int     fd;
    int64_t deadline;               /* monotonic ms: its whole request by then */
} accept_queued_t;

typedef struct {                    /* a setup thread reading a request */
    int     fd;                     /* -1: none */
    int64_t deadline;
} accept_watch_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    ring_t          q;              /* descriptors, as (void *)(intptr_t) */
    /* FCGI_WEB_SERVER_ADDRS: the web servers that may connect over TCP
     * (none listed: any) */
    int             nallow;
    struct in6_addr allow[ACCEPT_ADDRS_MAX];    /* IPv4 as ::ffff:a.b.c.d */
    /* the watchdog: what each setup thread reads, and until when (under
     * mu); the accept thread shuts a late one's reading down */
    accept_watch_t *watch;
    size_t          nwatch, nslots;
    int64_t         watch_until;    /* no watch ends later than this */
    ring_t          lingering;      /* answered connections for the gate */
    int             wake;           /* eventfd: lingering has news */
} acceptor = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static __thread int accept_my_slot = -1;

static void accept_ready(int fd, int64_t deadline, unsigned reqid);

int
accept_init(size_t threads)
{
    struct rlimit rl;
    size_t max = 1u << 20;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
        max = (size_t)rl.rlim_cur;
    if (max > ACCEPT_QUEUE_MAX)
        max = ACCEPT_QUEUE_MAX;
    if (!(acceptor.watch = calloc(threads, sizeof(*acceptor.watch))))
        return -1;
    acceptor.nslots = threads;
    for (size_t i = 0; i < threads; i++)
        acceptor.watch[i].fd = -1;
    if (gate_init(accept_ready) < 0 || ring_init(&acceptor.lingering, 16, ACCEPT_QUEUE_MAX) < 0 ||
        (acceptor.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -1;
    /* small: a process of mod_fcgid's serves one request at a time */
    return ring_init(&acceptor.q, 16, max);
}

void
accept_watch(int fd, int64_t deadline)
{
    pthread_mutex_lock(&acceptor.mu);
    if (accept_my_slot < 0 && acceptor.nwatch < acceptor.nslots)
        accept_my_slot = (int)acceptor.nwatch++;
    if (accept_my_slot >= 0) {
        acceptor.watch[accept_my_slot] = (accept_watch_t){ fd, deadline };
        if (deadline > acceptor.watch_until)
            acceptor.watch_until = deadline;
    }
    pthread_mutex_unlock(&acceptor.mu);
}

void
accept_unwatch(void)
{
    if (accept_my_slot < 0)
        return;
    pthread_mutex_lock(&acceptor.mu);
    acceptor.watch[accept_my_slot].fd = -1;
    pthread_mutex_unlock(&acceptor.mu);
}

void
accept_linger(int fd)
{
    uint64_t one = 1;

    shutdown(fd, SHUT_WR);
    pthread_mutex_lock(&acceptor.mu);
    int r = ring_push(&acceptor.lingering, (void *)(intptr_t)(fd + 1));
    pthread_mutex_unlock(&acceptor.mu);
    if (r < 0) {
        close(fd);
        return;
    }
    ssize_t w = write(acceptor.wake, &one, sizeof(one));
    (void)w;
}

/* the connections the setup threads answered, to the gate to close */
static void
accept_take_lingering(int64_t now)
{
    uint64_t v;
    void *p;
    ssize_t r = read(acceptor.wake, &v, sizeof(v));

    (void)r;
    pthread_mutex_lock(&acceptor.mu);
    while ((p = ring_pop(&acceptor.lingering)))
        gate_close_later((int)(intptr_t)p - 1, now + ACCEPT_LINGER_MS);
    pthread_mutex_unlock(&acceptor.mu);
}

/* shut down the reading of requests past their deadline: the thread's
 * blocked read returns at once (end of file), and it answers or drops */
static void
accept_watchdog(int64_t now)
{
    static ratelimit_t rl;

    pthread_mutex_lock(&acceptor.mu);
    for (size_t i = 0; i < acceptor.nwatch; i++)
        if (acceptor.watch[i].fd >= 0 && acceptor.watch[i].deadline <= now) {
            shutdown(acceptor.watch[i].fd, SHUT_RD);
            acceptor.watch[i].fd = -1;
            log_limited(&rl, LOG_WARNING, "a request was not read in %d s: cut",
                ACCEPT_READ_TIMEOUT);
        }
    pthread_mutex_unlock(&acceptor.mu);
}

/* IPv4 address V4 as ::ffff:a.b.c.d, so that one comparison does both */
static void
accept_v4_mapped(struct in6_addr *a, const void *v4)
{
    memset(a, 0, sizeof(*a));
    a->s6_addr[10] = a->s6_addr[11] = 0xff;
    memcpy(&a->s6_addr[12], v4, 4);
}

int
accept_allow(const char *list, char *err, size_t errlen)
{
    char copy[ACCEPT_ALLOW_MAX], *save = NULL;

    if (!list || !*list)
        return 0;
    if (strlen(list) >= sizeof(copy)) {
        snprintf(err, errlen, "longer than %zu bytes", sizeof(copy) - 1);
        return -1;
    }
    strcpy(copy, list);
    for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        struct in_addr v4;
        struct in6_addr *a = &acceptor.allow[acceptor.nallow];
        if (acceptor.nallow == ACCEPT_ADDRS_MAX) {
            snprintf(err, errlen, "more than %d addresses", ACCEPT_ADDRS_MAX);
            return -1;
        }
        if (inet_pton(AF_INET, t, &v4) == 1)
            accept_v4_mapped(a, &v4);
        else if (inet_pton(AF_INET6, t, a) != 1) {
            snprintf(err, errlen, "'%.64s' is not an IP address", t);
            return -1;
        }
        acceptor.nallow++;
    }
    return 0;
}

/* may FD's peer talk to us?  A unix socket's may (its file mode decides);
 * a TCP peer must be in FCGI_WEB_SERVER_ADDRS when that is set, as
 * libfcgi's own accept would check */
static int
accept_allowed(int fd)
{
    static ratelimit_t rl;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct in6_addr peer;
    char name[INET6_ADDRSTRLEN] = "?";

    if (acceptor.nallow == 0)
        return 1;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;   /* gone already */
    if (ss.ss_family == AF_INET)
        accept_v4_mapped(&peer, &((const struct sockaddr_in *)&ss)->sin_addr);
    else if (ss.ss_family == AF_INET6)
        peer = ((const struct sockaddr_in6 *)&ss)->sin6_addr;
    else
        return 1;
    for (int i = 0; i < acceptor.nallow; i++)
        if (memcmp(&acceptor.allow[i], &peer, sizeof(peer)) == 0)
            return 1;
    if (IN6_IS_ADDR_V4MAPPED(&peer))
        inet_ntop(AF_INET, &peer.s6_addr[12], name, sizeof(name));
    else
        inet_ntop(AF_INET6, &peer, name, sizeof(name));
    log_limited(&rl, LOG_WARNING, "accept: %s is not in FCGI_WEB_SERVER_ADDRS: closed", name);
    return 0;
}

/* a connection whose request head is in (gate.h): to the queue, or 503
 * at once when the queue is full (the setup threads are all held) */
static void
accept_ready(int fd, int64_t deadline, unsigned reqid)
{
    accept_queued_t *q = malloc(sizeof(*q));
    int r = -1;

    if (q) {
        *q = (accept_queued_t){ fd, deadline };
        pthread_mutex_lock(&acceptor.mu);
        if (deadline > acceptor.watch_until)
            acceptor.watch_until = deadline;   /* the watchdog ticks from now */
        r = ring_push(&acceptor.q, q);
        if (r == 0)
            pthread_cond_signal(&acceptor.cv);
        pthread_mutex_unlock(&acceptor.mu);
    }
    if (r < 0) {
        free(q);
        gate_refuse(fd, reqid, "the queue for the setup threads is full");
    }
}

int
accept_next(int64_t *deadline)
{
    pthread_mutex_lock(&acceptor.mu);
    while (acceptor.q.len == 0)
        pthread_cond_wait(&acceptor.cv, &acceptor.mu);
    accept_queued_t *q = ring_pop(&acceptor.q);
    pthread_mutex_unlock(&acceptor.mu);
    int fd = q->fd;
    *deadline = q->deadline;
    free(q);
    return fd;
}

/* a connection for the gate: a setup thread reads its request once the
 * head is in; the read timeout is a last guard (the watchdog cuts) */
static void
accept_take(int fd)
{
    static const struct timeval tv = { ACCEPT_READ_TIMEOUT, 0 };

    if (!accept_allowed(fd)) {
        close(fd);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    gate_add(fd, mono_ms());
}

/* accept one connection: 0; 1: none now; -1 when the listen socket is gone */
static int
accept_one(int listen_fd)
{
    static ratelimit_t rl;

    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        accept_take(fd);
        return 0;
    }
    switch (errno) {
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
        log_limited(&rl, LOG_WARNING, "accept: %s (retrying)", strerror(errno));
        usleep(100000);     /* until a stream ends and gives one back */
        return 1;
    case EAGAIN:
        return 1;           /* none waiting (or another process took it) */
    case ECONNABORTED: case EPROTO: case EINTR:
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
accept_fds_of(struct msghdr *m, int *fds, int max)
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
accept_is_stream_socket(int fd)
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
accept_take_handoffs(int s)
{
    static ratelimit_t rl;
    char tag[2];
    union { struct cmsghdr h; char b[CMSG_SPACE(ACCEPT_HANDOFF_FDS * sizeof(int))]; } ctl;
    int fds[ACCEPT_HANDOFF_FDS];

    for (int k = 0; k < ACCEPT_HANDOFF_BATCH; k++) {
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
        int n = accept_fds_of(&m, fds, ACCEPT_HANDOFF_FDS);
        if (r == 1 && tag[0] == HANDOFF_TAG && n == 1 && !(m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
            && accept_is_stream_socket(fds[0])) {
            accept_take(fds[0]);
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
    struct pollfd p[4] = { { listen_fd, POLLIN, 0 }, { handoff_fd, POLLIN, 0 },
                           { gate_fd(), POLLIN, 0 }, { acceptor.wake, POLLIN, 0 } };

    /* the listen socket is polled: accept must not wait for a connection
     * another process (sharing the socket) took first */
    if (listen_fd >= 0)
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        int64_t now = mono_ms();
        int wait = gate_timeout(now);
        pthread_mutex_lock(&acceptor.mu);
        int watching = acceptor.watch_until > now;
        pthread_mutex_unlock(&acceptor.mu);
        if (watching && (wait < 0 || wait > ACCEPT_TICK_MS))
            wait = ACCEPT_TICK_MS;
        if (poll(p, 4, wait) < 0 && errno != EINTR)
            log_limited(&rl, LOG_WARNING, "accept: poll: %s", strerror(errno));
        if (p[1].revents)
            accept_take_handoffs(handoff_fd);
        if (p[0].revents)
            for (int k = 0; k < ACCEPT_BATCH; k++) {
                int r = accept_one(listen_fd);
                if (r < 0)
                    return;
                if (r > 0)
                    break;
            }
        now = mono_ms();
        if (p[3].revents)
            accept_take_lingering(now);
        gate_run(now);
        accept_watchdog(now);
    }
}

accept_addr_t
accept_listen_addr(const char *addr, char *err, size_t errlen)
{
    const char *colon = strchr(addr, ':');
    struct sockaddr_un un;
    unsigned long port = 0;

    if (strchr(addr, '/')) {
        if (colon) {
            snprintf(err, errlen, "a unix socket path without ':'");
            return ACCEPT_ADDR_BAD;
        }
        if (strlen(addr) >= sizeof(un.sun_path)) {
            snprintf(err, errlen, "a unix socket path of at most %zu bytes",
                sizeof(un.sun_path) - 1);
            return ACCEPT_ADDR_BAD;
        }
        return ACCEPT_ADDR_UNIX;
    }
    if (!colon || !colon[1]) {
        snprintf(err, errlen, "HOST:PORT, or a unix socket path (with a '/')");
        return ACCEPT_ADDR_BAD;
    }
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || port > ACCEPT_PORT_MAX) {
            snprintf(err, errlen, "HOST:PORT with a port from 1 to %d", ACCEPT_PORT_MAX);
            return ACCEPT_ADDR_BAD;
        }
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port < 1 || port > ACCEPT_PORT_MAX) {
        snprintf(err, errlen, "HOST:PORT with a port from 1 to %d", ACCEPT_PORT_MAX);
        return ACCEPT_ADDR_BAD;
    }
    return ACCEPT_ADDR_TCP;
}
