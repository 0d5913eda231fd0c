/*
 * topic.h -- Mercure topics and topic selectors (issue 15; the Mercure
 * protocol, "Topic Selectors"), for the Mercure route (fcgi/mercure.h).
 *
 * A topic (any UTF-8 string, usually an IRI) lives on the zsse channel
 * TOPIC_PREFIX + its channel-safe encoding: '%', '*' and every character
 * a channel name may not hold (white space, controls, Unicode spaces:
 * channel.h) become %XX per byte, everything else stays, so every topic of
 * at most
 * 247 bytes (once encoded) round-trips through a valid channel name
 * (channel.h) and '*' never reaches a grant pattern.
 *
 * A selector is "*" (every topic), a URI template (RFC 6570: it contains
 * '{'), or an exact topic.  Templates match with expressions of the
 * operators none, +, #, /, ., ;, ? and &: each expands to nothing or to
 * its prefix and a run of the characters that operator's expansion may
 * contain (RFC 6570 section 3.2).  A match takes at most
 * TOPIC_MATCH_BUDGET steps, then fails.
 */
#ifndef ZSSE_TOPIC_H
#define ZSSE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

#define TOPIC_PREFIX        "mercure/"
#define TOPIC_ALL           "mercure:all"   /* every update, for pattern selectors */
#define TOPIC_SELECTOR_MAX  1024            /* bytes */
#define TOPIC_MATCH_BUDGET  20000           /* steps of one template match */

/* TOPIC_PREFIX + the encoding of TOPIC (LEN bytes) into OUT (reset first,
 * NUL-terminated); -1 when TOPIC is empty, not valid UTF-8, or the channel
 * would pass 255 bytes */
int  topic_channel(buf_t *out, const char *topic, size_t len);

/* Does selector SEL match TOPIC?  (both NUL-terminated) */
bool topic_match(const char *sel, const char *topic);

/* a selector we take: 1..TOPIC_SELECTOR_MAX bytes of UTF-8, no control
 * characters, braces balanced and not nested */
bool topic_selector_valid(const char *s, size_t n);

/* "*" or a template: it cannot be subscribed as one channel */
bool topic_is_pattern(const char *sel);

#endif
