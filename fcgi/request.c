/*
 * request.c -- serving one FastCGI request (see request.h).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "accept.h"
#include "buf.h"
#include "channel.h"
#include "clock.h"
#include "control.h"
#include "http.h"
#include "ident.h"
#include "hub.h"
#include "log.h"
#include "mercure.h"
#include "publish.h"
#include "replay.h"
#include "sse.h"
#include "request.h"
#include "wire.h"

#define REQUEST_SYNC_TIMEOUT_MS    3000
#define REQUEST_CONTROL_TIMEOUT_MS REPLAY_TIMEOUT_MS
#define REQUEST_OUT_MAX            (8u << 20)   /* one write batch */
#define REQUEST_BODY_MAX           (64u << 10)  /* bytes of a request body read */
#define REQUEST_POLL_WAIT_MAX      60           /* s: the longest ?wait= of a poll */
#define REQUEST_POLL_QUEUED_MAX    256          /* live events in one poll answer */

typedef struct {
    http_t         h;
    const route_t *r;
    route_params_t params;          /* R's placeholders in the path: matched once */
    const config_t *cfg;
    json_t        *claims;
    stream_t      *s;
    buf_t          out;
    replay_t       rp;              /* frames into out, flushes through libfcgi */
    int            earliest;        /* Mercure lastEventID=earliest: all buffered */
    int            gone;            /* the client left or a write failed */
    int            headers;         /* the 200 headers are out */
} request_ctx_t;


/* --- writing ---------------------------------------------------------------- */

/* the stream's headers, before anything of its body */
static void
request_put_headers(request_ctx_t *c)
{
    if (c->headers)
        return;
    c->headers = 1;
    FCGX_PutS("Status: 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n", c->h.req->out);
    http_cors(&c->h, c->r, c->h.req->out);
    FCGX_PutS("\r\n", c->h.req->out);
}

/* write the framed body so far (a replay larger than REQUEST_OUT_MAX / 2 comes
 * here more than once) */
static int
request_flush_out(void *arg)
{
    request_ctx_t *c = arg;
    if (!c->gone)
        request_put_headers(c);
    if (c->out.len == 0 || c->gone)
        return c->gone ? -1 : 0;
    if (FCGX_PutStr(c->out.data, (int)c->out.len, c->h.req->out) < 0 ||
        FCGX_FFlush(c->h.req->out) < 0)
        c->gone = 1;
    buf_reset(&c->out);
    return c->gone ? -1 : 0;
}

/* --- talking to the broker ---------------------------------------------------- */

/* 503: the broker did not answer STEP in time, or (REFUSED) answered
 * that it cannot now (a cluster broker without NATS or its leases bucket);
 * logged at most once a second: a dead broker makes every new stream fail
 * at once */
static void
request_unavailable_why(request_ctx_t *c, const char *step, int refused)
{
    static ratelimit_t rl;

    log_limited(&rl, LOG_WARNING, "503 for %.200s: the broker %s (%s)", c->h.path,
        refused ? "refused" : "did not answer", step);
    http_error(&c->h, c->r, 503, "unavailable", refused ? "broker refused" : "broker unreachable",
        "Retry-After: 5\r\n");
}

static void
request_unavailable(request_ctx_t *c, const char *step)
{
    request_unavailable_why(c, step, 0);
}

/* --- the request ----------------------------------------------------------------- */

static int request_query_has(const char *query, const char *name);

static int
request_get_token(request_ctx_t *c, const auth_conf_t *ac, char *tok, size_t toklen)
{
    const char *a = http_bearer(&c->h);

    if (a) {
        if (strlen(a) >= toklen)
            return -2;
        strcpy(tok, a);
        return (int)strlen(tok);
    }
    int n;
    if (ac->query_param && (n = query_get(c->h.query, ac->query_param, tok, toklen)) != -1)
        return n;
    if (ac->query_param && request_query_has(c->h.query, ac->query_param))
        return -2;                  /* there, but too long (or a bad escape) */
    if (ac->cookie && (n = http_cookie(&c->h, ac->cookie, tok, toklen)) != -1)
        return n;
    return -1;
}

/* the token, when the route takes one: verified, not revoked, into
 * C->claims; 0 or an HTTP status already answered */
static int
request_authenticate(request_ctx_t *c, const auth_t *auth)
{
    char tok[AUTH_TOKEN_MAX + 2], err[256];

    if (c->r->auth != AUTH_NONE) {
        int n = request_get_token(c, &c->cfg->auth, tok, sizeof(tok));
        if (n == -2 || n > AUTH_TOKEN_MAX) {
            http_error(&c->h, c->r, 401, "invalid_token", "token too long", HTTP_WWW_AUTH_INVALID);
            return 401;
        }
        if (n < 0 && c->r->auth == AUTH_REQUIRED) {
            /* RFC 6750 3.1: no credentials at all: the challenge without an error */
            http_error(&c->h, c->r, 401, "invalid_token", "token missing", HTTP_WWW_AUTH_NONE);
            return 401;
        }
        if (n >= 0) {
            if (!auth) {
                http_error(&c->h, c->r, 500, "server_error", "no key configured", NULL);
                return 500;
            }
            if (auth_verify(auth, tok, (size_t)n, wall_s(), &c->claims, err, sizeof(err)) < 0) {
                http_error(&c->h, c->r, 401, "invalid_token", err, HTTP_WWW_AUTH_INVALID);
                return 401;
            }
            if (hub_refuses(c->claims)) {
                http_error(&c->h, c->r, 401, "invalid_token", "token revoked",
                    HTTP_WWW_AUTH_INVALID);
                return 401;
            }
        }
    }
    return 0;
}

/* the claims the route asks for: a usable sub (max_per_user), require;
 * 0 or an HTTP status already answered */
static int
request_check_claims(request_ctx_t *c)
{
    char err[256];

    /* max_per_user counts streams per sub as {sub} spells it: a token
     * without one cannot be counted (issue 12: 401) */
    char subj[256];
    if (c->r->max_per_user > 0 && route_subject(c->claims, subj, sizeof(subj)) == -1) {
        http_error(&c->h, c->r, 401, "invalid_token", "the token has no usable sub",
            HTTP_WWW_AUTH_INVALID);
        return 401;
    }
    if (c->r->require) {
        const char *k;
        json_t *want;
        json_object_foreach(c->r->require, k, want) {
            json_t *got = c->claims ? json_object_get(c->claims, k) : NULL;
            if (!got || !json_equal(got, want)) {
                snprintf(err, sizeof(err), "claim %s required", k);
                http_error(&c->h, c->r, 403, "forbidden", err, NULL);
                return 403;
            }
        }
    }
    return 0;
}

/* the route's channels for this request, expanded and granted, into
 * C->s->channels (each once); 0 or an HTTP status already answered */
static int
request_channels(request_ctx_t *c)
{
    char err[256];
    buf_t ch;

    buf_init(&ch, 256);
    for (size_t i = 0; i < c->r->nchannels; i++) {
        int st = tpl_expand_status(&c->r->channels[i], &c->params, c->h.query, c->claims, &ch, err,
            sizeof(err));
        if (st) {
            /* the request's fault (a missing or malformed parameter: 400)
             * or a refusal (no such claim, a value the identity rule
             * refuses: 403) */
            http_error(&c->h, c->r, st, st == 400 ? "bad_request" : "forbidden", err, NULL);
            buf_free(&ch);
            return st;
        }
        /* a public route (auth none) has no token to grant anything: its
         * path and query channels are open by the operator's choice */
        if (c->r->channels[i].needs_grant && c->r->auth != AUTH_NONE &&
            !grant_allows(c->claims, ch.data)) {
            snprintf(err, sizeof(err), "channel not granted: %.200s", ch.data);
            http_error(&c->h, c->r, 403, "forbidden", err, NULL);
            buf_free(&ch);
            return 403;
        }
        int dup = 0;
        for (size_t k = 0; k < c->s->nchannels; k++)
            dup |= strcmp(c->s->channels[k], ch.data) == 0;
        assert(c->s->nchannels <= i && i < ROUTE_MAX_CHANNELS);    /* one per template */
        if (!dup)
            c->s->channels[c->s->nchannels++] = strdup(ch.data);
    }
    buf_free(&ch);
    for (size_t k = 0; k < c->s->nchannels; k++)
        if (!c->s->channels[k]) {
            http_error(&c->h, c->r, 500, "server_error", "out of memory", NULL);
            return 500;
        }
    return 0;
}

/* authenticate, check the claims, expand the channels; 0 or an HTTP
 * status already answered */
static int
request_admit(request_ctx_t *c, const auth_t *auth)
{
    int st;

    if ((st = request_authenticate(c, auth)) || (st = request_check_claims(c)))
        return st;
    return request_channels(c);
}

/* the lease subject: the token's sub by the identity rule (ident.h), ""
 * without a token or sub; -1 when a sub the rule refuses would be counted
 * (the route has max_per_user: 403 with the reason in ERR) */
static int
request_lease_subject(request_ctx_t *c, char *scratch, size_t len, const char **sub, char *err, size_t errlen)
{
    json_t *v = c->claims ? json_object_get(c->claims, "sub") : NULL;
    size_t n;

    *sub = "";
    if (!v)
        return 0;
    ident_result_t ir = ident_json(v, scratch, len, sub, &n);
    if (ir == IDENT_OK)
        return 0;
    *sub = "";
    if (!c->r->max_per_user)
        return 0;                   /* not counted: the sub is not used */
    snprintf(err, errlen, "token claim sub %s", ident_reason(ir));
    return -1;
}

/* 0: taken; 1: max_per_user reached; -1: the broker did not answer; -2:
 * it refused the lease of a route that has max_per_user */
static int
request_take_lease(request_ctx_t *c, const char *sub)
{
    control_lease_t rc = control_lease_take(c->r->path, sub, c->s->lease,
        REQUEST_CONTROL_TIMEOUT_MS);
    if (rc != CONTROL_LEASE_TAKEN)
        c->s->lease[0] = '\0';
    if (rc == CONTROL_LEASE_REFUSED && c->r->max_per_user == 0)
        return 0;               /* only counted for stats: go on without */
    return rc == CONTROL_LEASE_TAKEN ? 0 : rc == CONTROL_LEASE_FULL ? 1
         : rc == CONTROL_LEASE_REFUSED ? -2 : -1;
}

static void
request_release_lease(request_ctx_t *c)
{
    if (!c->s->lease[0])
        return;
    const char *id = c->s->lease;
    control_lease_send(CTL_RELEASE, &id, 1, 1);
    c->s->lease[0] = '\0';
}

/* when the stream must end for its token (monotonic ms): exp plus the
 * leeway auth_verify allowed; 0 when the token has no exp (or there is
 * no token) */
static int64_t
request_token_deadline(const request_ctx_t *c)
{
    json_t *exp = c->claims ? json_object_get(c->claims, "exp") : NULL;

    if (!json_is_number(exp))
        return 0;
    double wall_ms = (double)wall_us() / 1000;      /* exp is a date */
    double left = (json_number_value(exp) + c->cfg->auth.leeway) * 1000 - wall_ms;
    if (left > 1e12)
        return 0;                   /* beyond any stream's life */
    int64_t at = mono_ms() + (left > 0 ? (int64_t)left : 0);
    return at ? at : 1;
}

/* wait until the hub says the subscriptions are in force */
static int
request_wait_synced(request_ctx_t *c)
{
    int64_t end = mono_ms() + REQUEST_SYNC_TIMEOUT_MS;
    struct pollfd p = { c->s->efd, POLLIN, 0 };

    for (;;) {
        if (stream_state(c->s) == STREAM_SYNCED)
            return 0;
        int64_t left = end - mono_ms();
        if (left <= 0)
            return -1;
        poll(&p, 1, (int)left);
        stream_clear_wake(c->s);
    }
}

/* ?mode=poll, or Accept: application/json without text/event-stream */
static int
request_wants_poll(const http_t *h)
{
    char v[16];
    if (query_get(h->query, "mode", v, sizeof(v)) > 0 && strcmp(v, "poll") == 0)
        return 1;
    return strstr(h->accept, "application/json") && !strstr(h->accept, "text/event-stream");
}

static void
request_poll_json(request_ctx_t *c, const wire_event_t *ev, int n, stream_qev_t **q, int nq, const char *reset,
    uint64_t last)
{
    buf_t b;
    char id[WIRE_ID_TEXT_LEN];
    int first = 1;

    buf_init(&b, 0);
    buf_puts(&b, "{\"events\": [");
    for (int i = 0; i < n + nq; i++) {
        const char *evn = i < n ? ev[i].event : q[i - n]->event;
        size_t evl = i < n ? ev[i].event_len : q[i - n]->event_len;
        const char *d = i < n ? ev[i].data : q[i - n]->data;
        size_t dl = i < n ? ev[i].data_len : q[i - n]->data_len;
        char kind = i < n ? ev[i].kind : q[i - n]->kind;
        wire_fmt_id(id, i < n ? ev[i].id : q[i - n]->id);
        buf_puts(&b, first ? "{\"id\": \"" : ", {\"id\": \"");
        first = 0;
        buf_puts(&b, id);
        buf_puts(&b, "\", \"event\": ");
        if (evl)
            sse_json_quote(&b, evn, evl);
        else
            buf_puts(&b, "null");
        buf_puts(&b, ", \"data\": ");
        if (kind == ZSSE_KIND_STRING)
            sse_json_quote(&b, d, dl);
        else
            buf_append(&b, d, dl);
        buf_putc(&b, '}');
    }
    wire_fmt_id(id, last);
    buf_puts(&b, "], \"last_event_id\": \"");
    buf_puts(&b, id);
    buf_putc(&b, '"');
    if (reset) {
        buf_puts(&b, ", \"reset\": ");
        sse_json_quote(&b, reset, strlen(reset));
    }
    buf_puts(&b, "}\n");
    FCGX_PutS("Status: 200 OK\r\n", c->h.req->out);
    http_cors(&c->h, c->r, c->h.req->out);
    http_printf(c->h.req->out, "Content-Type: application/json\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n\r\n", b.len);
    FCGX_PutStr(b.data, (int)b.len, c->h.req->out);
    buf_free(&b);
}

/* ?wait=N (s): how long a poll waits for an event; bare "wait" or a
 * value too long to read: the most */
static int
request_poll_wait_param(const http_t *h)
{
    char w[8] = "";
    int wait = 0;

    if (query_get(h->query, "wait", w, sizeof(w)) > 0 || request_query_has(h->query, "wait")) {
        wait = w[0] ? atoi(w) : REQUEST_POLL_WAIT_MAX;
        if (wait < 0)
            wait = 0;
        if (wait > REQUEST_POLL_WAIT_MAX)
            wait = REQUEST_POLL_WAIT_MAX;
    }
    return wait;
}

/* a poll without Last-Event-ID: no events, the head id to go on from */
static void
request_poll_head(request_ctx_t *c)
{
    control_reply_t rep;
    char head_s[WIRE_ID_TEXT_LEN];
    uint64_t head = 0;

    if (replay_ask(&c->rp, CTL_HEAD, 0, "", &rep) < 0) {
        request_unavailable(c, "head");
        return;
    }
    control_reply_str(&rep, 1, head_s, sizeof(head_s));
    wire_parse_id(head_s, strlen(head_s), &head);
    control_reply_free(&rep);
    request_poll_json(c, NULL, 0, NULL, 0, NULL, head);
}

/* Nothing to replay: wait up to WAIT s (and not past the token's exp) for
 * live events above *LAST from the hub's queue, into Q (at most
 * REQUEST_POLL_QUEUED_MAX); their count, *LAST the highest.  Ends early when the
 * client leaves. */
static int
request_poll_wait_live(request_ctx_t *c, int wait, uint64_t *last, stream_qev_t *q[REQUEST_POLL_QUEUED_MAX])
{
    int64_t end = mono_ms() + wait * 1000, td = request_token_deadline(c);
    int nq = 0;

    if (td && td < end)
        end = td;                   /* nothing after the token's exp */
    /* clear the wake-up, then take what is queued; only then sleep (the
     * hub wakes us only for an empty queue) */
    for (;;) {
        stream_clear_wake(c->s);
        stream_qev_t *e;
        while (nq < REQUEST_POLL_QUEUED_MAX && (e = stream_pop(c->s))) {
            if (e->id > *last) {
                q[nq++] = e;
                *last = e->id;
            } else {
                stream_qev_unref(e);
            }
        }
        int64_t left = end - mono_ms();
        if (nq || left <= 0)
            break;
        struct pollfd p[2] = { { c->s->efd, POLLIN, 0 },
                               { c->h.req->ipcFd, POLLIN | POLLRDHUP, 0 } };
        poll(p, 2, (int)left);
        if ((p[1].revents & (POLLIN | POLLRDHUP | POLLHUP)) && http_gone(c->h.req->ipcFd))
            break;
    }
    return nq;
}

/* answer REP (the broker's replay after LEID): a reset, the events
 * replayed, or -- none, and REGISTERED -- the live ones awaited */
static void
request_poll_answer(request_ctx_t *c, control_reply_t *rep, uint64_t leid, int wait, int registered)
{
    char head_s[WIRE_ID_TEXT_LEN];
    uint64_t head = 0;
    int n = (int)rep->rep.nevents;
    wire_event_t *ev = calloc((size_t)(n > 0 ? n : 1), sizeof(*ev));
    stream_qev_t *q[REQUEST_POLL_QUEUED_MAX];
    int nq = 0;

    if (control_reply_is(rep, 0, "reset")) {
        char why[64];
        control_reply_str(rep, 1, why, sizeof(why));
        control_reply_str(rep, 2, head_s, sizeof(head_s));
        wire_parse_id(head_s, strlen(head_s), &head);
        request_poll_json(c, NULL, 0, NULL, 0, why, head);
    } else if (!ev || control_reply_events(rep, 2, ev) != (n > 0 ? n : 0)) {
        http_error(&c->h, c->r, 500, "server_error", "bad reply from the broker", NULL);
    } else {
        uint64_t last = leid;
        replay_order(ev, n);
        for (int i = 0; i < n; i++)
            if (ev[i].id > last)
                last = ev[i].id;
        if (n == 0 && registered)
            nq = request_poll_wait_live(c, wait, &last, q);
        request_poll_json(c, ev, n, q, nq, NULL, last);
    }
    for (int i = 0; i < nq; i++)
        stream_qev_unref(q[i]);
    free(ev);
}

/* ?mode=poll: the events after LEID as one JSON document, waiting up to
 * ?wait=N s for the first when there are none */
static void
request_poll(request_ctx_t *c, int have_leid, uint64_t leid)
{
    int wait = request_poll_wait_param(&c->h);
    control_reply_t rep;

    if (!have_leid) {
        request_poll_head(c);
        return;
    }
    /* with wait: subscribe first, so nothing falls between replay and wait */
    int registered = 0;
    if (wait && hub_register(c->s) == 0) {
        registered = 1;
        if (request_wait_synced(c) < 0) {
            hub_unregister(c->s);
            request_unavailable(c, "subscribe");
            return;
        }
    }
    if (replay_ask(&c->rp, CTL_REPLAY, leid, "", &rep) < 0) {
        if (registered)
            hub_unregister(c->s);
        request_unavailable(c, "replay");
        return;
    }
    request_poll_answer(c, &rep, leid, wait, registered);
    control_reply_free(&rep);
    if (registered)
        hub_unregister(c->s);
}

/* the broker's stats keys (zsse stats, wire.h) as Prometheus metrics */
static const struct {
    const char *key, *name, *type, *help;
} request_metrics[] = {
    { "uptime_s", "zsse_uptime_seconds", "gauge", "Seconds since the broker started" },
    { "channels", "zsse_channels", "gauge", "Channels with buffered events or state" },
    { "published", "zsse_events_published_total", "counter", "Events accepted" },
    { "rejected", "zsse_events_rejected_total", "counter", "Messages rejected" },
    { "replays", "zsse_replays_total", "counter", "Replay requests answered" },
    { "replayed", "zsse_events_replayed_total", "counter", "Events sent in replays" },
    { "resets", "zsse_resets_total", "counter", "Replays that sent the reset event" },
    { "events_buffered", "zsse_buffer_events", "gauge", "Events held in replay buffers" },
    { "state_keys", "zsse_state_keys", "gauge", "State entries held" },
    { "leases", "zsse_streams_open", "gauge", "Open streams (all routes)" },
    { "memory", "zsse_memory_bytes", "gauge", "Bytes counted against broker.max_memory" },
    { "max_memory", "zsse_memory_max_bytes", "gauge", "broker.max_memory" },
    { "evicted", "zsse_events_evicted_total", "counter",
      "Buffered events evicted for broker.max_memory" },
    { "control_refused", "zsse_control_refused_total", "counter",
      "Malformed control requests refused" },
    { "publish_batches", "zsse_publish_batches_total", "counter",
      "PUSH frames that were batches of messages" },
    { "leases_refused", "zsse_leases_refused_total", "counter", "Lease requests refused" },
    { "leases_foreign", "zsse_leases_foreign_total", "counter",
      "Renew or release of another connection's lease (ignored)" },
    { "publish_latency_us", "zsse_publish_latency_microseconds", "gauge",
      "Mean publish-to-PUB latency over the last second" },
    { "auth_refused", "zsse_auth_refused_total", "counter",
      "Peers the broker refused (CURVE: unknown key or failed handshake)" },
};

/* the broker's stats as a JSON object (the caller decrefs), or NULL when
 * the request has been answered (503 the broker away, 500 bad stats) */
static json_t *
request_stats_fetch(request_ctx_t *c)
{
    control_reply_t rep;
    if (control_call(CTL_STATS, NULL, 0, REQUEST_CONTROL_TIMEOUT_MS, &rep) < 0 || !control_reply_is(&rep, 0, "ok")) {
        request_unavailable(c, "stats");
        return NULL;
    }
    char *txt = strndup(rep.rep.arg[0].p, rep.rep.arg[0].len);
    json_t *s = txt ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    control_reply_free(&rep);
    if (!s)
        http_error(&c->h, c->r, 500, "server_error", "bad stats from the broker", NULL);
    return s;
}

/* STATS (request_stats_fetch) appended to B in Prometheus's text format
 * (version 0.0.4): request_metrics, then the by-reason and by-route ones */
static void
request_stats_text(json_t *stats, buf_t *b)
{
    for (size_t i = 0; i < sizeof(request_metrics) / sizeof(request_metrics[0]); i++) {
        json_t *v = json_object_get(stats, request_metrics[i].key);
        if (!json_is_number(v))
            continue;
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.0f\n", request_metrics[i].name,
            request_metrics[i].help, request_metrics[i].name, request_metrics[i].type,
            request_metrics[i].name, json_number_value(v));
    }
    json_t *reasons = json_object_get(stats, "rejected_reasons"), *v;
    const char *k;
    buf_puts(b, "# HELP zsse_events_rejected_by_reason_total Messages rejected, by reason\n"
        "# TYPE zsse_events_rejected_by_reason_total counter\n");
    json_object_foreach(reasons, k, v)
        buf_printf(b, "zsse_events_rejected_by_reason_total{reason=\"%s\"} %.0f\n", k,
            json_number_value(v));
    json_t *routes = json_object_get(stats, "streams_by_route");
    buf_puts(b, "# HELP zsse_route_streams_open Open streams, by route\n"
        "# TYPE zsse_route_streams_open gauge\n");
    json_object_foreach(routes, k, v)
        buf_printf(b, "zsse_route_streams_open{route=\"%s\"} %.0f\n", k, json_number_value(v));
}

/* a stats route: the broker's stats as Prometheus metrics */
static void
request_stats(request_ctx_t *c)
{
    json_t *s = request_stats_fetch(c);
    if (!s)
        return;
    buf_t b;
    buf_init(&b, 0);
    request_stats_text(s, &b);
    json_decref(s);
    http_printf(c->h.req->out, "Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
        "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n", b.len);
    FCGX_PutStr(b.data, (int)b.len, c->h.req->out);
    buf_free(&b);
}

/* the query string has parameter NAME (with any value, of any length) */
static int
request_query_has(const char *query, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = query; *p; ) {
        if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || p[n] == '\0'))
            return 1;
        const char *amp = strchr(p, '&');
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}

/*
 * The request's Last-Event-ID: the header, else the lastEventId or
 * last_event_id query parameter.  1 with *LEID set when there is one;
 * an id of any length or spelling that is not a valid id (too long, not
 * digits, a bad escape) is an unknown one, WIRE_ID_MAX: the broker
 * answers with the reset event, and the stream opens (SPEC 7: any
 * Last-Event-ID the web server passes gives a 200 stream).
 */
static int
request_last_event_id(const http_t *h, uint64_t *leid)
{
    char qid[32];
    const char *l = h->last_event_id;
    int n;

    if (!*l) {
        static const char *const names[] = { "lastEventId", "last_event_id",
                                             "lastEventID" };     /* Mercure */
        for (size_t i = 0; i < 3 && !*l; i++) {
            if ((n = query_get(h->query, names[i], qid, sizeof(qid))) > 0)
                l = qid;
            else if (n < 0 && request_query_has(h->query, names[i]))
                l = "-";            /* present, but too long or malformed */
        }
    }
    if (!*l)
        return 0;
    if (wire_parse_id(l, strlen(l), leid) < 0)
        *leid = WIRE_ID_MAX;
    return 1;
}

/* Read (and ignore) the request body, so the FastCGI socket is quiet and a
 * later readable event means the client has gone.  Only after the request
 * is authenticated, and at most REQUEST_BODY_MAX bytes, until the request's
 * deadline (the accept thread's watchdog cuts the read then: accept.h).
 * 0 when the body has ended; -1 when it was too long or too slow. */
static int
request_read_body(FCGX_Request *req)
{
    char tmp[4096];
    size_t total = 0;
    int n;

    while (total <= REQUEST_BODY_MAX && (n = FCGX_GetStr(tmp, sizeof(tmp), req->in)) > 0)
        total += (size_t)n;
    return FCGX_HasSeenEOF(req->in) && total <= REQUEST_BODY_MAX ? 0 : -1;
}

/* the body is read or refused: a 400 when it did not end in time */
static int
request_body_done(request_ctx_t *c)
{
    int r = request_read_body(c->h.req);
    accept_unwatch();               /* from here on the request may wait */
    if (r < 0)
        http_error(&c->h, c->r, 400, "bad_request", "request body too long or too slow", NULL);
    return r;
}

/* 404 naming the path zsse-fcgi saw (REQUEST_URI): a web-server location
 * that strips or rewrites it shows up here */
static void
request_not_found(request_ctx_t *c)
{
    char msg[2100];

    snprintf(msg, sizeof(msg), "no route for %.*s", (int)c->h.path_len, c->h.path);
    http_error(&c->h, NULL, 404, "not_found", msg, NULL);
}

/* the route for C's path, its placeholders into C->params (for request_admit());
 * NULL: none */
static const route_t *
request_find_route(request_ctx_t *c)
{
    return route_find(c->cfg->routes, c->cfg->nroutes, c->h.path, c->h.path_len, &c->params);
}

/* the user's lease (route max_per_user) for C's stream: 0, or -1 when
 * the request has been answered (403 no subject, 429 over the limit, 503
 * the broker away) */
static int
request_lease(request_ctx_t *c)
{
    char scratch[32], err[160];
    const char *sub;

    if (request_lease_subject(c, scratch, sizeof(scratch), &sub, err, sizeof(err)) < 0) {
        http_error(&c->h, c->r, 403, "forbidden", err, NULL);
        return -1;
    }
    int lr = request_take_lease(c, sub);
    if (lr < 0) {
        request_unavailable_why(c, "lease", lr == -2);
        return -1;
    }
    if (lr > 0) {
        http_error(&c->h, c->r, 429, "too_many_streams",
            "max_per_user streams already open for this user", "Retry-After: 5\r\n");
        return -1;
    }
    return 0;
}

/* what request_send_opening did */
typedef enum {
    REQUEST_OPENED,             /* sent: the stream may go to the hub */
    REQUEST_NO_REPLAY,          /* the broker did not answer: nothing sent */
    REQUEST_GONE,               /* the client has gone, or the replay broke off */
} request_opening_t;

/* the stream's first bytes, written by its thread: headers, retry, hello,
 * then the replay (replay.h), flushed with stall_timeout bounding each
 * write */
static request_opening_t
request_send_opening(request_ctx_t *c, int have_leid, uint64_t leid)
{
    const route_t *r = c->r;

    if (r->retry >= 0)
        sse_retry(&c->out, r->retry);
    if (r->hello_event)
        replay_frame(&c->rp, 0, r->hello_event, strlen(r->hello_event), r->hello_data,
            r->hello_len, r->hello_kind);
    if (replay_join(&c->rp, have_leid, leid, c->earliest) < 0)
        return REQUEST_NO_REPLAY;
    /* a client that stops reading blocks these writes: stall_timeout
     * bounds them (the hub never blocks) */
    struct timeval tv = { r->stall_timeout, 0 };
    setsockopt(c->h.req->ipcFd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* a resume with nothing to replay (and no retry, no hello) has no body
     * yet: nginx holds the headers until body bytes come, so the client
     * would not see its 200 until the next event or heartbeat -- one
     * comment lets them through at once */
    if (c->out.len == 0)
        sse_comment(&c->out, r->heartbeat_comment);
    request_flush_out(c);
    if (!c->gone && FCGX_FFlush(c->h.req->out) < 0)
        c->gone = 1;
    return c->gone || c->rp.failed ? REQUEST_GONE : REQUEST_OPENED;
}

/* C's stream, its opening sent, to the hub: its route, connection, last
 * id, token deadline and claims; 0, or -1 when the hub refused it */
static int
request_hand_over(request_ctx_t *c)
{
    stream_t *s = c->s;

    s->route = c->r;
    snprintf(s->path, sizeof(s->path), "%.*s", (int)sizeof(s->path) - 1, c->h.path); /* log lines */
    writer_init(&s->out, c->h.req->ipcFd, (unsigned)c->h.req->requestId);
    s->last = c->rp.last;
    s->expires = request_token_deadline(c);
    s->claims = json_incref(c->claims);
    return hub_adopt(s) < 0 ? -1 : 0;
}

/*
 * Take the lease, subscribe, write the headers and the replay, then hand
 * the stream to the hub.  0 once the hub has it; otherwise the response
 * has been answered (or the client has gone) and C->s is the caller's.
 */
static int
request_open_stream(request_ctx_t *c, int have_leid, uint64_t leid)
{
    if (request_lease(c) < 0)
        return -1;
    if (hub_register(c->s) < 0 || request_wait_synced(c) < 0) {
        hub_unregister(c->s);
        request_release_lease(c);
        request_unavailable(c, "subscribe");
        return -1;
    }
    request_opening_t o = request_send_opening(c, have_leid, leid);
    if (o != REQUEST_OPENED || request_hand_over(c) < 0) {
        hub_unregister(c->s);
        request_release_lease(c);
        if (o == REQUEST_NO_REPLAY)
            request_unavailable(c, "replay");
        return -1;
    }
    return 0;
}

/* what request_dispatch did with a request */
typedef enum {
    REQUEST_ANSWERED,           /* answered: an error, a preflight, a publish, stats */
    REQUEST_SUBSCRIBE,          /* a GET on an events or Mercure route: c->r set */
} request_dispatch_t;

/* parse C's request, find its route (c->r) and answer what is not a
 * subscription: a bad head or no route, CORS preflights, publishing,
 * methods other than GET, stats */
static request_dispatch_t
request_dispatch(request_ctx_t *c, FCGX_Request *req, const auth_t *auth)
{
    if (http_parse(&c->h, req) < 0) {
        http_error(&c->h, NULL, 400, "bad_request", "request line or headers too long", NULL);
        return REQUEST_ANSWERED;
    }
    if (!(c->r = request_find_route(c))) {
        request_not_found(c);
        return REQUEST_ANSWERED;
    }
    if (strcmp(c->h.method, "OPTIONS") == 0 && c->r->ncors) {
        http_preflight(&c->h, c->r);
        return REQUEST_ANSWERED;
    }
    if (c->r->type == ROUTE_PUBLISH) {          /* POSTed messages: publish.h */
        publish_serve(&c->h, c->r, c->cfg, auth);
        return REQUEST_ANSWERED;
    }
    if (c->r->type == ROUTE_MERCURE && strcmp(c->h.method, "POST") == 0) {
        mercure_publish(&c->h, c->r, c->cfg, auth);    /* mercure.h */
        return REQUEST_ANSWERED;
    }
    if (strcmp(c->h.method, "GET") != 0) {
        if (c->r->type == ROUTE_MERCURE)      /* subscribe and publish */
            http_error(&c->h, c->r, 405, "method_not_allowed", "use GET or POST",
                c->r->ncors ? "Allow: GET, POST, OPTIONS\r\n" : "Allow: GET, POST\r\n");
        else
            http_error(&c->h, c->r, 405, "method_not_allowed", "use GET",
                c->r->ncors ? "Allow: GET, OPTIONS\r\n" : "Allow: GET\r\n");
        return REQUEST_ANSWERED;
    }
    if (c->r->type == ROUTE_STATS) {
        if (request_body_done(c) == 0)
            request_stats(c);
        return REQUEST_ANSWERED;
    }
    return REQUEST_SUBSCRIBE;
}

/* a subscription on route c->r: its stream made (c->s) and admitted
 * (token, channels), then answered as a poll, or its replay sent and the
 * stream handed to the hub -- which then owns it and the connection
 * (c->s NULL, req's connection let go); what is left in C the caller
 * frees */
static void
request_subscribe(request_ctx_t *c, FCGX_Request *req, const auth_t *auth)
{
    uint64_t leid = 0;
    int have_leid;

    if (!(c->s = stream_new())) {
        http_error(&c->h, c->r, 500, "server_error", "out of resources", NULL);
        return;
    }
    buf_init(&c->out, REQUEST_OUT_MAX);
    c->rp = (replay_t){ .r = c->r, .channels = c->s->channels, .out = &c->out,
                        .flush = request_flush_out, .arg = c };
    /* the body (a GET has none) is read only once the token is good */
    if ((c->r->type == ROUTE_MERCURE ? mercure_admit(&c->h, c->r, auth, c->s, &c->earliest)
                                     : request_admit(c, auth)) != 0 || request_body_done(c) < 0)
        return;
    c->rp.nchannels = c->s->nchannels;
    c->rp.filter = c->s->filter;

    have_leid = request_last_event_id(&c->h, &leid);
    if (c->earliest) {
        have_leid = 1;          /* after 0, as a continuation: all buffered */
        leid = 0;
    }
    if (c->r->type != ROUTE_MERCURE && request_wants_poll(&c->h)) {
        request_poll(c, have_leid, leid);
        return;
    }
    if (request_open_stream(c, have_leid, leid) == 0) {
        /* the hub has the stream now; libfcgi lets go of the connection
         * without ending the request (FCGX_Finish_r finds nothing to do) */
        c->s = NULL;
        FCGX_Free(req, 0);
        req->ipcFd = -1;
        req->keepConnection = 1;
    }
}

void
request_serve(FCGX_Request *req, const config_t *cfg, const auth_t *auth)
{
    /* on the heap: the path and parameter buffers are large */
    request_ctx_t *c = calloc(1, sizeof(*c));

    if (!c) {
        FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", req->out);
        return;
    }
    c->cfg = cfg;
    if (request_dispatch(c, req, auth) == REQUEST_SUBSCRIBE)
        request_subscribe(c, req, auth);
    json_decref(c->claims);
    buf_free(&c->out);
    stream_free(c->s);
    free(c);
}
