/*
 * route.c -- route paths, channel templates, grants, query strings.
 * See route.h for the rules.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "ident.h"
#include "jsontext.h"
#include "route.h"

/* --- parsing (config time) ------------------------------------------- */

static bool
route_valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

int
route_parse_path(route_t *r, const char *path, char *err, size_t errlen)
{
    const char *p = path;

    if (path[0] != '/') {
        snprintf(err, errlen, "must start with /");
        return -1;
    }
    if (strlen(path) > 1024) {
        snprintf(err, errlen, "longer than 1024 bytes");
        return -1;
    }
    r->segs = calloc(ROUTE_MAX_SEGMENTS, sizeof(char *));
    r->seg_names = calloc(ROUTE_MAX_SEGMENTS, sizeof(char *));
    if (!r->segs || !r->seg_names) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (*p == '/') {
        const char *s = p + 1, *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0) {
            if (!e && r->nsegs == 0)
                break;                          /* the path "/" */
            snprintf(err, errlen, "empty path segment");
            return -1;
        }
        if (r->nsegs == ROUTE_MAX_SEGMENTS || r->nsegs == ROUTE_MAX_PARAMS * 2) {
            snprintf(err, errlen, "more than %d segments", ROUTE_MAX_SEGMENTS);
            return -1;
        }
        if (s[0] == '{') {
            if (n < 3 || s[n - 1] != '}' || !route_valid_name(s + 1, n - 2)) {
                snprintf(err, errlen, "a placeholder is {name} and takes a whole segment");
                return -1;
            }
            char *name = strndup(s + 1, n - 2);
            if (!name) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            for (size_t i = 0; i < r->nsegs; i++)
                if (r->seg_names[i] && strcmp(r->seg_names[i], name) == 0) {
                    snprintf(err, errlen, "placeholder {%s} used twice", name);
                    free(name);
                    return -1;
                }
            r->seg_names[r->nsegs++] = name;
        } else {
            if (memchr(s, '{', n) || memchr(s, '}', n)) {
                snprintf(err, errlen, "a placeholder is {name} and takes a whole segment");
                return -1;
            }
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= 0x20 || s[i] == '?' || s[i] == '#' || s[i] == 0x7f) {
                    snprintf(err, errlen, "bad character in path");
                    return -1;
                }
            if (!(r->segs[r->nsegs++] = strndup(s, n))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
        p = s + n;
    }
    size_t params = 0;
    for (size_t i = 0; i < r->nsegs; i++)
        params += r->seg_names[i] != NULL;
    if (params > ROUTE_MAX_PARAMS) {
        snprintf(err, errlen, "more than %d placeholders", ROUTE_MAX_PARAMS);
        return -1;
    }
    return 0;
}

static bool
route_path_has_param(const route_t *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nsegs; i++)
        if (r->seg_names[i] && strlen(r->seg_names[i]) == n &&
            memcmp(r->seg_names[i], name, n) == 0)
            return true;
    return false;
}

static int
route_add_part(tpl_t *t, tpl_kind_t kind, const char *s, size_t n)
{
    tpl_part_t *p = realloc(t->parts, (t->nparts + 1) * sizeof(*p));
    if (!p)
        return -1;
    t->parts = p;
    p[t->nparts].kind = kind;
    if (!(p[t->nparts].text = strndup(s, n)))
        return -1;
    t->nparts++;
    return 0;
}

int
tpl_parse(const route_t *r, const char *text, tpl_t *t, char *err, size_t errlen)
{
    const char *p = text;

    memset(t, 0, sizeof(*t));
    if (*text == '\0') {
        snprintf(err, errlen, "empty channel template");
        return -1;
    }
    while (*p) {
        const char *open = strchr(p, '{'), *close = strchr(p, '}');
        if (close && (!open || close < open)) {
            snprintf(err, errlen, "unbalanced }");
            return -1;
        }
        size_t lit = open ? (size_t)(open - p) : strlen(p);
        if (lit) {
            if (!channel_valid(p, lit) || memchr(p, '*', lit)) {
                snprintf(err, errlen, "bad character in channel template");
                return -1;
            }
            if (route_add_part(t, TPL_LITERAL, p, lit) < 0)
                goto oom;
        }
        if (!open)
            break;
        if (!close) {
            snprintf(err, errlen, "unbalanced {");
            return -1;
        }
        const char *name = open + 1;
        size_t n = (size_t)(close - name);
        if (n == 3 && memcmp(name, "sub", 3) == 0) {
            if (route_add_part(t, TPL_SUB, name, n) < 0)
                goto oom;
        } else if (n > 6 && memcmp(name, "query.", 6) == 0 && route_valid_name(name + 6, n - 6)) {
            if (route_add_part(t, TPL_QUERY, name + 6, n - 6) < 0)
                goto oom;
            t->needs_grant = true;
        } else if (n > 6 && memcmp(name, "claim.", 6) == 0 && route_valid_name(name + 6, n - 6)) {
            if (route_add_part(t, TPL_CLAIM, name + 6, n - 6) < 0)
                goto oom;
        } else if (route_valid_name(name, n) && route_path_has_param(r, name, n)) {
            if (route_add_part(t, TPL_PATH, name, n) < 0)
                goto oom;
            t->needs_grant = true;
        } else {
            snprintf(err, errlen, "unknown placeholder {%.*s}", (int)(n > 64 ? 64 : n), name);
            return -1;
        }
        p = close + 1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

void
tpl_free(tpl_t *t)
{
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].text);
    free(t->parts);
    memset(t, 0, sizeof(*t));
}

void
route_free(route_t *r)
{
    for (size_t i = 0; i < r->nsegs; i++) {
        free(r->segs ? r->segs[i] : NULL);
        free(r->seg_names ? r->seg_names[i] : NULL);
    }
    free(r->segs);
    free(r->seg_names);
    for (size_t i = 0; i < r->nchannels; i++)
        tpl_free(&r->channels[i]);
    free(r->channels);
    free(r->path);
    json_decref(r->require);
    free(r->hello_event);
    free(r->hello_data);
    free(r->heartbeat_comment);
    free(r->reset_event);
    free(r->auth_expired_event);
    for (size_t i = 0; i < r->ncors; i++)
        free(r->cors_origins[i]);
    free(r->cors_origins);
    memset(r, 0, sizeof(*r));
}

/* --- request time ----------------------------------------------------- */

int
url_decode(const char *in, size_t len, char *out, size_t outlen, bool plus)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= len || (h = jsontext_hex_digit(in[i + 1])) < 0 || (l = jsontext_hex_digit(in[i + 2])) < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}


bool
route_match(const route_t *r, const char *path, size_t len, route_params_t *p)
{
    size_t i = 0, pos = 0;

    p->n = 0;
    if (len == 0 || path[0] != '/')
        return false;
    if (r->nsegs == 0)
        return len == 1;
    while (pos < len) {
        if (path[pos] != '/' || i == r->nsegs)
            return false;
        size_t s = pos + 1, e = s;
        while (e < len && path[e] != '/')
            e++;
        size_t n = e - s;
        if (n == 0)
            return false;
        if (r->segs[i]) {
            if (strlen(r->segs[i]) != n || memcmp(r->segs[i], path + s, n) != 0)
                return false;
        } else {
            if (p->n == ROUTE_MAX_PARAMS)
                return false;
            int d = url_decode(path + s, n, p->values[p->n], sizeof(p->values[0]), false);
            if (d < 0 || ident_check(p->values[p->n], (size_t)d) != IDENT_OK)
                return false;
            p->names[p->n++] = r->seg_names[i];
        }
        i++;
        pos = e;
    }
    return i == r->nsegs;
}

const route_t *
route_find(const route_t *routes, size_t n, const char *path, size_t len,
    route_params_t *p)
{
    for (size_t i = 0; i < n; i++)
        if (route_match(&routes[i], path, len, p))
            return &routes[i];
    return NULL;
}

int
query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = query;

    if (!query)
        return -1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + n;
            return url_decode(v, (size_t)(p + n - v), out, outlen, true);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return -1;
}

int
tpl_expand(const tpl_t *t, const route_params_t *p, const char *query,
    json_t *claims, buf_t *out, char *err, size_t errlen)
{
    return tpl_expand_status(t, p, query, claims, out, err, errlen) ? -1 : 0;
}

int
tpl_expand_status(const tpl_t *t, const route_params_t *p, const char *query,
    json_t *claims, buf_t *out, char *err, size_t errlen)
{
    char v[ROUTE_VALUE_MAX + 1];
    ident_result_t ir;

    buf_reset(out);
    for (size_t i = 0; i < t->nparts; i++) {
        const tpl_part_t *part = &t->parts[i];
        const char *s = NULL;
        size_t n = 0;
        json_t *c;
        switch (part->kind) {
        case TPL_LITERAL:
            s = part->text;
            n = strlen(s);
            break;
        case TPL_PATH:
            /* (route_match let only values that pass the rule match) */
            for (size_t k = 0; k < p->n; k++)
                if (strcmp(p->names[k], part->text) == 0) {
                    s = p->values[k];
                    n = strlen(s);
                }
            if (!s) {
                snprintf(err, errlen, "path placeholder %s missing", part->text);
                return 400;
            }
            break;
        case TPL_QUERY: {
            int d = query_get(query, part->text, v, sizeof(v));
            if (d <= 0) {
                snprintf(err, errlen, "query parameter %s missing or too long", part->text);
                return 400;
            }
            if ((ir = ident_check(v, (size_t)d)) != IDENT_OK) {
                snprintf(err, errlen, "query parameter %s %s", part->text, ident_reason(ir));
                return ir == IDENT_BAD_CHAR ? 403 : 400;
            }
            s = v;
            n = (size_t)d;
            break;
        }
        case TPL_SUB:
        case TPL_CLAIM: {
            const char *name = part->kind == TPL_SUB ? "sub" : part->text;
            c = claims ? json_object_get(claims, name) : NULL;
            if (!c) {
                snprintf(err, errlen, "token has no %s claim", name);
                return 403;
            }
            if ((ir = ident_json(c, v, sizeof(v), &s, &n)) != IDENT_OK) {
                snprintf(err, errlen, "token claim %s %s", name, ident_reason(ir));
                return 403;
            }
            break;
        }
        }
        if (buf_append(out, s, n) < 0) {
            snprintf(err, errlen, "channel too long");
            return 400;
        }
    }
    if (!channel_valid(out->data, out->len)) {
        snprintf(err, errlen, "not a valid channel name");
        return 400;
    }
    return 0;
}

int
route_subject(json_t *claims, char *out, size_t outlen)
{
    char v[64];
    const char *s;
    size_t n;
    json_t *c = claims ? json_object_get(claims, "sub") : NULL;

    /* exactly what {sub} would put into a channel (ident.h) */
    if (!c || !(json_is_string(c) || json_is_integer(c)))
        return -1;
    if (ident_json(c, v, sizeof(v), &s, &n) != IDENT_OK || n >= outlen)
        return -2;
    memcpy(out, s, n);
    out[n] = '\0';
    return (int)n;
}

bool
grant_allows(json_t *claims, const char *channel)
{
    return claim_allows(claims, "channels", channel);
}

int
route_type_parse(const char *s, route_type_t *t)
{
    static const struct { const char *name; route_type_t type; } types[] = {
        { "stream", ROUTE_STREAM }, { "stats", ROUTE_STATS },
        { "publish", ROUTE_PUBLISH }, { "mercure", ROUTE_MERCURE },
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(s, types[i].name) == 0) {
            *t = types[i].type;
            return 0;
        }
    return -1;
}

bool
claim_allows(json_t *claims, const char *claim, const char *channel)
{
    json_t *g = claims ? json_object_get(claims, claim) : NULL;
    size_t i;
    json_t *v;

    if (!json_is_array(g))
        return false;
    json_array_foreach(g, i, v) {
        if (i >= 256)
            break;              /* bound the work a token can ask for */
        if (json_is_string(v) && channel_match(json_string_value(v), channel))
            return true;
    }
    return false;
}
