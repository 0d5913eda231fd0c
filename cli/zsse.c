/*
 * zsse.c -- the zsse command: publish, token, stats, tail (SPEC 2).
 *
 *   zsse [-c FILE] publish -C CHANNEL... [-e EVENT] -d JSON [-k KEY] [--ttl S] [--ack]
 *   zsse [-c FILE] publish --stdin [--ack]
 *   zsse [-c FILE] token --sub ID [--ttl S] [--claim k=v]... [--channels P,...] [--key PEM]
 *   zsse [-c FILE] stats
 *   zsse [-c FILE] tail [-n COUNT] [--timeout S] CHANNEL...
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <zmq.h>
#include "auth.h"
#include "channel.h"
#include "config.h"
#include "message.h"
#include "ctl.h"
#include "wire.h"
#include "zsse.h"

static const char *config_flag;
static config_t *cfg;

static void
usage(FILE *fp)
{
    fprintf(fp,
        "usage: zsse [-c FILE] COMMAND [options]\n"
        "  publish -C CHANNEL [-C ...] [-e EVENT] -d JSON [-k KEY] [--ttl S] [--ack]\n"
        "  publish --stdin [--ack]          one JSON message per line\n"
        "  token --sub ID [--ttl S] [--claim k=v]... [--channels P,...] [--key PRIVATE.pem]\n"
        "  stats                            the broker's figures as one JSON object\n"
        "  tail [-n COUNT] [--timeout S] CHANNEL...\n"
        "Options for every command: -c FILE (default $ZSSE_CONFIG, else /etc/zsse/zsse.json),\n"
        "--help, --version.\n");
}

static int
die(const char *fmt, const char *arg)
{
    fprintf(stderr, "zsse: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static int
load_config(void)
{
    char err[512];
    const char *file = config_default_path(config_flag);

    if (!(cfg = config_load(file, err, sizeof(err)))) {
        fprintf(stderr, "zsse: config: %s: %s\n", file, err);
        return -1;
    }
    return 0;
}

/* one request to the control endpoint (ctl.h); the status, and its first
 * argument in *ARG0 (malloc'ed, NUL-terminated, NULL when none); -1 when
 * the broker is unreachable or the reply is malformed */
static int
control(void *ctx, ctl_op_t op, const char *const *args, int nargs, char **arg0,
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
    if (zmq_connect(s, cfg->broker.control) < 0 || ctl_send_strs(s, op, args, (size_t)nargs) < 0 ||
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
build_message(const char **chans, int nch, const char *event, const char *data,
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

/* send one message; 0 ok, 1 rejected, 2 the broker is unreachable */
static int
send_one(zsse_publisher_t *pub, int ack, const char *text, size_t len)
{
    if (!ack) {
        if (zsse_publish_raw(pub, text, len) < 0)
            return die("publish: %s", zmq_strerror(errno));
        return 0;
    }
    uint64_t id;
    char err[256];
    if (zsse_publish_ack(pub, text, len, 5000, &id, err, sizeof(err)) < 0) {
        if (strncmp(err, "timeout", 7) == 0)
            return die("broker unreachable (%s)", cfg->broker.control) + 1;
        return die("rejected: %s", err);
    }
    printf("%llu\n", (unsigned long long)id);
    fflush(stdout);
    return 0;
}

static int
cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        { "channel", required_argument, NULL, 'C' }, { "event", required_argument, NULL, 'e' },
        { "data", required_argument, NULL, 'd' }, { "key", required_argument, NULL, 'k' },
        { "ttl", required_argument, NULL, 't' }, { "ack", no_argument, NULL, 'a' },
        { "stdin", no_argument, NULL, 's' }, { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *chans[ZSSE_MAX_CHANNELS], *event = NULL, *data = NULL, *key = NULL;
    int nch = 0, ttl = 0, ack = 0, use_stdin = 0, c, rc = 0;

    while ((c = getopt_long(argc, argv, "C:e:d:k:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
            if (nch == ZSSE_MAX_CHANNELS)
                return die("at most %s channels", "64");
            if (!channel_valid(optarg, strlen(optarg)))
                return die("-C %s: not a valid channel name", optarg);
            chans[nch++] = optarg;
            break;
        case 'e': event = optarg; break;
        case 'd': data = optarg; break;
        case 'k': key = optarg; break;
        case 't':
            ttl = atoi(optarg);
            if (ttl < 1 || ttl > ZSSE_TTL_MAX)
                return die("--ttl %s: seconds from 1 to a year", optarg);
            break;
        case 'a': ack = 1; break;
        case 's': use_stdin = 1; break;
        case 'c': config_flag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return die("publish: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return die("publish: unexpected argument '%s'", argv[optind]);
    if (!use_stdin && (nch == 0 || !data))
        return die("publish: needs -C CHANNEL and -d JSON (or --stdin)%s", "");
    if (load_config() < 0)
        return 1;
    zsse_publisher_t *pub = ack ? zsse_publisher_new_ack(cfg->broker.control)
                                : zsse_publisher_new(cfg->broker.publish);
    if (!pub)
        return die("cannot connect: %s", zmq_strerror(errno));
    if (!use_stdin) {
        char *text = build_message(chans, nch, event, data, key, ttl);
        rc = text ? send_one(pub, ack, text, strlen(text)) : 1;
        free(text);
    } else {
        size_t cap = cfg->broker.max_message + 2;
        char *line = malloc(cap);
        long lineno = 0;
        if (!line)
            return die("out of memory%s", "");
        while (fgets(line, (int)cap, stdin)) {
            size_t len = strlen(line);
            lineno++;
            if (len == cap - 1 && line[len - 1] != '\n') {
                fprintf(stderr, "zsse: line %ld: longer than max_message (%zu bytes)\n",
                    lineno, cfg->broker.max_message);
                int ch;
                while ((ch = getchar()) != EOF && ch != '\n')
                    ;
                rc = 1;
                continue;
            }
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (len == 0)
                continue;
            int r = send_one(pub, ack, line, len);
            if (r == 2) {           /* no broker: the rest would fail too */
                rc = 1;
                break;
            }
            if (r != 0)
                rc = 1;
        }
        free(line);
    }
    zsse_publisher_destroy(&pub);
    return rc;
}

/* --- token ------------------------------------------------------------------ */

static int
cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {
        { "sub", required_argument, NULL, 's' }, { "ttl", required_argument, NULL, 't' },
        { "claim", required_argument, NULL, 'l' }, { "channels", required_argument, NULL, 'n' },
        { "key", required_argument, NULL, 'k' }, { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    json_t *claims = json_object();
    const char *sub = NULL, *privkey = NULL;
    long ttl = 3600;
    int c;
    char err[256];

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': sub = optarg; break;
        case 't':
            ttl = atol(optarg);
            if (ttl < 1 || ttl > 10L * 366 * 86400)
                return die("--ttl %s: seconds, at least 1", optarg);
            break;
        case 'l': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                return die("--claim %s: use NAME=VALUE", optarg);
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
        case 'c': config_flag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return die("token: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return die("token: unexpected argument '%s'", argv[optind]);
    if (!sub)
        return die("token: --sub ID is required%s", "");
    if (load_config() < 0)
        return 1;
    auth_t *a = auth_new(&cfg->auth, err, sizeof(err));
    if (!a)
        return die("%s", err);
    time_t now = time(NULL);
    json_object_set_new(claims, "sub", json_string(sub));
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(now + ttl));
    if (cfg->auth.issuer)
        json_object_set_new(claims, "iss", json_string(cfg->auth.issuer));
    if (cfg->auth.audience)
        json_object_set_new(claims, "aud", json_string(cfg->auth.audience));
    char *tok = auth_mint(a, claims, privkey, err, sizeof(err));
    json_decref(claims);
    auth_destroy(&a);
    if (!tok)
        return die("%s", err);
    puts(tok);
    free(tok);
    return 0;
}

/* --- stats ------------------------------------------------------------------ */

static int
cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') config_flag = optarg;
        else if (c == 'h') { usage(stdout); return 0; }
        else return die("stats: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
    }
    if (optind < argc)
        return die("stats: unexpected argument '%s'", argv[optind]);
    if (load_config() < 0)
        return 1;
    void *ctx = zmq_ctx_new();
    char *json;
    int rc = 1;
    if (control(ctx, CTL_STATS, NULL, 0, &json, 2000) == CTL_OK && json) {
        printf("%s\n", json);
        rc = 0;
    } else {
        fprintf(stderr, "zsse: broker unreachable (%s)\n", cfg->broker.control);
    }
    free(json);
    zmq_ctx_term(ctx);
    return rc;
}

/* --- tail ---------------------------------------------------------------------- */

static volatile sig_atomic_t tail_stop;
static void on_int(int sig) { (void)sig; tail_stop = 1; }

static int
cmd_tail(int argc, char **argv)
{
    static const struct option opts[] = {
        { "count", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
        { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long count = -1;
    double timeout = 0;
    int c;

    while ((c = getopt_long(argc, argv, "n:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': count = atol(optarg); break;
        case 't': timeout = atof(optarg); break;
        case 'c': config_flag = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return die("tail: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return die("tail: name at least one CHANNEL%s", "");
    if (load_config() < 0)
        return 1;
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
    for (int i = optind; i < argc; i++) {
        char topic[257];
        size_t n = strlen(argv[i]);
        if (!channel_valid(argv[i], n))
            return die("tail: %s: not a valid channel name", argv[i]);
        memcpy(topic, argv[i], n + 1);      /* with its '\0': exact match */
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, n + 1);
    }
    if (zmq_connect(sub, cfg->broker.events) < 0)
        return die("tail: connect: %s", zmq_strerror(errno));
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long seen = 0;
    while (!tail_stop && (count < 0 || seen < count)) {
        zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
        if (timeout > 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= timeout)
                break;
        }
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        wire_frames_t w;
        wire_event_t ev;
        int r = wire_recv_event(sub, 0, &w, &ev, true);
        if (r == 1) {
            printf("%llu %.*s %.*s ", (unsigned long long)ev.id, (int)ev.channel_len, ev.channel,
                ev.event_len ? (int)ev.event_len : 1, ev.event_len ? ev.event : "-");
            for (size_t i = 0; i < ev.data_len; i++) {
                char ch = ev.data[i];
                if (ch == '\n') fputs("\\n", stdout);
                else if (ch == '\r') fputs("\\r", stdout);
                else putchar(ch);
            }
            putchar('\n');
            fflush(stdout);
            seen++;
        }
        if (r >= 1)
            wire_frames_close(&w);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return 0;
}

int
main(int argc, char **argv)
{
    int i = 1, rc;

    /* global options before the command */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            config_flag = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("zsse %s\n", ZSSE_VERSION);
            return 0;
        } else {
            return die("unknown option '%s' (see --help)", argv[i]);
        }
    }
    if (i >= argc) {
        usage(stderr);
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
    else rc = die("unknown command '%s' (see --help)", cmd);
    config_destroy(&cfg);
    return rc;
}
