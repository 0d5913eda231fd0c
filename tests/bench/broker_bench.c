/*
 * broker_bench.c -- ingest throughput and publish-to-subscriber latency of
 * a running zsse-broker (started by tests/bench/broker).
 *
 *   broker_bench PUBLISH_EP EVENTS_EP [COUNT] [PUSHERS] [CONFIG] [BATCH] [CHANNELS]
 *
 * PUSHERS threads push COUNT small messages in all ({"channel":"bench",
 * "data":{"t":NS,"n":I}}) as fast as ZeroMQ takes them; one SUB
 * subscriber receives them.  Prints the ingest rate (messages the
 * subscriber got per second, first send to last receive) and the latency
 * p50 / p99 of 1 in 100 messages.  Bounded: stops after 120 s.  With
 * CONFIG, every socket takes that file's CURVE client keys (curve.h), as
 * zsse-fcgi and the CLI do: tests/bench/broker ... curve.  BATCH > 1: each
 * PUSH frame is a batch of BATCH messages (proto/batch.h), as libzsse's
 * batching publisher sends them; 1 (the default): a frame per message.
 * CHANNELS > 1: message I goes to channel "bench/(I mod CHANNELS)" and the
 * subscriber takes the prefix "bench/" (the broker's runs of one channel,
 * wire.h, are then one event long); 1 (the default): all to "bench".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "batch.h"
#include "config.h"
#include "curve.h"
#include "wire.h"
#include "clock.h"

static void *ctx;
static const char *pub_ep;
static long count = 1000000;
static int pushers = 2;
static int batch_n = 1;            /* messages per PUSH frame */
static long channels = 1;          /* channels, round-robin */
static curve_client_t curve;       /* off unless CONFIG names keys */

static void *
pusher(void *arg)
{
    long from = (long)(intptr_t)arg, n = count / pushers;
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 0, linger = -1;
    char msg[128];

    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    curve_client_apply(s, &curve);
    zmq_connect(s, pub_ep);
    batch_t b;
    batch_init(&b);
    for (long i = 0; i < n; i++) {
        char ch[32] = "bench";
        if (channels > 1)
            snprintf(ch, sizeof(ch), "bench/%ld", (from + i) % channels);
        int len = snprintf(msg, sizeof(msg), "{\"channel\":\"%s\",\"data\":{\"t\":%llu,\"n\":%ld}}",
            ch, (unsigned long long)mono_ns(), from + i);
        if (batch_n == 1) {
            zmq_send(s, msg, (size_t)len, 0);
            continue;
        }
        batch_add(&b, msg, (size_t)len);
        if ((int)b.n == batch_n || i == n - 1) {
            const char *p;
            size_t plen;
            batch_frame(&b, &p, &plen);
            zmq_send(s, p, plen, 0);
            batch_reset(&b);
        }
    }
    batch_free(&b);
    zmq_close(s);
    return NULL;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: broker_bench PUBLISH_EP EVENTS_EP [COUNT] [PUSHERS] [CONFIG] [BATCH] [CHANNELS]\n");
        return 2;
    }
    pub_ep = argv[1];
    if (argc > 3) count = atol(argv[3]);
    if (argc > 4) pushers = atoi(argv[4]);
    if (argc > 6) batch_n = atoi(argv[6]);
    if (argc > 7) channels = atol(argv[7]);
    if (count < 1000 || count > 10000000 || pushers < 1 || pushers > 8 || batch_n < 1 ||
        batch_n > BATCH_MAX || channels < 1 || channels > 100000)
        return 2;
    if (argc > 5 && *argv[5]) {
        char err[600];
        config_t *cfg = config_load(argv[5], err, sizeof(err));
        if (!cfg || curve_client_load(&cfg->broker, &curve, err, sizeof(err)) < 0) {
            fprintf(stderr, "broker_bench: %s: %s\n", argv[5], err);
            return 2;
        }
        config_destroy(&cfg);
    }
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, 2);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (channels > 1)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench/", 6);    /* every bench/N */
    else
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench", 6);     /* "bench\0" exactly */
    curve_client_apply(sub, &curve);
    zmq_connect(sub, argv[2]);
    usleep(500000);                     /* let the subscription arrive */

    size_t nlat = 0;
    double *lat = malloc(sizeof(double) * (size_t)(count / 100 + 10));
    pthread_t t[8];
    uint64_t start = mono_ns(), last = start, deadline = start + 120ull * 1000000000u;
    for (int i = 0; i < pushers; i++)
        pthread_create(&t[i], NULL, pusher, (void *)(intptr_t)(i * (count / pushers)));
    long got = 0, want = (count / pushers) * pushers;
    zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
    while (got < want && mono_ns() < deadline) {
        if (zmq_poll(&it, 1, 2000) <= 0)
            break;                      /* nothing for 2 s: lost */
        wire_frames_t w;
        wire_event_t ev;
        while (wire_recv_event(sub, ZMQ_DONTWAIT, &w, &ev) == WIRE_RECV_EVENT) {
            last = mono_ns();
            do {                        /* each event of a run (wire.h) */
                got++;
                if (got % 100 == 0) {
                    const char *p = memchr(ev.data, ':', ev.data_len);
                    if (p)
                        lat[nlat++] = (double)(last - strtoull(p + 1, NULL, 10)) / 1e6;
                }
            } while (wire_next_event(&w, &ev) == 1);
            wire_frames_close(&w);
        }
    }
    for (int i = 0; i < pushers; i++)
        pthread_join(t[i], NULL);
    qsort(lat, nlat, sizeof(*lat), cmp);
    double secs = (double)(last - start) / 1e9;
    printf("curve=%s batch=%d channels=%ld published=%ld received=%ld seconds=%.2f ingest_per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n",
        curve.on ? "on" : "off", batch_n, channels, want, got, secs, (double)got / secs, nlat ? lat[nlat / 2] : 0,
        nlat ? lat[(size_t)((double)nlat * 0.99)] : 0);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    free(lat);
    return got == want ? 0 : 1;
}
