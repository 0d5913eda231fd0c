/*
 * js_bench.c -- raw NATS JetStream acknowledged publishing, the baseline
 * for tests/bench/cluster (run by hand, and by that script).
 *
 *   js_bench SERVERS COUNT [WINDOW] [REPLICAS] [STREAM]
 *
 * SERVERS: comma-separated nats:// URLs.  Creates (or finds) the stream
 * STREAM (default "JSBENCH", subjects "jsbench.>", file storage, REPLICAS
 * replicas, default 3), then publishes COUNT small unique messages with
 * libnats' asynchronous publish, at most WINDOW (default 4096) unacknowledged
 * at a time (jsOptions.PublishAsync.MaxPending), and waits for every ack.
 * Prints one line: acked=.. errors=.. acked_per_s=.. elapsed_s=.. window=..
 * and deletes the stream.  Bounded: COUNT <= 10,000,000; the stream's
 * creation is retried for 20 s (a new cluster elects its JetStream leader
 * first); the final wait for acks is 60 s.
 *
 * One connection, one publishing thread: what one broker's cluster.c does
 * (cluster.h: CLUSTER_PUB_WINDOW asynchronous publishes in flight).
 * JS_BENCH_ASAP set in the environment: natsOptions_SetSendAsap, every
 * publish written at once; by default libnats' flusher thread writes them
 * about a millisecond later, which bounds a window of 1 near 900/s here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>
#include "clock.h"

#define JSB_COUNT_MAX   10000000L
#define JSB_SERVERS_MAX 16
#define JSB_CREATE_MS   20000
#define JSB_DRAIN_MS    60000

static volatile long acked, errors;     /* written by libnats' ack thread only */
static uint64_t last_ack;

static void
on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js; (void)closure;
    if (pa && !pae)
        acked++;
    else
        errors++;
    last_ack = mono_ns();
    natsMsg_Destroy(msg);
}

int
main(int argc, char **argv)
{
    const char *urls[JSB_SERVERS_MAX], *stream = argc > 5 ? argv[5] : "JSBENCH";
    long count = argc > 2 ? atol(argv[2]) : 0;
    int window = argc > 3 ? atoi(argv[3]) : 4096, replicas = argc > 4 ? atoi(argv[4]) : 3, n = 0;
    natsConnection *nc = NULL;
    natsOptions *opts = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    char subj_all[80], subj[80], msg[128];

    if (argc < 3 || count < 1 || count > JSB_COUNT_MAX || window < 1 || window > 1000000 ||
        replicas < 1 || replicas > 5) {
        fprintf(stderr, "usage: js_bench SERVERS COUNT [WINDOW] [REPLICAS] [STREAM]\n");
        return 2;
    }
    char *list = strdup(argv[1]);
    for (char *p = strtok(list, ","); p && n < JSB_SERVERS_MAX; p = strtok(NULL, ","))
        urls[n++] = p;
    if ((s = natsOptions_Create(&opts)) != NATS_OK ||
        (s = natsOptions_SetServers(opts, urls, n)) != NATS_OK ||
        (s = natsOptions_SetSendAsap(opts, getenv("JS_BENCH_ASAP") != NULL)) != NATS_OK ||
        (s = natsConnection_Connect(&nc, opts)) != NATS_OK) {
        fprintf(stderr, "js_bench: connect: %s\n", natsStatus_GetText(s));
        return 1;
    }
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = window;
    jo.PublishAsync.AckHandler = on_ack;
    if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK) {
        fprintf(stderr, "js_bench: jetstream: %s\n", natsStatus_GetText(s));
        return 1;
    }
    snprintf(subj_all, sizeof(subj_all), "%s.>", "jsbench");
    const char *subjects[1] = { subj_all };
    jsStreamConfig_Init(&sc);
    sc.Name = stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = replicas;
    for (uint64_t end = mono_ns() + JSB_CREATE_MS * 1000000ull;;) {
        s = js_AddStream(&si, js, &sc, NULL, &jerr);
        if (s == NATS_OK || jerr == JSStreamNameExistErr)
            break;
        if (mono_ns() > end) {
            fprintf(stderr, "js_bench: stream: %s (%d)\n", natsStatus_GetText(s), (int)jerr);
            return 1;
        }
        usleep(200000);
    }
    jsStreamInfo_Destroy(si);
    snprintf(subj, sizeof(subj), "jsbench.bench");

    uint64_t t0 = mono_ns();
    for (long i = 0; i < count; i++) {
        int len = snprintf(msg, sizeof(msg), "{\"channel\":\"bench\",\"data\":{\"t\":%llu,\"n\":%ld}}",
            (unsigned long long)mono_ns(), i);
        if ((s = js_PublishAsync(js, subj, msg, len, NULL)) != NATS_OK) {
            /* the window is full past StallWait: wait for acks and retry */
            if (s == NATS_TIMEOUT) {
                i--;
                continue;
            }
            fprintf(stderr, "js_bench: publish: %s\n", natsStatus_GetText(s));
            break;
        }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = JSB_DRAIN_MS;
    s = js_PublishAsyncComplete(js, &po);
    double secs = (double)(last_ack - t0) / 1e9;
    printf("acked=%ld errors=%ld acked_per_s=%.0f elapsed_s=%.2f window=%d replicas=%d%s\n",
        acked, errors, secs > 0 ? acked / secs : 0.0, secs, window, replicas,
        s == NATS_OK ? "" : " (not all acked in time)");
    js_DeleteStream(js, stream, NULL, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    free(list);
    return acked > 0 ? 0 : 1;
}
