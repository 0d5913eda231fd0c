/*
 * log.c -- stderr, file or syslog.  See log.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "log.h"

#define LOG_LIMITED_LINE 1024   /* log_limited: bytes of a line before its suffix */

static const char *log_ident = "zsse";
static char *log_path;
static FILE *log_fp;        /* NULL: syslog */
static int log_syslog;
static int log_level = LOG_INFO;

void
log_set_level(int prio)
{
    log_level = prio;
}

int
log_level_parse(const char *name)
{
    static const struct { const char *name; int prio; } levels[] = {
        { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
        { "info", LOG_INFO }, { "debug", LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].prio;
    return -1;
}

int
log_open(const char *ident, int foreground, const char *file)
{
    log_ident = ident;
    free(log_path);
    log_path = NULL;
    if (file) {
        if (!(log_path = strdup(file)))
            return -1;
        return log_reopen();
    }
    if (foreground) {
        log_fp = stderr;
        return 0;
    }
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    log_syslog = 1;
    return 0;
}

int
log_reopen(void)
{
    FILE *fp;

    if (!log_path)
        return 0;
    if (!(fp = fopen(log_path, "a")))
        return -1;
    setvbuf(fp, NULL, _IOLBF, 0);
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = fp;
    return 0;
}

void
log_close(void)
{
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = NULL;
    if (log_syslog)
        closelog();
    log_syslog = 0;
    free(log_path);
    log_path = NULL;
}

void
log_msg(int prio, const char *fmt, ...)
{
    va_list ap;

    if (prio > log_level)
        return;
    va_start(ap, fmt);
    if (log_syslog) {
        vsyslog(prio, fmt, ap);
    } else {
        FILE *fp = log_fp ? log_fp : stderr;
        char ts[32];
        int64_t us = wall_us();
        time_t sec = (time_t)(us / 1000000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        flockfile(fp);
        fprintf(fp, "%s.%03ldZ %s[%d]: ", ts, (long)(us / 1000 % 1000), log_ident, (int)getpid());
        vfprintf(fp, fmt, ap);
        fputc('\n', fp);
        funlockfile(fp);
    }
    va_end(ap);
}

void
log_limited(ratelimit_t *rl, int prio, const char *fmt, ...)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    time_t now = wall_s();
    unsigned held;
    char line[LOG_LIMITED_LINE];
    va_list ap;

    if (prio > log_level)
        return;
    pthread_mutex_lock(&mu);
    if (now == rl->last) {
        rl->suppressed++;
        pthread_mutex_unlock(&mu);
        return;
    }
    rl->last = now;
    held = rl->suppressed;
    rl->suppressed = 0;
    pthread_mutex_unlock(&mu);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (held)
        log_msg(prio, "%s (and %u more since the last line)", line, held);
    else
        log_msg(prio, "%s", line);
}
