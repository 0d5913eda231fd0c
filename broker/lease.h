/*
 * lease.h -- concurrent-stream leases for max_per_user (wire.h: lease,
 * renew, release).  A lease is (lease id -> group, expiry); a group is
 * route + '\0' + sub, counted.  Workers renew their leases every
 * WIRE_LEASE_RENEW seconds; a lease not renewed for WIRE_LEASE_TTL (its
 * worker died) expires, so a crash never locks a user out for long.
 */
#ifndef ZSSE_LEASE_H
#define ZSSE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#define LEASE_MAX     1000000
#define LEASE_ID_MAX  128

typedef struct leases leases_t;

leases_t *leases_new(void);
void      leases_destroy(leases_t **lp);
/* 1 taken, 0 full (LIMIT reached for the group), -1 error (table full) */
int    lease_take(leases_t *l, const char *group, size_t glen, unsigned limit,
    const char *id, size_t idlen, int64_t now_us);
void   lease_renew(leases_t *l, const char *id, size_t idlen, int64_t now_us);
void   lease_release(leases_t *l, const char *id, size_t idlen);
void   leases_expire(leases_t *l, int64_t now_us);
size_t leases_count(const leases_t *l);
/* call FN(route, count) for each route with open streams (the group key
 * up to its '\0' is the route) */
void   leases_by_route(const leases_t *l, void (*fn)(void *ctx, const char *route, unsigned n),
    void *ctx);

#endif
