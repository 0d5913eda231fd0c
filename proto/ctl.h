/*
 * ctl.h -- the one codec of the control protocol (broker ROUTER <->
 * worker, CLI and library DEALERs).  wire.h documents the operations.
 *
 * A message is a list of frames.  A request is an empty delimiter, the
 * operation's name, then its arguments; a reply is an empty delimiter, a
 * status, then the status' arguments (and, for replay and state, events:
 * two frames each, wire.h).  Every operation is one row of ctl_ops[]: its
 * name, how many argument frames it takes, and the size bounds of each.
 * ctl_decode() checks the frame count and every size against that row
 * BEFORE anything is read, so a handler only sees arguments that are
 * there and within bounds.  Adding an operation is one enum value, one
 * row here and one handler in the broker.
 *
 * Frames are views (ctl_arg_t: pointer, length) so the codec works the
 * same on zmq_msg_t frames and on a fuzzer's bytes.  Replies are built
 * into a ctl_reply_t (one buffer, bounded by a byte cap) and then sent.
 */
#ifndef ZSSE_CTL_H
#define ZSSE_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "buf.h"
#include "wire.h"

#define CTL_CHANNELS_MAX  16            /* per request (= ROUTE_MAX_CHANNELS) */
#define CTL_LEASES_MAX    1024          /* lease ids per renew / release */
#define CTL_ARGS_MAX      CTL_LEASES_MAX
#define CTL_IDENT_MAX     255           /* a ROUTER routing id, bytes */
#define CTL_REPLY_MAX     (1u << 20)    /* bytes of one reply's events (a
                                         * larger replay goes in parts) */
#define CTL_LEASE_ID_LEN  32            /* 128 random bits, hex */
#define CTL_FIELD_MAX     255           /* a channel, route, sub, reason */
#define CTL_TAG_MAX       32            /* a lease request's tag, echoed */

typedef enum {
    CTL_PING, CTL_HEAD, CTL_PUBLISH, CTL_REPLAY, CTL_STATE, CTL_STATS,
    CTL_LEASE, CTL_RENEW, CTL_RELEASE, CTL_REVOKE,
    CTL_NOPS
} ctl_op_t;

/* one row of the table: argument frames after the op's name */
typedef struct {
    const char *name;
    unsigned    min, max;               /* frame count */
    unsigned    nfixed;                 /* leading args with own bounds */
    struct { size_t min, max; } fixed[4];
    size_t      rest_min, rest_max;     /* bytes of every further arg */
} ctl_opdef_t;

extern const ctl_opdef_t ctl_ops[CTL_NOPS];

typedef struct {
    const char *p;
    size_t      len;
} ctl_arg_t;

typedef enum {
    CTL_E_OK = 0,
    CTL_E_EMPTY,                        /* no op frame */
    CTL_E_UNKNOWN,                      /* no such op */
    CTL_E_COUNT,                        /* wrong number of arguments */
    CTL_E_SIZE,                         /* an argument out of its bounds */
    CTL_E_STATUS,                       /* reply: unknown status */
    CTL_E_EVENT,                        /* reply: a malformed event */
} ctl_err_t;

const char *ctl_strerror(ctl_err_t e);  /* "bad request: ..." */

typedef struct {
    ctl_op_t  op;
    unsigned  nargs;
    ctl_arg_t arg[CTL_ARGS_MAX];        /* views into the frames */
} ctl_req_t;

/* Decode N frames (op first) into REQ after checking the count and every
 * size against ctl_ops[].  Returns CTL_E_OK or the reason. */
ctl_err_t ctl_decode(const ctl_arg_t *frames, size_t n, ctl_req_t *req);

/* Send a request (delimiter, op, ARGS) on the DEALER SOCK.  ARGS are
 * checked as ctl_decode() would: -1 with errno EINVAL when they do not
 * fit the table (nothing sent), -1 with zmq's errno on a send error. */
int ctl_send(void *sock, ctl_op_t op, const ctl_arg_t *args, size_t nargs);
/* the same with NUL-terminated strings */
int ctl_send_strs(void *sock, ctl_op_t op, const char *const *args, size_t nargs);

/* --- receiving whole messages --------------------------------------------- */

typedef struct {
    zmq_msg_t *f;
    size_t     n, cap;
    size_t     max;                     /* frames kept; more: truncated */
    int        truncated;
} ctl_frames_t;

void ctl_frames_init(ctl_frames_t *m, size_t max_frames);
/* Receive one whole multipart message from SOCK (FLAGS: 0 or
 * ZMQ_DONTWAIT).  Frames past M->max are read and dropped (truncated set).
 * 1: received, 0: nothing waiting, -1 error (errno).  Call
 * ctl_frames_close() after each call. */
int  ctl_recv(void *sock, ctl_frames_t *m, int flags);
void ctl_frames_close(ctl_frames_t *m);
/* frame I as a view */
ctl_arg_t ctl_frame(const ctl_frames_t *m, size_t i);

/* --- replies -------------------------------------------------------------- */

typedef enum {
    CTL_OK, CTL_ERROR, CTL_FULL, CTL_RESET, CTL_MORE, CTL_REFUSED, CTL_NSTATUS
} ctl_status_t;
extern const char *const ctl_status_names[CTL_NSTATUS];

typedef struct {
    buf_t   buf;                        /* the frames' bytes, back to back */
    size_t *len;                        /* each frame's length */
    size_t  n, cap;
    size_t  events_bytes;               /* bytes of event frames so far */
} ctl_reply_t;

void ctl_reply_init(ctl_reply_t *r);
void ctl_reply_free(ctl_reply_t *r);
void ctl_reply_reset(ctl_reply_t *r);
/* append a frame; -1 on allocation failure */
int  ctl_reply_add(ctl_reply_t *r, const void *p, size_t len);
int  ctl_reply_str(ctl_reply_t *r, const char *s);
/* start a reply: STATUS and ARG (NULL: none) */
int  ctl_reply_status(ctl_reply_t *r, ctl_status_t status, const char *arg);
/* append an event (2 frames); -1 when it would take the reply's events
 * past CTL_REPLY_MAX (the first event always fits) or on allocation
 * failure: the reply is left unchanged */
int  ctl_reply_event(ctl_reply_t *r, const wire_event_t *ev);
/* send R on the ROUTER SOCK to IDENT (without blocking: a peer that reads
 * nothing loses replies past the socket's small send queue).  0 or -1. */
int  ctl_reply_send(const ctl_reply_t *r, void *sock, const void *ident, size_t idlen);
/* frame I of R as a view (tests, fuzzer) */
ctl_arg_t ctl_reply_frame(const ctl_reply_t *r, size_t i);

/* A decoded reply: the status, its fixed arguments, and the events. */
typedef struct {
    ctl_status_t status;
    unsigned     nargs;
    ctl_arg_t    arg[2];
    size_t       first_event, nevents;  /* frame index, count */
} ctl_rep_t;

/* Decode a reply to OP (frames after the delimiter).  Checks the status
 * and its argument count for OP, sizes, and every event's frames, before
 * anything is used.  CTL_E_OK or the reason. */
ctl_err_t ctl_decode_reply(ctl_op_t op, const ctl_arg_t *frames, size_t n, ctl_rep_t *rep);
/* event I of a decoded reply */
void ctl_rep_event(const ctl_arg_t *frames, const ctl_rep_t *rep, size_t i, wire_event_t *ev);
/* copy argument I as a string (truncated to OUTLEN - 1) */
void ctl_arg_str(const ctl_arg_t *a, char *out, size_t outlen);
/* A as exactly S */
int  ctl_arg_is(const ctl_arg_t *a, const char *s);

#endif
