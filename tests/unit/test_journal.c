/* cmocka tests for broker/journal.c: round trip, torn tails, rotation,
 * dropping and compaction; and (issue 19) every truncation of the last
 * segment, damage in a segment that is not the last, a failed commit
 * (a short write, then EFBIG: RLIMIT_FSIZE stands in for a full disk), the
 * N-ms fsync timer, a failed compaction, floors, a compaction in a child. */
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
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "journal.h"

typedef struct {
    uint64_t ids[4096];
    uint64_t floors[8];         /* floor records: channel "f0".."f7" */
    char     data[4096][32];
    char     chan[4096][32];
    char     key[4096][16];
    size_t   n;
} seen_t;

static int
collect(void *ctx, const event_rec_t *r)
{
    seen_t *s = ctx;
    if (r->kind == JOURNAL_KIND_FLOOR) {
        assert_int_equal(s->n, 0);      /* before every event */
        assert_int_equal(r->channel_lens[0], 2);
        s->floors[r->channels[0][1] - '0'] = r->id;
        return 0;
    }
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

static event_rec_t
rec(uint64_t id, const char *chan, const char *key, const char *data)
{
    event_rec_t r = { .id = id, .accepted_us = 1000 + id, .ttl = 60, .kind = 'j',
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
        event_rec_t r = rec(i, "c", NULL, data);
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
        event_rec_t r = rec(i * 10, i % 2 ? "a" : "b", i % 10 == 0 ? "k" : NULL, d);
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
    event_rec_t r = rec(6, "c", NULL, "\"y\"");
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
        event_rec_t r = rec(i, "c", i == 3 ? "state" : NULL, "\"payload\"");
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
    event_rec_t keep = rec(3, "c", "state", "\"payload\"");
    assert_int_equal(journal_append(j, &keep), 0);
    for (uint64_t i = 25; i <= 30; i++) {
        event_rec_t r = rec(i, "c", NULL, "\"payload\"");
        assert_int_equal(journal_append(j, &r), 0);
    }
    assert_int_equal(journal_compact_end(j), 0);
    event_rec_t next = rec(31, "c", NULL, "\"new\"");
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
        event_rec_t r = rec(i, "c", NULL, "\"x\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
        if (i == 5)
            assert_int_equal(journal_maybe_rotate(j, 1), 0);
    }
    assert_int_equal(journal_compact_begin(j), 0);
    event_rec_t a = rec(1, "c", "k", "\"kept\""), b = rec(8, "c", NULL, "\"x\"");
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
    event_rec_t r = rec(1, "c", NULL, "1");
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


/* --- issue 19 ------------------------------------------------------------ */

/* ids FROM..TO on "c", one commit each, then a new segment */
static void
write_segment(journal_t *j, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i <= to; i++) {
        char d[32];
        snprintf(d, sizeof(d), "{\"n\":%d}", (int)i);
        event_rec_t r = rec(i, "c", i % 5 == 0 ? "k" : NULL, d);
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
    }
    assert_int_equal(journal_maybe_rotate(j, 1), 0);
}

static void
seg_name(char *path, size_t n, uint64_t first)
{
    snprintf(path, n, "%s/journal-%016llu.zj", dir, (unsigned long long)first);
}

static unsigned char *
slurp(const char *path, size_t *len)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unsigned char *p = malloc((size_t)st.st_size + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void
spill(const char *path, const unsigned char *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static int
count_files(const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, part) != NULL;
    if (d)
        closedir(d);
    return n;
}

static void
remove_files(const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, part)) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
}

/* the last segment cut at each of its byte offsets: exactly the records
 * wholly before the cut come back, no hole is reported, the file is cut
 * to them and takes appends again */
static void
test_every_truncation(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 30);
    journal_close(&j);
    char path[512];
    size_t len, ends[64], nends = 0, o = 0;
    seg_name(path, sizeof(path), 11);
    unsigned char *orig = slurp(path, &len);
    while (o < len) {                   /* record boundaries */
        o += 12 + (orig[o + 4] | orig[o + 5] << 8 | orig[o + 6] << 16);
        ends[nends++] = o;
    }
    assert_int_equal(nends, 20);
    for (size_t cut = 0; cut <= len; cut++) {
        size_t whole = 0;
        while (whole < nends && ends[whole] <= cut)
            whole++;
        spill(path, orig, cut);
        j = reopen(s);
        assert_int_equal(s->n, 10 + whole);
        for (size_t i = 0; i < s->n; i++)
            assert_int_equal(s->ids[i], i + 1);
        assert_int_equal(journal_lost_upto(j), 0);
        journal_close(&j);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((size_t)st.st_size, whole ? ends[whole - 1] : 0);
    }
    assert_int_equal(count_files("damaged"), 0);
    free(orig);
    free(s);
}

/* damage in a segment that is not the last (every 13th byte flipped, and
 * 512-byte blocks zeroed): the records after it, in that segment and the
 * later ones, all come back; whatever is missing is at or below
 * journal_lost_upto, which stays below the next segment; the segment is
 * left on disk and the damaged bytes are copied aside */
static void
check_damage(seen_t *s, const char *path, const unsigned char *orig, size_t len,
    const unsigned char *bad)
{
    spill(path, bad, len);
    journal_t *j = reopen(s);
    uint64_t lost = journal_lost_upto(j);
    size_t k = 0;
    int missing = 0;
    for (uint64_t id = 1; id <= 45; id++) {
        if (k < s->n && s->ids[k] == id) {
            k++;
            continue;
        }
        missing++;
        assert_true(id > 10 && id <= 30);       /* only in the damaged one */
        if (id > lost)
            fail_msg("id %llu lost silently (lost_upto %llu)",
                (unsigned long long)id, (unsigned long long)lost);
    }
    assert_int_equal(k, s->n);                  /* nothing else, in order */
    assert_true(missing > 0);                   /* the crc noticed */
    assert_true(lost >= 11 && lost <= 30);
    assert_true(count_files("damaged") >= 1);
    journal_close(&j);
    size_t now;
    unsigned char *after = slurp(path, &now);
    assert_int_equal(now, len);                 /* nothing cut off it */
    assert_memory_equal(after, bad, len);
    free(after);
    remove_files("damaged");
    (void)orig;
}

static void
test_damaged_middle_segment(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 30);
    write_segment(j, 31, 45);
    journal_close(&j);
    char path[512];
    size_t len;
    seg_name(path, sizeof(path), 11);
    unsigned char *orig = slurp(path, &len), *bad = malloc(len);
    for (size_t b = 0; b < len; b += 13) {
        memcpy(bad, orig, len);
        bad[b] ^= 0x01;
        check_damage(s, path, orig, len, bad);
    }
    for (size_t b = 0; b < len; b += 512) {
        memcpy(bad, orig, len);
        memset(bad + b, 0, len - b < 512 ? len - b : 512);
        check_damage(s, path, orig, len, bad);
    }
    free(orig);
    free(bad);
    free(s);
}

/* the last segment damaged in its middle: the records after the damage
 * are kept (not taken for a torn tail) and the range is reported */
static void
test_damaged_last_segment_middle(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    journal_close(&j);
    char path[512];
    size_t len;
    seg_name(path, sizeof(path), 1);
    unsigned char *p = slurp(path, &len);
    p[len / 2] ^= 0x40;
    spill(path, p, len);
    j = reopen(s);
    assert_int_equal(s->n, 9);
    assert_int_equal(s->ids[8], 10);
    uint64_t lost = journal_lost_upto(j);
    for (uint64_t id = 1, k = 0; id <= 10; id++) {
        if (k < s->n && s->ids[k] == id)
            k++;
        else
            assert_true(id <= lost);
    }
    assert_true(lost < 10);
    journal_close(&j);
    free(p);
    free(s);
}

static void
limit_file_size(rlim_t n)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = n;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* a short write then EFBIG: the batch fails, is not written again, and
 * leaves no partial record before the later good ones */
static void
test_failed_commit(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    signal(SIGXFSZ, SIG_IGN);
    journal_t *j = reopen(s);
    event_rec_t r1 = rec(1, "c", NULL, "\"one\""), r2 = rec(2, "c", NULL, "\"two\"");
    assert_int_equal(journal_append(j, &r1), 0);
    assert_int_equal(journal_append(j, &r2), 0);
    assert_int_equal(journal_commit(j), 0);
    uint64_t size = journal_size(j);
    limit_file_size(size + 20);         /* room for part of the next batch */
    event_rec_t r3 = rec(3, "c", NULL, "\"three\""), r4 = rec(4, "c", NULL, "\"four\"");
    assert_int_equal(journal_append(j, &r3), 0);
    assert_int_equal(journal_append(j, &r4), 0);
    errno = 0;
    assert_int_equal(journal_commit(j), -1);
    assert_int_equal(errno, EFBIG);
    limit_file_size(RLIM_INFINITY);
    assert_int_equal(journal_size(j), size);
    event_rec_t r5 = rec(5, "c", NULL, "\"five\""), r6 = rec(6, "c", NULL, "\"six\"");
    assert_int_equal(journal_append(j, &r5), 0);
    assert_int_equal(journal_append(j, &r6), 0);
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    j = reopen(s);
    assert_int_equal(s->n, 4);
    assert_int_equal(s->ids[0], 1);
    assert_int_equal(s->ids[1], 2);
    assert_int_equal(s->ids[2], 5);
    assert_int_equal(s->ids[3], 6);
    assert_int_equal(journal_lost_upto(j), 0);
    journal_close(&j);
    free(s);
}

/* "journal_fsync": N syncs from the timer, not on each commit */
static void
test_fsync_timer(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    char err[256];
    journal_t *j = journal_open(dir, 300, collect, s, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(journal_sync_in_ms(j), -1);
    for (uint64_t i = 1; i <= 20; i++) {
        event_rec_t r = rec(i, "c", NULL, "1");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
        assert_int_equal(journal_tick(j), 0);
        int due = journal_sync_in_ms(j);
        assert_true(due > 0 && due <= 300);     /* not synced yet */
    }
    usleep(320 * 1000);
    assert_int_equal(journal_sync_in_ms(j), 0);
    assert_int_equal(journal_tick(j), 0);
    assert_int_equal(journal_sync_in_ms(j), -1);    /* synced */
    journal_close(&j);
    j = journal_open(dir, 0, collect, s, err, sizeof(err));
    event_rec_t r = rec(21, "c", NULL, "1");
    assert_int_equal(journal_append(j, &r), 0);
    assert_int_equal(journal_commit(j), 0);
    assert_int_equal(journal_sync_in_ms(j), -1);    /* "always": synced */
    journal_close(&j);
    free(s);
}

/* a compaction whose new file cannot be written: it is deleted, and what
 * is committed afterwards goes to a real segment */
static void
test_compact_write_fails(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    signal(SIGXFSZ, SIG_IGN);
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 20);
    assert_int_equal(journal_compact_begin(j), 0);
    for (uint64_t i = 1; i <= 20; i++) {
        event_rec_t r = rec(i, "c", NULL, "\"a longer payload, to be over the limit\"");
        assert_int_equal(journal_append(j, &r), 0);
    }
    limit_file_size(100);
    assert_int_equal(journal_compact_end(j), -1);
    limit_file_size(RLIM_INFINITY);
    for (uint64_t i = 21; i <= 25; i++) {
        event_rec_t r = rec(i, "c", NULL, "\"after\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
    }
    assert_int_equal(count_files("tmp"), 0);
    /* read as after a crash now (before any close) */
    seen_t *t = calloc(1, sizeof(*t));
    journal_t *k = reopen(t);
    assert_int_equal(t->n, 25);
    assert_int_equal(t->ids[24], 25);
    journal_close(&k);
    journal_close(&j);
    free(t);
    free(s);
}

/* floors survive in floors.zf, and come before the events; the lost
 * range is kept there once its damaged segment is gone */
static void
test_floors(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 20);
    journal_close(&j);
    char path[512];
    size_t len;
    seg_name(path, sizeof(path), 1);
    unsigned char *p = slurp(path, &len);
    p[40] ^= 0x10;                      /* damage in the first segment */
    spill(path, p, len);
    free(p);
    j = reopen(s);
    uint64_t lost = journal_lost_upto(j);
    assert_true(lost >= 1 && lost <= 10);
    assert_int_equal(journal_floor_add(j, "f3", 2, 7), 0);
    assert_int_equal(journal_floor_add(j, "f5", 2, 12), 0);
    assert_int_equal(journal_floors_save(j), 0);
    assert_true(journal_can_drop(j, 15));
    assert_int_equal(journal_drop_before(j, 15), 0);    /* the damaged one goes */
    assert_false(journal_can_drop(j, 15));
    journal_close(&j);
    j = reopen(s);
    assert_int_equal(s->floors[3], 7);
    assert_int_equal(s->floors[5], 12);
    assert_int_equal(s->floors[0], 0);
    assert_int_equal(s->n, 10);
    assert_int_equal(s->ids[0], 11);
    assert_int_equal(journal_lost_upto(j), lost);
    journal_close(&j);

    /* a damaged floors file: the floors are unknown, so a replay from
     * before the journal's oldest segment gets the reset */
    char fl[512];
    snprintf(fl, sizeof(fl), "%s/floors.zf", dir);
    p = slurp(fl, &len);
    p[len - 1] ^= 0x01;
    spill(fl, p, len);
    free(p);
    j = reopen(s);
    assert_int_equal(journal_lost_upto(j), 10);     /* the oldest segment is journal-11 */
    journal_close(&j);
    free(s);
}

/* a compaction written by a forked child while the parent goes on
 * committing: after it, the live records and every later one */
static void
test_compact_in_child(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 20);
    assert_int_equal(journal_compact_begin(j), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        event_rec_t a = rec(2, "c", "k", "\"kept\"");
        int rc = journal_append(j, &a);
        for (uint64_t i = 15; i <= 20 && rc == 0; i++) {
            event_rec_t r = rec(i, "c", NULL, "\"x\"");
            rc = journal_append(j, &r);
        }
        rc = rc || journal_compact_write(j) < 0;
        free(s);                /* (for valgrind: the child's exit is checked too) */
        _exit(rc);
    }
    for (uint64_t i = 21; i <= 30; i++) {
        event_rec_t r = rec(i, "c", NULL, "\"during\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(journal_compact_finish(j), 0);
    event_rec_t r = rec(31, "c", NULL, "\"after\"");
    assert_int_equal(journal_append(j, &r), 0);
    assert_int_equal(journal_commit(j), 0);
    journal_close(&j);
    j = reopen(s);
    assert_int_equal(s->n, 1 + 6 + 11);
    assert_int_equal(s->ids[0], 2);
    assert_string_equal(s->data[0], "\"kept\"");
    assert_int_equal(s->ids[1], 15);
    assert_int_equal(s->ids[7], 21);
    assert_int_equal(s->ids[17], 31);
    journal_close(&j);
    free(s);
}

/* copy every file of FROM into a new temporary directory (in TO) */
static void
copy_dir(const char *from, char *to)
{
    strcpy(to, "/tmp/zsse-journal-crash.XXXXXX");
    assert_non_null(mkdtemp(to));
    DIR *d = opendir(from);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char a[512], b[512];
        size_t len;
        if (e->d_name[0] == '.')
            continue;
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        unsigned char *p = slurp(a, &len);
        spill(b, p, len);
        free(p);
    }
    if (d)
        closedir(d);
}

/* reopen the journal in D (then delete D): the live records and the later
 * ones must all come back, in increasing order */
static void
check_crash_state(const char *d, const char *what)
{
    static const uint64_t must[] = { 3, 15, 16, 17, 18, 19, 20, 21, 22, 23 };
    char keep[64];
    seen_t *s = calloc(1, sizeof(*s));
    strcpy(keep, dir);
    strcpy(dir, d);
    journal_t *j = reopen(s);
    for (size_t i = 1; i < s->n; i++)
        assert_true(s->ids[i] > s->ids[i - 1]);
    for (size_t m = 0; m < sizeof(must) / sizeof(must[0]); m++) {
        size_t i = 0;
        while (i < s->n && s->ids[i] != must[m])
            i++;
        if (i == s->n)
            fail_msg("%s: id %llu lost", what, (unsigned long long)must[m]);
    }
    assert_int_equal(journal_lost_upto(j), 0);
    journal_close(&j);
    teardown(NULL);
    strcpy(dir, keep);
    free(s);
}

/* a crash at each step of a compaction's end: before the rename, after
 * it, after each unlink of an old segment */
static void
test_compact_crash_points(void **state)
{
    (void)state;
    seen_t *s = calloc(1, sizeof(*s));
    char d[64], seg[512], tmp[512];
    journal_t *j = reopen(s);
    write_segment(j, 1, 10);
    write_segment(j, 11, 20);
    assert_int_equal(journal_compact_begin(j), 0);
    for (uint64_t i = 21; i <= 23; i++) {      /* committed meanwhile */
        event_rec_t r = rec(i, "c", NULL, "\"during\"");
        assert_int_equal(journal_append(j, &r), 0);
        assert_int_equal(journal_commit(j), 0);
    }
    event_rec_t a = rec(3, "c", "k", "\"kept\"");
    assert_int_equal(journal_append(j, &a), 0);
    for (uint64_t i = 15; i <= 20; i++) {
        event_rec_t r = rec(i, "c", NULL, "\"x\"");
        assert_int_equal(journal_append(j, &r), 0);
    }
    assert_int_equal(journal_compact_write(j), 0);

    copy_dir(dir, d);                           /* before the rename */
    check_crash_state(d, "before the rename");
    copy_dir(dir, d);                           /* after it */
    DIR *dd = opendir(d);
    struct dirent *e;
    tmp[0] = '\0';
    while (dd && (e = readdir(dd)))
        if (strncmp(e->d_name, "compact-", 8) == 0)
            snprintf(tmp, sizeof(tmp), "%s/%s", d, e->d_name);
    closedir(dd);
    assert_true(tmp[0] != '\0');
    snprintf(seg, sizeof(seg), "%s/journal-%016d.zj", d, 3);
    assert_int_equal(rename(tmp, seg), 0);
    char d2[64], d3[64];
    copy_dir(d, d2);
    check_crash_state(d, "after the rename");
    snprintf(seg, sizeof(seg), "%s/journal-%016d.zj", d2, 1);
    assert_int_equal(unlink(seg), 0);           /* after the first unlink */
    copy_dir(d2, d3);
    check_crash_state(d2, "after the first unlink");
    snprintf(seg, sizeof(seg), "%s/journal-%016d.zj", d3, 11);
    assert_int_equal(unlink(seg), 0);           /* after the second */
    check_crash_state(d3, "after the second unlink");

    assert_int_equal(journal_compact_finish(j), 0);
    journal_close(&j);
    copy_dir(dir, d);
    check_crash_state(d, "after the end");
    free(s);
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
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_middle_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_last_segment_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_in_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact_crash_points, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
