/*
 * journal.h -- the broker's durable journal (broker.journal set).
 *
 * Every accepted event is appended to the journal before it is published
 * or acknowledged.  The broker calls journal_append() for each event of a
 * batch, then journal_commit() once; commit writes the batch and makes it
 * durable according to the fsync policy (broker.journal_fsync):
 *
 *     "always" (0)   fdatasync on every commit, before the batch is
 *                    published or acknowledged (group commit: one sync
 *                    per batch).  A crash of the broker or of the machine
 *                    loses nothing acknowledged.
 *     N ms           write on every commit (so a crash of the broker alone
 *                    loses nothing acknowledged: the data is in the page
 *                    cache), fdatasync from a timer at most N ms after the
 *                    first unsynced write (journal_tick; the broker's poll
 *                    waits no longer than journal_sync_in_ms).  A crash of
 *                    the machine may lose what was acknowledged in the
 *                    last N ms (plus the time a sync takes).
 *
 * A commit that fails (short write, ENOSPC, EIO, a failed fdatasync) is
 * undone: the segment is truncated back to its last good record before
 * anything else is written, and the caller must neither publish nor
 * acknowledge the batch.
 *
 * Layout: DIR/journal-<first id, 16 digits>.zj segment files, each a run
 * of records:
 *
 *     u32 magic 'ZJ01'  u32 length of the rest  u32 crc32 of the rest
 *     u64 id  u64 accepted (unix µs)  u32 ttl (s)  u8 kind
 *     u8 nchannels  { u8 len, bytes }...  u8 event_len, bytes
 *     u8 key_len, bytes  u32 data_len, bytes
 *
 * and DIR/floors.zf, rewritten (tmp, fdatasync, rename) before segments
 * are deleted: a JOURNAL_KIND_FLOOR record per channel (id: the highest id
 * the channel has dropped from its buffer; one channel, no data), and a
 * JOURNAL_KIND_LOST record (id: journal_lost_upto) when the journal has a
 * damaged range.
 *
 * On open the floors, then the segments are read in order and each
 * intact record is handed to the caller (who rebuilds buffers, floors,
 * state and the id counter).  A damaged tail of the last segment (a crash
 * in the middle of a write) is cut off.  Damage anywhere else is a hole:
 * reading goes on at the next intact record, the damaged bytes are copied
 * to SEGMENT.damaged-OFFSET (the segment itself is left as it is), the
 * range is logged, and journal_lost_upto() reports the highest id it may
 * have held, so that the broker answers any replay from before it with
 * the reset event.
 *
 * journal_maybe_rotate() starts a new segment; the broker rotates when the
 * active one passes JOURNAL_SEGMENT_MAX and drops whole segments whose
 * events are all gone from every buffer and state (journal_drop_before),
 * and when that is not enough -- long-lived state pinning an old segment --
 * rewrites the live events into a fresh segment (compaction: begin, then
 * append the live events and journal_compact_write -- in a forked child,
 * so ingest goes on -- then journal_compact_finish).  So the journal stays
 * bounded by the buffers' count and ttl plus a few segments.
 */
#ifndef ZSSE_JOURNAL_H
#define ZSSE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "channel.h"
#include "event.h"

#define JOURNAL_SEGMENT_MAX (64u << 20)

/* A record is an event_rec_t (proto/event.h): the broker hands the one
 * it parsed or stored (store_event_rec) straight to journal_append. */

/* record kinds besides the events' own (proto/event.h) */
#define JOURNAL_KIND_FLOOR  'F'     /* floors file: channels[0]'s floor is id */
#define JOURNAL_KIND_LOST   'L'     /* floors file: ids <= id may be lost */

typedef struct journal journal_t;

/* Called for each record on open: floor records first (kind
 * JOURNAL_KIND_FLOOR, any order), then events in id order; non-zero stops
 * the replay with an error. */
typedef int (*journal_cb)(void *ctx, const event_rec_t *rec);

/* Open (create) the journal in DIR and replay it through CB.  NULL with a
 * message in ERR on failure.  FSYNC_MS: 0 "always", else the interval. */
journal_t *journal_open(const char *dir, int fsync_ms, journal_cb cb, void *ctx,
    char *err, size_t errlen);
void journal_close(journal_t **jp);

/* Ids at or below this may have been in a damaged range (0: none): a
 * replay from before it must get the reset. */
uint64_t journal_lost_upto(const journal_t *j);

/* The bytes REC takes in a segment (header included) */
size_t journal_record_size(const event_rec_t *rec);

/* Buffer one record; written by the next commit.  -1 on error (errno:
 * EINVAL a field too long, ENOMEM). */
int journal_append(journal_t *j, const event_rec_t *rec);
/* Write what was appended and sync per the policy; 0 when durable
 * enough to acknowledge.  -1 on error (errno, e.g. ENOSPC): the batch is
 * discarded and cut off the file again; the caller must neither publish
 * nor acknowledge it. */
int journal_commit(journal_t *j);
/* ms until the N-ms policy's pending sync is due (0: now), -1: none */
int journal_sync_in_ms(const journal_t *j);
/* Sync if the N-ms policy's sync is due (call from the timer).  -1 on a
 * failed fdatasync (errno). */
int journal_tick(journal_t *j);

/* Start a new segment when the active one is larger than MAX bytes. */
int journal_maybe_rotate(journal_t *j, size_t max);
/* Whether journal_drop_before would delete a segment */
int journal_can_drop(const journal_t *j, uint64_t min_live);
/* Delete the closed segments whose every id is below MIN_LIVE (the
 * oldest id still in a buffer or state).  Save the floors first. */
int journal_drop_before(journal_t *j, uint64_t min_live);

/* Floors: journal_floor_add for every channel with a floor, then
 * journal_floors_save writes DIR/floors.zf durably.  -1 on error (errno);
 * then nothing may be deleted. */
int journal_floor_add(journal_t *j, const char *chan, size_t len, uint64_t floor);
int journal_floors_save(journal_t *j);

/* Compaction: journal_compact_begin closes the active segment (later
 * commits go to a new one) and marks every segment so far as replaced;
 * then journal_append every live record in id order and
 * journal_compact_write (writes and syncs DIR/compact-PID-MS.tmp, named
 * at begin; may run in a forked child); then, with the floors saved, journal_compact_finish
 * renames it into place and deletes the replaced segments, or
 * journal_compact_abort deletes it.  A failed finish aborts.
 * journal_compact_end is write + finish, inline.  -1 on error (errno). */
int  journal_compact_begin(journal_t *j);
int  journal_compact_write(journal_t *j);
int  journal_compact_finish(journal_t *j);
void journal_compact_abort(journal_t *j);
int  journal_compact_end(journal_t *j);

/* Bytes in all segments (for stats and the compaction decision) */
uint64_t journal_size(const journal_t *j);

/* What journal_read_buf found */
typedef struct {
    size_t   records;       /* handed to the callback */
    uint64_t last;          /* highest id read */
    size_t   holes;         /* damaged ranges with intact records after them */
    size_t   hole_at, hole_end; /* from the first's start to the last's end */
    uint64_t resync_id;     /* the first id after the last of them */
    int      tail;          /* the buffer ends in damage ... */
    size_t   tail_at;       /* ... from here */
} journal_scan_t;

/* Read the records of one segment's bytes P[0..LEN): records with an id
 * above AFTER, in increasing id order, go to CB (which may be NULL).
 * -1 when CB stopped it.  (journal_open's reader; the fuzz target's.) */
int journal_read_buf(const unsigned char *p, size_t len, uint64_t after, journal_cb cb,
    void *ctx, journal_scan_t *out);

#endif
