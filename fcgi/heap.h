/*
 * heap.h -- a binary min-heap of intrusive nodes, keyed by an int64_t
 * (the hub's stream timers: hub.c).  Header-only, like libuv's
 * heap-inl.h, but over an array: the hub has one heap of up to some ten
 * thousand streams, and an array is a few bytes per entry and
 * cache-friendly.
 *
 * An object that goes into a heap embeds a heap_node_t (it needs no
 * allocation of its own) and is found again from the node with
 * container_of-style arithmetic.  Each node knows its place in the array
 * (idx), so removing or re-keying any node is O(log n), not a search.
 *
 * Invariants (heap_check() tests all of them; the tests call it after
 * every operation):
 *   - v[0..n) holds the nodes in the heap, and v[i]->idx == i for each;
 *   - for every i > 0, v[(i - 1) / 2]->key <= v[i]->key: the parent is
 *     never later, so v[0] is a node with the least key;
 *   - a node in no heap has idx == HEAP_NONE.
 * Equal keys come out in no particular order.
 *
 * Not thread-safe: one heap belongs to one thread (the hub's).
 */
#ifndef ZSSE_HEAP_H
#define ZSSE_HEAP_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define HEAP_NONE     ((size_t)-1)  /* heap_node_t.idx of a node in no heap */
#define HEAP_CAP_MIN  256           /* the array's first allocation, in entries */

typedef struct heap_node {
    int64_t key;                    /* ordered by this (the hub: monotonic ms) */
    size_t  idx;                    /* its place in heap_t.v; HEAP_NONE: none */
} heap_node_t;

typedef struct heap {
    heap_node_t **v;
    size_t        n, cap;           /* entries used, allocated */
} heap_t;

/* a node that is in no heap (before its first heap_push) */
static inline void
heap_node_init(heap_node_t *x)
{
    x->key = 0;
    x->idx = HEAP_NONE;
}

/* is X in a heap? */
static inline bool
heap_contains(const heap_node_t *x)
{
    return x->idx != HEAP_NONE;
}

/* the node with the least key; NULL when H is empty */
static inline heap_node_t *
heap_min(const heap_t *h)
{
    return h->n ? h->v[0] : NULL;
}

static inline void
heap_swap_(heap_t *h, size_t i, size_t j)
{
    heap_node_t *t = h->v[i];
    h->v[i] = h->v[j];
    h->v[j] = t;
    h->v[i]->idx = i;
    h->v[j]->idx = j;
}

/* move v[i] up while its parent is later; returns its new place */
static inline size_t
heap_up_(heap_t *h, size_t i)
{
    while (i && h->v[(i - 1) / 2]->key > h->v[i]->key) {
        heap_swap_(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return i;
}

/* move v[i] down while a child is earlier */
static inline void
heap_down_(heap_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l]->key < h->v[m]->key)
            m = l;
        if (r < h->n && h->v[r]->key < h->v[m]->key)
            m = r;
        if (m == i)
            return;
        heap_swap_(h, i, m);
        i = m;
    }
}

/* Put X (in no heap) into H with KEY.  0, or -1 when out of memory (X is
 * then in no heap; H is unchanged). */
static inline int
heap_push(heap_t *h, heap_node_t *x, int64_t key)
{
    assert(!heap_contains(x));
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : HEAP_CAP_MIN;
        heap_node_t **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    x->key = key;
    x->idx = h->n;
    h->v[h->n++] = x;
    heap_up_(h, x->idx);
    return 0;
}

/* take X out of H; nothing when X is in no heap */
static inline void
heap_remove(heap_t *h, heap_node_t *x)
{
    size_t i = x->idx;

    if (i == HEAP_NONE)
        return;
    assert(i < h->n && h->v[i] == x);
    x->idx = HEAP_NONE;
    if (i != --h->n) {
        /* the last node fills the hole, then finds its place either way */
        h->v[i] = h->v[h->n];
        h->v[i]->idx = i;
        heap_down_(h, heap_up_(h, i));
    }
}

/* take the node with the least key out of H; NULL when H is empty */
static inline heap_node_t *
heap_pop(heap_t *h)
{
    heap_node_t *x = heap_min(h);

    if (x)
        heap_remove(h, x);
    return x;
}

/* give X (in H) the key KEY, earlier or later, and restore the order */
static inline void
heap_update(heap_t *h, heap_node_t *x, int64_t key)
{
    assert(heap_contains(x) && x->idx < h->n && h->v[x->idx] == x);
    x->key = key;
    heap_down_(h, heap_up_(h, x->idx));
}

/* free H's array (the nodes are the caller's); H is then empty */
static inline void
heap_free(heap_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = HEAP_NONE;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* do H's invariants (above) hold?  O(n): for tests and debugging */
static inline bool
heap_check(const heap_t *h)
{
    if (h->n > h->cap || (h->n && !h->v))
        return false;
    for (size_t i = 0; i < h->n; i++) {
        if (!h->v[i] || h->v[i]->idx != i)
            return false;
        if (i && h->v[(i - 1) / 2]->key > h->v[i]->key)
            return false;
    }
    return true;
}

#endif
