/*
 * cluster.h -- the broker's cluster mode on NATS JetStream (issue 14,
 * broker.cluster in the config; README "Cluster").
 *
 * Without broker.cluster the broker is what it always was: one process,
 * its memory (store.h) and its own journal (journal.h).  With it, several
 * brokers (one per web host) share one JetStream stream, replicated by
 * Raft over broker.cluster.replicas NATS servers, and that stream is the
 * journal:
 *
 *   publisher --PUSH/--ack--> broker A --async publish--> stream "ZSSE"
 *                                  ^   (acknowledged once JetStream has
 *                                  |    stored it; the id is its sequence)
 *   every broker  <--ordered consumer-- stream, in sequence order
 *        |  apply: store (rings, state: a mirror of the stream), then XPUB
 *        v
 *   its own zsse-fcgi workers, over its PUB socket exactly as before
 *
 * So a broker publishes what it is given into the stream, and learns what
 * to deliver only by following the stream: its own publishes and the
 * other brokers' come back the same way, in one total order, and every
 * broker's mirror is the same.  At start a broker reads the stream from
 * its first message (bounded by broker.cluster.max_age and max_bytes) and
 * answers control requests only once it has caught up with the stream's
 * last sequence as it was when it started.
 *
 * Ids: id = stream sequence + broker.cluster.id_offset (config.h), strictly
 * increasing across brokers, restarts and fail-overs, above every id the
 * single broker gave (the clock in microseconds) and below 2^53.  So a
 * client reconnecting to any host with its Last-Event-ID gets exactly what
 * it missed.  A replay from an id the stream has given but a lagging
 * broker has not applied yet is answered at once with what it has (none
 * of them): zsse-fcgi drops live events up to the client's id, and the
 * rest come live as the broker catches up, so nothing is missed or
 * doubled, and the broker's loop never waits for it.
 *
 * Subjects: an event goes to SUBJECT.TOKEN where TOKEN is its first
 * channel as a NATS subject token (natskey.h): the stream's subjects are
 * SUBJECT.>, and an operator can watch one channel with the nats tools.
 * The message body is the publish message as received (SPEC 4); the
 * accepted time is JetStream's timestamp, the same on every broker.
 *
 * Losing NATS: cluster_ready() is false while the connection is down or
 * the mirror is behind at start; the broker then answers new streams'
 * head and replay with an error (zsse-fcgi: 503) and refuses publishes
 * with the reason "cluster_unavailable", never acknowledging what is not
 * stored.  Open streams stay open; once NATS is back the ordered consumer
 * goes on from the last sequence applied, so nothing is skipped.
 *
 * Threads: libnats calls back on its own threads (the publish acks, the
 * consumer's messages); those callbacks only queue (bounded: a full queue
 * makes libnats' delivery wait) and wake the broker's loop through an
 * eventfd it polls (cluster_fd).  Everything else runs on the broker's
 * thread.
 */
#ifndef ZSSE_CLUSTER_H
#define ZSSE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "event.h"

#define CLUSTER_PUB_WINDOW   4096   /* asynchronous publishes in flight, at most */
#define CLUSTER_PUB_MARK     2048   /* in flight from which the loop stops reading its PULL
                                     * socket (cluster_full): a turn takes at most
                                     * BROKER_BATCH + a batch, so the window never fills */
#define CLUSTER_QUEUE_MAX    65536  /* messages and acks waiting for the loop */
#define CLUSTER_TIMEOUT_MS   5000   /* JetStream API requests (stream info, create) */
#define CLUSTER_ASK_MS       200    /* the stream's last sequence, asked by the loop
                                     * (not again for a second after a failure) */
#define CLUSTER_START_MS     30000  /* the stream (and the leases' bucket) made and
                                     * followed at start, tried again until then */
#define CLUSTER_REASON_DOWN  "cluster_unavailable"

typedef struct cluster cluster_t;

/* what the loop is told: one per call of cluster_poll's callbacks */
typedef struct {
    /* an event of the stream, in sequence order: REC (id set, channels
     * pointing into the message) to store and publish */
    void (*apply)(void *ctx, const event_rec_t *rec);
    /* an acknowledged publish's answer: TOKEN as given to cluster_publish;
     * ID its id, or 0 with REASON when JetStream refused it */
    void (*acked)(void *ctx, uint64_t token, uint64_t id, const char *reason);
    /* non-zero: the process is to stop (SIGTERM while starting): the
     * retries of cluster_new and cluster_rebuild give up (NULL: never) */
    int  (*stopped)(void *ctx);
} cluster_hooks_t;

/* Connect to broker.cluster's servers, create (or find) the stream, and
 * start following it from its first message.  NULL with ERR set when the
 * config is unusable or the first connection fails after CLUSTER_TIMEOUT_MS
 * (a NATS down later is survived: see cluster_ready). */
cluster_t *cluster_new(const broker_conf_t *conf, const cluster_hooks_t *hooks, void *ctx,
    char *err, size_t errlen);
void       cluster_destroy(cluster_t **cp);

/* The eventfd the loop polls: readable when cluster_poll has work. */
int        cluster_fd(const cluster_t *c);
/* Run the hooks for what has arrived (at most MAX messages and acks).
 * Returns how many. */
size_t     cluster_poll(cluster_t *c, size_t max);

/* Publish the validated message MSG (LEN bytes; FIRST its first channel)
 * into the stream.  TOKEN != 0: an acknowledged publish, answered through
 * hooks->acked.  0, or -1 with *REASON (cluster_unavailable: not
 * connected; publish_error: libnats refused). */
int        cluster_publish(cluster_t *c, const char *msg, size_t len, const char *first,
    size_t first_len, uint64_t token, const char **reason);

/* At start, before the broker serves anyone: apply the stream up to the
 * last sequence it had when cluster_new() asked (the mirror rebuilt), or
 * what is left of it (the stream may drop its oldest meanwhile).  0, or
 * -1 when NATS was lost meanwhile or nothing came for CLUSTER_START_MS. */
int        cluster_rebuild(cluster_t *c);
/* The id of the last event applied (0 + offset: none). */
uint64_t   cluster_last_id(const cluster_t *c);

/* 1 when CLUSTER_PUB_MARK publishes are in flight: the loop leaves the
 * PUSH publishers' messages in their socket (ZeroMQ's queue, then their
 * own high-water mark: backpressure) until JetStream has answered some;
 * the loop is woken then.  Its control requests are served meanwhile. */
int        cluster_full(const cluster_t *c);

/* 1 when the stream is not the one this broker started on: it was
 * deleted and made again (its creation time changed).  Its new ids would
 * go back below those the clients hold: the broker must stop (and, started
 * again, serve the new stream; a client's id is then unknown: reset).  A
 * purge keeps the sequences going: not this. */
int        cluster_lost(const cluster_t *c);

/* 1 when connected and caught up with the stream (see above), else 0. */
int        cluster_ready(const cluster_t *c);
/* Is ID one the stream has given (a client may hold it, from another
 * host), though this broker may not have applied it yet?  Known without
 * asking when it is at most the last sequence this broker has applied,
 * been acknowledged or seen the watchdog ask; else the stream is asked,
 * waiting at most CLUSTER_ASK_MS (not for a second after such an ask
 * failed).  1: given; 0: no such id (yet). */
int        cluster_id_given(cluster_t *c, uint64_t id);
/* The id the stream's first kept message has (events below it are gone:
 * a replay from before it is a reset), 0 when unknown. */
uint64_t   cluster_first_id(const cluster_t *c);

/* For `zsse stats`: stream messages skipped (not events), and times the
 * consumer was made again (cluster_watch). */
void       cluster_counts(cluster_t *c, uint64_t *skipped, uint64_t *refollowed);

/* The connection, for the leases (lease_kv.h). */
struct __natsConnection *cluster_nats(cluster_t *c);

#endif
