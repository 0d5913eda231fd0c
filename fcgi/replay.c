/*
 * replay.c -- the replay before a stream's live events (see replay.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mercure.h"
#include "replay.h"
#include "sse.h"
#include "wire.h"

#define REPLAY_FETCH_PARTS_MAX 100000  /* parts of one replay, a bound */

int
replay_ask(const replay_t *p, ctl_op_t op, uint64_t after, const char *flags, control_reply_t *rep)
{
    const char *args[CTL_CHANNELS_MAX + 2];
    char a[WIRE_ID_TEXT_LEN];
    int n = 0;

    if (p->nchannels > CTL_CHANNELS_MAX)
        return -1;
    if (op == CTL_REPLAY) {
        wire_fmt_id(a, after);
        args[n++] = a;
        args[n++] = flags;
    }
    if (op != CTL_HEAD)
        for (size_t i = 0; i < p->nchannels; i++)
            args[n++] = p->channels[i];
    if (control_call(op, args, n, REPLAY_TIMEOUT_MS, rep) < 0)
        return -1;
    if (rep->rep.status == CTL_ERROR) {
        char why[128];
        control_reply_str(rep, 1, why, sizeof(why));
        log_msg(LOG_ERR, "broker refused %s: %s", ctl_ops[op].name, why);
        control_reply_free(rep);
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
    sse_json_quote(&d, reason, strlen(reason));
    buf_putc(&d, '}');
    replay_frame(p, 0, p->r->reset_event, strlen(p->r->reset_event), d.data, d.len,
        ZSSE_KIND_JSON);
    buf_free(&d);
}

static int
replay_by_id(const void *a, const void *b)
{
    const wire_event_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void
replay_order(wire_event_t *ev, int n)
{
    if (n > 1)
        qsort(ev, (size_t)n, sizeof(*ev), replay_by_id);
}

/* frame the events of REP in id order, dropping ids already sent (the
 * broker sends them in order; whatever merged them -- several channels,
 * state by key -- a stream never loses one to order); the highest id of
 * the part goes to *LAST_IN (0: none) */
static void
replay_frame_events(replay_t *p, control_reply_t *rep, uint64_t *last_in)
{
    size_t n = rep->rep.nevents;
    wire_event_t *ev;

    *last_in = 0;
    if (n == 0)
        return;
    if (!(ev = calloc(n, sizeof(*ev)))) {
        p->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ctl_rep_event(rep->v, &rep->rep, i, &ev[i]);
        if (ev[i].id > *last_in)
            *last_in = ev[i].id;
    }
    replay_order(ev, (int)n);
    for (size_t i = 0; i < n; i++) {
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
replay_frame_head(replay_t *p, const char *head_s)
{
    uint64_t head;

    if (wire_parse_id(head_s, strlen(head_s), &head) == 0 && head > p->last) {
        if (sse_id(p->out, head) < 0)
            p->failed = 1;
        p->last = head;
    }
}

/* Ask OP and frame its events, part after part while the broker answers
 * "more" (a reply holds at most CTL_REPLY_MAX bytes of events: the next
 * part is asked with AFTER = the last id received; state goes on as
 * "replay LAST k").  *ST: the last part's status; WHY and HEAD_S: a
 * reset's reason and head, else the first part's head.  -1: no answer. */
static int
replay_fetch(replay_t *p, ctl_op_t op, uint64_t after, const char *flags, ctl_status_t *st,
    char *why, size_t whylen, char head_s[WIRE_ID_TEXT_LEN])
{
    control_reply_t rep;
    uint64_t last;

    for (unsigned part = 0; part < REPLAY_FETCH_PARTS_MAX && !p->failed; part++) {
        if (replay_ask(p, op, after, flags, &rep) < 0)
            return -1;
        *st = rep.rep.status;
        if (*st == CTL_RESET) {
            control_reply_str(&rep, 1, why, whylen);
            control_reply_str(&rep, 2, head_s, 24);
            control_reply_free(&rep);
            return 0;
        }
        if (part == 0 && op != CTL_REPLAY)
            control_reply_str(&rep, 1, head_s, 24);
        replay_frame_events(p, &rep, &last);
        control_reply_free(&rep);
        if (*st != CTL_MORE || last == 0)
            return 0;
        if (op == CTL_STATE) {
            op = CTL_REPLAY;
            flags = "k";
        }
        after = last;
    }
    return p->failed ? 0 : -1;
}

int
replay_join(replay_t *p, int have_leid, uint64_t leid, int resume)
{
    char head_s[WIRE_ID_TEXT_LEN] = "", why[64] = "";
    ctl_status_t st;

    if (!have_leid) {
        if (p->r->snapshot) {
            if (replay_fetch(p, CTL_STATE, 0, "", &st, why, sizeof(why), head_s) < 0)
                return -1;
        } else {
            control_reply_t rep;
            if (replay_ask(p, CTL_HEAD, 0, "", &rep) < 0)
                return -1;
            control_reply_str(&rep, 1, head_s, sizeof(head_s));
            control_reply_free(&rep);
        }
        replay_frame_head(p, head_s);
        return 0;
    }
    if (p->last < leid)
        p->last = leid;
    if (replay_fetch(p, CTL_REPLAY, leid, resume ? "c" : "", &st, why, sizeof(why), head_s) < 0)
        return -1;
    if (st == CTL_RESET) {
        char reset_head[WIRE_ID_TEXT_LEN];
        snprintf(reset_head, sizeof(reset_head), "%s", head_s);
        replay_reset(p, why);
        p->last = 0;
        if (p->r->snapshot && replay_fetch(p, CTL_STATE, 0, "", &st, why, sizeof(why), head_s) < 0)
            return -1;
        replay_frame_head(p, reset_head);
    }
    return 0;
}
