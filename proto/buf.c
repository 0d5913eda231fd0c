/*
 * buf.c -- growable, bounded byte buffer.  See buf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

void
buf_init(buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void
buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int
buf_reserve(buf_t *b, size_t extra)
{
    size_t need = b->len + extra, cap;
    char *p;

    if (need < b->len)
        return -1;                      /* overflow */
    if (b->max && need > b->max)
        return -1;
    if (need + 1 <= b->cap)             /* keep room for a NUL */
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    if (!(p = realloc(b->data, cap)))
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_putc(buf_t *b, char c)
{
    return buf_append(b, &c, 1);
}

int
buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int
buf_put_u64(buf_t *b, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buf_append(b, tmp + sizeof(tmp) - n, n);
}
