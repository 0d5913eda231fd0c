/*
 * lease_kv.h -- max_per_user exact across several brokers: the lease
 * slots of a group in a JetStream key-value bucket (issue 14 item 2;
 * broker.cluster.leases_bucket; lease.h is the single broker's table).
 *
 * A group (route + '\0' + sub, as lease.h has it) with a limit of N owns
 * N slot keys in the bucket, KEY.0 .. KEY.N-1, where KEY is the group as
 * one token (natskey.h: injective, so two groups never share a slot).  A
 * group is at most LEASEKV_GROUP_MAX bytes (a route and a sub, each a
 * control field of at most CTL_FIELD_MAX), its key at most
 * LEASEKV_KEY_MAX: about 1.5 KB at worst, well within NATS's 4 KB
 * protocol line (max_control_line) with the bucket's subject prefix, so
 * no group needs a hash (which would need a cryptographic one: a
 * collision would share one user's slots with another).  A slot's value is
 * "<lease id> <expiry, unix ms>"; a free slot is "- 0" or absent.
 *
 *   take:    for each slot in turn: read it (kvStore_Get); absent ->
 *            kvStore_Create, which JetStream refuses when the key exists
 *            (an expected last subject sequence of 0); held by a lease
 *            whose expiry has passed (its broker died, nobody renewed) or
 *            free -> kvStore_Update with the revision read, a
 *            compare-and-set: of two brokers racing for one slot exactly
 *            one write lands, the other sees JetStream refuse it and reads
 *            the slot again.  A live slot is skipped.  No free slot: FULL.
 *   renew:   kvStore_Update(new expiry, the revision we hold).  If the
 *            revision moved (a renewal that landed but whose answer was
 *            lost), the slot is read: still our lease id -> update at its
 *            revision; someone else's -> the lease is lost.
 *   release: the same compare-and-set, to "- 0".  Never a plain delete:
 *            between a read and a delete the slot could have expired and
 *            been taken by another broker.
 *
 * So at no moment do more than N live leases of a group exist, whatever
 * the brokers do at the same time: every write that makes a slot live is
 * conditional on the revision that was read, and JetStream orders the
 * writes of a key (through its stream's Raft leader when replicated).
 * Reads may be answered by any replica (the KV bucket allows direct get),
 * so a read can be stale: a slot just freed may look taken for a moment
 * (a refusal that a retry fixes), a slot just taken may look free (its
 * write is then refused, never doubled).
 *
 * Time: an expiry is the writing broker's wall clock + WIRE_LEASE_TTL,
 * compared with the reader's wall clock: the hosts' clocks must agree
 * within WIRE_LEASE_TTL - WIRE_LEASE_RENEW (20 s; NTP does far better), or
 * a live lease could be taken over.  Expiry lives in the value, not in a
 * per-key TTL (JetStream 2.9 has none; a bucket TTL ages a key by its last
 * write only), so a slot's life does not depend on the server's clock.
 * The bucket's TTL (LEASEKV_GC_S) is only garbage collection: a live
 * lease is rewritten every WIRE_LEASE_RENEW, so a key not written for
 * LEASEKV_GC_S is a released or long-dead slot, and removing it changes
 * nothing (absent is free); without it the bucket would keep N keys of
 * every user ever seen.  History is 1: only the last value counts.
 *
 * Failures: every NATS request waits at most LEASEKV_TIMEOUT_MS (the
 * JetStream context's Wait), a take at most about LEASEKV_DEADLINE_MS in
 * all, and nothing is tried while the connection is not up.  A take that
 * fails that way answers LEASE_TABLE_FULL (the stream is refused, as with
 * a full table); if its write landed unseen, the slot holds a lease no
 * broker renews, free again after WIRE_LEASE_TTL.
 *
 * Threads: one leasekv is used by one thread (the broker's loop); the
 * natsConnection may be shared with others (libnats is thread-safe).
 */
#ifndef ZSSE_LEASE_KV_H
#define ZSSE_LEASE_KV_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "ctl.h"
#include "lease.h"
#include "natskey.h"
#include "wire.h"

#define LEASEKV_SLOTS_MAX    CONFIG_CLUSTER_PER_USER_MAX    /* a route's max_per_user */
#define LEASEKV_GROUP_MAX    (2 * CTL_FIELD_MAX + 1)   /* route '\0' sub */
#define LEASEKV_KEY_MAX      (NATSKEY_MAX(LEASEKV_GROUP_MAX) + 4)   /* token '.' slot NUL */
#define LEASEKV_ID_MAX       64     /* bytes of a lease id (lease.h's are 32) */
#define LEASEKV_TIMEOUT_MS   1000   /* each NATS request */
#define LEASEKV_DEADLINE_MS  2000   /* a take, all its slots */
#define LEASEKV_TRIES        4      /* reads of one slot when writes race */
#define LEASEKV_GC_S         3600   /* the bucket's TTL: unwritten keys go */
#define LEASEKV_TTL_MIN_S    (2 * WIRE_LEASE_TTL)  /* the least TTL of a bucket made by hand */

typedef struct leasekv leasekv_t;
struct __natsConnection;        /* nats.h's natsConnection */

/* what leasekv_renew and leasekv_release did */
typedef enum {
    LEASEKV_DONE = 1,           /* renewed / released */
    LEASEKV_LOST = 0,           /* the slot is not this lease's (any more) */
    LEASEKV_ERROR = -1          /* NATS failed or timed out: nothing known */
} leasekv_rc_t;

/* Bind to the key-value bucket BUCKET over NC (connected; the caller
 * keeps it and closes it after leasekv_destroy), creating it with
 * REPLICAS (1..5) replicas when missing.  NULL with ERR set when
 * JetStream does not answer within LEASEKV_TIMEOUT_MS or refuses. */
leasekv_t *leasekv_new(struct __natsConnection *nc, const char *bucket, int replicas,
    char *err, size_t errlen);
void       leasekv_destroy(leasekv_t **lkp);

/* Take a slot of GROUP (1..LEASEKV_GROUP_MAX bytes) for the lease
 * LEASE_ID (1..LEASEKV_ID_MAX bytes, no space), limit LIMIT
 * (1..LEASEKV_SLOTS_MAX), NOW_US the wall clock (clock.h wall_us).
 * LEASE_TAKEN: *SLOT and *REV hold the slot and its revision, which
 * renew and release need.  LEASE_FULL: LIMIT live leases hold every slot.
 * LEASE_TABLE_FULL: NATS is down, failed or too slow, or the arguments
 * are out of bounds (logged, rate-limited). */
lease_take_t leasekv_take(leasekv_t *lk, const char *group, size_t glen, unsigned limit,
    const char *lease_id, int64_t now_us, unsigned *slot, uint64_t *rev);

/* Push the expiry of LEASE_ID in SLOT of GROUP to NOW_US +
 * WIRE_LEASE_TTL.  *REV: the revision leasekv_take or the last renew gave
 * LEASE_ID (the slot still at that revision is LEASE_ID's: no read is
 * needed), set to the new one on LEASEKV_DONE.  LEASEKV_LOST: the slot is another
 * lease's or gone (this one expired and was taken over): drop it.
 * LEASEKV_ERROR: unknown; keep the lease, renew again later. */
leasekv_rc_t leasekv_renew(leasekv_t *lk, const char *group, size_t glen, unsigned slot,
    const char *lease_id, int64_t now_us, uint64_t *rev);

/* Free SLOT of GROUP if LEASE_ID still holds it (REV: as for renew).  LEASEKV_DONE: freed;
 * LEASEKV_LOST: it did not hold it (nothing done); LEASEKV_ERROR: unknown
 * (the slot frees itself when its expiry passes). */
leasekv_rc_t leasekv_release(leasekv_t *lk, const char *group, size_t glen, unsigned slot,
    const char *lease_id, uint64_t rev);

/* The key of SLOT of GROUP into OUT (LEASEKV_KEY_MAX bytes): its length,
 * or -1 (SLOT >= LEASEKV_SLOTS_MAX, GLEN not 1..LEASEKV_GROUP_MAX).  For tests and the
 * operator's `nats kv get`. */
int        leasekv_key(const char *group, size_t glen, unsigned slot, char out[LEASEKV_KEY_MAX]);

#endif
