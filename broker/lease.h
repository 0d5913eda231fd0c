/*
 * lease.h -- concurrent-stream leases for max_per_user (wire.h: lease,
 * renew, release).  A lease is (lease id -> group, owner, expiry); a group
 * is route + '\0' + sub, counted; the owner is the control connection
 * (ROUTER routing id) that took it, and only that connection may renew or
 * release it.  Ids are 128 random bits (getrandom), so they cannot be
 * guessed.  Workers renew their leases every WIRE_LEASE_RENEW seconds; a
 * lease not renewed for WIRE_LEASE_TTL (its worker died or restarted)
 * expires, so a crash never locks a user out for long.  A connection
 * holds at most LEASE_PER_OWNER_MAX leases, all of them LEASE_MAX.
 */
#ifndef ZSSE_LEASE_H
#define ZSSE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#define LEASE_MAX            1000000
#define LEASE_PER_OWNER_MAX  100000     /* one worker process's streams */
#define LEASE_ID_LEN         32         /* hex of 16 random bytes */

/* what leases_take did */
typedef enum {
    LEASE_TAKEN = 1,            /* ID holds the new lease */
    LEASE_FULL = 0,             /* the group's limit is reached */
    LEASE_TABLE_FULL = -1,      /* LEASE_MAX leases, or no memory */
    LEASE_OWNER_FULL = -2       /* the owner holds LEASE_PER_OWNER_MAX */
} lease_take_t;

/* what leases_renew and leases_release did */
typedef enum {
    LEASE_DONE = 1,             /* renewed / released */
    LEASE_UNKNOWN = 0,          /* no such lease (expired, released) */
    LEASE_FOREIGN = -1          /* another connection's: left untouched */
} lease_op_t;

typedef struct leases leases_t;

/* Cluster mode (lease_kv.h): a lease whose group has a limit also holds a
 * slot of the key-value bucket; the broker keeps which, and its revision,
 * with the lease. */
typedef struct {
    int      held;              /* 1: the rest is set */
    unsigned slot;              /* which of the group's slots */
    uint64_t rev;               /* its revision we wrote last */
    int64_t  expires_ms;        /* the expiry we wrote last, unix ms */
} lease_slot_t;

leases_t *leases_new(void);
void      leases_destroy(leases_t **lp);
/* Take a lease in GROUP (LIMIT: at most that many, 0 = no limit) for the
 * connection OWNER; its new id in ID.  LEASE_TAKEN, LEASE_FULL (the
 * group's limit is reached), LEASE_TABLE_FULL (LEASE_MAX, or no memory),
 * LEASE_OWNER_FULL (OWNER holds LEASE_PER_OWNER_MAX). */
lease_take_t leases_take(leases_t *l, const char *group, size_t glen, unsigned limit,
    const char *owner, size_t olen, char id[LEASE_ID_LEN + 1], int64_t now_us);
lease_op_t leases_renew(leases_t *l, const char *id, size_t idlen, const char *owner, size_t olen,
    int64_t now_us);
lease_op_t leases_release(leases_t *l, const char *id, size_t idlen, const char *owner, size_t olen);
void   leases_expire(leases_t *l, int64_t now_us);
/* The bucket slot of lease ID (the caller reads and sets it), and the
 * lease's group in *GROUP / *GLEN (valid while the lease lasts); NULL when
 * there is no such lease.  Whose lease it is is not checked: only after
 * leases_renew / leases_take has. */
lease_slot_t *leases_slot(leases_t *l, const char *id, size_t idlen, const char **group,
    size_t *glen);
/* call FN for each lease that holds a bucket slot */
void   leases_each_slot(leases_t *l, void (*fn)(void *ctx, const char *id, size_t idlen,
    const char *group, size_t glen, const lease_slot_t *slot), void *ctx);
size_t leases_count(const leases_t *l);
/* call FN(route, count) for each route with open streams (the group key
 * up to its '\0' is the route) */
void   leases_by_route(const leases_t *l, void (*fn)(void *ctx, const char *route, unsigned n),
    void *ctx);

#endif
