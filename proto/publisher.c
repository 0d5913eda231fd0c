/*
 * publisher.c -- libzsse's public publisher (zsse.h).
 *
 * A fire-and-forget publisher owns a PUSH socket to the broker's
 * "publish" endpoint; an acknowledged one owns a DEALER to "control" and
 * speaks the publish op of wire.h.  Each publisher has its own ZeroMQ
 * context, so a program can hold several without sharing anything.
 * zsse_publisher_new_config() takes the endpoint and the CURVE client keys
 * from the config file (curve.h), as every other client of the broker does.
 *
 * Batching (zsse_publisher_batch): fire-and-forget messages gather in a
 * batch_t and leave as one frame (batch.h) when it holds the asked
 * count, when the next one would not fit, or on zsse_publisher_flush() /
 * destroy.  Only whole JSON objects are batched (batch_can_hold): any
 * other text could move its neighbours' boundaries, so it flushes the
 * batch and goes alone, and the broker refuses it alone.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>
#include "batch.h"
#include "channel.h"
#include "config.h"
#include "curve.h"
#include "ctl.h"
#include "wire.h"
#include "zsse.h"

struct zsse_publisher {
    void *ctx;
    void *sock;
    int   ack;                  /* DEALER to control */
    int   send_timeout_ms;      /* -1: zmq_send blocks as ZeroMQ does */
    char *endpoint;
    curve_client_t curve;       /* off: plain ZeroMQ */
    unsigned batch_max;         /* 0: no batching, else messages per frame */
    batch_t  batch;             /* messages not yet sent */
};

_Static_assert(ZSSE_BATCH_MAX == BATCH_MAX, "zsse.h and batch.h agree");

static int
publisher_open_socket(zsse_publisher_t *p)
{
    int linger = 1000, hwm = 100000;

    if (!(p->sock = zmq_socket(p->ctx, p->ack ? ZMQ_DEALER : ZMQ_PUSH)))
        return -1;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (curve_client_apply(p->sock, &p->curve) < 0)
        return -1;
    if (p->send_timeout_ms >= 0) {
        /* queue only on a connection the broker has accepted, and give
         * up after the timeout: a send then means a broker took it */
        int one = 1;
        zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
        zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &p->send_timeout_ms, sizeof(int));
    }
    return zmq_connect(p->sock, p->endpoint);
}

static zsse_publisher_t *
publisher_new(const char *endpoint, int ack, const curve_client_t *curve, int send_timeout_ms)
{
    zsse_publisher_t *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->ack = ack;
    if (curve)
        p->curve = *curve;
    p->send_timeout_ms = send_timeout_ms;
    batch_init(&p->batch);
    if (!(p->endpoint = strdup(endpoint)) || !(p->ctx = zmq_ctx_new()) || publisher_open_socket(p) < 0) {
        int e = errno;
        zsse_publisher_destroy(&p);
        errno = e;
        return NULL;
    }
    return p;
}

zsse_publisher_t *
zsse_publisher_new(const char *endpoint)
{
    return publisher_new(endpoint, 0, NULL, -1);
}

zsse_publisher_t *
zsse_publisher_new_timeout(const char *endpoint, int timeout_ms)
{
    if (timeout_ms < 0)
        return errno = EINVAL, NULL;
    return publisher_new(endpoint, 0, NULL, timeout_ms);
}

zsse_publisher_t *
zsse_publisher_new_ack(const char *control_endpoint)
{
    return publisher_new(control_endpoint, 1, NULL, -1);
}

zsse_publisher_t *
zsse_publisher_new_config(const char *file, int ack, int timeout_ms, char *err,
    size_t errlen)
{
    char why[512];
    curve_client_t curve;
    zsse_publisher_t *p = NULL;
    config_t *cfg;

    file = config_default_path(file);
    if (!(cfg = config_load(file, why, sizeof(why)))) {
        snprintf(err, errlen, "config: %s: %s", file, why);
        return NULL;
    }
    if (curve_client_load(&cfg->broker, &curve, why, sizeof(why)) < 0)
        snprintf(err, errlen, "config: %s: %s", file, why);
    else if (!(p = publisher_new(ack ? cfg->broker.control : cfg->broker.publish, ack, &curve,
                                ack ? -1 : timeout_ms)))
        snprintf(err, errlen, "%s: %s", ack ? cfg->broker.control : cfg->broker.publish,
            zmq_strerror(errno));
    memset(&curve, 0, sizeof(curve));
    config_destroy(&cfg);
    return p;
}

void
zsse_publisher_destroy(zsse_publisher_t **pubp)
{
    zsse_publisher_t *p = *pubp;

    if (!p)
        return;
    if (p->sock)
        zsse_publisher_flush(p);       /* best effort, as ZMQ_LINGER */
    batch_free(&p->batch);
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p->endpoint);
    memset(&p->curve, 0, sizeof(p->curve));
    free(p);
    *pubp = NULL;
}

int
zsse_publisher_batch(zsse_publisher_t *p, unsigned max_messages)
{
    if (p->ack || max_messages > ZSSE_BATCH_MAX)
        return errno = EINVAL, -1;
    if (zsse_publisher_flush(p) < 0)
        return -1;
    p->batch_max = max_messages > 1 ? max_messages : 0;
    return 0;
}

int
zsse_publisher_flush(zsse_publisher_t *p)
{
    const char *f;
    size_t len;

    if (p->batch.n == 0)
        return 0;
    batch_frame(&p->batch, &f, &len);
    if (zmq_send(p->sock, f, len, 0) < 0)
        return -1;              /* kept: the next flush tries again */
    batch_reset(&p->batch);
    return 0;
}

int
zsse_publish_raw(zsse_publisher_t *p, const char *json_msg, size_t len)
{
    batch_add_t rc;

    if (p->ack)
        return errno = EINVAL, -1;
    if (!p->batch_max || !batch_can_hold(json_msg, len)) {
        if (zsse_publisher_flush(p) < 0)    /* order: what came before first */
            return -1;
        return zmq_send(p->sock, json_msg, len, 0) < 0 ? -1 : 0;
    }
    if ((rc = batch_add(&p->batch, json_msg, len)) == BATCH_ADD_FULL) {
        if (zsse_publisher_flush(p) < 0)
            return -1;
        rc = batch_add(&p->batch, json_msg, len);
    }
    if (rc == BATCH_ADD_ERROR)
        return -1;
    assert(rc == BATCH_ADD_OK);
    /* taken: a failed send keeps the batch for the next call to retry */
    if (p->batch.n >= p->batch_max)
        (void)zsse_publisher_flush(p);
    return 0;
}

int
zsse_publish(zsse_publisher_t *p, const char *channel, const char *event,
    const char *json_data)
{
    json_t *msg, *data;
    char *head, *text = NULL;
    int rc;

    if (!channel || !channel_valid(channel, strlen(channel)) ||
        (event && strpbrk(event, "\r\n")) || !json_data)
        return errno = EINVAL, -1;
    if (!(data = json_loads(json_data, JSON_DECODE_ANY, NULL)))
        return errno = EINVAL, -1;
    json_decref(data);
    /* the data goes as the caller wrote it: no number re-spelling */
    msg = json_pack("{s:s}", "channel", channel);
    if (msg && event && *event)
        json_object_set_new(msg, "event", json_string(event));
    head = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (head) {
        head[strlen(head) - 1] = '\0';
        if (asprintf(&text, "%s,\"data\":%s}", head, json_data) < 0)
            text = NULL;
    }
    free(head);
    if (!text)
        return errno = ENOMEM, -1;
    rc = zsse_publish_raw(p, text, strlen(text));
    free(text);
    return rc;
}

int
zsse_publish_ack(zsse_publisher_t *p, const char *json_msg, size_t len, int timeout_ms,
    uint64_t *id, char *err, size_t errlen)
{
    zmq_pollitem_t it = { p->sock, 0, ZMQ_POLLIN, 0 };
    ctl_arg_t msg = { json_msg, len }, v[4];
    ctl_frames_t m;
    ctl_rep_t rep;
    int rc = -1;

    if (!p->ack) {
        snprintf(err, errlen, "not an acknowledged publisher");
        return -1;
    }
    if (ctl_send(p->sock, CTL_PUBLISH, &msg, 1) < 0) {
        snprintf(err, errlen, "send: %s", errno == EINVAL ? "message empty or too large"
            : zmq_strerror(errno));
        return -1;
    }
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        /* a late reply must not be taken for the next one: new socket */
        zmq_close(p->sock);
        p->sock = NULL;
        if (publisher_open_socket(p) < 0)
            snprintf(err, errlen, "timeout (and reconnect failed)");
        else
            snprintf(err, errlen, "timeout");
        return -1;
    }
    /* "" delimiter, status, argument */
    ctl_frames_init(&m, 5);
    if (ctl_recv(p->sock, &m, 0) <= 0 || m.truncated || m.n < 2 || ctl_frame(&m, 0).len != 0) {
        snprintf(err, errlen, "bad reply");
        goto out;
    }
    for (size_t i = 1; i < m.n; i++)
        v[i - 1] = ctl_frame(&m, i);
    if (ctl_decode_reply(CTL_PUBLISH, v, m.n - 1, &rep) != CTL_E_OK) {
        snprintf(err, errlen, "bad reply");
        goto out;
    }
    if (rep.status == CTL_OK && wire_parse_id(rep.arg[0].p, rep.arg[0].len, id) == 0) {
        rc = 0;
    } else if (rep.status == CTL_ERROR) {
        char why[512];
        ctl_arg_str(&rep.arg[0], why, sizeof(why));
        snprintf(err, errlen, "%s", why);
    } else {
        snprintf(err, errlen, "bad reply");
    }
out:
    ctl_frames_close(&m);
    free(m.f);
    return rc;
}
