/*
 * ring.c -- a growable FIFO of pointers (see ring.h).
 */
#include <stdlib.h>
#include "ring.h"

int
ring_init(ring_t *r, size_t cap, size_t max)
{
    r->head = r->len = 0;
    r->cap = cap ? cap : 1;
    r->max = max > r->cap ? max : r->cap;
    return (r->v = malloc(r->cap * sizeof(*r->v))) ? 0 : -1;
}

void
ring_free(ring_t *r)
{
    free(r->v);
    r->v = NULL;
    r->head = r->len = r->cap = 0;
}

/* room for one more: double up to MAX */
static int
ring_room(ring_t *r)
{
    void **v;

    if (r->len < r->cap)
        return 0;
    size_t cap = r->cap * 2 > r->max ? r->max : r->cap * 2;
    if (cap == r->cap || !(v = malloc(cap * sizeof(*v))))
        return -1;
    for (size_t i = 0; i < r->len; i++)
        v[i] = r->v[(r->head + i) % r->cap];
    free(r->v);
    r->v = v;
    r->head = 0;
    r->cap = cap;
    return 0;
}

int
ring_push(ring_t *r, void *p)
{
    if (ring_room(r) < 0)
        return -1;
    r->v[(r->head + r->len++) % r->cap] = p;
    return 0;
}

int
ring_push_front(ring_t *r, void *p)
{
    if (ring_room(r) < 0)
        return -1;
    r->head = (r->head + r->cap - 1) % r->cap;
    r->v[r->head] = p;
    r->len++;
    return 0;
}

void *
ring_pop(ring_t *r)
{
    if (!r->len)
        return NULL;
    void *p = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return p;
}
