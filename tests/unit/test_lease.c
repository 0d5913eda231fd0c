/* cmocka tests for broker/lease.c: a group's limit, ids that are fresh
 * random hex, renew and release only by the owner, expiry after
 * WIRE_LEASE_TTL without a renewal, counts per route, the per-owner bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "lease.h"
#include "wire.h"

#define SEC 1000000ll           /* µs */
#define GROUP(s) s, sizeof(s)   /* "route\0sub": the '\0' is part of it */

static int
setup(void **st)
{
    *st = leases_new();
    return *st ? 0 : -1;
}

static int
teardown(void **st)
{
    leases_t *l = *st;
    leases_destroy(&l);
    assert_null(l);
    return 0;
}

static void
test_limit(void **st)
{
    leases_t *l = *st;
    char a[LEASE_ID_LEN + 1], b[LEASE_ID_LEN + 1], c[LEASE_ID_LEN + 1];

    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w1", 2, a, 0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w2", 2, b, 0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w1", 2, c, 0), LEASE_FULL);
    /* another subject, and no limit at all */
    assert_int_equal(leases_take(l, GROUP("/e\0u2"), 2, "w1", 2, c, 0), LEASE_TAKEN);
    assert_int_equal(leases_count(l), 3);
    for (int i = 0; i < 10; i++)
        assert_int_equal(leases_take(l, GROUP("/x\0u1"), 0, "w1", 2, c, 0), LEASE_TAKEN);
    assert_int_equal(leases_count(l), 13);

    /* ids: LEASE_ID_LEN hex digits, different each time */
    assert_int_equal(strlen(a), LEASE_ID_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), LEASE_ID_LEN);
    assert_string_not_equal(a, b);

    /* a release makes room in the group */
    assert_int_equal(leases_release(l, a, LEASE_ID_LEN, "w1", 2), LEASE_DONE);
    assert_int_equal(leases_release(l, a, LEASE_ID_LEN, "w1", 2), LEASE_UNKNOWN);
    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w1", 2, c, 0), LEASE_TAKEN);
}

static void
test_owner_only(void **st)
{
    leases_t *l = *st;
    char a[LEASE_ID_LEN + 1];

    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 1, "w1", 2, a, 0), LEASE_TAKEN);
    assert_int_equal(leases_renew(l, a, LEASE_ID_LEN, "w2", 2, 0), LEASE_FOREIGN);
    assert_int_equal(leases_release(l, a, LEASE_ID_LEN, "w2", 2), LEASE_FOREIGN);
    assert_int_equal(leases_count(l), 1);               /* untouched */
    assert_int_equal(leases_renew(l, a, LEASE_ID_LEN, "w1", 2, 0), LEASE_DONE);
    assert_int_equal(leases_renew(l, "nope", 4, "w1", 2, 0), LEASE_UNKNOWN);
    assert_int_equal(leases_renew(l, a, LEASE_ID_LEN - 1, "w1", 2, 0), LEASE_UNKNOWN);
}

static void
test_expiry(void **st)
{
    leases_t *l = *st;
    char a[LEASE_ID_LEN + 1], b[LEASE_ID_LEN + 1];
    const int64_t t0 = 1700000000ll * SEC, ttl = WIRE_LEASE_TTL * SEC;

    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w1", 2, a, t0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 2, "w1", 2, b, t0), LEASE_TAKEN);
    /* b is renewed half-way, a is not */
    assert_int_equal(leases_renew(l, b, LEASE_ID_LEN, "w1", 2, t0 + ttl / 2), LEASE_DONE);
    leases_expire(l, t0 + ttl - 1);
    assert_int_equal(leases_count(l), 2);
    leases_expire(l, t0 + ttl);
    assert_int_equal(leases_count(l), 1);
    assert_int_equal(leases_renew(l, a, LEASE_ID_LEN, "w1", 2, t0 + ttl), LEASE_UNKNOWN);
    leases_expire(l, t0 + ttl / 2 + ttl);
    assert_int_equal(leases_count(l), 0);
    /* the group's count went with them */
    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 1, "w1", 2, a, t0 + 2 * ttl), LEASE_TAKEN);
}

typedef struct {
    unsigned e, x, other;
} routes_t;

static void
count_route(void *ctx, const char *route, unsigned n)
{
    routes_t *r = ctx;
    if (strcmp(route, "/e") == 0)
        r->e += n;
    else if (strcmp(route, "/x") == 0)
        r->x += n;
    else
        r->other += n;
}

static void
test_by_route(void **st)
{
    leases_t *l = *st;
    char id[LEASE_ID_LEN + 1];
    routes_t r = { 0, 0, 0 };

    assert_int_equal(leases_take(l, GROUP("/e\0u1"), 0, "w1", 2, id, 0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/e\0u2"), 0, "w1", 2, id, 0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/x\0u1"), 0, "w2", 2, id, 0), LEASE_TAKEN);
    leases_by_route(l, count_route, &r);
    assert_int_equal(r.e, 2);
    assert_int_equal(r.x, 1);
    assert_int_equal(r.other, 0);
}

static void
test_per_owner_bound(void **st)
{
    leases_t *l = *st;
    char id[LEASE_ID_LEN + 1];

    for (unsigned i = 0; i < LEASE_PER_OWNER_MAX; i++)
        assert_int_equal(leases_take(l, GROUP("/e\0u"), 0, "w1", 2, id, 0), LEASE_TAKEN);
    assert_int_equal(leases_take(l, GROUP("/e\0u"), 0, "w1", 2, id, 0), LEASE_OWNER_FULL);
    assert_int_equal(leases_take(l, GROUP("/e\0u"), 0, "w2", 2, id, 0), LEASE_TAKEN);
    assert_int_equal(leases_count(l), LEASE_PER_OWNER_MAX + 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_owner_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
