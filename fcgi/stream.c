/*
 * stream.c -- the stream object: its making and freeing, its queue, its
 * thread's eventfd, and the one function that changes its state (the
 * diagram and the table's rules are in stream.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "mercure.h"
#include "stream.h"

#define S(x) (1u << STREAM_##x)

/* the edges of stream.h's diagram: EDGES[from] has bit `to` set */
static const unsigned stream_edges[STREAM_NSTATES] = {
    [STREAM_NEW]      = S(SYNCING) | S(RELEASED),
    [STREAM_SYNCING]  = S(SYNCED) | S(RELEASED) | S(RESYNC),
    [STREAM_SYNCED]   = S(SYNCING) | S(RELEASED) | S(LIVE) | S(RESUME),
    [STREAM_RELEASED] = 0,
    [STREAM_LIVE]     = S(RESYNC) | S(DOOMED),
    [STREAM_RESYNC]   = S(RESUME) | S(DOOMED),
    [STREAM_RESUME]   = S(LIVE) | S(RESYNC) | S(DOOMED),
    [STREAM_DOOMED]   = S(DEAD),
    [STREAM_DEAD]     = 0,
};

static const char *const stream_names[STREAM_NSTATES] = {
    [STREAM_NEW] = "new", [STREAM_SYNCING] = "syncing", [STREAM_SYNCED] = "synced",
    [STREAM_RELEASED] = "released", [STREAM_LIVE] = "live", [STREAM_RESYNC] = "resync",
    [STREAM_RESUME] = "resume", [STREAM_DOOMED] = "doomed", [STREAM_DEAD] = "dead",
};

/* --- queued events ---------------------------------------------------------- */

void
stream_qev_unref(stream_qev_t *e)
{
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(e);
}

stream_qev_t *
stream_qev_new(uint64_t id, char kind, const char *ev, size_t elen, const char *data, size_t dlen,
    uint32_t refs)
{
    stream_qev_t *e;

    assert(elen <= UINT8_MAX && dlen <= UINT32_MAX);
    if (!(e = malloc(sizeof(*e) + elen + dlen + 2)))
        return NULL;
    e->refs = refs;
    e->id = id;
    e->kind = kind;
    e->event_len = (uint8_t)elen;
    e->data_len = (uint32_t)dlen;
    e->event = e->blob;
    memcpy(e->event, ev, elen);
    e->event[elen] = '\0';
    e->data = e->event + elen + 1;
    memcpy(e->data, data, dlen);
    e->data[dlen] = '\0';
    return e;
}

/* --- the object ---------------------------------------------------------------- */

stream_t *
stream_new(void)
{
    stream_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->state = STREAM_NEW;
    writer_init(&s->out, -1, 0);
    heap_node_init(&s->timer);
    if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        free(s);
        return NULL;
    }
    if (ring_init(&s->q, STREAM_QUEUE_MIN, STREAM_QUEUE_MAX) < 0) {
        close(s->efd);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void
stream_drain(stream_t *s)
{
    stream_qev_t *e;
    while ((e = ring_pop(&s->q)))
        stream_qev_unref(e);
}

void
stream_free(stream_t *s)
{
    if (!s)
        return;
    assert(s->state == STREAM_NEW || s->state == STREAM_RELEASED ||
        (s->state == STREAM_DEAD && s->jobs == 0));
    assert(!heap_contains(&s->timer));
    stream_drain(s);
    for (size_t i = 0; i < s->nchannels; i++)
        free(s->channels[i]);
    json_decref(s->claims);
    ring_free(&s->q);
    writer_free(&s->out);
    mercure_filter_free(&s->filter);
    if (s->efd >= 0)
        close(s->efd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* --- its state ------------------------------------------------------------------- */

bool
stream_edge_ok(stream_state_t from, stream_state_t to)
{
    return from < STREAM_NSTATES && to < STREAM_NSTATES && (stream_edges[from] & (1u << to));
}

void
stream_set_state(stream_t *s, stream_state_t to)
{
    assert(stream_edge_ok(s->state, to));
    s->state = to;
}

const char *
stream_state_name(stream_state_t st)
{
    return st < STREAM_NSTATES ? stream_names[st] : "?";
}

bool
stream_on_thread(const stream_t *s)
{
    return s->state <= STREAM_RELEASED;
}

bool
stream_running(const stream_t *s)
{
    return s->state == STREAM_LIVE || s->state == STREAM_RESYNC || s->state == STREAM_RESUME;
}

bool
stream_adopted(const stream_t *s)
{
    return stream_running(s) || s->state == STREAM_DOOMED;
}

bool
stream_registered(const stream_t *s)
{
    return s->state == STREAM_SYNCING || s->state == STREAM_SYNCED || stream_adopted(s);
}

stream_state_t
stream_state(stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    stream_state_t st = s->state;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* --- its queue and its thread's eventfd ---------------------------------------------- */

stream_qev_t *
stream_pop(stream_t *s)
{
    pthread_mutex_lock(&s->mu);
    stream_qev_t *e = ring_pop(&s->q);
    pthread_mutex_unlock(&s->mu);
    return e;
}

void
stream_wake(stream_t *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->efd, &one, sizeof(one));
    (void)r;                /* EAGAIN: the counter is already non-zero */
}

void
stream_clear_wake(stream_t *s)
{
    uint64_t v;
    ssize_t r = read(s->efd, &v, sizeof(v));
    (void)r;
}
