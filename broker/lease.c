/*
 * lease.c -- stream leases (see lease.h).  Two chained hash tables: lease
 * id -> lease, and group -> count.  Small, and every size is bounded.
 */
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "lease.h"
#include "wire.h"

#define NB 4096                 /* buckets; chains stay short for our sizes */

typedef struct group {
    struct group *next;
    unsigned      count;
    size_t        len;
    char          key[];
} group_t;

typedef struct lease {
    struct lease *next;
    group_t      *group;
    int64_t       expires_us;
    size_t        len;
    char          id[];
} lease_t;

struct leases {
    lease_t *ids[NB];
    group_t *groups[NB];
    size_t   n;
};

static size_t
h(const char *s, size_t n)
{
    return (size_t)(str_hash(s, n) % NB);
}

leases_t *
leases_new(void)
{
    return calloc(1, sizeof(leases_t));
}

static lease_t **
find(leases_t *l, const char *id, size_t idlen)
{
    lease_t **pp = &l->ids[h(id, idlen)];
    while (*pp && !((*pp)->len == idlen && memcmp((*pp)->id, id, idlen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static group_t *
group_get(leases_t *l, const char *key, size_t len, int create)
{
    group_t **pp = &l->groups[h(key, len)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->key, key, len) == 0)
            return *pp;
    if (!create || !(*pp = calloc(1, sizeof(group_t) + len)))
        return NULL;
    (*pp)->len = len;
    memcpy((*pp)->key, key, len);
    return *pp;
}

static void
group_put(leases_t *l, group_t *g)
{
    if (--g->count)
        return;
    group_t **pp = &l->groups[h(g->key, g->len)];
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    free(g);
}

int
lease_take(leases_t *l, const char *group, size_t glen, unsigned limit,
    const char *id, size_t idlen, int64_t now_us)
{
    lease_t **pp = find(l, id, idlen);
    group_t *g;

    if (*pp) {                          /* the same stream asking again */
        (*pp)->expires_us = now_us + WIRE_LEASE_TTL * 1000000ll;
        return 1;
    }
    if (l->n >= LEASE_MAX || idlen > LEASE_ID_MAX)
        return -1;
    if (!(g = group_get(l, group, glen, 1)))
        return -1;
    if (limit && g->count >= limit)
        return 0;               /* (a group is never left at count 0) */
    lease_t *le = calloc(1, sizeof(*le) + idlen);
    if (!le) {
        g->count++;
        group_put(l, g);
        return -1;
    }
    g->count++;
    le->group = g;
    le->len = idlen;
    memcpy(le->id, id, idlen);
    le->expires_us = now_us + WIRE_LEASE_TTL * 1000000ll;
    *pp = le;
    l->n++;
    return 1;
}

void
lease_renew(leases_t *l, const char *id, size_t idlen, int64_t now_us)
{
    lease_t *le = *find(l, id, idlen);
    if (le)
        le->expires_us = now_us + WIRE_LEASE_TTL * 1000000ll;
}

static void
unlink_lease(leases_t *l, lease_t **pp)
{
    lease_t *le = *pp;
    *pp = le->next;
    group_put(l, le->group);
    free(le);
    l->n--;
}

void
lease_release(leases_t *l, const char *id, size_t idlen)
{
    lease_t **pp = find(l, id, idlen);
    if (*pp)
        unlink_lease(l, pp);
}

void
leases_expire(leases_t *l, int64_t now_us)
{
    for (size_t b = 0; b < NB; b++) {
        lease_t **pp = &l->ids[b];
        while (*pp) {
            if ((*pp)->expires_us <= now_us)
                unlink_lease(l, pp);
            else
                pp = &(*pp)->next;
        }
    }
}

size_t
leases_count(const leases_t *l)
{
    return l->n;
}

void
leases_destroy(leases_t **lp)
{
    leases_t *l = *lp;
    if (!l)
        return;
    for (size_t b = 0; b < NB; b++)
        while (l->ids[b])
            unlink_lease(l, &l->ids[b]);
    free(l);
    *lp = NULL;
}

void
leases_by_route(const leases_t *l, void (*fn)(void *ctx, const char *route, unsigned n),
    void *ctx)
{
    for (size_t b = 0; b < NB; b++)
        for (group_t *g = l->groups[b]; g; g = g->next)
            fn(ctx, g->key, g->count);      /* the key starts with "route\0" */
}
