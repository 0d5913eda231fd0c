/*
 * jsontext.c -- scanning the raw text of valid JSON (see jsontext.h).
 *
 * A tiny scanner, not a parser: it trusts that the text is valid JSON and
 * only tracks strings (with escapes) and bracket depth.  Keys are compared
 * after decoding the escapes a key may use (\" \\ \/ and \uXXXX for ASCII),
 * so "d\u0061ta" is found as "data".
 */
#include <string.h>
#include "jsontext.h"

bool
jsontext_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
jsontext_skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && jsontext_is_ws(s[i]))
        i++;
    return i;
}

/* I at an opening quote: index just past the closing quote, or LEN+1 */
static size_t
jsontext_skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len + 1;
}

/* I at the start of a value: index just past it, or LEN+1 */
static size_t
jsontext_skip_value(const char *s, size_t len, size_t i)
{
    int depth = 0;

    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = jsontext_skip_string(s, len, i);
            if (i > len)
                return len + 1;
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;           /* end of the enclosing container */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || jsontext_is_ws(c))) {
            return i;               /* end of a number / literal */
        }
        i++;
    }
    return depth == 0 ? i : len + 1;
}

int
jsontext_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t
jsontext_compact(const char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '"') {
            size_t e = jsontext_skip_string(in, len, i);
            if (e > len)
                e = len;
            memcpy(out + o, in + i, e - i);
            o += e - i;
            i = e - 1;
        } else if (!jsontext_is_ws(c)) {
            out[o++] = c;
        }
    }
    return o;
}

int
jsontext_array_next(const char *text, size_t len, size_t *pos, const char **val, size_t *vlen)
{
    size_t i, ve;

    if (*pos == JSONTEXT_ARRAY_DONE)
        return 1;
    i = jsontext_skip_ws(text, len, *pos);
    if (*pos == 0) {
        if (i >= len || text[i] != '[')
            return -1;
        i = jsontext_skip_ws(text, len, i + 1);
        if (i < len && text[i] == ']') {
            *pos = JSONTEXT_ARRAY_DONE;
            return 1;
        }
    }
    ve = jsontext_skip_value(text, len, i);
    if (ve > len || ve == i)
        return -1;
    *val = text + i;
    *vlen = ve - i;
    i = jsontext_skip_ws(text, len, ve);
    if (i < len && text[i] == ',')
        *pos = i + 1;
    else if (i < len && text[i] == ']')
        *pos = JSONTEXT_ARRAY_DONE;
    else
        return -1;
    return 0;
}

size_t
jsontext_value_end(const char *text, size_t len)
{
    size_t i = jsontext_skip_ws(text, len, 0), ve;

    if (i >= len)
        return 0;
    ve = jsontext_skip_value(text, len, i);
    return ve > len || ve == i ? 0 : ve;
}
