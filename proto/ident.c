/*
 * ident.c -- the identity rule (see ident.h).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "channel.h"
#include "ident.h"

ident_result_t
ident_check(const char *s, size_t len)
{
    if (len == 0)
        return IDENT_EMPTY;
    if (len > IDENT_MAX)
        return IDENT_TOO_LONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == '*')
            return IDENT_BAD_CHAR;
    }
    if (!channel_utf8_valid(s, len))
        return IDENT_BAD_UTF8;
    /* the rest of the channel alphabet: Unicode white space and C1
     * controls (channel_valid knows them) */
    return channel_valid(s, len) ? IDENT_OK : IDENT_BAD_CHAR;
}

ident_result_t
ident_json(const json_t *v, char *scratch, size_t scratch_len, const char **out,
    size_t *out_len)
{
    assert(scratch_len >= 24);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (strlen(s) != n)
            return IDENT_BAD_CHAR;          /* an embedded NUL */
        ident_result_t r = ident_check(s, n);
        if (r == IDENT_OK) {
            *out = s;
            *out_len = n;
        }
        return r;
    }
    if (json_is_integer(v)) {
        int n = snprintf(scratch, scratch_len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = scratch;
        *out_len = (size_t)n;
        return IDENT_OK;
    }
    return IDENT_NOT_SCALAR;
}

const char *
ident_reason(ident_result_t r)
{
    switch (r) {
    case IDENT_OK:         return "ok";
    case IDENT_EMPTY:      return "is empty";
    case IDENT_TOO_LONG:   return "is longer than 255 bytes";
    case IDENT_BAD_UTF8:   return "is not valid UTF-8";
    case IDENT_BAD_CHAR:   return "contains '/', '*', white space or a control character";
    case IDENT_NOT_SCALAR: return "is not a string or an integer";
    }
    return "is not usable";
}
