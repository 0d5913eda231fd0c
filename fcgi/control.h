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

#include "ctl.h"

/* frames a reply may have: events of CTL_REPLY_MAX bytes, 2 frames each */
#define CONTROL_REPLY_FRAMES (4 + 2 * (CTL_REPLY_MAX / (WIRE_PAYLOAD_MIN + 1)))

typedef struct {
    ctl_frames_t m;             /* the reply's frames, delimiter first */
    ctl_arg_t   *v;             /* views of the frames after it */
    ctl_rep_t    rep;           /* decoded by ctl_decode_reply() */
} control_reply_t;

/* CURVE (may be NULL: off) must outlive the pool */
void control_init(void *zctx, const char *endpoint, const curve_client_t *curve);
/* send OP with ARGS (strings); 0 with the checked reply in R (free with
 * control_reply_free), -1 on timeout, error (the broker is unreachable) or a
 * malformed reply */
int  control_call(ctl_op_t op, const char *const *args, int nargs, int timeout_ms,
    control_reply_t *r);
/* the same with arguments of any bytes (ctl.h views) */
int  control_call_args(ctl_op_t op, const ctl_arg_t *args, size_t nargs, int timeout_ms,
    control_reply_t *r);
void control_reply_free(control_reply_t *r);
/* close the pooled sockets and the lease connection (at exit) */
void control_fini(void);

/* Leases (max_per_user) go over one connection of their own: the broker
 * lets only the connection that took a lease renew or release it, and
 * the pool's sockets come and go.  Take a lease on ROUTE for SUB:
 * CONTROL_LEASE_TAKEN (its id in ID), CONTROL_LEASE_FULL the user's limit
 * is reached, CONTROL_LEASE_NO_ANSWER the broker did not answer,
 * CONTROL_LEASE_REFUSED it refused (logged: a route its config lacks,
 * bounds).  Waits up to TIMEOUT_MS for the reply. */
typedef enum {
    CONTROL_LEASE_REFUSED   = -2,
    CONTROL_LEASE_NO_ANSWER = -1,
    CONTROL_LEASE_FULL      = 0,
    CONTROL_LEASE_TAKEN     = 1
} control_lease_t;
control_lease_t control_lease_take(const char *route, const char *sub, char id[CTL_LEASE_ID_LEN + 1],
    int timeout_ms);
/* Send OP (renew, release) for IDS without waiting for the reply (dropped
 * later); also reads and drops replies already waiting (N 0: only that).
 * Not WAIT: -1 with errno EAGAIN when a lease is being taken.  0 or -1. */
int  control_lease_send(ctl_op_t op, const char *const *ids, size_t n, int wait);
/* the status is S (frame 0) / argument I (1: the status' first) as a string */
int  control_reply_is(const control_reply_t *r, int i, const char *s);
void control_reply_str(const control_reply_t *r, int i, char *out, size_t outlen);
/* the events of R into EV (r->rep.nevents entries); returns the count */
int  control_reply_events(const control_reply_t *r, int first, wire_event_t *ev);

#endif
