/*
 * cmocka tests for fcgi/mercure.c's publishing side: real FastCGI
 * requests (fcgi_conn.h) to mercure_publish against a real broker loop in
 * a thread (live_broker.h).  No token: 401 with a challenge without an
 * error code (RFC 6750 3.1); the mercure.publish claim's selectors decide
 * the topics (403); the form's fields checked (400); an update lands on
 * its topic's channel with its id, type and data, and the answer is its
 * id.
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
#include "mercure.h"
#include "topic.h"

#define HUB 4                       /* the Mercure route of LB_CONFIG */

static char keyfile[] = "/tmp/zsse-test-merckey.XXXXXX";
static auth_t *auth;
static char *tok_books;

static int
setup(void **st)
{
    char err[256];

    if (lb_route_setup(keyfile, &auth) < 0)
        return -1;
    json_t *claims = json_pack("{s:s, s:I, s:{s:[s]}}", "sub", "app",
        "exp", (json_int_t)time(NULL) + 600, "mercure", "publish", "https://e.net/books/{id}");
    tok_books = auth_mint(auth, claims, NULL, err, sizeof(err));
    json_decref(claims);
    return tok_books ? 0 : -1;
}

static int
teardown(void **st)
{
    lb_stop();
    auth_destroy(&auth);
    free(tok_books);
    unlink(keyfile);
    return 0;
}

/* POST the form FORM with TOKEN (NULL: none); the response */
static const char *
post(const char *token, const char *form)
{
    static char auth_h[1024], cl[64];
    fc_conn_t c;

    snprintf(auth_h, sizeof(auth_h), "HTTP_AUTHORIZATION=Bearer %s", token ? token : "");
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(form));
    const char *const params[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/.well-known/mercure",
        "CONTENT_TYPE=application/x-www-form-urlencoded", cl, token ? auth_h : "X=1", NULL };
    fc_open_body(&c, params, form);
    assert_int_equal(c.parsed, 0);
    mercure_publish(&c.h, &lb.cfg->routes[HUB], lb.cfg, auth);
    return fc_close(&c);
}

static void
test_refusals(void **st)
{
    const char *out = post(NULL, "topic=https://e.net/books/1&data=x");
    assert_non_null(strstr(out, "Status: 401 "));
    assert_non_null(strstr(out, "\r\nWWW-Authenticate: Bearer realm=\"zsse\"\r\n"));
    out = post("x.y.z", "topic=https://e.net/books/1&data=x");
    assert_non_null(strstr(out, "Status: 401 "));
    assert_non_null(strstr(out, "error=\"invalid_token\""));
    out = post(tok_books, "topic=https://e.net/films/1&data=x");
    assert_non_null(strstr(out, "Status: 403 "));
    assert_non_null(strstr(out, "topic not allowed by mercure.publish"));
    out = post(tok_books, "data=x");
    assert_non_null(strstr(out, "Status: 400 "));
    assert_non_null(strstr(out, "missing topic"));
    out = post(tok_books, "topic=https://e.net/books/1&retry=soon");
    assert_non_null(strstr(out, "bad retry"));
    out = post(tok_books, "topic=https://e.net/books/1&id=%23x");
    assert_non_null(strstr(out, "bad id"));
    out = post(tok_books, "topic=https://e.net/books/1&data=a%00b");
    assert_non_null(strstr(out, "bad form encoding"));
}

static void
test_publish(void **st)
{
    buf_t ch;
    control_reply_t r;
    wire_event_t ev[2];
    char after[WIRE_ID_TEXT_LEN];
    const char *args[] = { after, "", NULL };

    assert_int_equal(control_call(CTL_HEAD, NULL, 0, LB_CALL_MS, &r), 0);
    control_reply_str(&r, 1, after, sizeof(after));             /* the head before */
    control_reply_free(&r);
    const char *out = post(tok_books,
        "topic=https%3A%2F%2Fe.net%2Fbooks%2F1&data=hello+world&id=urn:x:1&type=book&retry=500");
    assert_non_null(strstr(out, "Status: 200 "));
    assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\nurn:x:1");

    buf_init(&ch, 0);
    assert_int_equal(topic_channel(&ch, "https://e.net/books/1", 21), 0);
    args[2] = ch.data;
    assert_int_equal(control_call(CTL_REPLAY, args, 3, LB_CALL_MS, &r), 0);
    assert_int_equal(control_reply_events(&r, 0, ev), 1);
    assert_int_equal(ev[0].event_len, 4);
    assert_memory_equal(ev[0].event, "book", 4);
    const char *want = "mercure\nid urn:x:1\nretry 500\ntopic https://e.net/books/1\n\nhello world";
    assert_int_equal(ev[0].data_len, strlen(want));
    assert_memory_equal(ev[0].data, want, strlen(want));
    control_reply_free(&r);
    buf_free(&ch);

    /* without an id: zsse's */
    out = post(tok_books, "topic=https://e.net/books/2&data=x");
    assert_non_null(strstr(out, "Status: 200 "));
    uint64_t id;
    const char *body = strstr(out, "\r\n\r\n") + 4;
    assert_int_equal(wire_parse_id(body, strlen(body), &id), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_publish),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
