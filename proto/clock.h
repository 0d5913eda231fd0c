/*
 * clock.h -- every clock zsse reads.
 *
 * mono_ms: milliseconds on the monotonic clock, for timeouts, deadlines
 * and timers (never the wall clock: a date change must not fire or stall
 * them).  wall_us: microseconds since the Unix epoch, only for what is a
 * date: event ids and accepted times (wire.h, journal.h), log stamps,
 * and a token's exp (RFC 7519 4.1.4: seconds since the epoch).
 *
 * Threads wait on the monotonic clock too: a condition variable made by
 * mono_cond_init times out at mono_timespec(deadline), and a mutex is
 * taken with a deadline by mono_mutex_lock_until (glibc's
 * pthread_mutex_clocklock: POSIX's pthread_mutex_timedlock reads only
 * the wall clock).
 */
#ifndef ZSSE_CLOCK_H
#define ZSSE_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the monotonic clock in ns: benchmarks' latencies (CLOCK_MONOTONIC is
 * one clock for every process of the machine) */
static inline uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t
wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* seconds since the Unix epoch: the "now" of a token's exp/nbf/iat */
static inline time_t
wall_s(void)
{
    return (time_t)(wall_us() / 1000000);
}

/* milliseconds from now until AT (a mono_ms time); 0 once it has passed */
static inline int64_t
mono_left_ms(int64_t at)
{
    int64_t left = at - mono_ms();
    return left > 0 ? left : 0;
}

/* AT (a mono_ms time) as a CLOCK_MONOTONIC timespec: the deadline for
 * pthread_cond_timedwait on a condition made by mono_cond_init */
static inline struct timespec
mono_timespec(int64_t at)
{
    struct timespec ts = { (time_t)(at / 1000), (long)(at % 1000) * 1000000 };
    return ts;
}

/* CV as a condition variable whose timed waits read the monotonic clock;
 * returns 0, or an error number as pthread_cond_init does */
static inline int
mono_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc;

    if ((rc = pthread_condattr_init(&a)) != 0)
        return rc;
    if ((rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC)) == 0)
        rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* lock MU, waiting until AT (a mono_ms time) at most; returns 0, or
 * ETIMEDOUT (or another error number) without the lock */
static inline int
mono_mutex_lock_until(pthread_mutex_t *mu, int64_t at)
{
    struct timespec ts = mono_timespec(at);
    return pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &ts);
}

#endif
