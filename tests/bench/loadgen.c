/*
 * loadgen.c -- SSE load generator for the benchmarks (run by hand).
 *
 *   loadgen --url http://127.0.0.1:8080/path [--clients N] [--rate R]
 *           [--duration S] [--publish ENDPOINT] [--channel C]...
 *           [--header 'Name: value'] [--ramp S] [--settle S] [--churn PCT]
 *
 * Opens N HTTP/1.1 connections (one epoll loop, non-blocking), waits until
 * every stream has answered 200 (or --ramp seconds pass), then -- with
 * --publish -- pushes R events/s for S seconds through libzsse to the
 * broker, each carrying its send time ({"t": ns, "n": seq}) so the
 * publish-to-client latency of every delivered event is measured.  After
 * --settle seconds for stragglers it prints one summary line (after a
 * "# open=N" line printed as soon as the streams are open):
 *
 *   clients=1000 open=1000 published=1000 expected=1000000 delivered=...
 *   lost=0 p50_ms=.. p99_ms=.. max_ms=.. rate=.. connect_s=..
 *
 * --churn PCT closes PCT percent of the streams every second and opens
 * them again with the Last-Event-ID they last saw; "gaps" then counts
 * events a client missed (its sequence numbers jumped), which must be 0.
 *
 * Everything is bounded: N <= 20000, R <= 200000, S <= 3600, and the whole
 * run stops at ramp + duration + settle seconds.  Loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "zsse.h"

#define MAX_CLIENTS 20000
#define MAX_CHANNELS 8192
#define RBUF 16384

typedef struct {
    int      fd;
    int      state;         /* 0 connecting/sending, 1 headers, 2 body, 3 dead */
    int      status;
    size_t   len;
    uint64_t events;
    uint64_t last_n;
    char     last_id[24];       /* of the last complete event (blank line) */
    char     pending_id[24];
    char     buf[RBUF];
} client_t;

static client_t *clients;
static int nclients = 100, nopen, ndead;
static double *lat;                 /* latencies in ms */
static size_t nlat, latcap;
static uint64_t delivered, reordered, gaps, reconnects;
static char req_base[8192];
static int req_base_len;
static struct sockaddr_in server;
static int ep;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void
record(client_t *c, const char *data, size_t len, uint64_t t_recv)
{
    const char *t = memmem(data, len, "\"t\":", 4);
    const char *n = memmem(data, len, "\"n\":", 4);
    if (!t || !n)
        return;
    uint64_t ts = strtoull(t + 4, NULL, 10), seq = strtoull(n + 4, NULL, 10);
    if (seq <= c->last_n)
        reordered++;
    else if (c->last_n && seq > c->last_n + 1)
        gaps += seq - c->last_n - 1;
    c->last_n = seq;
    c->events++;
    delivered++;
    if (nlat == latcap) {
        latcap = latcap ? latcap * 2 : 1 << 16;
        lat = realloc(lat, latcap * sizeof(*lat));
        if (!lat)
            die("realloc");
    }
    lat[nlat++] = (double)(t_recv - ts) / 1e6;
}

/* consume complete lines of the body; keeps a partial line */
static void
parse_body(client_t *c, uint64_t t_recv)
{
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (c->buf[i] != '\n')
            continue;
        if (i - start > 6 && memcmp(c->buf + start, "data: ", 6) == 0)
            record(c, c->buf + start + 6, i - start - 6, t_recv);
        else if (i - start > 4 && i - start < 4 + sizeof(c->pending_id) &&
            memcmp(c->buf + start, "id: ", 4) == 0) {
            memcpy(c->pending_id, c->buf + start + 4, i - start - 4);
            c->pending_id[i - start - 4] = '\0';
        } else if (i == start && c->pending_id[0]) {
            /* the event is complete: a browser's lastEventId moves now */
            memcpy(c->last_id, c->pending_id, sizeof(c->last_id));
            c->pending_id[0] = '\0';
        }
        start = i + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len == RBUF)         /* an absurd line: drop it */
        c->len = 0;
}

/* (re)open C's stream, with its Last-Event-ID when it has one */
static int
open_client(client_t *c)
{
    char req[8400];
    int n;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    /* blocking connect + send keeps this simple; loopback is instant */
    if (c->last_id[0])
        n = snprintf(req, sizeof(req), "%.*sLast-Event-ID: %s\r\n\r\n", req_base_len - 2,
            req_base, c->last_id);
    else
        n = snprintf(req, sizeof(req), "%s", req_base);
    if (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) < 0 ||
        write(c->fd, req, (size_t)n) != n) {
        close(c->fd);
        c->state = 3;
        return -1;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->state = 1;
    c->len = 0;
    c->pending_id[0] = '\0';
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void
churn(int pct)
{
    int n = nclients * pct / 100;
    for (int k = 0; k < n; k++) {
        client_t *c = &clients[rand() % nclients];
        if (c->state != 2)
            continue;
        close(c->fd);           /* closing also takes it out of epoll */
        nopen--;
        reconnects++;
        if (open_client(c) < 0)
            ndead++;
    }
}

static void
on_readable(client_t *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->len, RBUF - c->len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            close(c->fd);
            if (c->state == 2)
                nopen--;
            c->state = 3;
            ndead++;
            return;
        }
        c->len += (size_t)n;
        uint64_t t = now_ns();
        if (c->state == 1) {
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!end)
                continue;
            c->status = atoi(c->buf + 9);
            size_t hl = (size_t)(end + 4 - c->buf);
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            if (c->status != 200) {
                close(c->fd);
                c->state = 3;
                ndead++;
                return;
            }
            c->state = 2;
            nopen++;
        }
        if (c->state == 2)
            parse_body(c, t);
    }
}

int
main(int argc, char **argv)
{
    const char *url = NULL, *endpoint = NULL;
    const char *channels[MAX_CHANNELS];
    int nchan = 0, rate = 100, churn_pct = 0;
    double duration = 10, ramp = 30, settle = 2;
    char headers[4096] = "";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "loadgen: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--clients")) nclients = atoi(v);
        else if (!strcmp(a, "--rate")) rate = atoi(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--ramp")) ramp = atof(v);
        else if (!strcmp(a, "--settle")) settle = atof(v);
        else if (!strcmp(a, "--churn")) churn_pct = atoi(v);
        else if (!strcmp(a, "--publish")) endpoint = v;
        else if (!strcmp(a, "--channel") && nchan < MAX_CHANNELS) channels[nchan++] = v;
        else if (!strcmp(a, "--header")) {
            size_t l = strlen(headers);
            snprintf(headers + l, sizeof(headers) - l, "%s\r\n", v);
        } else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
        i++;
    }
    if (!url || strncmp(url, "http://127.", 11) != 0) {
        fprintf(stderr, "loadgen: --url http://127.x.x.x:PORT/... (loopback only)\n");
        return 2;
    }
    if (nclients < 1 || nclients > MAX_CLIENTS || rate < 0 || rate > 200000 ||
        duration <= 0 || duration > 3600 || ramp > 600 || settle > 60 ||
        churn_pct < 0 || churn_pct > 50) {
        fprintf(stderr, "loadgen: out of bounds\n");
        return 2;
    }
    struct rlimit rl = { MAX_CLIENTS + 1024, MAX_CLIENTS + 1024 };
    setrlimit(RLIMIT_NOFILE, &rl);

    /* http://HOST:PORT/PATH */
    char host[64];
    int port = 80;
    const char *hp = url + 7, *slash = strchr(hp, '/'), *colon = strchr(hp, ':');
    const char *path = slash ? slash : "/";
    size_t hl = (size_t)((colon && (!slash || colon < slash) ? colon : (slash ? slash : hp + strlen(hp))) - hp);
    if (hl >= sizeof(host))
        return 2;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (colon && (!slash || colon < slash))
        port = atoi(colon + 1);
    req_base_len = snprintf(req_base, sizeof(req_base),
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s\r\n",
        path, host, port, headers);

    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &server.sin_addr);
    ep = epoll_create1(0);
    clients = calloc((size_t)nclients, sizeof(*clients));
    if (ep < 0 || !clients)
        die("setup");

    uint64_t t0 = now_ns();
    for (int i = 0; i < nclients; i++)
        if (open_client(&clients[i]) < 0) {
            fprintf(stderr, "loadgen: connect %d: %s\n", i, strerror(errno));
            ndead++;
        }

    struct epoll_event evs[256];
    uint64_t ramp_end = t0 + (uint64_t)(ramp * 1e9);
    while (nopen + ndead < nclients && now_ns() < ramp_end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.ptr);
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    int opened = nopen;
    /* a marker for scripts that measure memory while the streams are open */
    printf("# open=%d connect_s=%.2f\n", opened, connect_s);
    fflush(stdout);

    zsse_publisher_t *pub = NULL;
    if (endpoint && rate > 0) {
        pub = zsse_publisher_new(endpoint);
        if (!pub)
            die("zsse_publisher_new");
        usleep(200000);     /* let PUSH connect */
    }
    uint64_t published = 0, start = now_ns(), next_churn = start + 1000000000u;
    uint64_t pub_end = start + (uint64_t)(duration * 1e9);
    uint64_t hard_end = pub_end + (uint64_t)(settle * 1e9);
    while (now_ns() < hard_end) {
        uint64_t now = now_ns();
        if (pub && now < pub_end) {
            uint64_t due = (uint64_t)((double)(now - start) / 1e9 * rate) + 1;
            while (published < due) {
                char data[96];
                snprintf(data, sizeof(data), "{\"t\":%llu,\"n\":%llu}",
                    (unsigned long long)now_ns(), (unsigned long long)published + 1);
                const char *ch = channels[nchan ? published % (uint64_t)nchan : 0];
                if (zsse_publish(pub, nchan ? ch : "bench", "tick", data) < 0)
                    die("zsse_publish");
                published++;
            }
        }
        int n = epoll_wait(ep, evs, 256, 1);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.ptr);
        if (churn_pct && now < pub_end && now >= next_churn) {
            churn(churn_pct);
            next_churn += 1000000000u;
        }
    }
    if (pub)
        zsse_publisher_destroy(&pub);

    /* expected: one channel -> every open stream gets every event;
     * many channels -> stream i listens to channel i (the bench's layout) */
    uint64_t expected = nchan > 1 ? published * (uint64_t)opened / (uint64_t)nchan
                                  : published * (uint64_t)opened;
    qsort(lat, nlat, sizeof(*lat), cmp_double);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
    double mx = nlat ? lat[nlat - 1] : 0;
    printf("clients=%d open=%d published=%llu expected=%llu delivered=%llu lost=%lld "
        "reordered=%llu gaps=%llu reconnects=%llu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rate=%d "
        "connect_s=%.2f\n",
        nclients, opened, (unsigned long long)published, (unsigned long long)expected,
        (unsigned long long)delivered, (long long)expected - (long long)delivered,
        (unsigned long long)reordered, (unsigned long long)gaps, (unsigned long long)reconnects,
        p50, p99, mx, rate, connect_s);
    return 0;
}
