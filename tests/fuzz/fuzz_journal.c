/* libFuzzer target: the journal's reader (broker/journal.c,
 * journal_read_buf), fed truncated and corrupted segments.
 *
 * Input: u16 cut, u16 flip, then a segment's bytes (seeds in
 * corpus/journal are real segments).  The segment is read whole, cut
 * short at CUT, and with the byte at FLIP inverted.  Checked: every
 * record lies inside the buffer, ids come in increasing order above
 * AFTER, the damage found is inside the buffer; and a cut segment read
 * without a hole gives a prefix of the whole one's records. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
/* the reader itself, built into this target (tests/fuzz/run compiles
 * proto/ only) */
#include "../../broker/journal.c"

typedef struct {
    const unsigned char *lo, *hi;
    uint64_t ids[4096];
    size_t   n;
} seen_t;

static void
inside(const seen_t *s, const char *p, size_t len)
{
    if (len && (p < (const char *)s->lo || p + len > (const char *)s->hi))
        __builtin_trap();
}

static int
check(void *ctx, const event_rec_t *r)
{
    seen_t *s = ctx;
    if (s->n && r->id <= s->ids[s->n - 1])
        __builtin_trap();
    if (r->nchannels < 1 || r->nchannels > 64)
        __builtin_trap();
    for (size_t i = 0; i < r->nchannels; i++)
        inside(s, r->channels[i], r->channel_lens[i]);
    inside(s, r->event, r->event_len);
    inside(s, r->key, r->key_len);
    inside(s, r->data, r->data_len);
    if (s->n < 4096)
        s->ids[s->n++] = r->id;
    return 0;
}

static void
scan(const unsigned char *p, size_t len, seen_t *s, journal_scan_t *sc)
{
    memset(s, 0, sizeof(*s));
    s->lo = p;
    s->hi = p + len;
    if (journal_read_buf(p, len, 0, check, s, sc) != 0)
        __builtin_trap();
    if (sc->tail && sc->tail_at >= len)
        __builtin_trap();
    if (sc->holes && !(sc->hole_at < sc->hole_end && sc->hole_end < len))
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static seen_t whole, part;
    journal_scan_t sw, sp;

    if (size < 4)
        return 0;
    size_t len = size - 4;
    unsigned char *p = malloc(len ? len : 1);
    memcpy(p, data + 4, len);
    scan(p, len, &whole, &sw);

    size_t cut = len ? (size_t)(data[0] | data[1] << 8) % (len + 1) : 0;
    unsigned char *c = malloc(cut ? cut : 1);   /* exactly CUT bytes: ASan sees overreads */
    memcpy(c, p, cut);
    scan(c, cut, &part, &sp);
    if (!sw.holes && !sp.holes) {
        if (part.n > whole.n)
            __builtin_trap();
        for (size_t i = 0; i < part.n; i++)
            if (part.ids[i] != whole.ids[i])
                __builtin_trap();
    }
    free(c);

    if (len) {
        p[(size_t)(data[2] | data[3] << 8) % len] ^= 0xff;
        scan(p, len, &part, &sp);
    }
    free(p);
    return 0;
}
