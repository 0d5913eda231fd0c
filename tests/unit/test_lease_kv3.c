/* cmocka test of broker/lease_kv.c on a three-node JetStream cluster (real
 * nats-servers, tests/unit/nats_server.h) with a three-replica bucket, as
 * in production: two brokers connected to different nodes race ROUNDS
 * times for a group's one slot (a fresh group every other round, the
 * released one in between): exactly one wins each round, although reads
 * may be answered by any replica. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "lease_kv.h"
#include "nats_server.h"

#define BUCKET     "ZSSE_TEST_LEASES3"
#define ROUNDS     200
#define READY_MS   30000            /* the cluster's JetStream leader, at most */

static ns_t node[3];
static natsConnection *nc[3];
static leasekv_t *lk[3];

static int
group_setup(void **st)
{
    (void)st;
    char err[256] = "";
    if (ns_start_cluster(node, 3) < 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(nc[i] = ns_connect(&node[i])))
            return -1;
    /* the bucket, once the cluster has elected its JetStream leader (until
     * then JetStream answers "unavailable": polled, bounded) */
    for (int64_t end = mono_ms() + READY_MS; !lk[0] && mono_ms() < end; )
        if (!(lk[0] = leasekv_new(nc[0], BUCKET, 3, err, sizeof(err))))
            nanosleep(&(struct timespec){ 0, 200 * 1000000 }, NULL);
    for (int i = 1; lk[0] && i < 3; i++)
        lk[i] = leasekv_new(nc[i], BUCKET, 3, err, sizeof(err));
    if (!lk[0] || !lk[1] || !lk[2]) {
        fprintf(stderr, "leasekv_new: %s\n", err);
        return -1;
    }
    return 0;
}

static int
group_teardown(void **st)
{
    (void)st;
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        leasekv_destroy(&lk[i]);
        natsConnection_Destroy(nc[i]);
    }
    nats_Close();
    for (int i = 0; i < 3; i++)
        rc |= ns_stop(&node[i]);
    return rc;
}

/* even rounds a new group (both find the key absent: create against
 * create); odd ones the same group, its holder gone and its lease expired
 * (both purge it and create: take-over against take-over) */
static size_t
race_group(int round, char g[64])
{
    int n = snprintf(g, 64, "/race#%d", round / 2);
    g[5] = '\0';                         /* "/race\0N" */
    return (size_t)n;
}

typedef struct {
    leasekv_t *lk;
    pthread_barrier_t *bar;
    const char *id;
    lease_take_t rc[ROUNDS];
    lease_slot_t hold[ROUNDS];
} racer_t;

static void *
racer(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        char g[64];
        size_t glen = race_group(i, g);
        pthread_barrier_wait(r->bar);
        int64_t now = wall_us() + (i % 2 ? 2 * WIRE_LEASE_TTL * 1000000ll : 0);
        r->rc[i] = leasekv_take(r->lk, g, glen, 1, r->id, now, &r->hold[i]);
        pthread_barrier_wait(r->bar);       /* main checks and releases */
        pthread_barrier_wait(r->bar);
    }
    return NULL;
}

static void
test_race_replicated(void **st)
{
    (void)st;
    pthread_barrier_t bar;
    pthread_t t1, t2;
    static racer_t a, b;
    int a_wins = 0, b_wins = 0, none = 0, both = 0, unreleased = 0, first_bad = -1;

    assert_int_equal(pthread_barrier_init(&bar, NULL, 3), 0);
    a = (racer_t){ .lk = lk[1], .bar = &bar, .id = "broker-a" };
    b = (racer_t){ .lk = lk[2], .bar = &bar, .id = "broker-b" };
    assert_int_equal(pthread_create(&t1, NULL, racer, &a), 0);
    assert_int_equal(pthread_create(&t2, NULL, racer, &b), 0);
    for (int i = 0; i < ROUNDS; i++) {
        char g[64];
        size_t glen = race_group(i, g);
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        int won = (a.rc[i] == LEASE_TAKEN) + (b.rc[i] == LEASE_TAKEN);
        int full = (a.rc[i] == LEASE_FULL) + (b.rc[i] == LEASE_FULL);
        none += won == 0;
        both += won == 2;
        if ((won != 1 || full != 1) && first_bad < 0)
            first_bad = i;
        a_wins += a.rc[i] == LEASE_TAKEN;
        b_wins += b.rc[i] == LEASE_TAKEN;
        if (a.rc[i] == LEASE_TAKEN && i % 2) {
            unreleased += leasekv_release(a.lk, g, glen, a.id, &a.hold[i]) != LEASEKV_DONE;
        }
        if (b.rc[i] == LEASE_TAKEN && i % 2) {
            unreleased += leasekv_release(b.lk, g, glen, b.id, &b.hold[i]) != LEASEKV_DONE;
        }
        pthread_barrier_wait(&bar);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&bar);
    fprintf(stderr, "# race on 3 replicas: %d rounds, broker-a won %d, broker-b %d, "
        "none %d, both %d\n", ROUNDS, a_wins, b_wins, none, both);
    if (first_bad >= 0)
        fail_msg("round %d: a %d, b %d (want exactly one LEASE_TAKEN and one LEASE_FULL)",
            first_bad, a.rc[first_bad], b.rc[first_bad]);
    assert_int_equal(unreleased, 0);
}

/* what each operation costs on three replicas (printed, not checked:
 * they are round trips on the broker's loop, lease_kv.h) */
static void
test_costs(void **st)
{
    (void)st;
    enum { N = 100 };
    static lease_slot_t h[N];
    char g[32];
    int64_t t0 = mono_ms();
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)snprintf(g, sizeof(g), "/cost#%d", i);
        g[5] = '\0';
        assert_int_equal(leasekv_take(lk[1], g, n, 1, "c", wall_us(), &h[i]), LEASE_TAKEN);
    }
    int64_t t1 = mono_ms();
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)snprintf(g, sizeof(g), "/cost#%d", i);
        g[5] = '\0';
        assert_int_equal(leasekv_renew(lk[1], g, n, "c", wall_us(), &h[i]), LEASEKV_DONE);
    }
    int64_t t2 = mono_ms();
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)snprintf(g, sizeof(g), "/cost#%d", i);
        g[5] = '\0';
        assert_int_equal(leasekv_release(lk[1], g, n, "c", &h[i]), LEASEKV_DONE);
    }
    int64_t t3 = mono_ms();
    fprintf(stderr, "# on 3 replicas, mean of %d: take %.2f ms, renew %.2f ms, release %.2f ms\n",
        N, (double)(t1 - t0) / N, (double)(t2 - t1) / N, (double)(t3 - t2) / N);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race_replicated),
        cmocka_unit_test(test_costs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
