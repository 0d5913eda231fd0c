/*
 * test_ident.c -- the identity rule (proto/ident.h, issue 13 item 4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "ident.h"

#define CHECK(s) ident_check((s), strlen(s))

static void
test_check(void **st)
{
    (void)st;
    assert_int_equal(CHECK("alice"), IDENT_OK);
    assert_int_equal(CHECK("user@example.com"), IDENT_OK);
    assert_int_equal(CHECK("auth0|5f7c"), IDENT_OK);
    assert_int_equal(CHECK("J\xc3\xbcrgen"), IDENT_OK);
    assert_int_equal(CHECK(""), IDENT_EMPTY);
    assert_int_equal(CHECK("bob/admin"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a*"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a b"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a\tb"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a\r\nb"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a\x7f"), IDENT_BAD_CHAR);
    assert_int_equal(CHECK("a\xc2\x85"), IDENT_BAD_CHAR);          /* U+0085 NEL */
    assert_int_equal(CHECK("a\xe2\x80\xa8"), IDENT_BAD_CHAR);      /* U+2028 */
    assert_int_equal(CHECK("a\xff"), IDENT_BAD_UTF8);
    assert_int_equal(ident_check("a\0b", 3), IDENT_BAD_CHAR);
    char big[300];
    memset(big, 'x', sizeof(big));
    assert_int_equal(ident_check(big, 255), IDENT_OK);
    assert_int_equal(ident_check(big, 256), IDENT_TOO_LONG);
}

static void
test_json(void **st)
{
    (void)st;
    char scratch[32];
    const char *s;
    size_t n;
    json_t *v;

    v = json_string("alice");
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "alice", 5);
    json_decref(v);
    v = json_integer(42);
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(s, "42", 2);
    json_decref(v);
    v = json_integer(-9007199254740993LL);
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_OK);
    assert_string_equal(s, "-9007199254740993");
    json_decref(v);
    v = json_real(4.5);
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_NOT_SCALAR);
    json_decref(v);
    v = json_true();
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_NOT_SCALAR);
    assert_int_equal(ident_json(json_null(), scratch, sizeof(scratch), &s, &n), IDENT_NOT_SCALAR);
    v = json_stringn("a\0b", 3);
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_BAD_CHAR);
    json_decref(v);
    v = json_string("bob/admin");
    assert_int_equal(ident_json(v, scratch, sizeof(scratch), &s, &n), IDENT_BAD_CHAR);
    json_decref(v);
    assert_non_null(strstr(ident_reason(IDENT_BAD_CHAR), "'/'"));
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
