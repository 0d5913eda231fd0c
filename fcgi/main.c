/*
 * main.c -- zsse-fcgi: options, config, the FastCGI socket, threads.
 *
 * Without --listen, the FastCGI listen socket is fd 0 (lighttpd bin-path,
 * mod_fcgid, spawn-fcgi).  With --listen ADDR it opens its own (nginx,
 * lighttpd "socket"/"host").  The main thread accepts requests
 * (accept.c) and queues them; --threads N setup threads each take one
 * from the queue and set it up (route, token, lease, replay: request.c),
 * then hand the stream to the hub thread, which holds every open stream
 * (hub.h), and take the next.  A poll-mode request keeps its setup thread
 * until answered.
 * With --handoff PATH it also takes the connections that zsse-handoff
 * processes accepted (handoff.h); without --listen, only those.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "accept.h"
#include "auth.h"
#include "config.h"
#include "control.h"
#include "curve.h"
#include "hub.h"
#include "log.h"
#include "request.h"
#include "zsse.h"

#define MAIN_THREADS_MAX 20000
/* setup threads of a --listen / --handoff process: a request holds one
 * only while it is set up (its head is in: gate.h), or while a poll-mode
 * request waits */
#define MAIN_THREADS_DEFAULT 16
#define MAIN_STACK_SIZE  (256 * 1024)

#define MAIN_RESTART_WINDOW_MAX 3600    /* s: --restart-window */
/* the deepest backlog the kernel allows (it caps it at net.core.somaxconn):
 * a burst of new streams waits there while the threads set streams up; on
 * a unix socket a full backlog refuses at once (EAGAIN), and lighttpd then
 * answers 503 and nginx 502 */
#define MAIN_LISTEN_BACKLOG     65535
#define MAIN_ZMQ_SOCKETS_SPARE  64      /* beyond one per setup thread: the hub's, leases */
/* a thousand threads would each get a malloc arena of their own and keep
 * its high-water mark; a few shared arenas keep memory flat */
#define MAIN_MALLOC_ARENAS      4

static config_t *main_cfg;
static int main_restart_window = 10;         /* s: --restart-window */
static auth_t *main_auth;
static int main_listen_fd, main_handoff_fd = -1;

static void
main_usage(FILE *fp)
{
    fprintf(fp,
        "usage: zsse-fcgi [-c FILE] [--listen ADDR] [--handoff PATH] [--threads N]\n"
        "  -c, --config FILE  config file (default $ZSSE_CONFIG, else /etc/zsse/zsse.json)\n"
        "  --listen ADDR      127.0.0.1:9000 or /run/zsse/fcgi.sock (default: the FastCGI\n"
        "                     socket on fd 0, as lighttpd bin-path and mod_fcgid give it)\n"
        "  --handoff PATH     take the connections zsse-handoff processes pass on this\n"
        "                     unix socket (mod_fcgid: one thin process per stream, one\n"
        "                     zsse-fcgi for all); without --listen, only those\n"
        "  --threads N        set up to N requests at once (default 16 with --listen\n"
        "                     or --handoff, else 1); open streams\n"
        "                     are held by one hub thread, as many as descriptors allow\n"
        "  --restart-window S on TERM/INT/HUP, tell each client to come back after a\n"
        "                     random delay of up to S seconds (default 10; 0: at once)\n"
        "                     and end the streams: they resume spread over S seconds;\n"
        "                     or $ZSSE_RESTART_WINDOW\n"
        "  --log-level L      error, warning, notice (refused requests), info (default:\n"
        "                     start and stop), debug; or $ZSSE_LOG_LEVEL\n"
        "  --syslog           log to syslog (daemon) instead of stderr; or ZSSE_LOG=syslog\n"
        "                     (lighttpd bin-path and mod_fcgid hide a backend's stderr)\n"
        "  -h, --help, -V, --version\n"
        "Signals: TERM, INT and HUP stop it cleanly (its streams end, clients resume\n"
        "with Last-Event-ID, spread over --restart-window); it has no reload.\n");
}

/*
 * A setup thread: the next connection from the queue (accept.h), its
 * request read by libfcgi -- which, given a connection (ipcFd set and
 * keepConnection, so that finishing "the previous request" closes
 * nothing), reads it instead of accepting one -- then served.
 */
static void *
main_worker(void *arg)
{
    FCGX_Request req;
    (void)arg;

    if (FCGX_InitRequest(&req, -1, 0) != 0)
        return NULL;
    for (;;) {
        int64_t deadline;
        req.ipcFd = accept_next(&deadline);
        req.keepConnection = 1;
        /* (its head is in the socket: this read does not wait) */
        accept_watch(req.ipcFd, deadline);
        if (FCGX_Accept_r(&req) < 0) {
            /* not a FastCGI request, or the web server went away: libfcgi
             * closed it (and failed to accept on our -1) */
            accept_unwatch();
            if (req.ipcFd >= 0)
                close(req.ipcFd);
            req.ipcFd = -1;
            continue;
        }
        request_serve(&req, main_cfg, main_auth);
        accept_unwatch();
        int unread = req.ipcFd >= 0 && !FCGX_HasSeenEOF(req.in);
        /* (FCGX_Accept_r took the web server's keep-conn flag; closing,
         * libfcgi would wait up to 2 s a read for the peer's end, in this
         * thread: the connection is ours to close) */
        req.keepConnection = 1;
        FCGX_Finish_r(&req);
        /* one request per connection: a web server that asked to keep it
         * (FCGI_KEEP_CONN) opens another */
        if (req.ipcFd >= 0 && unread)
            accept_linger(req.ipcFd);   /* (the accept thread closes it) */
        else if (req.ipcFd >= 0)
            close(req.ipcFd);
        req.ipcFd = -1;
    }
    return NULL;
}

static void *
main_signals(void *arg)
{
    sigset_t *set = arg;
    int sig;

    sigwait(set, &sig);
    /* the clients come back spread over the window, not all at once */
    hub_drain(main_restart_window * 1000);
    /* a clean stop: the broker forgets our leases now, not in 30 s */
    hub_stop();
    log_msg(LOG_INFO, "stopping on signal %d", sig);
    _exit(0);
}

/* what main()'s steps return: an exit status, or MAIN_GO_ON */
enum {
    MAIN_EXIT_OK = 0,
    MAIN_EXIT_FAIL = 1,         /* config, sockets, threads */
    MAIN_EXIT_USAGE = 2,        /* a bad option or environment value */
    MAIN_GO_ON = -1,            /* the step is done: on to the next */
};

/* the command line and its environment ($ZSSE_LOG_LEVEL, $ZSSE_LOG,
 * $ZSSE_RESTART_WINDOW), as main_options read them */
typedef struct {
    const char *file;           /* -c, or NULL: config_default_path */
    const char *listen;         /* --listen ADDR (accept_listen_addr), or NULL */
    const char *handoff;        /* --handoff PATH, or NULL */
    const char *level;          /* --log-level, or NULL */
    int         use_syslog;
    long        threads;        /* setup threads, 1 to MAIN_THREADS_MAX */
} main_opts_t;

/* parse ARGV into O (and main_restart_window); returns MAIN_GO_ON, or
 * MAIN_EXIT_OK after --help/--version, MAIN_EXIT_USAGE after telling
 * stderr what is wrong */
static int
main_options(int argc, char **argv, main_opts_t *o)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "listen", required_argument, NULL, 'l' },
        { "handoff", required_argument, NULL, 'H' },
        { "threads", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "log-level", required_argument, NULL, 'L' },
        { "restart-window", required_argument, NULL, 'R' }, { "syslog", no_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    const char *logto = getenv("ZSSE_LOG");
    const char *window = getenv("ZSSE_RESTART_WINDOW");
    int c;
    char err[512];

    *o = (main_opts_t){ .level = getenv("ZSSE_LOG_LEVEL"),
        .use_syslog = logto && strcmp(logto, "syslog") == 0 };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->file = optarg; break;
        case 'l':
            if (accept_listen_addr(optarg, err, sizeof(err)) == ACCEPT_ADDR_BAD) {
                fprintf(stderr, "zsse-fcgi: --listen %s: %s\n", optarg, err);
                return MAIN_EXIT_USAGE;
            }
            o->listen = optarg;
            break;
        case 'H': o->handoff = optarg; break;
        case 'L': o->level = optarg; break;
        case 'R': window = optarg; break;
        case 'S': o->use_syslog = 1; break;
        case 't': {
            char *end;
            o->threads = strtol(optarg, &end, 10);
            if (*end || o->threads < 1 || o->threads > MAIN_THREADS_MAX) {
                fprintf(stderr, "zsse-fcgi: --threads %s: a number from 1 to %d\n", optarg,
                    MAIN_THREADS_MAX);
                return MAIN_EXIT_USAGE;
            }
            break;
        }
        case 'h': main_usage(stdout); return MAIN_EXIT_OK;
        case 'V': printf("zsse-fcgi %s\n", ZSSE_VERSION); return MAIN_EXIT_OK;
        default:
            fprintf(stderr, "zsse-fcgi: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
            return MAIN_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zsse-fcgi: unexpected argument '%s' (see --help)\n", argv[optind]);
        return MAIN_EXIT_USAGE;
    }
    if (!o->threads)
        o->threads = o->listen || o->handoff ? MAIN_THREADS_DEFAULT : 1;
    if (window && *window) {
        char *end;
        long w = strtol(window, &end, 10);
        if (*end || w < 0 || w > MAIN_RESTART_WINDOW_MAX) {
            fprintf(stderr, "zsse-fcgi: restart window %s: seconds from 0 to %d\n",
                window, MAIN_RESTART_WINDOW_MAX);
            return MAIN_EXIT_USAGE;
        }
        main_restart_window = (int)w;
    }
    if (o->level && *o->level && log_level_parse(o->level) < 0) {
        fprintf(stderr, "zsse-fcgi: log level %s: one of error, warning, notice, info, debug\n",
            o->level);
        return MAIN_EXIT_USAGE;
    }
    return MAIN_GO_ON;
}

/* open the log as O says, load the config (O->file set to the path read)
 * into main_cfg, its CURVE keys into CURVE, the token keys into main_auth
 * (when a route needs them) and $FCGI_WEB_SERVER_ADDRS; returns
 * MAIN_GO_ON, or MAIN_EXIT_FAIL after telling stderr (and syslog) why */
static int
main_load(main_opts_t *o, curve_client_t *curve)
{
    char err[512];

    /* syslog from here: lighttpd and mod_fcgid show a backend's stderr as
     * at most "child exited: 1" */
    log_open("zsse-fcgi", !o->use_syslog, NULL);
    if (o->level && *o->level)
        log_set_level(log_level_parse(o->level));
    o->file = config_default_path(o->file);
    if (!(main_cfg = config_load(o->file, err, sizeof(err)))) {
        fprintf(stderr, "zsse-fcgi: config: %s: %s\n", o->file, err);
        if (o->use_syslog)
            log_msg(LOG_ERR, "config: %s: %s", o->file, err);
        return MAIN_EXIT_FAIL;
    }
    if (curve_client_load(&main_cfg->broker, curve, err, sizeof(err)) < 0) {
        fprintf(stderr, "zsse-fcgi: config: %s: %s\n", o->file, err);
        return MAIN_EXIT_FAIL;
    }
    int needs_auth = 0;
    for (size_t i = 0; i < main_cfg->nroutes; i++)
        needs_auth |= main_cfg->routes[i].auth != AUTH_NONE;
    if (needs_auth && !(main_auth = auth_new(&main_cfg->auth, err, sizeof(err)))) {
        fprintf(stderr, "zsse-fcgi: config: %s: %s\n", o->file, err);
        if (o->use_syslog)
            log_msg(LOG_ERR, "config: %s: %s", o->file, err);
        return MAIN_EXIT_FAIL;
    }
    if (accept_allow(getenv("FCGI_WEB_SERVER_ADDRS"), err, sizeof(err)) < 0) {
        fprintf(stderr, "zsse-fcgi: FCGI_WEB_SERVER_ADDRS: %s\n", err);
        return MAIN_EXIT_FAIL;
    }
    return MAIN_GO_ON;
}

/* the sockets requests come in on: main_listen_fd (--listen's own, fd 0
 * from the web server, or -1 with --handoff alone) and main_handoff_fd;
 * returns MAIN_GO_ON, MAIN_EXIT_FAIL when one cannot be opened, or
 * MAIN_EXIT_USAGE when fd 0 is not a FastCGI socket and none was named */
static int
main_listeners(const main_opts_t *o)
{
    if (FCGX_Init() != 0) {
        fprintf(stderr, "zsse-fcgi: FCGX_Init failed\n");
        return MAIN_EXIT_FAIL;
    }
    if (o->listen) {
        if (strchr(o->listen, '/'))
            unlink(o->listen);          /* a stale socket of an earlier run */
        if ((main_listen_fd = FCGX_OpenSocket(o->listen, MAIN_LISTEN_BACKLOG)) < 0) {
            fprintf(stderr, "zsse-fcgi: --listen %s: cannot listen: %s\n", o->listen,
                strerror(errno));
            return MAIN_EXIT_FAIL;
        }
        if (strchr(o->listen, '/'))
            chmod(o->listen, 0660);
    } else if (o->handoff) {
        main_listen_fd = -1;            /* connections come only handed off */
    } else if (FCGX_IsCGI()) {
        fprintf(stderr, "zsse-fcgi: fd 0 is not a FastCGI socket: run it from the web server "
            "(bin-path, mod_fcgid, spawn-fcgi) or use --listen ADDR\n");
        return MAIN_EXIT_USAGE;
    }
    if (o->handoff && (main_handoff_fd = accept_handoff_open(o->handoff)) < 0) {
        fprintf(stderr, "zsse-fcgi: --handoff %s: cannot bind: %s\n", o->handoff,
            strerror(errno));
        return MAIN_EXIT_FAIL;
    }
    return MAIN_GO_ON;
}

/* the process's settings before any thread starts: TERM/INT/HUP blocked
 * (SET: main_signals sigwaits them), SIGPIPE ignored, descriptors raised
 * to the hard limit, MAIN_MALLOC_ARENAS arenas */
static void
main_process(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    mallopt(M_ARENA_MAX, MAIN_MALLOC_ARENAS);
}

/* the threads: the control pool and the acceptor set up, the hub started,
 * the signal thread (waiting for SET, which must live until exit) and
 * O->threads setup threads (fewer when the system refuses some, logged);
 * returns MAIN_GO_ON, or MAIN_EXIT_FAIL when none could start */
static int
main_threads(const main_opts_t *o, const curve_client_t *curve, sigset_t *set)
{
    void *zctx = zmq_ctx_new();
    zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, (int)o->threads + MAIN_ZMQ_SOCKETS_SPARE);
    control_init(zctx, main_cfg->broker.control, curve);
    if (accept_init((size_t)o->threads) < 0) {
        fprintf(stderr, "zsse-fcgi: out of memory\n");
        return MAIN_EXIT_FAIL;
    }
    if (hub_start(zctx, main_cfg->broker.events, curve) < 0) {
        fprintf(stderr, "zsse-fcgi: cannot start: %s\n", zmq_strerror(errno));
        return MAIN_EXIT_FAIL;
    }
    pthread_t sig_thread;
    pthread_create(&sig_thread, NULL, main_signals, set);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, MAIN_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (long i = 0; i < o->threads; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, main_worker, NULL) != 0) {
            if (i == 0) {
                fprintf(stderr, "zsse-fcgi: cannot start a thread: %s\n", strerror(errno));
                return MAIN_EXIT_FAIL;
            }
            log_msg(LOG_WARNING, "started only %ld of %ld threads: %s", i, o->threads,
                strerror(errno));
            break;
        }
    }
    return MAIN_GO_ON;
}

int
main(int argc, char **argv)
{
    static curve_client_t curve;    /* read by the control pool and the hub */
    main_opts_t o;
    sigset_t set;                   /* the signal thread's, until _exit */
    int rc;

    if ((rc = main_options(argc, argv, &o)) != MAIN_GO_ON ||
        (rc = main_load(&o, &curve)) != MAIN_GO_ON ||
        (rc = main_listeners(&o)) != MAIN_GO_ON)
        return rc;
    main_process(&set);
    if ((rc = main_threads(&o, &curve, &set)) != MAIN_GO_ON)
        return rc;
    log_msg(LOG_INFO, "zsse-fcgi %s started: config %s, %s%s%s%s, %ld setup threads, "
        "broker %s", ZSSE_VERSION, o.file, o.listen ? "listening on " : "",
        o.listen ? o.listen : o.handoff ? "" : "the FastCGI socket on fd 0",
        o.handoff ? (o.listen ? ", handoff " : "handoff ") : "", o.handoff ? o.handoff : "",
        o.threads, main_cfg->broker.events);
    /* run: the main thread accepts, until the socket is gone; a signal
     * stops the process from main_signals */
    accept_run(main_listen_fd, main_handoff_fd);
    hub_stop();
    _exit(MAIN_EXIT_OK);            /* setup threads may be blocked in a read */
}
