/*
 * request.h -- one FastCGI request, on a setup thread: route, authenticate,
 * then open an SSE stream and hand it to the hub (hub.h), or answer a
 * poll, a preflight, an error or the metrics.
 *
 * Joining without a gap (SPEC 5):
 *   1. register the channels with the hub and wait until they are synced
 *      (the broker has every subscription: hub.h);
 *   2. ask the broker for the replay after Last-Event-ID (or the state,
 *      or just the head id: replay.h) and write it;
 *   3. hand the stream over: the hub writes the live events queued since
 *      step 1 -- only those with an id above the last one written, which
 *      drops the overlap -- and every one after.
 */
#ifndef ZSSE_REQUEST_H
#define ZSSE_REQUEST_H

#include <fcgiapp.h>
#include <stdint.h>
#include "auth.h"
#include "config.h"

/* serve REQ (its whole request is read by the deadline accept.h's watchdog
 * enforces; the body only once the token is good) */
void request_serve(FCGX_Request *req, const config_t *cfg, const auth_t *auth);


#endif
