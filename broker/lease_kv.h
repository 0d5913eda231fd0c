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
 * collision would share one user's slots with another).
 *
 * A held slot's value is "<lease id> <expiry, unix ms>"; a free slot has
 * no message at all.  Which compare-and-set JetStream gives matters: on a
 * replicated stream nats-server 2.9 (Debian's 2.9.10; nats-server#4320)
 * checks an expected last revision above 0 only at the leader before it
 * proposes the write, against what it has applied, so two updates at the
 * same revision can both land; an expected revision of 0 ("create") is
 * checked again by every replica as it applies the write, in the Raft
 * log's order, so of two creates exactly one lands.  test_lease_kv3
 * shows both on three nodes.  So:
 *
 *   take:    for each slot in turn: read it; held and live -> next slot;
 *            held but expired (its broker died, nobody renewed it) or not
 *            a lease -> purge the key up to the revision read (a stream
 *            purge by subject and sequence: a write after it, a renewal
 *            or another take-over, stays); then create (expected revision
 *            0).  JetStream refused it: another broker got there first;
 *            read the slot again (at most LEASEKV_TRIES times).
 *   renew:   an update at the revision held, only while the lease is at
 *            least LEASEKV_SKEW_MS from its expiry: until its expiry no
 *            other broker writes the slot, so no update races another
 *            (past that it is given up and purged, as a take-over may be
 *            under way).  The revision moved (a renewal that landed but
 *            whose answer was lost): read; still ours -> update at that.
 *   release: purge up to the revision held (then, if a lost answer left
 *            it ours at a later one, up to that).  Never a plain delete.
 *
 * Reads may be answered by any replica (the bucket allows direct gets),
 * so a read can be stale: a slot just freed may look taken for a moment
 * (a refusal that a retry fixes), a slot just taken may look free (the
 * create is then refused, never doubled).
 *
 * Time: an expiry is the writing broker's wall clock + WIRE_LEASE_TTL,
 * compared with the reader's: the hosts' clocks must agree within
 * LEASEKV_SKEW_MS (NTP does far better).  The bucket has no TTL (and one
 * made by hand with a TTL is refused): replicas age messages out each on
 * its own timer, so a create racing an age-out could be applied on one
 * replica and refused on another; expiry lives in the value, and a
 * released slot is purged, so the bucket holds only held slots (and those
 * of dead brokers until someone needs them).  History is 1.
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
#define LEASEKV_SKEW_MS      5000   /* renewals stop this close to the expiry */

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
 * LEASE_TAKEN: *HOLD is the slot, its revision and expiry, which renew
 * and release need.  LEASE_FULL: LIMIT live leases hold every slot.
 * LEASE_TABLE_FULL: NATS is down, failed or too slow, or the arguments
 * are out of bounds (logged, rate-limited). */
lease_take_t leasekv_take(leasekv_t *lk, const char *group, size_t glen, unsigned limit,
    const char *lease_id, int64_t now_us, lease_slot_t *hold);

/* Push the expiry of LEASE_ID in its slot HOLD of GROUP to NOW_US +
 * WIRE_LEASE_TTL; *HOLD is updated.  LEASEKV_LOST: the slot is another
 * lease's or gone, or the lease was within LEASEKV_SKEW_MS of its expiry
 * (given up): drop it (HOLD->held is 0).  LEASEKV_ERROR: unknown; keep the
 * lease, renew again later. */
leasekv_rc_t leasekv_renew(leasekv_t *lk, const char *group, size_t glen, const char *lease_id,
    int64_t now_us, lease_slot_t *hold);

/* Free the slot HOLD of GROUP if LEASE_ID still holds it.  LEASEKV_DONE:
 * it is not LEASE_ID's any more (freed, or another's already);
 * LEASEKV_LOST: HOLD held nothing; LEASEKV_ERROR: unknown (the slot frees
 * itself when its expiry passes). */
leasekv_rc_t leasekv_release(leasekv_t *lk, const char *group, size_t glen, const char *lease_id,
    const lease_slot_t *hold);

/* The key of SLOT of GROUP into OUT (LEASEKV_KEY_MAX bytes): its length,
 * or -1 (SLOT >= LEASEKV_SLOTS_MAX, GLEN not 1..LEASEKV_GROUP_MAX).  For tests and the
 * operator's `nats kv get`. */
int        leasekv_key(const char *group, size_t glen, unsigned slot, char out[LEASEKV_KEY_MAX]);

#endif
