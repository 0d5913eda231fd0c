/*
 * loadgen.c -- SSE load generator for the benchmarks (run by hand).
 *
 *   loadgen --url http://127.0.0.1:8080/path [--clients N] [--rate R]
 *           [--duration S] [--publish ENDPOINT | --publish-http URL]
 *           [--channel C]... [--channels N --channel-prefix P]
 *           [--header 'Name: value'] [--ramp S] [--settle S] [--churn PCT]
 *           [--reopen-after K]
 *
 * Opens N HTTP/1.0 connections (one epoll loop, non-blocking; 1.0 so that
 * no server chunks the stream and lines arrive whole), waits until
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
 * Many channels: --channels N --channel-prefix P names them P0 .. P(N-1);
 * "{i}" in the URL's path becomes the client's number modulo N, so stream
 * i listens to channel i, and each event goes to a random channel (its
 * "n" counts per channel, so gaps are still seen).
 *
 * --publish-http URL publishes by HTTP POST to URL + channel name on one
 * keep-alive connection (Nchan's publisher location), instead of libzsse.
 *
 * --reopen-after K measures the connect rate: a stream that has received
 * K data lines (a replay) is closed and opened again at once; the summary
 * adds "cycles=" and "cycles_per_s=" over --duration.
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
#include "clock.h"

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
    int      idx;               /* its place in clients[] */
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
static int url_has_i, nchan_gen, reopen_after;
static uint64_t cycles;
static int refused, refused_status;     /* answers other than 200 */
static char req_pre[4096], req_post[4096];    /* around "{i}" */
static struct sockaddr_in server;
static int ep;

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
        if (reopen_after && i - start >= 5 && memcmp(c->buf + start, "data:", 5) == 0)
            c->events++;
        else if (i - start > 6 && memcmp(c->buf + start, "data: ", 6) == 0)
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
    const char *base = req_base;
    int base_len = req_base_len;
    char own[8192];
    if (url_has_i) {
        base_len = snprintf(own, sizeof(own), "%s%d%s", req_pre,
            nchan_gen ? c->idx % nchan_gen : c->idx, req_post);
        base = own;
    }
    /* blocking connect + send keeps this simple; loopback is instant */
    if (c->last_id[0])
        n = snprintf(req, sizeof(req), "%.*sLast-Event-ID: %s\r\n\r\n", base_len - 2,
            base, c->last_id);
    else
        n = snprintf(req, sizeof(req), "%s", base);
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
        uint64_t t = mono_ns();
        if (c->state == 1) {
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!end)
                continue;
            c->status = atoi(c->buf + 9);
            size_t hl = (size_t)(end + 4 - c->buf);
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            if (c->status != 200) {
                refused++;
                refused_status = c->status;
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
        if (reopen_after && c->state == 2 && c->events >= (uint64_t)reopen_after) {
            /* a whole replay arrived: one more connection made */
            close(c->fd);
            nopen--;
            cycles++;
            c->events = 0;
            c->last_id[0] = '\0';
            if (open_client(c) < 0)
                ndead++;
            return;
        }
    }
}

/* --- publishing by HTTP POST (Nchan) ---------------------------------------- */

static int http_pub_fd = -1;
static struct sockaddr_in http_pub_addr;
static char http_pub_host[64], http_pub_path[1024];

static int http_publish_once(const char *channel, const char *data);

/* one POST; a keep-alive connection the server closed is opened again */
static int
http_publish(const char *channel, const char *data)
{
    if (http_publish_once(channel, data) == 0)
        return 0;
    if (http_pub_fd >= 0)
        close(http_pub_fd);
    http_pub_fd = -1;
    return http_publish_once(channel, data);
}

static int
http_publish_once(const char *channel, const char *data)
{
    char req[2048], resp[4096];
    size_t dl = strlen(data), got = 0;

    if (http_pub_fd < 0) {
        http_pub_fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(http_pub_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (http_pub_fd < 0 ||
            connect(http_pub_fd, (struct sockaddr *)&http_pub_addr, sizeof(http_pub_addr)) < 0)
            return -1;
    }
    int n = snprintf(req, sizeof(req), "POST %s%s HTTP/1.1\r\nHost: %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
        http_pub_path, channel, http_pub_host, dl, data);
    if (n <= 0 || n >= (int)sizeof(req) || write(http_pub_fd, req, (size_t)n) != n)
        return -1;
    /* read the whole answer: headers, then Content-Length bytes */
    for (;;) {
        ssize_t r = read(http_pub_fd, resp + got, sizeof(resp) - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        resp[got] = '\0';
        char *end = strstr(resp, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(resp, "\r\nContent-Length:");
        size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - resp) + body)
            break;
        if (got == sizeof(resp) - 1)
            return -1;
    }
    int status = atoi(resp + 9);
    return status >= 200 && status < 300 ? 0 : -1;
}

static int
parse_loopback_url(const char *url, struct sockaddr_in *sa, char *host, size_t hostlen,
    char *path, size_t pathlen)
{
    int port = 80;
    if (strncmp(url, "http://127.", 11) != 0)
        return -1;
    const char *hp = url + 7, *slash = strchr(hp, '/'), *colon = strchr(hp, ':');
    size_t hl = (size_t)((colon && (!slash || colon < slash) ? colon :
        (slash ? slash : hp + strlen(hp))) - hp);
    if (hl >= hostlen || strlen(slash ? slash : "/") >= pathlen)
        return -1;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (colon && (!slash || colon < slash))
        port = atoi(colon + 1);
    snprintf(path, pathlen, "%s", slash ? slash : "/");
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? port : -1;
}

int
main(int argc, char **argv)
{
    const char *url = NULL, *endpoint = NULL, *http_pub = NULL, *prefix = "";
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
        else if (!strcmp(a, "--publish-http")) http_pub = v;
        else if (!strcmp(a, "--channels")) nchan_gen = atoi(v);
        else if (!strcmp(a, "--channel-prefix")) prefix = v;
        else if (!strcmp(a, "--reopen-after")) reopen_after = atoi(v);
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
        churn_pct < 0 || churn_pct > 50 || nchan_gen < 0 || nchan_gen > MAX_CLIENTS ||
        reopen_after < 0 || reopen_after > 100000 || (nchan_gen && nchan)) {
        fprintf(stderr, "loadgen: out of bounds\n");
        return 2;
    }
    struct rlimit rl = { MAX_CLIENTS + 1024, MAX_CLIENTS + 1024 };
    setrlimit(RLIMIT_NOFILE, &rl);

    char host[64], path[1024];
    int port = parse_loopback_url(url, &server, host, sizeof(host), path, sizeof(path));
    if (port < 0) {
        fprintf(stderr, "loadgen: --url %s: not a loopback http URL\n", url);
        return 2;
    }
    req_base_len = snprintf(req_base, sizeof(req_base),
        "GET %s HTTP/1.0\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n%s\r\n",
        path, host, port, headers);
    char *mark = strstr(req_base, "{i}");
    if (mark) {
        url_has_i = 1;
        snprintf(req_pre, sizeof(req_pre), "%.*s", (int)(mark - req_base), req_base);
        snprintf(req_post, sizeof(req_post), "%s", mark + 3);
    }
    if (http_pub && parse_loopback_url(http_pub, &http_pub_addr, http_pub_host,
        sizeof(http_pub_host), http_pub_path, sizeof(http_pub_path)) < 0) {
        fprintf(stderr, "loadgen: --publish-http %s: not a loopback http URL\n", http_pub);
        return 2;
    }
    /* generated channel names; per-channel sequence numbers */
    char (*gen)[64] = NULL;
    uint64_t *seq = NULL;
    if (nchan_gen) {
        gen = calloc((size_t)nchan_gen, sizeof(*gen));
        seq = calloc((size_t)nchan_gen, sizeof(*seq));
        if (!gen || !seq)
            die("calloc");
        for (int i = 0; i < nchan_gen; i++)
            snprintf(gen[i], sizeof(gen[i]), "%s%d", prefix, i);
    }
    srand(12345);
    ep = epoll_create1(0);
    clients = calloc((size_t)nclients, sizeof(*clients));
    if (ep < 0 || !clients)
        die("setup");

    uint64_t t0 = mono_ns();
    for (int i = 0; i < nclients; i++)
        clients[i].idx = i;
    for (int i = 0; i < nclients; i++)
        if (open_client(&clients[i]) < 0) {
            fprintf(stderr, "loadgen: connect %d: %s\n", i, strerror(errno));
            ndead++;
        }

    struct epoll_event evs[256];
    uint64_t ramp_end = t0 + (uint64_t)(ramp * 1e9);
    /* (--reopen-after: the streams come and go, measure from the start) */
    while (!reopen_after && nopen + ndead < nclients && mono_ns() < ramp_end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.ptr);
    }
    double connect_s = (double)(mono_ns() - t0) / 1e9;
    int opened = nopen;
    /* a marker for scripts that measure memory while the streams are open */
    printf("# open=%d connect_s=%.2f\n", opened, connect_s);
    fflush(stdout);

    zsse_publisher_t *pub = NULL;
    int publishing = (endpoint || http_pub) && rate > 0;
    if (endpoint && rate > 0) {
        pub = zsse_publisher_new(endpoint);
        if (!pub)
            die("zsse_publisher_new");
        usleep(200000);     /* let PUSH connect */
    }
    uint64_t published = 0, start = mono_ns(), next_churn = start + 1000000000u;
    uint64_t expected_gen = 0;      /* many channels: events an open stream should get */
    uint64_t pub_end = start + (uint64_t)(duration * 1e9);
    uint64_t hard_end = pub_end + (uint64_t)(settle * 1e9);
    uint64_t cycles0 = cycles, ncycles = 0;
    int counted = 0;
    while (mono_ns() < hard_end) {
        uint64_t now = mono_ns();
        if (publishing && now < pub_end) {
            uint64_t due = (uint64_t)((double)(now - start) / 1e9 * rate) + 1;
            /* a slow publisher catches up at most 64 events at a time, so
             * the streams are still read meanwhile */
            for (int k = 0; published < due && k < 64; k++) {
                char data[96];
                const char *ch;
                uint64_t n;
                if (nchan_gen) {
                    int i = rand() % nchan_gen;
                    ch = gen[i];
                    n = ++seq[i];
                    for (int j = i; j < nclients; j += nchan_gen)
                        expected_gen += clients[j].state == 2;
                } else {
                    ch = nchan ? channels[published % (uint64_t)nchan] : "bench";
                    n = published + 1;
                }
                snprintf(data, sizeof(data), "{\"t\":%llu,\"n\":%llu}",
                    (unsigned long long)mono_ns(), (unsigned long long)n);
                if (pub ? zsse_publish(pub, ch, "tick", data) < 0 : http_publish(ch, data) < 0)
                    die("publish");
                published++;
            }
        }
        if (!counted && now >= pub_end) {
            ncycles = cycles - cycles0;     /* connections made in --duration */
            counted = 1;
        }
        int n = epoll_wait(ep, evs, 256, 1);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.ptr);
        if (churn_pct && now < pub_end && now >= next_churn) {
            churn(churn_pct);
            next_churn += 1000000000u;
        }
    }
    if (!counted)
        ncycles = cycles - cycles0;
    if (pub)
        zsse_publisher_destroy(&pub);

    /* expected: one channel -> every open stream gets every event;
     * generated channels -> the streams of an event's channel that were
     * open when it was published */
    uint64_t expected = nchan_gen ? expected_gen
        : nchan > 1 ? published * (uint64_t)opened / (uint64_t)nchan
                    : published * (uint64_t)opened;
    qsort(lat, nlat, sizeof(*lat), cmp_double);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
    double mx = nlat ? lat[nlat - 1] : 0;
    printf("clients=%d open=%d published=%llu expected=%llu delivered=%llu lost=%lld "
        "reordered=%llu gaps=%llu reconnects=%llu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rate=%d "
        "connect_s=%.2f cycles=%llu cycles_per_s=%.1f refused=%d status=%d\n",
        nclients, opened, (unsigned long long)published, (unsigned long long)expected,
        (unsigned long long)delivered, (long long)expected - (long long)delivered,
        (unsigned long long)reordered, (unsigned long long)gaps, (unsigned long long)reconnects,
        p50, p99, mx, rate, connect_s, (unsigned long long)ncycles,
        (double)ncycles / duration, refused, refused_status);
    return 0;
}
