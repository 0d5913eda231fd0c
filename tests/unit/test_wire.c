/*
 * test_wire.c -- proto/wire.c: event ids (at most 2^53 - 1, digits only),
 * the event header, and EVENTS messages over a real ZeroMQ pair:
 * an event goes as one frame (channel '\0' payload: one CURVE box per
 * copy), is read back whole, and the earlier two-frame form is still read;
 * a frame with no '\0' within 256 bytes, or an empty channel, is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>
#include "wire.h"

static void *ctx, *a, *b;

static int
setup(void **state)
{
    (void)state;
    ctx = zmq_ctx_new();
    a = zmq_socket(ctx, ZMQ_PAIR);
    b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://wire"), 0);
    assert_int_equal(zmq_connect(b, "inproc://wire"), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
    return 0;
}

static void
test_one_frame(void **state)
{
    wire_event_t ev = { .id = 42, .kind = 'j', .channel = "user/1", .channel_len = 6,
                        .event = "e", .event_len = 1, .data = "{\"n\":1}", .data_len = 7 };
    wire_frames_t w;
    wire_event_t got;
    zmq_msg_t m;
    (void)state;
    /* on the wire: one frame, starting with the topic a SUB filters on */
    assert_int_equal(wire_send_event(a, &ev, true, false), 0);
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, b, 0) > 0);
    assert_false(zmq_msg_more(&m));
    assert_memory_equal(zmq_msg_data(&m), "user/1\0", 7);
    zmq_msg_close(&m);
    /* read back */
    assert_int_equal(wire_send_event(a, &ev, true, false), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got, true), 1);
    assert_int_equal(got.id, 42);
    assert_int_equal(got.kind, 'j');
    assert_int_equal(got.channel_len, 6);
    assert_memory_equal(got.channel, "user/1", 6);
    assert_int_equal(got.event_len, 1);
    assert_int_equal(got.data_len, 7);
    assert_memory_equal(got.data, "{\"n\":1}", 7);
    wire_frames_close(&w);
}

static void
test_two_frames_still_read(void **state)
{
    unsigned char p[WIRE_PAYLOAD_MIN + 3];
    wire_frames_t w;
    wire_event_t got;
    (void)state;
    wire_hdr_put(p, 7, 's');
    p[WIRE_HDR_LEN] = 0;
    memcpy(p + WIRE_PAYLOAD_MIN, "abc", 3);
    zmq_send(a, "room/9\0", 7, ZMQ_SNDMORE);
    zmq_send(a, p, sizeof(p), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got, true), 1);
    assert_int_equal(got.id, 7);
    assert_int_equal(got.channel_len, 6);
    assert_memory_equal(got.data, "abc", 3);
    wire_frames_close(&w);
}

static void
test_refused(void **state)
{
    static char nonul[300];
    unsigned char p[1 + WIRE_PAYLOAD_MIN];
    wire_frames_t w;
    wire_event_t got;
    (void)state;
    memset(nonul, 'x', sizeof(nonul));
    zmq_send(a, nonul, sizeof(nonul), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got, true), -1);
    p[0] = '\0';                        /* empty channel */
    wire_hdr_put(p + 1, 7, 's');
    p[1 + WIRE_HDR_LEN] = 0;
    zmq_send(a, p, sizeof(p), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got, true), -1);
    zmq_send(a, "c\0short", 7, 0);     /* payload too short */
    assert_int_equal(wire_recv_event(b, 0, &w, &got, true), -1);
}

static void
test_wire_ids(void **st)
{
    (void)st;
    uint64_t id;
    char s[32];
    unsigned char h[WIRE_HDR_LEN];
    char kind;
    assert_int_equal(wire_parse_id("1795489844054363", 16, &id), 0);
    assert_true(id == 1795489844054363ull);
    assert_int_equal(wire_fmt_id(s, id), 16);
    assert_string_equal(s, "1795489844054363");
    assert_int_equal(wire_parse_id("9007199254740991", 16, &id), 0);
    assert_int_equal(wire_parse_id("9007199254740992", 16, &id), -1);   /* 2^53 */
    assert_int_equal(wire_parse_id("", 0, &id), -1);
    assert_int_equal(wire_parse_id("12a", 3, &id), -1);
    assert_int_equal(wire_parse_id("-1", 2, &id), -1);
    assert_int_equal(wire_parse_id("00000000000000001", 17, &id), -1);
    wire_hdr_put(h, 123456789, 's');
    assert_int_equal(wire_hdr_get(h, sizeof(h), &id, &kind), 0);
    assert_true(id == 123456789 && kind == 's');
    h[8] = 'x';
    assert_int_equal(wire_hdr_get(h, sizeof(h), &id, &kind), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_ids),
        cmocka_unit_test(test_one_frame),
        cmocka_unit_test(test_two_frames_still_read),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
