/*
 * replay.h -- what a stream is sent before its live events: the replay
 * after Last-Event-ID (or the channels' state, or just the head id),
 * asked of the broker's control socket and framed as SSE.
 *
 * Used by a stream's thread when it opens (request.c) and by the hub's
 * resume thread after a broker restart (resume.c), so the two frame a replay
 * the same way.  The broker's answer is one of (wire.h):
 *     ok HEAD EVENTS...                 the events after the id
 *     more HEAD EVENTS...               a part: ask again after the last
 *     reset REASON HEAD                 the reset event, the state (asked
 *                                       in parts), an id-only block at HEAD
 */
#ifndef ZSSE_REPLAY_H
#define ZSSE_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "control.h"
#include "route.h"
#include "wire.h"

#define REPLAY_TIMEOUT_MS 2000      /* one broker round trip */

typedef struct {
    const route_t *r;
    char *const   *channels;
    size_t         nchannels;
    buf_t         *out;             /* framed SSE is appended here */
    uint64_t       last;            /* the last id framed (or skipped) */
    int            failed;          /* OUT's bound was hit, or FLUSH failed */
    /* called when OUT passes half its bound (NULL: never): write it out
     * and reset it; -1 when the client has gone */
    int          (*flush)(void *arg);
    void          *arg;
    const struct mercure_filter *filter;    /* NULL: every event (mercure.h) */
} replay_t;

/* OP (CTL_REPLAY, CTL_STATE, CTL_HEAD) for the channels; -1: the broker
 * did not answer, or refused (logged) */
int  replay_ask(const replay_t *p, ctl_op_t op, uint64_t after, const char *flags,
    control_reply_t *rep);
/* frame one event, or the reset event with REASON */
void replay_frame(replay_t *p, uint64_t id, const char *ev, size_t elen, const char *data,
    size_t dlen, char kind);
void replay_reset(replay_t *p, const char *reason);
/* sort EV[0..N) by id: every merge of several keys or channels for one
 * stream (snapshot, replay, reset with state, poll) goes out in id order */
void replay_order(wire_event_t *ev, int n);
/* Everything before the live events: the replay after LEID (with
 * HAVE_LEID; RESUME: the 'c' flag, after a broker restart), else the
 * state or the head id.  -1 when the broker cannot be reached. */
int  replay_join(replay_t *p, int have_leid, uint64_t leid, int resume);

#endif
