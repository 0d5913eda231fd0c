/*
 * control.c -- the pooled client of the broker's control socket (see control.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "control.h"
#include "log.h"

static void *control_zctx;
static const char *control_ep;
static const curve_client_t *control_keys;  /* CURVE, or NULL */
static pthread_mutex_t control_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t control_pool_cv;     /* on the monotonic clock: control_once */
static pthread_once_t control_once = PTHREAD_ONCE_INIT;
static void *control_pool[CONTROL_POOL];    /* idle sockets */
static int control_npool;                   /* idle */
static int control_nsocks;                  /* in existence: idle + lent */

static void
control_init_once(void)
{
    int rc = mono_cond_init(&control_pool_cv);
    assert(rc == 0);            /* only ENOMEM/EAGAIN, never on Linux */
    (void)rc;
}

void
control_init(void *ctx, const char *endpoint, const curve_client_t *curve)
{
    pthread_once(&control_once, control_init_once);
    control_zctx = ctx;
    control_ep = endpoint;
    control_keys = curve;
}

static void *
control_new_socket(void)
{
    void *s;
    int zero = 0;

    if (!(s = zmq_socket(control_zctx, ZMQ_DEALER)))
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (curve_client_apply(s, control_keys) < 0 || zmq_connect(s, control_ep) < 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* a socket that failed (or could not be made) is closed: a late reply
 * must never answer another call */
static void
control_lose(void *s)
{
    if (s)
        zmq_close(s);
    pthread_mutex_lock(&control_pool_mu);
    control_nsocks--;
    pthread_cond_signal(&control_pool_cv);
    pthread_mutex_unlock(&control_pool_mu);
}

/* an idle socket, or a new one while fewer than CONTROL_POOL exist, else
 * wait for one until DEADLINE (mono_ms; a burst of thousands of new streams queues
 * here instead of opening thousands of connections to the broker) */
static void *
control_borrow(int64_t deadline)
{
    struct timespec at = mono_timespec(deadline);
    void *s = NULL;
    int make = 0;

    pthread_mutex_lock(&control_pool_mu);
    while (!control_npool && control_nsocks >= CONTROL_POOL)
        if (pthread_cond_timedwait(&control_pool_cv, &control_pool_mu, &at) != 0)
            break;
    if (control_npool)
        s = control_pool[--control_npool];
    else if (control_nsocks < CONTROL_POOL)
        make = ++control_nsocks;
    pthread_mutex_unlock(&control_pool_mu);
    if (make && !(s = control_new_socket()))
        control_lose(NULL);
    return s;
}

/* back into the pool after a complete exchange (the mutex hands the
 * socket to the next thread with a full barrier, as ZeroMQ requires) */
static void
control_give_back(void *s)
{
    pthread_mutex_lock(&control_pool_mu);
    control_pool[control_npool++] = s;
    pthread_cond_signal(&control_pool_cv);
    pthread_mutex_unlock(&control_pool_mu);
}

/* --- the lease connection ------------------------------------------------- */

static pthread_mutex_t control_lease_mu = PTHREAD_MUTEX_INITIALIZER;
static void *control_lease_sock;            /* never closed before exit: it owns the leases */
static unsigned long control_lease_tag;

/* under control_lease_mu: the socket, made on first use */
static void *
control_lease_socket(void)
{
    int linger = 500;               /* the releases at exit get out */

    if (!control_lease_sock && (control_lease_sock = control_new_socket()))
        zmq_setsockopt(control_lease_sock, ZMQ_LINGER, &linger, sizeof(linger));
    return control_lease_sock;
}

/* under control_lease_mu: receive one reply (waiting up to MS);
 * CONTROL_READ_REPLY a lease reply with TAG, its status into *ST (id
 * copied to ID), CONTROL_READ_OTHER something else (dropped),
 * CONTROL_READ_NONE nothing came */
typedef enum {
    CONTROL_READ_NONE  = -1,
    CONTROL_READ_OTHER = 0,
    CONTROL_READ_REPLY = 1
} control_read_t;

static control_read_t
control_lease_read(void *s, int ms, const char *tag, ctl_status_t *st, char *id)
{
    zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
    ctl_frames_t m;
    ctl_arg_t v[4];
    ctl_rep_t rep;
    control_read_t rc = CONTROL_READ_OTHER;

    if (zmq_poll(&it, 1, ms) <= 0)
        return CONTROL_READ_NONE;
    ctl_frames_init(&m, 5);
    if (ctl_recv(s, &m, ZMQ_DONTWAIT) <= 0) {
        free(m.f);
        return CONTROL_READ_NONE;
    }
    if (!m.truncated && m.n >= 2 && ctl_frame(&m, 0).len == 0) {
        for (size_t i = 1; i < m.n; i++)
            v[i - 1] = ctl_frame(&m, i);
        if (tag && ctl_decode_reply(CTL_LEASE, v, m.n - 1, &rep) == CTL_E_OK &&
            rep.status != CTL_ERROR && ctl_arg_is(&rep.arg[0], tag)) {
            *st = rep.status;
            if (rep.status == CTL_OK)
                ctl_arg_str(&rep.arg[1], id, CTL_LEASE_ID_LEN + 1);
            else if (rep.status == CTL_REFUSED)
                log_msg(LOG_ERR, "broker refused a lease: %.*s", (int)rep.arg[1].len,
                    rep.arg[1].p);
            rc = CONTROL_READ_REPLY;
        }
    }
    ctl_frames_close(&m);
    free(m.f);
    return rc;
}

control_lease_t
control_lease_take(const char *route, const char *sub, char id[CTL_LEASE_ID_LEN + 1],
    int timeout_ms)
{
    char tag[24];
    ctl_status_t st = CTL_ERROR;
    int got = 0;

    if (mono_mutex_lock_until(&control_lease_mu, mono_ms() + CONTROL_QUEUE_MS) != 0)
        return CONTROL_LEASE_NO_ANSWER;
    void *s = control_lease_socket();
    snprintf(tag, sizeof(tag), "%lu", ++control_lease_tag);
    const char *args[] = { route, sub, tag };
    int64_t deadline = mono_ms() + timeout_ms;
    if (s && ctl_send_strs(s, CTL_LEASE, args, 3) == 0) {
        /* replies to renew and release, and late ones to a lease that
         * timed out, come first: dropped (that lease expires unrenewed) */
        while (!got) {
            control_read_t r = control_lease_read(s, (int)mono_left_ms(deadline), tag, &st, id);
            if (r == CONTROL_READ_NONE)
                break;
            got = r == CONTROL_READ_REPLY;
        }
    }
    pthread_mutex_unlock(&control_lease_mu);
    if (!got)
        return CONTROL_LEASE_NO_ANSWER;
    return st == CTL_OK ? CONTROL_LEASE_TAKEN : st == CTL_FULL ? CONTROL_LEASE_FULL
                                                               : CONTROL_LEASE_REFUSED;
}

int
control_lease_send(ctl_op_t op, const char *const *ids, size_t n, int wait)
{
    int rc = -1;

    if (wait ? pthread_mutex_lock(&control_lease_mu) : pthread_mutex_trylock(&control_lease_mu))
        return errno = EAGAIN, -1;
    void *s = control_lease_socket();
    if (s) {
        while (control_lease_read(s, 0, NULL, NULL, NULL) != CONTROL_READ_NONE)
            ;
        rc = n ? ctl_send_strs(s, op, ids, n) : 0;
    }
    pthread_mutex_unlock(&control_lease_mu);
    return rc;
}

void
control_fini(void)
{
    pthread_mutex_lock(&control_pool_mu);
    while (control_npool) {
        zmq_close(control_pool[--control_npool]);
        control_nsocks--;
    }
    pthread_mutex_unlock(&control_pool_mu);
    pthread_mutex_lock(&control_lease_mu);
    if (control_lease_sock)
        zmq_close(control_lease_sock);
    control_lease_sock = NULL;
    pthread_mutex_unlock(&control_lease_mu);
}

void
control_reply_free(control_reply_t *r)
{
    ctl_frames_close(&r->m);
    free(r->m.f);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

int
control_call(ctl_op_t op, const char *const *args, int nargs, int timeout_ms, control_reply_t *r)
{
    ctl_arg_t v[2 + CTL_CHANNELS_MAX];

    if (nargs < 0 || (size_t)nargs > sizeof(v) / sizeof(v[0])) {
        memset(r, 0, sizeof(*r));
        return errno = EINVAL, -1;
    }
    for (int i = 0; i < nargs; i++)
        v[i] = (ctl_arg_t){ args[i], strlen(args[i]) };
    return control_call_args(op, v, (size_t)nargs, timeout_ms, r);
}

int
control_call_args(ctl_op_t op, const ctl_arg_t *args, size_t nargs, int timeout_ms, control_reply_t *r)
{
    zmq_pollitem_t it;

    memset(r, 0, sizeof(*r));
    ctl_frames_init(&r->m, CONTROL_REPLY_FRAMES);
    /* waiting for a socket is queueing behind other streams, not the
     * broker being away: it gets its own, longer bound */
    void *s = control_borrow(mono_ms() + CONTROL_QUEUE_MS);
    if (!s)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    if (ctl_send(s, op, args, nargs) < 0) {
        if (errno == EINVAL) {          /* ours: the socket is still clean */
            control_give_back(s);
            return -1;
        }
        goto fail;
    }
    it = (zmq_pollitem_t){ s, 0, ZMQ_POLLIN, 0 };
    int rc;
    do
        rc = zmq_poll(&it, 1, (long)mono_left_ms(deadline));
    while (rc < 0 && errno == EINTR);
    if (rc <= 0 || ctl_recv(s, &r->m, 0) <= 0 || r->m.truncated || r->m.n < 2 ||
        ctl_frame(&r->m, 0).len != 0)
        goto fail;
    if (!(r->v = malloc((r->m.n - 1) * sizeof(*r->v))))
        goto fail;
    for (size_t i = 1; i < r->m.n; i++)
        r->v[i - 1] = ctl_frame(&r->m, i);
    control_give_back(s);
    return ctl_decode_reply(op, r->v, r->m.n - 1, &r->rep) == CTL_E_OK ? 0 : (control_reply_free(r), -1);
fail:
    control_reply_free(r);
    control_lose(s);
    return -1;
}

int
control_reply_is(const control_reply_t *r, int i, const char *s)
{
    if (i == 0)
        return strcmp(ctl_status_names[r->rep.status], s) == 0;
    return i <= (int)r->rep.nargs && ctl_arg_is(&r->rep.arg[i - 1], s);
}

void
control_reply_str(const control_reply_t *r, int i, char *out, size_t outlen)
{
    if (i == 0)
        snprintf(out, outlen, "%s", ctl_status_names[r->rep.status]);
    else if (i <= (int)r->rep.nargs)
        ctl_arg_str(&r->rep.arg[i - 1], out, outlen);
    else
        out[0] = '\0';
}

int
control_reply_events(const control_reply_t *r, int first, wire_event_t *ev)
{
    (void)first;
    for (size_t i = 0; i < r->rep.nevents; i++)
        ctl_rep_event(r->v, &r->rep, i, &ev[i]);
    return (int)r->rep.nevents;
}
