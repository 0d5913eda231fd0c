/*
 * broker.h -- zsse-broker: the event loop.
 *
 *   PULL  (broker.publish)  <- publishers: one JSON message, or a batch
 *                              of them (batch.h), per frame
 *   XPUB  (broker.events)   -> workers: events (one frame each, or
 *                              coalesced runs of one channel), sync
 *                              markers, the revoked-token table (wire.h)
 *   ROUTER(broker.control)  <- workers, CLI: ping, head, replay, state,
 *                              publish --ack, stats, leases, revoke
 *
 * With broker.curve all three are CURVE servers (proto/curve.h) and only
 * the listed client keys get in (the ZAP handler, zap.h); without it, a
 * tcp:// endpoint off loopback needs broker.trusted_network (main.c).
 *
 * One thread.  Each wake-up drains up to BROKER_BATCH messages: each is
 * validated (rejected ones counted and logged, rate-limited), given an id
 * and appended to the journal; then the batch is committed (one write,
 * one sync, broker_commit), and only then stored in its channels,
 * published and acknowledged.  So no subscriber, replay or publisher ever
 * sees an event the journal could lose.
 */
#ifndef ZSSE_BROKER_H
#define ZSSE_BROKER_H

#include "config.h"
#include "ctl.h"

#define BROKER_BATCH 1024
#define BROKER_CURVE_IO_THREADS 2   /* libzmq I/O threads with CURVE (default 1):
                                     * publishers on one, the rest on the other */
#define BROKER_CTL_SNDHWM 32    /* replies queued per control peer */

typedef struct broker broker_t;

broker_t *broker_new(config_t *cfg, char *err, size_t errlen);
/* Run until broker_stop() (from a signal handler: sets a flag). */
int  broker_run(broker_t *b);
void broker_destroy(broker_t **bp);

/* Answer one control request in-process: FRAMES are the operation and
 * its arguments (after the routing id IDENT and the delimiter); the reply
 * frames (status first) go to OUT, empty when there is none to send now
 * (an acknowledged publish is answered once its batch is committed).
 * The socket loop calls it for each request; the fuzzer calls it
 * directly.  Never reads a frame ctl_decode() has not checked. */
void broker_control(broker_t *b, const char *ident, size_t idlen, const ctl_arg_t *frames,
    size_t n, ctl_reply_t *out);
/* Commit the batch of publishes taken so far: journal, store, publish,
 * acknowledge (the loop does it after each batch; an in-process caller of
 * broker_control() calls it before it reads what it published).  Cannot
 * fail: a batch the journal refuses is rejected and answered "error". */
void broker_commit(broker_t *b);

/* Count max_per_user in the JetStream key-value bucket LK (lease_kv.h),
 * across brokers, rather than in this broker alone (NULL: alone again).
 * The caller keeps LK and destroys it after broker_destroy. */
struct leasekv;
void broker_set_leasekv(broker_t *b, struct leasekv *lk);

/* async-signal-safe: every loop of the process returns */
void broker_stop(void);
/* B's loop alone returns, within a second (tests run several brokers in
 * one process: test_cluster.c) */
void broker_halt(broker_t *b);
void broker_reopen_log(void);

#endif
