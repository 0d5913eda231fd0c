/*
 * mercure.c -- the Mercure hub route: selectors, private updates, the
 * form publish (see mercure.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "channel.h"
#include "jsontext.h"
#include "mercure.h"
#include "message.h"
#include "publish.h"
#include "sse.h"
#include "topic.h"

struct mercure_filter {
    char  *sel[MERCURE_SELECTORS_MAX];
    size_t nsel;
    char **claim;                   /* mercure.subscribe selectors */
    size_t nclaim;
};

/* bytes of a form beyond its updates' data (topics, id, type ...) */
#define MERCURE_FORM_SLACK 16384

/* --- the filter --------------------------------------------------------------- */

static bool
mercure_any_match(char *const *sels, size_t n, const char *topic)
{
    for (size_t i = 0; i < n; i++)
        if (topic_match(sels[i], topic))
            return true;
    return false;
}

bool
mercure_accept(const mercure_filter_t *f, const wire_event_t *ev)
{
    sse_mercure_t m;
    bool seen = false, allowed = false;

    if (ev->kind != ZSSE_KIND_STRING || sse_mercure_parse(ev->data, ev->data_len, &m) < 0)
        /* a plain zsse event published on a topic's channel: public */
        return !(ev->channel_len == strlen(TOPIC_ALL) &&
                 memcmp(ev->channel, TOPIC_ALL, ev->channel_len) == 0);
    const char *p = m.topics, *end = m.topics + m.topics_len;
    while (p && p < end && !(seen && (allowed || !m.private_))) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char topic[ZSSE_CHANNEL_MAX + 1];
        if (!nl)
            break;
        /* "topic " + the encoded topic: decode it */
        int n = url_decode(p + 6, (size_t)(nl - p - 6), topic, sizeof(topic), false);
        p = nl + 1;
        if (n <= 0)
            continue;
        seen = seen || mercure_any_match(f->sel, f->nsel, topic);
        allowed = allowed || (m.private_ && mercure_any_match(f->claim, f->nclaim, topic));
    }
    return seen && (allowed || !m.private_);
}

void
mercure_filter_free(mercure_filter_t **fp)
{
    mercure_filter_t *f = *fp;

    if (!f)
        return;
    for (size_t i = 0; i < f->nsel; i++)
        free(f->sel[i]);
    for (size_t i = 0; i < f->nclaim; i++)
        free(f->claim[i]);
    free(f->claim);
    free(f);
    *fp = NULL;
}

/* --- tokens --------------------------------------------------------------------- */

/* the token: Authorization: Bearer, else (GET only) the cookie or the
 * "authorization" query parameter.  Length, 0 for none, -1 too long. */
static int
mercure_find_token(http_t *h, bool get, char *tok, size_t toklen)
{
    const char *a = http_bearer(h);
    int n;

    if (a) {
        if (strlen(a) >= toklen)
            return -1;
        strcpy(tok, a);
        return (int)strlen(tok);
    }
    if (!get)
        return 0;
    if ((n = http_cookie(h, MERCURE_COOKIE, tok, toklen)) >= 0 ||
        (n = query_get(h->query, "authorization", tok, toklen)) >= 0)
        return n;
    return 0;
}

/* claims.mercure.KEY: an array of selectors, or NULL */
static json_t *
mercure_claim(json_t *claims, const char *key)
{
    json_t *v = json_object_get(json_object_get(claims, "mercure"), key);
    return json_is_array(v) ? v : NULL;
}

/* the token's claims (NULL: anonymous); 0 or the status answered */
static int
mercure_authenticate(http_t *h, const route_t *r, const auth_t *auth, bool get, json_t **claims)
{
    char tok[AUTH_TOKEN_MAX + 2];

    *claims = NULL;
    if (r->auth == AUTH_NONE)
        return 0;
    int n = mercure_find_token(h, get, tok, sizeof(tok));
    if (n < 0) {
        http_error(h, r, 401, "invalid_token", "token too long", HTTP_WWW_AUTH_INVALID);
        return 401;
    }
    if (n == 0) {
        if (r->auth == AUTH_REQUIRED || !get) {
            http_error(h, r, 401, "invalid_token", "token missing", HTTP_WWW_AUTH_NONE);
            return 401;
        }
        return 0;
    }
    return publish_verify(h, r, auth, tok, (size_t)n, claims);
}

/* --- subscribe -------------------------------------------------------------------- */

static int
mercure_oom(http_t *h, const route_t *r)
{
    http_error(h, r, 500, "server_error", "out of memory", NULL);
    return 500;
}

/* every topic= of the query string into F's selectors, *PATTERN set when
 * one is a pattern; 0 or the status answered (400 bad, too many or none;
 * 500 out of memory) */
static int
mercure_read_selectors(http_t *h, const route_t *r, mercure_filter_t *f, bool *pattern)
{
    const char *q = h->query;
    char sel[TOPIC_SELECTOR_MAX + 1];

    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 6 && memcmp(q, "topic=", 6) == 0) {
            int d = url_decode(q + 6, n - 6, sel, sizeof(sel), true);
            if (d <= 0 || !topic_selector_valid(sel, (size_t)d)) {
                http_error(h, r, 400, "bad_request", "bad topic selector", NULL);
                return 400;
            }
            if (f->nsel == MERCURE_SELECTORS_MAX) {
                http_error(h, r, 400, "bad_request", "too many topic selectors", NULL);
                return 400;
            }
            if (!(f->sel[f->nsel++] = strdup(sel)))
                return mercure_oom(h, r);
            *pattern = *pattern || topic_is_pattern(sel);
        }
        q = amp ? amp + 1 : NULL;
    }
    if (f->nsel == 0) {
        http_error(h, r, 400, "bad_request", "missing topic parameter", NULL);
        return 400;
    }
    return 0;
}

/* 1 when lastEventID=earliest (query) or Last-Event-ID: earliest asks for
 * everything buffered, else 0 */
static int
mercure_wants_earliest(const http_t *h)
{
    char v[16];

    if (query_get(h->query, "lastEventID", v, sizeof(v)) == 8 && strcmp(v, "earliest") == 0)
        return 1;
    return strcmp(h->last_event_id, "earliest") == 0;
}

/* the mercure.subscribe selectors of CLAIMS (the first MERCURE_CLAIMS_MAX)
 * into F: which private updates it may see; 0 or -1 out of memory */
static int
mercure_read_claims(mercure_filter_t *f, json_t *claims)
{
    json_t *sub = mercure_claim(claims, "subscribe"), *v;
    size_t i;

    if (!sub)
        return 0;
    size_t n = json_array_size(sub) < MERCURE_CLAIMS_MAX ? json_array_size(sub)
                                                          : MERCURE_CLAIMS_MAX;
    if (n && !(f->claim = calloc(n, sizeof(char *))))
        return -1;
    json_array_foreach(sub, i, v) {
        if (i >= n)
            break;
        if (json_is_string(v) && !(f->claim[f->nclaim++] = strdup(json_string_value(v))))
            return -1;
    }
    return 0;
}

/* S's channels: the topics' own, or every update's when a selector is a
 * pattern; 0 or the status answered (400 topic, 500 out of memory) */
static int
mercure_subscribe_channels(http_t *h, const route_t *r, stream_t *s, const mercure_filter_t *f,
    bool pattern)
{
    buf_t ch;

    buf_init(&ch, 0);
    if (pattern) {
        s->channels[s->nchannels++] = strdup(TOPIC_ALL);
    } else {
        for (size_t k = 0; k < f->nsel; k++) {
            if (topic_channel(&ch, f->sel[k], strlen(f->sel[k])) < 0) {
                buf_free(&ch);
                http_error(h, r, 400, "bad_request", "topic too long or not UTF-8", NULL);
                return 400;
            }
            int dup = 0;
            for (size_t j = 0; j < s->nchannels; j++)
                dup |= s->channels[j] && strcmp(s->channels[j], ch.data) == 0;
            if (!dup)
                s->channels[s->nchannels++] = strdup(ch.data);
        }
    }
    buf_free(&ch);
    for (size_t k = 0; k < s->nchannels; k++)
        if (!s->channels[k])
            return mercure_oom(h, r);
    return 0;
}

int
mercure_admit(http_t *h, const route_t *r, const auth_t *auth, stream_t *s, int *earliest)
{
    json_t *claims = NULL;
    mercure_filter_t *f;
    bool pattern = false;
    int st;

    *earliest = 0;
    if ((st = mercure_authenticate(h, r, auth, true, &claims)) != 0)
        return st;
    if (!(f = calloc(1, sizeof(*f)))) {
        json_decref(claims);
        return mercure_oom(h, r);
    }
    s->filter = f;              /* freed with the stream */
    if ((st = mercure_read_selectors(h, r, f, &pattern)) != 0) {
        json_decref(claims);
        return st;
    }
    *earliest = mercure_wants_earliest(h);
    st = mercure_read_claims(f, claims);
    json_decref(claims);
    if (st < 0)
        return mercure_oom(h, r);
    return mercure_subscribe_channels(h, r, s, f, pattern);
}

/* --- publish ---------------------------------------------------------------------- */

typedef struct {
    char  *topic[MERCURE_TOPICS_MAX];
    size_t ntopics;
    char  *data, *id, *type, *retry;
    bool   priv;
} mercure_form_t;

static void
mercure_form_free(mercure_form_t *u)
{
    for (size_t i = 0; i < u->ntopics; i++)
        free(u->topic[i]);
    free(u->data);
    free(u->id);
    free(u->type);
    free(u->retry);
}

/* parse the form BODY into U; NULL, or what is wrong */
static const char *
mercure_form_parse(char *body, size_t len, mercure_form_t *u)
{
    char *p = body, *end = body + len;

    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : p + n;
        size_t vlen = (size_t)(p + n - v);
        char *dec = malloc(vlen + 1), **slot = NULL;
        int d = dec ? url_decode(v, vlen, dec, vlen + 1, true) : -1;
        if (d < 0 || strlen(dec) != (size_t)d) {          /* no NUL inside */
            free(dec);
            return "bad form encoding";
        }
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
        if (KEY("topic")) {
            if (u->ntopics == MERCURE_TOPICS_MAX) {
                free(dec);
                return "too many topics";
            }
            slot = &u->topic[u->ntopics++];
        } else if (KEY("data")) {
            slot = &u->data;
        } else if (KEY("id")) {
            slot = &u->id;
        } else if (KEY("type")) {
            slot = &u->type;
        } else if (KEY("retry")) {
            slot = &u->retry;
        } else if (KEY("private")) {
            u->priv = true;
        }
#undef KEY
        if (slot) {
            free(*slot);
            *slot = dec;
        } else {
            free(dec);
        }
        p = amp ? amp + 1 : end;
    }
    if (u->ntopics == 0)
        return "missing topic";
    if (u->id && (!*u->id || u->id[0] == '#' || strlen(u->id) > MERCURE_ID_MAX ||
        strpbrk(u->id, "\r\n") || !channel_utf8_valid(u->id, strlen(u->id))))
        return "bad id";
    if (u->type && (!*u->type || strlen(u->type) > ZSSE_EVENT_MAX || strpbrk(u->type, "\r\n")))
        return "bad type";
    if (u->retry && (!*u->retry || strlen(u->retry) > 9 ||
        strspn(u->retry, "0123456789") != strlen(u->retry)))
        return "bad retry";
    return NULL;
}

/* the SPEC 4 message for update U; NULL with *why set */
static char *
mercure_build_message(const mercure_form_t *u, const char **why)
{
    buf_t hdr, ch;
    json_t *m = json_object(), *chans = json_array();
    char *text = NULL;

    buf_init(&hdr, 0);
    buf_init(&ch, 0);
    buf_puts(&hdr, SSE_MERCURE_MAGIC);
    if (u->id)
        buf_printf(&hdr, "id %s\n", u->id);
    if (u->retry)
        buf_printf(&hdr, "retry %s\n", u->retry);
    if (u->priv)
        buf_puts(&hdr, "private\n");
    *why = NULL;
    for (size_t i = 0; i < u->ntopics && !*why; i++) {
        if (topic_channel(&ch, u->topic[i], strlen(u->topic[i])) < 0) {
            *why = "topic too long or not UTF-8";
            break;
        }
        buf_printf(&hdr, "topic %s\n", ch.data + strlen(TOPIC_PREFIX));
        bool dup = false;
        for (size_t k = 0; k < json_array_size(chans); k++)
            dup |= strcmp(json_string_value(json_array_get(chans, k)), ch.data) == 0;
        if (!dup)
            json_array_append_new(chans, json_string(ch.data));
    }
    json_array_append_new(chans, json_string(TOPIC_ALL));
    buf_putc(&hdr, '\n');
    if (u->data)
        buf_puts(&hdr, u->data);
    json_t *d = json_stringn(hdr.data, hdr.len);
    if (!*why && !d)
        *why = "data not UTF-8";
    if (!*why) {
        json_object_set_new(m, "channels", chans);
        chans = NULL;
        json_object_set_new(m, "data", d);
        d = NULL;
        if (u->type)
            json_object_set_new(m, "event", json_string(u->type));
        if (!(text = json_dumps(m, JSON_COMPACT)))
            *why = "out of memory";
    }
    json_decref(d);
    json_decref(chans);
    json_decref(m);
    buf_free(&hdr);
    buf_free(&ch);
    return text;
}

void
mercure_publish(http_t *h, const route_t *r, const config_t *cfg, const auth_t *auth)
{
    json_t *claims = NULL;
    char *body = NULL, *text = NULL;
    size_t len;
    mercure_form_t u = { 0 };
    const char *why;

    if (mercure_authenticate(h, r, auth, false, &claims) != 0)
        return;
    /* percent-encoding triples a byte at most */
    if (publish_read_body(h, r, cfg->broker.max_message * 3 + MERCURE_FORM_SLACK, &body, &len) != 0)
        goto out;
    if ((why = mercure_form_parse(body, len, &u))) {
        http_error(h, r, 400, "bad_request", why, NULL);
        goto out;
    }
    if (r->auth != AUTH_NONE) {
        json_t *pub = mercure_claim(claims, "publish");
        for (size_t i = 0; i < u.ntopics; i++) {
            bool ok = false;
            size_t k;
            json_t *v;
            json_array_foreach(pub, k, v) {
                if (k >= MERCURE_CLAIMS_MAX)
                    break;
                if (json_is_string(v) && topic_match(json_string_value(v), u.topic[i])) {
                    ok = true;
                    break;
                }
            }
            if (!ok) {
                char err[300];
                snprintf(err, sizeof(err), "topic not allowed by mercure.publish: %.200s",
                    u.topic[i]);
                http_error(h, r, 403, "forbidden", err, NULL);
                goto out;
            }
        }
    }
    if (!(text = mercure_build_message(&u, &why))) {
        http_error(h, r, 400, "bad_request", why, NULL);
        goto out;
    }
    if (strlen(text) > cfg->broker.max_message) {
        http_error(h, r, 413, "too_large", "update larger than max_message", NULL);
        goto out;
    }
    uint64_t id;
    char err[256], idtext[WIRE_ID_TEXT_LEN];
    int rc = publish_send(text, strlen(text), &id, err, sizeof(err));
    if (rc == PUBLISH_UNREACHABLE) {
        http_error(h, r, 503, "unavailable", "broker unreachable", "Retry-After: 5\r\n");
        goto out;
    }
    if (rc == PUBLISH_REJECTED) {
        http_error(h, r, 400, "bad_request", err, NULL);
        goto out;
    }
    wire_fmt_id(idtext, id);
    const char *answer = u.id ? u.id : idtext;
    http_printf(h->req->out, "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Cache-Control: no-store\r\nContent-Length: %zu\r\n", strlen(answer));
    http_cors(h, r, h->req->out);
    FCGX_PutS("\r\n", h->req->out);
    FCGX_PutS(answer, h->req->out);
out:
    mercure_form_free(&u);
    free(text);
    free(body);
    json_decref(claims);
}
