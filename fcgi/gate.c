/*
 * gate.c -- connections waiting for their request head (see gate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "accept.h"
#include "gate.h"
#include "log.h"
#include "record.h"

#define GATE_EV_BATCH      64

typedef struct gate_conn {
    struct gate_conn *prev, *next;       /* oldest first: deadlines in order */
    int          fd;
    int          closing;           /* answered: drained until the peer closes */
    int64_t      deadline;          /* monotonic ms */
} gate_conn_t;

static struct {
    int            epfd;
    gate_conn_t   *head, *tail;
    size_t         n, max;
    gate_conn_t   *closing, *closing_tail;  /* (their own list: ordered too) */
    unsigned long  refused;         /* 503s so far */
    void         (*ready)(int, int64_t, unsigned);
    unsigned char  peek[GATE_PEEK_MAX];
} gates = { .epfd = -1 };

int
gate_init(void (*ready)(int fd, int64_t deadline, unsigned reqid))
{
    struct rlimit rl;

    gates.ready = ready;
    gates.max = GATE_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 2 < gates.max)
        gates.max = rl.rlim_cur / 2 > 16 ? rl.rlim_cur / 2 : 16;
    gates.epfd = epoll_create1(EPOLL_CLOEXEC);
    return gates.epfd < 0 ? -1 : 0;
}

int
gate_fd(void)
{
    return gates.epfd;
}

/*
 * Is the head of a request in B (N bytes peeked)?  1: BEGIN_REQUEST and
 * the PARAMS up to the empty record are there, *REQID set; 0: not yet;
 * -1: not FastCGI (libfcgi answers that).
 */
static int
gate_head_in(const unsigned char *b, size_t n, unsigned *reqid)
{
    size_t off = 0;
    int begun = 0;

    while (off + RECORD_HDR <= n) {
        const unsigned char *h = b + off;
        if (h[0] != 1)
            return -1;
        size_t len = (size_t)h[4] << 8 | h[5];
        if (h[1] == FCGI_BEGIN_REQUEST) {
            begun = 1;
            *reqid = (unsigned)h[2] << 8 | h[3];
        }
        if (h[1] == FCGI_PARAMS && len == 0 && begun)
            return 1;
        off += RECORD_HDR + len + h[6];
    }
    return 0;
}

static void
gate_unlink_conn(gate_conn_t *c)
{
    gate_conn_t **head = c->closing ? &gates.closing : &gates.head;
    gate_conn_t **tail = c->closing ? &gates.closing_tail : &gates.tail;

    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        *tail = c->prev;
    epoll_ctl(gates.epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (!c->closing)
        gates.n--;
}

static int
gate_link_conn(gate_conn_t *c)
{
    /* edge-triggered: a peeked head stays in the buffer, and only new
     * bytes are news */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };
    gate_conn_t **head = c->closing ? &gates.closing : &gates.head;
    gate_conn_t **tail = c->closing ? &gates.closing_tail : &gates.tail;

    if (epoll_ctl(gates.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return -1;
    c->prev = *tail;
    c->next = NULL;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
    if (!c->closing)
        gates.n++;
    return 0;
}

void
gate_close_later(int fd, int64_t until)
{
    gate_conn_t *c = calloc(1, sizeof(*c));

    if (c) {
        c->fd = fd;
        c->closing = 1;
        c->deadline = until;
        if (gate_link_conn(c) == 0)
            return;
        free(c);
    }
    close(fd);
}

static void
gate_close_conn(gate_conn_t *c)
{
    gate_unlink_conn(c);
    close(c->fd);
    free(c);
}

/* a closing connection is readable: take what came, close at its end */
static void
gate_drain_conn(gate_conn_t *c)
{
    char junk[4096];

    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            break;
    }
    gate_close_conn(c);                  /* its end, an error, or too much */
}

void
gate_refuse(int fd, unsigned reqid, const char *why)
{
    static ratelimit_t rl;
    static const char head[] = "Status: 503 Service Unavailable\r\nRetry-After: 1\r\n"
        "Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n"
        "{\"error\": \"unavailable\", \"message\": \"server busy\"}\n";
    unsigned char out[RECORD_HDR + sizeof(head) + RECORD_TAIL];
    char junk[4096];

    gates.refused++;
    log_limited(&rl, LOG_WARNING, "503 for a connection: %s (%lu so far)", why, gates.refused);
    /* take what it sent, so that closing does not reset the connection
     * before the web server has read the answer */
    for (int i = 0; i < 16 && recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; i++)
        ;
    record_header(out, RECORD_STDOUT, reqid, sizeof(head) - 1);
    memcpy(out + RECORD_HDR, head, sizeof(head) - 1);
    record_tail(out + RECORD_HDR + sizeof(head) - 1, reqid);
    ssize_t r = send(fd, out, RECORD_HDR + sizeof(head) - 1 + RECORD_TAIL,
        MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)r;
    shutdown(fd, SHUT_WR);
    close(fd);
}

/* the request id of C's head so far (1 when its BEGIN_REQUEST is not in) */
static unsigned
gate_peeked_reqid(int fd)
{
    unsigned reqid = 1;
    ssize_t n = recv(fd, gates.peek, sizeof(gates.peek), MSG_PEEK | MSG_DONTWAIT);
    if (n > 0)
        gate_head_in(gates.peek, (size_t)n, &reqid);
    return reqid ? reqid : 1;
}

static void
gate_refuse_conn(gate_conn_t *c, const char *why)
{
    gate_unlink_conn(c);
    gate_refuse(c->fd, gate_peeked_reqid(c->fd), why);
    free(c);
}

void
gate_add(int fd, int64_t now)
{
    gate_conn_t *c = calloc(1, sizeof(*c));

    if (!c) {
        gate_refuse(fd, 1, "out of memory");
        return;
    }
    if (gates.n >= gates.max)
        gate_refuse_conn(gates.head, "too many connections waiting for their request");
    c->fd = fd;
    c->deadline = now + ACCEPT_READ_TIMEOUT * 1000;
    if (gate_link_conn(c) < 0) {
        free(c);
        gate_refuse(fd, 1, strerror(errno));
    }
}

/* C is readable: is its head in? */
static void
gate_look(gate_conn_t *c)
{
    unsigned reqid = 1;
    ssize_t n = recv(c->fd, gates.peek, sizeof(gates.peek), MSG_PEEK | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int in = n > 0 ? gate_head_in(gates.peek, (size_t)n, &reqid) : 0;
    if (n > 0 && (in != 0 || (size_t)n == sizeof(gates.peek))) {
        gate_unlink_conn(c);
        gates.ready(c->fd, c->deadline, reqid ? reqid : 1);
        free(c);
        return;
    }
    if (n <= 0) {                   /* gone before its request was in */
        gate_unlink_conn(c);
        close(c->fd);
        free(c);
    }
}

void
gate_run(int64_t now)
{
    struct epoll_event ev[GATE_EV_BATCH];
    int n = epoll_wait(gates.epfd, ev, GATE_EV_BATCH, 0);

    for (int i = 0; i < n; i++) {
        gate_conn_t *c = ev[i].data.ptr;
        if (c->closing)
            gate_drain_conn(c);
        else
            gate_look(c);
    }
    while (gates.head && gates.head->deadline <= now)
        gate_refuse_conn(gates.head, "its request did not come in time");
    while (gates.closing && gates.closing->deadline <= now)
        gate_close_conn(gates.closing);
}

int
gate_timeout(int64_t now)
{
    int64_t at = gates.head ? gates.head->deadline : -1;

    if (gates.closing && (at < 0 || gates.closing->deadline < at))
        at = gates.closing->deadline;
    if (at < 0)
        return -1;
    return at > now ? (int)(at - now) : 0;
}
