/*
 * sse.c -- Server-Sent Events framing.  See sse.h.
 */
#include <string.h>
#include "event.h"
#include "sse.h"

/* "PREFIX" + each line of S (split at CR, LF, CRLF) + "\n" */
static int
sse_put_lines(buf_t *out, const char *prefix, size_t plen, const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '\r' && s[i] != '\n')
            continue;
        if (buf_append(out, prefix, plen) < 0 ||
            buf_append(out, s + start, i - start) < 0 ||
            buf_putc(out, '\n') < 0)
            return -1;
        if (i < len && s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    return 0;
}

int
sse_json_quote(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (buf_putc(out, '"') < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (buf_append(out, s + run, i - run) < 0)
            return -1;
        switch (c) {
        case '"':  esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (buf_puts(out, esc) < 0)
            return -1;
        run = i + 1;
    }
    if (buf_append(out, s + run, len - run) < 0 || buf_putc(out, '"') < 0)
        return -1;
    return 0;
}

int
sse_mercure_parse(const char *data, size_t len, sse_mercure_t *m)
{
    const size_t ml = sizeof(SSE_MERCURE_MAGIC) - 1;
    const char *p = data + ml, *end = data + len;

    memset(m, 0, sizeof(*m));
    m->retry = -1;
    if (len < ml || memcmp(data, SSE_MERCURE_MAGIC, ml) != 0)
        return -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return -1;
        size_t n = (size_t)(nl - p);
        if (n == 0) {                                   /* end of the header */
            m->body = nl + 1;
            m->body_len = (size_t)(end - m->body);
            return 0;
        }
        if (n > 3 && memcmp(p, "id ", 3) == 0) {
            m->id = p + 3;
            m->id_len = n - 3;
        } else if (n > 6 && memcmp(p, "retry ", 6) == 0) {
            m->retry = 0;
            for (size_t i = 6; i < n && i < 16 && p[i] >= '0' && p[i] <= '9'; i++)
                m->retry = m->retry * 10 + (p[i] - '0');
        } else if (n == 7 && memcmp(p, "private", 7) == 0) {
            m->private_ = 1;
        } else if (n > 6 && memcmp(p, "topic ", 6) == 0) {
            if (!m->topics)
                m->topics = p;
            m->topics_len = (size_t)(nl + 1 - m->topics);
        }
        p = nl + 1;
    }
    return -1;
}

/* a Mercure update (sse.h); 1 when DATA is not one */
static int
sse_mercure_event(buf_t *out, uint64_t id, const char *event, size_t event_len,
    const char *data, size_t data_len)
{
    sse_mercure_t m;

    if (sse_mercure_parse(data, data_len, &m) < 0)
        return 1;
    if (m.id) {
        if (buf_append(out, "id: ", 4) < 0 || buf_append(out, m.id, m.id_len) < 0 ||
            buf_putc(out, '\n') < 0)
            return -1;
    } else if (id && (buf_append(out, "id: ", 4) < 0 || buf_put_u64(out, id) < 0 ||
        buf_putc(out, '\n') < 0)) {
        return -1;
    }
    if (event_len && (buf_append(out, "event: ", 7) < 0 ||
        buf_append(out, event, event_len) < 0 || buf_putc(out, '\n') < 0))
        return -1;
    if (m.retry >= 0 && buf_printf(out, "retry: %ld\n", m.retry) < 0)
        return -1;
    if (sse_put_lines(out, "data: ", 6, m.body, m.body_len) < 0 || buf_putc(out, '\n') < 0)
        return -1;
    if (m.id && id && sse_id(out, id) < 0)
        return -1;
    return 0;
}

int
sse_event(buf_t *out, sse_format_t fmt, uint64_t id, const char *event,
    size_t event_len, const char *data, size_t data_len, char kind)
{
    size_t mark = out->len;

    if (fmt == SSE_MERCURE && kind == ZSSE_KIND_STRING) {
        int r = sse_mercure_event(out, id, event, event_len, data, data_len);
        if (r < 0)
            goto fail;
        if (r == 0)
            return 0;
    }

    if (id && (buf_append(out, "id: ", 4) < 0 || buf_put_u64(out, id) < 0 ||
        buf_putc(out, '\n') < 0))
        goto fail;
    if (fmt == SSE_ENVELOPE) {
        if (buf_append(out, "data: {\"type\":", 14) < 0 ||
            (event_len ? sse_json_quote(out, event, event_len) : buf_puts(out, "\"message\"")) < 0 ||
            buf_append(out, ",\"data\":", 8) < 0 ||
            (kind == ZSSE_KIND_STRING ? sse_json_quote(out, data, data_len) : buf_append(out, data, data_len)) < 0 ||
            buf_append(out, "}\n\n", 3) < 0)
            goto fail;
        return 0;
    }
    if (event_len && (buf_append(out, "event: ", 7) < 0 ||
        buf_append(out, event, event_len) < 0 || buf_putc(out, '\n') < 0))
        goto fail;
    if (kind == ZSSE_KIND_STRING) {
        if (sse_put_lines(out, "data: ", 6, data, data_len) < 0)
            goto fail;
    } else if (buf_append(out, "data: ", 6) < 0 || buf_append(out, data, data_len) < 0 ||
        buf_putc(out, '\n') < 0) {
        goto fail;
    }
    if (buf_putc(out, '\n') < 0)
        goto fail;
    return 0;
fail:
    out->len = mark;            /* never leave half an event behind */
    return -1;
}

int
sse_comment(buf_t *out, const char *text)
{
    size_t mark = out->len;

    if (sse_put_lines(out, ":", 1, text, strlen(text)) < 0 || buf_putc(out, '\n') < 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}

int
sse_retry(buf_t *out, int ms)
{
    return buf_printf(out, "retry: %d\n\n", ms);
}

int
sse_id(buf_t *out, uint64_t id)
{
    size_t mark = out->len;

    if (buf_append(out, "id: ", 4) < 0 || buf_put_u64(out, id) < 0 ||
        buf_append(out, "\n\n", 2) < 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}
