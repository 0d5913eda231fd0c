/*
 * cmocka tests for proto/buf.c: appends bounded by the buffer's max, u64
 * formatting, growth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "buf.h"

static void
test_buf_bounds(void **st)
{
    (void)st;
    buf_t b;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345"), 0);
    assert_int_equal(buf_puts(&b, "678"), 0);
    assert_int_equal(buf_putc(&b, '9'), -1);        /* past the bound */
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "12345678", 8);
    buf_reset(&b);
    assert_int_equal(buf_put_u64(&b, 18446744073709551615ull), -1);
    assert_int_equal(buf_put_u64(&b, 1234567), 0);
    assert_string_equal(b.data, "1234567");
    buf_free(&b);
    buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i), 0);
    assert_true(b.len > 40000);
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
