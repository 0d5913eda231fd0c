/*
 * stream.h -- one FastCGI request: route, authenticate, then hold an SSE
 * stream (or answer a poll) until the client leaves.
 *
 * Joining without a gap (SPEC 5):
 *   1. register the channels with the hub and wait until they are synced
 *      (the broker has every subscription: hub.h);
 *   2. ask the broker for the replay after Last-Event-ID (or the state,
 *      or just the head id);
 *   3. write it, then the live events queued since step 1 -- only those
 *      with an id above the last one written, which drops the overlap.
 */
#ifndef ZSSE_STREAM_H
#define ZSSE_STREAM_H

#include <fcgiapp.h>
#include "auth.h"
#include "config.h"

void stream_serve(FCGX_Request *req, const config_t *cfg, const auth_t *auth);

#endif
