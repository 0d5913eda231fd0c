/*
 * test_stream.c -- the stream's state machine (fcgi/stream.h): the table
 * of legal edges against the diagram, written out here once more; every
 * other pair refused; real streams walked along their lives; the
 * predicates the hub relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "stream.h"

/* the diagram's edges, as the header draws them */
static const struct { stream_state_t from, to; } legal[] = {
    { STREAM_NEW, STREAM_SYNCING },         /* hub_register */
    { STREAM_NEW, STREAM_RELEASED },        /* hub_unregister */
    { STREAM_SYNCING, STREAM_SYNCED },      /* its marker */
    { STREAM_SYNCING, STREAM_RELEASED },
    { STREAM_SYNCING, STREAM_RESYNC },      /* adopted with resume */
    { STREAM_SYNCED, STREAM_SYNCING },      /* broker reconnect */
    { STREAM_SYNCED, STREAM_RELEASED },
    { STREAM_SYNCED, STREAM_LIVE },         /* hub_adopt */
    { STREAM_SYNCED, STREAM_RESUME },       /* adopted with resume */
    { STREAM_LIVE, STREAM_RESYNC },
    { STREAM_LIVE, STREAM_DOOMED },
    { STREAM_RESYNC, STREAM_RESUME },
    { STREAM_RESYNC, STREAM_DOOMED },
    { STREAM_RESUME, STREAM_LIVE },
    { STREAM_RESUME, STREAM_RESYNC },
    { STREAM_RESUME, STREAM_DOOMED },
    { STREAM_DOOMED, STREAM_DEAD },
};

static bool
in_diagram(stream_state_t from, stream_state_t to)
{
    for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
        if (legal[i].from == from && legal[i].to == to)
            return true;
    return false;
}

/* every pair: legal exactly when drawn (self-loops and the out-of-range
 * included) */
static void
test_table_is_the_diagram(void **st)
{
    (void)st;
    int n = 0;
    for (int f = 0; f <= STREAM_NSTATES; f++)
        for (int t = 0; t <= STREAM_NSTATES; t++) {
            bool want = f < STREAM_NSTATES && t < STREAM_NSTATES &&
                in_diagram((stream_state_t)f, (stream_state_t)t);
            if (stream_edge_ok((stream_state_t)f, (stream_state_t)t) != want)
                fail_msg("%s -> %s: %s", stream_state_name((stream_state_t)f),
                    stream_state_name((stream_state_t)t), want ? "refused" : "allowed");
            n += want;
        }
    assert_int_equal(n, (int)(sizeof(legal) / sizeof(legal[0])));
    /* no way back: released and dead are the ends */
    for (int t = 0; t < STREAM_NSTATES; t++) {
        assert_false(stream_edge_ok(STREAM_RELEASED, (stream_state_t)t));
        assert_false(stream_edge_ok(STREAM_DEAD, (stream_state_t)t));
        /* the thread never takes a stream back from the hub */
        for (int f = STREAM_LIVE; f < STREAM_NSTATES; f++)
            if (t <= STREAM_RELEASED)
                assert_false(stream_edge_ok((stream_state_t)f, (stream_state_t)t));
    }
    assert_string_equal(stream_state_name(STREAM_NSTATES), "?");
}

static void
walk(stream_t *s, const stream_state_t *path, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        stream_set_state(s, path[i]);
        assert_int_equal(stream_state(s), path[i]);
    }
}

/* a stream adopted, through two broker restarts, then closed */
static void
test_life_of_an_adopted_stream(void **st)
{
    (void)st;
    stream_t *s = stream_new();
    assert_non_null(s);
    assert_int_equal(s->state, STREAM_NEW);
    assert_true(stream_on_thread(s));
    assert_false(stream_registered(s));
    const stream_state_t path[] = {
        STREAM_SYNCING, STREAM_SYNCED, STREAM_SYNCING, STREAM_SYNCED, STREAM_LIVE,
        STREAM_RESYNC, STREAM_RESUME, STREAM_RESYNC, STREAM_RESUME, STREAM_LIVE,
    };
    walk(s, path, sizeof(path) / sizeof(path[0]));
    assert_false(stream_on_thread(s));
    assert_true(stream_running(s) && stream_adopted(s) && stream_registered(s));
    stream_set_state(s, STREAM_DOOMED);
    assert_false(stream_running(s));
    assert_true(stream_adopted(s) && stream_registered(s));
    stream_set_state(s, STREAM_DEAD);
    assert_false(stream_adopted(s) || stream_registered(s) || stream_on_thread(s));
    stream_free(s);
}

/* poll mode and failed setups: back to the thread, then freed */
static void
test_life_of_a_thread_stream(void **st)
{
    (void)st;
    const stream_state_t polled[] = { STREAM_SYNCING, STREAM_SYNCED, STREAM_RELEASED };
    const stream_state_t unsynced[] = { STREAM_SYNCING, STREAM_RELEASED };
    const stream_state_t unregistered[] = { STREAM_RELEASED };
    const stream_state_t *paths[] = { polled, unsynced, unregistered };
    const size_t lens[] = { 3, 2, 1 };

    for (int i = 0; i < 3; i++) {
        stream_t *s = stream_new();
        assert_non_null(s);
        walk(s, paths[i], lens[i]);
        assert_true(stream_on_thread(s));
        assert_false(stream_registered(s));
        stream_free(s);
    }
    /* adopted with resume before its marker came back */
    stream_t *s = stream_new();
    const stream_state_t late[] = { STREAM_SYNCING, STREAM_SYNCED, STREAM_SYNCING,
        STREAM_RESYNC, STREAM_RESUME, STREAM_LIVE, STREAM_DOOMED, STREAM_DEAD };
    walk(s, late, sizeof(late) / sizeof(late[0]));
    stream_free(s);
}

/* the queue: events in order, references dropped */
static void
test_queue(void **st)
{
    (void)st;
    stream_t *s = stream_new();
    stream_qev_t *a = stream_qev_new(1, ZSSE_KIND_JSON, "ev", 2, "{}", 2, 1), *b = stream_qev_new(2, ZSSE_KIND_SSE, "", 0, "x", 1, 1);

    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->event, "ev");
    assert_string_equal(a->data, "{}");
    assert_int_equal(ring_push(&s->q, a), 0);
    assert_int_equal(ring_push(&s->q, b), 0);
    stream_qev_t *e = stream_pop(s);
    assert_ptr_equal(e, a);
    stream_qev_unref(e);
    stream_drain(s);                /* b's last reference */
    assert_null(stream_pop(s));
    stream_wake(s);
    stream_clear_wake(s);
    stream_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_the_diagram),
        cmocka_unit_test(test_life_of_an_adopted_stream),
        cmocka_unit_test(test_life_of_a_thread_stream),
        cmocka_unit_test(test_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
