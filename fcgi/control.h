/*
 * control.h -- the stream threads' client of the broker's control socket.
 *
 * A process keeps at most CONTROL_POOL connected DEALER sockets.  A call
 * borrows one (waiting up to CONTROL_QUEUE_MS while all are lent), sends
 * its request, waits for the reply and gives the socket back: a new
 * stream costs no new connection to the broker, long-lived streams hold
 * none (the broker's memory does not grow with them), and a burst of
 * thousands of new streams queues for a few sockets instead of opening
 * thousands of connections at once.  A request that times out closes its
 * socket, so a late reply can never be read as the answer to the next.
 */
#ifndef ZSSE_CONTROL_H
#define ZSSE_CONTROL_H

#include <stddef.h>
#include <zmq.h>

#define CONTROL_POOL     16
#define CONTROL_QUEUE_MS 10000      /* longest wait for a pooled socket */
#include "curve.h"
#include "wire.h"

typedef struct {
    zmq_msg_t *f;               /* frames after the delimiter */
    int        n, cap;
} reply_t;

/* CURVE (may be NULL: off) must outlive the pool */
void control_init(void *zctx, const char *endpoint, const curve_client_t *curve);
/* send ARGS; 0 with the reply in R (free with reply_free), -1 on timeout
 * or error (the broker is unreachable) */
int  control_call(const char *const *args, const size_t *lens, int nargs, int timeout_ms,
    reply_t *r);
void reply_free(reply_t *r);
/* close the pooled sockets (at exit) */
void control_fini(void);
/* frame I as a string compare / copy */
int  reply_is(const reply_t *r, int i, const char *s);
void reply_str(const reply_t *r, int i, char *out, size_t outlen);
/* the events in R from frame FIRST on: 2 frames each; EV must hold
 * (r->n - first) / 2 entries; returns the count, -1 if malformed */
int  reply_events(const reply_t *r, int first, wire_event_t *ev);

#endif
