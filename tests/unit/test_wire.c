/*
 * cmocka tests for proto/wire.c: event ids (at most 2^53 - 1, digits only)
 * and the event header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "wire.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
