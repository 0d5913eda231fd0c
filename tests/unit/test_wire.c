/*
 * test_wire.c -- proto/wire.c: event ids (at most 2^53 - 1, digits only),
 * the event header, and EVENTS messages over a real ZeroMQ pair:
 * an event goes as one frame (channel '\0' payload: one CURVE box per
 * copy), is read back whole, and the earlier two-frame form is still read;
 * a frame with no '\0' within 256 bytes, or an empty channel, is refused.
 * RUNS: consecutive events of one channel built with wire_run_add() go as
 * one frame and are read back in order with wire_next_event(); a run ends
 * at a channel change, WIRE_RUN_MAX events or WIRE_RUN_BYTES; a run frame
 * with a bad length prefix, too many events or ids out of order is refused
 * whole and the next message is read as usual.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
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
    assert_int_equal(wire_send_event(a, &ev), 0);
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, b, 0) > 0);
    assert_false(zmq_msg_more(&m));
    assert_memory_equal(zmq_msg_data(&m), "user/1\0", 7);
    zmq_msg_close(&m);
    /* read back */
    assert_int_equal(wire_send_event(a, &ev), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
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
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
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
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    p[0] = '\0';                        /* empty channel */
    wire_hdr_put(p + 1, 7, 's');
    p[1 + WIRE_HDR_LEN] = 0;
    zmq_send(a, p, sizeof(p), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    zmq_send(a, "c\0short", 7, 0);     /* payload too short */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
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

static wire_run_t run;

/* the next message on B: its frame's size, and whether it is a run */
static size_t
next_frame(int *is_run)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, b, 0) >= 0);
    const unsigned char *p = zmq_msg_data(&m);
    size_t n = zmq_msg_size(&m);
    const unsigned char *nul = memchr(p, '\0', n);
    assert_non_null(nul);
    *is_run = (size_t)(p + n - nul - 1) >= WIRE_RUN_HDR_LEN && nul[1 + 8] == WIRE_KIND_RUN &&
              !memcmp(nul + 1, "\0\0\0\0\0\0\0\0", 8);
    zmq_msg_close(&m);
    return n;
}

static int
pending(void)
{
    zmq_pollitem_t it = { b, 0, ZMQ_POLLIN, 0 };
    return zmq_poll(&it, 1, 0);
}

static void
test_run(void **state)
{
    char data[16];
    wire_frames_t w;
    wire_event_t ev = { .kind = 's', .channel = "room", .channel_len = 4, .event = "m",
                        .event_len = 1, .data = data }, got;
    int is_run;
    (void)state;
    run.n = 0;
    for (int i = 1; i <= 5; i++) {
        ev.id = (uint64_t)i * 10;
        ev.data_len = (size_t)snprintf(data, sizeof(data), "d%d", i);
        assert_int_equal(wire_run_add(&run, a, &ev), 0);
    }
    assert_int_equal(pending(), 0);    /* held until flushed */
    assert_int_equal(wire_run_flush(&run, a), 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
    for (int i = 1; i <= 5; i++) {
        char want[16];
        int n = snprintf(want, sizeof(want), "d%d", i);
        assert_int_equal(got.id, (uint64_t)i * 10);
        assert_int_equal(got.kind, 's');
        assert_int_equal(got.channel_len, 4);
        assert_memory_equal(got.channel, "room", 4);
        assert_int_equal(got.event_len, 1);
        assert_int_equal(got.data_len, (size_t)n);
        assert_memory_equal(got.data, want, (size_t)n);
        assert_int_equal(wire_next_event(&w, &got), i < 5);
    }
    assert_int_equal(wire_next_event(&w, &got), 0);
    wire_frames_close(&w);
    assert_int_equal(pending(), 0);    /* one message for all five */
    /* one event alone: the plain form, not a run */
    ev.id = 99;
    assert_int_equal(wire_run_add(&run, a, &ev), 0);
    assert_int_equal(wire_run_flush(&run, a), 0);
    next_frame(&is_run);
    assert_false(is_run);
    assert_int_equal(wire_run_flush(&run, a), 0);  /* empty: nothing sent */
    assert_int_equal(pending(), 0);
}

static void
test_run_bounds(void **state)
{
    static char big[WIRE_RUN_BYTES];
    wire_event_t ev = { .kind = 's', .channel = "c", .channel_len = 1, .event = "",
                        .data = "x", .data_len = 1 };
    int is_run;
    (void)state;
    run.n = 0;
    /* WIRE_RUN_MAX + 1 events: a full run, then one alone */
    for (int i = 1; i <= WIRE_RUN_MAX + 1; i++) {
        ev.id = (uint64_t)i;
        assert_int_equal(wire_run_add(&run, a, &ev), 0);
    }
    assert_int_equal(wire_run_flush(&run, a), 0);
    assert_int_equal(next_frame(&is_run), 2 + WIRE_RUN_HDR_LEN +
        WIRE_RUN_MAX * (WIRE_RUN_LEN_BYTES + WIRE_PAYLOAD_MIN + 1));
    assert_true(is_run);
    next_frame(&is_run);
    assert_false(is_run);
    /* a change of channel ends a run: c c d c is three messages */
    const char *chans[] = { "c", "c", "d", "c" };
    for (int i = 0; i < 4; i++) {
        ev.id = (uint64_t)(100 + i);
        ev.channel = chans[i];
        assert_int_equal(wire_run_add(&run, a, &ev), 0);
    }
    assert_int_equal(wire_run_flush(&run, a), 0);
    next_frame(&is_run);
    assert_true(is_run);
    next_frame(&is_run);
    assert_false(is_run);
    next_frame(&is_run);
    assert_false(is_run);
    assert_int_equal(pending(), 0);
    /* bytes: events of a third of WIRE_RUN_BYTES, two fit, the third not */
    memset(big, 'y', sizeof(big));
    ev.channel = "c";
    ev.data = big;
    ev.data_len = WIRE_RUN_BYTES / 3;
    for (int i = 0; i < 3; i++) {
        ev.id = (uint64_t)(200 + i);
        assert_int_equal(wire_run_add(&run, a, &ev), 0);
    }
    assert_int_equal(wire_run_flush(&run, a), 0);
    assert_true(next_frame(&is_run) <= 2 + WIRE_RUN_HDR_LEN + WIRE_RUN_BYTES);
    assert_true(is_run);
    next_frame(&is_run);
    assert_false(is_run);
    /* too large for any run: sent alone, at once, after the run before it */
    ev.id = 300;
    ev.data_len = 1;
    assert_int_equal(wire_run_add(&run, a, &ev), 0);
    ev.id = 301;
    ev.data_len = WIRE_RUN_BYTES;
    assert_int_equal(wire_run_add(&run, a, &ev), 0);
    wire_frames_t w;
    wire_event_t got;
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
    assert_int_equal(got.id, 300);
    wire_frames_close(&w);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
    assert_int_equal(got.id, 301);
    assert_int_equal(got.data_len, WIRE_RUN_BYTES);
    wire_frames_close(&w);
    assert_int_equal(wire_run_flush(&run, a), 0);
    assert_int_equal(pending(), 0);
}

/* a hand-made run frame on channel "c": N events with ids IDS, the length
 * prefix of event BAD set to BADLEN (when BAD >= 0), TRAIL extra bytes */
static void
send_run(int n, const uint64_t *ids, int bad, uint32_t badlen, int trail)
{
    static unsigned char f[2 + WIRE_RUN_HDR_LEN + (WIRE_RUN_MAX + 2) * 16 + 8];
    size_t o = 0;
    memcpy(f, "c\0", 2);
    o = 2;
    memset(f + o, 0, 8);
    f[o + 8] = WIRE_KIND_RUN;
    o += WIRE_RUN_HDR_LEN;
    for (int i = 0; i < n; i++) {
        uint32_t l = i == bad ? badlen : WIRE_PAYLOAD_MIN + 1;
        for (int k = 0; k < 4; k++)
            f[o + k] = (unsigned char)(l >> (8 * k));
        o += 4;
        wire_hdr_put(f + o, ids[i], 's');
        f[o + WIRE_HDR_LEN] = 0;
        f[o + WIRE_PAYLOAD_MIN] = 'z';
        o += WIRE_PAYLOAD_MIN + 1;
    }
    memset(f + o, 1, (size_t)trail);
    o += (size_t)trail;
    assert_true(o <= sizeof(f));
    zmq_send(a, f, o, 0);
}

static void
test_run_refused(void **state)
{
    static uint64_t ids[WIRE_RUN_MAX + 2];
    wire_frames_t w;
    wire_event_t got;
    (void)state;
    for (int i = 0; i < WIRE_RUN_MAX + 2; i++)
        ids[i] = (uint64_t)i + 1;
    /* well formed: read back */
    send_run(3, ids, -1, 0, 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
    assert_int_equal(got.id, 1);
    assert_int_equal(wire_next_event(&w, &got), 1);
    assert_int_equal(wire_next_event(&w, &got), 1);
    assert_int_equal(got.id, 3);
    assert_int_equal(wire_next_event(&w, &got), 0);
    wire_frames_close(&w);
    send_run(3, ids, 1, 100000, 0);         /* a length past the frame's end */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(3, ids, 2, 0xffffffffu, 0);    /* past any size */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(3, ids, 0, WIRE_PAYLOAD_MIN - 1, 0);  /* shorter than a payload */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(3, ids, 1, WIRE_PAYLOAD_MIN, 0);  /* cuts the next event */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(3, ids, -1, 0, 3);             /* a length prefix cut short */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(0, ids, -1, 0, 0);             /* no event at all */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    send_run(WIRE_RUN_MAX + 1, ids, -1, 0, 0);   /* too many events */
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    uint64_t back[3] = { 5, 7, 6 };         /* ids out of order */
    send_run(3, back, -1, 0, 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    uint64_t zero[2] = { 5, 0 };            /* an id 0 inside */
    send_run(2, zero, -1, 0, 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    /* a run frame followed by more frames: refused and drained */
    unsigned char hdr[2 + WIRE_RUN_HDR_LEN] = { 'c', 0, 0, 0, 0, 0, 0, 0, 0, 0, WIRE_KIND_RUN };
    zmq_send(a, hdr, sizeof(hdr), ZMQ_SNDMORE);
    zmq_send(a, "junk", 4, ZMQ_SNDMORE);
    zmq_send(a, "junk", 4, 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_ERROR);
    /* and the next message is read as usual */
    send_run(WIRE_RUN_MAX, ids, -1, 0, 0);
    assert_int_equal(wire_recv_event(b, 0, &w, &got), WIRE_RECV_EVENT);
    int n = 1;
    while (wire_next_event(&w, &got) == 1)
        n++;
    assert_int_equal(n, WIRE_RUN_MAX);
    assert_int_equal(got.id, WIRE_RUN_MAX);
    wire_frames_close(&w);
    assert_int_equal(pending(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_ids),
        cmocka_unit_test(test_one_frame),
        cmocka_unit_test(test_two_frames_still_read),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_run_bounds),
        cmocka_unit_test(test_run_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
