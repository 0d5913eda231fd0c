/*
 * control.h -- a stream thread's client of the broker's control socket.
 *
 * Each thread has one DEALER socket, made on first use and closed again
 * once its stream has joined (control_close): long-lived streams hold no
 * control connection, so the broker's memory does not grow with them.  A request
 * that times out closes the socket, so a late reply can never be read as
 * the answer to the next request.
 */
#ifndef ZSSE_CONTROL_H
#define ZSSE_CONTROL_H

#include <stddef.h>
#include <zmq.h>
#include "wire.h"

typedef struct {
    zmq_msg_t *f;               /* frames after the delimiter */
    int        n, cap;
} reply_t;

void control_init(void *zctx, const char *endpoint);
/* send ARGS; 0 with the reply in R (free with reply_free), -1 on timeout
 * or error (the broker is unreachable) */
int  control_call(const char *const *args, const size_t *lens, int nargs, int timeout_ms,
    reply_t *r);
void reply_free(reply_t *r);
/* close this thread's socket: a stream that has joined needs none until
 * it ends, and an idle connection costs the broker ~50 KiB */
void control_close(void);
/* frame I as a string compare / copy */
int  reply_is(const reply_t *r, int i, const char *s);
void reply_str(const reply_t *r, int i, char *out, size_t outlen);
/* the events in R from frame FIRST on: 2 frames each; EV must hold
 * (r->n - first) / 2 entries; returns the count, -1 if malformed */
int  reply_events(const reply_t *r, int first, wire_event_t *ev);

#endif
