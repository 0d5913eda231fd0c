/*
 * publish.h -- the publish route (routes[].type "publish", issue 15):
 * publishing over HTTP through the web server.
 *
 *   POST /publish                     Content-Type: application/json
 *   Authorization: Bearer TOKEN       (the route's auth; "none" skips it)
 *   { "channel": "user/1", "event": "x", "data": {...} }      or an array
 *                                     of up to PUBLISH_BATCH_MAX of them
 *
 *   200 {"ids": ["1043", ...]}        once the broker stored each message
 *                                     (journaled where a journal is on)
 *   400 a message breaks SPEC 4 (the reason names which: messages[2]: ...)
 *   401 token missing / bad           403 a channel not in the token's
 *   405 not POST                          "publish" claim, or a require
 *   413 the body is larger than max_message x PUBLISH_BATCH_MAX (or one
 *       message larger than max_message)
 *   503 the broker did not answer (with Retry-After); ids already stored
 *       are in the body's "ids"
 *
 * Every message of an array is validated (proto/message.c, the broker's
 * own parser, with the broker's max_message) and authorised before the
 * first is published: an array with one bad message publishes nothing.
 * Messages then go one by one through the broker's acknowledged publish.
 *
 * The token is taken only from the Authorization header (a cookie would
 * let another site's form publish in the user's name); its "publish"
 * claim is an array of channel patterns ('*' any run, channel.h).
 *
 * The helpers below are shared with the Mercure route (mercure.c).
 */
#ifndef ZSSE_PUBLISH_H
#define ZSSE_PUBLISH_H

#include <stdint.h>
#include <jansson.h>
#include "auth.h"
#include "config.h"
#include "http.h"

#define PUBLISH_BATCH_MAX 64        /* messages in one POSTed array */
#define PUBLISH_READ_MS   10000     /* the whole request body, ms */
#define PUBLISH_ACK_MS    5000      /* one broker acknowledgement, ms */

void publish_serve(http_t *h, const route_t *r, const config_t *cfg, const auth_t *auth);

/* Read the request body (at most MAX bytes, within PUBLISH_READ_MS) into
 * a malloc'd NUL-terminated *BODY.  0, or the HTTP status already answered
 * (413 too large, 400 not received in time, 500 no memory). */
int publish_read_body(http_t *h, const route_t *r, size_t max, char **body, size_t *len);

/* Verify TOKEN (LEN bytes) and the route's require claims into *CLAIMS.
 * 0, or the status already answered (401 / 403 / 500). */
int publish_verify(http_t *h, const route_t *r, const auth_t *auth, const char *token,
    size_t len, json_t **claims);

/* The broker's acknowledged publish of one SPEC 4 message.  0 with *ID;
 * PUBLISH_REJECTED with the broker's reason in ERR; PUBLISH_UNREACHABLE
 * when the broker did not answer within PUBLISH_ACK_MS. */
enum { PUBLISH_REJECTED = -1, PUBLISH_UNREACHABLE = -2 };
int publish_send(const char *msg, size_t len, uint64_t *id, char *err, size_t errlen);

#endif
