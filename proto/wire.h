/*
 * wire.h -- the frames between broker, workers and CLI (internal).
 *
 * EVENTS (broker PUB/XPUB  ->  worker SUB), one one-frame message per
 * (event, channel), or per run of them (RUNS below): the topic, then the
 * payload, in one frame
 *     topic    channel name + '\0'      exact filtering: a SUB of
 *                                       "user/1\0" never sees "user/12"
 *     payload  8-byte little-endian id, 1 byte kind (ZSSE_KIND_JSON 'j' or ZSSE_KIND_STRING 's', event.h),
 *              1 byte event-name length, the name (empty: unnamed),
 *              then the data: compact JSON, or the raw string
 * One frame because libzmq's CURVE seals each frame in a box of its own:
 * two frames cost each subscriber's copy two.  wire_recv_event() also
 * takes the two-frame form an older broker sends (the topic with its
 * '\0', then the payload); nothing here sends it any more.
 * An event published to several channels goes out once per channel with
 * the same id; a stream on two of them drops the repeat by id.
 *
 * RUNS: consecutive events the broker sends on the same channel may go
 * as one coalesced frame, one CURVE box for all of them:
 *     channel '\0'  WIRE_RUN_HDR_LEN bytes: 8 zero bytes, WIRE_KIND_RUN
 *                   then per event: a 4-byte little-endian length L
 *                   (WIRE_PAYLOAD_MIN <= L) and L bytes of payload (as above)
 * A payload's 8-byte id is never 0, so the zero id marks a run.  At most
 * WIRE_RUN_MAX events and WIRE_RUN_BYTES bytes after the header; ids
 * strictly increase.  Only events that are consecutive in the broker's
 * send order are merged, so a subscriber on several channels still sees
 * ids in order across them.  A run is checked whole before its first
 * event is given out; a malformed one is refused whole.  Sync markers and
 * the revoked-token table are never part of a run.
 *
 * RESERVED first bytes: no channel starts with a control byte
 * (channel.h), so topics that do are the broker's own:
 *     WIRE_SYNC_BYTE '\x01'   a sync marker (below)
 *     '\x02'                  REVOKE_TOPIC (revoke.h): the revoked-token
 *                             table, published on every change
 *
 * SYNC markers: a subscriber that must know its subscriptions are live
 * also subscribes to "\x01" + nonce + "\0" (no channel starts with a
 * control byte).  The broker's XPUB sees that subscription arrive -- after
 * every subscription sent before it on the same pipe -- and answers with a
 * one-frame message carrying that topic.  When the marker arrives, every
 * earlier subscription is in force: the worker may ask for replay without
 * a gap.
 *
 * CONTROL (DEALER/REQ -> broker ROUTER), encoded and decoded only by
 * proto/ctl.c (its table bounds every operation's frame count and sizes).
 * Requests and replies begin with an empty delimiter frame so REQ sockets
 * work as well:
 *     ping                                  -> ok
 *     head                                  -> ok HEAD
 *     publish JSON                          -> ok ID | error REASON
 *     replay AFTER FLAGS CHANNEL...         -> ok HEAD EVENTS...
 *                                            | more HEAD EVENTS...
 *                                            | reset REASON HEAD
 *     state CHANNEL...                      -> ok HEAD EVENTS...
 *                                            | more HEAD EVENTS...
 *     stats                                 -> ok JSON
 *     lease ROUTE SUB TAG                   -> ok TAG LEASEID | full TAG
 *                                            | refused TAG REASON
 *     renew LEASEID...                      -> ok
 *     release LEASEID...                    -> ok
 *     revoke KIND VALUE TTL                 -> ok | error REASON
 *            (KIND "sub" or "jti", TTL seconds: revoke.h)
 * and any request the table refuses -> error REASON.  At most
 * CTL_CHANNELS_MAX (16) channels per request.  AFTER and HEAD are decimal
 * ids.  FLAGS holds letters: 'c' continuation: the asker saw every event
 * up to AFTER live (it is resuming after the broker restarted), so AFTER
 * being older than this broker's start is no reason to reset; 'k': the
 * state's events after AFTER instead of the buffer's (the next part of a
 * state reply).  EVENTS are 2 frames each: channel, payload (as above, but
 * the channel without the '\0'), in increasing id order with no id twice.
 * A reply carries at most CTL_REPLY_MAX bytes of events: "more" says it
 * was cut there, and the asker asks for the next part with AFTER = the
 * last id it got (a state reply goes on as "replay LAST k ...").  A reset
 * carries no state; the asker asks for it with "state".
 *
 * Replay resets when AFTER > HEAD ("unknown id"), when a channel has
 * dropped events newer than AFTER from its buffer ("too old"), or when
 * AFTER is older than this broker run and no journal covers it ("broker
 * restarted", unless 'c').
 *
 * Leases count concurrent streams per (route, sub) across all worker
 * processes for max_per_user.  The broker takes the route's limit from
 * its own copy of the config (ROUTE is the route's path pattern; an
 * unknown route is refused), makes the LEASEID (128 random bits, hex) and
 * ties it to the connection that asked: only that connection may renew
 * or release it (a worker keeps one connection for all its leases).  TAG
 * is the asker's, echoed so it can match the reply.  A lease not renewed
 * for WIRE_LEASE_TTL seconds is dropped (its worker died or restarted);
 * workers renew every WIRE_LEASE_RENEW.
 */
#ifndef ZSSE_WIRE_H
#define ZSSE_WIRE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <zmq.h>
#include "channel.h"
#include "event.h"

#define WIRE_HDR_LEN 9
#define WIRE_PAYLOAD_MIN (WIRE_HDR_LEN + 1)
#define WIRE_LEASE_TTL 30
#define WIRE_LEASE_RENEW 10
#define WIRE_SYNC_BYTE '\x01'
#define WIRE_KIND_RUN 'r'          /* a run's header: id 0, this kind.  Never an
                                    * event's kind on the wire (wire_hdr_get takes
                                    * only 'j' and 's'); the same letter as
                                    * ZSSE_KIND_SSE (event.h), which never leaves
                                    * zsse-fcgi's queues. */
#define WIRE_RUN_HDR_LEN WIRE_HDR_LEN
#define WIRE_RUN_LEN_BYTES 4        /* each event's length prefix */
#define WIRE_RUN_MAX 256            /* events per coalesced frame */
#define WIRE_RUN_BYTES 65536        /* bytes per coalesced frame after its header */

/* event.h's fields on the one channel an EVENTS message travels on (the
 * broker builds it from a stored event with store_event_wire) */
typedef struct {
    uint64_t    id;
    char        kind;
    const char *channel;  size_t channel_len;
    const char *event;    size_t event_len;
    const char *data;     size_t data_len;
} wire_event_t;                 /* a view: points into zmq frames */

void     wire_hdr_put(unsigned char hdr[WIRE_HDR_LEN], uint64_t id, char kind);
int      wire_hdr_get(const void *p, size_t len, uint64_t *id, char *kind);

/* Send EV on SOCK as an EVENTS message of one frame (channel '\0'
 * payload).  0 or -1 (errno: EINVAL for a channel or event name too
 * long, or zmq's). */
int wire_send_event(void *sock, const wire_event_t *ev);
/* Write EV's payload (the layout above) at P, which has room for
 * WIRE_PAYLOAD_MIN + EV->event_len + EV->data_len bytes; returns that
 * length.  The one payload encoder: wire.c's frames and ctl.c's replies. */
size_t wire_payload_put(unsigned char *p, const wire_event_t *ev);

/* Frames of one received message; the views in wire_event_t point here.
 * For a run, the cursor of the events not yet given out. */
typedef struct {
    zmq_msg_t f[2];
    int       n;            /* frames initialised */
    const unsigned char *run;       /* next length prefix in f[0] */
    size_t    run_left;             /* bytes from RUN to the frame's end */
} wire_frames_t;

/* A coalesced frame being built by the sender (broker): events appended
 * with wire_run_add() go out as one frame per run of one channel. */
typedef struct {
    char          channel[ZSSE_CHANNEL_MAX + 1];
    size_t        channel_len;
    size_t        n;                /* events in BODY */
    size_t        len;              /* bytes used in BODY */
    unsigned char body[WIRE_RUN_BYTES];
} wire_run_t;

/* Append EV to RUN; first sends what RUN holds when EV's channel differs
 * or RUN is full.  An event too large for a run is sent alone at once.
 * 0 or -1 (errno; the event, or the run before it, was not sent). */
int wire_run_add(wire_run_t *run, void *sock, const wire_event_t *ev);
/* Send what RUN holds (one event: the plain one-frame form; several: a
 * run frame) and empty it.  0 or -1 (errno). */
int wire_run_flush(wire_run_t *run, void *sock);

/* Decode a payload frame (P, LEN) into EV's id, kind, event and data. */
int wire_parse_payload(const void *p, size_t len, wire_event_t *ev);

/* What wire_recv_event() found. */
typedef enum {
    WIRE_RECV_ERROR  = -1,  /* malformed message (drained; errno EPROTO) or zmq error */
    WIRE_RECV_NONE   = 0,   /* nothing was waiting (ZMQ_DONTWAIT in FLAGS) */
    WIRE_RECV_EVENT  = 1,   /* EV filled: the event, or the first of a run */
    WIRE_RECV_MARKER = 2,   /* a SYNC marker: EV->channel is the whole topic */
} wire_recv_t;

/* Receive one EVENTS message from SOCK, a SUB socket (every caller reads
 * one).  Takes the one-frame form and the two-frame one (topic with its
 * '\0', then payload) an older broker sends.  After WIRE_RECV_EVENT, call
 * wire_next_event() until it returns 0 to read the rest of a run.  Call
 * wire_frames_close() after every call that returned EVENT or MARKER. */
wire_recv_t wire_recv_event(void *sock, int flags, wire_frames_t *w, wire_event_t *ev);
/* The next event of the run W holds, into EV (its channel kept): 1, or 0
 * when none is left (always 0 for a message of one event).  The views
 * stay valid until wire_frames_close(W). */
int  wire_next_event(wire_frames_t *w, wire_event_t *ev);
void wire_frames_close(wire_frames_t *w);

/* Drain the remaining frames of a multipart message */
void wire_drain(void *sock);

/* Decimal id <-> text.  wire_parse_id: strict, digits only, < 2^53;
 * -1 on anything else. */
int    wire_parse_id(const char *s, size_t len, uint64_t *id);
size_t wire_fmt_id(char *out /* >= 21 bytes */, uint64_t id);
/* bytes of a buffer that holds an id's text: 20 digits and the NUL, rounded up */
#define WIRE_ID_TEXT_LEN 24

#define WIRE_ID_MAX ((UINT64_C(1) << 53) - 1)

#endif
