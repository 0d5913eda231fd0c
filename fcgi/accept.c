/*
 * accept.c -- the accept loop and the queue of new connections (see
 * accept.h).
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "accept.h"
#include "log.h"
#include "ring.h"

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    ring_t          q;              /* descriptors, as (void *)(intptr_t) */
} A = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

int
accept_init(void)
{
    struct rlimit rl;
    size_t max = 1u << 20;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
        max = (size_t)rl.rlim_cur;
    /* small: a process of mod_fcgid's serves one request at a time */
    return ring_init(&A.q, 16, max);
}

static void
push(int fd)
{
    pthread_mutex_lock(&A.mu);
    int r = ring_push(&A.q, (void *)(intptr_t)fd);
    if (r == 0)
        pthread_cond_signal(&A.cv);
    pthread_mutex_unlock(&A.mu);
    if (r < 0) {
        /* cannot happen while the ring may grow as long as the
         * descriptor limit; were it to, the web server sees a refusal */
        log_msg(LOG_WARNING, "accept: %zu connections waiting, one refused", A.q.len);
        close(fd);
    }
}

int
accept_next(void)
{
    pthread_mutex_lock(&A.mu);
    while (A.q.len == 0)
        pthread_cond_wait(&A.cv, &A.mu);
    int fd = (int)(intptr_t)ring_pop(&A.q);    /* (descriptor 0 is NULL: len decides) */
    pthread_mutex_unlock(&A.mu);
    return fd;
}

void
accept_run(int listen_fd)
{
    static ratelimit_t rl;
    struct timeval tv = { ACCEPT_READ_TIMEOUT, 0 };

    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
                log_limited(&rl, LOG_WARNING, "accept: %s (retrying)", strerror(errno));
                usleep(100000);     /* until a stream ends and gives one back */
                continue;
            case ECONNABORTED: case EPROTO: case EINTR: case EAGAIN:
                continue;           /* that connection only: the next one */
            default:
                /* the web server closed our socket (mod_fcgid, lighttpd
                 * stopping us): we are done */
                log_msg(LOG_INFO, "accept: %s: stopping", strerror(errno));
                return;
            }
        }
        /* a setup thread reads the request: a web server that connects
         * and sends nothing must not hold it for ever */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        push(fd);
    }
}
