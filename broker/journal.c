/*
 * journal.c -- the broker's durable journal.  Design and file format in
 * journal.h.  Single-threaded: called from the broker's loop only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "clock.h"
#include "journal.h"
#include "log.h"

#define MAGIC       0x5a4a3031u     /* "ZJ01" */
#define HDR_LEN     12              /* magic, length, crc */
#define REC_MAX     (32u << 20)     /* no record is larger (max_message <= 16 MiB) */
#define SEGS_MAX    4096

typedef struct {
    char     *path;
    uint64_t  first;        /* first id (from the name) */
    uint64_t  last;         /* highest id in it */
    uint64_t  size;
} segment_t;

struct journal {
    char      *dir;
    int        fsync_ms;
    int        fd;              /* active segment, -1 until the first append */
    segment_t  segs[SEGS_MAX];  /* oldest first; the active one is last */
    size_t     nsegs;
    buf_t      pending;         /* appended, not yet written */
    uint64_t   pending_first;   /* first id in pending */
    uint64_t   pending_last;
    int        sync_due;        /* written but not yet synced (N-ms policy) */
    uint64_t   last_sync_ms;
};

/* --- small helpers -------------------------------------------------- */

static uint32_t crc_table[256];

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t
crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i); return v; }

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static char *
seg_path(const char *dir, uint64_t first, const char *suffix)
{
    char *p;
    if (asprintf(&p, "%s/journal-%016" PRIu64 ".zj%s", dir, first, suffix) < 0)
        return NULL;
    return p;
}

/* --- reading -------------------------------------------------------- */

/* Decode one record body (after the header) into R; -1 if malformed. */
static int
decode(const unsigned char *p, size_t n, jrec_t *r)
{
    size_t o = 0;
#define NEED(k) do { if (n - o < (size_t)(k)) return -1; } while (0)
    memset(r, 0, sizeof(*r));
    NEED(8 + 8 + 4 + 1 + 1);
    r->id = get64(p); o = 8;
    r->accepted_us = get64(p + o); o += 8;
    r->ttl = get32(p + o); o += 4;
    r->kind = (char)p[o++];
    r->nchannels = p[o++];
    if (r->nchannels < 1 || r->nchannels > 64)
        return -1;
    for (size_t i = 0; i < r->nchannels; i++) {
        NEED(1);
        size_t l = p[o++];
        NEED(l);
        r->channels[i] = (const char *)p + o;
        r->channel_lens[i] = l;
        o += l;
    }
    NEED(1);
    r->event_len = p[o++];
    NEED(r->event_len);
    r->event = r->event_len ? (const char *)p + o : NULL;
    o += r->event_len;
    NEED(1);
    r->key_len = p[o++];
    NEED(r->key_len);
    r->key = r->key_len ? (const char *)p + o : NULL;
    o += r->key_len;
    NEED(4);
    r->data_len = get32(p + o); o += 4;
    NEED(r->data_len);
    r->data = (const char *)p + o;
    o += r->data_len;
#undef NEED
    return o == n ? 0 : -1;
}

static int
read_file(const char *path, unsigned char **out, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unsigned char *p = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (p && got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (!p)
        return -1;
    *out = p;
    *len = got;
    return 0;
}

/* Replay one segment; a bad record ends it (and is cut off). */
static int
replay_segment(journal_t *j, segment_t *s, uint64_t *seen, journal_cb cb, void *ctx,
    char *err, size_t errlen)
{
    unsigned char *p;
    size_t len, o = 0;

    if (read_file(s->path, &p, &len) < 0) {
        snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    while (o + HDR_LEN <= len) {
        uint32_t magic = get32(p + o), n = get32(p + o + 4), crc = get32(p + o + 8);
        jrec_t r;
        if (magic != MAGIC || n > REC_MAX || n > len - o - HDR_LEN ||
            crc32(p + o + HDR_LEN, n) != crc || decode(p + o + HDR_LEN, n, &r) < 0)
            break;
        o += HDR_LEN + n;
        if (r.id > s->last)
            s->last = r.id;
        if (r.id <= *seen)
            continue;           /* left over from an interrupted compaction */
        *seen = r.id;
        if (cb(ctx, &r) != 0) {
            snprintf(err, errlen, "%s: replay stopped at id %" PRIu64, s->path, r.id);
            free(p);
            return -1;
        }
    }
    if (o < len) {
        log_msg(LOG_WARNING, "journal: %s: cutting a torn or corrupt tail at byte %zu of %zu",
            s->path, o, len);
        if (truncate(s->path, (off_t)o) < 0) {
            snprintf(err, errlen, "%s: truncate: %s", s->path, strerror(errno));
            free(p);
            return -1;
        }
    }
    s->size = o;
    free(p);
    (void)j;
    return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
    const segment_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int
scan_dir(journal_t *j, char *err, size_t errlen)
{
    DIR *d = opendir(j->dir);
    struct dirent *e;

    if (!d) {
        snprintf(err, errlen, "%s: %s", j->dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        uint64_t first;
        char tail[8];
        if (sscanf(e->d_name, "journal-%16" SCNu64 ".%7s", &first, tail) != 2)
            continue;
        if (strcmp(tail, "zj") != 0) {
            if (strcmp(tail, "zj.tmp") == 0) {  /* unfinished compaction */
                char *p;
                if (asprintf(&p, "%s/%s", j->dir, e->d_name) >= 0) {
                    unlink(p);
                    free(p);
                }
            }
            continue;
        }
        if (j->nsegs == SEGS_MAX) {
            closedir(d);
            snprintf(err, errlen, "%s: more than %d segments", j->dir, SEGS_MAX);
            return -1;
        }
        segment_t *s = &j->segs[j->nsegs++];
        s->first = first;
        s->last = 0;
        s->size = 0;
        if (!(s->path = seg_path(j->dir, first, ""))) {
            closedir(d);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    closedir(d);
    qsort(j->segs, j->nsegs, sizeof(segment_t), seg_cmp);
    return 0;
}

journal_t *
journal_open(const char *dir, int fsync_ms, journal_cb cb, void *ctx,
    char *err, size_t errlen)
{
    journal_t *j = calloc(1, sizeof(*j));
    uint64_t seen = 0;

    if (!crc_table[1])
        crc_init();
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->fsync_ms = fsync_ms;
    j->last_sync_ms = (uint64_t)mono_ms();
    buf_init(&j->pending, 0);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        journal_close(&j);
        return NULL;
    }
    if (scan_dir(j, err, errlen) < 0) {
        journal_close(&j);
        return NULL;
    }
    for (size_t i = 0; i < j->nsegs; i++) {
        if (replay_segment(j, &j->segs[i], &seen, cb, ctx, err, errlen) < 0) {
            journal_close(&j);
            return NULL;
        }
    }
    return j;
}

void
journal_close(journal_t **jp)
{
    journal_t *j = *jp;
    if (!j)
        return;
    if (j->pending.len)
        (void)journal_commit(j);
    if (j->fd >= 0) {
        if (j->sync_due)
            (void)fdatasync(j->fd);
        close(j->fd);
    }
    for (size_t i = 0; i < j->nsegs; i++)
        free(j->segs[i].path);
    buf_free(&j->pending);
    free(j->dir);
    free(j);
    *jp = NULL;
}

/* --- writing -------------------------------------------------------- */

int
journal_append(journal_t *j, const jrec_t *r)
{
    size_t n = 8 + 8 + 4 + 1 + 1 + 1 + 1 + 4 + r->event_len + r->key_len + r->data_len;
    for (size_t i = 0; i < r->nchannels; i++)
        n += 1 + r->channel_lens[i];
    if (r->nchannels < 1 || r->nchannels > 64 || r->event_len > 255 ||
        r->key_len > 255 || n > REC_MAX)
        return errno = EINVAL, -1;
    if (buf_reserve(&j->pending, HDR_LEN + n) < 0)
        return errno = ENOMEM, -1;

    unsigned char *h = (unsigned char *)j->pending.data + j->pending.len;
    unsigned char *p = h + HDR_LEN, *q = p;
    put64(q, r->id); q += 8;
    put64(q, r->accepted_us); q += 8;
    put32(q, r->ttl); q += 4;
    *q++ = (unsigned char)r->kind;
    *q++ = (unsigned char)r->nchannels;
    for (size_t i = 0; i < r->nchannels; i++) {
        *q++ = (unsigned char)r->channel_lens[i];
        memcpy(q, r->channels[i], r->channel_lens[i]);
        q += r->channel_lens[i];
    }
    *q++ = (unsigned char)r->event_len;
    if (r->event_len) memcpy(q, r->event, r->event_len);
    q += r->event_len;
    *q++ = (unsigned char)r->key_len;
    if (r->key_len) memcpy(q, r->key, r->key_len);
    q += r->key_len;
    put32(q, (uint32_t)r->data_len); q += 4;
    memcpy(q, r->data, r->data_len);
    q += r->data_len;
    put32(h, MAGIC);
    put32(h + 4, (uint32_t)n);
    put32(h + 8, crc32(p, n));
    j->pending.len += HDR_LEN + n;
    if (!j->pending_first)
        j->pending_first = r->id;
    j->pending_last = r->id;
    return 0;
}

/* open the active segment, named after its first id */
static int
open_active(journal_t *j, uint64_t first, const char *suffix)
{
    if (j->nsegs == SEGS_MAX)
        return errno = EMFILE, -1;
    char *path = seg_path(j->dir, first, suffix);
    if (!path)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(path);
        return -1;
    }
    j->fd = fd;
    segment_t *s = &j->segs[j->nsegs++];
    s->path = path;
    s->first = first;
    s->last = first;
    s->size = 0;
    return sync_dir(j->dir);
}

int
journal_commit(journal_t *j)
{
    if (j->pending.len == 0)
        return 0;
    if (j->fd < 0 && open_active(j, j->pending_first, "") < 0)
        return -1;
    segment_t *s = &j->segs[j->nsegs - 1];
    if (write_all(j->fd, j->pending.data, j->pending.len) < 0)
        return -1;
    s->size += j->pending.len;
    if (j->pending_last > s->last)
        s->last = j->pending_last;
    buf_reset(&j->pending);
    j->pending_first = 0;
    j->sync_due = 1;
    if (j->fsync_ms == 0 || (uint64_t)mono_ms() - j->last_sync_ms >= (uint64_t)j->fsync_ms)
        return journal_tick(j);
    return 0;
}

int
journal_tick(journal_t *j)
{
    if (!j->sync_due || j->fd < 0)
        return 0;
    /* the N-ms policy: not again before N ms (the broker's loop calls this
     * after every batch; syncing each time made "journal_fsync": 50 the
     * same as "always" -- tests/integration/contract.sh counts the syncs) */
    if (j->fsync_ms && (uint64_t)mono_ms() - j->last_sync_ms < (uint64_t)j->fsync_ms)
        return 0;
    if (fdatasync(j->fd) < 0)
        return -1;
    j->sync_due = 0;
    j->last_sync_ms = (uint64_t)mono_ms();
    return 0;
}

/* --- keeping it bounded --------------------------------------------- */

static void
close_active(journal_t *j)
{
    if (j->fd >= 0) {
        if (j->sync_due)
            (void)fdatasync(j->fd);
        j->sync_due = 0;
        close(j->fd);
        j->fd = -1;
    }
}

int
journal_maybe_rotate(journal_t *j, size_t max)
{
    if (j->fd < 0 || j->segs[j->nsegs - 1].size < max)
        return 0;
    close_active(j);        /* the next commit opens a new segment */
    return 0;
}

static void
remove_seg(journal_t *j, size_t i)
{
    if (unlink(j->segs[i].path) < 0 && errno != ENOENT)
        log_msg(LOG_WARNING, "journal: unlink %s: %s", j->segs[i].path, strerror(errno));
    free(j->segs[i].path);
    memmove(&j->segs[i], &j->segs[i + 1], (j->nsegs - i - 1) * sizeof(segment_t));
    j->nsegs--;
}

int
journal_drop_before(journal_t *j, uint64_t min_live)
{
    /* never the active segment: it is the last while fd >= 0 */
    size_t closed = j->fd >= 0 ? j->nsegs - 1 : j->nsegs;
    size_t i = 0;
    while (i < closed && j->segs[i].last < min_live) {
        remove_seg(j, i);
        closed--;
    }
    return sync_dir(j->dir);
}

int
journal_compact_begin(journal_t *j)
{
    if (j->pending.len && journal_commit(j) < 0)
        return -1;
    close_active(j);
    return 0;
}

int
journal_compact_end(journal_t *j)
{
    size_t old = j->nsegs;
    segment_t fresh = { 0 };

    if (j->pending.len) {
        uint64_t first = j->pending_first;
        if (open_active(j, first, ".tmp") < 0)
            return -1;
        if (journal_commit(j) < 0 || fdatasync(j->fd) < 0)
            return -1;
        char *final = seg_path(j->dir, first, "");
        if (!final || rename(j->segs[old].path, final) < 0) {
            free(final);
            return -1;
        }
        free(j->segs[old].path);
        j->segs[old].path = final;
        fresh = j->segs[old];
        j->nsegs = old;             /* set aside while the old ones go */
    }
    /* every older segment goes; one of the same name was replaced by the
     * rename and must not be unlinked */
    while (j->nsegs > 0) {
        size_t i = j->nsegs - 1;
        if (fresh.path && strcmp(j->segs[i].path, fresh.path) == 0) {
            free(j->segs[i].path);
            j->nsegs--;
        } else {
            remove_seg(j, i);
        }
    }
    if (fresh.path)
        j->segs[j->nsegs++] = fresh;
    return sync_dir(j->dir);
}

uint64_t
journal_size(const journal_t *j)
{
    uint64_t n = 0;
    for (size_t i = 0; i < j->nsegs; i++)
        n += j->segs[i].size;
    return n;
}
