/*
 * handoff.h -- passing a web server's FastCGI connection from a thin
 * process (zsse-handoff) to the one zsse-fcgi that holds the streams.
 *
 * mod_fcgid gives each of its processes one request at a time, so one open
 * event stream is one process.  zsse-fcgi carries libzmq, libjwt and
 * OpenSSL, and a process of it costs about 1.2 MiB whatever it does.
 * zsse-handoff links libc only.  It accepts the connection on fd 0 and
 * sends it, unread, to `zsse-fcgi --handoff PATH`, then closes its copy:
 *
 *     Apache ──connect──▶ zsse-handoff ──fd (SCM_RIGHTS)──▶ zsse-fcgi
 *        ▲                                                   │ (accept
 *        └────────── the FastCGI response, on that connection┘  queue)
 *
 * zsse-fcgi queues it like a connection it accepted itself (accept.h).
 * The web server still sees its process busy until the response ends,
 * so its process accounting and timeouts are what they were.
 *
 * The wire: PATH is a unix datagram socket; each datagram is one byte,
 * HANDOFF_TAG, carrying exactly one descriptor, a connected stream
 * socket.  Anything else is closed and logged.  A datagram socket keeps
 * no per-sender state, so any number of processes send to it, and one
 * that zsse-fcgi re-creates on restart is found again by its path.  A full
 * receive queue (net.unix.max_dgram_qlen) makes the sender wait, up to
 * HANDOFF_SEND_TIMEOUT.  Who may send is who may write PATH: zsse-fcgi
 * makes it 0660, so the web server's group must own it.
 */
#ifndef ZSSE_HANDOFF_H
#define ZSSE_HANDOFF_H

#define HANDOFF_TAG             'F'
#define HANDOFF_PATH_DEFAULT    "/run/zsse/handoff.sock"
#define HANDOFF_ENV             "ZSSE_HANDOFF"
#define HANDOFF_SEND_TIMEOUT    5       /* s: zsse-fcgi alive but not taking */
#define HANDOFF_RETRY_MS        2000    /* ms: zsse-fcgi absent (a restart) */

#endif
