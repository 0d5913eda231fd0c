/*
 * lease_race.h -- two brokers racing for one lease slot (lease_kv.h), the
 * check of test_lease_kv (one nats-server) and test_lease_kv3 (three, a
 * replicated bucket): each broker (its own connection and leasekv) takes
 * the same group's one slot in its own thread at the same moment,
 * LR_ROUNDS times.  Even rounds a new group (both find the key absent:
 * create against create); odd ones the same group, its holder gone and
 * its lease expired (both purge it and create: take-over against
 * take-over).  Exactly one may win each round.
 *
 *     lr_run(A, B, LABEL)   the race; fails the test on a round with not
 *                           exactly one LEASE_TAKEN and one LEASE_FULL
 */
#ifndef ZSSE_LEASE_RACE_H
#define ZSSE_LEASE_RACE_H

#include <pthread.h>
#include <stdio.h>
#include "clock.h"
#include "lease_kv.h"
#include "wire.h"

#define LR_ROUNDS 200

typedef struct {
    leasekv_t *lk;
    pthread_barrier_t *bar;
    const char *id;
    lease_take_t rc[LR_ROUNDS];
    lease_slot_t hold[LR_ROUNDS];
} lr_racer_t;

/* round ROUND's group, "/race\0N", into G: its length */
static inline size_t
lr_group(int round, char g[64])
{
    int n = snprintf(g, 64, "/race#%d", round / 2);
    g[5] = '\0';
    return (size_t)n;
}

static inline void *
lr_racer(void *arg)
{
    lr_racer_t *r = arg;
    for (int i = 0; i < LR_ROUNDS; i++) {
        char g[64];
        size_t glen = lr_group(i, g);
        pthread_barrier_wait(r->bar);
        int64_t now = wall_us() + (i % 2 ? 2 * WIRE_LEASE_TTL * 1000000ll : 0);
        r->rc[i] = leasekv_take(r->lk, g, glen, 1, r->id, now, &r->hold[i]);
        pthread_barrier_wait(r->bar);       /* lr_run checks and releases */
        pthread_barrier_wait(r->bar);
    }
    return NULL;
}

static inline void
lr_run(leasekv_t *lka, leasekv_t *lkb, const char *label)
{
    pthread_barrier_t bar;
    pthread_t t1, t2;
    static lr_racer_t a, b;
    int a_wins = 0, b_wins = 0, none = 0, both = 0, unreleased = 0, bad = -1;

    assert_int_equal(pthread_barrier_init(&bar, NULL, 3), 0);
    a = (lr_racer_t){ .lk = lka, .bar = &bar, .id = "broker-a" };
    b = (lr_racer_t){ .lk = lkb, .bar = &bar, .id = "broker-b" };
    assert_int_equal(pthread_create(&t1, NULL, lr_racer, &a), 0);
    assert_int_equal(pthread_create(&t2, NULL, lr_racer, &b), 0);
    for (int i = 0; i < LR_ROUNDS; i++) {
        char g[64];
        size_t glen = lr_group(i, g);
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        int won = (a.rc[i] == LEASE_TAKEN) + (b.rc[i] == LEASE_TAKEN);
        int full = (a.rc[i] == LEASE_FULL) + (b.rc[i] == LEASE_FULL);
        none += won == 0;
        both += won == 2;
        if ((won != 1 || full != 1) && bad < 0)
            bad = i;
        a_wins += a.rc[i] == LEASE_TAKEN;
        b_wins += b.rc[i] == LEASE_TAKEN;
        /* after a take-over round the winner releases (no assert here:
         * the threads wait at the barrier) */
        if (a.rc[i] == LEASE_TAKEN && i % 2)
            unreleased += leasekv_release(a.lk, g, glen, a.id, &a.hold[i]) != LEASEKV_DONE;
        if (b.rc[i] == LEASE_TAKEN && i % 2)
            unreleased += leasekv_release(b.lk, g, glen, b.id, &b.hold[i]) != LEASEKV_DONE;
        pthread_barrier_wait(&bar);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&bar);
    fprintf(stderr, "# race %s: %d rounds, broker-a won %d, broker-b %d, none %d, both %d\n",
        label, LR_ROUNDS, a_wins, b_wins, none, both);
    if (bad >= 0)
        fail_msg("round %d: a %d, b %d (want exactly one LEASE_TAKEN and one LEASE_FULL)", bad,
            a.rc[bad], b.rc[bad]);
    assert_int_equal(unreleased, 0);
}

#endif
