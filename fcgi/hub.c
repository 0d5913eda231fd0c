/*
 * hub.c -- the hub's loop: the SUB socket's events fanned out to the
 * streams, commands from the threads, timers, the sweep, leases and the
 * graceful stop, for every stream of one zsse-fcgi process (design in
 * hub.h; its parts in stream.h, chantab.h, writer.h, heap.h, resume.h).
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "chantab.h"
#include "clock.h"
#include "control.h"
#include "ctl.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "mercure.h"
#include "resume.h"
#include "revoke.h"
#include "sse.h"
#include "wire.h"
#include "writer.h"

#define HUB_EPOLL_BATCH 256
#define HUB_BURST_MAX   64              /* events of one channel written together */
#define HUB_RESUME_TRIES 3              /* replays tried after a broker restart */
#define HUB_RECV_BATCH  1024            /* messages taken from SUB per turn of the loop */
#define HUB_SWEEP_MS    1000            /* ms between sweeps for stall_timeout */
#define HUB_EVENTS_HWM  1000000         /* events queued on SUB before libzmq drops */

typedef enum { CMD_REGISTER, CMD_UNREGISTER, CMD_ADOPT, CMD_RESUMED } hub_cmd_kind_t;

typedef struct cmd {
    struct cmd *next;
    hub_cmd_kind_t  kind;
    stream_t   *s;
    stream_qev_t      *e;                  /* CMD_RESUMED: the framed replay, NULL: failed */
} hub_cmd_t;

static struct {
    void           *sub, *mon;
    int             efd;            /* commands are waiting */
    int             epfd;           /* the adopted streams' sockets */
    pthread_t       thread;
    pthread_mutex_t mu;             /* cmds */
    hub_cmd_t          *cmds, **cmds_tail;
    atomic_int      stop;
    stream_t       *streams;        /* registered */
    stream_t       *doomed;         /* to close once the current loop is done */
    int             ever_connected;
    int64_t         last_renew;     /* ms */
    char          (*rel)[CTL_LEASE_ID_LEN + 1];     /* leases to release */
    size_t          nrel, caprel;
    heap_t          timers;         /* the adopted streams, by stream_t.timer.key */
    buf_t           frame[SSE_FORMATS];   /* an event framed per sse_format_t, reused */
    buf_t           qframe;         /* a queued event, framed */
    atomic_int      drain_ms;       /* hub_drain()'s window, 0: not asked */
    atomic_int      drained;        /* ... and done */
    revoke_t       *revoked;        /* the broker's table of revoked tokens */
} hub = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .efd = -1, .epfd = -1,
};

/* --- commands from the threads ------------------------------------------------------ */

/* wake the hub (its eventfd); any thread */
static void
hub_wake(void)
{
    uint64_t one = 1;
    ssize_t r = write(hub.efd, &one, sizeof(one));
    (void)r;                /* EAGAIN: the counter is already non-zero */
}

static int
hub_command(hub_cmd_kind_t kind, stream_t *s, stream_qev_t *e)
{
    hub_cmd_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->kind = kind;
    c->s = s;
    c->e = e;
    pthread_mutex_lock(&hub.mu);
    *hub.cmds_tail = c;
    hub.cmds_tail = &c->next;
    pthread_mutex_unlock(&hub.mu);
    hub_wake();
    return 0;
}

int
hub_register(stream_t *s)
{
    return hub_command(CMD_REGISTER, s, NULL);
}

void
hub_unregister(stream_t *s)
{
    struct pollfd p = { s->efd, POLLIN, 0 };

    while (hub_command(CMD_UNREGISTER, s, NULL) < 0)
        usleep(1000);
    /* wait until the hub has let go of S */
    while (stream_state(s) != STREAM_RELEASED) {
        poll(&p, 1, 100);
        stream_clear_wake(s);
    }
}

int
hub_adopt(stream_t *s)
{
    return hub_command(CMD_ADOPT, s, NULL);
}

/* --- registering (the channel table and markers: chantab.h) ------------------------ */

static void
hub_do_register(stream_t *s)
{
    chantab_add(s);
    s->hub_prev = NULL;
    s->hub_next = hub.streams;
    if (hub.streams)
        hub.streams->hub_prev = s;
    hub.streams = s;
    pthread_mutex_lock(&s->mu);
    stream_set_state(s, STREAM_SYNCING);
    pthread_mutex_unlock(&s->mu);
    chantab_sync(s);
}

/* forget S's channels and marker (S stays allocated) */
static void
hub_forget(stream_t *s)
{
    if (!stream_registered(s))
        return;
    if (s->hub_prev)
        s->hub_prev->hub_next = s->hub_next;
    else
        hub.streams = s->hub_next;
    if (s->hub_next)
        s->hub_next->hub_prev = s->hub_prev;
    chantab_remove(s);
}

static void
hub_do_unregister(stream_t *s)
{
    assert(stream_on_thread(s) && s->state != STREAM_RELEASED);
    hub_forget(s);
    pthread_mutex_lock(&s->mu);
    stream_set_state(s, STREAM_RELEASED);
    pthread_mutex_unlock(&s->mu);
    stream_wake(s);
}

/* --- writing to an adopted stream ---------------------------------------------------- */

static void
hub_set_pollout(stream_t *s, int on)
{
    if (s->pollout == on)
        return;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0),
                              .data.ptr = s };
    if (epoll_ctl(hub.epfd, EPOLL_CTL_MOD, s->out.fd, &ev) == 0)
        s->pollout = on;
}

/* close S later in this loop (not while a channel's list is walked) */
static void
hub_doom(stream_t *s, const char *why)
{
    if (!stream_running(s))
        return;                     /* doomed already, or dead */
    if (why)
        log_msg(LOG_WARNING, "stream %s: %s, dropped", s->path, why);
    stream_set_state(s, STREAM_DOOMED);
    s->doom_next = hub.doomed;
    hub.doomed = s;
}

/* queue E on S, taking a reference; 1 when S's thread must be woken (a
 * full queue sets S->overflow).  Under S's lock while its thread owns it. */
static int
hub_enqueue(stream_t *s, stream_qev_t *e)
{
    int was_empty = s->q.len == 0;

    if (ring_push(&s->q, e) < 0) {
        s->overflow = 1;
        return 1;
    }
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    /* a thread drains its whole queue when woken (after clearing its
     * eventfd): only the first event into an empty queue must wake it */
    return was_empty;
}

/* queued event E framed for S (a raw one is framed already) */
static int
hub_frame_queued(stream_t *s, const stream_qev_t *e, const char **p, size_t *n)
{
    if (e->kind == ZSSE_KIND_SSE) {
        *p = e->data;
        *n = e->data_len;
        return 0;
    }
    buf_reset(&hub.qframe);
    if (sse_event(&hub.qframe, (sse_format_t)s->route->format, e->id, e->event, e->event_len,
        e->data, e->data_len, e->kind) < 0)
        return -1;
    *p = hub.qframe.data;
    *n = hub.qframe.len;
    return 0;
}

/* something waits to be written to S */
static int
hub_backlog(const stream_t *s)
{
    return writer_pending(&s->out) || (s->state == STREAM_LIVE && s->q.len);
}

/* BODY to S now, nothing waiting before it: writer_send()'s result.
 * WRITER_PARTIAL arms EPOLLOUT; WRITER_FAILED dooms S. */
static writer_result_t
hub_write_now(stream_t *s, const char *body, size_t len, int64_t now)
{
    writer_result_t r = writer_send(&s->out, body, len);

    if (r == WRITER_FAILED) {
        hub_doom(s, NULL);
        return r;
    }
    if (r == WRITER_BLOCKED)
        return r;
    s->last_write = now;
    if (r == WRITER_PARTIAL) {
        s->stalled = now;           /* a slow client */
        hub_set_pollout(s, 1);
    }
    return r;
}

/* Write what waits for S: the tail of a record, then (when live) the
 * queued events.  Arms EPOLLOUT while anything is left. */
static void
hub_flush(stream_t *s, int64_t now)
{
    if (writer_pending(&s->out)) {
        writer_result_t w = writer_flush(&s->out);
        if (w == WRITER_FAILED) {
            hub_doom(s, NULL);
            return;
        }
        if (w != WRITER_BLOCKED)
            s->stalled = s->last_write = now;
    }
    while (!writer_pending(&s->out) && s->state == STREAM_LIVE && s->q.len) {
        stream_qev_t *e = ring_first(&s->q);
        const char *p;
        size_t n;
        if (e->kind == ZSSE_KIND_SSE || e->id > s->last) {
            if (hub_frame_queued(s, e, &p, &n) < 0) {
                hub_doom(s, "an event too large to frame");
                return;
            }
            writer_result_t r = hub_write_now(s, p, n, now);
            if (r == WRITER_FAILED)
                return;
            if (r == WRITER_BLOCKED)
                break;              /* the socket is full: EPOLLOUT */
            s->last = e->id;
            s->stalled = now;
        }
        stream_qev_unref(ring_pop(&s->q));
    }
    if (!hub_backlog(s))
        s->stalled = 0;
    else if (!s->stalled)
        s->stalled = now;
    hub_set_pollout(s, hub_backlog(s));
}

/* --- timers: a min-heap of the adopted streams (heap.h) --------------------------- */

/* the stream whose timer node is X */
static stream_t *
hub_timer_stream(heap_node_t *x)
{
    return (stream_t *)((char *)x - offsetof(stream_t, timer));
}

/* a lease to release once the lease connection is free (the hub never
 * waits for a stream thread taking a lease) */
static void
hub_release_lease(stream_t *s)
{
    if (!s->lease[0])
        return;
    if (hub.nrel == hub.caprel) {
        size_t cap = hub.caprel ? hub.caprel * 2 : 64;
        char (*p)[CTL_LEASE_ID_LEN + 1] = realloc(hub.rel, cap * sizeof(*p));
        if (!p) {
            s->lease[0] = '\0';        /* it expires unrenewed */
            return;
        }
        hub.rel = p;
        hub.caprel = cap;
    }
    size_t n = strnlen(s->lease, CTL_LEASE_ID_LEN);
    memcpy(hub.rel[hub.nrel], s->lease, n);
    hub.rel[hub.nrel++][n] = '\0';
    s->lease[0] = '\0';
}

/* send the releases gathered (WAIT: even if a lease is being taken) */
static void
hub_flush_releases(int wait)
{
    static const char *ids[CTL_LEASES_MAX];
    size_t done = 0;

    while (done < hub.nrel) {
        size_t n = 0;
        for (; n < CTL_LEASES_MAX && done + n < hub.nrel; n++)
            ids[n] = hub.rel[done + n];
        if (control_lease_send(CTL_RELEASE, ids, n, wait) < 0 && errno == EAGAIN)
            break;
        done += n;
    }
    if (done == 0)
        return;                 /* (hub.rel may still be NULL: nothing to move) */
    memmove(hub.rel, hub.rel + done, (hub.nrel - done) * sizeof(*hub.rel));
    hub.nrel -= done;
}

/* close an adopted stream; freed now, or when its resume job returns */
static void
hub_close_stream(stream_t *s)
{
    assert(s->state == STREAM_DOOMED);
    hub_forget(s);
    heap_remove(&hub.timers, &s->timer);
    epoll_ctl(hub.epfd, EPOLL_CTL_DEL, s->out.fd, NULL);
    writer_end(&s->out);
    close(s->out.fd);
    s->out.fd = -1;
    hub_release_lease(s);
    stream_drain(s);                /* (S may wait for its resume job) */
    stream_set_state(s, STREAM_DEAD);
    if (!s->jobs)
        stream_free(s);
}

static void
hub_close_doomed(void)
{
    while (hub.doomed) {
        stream_t *s = hub.doomed;
        hub.doomed = s->doom_next;
        hub_close_stream(s);
    }
}

/* when S must be looked at next: its heartbeat (due at HB_DUE) or the
 * end of its max_lifetime, whichever comes first; -1: never */
static int64_t
hub_next_timer(const stream_t *s, int64_t hb_due)
{
    const route_t *r = s->route;
    int64_t at = r->heartbeat ? hb_due : -1;

    if (r->max_lifetime) {
        int64_t end = s->opened + (int64_t)r->max_lifetime * 1000;
        if (at < 0 || end < at)
            at = end;
    }
    if (s->expires && (at < 0 || s->expires < at))
        at = s->expires;
    return at;
}

/* S's token has expired: the route's auth_expired_event (no id: the
 * client's Last-Event-ID stays), unless output is waiting -- then the
 * client is slow and only sees the response end */
static void
hub_expire(stream_t *s, int64_t now)
{
    const char *name = s->route->auth_expired_event;
    static const char data[] = "{\"reason\":\"token expired\"}";

    if (name && !hub_backlog(s)) {
        buf_reset(&hub.qframe);
        if (sse_event(&hub.qframe, SSE_NAMED, 0, name, strlen(name), data, sizeof(data) - 1,
            ZSSE_KIND_JSON) == 0)
            hub_write_now(s, hub.qframe.data, hub.qframe.len, now);
    }
    hub_doom(s, NULL);                  /* the client reconnects with a fresh token */
}

/* the timers due by NOW: max_lifetime ends the stream; a heartbeat goes
 * out unless the stream wrote since its entry was set -- it is then only
 * put back at its real due time */
static void
hub_timers(int64_t now)
{
    heap_node_t *x;

    while ((x = heap_min(&hub.timers)) && x->key <= now) {
        stream_t *s = hub_timer_stream(x);
        const route_t *r = s->route;
        if (r->max_lifetime && now - s->opened >= (int64_t)r->max_lifetime * 1000) {
            heap_remove(&hub.timers, &s->timer);
            hub_doom(s, NULL);          /* the client reconnects with Last-Event-ID */
            continue;
        }
        if (s->expires && now >= s->expires) {
            heap_remove(&hub.timers, &s->timer);
            hub_expire(s, now);
            continue;
        }
        int64_t every = (int64_t)r->heartbeat * 1000, due = s->last_write + every;
        if (r->heartbeat && due <= now) {
            /* (with output waiting, the client is slow: stall_timeout
             * decides, a comment would only queue behind it) */
            if (!hub_backlog(s) && stream_running(s)) {
                buf_reset(&hub.qframe);
                sse_comment(&hub.qframe, r->heartbeat_comment);
                hub_write_now(s, hub.qframe.data, hub.qframe.len, now);
            }
            s->last_write = now;
            due = now + every;
        }
        /* (not -1: a stream in the heap has a heartbeat or an end) */
        int64_t at = hub_next_timer(s, due);
        assert(at >= 0);
        heap_update(&hub.timers, &s->timer, at);
    }
    hub_close_doomed();
}

/* --- a graceful stop ---------------------------------------------------------------- */

/*
 * hub_drain(): every adopted stream gets "retry: R" with R drawn uniformly
 * from [W/10, W] and is ended, in a shuffled order.  A browser's
 * EventSource waits R before it reconnects (with Last-Event-ID), so N
 * clients come back to the next zsse-fcgi at about N / (0.9 W) a second
 * instead of all at once; none before W/10 (the restart itself).  A slow
 * stream with output waiting keeps the route's retry.
 */
static uint64_t
hub_drain_rand(uint64_t *x)                 /* xorshift64 */
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void
hub_drain_all(int64_t now)
{
    int window = atomic_load(&hub.drain_ms), lo = window / 10;
    uint64_t x = (uint64_t)now * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^ 1;
    size_t n = 0, i;
    stream_t **v, *s;

    for (s = hub.streams; s; s = s->hub_next)
        n += stream_adopted(s);
    v = n ? malloc(n * sizeof(*v)) : NULL;
    if (v) {
        n = 0;
        for (s = hub.streams; s; s = s->hub_next)
            if (stream_adopted(s))
                v[n++] = s;
        for (i = n; i > 1; i--) {               /* Fisher-Yates */
            size_t j = (size_t)(hub_drain_rand(&x) % i);
            stream_t *t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
        for (i = 0; i < n; i++) {
            s = v[i];
            int retry = lo + (int)(hub_drain_rand(&x) % (uint64_t)(window - lo + 1));
            if (!hub_backlog(s) && stream_running(s)) {
                buf_reset(&hub.qframe);
                buf_printf(&hub.qframe, "retry: %d\n\n", retry);
                hub_write_now(s, hub.qframe.data, hub.qframe.len, now);
            }
            hub_doom(s, NULL);
        }
        free(v);
    }
    /* hub_doom() stacks: the list closes in the reverse of the shuffled order */
    hub_close_doomed();
    log_msg(LOG_INFO, "stopping: %zu streams ended, their clients return within %d ms",
        n, window);
    atomic_store(&hub.drained, 1);
}

void
hub_drain(int window_ms)
{
    if (!hub.sub || window_ms <= 0)
        return;
    atomic_store(&hub.drain_ms, window_ms);
    hub_wake();
    for (int i = 0; i < 500 && !atomic_load(&hub.drained); i++)
        usleep(10000);                  /* at most 5 s */
}

/* --- resuming after a broker restart ----------------------------------------------- */

/* S's replay is back (on the resume thread): to the hub as a command */
static void
hub_resumed(stream_t *s, stream_qev_t *e)
{
    while (hub_command(CMD_RESUMED, s, e) < 0)
        usleep(1000);
}

/* ask the resume thread for S's replay from its last id (resume.h) */
static void
hub_post_job(stream_t *s)
{
    assert(s->state == STREAM_RESUME);
    if (resume_post(s, s->last, __atomic_load_n(&s->resyncs, __ATOMIC_ACQUIRE),
        hub_resumed) < 0) {
        hub_doom(s, "no memory or thread for its resume");
        return;
    }
    s->jobs++;
}

static void
hub_on_resumed(stream_t *s, stream_qev_t *e, int64_t now)
{
    assert(s->jobs > 0);
    s->jobs--;
    if (s->state == STREAM_DEAD) {
        stream_qev_unref(e);
        if (!s->jobs)
            stream_free(s);
        return;
    }
    if (s->state != STREAM_RESUME || s->jobs) {
        /* a newer resync supersedes this replay, or S is doomed */
        stream_qev_unref(e);
        return;
    }
    if (!e && ++s->resume_tries < HUB_RESUME_TRIES) {
        hub_post_job(s);                /* the broker may have gone away again */
        return;
    }
    if (!e) {
        /* the client reconnects with its Last-Event-ID */
        hub_doom(s, "its replay after the broker restart failed");
        return;
    }
    s->resume_tries = 0;
    /* before the live events queued meanwhile */
    if (ring_push_front(&s->q, e) < 0) {
        stream_qev_unref(e);
        hub_doom(s, "too many events waiting");
        return;
    }
    stream_set_state(s, STREAM_LIVE);
    hub_flush(s, now);
}

/* --- commands from the threads ----------------------------------------------------- */

static void
hub_do_adopt(stream_t *s, int64_t now)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };

    /* the hub's from here on (stream.h): live, or replaying again when
     * the broker restarted during the setup */
    assert(s->state == STREAM_SYNCED || (s->state == STREAM_SYNCING && s->resume));
    if (!s->resume)
        stream_set_state(s, STREAM_LIVE);
    else
        stream_set_state(s, s->state == STREAM_SYNCED ? STREAM_RESUME : STREAM_RESYNC);
    close(s->efd);                  /* no thread to wake any more */
    s->efd = -1;
    s->opened = s->last_write = now;
    assert(!heap_contains(&s->timer));
    if (epoll_ctl(hub.epfd, EPOLL_CTL_ADD, s->out.fd, &ev) < 0) {
        log_msg(LOG_ERR, "stream %s: epoll: %s", s->path, strerror(errno));
        hub_doom(s, NULL);
        return;
    }
    if (hub_refuses(s->claims)) {
        hub_doom(s, "its token was revoked");     /* (while it was set up) */
        return;
    }
    int64_t at = hub_next_timer(s, now + (int64_t)s->route->heartbeat * 1000);
    if (s->overflow || (at >= 0 && heap_push(&hub.timers, &s->timer, at) < 0)) {
        hub_doom(s, s->overflow ? "too many events waiting" : "out of memory");
        return;
    }
    if (s->state == STREAM_RESUME)
        hub_post_job(s);
    else if (s->state == STREAM_LIVE)
        hub_flush(s, now);              /* what came in during the setup */
    /* (RESYNC: its marker is awaited) */
}

static void
hub_run_commands(int64_t now)
{
    hub_cmd_t *c;

    uint64_t v;
    ssize_t r = read(hub.efd, &v, sizeof(v));     /* clear the wake-up */
    (void)r;
    pthread_mutex_lock(&hub.mu);
    c = hub.cmds;
    hub.cmds = NULL;
    hub.cmds_tail = &hub.cmds;
    pthread_mutex_unlock(&hub.mu);
    while (c) {
        hub_cmd_t *next = c->next;
        switch (c->kind) {
        case CMD_REGISTER:   hub_do_register(c->s); break;
        case CMD_UNREGISTER: hub_do_unregister(c->s); break;
        case CMD_ADOPT:      hub_do_adopt(c->s, now); break;
        case CMD_RESUMED:    hub_on_resumed(c->s, c->e, now); break;
        }
        free(c);
        c = next;
    }
}

/* --- events from the broker ---------------------------------------------------------- */

/* a sync topic came back (chantab.h): the probe, or a stream's marker */
static void
hub_on_marker(const char *topic, size_t len)
{
    stream_t *s = chantab_marker(topic, len, hub.streams);

    if (!s)
        return;
    if (s->state == STREAM_RESYNC) {
        stream_set_state(s, STREAM_RESUME);
        hub_post_job(s);
    } else if (s->state == STREAM_SYNCING) {
        pthread_mutex_lock(&s->mu);
        stream_set_state(s, STREAM_SYNCED);
        pthread_mutex_unlock(&s->mu);
        stream_wake(s);
    }
    /* (else doomed: it closes in this loop) */
}

/* the events EV[0..N) framed in FORMAT, made at most once per call of
 * hub_fan_out() in the hub's own buffer (MADE: which formats are done); NULL when it cannot be
 * framed */
static const buf_t *
hub_framed(int format, const wire_event_t *ev, int n, int made[SSE_FORMATS])
{
    buf_t *b = &hub.frame[format];

    if (!made[format]) {
        buf_reset(b);
        made[format] = 1;
        for (int i = 0; i < n && made[format] > 0; i++)
            if (sse_event(b, (sse_format_t)format, ev[i].id, ev[i].event, ev[i].event_len,
                ev[i].data, ev[i].data_len, ev[i].kind) < 0)
                made[format] = -1;
    }
    return made[format] > 0 ? b : NULL;
}

/* WE on S's queue; E: its queued copy, made on first need */
static void
hub_queue_event(stream_t *s, const wire_event_t *we, stream_qev_t **e, int64_t now)
{
    if (!*e && !(*e = stream_qev_new(we->id, we->kind, we->event, we->event_len, we->data,
        we->data_len, 1))) {
        if (stream_on_thread(s)) {
            pthread_mutex_lock(&s->mu);
            s->overflow = 1;        /* out of memory: the thread drops it */
            pthread_mutex_unlock(&s->mu);
            stream_wake(s);
        } else {
            hub_doom(s, "out of memory");
        }
        return;
    }
    if (stream_on_thread(s)) {
        pthread_mutex_lock(&s->mu);
        int w = hub_enqueue(s, *e);
        pthread_mutex_unlock(&s->mu);
        if (w)
            stream_wake(s);
        return;
    }
    hub_enqueue(s, *e);
    if (s->overflow)
        hub_doom(s, "too many events waiting");
    else if (s->state == STREAM_LIVE && !s->stalled)
        s->stalled = now;
}

/*
 * Events of one channel (EV[0..N), in id order: a burst, or part of a
 * wire RUNS frame) to a stream of
 * that channel: written at once when nothing waits before it -- framed
 * once for every such stream, one write -- else queued.  E[i]: EV[i]'s
 * queued copy, made on first need.
 */
static void
hub_deliver(stream_t *s, const wire_event_t *ev, int n, stream_qev_t **e, int made[SSE_FORMATS],
    int64_t now)
{
    int i = 0;

    if (s->state == STREAM_DEAD || s->state == STREAM_DOOMED)
        return;
    if (s->filter) {
        /* Mercure selectors (mercure.h): only the events it may see, one
         * by one through its queue */
        for (; i < n; i++)
            if (ev[i].id > s->last && mercure_accept(s->filter, &ev[i]))
                hub_queue_event(s, &ev[i], &e[i], now);
        if (s->state == STREAM_LIVE)
            hub_flush(s, now);
        return;
    }
    if (s->state == STREAM_LIVE && !hub_backlog(s)) {
        if (ev[n - 1].id <= s->last)
            return;                 /* the replay had them */
        if (ev[0].id <= s->last) {
            /* (adopted in the middle of them: rare) what it lacks goes
             * through its queue, framed one by one */
            while (ev[i].id <= s->last)
                i++;
            for (; i < n; i++)
                hub_queue_event(s, &ev[i], &e[i], now);
            hub_flush(s, now);
            return;
        }
        const buf_t *b = hub_framed(s->route->format, ev, n, made);
        if (!b) {
            hub_doom(s, "an event too large to frame");
            return;
        }
        writer_result_t r = hub_write_now(s, b->data, b->len, now);
        if (r == WRITER_FAILED)
            return;
        if (r != WRITER_BLOCKED) {
            s->last = ev[n - 1].id;     /* (a part may be pending: EPOLLOUT) */
            return;
        }
        s->stalled = now;           /* the socket is full: queue, EPOLLOUT */
        hub_set_pollout(s, 1);
    }
    for (; i < n; i++)
        hub_queue_event(s, &ev[i], &e[i], now);
}

static void
hub_fan_out(const wire_event_t *ev, int n, int64_t now)
{
    int made[SSE_FORMATS] = { 0 };
    stream_qev_t *e[HUB_BURST_MAX] = { NULL };   /* the hub holds one reference each */
    size_t nr;
    stream_t *const *readers = chantab_readers(ev[0].channel, ev[0].channel_len, &nr);

    for (size_t i = 0; i < nr; i++)
        hub_deliver(readers[i], ev, n, e, made, now);
    for (int i = 0; i < n; i++)
        stream_qev_unref(e[i]);
    hub_close_doomed();             /* READERS may change now */
}

/* the burst: events received one frame each but not yet delivered,
 * consecutive ones of one channel given out together (not a wire RUNS
 * frame, which hub_on_run() takes whole; the views in ev[] point into
 * w[], which cannot move: ZeroMQ keeps small frames inside the zmq_msg_t) */
static struct {
    wire_frames_t w[HUB_BURST_MAX];
    wire_event_t  ev[HUB_BURST_MAX];
    int           first, n;         /* the current burst: [first, n) */
} hub_burst;

static void
hub_burst_deliver(int64_t now)
{
    if (hub_burst.n > hub_burst.first)
        hub_fan_out(&hub_burst.ev[hub_burst.first], hub_burst.n - hub_burst.first, now);
    for (int i = hub_burst.first; i < hub_burst.n; i++)
        wire_frames_close(&hub_burst.w[i]);
    hub_burst.first = hub_burst.n;
    if (hub_burst.n == HUB_BURST_MAX)
        hub_burst.first = hub_burst.n = 0;
}

/* a coalesced frame (wire.h, RUNS): its events, all of one channel, to
 * their readers HUB_BURST_MAX at a time; then W is closed */
static void
hub_on_run(wire_frames_t *w, wire_event_t *ev, int64_t now)
{
    wire_event_t evs[HUB_BURST_MAX];
    int n = 0;

    do {
        evs[n++] = *ev;
        if (n == HUB_BURST_MAX) {
            hub_fan_out(evs, n, now);
            n = 0;
        }
    } while (wire_next_event(w, ev) == 1);
    if (n)
        hub_fan_out(evs, n, now);
    wire_frames_close(w);
}

static int
hub_same_channel(const wire_event_t *a, const wire_event_t *b)
{
    return a->channel_len == b->channel_len && memcmp(a->channel, b->channel, a->channel_len) == 0;
}

int
hub_refuses(json_t *claims)
{
    return hub.revoked && claims && revoke_refuses(hub.revoked, claims, wall_s());
}

/* the broker's table of revoked tokens (revoke.h): keep it, and end the
 * adopted streams it refuses (a thread's stream is checked at adoption) */
static void
hub_on_revoked(const wire_event_t *ev)
{
    static ratelimit_t rl;

    if (revoke_load(hub.revoked, ev->data, ev->data_len) < 0) {
        log_limited(&rl, LOG_WARNING, "revoke: a malformed table from the broker: ignored");
        return;
    }
    for (stream_t *s = hub.streams; s; s = s->hub_next)
        if (stream_running(s) && hub_refuses(s->claims))
            hub_doom(s, "its token was revoked");
    hub_close_doomed();
}

/*
 * Up to a batch of messages; 1 when more may be waiting.  Events of one
 * channel that arrive together (the hub fell behind a burst) are written
 * to each stream at once: under load a stream gets one write for several
 * events, and the web server one read -- the hub catches up instead of
 * falling further behind.
 */
static int
hub_on_events(int64_t now)
{
    int more = 1;

    hub_burst.first = hub_burst.n = 0;
    for (int k = 0; k < HUB_RECV_BATCH; k++) {
        wire_frames_t *w = &hub_burst.w[hub_burst.n];
        wire_event_t *ev = &hub_burst.ev[hub_burst.n];
        wire_recv_t r = wire_recv_event(hub.sub, ZMQ_DONTWAIT, w, ev);
        if (r == WIRE_RECV_NONE) {
            more = 0;
            break;
        }
        if (r == WIRE_RECV_EVENT && ev->channel_len && ev->channel[0] == REVOKE_TOPIC[0]) {
            hub_burst_deliver(now);
            hub_on_revoked(ev);
            wire_frames_close(w);
        } else if (r == WIRE_RECV_EVENT && w->run_left) {
            hub_burst_deliver(now);     /* in order: the events before the run first */
            hub_on_run(w, ev, now);
        } else if (r == WIRE_RECV_EVENT) {
            if (hub_burst.n > hub_burst.first && !hub_same_channel(&hub_burst.ev[hub_burst.first], ev))
                hub_burst_deliver(now); /* a burst ends; this event starts the next */
            if (++hub_burst.n == HUB_BURST_MAX)
                hub_burst_deliver(now);
        } else if (r == WIRE_RECV_MARKER) {
            hub_burst_deliver(now);     /* in order: the events before the marker first */
            hub_on_marker(ev->channel, ev->channel_len);
            wire_frames_close(w);
        }
    }
    hub_burst_deliver(now);
    return more;
}

/* the broker (re)connected: after a restart it has forgotten nothing we
 * need (ids go on), but events may have been published while our SUB was
 * away -- every stream re-syncs and replays from its last id */
static void
hub_on_monitor(void)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, hub.mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    uint16_t ev = 0;
    if (zmq_msg_size(&m) >= 2)
        memcpy(&ev, zmq_msg_data(&m), 2);
    zmq_msg_close(&m);
    wire_drain(hub.mon);
    if (ev != ZMQ_EVENT_CONNECTED)
        return;
    if (hub.ever_connected) {
        log_msg(LOG_INFO, "broker reconnected: resuming %s streams", hub.streams ? "open" : "no");
        for (stream_t *s = hub.streams; s; s = s->hub_next) {
            if (s->state == STREAM_DOOMED)
                continue;               /* it closes in this loop */
            if (s->state == STREAM_SYNCED) {
                /* its thread may have replayed: again at adoption (a
                 * stream not yet synced keeps its flag) */
                pthread_mutex_lock(&s->mu);
                s->resume = 1;
                stream_set_state(s, STREAM_SYNCING);
                pthread_mutex_unlock(&s->mu);
                stream_wake(s);
            } else if (s->state == STREAM_LIVE || s->state == STREAM_RESUME) {
                stream_set_state(s, STREAM_RESYNC);  /* live events queue until the replay */
            }
            __atomic_add_fetch(&s->resyncs, 1, __ATOMIC_RELEASE);
            chantab_resync(s);
        }
        chantab_probe_start();      /* the markers follow its echo */
    }
    hub.ever_connected = 1;
}

/* --- the adopted streams' sockets ---------------------------------------------------- */

static void
hub_on_sockets(int64_t now)
{
    struct epoll_event ev[HUB_EPOLL_BATCH];
    int n = epoll_wait(hub.epfd, ev, HUB_EPOLL_BATCH, 0);

    for (int i = 0; i < n; i++) {
        stream_t *s = ev[i].data.ptr;
        if (!stream_running(s))
            continue;
        if ((ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && http_gone(s->out.fd))
            hub_doom(s, NULL);
        else if (ev[i].events & EPOLLOUT)
            hub_flush(s, now);
    }
    hub_close_doomed();
}

/* once a second: stall_timeout */
static void
hub_sweep(int64_t now)
{
    for (stream_t *s = hub.streams; s; s = s->hub_next)
        if (stream_running(s) && s->stalled &&
            now - s->stalled >= (int64_t)s->route->stall_timeout * 1000)
            hub_doom(s, "the client took nothing for stall_timeout");
    hub_close_doomed();
}

/* OP (renew, release) for every lease, CTL_LEASES_MAX to a request, over
 * the lease connection (control.h); -1 when it is busy (WAIT: never) */
static int
hub_send_leases(ctl_op_t op, int wait)
{
    static const char *ids[CTL_LEASES_MAX];
    size_t n = 0;

    for (stream_t *s = hub.streams; s; s = s->hub_next) {
        if (s->lease[0])
            ids[n++] = s->lease;
        if (n == CTL_LEASES_MAX || (n && !s->hub_next)) {
            if (control_lease_send(op, ids, n, wait) < 0 && errno == EAGAIN)
                return -1;
            n = 0;
        }
    }
    return 0;
}

static void *
hub_main(void *arg)
{
    (void)arg;
    zmq_pollitem_t items[4] = {
        { hub.sub, 0, ZMQ_POLLIN, 0 },
        { hub.mon, 0, ZMQ_POLLIN, 0 },
        { NULL, hub.efd, ZMQ_POLLIN, 0 },
        { NULL, hub.epfd, ZMQ_POLLIN, 0 },
    };
    int64_t next_sweep = mono_ms() + HUB_SWEEP_MS;
    int more = 0;

    while (!atomic_load(&hub.stop)) {
        int64_t t = mono_ms(), until = next_sweep;
        heap_node_t *first = heap_min(&hub.timers);
        if (first && first->key < until)
            until = first->key;
        int64_t wait = more ? 0 : until - t;
        if (zmq_poll(items, 4, wait > 0 ? (long)wait : 0) < 0 && errno != EINTR)
            break;
        int64_t now = mono_ms();
        if (items[2].revents & ZMQ_POLLIN)
            hub_run_commands(now);
        if (atomic_load(&hub.drain_ms) && !atomic_load(&hub.drained))
            hub_drain_all(now);
        if (items[1].revents & ZMQ_POLLIN)
            hub_on_monitor();
        /* a batch left over is taken up at once (more: poll without waiting) */
        more = (items[0].revents & ZMQ_POLLIN) || more ? hub_on_events(now) : 0;
        if (items[3].revents & ZMQ_POLLIN)
            hub_on_sockets(now);
        hub_close_doomed();
        hub_timers(now);
        if (now >= next_sweep) {
            next_sweep = now + HUB_SWEEP_MS;
            hub_sweep(now);
            /* replies to renew and release are not awaited: dropped */
            control_lease_send(CTL_RENEW, NULL, 0, 0);
        }
        if (hub.nrel)
            hub_flush_releases(0);
        if (now - hub.last_renew >= WIRE_LEASE_RENEW * 1000 && hub_send_leases(CTL_RENEW, 0) == 0)
            hub.last_renew = now;
    }
    hub_run_commands(mono_ms());
    /* end every adopted response cleanly; the threads' streams end with
     * the process */
    for (stream_t *s = hub.streams; s; s = s->hub_next)
        hub_doom(s, NULL);              /* (nothing for its thread's) */
    hub_close_doomed();
    hub_send_leases(CTL_RELEASE, 1);
    hub_flush_releases(1);
    return NULL;
}

int
hub_start(void *zctx, const char *events, const curve_client_t *curve)
{
    int zero = 0, hwm = HUB_EVENTS_HWM;

    hub.cmds_tail = &hub.cmds;
    buf_init(&hub.frame[SSE_NAMED], STREAM_FRAME_MAX);
    buf_init(&hub.frame[SSE_ENVELOPE], STREAM_FRAME_MAX);
    buf_init(&hub.frame[SSE_MERCURE], STREAM_FRAME_MAX);
    buf_init(&hub.qframe, STREAM_FRAME_MAX);
    hub.last_renew = mono_ms();
    if (!(hub.revoked = revoke_new()))
        return -1;
    if ((hub.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (hub.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    if (!(hub.sub = zmq_socket(zctx, ZMQ_SUB)) || !(hub.mon = zmq_socket(zctx, ZMQ_PAIR)))
        return -1;
    zmq_setsockopt(hub.sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(hub.sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* subscriptions travel to the broker as messages under the SUB's send
     * HWM (default 1,000), and ZeroMQ drops those past it -- the ones we
     * set and the ones it sends again on a reconnect: with more than about
     * 500 streams, a broker restart lost channels and sync markers, and
     * the streams never resumed.  One per channel and stream: no bound */
    zmq_setsockopt(hub.sub, ZMQ_SNDHWM, &zero, sizeof(zero));
    zmq_setsockopt(hub.mon, ZMQ_LINGER, &zero, sizeof(zero));
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://zsse-hub-monitor-%d", (int)getpid());
    (void)chantab_init(hub.sub);    /* -1: no pool; the table works without
                                     * reusing sync topics (chantab.h) */
    chantab_probe_start();          /* the first connection's, likewise */
    if (curve_client_apply(hub.sub, curve) < 0 ||
        zmq_socket_monitor(hub.sub, mon_ep, ZMQ_EVENT_CONNECTED) < 0 ||
        zmq_connect(hub.mon, mon_ep) < 0 ||
        zmq_connect(hub.sub, events) < 0)
        return -1;
    zmq_setsockopt(hub.sub, ZMQ_SUBSCRIBE, REVOKE_TOPIC, sizeof(REVOKE_TOPIC));  /* with '\0' */
    return pthread_create(&hub.thread, NULL, hub_main, NULL) == 0 ? 0 : -1;
}

void
hub_stop(void)
{
    if (!hub.sub)
        return;
    atomic_store(&hub.stop, 1);
    hub_wake();
    pthread_join(hub.thread, NULL);
    resume_stop();
    zmq_socket_monitor(hub.sub, NULL, 0);
    zmq_close(hub.mon);
    zmq_close(hub.sub);
    hub.sub = NULL;
}
