/*
 * message.c -- parse and validate a publish message (SPEC 4).
 *
 * jansson validates the whole text (syntax, UTF-8, duplicate keys) and
 * gives us the fields.  The data value is then taken from the raw text
 * (jsontext.h), only stripped of insignificant white space: it reaches
 * subscribers spelled exactly as the publisher wrote it, and the ingest
 * path never re-serialises JSON.  A string datum is its decoded text.
 */
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "jsontext.h"
#include "message.h"

static int
fail(msg_t *m, const char **reason, const char *why)
{
    msg_clear(m);
    *reason = why;
    return -1;
}

static int
valid_key(const char *s, size_t n)
{
    if (n < 1 || n > ZSSE_KEY_MAX || !utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int
add_channel(msg_t *m, json_t *v)
{
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    n = json_string_length(v);
    if (!channel_valid(s, n))
        return -1;
    for (size_t i = 0; i < m->nchannels; i++)   /* duplicates: once */
        if (m->channel_lens[i] == n && memcmp(m->channels[i], s, n) == 0)
            return 0;
    m->channels[m->nchannels] = s;
    m->channel_lens[m->nchannels] = n;
    m->nchannels++;
    return 0;
}

/* data as compact JSON text; points into TEXT when it already is */
static int
take_json_data(msg_t *m, const char *text, size_t len)
{
    const char *v;
    size_t vlen, i;

    if (json_member(text, len, "data", &v, &vlen) != 0)
        return -1;
    for (i = 0; i < vlen; i++) {
        char c = v[i];
        if (c == '"') {                 /* skip a string */
            for (i++; i < vlen && v[i] != '"'; i++)
                if (v[i] == '\\')
                    i++;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            break;
        }
    }
    if (i >= vlen) {                    /* already compact */
        m->data = (char *)v;
        m->data_len = vlen;
        return 0;
    }
    if (!(m->data = malloc(vlen)))
        return -1;
    m->data_len = json_compact(v, vlen, m->data);
    m->data_owned = 1;
    return 0;
}

int
msg_parse(msg_t *m, const char *text, size_t len, size_t max, const char **reason)
{
    json_t *v;
    const char *k;

    memset(m, 0, sizeof(*m));
    m->ttl = -1;
    if (max && len > max)
        return fail(m, reason, ZSSE_R_TOO_LARGE);
    if (!(m->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL)))
        return fail(m, reason, ZSSE_R_INVALID_JSON);
    if (!json_is_object(m->root))
        return fail(m, reason, ZSSE_R_NOT_OBJECT);

    json_object_foreach(m->root, k, v) {
        if (strcmp(k, "channel") == 0) {
            if (json_object_get(m->root, "channels"))
                return fail(m, reason, ZSSE_R_BAD_CHANNEL);
            if (add_channel(m, v) < 0)
                return fail(m, reason, ZSSE_R_BAD_CHANNEL);
        } else if (strcmp(k, "channels") == 0) {
            size_t i;
            json_t *c;
            if (!json_is_array(v) || json_array_size(v) == 0)
                return fail(m, reason, ZSSE_R_BAD_CHANNEL);
            if (json_array_size(v) > ZSSE_MAX_CHANNELS)
                return fail(m, reason, ZSSE_R_TOO_MANY_CHANNELS);
            json_array_foreach(v, i, c)
                if (add_channel(m, c) < 0)
                    return fail(m, reason, ZSSE_R_BAD_CHANNEL);
        } else if (strcmp(k, "event") == 0) {
            if (!json_is_string(v))
                return fail(m, reason, ZSSE_R_BAD_EVENT);
            m->event = json_string_value(v);
            m->event_len = json_string_length(v);
            if (m->event_len > ZSSE_EVENT_MAX ||
                memchr(m->event, '\n', m->event_len) || memchr(m->event, '\r', m->event_len) ||
                memchr(m->event, '\0', m->event_len))
                return fail(m, reason, ZSSE_R_BAD_EVENT);
            if (m->event_len == 0)
                m->event = NULL;        /* "" is the same as no name */
        } else if (strcmp(k, "key") == 0) {
            if (!json_is_string(v) || !valid_key(json_string_value(v), json_string_length(v)))
                return fail(m, reason, ZSSE_R_BAD_KEY);
            m->key = json_string_value(v);
            m->key_len = json_string_length(v);
        } else if (strcmp(k, "ttl") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > ZSSE_TTL_MAX)
                return fail(m, reason, ZSSE_R_BAD_TTL);
            m->ttl = (int)json_integer_value(v);
        } else if (strcmp(k, "data") != 0) {
            return fail(m, reason, ZSSE_R_UNKNOWN_FIELD);
        }
    }
    if (m->nchannels == 0)
        return fail(m, reason, ZSSE_R_NO_CHANNEL);
    if (!(v = json_object_get(m->root, "data")))
        return fail(m, reason, ZSSE_R_NO_DATA);
    if (json_is_string(v)) {
        m->kind = ZSSE_KIND_STRING;
        m->data = (char *)json_string_value(v);
        m->data_len = json_string_length(v);
    } else {
        m->kind = ZSSE_KIND_JSON;
        if (take_json_data(m, text, len) < 0)
            return fail(m, reason, ZSSE_R_INVALID_JSON);
    }
    return 0;
}

void
msg_clear(msg_t *m)
{
    if (m->data_owned)
        free(m->data);
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
    m->ttl = -1;
}
