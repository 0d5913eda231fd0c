/*
 * test_heap.c -- the min-heap of fcgi/heap.h: push, pop, remove, update,
 * with its invariants checked after every operation, and a bounded random
 * sequence checked against a plain array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "heap.h"

#define N 1000

static void
test_push_pop_in_order(void **st)
{
    (void)st;
    heap_t h = { 0 };
    heap_node_t x[N];

    assert_null(heap_min(&h));
    assert_null(heap_pop(&h));
    for (int i = 0; i < N; i++) {
        heap_node_init(&x[i]);
        assert_false(heap_contains(&x[i]));
        /* keys out of order, with repeats */
        assert_int_equal(heap_push(&h, &x[i], (int64_t)((i * 7919) % 311)), 0);
        assert_true(heap_contains(&x[i]));
        assert_true(heap_check(&h));
    }
    assert_int_equal(h.n, N);
    int64_t prev = INT64_MIN;
    for (int i = 0; i < N; i++) {
        heap_node_t *m = heap_pop(&h);
        assert_non_null(m);
        assert_false(heap_contains(m));
        assert_true(m->key >= prev);
        prev = m->key;
        assert_true(heap_check(&h));
    }
    assert_null(heap_pop(&h));
    heap_free(&h);
}

static void
test_remove_and_update(void **st)
{
    (void)st;
    heap_t h = { 0 };
    heap_node_t x[8];

    for (int i = 0; i < 8; i++) {
        heap_node_init(&x[i]);
        assert_int_equal(heap_push(&h, &x[i], 10 * (i + 1)), 0);
    }
    assert_ptr_equal(heap_min(&h), &x[0]);
    heap_remove(&h, &x[0]);                     /* the root */
    assert_true(heap_check(&h));
    assert_ptr_equal(heap_min(&h), &x[1]);
    heap_remove(&h, &x[0]);                     /* in no heap: nothing */
    assert_int_equal(h.n, 7);
    heap_remove(&h, &x[7]);                     /* the last entry */
    heap_remove(&h, &x[3]);                     /* one in the middle */
    assert_true(heap_check(&h));
    assert_int_equal(h.n, 5);
    heap_update(&h, &x[6], 1);                  /* earlier: to the top */
    assert_true(heap_check(&h));
    assert_ptr_equal(heap_min(&h), &x[6]);
    heap_update(&h, &x[6], 1000);               /* later: to the bottom */
    assert_true(heap_check(&h));
    assert_ptr_equal(heap_min(&h), &x[1]);
    heap_update(&h, &x[1], 20);                 /* unchanged */
    assert_true(heap_check(&h));
    heap_free(&h);
    assert_false(heap_contains(&x[1]));
}

/* a broken heap is seen: heap_check can fail */
static void
test_check_finds_a_broken_heap(void **st)
{
    (void)st;
    heap_t h = { 0 };
    heap_node_t a, b;

    heap_node_init(&a);
    heap_node_init(&b);
    heap_push(&h, &a, 1);
    heap_push(&h, &b, 2);
    a.key = 3;                                  /* behind heap_update's back */
    assert_false(heap_check(&h));
    a.key = 1;
    b.idx = 0;
    assert_false(heap_check(&h));
    b.idx = 1;
    assert_true(heap_check(&h));
    heap_free(&h);
}

/* 20,000 random operations (a fixed seed), against a model: the least key
 * of the nodes the model says are in */
static void
test_random_sequence(void **st)
{
    (void)st;
    heap_t h = { 0 };
    heap_node_t x[N];
    int in[N] = { 0 };
    uint64_t r = 0x2545F4914F6CDD1Dull;

    for (int i = 0; i < N; i++)
        heap_node_init(&x[i]);
    for (int step = 0; step < 20000; step++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int i = (int)(r % N), op = (int)((r >> 20) % 4);
        int64_t key = (int64_t)((r >> 32) % 5000) - 100;
        if (op == 0 && !in[i]) {
            assert_int_equal(heap_push(&h, &x[i], key), 0);
            in[i] = 1;
        } else if (op == 1 && in[i]) {
            heap_remove(&h, &x[i]);
            in[i] = 0;
        } else if (op == 2 && in[i]) {
            heap_update(&h, &x[i], key);
        } else if (op == 3) {
            heap_node_t *m = heap_pop(&h);
            if (m)
                in[m - x] = 0;
        }
        assert_true(heap_check(&h));
        size_t count = 0;
        int64_t least = INT64_MAX;
        for (int k = 0; k < N; k++)
            if (in[k]) {
                count++;
                assert_true(heap_contains(&x[k]));
                if (x[k].key < least)
                    least = x[k].key;
            } else {
                assert_false(heap_contains(&x[k]));
            }
        assert_int_equal(h.n, count);
        if (count)
            assert_int_equal(heap_min(&h)->key, least);
    }
    heap_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_pop_in_order),
        cmocka_unit_test(test_remove_and_update),
        cmocka_unit_test(test_check_finds_a_broken_heap),
        cmocka_unit_test(test_random_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
