/*
 * test_batch.c -- batch frames on the publish endpoint (proto/batch.c):
 * the split (elements in order, raw text kept, a bad element left for
 * msg_parse to refuse alone, the array's own structure and both bounds
 * refused whole), and the publisher's builder (a lone message goes as
 * itself, the bounds, a text that could move its neighbours kept out); and
 * libzsse's batching publisher against a real PULL socket on loopback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>
#include "batch.h"
#include "message.h"
#include "zsse.h"

static batch_span_t spans[BATCH_MAX];

static batch_split_t
split(const char *t, size_t *n, const char **reason)
{
    *reason = NULL;
    return batch_split(t, strlen(t), spans, n, reason);
}

static void
span_is(size_t i, const char *want)
{
    assert_int_equal(spans[i].len, strlen(want));
    assert_memory_equal(spans[i].p, want, spans[i].len);
}

static void
test_not_a_batch(void **state)
{
    size_t n;
    const char *r;
    (void)state;
    assert_int_equal(split("{\"channel\":\"a\",\"data\":1}", &n, &r), BATCH_SPLIT_ONE);
    assert_int_equal(split("  {\"x\":[1,2]}", &n, &r), BATCH_SPLIT_ONE);
    assert_int_equal(split("", &n, &r), BATCH_SPLIT_ONE);
    assert_int_equal(split("nonsense", &n, &r), BATCH_SPLIT_ONE);
}

static void
test_split_in_order(void **state)
{
    size_t n;
    const char *r;
    (void)state;
    const char *t = " [ {\"channel\":\"a\",\"data\":0.57} ,{\"channel\":\"b\",\"data\":\"],[\"},\n"
                    "{\"channel\":\"c\",\"data\":[1,{\"k\":\"\\\"\"}]} ]\n";
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, 3);
    span_is(0, "{\"channel\":\"a\",\"data\":0.57}");
    span_is(1, "{\"channel\":\"b\",\"data\":\"],[\"}");
    span_is(2, "{\"channel\":\"c\",\"data\":[1,{\"k\":\"\\\"\"}]}");
}

/* a bad element is one span, refused by msg_parse alone; its neighbours pass */
static void
test_bad_element_alone(void **state)
{
    size_t n;
    const char *r;
    msg_t m;
    (void)state;
    const char *t = "[{\"channel\":\"a\",\"data\":1},{\"channel\":\"a\" \"data\":2},"
                    "{\"data\":3},7,{\"channel\":\"a\",\"data\":4}]";
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, 5);
    const char *want[] = { NULL, ZSSE_R_INVALID_JSON, ZSSE_R_NO_CHANNEL, ZSSE_R_NOT_OBJECT, NULL };
    for (size_t i = 0; i < n; i++) {
        const char *reason = NULL;
        int rc = msg_parse(&m, spans[i].p, spans[i].len, 65536, &reason);
        if (want[i]) {
            assert_int_equal(rc, -1);
            assert_string_equal(reason, want[i]);
        } else {
            assert_int_equal(rc, 0);
            msg_clear(&m);
        }
    }
}

static void
test_malformed_whole(void **state)
{
    size_t n;
    const char *r;
    (void)state;
    const char *bad[] = { "[", "[]", "[ ]", "[{\"a\":1}", "[{\"a\":1} {\"b\":2}]",
                          "[{\"a\":1},]", "[{\"a\":1}] x", "[{\"a\":1}]]", "[{\"a\":\"1}]",
                          "[,{\"a\":1}]" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(split(bad[i], &n, &r), BATCH_SPLIT_REFUSED);
        assert_string_equal(r, BATCH_R_MALFORMED);
        assert_int_equal(n, 0);
    }
}

static void
test_bounds(void **state)
{
    size_t n, len = 0;
    const char *r;
    char *t = malloc(BATCH_BYTES + 64);
    (void)state;
    /* BATCH_MAX elements pass, one more is refused whole */
    t[len++] = '[';
    for (int i = 0; i < BATCH_MAX + 1; i++)
        len += (size_t)sprintf(t + len, "%s{}", i ? "," : "");
    t[len++] = ']';
    t[len] = '\0';
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_REFUSED);
    assert_string_equal(r, BATCH_R_TOO_MANY);
    memcpy(t + len - 4, "]\0", 2);      /* drop the last ",{}" */
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, BATCH_MAX);
    /* BATCH_BYTES is the frame's bound, whatever it holds */
    memset(t, ' ', BATCH_BYTES + 1);
    memcpy(t, "[{}", 3);
    t[BATCH_BYTES] = ']';
    t[BATCH_BYTES + 1] = '\0';
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_REFUSED);
    assert_string_equal(r, BATCH_R_TOO_LARGE);
    t[BATCH_BYTES - 1] = ']';
    t[BATCH_BYTES] = '\0';
    assert_int_equal(split(t, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, 1);
    free(t);
}

static void
test_builder(void **state)
{
    batch_t b;
    const char *p;
    size_t len, n;
    const char *r;
    const char *m1 = "{\"channel\":\"a\",\"data\":1}", *m2 = "{\"channel\":\"b\",\"data\":2}";
    (void)state;
    batch_init(&b);
    assert_int_equal(batch_add(&b, m1, strlen(m1)), BATCH_ADD_OK);
    batch_frame(&b, &p, &len);
    assert_int_equal(len, strlen(m1));          /* a lone one goes as itself */
    assert_memory_equal(p, m1, len);
    assert_int_equal(batch_add(&b, m2, strlen(m2)), BATCH_ADD_OK);
    batch_frame(&b, &p, &len);
    assert_int_equal(batch_split(p, len, spans, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, 2);
    span_is(0, m1);
    span_is(1, m2);
    batch_reset(&b);
    for (int i = 0; i < BATCH_MAX; i++)
        assert_int_equal(batch_add(&b, "{}", 2), BATCH_ADD_OK);
    assert_int_equal(batch_add(&b, "{}", 2), BATCH_ADD_FULL);  /* full: send first */
    batch_frame(&b, &p, &len);
    assert_int_equal(batch_split(p, len, spans, &n, &r), BATCH_SPLIT_BATCH);
    assert_int_equal(n, BATCH_MAX);
    /* bytes: a text that would pass BATCH_BYTES waits for the next batch */
    batch_reset(&b);
    size_t big = BATCH_BYTES / 2;
    char *t = malloc(big + 1);
    memset(t, ' ', big);
    memcpy(t, "{}", 2);
    t[big] = '\0';
    assert_true(batch_can_hold(t, big));
    assert_int_equal(batch_add(&b, t, big), BATCH_ADD_OK);
    assert_int_equal(batch_add(&b, t, big), BATCH_ADD_FULL);
    assert_int_equal(b.n, 1);
    free(t);
    batch_free(&b);
    /* what may go into a batch: one whole object, nothing after it */
    assert_true(batch_can_hold(m1, strlen(m1)));
    assert_true(batch_can_hold(" {\"a\":\"}\"} \n", 12));
    assert_false(batch_can_hold("{\"a\":\"1}", 8));        /* open string */
    assert_false(batch_can_hold("{\"a\":1", 6));           /* open object */
    assert_false(batch_can_hold("{\"a\":1}]", 8));         /* would close the array */
    assert_false(batch_can_hold("{\"a\":1},{\"b\":2}", 15));  /* two */
    assert_false(batch_can_hold("[{\"a\":1}]", 9));        /* a batch itself */
    assert_false(batch_can_hold("7", 1));
    assert_false(batch_can_hold("", 0));
}

/* the next frame on PULL within 2 s, NUL-terminated in BUF; its length or -1 */
static int
next_frame(void *pull, char *buf, size_t cap, int wait_ms)
{
    zmq_pollitem_t it = { pull, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, wait_ms) <= 0)
        return -1;
    int n = zmq_recv(pull, buf, cap - 1, 0);
    assert_true(n >= 0 && (size_t)n < cap);
    buf[n] = '\0';
    return n;
}

static void
test_publisher(void **state)
{
    char ep[256], buf[4096];
    size_t eplen = sizeof(ep);
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    (void)state;
    assert_int_equal(zmq_bind(pull, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    zsse_publisher_t *p = zsse_publisher_new(ep);
    assert_non_null(p);
    assert_int_equal(zsse_publisher_batch(p, ZSSE_BATCH_MAX + 1), -1);
    assert_int_equal(zsse_publisher_batch(p, 3), 0);
    /* three make a frame */
    assert_int_equal(zsse_publish(p, "a", NULL, "1"), 0);
    assert_int_equal(zsse_publish(p, "a", "e", "2"), 0);
    const char *m3 = "{\"channel\":\"a\",\"data\":3}";
    assert_int_equal(zsse_publish_raw(p, m3, strlen(m3)), 0);
    next_frame(pull, buf, sizeof(buf), 2000);
    assert_string_equal(buf, "[{\"channel\":\"a\",\"data\":1},"
        "{\"channel\":\"a\",\"event\":\"e\",\"data\":2},{\"channel\":\"a\",\"data\":3}]");
    /* one waits for the flush, and then goes as itself */
    assert_int_equal(zsse_publish(p, "a", NULL, "4"), 0);
    assert_int_equal(next_frame(pull, buf, sizeof(buf), 100), -1);
    assert_int_equal(zsse_publisher_flush(p), 0);
    next_frame(pull, buf, sizeof(buf), 2000);
    assert_string_equal(buf, "{\"channel\":\"a\",\"data\":4}");
    assert_int_equal(zsse_publisher_flush(p), 0);     /* nothing: no frame */
    /* a raw text that is not one object sends the batch first, then itself */
    assert_int_equal(zsse_publish(p, "a", NULL, "5"), 0);
    assert_int_equal(zsse_publish(p, "a", NULL, "6"), 0);
    assert_int_equal(zsse_publish_raw(p, "{\"channel\":", 11), 0);     /* 11: all of it */
    next_frame(pull, buf, sizeof(buf), 2000);
    assert_string_equal(buf, "[{\"channel\":\"a\",\"data\":5},{\"channel\":\"a\",\"data\":6}]");
    next_frame(pull, buf, sizeof(buf), 2000);
    assert_string_equal(buf, "{\"channel\":");
    /* destroy sends what is left */
    assert_int_equal(zsse_publish(p, "a", NULL, "7"), 0);
    zsse_publisher_destroy(&p);
    next_frame(pull, buf, sizeof(buf), 2000);
    assert_string_equal(buf, "{\"channel\":\"a\",\"data\":7}");
    /* batching is for fire and forget only; off by default */
    zsse_publisher_t *ack = zsse_publisher_new_ack(ep);
    assert_int_equal(zsse_publisher_batch(ack, 8), -1);
    zsse_publisher_destroy(&ack);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_a_batch),
        cmocka_unit_test(test_split_in_order),
        cmocka_unit_test(test_bad_element_alone),
        cmocka_unit_test(test_malformed_whole),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_publisher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
