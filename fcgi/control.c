/*
 * control.c -- the pooled client of the broker's control socket (see control.h).
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "control.h"

static void
deadline_in(struct timespec *d, long ms)
{
    clock_gettime(CLOCK_REALTIME, d);
    d->tv_sec += ms / 1000;
    d->tv_nsec += (ms % 1000) * 1000000;
    if (d->tv_nsec >= 1000000000) {
        d->tv_sec++;
        d->tv_nsec -= 1000000000;
    }
}

/* milliseconds left until DEADLINE (CLOCK_REALTIME), at least 0 */
static long
ms_until(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
        (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

static void *zctx;
static const char *ep;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static void *pool[CONTROL_POOL];    /* idle sockets */
static int npool;                   /* idle */
static int nsocks;                  /* in existence: idle + lent */

void
control_init(void *ctx, const char *endpoint)
{
    zctx = ctx;
    ep = endpoint;
}

static void *
new_socket(void)
{
    void *s;
    int zero = 0;

    if (!(s = zmq_socket(zctx, ZMQ_DEALER)))
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s, ep) < 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* a socket that failed (or could not be made) is closed: a late reply
 * must never answer another call */
static void
lose(void *s)
{
    if (s)
        zmq_close(s);
    pthread_mutex_lock(&pool_mu);
    nsocks--;
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
}

/* an idle socket, or a new one while fewer than CONTROL_POOL exist, else
 * wait for one until DEADLINE (a burst of thousands of new streams queues
 * here instead of opening thousands of connections to the broker) */
static void *
borrow(const struct timespec *deadline)
{
    void *s = NULL;
    int make = 0;

    pthread_mutex_lock(&pool_mu);
    while (!npool && nsocks >= CONTROL_POOL)
        if (pthread_cond_timedwait(&pool_cv, &pool_mu, deadline) != 0)
            break;
    if (npool)
        s = pool[--npool];
    else if (nsocks < CONTROL_POOL)
        make = ++nsocks;
    pthread_mutex_unlock(&pool_mu);
    if (make && !(s = new_socket()))
        lose(NULL);
    return s;
}

/* back into the pool after a complete exchange (the mutex hands the
 * socket to the next thread with a full barrier, as ZeroMQ requires) */
static void
give_back(void *s)
{
    pthread_mutex_lock(&pool_mu);
    pool[npool++] = s;
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
}

void
control_fini(void)
{
    pthread_mutex_lock(&pool_mu);
    while (npool) {
        zmq_close(pool[--npool]);
        nsocks--;
    }
    pthread_mutex_unlock(&pool_mu);
}

void
reply_free(reply_t *r)
{
    ctl_frames_close(&r->m);
    free(r->m.f);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

int
control_call(ctl_op_t op, const char *const *args, int nargs, int timeout_ms, reply_t *r)
{
    struct timespec deadline;
    zmq_pollitem_t it;

    memset(r, 0, sizeof(*r));
    ctl_frames_init(&r->m, CONTROL_REPLY_FRAMES);
    /* waiting for a socket is queueing behind other streams, not the
     * broker being away: it gets its own, longer bound */
    deadline_in(&deadline, CONTROL_QUEUE_MS);
    void *s = borrow(&deadline);
    if (!s)
        return -1;
    deadline_in(&deadline, timeout_ms);
    if (ctl_send_strs(s, op, args, (size_t)nargs) < 0) {
        if (errno == EINVAL) {          /* ours: the socket is still clean */
            give_back(s);
            return -1;
        }
        goto fail;
    }
    it = (zmq_pollitem_t){ s, 0, ZMQ_POLLIN, 0 };
    int rc;
    do
        rc = zmq_poll(&it, 1, ms_until(&deadline));
    while (rc < 0 && errno == EINTR);
    if (rc <= 0 || ctl_recv(s, &r->m, 0) <= 0 || r->m.truncated || r->m.n < 2 ||
        ctl_frame(&r->m, 0).len != 0)
        goto fail;
    if (!(r->v = malloc((r->m.n - 1) * sizeof(*r->v))))
        goto fail;
    for (size_t i = 1; i < r->m.n; i++)
        r->v[i - 1] = ctl_frame(&r->m, i);
    give_back(s);
    return ctl_decode_reply(op, r->v, r->m.n - 1, &r->rep) == CTL_E_OK ? 0 : (reply_free(r), -1);
fail:
    reply_free(r);
    lose(s);
    return -1;
}

int
reply_is(const reply_t *r, int i, const char *s)
{
    if (i == 0)
        return strcmp(ctl_status_names[r->rep.status], s) == 0;
    return i <= (int)r->rep.nargs && ctl_arg_is(&r->rep.arg[i - 1], s);
}

void
reply_str(const reply_t *r, int i, char *out, size_t outlen)
{
    if (i == 0)
        snprintf(out, outlen, "%s", ctl_status_names[r->rep.status]);
    else if (i <= (int)r->rep.nargs)
        ctl_arg_str(&r->rep.arg[i - 1], out, outlen);
    else
        out[0] = '\0';
}

int
reply_events(const reply_t *r, int first, wire_event_t *ev)
{
    (void)first;
    for (size_t i = 0; i < r->rep.nevents; i++)
        ctl_rep_event(r->v, &r->rep, i, &ev[i]);
    return (int)r->rep.nevents;
}
