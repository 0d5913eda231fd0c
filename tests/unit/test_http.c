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

#define REC_BEGIN   1               /* FastCGI record types (FastCGI spec 8) */
#define REC_END     3
#define REC_PARAMS  4
#define REC_STDIN   5
#define REC_STDOUT  6

typedef struct {
    FCGX_Request req;
    int          client;            /* the web server's end */
    http_t       h;
    int          parsed;            /* http_parse's result */
} conn_t;

static void
record(buf_t *b, int type, const void *body, size_t len)
{
    unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
                           (unsigned char)len, 0, 0 };
    buf_append(b, h, 8);
    buf_append(b, body, len);
}

static void
nv_len(buf_t *b, size_t n)
{
    unsigned char l[4] = { (unsigned char)(n >> 24 | 0x80), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n };
    if (n < 128)
        buf_putc(b, (char)n);
    else
        buf_append(b, l, 4);
}

/* a request with PARAMS ("NAME=VALUE", NULL-terminated) accepted by
 * libfcgi and parsed into C->h */
static void
open_request(conn_t *c, const char *const *params)
{
    int sv[2];
    buf_t w, nv;
    static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };   /* responder */

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    buf_init(&w, 0);
    buf_init(&nv, 0);
    record(&w, REC_BEGIN, begin, 8);
    for (const char *const *p = params; *p; p++) {
        const char *eq = strchr(*p, '=');
        nv_len(&nv, (size_t)(eq - *p));
        nv_len(&nv, strlen(eq + 1));
        buf_append(&nv, *p, (size_t)(eq - *p));
        buf_puts(&nv, eq + 1);
    }
    for (size_t off = 0; off < nv.len; off += 65535)
        record(&w, REC_PARAMS, nv.data + off, nv.len - off < 65535 ? nv.len - off : 65535);
    record(&w, REC_PARAMS, "", 0);
    record(&w, REC_STDIN, "", 0);
    assert_int_equal(write(sv[1], w.data, w.len), (ssize_t)w.len);
    buf_free(&w);
    buf_free(&nv);
    assert_int_equal(FCGX_InitRequest(&c->req, -1, 0), 0);
    /* given a connection, libfcgi reads it instead of accepting one
     * (fcgi/main.c does the same) */
    c->req.ipcFd = sv[0];
    c->req.keepConnection = 1;
    assert_int_equal(FCGX_Accept_r(&c->req), 0);
    c->client = sv[1];
    c->parsed = http_parse(&c->h, &c->req);
}

/* finish the request; what it wrote on STDOUT (static, NUL-terminated) */
static const char *
close_request(conn_t *c)
{
    static char out[65536];
    unsigned char hdr[8];
    size_t n = 0;

    c->req.keepConnection = 1;     /* the connection is ours to close */
    FCGX_Finish_r(&c->req);
    close(c->req.ipcFd);
    for (;;) {
        if (read(c->client, hdr, 8) != 8)
            break;
        size_t len = (size_t)hdr[4] << 8 | hdr[5], pad = hdr[6];
        char body[65536 + 256];
        size_t got = 0;
        while (got < len + pad) {
            ssize_t r = read(c->client, body + got, len + pad - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (hdr[1] == REC_STDOUT && n + len < sizeof(out)) {
            memcpy(out + n, body, len);
            n += len;
        }
        if (hdr[1] == REC_END)
            break;
    }
    out[n] = '\0';
    close(c->client);
    return out;
}

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
    conn_t c;
    const char *const p1[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a/b%20c?x=1#f",
        "QUERY_STRING=x=1", "HTTP_LAST_EVENT_ID=42", "HTTP_ACCEPT=text/event-stream", NULL };
    open_request(&c, p1);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.method, "GET");
    assert_string_equal(c.h.path, "/a/b%20c");
    assert_int_equal(c.h.path_len, 8);
    assert_string_equal(c.h.query, "x=1");
    assert_string_equal(c.h.last_event_id, "42");
    assert_string_equal(c.h.authorization, "");          /* absent: "" */
    assert_string_equal(c.h.origin, "");
    close_request(&c);

    /* Apache without REQUEST_URI: SCRIPT_NAME + PATH_INFO */
    const char *const p2[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/zsse", "PATH_INFO=/me/events",
        NULL };
    open_request(&c, p2);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.path, "/zsse/me/events");
    close_request(&c);

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
    open_request(&c, p3);
    assert_int_equal(c.parsed, -1);
    close_request(&c);
    open_request(&c, p4);
    assert_int_equal(c.parsed, -1);
    close_request(&c);
    open_request(&c, p5);
    assert_int_equal(c.parsed, -1);
    close_request(&c);
    open_request(&c, p6);
    assert_int_equal(c.parsed, 0);
    assert_string_equal(c.h.origin, "");
    close_request(&c);
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
    conn_t c;
    const char *out;

    const char *const p1[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://a.example", NULL };
    open_request(&c, p1);
    http_error(&c.h, &cfg->routes[0], 401, "invalid_token", "token \"x\"", HTTP_WWW_AUTH_NONE);
    out = close_request(&c);
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
    open_request(&c, p2);
    http_error(&c.h, &cfg->routes[0], 404, "not_found", NULL, NULL);
    out = close_request(&c);
    assert_null(strstr(out, "Access-Control"));
    assert_non_null(strstr(out, "Status: 404 Not Found\r\n"));
    assert_non_null(strstr(out, "Content-Length: 23\r\n\r\n"));
    assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");

    /* "*": any serialised origin is echoed, nothing else is */
    const char *const p3[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/b",
        "HTTP_ORIGIN=https://c.example:8443", NULL };
    open_request(&c, p3);
    http_error(&c.h, &cfg->routes[1], 403, "forbidden", NULL, NULL);
    out = close_request(&c);
    assert_non_null(strstr(out, "Access-Control-Allow-Origin: https://c.example:8443\r\n"));
    assert_null(strstr(out, "Credentials"));
    const char *const p4[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/b",
        "HTTP_ORIGIN=https://c.example/x", NULL };
    open_request(&c, p4);
    http_error(&c.h, &cfg->routes[1], 403, "forbidden", NULL, NULL);
    out = close_request(&c);
    assert_null(strstr(out, "Access-Control"));
    config_destroy(&cfg);
}

static void
test_preflight(void **st)
{
    config_t *cfg = cors_config();
    conn_t c;
    const char *out;

    const char *const p1[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://a.example", NULL };
    open_request(&c, p1);
    http_preflight(&c.h, &cfg->routes[0]);
    out = close_request(&c);
    assert_non_null(strstr(out, "Status: 204 No Content\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Methods: GET, OPTIONS\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Headers: Authorization, Last-Event-ID"));
    const char *const p2[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/a",
        "HTTP_ORIGIN=https://evil.example", NULL };
    open_request(&c, p2);
    http_preflight(&c.h, &cfg->routes[0]);
    out = close_request(&c);
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
