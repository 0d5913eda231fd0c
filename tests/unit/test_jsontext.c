/*
 * cmocka tests for proto/jsontext.c: raw JSON scanning (a member,
 * compaction, splitting an array without re-spelling).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "jsontext.h"

static void
test_jsontext(void **st)
{
    (void)st;
    size_t n;
    char out[128];
    const char *t = "[ 1, \"x }\\\" ]\" ]";
    n = jsontext_compact(t, strlen(t), out);
    out[n] = '\0';
    assert_string_equal(out, "[1,\"x }\\\" ]\"]");
}

static void
test_array_split(void **st)
{
    const char *t = " [ {\"a\": [1, {\"b\": \"],\\\"\"}]} , 2,\"x,]\" ] ";
    const char *v;
    size_t vl, pos = 0;

    assert_int_equal(jsontext_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, strlen("{\"a\": [1, {\"b\": \"],\\\"\"}]}"));
    assert_memory_equal(v, "{\"a\"", 4);
    assert_int_equal(jsontext_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, 1);
    assert_int_equal(v[0], '2');
    assert_int_equal(jsontext_array_next(t, strlen(t), &pos, &v, &vl), 0);
    assert_int_equal(vl, 5);                    /* "x,]" */
    assert_int_equal(jsontext_array_next(t, strlen(t), &pos, &v, &vl), 1);
    pos = 0;
    assert_int_equal(jsontext_array_next("[]", 2, &pos, &v, &vl), 1);
    pos = 0;
    assert_int_equal(jsontext_array_next("{}", 2, &pos, &v, &vl), -1);
    pos = 0;
    assert_int_equal(jsontext_array_next("[1 2]", 5, &pos, &v, &vl), -1);
    pos = 0;
    assert_int_equal(jsontext_array_next("[\"abc", 5, &pos, &v, &vl), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsontext),
        cmocka_unit_test(test_array_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
