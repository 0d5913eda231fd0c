/*
 * cmocka tests for issue 15's pure parts: splitting a POSTed array
 * (jsontext), the publish and mercure route types in the config, the
 * "publish" claim, Mercure payload framing (sse.c), topic encoding and
 * selector matching (topic.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "config.h"
#include "jsontext.h"
#include "mercure.h"
#include "route.h"
#include "sse.h"
#include "topic.h"

static void
test_array_split(void **st)
{
    const char *t = " [ {\"a\": [1, {\"b\": \"],\\\"\"}]} , 2,\"x,]\" ] ";
    const char *v;
    size_t vl, pos = 0;

    assert_int_equal(json_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, strlen("{\"a\": [1, {\"b\": \"],\\\"\"}]}"));
    assert_memory_equal(v, "{\"a\"", 4);
    assert_int_equal(json_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, 1);
    assert_int_equal(v[0], '2');
    assert_int_equal(json_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, 5);                    /* "x,]" */
    assert_int_equal(json_array_next(t, strlen(t), &pos, &v, &vl), 1);
    pos = 0;
    assert_int_equal(json_array_next("[]", 2, &pos, &v, &vl), 1);
    pos = 0;
    assert_int_equal(json_array_next("{}", 2, &pos, &v, &vl), -1);
    pos = 0;
    assert_int_equal(json_array_next("[1 2]", 5, &pos, &v, &vl), -1);
    pos = 0;
    assert_int_equal(json_array_next("[\"abc", 5, &pos, &v, &vl), -1);
}

static void
expect_config_error(const char *routes, const char *want)
{
    char text[1024], err[256];
    snprintf(text, sizeof(text), "{\"routes\": [%s]}", routes);
    config_t *c = config_parse(text, strlen(text), err, sizeof(err));
    if (want == NULL) {
        assert_non_null(c);
        config_destroy(&c);
        return;
    }
    assert_null(c);
    assert_string_equal(err, want);
}

static void
test_route_types(void **st)
{
    route_type_t t;

    assert_int_equal(route_type_parse("publish", &t), 0);
    assert_int_equal(t, ROUTE_PUBLISH);
    assert_int_equal(route_type_parse("mercure", &t), 0);
    assert_int_equal(t, ROUTE_MERCURE);
    assert_int_equal(route_type_parse("Publish", &t), -1);
    expect_config_error("{\"path\": \"/p\", \"type\": \"publish\"}", NULL);
    expect_config_error("{\"path\": \"/.well-known/mercure\", \"type\": \"mercure\", "
        "\"auth\": \"optional\"}", NULL);
    expect_config_error("{\"path\": \"/a\", \"channels\": [\"a\"]}, "
        "{\"path\": \"/p\", \"type\": \"publish\", \"channels\": [\"x\"]}",
        "routes[1].channels: not used by a publish route (the messages name their channels)");
    expect_config_error("{\"path\": \"/p\", \"type\": \"push\"}",
        "routes[0].type: must be \"stream\", \"stats\", \"publish\" or \"mercure\"");
}

static void
test_publish_claim(void **st)
{
    json_t *c = json_loads("{\"publish\": [\"news/*\", \"exact\"], \"channels\": [\"*\"]}", 0, NULL);
    assert_true(claim_allows(c, "publish", "news/a/b"));
    assert_true(claim_allows(c, "publish", "exact"));
    assert_false(claim_allows(c, "publish", "exactly"));
    assert_false(claim_allows(c, "publish", "other"));
    assert_false(claim_allows(c, "nothing", "news/a"));
    json_decref(c);
    assert_false(claim_allows(NULL, "publish", "news/a"));
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

static void
test_mercure_topics(void **st)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(topic_channel(&b, "https://example.com/a b%*", 25), 0);
    assert_string_equal(b.data, "mercure/https://example.com/a%20b%25%2A");
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(topic_channel(&b, big, 247), 0);
    assert_int_equal(topic_channel(&b, big, 248), -1);
    assert_int_equal(topic_channel(&b, "\xc3", 1), -1);            /* not UTF-8 */
    /* a Unicode space (U+2000, found by fuzz_topic) and NBSP are encoded */
    assert_int_equal(topic_channel(&b, "a\xe2\x80\x80" "b\xc2\xa0\xc3\xa9", 9), 0);
    assert_string_equal(b.data, "mercure/a%E2%80%80b%C2%A0\xc3\xa9");
    buf_free(&b);

    assert_true(topic_match("*", "anything"));
    assert_true(topic_match("a", "a"));
    assert_false(topic_match("a", "ab"));
    assert_true(topic_match("https://e.net/foo/{id}", "https://e.net/foo/12"));
    assert_false(topic_match("https://e.net/foo/{id}", "https://e.net/foo/12/x"));
    assert_false(topic_match("https://e.net/bar/{id}", "https://e.net/foo/12"));
    assert_true(topic_match("https://e.net/{+rest}", "https://e.net/foo/12/x?y=1"));
    assert_true(topic_match("https://e.net/b/{id}{?q}", "https://e.net/b/7?q=1"));
    assert_true(topic_match("https://e.net/b/{id}{?q}", "https://e.net/b/7"));
    assert_true(topic_match("/x{/a,b}", "/x/1/2"));
    assert_true(topic_match("f{#frag}", "f#top"));
    /* bounded: many + expressions against a long non-matching topic */
    char t[220], s[220];
    memset(s, 'a', 200);
    s[200] = '\0';
    strcpy(t, "{+a}{+b}{+c}{+d}{+e}{+f}{+g}{+h}Z");
    assert_false(topic_match(t, s));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_split),
        cmocka_unit_test(test_route_types),
        cmocka_unit_test(test_publish_claim),
        cmocka_unit_test(test_mercure_framing),
        cmocka_unit_test(test_mercure_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
