/*
 * log.h -- logging for the daemons.
 *
 * To stderr (foreground, tests), to a file (reopened on SIGHUP, for
 * logrotate), or to syslog.  log_ratelimit() lets a hot error path (a
 * flood of bad publishes) log at most once per interval and say how many
 * lines it held back.
 */
#ifndef ZSSE_LOG_H
#define ZSSE_LOG_H

#include <time.h>
#include <syslog.h>

/* FILE NULL: stderr when FOREGROUND, else syslog.  -1 when FILE cannot be
 * opened (errno set). */
int  log_open(const char *ident, int foreground, const char *file);
int  log_reopen(void);               /* after SIGHUP */
void log_close(void);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct {
    time_t   last;          /* when we last logged */
    unsigned suppressed;    /* lines held back since */
} ratelimit_t;

/* 1 when a line may be logged now (at most once per second); the caller
 * then reports rl->suppressed and this resets it. */
int log_ratelimit(ratelimit_t *rl, time_t now);

#endif
