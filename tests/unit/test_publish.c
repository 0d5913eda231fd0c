/*
 * cmocka tests for fcgi/publish.c, the publish route: real FastCGI
 * requests (fcgi_conn.h) served by publish_serve against a real broker
 * loop in a thread (live_broker.h).  The method, the token (none: a
 * challenge without an error code, RFC 6750 3.1; a bad one: with it),
 * the "publish" claim and the route's require, a message or an array
 * (one bad message publishes nothing), a body past its bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include "auth.h"
#include "fcgi_conn.h"
#include "live_broker.h"
#include "publish.h"

static char keyfile[] = "/tmp/zsse-test-pubkey.XXXXXX";
static auth_t *auth;
static char *tok_news, *tok_admin, *tok_none;

static char *
mint(json_t *claims)
{
    char err[256];
    json_object_set_new(claims, "exp", json_integer(time(NULL) + 600));
    char *t = auth_mint(auth, claims, NULL, err, sizeof(err));
    json_decref(claims);
    return t;
}

static int
setup(void **st)
{
    if (lb_route_setup(keyfile, &auth) < 0)
        return -1;
    tok_news = mint(json_pack("{s:s, s:[s]}", "sub", "app", "publish", "news/*"));
    tok_admin = mint(json_pack("{s:s, s:s, s:[s]}", "sub", "op", "role", "admin", "publish", "*"));
    tok_none = mint(json_pack("{s:s}", "sub", "nobody"));
    return tok_news && tok_admin && tok_none ? 0 : -1;
}

static int
teardown(void **st)
{
    lb_stop();
    auth_destroy(&auth);
    free(tok_news);
    free(tok_admin);
    free(tok_none);
    unlink(keyfile);
    return 0;
}

/* POST BODY to route R with TOKEN (NULL: none); the response */
static const char *
post(int r, const char *method, const char *token, const char *body)
{
    static char m[32], auth_h[1024], cl[64];
    fc_conn_t c;

    snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
    snprintf(auth_h, sizeof(auth_h), "HTTP_AUTHORIZATION=Bearer %s", token ? token : "");
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
    const char *const params[] = { m, "REQUEST_URI=/publish", "CONTENT_TYPE=application/json",
        cl, token ? auth_h : "X=1", NULL };
    fc_open_body(&c, params, body);
    assert_int_equal(c.parsed, 0);
    publish_serve(&c.h, &lb.cfg->routes[r], lb.cfg, auth);
    return fc_close(&c);
}

static void
test_refusals(void **st)
{
    const char *msg = "{\"channel\":\"news/a\",\"data\":1}", *out;

    out = post(2, "GET", tok_news, "");
    assert_non_null(strstr(out, "Status: 405 "));
    assert_non_null(strstr(out, "\r\nAllow: POST\r\n"));
    out = post(2, "POST", NULL, msg);
    assert_non_null(strstr(out, "Status: 401 "));
    assert_non_null(strstr(out, "\r\nWWW-Authenticate: Bearer realm=\"zsse\"\r\n"));
    out = post(2, "POST", "x.y.z", msg);
    assert_non_null(strstr(out, "Status: 401 "));
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer realm=\"zsse\", error=\"invalid_token\"\r\n"));
    out = post(2, "POST", tok_none, msg);                   /* no publish claim */
    assert_non_null(strstr(out, "Status: 403 "));
    out = post(2, "POST", tok_news, "{\"channel\":\"other/a\",\"data\":1}");
    assert_non_null(strstr(out, "Status: 403 "));
    out = post(3, "POST", tok_news, msg);                    /* require role admin */
    assert_non_null(strstr(out, "Status: 403 "));
    assert_non_null(strstr(out, "claim role required"));
}

static void
test_publish(void **st)
{
    char want[64];
    uint64_t before = lb_head();
    const char *out = post(2, "POST", tok_news, "{\"channel\":\"news/a\",\"data\":{\"x\": 0.50}}");

    assert_non_null(strstr(out, "Status: 200 "));
    uint64_t id = lb_head();                   /* ids grow; not by one (wire.h) */
    assert_true(id > before);
    snprintf(want, sizeof(want), "{\"ids\": [\"%llu\"]}\n", (unsigned long long)id);
    if (!strstr(out, want))
        fail_msg("%s: no %s", out, want);

    /* the event as published, the publisher's spelling kept */
    control_reply_t r;
    wire_event_t ev[2];
    assert_int_equal(lb_replay(before, "news/a", &r, ev), 1);
    assert_int_equal(ev[0].data_len, 10);
    assert_memory_equal(ev[0].data, "{\"x\":0.50}", 10);
    control_reply_free(&r);

    /* an array: both, or (one bad) none */
    out = post(3, "POST", tok_admin,
        "[{\"channel\":\"a\",\"data\":1},{\"channel\":\"b\",\"data\":2}]");
    assert_non_null(strstr(out, "Status: 200 "));
    assert_true(lb_head() > id);
    json_t *j = json_loads(strstr(out, "\r\n\r\n") + 4, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "ids")), 2);
    json_decref(j);
    id = lb_head();
    out = post(2, "POST", tok_news,
        "[{\"channel\":\"news/b\",\"data\":1},{\"channel\":\"news/c\"}]");
    assert_non_null(strstr(out, "Status: 400 "));
    assert_non_null(strstr(out, "messages[1]"));
    assert_true(lb_head() == id);
}

static void
test_too_large(void **st)
{
    size_t max = lb.cfg->broker.max_message;
    char *big = malloc(max + 64);
    uint64_t before = lb_head();

    snprintf(big, max + 64, "{\"channel\":\"news/a\",\"data\":\"%0*d\"}", (int)max, 0);
    const char *out = post(2, "POST", tok_news, big);
    assert_non_null(strstr(out, "Status: 413 "));
    assert_true(lb_head() == before);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
