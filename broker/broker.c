/*
 * broker.c -- the broker's loop, ingest and control ops (see broker.h).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <jansson.h>
#include <zmq.h>
#include "batch.h"
#include "broker.h"
#include "channel.h"
#include "clock.h"
#include "cluster.h"
#include "ctl.h"
#include "curve.h"
#include "journal.h"
#include "lease.h"
#include "lease_jobs.h"
#include "lease_kv.h"
#include "revoke.h"
#include "log.h"
#include "message.h"
#include "store.h"
#include "wire.h"
#include "zap.h"

#define BROKER_REASONS_MAX 32     /* distinct rejection reasons (22 today, with batches) */
#define BROKER_SUB_MAX     300    /* an XPUB subscription message: 1 byte and a topic
                                    * (<= ZSSE_CHANNEL_MAX); longer ones are drained */
#define BROKER_CHANNEL_COST 64  /* bytes a ring and fifo entry take, for max_memory */
#define BROKER_APPLY_WAIT_MS 1000  /* an acknowledged answer waits for the local apply */
#define BROKER_ACKWAIT     (2 * CLUSTER_PUB_WINDOW)   /* acknowledged publishes not
                                    * yet answered, in the cluster */

/* an acknowledged publish in cluster mode, from its request to its answer */
typedef struct {
    uint64_t    token;          /* 0: free */
    int         done;           /* its outcome is known: */
    uint64_t    id;             /*   stored as this id, or 0: */
    const char *reason;         /*   refused, for this reason (static) */
    int64_t     done_ms;        /* when (mono_ms) */
    size_t      idlen;
    char        ident[CTL_IDENT_MAX + 1];
} broker_ackwait_t;

typedef struct {
    store_event_t   *ev;
    size_t     nch;
    store_channel_t *ch[ZSSE_MAX_CHANNELS];
    /* for an acknowledged publish: who asked */
    int        ack;
    const char *refused;        /* not NULL: refused for this reason (ev NULL), answered
                                 * in its turn: a connection's answers keep its order */
    size_t     idlen;
    char       ident[CTL_IDENT_MAX + 1];
} broker_pending_t;

struct broker {
    config_t   *cfg;
    store_t    *store;
    journal_t  *journal;
    leases_t   *leases;
    leasekv_t  *leasekv;        /* cluster: max_per_user across brokers (lease_kv.h);
                                 * NULL: this broker's table alone */
    cluster_t  *cluster;        /* broker.cluster: NULL, the single broker */
    leasekv_t  *leasekv_own;    /* the cluster's leasekv, made by broker_cluster_start */
    leasejobs_t *leasejobs;     /* cluster: leasekv's requests off the loop (lease_jobs.h);
                                 * NULL: made on the loop (tests set leasekv alone) */
    volatile sig_atomic_t halt; /* broker_halt(): this loop only */
    broker_ackwait_t *ackwait;  /* cluster: ring of BROKER_ACKWAIT, by token */
    uint64_t    ack_token;      /* cluster: the last token given */
    /* cluster: the acknowledged publishes not yet answered, tokens
     * ack_first.. ack_first + ack_n - 1, in the order they were asked: each
     * is answered in that order (so a connection's answers come in the
     * order of its requests, as with one broker), once its outcome is known
     * and, when stored, once this broker has applied it (so a replay here
     * right after holds it); its slot is ackwait[token % BROKER_ACKWAIT] */
    uint64_t    ack_first;
    size_t      ack_n;
    curve_server_t curve;       /* CURVE keys; off: plain ZeroMQ */
    zap_t      *zap;            /* the ZAP handler, with CURVE */
    revoke_t   *revoked;        /* zsse revoke: published on REVOKE_TOPIC */
    void       *ctx, *pull, *xpub, *router;
    uint64_t    last_id;        /* the highest id published (replay heads) */
    uint64_t    issued_id;      /* the highest id given out (maybe not yet stored) */
    uint64_t    start_floor;    /* ids at or below are from an earlier run */
    int64_t     started_us;
    int64_t     last_sweep_us;
    broker_pending_t  *pending;
    size_t      npending;
    store_hit_t      *scratch;        /* replay results, reused */
    size_t      scratch_cap;
    ratelimit_t rl;
    /* statistics */
    uint64_t    published, rejected, replays, replayed, resets, control_requests;
    int64_t     batch_start_us; /* when the batch's first message came in */
    uint64_t    lat_sum_us, lat_n, lat_last_us;     /* publish-to-PUB, last second */
    uint64_t    journal_errors;
    pid_t       compact_pid;    /* the child writing a compaction, 0: none */
    int64_t     compact_started_ms;
    int64_t     compact_fork_ms;    /* how long fork() held this process */
    uint64_t    compact_base;   /* journal bytes after the last compaction */
    uint64_t    control_refused;    /* malformed control requests */
    uint64_t    replies_split;      /* replies cut at CTL_REPLY_MAX */
    uint64_t    leases_refused;     /* unknown route, no subject, bounds */
    uint64_t    leases_foreign;     /* renew/release of another's lease */
    uint64_t    batches;            /* batch frames taken apart (batch.h) */
    /* control: the request being read and answered (reused) */
    ctl_frames_t in;
    ctl_arg_t   views[CTL_ARGS_MAX + 1];
    ctl_req_t   req;
    ctl_reply_t out;
    ctl_reply_t ackout;             /* acks, sent from broker_commit() */
    wire_run_t run;                 /* events of one channel coalesced (wire.h) */
    struct { const char *reason; uint64_t n; } reasons[BROKER_REASONS_MAX];
};

static volatile sig_atomic_t broker_stop_flag, broker_hup_flag;

void broker_stop(void) { broker_stop_flag = 1; }
void broker_halt(broker_t *b) { b->halt = 1; }
void broker_reopen_log(void) { broker_hup_flag = 1; }

/*
 * Ids: decimal, strictly increasing, below 2^53, and increasing across
 * restarts with no journal: an id is never below the current time in
 * microseconds.  Now (2026) that is about 1.8e15; 2^53 is 9.0e15, a limit
 * the clock reaches in the year 2255.  A restart therefore continues above
 * every id of the last run unless that run published faster than the
 * clock for longer than the restart took (a million events per second
 * keep pace with it); the journal, when on, restores the exact counter.
 */
static uint64_t
broker_next_id(broker_t *b, int64_t now)
{
    uint64_t id = b->issued_id + 1;
    if ((uint64_t)now > id)
        id = (uint64_t)now;
    b->issued_id = id;
    return id;
}

/* --- rejections ---------------------------------------------------------- */

static void
broker_reject(broker_t *b, const char *reason, const char *detail)
{
    size_t i;

    b->rejected++;
    for (i = 0; i < BROKER_REASONS_MAX && b->reasons[i].reason; i++)
        if (strcmp(b->reasons[i].reason, reason) == 0)
            break;
    if (i < BROKER_REASONS_MAX) {
        b->reasons[i].reason = reason;
        b->reasons[i].n++;
    }
    log_limited(&b->rl, LOG_WARNING, "rejected a message: %s%s%s", reason,
        detail ? ": " : "", detail ? detail : "");
}

/* --- accepting an event ---------------------------------------------------- */

/* Queue REC (its id and time set) for broker_commit: room made in
 * max_memory, its channels found or made, its state limits checked when
 * CHECK_STATE, the event allocated.  -1: not queued (reason set). */
static int
broker_stage(broker_t *b, const event_rec_t *rec, int check_state, const char **reason)
{
    broker_pending_t *p = &b->pending[b->npending];
    size_t size = rec->event_len + rec->key_len + rec->data_len;

    assert(b->npending < BROKER_BATCH);
    /* broker.max_memory: the oldest buffered events make room */
    if (store_make_room(b->store, sizeof(store_event_t) + size +
        BROKER_CHANNEL_COST * rec->nchannels) < 0) {
        *reason = ZSSE_R_MAX_MEMORY;
        return -1;
    }
    p->nch = 0;
    for (size_t i = 0; i < rec->nchannels; i++) {
        store_channel_t *ch = store_channel(b->store, rec->channels[i], rec->channel_lens[i], 1);
        if (!ch) {
            /* the store is full, or an allocation failed */
            *reason = store_channels(b->store) >= STORE_CHANNELS_MAX ? ZSSE_R_STORE_FULL
                                                                     : ZSSE_R_OUT_OF_MEMORY;
            return -1;
        }
        if (check_state && rec->key_len &&
            (*reason = store_state_check(b->store, ch, rec->key, rec->key_len, size)))
            return -1;
        p->ch[p->nch++] = ch;
    }
    if (!(p->ev = store_event_new(rec))) {
        *reason = ZSSE_R_OUT_OF_MEMORY;
        return -1;
    }
    p->ack = 0;
    p->refused = NULL;
    if (b->npending++ == 0)
        b->batch_start_us = wall_us();
    return 0;
}

/* Single broker: give a valid message its id, journal it and queue it for
 * commit (stored, published and acknowledged only once the batch's journal
 * commit has succeeded: see broker_commit()).  -1: not accepted (reason set). */
static int
broker_accept_local(broker_t *b, const msg_t *m, const char **reason)
{
    int64_t now = wall_us();
    event_rec_t rec = m->ev;

    rec.id = broker_next_id(b, now);
    rec.accepted_us = now;
    if (broker_stage(b, &rec, 1, reason) < 0)
        return -1;
    if (b->journal && journal_append(b->journal, &rec) < 0) {
        b->journal_errors++;
        log_msg(LOG_ERR, "journal: append: %s", strerror(errno));
        *reason = ZSSE_R_JOURNAL_ERROR;
        store_event_unref(b->pending[--b->npending].ev);
        return -1;
    }
    return 0;
}

/* Cluster: a valid message (TEXT, LEN bytes, as received) into the stream;
 * TOKEN != 0 for an acknowledged one.  It is stored, published and
 * acknowledged once the stream has it (broker_cluster_apply,
 * broker_cluster_acked).  The state limits are checked on this broker's
 * mirror.  -1: not accepted (reason set). */
static int
broker_accept_cluster(broker_t *b, const msg_t *m, const char *text, size_t len,
    uint64_t token, const char **reason)
{
    const event_rec_t *in = &m->ev;
    size_t size = in->event_len + in->key_len + in->data_len;

    for (size_t i = 0; in->key_len && i < in->nchannels; i++) {
        store_channel_t *ch = store_channel(b->store, in->channels[i], in->channel_lens[i], 0);
        if (ch && (*reason = store_state_check(b->store, ch, in->key, in->key_len, size)))
            return -1;
    }
    return cluster_publish(b->cluster, text, len, in->channels[0], in->channel_lens[0], token,
        reason);
}

/* a valid message (TEXT, LEN bytes), given to either mode */
static int
broker_accept_msg(broker_t *b, const msg_t *m, const char *text, size_t len, const char **reason)
{
    return b->cluster ? broker_accept_cluster(b, m, text, len, 0, reason)
                      : broker_accept_local(b, m, reason);
}

/* the deferred answer to an acknowledged publish: "ok" ID, or with a
 * REASON "error" REASON */
static void
broker_send_ack(broker_t *b, const broker_pending_t *p, const char *reason)
{
    char id[WIRE_ID_TEXT_LEN];

    if (p->refused)
        reason = p->refused;
    else
        wire_fmt_id(id, p->ev->id);
    if (ctl_reply_status(&b->ackout, reason ? CTL_ERROR : CTL_OK, reason ? reason : id) == 0)
        ctl_reply_send(&b->ackout, b->router, p->ident, p->idlen);
}

/* A batch that did not reach the journal: rejected (counted, with the
 * reason), neither stored nor published, the acknowledged ones answered
 * "error" REASON. */
static void
broker_commit_failed(broker_t *b, int err)
{
    const char *reason = err == ENOSPC || err == EDQUOT || err == EFBIG ? ZSSE_R_JOURNAL_FULL
                                                                       : ZSSE_R_JOURNAL_ERROR;
    b->journal_errors++;
    log_limited(&b->rl, LOG_ERR, "journal: commit: %s: %zu events rejected (%s)",
        strerror(err), b->npending, reason);
    for (size_t i = 0; i < b->npending; i++) {
        broker_pending_t *p = &b->pending[i];
        if (!p->refused)
            broker_reject(b, reason, NULL);
        if (p->ack)
            broker_send_ack(b, p, reason);
        if (p->ev)
            store_event_unref(p->ev);
    }
    b->npending = 0;
}

/* Commit the batch to the journal, then store, publish and acknowledge it
 * (broker.h). */
void
broker_commit(broker_t *b)
{
    int64_t now = wall_us();

    if (b->npending == 0)
        return;
    if (b->journal && journal_commit(b->journal) < 0) {
        broker_commit_failed(b, errno);
        return;
    }
    for (size_t i = 0; i < b->npending; i++) {
        broker_pending_t *p = &b->pending[i];
        if (p->refused)
            continue;
        for (size_t c = 0; c < p->nch; c++)
            store_push(b->store, p->ch[c], p->ev, now);
        if (p->ev->id > b->last_id)
            b->last_id = p->ev->id;
        b->published++;
    }
    /* in id order, (event, channel) after (event, channel): a run of
     * consecutive ones on the same channel goes as one frame */
    for (size_t i = 0; b->xpub && i < b->npending; i++) {
        broker_pending_t *p = &b->pending[i];
        for (size_t c = 0; c < p->nch; c++) {
            wire_event_t we;
            store_event_wire(p->ev, p->ch[c], &we);
            if (wire_run_add(&b->run, b->xpub, &we) < 0)
                log_msg(LOG_ERR, "publish: %s", zmq_strerror(errno));
        }
    }
    if (b->xpub && wire_run_flush(&b->run, b->xpub) < 0)
        log_msg(LOG_ERR, "publish: %s", zmq_strerror(errno));
    for (size_t i = 0; i < b->npending; i++) {
        broker_pending_t *p = &b->pending[i];
        if (p->ack)
            broker_send_ack(b, p, NULL);
        if (p->ev)
            store_event_unref(p->ev);
    }
    /* publish-to-PUB latency: from the batch's first message to its send */
    uint64_t lat = (uint64_t)(wall_us() - b->batch_start_us);
    b->lat_sum_us += lat * b->npending;
    b->lat_n += b->npending;
    b->npending = 0;
}

/* The N messages of a batch frame (batch.h), in order, each accepted or
 * rejected as a frame of its own would be; the pending batch is committed
 * whenever it is full, so a frame of BATCH_MAX fits whatever came before. */
static void
broker_ingest_batch(broker_t *b, const batch_span_t *spans, size_t n)
{
    msg_t m;
    const char *reason;

    for (size_t i = 0; i < n; i++) {
        if (b->npending == BROKER_BATCH)
            broker_commit(b);
        if (msg_parse(&m, spans[i].p, spans[i].len, b->cfg->broker.max_message, &reason) < 0) {
            broker_reject(b, reason, "in a batch");
        } else {
            if (broker_accept_msg(b, &m, spans[i].p, spans[i].len, &reason) < 0)
                broker_reject(b, reason, "in a batch");
            msg_clear(&m);
        }
    }
}

/* one frame from PULL: a message or a batch; the messages it held (at
 * least 1), 0 when nothing is waiting */
static int
broker_ingest_one(broker_t *b)
{
    zmq_msg_t f;
    msg_t m;
    const char *reason;
    batch_span_t spans[BATCH_MAX];
    size_t n;
    batch_split_t brc;

    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, b->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f);
        return 0;
    }
    if (zmq_msg_more(&f)) {
        wire_drain(b->pull);
        broker_reject(b, ZSSE_R_MULTIPART, NULL);
    } else if ((brc = batch_split(zmq_msg_data(&f), zmq_msg_size(&f), spans, &n, &reason)) == BATCH_SPLIT_REFUSED) {
        broker_reject(b, reason, "a whole batch");
    } else if (brc == BATCH_SPLIT_BATCH) {
        b->batches++;
        broker_ingest_batch(b, spans, n);
        zmq_msg_close(&f);
        return (int)n;
    } else if (msg_parse(&m, zmq_msg_data(&f), zmq_msg_size(&f), b->cfg->broker.max_message,
        &reason) < 0) {
        broker_reject(b, reason, NULL);
    } else {
        if (broker_accept_msg(b, &m, zmq_msg_data(&f), zmq_msg_size(&f), &reason) < 0)
            broker_reject(b, reason, NULL);
        msg_clear(&m);
    }
    zmq_msg_close(&f);
    return 1;
}

/* --- cluster: the stream's events and JetStream's answers (cluster.h) ---- */

/* an event of the stream, in order: stored and published as a committed
 * one is (the state limits were checked where it was published: every
 * mirror applies every event, so they stay the same) */
static void
broker_cluster_apply(void *ctx, const event_rec_t *rec)
{
    broker_t *b = ctx;
    const char *reason;

    if (b->npending == BROKER_BATCH)
        broker_commit(b);
    if (broker_stage(b, rec, 0, &reason) < 0) {
        log_limited(&b->rl, LOG_ERR, "cluster: event %" PRIu64 " not kept here: %s", rec->id, reason);
        if (rec->id > b->last_id)
            b->last_id = rec->id;
    }
}

/* JetStream's answer to a publish: an acknowledged one's outcome noted
 * (answered by broker_cluster_answer, in order); a refused PUSH one counted */
static void
broker_cluster_acked(void *ctx, uint64_t token, uint64_t id, const char *reason)
{
    broker_t *b = ctx;
    broker_ackwait_t *w = &b->ackwait[token % BROKER_ACKWAIT];

    if (!id)
        broker_reject(b, reason, token ? "acknowledged publish" : "in the cluster");
    if (!token || w->token != token)
        return;
    w->done = 1;
    w->done_ms = mono_ms();
    w->id = id;
    w->reason = reason;
}

/* answer the acknowledged publishes whose turn it is (see struct broker) */
static void
broker_cluster_answer(broker_t *b)
{
    char ids[WIRE_ID_TEXT_LEN];

    for (; b->ack_n; b->ack_first++, b->ack_n--) {
        broker_ackwait_t *w = &b->ackwait[b->ack_first % BROKER_ACKWAIT];
        assert(w->token == b->ack_first);
        /* stored, not applied here yet: wait for it, but not past
         * BROKER_APPLY_WAIT_MS (this broker's consumer may be being made
         * again: an answer late past the client's timeout would be worse) */
        if (!w->done || (w->id && w->id > b->last_id &&
            mono_ms() - w->done_ms < BROKER_APPLY_WAIT_MS))
            return;
        w->token = 0;
        wire_fmt_id(ids, w->id);
        if (ctl_reply_status(&b->ackout, w->id ? CTL_OK : CTL_ERROR, w->id ? ids : w->reason) == 0)
            ctl_reply_send(&b->ackout, b->router, w->ident, w->idlen);
    }
}

/* the stream's news into the store and out (each turn of the loop) */
static void
broker_cluster_poll(broker_t *b)
{
    if (cluster_poll(b->cluster, BROKER_BATCH))
        broker_commit(b);
    broker_cluster_answer(b);
}

/* --- XPUB: sync markers ---------------------------------------------------- */

static void
broker_on_subscription(broker_t *b)
{
    char buf[BROKER_SUB_MAX];
    int n = zmq_recv(b->xpub, buf, sizeof(buf), ZMQ_DONTWAIT);

    if (n <= 0)
        return;
    if (n > (int)sizeof(buf)) {
        wire_drain(b->xpub);
        return;
    }
    /* "\1" + topic: a new subscription.  A sync topic is answered at once:
     * every subscription sent before it on that pipe is now in force. */
    if (buf[0] == 1 && n >= 2 && buf[1] == WIRE_SYNC_BYTE)
        zmq_send(b->xpub, buf + 1, (size_t)n - 1, 0);
}

/* --- control ------------------------------------------------------------------ */

/* one request being answered: who asked, what, and the reply being built */
typedef struct {
    const char      *ident;
    size_t           idlen;
    const ctl_req_t *q;
    ctl_reply_t     *out;
} broker_request_t;

static void
broker_reply(broker_t *b, broker_request_t *r, ctl_status_t status, const char *arg)
{
    (void)b;
    if (ctl_reply_status(r->out, status, arg) < 0)
        ctl_reply_reset(r->out);        /* out of memory: no reply */
}

/* the request's arguments FROM.. as channels; -1 when one is not valid */
static int
broker_get_channels(broker_request_t *r, unsigned from, const char **chans, size_t *lens)
{
    int n = 0;
    for (unsigned i = from; i < r->q->nargs; i++, n++) {
        chans[n] = r->q->arg[i].p;
        lens[n] = r->q->arg[i].len;
        if (!channel_valid(chans[n], lens[n]))
            return -1;
    }
    return n;
}

/* STATUS HEAD and as many of HITS (those with id > AFTER) as fit in one
 * reply; "more" instead of "ok" when some did not fit */
static void
broker_reply_hits(broker_t *b, broker_request_t *r, const store_hit_t *hits, long n, uint64_t after)
{
    char head[WIRE_ID_TEXT_LEN];
    size_t bytes = 0;
    long fit = 0, total = 0;

    for (long i = 0; i < n; i++) {
        const store_event_t *e = hits[i].ev;
        if (e->id <= after)
            continue;
        size_t sz = hits[i].ch->name_len + WIRE_PAYLOAD_MIN + e->event_len + e->data_len;
        total++;
        if (fit == total - 1 && (bytes == 0 || bytes + sz <= CTL_REPLY_MAX)) {
            bytes += sz;
            fit++;
        }
    }
    wire_fmt_id(head, b->last_id);
    broker_reply(b, r, fit < total ? CTL_MORE : CTL_OK, head);
    for (long i = 0, k = 0; i < n && k < fit; i++) {
        const store_event_t *e = hits[i].ev;
        if (e->id <= after)
            continue;
        wire_event_t we;
        store_event_wire(e, hits[i].ch, &we);
        if (ctl_reply_event(r->out, &we) < 0) {
            broker_reply(b, r, CTL_ERROR, "out of memory");
            return;
        }
        k++;
    }
    if (fit < total)
        b->replies_split++;
}

/* replay AFTER FLAGS CHANNEL... and state CHANNEL... */
static void
broker_op_replay(broker_t *b, broker_request_t *r)
{
    const char *chans[CTL_CHANNELS_MAX];
    size_t lens[CTL_CHANNELS_MAX];
    uint64_t after = 0;
    char flags[8] = "";
    int replay = r->q->op == CTL_REPLAY, keyed = 0, n;
    int64_t now = wall_us();

    if (replay) {
        if (wire_parse_id(r->q->arg[0].p, r->q->arg[0].len, &after) < 0) {
            broker_reply(b, r, CTL_ERROR, "bad request");
            return;
        }
        ctl_arg_str(&r->q->arg[1], flags, sizeof(flags));
        keyed = strchr(flags, 'k') != NULL;
    }
    if ((n = broker_get_channels(r, replay ? 2 : 0, chans, lens)) < 0) {
        broker_reply(b, r, CTL_ERROR, "bad channel");
        return;
    }
    const char *why = NULL;
    if (replay && !keyed) {
        b->replays++;
        /* in a cluster, an id another host gave may not be here yet: then
         * nothing to send yet, the rest comes live (cluster.h) */
        if (after > b->last_id && !(b->cluster && cluster_id_given(b->cluster, after)))
            why = "unknown id";
        else if (b->cluster && after + 1 < cluster_first_id(b->cluster))
            why = "too old";    /* before what the stream keeps */
        else if (store_floor(b->store, chans, lens, (size_t)n, now) > after)
            why = "too old";
        else if (b->journal && after < journal_lost_upto(b->journal))
            why = "events lost";    /* the journal was damaged: see journal.h */
        else if (after < b->start_floor && !strchr(flags, 'c'))
            why = "broker restarted";
    }
    if (why) {
        char head[WIRE_ID_TEXT_LEN];
        b->resets++;
        wire_fmt_id(head, b->last_id);
        broker_reply(b, r, CTL_RESET, why);
        if (ctl_reply_str(r->out, head) < 0)
            ctl_reply_reset(r->out);
        return;
    }
    long k = store_collect(b->store, chans, lens, (size_t)n, after, replay && !keyed, now,
        &b->scratch, &b->scratch_cap);
    if (k < 0) {
        broker_reply(b, r, CTL_ERROR, "out of memory");
        return;
    }
    if (replay && !keyed)
        b->replayed += (uint64_t)k;
    broker_reply_hits(b, r, b->scratch, k, after);
}

/* an acknowledged publish in cluster mode: its outcome (JetStream's
 * answer, or a refusal here) answered in the order asked (struct broker) */
static void
broker_op_publish_cluster(broker_t *b, broker_request_t *r)
{
    msg_t m;
    const char *reason = NULL;

    if (b->ack_n == BROKER_ACKWAIT) {   /* that many unanswered: out of turn */
        broker_reject(b, "cluster_busy", "acknowledged publish");
        broker_reply(b, r, CTL_ERROR, "cluster_busy");
        return;
    }
    uint64_t token = b->ack_first + b->ack_n++;
    broker_ackwait_t *w = &b->ackwait[token % BROKER_ACKWAIT];
    assert(w->token == 0);
    *w = (broker_ackwait_t){ .token = token, .idlen = r->idlen };
    memcpy(w->ident, r->ident, r->idlen);
    if (msg_parse(&m, r->q->arg[0].p, r->q->arg[0].len, b->cfg->broker.max_message,
        &reason) == 0) {
        if (broker_accept_cluster(b, &m, r->q->arg[0].p, r->q->arg[0].len, token, &reason) == 0)
            reason = NULL;      /* in flight: broker_cluster_acked */
        msg_clear(&m);
    }
    if (reason) {
        broker_reject(b, reason, "acknowledged publish");
        w->done = 1;
        w->reason = reason;
    }
}

/* an acknowledged publish refused for REASON: queued as an answer only,
 * so that it is sent in its turn (broker_commit) after the publishes
 * before it; the caller fills in who asked.  Room is made by the caller. */
static void
broker_queue_refusal(broker_t *b, const char *reason)
{
    broker_pending_t *p = &b->pending[b->npending];

    assert(b->npending < BROKER_BATCH);
    p->ev = NULL;
    p->nch = 0;
    p->refused = reason;
    if (b->npending++ == 0)
        b->batch_start_us = wall_us();
}

static void
broker_op_publish(broker_t *b, broker_request_t *r)
{
    msg_t m;
    const char *reason;

    if (b->cluster) {
        broker_op_publish_cluster(b, r);
        return;
    }
    if (b->npending == BROKER_BATCH)
        broker_commit(b);
    if (msg_parse(&m, r->q->arg[0].p, r->q->arg[0].len, b->cfg->broker.max_message,
        &reason) < 0) {
        broker_reject(b, reason, "acknowledged publish");
        broker_queue_refusal(b, reason);
    } else {
        if (broker_accept_local(b, &m, &reason) < 0) {
            broker_reject(b, reason, NULL);
            broker_queue_refusal(b, reason);
        }
        msg_clear(&m);
    }
    /* answered once committed (broker_commit), in the order asked */
    broker_pending_t *p = &b->pending[b->npending - 1];
    p->ack = 1;
    p->idlen = r->idlen;
    memcpy(p->ident, r->ident, r->idlen);
}

static void
broker_route_count(void *ctx, const char *route, unsigned n)
{
    json_t *o = ctx;
    json_t *cur = json_object_get(o, route);
    json_object_set_new(o, route, json_integer((cur ? json_integer_value(cur) : 0) + n));
}

static char *
broker_stats_json(broker_t *b)
{
    json_t *o = json_object(), *reasons = json_object();
    int64_t now = wall_us();

    for (size_t i = 0; i < BROKER_REASONS_MAX && b->reasons[i].reason; i++)
        json_object_set_new(reasons, b->reasons[i].reason, json_integer((json_int_t)b->reasons[i].n));
    json_object_set_new(o, "uptime_s", json_integer((now - b->started_us) / 1000000));
    json_object_set_new(o, "channels", json_integer((json_int_t)store_channels(b->store)));
    json_object_set_new(o, "published", json_integer((json_int_t)b->published));
    json_object_set_new(o, "rejected", json_integer((json_int_t)b->rejected));
    json_object_set_new(o, "rejected_reasons", reasons);
    json_object_set_new(o, "publish_batches", json_integer((json_int_t)b->batches));
    json_object_set_new(o, "events_buffered", json_integer((json_int_t)store_events(b->store)));
    json_object_set_new(o, "state_keys", json_integer((json_int_t)store_keys(b->store)));
    json_object_set_new(o, "memory", json_integer((json_int_t)store_memory(b->store)));
    json_object_set_new(o, "max_memory", json_integer((json_int_t)b->cfg->broker.max_memory));
    json_object_set_new(o, "evicted", json_integer((json_int_t)store_evicted(b->store)));
    json_object_set_new(o, "replays", json_integer((json_int_t)b->replays));
    json_object_set_new(o, "replayed", json_integer((json_int_t)b->replayed));
    json_object_set_new(o, "publish_latency_us", json_integer((json_int_t)b->lat_last_us));
    json_t *routes = json_object();
    leases_by_route(b->leases, broker_route_count, routes);
    json_object_set_new(o, "streams_by_route", routes);
    json_object_set_new(o, "resets", json_integer((json_int_t)b->resets));
    json_object_set_new(o, "leases", json_integer((json_int_t)leases_count(b->leases)));
    json_object_set_new(o, "control_requests", json_integer((json_int_t)b->control_requests));
    json_object_set_new(o, "control_refused", json_integer((json_int_t)b->control_refused));
    json_object_set_new(o, "replies_split", json_integer((json_int_t)b->replies_split));
    json_object_set_new(o, "leases_refused", json_integer((json_int_t)b->leases_refused));
    json_object_set_new(o, "leases_foreign", json_integer((json_int_t)b->leases_foreign));
    json_object_set_new(o, "last_id", json_integer((json_int_t)b->last_id));
    json_object_set_new(o, "journal", b->journal ? json_integer((json_int_t)journal_size(b->journal))
                                                : json_null());
    json_object_set_new(o, "journal_errors", json_integer((json_int_t)b->journal_errors));
    zap_counts_t zc = zap_refused(b->zap);
    json_object_set_new(o, "curve", json_boolean(b->curve.on));
    uint64_t skipped = 0, refollowed = 0;
    if (b->cluster)
        cluster_counts(b->cluster, &skipped, &refollowed);
    json_object_set_new(o, "cluster", b->cluster ? json_pack("{s:b,s:I,s:I,s:I}", "connected",
        cluster_ready(b->cluster), "first_id", (json_int_t)cluster_first_id(b->cluster),
        "skipped", (json_int_t)skipped, "refollowed", (json_int_t)refollowed) : json_null());
    json_object_set_new(o, "auth_refused", json_integer((json_int_t)(zc.unknown_key + zc.handshake)));
    json_object_set_new(o, "auth_refused_reasons", json_pack("{s:I,s:I}",
        "unknown_key", (json_int_t)zc.unknown_key, "handshake", (json_int_t)zc.handshake));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void
broker_op_ping(broker_t *b, broker_request_t *r)
{
    broker_reply(b, r, CTL_OK, NULL);
}

/* the revoked tokens, whole, to every worker (revoke.h) */
static void
broker_publish_revoked(broker_t *b)
{
    char *json = revoke_dump(b->revoked);
    wire_event_t we = { .id = 1, .kind = ZSSE_KIND_JSON, .event = "", .channel = REVOKE_TOPIC,
                        .channel_len = sizeof(REVOKE_TOPIC) - 1 };

    if (!json)
        return;
    we.data = json;
    we.data_len = strlen(json);
    if (wire_send_event(b->xpub, &we) < 0)
        log_msg(LOG_ERR, "revoke: %s", zmq_strerror(errno));
    free(json);
}

/* revoke KIND VALUE TTL -> ok | error REASON: refuse the tokens of sub
 * (issued until now) or jti VALUE for TTL seconds, and have the workers
 * end their streams (sizes checked by ctl_decode) */
static void
broker_op_revoke(broker_t *b, broker_request_t *r)
{
    const ctl_arg_t *a = r->q->arg;
    char kind[4], ttl_s[12];
    int64_t now = (int64_t)wall_s();

    ctl_arg_str(&a[0], kind, sizeof(kind));
    ctl_arg_str(&a[2], ttl_s, sizeof(ttl_s));
    char *end;
    long ttl = strtol(ttl_s, &end, 10);
    if (*end || ttl < 1 || ttl > REVOKE_TTL_MAX) {
        broker_reply(b, r, CTL_ERROR, "bad ttl");
        return;
    }
    revoke_expire(b->revoked, now);
    if (revoke_add(b->revoked, kind, a[1].p, a[1].len, now, now + ttl) < 0) {
        broker_reply(b, r, CTL_ERROR, "bad kind or value, or the table is full");
        return;
    }
    log_msg(LOG_INFO, "revoked %s %.*s for %ld s", kind, (int)a[1].len, a[1].p, ttl);
    broker_publish_revoked(b);
    broker_reply(b, r, CTL_OK, NULL);
}

static void
broker_op_head(broker_t *b, broker_request_t *r)
{
    char head[WIRE_ID_TEXT_LEN];
    wire_fmt_id(head, b->last_id);
    broker_reply(b, r, CTL_OK, head);
}

static void
broker_op_stats(broker_t *b, broker_request_t *r)
{
    char *s = broker_stats_json(b);
    broker_reply(b, r, s ? CTL_OK : CTL_ERROR, s ? s : "out of memory");
    free(s);
}

/* the route whose path pattern is ROUTE (NULL: none) */
static const route_t *
broker_find_route(const broker_t *b, const ctl_arg_t *route)
{
    for (size_t i = 0; i < b->cfg->nroutes; i++)
        if (ctl_arg_is(route, b->cfg->routes[i].path))
            return &b->cfg->routes[i];
    return NULL;
}

void
broker_set_leasekv(broker_t *b, leasekv_t *lk)
{
    b->leasekv = lk;
}

/* hand a bucket request to the lease thread (lease_jobs.h): OP for the
 * lease ID of GROUP, SLOT what it holds (renew, release), TAG the take's.
 * 0, or -1 when the queue is full. */
static int
broker_lease_job(broker_t *b, leasejob_op_t op, const broker_request_t *r, const char *group,
    size_t glen, unsigned limit, const char *id, int64_t now, const lease_slot_t *slot,
    const char *tag)
{
    leasejob_t job;

    assert(glen <= sizeof(job.group) && r->idlen <= CTL_IDENT_MAX);
    memset(&job, 0, sizeof(job));
    job.op = op;
    memcpy(job.group, group, glen);
    job.glen = glen;
    snprintf(job.id, sizeof(job.id), "%s", id);
    job.limit = limit;
    job.now_us = now;
    if (slot)
        job.slot = *slot;
    job.idlen = r->idlen;
    memcpy(job.ident, r->ident, r->idlen);
    snprintf(job.tag, sizeof(job.tag), "%s", tag ? tag : "");
    if (leasejobs_submit(b->leasejobs, &job) < 0) {
        log_limited(&b->rl, LOG_WARNING, "cluster leases: %d requests waiting: one dropped",
            LEASEJOBS_MAX);
        return -1;
    }
    return 0;
}

/* a take's result: the lease kept (its slot noted) and answered "ok", or
 * dropped and answered "full" or "refused" */
static void
broker_lease_job_taken(broker_t *b, const leasejob_t *job)
{
    const char *g;
    size_t gl;
    lease_slot_t *ls = leases_slot(b->leases, job->id, LEASE_ID_LEN, &g, &gl);
    ctl_status_t st = job->rc == LEASE_TAKEN ? CTL_OK : job->rc == LEASE_FULL ? CTL_FULL
                                                                              : CTL_REFUSED;
    if (job->rc == LEASE_TAKEN && ls) {
        *ls = job->slot;
    } else {
        if (job->rc == LEASE_TAKEN) {       /* gone here meanwhile: free it there */
            leasejob_t rel = *job;
            rel.op = LEASEJOB_RELEASE;
            (void)leasejobs_submit(b->leasejobs, &rel);
            st = CTL_REFUSED;
        }
        (void)leases_release(b->leases, job->id, LEASE_ID_LEN, job->ident, job->idlen);
    }
    if (st == CTL_REFUSED)
        b->leases_refused++;
    if (ctl_reply_status(&b->ackout, st, job->tag) < 0 ||
        (st != CTL_FULL && ctl_reply_str(&b->ackout, st == CTL_OK ? job->id
                                                 : "cluster leases unavailable") < 0))
        return;
    ctl_reply_send(&b->ackout, b->router, job->ident, job->idlen);
}

/* the lease thread's results (each turn of the loop) */
static void
broker_lease_jobs_done(broker_t *b)
{
    leasejob_t job;

    for (int i = 0; i < BROKER_BATCH && leasejobs_done(b->leasejobs, &job); i++) {
        if (job.op == LEASEJOB_TAKE) {
            broker_lease_job_taken(b, &job);
        } else if (job.op == LEASEJOB_RENEW) {
            const char *g;
            size_t gl;
            lease_slot_t *ls = leases_slot(b->leases, job.id, LEASE_ID_LEN, &g, &gl);
            if (!ls || !ls->held)
                continue;                   /* released meanwhile */
            if (job.rc == LEASEKV_LOST) {
                log_limited(&b->rl, LOG_WARNING, "lease %s: its cluster slot is lost (taken "
                    "over, or not renewed in time)", job.id);
                (void)leases_release(b->leases, job.id, LEASE_ID_LEN, job.ident, job.idlen);
            } else if (job.rc == LEASEKV_DONE) {
                *ls = job.slot;
            }
        }
    }
}

/* cluster mode: the lease ID just taken here (without a limit) also
 * takes one of the LIMIT slots of GROUP in the bucket, which counts every
 * broker's; if it gets none, it goes again.  *WHY on a NATS failure. */
static lease_take_t
broker_lease_kv_take(broker_t *b, broker_request_t *r, const char *group, size_t glen,
    unsigned limit, const char *id, int64_t now, const char **why)
{
    const char *g;
    size_t gl;
    lease_slot_t *ls = leases_slot(b->leases, id, LEASE_ID_LEN, &g, &gl);
    assert(ls && !ls->held);
    lease_take_t rc = leasekv_take(b->leasekv, group, glen, limit, id, now, ls);
    if (rc != LEASE_TAKEN)
        (void)leases_release(b->leases, id, LEASE_ID_LEN, r->ident, r->idlen);
    if (rc == LEASE_TABLE_FULL)
        *why = "cluster leases unavailable";
    return rc;
}

/* lease ROUTE SUB TAG: the limit is the route's max_per_user in our own
 * config, the lease the asking connection's; in cluster mode the limit
 * counts every broker's leases (broker_lease_kv_take) */
static void
broker_op_lease(broker_t *b, broker_request_t *r)
{
    const ctl_arg_t *a = r->q->arg;
    const route_t *rt = broker_find_route(b, &a[0]);
    char group[2 * CTL_FIELD_MAX + 2], tag[CTL_TAG_MAX + 1], id[LEASE_ID_LEN + 1];
    const char *why = NULL;
    lease_take_t rc = LEASE_TABLE_FULL;

    ctl_arg_str(&a[2], tag, sizeof(tag));
    if (!rt)
        why = "unknown route";
    else if (rt->max_per_user > 0 && a[1].len == 0)
        why = "no subject";
    else {
        memcpy(group, a[0].p, a[0].len);
        group[a[0].len] = '\0';
        memcpy(group + a[0].len + 1, a[1].p, a[1].len);
        unsigned limit = (unsigned)(rt->max_per_user > 0 ? rt->max_per_user : 0);
        int kv = b->leasekv && limit;
        int64_t now = wall_us();
        rc = leases_take(b->leases, group, a[0].len + 1 + a[1].len, kv ? 0 : limit,
            r->ident, r->idlen, id, now);
        why = rc == LEASE_OWNER_FULL ? "too many leases on this connection"
            : rc == LEASE_TABLE_FULL ? "lease table full" : NULL;
        if (rc == LEASE_TAKEN && kv && b->leasejobs) {
            if (broker_lease_job(b, LEASEJOB_TAKE, r, group, a[0].len + 1 + a[1].len, limit,
                id, now, NULL, tag) == 0)
                return;         /* answered when done: broker_lease_jobs_done */
            (void)leases_release(b->leases, id, LEASE_ID_LEN, r->ident, r->idlen);
            why = "cluster leases busy";
        } else if (rc == LEASE_TAKEN && kv) {
            rc = broker_lease_kv_take(b, r, group, a[0].len + 1 + a[1].len, limit, id, now,
                &why);
        }
    }
    if (why) {
        b->leases_refused++;
        log_limited(&b->rl, LOG_WARNING, "lease refused: %s", why);
        broker_reply(b, r, CTL_REFUSED, tag);
        if (ctl_reply_str(r->out, why) < 0)
            ctl_reply_reset(r->out);
        return;
    }
    broker_reply(b, r, rc == LEASE_TAKEN ? CTL_OK : CTL_FULL, tag);
    if (rc == LEASE_TAKEN && ctl_reply_str(r->out, id) < 0)
        ctl_reply_reset(r->out);
}

/* cluster mode: renew the connection's lease ID (renewed here) in the
 * bucket too.  A lease whose slot is lost (taken over after its expiry
 * there, or too near it to renew safely: lease_kv.h) is dropped here too;
 * after a NATS failure it is kept and renewed at the next renewal. */
static void
broker_lease_kv_renew(broker_t *b, broker_request_t *r, const ctl_arg_t *id, int64_t now)
{
    const char *g;
    size_t gl;
    char lid[LEASE_ID_LEN + 1];
    lease_slot_t *ls = leases_slot(b->leases, id->p, id->len, &g, &gl);
    if (!ls || !ls->held)
        return;
    ctl_arg_str(id, lid, sizeof(lid));
    if (b->leasejobs) {         /* a full queue skips it: the next is in time */
        (void)broker_lease_job(b, LEASEJOB_RENEW, r, g, gl, 0, lid, now, ls, NULL);
        return;
    }
    if (leasekv_renew(b->leasekv, g, gl, lid, now, ls) == LEASEKV_LOST) {
        log_limited(&b->rl, LOG_WARNING, "lease %s: its cluster slot is lost (taken over, "
            "or not renewed in time)", lid);
        (void)leases_release(b->leases, id->p, id->len, r->ident, r->idlen);
    }
}

/* at a clean stop: free this broker's slots in the bucket now, so that
 * its users may open streams on another host at once rather than after
 * WIRE_LEASE_TTL (its workers' open streams go on without a lease, as
 * after a single broker's restart).  At most LEASEKV_DEADLINE_MS; what is
 * left expires. */
typedef struct {
    leasekv_t *lk;
    int64_t    deadline_ms;
    size_t     freed;
} broker_kv_free_t;

static void
broker_lease_kv_free_one(void *ctx, const char *id, size_t idlen, const char *group,
    size_t glen, const lease_slot_t *slot)
{
    broker_kv_free_t *f = ctx;
    char lid[LEASE_ID_LEN + 1];
    if (mono_ms() > f->deadline_ms || idlen != LEASE_ID_LEN)
        return;
    memcpy(lid, id, LEASE_ID_LEN);
    lid[LEASE_ID_LEN] = '\0';
    if (leasekv_release(f->lk, group, glen, lid, slot) == LEASEKV_DONE)
        f->freed++;
}

static void
broker_lease_kv_free_all(broker_t *b)
{
    broker_kv_free_t f = { b->leasekv, mono_ms() + LEASEKV_DEADLINE_MS, 0 };
    if (!b->leasekv)
        return;
    leases_each_slot(b->leases, broker_lease_kv_free_one, &f);
    log_msg(LOG_INFO, "cluster: freed %zu lease slots", f.freed);
}

/* renew LEASEID... and release LEASEID...: only the connection's own */
static void
broker_op_leases(broker_t *b, broker_request_t *r)
{
    int64_t now = wall_us();
    for (unsigned i = 0; i < r->q->nargs; i++) {
        const ctl_arg_t *id = &r->q->arg[i];
        lease_slot_t slot = { 0 };
        char g[LEASEKV_GROUP_MAX], lid[LEASE_ID_LEN + 1];
        size_t gl = 0;
        if (b->leasekv && r->q->op == CTL_RELEASE) {    /* what it holds, before it goes */
            const char *gp;
            const lease_slot_t *ls = leases_slot(b->leases, id->p, id->len, &gp, &gl);
            if (ls && ls->held && gl <= sizeof(g)) {
                slot = *ls;
                memcpy(g, gp, gl);
            }
        }
        lease_op_t rc = r->q->op == CTL_RENEW
            ? leases_renew(b->leases, id->p, id->len, r->ident, r->idlen, now)
            : leases_release(b->leases, id->p, id->len, r->ident, r->idlen);
        if (rc == LEASE_FOREIGN)
            b->leases_foreign++;
        if (rc == LEASE_DONE && b->leasekv && r->q->op == CTL_RENEW)
            broker_lease_kv_renew(b, r, id, now);
        if (rc == LEASE_DONE && slot.held) {
            ctl_arg_str(id, lid, sizeof(lid));
            if (b->leasejobs)       /* a full queue drops it: the slot expires */
                (void)broker_lease_job(b, LEASEJOB_RELEASE, r, g, gl, 0, lid, now, &slot, NULL);
            else
                (void)leasekv_release(b->leasekv, g, gl, lid, &slot);
        }
    }
    broker_reply(b, r, CTL_OK, NULL);
}

/* the handler of each operation of ctl_ops[] */
static void (*const broker_handlers[CTL_NOPS])(broker_t *, broker_request_t *) = {
    [CTL_PING] = broker_op_ping, [CTL_HEAD] = broker_op_head, [CTL_PUBLISH] = broker_op_publish,
    [CTL_REPLAY] = broker_op_replay, [CTL_STATE] = broker_op_replay, [CTL_STATS] = broker_op_stats,
    [CTL_LEASE] = broker_op_lease, [CTL_RENEW] = broker_op_leases, [CTL_RELEASE] = broker_op_leases,
    [CTL_REVOKE] = broker_op_revoke,
};

void
broker_control(broker_t *b, const char *ident, size_t idlen, const ctl_arg_t *frames,
    size_t n, ctl_reply_t *out)
{
    ctl_err_t e = ctl_decode(frames, n, &b->req);
    broker_request_t r = { ident, idlen, &b->req, out };

    ctl_reply_reset(out);
    b->control_requests++;
    if (idlen > CTL_IDENT_MAX) {
        b->control_refused++;
        return;
    }
    if (e != CTL_E_OK) {
        b->control_refused++;
        log_limited(&b->rl, LOG_WARNING, "control request refused: %s", ctl_strerror(e));
        broker_reply(b, &r, CTL_ERROR, ctl_strerror(e));
        return;
    }
    /* no NATS: what reads the mirror, which may be behind the stream, is
     * refused (zsse-fcgi: 503); publishes and leases refuse themselves
     * (cluster_publish, leasekv), in their turn and with their tag */
    if (b->cluster && !cluster_ready(b->cluster) &&
        (b->req.op == CTL_HEAD || b->req.op == CTL_REPLAY || b->req.op == CTL_STATE)) {
        broker_reply(b, &r, CTL_ERROR, "cluster unavailable");
        return;
    }
    broker_handlers[b->req.op](b, &r);
}

/* one request from ROUTER; 0 when nothing is waiting */
static int
broker_control_one(broker_t *b)
{
    ctl_frames_t *m = &b->in;
    ctl_arg_t *v = b->views;

    int rc = ctl_recv(b->router, m, ZMQ_DONTWAIT);
    if (rc <= 0)
        return 0;
    /* routing id, empty delimiter, op, arguments */
    ctl_arg_t id = ctl_frame(m, 0), delim = ctl_frame(m, 1);
    if (m->n < 2 || delim.len != 0 || id.len > CTL_IDENT_MAX) {
        b->control_refused++;
        ctl_frames_close(m);
        return 1;
    }
    if (m->truncated) {
        b->control_refused++;
        b->control_requests++;
        broker_reply(b, &(broker_request_t){ id.p, id.len, NULL, &b->out }, CTL_ERROR, "too many arguments");
    } else {
        for (size_t i = 2; i < m->n; i++)
            v[i - 2] = ctl_frame(m, i);
        broker_control(b, id.p, id.len, v, m->n - 2, &b->out);
    }
    ctl_reply_send(&b->out, b->router, id.p, id.len);
    ctl_frames_close(m);
    return 1;
}

/* --- life cycle ------------------------------------------------------------- */

static int
broker_replay_record(void *ctx, const event_rec_t *rec)
{
    broker_t *b = ctx;
    int64_t now = wall_us();

    if (rec->kind == JOURNAL_KIND_FLOOR) {     /* from the floors file */
        store_channel_t *ch = store_channel(b->store, rec->channels[0], rec->channel_lens[0], 1);
        if (ch && rec->id > ch->floor)
            ch->floor = rec->id;
        if (ch)
            ch->touched_us = now;
        return 0;
    }
    store_event_t *ev = store_event_new(rec);

    if (!ev)
        return -1;
    store_make_room(b->store, 0);   /* a smaller max_memory than the journal's */
    for (size_t i = 0; i < rec->nchannels; i++) {
        store_channel_t *ch = store_channel(b->store, rec->channels[i], rec->channel_lens[i], 1);
        if (ch)
            store_restore(b->store, ch, ev, now);
    }
    store_event_unref(ev);
    if (rec->id > b->last_id)
        b->last_id = rec->id;
    return 0;
}

static void *
broker_bind_socket(broker_t *b, int type, const char *endpoint, char *err, size_t errlen)
{
    void *s = zmq_socket(b->ctx, type);
    int zero = 0, hwm = 1000000;

    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (type == ZMQ_ROUTER) {
        /* replies a peer leaves unread: at most this many (of at most
         * CTL_REPLY_MAX bytes of events each); the rest are dropped */
        int ctl_hwm = BROKER_CTL_SNDHWM;
        zmq_setsockopt(s, ZMQ_SNDHWM, &ctl_hwm, sizeof(ctl_hwm));
    }
    if (type == ZMQ_XPUB) {
        int one = 1;
        zmq_setsockopt(s, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
    } else {
        /* bound what a peer can make us allocate: a frame up to twice
         * max_message is received and rejected as too_large (counted);
         * a larger one makes ZeroMQ drop that peer's connection */
        int64_t max = 2 * (int64_t)b->cfg->broker.max_message + 4096;
        if (type == ZMQ_PULL && max < 2 * (int64_t)BATCH_BYTES + 4096)
            max = 2 * (int64_t)BATCH_BYTES + 4096;      /* and batches (batch.h) */
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    }
    /* CURVE before the bind: no peer may get in before it.  Its crypto runs
     * in libzmq's I/O threads: publishers' connections on the first (they
     * are decrypted), the subscribers' and control's on the second (each
     * copy sent is encrypted), so neither waits for the other */
    const char *name = type == ZMQ_PULL ? "publish" : type == ZMQ_XPUB ? "events" : "control";
    uint64_t affinity = type == ZMQ_PULL ? 1 : 2;
    if (b->curve.on)
        zmq_setsockopt(s, ZMQ_AFFINITY, &affinity, sizeof(affinity));
    if (curve_server_apply(s, &b->curve) < 0 || (b->zap && zap_watch(b->zap, s, name) < 0)) {
        snprintf(err, errlen, "broker.%s: CURVE: %s", name, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    if (zmq_bind(s, endpoint) < 0) {
        snprintf(err, errlen, "bind %s: %s", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* the bytes a live event takes in the journal (see journal.h) */
static int
broker_live_size_one(void *ctx, const event_rec_t *rec)
{
    uint64_t *sum = ctx;
    *sum += journal_record_size(rec);
    return 0;
}

/* SIGTERM (or broker_halt) while the cluster mode starts */
static int
broker_cluster_stopped(void *ctx)
{
    broker_t *b = ctx;
    return broker_stop_flag || b->halt;
}

/* cluster mode: connect, and rebuild the mirror from the stream before
 * anyone is served (as the journal is read at start); nothing is published
 * while the sockets are not bound yet */
static int
broker_cluster_start(broker_t *b, char *err, size_t errlen)
{
    static const cluster_hooks_t hooks = { broker_cluster_apply, broker_cluster_acked,
        broker_cluster_stopped };
    int64_t t0 = mono_ms();

    b->ack_first = 1;           /* tokens from 1: 0 is a free slot's, and a PUSH's */
    if (!(b->ackwait = calloc(BROKER_ACKWAIT, sizeof(*b->ackwait)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(b->cluster = cluster_new(&b->cfg->broker, &hooks, b, err, errlen)))
        return -1;
    /* the bucket, retried as the stream is (a cluster starting with us
     * has no JetStream leader for a few seconds) */
    const cluster_conf_t *cl = &b->cfg->broker.cluster;
    ratelimit_t rl = { 0, 0 };
    for (int64_t end = mono_ms() + CLUSTER_START_MS; !b->leasekv_own; ) {
        if ((b->leasekv_own = leasekv_new(cluster_nats(b->cluster), cl->leases_bucket,
            cl->replicas, err, errlen)))
            break;
        if (mono_ms() >= end || broker_cluster_stopped(b))
            return -1;
        log_limited(&rl, LOG_INFO, "cluster: %s; trying again", err);
        nanosleep(&(struct timespec){ 0, 250 * 1000000 }, NULL);
    }
    b->leasekv = b->leasekv_own;
    if (!(b->leasejobs = leasejobs_new(b->leasekv_own, err, errlen)))
        return -1;
    if (cluster_rebuild(b->cluster) < 0) {
        snprintf(err, errlen, "broker.cluster: %s while reading the stream",
            broker_cluster_stopped(b) ? "stopped" : "NATS lost, or nothing came for 30 s,");
        return -1;
    }
    broker_commit(b);
    if (cluster_last_id(b->cluster) > b->last_id)
        b->last_id = cluster_last_id(b->cluster);
    store_sweep(b->store, wall_us());
    log_msg(LOG_INFO, "cluster: caught up in %" PRId64 " ms: %zu channels, %zu events, last id %"
        PRIu64, mono_ms() - t0, store_channels(b->store), store_events(b->store), b->last_id);
    return 0;
}

broker_t *
broker_new(config_t *cfg, char *err, size_t errlen)
{
    broker_t *b = calloc(1, sizeof(*b));

    if (!b || !(b->pending = calloc(BROKER_BATCH, sizeof(broker_pending_t)))) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = cfg;
    ctl_frames_init(&b->in, 3 + CTL_ARGS_MAX);
    ctl_reply_init(&b->out);
    ctl_reply_init(&b->ackout);
    b->started_us = b->last_sweep_us = wall_us();
    if (!(b->store = store_new(&cfg->broker)) || !(b->leases = leases_new()) ||
        !(b->revoked = revoke_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->broker.journal) {
        char jerr[512];
        if (!(b->journal = journal_open(cfg->broker.journal, cfg->broker.journal_fsync_ms,
            broker_replay_record, b, jerr, sizeof(jerr)))) {
            snprintf(err, errlen, "journal: %s", jerr);
            goto fail;
        }
        store_sweep(b->store, wall_us());
        /* what a compaction would leave: the next one only once the
         * journal is twice that (so not at once when it would free nothing) */
        store_each_live(b->store, broker_live_size_one, &b->compact_base);
        log_msg(LOG_INFO, "journal %s: %zu channels, %zu events, last id %" PRIu64,
            cfg->broker.journal, store_channels(b->store), store_events(b->store), b->last_id);
    } else if (cfg->broker.cluster.servers) {
        if (broker_cluster_start(b, err, errlen) < 0)
            goto fail;
    } else {
        /* no journal: anything before now is from a run we know nothing of */
        b->start_floor = (uint64_t)b->started_us;
        b->last_id = b->start_floor;
    }
    b->issued_id = b->last_id;
    if (!(b->ctx = zmq_ctx_new())) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto fail;
    }
    /* with CURVE, the ZAP handler is bound before any endpoint, and the
     * cryptography gets a second I/O thread (broker_bind_socket, tests/bench/broker) */
    if (curve_server_load(&cfg->broker, &b->curve, err, errlen) < 0)
        goto fail;
    if (b->curve.on) {
        zmq_ctx_set(b->ctx, ZMQ_IO_THREADS, BROKER_CURVE_IO_THREADS);  /* before any socket */
        if (!(b->zap = zap_start(b->ctx, &b->curve, err, errlen)))
            goto fail;
    }
    if (!(b->pull = broker_bind_socket(b, ZMQ_PULL, cfg->broker.publish, err, errlen)) ||
        !(b->xpub = broker_bind_socket(b, ZMQ_XPUB, cfg->broker.events, err, errlen)) ||
        !(b->router = broker_bind_socket(b, ZMQ_ROUTER, cfg->broker.control, err, errlen)))
        goto fail;
    if (b->zap && zap_run(b->zap) < 0) {
        snprintf(err, errlen, "ZAP handler: %s", strerror(errno));
        goto fail;
    }
    if (b->curve.on)
        log_msg(LOG_INFO, "CURVE on: %zu client keys allowed", b->curve.nallowed);
    return b;
fail:
    broker_destroy(&b);
    return NULL;
}

static int
broker_compact_one(void *ctx, const event_rec_t *rec)
{
    broker_t *b = ctx;
    return journal_append(b->journal, rec);
}

static int
broker_floor_one(void *ctx, const char *name, size_t len, uint64_t floor)
{
    return journal_floor_add(ctx, name, len, floor);
}

/* the channels' floors into DIR/floors.zf, before any segment goes */
static int
broker_save_floors(broker_t *b)
{
    if (store_each_floor(b->store, broker_floor_one, b->journal) < 0 ||
        journal_floors_save(b->journal) < 0) {
        log_msg(LOG_ERR, "journal: saving the floors: %s (no segment is deleted)",
            strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Compaction (long-lived state pins old segments): a forked child writes
 * the live events into DIR/compact-PID-MS.tmp from its copy of the store, while
 * this process goes on taking events into a new segment; when the child
 * has exited 0, the floors are saved and the new segment replaces the old
 * ones.  It starts only when the journal has doubled since the last one
 * (so a journal whose live events alone are large is not rewritten again
 * and again for nothing).
 */
static void
broker_compact_start(broker_t *b, uint64_t seg_max)
{
    uint64_t size = journal_size(b->journal);

    if (b->compact_pid || size <= 4 * seg_max || size < 2 * b->compact_base)
        return;
    if (journal_compact_begin(b->journal) < 0) {
        log_msg(LOG_ERR, "journal: compaction: %s", strerror(errno));
        return;
    }
    int64_t t0 = mono_ms();
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
#ifdef __linux__
        /* not to outlive a broker killed meanwhile */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
#endif
        int rc = store_each_live(b->store, broker_compact_one, b) < 0 ||
                 journal_compact_write(b->journal) < 0;
        if (rc)
            log_msg(LOG_ERR, "journal: compaction: %s", strerror(errno));
        _exit(rc);
    }
    if (pid < 0) {
        log_msg(LOG_ERR, "journal: compaction: fork: %s", strerror(errno));
        journal_compact_abort(b->journal);
        b->compact_base = size;     /* not again before it has doubled */
        return;
    }
    b->compact_pid = pid;
    b->compact_started_ms = mono_ms();
    b->compact_fork_ms = b->compact_started_ms - t0;
    log_msg(LOG_INFO, "journal: compacting %" PRIu64 " bytes (process %d)", size, (int)pid);
}

/* the compaction's child has exited: finish or abort it.  WAIT: block. */
static void
broker_compact_reap(broker_t *b, int wait)
{
    int st;
    pid_t r;

    if (!b->compact_pid)
        return;
    if (wait)
        kill(b->compact_pid, SIGKILL);
    while ((r = waitpid(b->compact_pid, &st, wait ? 0 : WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return;
    b->compact_pid = 0;
    if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (!wait)
            log_msg(LOG_ERR, "journal: compaction failed (the old segments stay)");
        journal_compact_abort(b->journal);
        b->compact_base = journal_size(b->journal);
        return;
    }
    int64_t t0 = mono_ms();
    if (broker_save_floors(b) < 0) {
        journal_compact_abort(b->journal);
        return;
    }
    if (journal_compact_finish(b->journal) < 0) {
        log_msg(LOG_ERR, "journal: compaction: %s (the old segments stay)", strerror(errno));
        return;
    }
    b->compact_base = journal_size(b->journal);
    int64_t t1 = mono_ms();
    log_msg(LOG_INFO, "journal: compacted to %" PRIu64 " bytes in %" PRId64 " ms; ingest "
        "stopped for %" PRId64 " ms of it (fork %" PRId64 ", floors and rename %" PRId64 ")",
        b->compact_base, t1 - b->compact_started_ms, b->compact_fork_ms + t1 - t0,
        b->compact_fork_ms, t1 - t0);
}

static void
broker_maintenance(broker_t *b, int64_t now)
{
    b->lat_last_us = b->lat_n ? b->lat_sum_us / b->lat_n : 0;
    b->lat_sum_us = b->lat_n = 0;
    store_sweep(b->store, now);
    leases_expire(b->leases, now);     /* (cluster: their slots expire with them) */
    /* (once a second: a worker that started since, or missed one, learns) */
    if (revoke_expire(b->revoked, now / 1000000) > 0)
        broker_publish_revoked(b);
    if (b->journal) {
        static size_t seg_max;
        if (!seg_max) {
            const char *e = getenv("ZSSE_JOURNAL_SEGMENT_BYTES");  /* tests */
            seg_max = e && atol(e) > 0 ? (size_t)atol(e) : JOURNAL_SEGMENT_MAX;
        }
        broker_compact_reap(b, 0);
        journal_maybe_rotate(b->journal, seg_max);
        uint64_t min_live = store_min_live(b->store);
        if (journal_can_drop(b->journal, min_live) && broker_save_floors(b) == 0)
            journal_drop_before(b->journal, min_live);
        broker_compact_start(b, seg_max);
    }
}

/* SIGHUP: read broker.curve.clients again (a directory may have changed);
 * on an error the keys in force stay */
static void
broker_reload_clients(broker_t *b)
{
    curve_server_t fresh;
    char err[600];

    if (!b->zap)
        return;
    if (curve_server_load(&b->cfg->broker, &fresh, err, sizeof(err)) < 0) {
        log_msg(LOG_ERR, "CURVE clients not reloaded: %s", err);
        return;
    }
    zap_allow(b->zap, &fresh);
    log_msg(LOG_INFO, "CURVE clients reloaded: %zu keys allowed", b->curve.nallowed);
    curve_server_clear(&fresh);
}

int
broker_run(broker_t *b)
{
    zmq_pollitem_t items[5] = {
        { b->pull, 0, ZMQ_POLLIN, 0 },
        { b->router, 0, ZMQ_POLLIN, 0 },
        { b->xpub, 0, ZMQ_POLLIN, 0 },
        { NULL, b->cluster ? cluster_fd(b->cluster) : -1, ZMQ_POLLIN, 0 },
        { NULL, b->leasejobs ? leasejobs_fd(b->leasejobs) : -1, ZMQ_POLLIN, 0 },
    };
    int nitems = b->leasejobs ? 5 : b->cluster ? 4 : 3;

    log_msg(LOG_INFO, "listening: publish %s, events %s, control %s",
        b->cfg->broker.publish, b->cfg->broker.events, b->cfg->broker.control);
    while (!broker_stop_flag && !b->halt) {
        int timeout = 1000, due = b->journal ? journal_sync_in_ms(b->journal) : -1;
        if (due >= 0 && due < timeout)
            timeout = due;      /* the N-ms policy's sync */
        /* a cluster with its window nearly full: publishers wait (cluster.h) */
        int full = b->cluster && cluster_full(b->cluster);
        items[0].events = full ? 0 : ZMQ_POLLIN;
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0 && errno != EINTR) {
            log_msg(LOG_ERR, "zmq_poll: %s", zmq_strerror(errno));
            return -1;
        }
        if (broker_hup_flag) {
            broker_hup_flag = 0;
            if (log_reopen() < 0)
                log_msg(LOG_ERR, "reopening the log: %s", strerror(errno));
            else
                log_msg(LOG_INFO, "log reopened");
            broker_reload_clients(b);
        }
        /* subscriptions first: a sync marker must follow its subscription */
        for (int i = 0; i < BROKER_BATCH && (items[2].revents & ZMQ_POLLIN); i++) {
            int more = 0;
            size_t sz = sizeof(more);
            broker_on_subscription(b);
            zmq_getsockopt(b->xpub, ZMQ_EVENTS, &more, &sz);
            if (!(more & ZMQ_POLLIN))
                break;
        }
        /* the stream's events and answers before more is published */
        if (b->cluster)
            broker_cluster_poll(b);
        if (b->leasejobs)
            broker_lease_jobs_done(b);
        /* up to BROKER_BATCH messages, so control requests wait no longer
         * for batch frames than for lone messages */
        for (int taken = 0, k; !full && taken < BROKER_BATCH && b->npending < BROKER_BATCH &&
             (k = broker_ingest_one(b)) > 0; taken += k)
            ;
        for (int i = 0; i < BROKER_BATCH && broker_control_one(b); i++)
            ;
        if (b->cluster)
            broker_cluster_answer(b);   /* refusals made while reading them */
        broker_commit(b);
        if (b->journal && journal_tick(b->journal) < 0) {
            b->journal_errors++;
            log_limited(&b->rl, LOG_ERR, "journal: fdatasync: %s", strerror(errno));
        }
        int64_t now = wall_us();
        if (now - b->last_sweep_us >= 1000000) {
            b->last_sweep_us = now;
            broker_maintenance(b, now);
            if (b->cluster && cluster_lost(b->cluster)) {
                log_msg(LOG_ERR, "cluster: the stream %s was deleted and made again: its ids "
                    "start again below %" PRIu64 ", the last this broker applied; stopping "
                    "(started again, the broker serves the stream as it is now, and clients "
                    "get the reset event)", b->cfg->broker.cluster.stream, b->last_id);
                return -1;
            }
        }
    }
    broker_commit(b);
    if (b->journal)
        broker_compact_reap(b, 1);
    leasejobs_destroy(&b->leasejobs);  /* the leasekv is this thread's again */
    broker_lease_kv_free_all(b);
    log_msg(LOG_INFO, "stopping");
    return 0;
}

void
broker_destroy(broker_t **bp)
{
    broker_t *b = *bp;
    if (!b)
        return;
    leasejobs_destroy(&b->leasejobs);  /* its thread uses the leasekv */
    leasekv_destroy(&b->leasekv_own);  /* before its connection goes */
    cluster_destroy(&b->cluster);      /* its threads call into us: first */
    if (b->pull) zmq_close(b->pull);
    if (b->xpub) zmq_close(b->xpub);
    if (b->router) zmq_close(b->router);
    zap_stop(&b->zap, b->ctx);
    if (b->ctx) zmq_ctx_term(b->ctx);
    curve_server_clear(&b->curve);
    if (b->journal)
        broker_compact_reap(b, 1);
    journal_close(&b->journal);
    store_destroy(&b->store);
    leases_destroy(&b->leases);
    revoke_destroy(&b->revoked);
    free(b->pending);
    free(b->ackwait);
    free(b->scratch);
    ctl_frames_close(&b->in);
    free(b->in.f);
    ctl_reply_free(&b->out);
    ctl_reply_free(&b->ackout);
    free(b);
    *bp = NULL;
}
