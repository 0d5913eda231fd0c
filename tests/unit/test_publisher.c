/*
 * cmocka tests for proto/publisher.c, libzsse's public API (zsse.h),
 * against a real broker loop in a thread (live_broker.h): fire-and-forget
 * publishing reaches the broker; bad channels, events and JSON fail with
 * EINVAL before anything is sent; acknowledged publishing returns the
 * stored id or the broker's reason; no broker: EAGAIN / "timeout" within
 * the time given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include "clock.h"
#include "live_broker.h"
#include "message.h"
#include "zsse.h"

static void
test_fire_and_forget(void **st)
{
    zsse_publisher_t *pub = zsse_publisher_new(lb.cfg->broker.publish);
    uint64_t before = lb_head();

    assert_non_null(pub);
    assert_int_equal(zsse_publish(pub, "user/pub", "changed", "{\"a\": 1}"), 0);
    /* stored once the broker has read it: wait for it, 5 s at most */
    int64_t end = mono_ms() + 5000;
    while (lb_head() == before && mono_ms() < end)
        usleep(10000);
    assert_true(lb_head() > before);

    control_reply_t r;
    wire_event_t ev[2];
    assert_int_equal(lb_replay(before, "user/pub", &r, ev), 1);
    assert_int_equal(ev[0].event_len, 7);
    assert_memory_equal(ev[0].event, "changed", 7);
    assert_memory_equal(ev[0].data, "{\"a\":1}", 7);
    control_reply_free(&r);

    errno = 0;
    assert_int_equal(zsse_publish(pub, "a b", NULL, "1"), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(zsse_publish(pub, "user/pub", "two\nlines", "1"), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(zsse_publish(pub, "user/pub", NULL, "{"), -1);
    assert_int_equal(errno, EINVAL);
    zsse_publisher_destroy(&pub);
    assert_null(pub);
}

static void
test_ack(void **st)
{
    zsse_publisher_t *pub = zsse_publisher_new_ack(lb.cfg->broker.control);
    const char *ok = "{\"channel\":\"user/ack\",\"data\":[1, 2]}";
    const char *bad = "{\"channel\":\"user/ack\"}";
    char err[128];
    uint64_t id = 0;

    assert_non_null(pub);
    assert_int_equal(zsse_publish_ack(pub, ok, strlen(ok), LB_CALL_MS, &id, err, sizeof(err)), 0);
    assert_true(id > 0 && id == lb_head());
    assert_int_equal(zsse_publish_ack(pub, bad, strlen(bad), LB_CALL_MS, &id, err, sizeof(err)),
        -1);
    assert_string_equal(err, ZSSE_R_NO_DATA);
    zsse_publisher_destroy(&pub);
}

static void
test_no_broker(void **st)
{
    char nobody[64], err[128];
    const char *m = "{\"channel\":\"a\",\"data\":1}";
    uint64_t id;

    snprintf(nobody, sizeof(nobody), "ipc://@zsse-lb-%d-nobody", (int)getpid());
    zsse_publisher_t *pub = zsse_publisher_new_timeout(nobody, 200);
    assert_non_null(pub);
    int64_t t0 = mono_ms();
    errno = 0;
    assert_int_equal(zsse_publish_raw(pub, m, strlen(m)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(mono_ms() - t0 < 3000);
    zsse_publisher_destroy(&pub);

    pub = zsse_publisher_new_ack(nobody);
    assert_non_null(pub);
    t0 = mono_ms();
    assert_int_equal(zsse_publish_ack(pub, m, strlen(m), 200, &id, err, sizeof(err)), -1);
    assert_string_equal(err, "timeout");
    assert_true(mono_ms() - t0 < 3000);
    zsse_publisher_destroy(&pub);
}

/* acknowledged publishes pipelined on one connection are answered in the
 * order asked, a refused one in its turn (as a pipelining client, e.g.
 * tests/bench/ack_bench, pairs them) */
static void
test_ack_order(void **st)
{
    static const char *const msgs[] = { "{\"channel\": \"o\", \"data\": 1}",
        "{\"channel\": \"o\"}", "{\"channel\": \"o\", \"data\": 2}", "not json",
        "{\"channel\": \"o\", \"data\": 3}" };
    static const char *const want[] = { "ok", "error", "ok", "error", "ok" };
    void *s = zmq_socket(lb.zctx, ZMQ_DEALER);
    int ms = LB_CALL_MS, zero = 0;
    (void)st;

    zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    char bad[128] = "";
    assert_int_equal(zmq_connect(s, lb.cfg->broker.control), 0);
    for (int round = 0; round < 20 && !bad[0]; round++) {
        for (size_t i = 0; i < 5; i++)
            if (ctl_send_strs(s, CTL_PUBLISH, &msgs[i], 1) < 0)
                snprintf(bad, sizeof(bad), "round %d: send %zu failed", round, i);
        for (size_t i = 0; i < 5 && !bad[0]; i++) {
            ctl_frames_t m;
            ctl_frames_init(&m, 8);
            if (ctl_recv(s, &m, 0) != 1) {
                snprintf(bad, sizeof(bad), "round %d, answer %zu: none", round, i);
            } else {
                ctl_arg_t status = ctl_frame(&m, 1);
                if (!ctl_arg_is(&status, want[i]))
                    snprintf(bad, sizeof(bad), "round %d, answer %zu: %.*s, want %s", round, i,
                        (int)status.len, status.p, want[i]);
            }
            ctl_frames_close(&m);
            free(m.f);
        }
    }
    zmq_close(s);           /* first: a failure must not leave lb_stop waiting on it */
    if (bad[0])
        fail_msg("%s", bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fire_and_forget),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_no_broker),
        cmocka_unit_test(test_ack_order),
    };
    return cmocka_run_group_tests(tests, lb_group_setup, lb_group_teardown);
}
