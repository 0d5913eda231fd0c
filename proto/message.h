/*
 * message.h -- parsing and validating a publish message (SPEC section 4).
 *
 *   { "channel": "user/1" | "channels": ["a","b"],   required, <= 64
 *     "data": <any JSON>,                              required
 *     "event": "name", "key": "state/key", "ttl": 600 } optional
 *
 * msg_parse() checks every rule; on failure it returns -1 and sets *reason
 * to one of the static reason strings below (they are the keys of
 * `zsse stats`.rejected_reasons).  On success the strings point into the
 * text (which must outlive the message) or into the message's own scratch
 * space, until msg_clear().
 *
 * The message is m->ev (event.h), with id and accepted_us 0 for the
 * broker to set; ttl 0 when the message gives none (the channel's).
 *
 * data is normalised once here, so the broker never re-serialises it:
 *   ZSSE_KIND_STRING: a JSON string, kept as its raw UTF-8 text;
 *   ZSSE_KIND_JSON: any other value, as compact one-line JSON.
 */
#ifndef ZSSE_MESSAGE_H
#define ZSSE_MESSAGE_H

#include <stddef.h>
#include "channel.h"
#include "event.h"

/* rejection reasons: stable strings, usable as stats keys */
#define ZSSE_R_TOO_LARGE        "too_large"
#define ZSSE_R_INVALID_JSON     "invalid_json"
#define ZSSE_R_NOT_OBJECT       "not_object"
#define ZSSE_R_UNKNOWN_FIELD    "unknown_field"
#define ZSSE_R_NO_CHANNEL       "missing_channel"
#define ZSSE_R_BAD_CHANNEL      "bad_channel"
#define ZSSE_R_TOO_MANY_CHANNELS "too_many_channels"
#define ZSSE_R_NO_DATA          "missing_data"
#define ZSSE_R_BAD_EVENT        "bad_event"
#define ZSSE_R_BAD_KEY          "bad_key"
#define ZSSE_R_BAD_TTL          "bad_ttl"
#define ZSSE_R_OUT_OF_MEMORY    "out_of_memory"
/* the broker's own (broker.c): its limits and journal, not the message */
#define ZSSE_R_MAX_MEMORY       "max_memory"      /* broker.max_memory reached */
#define ZSSE_R_STORE_FULL       "store_full"      /* STORE_CHANNELS_MAX channels (store.h) */
#define ZSSE_R_JOURNAL_ERROR    "journal_error"
#define ZSSE_R_JOURNAL_FULL     "journal_full"    /* ENOSPC, EDQUOT, EFBIG */
#define ZSSE_R_MULTIPART        "multipart"       /* a publish of more than one frame */

typedef struct {
    event_rec_t ev;             /* the event: id 0, ttl 0 when not given */
    char       *data_owned;     /* internal: ev.data when it was rewritten */
    size_t      scratch_len;    /* internal */
    char        scratch[(ZSSE_MAX_CHANNELS + 2) * (ZSSE_CHANNEL_MAX + 1)];  /* decoded strings */
} msg_t;

/* Parse TEXT (LEN bytes, not NUL-terminated).  MAX is max_message (0: no
 * limit).  0 on success; -1 with *reason set (m is then cleared). */
int  msg_parse(msg_t *m, const char *text, size_t len, size_t max,
    const char **reason);
void msg_clear(msg_t *m);

#endif
