/*
 * hub.c -- the SUB socket, subscriptions, sync markers and fan-out of one
 * zsse-fcgi process (design in hub.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "channel.h"
#include "hub.h"
#include "log.h"
#include "sse.h"
#include "wire.h"

#define NB 1024                     /* channel buckets */

typedef struct chan {
    struct chan *next;
    stream_t   **v;
    size_t       n, cap;
    size_t       len;
    char         name[];
} chan_t;

typedef struct cmd {
    struct cmd *next;
    int         reg;                /* 1 register, 0 unregister */
    stream_t   *s;
} cmd_t;

static struct {
    void           *ctx, *sub, *mon, *ctl;
    char           *control_ep;
    int             efd;
    pthread_t       thread;
    pthread_mutex_t mu;             /* cmds */
    cmd_t          *cmds, **cmds_tail;
    atomic_int      stop;
    stream_t       *streams;        /* registered */
    chan_t         *chans[NB];
    int             ever_connected;
    uint64_t        nonce_seq;
    time_t          last_renew;
    buf_t           frame[2];       /* an event framed per sse_format_t, reused */
} H = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* --- queued events ---------------------------------------------------------- */

void
qev_unref(qev_t *e)
{
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(e);
}

static qev_t *
qev_new(const wire_event_t *we, uint32_t refs)
{
    qev_t *e = malloc(sizeof(*e) + we->event_len + we->data_len + 2);
    if (!e)
        return NULL;
    e->refs = refs;
    e->id = we->id;
    e->kind = we->kind;
    e->event_len = (uint8_t)we->event_len;
    e->data_len = (uint32_t)we->data_len;
    e->event = e->blob;
    memcpy(e->event, we->event, we->event_len);
    e->event[we->event_len] = '\0';
    e->data = e->event + we->event_len + 1;
    memcpy(e->data, we->data, we->data_len);
    e->data[we->data_len] = '\0';
    return e;
}

/* --- streams (their side) ----------------------------------------------------- */

int
stream_init(stream_t *s)
{
    memset(s, 0, sizeof(*s));
    if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -1;
    s->qcap = STREAM_QUEUE_MIN;
    if (!(s->q = calloc(s->qcap, sizeof(qev_t *)))) {
        close(s->efd);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    return 0;
}

void
stream_fini(stream_t *s)
{
    qev_t *e;
    while ((e = stream_pop(s)))
        qev_unref(e);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    s->nchannels = 0;
    free(s->q);
    free(s->pend);
    close(s->efd);
    pthread_mutex_destroy(&s->mu);
}

static void
wake(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r;                /* EAGAIN: the counter is already non-zero */
}

void
stream_clear_wake(stream_t *s)
{
    uint64_t v;
    ssize_t r = read(s->efd, &v, sizeof(v));
    (void)r;
}

qev_t *
stream_pop(stream_t *s)
{
    qev_t *e = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->qlen) {
        e = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

static int
command(stream_t *s, int reg)
{
    cmd_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->reg = reg;
    c->s = s;
    pthread_mutex_lock(&H.mu);
    *H.cmds_tail = c;
    H.cmds_tail = &c->next;
    pthread_mutex_unlock(&H.mu);
    wake(H.efd);
    return 0;
}

int
hub_register(stream_t *s)
{
    return command(s, 1);
}

void
hub_unregister(stream_t *s)
{
    struct pollfd p = { s->efd, POLLIN, 0 };

    while (command(s, 0) < 0)
        usleep(1000);
    /* wait until the hub has let go of S: it clears "registered" */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int done = s->registered == -1;
        pthread_mutex_unlock(&s->mu);
        if (done)
            break;
        poll(&p, 1, 100);
        stream_clear_wake(s);
    }
}

/* --- the hub's tables ----------------------------------------------------------- */

static size_t
hash(const char *s, size_t n)
{
    return (size_t)(str_hash(s, n) % NB);
}

static chan_t *
chan_get(const char *name, size_t len, int create)
{
    chan_t **pp = &H.chans[hash(name, len)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->name, name, len) == 0)
            return *pp;
    if (!create || !(*pp = calloc(1, sizeof(chan_t) + len + 1)))
        return NULL;
    (*pp)->len = len;
    memcpy((*pp)->name, name, len + 1);     /* keeps the '\0': the topic */
    zmq_setsockopt(H.sub, ZMQ_SUBSCRIBE, (*pp)->name, len + 1);
    return *pp;
}

static void
chan_remove(chan_t *c, stream_t *s)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] == s) {
            c->v[i] = c->v[--c->n];
            break;
        }
    if (c->n)
        return;
    zmq_setsockopt(H.sub, ZMQ_UNSUBSCRIBE, c->name, c->len + 1);
    chan_t **pp = &H.chans[hash(c->name, c->len)];
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    free(c->v);
    free(c);
}

/* subscribe a fresh sync topic behind S's channels */
static void
sync_stream(stream_t *s)
{
    int n = snprintf(s->nonce, sizeof(s->nonce), "%c%d.%" PRIu64, WIRE_SYNC_BYTE,
        (int)getpid(), ++H.nonce_seq);
    s->nonce[n] = '\0';
    zmq_setsockopt(H.sub, ZMQ_SUBSCRIBE, s->nonce, (size_t)n + 1);
}

static void
do_register(stream_t *s)
{
    for (size_t i = 0; i < s->nchannels; i++) {
        chan_t *c = chan_get(s->channels[i], strlen(s->channels[i]), 1);
        if (!c)
            continue;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 4;
            stream_t **v = realloc(c->v, cap * sizeof(*v));
            if (!v)
                continue;
            c->v = v;
            c->cap = cap;
        }
        c->v[c->n++] = s;
    }
    s->hub_next = H.streams;
    H.streams = s;
    pthread_mutex_lock(&s->mu);
    s->registered = 1;
    pthread_mutex_unlock(&s->mu);
    sync_stream(s);
}

static void
do_unregister(stream_t *s)
{
    stream_t **pp = &H.streams;
    while (*pp && *pp != s)
        pp = &(*pp)->hub_next;
    if (*pp) {
        *pp = s->hub_next;
        for (size_t i = 0; i < s->nchannels; i++) {
            chan_t *c = chan_get(s->channels[i], strlen(s->channels[i]), 0);
            if (c)
                chan_remove(c, s);
        }
        if (s->nonce[0])
            zmq_setsockopt(H.sub, ZMQ_UNSUBSCRIBE, s->nonce, strlen(s->nonce) + 1);
    }
    pthread_mutex_lock(&s->mu);
    s->registered = -1;
    pthread_mutex_unlock(&s->mu);
    wake(s->efd);
}

static void
run_commands(void)
{
    cmd_t *c;

    stream_clear_wake(&(stream_t){ .efd = H.efd });
    pthread_mutex_lock(&H.mu);
    c = H.cmds;
    H.cmds = NULL;
    H.cmds_tail = &H.cmds;
    pthread_mutex_unlock(&H.mu);
    while (c) {
        cmd_t *next = c->next;
        if (c->reg)
            do_register(c->s);
        else
            do_unregister(c->s);
        free(c);
        c = next;
    }
}

static void
on_marker(const char *topic, size_t len)
{
    for (stream_t *s = H.streams; s; s = s->hub_next) {
        if (strlen(s->nonce) + 1 != len || memcmp(s->nonce, topic, len) != 0)
            continue;
        zmq_setsockopt(H.sub, ZMQ_UNSUBSCRIBE, s->nonce, len);
        s->nonce[0] = '\0';
        pthread_mutex_lock(&s->mu);
        s->synced = 1;
        pthread_mutex_unlock(&s->mu);
        wake(s->efd);
        return;
    }
}

/* double S's queue (under its lock); -1 when it is at its limit */
static int
queue_grow(stream_t *s)
{
    size_t cap = s->qcap * 2;
    qev_t **q;

    if (s->qcap >= STREAM_QUEUE_MAX || !(q = malloc(cap * sizeof(*q))))
        return -1;
    for (size_t i = 0; i < s->qlen; i++)
        q[i] = s->q[(s->qhead + i) % s->qcap];
    free(s->q);
    s->q = q;
    s->qhead = 0;
    s->qcap = cap;
    return 0;
}

/* queue E on S, taking a reference (under S's lock); 1 when S's thread
 * must be woken */
static int
enqueue(stream_t *s, qev_t *e)
{
    int was_empty = s->qlen == 0;

    if (s->qlen == s->qcap && queue_grow(s) < 0) {
        s->overflow = 1;
        return 1;
    }
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    s->q[(s->qhead + s->qlen++) % s->qcap] = e;
    /* a stream drains its whole queue when woken (after clearing its
     * eventfd): only the first event into an empty queue must wake it */
    return was_empty;
}

/* one FastCGI STDOUT record holding BODY, to S's socket without blocking
 * (under S's lock).  0: all sent; 1: nothing sent; 2: a part sent, the
 * rest kept in S->pend; -1: the connection failed */
static int
direct_send(stream_t *s, const char *body, size_t len)
{
    unsigned char h[8] = { 1, 6, (unsigned char)(s->reqid >> 8), (unsigned char)s->reqid,
                           (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };
    struct iovec iov[2] = { { h, 8 }, { (void *)body, len } };
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
    ssize_t n;

    do
        n = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)(len + 8))
        return 0;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    if (n == 0)
        return 1;
    size_t rest = len + 8 - (size_t)n;
    if (!(s->pend = malloc(rest)))
        return -1;
    s->pend_len = rest;
    if ((size_t)n < 8) {
        memcpy(s->pend, h + n, 8 - (size_t)n);
        memcpy(s->pend + 8 - n, body, len);
    } else {
        memcpy(s->pend, body + (n - 8), rest);
    }
    return 2;
}

/* WE framed in FORMAT, made at most once per event in the hub's own
 * buffer (MADE: which formats are done, for this event); NULL when it does
 * not fit one FastCGI record (65535 bytes): it goes through the queue */
static const buf_t *
framed(int format, const wire_event_t *we, int made[2])
{
    buf_t *b = &H.frame[format];

    if (!made[format]) {
        buf_reset(b);
        made[format] = sse_event(b, (sse_format_t)format, we->id, we->event, we->event_len,
            we->data, we->data_len, we->kind) == 0 ? 1 : -1;
    }
    return made[format] > 0 ? b : NULL;
}

static void
fan_out(const wire_event_t *we)
{
    char name[256];
    chan_t *c;
    int made[2] = { 0, 0 };
    time_t now = time(NULL);

    memcpy(name, we->channel, we->channel_len);
    name[we->channel_len] = '\0';
    if (!(c = chan_get(name, we->channel_len, 0)) || c->n == 0)
        return;
    qev_t *e = NULL;            /* made on first need; the hub holds one ref */
    for (size_t i = 0; i < c->n; i++) {
        stream_t *s = c->v[i];
        int wakeup = 0, queue = 1;
        pthread_mutex_lock(&s->mu);
        if (s->direct) {
            if (we->id <= s->last) {
                pthread_mutex_unlock(&s->mu);   /* already written */
                continue;
            }
            const buf_t *b = framed(s->format, we, made);
            int r = b ? direct_send(s, b->data, b->len) : 1;
            if (r == 0 || r == 2) {
                s->last = we->id;
                s->last_write = now;
            }
            if (r != 0) {               /* the thread takes over */
                s->direct = 0;
                s->dead = r < 0;
                wakeup = 1;
            }
            queue = r == 1;             /* nothing of it went out */
        }
        if (queue && !e && !(e = qev_new(we, 1))) {
            s->overflow = 1;            /* out of memory: drop the stream */
            wakeup = 1;
        } else if (queue) {
            wakeup |= enqueue(s, e);    /* the stream's thread writes it */
        }
        pthread_mutex_unlock(&s->mu);
        if (wakeup)
            wake(s->efd);
    }
    qev_unref(e);
}

static void
on_events(void)
{
    for (int i = 0; i < 1024; i++) {
        wire_frames_t w;
        wire_event_t ev;
        int r = wire_recv_event(H.sub, ZMQ_DONTWAIT, &w, &ev, true);
        if (r == 0)
            return;
        if (r == 1)
            fan_out(&ev);
        else if (r == 2)
            on_marker(ev.channel, ev.channel_len);
        if (r >= 1)
            wire_frames_close(&w);
    }
}

/* the broker (re)connected: after a restart it has forgotten nothing we
 * need (ids go on), but events may have been published while our SUB was
 * away -- every stream re-syncs and replays from its last id */
static void
on_monitor(void)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, H.mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    uint16_t ev = 0;
    if (zmq_msg_size(&m) >= 2)
        memcpy(&ev, zmq_msg_data(&m), 2);
    zmq_msg_close(&m);
    wire_drain(H.mon);
    if (ev != ZMQ_EVENT_CONNECTED)
        return;
    if (H.ever_connected) {
        log_msg(LOG_INFO, "broker reconnected: resuming %s streams", H.streams ? "open" : "no");
        for (stream_t *s = H.streams; s; s = s->hub_next) {
            if (s->nonce[0])
                zmq_setsockopt(H.sub, ZMQ_UNSUBSCRIBE, s->nonce, strlen(s->nonce) + 1);
            pthread_mutex_lock(&s->mu);
            int was_synced = s->synced;
            s->synced = 0;
            s->resume = was_synced;
            s->direct = 0;              /* the thread replays, then goes on */
            pthread_mutex_unlock(&s->mu);
            wake(s->efd);
            sync_stream(s);
        }
    }
    H.ever_connected = 1;
}

static void
ctl_send_leases(const char *op)
{
    int n = 0;
    for (stream_t *s = H.streams; s; s = s->hub_next)
        n += s->lease[0] != '\0';
    if (!n)
        return;
    zmq_send(H.ctl, "", 0, ZMQ_SNDMORE);
    zmq_send(H.ctl, op, strlen(op), ZMQ_SNDMORE);
    for (stream_t *s = H.streams; s; s = s->hub_next)
        if (s->lease[0])
            zmq_send(H.ctl, s->lease, strlen(s->lease), --n ? ZMQ_SNDMORE : 0);
}

static void *
hub_main(void *arg)
{
    (void)arg;
    zmq_pollitem_t items[3] = {
        { H.sub, 0, ZMQ_POLLIN, 0 },
        { H.mon, 0, ZMQ_POLLIN, 0 },
        { NULL, H.efd, ZMQ_POLLIN, 0 },
    };

    while (!atomic_load(&H.stop)) {
        if (zmq_poll(items, 3, 1000) < 0 && errno != EINTR)
            break;
        if (items[2].revents & ZMQ_POLLIN)
            run_commands();
        if (items[1].revents & ZMQ_POLLIN)
            on_monitor();
        if (items[0].revents & ZMQ_POLLIN)
            on_events();
        /* replies to renew are not awaited: drop them */
        while (zmq_recv(H.ctl, NULL, 0, ZMQ_DONTWAIT) >= 0)
            ;
        time_t now = time(NULL);
        if (now - H.last_renew >= WIRE_LEASE_RENEW) {
            H.last_renew = now;
            ctl_send_leases("renew");
        }
    }
    run_commands();
    ctl_send_leases("release");
    return NULL;
}

int
hub_start(void *zctx, const char *events, const char *control)
{
    int zero = 0, linger = 500, hwm = 1000000;

    H.ctx = zctx;
    H.cmds_tail = &H.cmds;
    buf_init(&H.frame[SSE_NAMED], 65535);
    buf_init(&H.frame[SSE_ENVELOPE], 65535);
    H.last_renew = time(NULL);
    if ((H.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -1;
    if (!(H.sub = zmq_socket(zctx, ZMQ_SUB)) || !(H.ctl = zmq_socket(zctx, ZMQ_DEALER)) ||
        !(H.mon = zmq_socket(zctx, ZMQ_PAIR)))
        return -1;
    zmq_setsockopt(H.sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(H.sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(H.ctl, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(H.mon, ZMQ_LINGER, &zero, sizeof(zero));
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://zsse-hub-monitor-%d", (int)getpid());
    if (zmq_socket_monitor(H.sub, mon_ep, ZMQ_EVENT_CONNECTED) < 0 ||
        zmq_connect(H.mon, mon_ep) < 0 ||
        zmq_connect(H.sub, events) < 0 || zmq_connect(H.ctl, control) < 0)
        return -1;
    return pthread_create(&H.thread, NULL, hub_main, NULL) == 0 ? 0 : -1;
}

void
hub_stop(void)
{
    if (!H.sub)
        return;
    atomic_store(&H.stop, 1);
    wake(H.efd);
    pthread_join(H.thread, NULL);
    zmq_socket_monitor(H.sub, NULL, 0);
    zmq_close(H.mon);
    zmq_close(H.sub);
    zmq_close(H.ctl);
    H.sub = NULL;
    buf_free(&H.frame[SSE_NAMED]);
    buf_free(&H.frame[SSE_ENVELOPE]);
}
