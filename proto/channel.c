/*
 * channel.c -- channel names and patterns.  See channel.h.
 */
#include <string.h>
#include "channel.h"

bool
channel_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) { p++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return false;
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;               /* overlong, out of range, surrogate */
        p += n + 1;
    }
    return true;
}

/* Unicode white space and C1 controls we refuse besides ASCII ones */
static bool
channel_bad_multibyte(const unsigned char *p, size_t left)
{
    if (p[0] == 0xc2 && left > 1 && (p[1] <= 0x9f || p[1] == 0xa0))
        return true;                    /* C1 controls, NBSP */
    if (p[0] == 0xe2 && left > 2 && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
        return true;                    /* U+2000..200A, 2028, 2029, 202F */
    if (p[0] == 0xe3 && left > 2 && p[1] == 0x80 && p[2] == 0x80)
        return true;                    /* U+3000 */
    if (p[0] == 0xe1 && left > 2 && p[1] == 0x9a && p[2] == 0x80)
        return true;                    /* U+1680 */
    return false;
}

bool
channel_valid(const char *s, size_t len)
{
    if (len < 1 || len > ZSSE_CHANNEL_MAX || !channel_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
        if (c >= 0xc2 && channel_bad_multibyte((const unsigned char *)s + i, len - i))
            return false;
    }
    return true;
}

bool
channel_match(const char *pat, const char *name)
{
    const char *star = NULL, *resume = NULL;

    /* the classic iterative glob: on a mismatch, let the last '*' eat one
     * more character; no recursion, O(len(pat) * len(name)) at worst */
    while (*name) {
        if (*pat == '*') {
            star = pat++;
            resume = name;
        } else if (*pat == *name) {
            pat++;
            name++;
        } else if (star) {
            pat = star + 1;
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}
