/*
 * lease_jobs.c -- the leases bucket's requests on a thread of their own
 * (see lease_jobs.h).
 *
 * Two rings of LEASEJOBS_MAX jobs under one mutex: todo (the loop puts,
 * the thread takes) and done (the thread puts, the loop takes).  The
 * rings hold the jobs themselves (about 1.7 KB each, 14 MB in all,
 * allocated once): no allocation per job.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "lease_jobs.h"

typedef struct {
    leasejob_t *job;            /* LEASEJOBS_MAX of them */
    size_t      head, n;
} leasejobs_ring_t;

struct leasejobs {
    leasekv_t        *lk;
    pthread_t         thread;
    pthread_mutex_t   mu;
    pthread_cond_t    cv;       /* todo has a job, done has room, or stop */
    int               stop;
    int               efd;
    leasejobs_ring_t  todo, done;
};

static void
leasejobs_put(leasejobs_ring_t *r, const leasejob_t *job)
{
    r->job[(r->head + r->n++) % LEASEJOBS_MAX] = *job;
}

static void
leasejobs_take(leasejobs_ring_t *r, leasejob_t *out)
{
    *out = r->job[r->head];
    r->head = (r->head + 1) % LEASEJOBS_MAX;
    r->n--;
}

/* one job, on the thread: the bucket request it names */
static void
leasejobs_run(leasekv_t *lk, leasejob_t *job)
{
    switch (job->op) {
    case LEASEJOB_TAKE:
        job->rc = leasekv_take(lk, job->group, job->glen, job->limit, job->id, job->now_us,
            &job->slot);
        break;
    case LEASEJOB_RENEW:
        job->rc = leasekv_renew(lk, job->group, job->glen, job->id, job->now_us, &job->slot);
        break;
    case LEASEJOB_RELEASE:
        job->rc = leasekv_release(lk, job->group, job->glen, job->id, &job->slot);
        break;
    }
}

static void *
leasejobs_main(void *arg)
{
    leasejobs_t *j = arg;
    leasejob_t job;
    uint64_t one = 1;

    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stop && j->todo.n == 0)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->stop)
            break;
        leasejobs_take(&j->todo, &job);
        pthread_mutex_unlock(&j->mu);
        leasejobs_run(j->lk, &job);
        pthread_mutex_lock(&j->mu);
        while (!j->stop && j->done.n == LEASEJOBS_MAX)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->stop)
            break;
        leasejobs_put(&j->done, &job);
        if (write(j->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            break;      /* cannot happen with an eventfd: it never fills */
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

leasejobs_t *
leasejobs_new(leasekv_t *lk, char *err, size_t errlen)
{
    leasejobs_t *j = calloc(1, sizeof(*j));

    if (!j || !(j->todo.job = calloc(LEASEJOBS_MAX, sizeof(leasejob_t))) ||
        !(j->done.job = calloc(LEASEJOBS_MAX, sizeof(leasejob_t)))) {
        if (j)
            free(j->todo.job);
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->lk = lk;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        pthread_create(&j->thread, NULL, leasejobs_main, j) != 0) {
        snprintf(err, errlen, "lease jobs: %s", strerror(errno));
        if (j->efd >= 0)
            close(j->efd);
        free(j->todo.job);
        free(j->done.job);
        free(j);
        return NULL;
    }
    return j;
}

void
leasejobs_destroy(leasejobs_t **jp)
{
    leasejobs_t *j = *jp;
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    close(j->efd);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->todo.job);
    free(j->done.job);
    free(j);
    *jp = NULL;
}

int
leasejobs_fd(const leasejobs_t *j)
{
    return j->efd;
}

int
leasejobs_submit(leasejobs_t *j, const leasejob_t *job)
{
    int rc = -1;
    pthread_mutex_lock(&j->mu);
    if (j->todo.n < LEASEJOBS_MAX) {
        leasejobs_put(&j->todo, job);
        pthread_cond_broadcast(&j->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int
leasejobs_done(leasejobs_t *j, leasejob_t *out)
{
    uint64_t n;
    int got = 0;

    pthread_mutex_lock(&j->mu);
    if (j->done.n) {
        leasejobs_take(&j->done, out);
        pthread_cond_broadcast(&j->cv);
        got = 1;
    }
    if (j->done.n == 0) {       /* the thread writes under the lock too */
        ssize_t r = read(j->efd, &n, sizeof(n));
        (void)r;                /* EAGAIN: it was reset already */
    }
    pthread_mutex_unlock(&j->mu);
    return got;
}
