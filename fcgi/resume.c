/*
 * resume.c -- the resume thread: one replay at a time for the hub after a
 * broker restart (design in resume.h).
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "buf.h"
#include "replay.h"
#include "resume.h"

typedef struct resume_job {
    struct resume_job *next;
    stream_t          *s;
    uint64_t           after;
    unsigned           resyncs;     /* the stream's count when posted */
    resume_done_fn    *done;
} resume_job_t;

static struct {
    pthread_mutex_t mu;             /* jobs, stop */
    pthread_cond_t  cv;
    resume_job_t   *jobs, **tail;
    pthread_t       thread;
    int             started;
    int             stop;
} resume = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* the next job, waiting for one; NULL: stop */
static resume_job_t *
resume_next(void)
{
    pthread_mutex_lock(&resume.mu);
    while (!resume.jobs && !resume.stop)
        pthread_cond_wait(&resume.cv, &resume.mu);
    resume_job_t *j = resume.stop ? NULL : resume.jobs;
    if (j && !(resume.jobs = j->next))
        resume.tail = &resume.jobs;
    pthread_mutex_unlock(&resume.mu);
    return j;
}

/* J's replay, framed as one raw queued event; NULL: failed or stale */
static stream_qev_t *
resume_fetch(const resume_job_t *j)
{
    const stream_t *s = j->s;
    stream_qev_t *e = NULL;
    buf_t out;

    if (__atomic_load_n(&s->resyncs, __ATOMIC_ACQUIRE) != j->resyncs)
        return NULL;                /* the broker went away again since */
    buf_init(&out, STREAM_FRAME_MAX);
    replay_t p = { .r = s->route, .channels = s->channels,
                   .nchannels = s->nchannels, .out = &out, .last = j->after,
                   .filter = s->filter };
    if (replay_join(&p, 1, j->after, 1) == 0 && !p.failed)
        e = stream_qev_new(p.last, ZSSE_KIND_SSE, "", 0, out.data ? out.data : "", out.len, 1);
    buf_free(&out);
    return e;
}

static void *
resume_main(void *arg)
{
    resume_job_t *j;

    (void)arg;
    while ((j = resume_next())) {
        j->done(j->s, resume_fetch(j));
        free(j);
    }
    return NULL;
}

int
resume_post(stream_t *s, uint64_t after, unsigned resyncs, resume_done_fn *done)
{
    resume_job_t *j;

    assert(s && done);
    /* started on first need: most processes never see the broker restart */
    if (!resume.started) {
        resume.tail = &resume.jobs;
        if (pthread_create(&resume.thread, NULL, resume_main, NULL) != 0)
            return -1;
        resume.started = 1;
    }
    if (!(j = calloc(1, sizeof(*j))))
        return -1;
    *j = (resume_job_t){ .s = s, .after = after, .resyncs = resyncs, .done = done };
    pthread_mutex_lock(&resume.mu);
    *resume.tail = j;
    resume.tail = &j->next;
    pthread_cond_signal(&resume.cv);
    pthread_mutex_unlock(&resume.mu);
    return 0;
}

void
resume_stop(void)
{
    if (!resume.started)
        return;
    pthread_mutex_lock(&resume.mu);
    resume.stop = 1;
    pthread_cond_signal(&resume.cv);
    pthread_mutex_unlock(&resume.mu);
    /* not joined: a replay in flight may wait for the broker (2 s) */
    pthread_detach(resume.thread);
    resume.started = 0;
}
