/*
 * journal.h -- the broker's durable journal (broker.journal set).
 *
 * Every accepted event is appended to the journal before it is published
 * or acknowledged.  The broker calls journal_append() for each event of a
 * batch, then journal_commit() once; commit writes the batch and makes it
 * durable according to the fsync policy:
 *
 *     journal_fsync  0     fdatasync on every commit (every batch: group
 *                          commit, so "every event" costs one sync per
 *                          poll wake-up, not per message)
 *                    N ms  fdatasync at most every N ms (a crash of the
 *                          machine may lose the last N ms; a crash of the
 *                          broker alone loses nothing: the data is in the
 *                          page cache)
 *
 * Layout: DIR/journal-<first id, 16 digits>.zj segment files, each a run
 * of records:
 *
 *     u32 magic 'ZJ01'  u32 length of the rest  u32 crc32 of the rest
 *     u64 id  u64 accepted (unix µs)  u32 ttl (s)  u8 kind
 *     u8 nchannels  { u8 len, bytes }...  u8 event_len, bytes
 *     u8 key_len, bytes  u32 data_len, bytes
 *
 * On open the segments are read in order and each intact record is handed
 * to the caller (who rebuilds buffers, state and the id counter); a torn
 * or corrupt tail (a crash in the middle of a write) is cut off at the
 * last good record.  journal_rotate() starts a new segment; the broker
 * rotates when the active one passes JOURNAL_SEGMENT_MAX and drops whole
 * segments whose events are all gone from every buffer and state
 * (journal_drop_before), and when that is not enough -- long-lived state
 * pinning an old segment -- rewrites the live events into a fresh segment
 * (journal_compact).  So the journal stays bounded by the buffers' count
 * and ttl plus one segment.
 */
#ifndef ZSSE_JOURNAL_H
#define ZSSE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SEGMENT_MAX (64u << 20)

typedef struct {
    uint64_t    id;
    uint64_t    accepted_us;
    uint32_t    ttl;
    char        kind;
    size_t      nchannels;
    const char *channels[64];
    size_t      channel_lens[64];
    const char *event;  size_t event_len;
    const char *key;    size_t key_len;
    const char *data;   size_t data_len;
} jrec_t;

typedef struct journal journal_t;

/* Called for each record on open, in id order; non-zero stops the replay
 * with an error. */
typedef int (*journal_cb)(void *ctx, const jrec_t *rec);

/* Open (create) the journal in DIR and replay it through CB.  NULL with a
 * message in ERR on failure. */
journal_t *journal_open(const char *dir, int fsync_ms, journal_cb cb, void *ctx,
    char *err, size_t errlen);
void journal_close(journal_t **jp);

/* Buffer one record; written by the next commit.  -1 on error (errno). */
int journal_append(journal_t *j, const jrec_t *rec);
/* Write what was appended and sync per the policy; 0 when durable
 * enough to acknowledge.  -1 on error (errno): the caller must not
 * acknowledge the batch. */
int journal_commit(journal_t *j);
/* Sync if the N-ms policy has a sync pending and N ms have passed since
 * the last (call it often: from the loop, the timer). */
int journal_tick(journal_t *j);

/* Start a new segment when the active one is larger than MAX bytes. */
int journal_maybe_rotate(journal_t *j, size_t max);
/* Delete the closed segments whose every id is below MIN_LIVE (the
 * oldest id still in a buffer or state). */
int journal_drop_before(journal_t *j, uint64_t min_live);
/* Rewrite: the caller calls journal_compact_begin, appends every live
 * record in id order, then journal_compact_end, which syncs the new
 * segment and deletes all older ones. */
int journal_compact_begin(journal_t *j);
int journal_compact_end(journal_t *j);

/* Bytes in all segments (for stats and the compaction decision) */
uint64_t journal_size(const journal_t *j);

#endif
