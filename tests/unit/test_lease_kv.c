/* cmocka tests for broker/lease_kv.c against a real nats-server with
 * JetStream (started here on a random port of 127.0.0.1, its store in a
 * temporary directory, killed by its pid at the end): a group's limit,
 * release, a dead lease taken over after its expiry, renew (also with a
 * revision whose answer was lost; a late one gives up), the longest
 * groups, the race of two
 * brokers (two connections in two threads, 200 rounds: exactly one wins
 * each), and NATS gone: a take fails fast. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "lease_kv.h"
#include "lease_race.h"
#include "nats_server.h"
#include "wire.h"

#define SEC       1000000ll                 /* µs */
#define LEASE_TTL (WIRE_LEASE_TTL * SEC)
#define GROUP(s)  s, sizeof(s) - 1          /* "route\0sub": the '\0' is part of it */
#define BUCKET    "ZSSE_TEST_LEASES"

static ns_t server;
static natsConnection *nc1, *nc2;

static int
group_setup(void **st)
{
    (void)st;
    if (ns_start(&server) < 0)
        return -1;
    if (!(nc1 = ns_connect(&server)) || !(nc2 = ns_connect(&server))) {
        ns_stop(&server);
        return -1;
    }
    return 0;
}

static int
group_teardown(void **st)
{
    (void)st;
    natsConnection_Destroy(nc1);
    natsConnection_Destroy(nc2);
    nats_Close();
    return ns_stop(&server);
}

static int
setup(void **st)
{
    char err[256];
    *st = leasekv_new(nc1, BUCKET, 1, err, sizeof(err));
    if (!*st)
        fprintf(stderr, "leasekv_new: %s\n", err);
    return *st ? 0 : -1;
}

static int
teardown(void **st)
{
    leasekv_t *lk = *st;
    leasekv_destroy(&lk);
    assert_null(lk);
    return 0;
}

static void
test_limit(void **st)
{
    leasekv_t *lk = *st;
    int64_t now = wall_us();
    lease_slot_t h[4], x;
    char longest[LEASEKV_ID_MAX + 1];

    /* the longest lease id fits in the bucket's messages */
    memset(longest, 'f', LEASEKV_ID_MAX);
    longest[LEASEKV_ID_MAX] = '\0';
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u0"), 1, longest, now, &h[0]), LEASE_TAKEN);
    assert_int_equal(leasekv_renew(lk, GROUP("/e\0u0"), longest, now, &h[0]), LEASEKV_DONE);
    longest[LEASEKV_ID_MAX - 1] = '\0';
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u0"), 1, longest, now, &x), LEASE_FULL);

    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "a", now, &h[0]), LEASE_TAKEN);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "b", now, &h[1]), LEASE_TAKEN);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "c", now, &h[2]), LEASE_TAKEN);
    assert_int_equal(h[0].slot + h[1].slot + h[2].slot, 0 + 1 + 2);
    assert_true(h[0].held && h[0].expires_ms == now / 1000 + WIRE_LEASE_TTL * 1000);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "d", now, &x), LEASE_FULL);
    /* another sub, another route: their own slots */
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u2"), 1, "e", now, &x), LEASE_TAKEN);
    assert_int_equal(leasekv_take(lk, GROUP("/f\0u1"), 1, "f", now, &x), LEASE_TAKEN);

    /* release frees that slot, and only that */
    assert_int_equal(leasekv_release(lk, GROUP("/e\0u1"), "b", &h[1]), LEASEKV_DONE);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "g", now, &h[3]), LEASE_TAKEN);
    assert_int_equal(h[3].slot, h[1].slot);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "h", now, &x), LEASE_FULL);
    /* b's release again, with its old revision: g's slot stays g's */
    assert_int_equal(leasekv_release(lk, GROUP("/e\0u1"), "b", &h[1]), LEASEKV_DONE);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 3, "h", now, &x), LEASE_FULL);
    assert_int_equal(leasekv_renew(lk, GROUP("/e\0u1"), "g", now, &h[3]), LEASEKV_DONE);
    x.held = 0;
    assert_int_equal(leasekv_release(lk, GROUP("/e\0u1"), "g", &x), LEASEKV_LOST);
    /* a higher limit opens more slots */
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u1"), 4, "h", now, &x), LEASE_TAKEN);
    assert_int_equal(x.slot, 3);

    /* bounds */
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u3"), 0, "i", now, &x), LEASE_TABLE_FULL);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u3"), LEASEKV_SLOTS_MAX + 1, "i", now, &x),
        LEASE_TABLE_FULL);
    assert_int_equal(leasekv_take(lk, GROUP("/e\0u3"), 1, "has space", now, &x),
        LEASE_TABLE_FULL);
    assert_int_equal(leasekv_take(lk, "", 0, 1, "i", now, &x), LEASE_TABLE_FULL);
}

static void
test_expiry(void **st)
{
    leasekv_t *lk = *st;
    int64_t t0 = wall_us();
    lease_slot_t a, b, c;

    assert_int_equal(leasekv_take(lk, GROUP("/x\0dead"), 1, "a", t0, &a), LEASE_TAKEN);
    /* a's broker dies: until its expiry nobody gets the slot */
    assert_int_equal(leasekv_take(lk, GROUP("/x\0dead"), 1, "b", t0 + LEASE_TTL - 1000, &b),
        LEASE_FULL);
    /* after it, b takes it over */
    assert_int_equal(leasekv_take(lk, GROUP("/x\0dead"), 1, "b", t0 + LEASE_TTL + 1000, &b),
        LEASE_TAKEN);
    assert_int_equal(b.slot, a.slot);
    assert_true(b.rev > a.rev);
    /* and a, back, has lost it: neither renew nor release touches b's */
    lease_slot_t a2 = a;
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0dead"), "a", t0 + LEASE_TTL + 2000, &a2),
        LEASEKV_LOST);
    assert_false(a2.held);
    assert_int_equal(leasekv_release(lk, GROUP("/x\0dead"), "a", &a), LEASEKV_DONE);
    assert_int_equal(leasekv_take(lk, GROUP("/x\0dead"), 1, "c", t0 + LEASE_TTL + 3000, &c),
        LEASE_FULL);
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0dead"), "b", t0 + LEASE_TTL + 3000, &b),
        LEASEKV_DONE);
    /* a renewal that knows it is late (within LEASEKV_SKEW_MS of its
     * expiry) gives up, and frees the slot */
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0dead"), "b",
        t0 + 2 * LEASE_TTL + 3000 - LEASEKV_SKEW_MS * 1000ll, &b), LEASEKV_LOST);
    assert_int_equal(leasekv_take(lk, GROUP("/x\0dead"), 1, "c", t0 + LEASE_TTL + 4000, &c),
        LEASE_TAKEN);
}

static void
test_renew(void **st)
{
    leasekv_t *lk = *st;
    int64_t t0 = wall_us();
    lease_slot_t a, stale, b;

    assert_int_equal(leasekv_take(lk, GROUP("/x\0renew"), 1, "a", t0, &a), LEASE_TAKEN);
    stale = a;
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0renew"), "a", t0 + 20 * SEC, &a),
        LEASEKV_DONE);
    assert_true(a.rev > stale.rev);
    assert_true(a.expires_ms == (t0 + 20 * SEC) / 1000 + WIRE_LEASE_TTL * 1000);
    /* past the first expiry, within the renewed one: still held */
    assert_int_equal(leasekv_take(lk, GROUP("/x\0renew"), 1, "b", t0 + 40 * SEC, &b),
        LEASE_FULL);
    /* a renewal whose answer was lost: the next one still has the old
     * revision, and finds the slot still its own */
    stale.expires_ms = a.expires_ms;
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0renew"), "a", t0 + 40 * SEC, &stale),
        LEASEKV_DONE);
    assert_int_equal(leasekv_take(lk, GROUP("/x\0renew"), 1, "b", t0 + 60 * SEC, &b),
        LEASE_FULL);
    assert_int_equal(leasekv_take(lk, GROUP("/x\0renew"), 1, "b", t0 + 71 * SEC, &b),
        LEASE_TAKEN);
    /* a wrong slot or id is not a renewal */
    stale.expires_ms = t0 / 1000 + 1000 * SEC;
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0renew"), "a", t0 + 72 * SEC, &stale),
        LEASEKV_LOST);
    b.slot = 5;
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0renew"), "b", t0 + 72 * SEC, &b),
        LEASEKV_LOST);
}

static void
test_keys(void **st)
{
    leasekv_t *lk = *st;
    char k1[LEASEKV_KEY_MAX], k2[LEASEKV_KEY_MAX], g[600];
    lease_slot_t h;

    assert_int_equal(leasekv_key(GROUP("/e\0a.b"), 2, k1), (int)strlen("=2Fe=00a=2Eb.2"));
    assert_string_equal(k1, "=2Fe=00a=2Eb.2");
    assert_int_equal(leasekv_key(GROUP("/e\0a.b"), LEASEKV_SLOTS_MAX, k1), -1);
    /* the longest group, every byte escaped: a 1.5 KB key NATS takes */
    memset(g, '.', sizeof(g));
    assert_int_equal(leasekv_key(g, LEASEKV_GROUP_MAX, LEASEKV_SLOTS_MAX - 1, k1),
        3 * LEASEKV_GROUP_MAX + 4);
    assert_int_equal(leasekv_key(g, LEASEKV_GROUP_MAX + 1, 0, k1), -1);
    assert_int_equal(leasekv_take(lk, g, LEASEKV_GROUP_MAX, LEASEKV_SLOTS_MAX, "a", wall_us(),
        &h), LEASE_TAKEN);
    assert_int_equal(leasekv_release(lk, g, LEASEKV_GROUP_MAX, "a", &h), LEASEKV_DONE);
    assert_int_equal(leasekv_take(lk, g, LEASEKV_GROUP_MAX, 1, "a", wall_us(), &h), LEASE_TAKEN);
    assert_int_equal(leasekv_take(lk, g, LEASEKV_GROUP_MAX, 1, "b", wall_us(), &h), LEASE_FULL);
    assert_int_equal(leasekv_take(lk, g, LEASEKV_GROUP_MAX + 1, 1, "b", wall_us(), &h),
        LEASE_TABLE_FULL);
    /* groups that differ in one byte: other keys */
    g[LEASEKV_GROUP_MAX - 1] = ',';
    assert_true(leasekv_key(g, LEASEKV_GROUP_MAX, 0, k2) > 0);
    assert_int_equal(leasekv_key(g, LEASEKV_GROUP_MAX - 1, 0, k1), 3 * (LEASEKV_GROUP_MAX - 1) + 2);
    assert_string_not_equal(k1, k2);
    assert_int_equal(leasekv_take(lk, g, LEASEKV_GROUP_MAX, 1, "b", wall_us(), &h), LEASE_TAKEN);
    /* every SPEC channel byte (and more) in a sub */
    char sub[300];
    for (int i = 0; i < 256; i++)
        sub[i] = (char)i;
    assert_int_equal(leasekv_take(lk, sub, 256, 1, "a", wall_us(), &h), LEASE_TAKEN);
    assert_int_equal(leasekv_take(lk, sub, 256, 1, "b", wall_us(), &h), LEASE_FULL);
}

/* the race (lease_race.h) between two connections to one server */
static void
test_race(void **st)
{
    char err[256];
    leasekv_t *lk2 = leasekv_new(nc2, BUCKET, 1, err, sizeof(err));

    assert_non_null(lk2);
    lr_run(*st, lk2, "on one server");
    leasekv_destroy(&lk2);
}

/* a bucket someone made with a TTL (replicas would age keys out apart,
 * lease_kv.h): refused */
static void
test_bucket_ttl(void **st)
{
    (void)st;
    jsCtx *js = NULL;
    kvStore *kv = NULL;
    kvConfig c;
    char err[256];

    assert_int_equal(natsConnection_JetStream(&js, nc2, NULL), NATS_OK);
    kvConfig_Init(&c);
    c.Bucket = "ZSSE_TEST_SHORT";
    c.TTL = 5 * 1000000000ll;
    assert_int_equal(js_CreateKeyValue(&kv, js, &c), NATS_OK);
    assert_null(leasekv_new(nc2, "ZSSE_TEST_SHORT", 1, err, sizeof(err)));
    assert_non_null(strstr(err, "TTL (5 s) must be 0"));
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
}

/* last: NATS gone.  A take fails, fast, and says so */
static void
test_nats_down(void **st)
{
    leasekv_t *lk = *st;
    lease_slot_t a, b;

    assert_int_equal(leasekv_take(lk, GROUP("/x\0down"), 1, "a", wall_us(), &a), LEASE_TAKEN);
    ns_kill(&server);
    int64_t t0 = mono_ms();
    assert_int_equal(leasekv_take(lk, GROUP("/x\0down"), 2, "b", wall_us(), &b),
        LEASE_TABLE_FULL);
    assert_int_equal(leasekv_renew(lk, GROUP("/x\0down"), "a", wall_us(), &a), LEASEKV_ERROR);
    assert_true(a.held);
    assert_int_equal(leasekv_release(lk, GROUP("/x\0down"), "a", &a), LEASEKV_ERROR);
    assert_true(mono_ms() - t0 <= 3 * LEASEKV_DEADLINE_MS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup, teardown),
        cmocka_unit_test(test_bucket_ttl),
        cmocka_unit_test_setup_teardown(test_nats_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
