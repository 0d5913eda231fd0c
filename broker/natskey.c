/*
 * natskey.c -- bytes as one NATS subject token / KV key; see natskey.h.
 */
#include <assert.h>
#include "natskey.h"

static const char natskey_hex[] = "0123456789ABCDEF";

/* kept as itself: [A-Za-z0-9_-] (ASCII, whatever the locale) */
static int
natskey_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '_' || c == '-';
}

/* the value of an uppercase hex digit, or -1 */
static int
natskey_xdigit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t
natskey_encode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return -1;
    out[0] = '\0';
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        size_t need = natskey_plain(c) ? 1 : 3;
        if (cap - o < need + 1) {       /* o < cap holds: room for the NUL */
            out[0] = '\0';
            return -1;
        }
        if (need == 1)
            out[o++] = (char)c;
        else {
            out[o++] = '=';
            out[o++] = natskey_hex[c >> 4];
            out[o++] = natskey_hex[c & 0xf];
        }
    }
    assert(o < cap);
    out[o] = '\0';
    return (ssize_t)o;
}

ssize_t
natskey_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; ) {
        unsigned char c = (unsigned char)in[i];
        if (o == cap)
            return -1;
        if (natskey_plain(c)) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        if (c != '=' || len - i < 3)
            return -1;
        int hi = natskey_xdigit((unsigned char)in[i + 1]);
        int lo = natskey_xdigit((unsigned char)in[i + 2]);
        if (hi < 0 || lo < 0 || natskey_plain((unsigned char)(hi << 4 | lo)))
            return -1;
        out[o++] = (char)(hi << 4 | lo);
        i += 3;
    }
    return (ssize_t)o;
}
