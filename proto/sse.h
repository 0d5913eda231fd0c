/*
 * sse.h -- Server-Sent Events framing (WHATWG HTML, "server-sent events").
 *
 * One event:
 *     id: 42                      (when id != 0)
 *     event: task_moved           (named format, when the event has a name)
 *     data: line 1                (a string is split at CR, LF and CRLF)
 *     data: line 2
 *     <blank line>
 *
 * In the envelope format the event is one data line holding
 *     {"type": NAME, "data": DATA}
 * with NAME "message" for unnamed events and DATA the JSON value (a string
 * datum is JSON-encoded).
 *
 * An empty string datum is sent as one empty "data:" line, so that the
 * browser still dispatches the event (WHATWG: a block with no data line is
 * not dispatched).  sse_id() writes an id-only block: it moves the client's
 * lastEventId without dispatching anything.
 *
 * All functions append to OUT and return 0, or -1 when OUT's bound is hit.
 */
#ifndef ZSSE_SSE_H
#define ZSSE_SSE_H

#include <stdint.h>
#include <stddef.h>
#include "buf.h"

typedef enum { SSE_NAMED = 0, SSE_ENVELOPE = 1, SSE_MERCURE = 2 } sse_format_t;
#define SSE_FORMATS 3

/*
 * SSE_MERCURE (routes of type "mercure", issue 15): a Mercure update is
 * stored as a string datum that starts with a header, one field a line:
 *
 *     mercure                 the magic first line
 *     id ID                   the publisher's id (optional; no CR/LF)
 *     retry MS                the SSE retry (optional)
 *     private                 a private update (optional)
 *     topic TOPIC             once per topic, channel-safe encoding
 *     <empty line>
 *     DATA                    the update's data
 *
 * It is framed as "id:" (the publisher's id, else zsse's), "event:",
 * "retry:", the data lines; after an event with the publisher's id comes
 * an id-only block with zsse's id, so a reconnecting EventSource sends an
 * id zsse can replay from.  Any other datum is framed as SSE_NAMED.
 */
#define SSE_MERCURE_MAGIC "mercure\n"
typedef struct {
    const char *id;     size_t id_len;        /* NULL: none */
    long        retry;                        /* -1: none */
    int         private_;
    const char *topics; size_t topics_len;    /* the "topic ..." lines */
    const char *body;   size_t body_len;      /* DATA */
} sse_mercure_t;
/* Parse DATA (LEN bytes) as a Mercure payload: 0, or -1 when it is not
 * one (no magic line, or no empty line ending the header). */
int sse_mercure_parse(const char *data, size_t len, sse_mercure_t *m);

int sse_event(buf_t *out, sse_format_t fmt, uint64_t id,
    const char *event, size_t event_len,
    const char *data, size_t data_len, char kind);
int sse_comment(buf_t *out, const char *text);   /* ":TEXT\n\n", text split at line breaks */
int sse_retry(buf_t *out, int ms);               /* "retry: MS\n\n" */
int sse_id(buf_t *out, uint64_t id);             /* "id: ID\n\n" */

/* JSON-encode S (LEN bytes, valid UTF-8) as a string literal onto OUT */
int sse_json_quote(buf_t *out, const char *s, size_t len);

#endif
