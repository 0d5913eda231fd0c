/*
 * cmocka tests for fcgi/control.c, the stream threads' pool of
 * connections to the broker's control socket, against a real broker loop
 * in a thread (live_broker.h): requests and their checked replies, many
 * threads at once through the few pooled sockets, an unreachable broker
 * (a bounded wait, then the pool works again), leases (max_per_user held
 * by the one connection that took them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include "clock.h"
#include "live_broker.h"

static void
test_calls(void **st)
{
    control_reply_t r;
    const char *ch = "user/calls";
    char s[64];
    wire_event_t ev[4];

    assert_int_equal(control_call(CTL_PING, NULL, 0, LB_CALL_MS, &r), 0);
    assert_true(control_reply_is(&r, 0, "ok"));
    control_reply_free(&r);

    uint64_t id1 = lb_publish("{\"channel\":\"user/calls\",\"event\":\"e\",\"data\":{\"n\":1}}");
    uint64_t id2 = lb_publish("{\"channel\":\"user/calls\",\"data\":\"two\"}");
    assert_true(id1 > 0 && id2 > id1);

    assert_int_equal(control_call(CTL_HEAD, NULL, 0, LB_CALL_MS, &r), 0);
    assert_true(control_reply_is(&r, 0, "ok"));
    control_reply_str(&r, 1, s, sizeof(s));
    assert_int_equal(strtoull(s, NULL, 10), id2);
    control_reply_free(&r);

    /* the events after id1 - 1 of the channel: both, as published */
    char after[WIRE_ID_TEXT_LEN];
    wire_fmt_id(after, id1 - 1);
    const char *args[] = { after, "", ch };
    assert_int_equal(control_call(CTL_REPLAY, args, 3, LB_CALL_MS, &r), 0);
    assert_true(control_reply_is(&r, 0, "ok"));
    assert_int_equal(r.rep.nevents, 2);
    assert_int_equal(control_reply_events(&r, 0, ev), 2);
    assert_true(ev[0].id == id1 && ev[1].id == id2);
    assert_int_equal(ev[0].event_len, 1);
    assert_memory_equal(ev[0].data, "{\"n\":1}", 7);
    assert_int_equal(ev[1].kind, 's');
    assert_memory_equal(ev[1].data, "two", 3);
    control_reply_free(&r);

    /* a request the broker refuses: a reply all the same, "error" */
    const char *bad[] = { "not a channel" };
    assert_int_equal(control_call(CTL_STATE, bad, 1, LB_CALL_MS, &r), 0);
    assert_true(control_reply_is(&r, 0, "error"));
    control_reply_free(&r);
}

#define NTHREADS 40                 /* well past CONTROL_POOL */
#define NCALLS   25

static void *
pinger(void *arg)
{
    int *fails = arg;
    for (int i = 0; i < NCALLS; i++) {
        control_reply_t r;
        if (control_call(CTL_PING, NULL, 0, CONTROL_QUEUE_MS, &r) < 0) {
            (*fails)++;
            continue;
        }
        if (!control_reply_is(&r, 0, "ok"))
            (*fails)++;
        control_reply_free(&r);
    }
    return NULL;
}

static void
test_many_threads(void **st)
{
    pthread_t th[NTHREADS];
    int fails[NTHREADS] = { 0 };

    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pinger, &fails[i]), 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(fails[i], 0);
    }
}

static void
test_unreachable(void **st)
{
    control_reply_t r;
    char nobody[64];

    control_fini();
    snprintf(nobody, sizeof(nobody), "ipc://@zsse-lb-%d-nobody", (int)getpid());
    control_init(lb.zctx, nobody, NULL);
    int64_t t0 = mono_ms();
    assert_int_equal(control_call(CTL_PING, NULL, 0, 300, &r), -1);
    int64_t waited = mono_ms() - t0;
    assert_true(waited >= 290 && waited < 2000);
    /* more failures than the pool has sockets: each failed one is closed
     * and its place freed, so none of these waits for a socket */
    for (int i = 0; i < CONTROL_POOL + 2; i++) {
        t0 = mono_ms();
        assert_int_equal(control_call(CTL_PING, NULL, 0, 50, &r), -1);
        assert_true(mono_ms() - t0 < 1000);
    }
    /* back to the broker: the failed socket was not kept */
    control_fini();
    control_init(lb.zctx, lb.cfg->broker.control, NULL);
    assert_int_equal(control_call(CTL_PING, NULL, 0, LB_CALL_MS, &r), 0);
    assert_true(control_reply_is(&r, 0, "ok"));
    control_reply_free(&r);
}

static void
test_leases(void **st)
{
    char a[CTL_LEASE_ID_LEN + 1], b[CTL_LEASE_ID_LEN + 1], c[CTL_LEASE_ID_LEN + 1];
    const char *route = lb.cfg->routes[0].path;

    assert_int_equal(control_lease_take(route, "alice", a, LB_CALL_MS), CONTROL_LEASE_TAKEN);
    assert_int_equal(control_lease_take(route, "alice", b, LB_CALL_MS), CONTROL_LEASE_TAKEN);
    assert_string_not_equal(a, b);
    assert_int_equal(control_lease_take(route, "alice", c, LB_CALL_MS), CONTROL_LEASE_FULL);    /* limit 2 */
    assert_int_equal(control_lease_take(route, "bob", c, LB_CALL_MS), CONTROL_LEASE_TAKEN);      /* per user */
    const char *ids[] = { a };
    assert_int_equal(control_lease_send(CTL_RELEASE, ids, 1, 1), 0);
    /* the release went first on the same connection */
    assert_int_equal(control_lease_take(route, "alice", c, LB_CALL_MS), CONTROL_LEASE_TAKEN);
    assert_int_equal(control_lease_take("/no/such/route", "alice", c, LB_CALL_MS), CONTROL_LEASE_REFUSED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_leases),
    };
    return cmocka_run_group_tests(tests, lb_group_setup, lb_group_teardown);
}
