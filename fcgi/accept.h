/*
 * accept.h -- the connections from the web server, taken off the listen
 * socket as fast as they come and queued for the setup threads.
 *
 *     listen socket ──accept──▶ queue ──▶ setup threads (stream.c)
 *     handoff socket ──recvmsg──▶  ┘
 *
 * The handoff socket brings connections that zsse-handoff accepted for us
 * (handoff.h): one zsse-fcgi holds the streams of many thin processes.
 * The main thread accepts; --threads N threads read each request and set
 * its stream up.  A burst of thousands of new streams waits here, not in
 * the kernel's backlog (net.core.somaxconn, where a unix socket refuses
 * at once when it is full, and the web server answers 502 or 503).  The
 * queue holds open descriptors only, so RLIMIT_NOFILE bounds it.
 */
#ifndef ZSSE_ACCEPT_H
#define ZSSE_ACCEPT_H

#include <stddef.h>

#define ACCEPT_READ_TIMEOUT 10      /* s: a web server that sends no request */
#define ACCEPT_ADDRS_MAX    16      /* addresses in FCGI_WEB_SERVER_ADDRS */

/* the queue, small, growing up to the descriptor limit; -1: out of memory */
int  accept_init(void);
/* only the web servers in LIST (FCGI_WEB_SERVER_ADDRS as libfcgi reads it:
 * IPv4 or IPv6 addresses separated by commas) may connect over TCP; NULL
 * or empty: any.  -1 and ERR when LIST is not that. */
int  accept_allow(const char *list, char *err, size_t errlen);
/* the handoff socket at PATH (replacing a stale one), mode 0660; -1 and
 * errno when it cannot be made */
int  accept_handoff_open(const char *path);
/* accept on LISTEN_FD (-1: none) and take connections handed off on
 * HANDOFF_FD (-1: none) until the listen socket fails for good (the web
 * server closed it) */
void accept_run(int listen_fd, int handoff_fd);
/* the next connection for a setup thread (blocks) */
int  accept_next(void);

#endif
