/*
 * http.h -- the HTTP side of a FastCGI request: what the web server passed
 * (bounded), status responses with JSON bodies, CORS.
 */
#ifndef ZSSE_HTTP_H
#define ZSSE_HTTP_H

#include <fcgiapp.h>
#include "route.h"

#define HTTP_PARAM_MAX  (16 * 1024)   /* longer query strings / Authorization: 400 */
#define HTTP_PATH_MAX   2048          /* URL path with its NUL; a longer one is refused */
#define HTTP_ORIGIN_MAX 1024          /* a longer Origin is ignored (no CORS) */

typedef struct {
    FCGX_Request *req;
    const char   *method;
    char          path[HTTP_PATH_MAX];  /* URL path, no query */
    size_t        path_len;
    const char   *query;              /* raw query string, may be "" */
    const char   *authorization;
    const char   *cookie;
    const char   *last_event_id;
    const char   *accept;
    const char   *origin;
} http_t;

/* Fill H from the request's params.  -1 when something is too long or
 * malformed (the caller answers 400). */
int  http_parse(http_t *h, FCGX_Request *req);

/* "Status: ..." + CORS + Content-Type: application/json + JSON body
 * {"error": ERROR, "message": MESSAGE}; EXTRA is more header lines
 * ("Name: value\r\n"...) or NULL. */
void http_error(http_t *h, const route_t *r, int status, const char *error,
    const char *message, const char *extra);

/* 1 when origin O is scheme://host[:port] and nothing else (RFC 6454
 * serialisation: no path, no user info, no white space or control
 * character); only such an Origin is echoed for a "*" route */
int  http_origin_valid(const char *o);

/* CORS header lines for R and the request's Origin (nothing if none
 * matches or R has no cors) */
void http_cors(http_t *h, const route_t *r, FCGX_Stream *out);
/* answer an OPTIONS preflight */
void http_preflight(http_t *h, const route_t *r);

/* has the client gone?  Called when the FastCGI connection FD is readable
 * or hung up: EOF, an error, or data (an abort record: a GET has no more
 * stdin) say so */
int  http_gone(int fd);

/* the token of an "Authorization: Bearer TOKEN" header (RFC 6750 2.1;
 * the scheme case-insensitive, spaces after it skipped): a pointer into
 * H->authorization, "" when the header names Bearer and no token; NULL
 * when there is no Bearer header.  Cannot fail. */
const char *http_bearer(const http_t *h);

/* the challenge of a 401 (RFC 6750 3): with the error code when a token
 * was sent and refused, without when none was sent (3.1) */
#define HTTP_WWW_AUTH_INVALID \
    "WWW-Authenticate: Bearer realm=\"zsse\", error=\"invalid_token\"\r\n"
#define HTTP_WWW_AUTH_NONE "WWW-Authenticate: Bearer realm=\"zsse\"\r\n"

/* the value of cookie NAME in H->cookie into OUT (OUTLEN bytes); its
 * length, -1 if absent, -2 if too long for OUT */
int  http_cookie(const http_t *h, const char *name, char *out, size_t outlen);

const char *http_reason(int status);

/* printf onto a FastCGI stream (libfcgi's own FCGX_FPrintF knows no %zu) */
int  http_printf(FCGX_Stream *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
