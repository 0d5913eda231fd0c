/*
 * cmocka tests for cli/args.c, the numbers of the zsse command line:
 * digits only, within the option's bounds, nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include "args.h"

static void
test_long(void **st)
{
    long v = 7;

    assert_int_equal(args_long("1", 1, 10, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(args_long("10", 1, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(args_long("007", 1, 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(args_long("9223372036854775807", 1, LONG_MAX, &v), 0);
    v = 5;
    const char *bad[] = { "", "0", "11", "-1", "+1", " 1", "1 ", "1x", "0x1", "1e3", "1.0",
                          "abc", "9223372036854775808", "99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (args_long(bad[i], 1, 10, &v) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(v, 5);                     /* untouched */
    assert_int_equal(args_long(NULL, 1, 10, &v), -1);
}

static void
test_seconds(void **st)
{
    double v = 9;

    assert_int_equal(args_seconds("2", 100, &v), 0);
    assert_true(v == 2);
    assert_int_equal(args_seconds("0.5", 100, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(args_seconds(".25", 100, &v), 0);
    assert_true(v == 0.25);
    assert_int_equal(args_seconds("3.", 100, &v), 0);
    assert_true(v == 3);
    v = 9;
    const char *bad[] = { "", ".", "0", "0.0", "-1", "+1", "abc", "inf", "nan", "1e2",
                          "0x10", "1.2.3", "101", " 1", "1s" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (args_seconds(bad[i], 100, &v) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_true(v == 9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long),
        cmocka_unit_test(test_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
