/*
 * hub.h -- the one thread per zsse-fcgi process that owns the ZeroMQ SUB
 * socket and every open SSE stream.
 *
 *     broker XPUB ──▶ SUB ─┐
 *                          hub thread (zmq_poll + epoll) ──▶ FastCGI sockets
 *     setup threads ───────┘ (adopt)
 *
 * A stream begins in a setup thread (request.c), which routes, checks
 * the token, takes the lease and registers the stream's channels here.
 * The hub subscribes them ("chan\0", counted, so two streams of one
 * channel share one subscription), then a sync topic "\1<nonce>\0"
 * behind them (wire.h).  When the broker echoes the marker, every one of
 * those subscriptions is in force: the stream is "synced", and its thread
 * asks for the replay with no gap.  Live events that arrive meanwhile are
 * queued on the stream (refcounted, one copy per process).
 *
 * Then the thread writes the headers and the replay and hands the stream
 * over (hub_adopt): from there on the stream is a small struct and one
 * descriptor in the hub's epoll set -- no thread, no stack, no libfcgi
 * buffers.  The thread goes back to accepting.  The hub frames each live
 * event once per format and sends it to every stream of its channel as
 * one FastCGI STDOUT record, without blocking; events of one channel that
 * arrive together (a burst the hub is behind on) go out as one record.  A stream that cannot take
 * it (a slow client) keeps the unsent tail of the record (writer.h) and
 * queues what follows; EPOLLOUT resumes the writing.  A stream whose
 * output has not moved for stall_timeout seconds, or whose queue passes
 * STREAM_QUEUE_MAX events, is dropped.
 *
 * Heartbeats are due when a stream has written nothing for its interval:
 * a min-heap (heap.h) orders the streams by when to look at them again -- the next
 * heartbeat, the end of max_lifetime or the token's exp (plus leeway:
 * the route's auth_expired_event goes out first, then the response
 * ends); a write only makes that look come
 * early, never late -- so each heartbeat goes out on time and on its own,
 * not ten thousand in one burst that would hold up the events behind it.
 * Once a second the hub sweeps its streams for stall_timeout.  A readable
 * or hung-up FastCGI socket means the client left (nginx tells at once;
 * lighttpd and Apache at the next write).
 *
 * When the SUB socket reconnects (the broker restarted), every stream is
 * synced again -- after a probe topic has come back through the new
 * connection, so that no marker can overtake the subscriptions ZeroMQ
 * sends again in sorted order (chantab.h, "the probe"); then the resume
 * thread (resume.h) asks the broker for a replay from the stream's last id with the
 * 'c' flag and hands it back framed; live events wait in the queue until
 * it is written, so none is skipped.  A job made stale by a further
 * reconnect is skipped without asking the broker.
 *
 * zsse revoke: the broker publishes its table of revoked tokens on the
 * reserved topic REVOKE_TOPIC (revoke.h); the hub keeps a copy, which new
 * streams are checked against, and ends every adopted stream it refuses.
 *
 * Streams that never leave their thread (poll mode) use the same
 * registration, queue and eventfd.  The hub renews the streams' leases
 * (max_per_user) every WIRE_LEASE_RENEW seconds and releases a lease when
 * its stream ends.
 *
 * The parts, one per file (hub.c keeps the loop: the commands from the
 * setup and resume threads, the SUB reader and its burst buffer, fan-out,
 * timers, the sweep, leases, revocations, the graceful stop):
 *   stream.h   the stream object, its queue and its state machine
 *   chantab.h  channels on the SUB socket, sync markers, the probe
 *   writer.h   FastCGI STDOUT records written without blocking
 *   heap.h     the timer min-heap
 *   resume.h   the resume thread and its job queue
 *   request.h  the setup threads' side: serving one request
 */
#ifndef ZSSE_HUB_H
#define ZSSE_HUB_H

#include <jansson.h>
#include "curve.h"
#include "stream.h"

/* Start the hub thread: its SUB socket on ZCTX connects to
 * EVENTS_ENDPOINT (the broker's XPUB) with CURVE (NULL: none); leases go
 * over control.c's own connection.  Once, before any other hub_ call.
 * 0, or -1 when a socket, the epoll set or the thread could not be made
 * (errno set, except for the thread). */
int  hub_start(void *zctx, const char *events_endpoint, const curve_client_t *curve);
/* release this process' leases and stop the hub thread */
void hub_stop(void);
/* A graceful stop, before hub_stop(): send every adopted stream's client
 * "retry: R", R uniform in [WINDOW_MS / 10, WINDOW_MS], and end the
 * streams in a shuffled order, so that they reconnect (with Last-Event-ID)
 * spread over the window.  Returns when done, or after 5 s.  0: nothing. */
void hub_drain(int window_ms);

/* Register S (NEW, its channels set) with the hub: it becomes SYNCING,
 * then SYNCED once its marker is back (wait on S->efd).  0, or -1 when
 * out of memory (S stays NEW).  The calling thread's stream. */
int  hub_register(stream_t *s);
/* unregister S (any of its thread's states); returns once the hub let go
 * (S is RELEASED: the caller frees it) */
void hub_unregister(stream_t *s);
/* hand a registered, synced stream to the hub: S->route, path, out (writer_init),
 * and last are set, the headers and replay written.  The
 * caller must not touch S again. */
int  hub_adopt(stream_t *s);
/* does zsse revoke refuse a token with CLAIMS (NULL: none)?  The hub's
 * copy of the broker's table (revoke.h); any thread */
int  hub_refuses(json_t *claims);
#endif
