/*
 * resume.h -- the hub's resume thread and its job queue: after a broker
 * restart, each adopted stream's replay from its last id, asked for off
 * the hub's thread (a round trip to the broker, up to its timeout, would
 * hold up every other stream).
 *
 * The hub posts a job (resume_post) when a stream is synced again; the
 * thread takes the jobs in order, asks the broker for the replay after
 * the job's id with the 'c' flag (replay.h), frames it as the stream's
 * thread would have, and hands it back through the hub's callback as one
 * raw queued event (ZSSE_KIND_SSE; NULL: the replay failed).  A job made stale
 * by a further reconnect (the stream's resync count moved on) is handed
 * back NULL at once, without the round trip: after many quick restarts,
 * thousands of stale jobs delayed the current ones.
 *
 * The thread starts on the first job: most processes never see the
 * broker restart.  While a job is in flight the stream's channels, route
 * and filter do not change: the hub frees a stream only when its jobs
 * are done (stream_t.jobs, the hub's count).
 */
#ifndef ZSSE_RESUME_H
#define ZSSE_RESUME_H

#include <stdint.h>
#include "stream.h"

/* How a job comes back, on the resume thread: S's replay framed (E, one
 * reference, the callee's), or NULL when it failed or was stale.  Must
 * not block long: it posts to the hub. */
typedef void resume_done_fn(stream_t *s, stream_qev_t *e);

/* Ask for S's replay after id AFTER, S's resync count being RESYNCS (read
 * with __ATOMIC_ACQUIRE).  DONE is called once for it.  0, or -1 when no
 * thread or no memory (DONE is then not called).  The hub's thread. */
int resume_post(stream_t *s, uint64_t after, unsigned resyncs, resume_done_fn *done);

/* Let the thread end once it is idle; it is not joined (a replay in
 * flight may wait for the broker).  Jobs queued are dropped. */
void resume_stop(void);

#endif
