/*
 * accept.h -- the connections from the web server, taken off the listen
 * socket as fast as they come and queued for the setup threads.
 *
 *     listen socket ──accept──▶ queue ──▶ setup threads (stream.c)
 *
 * The main thread accepts; --threads N threads read each request and set
 * its stream up.  A burst of thousands of new streams waits here, not in
 * the kernel's backlog (net.core.somaxconn, where a unix socket refuses
 * at once when it is full, and the web server answers 502 or 503).  The
 * queue holds open descriptors only, so RLIMIT_NOFILE bounds it.
 */
#ifndef ZSSE_ACCEPT_H
#define ZSSE_ACCEPT_H

#define ACCEPT_READ_TIMEOUT 10      /* s: a web server that sends no request */

/* the queue, small, growing up to the descriptor limit; -1: out of memory */
int  accept_init(void);
/* accept on LISTEN_FD until it fails for good (the web server closed it) */
void accept_run(int listen_fd);
/* the next connection for a setup thread (blocks) */
int  accept_next(void);

#endif
