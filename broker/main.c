/*
 * main.c -- zsse-broker: options, config, daemon, signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "broker.h"
#include "config.h"
#include "curve.h"
#include "log.h"
#include "zsse.h"

static void
broker_main_usage(FILE *fp)
{
    fprintf(fp,
        "usage: zsse-broker [-c FILE] [-f]\n"
        "  -c, --config FILE   config file (default $ZSSE_CONFIG, else /etc/zsse/zsse.json)\n"
        "  -f, --foreground    stay in the foreground, log to stderr\n"
        "  -h, --help          this help\n"
        "  -V, --version       print the version\n"
        "Signals: TERM/INT stop cleanly, HUP reopens the log file and reads the\n"
        "CURVE clients (broker.curve.clients) again.\n");
}

static void
broker_main_on_signal(int sig)
{
    if (sig == SIGHUP)
        broker_reopen_log();
    else
        broker_stop();
}

static int
broker_main_daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if ((pid = fork()) < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -1;
    if ((fd = open("/dev/null", O_RDWR)) < 0)
        return -1;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *file = NULL;
    int fg = 0, c;
    char err[512];
    struct sigaction sa;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:fhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': file = optarg; break;
        case 'f': fg = 1; break;
        case 'h': broker_main_usage(stdout); return 0;
        case 'V': printf("zsse-broker %s\n", ZSSE_VERSION); return 0;
        default:
            fprintf(stderr, "zsse-broker: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zsse-broker: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    file = config_default_path(file);
    config_t *cfg = config_load(file, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "zsse-broker: config: %s: %s\n", file, err);
        return 1;
    }
    /* off loopback only with CURVE or a trusted network (issue 12) */
    if (curve_check_binds(&cfg->broker, err, sizeof(err)) < 0) {
        fprintf(stderr, "zsse-broker: config: %s: %s\n", file, err);
        config_destroy(&cfg);
        return 1;
    }
    if (!fg && broker_main_daemonize() < 0) {
        fprintf(stderr, "zsse-broker: cannot become a daemon: %s\n", strerror(errno));
        return 1;
    }
    if (log_open("zsse-broker", fg, cfg->broker.log) < 0) {
        fprintf(stderr, "zsse-broker: log %s: %s\n", cfg->broker.log, strerror(errno));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = broker_main_on_signal;      /* no SA_RESTART: zmq_poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    broker_t *b = broker_new(cfg, err, sizeof(err));
    if (!b) {
        log_msg(LOG_ERR, "%s", err);
        if (!fg)
            fprintf(stderr, "zsse-broker: %s\n", err);
        config_destroy(&cfg);
        log_close();
        return 1;
    }
    int rc = broker_run(b);
    broker_destroy(&b);
    config_destroy(&cfg);
    log_close();
    return rc < 0 ? 1 : 0;
}
