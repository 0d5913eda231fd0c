/*
 * topic.c -- Mercure topics on zsse channels, and topic selectors (see
 * topic.h).  URI templates are matched by backtracking over the topic
 * with a step budget, so no selector can make a match expensive.
 */
#include <ctype.h>
#include <string.h>
#include "channel.h"
#include "topic.h"

int
topic_channel(buf_t *out, const char *topic, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    buf_reset(out);
    if (len == 0 || !channel_utf8_valid(topic, len) || buf_puts(out, TOPIC_PREFIX) < 0)
        return -1;
    for (size_t i = 0; i < len; ) {
        unsigned char c = (unsigned char)topic[i];
        /* one character (valid UTF-8: checked above); kept when a channel
         * name may hold it (channel.c's rule), else its bytes as %XX */
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (c == '%' || c == '*' || !channel_valid(topic + i, n)) {
            for (size_t k = 0; k < n; k++) {
                unsigned char b = (unsigned char)topic[i + k];
                char e[3] = { '%', hex[b >> 4], hex[b & 15] };
                if (buf_append(out, e, 3) < 0)
                    return -1;
            }
        } else if (buf_append(out, topic + i, n) < 0) {
            return -1;
        }
        i += n;
    }
    if (out->len > ZSSE_CHANNEL_MAX || buf_putc(out, '\0') < 0)
        return -1;
    out->len--;
    return 0;
}

/* --- URI templates (RFC 6570), matched against a topic -------------------------- */

static bool
topic_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%' || c >= 0x80;
}

static bool
topic_reserved(unsigned char c)
{
    return c && strchr(":/?#[]@!$&'()*+,;=", c);
}

/* may C appear in the expansion of an expression with operator OP? */
static bool
topic_expands_to(char op, unsigned char c, bool many)
{
    switch (op) {
    case '+': case '#': return topic_unreserved(c) || topic_reserved(c);
    case '/': return topic_unreserved(c) || c == '/' || (many && c == ',');
    case '.': return topic_unreserved(c) || (many && c == ',');
    case ';': return topic_unreserved(c) || c == ';' || c == '=' || c == ',';
    case '?': case '&': return topic_unreserved(c) || c == '&' || c == '=' || c == ',';
    default:  return topic_unreserved(c) || (many && c == ',');
    }
}

static bool
topic_tmatch(const char *t, const char *s, int *budget)
{
    if (--*budget <= 0)
        return false;
    while (*t && *t != '{') {
        if (*t++ != *s++)
            return false;
    }
    if (!*t)
        return !*s;
    const char *close = strchr(t, '}');
    if (!close)
        return false;
    char op = strchr("+#./;?&", t[1]) ? t[1] : 0;
    bool many = memchr(t + 1, ',', (size_t)(close - t - 1)) != NULL;
    const char *rest = close + 1;
    /* the expression expands to nothing ... */
    if (topic_tmatch(rest, s, budget))
        return true;
    /* ... or to its prefix (if any) and a run of the characters it may use */
    const char *p = s;
    if (op && op != '+') {
        if (*p != (op == '&' ? '&' : op))
            return false;
        p++;
    }
    for (const char *e = p; *e && topic_expands_to(op, (unsigned char)*e, many); ) {
        e++;
        if (topic_tmatch(rest, e, budget))
            return true;
        if (*budget <= 0)
            return false;
    }
    return false;
}

bool
topic_match(const char *sel, const char *topic)
{
    int budget = TOPIC_MATCH_BUDGET;

    if (strcmp(sel, "*") == 0)
        return true;
    if (!strchr(sel, '{'))
        return strcmp(sel, topic) == 0;
    return topic_tmatch(sel, topic, &budget);
}

/* a selector we accept: UTF-8, no controls, balanced braces */
bool
topic_selector_valid(const char *s, size_t n)
{
    int depth = 0;

    if (n == 0 || n > TOPIC_SELECTOR_MAX || !channel_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c == '{' && depth++)
            return false;
        if (c == '}' && --depth < 0)
            return false;
    }
    return depth == 0;
}

bool
topic_is_pattern(const char *sel)
{
    return strcmp(sel, "*") == 0 || strchr(sel, '{');
}
