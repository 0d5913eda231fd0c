/* libFuzzer target: SSE framing as a property (SPEC 4, 5; WHATWG HTML
 * "server-sent events").  For any event name and data that the broker
 * accepts in a publish message (proto/message.c), the event as framed for
 * a stream (proto/sse.c, both formats) must read back, through a WHATWG
 * event-stream parser written here from the spec, as exactly ONE event
 * with the same id, the same name and the same data: no line injection,
 * nothing lost.  (In the named format a string's line breaks come back as
 * LF, as the spec's data lines join them; the envelope keeps them.)
 *
 * Input: FLAGS (bit 0 envelope, bit 1 data is raw JSON text, not a
 * string), NAME_LEN, NAME, then DATA. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "message.h"
#include "sse.h"

typedef struct {            /* one dispatched event */
    char  *type, *data, *id;
    size_t type_len, data_len, id_len;
} ev_t;

static void
setv(char **p, size_t *n, const char *v, size_t len)
{
    free(*p);
    *p = malloc(len + 1);
    if (!*p)
        abort();
    memcpy(*p, v, len);
    (*p)[len] = '\0';
    *n = len;
}

/* WHATWG "interpret an event stream": returns the number of events
 * dispatched; the first is kept in FIRST */
static int
whatwg_parse(const char *s, size_t len, ev_t *first)
{
    char *type = NULL, *data = NULL, *last_id = NULL;
    size_t type_len = 0, data_len = 0, id_len = 0, cap = 0;
    int n = 0;
    size_t i = 0;

    setv(&last_id, &id_len, "", 0);
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '\r' && s[e] != '\n')
            e++;
        if (e == len)
            break;                                  /* an unterminated line is not processed */
        const char *line = s + i;
        size_t ll = e - i;
        i = e + ((s[e] == '\r' && e + 1 < len && s[e + 1] == '\n') ? 2 : 1);
        if (ll == 0) {                              /* dispatch */
            if (data_len == 0 && !data) {
                free(type); type = NULL; type_len = 0;
                continue;
            }
            if (data_len && data[data_len - 1] == '\n')
                data_len--;
            if (n++ == 0) {
                first->type = NULL; first->data = NULL; first->id = NULL;
                setv(&first->id, &first->id_len, last_id, id_len);
                if (type && type_len)
                    setv(&first->type, &first->type_len, type, type_len);
                else
                    setv(&first->type, &first->type_len, "message", 7);
                setv(&first->data, &first->data_len, data ? data : "", data_len);
            }
            free(data); data = NULL; data_len = 0; cap = 0;
            free(type); type = NULL; type_len = 0;
            continue;
        }
        if (line[0] == ':')
            continue;                               /* comment */
        const char *colon = memchr(line, ':', ll);
        size_t fl = colon ? (size_t)(colon - line) : ll;
        const char *v = colon ? colon + 1 : line + ll;
        size_t vl = colon ? ll - fl - 1 : 0;
        if (vl && v[0] == ' ') { v++; vl--; }
        if (fl == 5 && memcmp(line, "event", 5) == 0) {
            setv(&type, &type_len, v, vl);
        } else if (fl == 4 && memcmp(line, "data", 4) == 0) {
            if (data_len + vl + 1 > cap) {
                cap = (data_len + vl + 1) * 2;
                char *d = realloc(data, cap);
                if (!d) abort();
                data = d;
            }
            if (!data) { data = malloc(1); if (!data) abort(); cap = 1; }
            memcpy(data + data_len, v, vl);
            data_len += vl;
            data[data_len++] = '\n';
        } else if (fl == 2 && memcmp(line, "id", 2) == 0) {
            if (!memchr(v, '\0', vl))
                setv(&last_id, &id_len, v, vl);
        }                                           /* retry, others: ignored */
    }
    free(type); free(data); free(last_id);
    return n;
}

/* CR LF and lone CR as LF: how the named format's data lines come back */
static size_t
normalise(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < len && s[i + 1] == '\n')
                i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 2)
        return 0;
    int envelope = in[0] & 1, raw = in[0] & 2;
    size_t nl = in[1];
    if (2 + nl > size)
        return 0;
    const char *name = (const char *)in + 2, *d = name + nl;
    size_t dl = size - 2 - nl;

    /* a publish message as an application would send it */
    json_t *m = json_object(), *dv;
    json_object_set_new(m, "channel", json_string("c"));
    if (nl) {
        json_t *nv = json_stringn(name, nl);
        if (!nv) { json_decref(m); return 0; }       /* not UTF-8: no JSON string */
        json_object_set_new(m, "event", nv);
    }
    dv = raw ? json_loadb(d, dl, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : json_stringn(d, dl);
    if (!dv) { json_decref(m); return 0; }
    json_object_set_new(m, "data", dv);
    char *text = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(m);
    if (!text)
        return 0;
    msg_t msg;
    const char *reason;
    if (msg_parse(&msg, text, strlen(text), 0, &reason) < 0) {
        free(text);
        return 0;                                   /* the broker refuses it: nothing to frame */
    }
    buf_t b;
    buf_init(&b, 1 << 22);
    if (sse_event(&b, envelope ? SSE_ENVELOPE : SSE_NAMED, 42, msg.ev.event, msg.ev.event_len,
        msg.ev.data, msg.ev.data_len, msg.ev.kind) < 0)
        __builtin_trap();                           /* far below the bound */
    ev_t ev;
    int n = whatwg_parse(b.data, b.len, &ev);
    if (n != 1)
        __builtin_trap();                           /* injected or lost */
    if (ev.id_len != 2 || memcmp(ev.id, "42", 2) != 0)
        __builtin_trap();
    if (!envelope) {
        const char *want = msg.ev.event_len ? msg.ev.event : "message";
        size_t wl = msg.ev.event_len ? msg.ev.event_len : 7;
        if (ev.type_len != wl || memcmp(ev.type, want, wl) != 0)
            __builtin_trap();
        char *norm = malloc(msg.ev.data_len + 1);
        if (!norm) abort();
        size_t nn = msg.ev.kind == ZSSE_KIND_STRING ? normalise(msg.ev.data, msg.ev.data_len, norm)
                                                 : (memcpy(norm, msg.ev.data, msg.ev.data_len), msg.ev.data_len);
        if (ev.data_len != nn || memcmp(ev.data, norm, nn) != 0)
            __builtin_trap();
        free(norm);
    } else {
        if (ev.type_len != 7 || memcmp(ev.type, "message", 7) != 0)
            __builtin_trap();
        json_t *o = json_loadb(ev.data, ev.data_len, JSON_ALLOW_NUL, NULL);
        json_t *t = json_object_get(o, "type"), *dd = json_object_get(o, "data");
        if (!o || !json_is_string(t) || !dd || json_object_size(o) != 2)
            __builtin_trap();
        const char *want = msg.ev.event_len ? msg.ev.event : "message";
        size_t wl = msg.ev.event_len ? msg.ev.event_len : 7;
        if (json_string_length(t) != wl || memcmp(json_string_value(t), want, wl) != 0)
            __builtin_trap();
        if (msg.ev.kind == ZSSE_KIND_STRING) {
            if (!json_is_string(dd) || json_string_length(dd) != msg.ev.data_len ||
                memcmp(json_string_value(dd), msg.ev.data, msg.ev.data_len) != 0)
                __builtin_trap();
        } else {
            json_t *w = json_loadb(msg.ev.data, msg.ev.data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (!w || !json_equal(w, dd))
                __builtin_trap();
            json_decref(w);
        }
        json_decref(o);
    }
    free(ev.type); free(ev.data); free(ev.id);
    buf_free(&b);
    msg_clear(&msg);
    free(text);
    return 0;
}
