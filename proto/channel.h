/*
 * channel.h -- channel names and channel patterns.
 *
 * A channel name is 1..255 bytes of valid UTF-8 with no whitespace and no
 * control characters (SPEC 4).  A pattern is the same alphabet plus '*',
 * which matches any run of characters (including '/', and the empty run).
 * Patterns are used by broker.channels[].match and by the token's
 * "channels" grant claim.
 */
#ifndef ZSSE_CHANNEL_H
#define ZSSE_CHANNEL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define ZSSE_CHANNEL_MAX 255

/* true when S (LEN bytes) is a valid channel name */
bool channel_valid(const char *s, size_t len);

/* true when NAME matches PATTERN ('*' = any run); both NUL-terminated.
 * Linear-time in practice: no backtracking explosion on many stars. */
bool channel_match(const char *pattern, const char *name);

/* FNV-1a of S (LEN bytes): the hash of every table of channel names */
static inline uint64_t
channel_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* true when S is valid UTF-8 (rejects overlongs and surrogates) */
bool channel_utf8_valid(const char *s, size_t len);

#endif
