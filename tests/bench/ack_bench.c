/*
 * ack_bench.c -- acknowledged publishing at speed against running brokers'
 * control sockets (run by hand, and by tests/bench/cluster).
 *
 *   ack_bench --control EP[,EP...] [--count N] [--conns C] [--window W]
 *             [--rate R] [--channel NAME] [--record FILE] [--config FILE]
 *             [--timeout MS]
 *
 * C threads, each with its own DEALER connected to one of the EPs (thread
 * i to EP i mod the number of EPs), send N "publish" requests in all (the
 * frames of `zsse publish --ack`: delimiter, "publish", the message; wire.h)
 * and keep up to W of them in flight per DEALER: a pipeline, not one at a
 * time.  The control protocol has no tag on a publish, so a thread takes
 * its replies in the order it sent its requests: a broker answers one
 * connection's publishes in order.  tests/bench/cluster checks that
 * assumption against what the clients receive (the id each client got with
 * a payload is the one acknowledged for it).
 *
 * The window: the broker sends replies without blocking and drops those
 * past BROKER_CTL_SNDHWM (32) queued per control peer (ctl_reply_send);
 * libzmq counts a pipe's reads in steps of half its HWM, so more than 16
 * replies in flight per DEALER may lose some (seen at 17 and above on one
 * broker), and a lost reply would shift every later one onto the wrong
 * request.  So W defaults to ACK_WINDOW_SAFE (16) and a larger W warns;
 * speed comes from more DEALERs (--conns).
 *
 * Every message is unique: {"channel":NAME,"data":{"t":NS,"n":I}} where I
 * numbers the messages from 0 across all threads and NS is the send time on
 * CLOCK_MONOTONIC (a client on this machine computes publish-to-client
 * latency from it).  --rate R paces the sends to R messages/s in all (0:
 * as fast as the window allows).
 *
 * Prints one line:
 *   sent=.. acked=.. errors=.. unanswered=.. acked_per_s=.. ack_p50_ms=..
 *   ack_p99_ms=.. elapsed_s=.. conns=.. window=..
 * (acked_per_s: acknowledged publishes over the time from the first send
 * to the last acknowledgement), then, when there were errors, the first
 * error's reason on stderr.  --record FILE writes one line per
 * acknowledged publish: "ID N T_ACK PAYLOAD" (T_ACK: when the ack came,
 * CLOCK_MONOTONIC ns).
 *
 * Bounded: N <= 10,000,000, C <= 64, W <= 65536, and a thread stops when no
 * reply has come for --timeout ms (default 5000: its broker died); its
 * requests still in flight are counted as unanswered (never as acked).
 * With --config, every socket takes that file's CURVE client keys (curve.h).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "config.h"
#include "ctl.h"
#include "curve.h"
#include "wire.h"
#include "clock.h"

#define ACK_COUNT_MAX   10000000L
#define ACK_CONNS_MAX   64
#define ACK_WINDOW_MAX  65536
#define ACK_EPS_MAX     16
#define ACK_MSG_MAX     256             /* bytes of one message */
#define ACK_WINDOW_SAFE 16              /* BROKER_CTL_SNDHWM / 2: see above */

typedef struct {
    int        idx;                     /* thread number */
    const char *ep;
    long       first, n;                /* message numbers first .. first+n-1 */
    /* results */
    long       sent, acked, errors;
    char       reason[256];             /* the first error's */
    uint64_t   first_send, last_ack;    /* ns */
    uint64_t  *ids;                     /* [n]: acked id, 0 = none */
    uint64_t  *sent_at;                 /* [n]: ns; the payload's t */
    uint64_t  *acked_at;                /* [n]: ns */
    float     *lat_ms;                  /* [acked] */
} conn_t;

static void *ctx;
static curve_client_t curve;
static const char *channel = "bench";
static double rate;                     /* per thread, messages/s; 0: free */
static int window = ACK_WINDOW_SAFE, timeout_ms = 5000;

static int
msg_text(char *out, size_t cap, long n, uint64_t t)
{
    return snprintf(out, cap, "{\"channel\":\"%s\",\"data\":{\"t\":%llu,\"n\":%ld}}",
        channel, (unsigned long long)t, n);
}

/* Take one reply from S for the oldest request in flight (message I of C).
 * 0 taken, -1 malformed (counted as an error). */
static int
take_reply(conn_t *c, void *s, long i)
{
    ctl_frames_t m;
    ctl_arg_t v[4];
    ctl_rep_t rep;
    uint64_t id;
    int rc = -1;

    ctl_frames_init(&m, 5);
    if (ctl_recv(s, &m, 0) <= 0 || m.truncated || m.n < 2 || ctl_frame(&m, 0).len != 0)
        goto out;
    for (size_t k = 1; k < m.n; k++)
        v[k - 1] = ctl_frame(&m, k);
    if (ctl_decode_reply(CTL_PUBLISH, v, m.n - 1, &rep) != CTL_E_OK)
        goto out;
    if (rep.status == CTL_OK && wire_parse_id(rep.arg[0].p, rep.arg[0].len, &id) == 0) {
        uint64_t t = mono_ns();
        c->ids[i - c->first] = id;
        c->acked_at[i - c->first] = t;
        c->lat_ms[c->acked++] = (float)((double)(t - c->sent_at[i - c->first]) / 1e6);
        c->last_ack = t;
        rc = 0;
    } else if (rep.status == CTL_ERROR && c->errors == 0) {
        ctl_arg_str(&rep.arg[0], c->reason, sizeof(c->reason));
    }
out:
    if (rc < 0) {
        if (!c->errors && !c->reason[0])
            snprintf(c->reason, sizeof(c->reason), "malformed reply");
        c->errors++;
    }
    ctl_frames_close(&m);
    free(m.f);
    return rc;
}

static void *
conn_run(void *arg)
{
    conn_t *c = arg;
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = window * 2 + 16, linger = 0;
    long next = 0, done = 0;            /* sent, answered (relative) */
    char msg[ACK_MSG_MAX];

    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    curve_client_apply(s, &curve);
    if (zmq_connect(s, c->ep) < 0) {
        snprintf(c->reason, sizeof(c->reason), "connect %s: %s", c->ep, zmq_strerror(zmq_errno()));
        c->errors = 1;
        zmq_close(s);
        return NULL;
    }
    c->first_send = mono_ns();
    uint64_t progress = c->first_send;    /* the last reply's time */
    while (done < c->n) {
        /* fill the window (paced by --rate) */
        uint64_t t = mono_ns();
        long allowed = c->n;
        if (rate > 0)
            allowed = (long)((double)(t - c->first_send) / 1e9 * rate) + 1;
        while (next < c->n && next - done < window && next < allowed) {
            long i = c->first + next;
            t = mono_ns();
            int len = msg_text(msg, sizeof(msg), i, t);
            ctl_arg_t a = { msg, (size_t)len };
            c->sent_at[next] = t;
            if (ctl_send(s, CTL_PUBLISH, &a, 1) < 0)
                break;                  /* queue full: take replies first */
            next++;
            c->sent++;
        }
        /* wait for replies; a paced sender also wakes to send */
        int wait = rate > 0 && next < c->n && next - done < window ? 1 : 100;
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        int r = zmq_poll(&it, 1, wait);
        if (r < 0)
            break;
        if (r == 0) {
            if (next > done && mono_ns() - progress > (uint64_t)timeout_ms * 1000000u)
                break;                  /* nothing for timeout_ms: its broker is gone */
            continue;
        }
        while (done < next && zmq_poll(&it, 1, 0) > 0) {
            take_reply(c, s, c->first + done);
            done++;
        }
        progress = mono_ns();
    }
    zmq_close(s);
    return NULL;
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void
usage(void)
{
    fprintf(stderr, "usage: ack_bench --control EP[,EP...] [--count N] [--conns C] [--window W]\n"
        "                 [--rate R] [--channel NAME] [--record FILE] [--config FILE]\n"
        "                 [--timeout MS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "control", required_argument, NULL, 'e' }, { "count", required_argument, NULL, 'n' },
        { "conns", required_argument, NULL, 'c' }, { "window", required_argument, NULL, 'w' },
        { "rate", required_argument, NULL, 'r' }, { "channel", required_argument, NULL, 'C' },
        { "record", required_argument, NULL, 'o' }, { "config", required_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 }
    };
    char *eps_arg = NULL, *eps[ACK_EPS_MAX];
    const char *record = NULL, *config = NULL;
    long count = 100000;
    int conns = 4, neps = 0, o;
    double total_rate = 0;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'e': eps_arg = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'r': total_rate = atof(optarg); break;
        case 'C': channel = optarg; break;
        case 'o': record = optarg; break;
        case 'f': config = optarg; break;
        case 't': timeout_ms = atoi(optarg); break;
        default: usage();
        }
    }
    if (!eps_arg || count < 1 || count > ACK_COUNT_MAX || conns < 1 || conns > ACK_CONNS_MAX ||
        window < 1 || window > ACK_WINDOW_MAX || total_rate < 0 || timeout_ms < 10 ||
        timeout_ms > 600000 || strlen(channel) > CTL_FIELD_MAX || optind != argc)
        usage();
    if (window > ACK_WINDOW_SAFE)
        fprintf(stderr, "ack_bench: a window above %d may lose replies (see ack_bench.c)\n",
            ACK_WINDOW_SAFE);
    for (char *p = strtok(eps_arg, ","); p && neps < ACK_EPS_MAX; p = strtok(NULL, ","))
        eps[neps++] = p;
    if (neps == 0)
        usage();
    if (config) {
        char err[600];
        config_t *cfg = config_load(config, err, sizeof(err));
        if (!cfg || curve_client_load(&cfg->broker, &curve, err, sizeof(err)) < 0) {
            fprintf(stderr, "ack_bench: %s: %s\n", config, err);
            return 2;
        }
        config_destroy(&cfg);
    }
    rate = total_rate / conns;
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);

    conn_t *cs = calloc((size_t)conns, sizeof(*cs));
    pthread_t *th = calloc((size_t)conns, sizeof(*th));
    if (!cs || !th)
        return 1;
    long per = count / conns, rest = count % conns, first = 0;
    for (int i = 0; i < conns; i++) {
        conn_t *c = &cs[i];
        c->idx = i;
        c->ep = eps[i % neps];
        c->first = first;
        c->n = per + (i < rest);
        first += c->n;
        c->ids = calloc((size_t)c->n + 1, sizeof(*c->ids));
        c->sent_at = calloc((size_t)c->n + 1, sizeof(*c->sent_at));
        c->lat_ms = calloc((size_t)c->n + 1, sizeof(*c->lat_ms));
        c->acked_at = calloc((size_t)c->n + 1, sizeof(*c->acked_at));
        if (!c->ids || !c->sent_at || !c->lat_ms || !c->acked_at)
            return 1;
    }
    for (int i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, conn_run, &cs[i]);
    for (int i = 0; i < conns; i++)
        pthread_join(th[i], NULL);

    long sent = 0, acked = 0, errors = 0;
    uint64_t t0 = UINT64_MAX, t1 = 0;
    const char *reason = NULL;
    for (int i = 0; i < conns; i++) {
        sent += cs[i].sent;
        acked += cs[i].acked;
        errors += cs[i].errors;
        if (cs[i].first_send && cs[i].first_send < t0)
            t0 = cs[i].first_send;
        if (cs[i].last_ack > t1)
            t1 = cs[i].last_ack;
        if (!reason && cs[i].reason[0])
            reason = cs[i].reason;
    }
    float *lat = malloc(sizeof(float) * (size_t)(acked + 1));
    size_t nl = 0;
    for (int i = 0; i < conns; i++)
        for (long k = 0; k < cs[i].acked; k++)
            lat[nl++] = cs[i].lat_ms[k];
    qsort(lat, nl, sizeof(float), cmp_float);
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
    printf("sent=%ld acked=%ld errors=%ld unanswered=%ld acked_per_s=%.0f ack_p50_ms=%.2f "
        "ack_p99_ms=%.2f elapsed_s=%.2f conns=%d window=%d\n", sent, acked, errors,
        sent - acked - errors, secs > 0 ? (double)acked / secs : 0.0,
        nl ? lat[nl / 2] : 0.0, nl ? lat[nl * 99 / 100] : 0.0, secs, conns, window);
    if (reason)
        fprintf(stderr, "ack_bench: first error: %s\n", reason);
    free(lat);

    int rc = acked > 0 ? 0 : 1;
    if (record) {
        FILE *f = fopen(record, "w");
        if (!f) {
            perror(record);
            rc = 1;
        } else {
            char msg[ACK_MSG_MAX];
            for (int i = 0; i < conns; i++)
                for (long k = 0; k < cs[i].n; k++)
                    if (cs[i].ids[k]) {
                        msg_text(msg, sizeof(msg), cs[i].first + k, cs[i].sent_at[k]);
                        fprintf(f, "%llu %ld %llu %s\n", (unsigned long long)cs[i].ids[k],
                            cs[i].first + k, (unsigned long long)cs[i].acked_at[k], msg);
                    }
            if (fclose(f) != 0)
                rc = 1;
        }
    }
    for (int i = 0; i < conns; i++) {
        free(cs[i].ids);
        free(cs[i].sent_at);
        free(cs[i].lat_ms);
        free(cs[i].acked_at);
    }
    free(cs);
    free(th);
    zmq_ctx_term(ctx);
    return rc;
}
