/*
 * zmqtool.c -- raw ZeroMQ for the integration tests.
 *
 *   zmqtool push ENDPOINT FRAME...        send FRAMEs as one message
 *   zmqtool req ENDPOINT FRAME... [-- FRAME...]...
 *                                         control requests (DEALER, empty
 *                                         delimiter), one after the other
 *                                         on one connection ("%N": the last
 *                                         frame of reply N); prints each reply
 *                                         frame on a line, an event payload
 *                                         as "id=N kind=K" + a data line
 *   zmqtool flood ENDPOINT N FRAME...    N control requests, no reply read
 *   zmqtool sub ENDPOINT TOPIC [N] [SECS] raw prefix subscription (write a
 *                                         NUL as \0); prints "TOPIC ID" for
 *                                         each of N events (default 1)
 *   zmqtool sync ENDPOINT                 subscribe a sync topic, print
 *                                         "synced" when the marker is back
 *
 * FRAME "@FILE" sends the file's bytes; "\0" in a FRAME is a NUL.
 *
 * Environment: ZMQTOOL_SERVER_KEY=FILE and ZMQTOOL_SECRET_KEY=FILE connect
 * with CURVE (the broker's public key, this client's secret key: files as
 * zsse keygen writes); ZMQTOOL_WAIT_MS how long req waits (default 5000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "curve.h"
#include "wire.h"

static size_t
unescape(const char *in, char *out, size_t max)
{
    size_t o = 0;
    if (in[0] == '@') {
        FILE *fp = fopen(in + 1, "rb");
        if (!fp) { perror(in + 1); exit(2); }
        o = fread(out, 1, max, fp);
        fclose(fp);
        return o;
    }
    for (size_t i = 0; in[i] && o < max; i++) {
        if (in[i] == '\\' && in[i + 1] == '0') {
            out[o++] = '\0';
            i++;
        } else {
            out[o++] = in[i];
        }
    }
    return o;
}

static void
print_frame(const char *p, size_t n)
{
    wire_event_t ev;
    if (n >= WIRE_PAYLOAD_MIN && wire_parse_payload(p, n, &ev) == 0) {
        printf("id=%llu kind=%c\n", (unsigned long long)ev.id, ev.kind);
        p = ev.data;        /* then the data on a line of its own */
        n = ev.data_len;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\0') fputs("\\0", stdout);
        else if (p[i] == '\n') fputs("\\n", stdout);
        else putchar(p[i]);
    }
    putchar('\n');
}

/* CURVE client options from the environment, if set */
static void
curve_opts(void *s)
{
    const char *server = getenv("ZMQTOOL_SERVER_KEY"), *secret = getenv("ZMQTOOL_SECRET_KEY");
    curve_client_t c = { .on = true };
    char err[600];

    if (!server || !secret)
        return;
    if (curve_read_key(server, c.server, err, sizeof(err)) < 0 ||
        curve_read_key(secret, c.secret, err, sizeof(err)) < 0 ||
        zmq_curve_public(c.public_, c.secret) < 0 || curve_client_apply(s, &c) < 0) {
        fprintf(stderr, "zmqtool: CURVE: %s\n", err);
        exit(2);
    }
}

int
main(int argc, char **argv)
{
    static char buf[1 << 24];
    if (argc < 3) {
        fprintf(stderr, "usage: zmqtool push|req|sub|sync ENDPOINT ...\n");
        return 2;
    }
    void *ctx = zmq_ctx_new(), *s;
    int zero = 0, linger = 2000;
    const char *cmd = argv[1], *ep = argv[2];

    if (!strcmp(cmd, "push") || !strcmp(cmd, "req")) {
        int req = !strcmp(cmd, "req");
        s = zmq_socket(ctx, req ? ZMQ_DEALER : ZMQ_PUSH);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        curve_opts(s);
        if (zmq_connect(s, ep) < 0) { perror("connect"); return 2; }
        /* req: requests separated by "--" go one after the other over
         * this one connection, each reply printed before the next; an
         * argument "%N" is the last frame of the reply to request N */
        static char last[16][256];
        int nreq = 0;
        for (int i = 3; i <= argc; ) {
            int end = i;
            while (end < argc && !(req && !strcmp(argv[end], "--")))
                end++;
            if (req)
                zmq_send(s, "", 0, ZMQ_SNDMORE);
            for (int k = i; k < end; k++) {
                size_t n;
                int r;
                if (req && argv[k][0] == '%' && (r = atoi(argv[k] + 1)) >= 1 && r <= nreq) {
                    n = strlen(last[r - 1]);        /* "%N": reply N's last frame */
                    memcpy(buf, last[r - 1], n);
                } else {
                    n = unescape(argv[k], buf, sizeof(buf));
                }
                zmq_send(s, buf, n, k + 1 < end ? ZMQ_SNDMORE : 0);
            }
            if (req) {
                zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
                const char *w = getenv("ZMQTOOL_WAIT_MS");
                if (zmq_poll(&it, 1, w ? atoi(w) : 5000) <= 0) { fprintf(stderr, "zmqtool: no reply\n"); return 1; }
                int more = 1, first = 1;
                while (more) {
                    zmq_msg_t m;
                    zmq_msg_init(&m);
                    zmq_msg_recv(&m, s, 0);
                    if (!first)
                        print_frame(zmq_msg_data(&m), zmq_msg_size(&m));
                    first = 0;
                    more = zmq_msg_more(&m);
                    if (!more && nreq < 16)
                        snprintf(last[nreq], sizeof(last[0]), "%.*s", (int)zmq_msg_size(&m),
                            (char *)zmq_msg_data(&m));
                    zmq_msg_close(&m);
                }
                nreq++;
            }
            i = end + 1;
        }
    } else if (!strcmp(cmd, "flood") && argc >= 5) {
        /* N copies of one control request, no reply read; then hold the
         * connection open for 2 s (what a peer that never reads does) */
        int n = atoi(argv[3]);
        s = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
        curve_opts(s);
        if (zmq_connect(s, ep) < 0) { perror("connect"); return 2; }
        for (int k = 0; k < n; k++) {
            zmq_send(s, "", 0, ZMQ_SNDMORE);
            for (int i = 4; i < argc; i++) {
                size_t len = unescape(argv[i], buf, sizeof(buf));
                zmq_send(s, buf, len, i + 1 < argc ? ZMQ_SNDMORE : 0);
            }
        }
        sleep(2);
    } else if (!strcmp(cmd, "sub") && argc >= 4) {
        s = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
        size_t n = unescape(argv[3], buf, 4096);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, buf, n);
        curve_opts(s);
        zmq_connect(s, ep);
        int want = argc > 4 ? atoi(argv[4]) : 1, got = 0;
        int ms = (argc > 5 ? atoi(argv[5]) : 5) * 1000;
        printf("ready\n");
        fflush(stdout);
        while (got < want) {
            zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, ms) <= 0)
                break;
            wire_frames_t w;
            wire_event_t ev;
            if (wire_recv_event(s, 0, &w, &ev) == WIRE_RECV_EVENT) {
                do {            /* each event of a run (wire.h) */
                    printf("%.*s %llu\n", (int)ev.channel_len, ev.channel,
                        (unsigned long long)ev.id);
                    fflush(stdout);
                    got++;
                } while (wire_next_event(&w, &ev) == 1);
            }
            wire_frames_close(&w);
        }
    } else if (!strcmp(cmd, "sync")) {
        s = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
        char topic[32];
        int n = snprintf(topic, sizeof(topic), "%cnonce-%d", WIRE_SYNC_BYTE, (int)getpid());
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, (size_t)n + 1);
        curve_opts(s);
        zmq_connect(s, ep);
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 5000) > 0) {
            int r = zmq_recv(s, buf, 64, 0);
            if (r == n + 1 && memcmp(buf, topic, (size_t)r) == 0)
                printf("synced\n");
        }
    } else {
        fprintf(stderr, "zmqtool: unknown command %s\n", cmd);
        return 2;
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
