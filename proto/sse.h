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

typedef enum { SSE_NAMED = 0, SSE_ENVELOPE = 1 } sse_format_t;

int sse_event(buf_t *out, sse_format_t fmt, uint64_t id,
    const char *event, size_t event_len,
    const char *data, size_t data_len, char kind);
int sse_comment(buf_t *out, const char *text);   /* ":TEXT\n\n", text split at line breaks */
int sse_retry(buf_t *out, int ms);               /* "retry: MS\n\n" */
int sse_id(buf_t *out, uint64_t id);             /* "id: ID\n\n" */

/* JSON-encode S (LEN bytes, valid UTF-8) as a string literal onto OUT */
int json_quote(buf_t *out, const char *s, size_t len);

#endif
