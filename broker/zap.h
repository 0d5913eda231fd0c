/*
 * zap.h -- the broker's ZAP handler (ZeroMQ RFC 27) and the count of
 * refused peers.
 *
 * With CURVE on, libzmq asks inproc://zeromq.zap.01 about every client
 * that completed the CURVE handshake; our thread answers 200 for an allowed
 * public key (curve_server_allows) and 400 for any other.  A peer that never
 * gets that far -- no CURVE at all, or the wrong broker key -- fails the
 * handshake inside libzmq; a socket monitor on each broker socket reports
 * those.  Both kinds are counted (zap_refused, shown by `zsse stats` as
 * auth_refused and auth_refused_reasons) and logged, rate-limited.
 *
 * Order matters: zap_start() binds the handler before any broker socket
 * binds (libzmq lets every client in while no handler is bound), and
 * zap_watch() runs in the thread that owns the socket, before its bind;
 * zap_run() after the watches.
 * zap_stop() after the broker's sockets are closed, before zmq_ctx_term.
 */
#ifndef ZSSE_ZAP_H
#define ZSSE_ZAP_H

#include <stdint.h>
#include "curve.h"

#define ZAP_WATCH_MAX 3

typedef struct zap zap_t;

typedef struct {
    uint64_t unknown_key;   /* CURVE handshake done, key not allowed (ZAP 400) */
    uint64_t handshake;     /* no CURVE, wrong broker key, broken handshake */
} zap_counts_t;

/* Bind the handler in CTX; CURVE (not copied) must outlive it.  NULL with
 * the reason in ERR. */
zap_t *zap_start(void *ctx, curve_server_t *curve, char *err, size_t errlen);
/* Count and log handshake failures on SOCK, named NAME ("publish").
 * 0, or -1 with errno set. */
int    zap_watch(zap_t *z, void *sock, const char *name);
/* Start the thread, after every zap_watch().  0, or -1 with errno set. */
int    zap_run(zap_t *z);
/* Take FRESH's allowed keys (a reload); FRESH gets the old ones to clear.
 * Connections already let in stay: ZAP runs once per handshake. */
void   zap_allow(zap_t *z, curve_server_t *fresh);
/* the counts so far (any thread); zeros for a NULL Z (CURVE off) */
zap_counts_t zap_refused(const zap_t *z);
/* Stop the thread: shuts CTX down (blocking calls return ETERM) and joins. */
void   zap_stop(zap_t **zp, void *ctx);

#endif
