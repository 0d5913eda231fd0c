/*
 * cmocka tests for fcgi/replay.c, what a stream is sent before its live
 * events: framing into a bounded buffer (flushed at half its bound, failed
 * when the client has gone), the reset event, id order, and the whole
 * join -- head only, replay after Last-Event-ID, a reset when the id is
 * past the buffer, the state of a snapshot route -- against a real broker
 * loop in a thread (live_broker.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "live_broker.h"
#include "replay.h"

static int flushes, flush_fails;
static buf_t flushed;

static int
flush(void *arg)
{
    buf_t *out = arg;
    flushes++;
    if (flush_fails)
        return -1;
    buf_append(&flushed, out->data, out->len);
    buf_reset(out);
    return 0;
}

static void
test_frame(void **st)
{
    buf_t out;
    const route_t *r = &lb.cfg->routes[0];

    buf_init(&out, 64);
    buf_init(&flushed, 0);
    replay_t p = { .r = r, .out = &out };
    replay_frame(&p, 5, "e", 1, "1", 1, 'j');
    assert_int_equal(p.failed, 0);
    buf_putc(&out, '\0');
    assert_string_equal(out.data, "id: 5\nevent: e\ndata: 1\n\n");
    buf_reset(&out);
    /* no flush: an event past the bound fails the replay, and it stays failed */
    replay_frame(&p, 6, NULL, 0, "0123456789012345678901234567890123456789012345678901234567", 58, 's');
    assert_int_equal(p.failed, 1);
    replay_frame(&p, 7, NULL, 0, "x", 1, 's');
    assert_int_equal(out.len, 0);

    /* with a flush: written out once past half the bound */
    p = (replay_t){ .r = r, .out = &out, .flush = flush, .arg = &out };
    flushes = 0;
    for (int i = 1; i <= 10; i++) {
        replay_frame(&p, (uint64_t)i, NULL, 0, "abcdefgh", 8, 's');
        assert_true(out.len <= out.max / 2);
    }
    assert_int_equal(p.failed, 0);
    assert_true(flushes >= 3);
    buf_append(&flushed, out.data, out.len);
    buf_putc(&flushed, '\0');
    assert_non_null(strstr(flushed.data, "id: 1\ndata: abcdefgh\n\n"));
    assert_non_null(strstr(flushed.data, "id: 10\ndata: abcdefgh\n\n"));
    /* the client gone: failed */
    flush_fails = 1;
    for (int i = 11; i <= 20 && !p.failed; i++)
        replay_frame(&p, (uint64_t)i, NULL, 0, "abcdefgh", 8, 's');
    assert_int_equal(p.failed, 1);
    flush_fails = 0;
    buf_free(&out);
    buf_free(&flushed);
}

static void
test_reset_and_order(void **st)
{
    buf_t out;
    buf_init(&out, 0);
    replay_t p = { .r = &lb.cfg->routes[0], .out = &out };
    replay_reset(&p, "gone \"old\"");
    buf_putc(&out, '\0');
    assert_string_equal(out.data, "event: reset\ndata: {\"reason\":\"gone \\\"old\\\"\"}\n\n");
    buf_free(&out);

    wire_event_t ev[5] = { { .id = 9 }, { .id = 2 }, { .id = 7 }, { .id = 1 }, { .id = 5 } };
    replay_order(ev, 5);
    for (int i = 1; i < 5; i++)
        assert_true(ev[i - 1].id < ev[i].id);
    replay_order(ev, 0);
}

static void
test_join(void **st)
{
    buf_t out;
    char *const ch[] = { "user/j1", "user/j2" };
    uint64_t id[12];
    char want[64];

    buf_init(&out, 0);
    id[0] = lb_publish("{\"channel\":\"user/j1\",\"data\":\"a\"}");
    id[1] = lb_publish("{\"channel\":\"user/j2\",\"data\":\"b\"}");
    id[2] = lb_publish("{\"channel\":\"user/other\",\"data\":\"c\"}");
    id[3] = lb_publish("{\"channel\":\"user/j1\",\"data\":\"d\"}");
    assert_true(id[0] && id[1] && id[2] && id[3]);
    replay_t p = { .r = &lb.cfg->routes[0], .channels = ch, .nchannels = 2, .out = &out };

    /* no Last-Event-ID: only the head id */
    assert_int_equal(replay_join(&p, 0, 0, 0), 0);
    buf_putc(&out, '\0');
    snprintf(want, sizeof(want), "id: %llu\n\n", (unsigned long long)id[3]);
    assert_string_equal(out.data, want);
    buf_reset(&out);

    /* after id[0]: the two events of these channels, in order */
    p = (replay_t){ .r = &lb.cfg->routes[0], .channels = ch, .nchannels = 2, .out = &out };
    assert_int_equal(replay_join(&p, 1, id[0], 0), 0);
    buf_putc(&out, '\0');
    char both[128];
    snprintf(both, sizeof(both), "id: %llu\ndata: b\n\nid: %llu\ndata: d\n\n",
        (unsigned long long)id[1], (unsigned long long)id[3]);
    assert_string_equal(out.data, both);
    assert_true(p.last == id[3]);
    buf_reset(&out);

    /* past the buffer of 8: a reset, then the head */
    for (int i = 4; i < 12; i++)
        assert_true((id[i] = lb_publish("{\"channel\":\"user/j1\",\"data\":1}")) > 0);
    p = (replay_t){ .r = &lb.cfg->routes[0], .channels = ch, .nchannels = 1, .out = &out };
    assert_int_equal(replay_join(&p, 1, id[0], 0), 0);
    buf_putc(&out, '\0');
    assert_non_null(strstr(out.data, "event: reset\n"));
    snprintf(want, sizeof(want), "id: %llu\n\n", (unsigned long long)id[11]);
    assert_non_null(strstr(out.data, want));
    buf_free(&out);
}

static void
test_join_snapshot(void **st)
{
    buf_t out;
    char *const ch[] = { "state/s1" };

    buf_init(&out, 0);
    uint64_t a = lb_publish("{\"channel\":\"state/s1\",\"key\":\"k1\",\"data\":1}");
    uint64_t b = lb_publish("{\"channel\":\"state/s1\",\"key\":\"k2\",\"data\":2}");
    uint64_t c = lb_publish("{\"channel\":\"state/s1\",\"key\":\"k1\",\"data\":3}");
    assert_true(a && b && c);
    replay_t p = { .r = &lb.cfg->routes[1], .channels = ch, .nchannels = 1, .out = &out };
    assert_int_equal(replay_join(&p, 0, 0, 0), 0);
    buf_putc(&out, '\0');
    /* the latest event of each key, in id order: k2 then k1's second */
    char want[128];
    snprintf(want, sizeof(want), "id: %llu\ndata: 2\n\nid: %llu\ndata: 3\n\n",
        (unsigned long long)b, (unsigned long long)c);
    assert_string_equal(out.data, want);
    buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_reset_and_order),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_snapshot),
    };
    return cmocka_run_group_tests(tests, lb_group_setup, lb_group_teardown);
}
