/*
 * batch.h -- several publish messages in one PUSH frame (README "Contract
 * notes": batches).
 *
 *   [ {"channel":"a","data":1}, {"channel":"b","data":2} ]
 *
 * A frame of the broker's publish endpoint whose first byte that is not
 * whitespace is '[' is a batch: a JSON array of 1 to BATCH_MAX publish
 * messages, at most BATCH_BYTES in all.  Each element is then validated
 * and accepted or refused on its own, exactly as a frame holding that one
 * message (msg_parse, max_message per message), in the array's order.  A
 * frame that is not a well-formed array, or passes a bound, is refused
 * whole and counted once, with its reason.  Any other frame is one
 * message.
 *
 * Why one frame: libzmq's CURVE seals every frame in its own crypto box
 * (curve_encoding_t::encode takes one msg_t, the MORE flag inside the box),
 * so a multipart message costs as many boxes as frames; one frame of N
 * messages costs one box.  The JSON array is the body the HTTP publish
 * route already takes (fcgi/publish.c).
 *
 * Publishers build batches with batch_t: batch_add() appends a message if
 * it fits, batch_frame() gives the frame to send (a lone message goes as
 * itself, not as an array of one).
 */
#ifndef ZSSE_BATCH_H
#define ZSSE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

#define BATCH_MAX   256             /* messages in one batch */
#define BATCH_BYTES (256u << 10)    /* bytes of one batch frame */

/* refusal reasons of a whole batch (keys of zsse stats' rejected_reasons) */
#define BATCH_R_MALFORMED "bad_batch"
#define BATCH_R_TOO_MANY  "batch_too_many"
#define BATCH_R_TOO_LARGE "batch_too_large"

typedef struct {
    const char *p;
    size_t      len;
} batch_span_t;

/* Split frame TEXT (LEN bytes).  BATCH_SPLIT_ONE: not a batch (one
 * message: give the frame to msg_parse as is).  BATCH_SPLIT_BATCH: a
 * batch, its N elements' raw texts in SPANS (room for BATCH_MAX), pointing
 * into TEXT, in order.  BATCH_SPLIT_REFUSED: a batch refused whole,
 * *reason set to a BATCH_R_* string. */
typedef enum {
    BATCH_SPLIT_REFUSED = -1,
    BATCH_SPLIT_BATCH   = 0,
    BATCH_SPLIT_ONE     = 1
} batch_split_t;
batch_split_t batch_split(const char *text, size_t len, batch_span_t *spans, size_t *n,
    const char **reason);

/* a batch being built by a publisher */
typedef struct {
    buf_t  buf;         /* "[" m1 "," m2 ... */
    size_t n;           /* messages in it */
} batch_t;

void batch_init(batch_t *b);
void batch_free(batch_t *b);
static inline void batch_reset(batch_t *b) { b->buf.len = 0; b->n = 0; }

/* Can TEXT (LEN bytes) go into a batch at all: one whole JSON object
 * (jsontext_value_end), so that it cannot change where its neighbours start,
 * and small enough?  A text that cannot goes alone, as its own frame. */
bool batch_can_hold(const char *text, size_t len);

/* Append TEXT (it passed batch_can_hold).  BATCH_ADD_OK added;
 * BATCH_ADD_FULL: send the batch first (batch_frame, batch_reset), then
 * add again; BATCH_ADD_ERROR out of memory (errno ENOMEM). */
typedef enum {
    BATCH_ADD_ERROR = -1,
    BATCH_ADD_OK    = 0,
    BATCH_ADD_FULL  = 1
} batch_add_t;
batch_add_t batch_add(batch_t *b, const char *text, size_t len);

/* The frame to send for the N > 0 messages added: the lone message as
 * itself, or the array.  Valid until the next batch_* call. */
void batch_frame(batch_t *b, const char **p, size_t *len);

#endif
