/*
 * stream.h -- one SSE stream: the object its setup thread (request.c) and
 * the hub (hub.c) share, its queue of events, and its life as one state
 * machine.
 *
 * A stream is made by its setup thread, registered with the hub (which
 * subscribes its channels and a sync marker behind them), and -- once
 * synced and its replay written -- adopted by the hub, which writes its
 * live events until it closes.  Poll mode never adopts: the thread takes
 * the queued events itself, then unregisters.
 *
 *   stream_new()
 *       │
 *      NEW ─────────────── hub_unregister ──────────────┐
 *       │ hub_register                                  │
 *       ▼                                               ▼
 *    SYNCING ──────────── hub_unregister ───────────▶ RELEASED    (its thread
 *      │  │  ▲                                          ▲          frees it)
 *      │  │  │  down: its marker is back                │
 *      │  ▼  │  up: broker reconnect (resume=1)         │
 *      │ SYNCED ──────────── hub_unregister ────────────┘
 *      │  │  │
 *      │  │  └─────────────── hub_adopt, resume=1 ──────────────┐
 *      │  └ hub_adopt ┐                                         │
 *      └── hub_adopt, ┼─ resume=1 ────────┐                     │
 *                     ▼                   ▼                     ▼
 *                    LIVE ─reconnect─▶ RESYNC ─its marker─▶  RESUME
 *                     ▲                   ▲                    │  │
 *                     │                   └───── reconnect ────┘  │
 *                     └────────────── replay written ─────────────┘
 *
 *   LIVE, RESYNC, RESUME ──doom──▶ DOOMED ──close──▶ DEAD
 *   (the hub's loop closes DOOMED streams once no list it walks holds
 *   them, and at hub_stop(); DEAD ones are freed when no resume job is in
 *   flight)
 *
 * stream_set_state() is the one place the state changes; it asserts
 * that the edge is in the table (stream_edge_ok()).  The thread's states
 * (NEW, SYNCING, SYNCED, RELEASED) change under S->mu until hub_adopt(),
 * since the thread reads them (hub_adopt moves SYNCED or SYNCING to LIVE,
 * RESUME or RESYNC without it: the thread has given the stream up); the
 * hub's (LIVE and on) are the hub thread's alone.
 *
 * The flags left are orthogonal to the state:
 *   resume    the broker reconnected after the thread had synced (and
 *             may have replayed): at adoption, the stream must replay
 *             again.  Holds across SYNCING and SYNCED.
 *   overflow  its queue filled (or memory ran out) while the thread had
 *             it: any thread state; the stream is dropped at adoption.
 *   needs_marker  its marker waits for the hub's probe (chantab.c): SYNCING
 *             and RESYNC alike.
 *   pollout   EPOLLOUT armed: a fact about the epoll set.
 * and counters: jobs (resume jobs in flight), resume_tries, resyncs.
 */
#ifndef ZSSE_STREAM_H
#define ZSSE_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "event.h"
#include "heap.h"
#include "ring.h"
#include "route.h"
#include "writer.h"

/* bytes of framed SSE text the hub and the resume thread build at once
 * (one event, or a replay): the broker bounds events (max_message, at
 * most 16 MiB), framing adds "data: " per line or JSON escapes */
#define STREAM_FRAME_MAX (128u << 20)
#define STREAM_QUEUE_MIN 16        /* a stream's queue starts this small (events) */
#define STREAM_QUEUE_MAX 4096      /* events waiting for one stream */
#define STREAM_LEASE_LEN 64        /* bytes for a lease id, with its '\0' */
#define STREAM_PATH_LEN  64        /* bytes of the request path kept for log lines */
#define STREAM_NONCE_LEN 40        /* bytes for a sync topic, with its '\0' */

typedef struct qev {
    uint32_t refs;              /* atomic */
    uint64_t id;
    char     kind;              /* ZSSE_KIND_* (event.h): the broker's JSON or
                                 * STRING, or SSE: DATA is framed SSE already
                                 * (a replay, resume.c) */
    uint8_t  event_len;
    uint32_t data_len;
    char    *event;
    char    *data;
    char     blob[];
} stream_qev_t;

typedef enum {
    STREAM_NEW,                 /* its thread's, not registered */
    STREAM_SYNCING,             /* its thread's, registered: marker awaited */
    STREAM_SYNCED,              /* its thread's: every subscription in force */
    STREAM_RELEASED,            /* unregistered: the hub let go (the thread frees) */
    STREAM_LIVE,                /* the hub writes live events */
    STREAM_RESYNC,              /* broker reconnected: waiting for the marker */
    STREAM_RESUME,              /* synced again, the replay is being fetched */
    STREAM_DOOMED,              /* on the hub's list of streams to close */
    STREAM_DEAD,                /* closed, waiting for its resume jobs to end */
    STREAM_NSTATES
} stream_state_t;

typedef struct stream {
    /* set before registering, read-only afterwards */
    char          *channels[ROUTE_MAX_CHANNELS];
    size_t         nchannels;
    char           lease[STREAM_LEASE_LEN];  /* "" when the route has no max_per_user */
    const route_t *route;
    char           path[STREAM_PATH_LEN];    /* for log lines */
    int            efd;             /* thread states: the hub wakes the thread */
    /* shared with the thread in its states, under mu */
    pthread_mutex_t mu;
    stream_state_t state;           /* stream_set_state() only */
    int            overflow;        /* queue full: the stream is dropped */
    int            resume;          /* broker came back: replay from last id */
    ring_t         q;               /* stream_qev_t *, growing up to STREAM_QUEUE_MAX */
    /* set by the thread before hub_adopt(), the hub's own afterwards */
    writer_t       out;             /* the FastCGI connection, its request
                                     * id and unsent tail (writer.h) */
    uint64_t       last;            /* the last id written */
    json_t        *claims;          /* the token's (a reference), NULL: none;
                                     * for zsse revoke (revoke.h) */
    int64_t        expires;         /* monotonic ms: the token's exp plus
                                     * leeway, then the stream ends; 0: never */
    /* the hub's own (times in monotonic ms) */
    int64_t        opened;          /* for max_lifetime */
    int64_t        last_write;      /* for heartbeats */
    heap_node_t    timer;           /* in the hub's timer heap; key: look at
                                     * its timers then (a lower bound) */
    int64_t        stalled;         /* output blocked since; 0: flowing */
    int            jobs;            /* resume jobs in flight */
    int            pollout;         /* EPOLLOUT armed */
    char           nonce[STREAM_NONCE_LEN];  /* the sync topic awaited ("": none) */
    int            needs_marker;    /* to sync once the probe is back (chantab.c) */
    int            resume_tries;    /* failed replays since the last restart */
    unsigned       resyncs;         /* broker reconnects seen (atomic: the
                                     * resume thread skips stale jobs) */
    struct stream *hub_prev, *hub_next;     /* registered streams */
    struct stream *wait_next;       /* streams awaiting their marker */
    struct stream *doom_next;
    struct mercure_filter *filter;  /* Mercure selectors (NULL: every event) */
} stream_t;

/* a queued event with REFS references (NULL: out of memory); EV and DATA
 * are copied, ELEN at most 255 (wire.h bounds event names) */
stream_qev_t *stream_qev_new(uint64_t id, char kind, const char *ev, size_t elen, const char *data,
    size_t dlen, uint32_t refs);
/* drop a reference to E (NULL: nothing); the last frees it.  Any thread */
void stream_qev_unref(stream_qev_t *e);

/* a stream owned by the calling thread, NEW (NULL: out of memory) */
stream_t *stream_new(void);
/* free S (NULL: nothing): NEW, RELEASED, or DEAD with no job in flight */
void stream_free(stream_t *s);

/* Is FROM -> TO an edge of the diagram above?  (A state to itself is not:
 * callers change a state only when it changes.) */
bool stream_edge_ok(stream_state_t from, stream_state_t to);
/* Move S to TO; asserts the edge.  Under S->mu in the thread's states. */
void stream_set_state(stream_t *s, stream_state_t to);
/* the state's name, for log lines and tests */
const char *stream_state_name(stream_state_t st);

/* is S its thread's (NEW, SYNCING, SYNCED, RELEASED)? */
bool stream_on_thread(const stream_t *s);
/* is S adopted and neither doomed nor dead (LIVE, RESYNC, RESUME)? */
bool stream_running(const stream_t *s);
/* is S adopted and not yet closed (running or DOOMED)? */
bool stream_adopted(const stream_t *s);
/* is S in the hub's tables (SYNCING, SYNCED, and adopted until DEAD)? */
bool stream_registered(const stream_t *s);
/* S's state, read under S->mu (for its thread) */
stream_state_t stream_state(stream_t *s);

/* take the next queued event (NULL: none); the caller unrefs it */
stream_qev_t *stream_pop(stream_t *s);
/* let go of every queued event (the caller has S to itself) */
void stream_drain(stream_t *s);
/* wake S's thread (its eventfd); any thread */
void stream_wake(stream_t *s);
/* drain the eventfd */
void stream_clear_wake(stream_t *s);

#endif
