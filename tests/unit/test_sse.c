/*
 * cmocka tests for proto/sse.c: SSE framing (named, envelope, Mercure
 * payloads), comments, retry, ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "buf.h"
#include "sse.h"

static void
test_sse_framing(void **st)
{
    (void)st;
    buf_t b;
    buf_init(&b, 0);
    sse_event(&b, SSE_NAMED, 42, "task_moved", 10, "{\"a\":1}", 7, 'j');
    assert_string_equal(b.data, "id: 42\nevent: task_moved\ndata: {\"a\":1}\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_NAMED, 0, NULL, 0, "a\rb\r\nc\nd", 8, 's');
    assert_string_equal(b.data, "data: a\ndata: b\ndata: c\ndata: d\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_NAMED, 7, "changed", 7, "", 0, 's');
    assert_string_equal(b.data, "id: 7\nevent: changed\ndata: \n\n");   /* still dispatched */
    buf_reset(&b);
    sse_event(&b, SSE_ENVELOPE, 9, "mission.progress", 16, "{\"p\":0.57}", 10, 'j');
    assert_string_equal(b.data, "id: 9\ndata: {\"type\":\"mission.progress\",\"data\":{\"p\":0.57}}\n\n");
    buf_reset(&b);
    sse_event(&b, SSE_ENVELOPE, 0, NULL, 0, "say \"hi\"\n", 9, 's');
    assert_string_equal(b.data, "data: {\"type\":\"message\",\"data\":\"say \\\"hi\\\"\\n\"}\n\n");
    buf_reset(&b);
    sse_comment(&b, "heartbeat");
    sse_comment(&b, " keepalive");
    sse_retry(&b, 3000);
    sse_id(&b, 5);
    assert_string_equal(b.data, ":heartbeat\n\n: keepalive\n\nretry: 3000\n\nid: 5\n\n");
    buf_free(&b);
    /* a bounded buffer never holds half an event */
    buf_init(&b, 20);
    assert_int_equal(sse_event(&b, SSE_NAMED, 1, "e", 1, "0123456789abcdef", 16, 's'), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void
test_mercure_framing(void **st)
{
    const char *with_id = "mercure\nid urn:x:1\nretry 500\nprivate\ntopic a\ntopic b%20c\n\nline1\nline2";
    const char *plain = "mercure\ntopic a\n\n";
    sse_mercure_t m;
    buf_t b;

    assert_int_equal(sse_mercure_parse(with_id, strlen(with_id), &m), 0);
    assert_int_equal(m.id_len, 7);
    assert_int_equal(m.retry, 500);
    assert_true(m.private_);
    assert_int_equal(m.topics_len, strlen("topic a\ntopic b%20c\n"));
    assert_int_equal(sse_mercure_parse("mercure\nid x\n", 13, &m), -1);   /* no end */
    assert_int_equal(sse_mercure_parse("hello", 5, &m), -1);

    buf_init(&b, 0);
    assert_int_equal(sse_event(&b, SSE_MERCURE, 42, "book", 4, with_id, strlen(with_id), 's'), 0);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "id: urn:x:1\nevent: book\nretry: 500\ndata: line1\ndata: line2\n\n"
        "id: 42\n\n");
    buf_reset(&b);
    assert_int_equal(sse_event(&b, SSE_MERCURE, 43, NULL, 0, plain, strlen(plain), 's'), 0);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "id: 43\ndata: \n\n");
    buf_reset(&b);
    /* not a Mercure payload: framed as a named event */
    assert_int_equal(sse_event(&b, SSE_MERCURE, 44, NULL, 0, "{\"a\":1}", 7, 'j'), 0);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "id: 44\ndata: {\"a\":1}\n\n");
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_mercure_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
