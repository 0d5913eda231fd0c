/*
 * route.h -- HTTP routes: path matching and channel templates (SPEC 3).
 *
 * A path template is split into segments: a literal, or a "{name}"
 * placeholder that takes one whole segment.  A channel template is a list
 * of parts: literal text, or one of
 *     {name}          a path placeholder            (needs a grant)
 *     {query.NAME}    a query-string parameter      (needs a grant)
 *     {sub}           the token's subject
 *     {claim.NAME}    a string/number claim of the token
 * A channel built from a path or query placeholder must be granted by the
 * token's "channels" claim; one built only from literals and token claims
 * is the user's own.
 *
 * Values substituted into channels are percent-decoded and must pass the
 * identity rule (ident.h: no '/', '*', white space or control character),
 * so a value can neither reach into another channel's path nor widen a
 * grant pattern.
 */
#ifndef ZSSE_ROUTE_H
#define ZSSE_ROUTE_H

#include <stddef.h>
#include <stdbool.h>
#include <jansson.h>
#include "buf.h"

#define ROUTE_MAX_SEGMENTS 32
#define ROUTE_MAX_PARAMS   16
#define ROUTE_MAX_CHANNELS 16
#define ROUTE_VALUE_MAX    255     /* a parameter's decoded value, bytes */

typedef enum { TPL_LITERAL, TPL_PATH, TPL_QUERY, TPL_SUB, TPL_CLAIM } tpl_kind_t;

typedef struct {
    tpl_kind_t kind;
    char      *text;        /* literal text, or the placeholder's NAME */
} tpl_part_t;

typedef struct {
    tpl_part_t *parts;
    size_t      nparts;
    bool        needs_grant;  /* uses a path or query placeholder */
} tpl_t;

typedef enum { AUTH_REQUIRED, AUTH_OPTIONAL, AUTH_NONE } route_auth_t;
/* routes[].type: "stream" (SPEC 5), "stats" (Prometheus text), "publish"
 * (POST JSON messages, SPEC 7 / issue 15) and "mercure" (the Mercure
 * protocol's hub side, issue 15) */
typedef enum { ROUTE_STREAM, ROUTE_STATS, ROUTE_PUBLISH, ROUTE_MERCURE } route_type_t;
#define ROUTE_TYPE_NAMES "\"stream\", \"stats\", \"publish\" or \"mercure\""

typedef struct {
    char       *path;                 /* as written */
    char      **segs;                 /* literal, or NULL for a placeholder */
    char      **seg_names;            /* placeholder name, or NULL */
    size_t      nsegs;
    route_type_t type;
    tpl_t      *channels;
    size_t      nchannels;
    route_auth_t auth;
    json_t     *require;              /* object of claim -> value, or NULL */
    int         format;               /* sse_format_t */
    int         retry;                /* ms, -1: none */
    char       *hello_event;          /* NULL: no hello */
    char       *hello_data;           /* normalised like msg data */
    size_t      hello_len;
    char        hello_kind;
    int         heartbeat;            /* seconds, 0: off */
    char       *heartbeat_comment;
    bool        snapshot;
    char       *reset_event;          /* default "reset" */
    char       *auth_expired_event;   /* sent before a stream ends at its
                                       * token's exp (+ leeway); default
                                       * "auth_expired", NULL: none */
    int         max_lifetime;         /* 0: none */
    int         stall_timeout;        /* seconds, default 120 */
    int         max_per_user;         /* 0: unlimited */
    char      **cors_origins;         /* NULL: no CORS */
    size_t      ncors;
    bool        cors_credentials;
} route_t;

typedef struct {
    size_t      n;
    const char *names[ROUTE_MAX_PARAMS];
    char        values[ROUTE_MAX_PARAMS][ROUTE_VALUE_MAX + 1];   /* percent-decoded */
} route_params_t;

/* Parse PATH (e.g. "/boards/{board}/events") into R's segments.
 * -1 with a message in ERR on a bad template. */
int route_parse_path(route_t *r, const char *path, char *err, size_t errlen);
/* Parse a channel template; checks that {name} placeholders exist in R's
 * path.  -1 with "unknown placeholder {foo}" etc. in ERR. */
int tpl_parse(const route_t *r, const char *text, tpl_t *t, char *err, size_t errlen);
void tpl_free(tpl_t *t);
void route_free(route_t *r);

/* Does the URL path PATH (LEN bytes, no query string) match R?  Fills P
 * with decoded placeholder values.  A segment that decodes to a value the
 * identity rule refuses (ident.h) does not match: 404. */
bool route_match(const route_t *r, const char *path, size_t len, route_params_t *p);
/* The token's subject as the {sub} template spells it (the identity rule
 * of ident.h: a string as is, an integer in decimal: sub 5 -> "5"), into
 * OUT; its length, -1 when the token has no sub (or one neither a string
 * nor an integer), -2 when the rule refuses it or it does not fit. */
int  route_subject(json_t *claims, char *out, size_t outlen);

/* First route matching PATH, or NULL */
const route_t *route_find(const route_t *routes, size_t n,
    const char *path, size_t len, route_params_t *p);

/* Expand template T into OUT (reset first) with path params P, the raw
 * query string QUERY (may be NULL) and the token's CLAIMS (may be NULL).
 * Every value goes through the identity rule (ident.h).  Returns 0; -1
 * with a reason in ERR when a value is missing or refused or the result
 * is not a valid channel name. */
int tpl_expand(const tpl_t *t, const route_params_t *p, const char *query,
    json_t *claims, buf_t *out, char *err, size_t errlen);
/* The same, with the HTTP status of a failure: 400 (a request value is
 * missing, malformed or too long) or 403 (the token lacks the claim, or
 * a value breaks the identity rule); 0 on success. */
int tpl_expand_status(const tpl_t *t, const route_params_t *p, const char *query,
    json_t *claims, buf_t *out, char *err, size_t errlen);

/* true when CLAIMS' "channels" array has a pattern matching CHANNEL */
bool grant_allows(json_t *claims, const char *channel);

/* The route type named S into *T; -1 for an unknown name (the config
 * error lists ROUTE_TYPE_NAMES). */
int route_type_parse(const char *s, route_type_t *t);
/* true when the array claim CLAIM of CLAIMS (e.g. "publish") has a channel
 * pattern (channel.h rules, '*' any run) matching CHANNEL; at most the
 * first 256 patterns are looked at. */
bool claim_allows(json_t *claims, const char *claim, const char *channel);

/* Query string helpers.  Find parameter NAME in QUERY ("a=1&b=2"), decode
 * it into OUT (size OUTLEN).  Returns the decoded length, or -1 when absent
 * or too long. */
int query_get(const char *query, const char *name, char *out, size_t outlen);
/* Percent-decode (and '+' -> ' ' when PLUS) IN into OUT; -1 on bad escape
 * or overflow. */
int url_decode(const char *in, size_t len, char *out, size_t outlen, bool plus);

#endif
