/*
 * cluster.c -- the cluster mode on NATS JetStream (design in cluster.h).
 *
 * Two queues cross from libnats' threads to the broker's: the stream's
 * messages (from the ordered consumer, in sequence order) and the answers
 * to acknowledged publishes.  Both are rings under one mutex; a producer
 * finding its ring full waits (libnats then holds its delivery, and the
 * server its flow control), and the eventfd tells the loop there is work:
 * written only by the producer that finds both rings empty (a write per
 * event would be a syscall per event; cluster_poll drains both before it
 * sleeps, or wakes itself).  What crosses the threads outside the rings
 * (connected, applied, the counters) is read and written atomically.
 * The ack ring is sized so that it never fills in practice: at most
 * CLUSTER_PUB_WINDOW publishes are in flight, and the loop empties it on
 * every turn (cluster_poll), before it publishes more.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <nats/nats.h>
#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "message.h"
#include "natskey.h"

#define CLUSTER_ACKS_MAX      (4 * CLUSTER_PUB_WINDOW)  /* answers waiting for the loop */
#define CLUSTER_ACK_HEADER    "Zsse-Ack"    /* the token of an acknowledged publish */
#define CLUSTER_RECONNECT_MS  500           /* between attempts, for ever */
#define CLUSTER_PUB_WAIT_MS   3000          /* an asynchronous publish's answer: less than
                                             * the clients' 5 s (cli/zsse.c, PUBLISH_ACK_MS),
                                             * so they hear cluster_timeout, not silence */
#define CLUSTER_STALL_MS      500           /* a full window holds the loop at most this long
                                             * (only acknowledged publishes get there:
                                             * PUSH ones wait in the socket, cluster_full) */
#define CLUSTER_PING_MS       2000          /* NATS pings: a dead server is noticed */
#define CLUSTER_HEADROOM      4096          /* bytes of a message's NATS headers */
#define CLUSTER_STALL_TICKS   2             /* s behind with no progress: follow again */
#define CLUSTER_APPLY_MAX     16777216      /* a stream message's bytes (NATS' own limit is lower) */
#define CLUSTER_SUBJECT_MAX   (CONFIG_CLUSTER_NAME_MAX + 1 + NATSKEY_MAX(ZSSE_CHANNEL_MAX))

/* an answer to an acknowledged publish, from libnats' thread */
typedef struct {
    uint64_t    token;
    uint64_t    seq;            /* 0: refused */
    const char *reason;         /* static */
} cluster_ack_t;

struct cluster {
    natsOptions      *opts;
    natsConnection   *nc;
    jsCtx            *js;
    natsSubscription *sub;
    cluster_hooks_t   hooks;
    void             *ctx;
    int               efd;
    uint64_t          offset;       /* id = sequence + offset */
    uint64_t          applied;      /* the last sequence applied: written by the loop's
                                     * thread only, read atomically by the watchdog */
    uint64_t          first_seq;    /* the stream's first at start */
    int64_t           ask_failed_ms; /* when cluster_id_given's ask last failed (mono_ms) */
    uint64_t          stream_last;  /* the stream's last as this thread knows it: asked,
                                     * acked or applied (the loop's thread) */
    char              prefix[CONFIG_CLUSTER_NAME_MAX + 1];    /* the subject prefix */
    const char       *stream;
    pthread_mutex_t   mu;
    pthread_cond_t    room;
    int               stopping;     /* under mu: producers stop waiting */
    int               connected;    /* atomic: written by libnats' threads */
    natsMsg         **msgs;         /* ring of CLUSTER_QUEUE_MAX */
    size_t            mhead, mcount;
    cluster_ack_t    *acks;         /* ring of CLUSTER_ACKS_MAX */
    size_t            ahead, acount;
    int64_t           inflight;     /* publishes not answered yet (atomic) */
    uint64_t          skipped;      /* atomic: stream messages that were not events */
    ratelimit_t       rl;           /* their log lines */
    ratelimit_t       rl_watch;     /* the watchdog's */
    /* the watchdog thread (cluster_watch) */
    pthread_t         watcher;
    int               watching;
    int               closed;       /* under mu: the connection's last callback came */
    pthread_cond_t    tick;         /* signalled on stop */
    uint64_t          watched_last; /* atomic: the stream's last, as the watchdog asked */
    int               lost_stream;  /* atomic: it was made again since we started */
    int64_t           created;      /* when the stream was made (ns), as at start */
    uint64_t          refollowed;   /* atomic: times the consumer was made again */
    const char       *subjects_cfg; /* SUBJECT, for cluster_follow */
};

/* --- libnats' threads ------------------------------------------------------ */

static void
cluster_wake(cluster_t *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->efd, &one, sizeof(one));
    (void)n;                /* EAGAIN: the counter is already non-zero */
}

/* the ordered consumer's callback: queue MSG for the loop (waits for room) */
static void
cluster_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    cluster_t *c = closure;
    (void)nc;
    (void)sub;
    pthread_mutex_lock(&c->mu);
    while (c->mcount == CLUSTER_QUEUE_MAX && !c->stopping)
        pthread_cond_wait(&c->room, &c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        natsMsg_Destroy(msg);
        return;
    }
    int wake = c->acount + c->mcount == 0;
    c->msgs[(c->mhead + c->mcount++) % CLUSTER_QUEUE_MAX] = msg;
    pthread_mutex_unlock(&c->mu);
    if (wake)                   /* else the loop has a wake-up coming, or is draining */
        cluster_wake(c);
}

/* why JetStream refused a publish, as a stable reason */
static const char *
cluster_pub_reason(const jsPubAckErr *pae)
{
    if (pae->Err == NATS_TIMEOUT)
        return "cluster_timeout";       /* stored or not: unknown */
    if (pae->Err == NATS_NO_RESPONDERS || pae->Err == NATS_CONNECTION_CLOSED ||
        pae->Err == NATS_CONNECTION_DISCONNECTED)
        return CLUSTER_REASON_DOWN;
    return "cluster_refused";
}

/* every asynchronous publish's answer: queued for the loop */
static void
cluster_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    cluster_t *c = closure;
    const char *tok = NULL;
    cluster_ack_t a = { 0, 0, NULL };

    (void)js;
    /* one answer per publish; below the mark again: the loop may read more */
    if (__atomic_sub_fetch(&c->inflight, 1, __ATOMIC_RELAXED) == CLUSTER_PUB_MARK - 1)
        cluster_wake(c);
    if (natsMsgHeader_Get(msg, CLUSTER_ACK_HEADER, &tok) == NATS_OK && tok)
        a.token = strtoull(tok, NULL, 10);
    if (pa)
        a.seq = pa->Sequence;
    else
        a.reason = pae ? cluster_pub_reason(pae) : "cluster_refused";
    natsMsg_Destroy(msg);       /* ours to free (nats.h, jsPubAckHandler) */
    if (a.token == 0 && a.seq)
        return;                 /* a PUSH publish, stored: nothing to answer */
    pthread_mutex_lock(&c->mu);
    while (c->acount == CLUSTER_ACKS_MAX && !c->stopping)
        pthread_cond_wait(&c->room, &c->mu);
    int wake = !c->stopping && c->acount + c->mcount == 0;
    if (!c->stopping)
        c->acks[(c->ahead + c->acount++) % CLUSTER_ACKS_MAX] = a;
    pthread_mutex_unlock(&c->mu);
    if (wake)
        cluster_wake(c);
}

static void
cluster_on_disconnect(natsConnection *nc, void *closure)
{
    cluster_t *c = closure;
    (void)nc;
    __atomic_store_n(&c->connected, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->mu);
    int stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (!stopping)
        log_msg(LOG_WARNING, "cluster: lost NATS; new streams and publishes are refused until it "
        "is back");
}

/* the last callback libnats makes for a connection: cluster_destroy
 * frees nothing before it has come */
static void
cluster_on_closed(natsConnection *nc, void *closure)
{
    cluster_t *c = closure;
    (void)nc;
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    pthread_cond_broadcast(&c->tick);
    pthread_mutex_unlock(&c->mu);
}

static void
cluster_on_reconnect(natsConnection *nc, void *closure)
{
    cluster_t *c = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    __atomic_store_n(&c->connected, 1, __ATOMIC_RELAXED);
    log_msg(LOG_INFO, "cluster: NATS is back (%s)", url);
}

/* --- the loop's thread ------------------------------------------------------ */

static void
cluster_skip(cluster_t *c)
{
    __atomic_add_fetch(&c->skipped, 1, __ATOMIC_RELAXED);
}

/* one message of the stream: its event to the hooks, unless it is not one
 * (counted and logged) or was applied already (an ordered consumer that
 * was reset may send again what it sent) */
static void
cluster_apply(cluster_t *c, natsMsg *msg)
{
    jsMsgMetaData *meta = NULL;
    msg_t m;
    const char *reason;

    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        cluster_skip(c);
        log_limited(&c->rl, LOG_ERR, "cluster: a message of stream %s without JetStream's "
            "metadata: skipped", c->stream);
        return;
    }
    uint64_t seq = meta->Sequence.Stream;
    int64_t ts_us = meta->Timestamp / 1000;
    jsMsgMetaData_Destroy(meta);
    if (seq <= c->applied)
        return;
    __atomic_store_n(&c->applied, seq, __ATOMIC_RELAXED);
    if (seq > c->stream_last)
        c->stream_last = seq;
    if (msg_parse(&m, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
        CLUSTER_APPLY_MAX, &reason) < 0) {
        cluster_skip(c);
        log_limited(&c->rl, LOG_ERR, "cluster: stream %s sequence %" PRIu64 " is not an event "
            "(%s): skipped", c->stream, seq, reason);
        return;
    }
    m.ev.id = seq + c->offset;
    m.ev.accepted_us = ts_us;
    c->hooks.apply(c->ctx, &m.ev);
    msg_clear(&m);
}

size_t
cluster_poll(cluster_t *c, size_t max)
{
    uint64_t n;
    size_t done = 0;
    ssize_t r = read(c->efd, &n, sizeof(n));
    (void)r;

    /* the answers first: all of them (they are small, see above) */
    for (;;) {
        cluster_ack_t a;
        pthread_mutex_lock(&c->mu);
        if (c->acount == 0) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        a = c->acks[c->ahead];
        c->ahead = (c->ahead + 1) % CLUSTER_ACKS_MAX;
        c->acount--;
        pthread_cond_broadcast(&c->room);
        pthread_mutex_unlock(&c->mu);
        if (a.seq > c->stream_last)
            c->stream_last = a.seq;
        c->hooks.acked(c->ctx, a.token, a.seq ? a.seq + c->offset : 0, a.reason);
        done++;
    }
    while (done < max) {
        natsMsg *msg;
        pthread_mutex_lock(&c->mu);
        if (c->mcount == 0) {
            /* an answer queued meanwhile did not wake us (the queues
             * were not empty): come back for it */
            int more = c->acount > 0;
            pthread_mutex_unlock(&c->mu);
            if (more)
                cluster_wake(c);
            return done;
        }
        msg = c->msgs[c->mhead];
        c->mhead = (c->mhead + 1) % CLUSTER_QUEUE_MAX;
        c->mcount--;
        pthread_cond_broadcast(&c->room);
        pthread_mutex_unlock(&c->mu);
        cluster_apply(c, msg);
        natsMsg_Destroy(msg);
        done++;
    }
    cluster_wake(c);            /* more left: the loop comes back */
    return done;
}

int
cluster_fd(const cluster_t *c)
{
    return c->efd;
}

int
cluster_publish(cluster_t *c, const char *msg, size_t len, const char *first, size_t first_len,
    uint64_t token, const char **reason)
{
    char subject[CLUSTER_SUBJECT_MAX + 1], tok[24];
    size_t plen = strlen(c->prefix);
    natsMsg *m = NULL;
    jsPubOptions po;

    if (!cluster_ready(c)) {
        *reason = CLUSTER_REASON_DOWN;
        return -1;
    }
    memcpy(subject, c->prefix, plen);
    subject[plen] = '.';
    if (natskey_encode(first, first_len, subject + plen + 1, sizeof(subject) - plen - 1) < 0 ||
        natsMsg_Create(&m, subject, NULL, msg, (int)len) != NATS_OK) {
        *reason = ZSSE_R_OUT_OF_MEMORY;
        return -1;
    }
    if (token) {
        snprintf(tok, sizeof(tok), "%" PRIu64, token);
        if (natsMsgHeader_Set(m, CLUSTER_ACK_HEADER, tok) != NATS_OK) {
            natsMsg_Destroy(m);
            *reason = ZSSE_R_OUT_OF_MEMORY;
            return -1;
        }
    }
    jsPubOptions_Init(&po);
    po.MaxWait = CLUSTER_PUB_WAIT_MS;
    natsStatus s = js_PublishMsgAsync(c->js, &m, &po);
    if (s == NATS_OK)
        __atomic_add_fetch(&c->inflight, 1, __ATOMIC_RELAXED);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);     /* NULL when the library took it */
        *reason = s == NATS_TIMEOUT ? "cluster_busy"
                : s == NATS_MAX_PAYLOAD ? ZSSE_R_TOO_LARGE      /* the server's max_payload */
                : CLUSTER_REASON_DOWN;
        return -1;
    }
    return 0;
}

int
cluster_full(const cluster_t *c)
{
    return __atomic_load_n(&c->inflight, __ATOMIC_RELAXED) >= CLUSTER_PUB_MARK;
}

int
cluster_lost(const cluster_t *c)
{
    return __atomic_load_n(&c->lost_stream, __ATOMIC_RELAXED);
}

/* the process is to stop (hooks.stopped) */
static int
cluster_stopped(const cluster_t *c)
{
    return c->hooks.stopped && c->hooks.stopped(c->ctx);
}

int
cluster_ready(const cluster_t *c)
{
    return __atomic_load_n(&c->connected, __ATOMIC_RELAXED);
}

/* the stream's first and last sequences, asked with a wait of at most
 * WAIT_MS, and when it was made (CREATED, ns, may be NULL); -1 when
 * JetStream does not say.  (A busy cluster may answer for a leader that
 * does not: a state of zeros, the time it was made kept.) */
static int
cluster_stream_info(cluster_t *c, int64_t wait_ms, uint64_t *first, uint64_t *last,
    int64_t *created)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsOptions jo;

    jsOptions_Init(&jo);
    jo.Wait = wait_ms;
    if (js_GetStreamInfo(&si, c->js, c->stream, &jo, &jerr) != NATS_OK)
        return -1;
    *first = si->State.FirstSeq;
    *last = si->State.LastSeq;
    if (created)
        *created = si->Created;
    jsStreamInfo_Destroy(si);
    return 0;
}

int
cluster_id_given(cluster_t *c, uint64_t id)
{
    uint64_t first, last, known;

    known = __atomic_load_n(&c->watched_last, __ATOMIC_RELAXED);
    if (known < c->stream_last)
        known = c->stream_last;
    if (id <= c->offset + known)
        return 1;
    /* past what we know: ask (about 0.4 ms), unless an ask failed within
     * the last second (JetStream electing a leader: the loop would wait
     * CLUSTER_ASK_MS for each such replay, and a client may send any id) */
    if (mono_ms() - c->ask_failed_ms < 1000)
        return 0;
    if (cluster_stream_info(c, CLUSTER_ASK_MS, &first, &last, NULL) < 0)
        c->ask_failed_ms = mono_ms();
    else if (last > c->stream_last)
        c->stream_last = last;
    return id <= c->offset + c->stream_last;
}

uint64_t
cluster_first_id(const cluster_t *c)
{
    return c->first_seq ? c->first_seq + c->offset : 0;
}

uint64_t
cluster_last_id(const cluster_t *c)
{
    return c->applied + c->offset;
}

void
cluster_counts(cluster_t *c, uint64_t *skipped, uint64_t *refollowed)
{
    *skipped = __atomic_load_n(&c->skipped, __ATOMIC_RELAXED);
    *refollowed = __atomic_load_n(&c->refollowed, __ATOMIC_RELAXED);
}

struct __natsConnection *
cluster_nats(cluster_t *c)
{
    return c->nc;
}

/* --- start and stop ------------------------------------------------------------- */

/* the longest ttl the config gives: how long the stream keeps an event
 * when broker.cluster.max_age does not say */
static int64_t
cluster_max_age_s(const broker_conf_t *conf)
{
    int64_t age = conf->cluster.max_age ? conf->cluster.max_age : conf->ttl;
    if (!conf->cluster.max_age)
        for (size_t i = 0; i < conf->nchannels; i++)
            if (conf->channels[i].ttl > age)
                age = conf->channels[i].ttl;
    return age;
}

/* connect (the first time, within CLUSTER_TIMEOUT_MS; then for ever) */
static int
cluster_connect(cluster_t *c, const broker_conf_t *conf, char *err, size_t errlen)
{
    const cluster_conf_t *cl = &conf->cluster;
    natsStatus s;

    if ((s = natsOptions_Create(&c->opts)) != NATS_OK ||
        (s = natsOptions_SetServers(c->opts, (const char **)cl->servers, (int)cl->nservers)) != NATS_OK ||
        (s = natsOptions_SetName(c->opts, "zsse-broker")) != NATS_OK ||
        (s = natsOptions_SetNoRandomize(c->opts, true)) != NATS_OK ||  /* this host's first */
        /* each publish out at once, not when libnats' buffer flushes: one
         * acknowledged at a time went from about 900 to 2,000/s
         * (tests/bench/cluster), the pipelined rate the same */
        (s = natsOptions_SetSendAsap(c->opts, true)) != NATS_OK ||
        /* a server that stopped answering (a partition) is left within
         * about CLUSTER_PING_MS * 3, not libnats' 2 minutes * 2 */
        (s = natsOptions_SetPingInterval(c->opts, CLUSTER_PING_MS)) != NATS_OK ||
        (s = natsOptions_SetMaxPingsOut(c->opts, 2)) != NATS_OK ||
        (s = natsOptions_SetTimeout(c->opts, CLUSTER_TIMEOUT_MS)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect(c->opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait(c->opts, CLUSTER_RECONNECT_MS)) != NATS_OK ||
        (s = natsOptions_SetDisconnectedCB(c->opts, cluster_on_disconnect, c)) != NATS_OK ||
        (s = natsOptions_SetReconnectedCB(c->opts, cluster_on_reconnect, c)) != NATS_OK ||
        (s = natsOptions_SetClosedCB(c->opts, cluster_on_closed, c)) != NATS_OK ||
        (cl->creds && (s = natsOptions_SetUserCredentialsFromFiles(c->opts, cl->creds, NULL)) != NATS_OK)) {
        snprintf(err, errlen, "broker.cluster: %s", natsStatus_GetText(s));
        return -1;
    }
    if ((s = natsConnection_Connect(&c->nc, c->opts)) != NATS_OK) {
        snprintf(err, errlen, "broker.cluster.servers: cannot connect to NATS (%s, ...): %s",
            cl->servers[0], natsStatus_GetText(s));
        return -1;
    }
    __atomic_store_n(&c->connected, 1, __ATOMIC_RELAXED);
    int64_t max_payload = natsConnection_GetMaxPayload(c->nc);
    if (max_payload > 0 && (int64_t)conf->max_message + CLUSTER_HEADROOM > max_payload)
        log_msg(LOG_WARNING, "cluster: broker.max_message %zu and up to %d bytes of headers "
            "may be more than NATS takes (max_payload %" PRId64 " bytes): a message past it "
            "is refused as too_large", conf->max_message, CLUSTER_HEADROOM, max_payload);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = CLUSTER_TIMEOUT_MS;
    jo.PublishAsync.MaxPending = CLUSTER_PUB_WINDOW;
    jo.PublishAsync.AckHandler = cluster_on_ack;
    jo.PublishAsync.AckHandlerClosure = c;
    jo.PublishAsync.StallWait = CLUSTER_STALL_MS;
    if ((s = natsConnection_JetStream(&c->js, c->nc, &jo)) != NATS_OK) {
        snprintf(err, errlen, "broker.cluster: JetStream: %s", natsStatus_GetText(s));
        return -1;
    }
    return 0;
}

/* find the stream, or create it as the config says */
static int
cluster_stream(cluster_t *c, const broker_conf_t *conf, char *err, size_t errlen)
{
    const cluster_conf_t *cl = &conf->cluster;
    char subjects[CONFIG_CLUSTER_NAME_MAX + 3];
    const char *subj[1] = { subjects };
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsOptions jo;
    natsStatus s;

    if (cluster_stream_info(c, CLUSTER_TIMEOUT_MS, &c->first_seq, &c->stream_last,
        &c->created) == 0)
        return 0;
    snprintf(subjects, sizeof(subjects), "%s.>", cl->subject);
    jsStreamConfig_Init(&sc);
    sc.Name = cl->stream;
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = cl->replicas;
    sc.MaxAge = cluster_max_age_s(conf) * 1000000000ll;     /* ns */
    sc.MaxBytes = cl->max_bytes;
    sc.MaxMsgSize = (int32_t)conf->max_message + CLUSTER_HEADROOM;
    sc.Discard = js_DiscardOld;
    jsOptions_Init(&jo);
    jo.Wait = CLUSTER_TIMEOUT_MS;
    s = js_AddStream(&si, c->js, &sc, &jo, &jerr);
    jsStreamInfo_Destroy(si);
    /* another broker may have made it meanwhile: then it is there */
    if (cluster_stream_info(c, CLUSTER_TIMEOUT_MS, &c->first_seq, &c->stream_last,
        &c->created) == 0)
        return 0;
    snprintf(err, errlen, "broker.cluster.stream %s: cannot create it: %s (JetStream error %d)",
        cl->stream, natsStatus_GetText(s), (int)jerr);
    return -1;
}

/* follow the stream in order from sequence FROM (1: its first message)
 * with an ordered consumer; the one before, if any, is dropped */
static int
cluster_follow(cluster_t *c, uint64_t from, char *err, size_t errlen)
{
    char subjects[CONFIG_CLUSTER_NAME_MAX + 3];
    natsSubscription *sub = NULL, *old;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    snprintf(subjects, sizeof(subjects), "%s.>", c->subjects_cfg);
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = from > 1 ? js_DeliverByStartSequence : js_DeliverAll;
    so.Config.OptStartSeq = from > 1 ? from : 0;
    /* not under the lock: this waits for JetStream (the loop must not).
     * Both consumers may deliver for a moment; each is in order, and
     * cluster_apply takes a sequence only once, so merged they stay in
     * order and skip nothing */
    s = js_Subscribe(&sub, c->js, subjects, cluster_on_msg, c, NULL, &so, &jerr);
    pthread_mutex_lock(&c->mu);
    old = c->sub;
    if (s == NATS_OK)
        c->sub = sub;
    pthread_mutex_unlock(&c->mu);
    if (s != NATS_OK) {
        snprintf(err, errlen, "broker.cluster.stream %s: cannot follow it: %s (JetStream error %d)",
            c->stream, natsStatus_GetText(s), (int)jerr);
        return -1;
    }
    if (old) {
        natsSubscription_Unsubscribe(old);
        natsSubscription_Destroy(old);
    }
    return 0;
}

/*
 * The watchdog: once a second, ask the stream for its last sequence; if
 * this broker is behind it and has applied nothing for
 * CLUSTER_STALL_TICKS seconds, its consumer is gone (it lived on a NATS
 * node that died; libnats 3.4's ordered consumer does not always make
 * itself again), so it is made again from the next sequence.  One JetStream
 * API request a second per broker.
 */
static void *
cluster_watch(void *arg)
{
    cluster_t *c = arg;
    uint64_t seen = 0;
    int stalled = 0;

    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->tick, &c->mu, &ts);
        if (c->stopping || !cluster_ready(c))
            continue;
        uint64_t applied = __atomic_load_n(&c->applied, __ATOMIC_RELAXED), first, last;
        pthread_mutex_unlock(&c->mu);
        int64_t created = 0;
        int asked = cluster_stream_info(c, CLUSTER_TIMEOUT_MS, &first, &last, &created);
        if (asked == 0) {
            __atomic_store_n(&c->watched_last, last, __ATOMIC_RELAXED);
        }
        if (asked < 0)
            log_limited(&c->rl_watch, LOG_WARNING, "cluster: the stream %s does not answer",
                c->stream);
        if (asked == 0 && created && c->created && created != c->created) {
            /* deleted and made again: its sequences start again below
             * ours, and ids would go backwards.  (Not "its last below
             * ours": a busy cluster may answer with a state of zeros.) */
            __atomic_store_n(&c->lost_stream, 1, __ATOMIC_RELAXED);
            cluster_wake(c);
        }
        if (asked == 0 && last > applied && first <= last && applied == seen) {
            if (++stalled >= CLUSTER_STALL_TICKS) {
                char err[256];
                stalled = 0;
                uint64_t from = applied + 1 > first ? applied + 1 : first;
                if (cluster_follow(c, from, err, sizeof(err)) == 0) {
                    __atomic_add_fetch(&c->refollowed, 1, __ATOMIC_RELAXED);
                    log_limited(&c->rl_watch, LOG_WARNING, "cluster: the stream's consumer "
                        "was lost: following again from sequence %" PRIu64, from);
                } else {
                    log_msg(LOG_ERR, "cluster: %s", err);
                    stalled = CLUSTER_STALL_TICKS - 1;      /* again at the next tick */
                }
            }
        } else {
            stalled = 0;
        }
        seen = applied;
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* the stream found or made, and followed: retried for CLUSTER_START_MS,
 * since a cluster that is starting too (all hosts booting) has no
 * JetStream leader for a few seconds */
static int
cluster_start(cluster_t *c, const broker_conf_t *conf, char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + CLUSTER_START_MS;
    ratelimit_t rl = { 0, 0 };

    for (;;) {
        if (cluster_stream(c, conf, err, errlen) == 0 && cluster_follow(c, 1, err, errlen) == 0)
            return 0;
        if (mono_ms() >= deadline || cluster_stopped(c))
            return -1;
        log_limited(&rl, LOG_INFO, "cluster: %s; trying again", err);
        struct timespec ts = { 0, 250000000 };
        nanosleep(&ts, NULL);
    }
}

cluster_t *
cluster_new(const broker_conf_t *conf, const cluster_hooks_t *hooks, void *ctx, char *err,
    size_t errlen)
{
    const cluster_conf_t *cl = &conf->cluster;
    cluster_t *c = calloc(1, sizeof(*c));

    if (!c || !(c->msgs = calloc(CLUSTER_QUEUE_MAX, sizeof(*c->msgs))) ||
        !(c->acks = calloc(CLUSTER_ACKS_MAX, sizeof(*c->acks)))) {
        if (c)
            free(c->msgs);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->room, NULL);
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->hooks = *hooks;
    c->ctx = ctx;
    c->offset = cl->id_offset;
    c->stream = cl->stream;
    snprintf(c->prefix, sizeof(c->prefix), "%s", cl->subject);
    c->subjects_cfg = cl->subject;
    mono_cond_init(&c->tick);
    if (c->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        cluster_destroy(&c);
        return NULL;
    }
    if (cluster_connect(c, conf, err, errlen) < 0 || cluster_start(c, conf, err, errlen) < 0) {
        cluster_destroy(&c);
        return NULL;
    }
    /* what is before the stream's first is gone (max_age, max_bytes): an
     * empty stream has first = last + 1, and nothing is to be waited for */
    if (c->first_seq > 1 && c->applied < c->first_seq - 1)
        c->applied = c->first_seq - 1;
    if (pthread_create(&c->watcher, NULL, cluster_watch, c) != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(errno));
        cluster_destroy(&c);
        return NULL;
    }
    c->watching = 1;
    log_msg(LOG_INFO, "cluster: stream %s, sequences %" PRIu64 "..%" PRIu64 " (ids from %" PRIu64
        "); catching up", c->stream, c->first_seq, c->stream_last, c->first_seq + c->offset);
    return c;
}

int
cluster_rebuild(cluster_t *c)
{
    uint64_t target = c->stream_last, first, last, at = c->applied;
    int64_t last_log = mono_ms(), moved = mono_ms();

    while (c->applied < target) {
        struct timespec ts = { 0, 1000000 };
        if (cluster_poll(c, 4096) == 0)
            nanosleep(&ts, NULL);
        if (c->applied != at) {
            at = c->applied;
            moved = mono_ms();
        }
        if (mono_ms() - last_log >= 5000) {
            last_log = mono_ms();
            log_msg(LOG_INFO, "cluster: catching up: sequence %" PRIu64 " of %" PRIu64,
                c->applied, target);
        }
        if (!cluster_ready(c) || cluster_stopped(c))
            return -1;
        /* nothing for a while: the stream may have dropped what is left
         * (max_age, max_bytes), or the consumer died with its node */
        if (mono_ms() - moved >= CLUSTER_TIMEOUT_MS) {
            if (cluster_stream_info(c, CLUSTER_TIMEOUT_MS, &first, &last, NULL) == 0 &&
                (last <= c->applied || first > target))
                return 0;
            if (mono_ms() - moved >= CLUSTER_START_MS)
                return -1;
        }
    }
    return 0;
}

void
cluster_destroy(cluster_t **cp)
{
    cluster_t *c = *cp;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_broadcast(&c->room);
    pthread_cond_broadcast(&c->tick);
    pthread_mutex_unlock(&c->mu);
    if (c->watching)
        pthread_join(c->watcher, NULL);
    if (c->sub) {
        natsSubscription_Unsubscribe(c->sub);
        natsSubscription_Destroy(c->sub);
    }
    if (c->js)
        jsCtx_Destroy(c->js);
    if (c->nc) {
        natsConnection_Close(c->nc);
        /* its callbacks come on libnats' threads until the closed one */
        int64_t deadline = mono_ms() + CLUSTER_TIMEOUT_MS;
        pthread_mutex_lock(&c->mu);
        while (!c->closed && mono_ms() < deadline) {
            struct timespec ts = mono_timespec(mono_ms() + 100);
            pthread_cond_timedwait(&c->tick, &c->mu, &ts);
        }
        pthread_mutex_unlock(&c->mu);
        natsConnection_Destroy(c->nc);
    }
    natsOptions_Destroy(c->opts);
    for (size_t i = 0; i < c->mcount; i++)
        natsMsg_Destroy(c->msgs[(c->mhead + i) % CLUSTER_QUEUE_MAX]);
    if (c->efd >= 0)
        close(c->efd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->room);
    pthread_cond_destroy(&c->tick);
    free(c->msgs);
    free(c->acks);
    free(c);
    *cp = NULL;
}
