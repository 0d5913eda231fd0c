/*
 * live_broker.h -- a real zsse-broker loop (broker_new + broker_run) in a
 * thread of the test, on abstract ipc:// endpoints (no files, no ports),
 * for the unit tests of its clients: the control pool (test_control.c)
 * and the replay (test_replay.c) talk to it over real ZeroMQ sockets.
 *
 *     lb_start()  config, broker, thread; the control pool pointed at it
 *     lb_publish(MSG)  an acknowledged publish: the event's id, 0 on error
 *     lb_stop()   stop the loop, join, free
 *
 * The config (LB_CONFIG): a buffer of 8 events a channel, route 0 a
 * stream route with max_per_user 2, route 1 a snapshot route, routes 2
 * and 3 publish routes (3 requires the claim "role": "admin"), route 4 a
 * Mercure hub.
 */
#ifndef ZSSE_LIVE_BROKER_H
#define ZSSE_LIVE_BROKER_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <fcgiapp.h>
#include "auth.h"
#include "broker.h"
#include "config.h"
#include "control.h"
#include "wire.h"

#define LB_CONFIG \
    "{\"broker\": {\"publish\": \"ipc://@zsse-lb-%d-pub\", \"events\": \"ipc://@zsse-lb-%d-evt\"," \
    " \"control\": \"ipc://@zsse-lb-%d-ctl\", \"buffer\": 8, \"max_message\": 4096}," \
    " \"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"}," \
    " \"routes\": [{\"path\": \"/u/events\", \"channels\": [\"user/{sub}\"], \"max_per_user\": 2}," \
    " {\"path\": \"/s/events\", \"channels\": [\"state/{sub}\"], \"snapshot\": true}," \
    " {\"path\": \"/publish\", \"type\": \"publish\"}," \
    " {\"path\": \"/admin/publish\", \"type\": \"publish\", \"require\": {\"role\": \"admin\"}}," \
    " {\"path\": \"/.well-known/mercure\", \"type\": \"mercure\"}]}"
#define LB_CALL_MS 2000             /* one round trip to the broker, at most */

static struct {
    config_t  *cfg;
    broker_t  *b;
    pthread_t  th;
    void      *zctx;                /* the clients' context */
} lb;

static inline void *
lb_loop(void *arg)
{
    broker_run(arg);
    return NULL;
}

/* 0, or -1 with the reason on stderr */
static inline int
lb_start(void)
{
    char text[2048], err[256];
    int pid = (int)getpid();

    snprintf(text, sizeof(text), LB_CONFIG, pid, pid, pid);
    if (!(lb.cfg = config_parse(text, strlen(text), err, sizeof(err))) ||
        !(lb.b = broker_new(lb.cfg, err, sizeof(err)))) {
        fprintf(stderr, "live_broker: %s\n", err);
        return -1;
    }
    if (pthread_create(&lb.th, NULL, lb_loop, lb.b) != 0)
        return -1;
    lb.zctx = zmq_ctx_new();
    control_init(lb.zctx, lb.cfg->broker.control, NULL);
    return 0;
}

/* publish MSG (JSON text) with an acknowledgement; its id, 0 on error */
static inline uint64_t
lb_publish(const char *msg)
{
    control_reply_t r;
    char id_s[WIRE_ID_TEXT_LEN];
    uint64_t id = 0;

    if (control_call(CTL_PUBLISH, &msg, 1, LB_CALL_MS, &r) < 0)
        return 0;
    if (control_reply_is(&r, 0, "ok")) {
        control_reply_str(&r, 1, id_s, sizeof(id_s));
        if (wire_parse_id(id_s, strlen(id_s), &id) < 0)
            id = 0;
    }
    control_reply_free(&r);
    return id;
}

static inline void
lb_stop(void)
{
    control_fini();
    broker_stop();
    pthread_join(lb.th, NULL);
    broker_destroy(&lb.b);
    config_destroy(&lb.cfg);
    zmq_ctx_term(lb.zctx);
}

/* the broker's newest id (the control head operation), 0 on error */
static inline uint64_t
lb_head(void)
{
    control_reply_t r;
    char s[WIRE_ID_TEXT_LEN];
    uint64_t id = 0;

    if (control_call(CTL_HEAD, NULL, 0, LB_CALL_MS, &r) == 0) {
        control_reply_str(&r, 1, s, sizeof(s));
        if (wire_parse_id(s, strlen(s), &id) < 0)
            id = 0;
        control_reply_free(&r);
    }
    return id;
}

/* The events of CHANNEL after id AFTER, by a replay through the control
 * pool: R holds the reply (control_reply_free it after reading EV, which
 * needs room for every event); the count, or -1 when the call failed. */
static inline int
lb_replay(uint64_t after, const char *channel, control_reply_t *r, wire_event_t *ev)
{
    char id[WIRE_ID_TEXT_LEN];

    wire_fmt_id(id, after);
    const char *args[] = { id, "", channel };
    if (control_call(CTL_REPLAY, args, 3, LB_CALL_MS, r) < 0)
        return -1;
    return control_reply_events(r, 0, ev);
}

/* cmocka group fixtures for a test file that needs only the broker */
static inline int
lb_group_setup(void **st)
{
    (void)st;
    return lb_start();
}

static inline int
lb_group_teardown(void **st)
{
    (void)st;
    lb_stop();
    return 0;
}


/* What a route test needs before its first request: an HS256 verifier
 * on a fresh 32-byte key in KEYFILE (a mkstemp template, unlinked by the
 * caller), libfcgi initialised and the broker loop started
 * (lb_start).  0, or -1 with nothing to undo
 * but the key file. */
static inline int
lb_route_setup(char *keyfile, auth_t **auth)
{
    char err[256];
    int fd = mkstemp(keyfile);

    if (fd < 0)
        return -1;
    if (write(fd, "0123456789abcdef0123456789abcdef", 32) != 32) {
        close(fd);
        return -1;
    }
    close(fd);
    auth_conf_t c = { .alg = "HS256", .key_file = keyfile, .require_exp = true };
    if (!(*auth = auth_new(&c, err, sizeof(err))) || FCGX_Init() != 0 || lb_start() < 0)
        return -1;
    return 0;
}

#endif
