/*
 * clock.h -- every clock zsse reads.
 *
 * mono_ms: milliseconds on the monotonic clock, for timeouts, deadlines
 * and timers (never the wall clock: a date change must not fire or stall
 * them).  wall_us: microseconds since the Unix epoch, only for what is a
 * date: event ids and accepted times (wire.h, journal.h), log stamps.
 */
#ifndef ZSSE_CLOCK_H
#define ZSSE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
