/*
 * buf.h -- a growable byte buffer (like Redis' sds, but a plain struct).
 *
 * Used to build SSE frames and control replies.  A buffer is reused:
 * buf_reset() keeps the allocation, so steady-state framing allocates
 * nothing.  Every append is bounded by buf->max (0 = no limit): an append
 * that would pass it fails with -1 and leaves the buffer unchanged.
 */
#ifndef ZSSE_BUF_H
#define ZSSE_BUF_H

#include <stddef.h>

typedef struct {
    char  *data;
    size_t len;
    size_t cap;
    size_t max;     /* 0: unbounded */
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);                 /* releases memory, buf is reusable */
static inline void buf_reset(buf_t *b) { b->len = 0; }
int  buf_reserve(buf_t *b, size_t extra);
int  buf_append(buf_t *b, const void *p, size_t n);
int  buf_puts(buf_t *b, const char *s);
int  buf_putc(buf_t *b, char c);
int  buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int  buf_put_u64(buf_t *b, unsigned long long v);   /* decimal */

#endif
