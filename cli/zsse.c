/*
 * zsse.c -- the zsse command: publish, token, stats, tail (SPEC 2).
 *
 *   zsse [-c FILE] publish -C CHANNEL... [-e EVENT] -d JSON [-k KEY] [--ttl S] [--ack]
 *   zsse [-c FILE] publish --stdin [--ack]
 *   zsse publish --url URL [--token TOKEN] (-C ... -d JSON | --stdin)
 *   zsse [-c FILE] token --sub ID [--ttl S] [--claim k=v]... [--channels P,...] [--key PEM]
 *   zsse [-c FILE] stats
 *   zsse [-c FILE] tail [-n COUNT] [--timeout S] [--ready] CHANNEL...
 *   zsse keygen PREFIX
 *   zsse [-c FILE] check-config [-c FILE]      (check.c)
 *
 * Every socket to the broker takes the CURVE client keys of the config
 * (curve.h); keygen writes such a key pair.
 *
 * tail --ready prints "ready" alone on a line once its subscriptions are in
 * force: it subscribes a sync topic behind the channels and waits for the
 * broker to echo it (wire.h, SYNC markers), so a test can publish then and
 * know tail sees it, instead of sleeping.
 *
 * Names: cmd_<command> is the command table (main); a command's own steps
 * and helpers take its name (publish_, token_, revoke_, tail_; lines_ is
 * the --stdin line reader); what several commands share takes cli_.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>
#include <curl/curl.h>
#include "auth.h"
#include "args.h"
#include "check.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "curve.h"
#include "message.h"
#include "ctl.h"
#include "revoke.h"
#include "wire.h"
#include "zsse.h"

static const char *cli_config_flag;
static config_t *cli_cfg;
static curve_client_t cli_curve;   /* off: plain ZeroMQ */

/* what an options step returns when the command goes on (else: its exit
 * status) */
enum { CLI_GO_ON = -1 };

static void
cli_usage(FILE *fp)
{
    fprintf(fp,
        "usage: zsse [-c FILE] COMMAND [options]\n"
        "  publish -C CHANNEL [-C ...] [-e EVENT] -d JSON [-k KEY] [--ttl S] [--ack]\n"
        "  publish --stdin [--ack]          one JSON message per line\n"
        "  publish --url URL [--token TOKEN] ...   over HTTP to a publish route\n"
        "                                   (token also from $ZSSE_TOKEN)\n"
        "  token --sub ID [--ttl S] [--claim k=v]... [--channels P,...] [--key PRIVATE.pem]\n"
        "  stats                            the broker's figures as one JSON object\n"
        "  revoke (--sub ID | --jti ID) [--ttl S]  end the streams of those tokens and\n"
        "                                   refuse them for S seconds (default 86400)\n"
        "  tail [-n COUNT] [--timeout S] [--ready] CHANNEL...\n"
        "                                   --ready: print \"ready\" once subscribed\n"
        "  keygen PREFIX                    write a CURVE key pair: PREFIX.public and\n"
        "                                   PREFIX.secret (mode 0600)\n"
        "  check-config                     check the config as every program loads it:\n"
        "                                   prints ok, or each problem; exits 1 on any\n"
        "Options for every command: -c FILE (default $ZSSE_CONFIG, else /etc/zsse/zsse.json),\n"
        "--help, --version.\n");
}

static int
cli_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "zsse: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* a usage error (a bad option, argument or number): said like cli_die(), exit
 * status ARGS_EXIT_USAGE (doc/reference.md, EXIT STATUS) */
static int
cli_usage_error(const char *fmt, const char *arg)
{
    cli_die(fmt, arg);
    return ARGS_EXIT_USAGE;
}

static int
cli_load_config(void)
{
    char err[512];
    const char *file = config_default_path(cli_config_flag);

    if (!(cli_cfg = config_load(file, err, sizeof(err)))) {
        fprintf(stderr, "zsse: config: %s: %s\n", file, err);
        return -1;
    }
    if (curve_client_load(&cli_cfg->broker, &cli_curve, err, sizeof(err)) < 0) {
        fprintf(stderr, "zsse: config: %s: %s\n", file, err);
        return -1;
    }
    return 0;
}

/* one request to the control endpoint (ctl.h); the status, and its first
 * argument in *ARG0 (malloc'ed, NUL-terminated, NULL when none); -1 when
 * the broker is unreachable or the reply is malformed */
static int
cli_control(void *ctx, ctl_op_t op, const char *const *args, int nargs, char **arg0,
    int timeout_ms)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, st = -1;
    zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
    ctl_frames_t m;
    ctl_arg_t v[8];
    ctl_rep_t rep;

    *arg0 = NULL;
    ctl_frames_init(&m, 9);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (curve_client_apply(s, &cli_curve) < 0 || zmq_connect(s, cli_cfg->broker.control) < 0 ||
        ctl_send_strs(s, op, args, (size_t)nargs) < 0 ||
        zmq_poll(&it, 1, timeout_ms) <= 0 || ctl_recv(s, &m, 0) <= 0)
        goto out;
    if (m.truncated || m.n < 2 || ctl_frame(&m, 0).len != 0)
        goto out;
    for (size_t i = 1; i < m.n; i++)
        v[i - 1] = ctl_frame(&m, i);
    if (ctl_decode_reply(op, v, m.n - 1, &rep) != CTL_E_OK)
        goto out;
    st = (int)rep.status;
    if (rep.nargs && (*arg0 = malloc(rep.arg[0].len + 1)))
        ctl_arg_str(&rep.arg[0], *arg0, rep.arg[0].len + 1);
out:
    ctl_frames_close(&m);
    free(m.f);
    zmq_close(s);
    return st;
}

/* --- publish --------------------------------------------------------------- */

/* The message with -d spliced in as written: the broker keeps the
 * publisher's own spelling of numbers (0.57 stays 0.57). */
static char *
publish_build_message(const char **chans, int nch, const char *event, const char *data,
    const char *key, int ttl)
{
    json_error_t je;
    json_t *d = json_loads(data, JSON_DECODE_ANY, &je), *m, *c;
    char *head, *text = NULL;

    if (!d) {
        fprintf(stderr, "zsse: -d: not valid JSON (quote strings: '\"text\"'): %s\n", je.text);
        return NULL;
    }
    json_decref(d);
    m = json_object();
    if (nch == 1) {
        json_object_set_new(m, "channel", json_string(chans[0]));
    } else {
        c = json_array();
        for (int i = 0; i < nch; i++)
            json_array_append_new(c, json_string(chans[i]));
        json_object_set_new(m, "channels", c);
    }
    if (event)
        json_object_set_new(m, "event", json_string(event));
    if (key)
        json_object_set_new(m, "key", json_string(key));
    if (ttl > 0)
        json_object_set_new(m, "ttl", json_integer(ttl));
    head = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (head) {
        head[strlen(head) - 1] = '\0';          /* drop the closing brace */
        if (asprintf(&text, "%s,\"data\":%s}", head, data) < 0)
            text = NULL;
    }
    free(head);
    return text;
}

#define ZSSE_HTTP_LINE_MAX (16u << 20) /* --url --stdin: longest line */
#define PUBLISH_SEND_MS  3000          /* without --ack: a broker must take it */
#define PUBLISH_HTTP_S   30             /* --url: the whole request */
#define PUBLISH_REPLY_MAX (64 * 1024)   /* --url: the answer we read */

static size_t
publish_http_collect(char *p, size_t size, size_t n, void *arg)
{
    char *b = arg;
    size_t have = strlen(b), add = size * n;
    if (have + add >= PUBLISH_REPLY_MAX)
        add = PUBLISH_REPLY_MAX - 1 - have;
    memcpy(b + have, p, add);
    b[have + add] = '\0';
    return size * n;
}

/* POST one message (or array) to a publish route and print the ids, one
 * a line; 0 ok, 1 refused (the status and the server's message on
 * stderr), 2 no answer */
static int
publish_send_http(const char *url, const char *token, const char *text, size_t len)
{
    static char reply[PUBLISH_REPLY_MAX];
    char auth[8300];
    struct curl_slist *hd = NULL;
    long status = 0;
    CURL *c = curl_easy_init();
    CURLcode rc;

    if (!c)
        return cli_die("publish: %s", "curl_easy_init failed") + 1;
    reply[0] = '\0';
    hd = curl_slist_append(hd, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PUBLISH_HTTP_S);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, publish_http_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return cli_die("publish: %s", curl_easy_strerror(rc)) + 1;
    json_t *r = json_loads(reply, 0, NULL), *ids = json_object_get(r, "ids"), *v;
    size_t i;
    if (status != 200 || !json_is_array(ids)) {
        json_t *m = json_object_get(r, "message");
        fprintf(stderr, "zsse: publish: HTTP %ld: %s\n", status,
            json_is_string(m) ? json_string_value(m) : "no publish route answered");
        json_decref(r);
        return status == 503 || status == 0 ? 2 : 1;
    }
    json_array_foreach(ids, i, v)
        if (json_is_string(v))
            puts(json_string_value(v));
    fflush(stdout);
    json_decref(r);
    return 0;
}

/* send one message; 0 ok, 1 rejected, 2 the broker is unreachable */
static int
publish_send_one(zsse_publisher_t *pub, int ack, const char *text, size_t len)
{
    if (!ack) {
        if (zsse_publish_raw(pub, text, len) < 0) {
            if (errno == EAGAIN)
                return cli_die("publish: no broker took the message within 3 s (%s): "
                    "not published", cli_cfg->broker.publish) + 1;
            return cli_die("publish: %s", zmq_strerror(errno));
        }
        return 0;
    }
    uint64_t id;
    char err[256];
    if (zsse_publish_ack(pub, text, len, 5000, &id, err, sizeof(err)) < 0) {
        if (strncmp(err, "timeout", 7) == 0)
            return cli_die("broker unreachable (%s)", cli_cfg->broker.control) + 1;
        return cli_die("rejected: %s", err);
    }
    printf("%llu\n", (unsigned long long)id);
    fflush(stdout);
    return 0;
}

/* --stdin: lines read with read(2) rather than stdio, so that the CLI sees
 * when the input is idle (poll: nothing to read now) and sends its batch
 * then: a batch never holds a message back while nothing follows it, and
 * no stdio buffer hides lines already in. */
#define PUBLISH_BATCH 64                /* messages per PUSH frame (batch.h) */
enum { LINE_EOF, LINE_OK, LINE_LONG, LINE_IDLE };
typedef struct {
    char  *buf;
    size_t cap, start, end;             /* unread bytes: buf[start..end) */
    int    eof, skipping, idle_told;
} lines_t;

/* The next line of stdin, without its '\n': LINE_OK with *line / *len set
 * (valid until the next call); LINE_LONG for a line that does not fit the
 * buffer (skipped); LINE_IDLE once when nothing more can be read now (the
 * next call waits); LINE_EOF at the end (or on a read error). */
static int
lines_next(lines_t *r, char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            size_t from = r->start;
            r->start = (size_t)(nl - r->buf) + 1;
            if (r->skipping) {          /* the end of a long line */
                r->skipping = 0;
                continue;
            }
            *line = r->buf + from;
            *len = (size_t)(nl - r->buf) - from;
            return LINE_OK;
        }
        if (r->eof) {
            if (r->start == r->end || r->skipping)
                return LINE_EOF;
            *line = r->buf + r->start;  /* the last line, no '\n' */
            *len = r->end - r->start;
            r->start = r->end;
            return LINE_OK;
        }
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (r->end == r->cap) {         /* no '\n' in a full buffer */
            r->end = 0;
            if (!r->skipping) {
                r->skipping = 1;
                return LINE_LONG;
            }
            continue;
        }
        struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
        if (!r->idle_told && poll(&pfd, 1, 0) == 0) {
            r->idle_told = 1;
            return LINE_IDLE;
        }
        ssize_t n = read(STDIN_FILENO, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        r->idle_told = 0;
        if (n <= 0) {
            if (n < 0)
                fprintf(stderr, "zsse: stdin: %s\n", strerror(errno));
            r->eof = 1;
        } else {
            r->end += (size_t)n;
        }
    }
}

/* send the batch of a batching publisher: 0, or 2 (no broker, as publish_send_one) */
static int
publish_flush_batch(zsse_publisher_t *pub)
{
    if (zsse_publisher_flush(pub) == 0)
        return 0;
    if (errno == EAGAIN)
        return cli_die("publish: no broker took the messages within 3 s (%s): not published",
            cli_cfg->broker.publish) + 1;
    return cli_die("publish: %s", zmq_strerror(errno)) + 1;
}

/* what the options of publish asked for */
typedef struct {
    const char *chans[ZSSE_MAX_CHANNELS];
    int         nch;
    const char *event, *data, *key;     /* NULL: not given */
    const char *url, *token;            /* --url, --token (else $ZSSE_TOKEN) */
    int         ttl;                    /* s; 0: none */
    int         ack, use_stdin;
} publish_opts_t;

/* Parse publish's options into *O and check them together.  Returns
 * CLI_GO_ON, or the exit status: 0 after --help, ARGS_EXIT_USAGE on a bad
 * option, channel, ttl, url or token (said on stderr). */
static int
publish_options(int argc, char **argv, publish_opts_t *o)
{
    static const struct option opts[] = {
        { "channel", required_argument, NULL, 'C' }, { "event", required_argument, NULL, 'e' },
        { "data", required_argument, NULL, 'd' }, { "key", required_argument, NULL, 'k' },
        { "ttl", required_argument, NULL, 't' }, { "ack", no_argument, NULL, 'a' },
        { "stdin", no_argument, NULL, 's' }, { "config", required_argument, NULL, 'c' },
        { "url", required_argument, NULL, 'u' }, { "token", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->token = getenv("ZSSE_TOKEN");
    while ((c = getopt_long(argc, argv, "C:e:d:k:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
            if (o->nch == ZSSE_MAX_CHANNELS)
                return cli_usage_error("at most %s channels", "64");
            if (!channel_valid(optarg, strlen(optarg)))
                return cli_usage_error("-C %s: not a valid channel name", optarg);
            o->chans[o->nch++] = optarg;
            break;
        case 'e': o->event = optarg; break;
        case 'd': o->data = optarg; break;
        case 'k': o->key = optarg; break;
        case 't': {
            long v;
            if (args_long(optarg, 1, ZSSE_TTL_MAX, &v) < 0)
                return cli_usage_error("--ttl %s: seconds from 1 to a year", optarg);
            o->ttl = (int)v;
            break;
        }
        case 'a': o->ack = 1; break;
        case 's': o->use_stdin = 1; break;
        case 'c': cli_config_flag = optarg; break;
        case 'u': o->url = optarg; break;
        case 'T': o->token = optarg; break;
        case 'h': cli_usage(stdout); return 0;
        default: return cli_usage_error("publish: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("publish: unexpected argument '%s'", argv[optind]);
    if (!o->use_stdin && (o->nch == 0 || !o->data))
        return cli_usage_error("publish: needs -C CHANNEL and -d JSON (or --stdin)%s", "");
    if (o->url && o->ack)
        return cli_usage_error("publish: --url is always acknowledged: drop --ack%s", "");
    if (o->url && strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return cli_usage_error("publish: --url %s: must be http:// or https://", o->url);
    if (o->url && o->token && (strlen(o->token) > 8192 || strpbrk(o->token, "\r\n")))
        return cli_usage_error("publish: --token: not a token%s", "");
    return CLI_GO_ON;
}

/* Send one line or the message built from -C/-d: over PUB, or over HTTP
 * with --url (PUB NULL).  0 sent, 1 refused, 2 nobody answered (said on
 * stderr), as publish_send_one(). */
static int
publish_send(zsse_publisher_t *pub, const publish_opts_t *o, const char *text, size_t len)
{
    return o->url ? publish_send_http(o->url, o->token, text, len)
                  : publish_send_one(pub, o->ack, text, len);
}

/* --stdin: send each line of stdin, batched when PUB batches (flushed
 * whenever stdin is idle and at its end).  Returns 0, or 1 when a line
 * was too long or refused, the broker went away, or memory ran out (each
 * said on stderr). */
static int
publish_stdin(zsse_publisher_t *pub, const publish_opts_t *o)
{
    lines_t lr = { .cap = (o->url ? ZSSE_HTTP_LINE_MAX : cli_cfg->broker.max_message) + 2 };
    char *line;
    size_t len;
    long lineno = 0;
    int k, batching, rc = 0;

    if (!(lr.buf = malloc(lr.cap)))
        return cli_die("out of memory%s", "");
    /* without --ack and --url: PUSH, PUBLISH_BATCH lines per frame */
    batching = pub && !o->ack && zsse_publisher_batch(pub, PUBLISH_BATCH) == 0;
    while ((k = lines_next(&lr, &line, &len)) != LINE_EOF) {
        if (k == LINE_IDLE) {           /* nothing follows now: send */
            if (batching && publish_flush_batch(pub) != 0) {
                rc = 1;
                break;
            }
            continue;
        }
        lineno++;
        if (k == LINE_LONG) {
            fprintf(stderr, "zsse: line %ld: longer than max_message (%zu bytes)\n",
                lineno, lr.cap - 2);
            rc = 1;
            continue;
        }
        while (len && line[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        int r = publish_send(pub, o, line, len);
        if (r == 2) {                   /* no broker: the rest would fail too */
            rc = 1;
            break;
        }
        if (r != 0)
            rc = 1;
    }
    if (batching && k == LINE_EOF && publish_flush_batch(pub) != 0)
        rc = 1;
    free(lr.buf);
    return rc;
}

/* zsse publish: options, the config and a publisher (none with --url: the
 * web server and its publish route decide), then one message or --stdin.
 * Returns ARGS_EXIT_USAGE on a usage error, 1 when the config, the
 * connect or any message failed, else 0. */
static int
cmd_publish(int argc, char **argv)
{
    publish_opts_t o;
    zsse_publisher_t *pub = NULL;
    char perr[600];
    int rc = publish_options(argc, argv, &o);

    if (rc != CLI_GO_ON)
        return rc;
    if (!o.url && cli_load_config() < 0)
        return 1;
    if (!o.url && !(pub = zsse_publisher_new_config(cli_cfg->path, o.ack, PUBLISH_SEND_MS,
                                                    perr, sizeof(perr))))
        return cli_die("cannot connect: %s", perr);
    if (o.url)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    if (o.use_stdin) {
        rc = publish_stdin(pub, &o);
    } else {
        char *text = publish_build_message(o.chans, o.nch, o.event, o.data, o.key, o.ttl);
        rc = !text ? 1 : publish_send(pub, &o, text, strlen(text)) != 0;
        free(text);
    }
    zsse_publisher_destroy(&pub);
    if (o.url)
        curl_global_cleanup();
    return rc;
}

/* --- token ------------------------------------------------------------------ */

static int
token_mint(json_t *claims, int argc, char **argv)
{
    static const struct option opts[] = {
        { "sub", required_argument, NULL, 's' }, { "ttl", required_argument, NULL, 't' },
        { "claim", required_argument, NULL, 'l' }, { "channels", required_argument, NULL, 'n' },
        { "key", required_argument, NULL, 'k' }, { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *sub = NULL, *privkey = NULL;
    long ttl = 3600;
    int c;
    char err[256];

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': sub = optarg; break;
        case 't':
            if (args_long(optarg, 1, 10L * 366 * 86400, &ttl) < 0)
                return cli_usage_error("--ttl %s: seconds from 1 to ten years", optarg);
            break;
        case 'l': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                return cli_usage_error("--claim %s: use NAME=VALUE", optarg);
            *eq = '\0';
            json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
            json_object_set_new(claims, optarg, v ? v : json_string(eq + 1));
            break;
        }
        case 'n': {
            json_t *a = json_array();
            char *save, *p = strtok_r(optarg, ",", &save);
            for (; p; p = strtok_r(NULL, ",", &save))
                json_array_append_new(a, json_string(p));
            json_object_set_new(claims, "channels", a);
            break;
        }
        case 'k': privkey = optarg; break;
        case 'c': cli_config_flag = optarg; break;
        case 'h': cli_usage(stdout); return 0;
        default: return cli_usage_error("token: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("token: unexpected argument '%s'", argv[optind]);
    if (!sub)
        return cli_usage_error("token: --sub ID is required%s", "");
    if (cli_load_config() < 0)
        return 1;
    auth_t *a = auth_new(&cli_cfg->auth, err, sizeof(err));
    if (!a)
        return cli_die("%s", err);
    time_t now = time(NULL);
    json_object_set_new(claims, "sub", json_string(sub));
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(now + ttl));
    if (cli_cfg->auth.issuer)
        json_object_set_new(claims, "iss", json_string(cli_cfg->auth.issuer));
    if (cli_cfg->auth.audience)
        json_object_set_new(claims, "aud", json_string(cli_cfg->auth.audience));
    char *tok = auth_mint(a, claims, privkey, err, sizeof(err));
    auth_destroy(&a);
    if (!tok)
        return cli_die("%s", err);
    puts(tok);
    free(tok);
    return 0;
}

/* zsse token: the claims live here, so that every early return of
 * token_mint() (a usage error, a config that will not load) frees them */
static int
cmd_token(int argc, char **argv)
{
    json_t *claims = json_object();
    int rc = claims ? token_mint(claims, argc, argv) : cli_die("token: %s", "out of memory");

    json_decref(claims);
    return rc;
}

/* The options of a command that takes none but -c FILE and --help (NAME:
 * the command, for messages).  0: go on; 1: help was printed, exit 0;
 * -1: a bad option or argument, said on stderr, exit ARGS_EXIT_USAGE. */
static int
cli_plain_options(const char *name, int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char what[96];
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') cli_config_flag = optarg;
        else if (c == 'h') { cli_usage(stdout); return 1; }
        else {
            snprintf(what, sizeof(what), "%s: unknown or incomplete option '%%s' (see --help)",
                name);
            return cli_die(what, argv[optind - 1]), -1;
        }
    }
    if (optind < argc) {
        snprintf(what, sizeof(what), "%s: unexpected argument '%%s'", name);
        return cli_die(what, argv[optind]), -1;
    }
    return 0;
}

/* --- stats ------------------------------------------------------------------ */

static int
cmd_stats(int argc, char **argv)
{
    int o = cli_plain_options("stats", argc, argv);
    if (o != 0)
        return o < 0 ? ARGS_EXIT_USAGE : 0;
    if (cli_load_config() < 0)
        return 1;
    void *ctx = zmq_ctx_new();
    char *json;
    int rc = 1;
    if (cli_control(ctx, CTL_STATS, NULL, 0, &json, 2000) == CTL_OK && json) {
        printf("%s\n", json);
        rc = 0;
    } else {
        fprintf(stderr, "zsse: broker unreachable (%s)\n", cli_cfg->broker.control);
    }
    free(json);
    zmq_ctx_term(ctx);
    return rc;
}

/* --- revoke (revoke.h) ------------------------------------------------------------ */

/* the arguments of revoke as the control request takes them (ctl.c: a
 * value of 1 to CTL_FIELD_MAX bytes, the ttl up to REVOKE_TTL_MAX s),
 * checked here so that a bad one is not taken for an unreachable broker;
 * no control characters in the value (the broker logs it).  0, or -1
 * said on stderr. */
static int
revoke_check_args(const char *kind, const char *value, const char *ttl)
{
    char what[64];
    size_t n = strlen(value);
    long v;

    snprintf(what, sizeof(what), "revoke: --%s: %%s", kind);
    if (n == 0 || n > CTL_FIELD_MAX)
        return cli_die(what, "from 1 to 255 bytes"), -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return cli_die(what, "no control characters (newline, tab, ...)"), -1;
    if (args_long(ttl, 1, REVOKE_TTL_MAX, &v) < 0)
        return cli_die("revoke: --ttl %s: seconds from 1 to a year", ttl), -1;
    return 0;
}

static int
cmd_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        { "sub", required_argument, NULL, 's' }, { "jti", required_argument, NULL, 'j' },
        { "ttl", required_argument, NULL, 't' }, { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *kind = NULL, *value = NULL, *ttl = "86400";
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 's' || c == 'j') {
            if (kind)
                return cli_usage_error("revoke: one of --sub or --jti%s", "");
            kind = c == 's' ? "sub" : "jti";
            value = optarg;
        } else if (c == 't') ttl = optarg;
        else if (c == 'c') cli_config_flag = optarg;
        else if (c == 'h') { cli_usage(stdout); return 0; }
        else return cli_usage_error("revoke: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
    }
    if (!kind)
        return cli_usage_error("revoke: --sub ID or --jti ID is required%s", "");
    if (optind < argc)
        return cli_usage_error("revoke: unexpected argument '%s'", argv[optind]);
    if (revoke_check_args(kind, value, ttl) < 0)
        return ARGS_EXIT_USAGE;
    if (cli_load_config() < 0)
        return 1;
    void *ctx = zmq_ctx_new();
    const char *args[] = { kind, value, ttl };
    char *why = NULL;
    int st = cli_control(ctx, CTL_REVOKE, args, 3, &why, 2000), rc = 1;
    if (st == CTL_OK)
        rc = 0;
    else if (st == CTL_ERROR)
        fprintf(stderr, "zsse: revoke: %s\n", why ? why : "refused");
    else
        fprintf(stderr, "zsse: broker unreachable (%s)\n", cli_cfg->broker.control);
    free(why);
    zmq_ctx_term(ctx);
    return rc;
}

/* --- tail ---------------------------------------------------------------------- */

#define TAIL_TIMEOUT_MAX (366.0 * 86400)  /* s: --timeout */
#define TAIL_READY_MS    3000             /* --ready: no echo by then, say so */

static volatile sig_atomic_t tail_stop;
static void tail_on_signal(int sig) { (void)sig; tail_stop = 1; }

/* what the options of tail asked for */
typedef struct {
    long   count;                       /* events to print; -1: no limit */
    double timeout;                     /* s; 0: none */
    int    ready;                       /* --ready */
    char **chans;                       /* the CHANNEL arguments */
    int    nch;
} tail_opts_t;

/* the sync topic of --ready and its length; len 0 once echoed, or without
 * --ready */
typedef struct {
    char nonce[32];
    int  len;
} tail_sync_t;

/* Parse tail's options into *O.  Returns CLI_GO_ON, or the exit status:
 * 0 after --help, ARGS_EXIT_USAGE on a bad option, count, timeout or
 * channel name (said on stderr). */
static int
tail_options(int argc, char **argv, tail_opts_t *o)
{
    static const struct option opts[] = {
        { "count", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
        { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { "ready", no_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (tail_opts_t){ .count = -1 };
    while ((c = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (args_long(optarg, 1, LONG_MAX, &o->count) < 0)
                return cli_usage_error("tail: -n %s: a count of events, at least 1", optarg);
            break;
        case 't':
            if (args_seconds(optarg, TAIL_TIMEOUT_MAX, &o->timeout) < 0)
                return cli_usage_error("tail: --timeout %s: seconds, more than 0 (e.g. 10 or 0.5)",
                    optarg);
            break;
        case 'c': cli_config_flag = optarg; break;
        case 'r': o->ready = 1; break;
        case 'h': cli_usage(stdout); return 0;
        default: return cli_usage_error("tail: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("tail: name at least one CHANNEL%s", "");
    for (int i = optind; i < argc; i++)
        if (!channel_valid(argv[i], strlen(argv[i])))
            return cli_usage_error("tail: %s: not a valid channel name", argv[i]);
    o->chans = argv + optind;
    o->nch = argc - optind;
    return CLI_GO_ON;
}

/* A SUB socket on CTX to the broker's events endpoint, subscribed to the
 * channels of O, then to the sync topic in *SYNC with --ready.  Returns
 * NULL on a failed connect (said on stderr; the socket closed). */
static void *
tail_connect(void *ctx, const tail_opts_t *o, tail_sync_t *sync)
{
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;

    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
    /* connected first: the subscriptions then go out in this order, the
     * sync topic last (set before connecting, ZeroMQ would send them in
     * its own order on attach) */
    if (curve_client_apply(sub, &cli_curve) < 0 || zmq_connect(sub, cli_cfg->broker.events) < 0) {
        cli_die("tail: connect: %s", zmq_strerror(errno));
        zmq_close(sub);
        return NULL;
    }
    for (int i = 0; i < o->nch; i++) {
        char topic[257];
        size_t n = strlen(o->chans[i]);
        assert(channel_valid(o->chans[i], n));     /* tail_options() checked */
        memcpy(topic, o->chans[i], n + 1);  /* with its '\0': exact match */
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, n + 1);
    }
    sync->len = 0;
    if (o->ready) {                         /* behind the channels: see above */
        sync->len = snprintf(sync->nonce, sizeof(sync->nonce), "%ctail-%ld", WIRE_SYNC_BYTE,
            (long)getpid());
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, sync->nonce, (size_t)sync->len + 1);
    }
    return sub;
}

/* Print one event as "ID CHANNEL EVENT DATA" on a line, newlines in DATA
 * escaped.  Cannot fail. */
static void
tail_print_event(const wire_event_t *ev)
{
    printf("%llu %.*s %.*s ", (unsigned long long)ev->id, (int)ev->channel_len, ev->channel,
        ev->event_len ? (int)ev->event_len : 1, ev->event_len ? ev->event : "-");
    for (size_t i = 0; i < ev->data_len; i++) {
        char ch = ev->data[i];
        if (ch == '\n') fputs("\\n", stdout);
        else if (ch == '\r') fputs("\\r", stdout);
        else putchar(ch);
    }
    putchar('\n');
    fflush(stdout);
}

/* Print what SUB receives until a signal, O's count or O's timeout;
 * prints "ready" once the sync topic in *SYNC comes back (then sets its
 * len to 0).  Cannot fail. */
static void
tail_receive(void *sub, const tail_opts_t *o, tail_sync_t *sync)
{
    int64_t t0 = mono_ms();
    long seen = 0;
    int warned = 0;

    while (!tail_stop && (o->count < 0 || seen < o->count)) {
        zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
        double elapsed = (double)(mono_ms() - t0) / 1000;     /* s */
        if (o->timeout > 0 && elapsed >= o->timeout)
            break;
        if (sync->len && !warned && elapsed * 1000 >= TAIL_READY_MS) {
            /* the sync echo comes back within milliseconds of a broker */
            fprintf(stderr, "zsse: tail: cannot reach the broker at %s (no answer in %d s); "
                "still trying\n", cli_cfg->broker.events, TAIL_READY_MS / 1000);
            warned = 1;
        }
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        wire_frames_t w;
        wire_event_t ev;
        wire_recv_t r = wire_recv_event(sub, 0, &w, &ev);
        if (r == WIRE_RECV_EVENT) {
            do {                            /* each event of a run (wire.h) */
                tail_print_event(&ev);
                seen++;
            } while ((o->count < 0 || seen < o->count) && wire_next_event(&w, &ev) == 1);
        } else if (r == WIRE_RECV_MARKER && sync->len && ev.channel_len >= (size_t)sync->len &&
                   memcmp(ev.channel, sync->nonce, (size_t)sync->len) == 0) {
            printf("ready\n");
            fflush(stdout);
            sync->len = 0;                  /* once */
        }
        if (r == WIRE_RECV_EVENT || r == WIRE_RECV_MARKER)
            wire_frames_close(&w);
    }
}

/* zsse tail: options, connect, receive, then say whether --ready was
 * ever met.  Returns ARGS_EXIT_USAGE on a usage error, 1 when the config,
 * the connect or --ready failed, else 0. */
static int
cmd_tail(int argc, char **argv)
{
    tail_opts_t o;
    tail_sync_t sync;
    int rc = tail_options(argc, argv, &o);

    if (rc != CLI_GO_ON)
        return rc;
    if (cli_load_config() < 0)
        return 1;
    void *ctx = zmq_ctx_new(), *sub = tail_connect(ctx, &o, &sync);
    if (!sub) {
        zmq_ctx_term(ctx);
        return 1;
    }
    signal(SIGINT, tail_on_signal);
    signal(SIGTERM, tail_on_signal);
    tail_receive(sub, &o, &sync);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (sync.len && !tail_stop) {           /* --ready and never ready */
        fprintf(stderr, "zsse: tail: cannot reach the broker at %s: never ready\n",
            cli_cfg->broker.events);
        return 1;
    }
    return 0;
}

/* --- keygen ------------------------------------------------------------------ */

static int
cmd_keygen(int argc, char **argv)
{
    char err[600];

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error("keygen: name one PREFIX (writes PREFIX.public and PREFIX.secret)%s", "");
    if (curve_keygen(argv[1], err, sizeof(err)) < 0)
        return cli_die("keygen: %s", err);
    printf("%s.public\n%s.secret\n", argv[1], argv[1]);
    return 0;
}

/* --- check-config --------------------------------------------------------- */

static int
cmd_check_config(int argc, char **argv)
{
    int o = cli_plain_options("check-config", argc, argv);
    if (o != 0)
        return o < 0 ? ARGS_EXIT_USAGE : 0;
    return check_config(config_default_path(cli_config_flag), stdout, stderr) ? 1 : 0;
}

int
main(int argc, char **argv)
{
    int i = 1, rc;

    /* global options before the command */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            cli_config_flag = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("zsse %s\n", ZSSE_VERSION);
            return 0;
        } else {
            return cli_usage_error("unknown option '%s' (see --help)", argv[i]);
        }
    }
    if (i >= argc) {
        cli_usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    argv[i] = argv[0];              /* getopt sees "zsse" then the options */
    argc -= i;
    argv += i;
    for (int k = 1; k < argc; k++)
        if (strcmp(argv[k], "--version") == 0) {
            printf("zsse %s\n", ZSSE_VERSION);
            return 0;
        }
    if (strcmp(cmd, "publish") == 0) rc = cmd_publish(argc, argv);
    else if (strcmp(cmd, "token") == 0) rc = cmd_token(argc, argv);
    else if (strcmp(cmd, "stats") == 0) rc = cmd_stats(argc, argv);
    else if (strcmp(cmd, "tail") == 0) rc = cmd_tail(argc, argv);
    else if (strcmp(cmd, "keygen") == 0) rc = cmd_keygen(argc, argv);
    else if (strcmp(cmd, "check-config") == 0) rc = cmd_check_config(argc, argv);
    else if (strcmp(cmd, "revoke") == 0) rc = cmd_revoke(argc, argv);
    else rc = cli_usage_error("unknown command '%s' (see --help)", cmd);
    config_destroy(&cli_cfg);
    return rc;
}
