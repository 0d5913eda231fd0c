/*
 * zsse.h -- the public C API of libzsse: publish events to a zsse broker.
 *
 *     #include <zsse.h>          link with -lzsse
 *
 *     zsse_publisher_t *pub = zsse_publisher_new("tcp://127.0.0.1:7701");
 *     zsse_publish(pub, "user/42", "balance.changed", "{\"amount\":1200}");
 *     zsse_publisher_destroy(&pub);
 *
 * zsse_publish() pushes one message to the broker's PULL ("publish") endpoint
 * and returns as soon as ZeroMQ has queued it: fast, fire and forget.  When
 * the caller must know the event was stored (and journaled), use
 * zsse_publish_ack() against the broker's "control" endpoint: it returns the
 * id the broker assigned, or fails with the broker's reason.
 *
 * A publisher is not thread-safe: use one per thread.
 */
#ifndef ZSSE_H
#define ZSSE_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "zsse_version.h"   /* ZSSE_VERSION, from configure.ac */

typedef struct zsse_publisher zsse_publisher_t;

/* Connect a publisher to ENDPOINT (tcp:// or ipc://).  With a PUSH socket
 * for a "publish" endpoint; NULL on error (errno set). */
zsse_publisher_t *zsse_publisher_new(const char *endpoint);

/* Like zsse_publisher_new(), but a message is only queued on a connection
 * a broker has accepted: zsse_publish() / zsse_publish_raw() fail with
 * errno EAGAIN when no broker took it within TIMEOUT_MS.  Success still
 * does not mean stored: a broker that stops before reading it loses it
 * (use zsse_publish_ack() for that). */
zsse_publisher_t *zsse_publisher_new_timeout(const char *endpoint, int timeout_ms);

/* Free the publisher and set *pubp to NULL.  Waits at most one second for
 * queued messages to leave. */
void zsse_publisher_destroy(zsse_publisher_t **pubp);

/* Publish DATA (a JSON text: object, array, string, number...) as event
 * EVENT (may be NULL) on CHANNEL.  0 on success, -1 on error (errno set:
 * EINVAL for a bad channel, event or JSON). */
int zsse_publish(zsse_publisher_t *pub, const char *channel,
    const char *event, const char *json_data);

/* Send a complete publish message (a JSON object, SPEC section 4) as is. */
int zsse_publish_raw(zsse_publisher_t *pub, const char *json_msg, size_t len);

/* Batching (README "Contract notes": batches): from now on, up to
 * MAX_MESSAGES (2 to ZSSE_BATCH_MAX; 0 or 1: off, the default) messages
 * of zsse_publish() / zsse_publish_raw() go to the broker in one frame,
 * which costs the broker (and CURVE) one frame instead of one per message.
 * A batch leaves when it holds MAX_MESSAGES, when the next message would
 * pass its size bound, on zsse_publisher_flush() and on destroy: messages
 * wait until then, so call zsse_publisher_flush() whenever you have
 * nothing more to send right away.  The broker still takes or refuses each
 * message on its own, in order.  A raw text that is not one whole JSON
 * object is never batched: it flushes the batch and goes alone.  When a
 * send fails, the batch is kept (the next publish or flush retries it) and
 * -1 is returned only for a message that was not taken.  Fire-and-forget
 * publishers only (EINVAL on an acknowledged one).  0, or -1 with errno. */
#define ZSSE_BATCH_MAX 256
int zsse_publisher_batch(zsse_publisher_t *pub, unsigned max_messages);

/* Send the batch gathered so far (nothing to send: 0).  -1 with errno as
 * zmq_send (EAGAIN: a timeout publisher found no broker), the batch kept. */
int zsse_publisher_flush(zsse_publisher_t *pub);

/* Acknowledged publish through the broker's "control" endpoint: connect
 * with zsse_publisher_new_ack(control_endpoint).  On success returns 0 and
 * stores the assigned id in *id.  On a rejection returns -1 and copies the
 * broker's reason into ERR (size ERRLEN); on timeout (TIMEOUT_MS) returns -1
 * with ERR "timeout". */
zsse_publisher_t *zsse_publisher_new_ack(const char *control_endpoint);
int zsse_publish_ack(zsse_publisher_t *pub, const char *json_msg, size_t len,
    int timeout_ms, uint64_t *id, char *err, size_t errlen);

/* Connect as config file FILE says (NULL: $ZSSE_CONFIG, else
 * /etc/zsse/zsse.json): to broker.publish, or with ACK non-zero to
 * broker.control for zsse_publish_ack(); with CURVE when broker.curve names
 * this client's keys (server_public_key_file, client_secret_key_file).
 * TIMEOUT_MS >= 0 (without ACK) works as zsse_publisher_new_timeout();
 * -1: sends block as ZeroMQ's do.  NULL on error, with the reason in ERR
 * (size ERRLEN). */
zsse_publisher_t *zsse_publisher_new_config(const char *file, int ack, int timeout_ms,
    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
