/*
 * http.c -- request parameters, error responses, CORS (see http.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "buf.h"
#include "http.h"
#include "log.h"
#include "sse.h"

#define HTTP_PORT_MAX   65535       /* a TCP port is 16 bits (RFC 793) */
#define HTTP_PRINTF_MAX 1024        /* bytes of one http_printf (headers) */

static const char *
http_param(FCGX_Request *req, const char *name)
{
    const char *v = FCGX_GetParam(name, req->envp);
    return v ? v : "";
}

int
http_parse(http_t *h, FCGX_Request *req)
{
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    size_t n;

    memset(h, 0, sizeof(*h));
    h->req = req;
    h->method = http_param(req, "REQUEST_METHOD");
    h->query = http_param(req, "QUERY_STRING");
    h->authorization = http_param(req, "HTTP_AUTHORIZATION");
    h->cookie = http_param(req, "HTTP_COOKIE");
    h->last_event_id = http_param(req, "HTTP_LAST_EVENT_ID");
    h->accept = http_param(req, "HTTP_ACCEPT");
    h->origin = http_param(req, "HTTP_ORIGIN");
    /* what the web server let through is served: a value too long to
     * matter is dropped (an Origin that long matches no CORS origin; a
     * Last-Event-ID of any length is an unknown id: request.c), never a
     * 400 -- a browser's EventSource stops reconnecting for good on one */
    if (strlen(h->origin) > HTTP_ORIGIN_MAX)
        h->origin = "";
    if (strlen(h->query) > HTTP_PARAM_MAX || strlen(h->authorization) > HTTP_PARAM_MAX)
        return -1;
    if (uri && *uri) {
        /* REQUEST_URI: the path as the client sent it, with the query */
        n = strcspn(uri, "?#");
    } else {
        /* Apache without REQUEST_URI: SCRIPT_NAME + PATH_INFO */
        const char *sn = http_param(req, "SCRIPT_NAME"), *pi = http_param(req, "PATH_INFO");
        if (strlen(sn) + strlen(pi) >= sizeof(h->path))
            return -1;
        n = (size_t)snprintf(h->path, sizeof(h->path), "%s%s", sn, pi);
        h->path_len = n;
        return 0;
    }
    if (n >= sizeof(h->path))
        return -1;
    memcpy(h->path, uri, n);
    h->path[n] = '\0';
    h->path_len = n;
    return 0;
}

const char *
http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

int
http_origin_valid(const char *o)
{
    const char *p = o;

    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1) */
    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return 0;
    p += 3;
    if (*p == '[') {                /* an IPv6 literal */
        const char *h = ++p;
        while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == h)
            return 0;
        p++;
    } else {                        /* a DNS name or IPv4 address */
        const char *h = p;
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '.')
            p++;
        if (p == h)
            return 0;
    }
    if (*p == ':') {
        const char *d = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == d || p - d > 5 || atol(d) > HTTP_PORT_MAX)
            return 0;
    }
    return *p == '\0';
}

static const char *
http_cors_match(const http_t *h, const route_t *r)
{
    if (!r || !r->ncors || !h->origin[0])
        return NULL;
    for (size_t i = 0; i < r->ncors; i++)
        if (strcmp(r->cors_origins[i], h->origin) == 0 ||
            (strcmp(r->cors_origins[i], "*") == 0 && http_origin_valid(h->origin)))
            return h->origin;
    return NULL;
}

void
http_cors(http_t *h, const route_t *r, FCGX_Stream *out)
{
    const char *o = http_cors_match(h, r);
    if (!o)
        return;
    http_printf(out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", o);
    if (r->cors_credentials)
        FCGX_PutS("Access-Control-Allow-Credentials: true\r\n", out);
}

void
http_preflight(http_t *h, const route_t *r)
{
    FCGX_Stream *out = h->req->out;
    FCGX_PutS("Status: 204 No Content\r\n", out);
    http_cors(h, r, out);
    if (http_cors_match(h, r))
        FCGX_PutS("Access-Control-Allow-Methods: GET, OPTIONS\r\n"
            "Access-Control-Allow-Headers: Authorization, Last-Event-ID, Cache-Control, Accept\r\n"
            "Access-Control-Max-Age: 600\r\n", out);
    FCGX_PutS("Content-Length: 0\r\n\r\n", out);
}

void
http_error(http_t *h, const route_t *r, int status, const char *error,
    const char *message, const char *extra)
{
    FCGX_Stream *out = h->req->out;
    buf_t body;

    buf_init(&body, 4096);
    buf_puts(&body, "{\"error\": ");
    sse_json_quote(&body, error, strlen(error));
    if (message) {
        buf_puts(&body, ", \"message\": ");
        sse_json_quote(&body, message, strlen(message));
    }
    buf_puts(&body, "}\n");
    http_printf(out, "Status: %d %s\r\n", status, http_reason(status));
    http_cors(h, r, out);
    if (extra)
        FCGX_PutS(extra, out);
    http_printf(out, "Content-Type: application/json\r\nCache-Control: no-store\r\n"
        "Content-Length: %zu\r\n\r\n", body.len);
    if (strcmp(h->method, "HEAD") != 0)
        FCGX_PutStr(body.data, (int)body.len, out);
    buf_free(&body);
    /* every refused request, at most a line a second (a flood of bad
     * tokens must not fill the disk): status, method, path and why */
    static ratelimit_t refused_rl;
    log_limited(&refused_rl, status >= 500 ? LOG_WARNING : LOG_NOTICE, "%d %s %.*s: %s",
        status, h->method ? h->method : "-", (int)(h->path_len < 300 ? h->path_len : 300),
        h->path, message ? message : error);
}

const char *
http_bearer(const http_t *h)
{
    const char *a = h->authorization;

    if (strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    for (a += 7; *a == ' '; a++)
        ;
    return a;
}

int
http_cookie(const http_t *h, const char *name, char *out, size_t outlen)
{
    const char *p = h->cookie;
    size_t nlen = strlen(name);

    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > nlen && p[nlen] == '=' && memcmp(p, name, nlen) == 0) {
            size_t vlen = n - nlen - 1;
            if (vlen >= outlen)
                return -2;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return (int)vlen;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return -1;
}

int
http_printf(FCGX_Stream *out, const char *fmt, ...)
{
    char tmp[HTTP_PRINTF_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return FCGX_PutStr(tmp, n, out);
}

int
http_gone(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}
