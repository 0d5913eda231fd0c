/*
 * message.c -- parse and validate a publish message (SPEC 4), in one pass.
 *
 * This is the broker's ingest hot path, so it is a small strict JSON
 * scanner of its own instead of building a jansson tree: it validates the
 * whole text (RFC 8259 grammar, UTF-8, escapes, nesting depth), decodes
 * only the top-level strings it needs, and takes "data" as a span of the
 * text.  Data reaches subscribers spelled exactly as the publisher wrote
 * it, minus insignificant white space: 0.57 stays 0.57 and integers of
 * any size pass unchanged.
 *
 * Where the text is not valid JSON the reason is invalid_json, whatever
 * else is wrong with it; otherwise the first broken rule is reported.
 * Duplicate top-level keys are invalid JSON (duplicate keys inside data
 * are the data's own business and pass as written).  A \u0000 escape is
 * refused anywhere, as jansson does.
 */
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "jsontext.h"
#include "message.h"

#define DEPTH_MAX 64

typedef struct {
    const char *p, *end;
    int         bad;            /* not valid JSON */
} scan_t;

static int
is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
ws(scan_t *s)
{
    while (s->p < s->end && is_ws(*s->p))
        s->p++;
}

static int
hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

static size_t
put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63)); return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/*
 * A string at s->p (the opening quote).  Validates it; when OUT is given
 * (room for the raw length: decoding never grows), decodes into it and sets
 * *outlen.  *raw / *rawlen: the text between the quotes; *escaped: whether
 * it holds escapes (else the raw text is the decoded string).
 */
static int
string(scan_t *s, char *out, size_t *outlen, const char **raw, size_t *rawlen, int *escaped)
{
    const char *p = s->p + 1, *run = p;
    size_t o = 0;

    *escaped = 0;
    while (p < s->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return s->bad = 1, -1;
        if (c != '\\') {
            p++;
            continue;
        }
        /* an escape: flush the raw run first */
        if (!utf8_valid(run, (size_t)(p - run)))
            return s->bad = 1, -1;
        if (out) {
            memcpy(out + o, run, (size_t)(p - run));
            o += (size_t)(p - run);
        }
        *escaped = 1;
        if (p + 1 >= s->end)
            return s->bad = 1, -1;
        char e = p[1], d = 0;
        switch (e) {
        case '"': d = '"'; break;
        case '\\': d = '\\'; break;
        case '/': d = '/'; break;
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        case 'n': d = '\n'; break;
        case 'r': d = '\r'; break;
        case 't': d = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (s->end - p < 6 || hex4(p + 2, &cp) < 0 || cp == 0)
                return s->bad = 1, -1;
            p += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return s->bad = 1, -1;          /* a lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return s->bad = 1, -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            if (out)
                o += put_utf8(out + o, cp);
            run = p;
            continue;
        }
        default:
            return s->bad = 1, -1;
        }
        if (out)
            out[o++] = d;
        p += 2;
        run = p;
    }
    if (p >= s->end || !utf8_valid(run, (size_t)(p - run)))
        return s->bad = 1, -1;
    if (out) {
        memcpy(out + o, run, (size_t)(p - run));
        o += (size_t)(p - run);
        *outlen = o;
    }
    *raw = s->p + 1;
    *rawlen = (size_t)(p - s->p - 1);
    s->p = p + 1;
    return 0;
}

/* a number; *integer: no fraction or exponent */
static int
number(scan_t *s, int *integer)
{
    const char *p = s->p;

    *integer = 1;
    if (p < s->end && *p == '-')
        p++;
    if (p < s->end && *p == '0')
        p++;
    else if (p < s->end && *p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    else
        return s->bad = 1, -1;
    if (p < s->end && *p == '.') {
        *integer = 0;
        if (++p >= s->end || *p < '0' || *p > '9')
            return s->bad = 1, -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        *integer = 0;
        if (++p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return s->bad = 1, -1;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    return 0;
}

static int
literal(scan_t *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return s->bad = 1, -1;
    s->p += n;
    return 0;
}

/* any value, validated and skipped */
static int
value(scan_t *s, int depth)
{
    const char *raw;
    size_t rawlen;
    int esc, integer;

    ws(s);
    if (s->p >= s->end)
        return s->bad = 1, -1;
    switch (*s->p) {
    case '"':
        return string(s, NULL, NULL, &raw, &rawlen, &esc);
    case '{':
    case '[': {
        char close = *s->p == '{' ? '}' : ']';
        int obj = close == '}';
        if (depth >= DEPTH_MAX)
            return s->bad = 1, -1;
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (obj) {
                ws(s);
                if (s->p >= s->end || *s->p != '"' || string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
                    return s->bad = 1, -1;
                ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                    return s->bad = 1, -1;
            }
            if (value(s, depth + 1) < 0)
                return -1;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return 0;
            }
            return s->bad = 1, -1;
        }
    }
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    case 'n': return literal(s, "null", 4);
    default:  return number(s, &integer);
    }
}

/* a top-level string field, decoded into m's scratch space */
static int
field_string(scan_t *s, msg_t *m, const char **str, size_t *len, size_t max)
{
    const char *raw;
    size_t rawlen, n;
    int esc;

    ws(s);
    if (s->p >= s->end || *s->p != '"') {
        if (value(s, 1) < 0)
            return -1;
        return 1;                               /* valid JSON, not a string */
    }
    /* decode only what can be valid: longer strings are refused anyway */
    const char *q = memchr(s->p + 1, '"', (size_t)(s->end - s->p - 1));
    if (q && (size_t)(q - s->p - 1) <= max && !memchr(s->p + 1, '\\', (size_t)(q - s->p - 1))) {
        if (string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
            return -1;
        *str = raw;
        *len = rawlen;
        return 0;
    }
    /* long or escaped: validate, then decode at most MAX + 1 bytes */
    const char *start = s->p;
    if (string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
        return -1;
    if (rawlen > max * 6 + 12)
        return 1;                               /* even decoded, too long */
    scan_t again = { start, s->end, 0 };
    char *o = m->scratch + m->scratch_len;
    char tmp[ZSSE_CHANNEL_MAX * 6 + 16];
    if (string(&again, tmp, &n, &raw, &rawlen, &esc) < 0)
        return -1;
    /* "channel" + 64 "channels" + event + key can outgrow the scratch
     * space: such a message has too many channels anyway, refuse it */
    if (n > max || n > sizeof(m->scratch) - m->scratch_len)
        return 1;
    memcpy(o, tmp, n);
    m->scratch_len += n;
    *str = o;
    *len = n;
    return 0;
}

static int
valid_key(const char *s, size_t n)
{
    if (n < 1 || n > ZSSE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void
add_channel(msg_t *m, const char *s, size_t n, const char **why)
{
    if (!channel_valid(s, n)) {
        if (!*why)
            *why = ZSSE_R_BAD_CHANNEL;
        return;
    }
    for (size_t i = 0; i < m->nchannels; i++)       /* duplicates: once */
        if (m->channel_lens[i] == n && memcmp(m->channels[i], s, n) == 0)
            return;
    if (m->nchannels == ZSSE_MAX_CHANNELS) {
        if (!*why)
            *why = ZSSE_R_TOO_MANY_CHANNELS;
        return;
    }
    m->channels[m->nchannels] = s;
    m->channel_lens[m->nchannels++] = n;
}

enum { F_CHANNEL = 1, F_CHANNELS = 2, F_DATA = 4, F_EVENT = 8, F_KEY = 16, F_TTL = 32 };

static int
fail(msg_t *m, const char **reason, const char *why)
{
    msg_clear(m);
    *reason = why;
    return -1;
}

int
msg_parse(msg_t *m, const char *text, size_t len, size_t max, const char **reason)
{
    scan_t s = { text, text + len, 0 };
    const char *why = NULL, *data = NULL, *raw;
    size_t data_len = 0, rawlen;
    int seen = 0, esc;

    m->nchannels = 0;
    m->event = m->key = NULL;
    m->event_len = m->key_len = 0;
    m->ttl = -1;
    m->data = NULL;
    m->data_len = 0;
    m->data_owned = 0;
    m->scratch_len = 0;
    if (max && len > max)
        return fail(m, reason, ZSSE_R_TOO_LARGE);
    ws(&s);
    if (s.p >= s.end)
        return fail(m, reason, ZSSE_R_INVALID_JSON);
    if (*s.p != '{') {
        if (value(&s, 0) < 0 || (ws(&s), s.p != s.end))
            return fail(m, reason, ZSSE_R_INVALID_JSON);
        return fail(m, reason, ZSSE_R_NOT_OBJECT);
    }
    s.p++;
    ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
        goto done;
    }
    for (;;) {
        char key[16];
        size_t klen = 0;
        int f = 0;
        ws(&s);
        if (s.p >= s.end || *s.p != '"')
            return fail(m, reason, ZSSE_R_INVALID_JSON);
        const char *q = memchr(s.p + 1, '"', (size_t)(s.end - s.p - 1));
        if (q && q - s.p - 1 < (long)sizeof(key) && !memchr(s.p + 1, '\\', (size_t)(q - s.p - 1))) {
            if (string(&s, NULL, NULL, &raw, &rawlen, &esc) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            memcpy(key, raw, rawlen);
            klen = rawlen;
        } else {                /* long or escaped: decode to compare */
            char tmp[4096];
            const char *start = s.p;
            if (string(&s, NULL, NULL, &raw, &rawlen, &esc) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            if (rawlen < sizeof(tmp) / 2) {
                scan_t again = { start, s.end, 0 };
                string(&again, tmp, &klen, &raw, &rawlen, &esc);
                if (klen < sizeof(key))
                    memcpy(key, tmp, klen);
                else
                    klen = sizeof(key);
            } else {
                klen = sizeof(key);
            }
        }
#define KEY(lit) (klen == sizeof(lit) - 1 && memcmp(key, lit, klen) == 0)
        if (KEY("channel")) f = F_CHANNEL;
        else if (KEY("channels")) f = F_CHANNELS;
        else if (KEY("data")) f = F_DATA;
        else if (KEY("event")) f = F_EVENT;
        else if (KEY("key")) f = F_KEY;
        else if (KEY("ttl")) f = F_TTL;
#undef KEY
        if (f & seen)
            return fail(m, reason, ZSSE_R_INVALID_JSON);    /* a duplicate key */
        seen |= f;
        ws(&s);
        if (s.p >= s.end || *s.p++ != ':')
            return fail(m, reason, ZSSE_R_INVALID_JSON);
        ws(&s);
        if (s.p >= s.end)
            return fail(m, reason, ZSSE_R_INVALID_JSON);

        const char *str;
        size_t slen;
        int r, integer;
        switch (f) {
        case F_CHANNEL:
            if ((r = field_string(&s, m, &str, &slen, ZSSE_CHANNEL_MAX)) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            if (r > 0 && !why)
                why = ZSSE_R_BAD_CHANNEL;
            else if (r == 0)
                add_channel(m, str, slen, &why);
            break;
        case F_CHANNELS:
            if (*s.p != '[') {
                if (value(&s, 1) < 0)
                    return fail(m, reason, ZSSE_R_INVALID_JSON);
                if (!why)
                    why = ZSSE_R_BAD_CHANNEL;
                break;
            }
            s.p++;
            ws(&s);
            if (s.p < s.end && *s.p == ']') {
                s.p++;
                if (!why)
                    why = ZSSE_R_BAD_CHANNEL;
                break;
            }
            for (int n = 0;; n++) {
                if (n >= ZSSE_MAX_CHANNELS) {
                    if (value(&s, 2) < 0)
                        return fail(m, reason, ZSSE_R_INVALID_JSON);
                    if (!why)
                        why = ZSSE_R_TOO_MANY_CHANNELS;
                } else if ((r = field_string(&s, m, &str, &slen, ZSSE_CHANNEL_MAX)) < 0) {
                    return fail(m, reason, ZSSE_R_INVALID_JSON);
                } else if (r > 0) {
                    if (!why)
                        why = ZSSE_R_BAD_CHANNEL;
                } else {
                    add_channel(m, str, slen, &why);
                }
                ws(&s);
                if (s.p < s.end && *s.p == ',') {
                    s.p++;
                    continue;
                }
                if (s.p < s.end && *s.p == ']') {
                    s.p++;
                    break;
                }
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            }
            break;
        case F_EVENT:
            if ((r = field_string(&s, m, &str, &slen, ZSSE_EVENT_MAX)) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            if (r > 0 || memchr(str, '\n', slen) || memchr(str, '\r', slen)) {
                if (!why)
                    why = ZSSE_R_BAD_EVENT;
            } else if (slen) {                  /* "" is the same as no name */
                m->event = str;
                m->event_len = slen;
            }
            break;
        case F_KEY:
            if ((r = field_string(&s, m, &str, &slen, ZSSE_KEY_MAX)) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            if (r > 0 || !valid_key(str, slen)) {
                if (!why)
                    why = ZSSE_R_BAD_KEY;
            } else {
                m->key = str;
                m->key_len = slen;
            }
            break;
        case F_TTL: {
            const char *start = s.p;
            if (*s.p == '-' || (*s.p >= '0' && *s.p <= '9')) {
                if (number(&s, &integer) < 0)
                    return fail(m, reason, ZSSE_R_INVALID_JSON);
                long v = 0;
                int ok = integer && *start != '-' && s.p - start <= 9;
                for (const char *d = start; ok && d < s.p; d++)
                    v = v * 10 + (*d - '0');
                if (ok && v >= 1 && v <= ZSSE_TTL_MAX)
                    m->ttl = (int)v;
                else if (!why)
                    why = ZSSE_R_BAD_TTL;
            } else {
                if (value(&s, 1) < 0)
                    return fail(m, reason, ZSSE_R_INVALID_JSON);
                if (!why)
                    why = ZSSE_R_BAD_TTL;
            }
            break;
        }
        case F_DATA:
            data = s.p;
            if (value(&s, 1) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            data_len = (size_t)(s.p - data);
            break;
        default:
            if (value(&s, 1) < 0)
                return fail(m, reason, ZSSE_R_INVALID_JSON);
            if (!why)
                why = ZSSE_R_UNKNOWN_FIELD;
        }
        ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        if (s.p < s.end && *s.p == '}') {
            s.p++;
            break;
        }
        return fail(m, reason, ZSSE_R_INVALID_JSON);
    }
done:
    ws(&s);
    if (s.p != s.end)
        return fail(m, reason, ZSSE_R_INVALID_JSON);
    if ((seen & F_CHANNEL) && (seen & F_CHANNELS) && !why)
        why = ZSSE_R_BAD_CHANNEL;
    if (why)
        return fail(m, reason, why);
    if (!(seen & (F_CHANNEL | F_CHANNELS)))
        return fail(m, reason, ZSSE_R_NO_CHANNEL);
    if (m->nchannels == 0)
        return fail(m, reason, ZSSE_R_BAD_CHANNEL);
    if (!data)
        return fail(m, reason, ZSSE_R_NO_DATA);

    if (*data == '"') {
        /* a string datum: its decoded text */
        scan_t d = { data, data + data_len, 0 };
        size_t n;
        m->kind = ZSSE_KIND_STRING;
        if (!memchr(data, '\\', data_len)) {
            m->data = (char *)data + 1;
            m->data_len = data_len - 2;
        } else {
            if (!(m->data = malloc(data_len)))
                return fail(m, reason, "out_of_memory");
            m->data_owned = 1;
            string(&d, m->data, &n, &raw, &rawlen, &esc);
            m->data_len = n;
        }
        return 0;
    }
    m->kind = ZSSE_KIND_JSON;
    /* compact JSON: white space outside strings goes */
    const char *q;
    for (q = data; q < data + data_len; q++) {
        if (*q == '"') {
            for (q++; *q != '"'; q++)
                if (*q == '\\')
                    q++;
        } else if (is_ws(*q)) {
            break;
        }
    }
    if (q == data + data_len) {
        m->data = (char *)data;
        m->data_len = data_len;
        return 0;
    }
    if (!(m->data = malloc(data_len)))
        return fail(m, reason, "out_of_memory");
    m->data_owned = 1;
    m->data_len = json_compact(data, data_len, m->data);
    return 0;
}

void
msg_clear(msg_t *m)
{
    if (m->data_owned)
        free(m->data);
    m->data = NULL;
    m->data_owned = 0;
    m->nchannels = 0;
    m->event = m->key = NULL;
    m->ttl = -1;
}
