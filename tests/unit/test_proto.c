/*
 * cmocka tests for proto/: buf, channel names and patterns, the publish
 * message parser, SSE framing, raw JSON scanning, the config loader,
 * routes and templates, grants, query strings, JWT verification, wire ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "jsontext.h"
#include "message.h"
#include "ring.h"
#include "route.h"
#include "sse.h"
#include "wire.h"

/* --- buf ------------------------------------------------------------------ */

static void
test_buf_bounds(void **st)
{
    (void)st;
    buf_t b;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345"), 0);
    assert_int_equal(buf_puts(&b, "678"), 0);
    assert_int_equal(buf_putc(&b, '9'), -1);        /* past the bound */
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "12345678", 8);
    buf_reset(&b);
    assert_int_equal(buf_put_u64(&b, 18446744073709551615ull), -1);
    assert_int_equal(buf_put_u64(&b, 1234567), 0);
    assert_string_equal(b.data, "1234567");
    buf_free(&b);
    buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i), 0);
    assert_true(b.len > 40000);
    buf_free(&b);
}

/* --- ring ------------------------------------------------------------------ */

static void
test_ring_fifo(void **st)
{
    (void)st;
    ring_t r;
    int v[40];
    assert_int_equal(ring_init(&r, 2, 32), 0);
    assert_null(ring_pop(&r));
    /* in order across the wrap and every growth (2, 4, ... 32) */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ring_push(&r, &v[i]), 0);
    assert_ptr_equal(ring_pop(&r), &v[0]);
    for (int i = 3; i < 33; i++)
        assert_int_equal(ring_push(&r, &v[i]), 0);
    assert_int_equal(r.len, 32);
    assert_int_equal(r.cap, 32);
    assert_int_equal(ring_push(&r, &v[33]), -1);            /* full at max */
    assert_int_equal(ring_push_front(&r, &v[0]), -1);
    assert_ptr_equal(ring_first(&r), &v[1]);
    for (int i = 1; i < 33; i++)
        assert_ptr_equal(ring_pop(&r), &v[i]);
    assert_null(ring_pop(&r));
    /* push_front goes before what waits, and grows too */
    ring_free(&r);
    assert_int_equal(ring_init(&r, 1, 8), 0);
    assert_int_equal(ring_push(&r, &v[2]), 0);
    assert_int_equal(ring_push(&r, &v[3]), 0);
    assert_int_equal(ring_push_front(&r, &v[1]), 0);
    for (int i = 1; i <= 3; i++)
        assert_ptr_equal(ring_pop(&r), &v[i]);
    assert_int_equal(r.len, 0);
    ring_free(&r);
}

/* --- channel ---------------------------------------------------------------- */

static void
test_channel_valid(void **st)
{
    (void)st;
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    assert_true(channel_valid("user/usr_1", 10));
    assert_true(channel_valid("caf\xc3\xa9", 5));
    assert_false(channel_valid("", 0));
    assert_false(channel_valid("a b", 3));
    assert_false(channel_valid("a\tb", 3));
    assert_false(channel_valid("a\nb", 3));
    assert_false(channel_valid("a\x7f", 2));
    assert_false(channel_valid("caf\xc3", 4));              /* truncated */
    assert_false(channel_valid("\xc0\xaf", 2));             /* overlong */
    assert_false(channel_valid("\xed\xa0\x80", 3));         /* surrogate */
    assert_false(channel_valid("a\xc2\xa0" "b", 4));        /* NBSP */
    assert_false(channel_valid("a\xe2\x80\xa8", 4));        /* U+2028 */
    assert_true(channel_valid(long_name, 255));
    assert_false(channel_valid(long_name, 256));
}

static void
test_channel_match(void **st)
{
    (void)st;
    assert_true(channel_match("board/*", "board/b1"));
    assert_true(channel_match("board/*", "board/"));
    assert_true(channel_match("*", "anything/at/all"));
    assert_true(channel_match("a*b*c", "aXXbYYc"));
    assert_false(channel_match("a*b*c", "aXXbYY"));
    assert_false(channel_match("user/1", "user/12"));
    assert_false(channel_match("board/*", "boards/b1"));
    assert_true(channel_match("sync/*/usr_1", "sync/app/usr_1"));
    /* many stars, no explosion */
    assert_false(channel_match("*a*a*a*a*a*a*a*a*a*a*b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* --- message ------------------------------------------------------------------ */

static const char *
reject_reason(const char *text)
{
    msg_t m;
    const char *reason = NULL;
    if (msg_parse(&m, text, strlen(text), 1024, &reason) == 0) {
        msg_clear(&m);
        return "accepted";
    }
    return reason;
}

static void
test_message_ok(void **st)
{
    (void)st;
    msg_t m;
    const char *r;
    const char *t = "{ \"channel\": \"user/1\", \"event\": \"balance.changed\",\n"
        "  \"data\": { \"currency\" : \"gold\", \"amount\": 0.57, \"l\": [1, 2] },\n"
        "  \"key\": \"balance/gold\", \"ttl\": 600 }";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_int_equal(m.ev.nchannels, 1);
    assert_memory_equal(m.ev.channels[0], "user/1", 6);
    assert_int_equal(m.ev.event_len, 15);
    assert_int_equal(m.ev.key_len, 12);
    assert_int_equal(m.ev.ttl, 600);
    assert_int_equal(m.ev.kind, ZSSE_KIND_JSON);
    /* the publisher's spelling, compacted */
    assert_int_equal(m.ev.data_len, strlen("{\"currency\":\"gold\",\"amount\":0.57,\"l\":[1,2]}"));
    assert_memory_equal(m.ev.data, "{\"currency\":\"gold\",\"amount\":0.57,\"l\":[1,2]}", m.ev.data_len);
    msg_clear(&m);

    t = "{\"channels\":[\"a\",\"b\",\"a\"],\"data\":\"two\\nlines\",\"event\":\"\"}";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_int_equal(m.ev.nchannels, 2);                /* a duplicate, once */
    assert_int_equal(m.ev.kind, ZSSE_KIND_STRING);
    assert_memory_equal(m.ev.data, "two\nlines", 9);
    assert_null(m.ev.event);                            /* "" is unnamed */
    assert_int_equal(m.ev.ttl, 0);                  /* none: the channel's */
    msg_clear(&m);

    t = "{\"channel\":\"a\",\"data\":null}";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_memory_equal(m.ev.data, "null", 4);
    msg_clear(&m);
}

static void
test_message_rejects(void **st)
{
    (void)st;
    char big[2000];
    snprintf(big, sizeof(big), "{\"channel\":\"a\",\"data\":\"%01500d\"}", 0);
    char many[2000] = "{\"channels\":[";
    for (int i = 0; i < 65; i++)
        sprintf(many + strlen(many), "%s\"c%d\"", i ? "," : "", i);
    strcat(many, "],\"data\":1}");
    assert_string_equal(reject_reason(big), ZSSE_R_TOO_LARGE);
    assert_string_equal(reject_reason("{"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"data\":1,\"data\":2}"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("{\"channel\":\"caf\xc3\",\"data\":1}"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("[1]"), ZSSE_R_NOT_OBJECT);
    assert_string_equal(reject_reason("\"x\""), ZSSE_R_NOT_OBJECT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"data\":1,\"chanel\":1}"), ZSSE_R_UNKNOWN_FIELD);
    assert_string_equal(reject_reason("{\"data\":1}"), ZSSE_R_NO_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"a b\",\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"\",\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":7,\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channels\":[],\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"channels\":[\"b\"],\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason(many), ZSSE_R_TOO_MANY_CHANNELS);
    assert_string_equal(reject_reason("{\"channel\":\"a\"}"), ZSSE_R_NO_DATA);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":\"x\\ny\",\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":\"x\\ry\",\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":5,\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"key\":\"\",\"data\":1}"), ZSSE_R_BAD_KEY);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"key\":\"a\\u0001\",\"data\":1}"), ZSSE_R_BAD_KEY);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":0,\"data\":1}"), ZSSE_R_BAD_TTL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":1.5,\"data\":1}"), ZSSE_R_BAD_TTL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":99999999999,\"data\":1}"), ZSSE_R_BAD_TTL);
}

/* --- jsontext --------------------------------------------------------------- */

static void
test_jsontext(void **st)
{
    (void)st;
    size_t n;
    char out[128];
    const char *t = "[ 1, \"x }\\\" ]\" ]";
    n = json_compact(t, strlen(t), out);
    out[n] = '\0';
    assert_string_equal(out, "[1,\"x }\\\" ]\"]");
}

/* --- sse ------------------------------------------------------------------------ */

static void
test_sse_framing(void **st)
{
    (void)st;
    buf_t b;
    buf_init(&b, 0);
    sse_event(&b, SSE_NAMED, 42, "task_moved", 10, "{\"a\":1}", 7, 'j');
    assert_string_equal(b.data, "id: 42\nevent: task_moved\ndata: {\"a\":1}\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_NAMED, 0, NULL, 0, "a\rb\r\nc\nd", 8, 's');
    assert_string_equal(b.data, "data: a\ndata: b\ndata: c\ndata: d\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_NAMED, 7, "changed", 7, "", 0, 's');
    assert_string_equal(b.data, "id: 7\nevent: changed\ndata: \n\n");   /* still dispatched */
    buf_reset(&b);
    sse_event(&b, SSE_ENVELOPE, 9, "mission.progress", 16, "{\"p\":0.57}", 10, 'j');
    assert_string_equal(b.data, "id: 9\ndata: {\"type\":\"mission.progress\",\"data\":{\"p\":0.57}}\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_ENVELOPE, 0, NULL, 0, "say \"hi\"\n", 9, 's');
    assert_string_equal(b.data, "data: {\"type\":\"message\",\"data\":\"say \\\"hi\\\"\\n\"}\n\n");
    buf_reset(&b);
    sse_comment(&b, "heartbeat");
    sse_comment(&b, " keepalive");
    sse_retry(&b, 3000);
    sse_id(&b, 5);
    assert_string_equal(b.data, ":heartbeat\n\n: keepalive\n\nretry: 3000\n\nid: 5\n\n");
    buf_free(&b);
    /* a bounded buffer never holds half an event */
    buf_init(&b, 20);
    assert_int_equal(sse_event(&b, SSE_NAMED, 1, "e", 1, "0123456789abcdef", 16, 's'), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* --- config ----------------------------------------------------------------------- */

static void
config_error(const char *text, const char *want)
{
    char err[512];
    config_t *c = config_parse(text, strlen(text), err, sizeof(err));
    if (c) {
        config_destroy(&c);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void
test_config(void **st)
{
    (void)st;
    char err[512];
    const char *t = "{\"broker\":{\"buffer\":10,\"channels\":[{\"match\":\"sync/*\",\"buffer\":16,\"ttl\":600}]},"
        "\"auth\":{\"alg\":\"RS256\",\"issuer\":\"me\",\"query_param\":null},"
        "\"routes\":[{\"path\":\"/b/{board}/events\",\"channels\":[\"board/{board}\",\"user/{sub}\"],"
        "\"format\":\"envelope\",\"hello\":{\"event\":\"connected\",\"data\":{\"status\":\"ok\"}},"
        "\"cors\":{\"origins\":[\"https://a.example\"],\"credentials\":true},\"max_per_user\":2}]}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->broker.buffer, 10);
    assert_int_equal(c->broker.ttl, 3600);
    assert_string_equal(c->broker.publish, "tcp://127.0.0.1:7701");
    assert_string_equal(c->auth.alg, "RS256");
    assert_null(c->auth.query_param);
    assert_string_equal(c->auth.cookie, "zsse_token");
    assert_int_equal(c->nroutes, 1);
    route_t *r = &c->routes[0];
    assert_int_equal(r->nchannels, 2);
    assert_true(r->channels[0].needs_grant);
    assert_false(r->channels[1].needs_grant);
    assert_int_equal(r->format, SSE_ENVELOPE);
    assert_string_equal(r->hello_data, "{\"status\":\"ok\"}");
    assert_int_equal(r->heartbeat, 30);
    assert_int_equal(r->stall_timeout, 120);
    assert_string_equal(r->reset_event, "reset");
    int buffer, ttl;
    config_channel_limits(&c->broker, "sync/a/b", &buffer, &ttl);
    assert_int_equal(buffer, 16);
    assert_int_equal(ttl, 600);
    config_channel_limits(&c->broker, "other", &buffer, &ttl);
    assert_int_equal(buffer, 10);
    config_destroy(&c);
    assert_null(c);

    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"x\"]},{\"path\":\"/b\",\"channels\":[\"x\"]},"
        "{\"path\":\"/c/{id}\",\"channels\":[\"c/{foo}\"]}]}",
        "routes[2].channels[0]: unknown placeholder {foo}");
    config_error("{\"broker\":{\"bufer\":1}}", "broker.bufer: unknown key");
    config_error("{\"colour\":1}", "colour: unknown key");
    config_error("{\"broker\":{\"buffer\":0}}", "broker.buffer: must be an integer");
    config_error("{\"broker\":{\"publish\":\"http://x\"}}", "broker.publish: must be a tcp:// or ipc://");
    config_error("{\"auth\":{\"alg\":\"none\"}}", "auth.alg:");
    config_error("{\"routes\":[{\"path\":\"x\",\"channels\":[\"a\"]}]}", "routes[0].path: must start with /");
    config_error("{\"routes\":[{\"path\":\"/a/x{id}\",\"channels\":[\"a\"]}]}", "routes[0].path:");
    config_error("{\"routes\":[{\"path\":\"/a\"}]}", "routes[0].channels: is required");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"cors\":{\"origins\":[\"*\"],\"credentials\":true}}]}",
        "routes[0].cors.origins[0]: \"*\" is not allowed with credentials");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"heartbeat\":{\"every\":3}}]}",
        "routes[0].heartbeat.every: unknown key");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"format\":\"xml\"}]}", "routes[0].format:");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a{\"]}]}", "routes[0].channels[0]: unbalanced {");
    config_error("{\"broker\":", "line 1");
}

/* --- routes, templates, grants, query --------------------------------------------------- */

static config_t *
routes(void)
{
    char err[256];
    const char *t = "{\"routes\":["
        "{\"path\":\"/boards/{board}/events\",\"channels\":[\"board/{board}\"]},"
        "{\"path\":\"/me\",\"channels\":[\"user/{sub}\",\"t/{claim.tenant}\"]},"
        "{\"path\":\"/sync\",\"channels\":[\"sync/{query.app}/{sub}\"]}]}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    return c;
}

static void
test_routes(void **st)
{
    (void)st;
    config_t *c = routes();
    route_params_t p;
    buf_t out;
    char err[256];
    const route_t *r;

    buf_init(&out, 1024);
    assert_non_null(r = route_find(c->routes, c->nroutes, "/boards/b%31/events", 19, &p));
    assert_string_equal(p.values[0], "b1");
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, NULL, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "board/b1");
    assert_null(route_find(c->routes, c->nroutes, "/boards/b1", 10, &p));
    assert_null(route_find(c->routes, c->nroutes, "/boards/b1/events/x", 19, &p));
    assert_null(route_find(c->routes, c->nroutes, "/boards/b%2A/events", 19, &p));  /* '*' */
    assert_null(route_find(c->routes, c->nroutes, "/boards/a%2Fb/events", 20, &p)); /* '/' */
    assert_null(route_find(c->routes, c->nroutes, "/boards/%20/events", 18, &p));   /* space */
    assert_null(route_find(c->routes, c->nroutes, "/boards/%zz/events", 18, &p));

    json_t *alice = json_pack("{s:s, s:s, s:[s]}", "sub", "alice", "tenant", "acme",
        "channels", "board/b*");
    json_t *mallory = json_pack("{s:s, s:[s]}", "sub", "mallory", "channels", "board/other");
    assert_non_null(r = route_find(c->routes, c->nroutes, "/me", 3, &p));
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "user/alice");
    assert_int_equal(tpl_expand(&r->channels[1], &p, NULL, alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "t/acme");
    assert_int_equal(tpl_expand(&r->channels[1], &p, NULL, mallory, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, NULL, &out, err, sizeof(err)), -1);

    /* grants: one user's token cannot open another's board */
    assert_true(grant_allows(alice, "board/b1"));
    assert_false(grant_allows(mallory, "board/b1"));
    assert_false(grant_allows(NULL, "board/b1"));

    assert_non_null(r = route_find(c->routes, c->nroutes, "/sync", 5, &p));
    assert_int_equal(tpl_expand(&r->channels[0], &p, "x=1&app=my%2Dapp", alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "sync/my-app/alice");
    assert_int_equal(tpl_expand(&r->channels[0], &p, "x=1", alice, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, "app=a*", alice, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, "app=a+b", alice, &out, err, sizeof(err)), -1);
    json_decref(alice);
    json_decref(mallory);
    buf_free(&out);
    config_destroy(&c);
}

static void
test_query(void **st)
{
    (void)st;
    char v[16];
    assert_int_equal(query_get("a=1&token=abc&token=def", "token", v, sizeof(v)), 3);
    assert_string_equal(v, "abc");
    assert_int_equal(query_get("a=1", "token", v, sizeof(v)), -1);
    assert_int_equal(query_get("tok=1", "token", v, sizeof(v)), -1);
    assert_int_equal(query_get("x=%41%42+c", "x", v, sizeof(v)), 4);
    assert_string_equal(v, "AB c");
    assert_int_equal(query_get("x=%4", "x", v, sizeof(v)), -1);
    assert_int_equal(query_get("x=0123456789abcdefXYZ", "x", v, sizeof(v)), -1);   /* too long */
    /* 10,000 parameters: linear, and still finds the last */
    size_t n = 10000 * 8 + 16;
    char *q = malloc(n), *p = q;
    for (int i = 0; i < 10000; i++)
        p += sprintf(p, "k%d=1&", i % 1000);
    strcpy(p, "want=yes");
    assert_int_equal(query_get(q, "want", v, sizeof(v)), 3);
    free(q);
}

/* --- auth ------------------------------------------------------------------------------- */

static char keyfile[64];

static auth_t *
hs256(int require_exp, const char *iss, const char *aud)
{
    char err[256];
    auth_conf_t c = { .alg = "HS256", .key_file = keyfile, .leeway = 30,
                      .require_exp = require_exp, .issuer = (char *)iss, .audience = (char *)aud };
    auth_t *a = auth_new(&c, err, sizeof(err));
    if (!a)
        fail_msg("%s", err);
    return a;
}

static char *
mint(auth_t *a, json_t *claims)
{
    char err[256];
    char *t = auth_mint(a, claims, NULL, err, sizeof(err));
    json_decref(claims);
    if (!t)
        fail_msg("%s", err);
    return t;
}

static const char *
verify(auth_t *a, const char *tok, time_t now)
{
    static char err[256];
    json_t *claims = NULL;
    if (auth_verify(a, tok, strlen(tok), now, &claims, err, sizeof(err)) == 0) {
        json_decref(claims);
        return "ok";
    }
    return err;
}

static void
test_auth(void **st)
{
    (void)st;
    strcpy(keyfile, "/tmp/zsse-test-key.XXXXXX");
    int fd = mkstemp(keyfile);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef\n", 33), 33);
    close(fd);
    time_t now = 1800000000;
    auth_t *a = hs256(1, NULL, NULL);

    char *t = mint(a, json_pack("{s:s, s:I}", "sub", "u", "exp", (json_int_t)now + 60));
    assert_string_equal(verify(a, t, now), "ok");
    assert_string_equal(verify(a, t, now + 89), "ok");                 /* leeway */
    assert_string_equal(verify(a, t, now + 91), "token expired");
    t[strlen(t) - 3] ^= 1;
    assert_string_equal(verify(a, t, now), "bad signature");
    free(t);

    t = mint(a, json_pack("{s:s, s:I, s:I}", "sub", "u", "exp", (json_int_t)now + 600,
        "nbf", (json_int_t)now + 100));
    assert_string_equal(verify(a, t, now), "token not yet valid");
    assert_string_equal(verify(a, t, now + 80), "ok");
    free(t);

    t = mint(a, json_pack("{s:s}", "sub", "u"));
    assert_string_equal(verify(a, t, now), "exp required");
    auth_t *lax = hs256(0, "issuer-1", "aud-1");
    assert_string_equal(verify(lax, t, now), "wrong issuer");
    free(t);
    t = mint(a, json_pack("{s:s, s:s, s:[s,s]}", "sub", "u", "iss", "issuer-1", "aud", "x", "aud-1"));
    assert_string_equal(verify(lax, t, now), "ok");
    free(t);
    t = mint(a, json_pack("{s:s, s:s, s:s}", "sub", "u", "iss", "issuer-1", "aud", "other"));
    assert_string_equal(verify(lax, t, now), "wrong audience");
    free(t);
    auth_destroy(&lax);

    /* alg none, and another HMAC size: refused before any signature check */
    assert_string_equal(verify(a, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ.", now),
        "algorithm not allowed");
    assert_string_equal(verify(a,
        "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl", now),
        "algorithm not allowed");
    assert_string_equal(verify(a, "garbage", now), "malformed token");
    assert_string_equal(verify(a, "a.b.c.d", now), "malformed token");
    assert_string_equal(verify(a, "!!!.e30.x", now), "malformed token");
    char *huge = malloc(AUTH_TOKEN_MAX + 10);
    memset(huge, 'a', AUTH_TOKEN_MAX + 9);
    huge[AUTH_TOKEN_MAX + 9] = '\0';
    assert_string_equal(verify(a, huge, now), "token too long");
    free(huge);
    auth_destroy(&a);
    assert_null(a);
    unlink(keyfile);
}

/* alg confusion: RS256 configured, a token "signed" with HS256 using the
 * RSA public key as the HMAC secret must be refused */
static void
test_auth_alg_confusion(void **st)
{
    (void)st;
    char dir[] = "/tmp/zsse-rsa.XXXXXX", cmd[512], priv[128], pub[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
    snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
        "-out %s 2>/dev/null && openssl pkey -in %s -pubout -out %s", priv, priv, pub);
    if (system(cmd) != 0)
        skip();
    auth_conf_t rc = { .alg = "RS256", .key_file = pub, .leeway = 0, .require_exp = true };
    auth_t *rs = auth_new(&rc, err, sizeof(err));
    assert_non_null(rs);
    json_t *claims = json_pack("{s:s, s:I}", "sub", "u", "exp", (json_int_t)time(NULL) + 60);
    char *good = auth_mint(rs, claims, priv, err, sizeof(err));
    assert_non_null(good);
    assert_string_equal(verify(rs, good, time(NULL)), "ok");
    /* the attacker's HS256 token keyed with the public PEM */
    auth_conf_t hc = { .alg = "HS256", .key_file = pub, .leeway = 0, .require_exp = true };
    auth_t *hs = auth_new(&hc, err, sizeof(err));
    char *evil = auth_mint(hs, claims, NULL, err, sizeof(err));
    assert_non_null(evil);
    assert_string_equal(verify(rs, evil, time(NULL)), "algorithm not allowed");
    json_decref(claims);
    free(good);
    free(evil);
    auth_destroy(&rs);
    auth_destroy(&hs);
    unlink(priv);
    unlink(pub);
    rmdir(dir);
}

/* --- wire ------------------------------------------------------------------------------------ */

static void
test_wire_ids(void **st)
{
    (void)st;
    uint64_t id;
    char s[32];
    unsigned char h[WIRE_HDR_LEN];
    char kind;
    assert_int_equal(wire_parse_id("1795489844054363", 16, &id), 0);
    assert_true(id == 1795489844054363ull);
    assert_int_equal(wire_fmt_id(s, id), 16);
    assert_string_equal(s, "1795489844054363");
    assert_int_equal(wire_parse_id("9007199254740991", 16, &id), 0);
    assert_int_equal(wire_parse_id("9007199254740992", 16, &id), -1);   /* 2^53 */
    assert_int_equal(wire_parse_id("", 0, &id), -1);
    assert_int_equal(wire_parse_id("12a", 3, &id), -1);
    assert_int_equal(wire_parse_id("-1", 2, &id), -1);
    assert_int_equal(wire_parse_id("00000000000000001", 17, &id), -1);
    wire_hdr_put(h, 123456789, 's');
    assert_int_equal(wire_hdr_get(h, sizeof(h), &id, &kind), 0);
    assert_true(id == 123456789 && kind == 's');
    h[8] = 'x';
    assert_int_equal(wire_hdr_get(h, sizeof(h), &id, &kind), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_bounds),
        cmocka_unit_test(test_ring_fifo),
        cmocka_unit_test(test_channel_valid),
        cmocka_unit_test(test_channel_match),
        cmocka_unit_test(test_message_ok),
        cmocka_unit_test(test_message_rejects),
        cmocka_unit_test(test_jsontext),
        cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_auth_alg_confusion),
        cmocka_unit_test(test_wire_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
