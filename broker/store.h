/*
 * store.h -- the broker's memory: channels, replay rings, state.
 *
 *   store --hash--> channel "board/b1"
 *                     ring:  [ev 41][ev 42][ev 45] ...   (count <= buffer)
 *                     floor: 40   (highest id dropped from the ring)
 *                     state: "balance/gold" -> ev 45, ...
 *
 * An event is one allocation (header + event name + key + data) with a
 * reference count: a message published to three channels is stored once
 * and referenced by three rings, and by the states that keep it.
 *
 * Events leave a ring when it is full (count) or when they are older than
 * their ttl (the message's, else the channel's).  Either way the ring's
 * floor rises, so a replay from an id below it is known to have a gap
 * ("too old").  State entries are the newest event per (channel, key) and
 * live until replaced or past their own ttl; a channel holds at most
 * broker.max_state_keys keys and max_state_bytes of them (a message past
 * either is refused: store_state_check).  Channels that are empty,
 * stateless and idle for a while are freed.
 *
 * Memory (broker.max_memory, issue 12): every byte of events, channels and
 * the fifo below is counted (store_memory).  Each ring entry is also
 * appended to one fifo in the order events came in; past the budget the
 * oldest entries are evicted first (store_make_room), raising their
 * channel's floor just as a full ring does, so a replay from before them
 * gets the reset event.  Entries whose event already left its ring are
 * dropped as they reach the fifo's front; the fifo's own bytes count
 * towards the budget too, so nothing grows past it.
 */
#ifndef ZSSE_STORE_H
#define ZSSE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "event.h"
#include "wire.h"

#define STORE_CHANNELS_MAX  1000000
#define STORE_IDLE_US       (60ll * 1000000)

typedef struct store_event {
    uint32_t    refs;
    char        kind;
    uint8_t     event_len;
    uint8_t     key_len;
    uint32_t    ttl;            /* the message's ttl, 0: the channel's */
    uint32_t    data_len;
    uint64_t    id;
    int64_t     accepted_us;
    char       *event;          /* these three point into blob[] */
    char       *key;
    char       *data;
    char        blob[];
} store_event_t;

typedef struct store_channel {
    struct store_channel *next;       /* hash chain */
    store_event_t   **ring;
    uint32_t    cap, head, count;   /* cap: allocated, grows up to max */
    uint32_t    max;            /* the buffer: events kept */
    int         ttl;            /* default ttl, seconds */
    uint64_t    floor;
    store_event_t   **state;          /* newest event per key, unordered */
    uint32_t    nstate, capstate;
    int64_t     touched_us;
    size_t      state_bytes;    /* event, key and data bytes of the state */
    uint32_t    fifo_refs;      /* fifo entries naming it: not freed before */
    uint8_t     name_len;
    char        name[];
} store_channel_t;

typedef struct store store_t;

store_t *store_new(const broker_conf_t *conf);
void     store_destroy(store_t **sp);

/* The stored form of REC (one allocation, one reference; its channels are
 * not kept: the rings that hold it say where it is).  NULL: ENOMEM. */
store_event_t *store_event_new(const event_rec_t *rec);
/* E as a record without channels (the caller adds them): the view the
 * journal writes.  Points into E. */
void     store_event_rec(const store_event_t *e, event_rec_t *out);
/* E on channel CH as EVENTS frames carry it (wire.h).  Points into E, CH. */
void     store_event_wire(const store_event_t *e, const store_channel_t *ch,
    wire_event_t *out);
static inline void store_event_ref(store_event_t *e) { e->refs++; }
void     store_event_unref(store_event_t *e);

/* The channel NAME, created when CREATE (NULL when absent, or when the
 * channel limit is reached). */
store_channel_t *store_channel(store_t *s, const char *name, size_t len, int create);

/* Append EV to CH (and to its state when EV has a key). */
void store_push(store_t *s, store_channel_t *ch, store_event_t *ev, int64_t now_us);

/* Would a keyed event (KEY, SIZE bytes of event name, key and data) fit
 * CH's state?  NULL, or the reason: "state_keys" (a new key past
 * max_state_keys), "state_bytes" (past max_state_bytes). */
const char *store_state_check(const store_t *s, const store_channel_t *ch, const char *key,
    size_t key_len, size_t size);

/* Evict the oldest buffered events until NEED more bytes fit in
 * max_memory.  0, or -1 when they cannot (what is left is state). */
int      store_make_room(store_t *s, size_t need);
size_t   store_memory(const store_t *s);      /* bytes counted */
uint64_t store_evicted(const store_t *s);     /* ring entries evicted */

/* EV from the journal on start: pushed like store_push, unless CH has
 * dropped it already (id at or below the floor), when only its state (a
 * key's newest event outlives the ring) is kept. */
void store_restore(store_t *s, store_channel_t *ch, store_event_t *ev, int64_t now_us);

/* Drop what is past its ttl from CH */
void store_expire(store_channel_t *ch, int64_t now_us);

/* an event found for a request, and the channel it was found in */
typedef struct {
    store_event_t         *ev;
    const store_channel_t *ch;
} store_hit_t;

/* Events of CHANS with id > AFTER (when REPLAY) or their state (when not),
 * in id order without repeats, into OUT (cap OUTCAP, grown with realloc).
 * Returns the count, or -1 on allocation failure. */
long store_collect(store_t *s, const char *const *chans, const size_t *lens, size_t n,
    uint64_t after, int replay, int64_t now_us, store_hit_t **out, size_t *outcap);

/* Highest floor among CHANS (after expiry) */
uint64_t store_floor(store_t *s, const char *const *chans, const size_t *lens, size_t n,
    int64_t now_us);

/* Expire every channel, free idle empty ones.  Returns channels left. */
size_t store_sweep(store_t *s, int64_t now_us);

/* Smallest id still referenced by a ring or a state (UINT64_MAX: none) */
uint64_t store_min_live(store_t *s);

/* Call FN for every live event once, in id order (journal compaction). */
int store_each_live(store_t *s, int (*fn)(void *ctx, const event_rec_t *rec), void *ctx);

/* Call FN for every channel with a floor (the journal's floors file);
 * stops at and returns FN's first non-zero result. */
int store_each_floor(store_t *s, int (*fn)(void *ctx, const char *name, size_t len,
    uint64_t floor), void *ctx);

size_t store_channels(const store_t *s);
size_t store_events(const store_t *s);      /* ring entries, all channels */
size_t store_keys(const store_t *s);        /* state entries */

#endif
