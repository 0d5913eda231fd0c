/*
 * wire.c -- encode and decode the frames between broker, workers and CLI.
 * The layout is documented in wire.h.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <zmq.h>
#include "wire.h"

void
wire_hdr_put(unsigned char hdr[WIRE_HDR_LEN], uint64_t id, char kind)
{
    for (int i = 0; i < 8; i++)
        hdr[i] = (unsigned char)(id >> (8 * i));
    hdr[8] = (unsigned char)kind;
}

int
wire_hdr_get(const void *p, size_t len, uint64_t *id, char *kind)
{
    const unsigned char *h = p;
    uint64_t v = 0;

    if (len != WIRE_HDR_LEN)
        return -1;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[i] << (8 * i);
    if (v == 0 || v > WIRE_ID_MAX || (h[8] != ZSSE_KIND_JSON && h[8] != ZSSE_KIND_STRING))
        return -1;
    *id = v;
    *kind = (char)h[8];
    return 0;
}

/* the payload of EV (wire.h) into P, which has room for
 * WIRE_PAYLOAD_MIN + EV->event_len + EV->data_len bytes; that length */
size_t
wire_payload_put(unsigned char *p, const wire_event_t *ev)
{
    wire_hdr_put(p, ev->id, ev->kind);
    p[WIRE_HDR_LEN] = (unsigned char)ev->event_len;
    memcpy(p + WIRE_PAYLOAD_MIN, ev->event, ev->event_len);
    memcpy(p + WIRE_PAYLOAD_MIN + ev->event_len, ev->data, ev->data_len);
    return WIRE_PAYLOAD_MIN + ev->event_len + ev->data_len;
}

int
wire_send_event(void *sock, const wire_event_t *ev)
{
    zmq_msg_t m;

    if (ev->channel_len > ZSSE_CHANNEL_MAX || ev->event_len > ZSSE_EVENT_MAX)
        return errno = EINVAL, -1;
    /* one frame, topic and payload: one CURVE box per copy sent */
    size_t tl = ev->channel_len + 1;
    if (zmq_msg_init_size(&m, tl + WIRE_PAYLOAD_MIN + ev->event_len + ev->data_len) < 0)
        return -1;
    unsigned char *p = zmq_msg_data(&m);
    memcpy(p, ev->channel, ev->channel_len);
    p[ev->channel_len] = '\0';
    wire_payload_put(p + tl, ev);
    if (zmq_msg_send(&m, sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

int
wire_run_flush(wire_run_t *run, void *sock)
{
    zmq_msg_t m;
    size_t tl = run->channel_len + 1, n = run->n;

    if (n == 0)
        return 0;
    run->n = 0;
    if (n == 1) {                   /* the plain one-frame form */
        size_t len = run->len - WIRE_RUN_LEN_BYTES;
        if (zmq_msg_init_size(&m, tl + len) < 0)
            return -1;
        unsigned char *p = zmq_msg_data(&m);
        memcpy(p, run->channel, tl);
        memcpy(p + tl, run->body + WIRE_RUN_LEN_BYTES, len);
    } else {
        if (zmq_msg_init_size(&m, tl + WIRE_RUN_HDR_LEN + run->len) < 0)
            return -1;
        unsigned char *p = zmq_msg_data(&m);
        memcpy(p, run->channel, tl);
        wire_hdr_put(p + tl, 0, WIRE_KIND_RUN);    /* id 0: never an event's */
        memcpy(p + tl + WIRE_RUN_HDR_LEN, run->body, run->len);
    }
    if (zmq_msg_send(&m, sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

int
wire_run_add(wire_run_t *run, void *sock, const wire_event_t *ev)
{
    size_t need = WIRE_RUN_LEN_BYTES + WIRE_PAYLOAD_MIN + ev->event_len + ev->data_len;

    if (ev->channel_len > ZSSE_CHANNEL_MAX || ev->event_len > ZSSE_EVENT_MAX)
        return errno = EINVAL, -1;
    if (run->n && (run->channel_len != ev->channel_len ||
                   memcmp(run->channel, ev->channel, ev->channel_len) != 0 ||
                   run->n == WIRE_RUN_MAX || run->len + need > WIRE_RUN_BYTES))
        if (wire_run_flush(run, sock) < 0)
            return -1;
    if (need > WIRE_RUN_BYTES)      /* too large for any run: alone */
        return wire_send_event(sock, ev);
    if (run->n == 0) {
        memcpy(run->channel, ev->channel, ev->channel_len);
        run->channel[ev->channel_len] = '\0';
        run->channel_len = ev->channel_len;
        run->len = 0;
    }
    unsigned char *p = run->body + run->len;
    size_t len = wire_payload_put(p + WIRE_RUN_LEN_BYTES, ev);
    for (int i = 0; i < WIRE_RUN_LEN_BYTES; i++)
        p[i] = (unsigned char)(len >> (8 * i));
    run->len += WIRE_RUN_LEN_BYTES + len;
    run->n++;
    assert(run->len <= WIRE_RUN_BYTES && run->n <= WIRE_RUN_MAX);
    return 0;
}

/* the length prefix at P */
static size_t
wire_run_len(const unsigned char *p)
{
    size_t v = 0;
    for (int i = 0; i < WIRE_RUN_LEN_BYTES; i++)
        v |= (size_t)p[i] << (8 * i);
    return v;
}

/* Check a run's body (after its header) whole: every length in bounds,
 * every payload well formed, ids strictly increasing, at most WIRE_RUN_MAX
 * events and WIRE_RUN_BYTES bytes.  0 or -1. */
static int
wire_run_check(const unsigned char *p, size_t len)
{
    uint64_t last = 0;
    size_t n = 0;
    wire_event_t ev;

    if (len == 0 || len > WIRE_RUN_BYTES)
        return -1;
    while (len) {
        if (len < WIRE_RUN_LEN_BYTES || ++n > WIRE_RUN_MAX)
            return -1;
        size_t l = wire_run_len(p);
        p += WIRE_RUN_LEN_BYTES;
        len -= WIRE_RUN_LEN_BYTES;
        if (l < WIRE_PAYLOAD_MIN || l > len || wire_parse_payload(p, l, &ev) < 0 || ev.id <= last)
            return -1;
        last = ev.id;
        p += l;
        len -= l;
    }
    return 0;
}

int
wire_next_event(wire_frames_t *w, wire_event_t *ev)
{
    if (!w->run || w->run_left == 0)
        return 0;
    size_t l = wire_run_len(w->run);    /* checked by wire_run_check */
    assert(l + WIRE_RUN_LEN_BYTES <= w->run_left);
    if (wire_parse_payload(w->run + WIRE_RUN_LEN_BYTES, l, ev) < 0)
        return 0;
    w->run += WIRE_RUN_LEN_BYTES + l;
    w->run_left -= WIRE_RUN_LEN_BYTES + l;
    return 1;
}

int
wire_parse_payload(const void *p, size_t len, wire_event_t *ev)
{
    const unsigned char *b = p;

    if (len < WIRE_PAYLOAD_MIN || wire_hdr_get(b, WIRE_HDR_LEN, &ev->id, &ev->kind) < 0 ||
        (size_t)b[WIRE_HDR_LEN] > len - WIRE_PAYLOAD_MIN)
        return -1;
    ev->event_len = b[WIRE_HDR_LEN];
    ev->event = (const char *)b + WIRE_PAYLOAD_MIN;
    ev->data = ev->event + ev->event_len;
    ev->data_len = len - WIRE_PAYLOAD_MIN - ev->event_len;
    return 0;
}

void
wire_drain(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);

    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
        sz = sizeof(more);
    }
}

void
wire_frames_close(wire_frames_t *w)
{
    for (int i = 0; i < w->n; i++)
        zmq_msg_close(&w->f[i]);
    w->n = 0;
}

wire_recv_t
wire_recv_event(void *sock, int flags, wire_frames_t *w, wire_event_t *ev)
{
    w->n = 0;
    w->run = NULL;
    w->run_left = 0;
    zmq_msg_init(&w->f[0]);
    w->n = 1;
    if (zmq_msg_recv(&w->f[0], sock, flags) < 0) {
        int e = errno;
        wire_frames_close(w);
        if (e == EAGAIN)
            return WIRE_RECV_NONE;
        errno = e;
        return WIRE_RECV_ERROR;
    }
    const char *t = zmq_msg_data(&w->f[0]);
    size_t tl = zmq_msg_size(&w->f[0]);

    memset(ev, 0, sizeof(*ev));
    if (tl > 0 && t[0] == WIRE_SYNC_BYTE) {
        wire_drain(sock);
        ev->channel = t;
        ev->channel_len = tl;
        return WIRE_RECV_MARKER;
    }
    if (!zmq_msg_more(&w->f[0])) {
        /* one frame: channel '\0' payload (the channel at most
         * ZSSE_CHANNEL_MAX bytes) */
        const char *nul = memchr(t, '\0', tl < ZSSE_CHANNEL_MAX + 1 ? tl : ZSSE_CHANNEL_MAX + 1);
        if (!nul || nul == t)
            goto bad;
        ev->channel = t;
        ev->channel_len = (size_t)(nul - t);
        const unsigned char *p = (const unsigned char *)nul + 1;
        size_t len = tl - ev->channel_len - 1;
        static const unsigned char run_hdr[WIRE_RUN_HDR_LEN] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                                                 WIRE_KIND_RUN };
        if (len >= WIRE_RUN_HDR_LEN && memcmp(p, run_hdr, WIRE_RUN_HDR_LEN) == 0) {
            if (wire_run_check(p + WIRE_RUN_HDR_LEN, len - WIRE_RUN_HDR_LEN) < 0)
                goto bad;
            w->run = p + WIRE_RUN_HDR_LEN;
            w->run_left = len - WIRE_RUN_HDR_LEN;
            wire_next_event(w, ev);
            return WIRE_RECV_EVENT;
        }
        if (wire_parse_payload(p, len, ev) < 0)
            goto bad;
        return WIRE_RECV_EVENT;
    }
    /* two frames, "channel\0" then the payload: the form an older broker
     * sends (wire.h), still read */
    zmq_msg_init(&w->f[1]);
    w->n = 2;
    if (zmq_msg_recv(&w->f[1], sock, 0) < 0 || zmq_msg_more(&w->f[1]))
        goto bad;
    if (tl < 2 || t[tl - 1] != '\0')
        goto bad;
    ev->channel = t;
    ev->channel_len = tl - 1;
    if (wire_parse_payload(zmq_msg_data(&w->f[1]), zmq_msg_size(&w->f[1]), ev) < 0)
        goto bad;
    return WIRE_RECV_EVENT;
bad:
    if (w->n > 0 && zmq_msg_more(&w->f[w->n - 1]))
        wire_drain(sock);
    wire_frames_close(w);
    errno = EPROTO;
    return WIRE_RECV_ERROR;
}

int
wire_parse_id(const char *s, size_t len, uint64_t *id)
{
    uint64_t v = 0;

    if (len == 0 || len > 16)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > WIRE_ID_MAX)
        return -1;
    *id = v;
    return 0;
}

size_t
wire_fmt_id(char *out, uint64_t id)
{
    char tmp[21];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}
