/*
 * ring.h -- a FIFO of pointers that grows (like buf.h for bytes).
 *
 * A ring buffer that starts small and doubles, up to a bound, when full:
 * a stream's queue of events, the queue of accepted connections.  Not
 * locked: its owner locks it where it is shared.
 */
#ifndef ZSSE_RING_H
#define ZSSE_RING_H

#include <stddef.h>

typedef struct {
    void  **v;
    size_t  head, len, cap;
    size_t  max;                /* the longest it may grow */
} ring_t;

/* an empty ring of CAP slots, growing to MAX; -1 when out of memory */
int   ring_init(ring_t *r, size_t cap, size_t max);
void  ring_free(ring_t *r);     /* the slots; what they point to is the caller's */
/* append P, or put it first; -1 when the ring is full at MAX (or out of
 * memory), and P is not in it */
int   ring_push(ring_t *r, void *p);
int   ring_push_front(ring_t *r, void *p);
/* the first pointer, taken out or left in; NULL when empty */
void *ring_pop(ring_t *r);
static inline void *ring_first(const ring_t *r) { return r->len ? r->v[r->head] : NULL; }

#endif
