/*
 * ident.h -- the one rule for identities: how a request or token value
 * becomes a channel segment ({name}, {query.NAME}, {sub}, {claim.NAME})
 * or a lease subject (the user max_per_user counts), issue 13 item 4.
 *
 * A value is usable when it is 1..IDENT_MAX bytes of valid UTF-8 with no
 * '/', no '*', no whitespace and no control character (SPEC 4's channel
 * alphabet, less the two characters that would let a value reach into
 * another channel's path -- "bob/admin" -- or widen a grant pattern).
 * A token value is a JSON string (taken as it is) or an integer (spelled
 * in decimal, as the token spells it: JSON has one spelling per integer);
 * a number with a fraction or exponent, a boolean, null, an array or an
 * object is refused: no one spelling of it can be trusted to match what
 * the issuer meant.  Nothing is ever rewritten or escaped: a value either
 * passes unchanged or is refused.
 *
 * Users: route.c (channel templates, path placeholders), fcgi/request.c (the
 * lease subject), the broker's lease table (numeric subs).
 */
#ifndef ZSSE_IDENT_H
#define ZSSE_IDENT_H

#include <stddef.h>
#include <jansson.h>

#define IDENT_MAX 255               /* bytes: a channel name's bound */

typedef enum {
    IDENT_OK = 0,
    IDENT_EMPTY,                    /* "" */
    IDENT_TOO_LONG,                 /* over IDENT_MAX bytes */
    IDENT_BAD_UTF8,                 /* not valid UTF-8 */
    IDENT_BAD_CHAR,                 /* '/', '*', whitespace, a control char, NUL */
    IDENT_NOT_SCALAR                /* JSON: not a string or an integer */
} ident_result_t;

/* Check S (LEN bytes) against the rule. */
ident_result_t ident_check(const char *s, size_t len);

/* The identity of JSON value V: a string as it is (*OUT points into V),
 * an integer in decimal written into SCRATCH (SCRATCH_LEN >= 24).  On
 * IDENT_OK *OUT / *OUT_LEN are set. */
ident_result_t ident_json(const json_t *v, char *scratch, size_t scratch_len,
    const char **out, size_t *out_len);

/* a short reason for the 403 body: "contains '/', '*', white space or a
 * control character" ... */
const char *ident_reason(ident_result_t r);

#endif
