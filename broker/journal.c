/*
 * journal.c -- the broker's durable journal.  Design and file format in
 * journal.h.  Single-threaded: called from the broker's loop only (and,
 * for a compaction, from the forked child that writes the new segment).
 *
 * Three rules keep what is acknowledged:
 *  - a commit that fails is undone: the segment is cut back to its last
 *    good record (or, when even that fails, before the next write), so no
 *    partial record is ever followed by good ones;
 *  - a damaged record is never a silent hole: reading resynchronises on
 *    the next intact record, the damaged bytes are copied to a journal_quarantine
 *    file, and the ids they may have held are reported (journal_lost_upto)
 *    so that a replay across them is answered with a reset;
 *  - nothing is deleted before what replaces it is durable: floors (the
 *    highest id each channel has dropped) are saved before segments go, a
 *    compaction's new segment is synced and renamed before old ones go.
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

#define JOURNAL_MAGIC       0x5a4a3031u     /* "ZJ01" */
#define JOURNAL_HDR_LEN     12              /* magic, length, crc */
#define JOURNAL_REC_MAX     (32u << 20)     /* no record is larger (max_message <= 16 MiB) */
#define JOURNAL_SEGS_MAX    4096
#define JOURNAL_FLOORS_FILE "floors.zf"
#define JOURNAL_COMPACT_TMP "compact-"     /* PID-MS.tmp: one broker's, never another's */

typedef struct {
    char     *path;
    uint64_t  first;        /* first id (from the name) */
    uint64_t  last;         /* highest id in it */
    uint64_t  size;         /* bytes of good records */
} journal_seg_t;

struct journal {
    char      *dir;
    int        fsync_ms;
    int        fd;              /* active segment, -1 until the first append */
    int        dirty_fd;        /* active segment was cut short of a failed write */
    journal_seg_t  segs[JOURNAL_SEGS_MAX];  /* oldest first; the active one is last */
    size_t     nsegs;
    buf_t      pending;         /* appended, not yet written */
    uint64_t   pending_first;   /* first id in pending */
    uint64_t   pending_last;
    int        sync_due;        /* written but not yet synced (N-ms policy) */
    int64_t    dirty_since_ms;  /* when the oldest unsynced write was made */
    uint64_t   lost_upto;       /* ids at or below may be in a damaged range */
    buf_t      floors;          /* floor records for the next floors file */
    size_t     compact_upto;    /* segments [0, this) are being replaced */
    char      *compact_tmp;     /* ... by this file, once it is written */
    uint64_t   compact_last;    /* the highest id they hold */
};

/* --- small helpers -------------------------------------------------- */

static uint32_t journal_crc_table[256];

static void
journal_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        journal_crc_table[i] = c;
    }
}

static uint32_t
journal_crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = journal_crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void journal_put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void journal_put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t journal_get32(const unsigned char *p) { uint32_t v = 0; for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i); return v; }
static uint64_t journal_get64(const unsigned char *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i); return v; }

static int
journal_write_all(int fd, const char *p, size_t n)
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
journal_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static char *
journal_seg_path(const char *dir, uint64_t first, const char *suffix)
{
    char *p;
    if (asprintf(&p, "%s/journal-%016" PRIu64 ".zj%s", dir, first, suffix) < 0)
        return NULL;
    return p;
}

static char *
journal_dir_path(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

/* --- reading -------------------------------------------------------- */

/* Decode one record body (after the header) into R; -1 if malformed. */
static int
journal_decode(const unsigned char *p, size_t n, event_rec_t *r)
{
    size_t o = 0;
#define NEED(k) do { if (n - o < (size_t)(k)) return -1; } while (0)
    memset(r, 0, sizeof(*r));
    NEED(8 + 8 + 4 + 1 + 1);
    r->id = journal_get64(p); o = 8;
    r->accepted_us = (int64_t)journal_get64(p + o); o += 8;
    r->ttl = journal_get32(p + o); o += 4;
    r->kind = (char)p[o++];
    r->nchannels = p[o++];
    if (r->nchannels < 1 || r->nchannels > ZSSE_MAX_CHANNELS)
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
    r->data_len = journal_get32(p + o); o += 4;
    NEED(r->data_len);
    r->data = (const char *)p + o;
    o += r->data_len;
#undef NEED
    return o == n ? 0 : -1;
}

/* The length of the intact record at P[O..LEN), decoded into R; 0 when
 * there is none there. */
static size_t
journal_record_at(const unsigned char *p, size_t len, size_t o, event_rec_t *r)
{
    if (len - o < JOURNAL_HDR_LEN || journal_get32(p + o) != JOURNAL_MAGIC)
        return 0;
    uint32_t n = journal_get32(p + o + 4), crc = journal_get32(p + o + 8);
    if (n > JOURNAL_REC_MAX || n > len - o - JOURNAL_HDR_LEN || journal_crc32(p + o + JOURNAL_HDR_LEN, n) != crc ||
        journal_decode(p + o + JOURNAL_HDR_LEN, n, r) < 0)
        return 0;
    return JOURNAL_HDR_LEN + n;
}

int
journal_read_buf(const unsigned char *p, size_t len, uint64_t after, journal_cb cb, void *ctx,
    journal_scan_t *out)
{
    size_t o = 0;
    uint64_t last = after;

    memset(out, 0, sizeof(*out));
    if (!journal_crc_table[1])
        journal_crc_init();
    while (o < len) {
        event_rec_t r;
        size_t n = journal_record_at(p, len, o, &r);
        if (n == 0) {
            /* damage at o: it ends at the next intact record with a larger
             * id (a record cannot hide in another's data: its header holds
             * NUL bytes, which JSON text does not) */
            size_t q = o + 1;
            while (q < len && !(journal_record_at(p, len, q, &r) && r.id > out->last))
                q++;
            if (q == len) {
                out->tail = 1;
                out->tail_at = o;
                break;
            }
            if (!out->holes++)
                out->hole_at = o;
            out->hole_end = q;
            out->resync_id = r.id;
            o = q;
            continue;
        }
        o += n;
        if (r.id > out->last)
            out->last = r.id;
        if (r.id <= last)
            continue;           /* left over from an interrupted compaction */
        last = r.id;
        out->records++;
        if (cb && cb(ctx, &r) != 0)
            return -1;
    }
    return 0;
}

static int
journal_read_file(const char *path, unsigned char **out, size_t *len)
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

/* Copy P[FROM..TO) of segment S to S.damaged-FROM (once: kept for the
 * operator, never read again). */
static void
journal_quarantine(const journal_seg_t *s, const unsigned char *p, size_t from, size_t to)
{
    char *q;
    if (asprintf(&q, "%s.damaged-%zu", s->path, from) < 0)
        return;
    int fd = open(q, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (journal_write_all(fd, (const char *)p + from, to - from) < 0 || fdatasync(fd) < 0)
            log_msg(LOG_ERR, "journal: %s: %s", q, strerror(errno));
        close(fd);
    } else if (errno != EEXIST) {
        log_msg(LOG_ERR, "journal: %s: %s", q, strerror(errno));
    }
    free(q);
}

/* Replay segment I.  Damage is skipped (resynchronising on the next
 * intact record) and reported; only a damaged tail of the last segment
 * -- a write the crash interrupted -- is cut off. */
static int
journal_replay_segment(journal_t *j, size_t i, uint64_t *seen, journal_cb cb, void *ctx,
    char *err, size_t errlen)
{
    journal_seg_t *s = &j->segs[i];
    unsigned char *p;
    size_t len;
    journal_scan_t sc;
    int last = i + 1 == j->nsegs;

    if (journal_read_file(s->path, &p, &len) < 0) {
        snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    if (journal_read_buf(p, len, *seen, cb, ctx, &sc) < 0) {
        snprintf(err, errlen, "%s: replay stopped after id %" PRIu64, s->path, sc.last);
        free(p);
        return -1;
    }
    if (sc.last > s->last)
        s->last = sc.last;
    if (s->last > *seen)
        *seen = s->last;
    s->size = len;
    uint64_t upto = 0;
    if (sc.holes) {             /* intact records follow: skipped, not cut */
        journal_quarantine(s, p, sc.hole_at, sc.hole_end);
        upto = sc.resync_id - 1;
        log_msg(LOG_ERR, "journal: %s: damaged bytes %zu-%zu (copied to %s.damaged-%zu): "
            "events with ids up to %" PRIu64 " may be lost; a replay from before that id "
            "gets the reset", s->path, sc.hole_at, sc.hole_end, s->path, sc.hole_at, upto);
    }
    if (sc.tail && last) {      /* a write the crash interrupted */
        log_msg(LOG_WARNING, "journal: %s: cutting a torn tail at byte %zu of %zu",
            s->path, sc.tail_at, len);
        if (truncate(s->path, (off_t)sc.tail_at) < 0) {
            snprintf(err, errlen, "%s: truncate: %s", s->path, strerror(errno));
            free(p);
            return -1;
        }
        s->size = sc.tail_at;
    } else if (sc.tail) {       /* in the middle of the journal: a hole */
        journal_quarantine(s, p, sc.tail_at, len);
        upto = j->segs[i + 1].first - 1;
        log_msg(LOG_ERR, "journal: %s: damaged bytes %zu-%zu (copied to %s.damaged-%zu): "
            "events with ids up to %" PRIu64 " may be lost; a replay from before that id "
            "gets the reset", s->path, sc.tail_at, len, s->path, sc.tail_at, upto);
    }
    if (upto > j->lost_upto)
        j->lost_upto = upto;
    free(p);
    return 0;
}

static int
journal_seg_cmp(const void *a, const void *b)
{
    const journal_seg_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int
journal_scan_dir(journal_t *j, char *err, size_t errlen)
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
        size_t nl = strlen(e->d_name);
        if ((strncmp(e->d_name, JOURNAL_COMPACT_TMP, strlen(JOURNAL_COMPACT_TMP)) == 0 && nl > 4 &&
             strcmp(e->d_name + nl - 4, ".tmp") == 0) ||
            strcmp(e->d_name, JOURNAL_FLOORS_FILE ".tmp") == 0) {
            char *p = journal_dir_path(j->dir, e->d_name);   /* unfinished */
            if (p)
                unlink(p);
            free(p);
            continue;
        }
        if (sscanf(e->d_name, "journal-%16" SCNu64 ".%7s", &first, tail) != 2)
            continue;
        if (strcmp(tail, "zj") != 0) {
            if (strcmp(tail, "zj.tmp") == 0) {  /* an older version's compaction */
                char *p = journal_dir_path(j->dir, e->d_name);
                if (p)
                    unlink(p);
                free(p);
            }
            continue;
        }
        if (j->nsegs == JOURNAL_SEGS_MAX) {
            closedir(d);
            snprintf(err, errlen, "%s: more than %d segments", j->dir, JOURNAL_SEGS_MAX);
            return -1;
        }
        journal_seg_t *s = &j->segs[j->nsegs++];
        s->first = first;
        s->last = 0;
        s->size = 0;
        if (!(s->path = journal_seg_path(j->dir, first, ""))) {
            closedir(d);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    closedir(d);
    if (j->nsegs > 1)                   /* (segs is NULL while there are none) */
        qsort(j->segs, j->nsegs, sizeof(journal_seg_t), journal_seg_cmp);
    return 0;
}

/* the floors file: floor records, and the lost range */
typedef struct {
    journal_t  *j;
    journal_cb  cb;
    void       *ctx;
} floors_ctx_t;

static int
journal_floor_record(void *ctx, const event_rec_t *r)
{
    floors_ctx_t *f = ctx;
    if (r->kind == JOURNAL_KIND_LOST) {
        if (r->id > f->j->lost_upto)
            f->j->lost_upto = r->id;
        return 0;
    }
    return r->kind == JOURNAL_KIND_FLOOR ? f->cb(f->ctx, r) : 0;
}

static int
journal_read_floors(journal_t *j, journal_cb cb, void *ctx, char *err, size_t errlen)
{
    char *path = journal_dir_path(j->dir, JOURNAL_FLOORS_FILE);
    unsigned char *p;
    size_t len;
    floors_ctx_t f = { j, cb, ctx };
    int rc = 0;

    if (!path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (journal_read_file(path, &p, &len) < 0) {
        free(path);
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s/%s: %s", j->dir, JOURNAL_FLOORS_FILE, strerror(errno));
        return -1;
    }
    /* floor records are not in id order: read them one by one */
    for (size_t o = 0; o < len;) {
        event_rec_t r;
        size_t n = journal_record_at(p, len, o, &r);
        if (n == 0) {
            /* written by rename: damage here is not a crash.  The floors
             * are unknown: everything before the journal's start may be
             * lost. */
            uint64_t upto = j->nsegs ? j->segs[0].first - 1 : 0;
            log_msg(LOG_ERR, "journal: %s is damaged at byte %zu: a replay from before "
                "id %" PRIu64 " gets the reset", path, o, upto);
            if (upto > j->lost_upto)
                j->lost_upto = upto;
            break;
        }
        if ((rc = journal_floor_record(&f, &r)) != 0) {
            snprintf(err, errlen, "%s: replay stopped", path);
            break;
        }
        o += n;
    }
    free(p);
    free(path);
    return rc ? -1 : 0;
}

journal_t *
journal_open(const char *dir, int fsync_ms, journal_cb cb, void *ctx,
    char *err, size_t errlen)
{
    journal_t *j = calloc(1, sizeof(*j));
    uint64_t seen = 0;

    if (!journal_crc_table[1])
        journal_crc_init();
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->fsync_ms = fsync_ms;
    buf_init(&j->pending, 0);
    buf_init(&j->floors, 0);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        journal_close(&j);
        return NULL;
    }
    if (journal_scan_dir(j, err, errlen) < 0 || journal_read_floors(j, cb, ctx, err, errlen) < 0) {
        journal_close(&j);
        return NULL;
    }
    for (size_t i = 0; i < j->nsegs; i++) {
        if (journal_replay_segment(j, i, &seen, cb, ctx, err, errlen) < 0) {
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
    if (j->pending.len && !j->compact_upto)
        (void)journal_commit(j);
    if (j->compact_upto)
        journal_compact_abort(j);
    if (j->fd >= 0) {
        if (j->sync_due)
            (void)fdatasync(j->fd);
        close(j->fd);
    }
    for (size_t i = 0; i < j->nsegs; i++)
        free(j->segs[i].path);
    buf_free(&j->pending);
    buf_free(&j->floors);
    free(j->dir);
    free(j);
    *jp = NULL;
}

uint64_t
journal_lost_upto(const journal_t *j)
{
    return j->lost_upto;
}

/* --- writing -------------------------------------------------------- */

size_t
journal_record_size(const event_rec_t *r)
{
    size_t n = JOURNAL_HDR_LEN + 8 + 8 + 4 + 1 + 1 + 1 + 1 + 4 + r->event_len + r->key_len + r->data_len;
    for (size_t i = 0; i < r->nchannels && i < ZSSE_MAX_CHANNELS; i++)
        n += 1 + r->channel_lens[i];
    return n;
}

/* journal_encode R as a record at the end of B */
static int
journal_encode(buf_t *b, const event_rec_t *r)
{
    size_t n = journal_record_size(r) - JOURNAL_HDR_LEN;
    if (r->nchannels < 1 || r->nchannels > ZSSE_MAX_CHANNELS || r->event_len > ZSSE_EVENT_MAX ||
        r->key_len > ZSSE_KEY_MAX || n > JOURNAL_REC_MAX)
        return errno = EINVAL, -1;
    for (size_t i = 0; i < r->nchannels; i++)
        if (r->channel_lens[i] > ZSSE_CHANNEL_MAX)
            return errno = EINVAL, -1;
    if (buf_reserve(b, JOURNAL_HDR_LEN + n) < 0)
        return errno = ENOMEM, -1;

    unsigned char *h = (unsigned char *)b->data + b->len;
    unsigned char *p = h + JOURNAL_HDR_LEN, *q = p;
    journal_put64(q, r->id); q += 8;
    journal_put64(q, (uint64_t)r->accepted_us); q += 8;
    journal_put32(q, r->ttl); q += 4;
    *q++ = (unsigned char)r->kind;
    *q++ = (unsigned char)r->nchannels;
    for (size_t i = 0; i < r->nchannels; i++) {
        *q++ = (unsigned char)r->channel_lens[i];
        if (r->channel_lens[i])
            memcpy(q, r->channels[i], r->channel_lens[i]);
        q += r->channel_lens[i];
    }
    *q++ = (unsigned char)r->event_len;
    if (r->event_len) memcpy(q, r->event, r->event_len);
    q += r->event_len;
    *q++ = (unsigned char)r->key_len;
    if (r->key_len) memcpy(q, r->key, r->key_len);
    q += r->key_len;
    journal_put32(q, (uint32_t)r->data_len); q += 4;
    if (r->data_len) memcpy(q, r->data, r->data_len);
    q += r->data_len;
    journal_put32(h, JOURNAL_MAGIC);
    journal_put32(h + 4, (uint32_t)n);
    journal_put32(h + 8, journal_crc32(p, n));
    b->len += JOURNAL_HDR_LEN + n;
    return 0;
}

int
journal_append(journal_t *j, const event_rec_t *r)
{
    if (journal_encode(&j->pending, r) < 0)
        return -1;
    if (!j->pending_first)
        j->pending_first = r->id;
    j->pending_last = r->id;
    return 0;
}

static void
journal_discard_pending(journal_t *j)
{
    buf_reset(&j->pending);
    j->pending_first = j->pending_last = 0;
}

/* open the active segment, named after its first id */
static int
journal_open_active(journal_t *j, uint64_t first)
{
    if (j->nsegs == JOURNAL_SEGS_MAX)
        return errno = EMFILE, -1;
    char *path = journal_seg_path(j->dir, first, "");
    if (!path)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || journal_sync_dir(j->dir) < 0) {
        int e = errno;
        close(fd);
        free(path);
        return errno = e, -1;
    }
    j->fd = fd;
    journal_seg_t *s = &j->segs[j->nsegs++];
    s->path = path;
    s->first = first;
    s->last = first;
    s->size = (uint64_t)st.st_size;
    return 0;
}

/* Cut the active segment back to its last good record */
static int
journal_cut_back(journal_t *j)
{
    journal_seg_t *s = &j->segs[j->nsegs - 1];
    if (ftruncate(j->fd, (off_t)s->size) < 0) {
        j->dirty_fd = 1;        /* again before the next write */
        return -1;
    }
    j->dirty_fd = 0;
    return 0;
}

static int
journal_sync_now(journal_t *j)
{
    if (fdatasync(j->fd) < 0)
        return -1;
    j->sync_due = 0;
    return 0;
}

int
journal_commit(journal_t *j)
{
    if (j->pending.len == 0)
        return 0;
    if (j->fd < 0 && journal_open_active(j, j->pending_first) < 0)
        goto fail;
    if (j->dirty_fd && journal_cut_back(j) < 0)
        goto fail;
    journal_seg_t *s = &j->segs[j->nsegs - 1];
    if (journal_write_all(j->fd, j->pending.data, j->pending.len) < 0 ||
        (j->fsync_ms == 0 && journal_sync_now(j) < 0)) {
        /* neither a partial record nor one never synced may stay: a later
         * good write after it would be cut off with it at the next start */
        int e = errno;
        (void)journal_cut_back(j);
        errno = e;
        goto fail;
    }
    s->size += j->pending.len;
    if (j->pending_last > s->last)
        s->last = j->pending_last;
    journal_discard_pending(j);
    if (j->fsync_ms > 0 && !j->sync_due) {
        j->sync_due = 1;
        j->dirty_since_ms = mono_ms();
    }
    return 0;
fail:
    journal_discard_pending(j);
    return -1;
}

int
journal_sync_in_ms(const journal_t *j)
{
    if (!j->sync_due || j->fd < 0)
        return -1;
    int64_t left = j->dirty_since_ms + j->fsync_ms - mono_ms();
    return left > 0 ? (int)left : 0;
}

int
journal_tick(journal_t *j)
{
    if (journal_sync_in_ms(j) != 0)
        return 0;
    if (journal_sync_now(j) < 0) {
        j->dirty_since_ms = mono_ms();  /* again in N ms, not in a busy loop */
        return -1;
    }
    return 0;
}

/* --- keeping it bounded --------------------------------------------- */

static void
journal_close_active(journal_t *j)
{
    if (j->fd >= 0) {
        if (j->sync_due)
            (void)fdatasync(j->fd);
        j->sync_due = 0;
        if (j->dirty_fd)
            (void)journal_cut_back(j);
        close(j->fd);
        j->fd = -1;
    }
}

int
journal_maybe_rotate(journal_t *j, size_t max)
{
    if (j->fd < 0 || j->segs[j->nsegs - 1].size < max)
        return 0;
    journal_close_active(j);        /* the next commit opens a new segment */
    return 0;
}

static void
journal_remove_seg(journal_t *j, size_t i)
{
    if (unlink(j->segs[i].path) < 0 && errno != ENOENT)
        log_msg(LOG_WARNING, "journal: unlink %s: %s", j->segs[i].path, strerror(errno));
    free(j->segs[i].path);
    memmove(&j->segs[i], &j->segs[i + 1], (j->nsegs - i - 1) * sizeof(journal_seg_t));
    j->nsegs--;
}

/* closed segments (not the active one, not one a compaction replaces)
 * whose every id is below MIN_LIVE */
static size_t
journal_droppable(const journal_t *j, uint64_t min_live)
{
    size_t closed = j->fd >= 0 ? j->nsegs - 1 : j->nsegs, n = 0;
    if (j->compact_upto)
        return 0;
    while (n < closed && j->segs[n].last < min_live)
        n++;
    return n;
}

int
journal_can_drop(const journal_t *j, uint64_t min_live)
{
    return journal_droppable(j, min_live) > 0;
}

int
journal_drop_before(journal_t *j, uint64_t min_live)
{
    size_t n = journal_droppable(j, min_live);
    if (n == 0)
        return 0;
    while (n--)
        journal_remove_seg(j, 0);
    return journal_sync_dir(j->dir);
}

int
journal_floor_add(journal_t *j, const char *chan, size_t len, uint64_t floor)
{
    event_rec_t r = { .id = floor, .kind = JOURNAL_KIND_FLOOR, .nchannels = 1, .data = "" };
    r.channels[0] = chan;
    r.channel_lens[0] = len;
    return journal_encode(&j->floors, &r);
}

int
journal_floors_save(journal_t *j)
{
    char *tmp = journal_dir_path(j->dir, JOURNAL_FLOORS_FILE ".tmp"), *path = journal_dir_path(j->dir, JOURNAL_FLOORS_FILE);
    int fd = -1, rc = -1, e;

    if (j->lost_upto) {
        event_rec_t r = { .id = j->lost_upto, .kind = JOURNAL_KIND_LOST, .nchannels = 1,
                     .data = "" };
        r.channels[0] = "";
        if (journal_encode(&j->floors, &r) < 0)
            goto out;
    }
    if (!tmp || !path ||
        (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        journal_write_all(fd, j->floors.data, j->floors.len) < 0 || fdatasync(fd) < 0 ||
        rename(tmp, path) < 0 || journal_sync_dir(j->dir) < 0)
        goto out;
    rc = 0;
out:
    e = errno;
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp)
        unlink(tmp);
    buf_reset(&j->floors);
    free(tmp);
    free(path);
    errno = e;
    return rc;
}

int
journal_compact_begin(journal_t *j)
{
    if (j->compact_upto)
        return errno = EBUSY, -1;
    if (j->pending.len && journal_commit(j) < 0)
        return -1;
    journal_close_active(j);
    if (j->nsegs == 0)
        return errno = ENOENT, -1;
    free(j->compact_tmp);
    if (asprintf(&j->compact_tmp, "%s/" JOURNAL_COMPACT_TMP "%ld-%lld.tmp", j->dir, (long)getpid(),
        (long long)mono_ms()) < 0) {
        j->compact_tmp = NULL;
        return errno = ENOMEM, -1;
    }
    j->compact_upto = j->nsegs;
    j->compact_last = 0;
    for (size_t i = 0; i < j->nsegs; i++)
        if (j->segs[i].last > j->compact_last)
            j->compact_last = j->segs[i].last;
    return 0;
}

int
journal_compact_write(journal_t *j)
{
    const char *tmp = j->compact_tmp;
    int fd = -1, rc = -1, e;

    if (tmp && (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0 &&
        journal_write_all(fd, j->pending.data, j->pending.len) == 0 && fdatasync(fd) == 0)
        rc = 0;
    e = errno;
    if (fd >= 0)
        close(fd);
    journal_discard_pending(j);
    errno = e;
    return rc;
}

void
journal_compact_abort(journal_t *j)
{
    if (j->compact_tmp)
        unlink(j->compact_tmp);
    free(j->compact_tmp);
    j->compact_tmp = NULL;
    journal_discard_pending(j);
    j->compact_upto = 0;
}

int
journal_compact_finish(journal_t *j)
{
    const char *tmp = j->compact_tmp;
    char *final = NULL;
    unsigned char h[JOURNAL_HDR_LEN + 8];
    struct stat st;
    int fd = -1, e;
    size_t old = j->compact_upto;
    journal_seg_t fresh = { 0 };

    if (!old || !tmp || (fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
        goto fail;
    if (st.st_size > 0) {
        if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || journal_get32(h) != JOURNAL_MAGIC) {
            errno = EIO;
            goto fail;
        }
        fresh.first = journal_get64(h + JOURNAL_HDR_LEN);
        fresh.last = j->compact_last;
        fresh.size = (uint64_t)st.st_size;
        if (!(final = journal_seg_path(j->dir, fresh.first, "")) || rename(tmp, final) < 0)
            goto fail;
        fresh.path = final;
    } else {
        unlink(tmp);            /* nothing live: every old segment goes */
    }
    close(fd);
    free(j->compact_tmp);
    j->compact_tmp = NULL;
    /* the new segment replaces [0, old); one of them may have had its name
     * (the rename replaced that file): forget it without unlinking */
    for (size_t i = 0; i < old; i++) {
        if (fresh.path && strcmp(j->segs[i].path, fresh.path) == 0) {
            free(j->segs[i].path);
            j->segs[i].path = NULL;
        }
    }
    for (size_t i = 0; i < old; i++) {
        if (j->segs[i].path && unlink(j->segs[i].path) < 0 && errno != ENOENT)
            log_msg(LOG_WARNING, "journal: unlink %s: %s", j->segs[i].path, strerror(errno));
        free(j->segs[i].path);
    }
    memmove(&j->segs[fresh.path ? 1 : 0], &j->segs[old], (j->nsegs - old) * sizeof(journal_seg_t));
    j->nsegs = j->nsegs - old + (fresh.path ? 1 : 0);
    if (fresh.path)
        j->segs[0] = fresh;
    j->compact_upto = 0;
    return journal_sync_dir(j->dir);
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    free(final);
    journal_compact_abort(j);
    errno = e;
    return -1;
}

int
journal_compact_end(journal_t *j)
{
    if (journal_compact_write(j) < 0) {
        int e = errno;
        journal_compact_abort(j);
        return errno = e, -1;
    }
    return journal_compact_finish(j);
}

uint64_t
journal_size(const journal_t *j)
{
    uint64_t n = 0;
    for (size_t i = 0; i < j->nsegs; i++)
        n += j->segs[i].size;
    return n;
}
