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
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "jsontext.h"
#include "message.h"

#define MSG_DEPTH_MAX       64      /* nesting of arrays and objects */
#define MSG_ESCAPE_MAX      6       /* text bytes per decoded byte at most ("\\u0001") */
#define MSG_TTL_DIGITS_MAX  9       /* a ttl longer than this is past ZSSE_TTL_MAX */
#define MSG_NAME_MAX        16      /* longer member names are unknown ones */
#define MSG_NAME_DECODE_MAX 4096    /* escaped member names decoded up to this */

typedef struct {
    const char *p, *end;
    int         bad;            /* not valid JSON */
} msg_scan_t;

static void
msg_ws(msg_scan_t *s)
{
    while (s->p < s->end && jsontext_is_ws(*s->p))
        s->p++;
}

static int
msg_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = jsontext_hex_digit(p[i]);
        if (d < 0)
            return -1;
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

static size_t
msg_put_utf8(char *o, unsigned cp)
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
msg_string(msg_scan_t *s, char *out, size_t *outlen, const char **raw, size_t *rawlen, int *escaped)
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
        if (!channel_utf8_valid(run, (size_t)(p - run)))
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
            if (s->end - p < 6 || msg_hex4(p + 2, &cp) < 0 || cp == 0)
                return s->bad = 1, -1;
            p += 6;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return s->bad = 1, -1;          /* a lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || msg_hex4(p + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return s->bad = 1, -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            if (out)
                o += msg_put_utf8(out + o, cp);
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
    if (p >= s->end || !channel_utf8_valid(run, (size_t)(p - run)))
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
msg_number(msg_scan_t *s, int *integer)
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
msg_literal(msg_scan_t *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return s->bad = 1, -1;
    s->p += n;
    return 0;
}

/* any value, validated and skipped */
static int
msg_value(msg_scan_t *s, int depth)
{
    const char *raw;
    size_t rawlen;
    int esc, integer;

    msg_ws(s);
    if (s->p >= s->end)
        return s->bad = 1, -1;
    switch (*s->p) {
    case '"':
        return msg_string(s, NULL, NULL, &raw, &rawlen, &esc);
    case '{':
    case '[': {
        char close = *s->p == '{' ? '}' : ']';
        int obj = close == '}';
        if (depth >= MSG_DEPTH_MAX)
            return s->bad = 1, -1;
        s->p++;
        msg_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (obj) {
                msg_ws(s);
                if (s->p >= s->end || *s->p != '"' || msg_string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
                    return s->bad = 1, -1;
                msg_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                    return s->bad = 1, -1;
            }
            if (msg_value(s, depth + 1) < 0)
                return -1;
            msg_ws(s);
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
    case 't': return msg_literal(s, "true", 4);
    case 'f': return msg_literal(s, "false", 5);
    case 'n': return msg_literal(s, "null", 4);
    default:  return msg_number(s, &integer);
    }
}

/* --- the message's members: one handler per field ---------------------------- */

/* where msg_parse is: the scanner, the message, and the first broken rule */
typedef struct {
    msg_scan_t  s;
    msg_t      *m;
    const char *why;            /* the first rule broken (a ZSSE_R_*), or NULL */
    const char *data;           /* "data" as written, and its length */
    size_t      data_len;
    unsigned    seen;           /* MSG_F_* of the fields met */
} msg_parser_t;

/* the first broken rule is the one reported */
static void
msg_note(msg_parser_t *p, const char *why)
{
    if (!p->why)
        p->why = why;
}

/*
 * A top-level string field at p->s.p, decoded into the message's scratch
 * space when it holds escapes.  0 with *STR, *LEN set; 1 when it is valid
 * JSON but not a string of at most MAX bytes; -1 on invalid JSON.
 */
static int
msg_str_field(msg_parser_t *p, const char **str, size_t *len, size_t max)
{
    msg_scan_t *s = &p->s;
    msg_t *m = p->m;
    const char *raw;
    size_t rawlen, n;
    int esc;

    msg_ws(s);
    if (s->p >= s->end || *s->p != '"') {
        if (msg_value(s, 1) < 0)
            return -1;
        return 1;                               /* valid JSON, not a string */
    }
    /* decode only what can be valid: longer strings are refused anyway */
    const char *q = memchr(s->p + 1, '"', (size_t)(s->end - s->p - 1));
    if (q && (size_t)(q - s->p - 1) <= max && !memchr(s->p + 1, '\\', (size_t)(q - s->p - 1))) {
        if (msg_string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
            return -1;
        *str = raw;
        *len = rawlen;
        return 0;
    }
    /* long or escaped: validate, then decode at most MAX + 1 bytes */
    const char *start = s->p;
    if (msg_string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
        return -1;
    if (rawlen > max * MSG_ESCAPE_MAX + 12)
        return 1;                               /* even decoded, too long */
    msg_scan_t again = { start, s->end, 0 };
    char *o = m->scratch + m->scratch_len;
    char tmp[ZSSE_CHANNEL_MAX * MSG_ESCAPE_MAX + 16];
    assert(max <= ZSSE_CHANNEL_MAX);
    if (msg_string(&again, tmp, &n, &raw, &rawlen, &esc) < 0)
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

/* a state key: 1..ZSSE_KEY_MAX bytes, no control characters */
static int
msg_valid_key(const char *s, size_t n)
{
    if (n < 1 || n > ZSSE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void
msg_add_channel(msg_parser_t *p, const char *s, size_t n)
{
    event_rec_t *ev = &p->m->ev;

    if (!channel_valid(s, n)) {
        msg_note(p, ZSSE_R_BAD_CHANNEL);
        return;
    }
    for (size_t i = 0; i < ev->nchannels; i++)     /* duplicates: once */
        if (ev->channel_lens[i] == n && memcmp(ev->channels[i], s, n) == 0)
            return;
    if (ev->nchannels == ZSSE_MAX_CHANNELS) {
        msg_note(p, ZSSE_R_TOO_MANY_CHANNELS);
        return;
    }
    ev->channels[ev->nchannels] = s;
    ev->channel_lens[ev->nchannels++] = n;
}

/* one channel name (of "channel", or an element of "channels") */
static int
msg_one_channel(msg_parser_t *p)
{
    const char *str;
    size_t slen;
    int r = msg_str_field(p, &str, &slen, ZSSE_CHANNEL_MAX);

    if (r < 0)
        return -1;
    if (r > 0)
        msg_note(p, ZSSE_R_BAD_CHANNEL);
    else
        msg_add_channel(p, str, slen);
    return 0;
}

/* "channel": "name" */
static int
msg_f_channel(msg_parser_t *p)
{
    return msg_one_channel(p);
}

/* "channels": ["a", "b", ...], 1..ZSSE_MAX_CHANNELS of them */
static int
msg_f_channels(msg_parser_t *p)
{
    msg_scan_t *s = &p->s;

    if (*s->p != '[') {
        if (msg_value(s, 1) < 0)
            return -1;
        msg_note(p, ZSSE_R_BAD_CHANNEL);
        return 0;
    }
    s->p++;
    msg_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        msg_note(p, ZSSE_R_BAD_CHANNEL);
        return 0;
    }
    for (int n = 0;; n++) {
        if (n >= ZSSE_MAX_CHANNELS) {
            if (msg_value(s, 2) < 0)
                return -1;
            msg_note(p, ZSSE_R_TOO_MANY_CHANNELS);
        } else if (msg_one_channel(p) < 0) {
            return -1;
        }
        msg_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

/* "event": "name", no CR or LF; "" is the same as no name */
static int
msg_f_event(msg_parser_t *p)
{
    const char *str;
    size_t slen;
    int r = msg_str_field(p, &str, &slen, ZSSE_EVENT_MAX);

    if (r < 0)
        return -1;
    if (r > 0 || memchr(str, '\n', slen) || memchr(str, '\r', slen)) {
        msg_note(p, ZSSE_R_BAD_EVENT);
    } else if (slen) {
        p->m->ev.event = str;
        p->m->ev.event_len = slen;
    }
    return 0;
}

/* "key": "state/key" */
static int
msg_f_key(msg_parser_t *p)
{
    const char *str;
    size_t slen;
    int r = msg_str_field(p, &str, &slen, ZSSE_KEY_MAX);

    if (r < 0)
        return -1;
    if (r > 0 || !msg_valid_key(str, slen)) {
        msg_note(p, ZSSE_R_BAD_KEY);
    } else {
        p->m->ev.key = str;
        p->m->ev.key_len = slen;
    }
    return 0;
}

/* "ttl": an integer, 1..ZSSE_TTL_MAX seconds */
static int
msg_f_ttl(msg_parser_t *p)
{
    msg_scan_t *s = &p->s;
    const char *start = s->p;
    int integer;

    if (*s->p != '-' && (*s->p < '0' || *s->p > '9')) {
        if (msg_value(s, 1) < 0)
            return -1;
        msg_note(p, ZSSE_R_BAD_TTL);
        return 0;
    }
    if (msg_number(s, &integer) < 0)
        return -1;
    long v = 0;
    int ok = integer && *start != '-' && s->p - start <= MSG_TTL_DIGITS_MAX;
    for (const char *d = start; ok && d < s->p; d++)
        v = v * 10 + (*d - '0');
    if (ok && v >= 1 && v <= ZSSE_TTL_MAX)
        p->m->ev.ttl = (uint32_t)v;
    else
        msg_note(p, ZSSE_R_BAD_TTL);
    return 0;
}

/* "data": any JSON value, kept as a span of the text (normalised later) */
static int
msg_f_data(msg_parser_t *p)
{
    p->data = p->s.p;
    if (msg_value(&p->s, 1) < 0)
        return -1;
    p->data_len = (size_t)(p->s.p - p->data);
    return 0;
}

/* any other member: skipped, but the message is refused */
static int
msg_f_unknown(msg_parser_t *p)
{
    if (msg_value(&p->s, 1) < 0)
        return -1;
    msg_note(p, ZSSE_R_UNKNOWN_FIELD);
    return 0;
}

enum {
    MSG_F_CHANNEL = 1, MSG_F_CHANNELS = 2, MSG_F_DATA = 4, MSG_F_EVENT = 8, MSG_F_KEY = 16,
    MSG_F_TTL = 32
};

/* SPEC 4's members.  A handler starts at the value (white space skipped,
 * not at the end) and returns -1 only on invalid JSON; a broken rule is
 * noted (msg_note) and parsing goes on, so invalid JSON anywhere wins. */
static const struct msg_field {
    const char *name;
    size_t      len;
    unsigned    bit;
    int       (*parse)(msg_parser_t *p);
} msg_fields[] = {
#define MSG_FIELD(name, bit, fn) { name, sizeof(name) - 1, bit, fn }
    MSG_FIELD("channel",  MSG_F_CHANNEL,  msg_f_channel),
    MSG_FIELD("channels", MSG_F_CHANNELS, msg_f_channels),
    MSG_FIELD("data",     MSG_F_DATA,     msg_f_data),
    MSG_FIELD("event",    MSG_F_EVENT,    msg_f_event),
    MSG_FIELD("key",      MSG_F_KEY,      msg_f_key),
    MSG_FIELD("ttl",      MSG_F_TTL,      msg_f_ttl),
#undef MSG_FIELD
};

static const struct msg_field msg_field_unknown = { "", 0, 0, msg_f_unknown };

/*
 * The member name at p->s.p, looked up in msg_fields (decoded first when
 * it holds escapes).  NULL on invalid JSON.
 */
static const struct msg_field *
msg_member(msg_parser_t *p)
{
    msg_scan_t *s = &p->s;
    char key[MSG_NAME_MAX];
    size_t klen = 0, rawlen;
    const char *raw;
    int esc;

    if (s->p >= s->end || *s->p != '"')
        return NULL;
    const char *q = memchr(s->p + 1, '"', (size_t)(s->end - s->p - 1));
    if (q && q - s->p - 1 < (long)sizeof(key) && !memchr(s->p + 1, '\\', (size_t)(q - s->p - 1))) {
        if (msg_string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
            return NULL;
        memcpy(key, raw, rawlen);
        klen = rawlen;
    } else {                    /* long or escaped: decode to compare */
        char tmp[MSG_NAME_DECODE_MAX];
        const char *start = s->p;
        if (msg_string(s, NULL, NULL, &raw, &rawlen, &esc) < 0)
            return NULL;
        if (rawlen < sizeof(tmp) / 2) {
            msg_scan_t again = { start, s->end, 0 };
            msg_string(&again, tmp, &klen, &raw, &rawlen, &esc);
            if (klen < sizeof(key))
                memcpy(key, tmp, klen);
            else
                klen = sizeof(key);
        } else {
            klen = sizeof(key);
        }
    }
    for (size_t i = 0; i < sizeof(msg_fields) / sizeof(msg_fields[0]); i++)
        if (msg_fields[i].len == klen && memcmp(key, msg_fields[i].name, klen) == 0)
            return &msg_fields[i];
    return &msg_field_unknown;
}

/* The members of the object after its '{'.  0, or -1 on invalid JSON. */
static int
msg_members(msg_parser_t *p)
{
    msg_scan_t *s = &p->s;

    msg_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        msg_ws(s);
        const struct msg_field *f = msg_member(p);
        if (!f || (f->bit & p->seen))
            return -1;                          /* a duplicate key is invalid JSON */
        p->seen |= f->bit;
        msg_ws(s);
        if (s->p >= s->end || *s->p++ != ':')
            return -1;
        msg_ws(s);
        if (s->p >= s->end || f->parse(p) < 0)
            return -1;
        msg_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

/* The rules across members, in SPEC 4's order; NULL when all hold. */
static const char *
msg_check(const msg_parser_t *p)
{
    if ((p->seen & MSG_F_CHANNEL) && (p->seen & MSG_F_CHANNELS) && !p->why)
        return ZSSE_R_BAD_CHANNEL;
    if (p->why)
        return p->why;
    if (!(p->seen & (MSG_F_CHANNEL | MSG_F_CHANNELS)))
        return ZSSE_R_NO_CHANNEL;
    if (p->m->ev.nchannels == 0)
        return ZSSE_R_BAD_CHANNEL;
    if (!p->data)
        return ZSSE_R_NO_DATA;
    return NULL;
}

/* Normalise "data" (message.h): a string's decoded text, else compact
 * JSON.  Points into the text where it can, else into an allocation.
 * 0, or -1 when out of memory. */
static int
msg_take_data(msg_t *m, const char *data, size_t data_len)
{
    const char *raw;
    size_t rawlen, n;
    int esc;

    assert(data_len >= 1);
    if (*data == '"') {
        msg_scan_t d = { data, data + data_len, 0 };
        m->ev.kind = ZSSE_KIND_STRING;
        if (!memchr(data, '\\', data_len)) {
            m->ev.data = data + 1;
            m->ev.data_len = data_len - 2;
            return 0;
        }
        if (!(m->data_owned = malloc(data_len)))
            return -1;
        msg_string(&d, m->data_owned, &n, &raw, &rawlen, &esc);
        m->ev.data = m->data_owned;
        m->ev.data_len = n;
        return 0;
    }
    m->ev.kind = ZSSE_KIND_JSON;
    /* compact JSON: white space outside strings goes */
    const char *q;
    for (q = data; q < data + data_len; q++) {
        if (*q == '"') {
            for (q++; *q != '"'; q++)
                if (*q == '\\')
                    q++;
        } else if (jsontext_is_ws(*q)) {
            break;
        }
    }
    if (q == data + data_len) {
        m->ev.data = data;
        m->ev.data_len = data_len;
        return 0;
    }
    if (!(m->data_owned = malloc(data_len)))
        return -1;
    m->ev.data_len = jsontext_compact(data, data_len, m->data_owned);
    m->ev.data = m->data_owned;
    return 0;
}

/* M's event empty (the channel arrays are not touched: nchannels says
 * how many hold anything) */
static void
msg_reset(msg_t *m)
{
    event_rec_t *e = &m->ev;

    e->id = 0;
    e->accepted_us = 0;
    e->ttl = 0;
    e->kind = 0;
    e->nchannels = 0;
    e->event = e->key = e->data = NULL;
    e->event_len = e->key_len = e->data_len = 0;
}

static int
msg_fail(msg_t *m, const char **reason, const char *why)
{
    msg_clear(m);
    *reason = why;
    return -1;
}

int
msg_parse(msg_t *m, const char *text, size_t len, size_t max, const char **reason)
{
    msg_parser_t p = { .s = { text, text + len, 0 }, .m = m };
    const char *why;

    msg_reset(m);
    m->data_owned = NULL;
    m->scratch_len = 0;
    if (max && len > max)
        return msg_fail(m, reason, ZSSE_R_TOO_LARGE);
    msg_ws(&p.s);
    if (p.s.p >= p.s.end)
        return msg_fail(m, reason, ZSSE_R_INVALID_JSON);
    if (*p.s.p != '{') {
        if (msg_value(&p.s, 0) < 0 || (msg_ws(&p.s), p.s.p != p.s.end))
            return msg_fail(m, reason, ZSSE_R_INVALID_JSON);
        return msg_fail(m, reason, ZSSE_R_NOT_OBJECT);
    }
    p.s.p++;
    if (msg_members(&p) < 0 || (msg_ws(&p.s), p.s.p != p.s.end))
        return msg_fail(m, reason, ZSSE_R_INVALID_JSON);
    if ((why = msg_check(&p)))
        return msg_fail(m, reason, why);
    if (msg_take_data(m, p.data, p.data_len) < 0)
        return msg_fail(m, reason, ZSSE_R_OUT_OF_MEMORY);
    return 0;
}

void
msg_clear(msg_t *m)
{
    free(m->data_owned);
    m->data_owned = NULL;
    msg_reset(m);
}
