/*
 * broker.h -- zsse-broker: the event loop.
 *
 *   PULL  (broker.publish)  <- publishers: one JSON message per frame
 *   XPUB  (broker.events)   -> workers: events, and sync markers (wire.h)
 *   ROUTER(broker.control)  <- workers, CLI: replay, state, publish --ack,
 *                              stats, leases
 *
 * With broker.curve all three are CURVE servers (proto/curve.h) and only
 * the listed client keys get in (the ZAP handler, zap.h); without it, a
 * tcp:// endpoint off loopback needs broker.trusted_network (main.c).
 *
 * One thread.  Each wake-up drains up to BROKER_BATCH messages: each is
 * validated (rejected ones counted and logged, rate-limited), given an id,
 * stored, and appended to the journal; then the batch is committed (one
 * write, one sync), and only then published and acknowledged.  So no
 * subscriber and no publisher ever sees an event the journal could lose.
 */
#ifndef ZSSE_BROKER_H
#define ZSSE_BROKER_H

#include "config.h"

#define BROKER_BATCH 1024
#define BROKER_CURVE_IO_THREADS 2   /* libzmq I/O threads with CURVE (default 1):
                                     * publishers on one, the rest on the other */

typedef struct broker broker_t;

broker_t *broker_new(config_t *cfg, char *err, size_t errlen);
/* Run until broker_stop() (from a signal handler: sets a flag). */
int  broker_run(broker_t *b);
void broker_destroy(broker_t **bp);

/* async-signal-safe */
void broker_stop(void);
void broker_reopen_log(void);

#endif
