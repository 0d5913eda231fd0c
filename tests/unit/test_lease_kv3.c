/* cmocka test of broker/lease_kv.c on a three-node JetStream cluster (real
 * nats-servers, tests/unit/nats_server.h) with a three-replica bucket, as
 * in production: two brokers connected to different nodes race LR_ROUNDS
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
#include "lease_race.h"
#include "nats_server.h"

#define BUCKET     "ZSSE_TEST_LEASES3"
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

/* the race (lease_race.h) between brokers on two of the three nodes */
static void
test_race_replicated(void **st)
{
    (void)st;
    lr_run(lk[1], lk[2], "on 3 replicas");
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
