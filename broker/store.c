/*
 * store.c -- channels, replay rings and state (see store.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "store.h"

/* a ring entry in the order events came in: the oldest is evicted first */
typedef struct {
    store_channel_t *ch;              /* kept alive while referenced (fifo_refs) */
    uint64_t   id;
} store_entry_t;

struct store {
    const broker_conf_t *conf;
    store_channel_t **buckets;
    size_t      nbuckets;       /* a power of two */
    size_t      nchannels;
    size_t      nevents;        /* ring entries, as of the last sweep */
    size_t      nkeys;          /* state entries, as of the last sweep */
    store_entry_t    *fifo;           /* every ring entry, oldest first (and stale
                                 * ones, dropped as they reach the front) */
    size_t      fhead, fcount, fcap;
    uint64_t    evicted;        /* ring entries dropped for max_memory */
};

#define STORE_RING_MIN    8     /* ring entries allocated at first */
#define STORE_BUCKETS_MIN 1024  /* hash buckets at first (a power of two) */
#define STORE_HITS_MIN    64    /* results allocated at first */
#define STORE_FIFO_MIN    1024  /* fifo entries allocated at first */

/* Bytes of events, channels and the fifo: the broker has one store, and
 * events are counted where they are made and freed. */
static size_t store_mem_bytes;

static size_t
store_event_size(size_t event_len, size_t key_len, size_t data_len)
{
    return sizeof(store_event_t) + event_len + key_len + data_len + 3;
}

/* --- events ------------------------------------------------------------ */

store_event_t *
store_event_new(const event_rec_t *r)
{
    size_t size = store_event_size(r->event_len, r->key_len, r->data_len);
    store_event_t *e;

    assert(r->event_len <= ZSSE_EVENT_MAX && r->key_len <= ZSSE_KEY_MAX);
    assert(r->data_len <= UINT32_MAX);
    if (!(e = malloc(size)))
        return NULL;
    store_mem_bytes += size;
    e->refs = 1;
    e->kind = r->kind;
    e->event_len = (uint8_t)r->event_len;
    e->key_len = (uint8_t)r->key_len;
    e->ttl = r->ttl;
    e->data_len = (uint32_t)r->data_len;
    e->id = r->id;
    e->accepted_us = r->accepted_us;
    e->event = e->blob;
    memcpy(e->event, r->event ? r->event : "", r->event_len);
    e->event[r->event_len] = '\0';
    e->key = e->event + r->event_len + 1;
    memcpy(e->key, r->key ? r->key : "", r->key_len);
    e->key[r->key_len] = '\0';
    e->data = e->key + r->key_len + 1;
    memcpy(e->data, r->data, r->data_len);
    e->data[r->data_len] = '\0';
    return e;
}

void
store_event_rec(const store_event_t *e, event_rec_t *out)
{
    out->id = e->id;
    out->accepted_us = e->accepted_us;
    out->ttl = e->ttl;
    out->kind = e->kind;
    out->nchannels = 0;
    out->event = e->event_len ? e->event : NULL;
    out->event_len = e->event_len;
    out->key = e->key_len ? e->key : NULL;
    out->key_len = e->key_len;
    out->data = e->data;
    out->data_len = e->data_len;
}

void
store_event_wire(const store_event_t *e, const store_channel_t *ch, wire_event_t *out)
{
    *out = (wire_event_t){ .id = e->id, .kind = e->kind,
                           .event = e->event, .event_len = e->event_len,
                           .data = e->data, .data_len = e->data_len,
                           .channel = ch->name, .channel_len = ch->name_len };
}

void
store_event_unref(store_event_t *e)
{
    assert(!e || e->refs > 0);
    if (e && --e->refs == 0) {
        store_mem_bytes -= store_event_size(e->event_len, e->key_len, e->data_len);
        free(e);
    }
}

/* payload bytes an event adds to its channel's state */
static size_t
store_state_size(const store_event_t *e)
{
    return (size_t)e->event_len + e->key_len + e->data_len;
}

/* bytes of a channel's own allocations */
static size_t
store_channel_size(const store_channel_t *ch)
{
    return sizeof(*ch) + ch->name_len + 1 + (size_t)ch->cap * sizeof(store_event_t *) +
        (size_t)ch->capstate * sizeof(store_event_t *);
}

/* --- the hash table ---------------------------------------------------- */

store_t *
store_new(const broker_conf_t *conf)
{
    store_t *s = calloc(1, sizeof(*s));

    if (!s || !(s->buckets = calloc(STORE_BUCKETS_MIN, sizeof(store_channel_t *)))) {
        free(s);
        return NULL;
    }
    s->nbuckets = STORE_BUCKETS_MIN;
    s->conf = conf;
    return s;
}

static void
store_channel_free(store_t *s, store_channel_t *ch)
{
    for (uint32_t i = 0; i < ch->count; i++)
        store_event_unref(ch->ring[(ch->head + i) % ch->cap]);
    for (uint32_t i = 0; i < ch->nstate; i++)
        store_event_unref(ch->state[i]);
    (void)s;
    store_mem_bytes -= store_channel_size(ch);
    free(ch->ring);
    free(ch->state);
    free(ch);
}

void
store_destroy(store_t **sp)
{
    store_t *s = *sp;
    if (!s)
        return;
    for (size_t b = 0; b < s->nbuckets; b++)
        for (store_channel_t *ch = s->buckets[b], *next; ch; ch = next) {
            next = ch->next;
            store_channel_free(s, ch);
        }
    free(s->buckets);
    store_mem_bytes -= s->fcap * sizeof(store_entry_t);
    free(s->fifo);
    free(s);
    *sp = NULL;
}

static void
store_grow(store_t *s)
{
    size_t n = s->nbuckets * 2;
    store_channel_t **b = calloc(n, sizeof(*b));

    if (!b)
        return;                 /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++)
        for (store_channel_t *ch = s->buckets[i], *next; ch; ch = next) {
            next = ch->next;
            size_t h = channel_hash(ch->name, ch->name_len) & (n - 1);
            ch->next = b[h];
            b[h] = ch;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

store_channel_t *
store_channel(store_t *s, const char *name, size_t len, int create)
{
    size_t h = channel_hash(name, len) & (s->nbuckets - 1);
    store_channel_t *ch;
    char tmp[ZSSE_CHANNEL_MAX + 1];
    int buffer, ttl;

    for (ch = s->buckets[h]; ch; ch = ch->next)
        if (ch->name_len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    if (!create || len > ZSSE_CHANNEL_MAX || s->nchannels >= STORE_CHANNELS_MAX)
        return NULL;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    config_channel_limits(s->conf, tmp, &buffer, &ttl);
    if (!(ch = calloc(1, sizeof(*ch) + len + 1)))
        return NULL;
    /* the ring grows as events come (a buffer of 100,000 costs 800 kB
     * per channel up front otherwise) */
    ch->cap = buffer < STORE_RING_MIN ? (uint32_t)buffer : STORE_RING_MIN;
    if (!(ch->ring = calloc(ch->cap, sizeof(store_event_t *)))) {
        free(ch);
        return NULL;
    }
    ch->max = (uint32_t)buffer;
    ch->ttl = ttl;
    ch->name_len = (uint8_t)len;
    store_mem_bytes += store_channel_size(ch);
    memcpy(ch->name, name, len + 1);
    ch->next = s->buckets[h];
    s->buckets[h] = ch;
    if (++s->nchannels > s->nbuckets)
        store_grow(s);
    return ch;
}

/* --- one channel --------------------------------------------------------- */

static int64_t
store_expires(const store_channel_t *ch, const store_event_t *e)
{
    return e->accepted_us + (int64_t)(e->ttl ? e->ttl : (uint32_t)ch->ttl) * 1000000;
}

static void
store_drop_oldest(store_channel_t *ch)
{
    assert(ch->count > 0);
    store_event_t *e = ch->ring[ch->head];
    if (e->id > ch->floor)
        ch->floor = e->id;
    store_event_unref(e);
    ch->ring[ch->head] = NULL;
    ch->head = (ch->head + 1) % ch->cap;
    ch->count--;
}

static void
store_set_state(store_t *s, store_channel_t *ch, store_event_t *ev)
{
    uint32_t i, oldest = 0;

    for (i = 0; i < ch->nstate; i++) {
        store_event_t *cur = ch->state[i];
        if (cur->key_len == ev->key_len && memcmp(cur->key, ev->key, ev->key_len) == 0) {
            ch->state_bytes += store_state_size(ev) - store_state_size(cur);
            store_event_ref(ev);
            store_event_unref(cur);
            ch->state[i] = ev;
            return;
        }
        if (cur->id < ch->state[oldest]->id)
            oldest = i;
    }
    /* full (a journal from a larger max_state_keys: broker_accept_msg refuses a
     * new key past it): the oldest key goes */
    if (ch->nstate && ch->nstate >= (uint32_t)s->conf->max_state_keys) {
        ch->state_bytes += store_state_size(ev) - store_state_size(ch->state[oldest]);
        store_event_ref(ev);
        store_event_unref(ch->state[oldest]);
        ch->state[oldest] = ev;
        return;
    }
    if (ch->nstate == ch->capstate) {
        uint32_t n = ch->capstate ? ch->capstate * 2 : 4;
        store_event_t **p = realloc(ch->state, n * sizeof(*p));
        if (!p)
            return;             /* state is best effort under memory pressure */
        store_mem_bytes += (size_t)(n - ch->capstate) * sizeof(*p);
        ch->state = p;
        ch->capstate = n;
    }
    store_event_ref(ev);
    ch->state[ch->nstate++] = ev;
    ch->state_bytes += store_state_size(ev);
}

const char *
store_state_check(const store_t *s, const store_channel_t *ch, const char *key, size_t key_len,
    size_t size)
{
    size_t old = 0;
    int found = 0;

    for (uint32_t i = 0; i < ch->nstate && !found; i++)
        if (ch->state[i]->key_len == key_len && memcmp(ch->state[i]->key, key, key_len) == 0) {
            old = store_state_size(ch->state[i]);
            found = 1;
        }
    if (!found && ch->nstate >= (uint32_t)s->conf->max_state_keys)
        return "state_keys";
    if (ch->state_bytes - old + size > (size_t)s->conf->max_state_bytes)
        return "state_bytes";
    return NULL;
}

/* --- the memory budget ------------------------------------------------------ */

static int
store_fifo_live(const store_entry_t *e)
{
    const store_channel_t *ch = e->ch;
    return ch->count && ch->ring[ch->head]->id <= e->id;
}

static void
store_fifo_pop(store_t *s)
{
    assert(s->fcount > 0 && s->fifo[s->fhead].ch->fifo_refs > 0);
    s->fifo[s->fhead].ch->fifo_refs--;
    s->fhead = (s->fhead + 1) % s->fcap;
    s->fcount--;
}

/* drop the stale entries at the front */
static void
store_fifo_trim(store_t *s)
{
    while (s->fcount && !store_fifo_live(&s->fifo[s->fhead]))
        store_fifo_pop(s);
}

static void
store_fifo_push(store_t *s, store_channel_t *ch, uint64_t id)
{
    if (s->fcount == s->fcap) {
        size_t cap = s->fcap ? s->fcap * 2 : STORE_FIFO_MIN;
        store_entry_t *f = malloc(cap * sizeof(*f));
        if (!f)
            return;             /* not evictable by age; still bounded by its ring */
        for (size_t i = 0; i < s->fcount; i++)
            f[i] = s->fifo[(s->fhead + i) % s->fcap];
        store_mem_bytes += (cap - s->fcap) * sizeof(*f);
        free(s->fifo);
        s->fifo = f;
        s->fcap = cap;
        s->fhead = 0;
    }
    s->fifo[(s->fhead + s->fcount++) % s->fcap] = (store_entry_t){ ch, id };
    ch->fifo_refs++;
}

int
store_make_room(store_t *s, size_t need)
{
    while (store_mem_bytes + need > s->conf->max_memory && s->fcount) {
        store_entry_t *e = &s->fifo[s->fhead];
        if (store_fifo_live(e)) {
            while (e->ch->count && e->ch->ring[e->ch->head]->id <= e->id)
                store_drop_oldest(e->ch);     /* raises the floor: replays reset */
            s->evicted++;
        }
        store_fifo_pop(s);
    }
    return store_mem_bytes + need <= s->conf->max_memory ? 0 : -1;
}

size_t   store_memory(const store_t *s) { (void)s; return store_mem_bytes; }
uint64_t store_evicted(const store_t *s) { return s->evicted; }

/* a full ring below its buffer size doubles (in order, from 0); -1: no memory */
static int
store_ring_grow(store_channel_t *ch)
{
    uint32_t cap = ch->cap * 2 < ch->max ? ch->cap * 2 : ch->max;
    store_event_t **r = malloc((size_t)cap * sizeof(*r));

    if (!r)
        return -1;
    for (uint32_t i = 0; i < ch->count; i++)
        r[i] = ch->ring[(ch->head + i) % ch->cap];
    store_mem_bytes += (size_t)(cap - ch->cap) * sizeof(*r);
    free(ch->ring);
    ch->ring = r;
    ch->cap = cap;
    ch->head = 0;
    return 0;
}

void
store_push(store_t *s, store_channel_t *ch, store_event_t *ev, int64_t now_us)
{
    if (ch->count == ch->cap && (ch->cap == ch->max || store_ring_grow(ch) < 0))
        store_drop_oldest(ch);
    assert(ch->count < ch->cap);
    store_event_ref(ev);
    ch->ring[(ch->head + ch->count) % ch->cap] = ev;
    ch->count++;
    store_fifo_push(s, ch, ev->id);
    store_fifo_trim(s);
    if (ev->key_len)
        store_set_state(s, ch, ev);
    ch->touched_us = now_us;
}

void
store_restore(store_t *s, store_channel_t *ch, store_event_t *ev, int64_t now_us)
{
    if (ev->id > ch->floor) {
        store_push(s, ch, ev, now_us);
    } else if (ev->key_len) {
        store_set_state(s, ch, ev);
        ch->touched_us = now_us;
    }
}

void
store_expire(store_channel_t *ch, int64_t now_us)
{
    while (ch->count && store_expires(ch, ch->ring[ch->head]) <= now_us)
        store_drop_oldest(ch);
    for (uint32_t i = 0; i < ch->nstate;) {
        if (store_expires(ch, ch->state[i]) <= now_us) {
            ch->state_bytes -= store_state_size(ch->state[i]);
            store_event_unref(ch->state[i]);
            ch->state[i] = ch->state[--ch->nstate];
        } else {
            i++;
        }
    }
}

/* --- queries ------------------------------------------------------------- */

static int
store_by_id(const void *a, const void *b)
{
    const store_hit_t *x = a, *y = b;
    return x->ev->id < y->ev->id ? -1 : x->ev->id > y->ev->id;
}

static int
store_put_hit(store_hit_t **out, size_t *cap, size_t n, store_event_t *e, const store_channel_t *ch)
{
    if (n == *cap) {
        size_t c = *cap ? *cap * 2 : STORE_HITS_MIN;
        store_hit_t *p = realloc(*out, c * sizeof(*p));
        if (!p)
            return -1;
        *out = p;
        *cap = c;
    }
    (*out)[n] = (store_hit_t){ e, ch };
    return 0;
}

long
store_collect(store_t *s, const char *const *chans, const size_t *lens, size_t n,
    uint64_t after, int replay, int64_t now_us, store_hit_t **out, size_t *outcap)
{
    size_t k = 0;

    for (size_t c = 0; c < n; c++) {
        store_channel_t *ch = store_channel(s, chans[c], lens[c], 0);
        if (!ch)
            continue;
        store_expire(ch, now_us);
        if (replay) {
            for (uint32_t i = 0; i < ch->count; i++) {
                store_event_t *e = ch->ring[(ch->head + i) % ch->cap];
                if (e->id > after && store_put_hit(out, outcap, k++, e, ch) < 0)
                    return -1;
            }
        } else {
            for (uint32_t i = 0; i < ch->nstate; i++)
                if (store_put_hit(out, outcap, k++, ch->state[i], ch) < 0)
                    return -1;
        }
    }
    /* a ring is in id order already: one channel's replay needs no sort;
     * state is kept by key, so its events of interleaved keys are not */
    if (k > 1 && (n > 1 || !replay))
        qsort(*out, k, sizeof(store_hit_t), store_by_id);
    size_t w = 0;                       /* one event on two channels: once */
    for (size_t i = 0; i < k; i++)
        if (w == 0 || (*out)[w - 1].ev->id != (*out)[i].ev->id)
            (*out)[w++] = (*out)[i];
    return (long)w;
}

uint64_t
store_floor(store_t *s, const char *const *chans, const size_t *lens, size_t n,
    int64_t now_us)
{
    uint64_t f = 0;

    for (size_t c = 0; c < n; c++) {
        store_channel_t *ch = store_channel(s, chans[c], lens[c], 0);
        if (!ch)
            continue;
        store_expire(ch, now_us);
        if (ch->floor > f)
            f = ch->floor;
    }
    return f;
}

size_t
store_sweep(store_t *s, int64_t now_us)
{
    size_t events = 0, keys = 0;

    for (size_t b = 0; b < s->nbuckets; b++) {
        store_channel_t **pp = &s->buckets[b];
        while (*pp) {
            store_channel_t *ch = *pp;
            store_expire(ch, now_us);
            if (ch->count == 0 && ch->nstate == 0 && ch->fifo_refs == 0 &&
                now_us - ch->touched_us > STORE_IDLE_US) {
                *pp = ch->next;
                store_channel_free(s, ch);
                s->nchannels--;
                continue;
            }
            events += ch->count;
            keys += ch->nstate;
            pp = &ch->next;
        }
    }
    s->nevents = events;
    s->nkeys = keys;
    store_fifo_trim(s);
    return s->nchannels;
}

uint64_t
store_min_live(store_t *s)
{
    uint64_t m = UINT64_MAX;

    for (size_t b = 0; b < s->nbuckets; b++)
        for (store_channel_t *ch = s->buckets[b]; ch; ch = ch->next) {
            if (ch->count && ch->ring[ch->head]->id < m)
                m = ch->ring[ch->head]->id;
            for (uint32_t i = 0; i < ch->nstate; i++)
                if (ch->state[i]->id < m)
                    m = ch->state[i]->id;
        }
    return m;
}

typedef struct {
    store_event_t   *ev;
    store_channel_t *ch;
} pair_t;

static int
store_pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->ev->id != y->ev->id)
        return x->ev->id < y->ev->id ? -1 : 1;
    return x->ch < y->ch ? -1 : x->ch > y->ch;
}

int
store_each_live(store_t *s, int (*fn)(void *ctx, const event_rec_t *rec), void *ctx)
{
    size_t n = 0, cap = 0;
    pair_t *v = NULL;
    int rc = 0;

    for (size_t b = 0; b < s->nbuckets; b++)
        for (store_channel_t *ch = s->buckets[b]; ch; ch = ch->next) {
            size_t need = n + ch->count + ch->nstate;
            if (need > cap) {
                size_t c = cap ? cap : STORE_HITS_MIN;
                while (c < need)
                    c *= 2;
                pair_t *p = realloc(v, c * sizeof(*p));
                if (!p) {
                    free(v);
                    return -1;
                }
                v = p;
                cap = c;
            }
            for (uint32_t i = 0; i < ch->count; i++)
                v[n++] = (pair_t){ ch->ring[(ch->head + i) % ch->cap], ch };
            for (uint32_t i = 0; i < ch->nstate; i++)
                v[n++] = (pair_t){ ch->state[i], ch };
        }
    if (n > 1)                          /* (v is NULL when the store is empty) */
        qsort(v, n, sizeof(*v), store_pair_cmp);
    for (size_t i = 0; i < n && rc == 0;) {
        event_rec_t rec;
        size_t j = i;
        store_event_rec(v[i].ev, &rec);
        for (; j < n && v[j].ev == v[i].ev; j++) {
            size_t k = rec.nchannels;
            if (k && rec.channels[k - 1] == v[j].ch->name)
                continue;       /* in the ring and the state of one channel */
            if (k < ZSSE_MAX_CHANNELS) {
                rec.channels[k] = v[j].ch->name;
                rec.channel_lens[rec.nchannels++] = v[j].ch->name_len;
            }
        }
        rc = fn(ctx, &rec);
        i = j;
    }
    free(v);
    return rc;
}

int
store_each_floor(store_t *s, int (*fn)(void *ctx, const char *name, size_t len,
    uint64_t floor), void *ctx)
{
    int rc = 0;
    for (size_t b = 0; b < s->nbuckets && rc == 0; b++)
        for (store_channel_t *ch = s->buckets[b]; ch && rc == 0; ch = ch->next)
            if (ch->floor)
                rc = fn(ctx, ch->name, ch->name_len, ch->floor);
    return rc;
}

size_t store_channels(const store_t *s) { return s->nchannels; }
size_t store_events(const store_t *s) { return s->nevents; }
size_t store_keys(const store_t *s) { return s->nkeys; }
