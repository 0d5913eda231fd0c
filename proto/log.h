/*
 * log.h -- logging for the daemons.
 *
 * To stderr (foreground, tests), to a file (reopened on SIGHUP, for
 * logrotate), or to syslog.  log_limited() lets a hot error path (a
 * flood of bad publishes, a dead broker, a process out of descriptors)
 * log at most once a second and say how many lines it held back.
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
/* lines less urgent than PRIO (LOG_ERR ... LOG_DEBUG; default LOG_INFO)
 * are dropped */
void log_set_level(int prio);
/* "error", "warning", "notice", "info", "debug" -> LOG_*, or -1 */
int  log_level_parse(const char *name);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct {
    time_t   last;          /* when we last logged */
    unsigned suppressed;    /* lines held back since */
} ratelimit_t;

/* log_msg() at most once a second per RL (any thread), adding how many
 * lines were held back since the last one */
void log_limited(ratelimit_t *rl, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
