/* cmocka test of max_per_user across two brokers (broker/broker.c with
 * lease_kv.h): two brokers in this process, each driven in-process
 * (broker_control) and each with its own NATS connection to one real
 * nats-server (tests/unit/nats_server.h), share one key-value bucket.  A
 * user's limit counts the leases of both; a release on one frees a slot
 * for the other; another connection's release frees nothing; renewals
 * reach the bucket; a lease whose slot another broker took over (after
 * its expiry there) is dropped at its next renewal; routes without a
 * limit never touch the bucket; a broker's clean stop frees its slots. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "broker.h"
#include "config.h"
#include "ctl.h"
#include "lease_kv.h"
#include "nats_server.h"
#include "wire.h"

#define BUCKET  "ZSSE_TEST_CLUSTER_LEASES"
#define CONF \
    "{\"broker\": {\"publish\": \"ipc://@zsse-lc-%d-%c-pub\", \"events\": \"ipc://@zsse-lc-%d-%c-evt\"," \
    " \"control\": \"ipc://@zsse-lc-%d-%c-ctl\", \"buffer\": 8, \"max_message\": 4096}," \
    " \"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"}," \
    " \"routes\": [{\"path\": \"/u/events\", \"channels\": [\"user/{sub}\"], \"max_per_user\": 2}," \
    " {\"path\": \"/open\", \"channels\": [\"news\"]}]}"
#define U1      "/u/events\0u1", sizeof("/u/events\0u1") - 1

static ns_t server;
static natsConnection *nc[3];
static leasekv_t *lk[3];                /* A's, B's, and an intruder's */
static config_t *cfg[2];
static broker_t *br[2];
static ctl_reply_t out;
static kvStore *kv;                     /* to look into the bucket */
static jsCtx *js;

static int
group_setup(void **st)
{
    (void)st;
    char err[256], text[1024];
    if (ns_start(&server) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (!(nc[i] = ns_connect(&server)) ||
            !(lk[i] = leasekv_new(nc[i], BUCKET, 1, err, sizeof(err)))) {
            fprintf(stderr, "NATS: %s\n", err);
            return -1;
        }
    }
    if (natsConnection_JetStream(&js, nc[2], NULL) != NATS_OK ||
        js_KeyValue(&kv, js, BUCKET) != NATS_OK)
        return -1;
    for (int i = 0; i < 2; i++) {
        int pid = (int)getpid();
        char c = (char)('a' + i);
        snprintf(text, sizeof(text), CONF, pid, c, pid, c, pid, c);
        if (!(cfg[i] = config_parse(text, strlen(text), err, sizeof(err))) ||
            !(br[i] = broker_new(cfg[i], err, sizeof(err)))) {
            fprintf(stderr, "broker: %s\n", err);
            return -1;
        }
        broker_set_leasekv(br[i], lk[i]);
    }
    ctl_reply_init(&out);
    return 0;
}

static int
group_teardown(void **st)
{
    (void)st;
    ctl_reply_free(&out);
    for (int i = 0; i < 2; i++) {
        broker_destroy(&br[i]);
        config_destroy(&cfg[i]);
    }
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    for (int i = 0; i < 3; i++) {
        leasekv_destroy(&lk[i]);
        natsConnection_Destroy(nc[i]);
    }
    nats_Close();
    return ns_stop(&server);
}

/* lease ROUTE SUB on broker B for connection OWNER: "ok" (ID set), "full"
 * or "refused" */
static const char *
take(int b, const char *owner, const char *route, const char *sub, char id[LEASE_ID_LEN + 1])
{
    ctl_arg_t f[4] = { { "lease", 5 }, { route, strlen(route) }, { sub, strlen(sub) },
        { "t", 1 } };
    broker_control(br[b], owner, strlen(owner), f, 4, &out);
    ctl_arg_t st = ctl_reply_frame(&out, 0);
    if (ctl_arg_is(&st, "ok")) {
        ctl_arg_t a = ctl_reply_frame(&out, 2);
        assert_int_equal(a.len, LEASE_ID_LEN);
        memcpy(id, a.p, LEASE_ID_LEN);
        id[LEASE_ID_LEN] = '\0';
        return "ok";
    }
    return ctl_arg_is(&st, "full") ? "full" : ctl_arg_is(&st, "refused") ? "refused" : "?";
}

/* renew or release (OP) lease ID on broker B for OWNER */
static void
lease_op(int b, const char *op, const char *owner, const char *id)
{
    ctl_arg_t f[2] = { { op, strlen(op) }, { id, LEASE_ID_LEN } };
    broker_control(br[b], owner, strlen(owner), f, 2, &out);
    ctl_arg_t st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "ok"));
}

/* the leases broker B holds (its stats) */
static json_int_t
leases_held(int b)
{
    ctl_arg_t f[1] = { { "stats", 5 } };
    broker_control(br[b], "S", 1, f, 1, &out);
    ctl_arg_t a = ctl_reply_frame(&out, 1);
    json_t *o = json_loadb(a.p, a.len, 0, NULL);
    assert_non_null(o);
    json_int_t n = json_integer_value(json_object_get(o, "leases"));
    json_decref(o);
    return n;
}

/* the revision of slot SLOT of user u1's group, 0 when absent */
static uint64_t
slot_rev(unsigned slot, char *value, size_t cap)
{
    char key[LEASEKV_KEY_MAX];
    kvEntry *e = NULL;
    assert_true(leasekv_key(U1, slot, key) > 0);
    if (kvStore_Get(&e, kv, key) != NATS_OK)
        return 0;
    uint64_t r = kvEntry_Revision(e);
    snprintf(value, cap, "%.*s", kvEntry_ValueLen(e), (const char *)kvEntry_Value(e));
    kvEntry_Destroy(e);
    return r;
}

static void
test_two_brokers(void **st)
{
    (void)st;
    char a1[LEASE_ID_LEN + 1], a2[LEASE_ID_LEN + 1], b1[LEASE_ID_LEN + 1], x[LEASE_ID_LEN + 1];
    char v0[128], v1[128];

    /* u1 may have 2 streams, wherever they are */
    assert_string_equal(take(0, "W1", "/u/events", "u1", a1), "ok");
    assert_string_equal(take(1, "W2", "/u/events", "u1", b1), "ok");
    assert_string_equal(take(0, "W1", "/u/events", "u1", x), "full");
    assert_string_equal(take(1, "W2", "/u/events", "u1", x), "full");
    assert_string_equal(take(1, "W2", "/u/events", "u2", x), "ok");     /* another user */
    for (int i = 0; i < 5; i++)                                         /* no limit */
        assert_string_equal(take(0, "W1", "/open", "u1", x), "ok");
    assert_int_equal(leases_held(0), 1 + 5);
    assert_int_equal(leases_held(1), 2);
    /* the slots hold the lease ids */
    assert_true(slot_rev(0, v0, sizeof(v0)) > 0 && slot_rev(1, v1, sizeof(v1)) > 0);
    assert_true(strstr(v0, a1) == v0 || strstr(v1, a1) == v1);
    assert_true(strstr(v0, b1) == v0 || strstr(v1, b1) == v1);

    /* another connection cannot release it, here or there */
    lease_op(1, "release", "W9", b1);
    lease_op(0, "release", "W2", b1);
    assert_string_equal(take(0, "W1", "/u/events", "u1", x), "full");
    /* its own can, and the other broker gets the slot */
    lease_op(1, "release", "W2", b1);
    assert_string_equal(take(0, "W1", "/u/events", "u1", a2), "ok");
    assert_string_equal(take(1, "W2", "/u/events", "u1", x), "full");

    /* renewals reach the bucket */
    uint64_t r0 = slot_rev(0, v0, sizeof(v0)), r1 = slot_rev(1, v1, sizeof(v1));
    lease_op(0, "renew", "W1", a1);
    lease_op(0, "renew", "W1", a2);
    assert_true(slot_rev(0, v0, sizeof(v0)) > r0);
    assert_true(slot_rev(1, v1, sizeof(v1)) > r1);

    /* a broker that could not renew for WIRE_LEASE_TTL (say, cut off):
     * another takes the slot over; at its next renewal A drops that lease */
    lease_slot_t in;
    assert_int_equal(leasekv_take(lk[2], U1, 2, "intruder", wall_us() +
        (WIRE_LEASE_TTL + 1) * 1000000ll, &in), LEASE_TAKEN);
    unsigned s = in.slot;
    lease_op(0, "renew", "W1", a1);
    lease_op(0, "renew", "W1", a2);
    assert_int_equal(leases_held(0), 1 + 5);
    assert_string_equal(take(0, "W1", "/u/events", "u1", x), "full");
    /* the one A kept, A releases: free for B */
    const char *kept = strstr(s == 0 ? v1 : v0, a1) ? a1 : a2;
    lease_op(0, "release", "W1", kept);
    assert_int_equal(leases_held(0), 5);
    assert_string_equal(take(1, "W2", "/u/events", "u1", x), "ok");

    /* a clean stop of A frees its slots at once (not after WIRE_LEASE_TTL) */
    assert_string_equal(take(0, "W1", "/u/events", "u3", x), "ok");
    assert_string_equal(take(0, "W1", "/u/events", "u3", x), "ok");
    assert_string_equal(take(1, "W2", "/u/events", "u3", x), "full");
    broker_stop();                      /* (so broker_run only stops) */
    assert_int_equal(broker_run(br[0]), 0);
    assert_string_equal(take(1, "W2", "/u/events", "u3", x), "ok");
    assert_string_equal(take(1, "W2", "/u/events", "u3", x), "ok");
    assert_string_equal(take(1, "W2", "/u/events", "u3", x), "full");
}

/* a route's limit is that many keys per user: bounded in cluster mode */
static void
test_config_bound(void **st)
{
    (void)st;
    char err[256], text[512];
    const char *fmt = "{\"broker\": {\"cluster\": {\"servers\": [\"nats://127.0.0.1:4222\"]}},"
        " \"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"},"
        " \"routes\": [{\"path\": \"/u\", \"channels\": [\"user/{sub}\"], \"max_per_user\": %d}]}";
    snprintf(text, sizeof(text), fmt, CONFIG_CLUSTER_PER_USER_MAX);
    config_t *c = config_parse(text, strlen(text), err, sizeof(err));
    assert_non_null(c);
    config_destroy(&c);
    snprintf(text, sizeof(text), fmt, CONFIG_CLUSTER_PER_USER_MAX + 1);
    assert_null(config_parse(text, strlen(text), err, sizeof(err)));
    assert_string_equal(err, "routes[0].max_per_user: must be at most 256 with broker.cluster");
    /* without the cluster, as before */
    snprintf(text, sizeof(text), "{\"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"},"
        " \"routes\": [{\"path\": \"/u\", \"channels\": [\"user/{sub}\"], \"max_per_user\": 1000}]}");
    assert_non_null(c = config_parse(text, strlen(text), err, sizeof(err)));
    config_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_bound),
        cmocka_unit_test(test_two_brokers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
