/*
 * test_batch.c -- batch frames on the publish endpoint (proto/batch.c):
 * the split (elements in order, raw text kept, a bad element left for
 * msg_parse to refuse alone, the array's own structure and both bounds
 * refused whole), and the publisher's builder (a lone message goes as
 * itself, the bounds, a text that could move its neighbours kept out).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "batch.h"
#include "message.h"

static batch_span_t spans[BATCH_MAX];

static int
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
    assert_int_equal(split("{\"channel\":\"a\",\"data\":1}", &n, &r), 1);
    assert_int_equal(split("  {\"x\":[1,2]}", &n, &r), 1);
    assert_int_equal(split("", &n, &r), 1);
    assert_int_equal(split("nonsense", &n, &r), 1);
}

static void
test_split_in_order(void **state)
{
    size_t n;
    const char *r;
    (void)state;
    const char *t = " [ {\"channel\":\"a\",\"data\":0.57} ,{\"channel\":\"b\",\"data\":\"],[\"},\n"
                    "{\"channel\":\"c\",\"data\":[1,{\"k\":\"\\\"\"}]} ]\n";
    assert_int_equal(split(t, &n, &r), 0);
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
    assert_int_equal(split(t, &n, &r), 0);
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
        assert_int_equal(split(bad[i], &n, &r), -1);
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
    assert_int_equal(split(t, &n, &r), -1);
    assert_string_equal(r, BATCH_R_TOO_MANY);
    memcpy(t + len - 4, "]\0", 2);      /* drop the last ",{}" */
    assert_int_equal(split(t, &n, &r), 0);
    assert_int_equal(n, BATCH_MAX);
    /* BATCH_BYTES is the frame's bound, whatever it holds */
    memset(t, ' ', BATCH_BYTES + 1);
    memcpy(t, "[{}", 3);
    t[BATCH_BYTES] = ']';
    t[BATCH_BYTES + 1] = '\0';
    assert_int_equal(split(t, &n, &r), -1);
    assert_string_equal(r, BATCH_R_TOO_LARGE);
    t[BATCH_BYTES - 1] = ']';
    t[BATCH_BYTES] = '\0';
    assert_int_equal(split(t, &n, &r), 0);
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
    assert_int_equal(batch_add(&b, m1, strlen(m1)), 0);
    batch_frame(&b, &p, &len);
    assert_int_equal(len, strlen(m1));          /* a lone one goes as itself */
    assert_memory_equal(p, m1, len);
    assert_int_equal(batch_add(&b, m2, strlen(m2)), 0);
    batch_frame(&b, &p, &len);
    assert_int_equal(batch_split(p, len, spans, &n, &r), 0);
    assert_int_equal(n, 2);
    span_is(0, m1);
    span_is(1, m2);
    batch_reset(&b);
    for (int i = 0; i < BATCH_MAX; i++)
        assert_int_equal(batch_add(&b, "{}", 2), 0);
    assert_int_equal(batch_add(&b, "{}", 2), 1);  /* full: send first */
    batch_frame(&b, &p, &len);
    assert_int_equal(batch_split(p, len, spans, &n, &r), 0);
    assert_int_equal(n, BATCH_MAX);
    /* bytes: a text that would pass BATCH_BYTES waits for the next batch */
    batch_reset(&b);
    size_t big = BATCH_BYTES / 2;
    char *t = malloc(big + 1);
    memset(t, ' ', big);
    memcpy(t, "{}", 2);
    t[big] = '\0';
    assert_true(batch_can_hold(t, big));
    assert_int_equal(batch_add(&b, t, big), 0);
    assert_int_equal(batch_add(&b, t, big), 1);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
