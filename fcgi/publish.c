/*
 * publish.c -- the publish route: POSTed SPEC 4 messages, validated and
 * authorised as a whole, then stored one by one through the broker's
 * acknowledged publish (see publish.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include "buf.h"
#include "channel.h"
#include "clock.h"
#include "control.h"
#include "jsontext.h"
#include "log.h"
#include "message.h"
#include "publish.h"
#include "sse.h"

/* --- shared with mercure.c ---------------------------------------------------- */

static void
publish_set_rcvtimeo(int fd, int64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int
publish_read_body(http_t *h, const route_t *r, size_t max, char **body, size_t *len)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", h->req->envp);
    unsigned long long want = 0;
    char *end;
    buf_t b;

    *body = NULL;
    *len = 0;
    if (cl && *cl) {
        errno = 0;
        want = strtoull(cl, &end, 10);
        if (errno || *end || want > max) {
            http_error(h, r, 413, "too_large", "request body larger than allowed", NULL);
            return 413;
        }
    }
    buf_init(&b, max + 1);
    if (buf_reserve(&b, cl && *cl ? (size_t)want + 1 : 4096) < 0) {
        http_error(h, r, 500, "server_error", "out of memory", NULL);
        return 500;
    }
    /* a client that trickles its body is cut off at the deadline: each
     * read waits at most what is left of it */
    int64_t deadline = mono_ms() + PUBLISH_READ_MS;
    int status = 0;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            status = 400;
            break;
        }
        publish_set_rcvtimeo(h->req->ipcFd, left);
        char tmp[16384];
        int n = FCGX_GetStr(tmp, sizeof(tmp), h->req->in);
        if (n > 0 && (b.len + (size_t)n > max || buf_append(&b, tmp, (size_t)n) < 0)) {
            status = 413;
            break;
        }
        if (n < (int)sizeof(tmp)) {
            if (FCGX_GetError(h->req->in) != 0)
                status = 400;
            break;
        }
    }
    publish_set_rcvtimeo(h->req->ipcFd, 0);
    if (status == 0 && cl && *cl && b.len != want)
        status = 400;
    if (status) {
        buf_free(&b);
        if (status == 413)
            http_error(h, r, 413, "too_large", "request body larger than allowed", NULL);
        else
            http_error(h, r, 400, "bad_request", "request body not received in full", NULL);
        return status;
    }
    if (buf_putc(&b, '\0') < 0) {
        buf_free(&b);
        http_error(h, r, 500, "server_error", "out of memory", NULL);
        return 500;
    }
    *body = b.data;
    *len = b.len - 1;
    return 0;
}

int
publish_verify(http_t *h, const route_t *r, const auth_t *auth, const char *token,
    size_t len, json_t **claims)
{
    char err[256];

    *claims = NULL;
    if (!auth) {
        http_error(h, r, 500, "server_error", "no key configured", NULL);
        return 500;
    }
    if (len > AUTH_TOKEN_MAX) {
        http_error(h, r, 401, "invalid_token", "token too long", HTTP_WWW_AUTH_INVALID);
        return 401;
    }
    if (auth_verify(auth, token, len, wall_s(), claims, err, sizeof(err)) < 0) {
        http_error(h, r, 401, "invalid_token", err, HTTP_WWW_AUTH_INVALID);
        return 401;
    }
    if (r->require) {
        const char *k;
        json_t *want;
        json_object_foreach(r->require, k, want) {
            json_t *got = json_object_get(*claims, k);
            if (!got || !json_equal(got, want)) {
                snprintf(err, sizeof(err), "claim %s required", k);
                http_error(h, r, 403, "forbidden", err, NULL);
                json_decref(*claims);
                *claims = NULL;
                return 403;
            }
        }
    }
    return 0;
}

int
publish_send(const char *msg, size_t len, uint64_t *id, char *err, size_t errlen)
{
    const ctl_arg_t arg = { msg, len };
    control_reply_t rep;
    char idtext[32];

    if (control_call_args(CTL_PUBLISH, &arg, 1, PUBLISH_ACK_MS, &rep) < 0) {
        snprintf(err, errlen, "broker unreachable");
        return PUBLISH_UNREACHABLE;
    }
    int rc = PUBLISH_REJECTED;
    if (control_reply_is(&rep, 0, "ok")) {     /* ok ID (ctl_decode_reply checked it) */
        control_reply_str(&rep, 1, idtext, sizeof(idtext));
        if (wire_parse_id(idtext, strlen(idtext), id) == 0)
            rc = 0;
        else
            snprintf(err, errlen, "bad reply from the broker");
    } else {                            /* error REASON */
        control_reply_str(&rep, 1, err, errlen);
    }
    control_reply_free(&rep);
    return rc;
}

/* --- the route ------------------------------------------------------------------ */

typedef struct {
    const char *text;
    size_t      len;
} publish_span_t;

/* validate and authorise message I (TEXT); 0 or the status answered */
static int
publish_check_one(http_t *h, const route_t *r, const config_t *cfg, json_t *claims, msg_t *m,
    size_t i, bool array, const char *text, size_t len)
{
    char where[48] = "", err[400], ch[ZSSE_CHANNEL_MAX + 1];
    const char *why;

    if (array)
        snprintf(where, sizeof(where), "messages[%zu]: ", i);
    if (msg_parse(m, text, len, cfg->broker.max_message, &why) < 0) {
        int st = strcmp(why, ZSSE_R_TOO_LARGE) == 0 ? 413 : 400;
        snprintf(err, sizeof(err), "%s%s", where, why);
        http_error(h, r, st, st == 413 ? "too_large" : "bad_request", err, NULL);
        return st;
    }
    if (r->auth == AUTH_NONE)
        return 0;
    for (size_t k = 0; k < m->ev.nchannels; k++) {
        memcpy(ch, m->ev.channels[k], m->ev.channel_lens[k]);
        ch[m->ev.channel_lens[k]] = '\0';
        if (!claim_allows(claims, "publish", ch)) {
            snprintf(err, sizeof(err), "%schannel not granted for publishing: %s", where, ch);
            http_error(h, r, 403, "forbidden", err, NULL);
            return 403;
        }
    }
    return 0;
}

static void
publish_answer_ids(http_t *h, const route_t *r, int status, const uint64_t *ids, size_t n,
    const char *why)
{
    buf_t b;
    char id[WIRE_ID_TEXT_LEN];

    buf_init(&b, 0);
    if (why) {
        buf_puts(&b, "{\"error\": \"unavailable\", \"message\": ");
        sse_json_quote(&b, why, strlen(why));
        buf_puts(&b, ", ");
    } else {
        buf_putc(&b, '{');
    }
    buf_puts(&b, "\"ids\": [");
    for (size_t i = 0; i < n; i++) {
        wire_fmt_id(id, ids[i]);
        buf_printf(&b, "%s\"%s\"", i ? ", " : "", id);
    }
    buf_puts(&b, "]}\n");
    http_printf(h->req->out, "Status: %d %s\r\n", status, http_reason(status));
    http_cors(h, r, h->req->out);
    if (status == 503)
        FCGX_PutS("Retry-After: 5\r\n", h->req->out);
    http_printf(h->req->out, "Content-Type: application/json\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n\r\n", b.len);
    FCGX_PutStr(b.data, (int)b.len, h->req->out);
    buf_free(&b);
}

/* the Bearer token's claims (NULL: none, where the route allows it);
 * 0 or the status answered (401, 403, 500) */
static int
publish_authenticate(http_t *h, const route_t *r, const auth_t *auth, json_t **claims)
{
    *claims = NULL;
    if (r->auth == AUTH_NONE)
        return 0;
    const char *tok = http_bearer(h);
    size_t tlen = tok ? strlen(tok) : 0;
    if (tok && !*tok)
        tok = NULL;                 /* "Bearer" and no token: none */
    if (!tok && r->auth == AUTH_REQUIRED) {
        http_error(h, r, 401, "invalid_token", "token missing", HTTP_WWW_AUTH_NONE);
        return 401;
    }
    return tok ? publish_verify(h, r, auth, tok, tlen, claims) : 0;
}

/* BODY as one message or an array of them, split into MSGS (*N of them)
 * without re-spelling; *ARRAY: it was an array.  0 or 400 answered. */
static int
publish_split(http_t *h, const route_t *r, char *body, size_t len, publish_span_t *msgs,
    size_t *n, bool *array)
{
    size_t i = 0;

    while (i < len && strchr(" \t\r\n", body[i]))
        i++;
    *array = i < len && body[i] == '[';
    if (!*array) {
        msgs[0] = (publish_span_t){ body, len };
        *n = 1;
        return 0;
    }
    json_t *all = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    size_t pos = 0;
    int rc = 0;
    if (!all || !json_is_array(all)) {
        json_decref(all);
        http_error(h, r, 400, "bad_request", ZSSE_R_INVALID_JSON, NULL);
        return 400;
    }
    if (json_array_size(all) == 0 || json_array_size(all) > PUBLISH_BATCH_MAX) {
        json_decref(all);
        char why[48];
        snprintf(why, sizeof(why), "an array of 1 to %d messages", PUBLISH_BATCH_MAX);
        http_error(h, r, 400, "bad_request", why, NULL);
        return 400;
    }
    json_decref(all);
    *n = 0;
    while (*n < PUBLISH_BATCH_MAX &&
           (rc = jsontext_array_next(body, len, &pos, &msgs[*n].text, &msgs[*n].len)) == 0)
        (*n)++;
    if (rc < 0) {
        http_error(h, r, 400, "bad_request", ZSSE_R_INVALID_JSON, NULL);
        return 400;
    }
    return 0;
}

/* validate and authorise each of the N MSGS before any is published;
 * 0 or the status answered (the first failure's: 400, 403, 413, 500) */
static int
publish_check_all(http_t *h, const route_t *r, const config_t *cfg, json_t *claims,
    const publish_span_t *msgs, size_t n, bool array)
{
    msg_t *m;
    int st = 0;

    if (!(m = malloc(sizeof(*m)))) {
        http_error(h, r, 500, "server_error", "out of memory", NULL);
        return 500;
    }
    for (size_t i = 0; i < n && st == 0; i++) {
        st = publish_check_one(h, r, cfg, claims, m, i, array, msgs[i].text, msgs[i].len);
        msg_clear(m);
    }
    free(m);
    return st;
}

/* publish the N MSGS in order and answer: 200 with every id, 503 with
 * the ids stored before the broker stopped answering, or 400 when it
 * rejected one */
static void
publish_store(http_t *h, const route_t *r, const publish_span_t *msgs, size_t n, bool array)
{
    uint64_t ids[PUBLISH_BATCH_MAX];

    for (size_t i = 0; i < n; i++) {
        char err[256];
        int rc = publish_send(msgs[i].text, msgs[i].len, &ids[i], err, sizeof(err));
        if (rc == PUBLISH_UNREACHABLE) {
            static ratelimit_t rl;
            log_limited(&rl, LOG_WARNING, "503 for %.200s: the broker did not acknowledge",
                h->path);
            publish_answer_ids(h, r, 503, ids, i, "broker unreachable");
            return;
        }
        if (rc == PUBLISH_REJECTED) {
            /* the same parser passed it: only a broker with other limits
             * gets here */
            char msg[320];
            snprintf(msg, sizeof(msg), "%s%s", array ? "rejected by the broker: " : "", err);
            http_error(h, r, 400, "bad_request", msg, NULL);
            return;
        }
    }
    publish_answer_ids(h, r, 200, ids, n, NULL);
}

void
publish_serve(http_t *h, const route_t *r, const config_t *cfg, const auth_t *auth)
{
    json_t *claims = NULL;
    char *body = NULL;
    size_t len, n = 0;
    publish_span_t msgs[PUBLISH_BATCH_MAX];
    bool array = false;

    if (strcmp(h->method, "POST") != 0) {
        http_error(h, r, 405, "method_not_allowed", "use POST", "Allow: POST\r\n");
        return;
    }
    if (publish_authenticate(h, r, auth, &claims) == 0 &&
        publish_read_body(h, r, cfg->broker.max_message * PUBLISH_BATCH_MAX, &body, &len) == 0 &&
        publish_split(h, r, body, len, msgs, &n, &array) == 0 &&
        publish_check_all(h, r, cfg, claims, msgs, n, array) == 0)
        publish_store(h, r, msgs, n, array);
    free(body);
    json_decref(claims);
}
