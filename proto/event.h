/*
 * event.h -- one event, as every part of zsse sees it (SPEC section 4).
 *
 * event_rec_t is a view: the strings point elsewhere (into a publish
 * message's text, a journal segment, a stored event) and live as long as
 * that.  The parser fills one (message.h: msg_t holds one), the journal
 * writes and reads one per record (journal.h), the broker's store builds
 * its refcounted stored form from one and gives one back (store.h:
 * store_event_new, store_event_rec).  The wire's wire_event_t (wire.h) is
 * the same fields on the one channel an EVENTS message travels on.
 *
 * Limits are SPEC section 4's: "channels (array, up to 64)", channel names
 * 1-255 bytes (channel.h: ZSSE_CHANNEL_MAX); event names and state keys
 * are sent in one length byte (wire.h, journal.h): at most 255 bytes.
 */
#ifndef ZSSE_EVENT_H
#define ZSSE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define ZSSE_MAX_CHANNELS   64                  /* SPEC 4: channels, up to 64 */
#define ZSSE_EVENT_MAX      255                 /* bytes; one length byte */
#define ZSSE_KEY_MAX        255                 /* bytes; one length byte */
#define ZSSE_TTL_MAX        (366 * 24 * 3600)   /* s: a message's or channel's ttl */

/* what data holds (SPEC 4: "A string is sent as-is ... any other value is
 * sent as compact JSON on one line") */
#define ZSSE_KIND_JSON   'j'    /* compact one-line JSON */
#define ZSSE_KIND_STRING 's'    /* a JSON string's raw UTF-8 text */
#define ZSSE_KIND_SSE    'r'    /* zsse-fcgi's queue only: data is framed SSE;
                                   never on the wire, where 'r' is WIRE_KIND_RUN
                                   (wire.h), a run's header */

typedef struct {
    uint64_t    id;             /* 0 until the broker assigns it */
    int64_t     accepted_us;    /* unix µs when the broker accepted it */
    uint32_t    ttl;            /* s; 0: the channel's */
    char        kind;           /* ZSSE_KIND_* (journal.h adds its own) */
    size_t      nchannels;
    const char *channels[ZSSE_MAX_CHANNELS];
    size_t      channel_lens[ZSSE_MAX_CHANNELS];
    const char *event;  size_t event_len;       /* NULL/0: unnamed */
    const char *key;    size_t key_len;         /* NULL/0: no state key */
    const char *data;   size_t data_len;        /* as kind says */
} event_rec_t;

#endif
