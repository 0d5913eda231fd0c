/*
 * revoke.h -- revoked tokens (`zsse revoke`, issue 13 item 1).
 *
 * An entry refuses tokens until UNTIL (unix seconds), then is dropped:
 *     sub ID   every token of subject ID issued at or before AT (its "iat";
 *              a token without iat too) -- a token issued later passes, so
 *              a user can sign in again once the application lets them;
 *     jti ID   the token whose "jti" is ID.
 * The broker keeps the table (bounded: REVOKE_MAX entries) and publishes
 * it whole on the reserved topic REVOKE_TOPIC whenever it changes and
 * once a second while it is not empty; every worker hub subscribes, keeps
 * a copy, ends the open streams it now refuses, and new streams are
 * checked against it.  The message is an EVENTS message (wire.h) on that
 * topic whose data is the table as JSON:
 *     [{"k": "sub", "v": "bob", "at": 1796040000, "until": 1796043600}, ...]
 * A subject is compared as the identity rule spells it (ident.h).
 *
 * The table locks itself: threads may share it.
 */
#ifndef ZSSE_REVOKE_H
#define ZSSE_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define REVOKE_MAX    4096
#define REVOKE_TOPIC  "\x02zsse.revoked"    /* no channel starts with a control byte */
#define REVOKE_TTL_MAX (366 * 86400)        /* s */

typedef struct revoke revoke_t;

revoke_t *revoke_new(void);
void      revoke_destroy(revoke_t **rp);
/* Add (or extend) an entry: KIND "sub" or "jti", VALUE (LEN bytes).
 * 0; -1 when KIND or VALUE is not valid or the table is full. */
int   revoke_add(revoke_t *r, const char *kind, const char *value, size_t len, int64_t at,
    int64_t until);
/* drop the entries past their UNTIL; returns how many are left */
size_t revoke_expire(revoke_t *r, int64_t now);
/* does the table refuse a token with CLAIMS (NULL: no token) at NOW? */
bool  revoke_refuses(revoke_t *r, json_t *claims, int64_t now);
/* the table as JSON text (malloc'd; NULL: out of memory) */
char *revoke_dump(revoke_t *r);
/* replace the table by JSON text TEXT (LEN bytes), as revoke_dump wrote
 * it; -1 when it is not that (the table is left alone) */
int   revoke_load(revoke_t *r, const char *text, size_t len);

#endif
