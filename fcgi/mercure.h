/*
 * mercure.h -- the Mercure protocol's hub side (routes[].type "mercure",
 * conventionally at /.well-known/mercure; issue 15).
 *
 * Subscribe: GET ?topic=SELECTOR (repeatable, 1..MERCURE_SELECTORS_MAX):
 * an exact topic, a URI template (RFC 6570: {var}, {+var}, {#var},
 * {/var}, {.var}, {;var}, {?var}, {&var}) or "*".  Last-Event-ID (header)
 * or lastEventID (query; "earliest": everything buffered).  The token
 * (Authorization: Bearer, the mercureAuthorization cookie, or the
 * "authorization" query parameter) is optional unless the route says
 * "auth": "required"; its mercure.subscribe claim (topic selectors)
 * decides which private updates the subscriber gets.
 *
 * Publish: POST application/x-www-form-urlencoded: topic (repeatable),
 * data, private, id, type, retry; Authorization: Bearer with a
 * mercure.publish claim whose selectors match every topic (unless the
 * route is "auth": "none").  Answer 200 text/plain: the update's id (the
 * publisher's, else zsse's decimal id).
 *
 * Topics on zsse channels, so buffers, replay and the journal apply: an
 * update is published once on "mercure/" + the topic's channel-safe
 * encoding (whitespace, controls, '%' and '*' as %XX; a topic must be
 * valid UTF-8 and encode to at most 247 bytes) per topic, and on
 * TOPIC_ALL.  A subscriber with only exact selectors subscribes to their
 * channels; one with a template or "*" to TOPIC_ALL.  Either way the
 * hub and the replay pass each event through mercure_accept(): it must
 * match a selector, and a private one a mercure.subscribe selector too.
 * Update fields travel in the string datum's header (sse.h SSE_MERCURE).
 */
#ifndef ZSSE_MERCURE_H
#define ZSSE_MERCURE_H

#include <stdbool.h>
#include "auth.h"
#include "config.h"
#include "http.h"
#include "stream.h"
#include "topic.h"
#include "wire.h"

#define MERCURE_SELECTORS_MAX  (ROUTE_MAX_CHANNELS - 1)
#define MERCURE_TOPICS_MAX     32        /* topics of one update */
#define MERCURE_CLAIMS_MAX     256       /* mercure.subscribe selectors looked at */
#define MERCURE_ID_MAX         255       /* bytes of a publisher's id */
#define MERCURE_COOKIE         "mercureAuthorization"

typedef struct mercure_filter mercure_filter_t;

/* Does the stream with filter F get EV?  (hub and replay, any thread) */
bool mercure_accept(const mercure_filter_t *f, const wire_event_t *ev);
void mercure_filter_free(mercure_filter_t **fp);

/* GET: authenticate, read the selectors, fill S's channels and filter.
 * *EARLIEST: lastEventID=earliest asked for everything buffered.
 * 0, or the HTTP status already answered. */
int  mercure_admit(http_t *h, const route_t *r, const auth_t *auth, stream_t *s,
    int *earliest);

/* POST: publish one update (answered here) */
void mercure_publish(http_t *h, const route_t *r, const config_t *cfg, const auth_t *auth);

#endif
