/* cmocka tests for broker/store.c: the stored event and its record, a
 * channel's ring and floor, ttl expiry, state per key and its limits,
 * replay across channels (id order, no repeats), eviction for max_memory,
 * the live events for compaction, and the sweep of idle channels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

#define SEC 1000000ll               /* µs */
#define T0  (1700000000ll * SEC)    /* a wall clock time, µs */

static broker_conf_t conf;

static int
setup(void **st)
{
    memset(&conf, 0, sizeof(conf));
    conf.buffer = 4;
    conf.ttl = 60;
    conf.max_memory = UINT64_MAX;
    conf.max_state_keys = 3;
    conf.max_state_bytes = 1000;
    *st = store_new(&conf);
    return *st ? 0 : -1;
}

static int
teardown(void **st)
{
    store_t *s = *st;
    store_destroy(&s);
    assert_null(s);
    assert_int_equal(store_memory(NULL), 0);   /* every byte given back */
    return 0;
}

static store_event_t *
ev(uint64_t id, int64_t at, uint32_t ttl, const char *key, const char *data)
{
    event_rec_t r = { .id = id, .accepted_us = at, .ttl = ttl, .kind = ZSSE_KIND_JSON,
                      .event = "e", .event_len = 1, .data = data, .data_len = strlen(data) };
    if (key) {
        r.key = key;
        r.key_len = strlen(key);
    }
    store_event_t *e = store_event_new(&r);
    assert_non_null(e);
    return e;
}

/* push a new event (the store takes its own references) */
static void
push(store_t *s, const char *chan, uint64_t id, int64_t at, uint32_t ttl, const char *key)
{
    store_channel_t *ch = store_channel(s, chan, strlen(chan), 1);
    assert_non_null(ch);
    store_event_t *e = ev(id, at, ttl, key, "1");
    store_push(s, ch, e, at);
    store_event_unref(e);
}

static void
ids_are(const store_hit_t *h, long n, const uint64_t *want, long nwant)
{
    assert_int_equal(n, nwant);
    for (long i = 0; i < n; i++)
        assert_int_equal(h[i].ev->id, want[i]);
}

static void
test_event_record(void **st)
{
    (void)st;
    event_rec_t in = { .id = 7, .accepted_us = T0, .ttl = 30, .kind = ZSSE_KIND_STRING,
                       .event = "name", .event_len = 4, .key = "k/1", .key_len = 3,
                       .data = "a\nb", .data_len = 3 }, out;
    store_event_t *e = store_event_new(&in);
    assert_non_null(e);
    assert_true(store_memory(NULL) > 0);
    store_event_rec(e, &out);
    assert_int_equal(out.id, 7);
    assert_int_equal(out.accepted_us, T0);
    assert_int_equal(out.ttl, 30);
    assert_int_equal(out.kind, ZSSE_KIND_STRING);
    assert_int_equal(out.nchannels, 0);
    assert_memory_equal(out.event, "name", 4);
    assert_int_equal(out.event_len, 4);
    assert_memory_equal(out.key, "k/1", 3);
    assert_memory_equal(out.data, "a\nb", 3);
    assert_int_equal(out.data_len, 3);
    assert_ptr_not_equal(out.data, in.data);        /* a copy, not the caller's */

    /* no name, no key: NULL in the record, "" on the wire */
    event_rec_t bare = { .id = 8, .kind = ZSSE_KIND_JSON, .data = "1", .data_len = 1 };
    store_event_t *b = store_event_new(&bare);
    store_event_rec(b, &out);
    assert_null(out.event);
    assert_null(out.key);
    store_t *s = *st;
    store_channel_t *ch = store_channel(s, "c", 1, 1);
    wire_event_t w;
    store_event_wire(b, ch, &w);
    assert_int_equal(w.id, 8);
    assert_string_equal(w.event, "");
    assert_memory_equal(w.channel, "c", 1);
    assert_int_equal(w.channel_len, 1);
    assert_string_equal(w.data, "1");

    store_event_ref(e);
    store_event_unref(e);                           /* one reference left */
    assert_int_equal(e->refs, 1);
    store_event_unref(e);
    store_event_unref(b);
}

static void
test_ring_and_floor(void **st)
{
    store_t *s = *st;
    store_hit_t *h = NULL;
    size_t cap = 0;
    const char *c[] = { "c" };
    size_t l[] = { 1 };

    assert_null(store_channel(s, "c", 1, 0));       /* not made when asked not to */
    for (uint64_t id = 1; id <= 6; id++)
        push(s, "c", id * 10, T0, 0, NULL);
    store_channel_t *ch = store_channel(s, "c", 1, 0);
    assert_int_equal(ch->count, 4);                 /* buffer 4 */
    assert_int_equal(ch->floor, 20);                /* 10, 20 dropped */
    assert_int_equal(store_floor(s, c, l, 1, T0), 20);
    long n = store_collect(s, c, l, 1, 35, 1, T0, &h, &cap);
    ids_are(h, n, (uint64_t[]){ 40, 50, 60 }, 3);
    n = store_collect(s, c, l, 1, 0, 1, T0, &h, &cap);
    ids_are(h, n, (uint64_t[]){ 30, 40, 50, 60 }, 4);
    free(h);
}

static void
test_ttl(void **st)
{
    store_t *s = *st;

    push(s, "c", 1, T0, 0, NULL);                   /* the channel's 60 s */
    push(s, "c", 2, T0, 5, NULL);                   /* its own 5 s */
    push(s, "c", 3, T0 + 10 * SEC, 0, NULL);
    store_channel_t *ch = store_channel(s, "c", 1, 0);
    store_expire(ch, T0 + 30 * SEC);
    assert_int_equal(ch->count, 3);                 /* 2 waits behind 1: in order */
    store_expire(ch, T0 + 60 * SEC);
    assert_int_equal(ch->count, 1);                 /* 1 at 60 s, then 2 (past 5 s) */
    assert_int_equal(ch->floor, 2);
    store_expire(ch, T0 + 70 * SEC);
    assert_int_equal(ch->count, 0);
    assert_int_equal(ch->floor, 3);
}

static void
test_state(void **st)
{
    store_t *s = *st;
    store_hit_t *h = NULL;
    size_t cap = 0;
    const char *c[] = { "c" };
    size_t l[] = { 1 };

    push(s, "c", 1, T0, 0, "a");
    push(s, "c", 2, T0, 0, "b");
    push(s, "c", 3, T0, 0, "a");                    /* replaces 1 */
    push(s, "c", 4, T0, 0, NULL);
    long n = store_collect(s, c, l, 1, 0, 0, T0, &h, &cap);
    ids_are(h, n, (uint64_t[]){ 2, 3 }, 2);
    assert_int_equal(store_min_live(s), 1);         /* 1 is still in the ring */

    /* the state outlives the ring: 6 more unkeyed events push 2 and 3 out */
    for (uint64_t id = 5; id <= 10; id++)
        push(s, "c", id, T0, 0, NULL);
    n = store_collect(s, c, l, 1, 0, 0, T0, &h, &cap);
    ids_are(h, n, (uint64_t[]){ 2, 3 }, 2);
    assert_int_equal(store_min_live(s), 2);

    /* max_state_keys 3: a third key fits, a fourth does not; an old key does */
    store_channel_t *ch = store_channel(s, "c", 1, 0);
    assert_null(store_state_check(s, ch, "c", 1, 10));
    push(s, "c", 11, T0, 0, "c");
    assert_string_equal(store_state_check(s, ch, "d", 1, 10), "state_keys");
    assert_null(store_state_check(s, ch, "a", 1, 10));
    /* max_state_bytes 1000 */
    assert_string_equal(store_state_check(s, ch, "a", 1, 1001), "state_bytes");
    free(h);
}

static void
test_collect_across_channels(void **st)
{
    store_t *s = *st;
    store_hit_t *h = NULL;
    size_t cap = 0;
    const char *c[] = { "a", "b", "none" };
    size_t l[] = { 1, 1, 4 };

    store_channel_t *a = store_channel(s, "a", 1, 1), *b = store_channel(s, "b", 1, 1);
    store_event_t *both = ev(5, T0, 0, NULL, "1");  /* one event on two channels */
    store_push(s, a, both, T0);
    store_push(s, b, both, T0);
    store_event_unref(both);
    push(s, "b", 3, T0, 0, NULL);
    push(s, "a", 7, T0, 0, NULL);
    push(s, "b", 9, T0, 0, NULL);
    long n = store_collect(s, c, l, 3, 0, 1, T0, &h, &cap);
    ids_are(h, n, (uint64_t[]){ 3, 5, 7, 9 }, 4);
    assert_ptr_equal(h[0].ch, b);
    assert_ptr_equal(h[2].ch, a);
    free(h);
}

typedef struct {
    uint64_t ids[16];
    size_t   nch[16];
    size_t   n;
} live_t;

static int
live_one(void *ctx, const event_rec_t *r)
{
    live_t *v = ctx;
    assert_true(v->n < 16);
    v->ids[v->n] = r->id;
    v->nch[v->n++] = r->nchannels;
    return 0;
}

static void
test_each_live(void **st)
{
    store_t *s = *st;
    live_t v = { .n = 0 };

    store_channel_t *a = store_channel(s, "a", 1, 1), *b = store_channel(s, "b", 1, 1);
    store_event_t *both = ev(5, T0, 0, "k", "1");   /* ring and state of both */
    store_push(s, a, both, T0);
    store_push(s, b, both, T0);
    store_event_unref(both);
    push(s, "b", 2, T0, 0, NULL);
    assert_int_equal(store_each_live(s, live_one, &v), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.ids[0], 2);
    assert_int_equal(v.nch[0], 1);
    assert_int_equal(v.ids[1], 5);
    assert_int_equal(v.nch[1], 2);                  /* once, with both channels */
}

static void
test_make_room(void **st)
{
    store_t *s = *st;

    for (uint64_t id = 1; id <= 3; id++)
        push(s, id % 2 ? "a" : "b", id, T0, 0, NULL);
    size_t used = store_memory(s);
    conf.max_memory = used;                         /* full */
    assert_int_equal(store_make_room(s, 1), 0);     /* the oldest (1, in "a") goes */
    assert_int_equal(store_evicted(s), 1);
    assert_int_equal(store_channel(s, "a", 1, 0)->floor, 1);
    assert_int_equal(store_channel(s, "b", 1, 0)->floor, 0);
    assert_true(store_memory(s) + 1 <= conf.max_memory);
    conf.max_memory = 0;                            /* nothing fits */
    assert_int_equal(store_make_room(s, 1), -1);
    assert_int_equal(store_channel(s, "a", 1, 0)->count, 0);
    assert_int_equal(store_channel(s, "b", 1, 0)->count, 0);
    assert_int_equal(store_channel(s, "b", 1, 0)->floor, 2);
    conf.max_memory = UINT64_MAX;
}

static void
test_sweep(void **st)
{
    store_t *s = *st;

    push(s, "old", 1, T0, 1, NULL);
    push(s, "kept", 2, T0, 0, "k");
    assert_int_equal(store_channels(s), 2);
    assert_int_equal(store_sweep(s, T0 + 2 * SEC), 2);     /* empty, not yet idle */
    assert_int_equal(store_events(s), 1);
    assert_int_equal(store_keys(s), 1);
    assert_int_equal(store_sweep(s, T0 + 2 * SEC + STORE_IDLE_US + 1), 1);
    assert_null(store_channel(s, "old", 3, 0));
    assert_non_null(store_channel(s, "kept", 4, 0));       /* it has state */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_and_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_across_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
