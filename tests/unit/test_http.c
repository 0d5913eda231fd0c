/*
 * cmocka tests for fcgi/http.c, the HTTP side of a FastCGI request: each
 * request is a real one, written as a web server writes it (FastCGI
 * records over a socketpair) and read by libfcgi (FCGX_Accept_r on the
 * connection, as zsse-fcgi's setup threads do); what http.c answers is
 * read back from the STDOUT records.  Parameters and their bounds, the
 * Bearer token, cookies, Origin serialisation, CORS on errors and
 * preflights, HEAD without a body, a client gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "buf.h"
#include "config.h"
#include "http.h"
#include "fcgi_conn.h"

static char *
repeat(char ch, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    char *s = malloc(p + n + 1);
    memcpy(s, prefix, p);
    memset(s + p, ch, n);
    s[p + n] = '\0';
    return s;
}

static void
test_parse(void **st)
{
    fc_conn_t c;
    const char *const p1[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a/b%20c?x=1#f",
        "QUERY_STRING=x=1", "HTTP_LAST_EVENT_ID=42", "HTTP_ACCEPT=text/event-stream", NULL };
    fc_open(&c, p1);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.method, "GET");
    assert_string_equal(c.h.path, "/a/b%20c");
    assert_int_equal(c.h.path_len, 8);
    assert_string_equal(c.h.query, "x=1");
    assert_string_equal(c.h.last_event_id, "42");
    assert_string_equal(c.h.authorization, "");          /* absent: "" */
    assert_string_equal(c.h.origin, "");
    fc_close(&c);

    /* Apache without REQUEST_URI: SCRIPT_NAME + PATH_INFO */
    const char *const p2[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/zsse", "PATH_INFO=/me/events",
        NULL };
    fc_open(&c, p2);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.path, "/zsse/me/events");
    fc_close(&c);

    /* bounds: a path past 2047 bytes, a query or Authorization past
     * HTTP_PARAM_MAX: -1 (400); an Origin past HTTP_ORIGIN_MAX: dropped */
    char *uri = repeat('a', sizeof(c.h.path), "REQUEST_URI=/");
    char *query = repeat('q', HTTP_PARAM_MAX + 1, "QUERY_STRING=");
    char *authz = repeat('t', HTTP_PARAM_MAX, "HTTP_AUTHORIZATION=Bearer ");
    char *origin = repeat('o', HTTP_ORIGIN_MAX, "HTTP_ORIGIN=https://");
    const char *const p3[] = { "REQUEST_METHOD=GET", uri, NULL };
    const char *const p4[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a", query, NULL };
    const char *const p5[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a", authz, NULL };
    const char *const p6[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a", origin, NULL };
    fc_open(&c, p3);
    assert_int_equal(c.parsed, -1);
    fc_close(&c);
    fc_open(&c, p4);
    assert_int_equal(c.parsed, -1);
    fc_close(&c);
    fc_open(&c, p5);
    assert_int_equal(c.parsed, -1);
    fc_close(&c);
    fc_open(&c, p6);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.origin, "");
    fc_close(&c);
    free(uri);
    free(query);
    free(authz);
    free(origin);
}

static void
test_bearer_cookie(void **st)
{
    http_t h = { .authorization = "Bearer abc.def" };
    char v[8];

    assert_string_equal(http_bearer(&h), "abc.def");
    h.authorization = "bEARER    x";
    assert_string_equal(http_bearer(&h), "x");
    h.authorization = "Bearer ";
    assert_string_equal(http_bearer(&h), "");           /* Bearer, no token */
    h.authorization = "Basic dXNlcjpwdw==";
    assert_null(http_bearer(&h));
    h.authorization = "";
    assert_null(http_bearer(&h));

    h.cookie = "a=1; xzsse_token=no;zsse_token=abc; b=2";
    assert_int_equal(http_cookie(&h, "zsse_token", v, sizeof(v)), 3);
    assert_string_equal(v, "abc");
    assert_int_equal(http_cookie(&h, "c", v, sizeof(v)), -1);
    h.cookie = "zsse_token=01234567";
    assert_int_equal(http_cookie(&h, "zsse_token", v, sizeof(v)), -2);   /* too long */
    h.cookie = "";
    assert_int_equal(http_cookie(&h, "zsse_token", v, sizeof(v)), -1);
}

static void
test_origin(void **st)
{
    assert_true(http_origin_valid("https://a.example"));
    assert_true(http_origin_valid("http://127.0.0.1:8080"));
    assert_true(http_origin_valid("https://[::1]:443"));
    assert_true(http_origin_valid("chrome-extension://abc"));
    assert_false(http_origin_valid("https://a.example/"));
    assert_false(http_origin_valid("https://a.example/path"));
    assert_false(http_origin_valid("https://user@a.example"));
    assert_false(http_origin_valid("https://a.example:99999"));
    assert_false(http_origin_valid("https://a.example:"));
    assert_false(http_origin_valid("https://a.example\r\nX-Evil: 1"));
    assert_false(http_origin_valid("null"));
    assert_false(http_origin_valid(""));
    assert_false(http_origin_valid("https://"));
    assert_false(http_origin_valid("https://[]"));
    assert_string_equal(http_reason(503), "Service Unavailable");
    assert_string_equal(http_reason(418), "Error");
}

static config_t *
cors_config(void)
{
    char err[256];
    const char *t = "{\"routes\": ["
        "{\"path\": \"/a\", \"channels\": [\"a\"],"
        " \"cors\": {\"origins\": [\"https://a.example\"], \"credentials\": true}},"
        "{\"path\": \"/b\", \"channels\": [\"b\"], \"cors\": {\"origins\": [\"*\"]}}]}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    return c;
}

static void
test_error(void **st)
{
    config_t *cfg = cors_config();
    fc_conn_t c;
    const char *out;

    const char *const p1[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://a.example", NULL };
    fc_open(&c, p1);
    http_error(&c.h, &cfg->routes[0], 401, "invalid_token", "token \"x\"", HTTP_WWW_AUTH_NONE);
    out = fc_close(&c);
    assert_string_equal(out, "Status: 401 Unauthorized\r\n"
        "Access-Control-Allow-Origin: https://a.example\r\nVary: Origin\r\n"
        "Access-Control-Allow-Credentials: true\r\n"
        "WWW-Authenticate: Bearer realm=\"zsse\"\r\n"
        "Content-Type: application/json\r\nCache-Control: no-store\r\n"
        "Content-Length: 53\r\n\r\n"
        "{\"error\": \"invalid_token\", \"message\": \"token \\\"x\\\"\"}\n");

    /* another origin: no CORS headers; HEAD: no body */
    const char *const p2[] = { "REQUEST_METHOD=HEAD", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://b.example", NULL };
    fc_open(&c, p2);
    http_error(&c.h, &cfg->routes[0], 404, "not_found", NULL, NULL);
    out = fc_close(&c);
    assert_null(strstr(out, "Access-Control"));
    assert_non_null(strstr(out, "Status: 404 Not Found\r\n"));
    assert_non_null(strstr(out, "Content-Length: 23\r\n\r\n"));
    assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");

    /* "*": any serialised origin is echoed, nothing else is */
    const char *const p3[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/b",
        "HTTP_ORIGIN=https://c.example:8443", NULL };
    fc_open(&c, p3);
    http_error(&c.h, &cfg->routes[1], 403, "forbidden", NULL, NULL);
    out = fc_close(&c);
    assert_non_null(strstr(out, "Access-Control-Allow-Origin: https://c.example:8443\r\n"));
    assert_null(strstr(out, "Credentials"));
    const char *const p4[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/b",
        "HTTP_ORIGIN=https://c.example/x", NULL };
    fc_open(&c, p4);
    http_error(&c.h, &cfg->routes[1], 403, "forbidden", NULL, NULL);
    out = fc_close(&c);
    assert_null(strstr(out, "Access-Control"));
    config_destroy(&cfg);
}

static void
test_preflight(void **st)
{
    config_t *cfg = cors_config();
    fc_conn_t c;
    const char *out;

    const char *const p1[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://a.example", NULL };
    fc_open(&c, p1);
    http_preflight(&c.h, &cfg->routes[0]);
    out = fc_close(&c);
    assert_non_null(strstr(out, "Status: 204 No Content\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Methods: GET, OPTIONS\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Headers: Authorization, Last-Event-ID"));
    const char *const p2[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://evil.example", NULL };
    fc_open(&c, p2);
    http_preflight(&c.h, &cfg->routes[0]);
    out = fc_close(&c);
    assert_string_equal(out, "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n");
    config_destroy(&cfg);
}

static void
test_gone(void **st)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(http_gone(sv[0]), 0);      /* nothing to read: still there */
    close(sv[1]);
    assert_int_equal(http_gone(sv[0]), 1);      /* end of file */
    close(sv[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_bearer_cookie),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_gone),
    };
    assert_int_equal(FCGX_Init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
