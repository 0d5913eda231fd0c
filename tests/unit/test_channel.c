/*
 * cmocka tests for proto/channel.c: channel names (UTF-8, no spaces, 255
 * bytes) and grant patterns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "channel.h"

static void
test_channel_valid(void **st)
{
    (void)st;
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    assert_true(channel_valid("user/usr_1", 10));
    assert_true(channel_valid("caf\xc3\xa9", 5));
    assert_false(channel_valid("", 0));
    assert_false(channel_valid("a b", 3));
    assert_false(channel_valid("a\tb", 3));
    assert_false(channel_valid("a\nb", 3));
    assert_false(channel_valid("a\x7f", 2));
    assert_false(channel_valid("caf\xc3", 4));              /* truncated */
    assert_false(channel_valid("\xc0\xaf", 2));             /* overlong */
    assert_false(channel_valid("\xed\xa0\x80", 3));         /* surrogate */
    assert_false(channel_valid("a\xc2\xa0" "b", 4));        /* NBSP */
    assert_false(channel_valid("a\xe2\x80\xa8", 4));        /* U+2028 */
    assert_true(channel_valid(long_name, 255));
    assert_false(channel_valid(long_name, 256));
}

static void
test_channel_match(void **st)
{
    (void)st;
    assert_true(channel_match("board/*", "board/b1"));
    assert_true(channel_match("board/*", "board/"));
    assert_true(channel_match("*", "anything/at/all"));
    assert_true(channel_match("a*b*c", "aXXbYYc"));
    assert_false(channel_match("a*b*c", "aXXbYY"));
    assert_false(channel_match("user/1", "user/12"));
    assert_false(channel_match("board/*", "boards/b1"));
    assert_true(channel_match("sync/*/usr_1", "sync/app/usr_1"));
    /* many stars, no explosion */
    assert_false(channel_match("*a*a*a*a*a*a*a*a*a*a*b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_valid),
        cmocka_unit_test(test_channel_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
