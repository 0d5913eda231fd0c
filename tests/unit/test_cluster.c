/*
 * test_cluster.c -- broker/cluster.c: zsse-broker's cluster mode against a
 * real nats-server (tests/unit/nats_server.h), with whole brokers
 * (broker_new + broker_run in threads) spoken to over their real control
 * sockets, as zsse-fcgi and `zsse publish --ack` speak to them.
 *
 * Each test has its own stream (T<n>), so none sees another's events.
 * The three-host cluster, with web servers and clients, is
 * tests/integration/cluster.sh; the figures are tests/bench/cluster.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zmq.h>
#include "nats_server.h"
#include "broker.h"
#include "cluster.h"
#include "config.h"
#include "ctl.h"
#include "wire.h"

#define TC_OFFSET   4000000000000000ull     /* the default broker.cluster.id_offset */
#define TC_EV1 "{\"channel\": \"c\", \"data\": 1}"
#define TC_EV2 "{\"channel\": \"c\", \"data\": 2}"
#define TC_CALL_MS  8000                    /* one control round trip, at most */
#define TC_WAIT_MS  20000                   /* NATS lost or back, noticed, at most */
#define TC_CONFIG \
    "{\"broker\": {\"publish\": \"ipc://@zsse-tc-%d-%d-pub\", \"events\": \"ipc://@zsse-tc-%d-%d-evt\"," \
    " \"control\": \"ipc://@zsse-tc-%d-%d-ctl\", \"buffer\": 100," \
    " \"cluster\": {\"servers\": [\"%s\"], \"replicas\": 1, \"stream\": \"T%d\", \"subject\": \"t%d.ev\", \"max_age\": %d}}," \
    " \"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"}," \
    " \"routes\": [{\"path\": \"/u/events\", \"channels\": [\"user/{sub}\"], \"max_per_user\": 1}]}"

static ns_t tc_nats;
static void *tc_zctx;
static int tc_serial;       /* brokers made: each its own endpoints */

typedef struct {
    config_t  *cfg;
    broker_t  *b;
    pthread_t  th;
    void      *dealer;
    int        rc;                  /* broker_run's */
    volatile int returned;          /* broker_run has returned */
} tc_broker_t;

static void *
tc_loop(void *arg)
{
    tc_broker_t *t = arg;
    t->rc = broker_run(t->b);
    t->returned = 1;
    return NULL;
}

/* a broker of stream T<STREAM>, running, and a DEALER to its control socket */
static void
tc_start_aged(tc_broker_t *t, int stream, int max_age)
{
    char text[2048], err[512];
    int pid = (int)getpid(), n = ++tc_serial, ms = TC_CALL_MS;

    snprintf(text, sizeof(text), TC_CONFIG, pid, n, pid, n, pid, n, tc_nats.url, stream, stream,
        max_age);
    t->cfg = config_parse(text, strlen(text), err, sizeof(err));
    if (!t->cfg)
        fail_msg("config: %s", err);
    t->b = broker_new(t->cfg, err, sizeof(err));
    if (!t->b)
        fail_msg("broker_new: %s", err);
    t->returned = 0;
    assert_int_equal(pthread_create(&t->th, NULL, tc_loop, t), 0);
    t->dealer = zmq_socket(tc_zctx, ZMQ_DEALER);
    zmq_setsockopt(t->dealer, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    assert_int_equal(zmq_connect(t->dealer, t->cfg->broker.control), 0);
}

static void
tc_stop(tc_broker_t *t)
{
    int zero = 0;
    zmq_setsockopt(t->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(t->dealer);
    broker_halt(t->b);
    pthread_join(t->th, NULL);
    broker_destroy(&t->b);
    config_destroy(&t->cfg);
}

/* a reply: its status, its first argument, its events' ids and data */
typedef struct {
    ctl_status_t status;
    char         arg[4096];
    char         arg1[64];              /* a lease's id, a reset's head */
    size_t       n;
    uint64_t     ids[256];
    char         data[256][64];
    char         channel[256][256];
} tc_reply_t;

static void
tc_start(tc_broker_t *t, int stream)
{
    tc_start_aged(t, stream, 3600);
}

/* OP with ARGS to T; -1 when no answer came in TC_CALL_MS */
static int
tc_call(tc_broker_t *t, ctl_op_t op, const char *const *args, size_t nargs, tc_reply_t *r)
{
    ctl_frames_t m;
    ctl_arg_t v[600];
    ctl_rep_t rep;

    memset(r, 0, sizeof(*r));
    assert_int_equal(ctl_send_strs(t->dealer, op, args, nargs), 0);
    ctl_frames_init(&m, 600);
    if (ctl_recv(t->dealer, &m, 0) != 1) {
        ctl_frames_close(&m);
        free(m.f);
        return -1;
    }
    for (size_t i = 1; i < m.n; i++)         /* after the delimiter */
        v[i - 1] = ctl_frame(&m, i);
    assert_int_equal(ctl_decode_reply(op, v, m.n - 1, &rep), CTL_E_OK);
    r->status = rep.status;
    if (rep.nargs)
        ctl_arg_str(&rep.arg[0], r->arg, sizeof(r->arg));
    if (rep.nargs > 1)
        ctl_arg_str(&rep.arg[1], r->arg1, sizeof(r->arg1));
    for (size_t i = 0; i < rep.nevents && r->n < 256; i++, r->n++) {
        wire_event_t we;
        ctl_rep_event(v, &rep, i, &we);
        r->ids[r->n] = we.id;
        snprintf(r->data[r->n], sizeof(r->data[0]), "%.*s", (int)we.data_len, we.data);
        snprintf(r->channel[r->n], sizeof(r->channel[0]), "%.*s", (int)we.channel_len, we.channel);
    }
    ctl_frames_close(&m);
    free(m.f);
    return 0;
}

/* an acknowledged publish of MSG: the id, or 0 with the reason in WHY */
static uint64_t
tc_publish(tc_broker_t *t, const char *msg, char *why, size_t whylen)
{
    tc_reply_t r;
    const char *args[] = { msg };
    uint64_t id = 0;

    if (tc_call(t, CTL_PUBLISH, args, 1, &r) < 0) {
        snprintf(why, whylen, "no answer");
        return 0;
    }
    if (r.status != CTL_OK) {
        snprintf(why, whylen, "%s", r.arg);
        return 0;
    }
    assert_int_equal(wire_parse_id(r.arg, strlen(r.arg), &id), 0);
    return id;
}

/* replay after AFTER of CHANNEL on T */
static void
tc_replay(tc_broker_t *t, uint64_t after, const char *channel, tc_reply_t *r)
{
    char a[WIRE_ID_TEXT_LEN];
    wire_fmt_id(a, after);
    const char *args[] = { a, "", channel };
    assert_int_equal(tc_call(t, CTL_REPLAY, args, 3, r), 0);
}

/* acknowledged ids are the stream's sequence plus the offset, in order,
 * and a replay gives the events back as they were published */
static void
test_ids_are_sequences(void **state)
{
    tc_broker_t a;
    tc_reply_t r;
    char why[64], msg[128];
    (void)state;

    tc_start(&a, 1);
    for (int i = 1; i <= 5; i++) {
        snprintf(msg, sizeof(msg), "{\"channel\": \"room/1\", \"data\": {\"n\": %d}}", i);
        assert_int_equal(tc_publish(&a, msg, why, sizeof(why)), TC_OFFSET + (uint64_t)i);
    }
    tc_replay(&a, TC_OFFSET, "room/1", &r);
    assert_int_equal(r.status, CTL_OK);
    assert_int_equal(r.n, 5);
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof(want), "{\"n\":%zu}", i + 1);
        assert_int_equal(r.ids[i], TC_OFFSET + i + 1);
        assert_string_equal(r.data[i], want);
    }
    /* a message the broker refuses never reaches the stream */
    assert_int_equal(tc_publish(&a, "{\"channel\": \"room/1\"}", why, sizeof(why)), 0);
    assert_string_equal(why, "missing_data");
    assert_int_equal(tc_publish(&a, "{\"channel\": \"room/1\", \"data\": 6}", why, sizeof(why)),
        TC_OFFSET + 6);
    tc_stop(&a);
}

/* one connection's requests, pipelined, are answered in the order asked,
 * a refusal (known at once) after the publishes before it (answered when
 * JetStream has answered), as a pipelining client matches them */
static void
test_answers_in_order(void **state)
{
    tc_broker_t a;
    const char *ok1[] = { "{\"channel\": \"o\", \"data\": 1}" }, *bad[] = { "{\"channel\": \"o\"}" },
               *ok2[] = { "{\"channel\": \"o\", \"data\": 2}" };
    const char *const *order[] = { ok1, bad, ok2, bad, ok1 };
    const char *want[] = { "ok", "error", "ok", "error", "ok" };
    (void)state;

    tc_start(&a, 8);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < 5; i++)
            assert_int_equal(ctl_send_strs(a.dealer, CTL_PUBLISH, order[i], 1), 0);
        for (size_t i = 0; i < 5; i++) {
            ctl_frames_t m;
            ctl_frames_init(&m, 8);
            assert_int_equal(ctl_recv(a.dealer, &m, 0), 1);
            ctl_arg_t st = ctl_frame(&m, 1);
            if (!ctl_arg_is(&st, want[i]))
                fail_msg("round %d, answer %zu: %.*s, want %s", round, i, (int)st.len, st.p,
                    want[i]);
            ctl_frames_close(&m);
            free(m.f);
        }
    }
    tc_stop(&a);
}

/* two brokers on one stream: one total order, whichever took the publish;
 * each one's replay holds the other's events; a replay from an id the
 * other broker just gave is not "unknown id", applied here yet or not */
static void
test_two_brokers_one_order(void **state)
{
    tc_broker_t a, b;
    tc_reply_t r;
    char why[64], msg[128];
    uint64_t ids[40], last = 0;
    (void)state;

    tc_start(&a, 2);
    tc_start(&b, 2);
    for (int i = 0; i < 40; i++) {
        tc_broker_t *to = i % 2 ? &b : &a, *other = i % 2 ? &a : &b;
        snprintf(msg, sizeof(msg), "{\"channel\": \"c\", \"data\": %d}", i);
        ids[i] = tc_publish(to, msg, why, sizeof(why));
        assert_true(ids[i] > last);
        last = ids[i];
        /* at once, on the other broker: not "unknown id" */
        tc_replay(other, ids[i], "c", &r);
        assert_int_equal(r.status, CTL_OK);
        assert_int_equal(r.n, 0);
    }
    for (int k = 0; k < 2; k++) {
        tc_replay(k ? &b : &a, TC_OFFSET, "c", &r);
        assert_int_equal(r.status, CTL_OK);
        assert_int_equal(r.n, 40);
        for (int i = 0; i < 40; i++) {
            char want[16];
            snprintf(want, sizeof(want), "%d", i);
            assert_int_equal(r.ids[i], ids[i]);
            assert_string_equal(r.data[i], want);
        }
    }
    /* an id no broker gave is unknown */
    tc_replay(&a, last + 1000, "c", &r);
    assert_int_equal(r.status, CTL_RESET);
    assert_string_equal(r.arg, "unknown id");
    tc_stop(&a);
    tc_stop(&b);
}

/* a broker started anew rebuilds its buffers and state from the stream,
 * before it answers anyone */
#define TC_BULK 20000
static void
test_restart_rebuilds(void **state)
{
    tc_broker_t a;
    tc_reply_t r;
    char why[64], msg[160];
    const char *one[] = { "s" };
    uint64_t last = 0;
    (void)state;

    tc_start(&a, 3);
    /* enough in the stream that following it takes a while: a broker
     * that served before it had read it all would answer an older head */
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, tc_nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    for (int i = 0; i < TC_BULK; i++)
        assert_int_equal(js_PublishAsync(js, "t3.ev.bulk", TC_EV1, sizeof(TC_EV1) - 1, NULL),
            NATS_OK);
    assert_int_equal(js_PublishAsyncComplete(js, NULL), NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    for (int i = 0; i < 10; i++) {
        snprintf(msg, sizeof(msg), "{\"channel\": \"s\", \"key\": \"k%d\", \"data\": %d}", i % 3, i);
        last = tc_publish(&a, msg, why, sizeof(why));
        assert_true(last > 0);
    }
    tc_stop(&a);
    tc_start(&a, 3);
    assert_int_equal(tc_call(&a, CTL_HEAD, NULL, 0, &r), 0);
    assert_int_equal(r.status, CTL_OK);
    assert_string_equal(r.arg, (snprintf(msg, sizeof(msg), "%" PRIu64, last), msg));
    tc_replay(&a, TC_OFFSET, "s", &r);
    assert_int_equal(r.n, 10);
    assert_int_equal(tc_call(&a, CTL_STATE, one, 1, &r), 0);
    assert_int_equal(r.n, 3);               /* k0, k1, k2: their newest */
    assert_string_equal(r.data[0], "7");
    assert_string_equal(r.data[1], "8");
    assert_string_equal(r.data[2], "9");
    tc_stop(&a);
}

/* every channel valid in SPEC 4 round-trips through the stream's subjects */
static void
test_channel_names(void **state)
{
    static const char *const names[] = { "a.b", "x*y>z", "caf\xc3\xa9/\xe2\x9c\x93", "=3D", ">",
        "user/a.b.c/*/>" };
    tc_broker_t a;
    tc_reply_t r;
    char why[64], msg[512];
    (void)state;

    tc_start(&a, 4);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(msg, sizeof(msg), "{\"channel\": \"%s\", \"data\": %zu}", names[i], i);
        uint64_t id = tc_publish(&a, msg, why, sizeof(why));
        if (!id)
            fail_msg("%s: %s", names[i], why);
        tc_replay(&a, id - 1, names[i], &r);
        assert_int_equal(r.n, 1);
        assert_string_equal(r.channel[0], names[i]);
    }
    tc_stop(&a);
}

/* a stream whose every event has aged out (max_age) has first = last + 1
 * and nothing to read: a broker starting on it starts at once, and goes
 * on from the last id (it waited for ever for a sequence gone before) */
static void
test_start_on_aged_stream(void **state)
{
    tc_broker_t a;
    tc_reply_t r;
    char why[64], head[32];
    (void)state;

    tc_start_aged(&a, 9, 1);
    uint64_t last = 0;
    for (int i = 0; i < 2; i++)
        last = tc_publish(&a, "{\"channel\": \"g\", \"data\": 1}", why, sizeof(why));
    assert_true(last > 0);
    tc_stop(&a);
    sleep(3);                       /* JetStream drops them (max_age 1 s) */
    int64_t t0 = mono_ms();
    tc_start_aged(&a, 9, 1);
    assert_true(mono_ms() - t0 < 3000);
    assert_int_equal(tc_call(&a, CTL_HEAD, NULL, 0, &r), 0);
    snprintf(head, sizeof(head), "%" PRIu64, last);
    assert_string_equal(r.arg, head);
    assert_int_equal(tc_publish(&a, "{\"channel\": \"g\", \"data\": 2}", why, sizeof(why)),
        last + 1);
    tc_stop(&a);
}

/* the stream deleted and made again under a running broker: its
 * sequences start again below what the broker applied (ids would go
 * backwards): the broker stops with an error, within a few seconds */
static void
test_stream_remade(void **state)
{
    tc_broker_t a;
    char why[64];
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsPubAck *pa = NULL;
    const char *subj[] = { "t10.ev.>" };
    (void)state;

    tc_start(&a, 10);
    for (int i = 0; i < 3; i++)
        assert_true(tc_publish(&a, "{\"channel\": \"d\", \"data\": 1}", why, sizeof(why)) > 0);
    assert_int_equal(natsConnection_ConnectTo(&nc, tc_nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_DeleteStream(js, "T10", NULL, NULL), NATS_OK);
    jsStreamConfig_Init(&sc);
    sc.Name = "T10";
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    assert_int_equal(js_AddStream(&si, js, &sc, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(js_Publish(&pa, js, "t10.ev.d", TC_EV1, sizeof(TC_EV1) - 1, NULL, NULL),
        NATS_OK);
    jsPubAck_Destroy(pa);
    for (int i = 0; i < TC_WAIT_MS / 50 && !a.returned; i++)
        usleep(50000);
    assert_true(a.returned);
    assert_int_equal(a.rc, -1);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    tc_stop(&a);
}

/* the "cluster" object of `zsse stats`: connected or not */
static int
tc_connected(tc_broker_t *t)
{
    tc_reply_t r;
    if (tc_call(t, CTL_STATS, NULL, 0, &r) < 0)
        return -1;
    return strstr(r.arg, "\"connected\":true") ? 1 : 0;
}

static void
tc_wait_connected(tc_broker_t *t, int want)
{
    for (int i = 0; i < TC_WAIT_MS / 50; i++) {
        if (tc_connected(t) == want)
            return;
        usleep(50000);
    }
    fail_msg("the broker did not see NATS %s in %d ms", want ? "back" : "go", TC_WAIT_MS);
}

/* NATS lost: publishes refused with a reason, never acknowledged; head and
 * replay refused (zsse-fcgi: 503); back: the ids go on, nothing lost */
static void
test_nats_lost_and_back(void **state)
{
    tc_broker_t a;
    tc_reply_t r;
    char why[64];
    const char *msg = "{\"channel\": \"n\", \"data\": 1}";
    (void)state;

    tc_start(&a, 5);
    uint64_t first = tc_publish(&a, msg, why, sizeof(why));
    assert_true(first > 0);
    ns_kill(&tc_nats);
    tc_wait_connected(&a, 0);
    assert_int_equal(tc_publish(&a, msg, why, sizeof(why)), 0);
    assert_string_equal(why, "cluster_unavailable");
    assert_int_equal(tc_call(&a, CTL_HEAD, NULL, 0, &r), 0);
    assert_int_equal(r.status, CTL_ERROR);
    const char *lease[] = { "/u/events", "alice", "7" };
    assert_int_equal(tc_call(&a, CTL_LEASE, lease, 3, &r), 0);
    assert_int_equal(r.status, CTL_REFUSED);        /* at once, with its tag */
    assert_string_equal(r.arg, "7");
    assert_int_equal(ns_restart(&tc_nats), 0);
    tc_wait_connected(&a, 1);
    uint64_t next = 0;
    for (int i = 0; i < TC_WAIT_MS / 100 && !next; i++) {   /* JetStream up again */
        next = tc_publish(&a, msg, why, sizeof(why));
        if (!next)
            usleep(100000);
    }
    if (!next)
        fail_msg("no publish acknowledged after NATS came back: %s", why);
    assert_int_equal(next, first + 1);      /* the refused one took no id */
    tc_replay(&a, first - 1, "n", &r);
    for (int i = 0; i < TC_WAIT_MS / 100 && r.n < 2; i++) {
        usleep(100000);
        tc_replay(&a, first - 1, "n", &r);
    }
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ids[0], first);
    assert_int_equal(r.ids[1], next);
    tc_stop(&a);
}


/* what cluster.c handed to its hooks (test_id_given) */
static struct {
    size_t   applied;
    uint64_t last;
    int      out_of_order;
} tc_seen;

static void
tc_hook_apply(void *ctx, const event_rec_t *rec)
{
    (void)ctx;
    if (rec->id <= tc_seen.last)
        tc_seen.out_of_order++;
    tc_seen.last = rec->id;
    tc_seen.applied++;
}

static void
tc_hook_acked(void *ctx, uint64_t token, uint64_t id, const char *reason)
{
    (void)ctx;
    (void)token;
    (void)id;
    (void)reason;
}

/* cluster.c alone: events published into the stream by someone else
 * (here libnats itself) are applied only when the loop polls, yet an id
 * among them is known as given (a client from another host may bring it:
 * cluster_id_given asks the stream), one past the stream's last is not;
 * applied, they come in order, and a message that is not an event is
 * skipped */
static void
test_id_given(void **state)
{
    static const cluster_hooks_t hooks = { tc_hook_apply, tc_hook_acked, NULL };
    char text[1024], err[256];
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsPubAck *pa = NULL;
    (void)state;

    int n = ++tc_serial, pid = (int)getpid();
    snprintf(text, sizeof(text), TC_CONFIG, pid, n, pid, n, pid, n, tc_nats.url, 6, 6, 3600);
    config_t *cfg = config_parse(text, strlen(text), err, sizeof(err));
    assert_non_null(cfg);
    cluster_t *c = cluster_new(&cfg->broker, &hooks, NULL, err, sizeof(err));
    if (!c)
        fail_msg("cluster_new: %s", err);
    assert_int_equal(cluster_rebuild(c), 0);
    memset(&tc_seen, 0, sizeof(tc_seen));
    assert_int_equal(natsConnection_ConnectTo(&nc, tc_nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(js_PublishAsync(js, "t6.ev.c", TC_EV1, sizeof(TC_EV1) - 1, NULL), NATS_OK);
    assert_int_equal(js_PublishAsyncComplete(js, NULL), NATS_OK);
    assert_int_equal(js_Publish(&pa, js, "t6.ev.c", "not an event", 12, NULL, NULL), NATS_OK);
    jsPubAck_Destroy(pa);
    assert_int_equal(js_Publish(&pa, js, "t6.ev.c", TC_EV2, sizeof(TC_EV2) - 1, NULL, NULL),
        NATS_OK);
    uint64_t newest = TC_OFFSET + pa->Sequence;
    jsPubAck_Destroy(pa);
    assert_int_equal(tc_seen.applied, 0);           /* nobody polled yet */
    assert_int_equal(cluster_id_given(c, newest + 1), 0);
    assert_int_equal(cluster_id_given(c, newest), 1);
    assert_int_equal(tc_seen.applied, 0);           /* and it did not wait for them */
    for (int i = 0; i < TC_WAIT_MS && tc_seen.applied < 2001; i++)
        if (cluster_poll(c, 4096) == 0)
            usleep(1000);
    assert_int_equal(tc_seen.applied, 2001);        /* the one that is not an event skipped */
    assert_int_equal(tc_seen.last, newest);
    assert_int_equal(tc_seen.out_of_order, 0);
    assert_int_equal(cluster_last_id(c), newest);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    cluster_destroy(&c);
    config_destroy(&cfg);
}

/* max_per_user counts both brokers' streams, through the brokers' own
 * lease threads (lease_jobs.h): a take answered once the bucket has
 * answered, a release freeing the slot for the other broker */
static void
test_leases_across_brokers(void **state)
{
    tc_broker_t a, b;
    tc_reply_t r;
    const char *take1[] = { "/u/events", "alice", "1" }, *take2[] = { "/u/events", "alice", "2" },
               *take3[] = { "/u/events", "bob", "3" };
    char lease[64];
    (void)state;

    tc_start(&a, 7);
    tc_start(&b, 7);
    assert_int_equal(tc_call(&a, CTL_LEASE, take1, 3, &r), 0);
    assert_int_equal(r.status, CTL_OK);
    assert_string_equal(r.arg, "1");
    assert_int_equal(strlen(r.arg1), 32);
    snprintf(lease, sizeof(lease), "%s", r.arg1);
    assert_int_equal(tc_call(&b, CTL_LEASE, take2, 3, &r), 0);
    assert_int_equal(r.status, CTL_FULL);           /* alice's one is on A */
    assert_string_equal(r.arg, "2");
    assert_int_equal(tc_call(&b, CTL_LEASE, take3, 3, &r), 0);
    assert_int_equal(r.status, CTL_OK);             /* bob is someone else */
    const char *rel[] = { lease };
    assert_int_equal(tc_call(&a, CTL_RELEASE, rel, 1, &r), 0);
    assert_int_equal(r.status, CTL_OK);
    /* the release goes by the lease thread, unawaited: B sees it soon */
    for (int i = 0; i < TC_WAIT_MS / 50; i++) {
        assert_int_equal(tc_call(&b, CTL_LEASE, take2, 3, &r), 0);
        if (r.status == CTL_OK)
            break;
        usleep(50000);
    }
    assert_int_equal(r.status, CTL_OK);
    tc_stop(&a);
    tc_stop(&b);
}

static int
tc_setup(void **state)
{
    (void)state;
    tc_zctx = zmq_ctx_new();
    return ns_start(&tc_nats);
}

static int
tc_teardown(void **state)
{
    (void)state;
    ns_stop(&tc_nats);
    /* not zmq_ctx_term: after a failed test a broker's sockets are still
     * open, and it would wait for them for ever */
    zmq_ctx_shutdown(tc_zctx);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_are_sequences),
        cmocka_unit_test(test_answers_in_order),
        cmocka_unit_test(test_two_brokers_one_order),
        cmocka_unit_test(test_restart_rebuilds),
        cmocka_unit_test(test_channel_names),
        cmocka_unit_test(test_id_given),
        cmocka_unit_test(test_leases_across_brokers),
        cmocka_unit_test(test_start_on_aged_stream),
        cmocka_unit_test(test_stream_remade),
        cmocka_unit_test(test_nats_lost_and_back),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
