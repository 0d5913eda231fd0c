/*
 * chantab.c -- channels and sync markers on the hub's SUB socket (design
 * in chantab.h).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "channel.h"
#include "chantab.h"
#include "wire.h"

typedef struct chantab_chan {
    struct chantab_chan *next;
    stream_t   **v;                 /* its readers */
    size_t       n, cap;
    size_t       len;
    char         name[];            /* with its '\0': the topic */
} chantab_chan_t;

static struct {
    void           *sub;
    chantab_chan_t *chans[CHANTAB_BUCKETS];
    stream_t       *waiting[CHANTAB_BUCKETS];  /* awaiting a marker, by its topic
                                     * (after a broker restart, every stream:
                                     * markers come back in any order) */
    char            probe[STREAM_NONCE_LEN];   /* the probe topic awaited ("": none) */
    uint64_t        nonce_seq;
    char          (*nonce_pool)[STREAM_NONCE_LEN];  /* NULL: no reuse */
    size_t          nonce_free;
} chantab;

static size_t
chantab_hash(const char *s, size_t n)
{
    return (size_t)(channel_hash(s, n) % CHANTAB_BUCKETS);
}

static void
chantab_subscribe(const char *topic, size_t len, int on)
{
    zmq_setsockopt(chantab.sub, on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, topic, len);
}

int
chantab_init(void *sub)
{
    chantab.sub = sub;
    chantab.nonce_pool = calloc(CHANTAB_NONCE_POOL, sizeof(*chantab.nonce_pool));
    return chantab.nonce_pool ? 0 : -1;
}

/* channel NAME (LEN bytes), made and subscribed when CREATE; NULL: none */
static chantab_chan_t *
chantab_get(const char *name, size_t len, int create)
{
    chantab_chan_t **pp = &chantab.chans[chantab_hash(name, len)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->name, name, len) == 0)
            return *pp;
    if (!create || !(*pp = calloc(1, sizeof(chantab_chan_t) + len + 1)))
        return NULL;
    (*pp)->len = len;
    memcpy((*pp)->name, name, len + 1);     /* keeps the '\0': the topic */
    zmq_setsockopt(chantab.sub, ZMQ_SUBSCRIBE, (*pp)->name, len + 1);
    return *pp;
}

/* S leaves C; C goes (unsubscribed) with its last reader */
static void
chantab_leave(chantab_chan_t *c, stream_t *s)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] == s) {
            c->v[i] = c->v[--c->n];
            break;
        }
    if (c->n)
        return;
    chantab_subscribe(c->name, c->len + 1, 0);
    chantab_chan_t **pp = &chantab.chans[chantab_hash(c->name, c->len)];
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    free(c->v);
    free(c);
}

void
chantab_add(stream_t *s)
{
    for (size_t i = 0; i < s->nchannels; i++) {
        chantab_chan_t *c = chantab_get(s->channels[i], strlen(s->channels[i]), 1);
        if (!c)
            continue;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 4;
            stream_t **v = realloc(c->v, cap * sizeof(*v));
            if (!v)
                continue;
            c->v = v;
            c->cap = cap;
        }
        c->v[c->n++] = s;
    }
}

stream_t *const *
chantab_readers(const char *name, size_t len, size_t *n)
{
    chantab_chan_t *c = chantab_get(name, len, 0);

    *n = c ? c->n : 0;
    return c ? c->v : NULL;
}

/* stop awaiting S's marker */
static void
chantab_unwait(stream_t *s)
{
    size_t len = strlen(s->nonce) + 1;

    if (len == 1)
        return;
    chantab_subscribe(s->nonce, len, 0);
    for (stream_t **pp = &chantab.waiting[chantab_hash(s->nonce, len)]; *pp;
        pp = &(*pp)->wait_next)
        if (*pp == s) {
            *pp = s->wait_next;
            break;
        }
    s->nonce[0] = '\0';
}

void
chantab_remove(stream_t *s)
{
    for (size_t i = 0; i < s->nchannels; i++) {
        chantab_chan_t *c = chantab_get(s->channels[i], strlen(s->channels[i]), 0);
        if (c)
            chantab_leave(c, s);
    }
    chantab_unwait(s);
}

/* subscribe a sync topic (from the pool, or fresh) behind S's channels */
static void
chantab_sync_now(stream_t *s)
{
    int n;

    chantab_unwait(s);
    if (chantab.nonce_free) {
        memcpy(s->nonce, chantab.nonce_pool[--chantab.nonce_free], sizeof(s->nonce));
        n = (int)strlen(s->nonce);
    } else {
        n = snprintf(s->nonce, sizeof(s->nonce), "%c%d.%" PRIu64, WIRE_SYNC_BYTE,
            (int)getpid(), ++chantab.nonce_seq);
    }
    assert(n > 0 && (size_t)n < sizeof(s->nonce));
    chantab_subscribe(s->nonce, (size_t)n + 1, 1);
    stream_t **b = &chantab.waiting[chantab_hash(s->nonce, (size_t)n + 1)];
    s->wait_next = *b;
    *b = s;
}

void
chantab_sync(stream_t *s)
{
    if (chantab.probe[0]) {
        chantab_unwait(s);
        s->needs_marker = 1;
    } else {
        chantab_sync_now(s);
    }
}

void
chantab_resync(stream_t *s)
{
    chantab_unwait(s);
    s->needs_marker = 1;
}

void
chantab_probe_start(void)
{
    if (chantab.probe[0])
        chantab_subscribe(chantab.probe, strlen(chantab.probe) + 1, 0);
    int n = snprintf(chantab.probe, sizeof(chantab.probe), "%cprobe.%d.%" PRIu64,
        WIRE_SYNC_BYTE, (int)getpid(), ++chantab.nonce_seq);
    chantab_subscribe(chantab.probe, (size_t)n + 1, 1);
}

stream_t *
chantab_marker(const char *topic, size_t len, stream_t *streams)
{
    if (chantab.probe[0] && strlen(chantab.probe) + 1 == len &&
        memcmp(chantab.probe, topic, len) == 0) {
        /* the probe is back: every stream waiting for it gets its marker */
        chantab_subscribe(chantab.probe, len, 0);
        chantab.probe[0] = '\0';
        for (stream_t *s = streams; s; s = s->hub_next)
            if (s->needs_marker) {
                s->needs_marker = 0;
                chantab_sync_now(s);
            }
        return NULL;
    }
    for (stream_t *s = chantab.waiting[chantab_hash(topic, len)]; s; s = s->wait_next) {
        if (strlen(s->nonce) + 1 != len || memcmp(s->nonce, topic, len) != 0)
            continue;
        /* its marker is back: no echo of it is on the way any more, so
         * the topic may serve another stream */
        if (chantab.nonce_pool && chantab.nonce_free < CHANTAB_NONCE_POOL)
            memcpy(chantab.nonce_pool[chantab.nonce_free++], s->nonce, sizeof(s->nonce));
        chantab_unwait(s);
        return s;
    }
    return NULL;
}
