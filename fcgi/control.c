/*
 * control.c -- the pooled client of the broker's control socket (see control.h).
 */
#include <errno.h>
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
static const curve_client_t *keys;  /* CURVE, or NULL */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static void *pool[CONTROL_POOL];    /* idle sockets */
static int npool;                   /* idle */
static int nsocks;                  /* in existence: idle + lent */

void
control_init(void *ctx, const char *endpoint, const curve_client_t *curve)
{
    zctx = ctx;
    ep = endpoint;
    keys = curve;
}

static void *
new_socket(void)
{
    void *s;
    int zero = 0;

    if (!(s = zmq_socket(zctx, ZMQ_DEALER)))
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (curve_client_apply(s, keys) < 0 || zmq_connect(s, ep) < 0) {
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
    for (int i = 0; i < r->n; i++)
        zmq_msg_close(&r->f[i]);
    free(r->f);
    memset(r, 0, sizeof(*r));
}

int
control_call(const char *const *args, const size_t *lens, int nargs, int timeout_ms,
    reply_t *r)
{
    struct timespec deadline;
    zmq_pollitem_t it;

    memset(r, 0, sizeof(*r));
    /* waiting for a socket is queueing behind other streams, not the
     * broker being away: it gets its own, longer bound */
    deadline_in(&deadline, CONTROL_QUEUE_MS);
    void *s = borrow(&deadline);
    if (!s)
        return -1;
    deadline_in(&deadline, timeout_ms);
    if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0)
        goto fail;
    for (int i = 0; i < nargs; i++)
        if (zmq_send(s, args[i], lens ? lens[i] : strlen(args[i]),
            i + 1 < nargs ? ZMQ_SNDMORE : 0) < 0)
            goto fail;
    it = (zmq_pollitem_t){ s, 0, ZMQ_POLLIN, 0 };
    int rc;
    do
        rc = zmq_poll(&it, 1, ms_until(&deadline));
    while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        goto fail;
    zmq_msg_t d;
    zmq_msg_init(&d);
    if (zmq_msg_recv(&d, s, 0) < 0 || zmq_msg_size(&d) != 0 || !zmq_msg_more(&d)) {
        zmq_msg_close(&d);
        goto fail;
    }
    zmq_msg_close(&d);
    for (int more = 1; more;) {
        if (r->n == r->cap) {
            int cap = r->cap ? r->cap * 2 : 16;
            if (cap > 1 << 20)
                goto fail;
            zmq_msg_t *f = realloc(r->f, (size_t)cap * sizeof(*f));
            if (!f)
                goto fail;
            r->f = f;
            r->cap = cap;
        }
        zmq_msg_init(&r->f[r->n]);
        if (zmq_msg_recv(&r->f[r->n], s, 0) < 0) {
            zmq_msg_close(&r->f[r->n]);
            goto fail;
        }
        more = zmq_msg_more(&r->f[r->n]);
        r->n++;
    }
    if (r->n < 1)
        goto fail;
    give_back(s);
    return 0;
fail:
    reply_free(r);
    lose(s);
    return -1;
}

int
reply_is(const reply_t *r, int i, const char *s)
{
    size_t n = strlen(s);
    return i < r->n && zmq_msg_size(&r->f[i]) == n &&
        memcmp(zmq_msg_data(&r->f[i]), s, n) == 0;
}

void
reply_str(const reply_t *r, int i, char *out, size_t outlen)
{
    size_t n = i < r->n ? zmq_msg_size(&r->f[i]) : 0;
    if (n >= outlen)
        n = outlen - 1;
    if (n)
        memcpy(out, zmq_msg_data(&r->f[i]), n);
    out[n] = '\0';
}

int
reply_events(const reply_t *r, int first, wire_event_t *ev)
{
    int k = 0;

    if (first > r->n || (r->n - first) % 2)
        return -1;
    for (int i = first; i < r->n; i += 2, k++) {
        ev[k].channel = zmq_msg_data(&r->f[i]);
        ev[k].channel_len = zmq_msg_size(&r->f[i]);
        if (wire_parse_payload(zmq_msg_data(&r->f[i + 1]), zmq_msg_size(&r->f[i + 1]), &ev[k]) < 0)
            return -1;
    }
    return k;
}
