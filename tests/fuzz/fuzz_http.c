/* libFuzzer target: the FastCGI request values as zsse-fcgi reads them
 * (fcgi/http.c, proto/route.c): REQUEST_METHOD, REQUEST_URI, QUERY_STRING,
 * Cookie, Accept, Origin, Last-Event-ID, Authorization, SCRIPT_NAME and
 * PATH_INFO, through fcgi/request.c's request_admit() and setup: parse
 * (bounds), route, the token's sources (query parameter, cookie), the
 * channels expanded from path, query and claims and their grants, CORS,
 * poll mode and wait, Last-Event-ID from the header or the query.
 * Properties: a parsed request's path fits its buffer and has no query;
 * every channel a route expands to is a valid channel name; a channel
 * that needs a grant and passes is matched by the token's patterns; an
 * echoed Origin is exactly the request's.
 *
 * Input: the values in the order above, separated by NUL bytes (a
 * FastCGI value reaches the program as a C string: a NUL ends it). */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "../../fcgi/http.c"
#include "buf.h"
#include "channel.h"
#include "config.h"
#include "route.h"
#include "wire.h"

static const char *names[] = {
    "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "HTTP_COOKIE", "HTTP_ACCEPT",
    "HTTP_ORIGIN", "HTTP_LAST_EVENT_ID", "HTTP_AUTHORIZATION", "SCRIPT_NAME", "PATH_INFO",
};
#define NVALUES (sizeof(names) / sizeof(names[0]))

static const char conf[] =
    "{\"routes\": ["
    "{\"path\": \"/boards/{board}/events\", \"channels\": [\"board/{board}\", \"user/{sub}\"],"
    " \"cors\": {\"origins\": [\"https://app.example.com\"], \"credentials\": true}},"
    "{\"path\": \"/q/events\", \"channels\": [\"q/{query.topic}\", \"t/{claim.tenant}\"],"
    " \"auth\": \"optional\", \"cors\": {\"origins\": [\"*\"]}},"
    "{\"path\": \"/pub/{a}/{b}\", \"channels\": [\"{a}-{b}\"], \"auth\": \"none\"}"
    "]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config_t *cfg;
    static json_t *claims;
    char err[256];

    if (!cfg) {
        if (!(cfg = config_parse(conf, sizeof(conf) - 1, err, sizeof(err))))
            abort();
        claims = json_pack("{s:s, s:s, s:[s, s]}", "sub", "alice", "tenant", "t1",
            "channels", "board/*", "q/news");
    }
    char *copy = malloc(size + 1), *env[NVALUES + 1], *vals[NVALUES];
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t nv = 0;
    for (char *p = copy; nv < NVALUES && p <= copy + size; p += strlen(p) + 1)
        vals[nv++] = p;
    size_t ne = 0;
    for (size_t i = 0; i < nv; i++) {
        if (!*vals[i] && i != 1)
            continue;                       /* absent (REQUEST_URI "" is Apache's case) */
        if (asprintf(&env[ne], "%s=%s", names[i], vals[i]) < 0)
            abort();
        ne++;
    }
    env[ne] = NULL;
    FCGX_Request req;
    memset(&req, 0, sizeof(req));
    req.envp = env;

    http_t h;
    if (http_parse(&h, &req) == 0) {
        if (h.path_len >= sizeof(h.path) || strlen(h.path) != h.path_len ||
            (FCGX_GetParam("REQUEST_URI", env) && *FCGX_GetParam("REQUEST_URI", env) &&
             memchr(h.path, '?', h.path_len)))
            __builtin_trap();
        route_params_t p;
        const route_t *r = route_find(cfg->routes, cfg->nroutes, h.path, h.path_len, &p);
        char tok[4096], v[64];
        query_get(h.query, "token", tok, sizeof(tok));
        http_cookie(&h, "zsse_token", tok, sizeof(tok));
        query_get(h.query, "mode", v, sizeof(v));
        query_get(h.query, "wait", v, sizeof(v));
        const char *l = h.last_event_id;
        char qid[32];
        uint64_t leid;
        if (!*l && (query_get(h.query, "lastEventId", qid, sizeof(qid)) >= 0 ||
                    query_get(h.query, "last_event_id", qid, sizeof(qid)) >= 0))
            l = qid;
        if (*l && wire_parse_id(l, strlen(l), &leid) == 0 && leid > WIRE_ID_MAX)
            __builtin_trap();
        if (r) {
            const char *o = http_cors_match(&h, r);
            if (o && strcmp(o, h.origin) != 0)
                __builtin_trap();
            buf_t ch;
            buf_init(&ch, 1024);
            for (size_t i = 0; i < r->nchannels; i++) {
                json_t *c = (data[0] & 1) ? claims : NULL;  /* with a token, or anonymous */
                if (tpl_expand(&r->channels[i], &p, h.query, c, &ch, err, sizeof(err)) < 0)
                    continue;
                if (!channel_valid(ch.data, ch.len))
                    __builtin_trap();               /* an invalid channel reaches the broker */
                if (r->channels[i].needs_grant && c && grant_allows(c, ch.data) &&
                    strncmp(ch.data, "board/", 6) != 0 && strcmp(ch.data, "q/news") != 0)
                    __builtin_trap();               /* granted beyond the patterns */
            }
            buf_free(&ch);
        }
    }
    for (size_t i = 0; i < ne; i++)
        free(env[i]);
    free(copy);
    return 0;
}
