/*
 * ctl.c -- the control protocol's codec (see ctl.h; operations in wire.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"

#define ID_DIGITS 20                    /* a decimal id, at most */

const ctl_opdef_t ctl_ops[CTL_NOPS] = {
    [CTL_PING]    = { "ping", 0, 0, 0, {{0, 0}}, 0, 0 },
    [CTL_HEAD]    = { "head", 0, 0, 0, {{0, 0}}, 0, 0 },
    /* the JSON message: the broker applies max_message itself */
    [CTL_PUBLISH] = { "publish", 1, 1, 1, {{1, 16u << 20}}, 0, 0 },
    /* AFTER FLAGS CHANNEL... */
    [CTL_REPLAY]  = { "replay", 3, 2 + CTL_CHANNELS_MAX, 2, {{1, ID_DIGITS}, {0, 7}},
                      1, CTL_FIELD_MAX },
    /* CHANNEL... */
    [CTL_STATE]   = { "state", 1, CTL_CHANNELS_MAX, 0, {{0, 0}}, 1, CTL_FIELD_MAX },
    [CTL_STATS]   = { "stats", 0, 0, 0, {{0, 0}}, 0, 0 },
    /* ROUTE SUB TAG (the limit comes from the broker's own config) */
    [CTL_LEASE]   = { "lease", 3, 3, 3, {{1, CTL_FIELD_MAX}, {0, CTL_FIELD_MAX},
                      {1, CTL_TAG_MAX}}, 0, 0 },
    /* LEASEID... */
    [CTL_RENEW]   = { "renew", 1, CTL_LEASES_MAX, 0, {{0, 0}},
                      CTL_LEASE_ID_LEN, CTL_LEASE_ID_LEN },
    [CTL_RELEASE] = { "release", 1, CTL_LEASES_MAX, 0, {{0, 0}},
                      CTL_LEASE_ID_LEN, CTL_LEASE_ID_LEN },
    /* KIND VALUE TTL: "sub" or "jti", the value, seconds (revoke.h) */
    [CTL_REVOKE]  = { "revoke", 3, 3, 3, {{3, 3}, {1, CTL_FIELD_MAX}, {1, 10}}, 0, 0 },
};

const char *const ctl_status_names[CTL_NSTATUS] = {
    [CTL_OK] = "ok", [CTL_ERROR] = "error", [CTL_FULL] = "full",
    [CTL_RESET] = "reset", [CTL_MORE] = "more", [CTL_REFUSED] = "refused",
};

const char *
ctl_strerror(ctl_err_t e)
{
    switch (e) {
    case CTL_E_OK:      return "ok";
    case CTL_E_EMPTY:   return "bad request: no operation";
    case CTL_E_UNKNOWN: return "unknown op";
    case CTL_E_COUNT:   return "bad request: wrong number of arguments";
    case CTL_E_SIZE:    return "bad request: an argument's size is out of bounds";
    case CTL_E_STATUS:  return "bad reply: unknown status";
    case CTL_E_EVENT:   return "bad reply: malformed event";
    }
    return "bad request";
}

int
ctl_arg_is(const ctl_arg_t *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && (n == 0 || memcmp(a->p, s, n) == 0);
}

void
ctl_arg_str(const ctl_arg_t *a, char *out, size_t outlen)
{
    size_t n = a->len < outlen ? a->len : outlen - 1;
    if (n)
        memcpy(out, a->p, n);
    out[n] = '\0';
}

/* the table's check of ARGS for OP: count first, then every size */
static ctl_err_t
ctl_check_args(ctl_op_t op, const ctl_arg_t *args, size_t nargs)
{
    const ctl_opdef_t *d = &ctl_ops[op];

    if (nargs < d->min || nargs > d->max)
        return CTL_E_COUNT;
    for (size_t i = 0; i < nargs; i++) {
        size_t lo = i < d->nfixed ? d->fixed[i].min : d->rest_min;
        size_t hi = i < d->nfixed ? d->fixed[i].max : d->rest_max;
        if (args[i].len < lo || args[i].len > hi)
            return CTL_E_SIZE;
    }
    return CTL_E_OK;
}

ctl_err_t
ctl_decode(const ctl_arg_t *frames, size_t n, ctl_req_t *req)
{
    ctl_err_t e;
    int op;

    if (n == 0)
        return CTL_E_EMPTY;
    for (op = 0; op < CTL_NOPS; op++)
        if (ctl_arg_is(&frames[0], ctl_ops[op].name))
            break;
    if (op == CTL_NOPS)
        return CTL_E_UNKNOWN;
    if ((e = ctl_check_args((ctl_op_t)op, frames + 1, n - 1)) != CTL_E_OK)
        return e;
    req->op = (ctl_op_t)op;
    req->nargs = (unsigned)(n - 1);
    memcpy(req->arg, frames + 1, (n - 1) * sizeof(ctl_arg_t));
    return CTL_E_OK;
}

int
ctl_send(void *sock, ctl_op_t op, const ctl_arg_t *args, size_t nargs)
{
    if ((unsigned)op >= CTL_NOPS || ctl_check_args(op, args, nargs) != CTL_E_OK)
        return errno = EINVAL, -1;
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, ctl_ops[op].name, strlen(ctl_ops[op].name), nargs ? ZMQ_SNDMORE : 0) < 0)
        return -1;
    for (size_t i = 0; i < nargs; i++)
        if (zmq_send(sock, args[i].p, args[i].len, i + 1 < nargs ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

int
ctl_send_strs(void *sock, ctl_op_t op, const char *const *args, size_t nargs)
{
    ctl_arg_t a[CTL_ARGS_MAX];

    if (nargs > CTL_ARGS_MAX)
        return errno = EINVAL, -1;
    for (size_t i = 0; i < nargs; i++)
        a[i] = (ctl_arg_t){ args[i], strlen(args[i]) };
    return ctl_send(sock, op, a, nargs);
}

/* --- whole messages --------------------------------------------------------- */

void
ctl_frames_init(ctl_frames_t *m, size_t max_frames)
{
    memset(m, 0, sizeof(*m));
    m->max = max_frames;
}

void
ctl_frames_close(ctl_frames_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->f[i]);
    m->n = 0;
    m->truncated = 0;
}

int
ctl_recv(void *sock, ctl_frames_t *m, int flags)
{
    zmq_msg_t tmp;

    m->n = 0;
    m->truncated = 0;
    for (int more = 1, first = 1; more; first = 0) {
        zmq_msg_t *f = &tmp;
        if (m->n < m->max) {
            if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 16;
                if (cap > m->max)
                    cap = m->max;
                zmq_msg_t *p = realloc(m->f, cap * sizeof(*p));
                if (!p) {
                    if (!first)
                        wire_drain(sock);
                    return errno = ENOMEM, -1;
                }
                m->f = p;
                m->cap = cap;
            }
            f = &m->f[m->n];
        }
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, first ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(f);
            if (first && e == EAGAIN)
                return 0;
            return errno = e, -1;
        }
        more = zmq_msg_more(f);
        if (f == &tmp) {
            zmq_msg_close(f);
            m->truncated = 1;
        } else {
            m->n++;
        }
    }
    return 1;
}

ctl_arg_t
ctl_frame(const ctl_frames_t *m, size_t i)
{
    if (i >= m->n)
        return (ctl_arg_t){ "", 0 };
    return (ctl_arg_t){ zmq_msg_data(&m->f[i]), zmq_msg_size(&m->f[i]) };
}

/* --- replies ------------------------------------------------------------------ */

void
ctl_reply_init(ctl_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->buf, 0);
}

void
ctl_reply_free(ctl_reply_t *r)
{
    buf_free(&r->buf);
    free(r->len);
    memset(r, 0, sizeof(*r));
}

void
ctl_reply_reset(ctl_reply_t *r)
{
    buf_reset(&r->buf);
    r->n = 0;
    r->events_bytes = 0;
}

int
ctl_reply_add(ctl_reply_t *r, const void *p, size_t len)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *l = realloc(r->len, cap * sizeof(*l));
        if (!l)
            return -1;
        r->len = l;
        r->cap = cap;
    }
    if (buf_append(&r->buf, p, len) < 0)
        return -1;
    r->len[r->n++] = len;
    return 0;
}

int
ctl_reply_str(ctl_reply_t *r, const char *s)
{
    return ctl_reply_add(r, s, strlen(s));
}

int
ctl_reply_status(ctl_reply_t *r, ctl_status_t status, const char *arg)
{
    ctl_reply_reset(r);
    if (ctl_reply_str(r, ctl_status_names[status]) < 0)
        return -1;
    return arg ? ctl_reply_str(r, arg) : 0;
}

int
ctl_reply_event(ctl_reply_t *r, const wire_event_t *ev)
{
    size_t n = r->n, blen = r->buf.len;
    size_t size = ev->channel_len + WIRE_PAYLOAD_MIN + ev->event_len + ev->data_len;

    if (ev->channel_len == 0 || ev->channel_len > CTL_FIELD_MAX || ev->event_len > ZSSE_EVENT_MAX)
        return errno = EINVAL, -1;
    if (r->events_bytes && r->events_bytes + size > CTL_REPLY_MAX)
        return errno = ENOBUFS, -1;
    if (ctl_reply_add(r, ev->channel, ev->channel_len) < 0 ||
        buf_reserve(&r->buf, size - ev->channel_len) < 0)
        goto undo;
    r->buf.len += wire_payload_put((unsigned char *)r->buf.data + r->buf.len, ev);
    if (r->n == r->cap) {
        size_t *l = realloc(r->len, r->cap * 2 * sizeof(*l));
        if (!l)
            goto undo;
        r->len = l;
        r->cap *= 2;
    }
    r->len[r->n++] = size - ev->channel_len;
    r->events_bytes += size;
    return 0;
undo:
    r->n = n;
    r->buf.len = blen;
    return errno = ENOMEM, -1;
}

ctl_arg_t
ctl_reply_frame(const ctl_reply_t *r, size_t i)
{
    size_t off = 0;
    for (size_t k = 0; k < i && k < r->n; k++)
        off += r->len[k];
    if (i >= r->n)
        return (ctl_arg_t){ "", 0 };
    return (ctl_arg_t){ r->buf.data + off, r->len[i] };
}

int
ctl_reply_send(const ctl_reply_t *r, void *sock, const void *ident, size_t idlen)
{
    size_t off = 0;

    if (r->n == 0)
        return 0;
    if (zmq_send(sock, ident, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        if (zmq_send(sock, r->buf.data + off, r->len[i],
            (i + 1 < r->n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return -1;
        off += r->len[i];
    }
    return 0;
}

/* --- decoding replies ------------------------------------------------------- */

/* fixed arguments of (OP, STATUS); -1: that status is not a reply to OP;
 * *EVENTS: events may follow */
static int
ctl_reply_shape(ctl_op_t op, ctl_status_t st, int *events)
{
    *events = 0;
    if (st == CTL_ERROR)
        return 1;                       /* REASON */
    switch (op) {
    case CTL_PING: case CTL_RENEW: case CTL_RELEASE: case CTL_REVOKE:
        return st == CTL_OK ? 0 : -1;
    case CTL_HEAD: case CTL_PUBLISH: case CTL_STATS:
        return st == CTL_OK ? 1 : -1;
    case CTL_LEASE:             /* ok TAG ID | full TAG | refused TAG REASON */
        return st == CTL_OK || st == CTL_REFUSED ? 2 : st == CTL_FULL ? 1 : -1;
    case CTL_REPLAY:
        if (st == CTL_RESET)
            return 2;                   /* REASON HEAD */
        /* fall through */
    case CTL_STATE:
        *events = 1;
        return st == CTL_OK || st == CTL_MORE ? 1 : -1;
    case CTL_NOPS:
        break;
    }
    return -1;
}

ctl_err_t
ctl_decode_reply(ctl_op_t op, const ctl_arg_t *frames, size_t n, ctl_rep_t *rep)
{
    int st, events, nfixed;

    memset(rep, 0, sizeof(*rep));
    if (n == 0 || (unsigned)op >= CTL_NOPS)
        return CTL_E_EMPTY;
    for (st = 0; st < CTL_NSTATUS; st++)
        if (ctl_arg_is(&frames[0], ctl_status_names[st]))
            break;
    if (st == CTL_NSTATUS || (nfixed = ctl_reply_shape(op, (ctl_status_t)st, &events)) < 0)
        return CTL_E_STATUS;
    if (n < 1 + (size_t)nfixed || (!events && n != 1 + (size_t)nfixed) ||
        (events && (n - 1 - (size_t)nfixed) % 2))
        return CTL_E_COUNT;
    for (int i = 0; i < nfixed; i++)
        if (frames[1 + i].len > CTL_REPLY_MAX)
            return CTL_E_SIZE;
    rep->first_event = 1 + (size_t)nfixed;
    rep->nevents = events ? (n - rep->first_event) / 2 : 0;
    for (size_t i = 0; i < rep->nevents; i++) {
        const ctl_arg_t *c = &frames[rep->first_event + 2 * i];
        wire_event_t ev;
        if (c->len == 0 || c->len > CTL_FIELD_MAX ||
            wire_parse_payload(c[1].p, c[1].len, &ev) < 0)
            return CTL_E_EVENT;
    }
    rep->status = (ctl_status_t)st;
    rep->nargs = (unsigned)nfixed;
    for (int i = 0; i < nfixed; i++)
        rep->arg[i] = frames[1 + i];
    return CTL_E_OK;
}

void
ctl_rep_event(const ctl_arg_t *frames, const ctl_rep_t *rep, size_t i, wire_event_t *ev)
{
    const ctl_arg_t *c = &frames[rep->first_event + 2 * i];
    wire_parse_payload(c[1].p, c[1].len, ev);   /* checked by ctl_decode_reply */
    ev->channel = c->p;
    ev->channel_len = c->len;
}
