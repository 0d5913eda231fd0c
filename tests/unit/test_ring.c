/*
 * cmocka tests for proto/ring.c: the pointer FIFO in order across the wrap
 * and every growth, bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "ring.h"

static void
test_ring_fifo(void **st)
{
    (void)st;
    ring_t r;
    int v[40];
    assert_int_equal(ring_init(&r, 2, 32), 0);
    assert_null(ring_pop(&r));
    /* in order across the wrap and every growth (2, 4, ... 32) */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ring_push(&r, &v[i]), 0);
    assert_ptr_equal(ring_pop(&r), &v[0]);
    for (int i = 3; i < 33; i++)
        assert_int_equal(ring_push(&r, &v[i]), 0);
    assert_int_equal(r.len, 32);
    assert_int_equal(r.cap, 32);
    assert_int_equal(ring_push(&r, &v[33]), -1);            /* full at max */
    assert_int_equal(ring_push_front(&r, &v[0]), -1);
    assert_ptr_equal(ring_first(&r), &v[1]);
    for (int i = 1; i < 33; i++)
        assert_ptr_equal(ring_pop(&r), &v[i]);
    assert_null(ring_pop(&r));
    /* push_front goes before what waits, and grows too */
    ring_free(&r);
    assert_int_equal(ring_init(&r, 1, 8), 0);
    assert_int_equal(ring_push(&r, &v[2]), 0);
    assert_int_equal(ring_push(&r, &v[3]), 0);
    assert_int_equal(ring_push_front(&r, &v[1]), 0);
    for (int i = 1; i <= 3; i++)
        assert_ptr_equal(ring_pop(&r), &v[i]);
    assert_int_equal(r.len, 0);
    ring_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_fifo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
