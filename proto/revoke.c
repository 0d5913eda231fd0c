/*
 * revoke.c -- the table of revoked tokens (see revoke.h).  A small array
 * scanned whole: REVOKE_MAX entries, looked at once per stream opened.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ident.h"
#include "revoke.h"

/* what an entry revokes (the "sub" or "jti" claim) */
#define REVOKE_SUB 's'
#define REVOKE_JTI 'j'

typedef struct {
    char    kind;               /* REVOKE_SUB, REVOKE_JTI */
    int64_t at, until;          /* unix s */
    size_t  len;
    char    value[IDENT_MAX + 1];
} entry_t;

struct revoke {
    pthread_mutex_t mu;
    entry_t        *e;
    size_t          n;
};

revoke_t *
revoke_new(void)
{
    revoke_t *r = calloc(1, sizeof(*r));
    if (!r || !(r->e = calloc(REVOKE_MAX, sizeof(entry_t)))) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void
revoke_destroy(revoke_t **rp)
{
    if (!*rp)
        return;
    pthread_mutex_destroy(&(*rp)->mu);
    free((*rp)->e);
    free(*rp);
    *rp = NULL;
}

static char
revoke_kind_of(const char *kind)
{
    return strcmp(kind, "sub") == 0 ? REVOKE_SUB : strcmp(kind, "jti") == 0 ? REVOKE_JTI : 0;
}

/* (under the lock) */
static int
revoke_put(revoke_t *r, char k, const char *value, size_t len, int64_t at, int64_t until)
{
    if (!k || len == 0 || len > IDENT_MAX || memchr(value, '\0', len))
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        entry_t *e = &r->e[i];
        if (e->kind == k && e->len == len && memcmp(e->value, value, len) == 0) {
            if (at > e->at)
                e->at = at;
            if (until > e->until)
                e->until = until;
            return 0;
        }
    }
    if (r->n == REVOKE_MAX)
        return -1;
    entry_t *e = &r->e[r->n++];
    e->kind = k;
    e->at = at;
    e->until = until;
    e->len = len;
    memcpy(e->value, value, len);
    e->value[len] = '\0';
    return 0;
}

int
revoke_add(revoke_t *r, const char *kind, const char *value, size_t len, int64_t at,
    int64_t until)
{
    pthread_mutex_lock(&r->mu);
    int rc = revoke_put(r, revoke_kind_of(kind), value, len, at, until);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

size_t
revoke_expire(revoke_t *r, int64_t now)
{
    pthread_mutex_lock(&r->mu);
    size_t w = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].until > now)
            r->e[w++] = r->e[i];
    r->n = w;
    pthread_mutex_unlock(&r->mu);
    return w;
}

bool
revoke_refuses(revoke_t *r, json_t *claims, int64_t now)
{
    char scratch[32];
    const char *sub = NULL, *jti = NULL;
    size_t sublen = 0, jtilen = 0;
    json_t *iat = claims ? json_object_get(claims, "iat") : NULL;
    json_t *j = claims ? json_object_get(claims, "jti") : NULL;
    bool refused = false;

    if (!claims)
        return false;
    if (ident_json(json_object_get(claims, "sub"), scratch, sizeof(scratch), &sub,
        &sublen) != IDENT_OK)
        sub = NULL;
    if (json_is_string(j)) {
        jti = json_string_value(j);
        jtilen = json_string_length(j);
    }
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !refused; i++) {
        const entry_t *e = &r->e[i];
        if (e->until <= now)
            continue;
        if (e->kind == REVOKE_SUB && sub && e->len == sublen && memcmp(e->value, sub, sublen) == 0)
            refused = !json_is_number(iat) || json_number_value(iat) <= (double)e->at;
        else if (e->kind == REVOKE_JTI && jti && e->len == jtilen && memcmp(e->value, jti, jtilen) == 0)
            refused = true;
    }
    pthread_mutex_unlock(&r->mu);
    return refused;
}

char *
revoke_dump(revoke_t *r)
{
    json_t *a = json_array();

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; a && i < r->n; i++) {
        const entry_t *e = &r->e[i];
        json_array_append_new(a, json_pack("{s:s, s:s#, s:I, s:I}", "k",
            e->kind == REVOKE_SUB ? "sub" : "jti", "v", e->value, (int)e->len, "at",
            (json_int_t)e->at, "until", (json_int_t)e->until));
    }
    pthread_mutex_unlock(&r->mu);
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

int
revoke_load(revoke_t *r, const char *text, size_t len)
{
    json_t *a = json_loadb(text, len, 0, NULL), *v;
    size_t i;

    if (!json_is_array(a) || json_array_size(a) > REVOKE_MAX) {
        json_decref(a);
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    r->n = 0;
    json_array_foreach(a, i, v) {
        json_t *k = json_object_get(v, "k"), *val = json_object_get(v, "v");
        json_t *at = json_object_get(v, "at"), *until = json_object_get(v, "until");
        if (json_is_string(k) && json_is_string(val) && json_is_integer(at) &&
            json_is_integer(until))
            revoke_put(r, revoke_kind_of(json_string_value(k)), json_string_value(val),
                json_string_length(val), json_integer_value(at), json_integer_value(until));
    }
    pthread_mutex_unlock(&r->mu);
    json_decref(a);
    return 0;
}
