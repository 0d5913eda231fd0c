/*
 * test_revoke.c -- the table of revoked tokens (proto/revoke.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "revoke.h"

static json_t *
tok(const char *sub, long iat, const char *jti)
{
    json_t *c = json_object();
    json_object_set_new(c, "sub", json_string(sub));
    if (iat >= 0)
        json_object_set_new(c, "iat", json_integer(iat));
    if (jti)
        json_object_set_new(c, "jti", json_string(jti));
    return c;
}

static void
test_sub_and_jti(void **st)
{
    (void)st;
    revoke_t *r = revoke_new();
    json_t *old = tok("bob", 900, NULL), *later = tok("bob", 1001, NULL);
    json_t *noiat = tok("bob", -1, NULL), *alice = tok("alice", 900, "a-1");

    assert_non_null(r);
    assert_int_equal(revoke_add(r, "sub", "bob", 3, 1000, 2000), 0);
    assert_true(revoke_refuses(r, old, 1500));
    assert_true(revoke_refuses(r, noiat, 1500));
    assert_false(revoke_refuses(r, later, 1500));       /* issued after */
    assert_false(revoke_refuses(r, alice, 1500));
    assert_false(revoke_refuses(r, old, 2000));         /* its time is up */
    assert_false(revoke_refuses(r, NULL, 1500));
    assert_int_equal(revoke_add(r, "jti", "a-1", 3, 1000, 3000), 0);
    assert_true(revoke_refuses(r, alice, 2500));
    assert_int_equal(revoke_add(r, "iss", "x", 1, 1000, 3000), -1);
    assert_int_equal(revoke_add(r, "sub", "", 0, 1000, 3000), -1);
    assert_int_equal(revoke_expire(r, 2000), 1);       /* the jti entry is left */
    assert_false(revoke_refuses(r, old, 1500));
    json_decref(old);
    json_decref(later);
    json_decref(noiat);
    json_decref(alice);
    revoke_destroy(&r);
    assert_null(r);
}

static void
test_dump_load_bound(void **st)
{
    (void)st;
    revoke_t *a = revoke_new(), *b = revoke_new();
    char v[16];
    json_t *t = tok("42", 5, NULL), *n = json_object();

    json_object_set_new(n, "sub", json_integer(42));    /* a numeric sub: "42" */
    json_object_set_new(n, "iat", json_integer(5));
    for (int i = 0; i < REVOKE_MAX; i++) {
        int k = snprintf(v, sizeof(v), "%d", i);
        assert_int_equal(revoke_add(a, "sub", v, (size_t)k, 10, 100), 0);
    }
    assert_int_equal(revoke_add(a, "sub", "full", 4, 10, 100), -1);
    assert_int_equal(revoke_add(a, "sub", "42", 2, 20, 200), 0);  /* extends */
    char *dump = revoke_dump(a);
    assert_non_null(dump);
    assert_int_equal(revoke_load(b, dump, strlen(dump)), 0);
    assert_true(revoke_refuses(b, t, 150));
    assert_true(revoke_refuses(b, n, 150));
    assert_int_equal(revoke_load(b, "{\"not\": 1}", 10), -1);
    assert_true(revoke_refuses(b, t, 150));             /* left alone */
    free(dump);
    json_decref(t);
    json_decref(n);
    revoke_destroy(&a);
    revoke_destroy(&b);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_sub_and_jti),
        cmocka_unit_test(test_dump_load_bound),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
