/*
 * chantab.h -- the hub's subscriptions on its SUB socket: the channel
 * table (which registered streams read each channel) and the sync
 * markers that tell when a stream's subscriptions are in force.  The
 * hub's thread alone.
 *
 * Channels: a channel's topic is its name with its '\0' ("chan\0"), so
 * that "a" never matches "ab" by prefix.  It is subscribed when its first
 * stream comes and unsubscribed when its last one goes: streams of one
 * channel share one subscription (counted by the table).
 *
 * Sync markers: behind a stream's channels the hub subscribes a topic of
 * its own, "\1<pid>.<n>\0" (WIRE_SYNC_BYTE, wire.h); the broker echoes a
 * sync topic when it sees the subscription, and ZeroMQ sends a SUB's
 * subscriptions in order, so the echo means every subscription before it
 * is in force.  A topic whose echo came back is used again (a pool of
 * CHANTAB_NONCE_POOL): libzmq keeps about 220 bytes for every distinct
 * topic a SUB socket ever subscribed, unsubscribed or not (4.3.4) -- a
 * fresh topic per stream grew the worker by that much per reconnect
 * (tests/bench/soak).  One abandoned before its echo (a resync, an
 * unregister) may still be echoed, and is never used again.
 *
 * The probe: markers only behind a new connection's subscriptions.  On a
 * (re)connect ZeroMQ's SUB sends its whole subscription set again, and in
 * sorted order -- sync topics ("\1...") before every channel -- when it
 * sends them as the pipe is attached.  A stream's marker set before then
 * could come back ahead of the channels it must follow, and an event
 * published in between would be in neither the stream's replay nor its
 * live feed.  So on every connect the hub first subscribes one probe
 * topic (chantab_probe_start).  Its echo comes through the new
 * connection, whose pipe is then attached, with every subscription
 * already written to it; only then does each stream get its marker
 * (chantab_marker, stream_t.needs_marker), which now travels behind them.
 */
#ifndef ZSSE_CHANTAB_H
#define ZSSE_CHANTAB_H

#include <stddef.h>
#include "stream.h"

#define CHANTAB_BUCKETS    1024     /* hash buckets, for channels and markers */
#define CHANTAB_NONCE_POOL 4096     /* sync topics kept for reuse */

/* the table over SUB (a ZeroMQ SUB socket); 0, or -1 when out of memory
 * for the topic pool (the table then works without reuse) */
int chantab_init(void *sub);

/* S (being registered) reads its channels from now on; a channel without
 * memory for S is skipped (S misses its events; nothing is logged) */
void chantab_add(stream_t *s);
/* S reads none of its channels any more, and awaits no marker */
void chantab_remove(stream_t *s);
/* the streams reading channel NAME (LEN bytes): *N of them, NULL: none.
 * Valid until the table next changes. */
stream_t *const *chantab_readers(const char *name, size_t len, size_t *n);

/* give S a marker now, or once the probe is back */
void chantab_sync(stream_t *s);
/* the SUB socket (re)connected: S forgets its marker and gets a new one
 * once the probe is back (call chantab_probe_start() after all of them) */
void chantab_resync(stream_t *s);
/* subscribe a fresh probe topic (a connection is coming) */
void chantab_probe_start(void);
/* A sync topic TOPIC (LEN bytes with its '\0') came back.  The probe's:
 * every stream of the list STREAMS (by hub_next) that needs a marker gets
 * one, and NULL is returned.  A stream's: that stream, which awaits no
 * marker any more.  Else NULL. */
stream_t *chantab_marker(const char *topic, size_t len, stream_t *streams);

#endif
