/* libFuzzer target: what zsse-fcgi reads from the broker.
 *
 * Control replies (fcgi/replay.c, fcgi/control.c): control_call() is
 * replaced here by one that answers with the fuzzed frames, and
 * replay_join() frames them as a stream's opening would (with and without
 * Last-Event-ID, resume, snapshot, both formats).  Property: besides
 * memory safety, the ids written increase strictly (SPEC 5), whatever the
 * frames say, and the output stays within its bound.
 *
 * PUB messages (proto/wire.c): the frames go over a ZeroMQ inproc pair and
 * are read with wire_recv_event() as the hub reads its SUB socket, then
 * framed as the hub frames them.
 *
 * Input: MODE, LEID (8 bytes), then frames, each a 2-byte big-endian
 * length and its bytes. */
// (its other sources: tests/fuzz/Makefile.inc)
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#define control_call control_call_real      /* ours below answers */
#include "../../fcgi/control.c"
#undef control_call
#include "buf.h"
#include "config.h"
#include "replay.h"
#include "sse.h"
#include "wire.h"

static const uint8_t *frames;
static size_t frames_len;
static config_t *cfg;
static int untrusted;       /* the reply holds what no broker sends */
static void *zctx, *pa, *pb;

int control_call(ctl_op_t op, const char *const *args, int nargs, int timeout_ms,
    control_reply_t *r);

/* append frame P (N bytes) to R's frames */
static void
add_frame(control_reply_t *r, const void *p, size_t n)
{
    ctl_frames_t *m = &r->m;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        zmq_msg_t *f = realloc(m->f, cap * sizeof(*f));
        if (!f)
            abort();
        m->f = f;
        m->cap = cap;
    }
    zmq_msg_init_size(&m->f[m->n], n);
    if (n)
        memcpy(zmq_msg_data(&m->f[m->n]), p, n);
    m->n++;
}

/* the fuzzed frames as the reply to any request, decoded as control.c
 * decodes a real one (ctl_decode_reply: a malformed reply is no answer) */
int
control_call(ctl_op_t op, const char *const *args, int nargs, int timeout_ms, control_reply_t *r)
{
    (void)args; (void)nargs; (void)timeout_ms;
    memset(r, 0, sizeof(*r));
    ctl_frames_init(&r->m, CONTROL_REPLY_FRAMES);
    add_frame(r, "", 0);                /* the delimiter */
    size_t i = 0;
    while (i + 2 <= frames_len && r->m.n < 4096) {
        size_t n = ((size_t)frames[i] << 8) | frames[i + 1];
        i += 2;
        if (n > frames_len - i)
            n = frames_len - i;
        /* what the broker never sends (message.c refuses it, fuzz_message
         * checks): a name with a line break, JSON data over several lines */
        wire_event_t ev;
        if (wire_parse_payload(frames + i, n, &ev) == 0 &&
            (memchr(ev.event, '\n', ev.event_len) || memchr(ev.event, '\r', ev.event_len) ||
             (ev.kind != 's' && (memchr(ev.data, '\n', ev.data_len) ||
                                 memchr(ev.data, '\r', ev.data_len)))))
            untrusted = 1;
        add_frame(r, frames + i, n);
        i += n;
    }
    if (!(r->v = malloc(r->m.n * sizeof(*r->v))))
        abort();
    for (size_t k = 1; k < r->m.n; k++)
        r->v[k - 1] = ctl_frame(&r->m, k);
    if (ctl_decode_reply(op, r->v, r->m.n - 1, &r->rep) != CTL_E_OK) {
        control_reply_free(r);
        return -1;                  /* no answer */
    }
    return 0;
}

static int flushed;
static uint64_t last_id;

/* the ids in OUT's framed SSE must increase strictly */
static void
check_ids(const buf_t *out)
{
    if (!out->data || untrusted)
        return;
    const char *p = out->data, *end = out->data + out->len;
    int start = 1;          /* an event block's first line: where replay.c puts "id: " */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        int at = start;
        start = nl == p;
        /* (the broker is trusted to send names without line breaks and
         * one-line JSON -- fuzz_message checks that it does -- so only a
         * block's first line is taken as its id) */
        if (at && nl - p > 4 && memcmp(p, "id: ", 4) == 0) {
            uint64_t id;
            if (wire_parse_id(p + 4, (size_t)(nl - p - 4), &id) < 0 || id <= last_id)
                __builtin_trap();
            last_id = id;
        }
        p = nl + 1;
    }
}

static int
flush(void *arg)
{
    buf_t *out = arg;
    check_ids(out);
    out->len = 0;
    flushed++;
    return 0;
}

static void
pub_message(void)
{
    size_t i = 0;
    int nf = 0;
    while (i + 2 <= frames_len && nf < 64) {
        size_t n = ((size_t)frames[i] << 8) | frames[i + 1];
        i += 2;
        if (n > frames_len - i)
            n = frames_len - i;
        int more = i + n + 2 <= frames_len && nf + 1 < 64;
        zmq_send(pa, frames + i, n, more ? ZMQ_SNDMORE : 0);
        i += n;
        nf++;
    }
    if (!nf)
        return;
    for (;;) {
        wire_frames_t w;
        wire_event_t ev;
        wire_recv_t got = wire_recv_event(pb, ZMQ_DONTWAIT, &w, &ev);
        if (got == WIRE_RECV_NONE || got == WIRE_RECV_ERROR)
            break;
        int r = got == WIRE_RECV_EVENT;     /* a marker: no event */
        while (r == 1) {            /* each event of a run (wire.h) */
            buf_t b;
            buf_init(&b, 1 << 20);
            sse_event(&b, SSE_NAMED, ev.id, ev.event, ev.event_len, ev.data, ev.data_len, ev.kind);
            sse_event(&b, SSE_ENVELOPE, ev.id, ev.event, ev.event_len, ev.data, ev.data_len, ev.kind);
            buf_free(&b);
            r = wire_next_event(&w, &ev);
        }
        wire_frames_close(&w);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static const char conf[] =
        "{\"routes\": ["
        "{\"path\": \"/a\", \"channels\": [\"a\", \"b\"], \"auth\": \"none\"},"
        "{\"path\": \"/b\", \"channels\": [\"a\"], \"auth\": \"none\", \"snapshot\": true,"
        " \"format\": \"envelope\", \"reset_event\": \"gone\"}"
        "]}";
    char err[256];

    if (!cfg) {
        if (!(cfg = config_parse(conf, sizeof(conf) - 1, err, sizeof(err))))
            abort();
        zctx = zmq_ctx_new();
        pa = zmq_socket(zctx, ZMQ_PAIR);
        pb = zmq_socket(zctx, ZMQ_PAIR);
        if (zmq_bind(pb, "inproc://fuzz-reply") < 0 || zmq_connect(pa, "inproc://fuzz-reply") < 0)
            abort();
    }
    if (size < 9)
        return 0;
    int mode = in[0];
    uint64_t leid = 0;
    for (int k = 1; k <= 8; k++)
        leid = (leid << 8) | in[k];
    leid &= WIRE_ID_MAX;
    frames = in + 9;
    frames_len = size - 9;

    if (mode & 0x80) {
        pub_message();
        return 0;
    }
    char *chans[2] = { "a", "b" };
    buf_t out;
    buf_init(&out, (mode & 8) ? 512 : (1 << 20));
    replay_t p = {
        .r = &cfg->routes[mode & 1], .channels = chans, .nchannels = (mode & 1) ? 1 : 2,
        .out = &out, .last = 0, .flush = flush, .arg = &out,
    };
    flushed = 0;
    last_id = 0;
    untrusted = 0;
    if (replay_join(&p, mode & 2, leid, mode & 4) == 0) {
        check_ids(&out);
        if (out.max && out.len > out.max)
            __builtin_trap();
    }
    buf_free(&out);
    return 0;
}
