/*
 * lease_jobs.h -- the leases bucket's requests (lease_kv.h) off the
 * broker's loop.
 *
 * Every bucket request is a NATS round trip (about 0.4 ms on three
 * replicas here, up to LEASEKV_DEADLINE_MS while JetStream elects a
 * leader); made on the loop, a worker's renewal of a thousand leases, or
 * a crowd of clients reconnecting during a fail-over, would hold every
 * event and publish behind them.  So in cluster mode the loop hands them
 * to one thread that runs them in order, and takes the results back
 * through a second ring, woken by an eventfd it polls (as cluster.h's
 * queues do).  A take is answered to its worker when its result is back,
 * as an acknowledged publish is; renewals and releases are not awaited.
 *
 * Bounds: at most LEASEJOBS_MAX jobs waiting each way.  A full queue
 * refuses a take (the stream gets 503 and its client tries again), skips
 * a renewal (the next one, WIRE_LEASE_RENEW later, is in time: the slot
 * lives WIRE_LEASE_TTL) and drops a release (the slot frees itself when
 * its expiry passes).
 *
 * The leasekv is the thread's alone while it runs (lease_kv.h: one
 * thread per leasekv); leasejobs_destroy() joins it first.
 */
#ifndef ZSSE_LEASE_JOBS_H
#define ZSSE_LEASE_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include "ctl.h"
#include "lease.h"
#include "lease_kv.h"

#define LEASEJOBS_MAX 4096          /* jobs waiting, each way */

typedef enum { LEASEJOB_TAKE, LEASEJOB_RENEW, LEASEJOB_RELEASE } leasejob_op_t;

typedef struct {
    leasejob_op_t op;
    char          group[LEASEKV_GROUP_MAX];
    size_t        glen;
    char          id[LEASE_ID_LEN + 1];     /* the lease, NUL-terminated */
    unsigned      limit;                    /* take: the route's max_per_user */
    int64_t       now_us;
    lease_slot_t  slot;         /* in (renew, release): what is held;
                                 * out (take, renew): what is held now */
    int           rc;           /* out: lease_take_t (take), leasekv_rc_t */
    /* the connection that asked: a take's answer goes there; only its
     * own leases are dropped on a lost renewal */
    size_t        idlen;
    char          ident[CTL_IDENT_MAX + 1];
    char          tag[CTL_TAG_MAX + 1];
} leasejob_t;

typedef struct leasejobs leasejobs_t;

/* Start the thread over LK (which the caller keeps, and destroys after
 * leasejobs_destroy).  NULL with ERR set. */
leasejobs_t *leasejobs_new(leasekv_t *lk, char *err, size_t errlen);
/* Stop the thread (after the job it is running; those still queued are
 * dropped) and free. */
void leasejobs_destroy(leasejobs_t **jp);

/* The eventfd the loop polls: readable when leasejobs_done has results. */
int  leasejobs_fd(const leasejobs_t *j);
/* Queue a copy of JOB.  0, or -1 when LEASEJOBS_MAX are waiting. */
int  leasejobs_submit(leasejobs_t *j, const leasejob_t *job);
/* A finished job into OUT: 1, or 0 when none is. */
int  leasejobs_done(leasejobs_t *j, leasejob_t *out);

#endif
