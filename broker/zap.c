/*
 * zap.c -- the ZAP handler thread and the refused-peer count (see zap.h).
 *
 * One thread polls the ZAP REP socket and one PAIR per watched broker
 * socket (zmq_socket_monitor).  It answers every ZAP request itself, so a
 * handshake waits only for a bsearch of the allowed keys -- under a mutex
 * that a SIGHUP reload (zap_allow) holds just to swap two fields.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "log.h"
#include "zap.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"   /* fixed by RFC 27 */
#define ZAP_FRAMES   7      /* a CURVE request: version .. credentials */
#define ZAP_FRAME_MAX    256    /* bytes kept of one request frame */

struct zap {
    void        *ctx;
    curve_server_t *curve;          /* its allowed list under mu */
    pthread_mutex_t mu;
    void        *rep;
    void        *mon[ZAP_WATCH_MAX];
    char         name[ZAP_WATCH_MAX][16];
    int          nmon;
    pthread_t    thread;
    int          running;
    /* one log limiter per reason, so a flood of one kind of refusal
     * never hides the other kind */
    ratelimit_t  rl_key, rl_handshake;
    _Atomic uint64_t unknown_key, handshake;
};

static void
zap_hex_short(const uint8_t *key, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* one ZAP request: read (bounded), decide, reply */
static void
zap_on_request(zap_t *z)
{
    char f[ZAP_FRAMES][ZAP_FRAME_MAX];
    int len[ZAP_FRAMES], n = 0, more = 1;

    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        if (n < ZAP_FRAMES) {
            size_t sz = zmq_msg_size(&m);
            len[n] = (int)(sz < ZAP_FRAME_MAX ? sz : ZAP_FRAME_MAX);
            memcpy(f[n], zmq_msg_data(&m), (size_t)len[n]);
        }
        n++;
        zmq_msg_close(&m);
    }
    /* version "1.0", request id, domain, address, routing id, mechanism,
     * and for CURVE the client's 32-byte public key */
    const char *status = "400", *text = "not allowed";
    int allowed = 0;
    if (n == ZAP_FRAMES && len[5] == 5 && memcmp(f[5], "CURVE", 5) == 0 &&
        len[6] == CURVE_KEY_LEN) {
        pthread_mutex_lock(&z->mu);
        allowed = curve_server_allows(z->curve, (const uint8_t *)f[6]);
        pthread_mutex_unlock(&z->mu);
    }
    if (allowed) {
        status = "200";
        text = "OK";
    } else {
        char addr[ZAP_FRAME_MAX + 1] = "?", key[17] = "?";
        if (n > 3) {
            memcpy(addr, f[3], (size_t)len[3]);
            addr[len[3]] = '\0';
        }
        if (n == ZAP_FRAMES && len[6] == CURVE_KEY_LEN)
            zap_hex_short((const uint8_t *)f[6], key);
        atomic_fetch_add(&z->unknown_key, 1);
        log_limited(&z->rl_key, LOG_WARNING, "refused a peer from %s: CURVE key %s... is not "
            "in broker.curve.clients", addr, key);
    }
    /* the reply: version, request id, status code, text, user id, metadata */
    int rid = n > 1 ? len[1] : 0;
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, n > 1 ? f[1] : "", (size_t)rid, ZMQ_SNDMORE);
    zmq_send(z->rep, status, 3, ZMQ_SNDMORE);
    zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, 0);
}

/* one monitor event of watched socket I */
static void
zap_on_event(zap_t *z, int i)
{
    zmq_msg_t m;
    uint16_t ev = 0;
    uint32_t value = 0;
    int more;

    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, z->mon[i], 0) < 0) {
        zmq_msg_close(&m);
        return;
    }
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&ev, zmq_msg_data(&m), 2);
        memcpy(&value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) {                      /* the endpoint frame */
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->mon[i], 0) < 0)
            more = 0;
        else
            more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    /* ZAP refusals come here too (HANDSHAKE_FAILED_AUTH): counted above */
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        atomic_fetch_add(&z->handshake, 1);
        log_limited(&z->rl_handshake, LOG_WARNING, "refused a peer on %s: CURVE handshake failed (%s, "
            "error 0x%x)", z->name[i],
            value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? "it does not use CURVE"
                                                                : "wrong broker key?",
            (unsigned)value);
    }
}

static void *
zap_main(void *arg)
{
    zap_t *z = arg;
    zmq_pollitem_t items[1 + ZAP_WATCH_MAX];

    for (;;) {
        int n = 0;
        items[n++] = (zmq_pollitem_t){ z->rep, 0, ZMQ_POLLIN, 0 };
        for (int i = 0; i < z->nmon; i++)
            items[n++] = (zmq_pollitem_t){ z->mon[i], 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;                      /* ETERM: zap_stop */
        }
        if (items[0].revents & ZMQ_POLLIN)
            zap_on_request(z);
        for (int i = 0; i < z->nmon; i++)
            if (items[1 + i].revents & ZMQ_POLLIN)
                zap_on_event(z, i);
    }
    zmq_close(z->rep);
    for (int i = 0; i < z->nmon; i++)
        zmq_close(z->mon[i]);
    return NULL;
}

zap_t *
zap_start(void *ctx, curve_server_t *curve, char *err, size_t errlen)
{
    zap_t *z = calloc(1, sizeof(*z));
    int zero = 0;

    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->ctx = ctx;
    z->curve = curve;
    pthread_mutex_init(&z->mu, NULL);
    if (!(z->rep = zmq_socket(ctx, ZMQ_REP)) ||
        zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) < 0) {
        snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
        if (z->rep)
            zmq_close(z->rep);
        free(z);
        return NULL;
    }
    return z;
}

int
zap_watch(zap_t *z, void *sock, const char *name)
{
    char ep[64];
    int zero = 0;
    void *pair;

    assert(z->nmon < ZAP_WATCH_MAX && !z->running);
    snprintf(ep, sizeof(ep), "inproc://zsse-zap-monitor-%d", z->nmon);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) < 0)
        return -1;
    if (!(pair = zmq_socket(z->ctx, ZMQ_PAIR)))
        return -1;
    zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(pair, ep) < 0) {
        zmq_close(pair);
        return -1;
    }
    snprintf(z->name[z->nmon], sizeof(z->name[0]), "%s", name);
    z->mon[z->nmon++] = pair;
    return 0;
}

int
zap_run(zap_t *z)
{
    assert(!z->running);
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0)
        return -1;
    z->running = 1;
    return 0;
}

void
zap_allow(zap_t *z, curve_server_t *fresh)
{
    pthread_mutex_lock(&z->mu);
    uint8_t (*allowed)[CURVE_KEY_LEN] = z->curve->allowed;
    size_t n = z->curve->nallowed;
    z->curve->allowed = fresh->allowed;
    z->curve->nallowed = fresh->nallowed;
    fresh->allowed = allowed;
    fresh->nallowed = n;
    pthread_mutex_unlock(&z->mu);
}

zap_counts_t
zap_refused(const zap_t *z)
{
    zap_counts_t c = { 0, 0 };

    if (z) {
        c.unknown_key = atomic_load(&((zap_t *)z)->unknown_key);
        c.handshake = atomic_load(&((zap_t *)z)->handshake);
    }
    return c;
}

void
zap_stop(zap_t **zp, void *ctx)
{
    zap_t *z = *zp;

    if (!z)
        return;
    zmq_ctx_shutdown(ctx);
    if (z->running) {
        pthread_join(z->thread, NULL);      /* it closes its sockets */
    } else {
        zmq_close(z->rep);
        for (int i = 0; i < z->nmon; i++)
            zmq_close(z->mon[i]);
    }
    pthread_mutex_destroy(&z->mu);
    free(z);
    *zp = NULL;
}
