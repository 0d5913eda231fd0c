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
 * data is normalised once here, so the broker never re-serialises it:
 *   kind 's': a JSON string, kept as its raw UTF-8 text;
 *   kind 'j': any other value, as compact one-line JSON.
 */
#ifndef ZSSE_MESSAGE_H
#define ZSSE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define ZSSE_MAX_CHANNELS   64
#define ZSSE_EVENT_MAX      255
#define ZSSE_KEY_MAX        255
#define ZSSE_TTL_MAX        (366 * 24 * 3600)

#define ZSSE_KIND_JSON   'j'
#define ZSSE_KIND_STRING 's'

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

typedef struct {
    const char *channels[ZSSE_MAX_CHANNELS];
    size_t      channel_lens[ZSSE_MAX_CHANNELS];
    size_t      nchannels;
    const char *event;      size_t event_len;   /* NULL/0: unnamed */
    const char *key;        size_t key_len;     /* NULL: no state key */
    int         ttl;                            /* -1: channel default */
    char       *data;       size_t data_len;    /* normalised, see above */
    char        kind;                           /* ZSSE_KIND_* */
    int         data_owned;                     /* internal */
    size_t      scratch_len;                    /* internal */
    char        scratch[(ZSSE_MAX_CHANNELS + 2) * 256];  /* decoded strings */
} msg_t;

/* Parse TEXT (LEN bytes, not NUL-terminated).  MAX is max_message (0: no
 * limit).  0 on success; -1 with *reason set (m is then cleared). */
int  msg_parse(msg_t *m, const char *text, size_t len, size_t max,
    const char **reason);
void msg_clear(msg_t *m);

#endif
