/*
 * lease.c -- stream leases (see lease.h).  Three chained hash tables:
 * lease id -> lease, group -> count, owner (connection) -> count.  Small,
 * and every size is bounded.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "channel.h"
#include "lease.h"
#include "wire.h"

#define LEASES_BUCKETS 4096                 /* buckets; chains stay short for our sizes */
#define LEASES_TTL_US  (WIRE_LEASE_TTL * 1000000ll)   /* wire.h: dropped unless renewed */

typedef struct group {
    struct group *next;
    unsigned      count;
    size_t        len;
    char          key[];
} group_t;

typedef group_t owner_t;        /* the same shape: a counted key */

typedef struct lease {
    struct lease *next;
    group_t      *group;
    owner_t      *owner;
    int64_t       expires_us;
    lease_slot_t  slot;         /* cluster mode: its slot in the bucket */
    size_t        len;
    char          id[];
} lease_t;

struct leases {
    lease_t *ids[LEASES_BUCKETS];
    group_t *groups[LEASES_BUCKETS];
    owner_t *owners[LEASES_BUCKETS];
    size_t   n;
};

static size_t
leases_bucket(const char *s, size_t n)
{
    return (size_t)(channel_hash(s, n) % LEASES_BUCKETS);
}

leases_t *
leases_new(void)
{
    return calloc(1, sizeof(leases_t));
}

static lease_t **
leases_find(leases_t *l, const char *id, size_t idlen)
{
    lease_t **pp = &l->ids[leases_bucket(id, idlen)];
    while (*pp && !((*pp)->len == idlen && memcmp((*pp)->id, id, idlen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static group_t *
leases_key_get(group_t **table, const char *key, size_t len, int create)
{
    group_t **pp = &table[leases_bucket(key, len)];
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
leases_key_put(group_t **table, group_t *g)
{
    assert(g->count > 0);
    if (--g->count)
        return;
    group_t **pp = &table[leases_bucket(g->key, g->len)];
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    free(g);
}

lease_take_t
leases_take(leases_t *l, const char *group, size_t glen, unsigned limit,
    const char *owner, size_t olen, char id[LEASE_ID_LEN + 1], int64_t now_us)
{
    unsigned char rnd[LEASE_ID_LEN / 2];
    group_t *g;
    owner_t *o;

    if (l->n >= LEASE_MAX)
        return LEASE_TABLE_FULL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return LEASE_TABLE_FULL;
    for (size_t i = 0; i < sizeof(rnd); i++) {
        id[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
        id[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
    }
    id[LEASE_ID_LEN] = '\0';
    if (*leases_find(l, id, LEASE_ID_LEN))
        return LEASE_TABLE_FULL;        /* 2^-128: never */
    if (!(o = leases_key_get(l->owners, owner, olen, 1)))
        return LEASE_TABLE_FULL;
    if (o->count >= LEASE_PER_OWNER_MAX) {
        if (!o->count)
            o->count++, leases_key_put(l->owners, o);
        return LEASE_OWNER_FULL;
    }
    if (!(g = leases_key_get(l->groups, group, glen, 1))) {
        o->count++;
        leases_key_put(l->owners, o);
        return LEASE_TABLE_FULL;
    }
    if (limit && g->count >= limit) {
        if (!g->count)
            g->count++, leases_key_put(l->groups, g);
        if (!o->count)
            o->count++, leases_key_put(l->owners, o);
        return LEASE_FULL;
    }
    lease_t *le = calloc(1, sizeof(*le) + LEASE_ID_LEN);
    g->count++;
    o->count++;
    if (!le) {
        leases_key_put(l->groups, g);
        leases_key_put(l->owners, o);
        return LEASE_TABLE_FULL;
    }
    le->group = g;
    le->owner = o;
    le->len = LEASE_ID_LEN;
    memcpy(le->id, id, LEASE_ID_LEN);
    le->expires_us = now_us + LEASES_TTL_US;
    lease_t **pp = leases_find(l, id, LEASE_ID_LEN);
    *pp = le;
    l->n++;
    return LEASE_TAKEN;
}

/* the lease ID if OWNER holds it; NULL (and *FOREIGN when another does) */
static lease_t **
leases_owned(leases_t *l, const char *id, size_t idlen, const char *owner, size_t olen, int *foreign)
{
    lease_t **pp = leases_find(l, id, idlen);
    *foreign = 0;
    if (!*pp)
        return NULL;
    if ((*pp)->owner->len != olen || memcmp((*pp)->owner->key, owner, olen) != 0) {
        *foreign = 1;
        return NULL;
    }
    return pp;
}

lease_op_t
leases_renew(leases_t *l, const char *id, size_t idlen, const char *owner, size_t olen,
    int64_t now_us)
{
    int foreign;
    lease_t **pp = leases_owned(l, id, idlen, owner, olen, &foreign);
    if (pp)
        (*pp)->expires_us = now_us + LEASES_TTL_US;
    return pp ? LEASE_DONE : foreign ? LEASE_FOREIGN : LEASE_UNKNOWN;
}

static void
leases_unlink(leases_t *l, lease_t **pp)
{
    lease_t *le = *pp;
    assert(l->n > 0);
    *pp = le->next;
    leases_key_put(l->groups, le->group);
    leases_key_put(l->owners, le->owner);
    free(le);
    l->n--;
}

lease_op_t
leases_release(leases_t *l, const char *id, size_t idlen, const char *owner, size_t olen)
{
    int foreign;
    lease_t **pp = leases_owned(l, id, idlen, owner, olen, &foreign);
    if (pp)
        leases_unlink(l, pp);
    return pp ? LEASE_DONE : foreign ? LEASE_FOREIGN : LEASE_UNKNOWN;
}

void
leases_expire(leases_t *l, int64_t now_us)
{
    for (size_t b = 0; b < LEASES_BUCKETS; b++) {
        lease_t **pp = &l->ids[b];
        while (*pp) {
            if ((*pp)->expires_us <= now_us)
                leases_unlink(l, pp);
            else
                pp = &(*pp)->next;
        }
    }
}

lease_slot_t *
leases_slot(leases_t *l, const char *id, size_t idlen, const char **group, size_t *glen)
{
    lease_t *le = *leases_find(l, id, idlen);
    if (!le)
        return NULL;
    *group = le->group->key;
    *glen = le->group->len;
    return &le->slot;
}

void
leases_each_slot(leases_t *l, void (*fn)(void *ctx, const char *id, size_t idlen,
    const char *group, size_t glen, const lease_slot_t *slot), void *ctx)
{
    for (size_t b = 0; b < LEASES_BUCKETS; b++)
        for (lease_t *le = l->ids[b]; le; le = le->next)
            if (le->slot.held)
                fn(ctx, le->id, le->len, le->group->key, le->group->len, &le->slot);
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
    for (size_t b = 0; b < LEASES_BUCKETS; b++)
        while (l->ids[b])
            leases_unlink(l, &l->ids[b]);
    free(l);
    *lp = NULL;
}

void
leases_by_route(const leases_t *l, void (*fn)(void *ctx, const char *route, unsigned n),
    void *ctx)
{
    for (size_t b = 0; b < LEASES_BUCKETS; b++)
        for (group_t *g = l->groups[b]; g; g = g->next)
            fn(ctx, g->key, g->count);      /* the key starts with "route\0" */
}
