/*
 * gate.h -- new connections wait here, holding no thread, until the whole
 * head of their FastCGI request is in (issue 13 item 3).
 *
 *     accept / handoff ──▶ gate (epoll, MSG_PEEK) ──▶ queue ──▶ setup threads
 *
 * A setup thread that reads a request a peer sends one byte every few
 * seconds is held for as long as the peer likes (a read timeout applies
 * to each recv, not to the request).  So the accept thread keeps each new
 * connection in an epoll set and peeks at what has arrived: once
 * BEGIN_REQUEST and every PARAMS record (up to the empty one) are in the
 * socket's buffer -- or GATE_PEEK_MAX bytes of them, more than any head
 * we serve -- the connection goes to the queue, and libfcgi then reads the
 * head without waiting.  A connection whose head is not in by its
 * deadline, ACCEPT_READ_TIMEOUT seconds after accept, is answered 503 and
 * closed.  The gate is bounded (GATE_MAX connections, at most half the
 * descriptor limit): when it is full, its oldest connection -- the
 * likeliest to be idle or slow -- is answered 503 at once to make room,
 * so a valid request always gets in.  Refusals are counted and logged
 * (rate-limited).
 *
 * The gate is the accept thread's alone: no locks.
 */
#ifndef ZSSE_GATE_H
#define ZSSE_GATE_H

#include <stddef.h>
#include <stdint.h>

#define GATE_MAX       4096         /* connections waiting for their head */
#define GATE_PEEK_MAX  (32 * 1024)  /* bytes of a head looked at */

/* READY(fd, deadline_ms, reqid) takes a connection whose head is in.
 * 0, or -1 and errno. */
int  gate_init(void (*ready)(int fd, int64_t deadline, unsigned reqid));
/* the epoll descriptor to wait on (readable: gate_run) */
int  gate_fd(void);
/* a new connection, accepted at NOW (monotonic ms) */
void gate_add(int fd, int64_t now);
/* look at the connections with news, and end those past their deadline */
void gate_run(int64_t now);
/* ms until the next deadline; -1: no connection waits */
int  gate_timeout(int64_t now);
/* FD has been answered (and shut down for writing): take what its peer
 * still sends until it closes, or UNTIL (monotonic ms), then close it --
 * closing a socket with unread data resets the connection, and the web
 * server may lose the answer */
void gate_close_later(int fd, int64_t until);
/* answer FD's request REQID (1 when unknown) with 503 + Retry-After and
 * close FD; WHY goes to the log (rate-limited) with the count */
void gate_refuse(int fd, unsigned reqid, const char *why);

#endif
