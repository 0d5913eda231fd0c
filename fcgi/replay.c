/*
 * replay.c -- the replay before a stream's live events (see replay.h).
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mercure.h"
#include "replay.h"
#include "sse.h"
#include "wire.h"

int
replay_ask(const replay_t *p, const char *op, uint64_t after, const char *flags, reply_t *rep)
{
    const char *args[ROUTE_MAX_CHANNELS + 3];
    char a[24];
    int n = 0;

    args[n++] = op;
    if (strcmp(op, "replay") == 0) {
        wire_fmt_id(a, after);
        args[n++] = a;
        args[n++] = flags;
    }
    if (strcmp(op, "head") != 0)
        for (size_t i = 0; i < p->nchannels; i++)
            args[n++] = p->channels[i];
    if (control_call(args, NULL, n, REPLAY_TIMEOUT_MS, rep) < 0)
        return -1;
    if (reply_is(rep, 0, "error")) {
        char why[128];
        reply_str(rep, 1, why, sizeof(why));
        log_msg(LOG_ERR, "broker refused %s: %s", op, why);
        reply_free(rep);
        return -1;
    }
    return 0;
}

void
replay_frame(replay_t *p, uint64_t id, const char *ev, size_t elen, const char *data,
    size_t dlen, char kind)
{
    const sse_format_t fmt = (sse_format_t)p->r->format;

    if (p->failed)
        return;
    if (sse_event(p->out, fmt, id, ev, elen, data, dlen, kind) < 0) {
        /* past OUT's bound: write what we have, then try again */
        if (!p->flush || p->flush(p->arg) < 0 ||
            sse_event(p->out, fmt, id, ev, elen, data, dlen, kind) < 0) {
            p->failed = 1;
            return;
        }
    }
    if (p->flush && p->out->max && p->out->len > p->out->max / 2 && p->flush(p->arg) < 0)
        p->failed = 1;
}

void
replay_reset(replay_t *p, const char *reason)
{
    buf_t d;
    buf_init(&d, 512);
    buf_puts(&d, "{\"reason\":");
    json_quote(&d, reason, strlen(reason));
    buf_putc(&d, '}');
    replay_frame(p, 0, p->r->reset_event, strlen(p->r->reset_event), d.data, d.len, 'j');
    buf_free(&d);
}

static int
by_id(const void *a, const void *b)
{
    const wire_event_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void
replay_order(wire_event_t *ev, int n)
{
    if (n > 1)
        qsort(ev, (size_t)n, sizeof(*ev), by_id);
}

/* frame the events of REP from frame FIRST on in id order, dropping ids
 * already sent (the broker sends them in order; whatever merged them --
 * several channels, state by key -- a stream never loses one to order) */
static void
frame_events(replay_t *p, reply_t *rep, int first)
{
    int n = (rep->n - first) / 2;
    wire_event_t *ev;

    if (n <= 0)
        return;
    if (!(ev = calloc((size_t)n, sizeof(*ev))) || reply_events(rep, first, ev) != n) {
        free(ev);
        p->failed = 1;
        return;
    }
    replay_order(ev, n);
    for (int i = 0; i < n; i++) {
        if (ev[i].id <= p->last)
            continue;
        if (p->filter && !mercure_accept(p->filter, &ev[i])) {
            p->last = ev[i].id;
            continue;
        }
        replay_frame(p, ev[i].id, ev[i].event, ev[i].event_len, ev[i].data, ev[i].data_len,
            ev[i].kind);
        p->last = ev[i].id;
    }
    free(ev);
}

/* an id-only block at HEAD: a reconnect resumes from there */
static void
frame_head(replay_t *p, const char *head_s)
{
    uint64_t head;

    if (wire_parse_id(head_s, strlen(head_s), &head) == 0 && head > p->last) {
        if (sse_id(p->out, head) < 0)
            p->failed = 1;
        p->last = head;
    }
}

int
replay_join(replay_t *p, int have_leid, uint64_t leid, int resume)
{
    reply_t rep;
    char head_s[24];

    if (!have_leid) {
        if (replay_ask(p, p->r->snapshot ? "state" : "head", 0, "", &rep) < 0)
            return -1;
        reply_str(&rep, 1, head_s, sizeof(head_s));
        if (p->r->snapshot)
            frame_events(p, &rep, 2);
        frame_head(p, head_s);
        reply_free(&rep);
        return 0;
    }
    char flags[4] = "";
    if (p->r->snapshot)
        strcat(flags, "s");
    if (resume)
        strcat(flags, "c");
    if (replay_ask(p, "replay", leid, flags, &rep) < 0)
        return -1;
    if (reply_is(&rep, 0, "ok")) {
        if (p->last < leid)
            p->last = leid;
        frame_events(p, &rep, 2);
    } else {                    /* reset REASON HEAD [state] */
        char why[64];
        reply_str(&rep, 1, why, sizeof(why));
        reply_str(&rep, 2, head_s, sizeof(head_s));
        replay_reset(p, why);
        p->last = 0;
        frame_events(p, &rep, 3);
        frame_head(p, head_s);
    }
    reply_free(&rep);
    return 0;
}
