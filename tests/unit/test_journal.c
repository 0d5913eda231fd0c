/* cmocka tests for broker/journal.c: round trip, torn tails, rotation,
 * dropping and compaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include "journal.h"

typedef struct {
    uint64_t ids[4096];
    char     data[4096][32];
    char     chan[4096][32];
    char     key[4096][16];
    size_t   n;
} seen_t;

static int
collect(void *ctx, const jrec_t *r)
{
    seen_t *s = ctx;
    assert_true(s->n < 4096);
    s->ids[s->n] = r->id;
    snprintf(s->data[s->n], 32, "%.*s", (int)r->data_len, r->data);
    snprintf(s->chan[s->n], 32, "%.*s", (int)r->channel_lens[0], r->channels[0]);
    snprintf(s->key[s->n], 16, "%.*s", (int)r->key_len, r->key ? r->key : "");
    s->n++;
    return 0;
}

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/zsse-journal-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

static jrec_t
rec(uint64_t id, const char *chan, const char *key, const char *data)
{
    jrec_t r = { .id = id, .accepted_us = 1000 + id, .ttl = 60, .kind = 'j',
                 .nchannels = 1, .event = "ev", .event_len = 2,
                 .data = data, .data_len = strlen(data) };
    r.channels[0] = chan;
    r.channel_lens[0] = strlen(chan);
    if (key) {
        r.key = key;
        r.key_len = strlen(key);
    }
    return r;
}

static journal_t *
reopen(seen_t *s)
{
    char err[256];
    memset(s, 0, sizeof(*s));
    journal_t *j = journal_open(dir, 0, collect, s, err, sizeof(err));
    if (!j)
        fail_msg("journal_open: %s", err);
    return j;
}

/* ids 1..N on channel "c", one commit */
static void
write_records(journal_t *j, uint64_t n, const char *data)
{
    for (uint64_t i = 1; i <= n; i++) {
        jrec_t r = rec(i, "c", NULL, data);
        assert_int_equal(journal_append(j, &r), 0);
    }
    assert_int_equal(journal_commit(j), 0);
}

/* the path of the (one) segment file */
static void
segment_path(char *path, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    path[0] = '\0';
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "journal-", 8) == 0)
            snprintf(path, n, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    assert_true(path[0] != '\0');
}

static void
test_round_trip(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    assert_int_equal(s.n, 0);
    for (uint64_t i = 1; i <= 100; i++) {
        char d[32];
        snprintf(d, sizeof(d), "{\"n\":%d}", (int)i);
        jrec_t r = rec(i * 10, i % 2 ? "a" : "b", i % 10 == 0 ? "k" : NULL, d);
        assert_int_equal(journal_append(j, &r), 0);
        if (i % 7 == 0)
            assert_int_equal(journal_commit(j), 0);
    }
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    assert_null(j);

    j = reopen(&s);
    assert_int_equal(s.n, 100);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(s.ids[i], (i + 1) * 10);
    assert_string_equal(s.data[41], "{\"n\":42}");
    assert_string_equal(s.chan[41], "b");
    assert_string_equal(s.key[9], "k");
    journal_close(&j);
}

static void
test_torn_tail(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    write_records(j, 5, "\"x\"");
    journal_close(&j);

    /* a crash in the middle of the sixth record, then garbage */
    char path[512];
    segment_path(path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x31\x30\x4a\x5a\x40\x00\x00\x00garbage", 15), 15);
    close(fd);

    j = reopen(&s);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.ids[4], 5);
    struct stat st2;
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size);   /* the torn tail was cut */
    /* and appending after it works */
    jrec_t r = rec(6, "c", NULL, "\"y\"");
    assert_int_equal(journal_append(j, &r), 0);
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    j = reopen(&s);
    assert_int_equal(s.n, 6);
    journal_close(&j);
}

static void
test_flipped_bit(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    write_records(j, 3, "\"abcdef\"");
    journal_close(&j);
    char path[512];
    segment_path(path, sizeof(path));
    struct stat st;
    stat(path, &st);
    int fd = open(path, O_RDWR);
    char c;
    assert_int_equal(pread(fd, &c, 1, st.st_size - 3), 1);
    c ^= 0x20;                  /* corrupt the last record's data */
    assert_int_equal(pwrite(fd, &c, 1, st.st_size - 3), 1);
    close(fd);
    j = reopen(&s);
    assert_int_equal(s.n, 2);   /* the bad record is refused by its crc */
    journal_close(&j);
}

static void
test_rotate_drop_compact(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    for (uint64_t i = 1; i <= 30; i++) {
        jrec_t r = rec(i, "c", i == 3 ? "state" : NULL, "\"payload\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
        assert_int_equal(journal_maybe_rotate(j, 200), 0);   /* tiny segments */
    }
    uint64_t before = journal_size(j);
    /* everything below 20 is gone from the buffers ... */
    assert_int_equal(journal_drop_before(j, 20), 0);
    uint64_t after = journal_size(j);
    assert_true(after < before);
    journal_close(&j);
    j = reopen(&s);
    assert_true(s.n >= 11 && s.n < 30);
    assert_int_equal(s.ids[s.n - 1], 30);

    /* ... but id 3 (state) pins the past: compaction keeps only it + 25..30 */
    assert_int_equal(journal_compact_begin(j), 0);
    jrec_t keep = rec(3, "c", "state", "\"payload\"");
    assert_int_equal(journal_append(j, &keep), 0);
    for (uint64_t i = 25; i <= 30; i++) {
        jrec_t r = rec(i, "c", NULL, "\"payload\"");
        assert_int_equal(journal_append(j, &r), 0);
    }
    assert_int_equal(journal_compact_end(j), 0);
    jrec_t next = rec(31, "c", NULL, "\"new\"");
    assert_int_equal(journal_append(j, &next), 0);
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    j = reopen(&s);
    assert_int_equal(s.n, 8);
    assert_int_equal(s.ids[0], 3);
    assert_string_equal(s.key[0], "state");
    assert_int_equal(s.ids[1], 25);
    assert_int_equal(s.ids[7], 31);
    journal_close(&j);
}

/* the compacted segment takes the name of an old one (its first id is the
 * oldest live id): the rename replaces it, and it must not be deleted */
static void
test_compact_same_name(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    for (uint64_t i = 1; i <= 10; i++) {
        jrec_t r = rec(i, "c", NULL, "\"x\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
        if (i == 5)
            assert_int_equal(journal_maybe_rotate(j, 1), 0);
    }
    assert_int_equal(journal_compact_begin(j), 0);
    jrec_t a = rec(1, "c", "k", "\"kept\""), b = rec(8, "c", NULL, "\"x\"");
    assert_int_equal(journal_append(j, &a), 0);
    assert_int_equal(journal_append(j, &b), 0);
    assert_int_equal(journal_compact_end(j), 0);
    /* and once more, over its own name */
    assert_int_equal(journal_compact_begin(j), 0);
    assert_int_equal(journal_append(j, &a), 0);
    assert_int_equal(journal_append(j, &b), 0);
    assert_int_equal(journal_compact_end(j), 0);
    journal_close(&j);
    j = reopen(&s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.ids[1], 8);
    journal_close(&j);
}

static void
test_bad_input(void **state)
{
    (void)state;
    seen_t s;
    journal_t *j = reopen(&s);
    jrec_t r = rec(1, "c", NULL, "1");
    r.nchannels = 0;
    assert_int_equal(journal_append(j, &r), -1);
    r = rec(1, "c", NULL, "1");
    r.event_len = 300;
    assert_int_equal(journal_append(j, &r), -1);
    journal_close(&j);
    char err[256];
    assert_null(journal_open("/proc/nonexistent/zsse", 0, collect, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "/proc/nonexistent/zsse"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_drop_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_same_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
