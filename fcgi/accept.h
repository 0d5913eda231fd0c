/*
 * accept.h -- the connections from the web server, taken off the listen
 * socket as fast as they come and queued for the setup threads.
 *
 *     listen socket ──accept──▶ queue ──▶ setup threads (request.c)
 *     handoff socket ──recvmsg──▶  ┘
 *
 * New connections wait in the gate (gate.h), holding no thread, until
 * the head of their request is in; a full queue answers 503 at once; a
 * setup thread reads the rest of a request (a body) only until the
 * request's deadline, ACCEPT_READ_TIMEOUT from accept (the watchdog).
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
#include <stdint.h>

#define ACCEPT_READ_TIMEOUT 10      /* s from accept: the whole request read */
#define ACCEPT_ADDRS_MAX    16      /* addresses in FCGI_WEB_SERVER_ADDRS */
#define ACCEPT_QUEUE_MAX    4096    /* requests waiting for a setup thread */
#define ACCEPT_LINGER_MS    1000    /* for the web server to close, after an answer */

/* the gate (gate.h) and the queue, small, growing up to ACCEPT_QUEUE_MAX
 * (or the descriptor limit); THREADS setup threads will read requests;
 * -1: out of memory */
int  accept_init(size_t threads);
/* only the web servers in LIST (FCGI_WEB_SERVER_ADDRS as libfcgi reads it:
 * IPv4 or IPv6 addresses separated by commas) may connect over TCP; NULL
 * or empty: any.  -1 and ERR when LIST is not that. */
int  accept_allow(const char *list, char *err, size_t errlen);
/* what --listen ADDR names (accept_listen_addr) */
typedef enum {
    ACCEPT_ADDR_BAD = -1,
    ACCEPT_ADDR_TCP,                /* HOST:PORT, the port 1 to 65535 in digits */
    ACCEPT_ADDR_UNIX,               /* a path with a '/': a unix socket */
} accept_addr_t;
/* check ADDR before libfcgi's FCGX_OpenSocket reads it (which takes the
 * port with atoi, wrapping 99999, and any other text for a unix socket
 * path): HOST:PORT (HOST empty or "*": every address) or a path with a
 * '/' and no ':' that fits a unix socket address.  ACCEPT_ADDR_BAD and
 * ERR when it is neither. */
accept_addr_t accept_listen_addr(const char *addr, char *err, size_t errlen);
/* the handoff socket at PATH (replacing a stale one), mode 0660; -1 and
 * errno when it cannot be made */
int  accept_handoff_open(const char *path);
/* accept on LISTEN_FD (-1: none) and take connections handed off on
 * HANDOFF_FD (-1: none) until the listen socket fails for good (the web
 * server closed it) */
void accept_run(int listen_fd, int handoff_fd);
/* the next connection for a setup thread (blocks), its request head in
 * the socket; *DEADLINE (monotonic ms) is when its whole request must
 * have been read */
int  accept_next(int64_t *deadline);
/* the calling setup thread reads FD's request until DEADLINE: past it, the
 * accept thread shuts FD's reading down (the read returns end of file);
 * accept_unwatch once the reading is done */
void accept_watch(int fd, int64_t deadline);
void accept_unwatch(void);
/* FD's answer is out but its body was not read: the accept thread takes
 * what the peer still sends, at most ACCEPT_LINGER_MS, and closes it
 * (closing with unread data would reset the connection, and the web
 * server could lose the answer).  The caller lets go of FD. */
void accept_linger(int fd);

#endif
