/*
 * cmocka tests for proto/topic.c: Mercure topics as channel names and topic
 * selector matching (bounded).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "buf.h"
#include "topic.h"

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
        cmocka_unit_test(test_mercure_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
