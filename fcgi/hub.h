/*
 * hub.h -- the one thread per zsse-fcgi process that owns the ZeroMQ SUB
 * socket, and the streams' view of it.
 *
 *     broker XPUB ──▶ SUB (hub thread) ──▶ stream queues ──▶ stream threads
 *
 * A stream registers its channels.  The hub subscribes them ("chan\0",
 * counted, so two streams of one channel share one subscription), then a
 * sync topic "\1<nonce>\0" behind them (wire.h).  When the broker echoes
 * the marker, every one of those subscriptions is in force: the stream is
 * "synced" and may ask for its replay with no gap.  Live events are copied
 * once per process (refcounted) and queued on every stream of their
 * channel; the stream thread is woken through its eventfd, which it polls
 * next to its FastCGI socket.
 *
 * Live events are written by the hub itself ("direct" mode): once a stream
 * has joined and has nothing queued, its thread hands the FastCGI socket
 * over, and the hub frames each event once per format and sends it to
 * every such stream of the channel as one FastCGI STDOUT record, without
 * blocking (MSG_DONTWAIT) and without waking the stream threads -- one
 * sendmsg per stream per event, as an event loop would do.  Whatever the
 * hub cannot write at once (a slow client, a large event, a replay after
 * a broker restart, a heartbeat) goes back to the stream's thread: the hub
 * clears "direct", keeps the unsent tail of a record in "pend", queues
 * what follows and wakes the thread, which writes it (blocking, bounded by
 * stall_timeout) and hands the socket back when its queue is empty.  Only
 * one side writes at a time: the hub writes under the stream's lock, and
 * only while "direct" is set.
 *
 * When the SUB socket reconnects (the broker restarted), every stream is
 * synced again and told to resume: it asks for a replay from the last id
 * it wrote, with the 'c' flag.  The hub also renews the streams' leases
 * (max_per_user) every WIRE_LEASE_RENEW seconds.
 */
#ifndef ZSSE_HUB_H
#define ZSSE_HUB_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>
#include "route.h"

#define STREAM_QUEUE_MIN 16        /* a stream's queue starts this small */
#define STREAM_QUEUE_MAX 4096      /* live events waiting for one stream */

typedef struct qev {
    uint32_t refs;              /* atomic */
    uint64_t id;
    char     kind;
    uint8_t  event_len;
    uint32_t data_len;
    char    *event;
    char    *data;
    char     blob[];
} qev_t;

void qev_unref(qev_t *e);

typedef struct stream {
    /* set before registering, read-only afterwards */
    char          *channels[ROUTE_MAX_CHANNELS];
    size_t         nchannels;
    char           lease[64];       /* "" when the route has no max_per_user */
    int            efd;             /* eventfd: the hub wakes the stream */
    /* shared with the hub, under mu */
    pthread_mutex_t mu;
    int            synced;
    int            resume;          /* broker came back: replay from last id */
    int            registered;
    int            overflow;        /* queue full: the stream is dropped */
    qev_t        **q;               /* a ring that grows up to QUEUE_MAX */
    size_t         qhead, qlen, qcap;
    int            direct;          /* the hub writes live events itself */
    int            dead;            /* a direct write failed: the client left */
    uint64_t       last;            /* direct: the last id written */
    time_t         last_write;      /* direct: when the hub last wrote */
    char          *pend;            /* direct: unsent tail of a record */
    size_t         pend_len;
    /* set before going direct */
    int            fd;              /* the FastCGI connection */
    uint16_t       reqid;           /* its FastCGI request id */
    int            format;          /* sse_format_t of the route */
    /* the hub's own */
    char           nonce[40];
    struct stream *hub_next;
} stream_t;

int  hub_start(void *zctx, const char *events_endpoint, const char *control_endpoint);
/* release this process' leases and stop the hub thread */
void hub_stop(void);

int  stream_init(stream_t *s);
void stream_fini(stream_t *s);
/* register / unregister; unregister returns once the hub let go */
int  hub_register(stream_t *s);
void hub_unregister(stream_t *s);
/* take the next queued event (NULL: none); the caller unrefs it */
qev_t *stream_pop(stream_t *s);
/* drain the eventfd */
void stream_clear_wake(stream_t *s);

#endif
