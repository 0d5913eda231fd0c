/*
 * batch.c -- splitting and building batch frames (see batch.h).
 *
 * The split uses jsontext's scanner only to find where the elements
 * start and end; it does not validate them: msg_parse does, element by
 * element, so a bad element is refused alone.  What is checked here is
 * the array's own structure (brackets, commas, nothing after the ']')
 * and the bounds, before the broker takes any element: a frame refused
 * here publishes nothing.
 */
#include <errno.h>
#include <string.h>
#include "batch.h"
#include "jsontext.h"

batch_split_t
batch_split(const char *text, size_t len, batch_span_t *spans, size_t *n,
    const char **reason)
{
    size_t i = 0, pos = 0, end, vlen;
    const char *v;
    int rc;

    *n = 0;
    while (i < len && jsontext_is_ws(text[i]))
        i++;
    if (i >= len || text[i] != '[')
        return BATCH_SPLIT_ONE;
    if (len > BATCH_BYTES) {
        *reason = BATCH_R_TOO_LARGE;
        return BATCH_SPLIT_REFUSED;
    }
    while ((rc = jsontext_array_next(text, len, &pos, &v, &vlen)) == 0) {
        if (*n == BATCH_MAX) {
            *reason = BATCH_R_TOO_MANY;
            *n = 0;
            return BATCH_SPLIT_REFUSED;
        }
        spans[*n].p = v;
        spans[(*n)++].len = vlen;
    }
    if (rc < 0 || *n == 0) {
        *reason = BATCH_R_MALFORMED;
        *n = 0;
        return BATCH_SPLIT_REFUSED;
    }
    /* the closing ']': after the last element, then only whitespace */
    end = (size_t)(spans[*n - 1].p - text) + spans[*n - 1].len;
    while (end < len && jsontext_is_ws(text[end]))
        end++;
    if (end < len && text[end] == ']')
        end++;
    while (end < len && jsontext_is_ws(text[end]))
        end++;
    if (end != len) {
        *reason = BATCH_R_MALFORMED;
        *n = 0;
        return BATCH_SPLIT_REFUSED;
    }
    return BATCH_SPLIT_BATCH;
}

void
batch_init(batch_t *b)
{
    buf_init(&b->buf, BATCH_BYTES);
    b->n = 0;
}

void
batch_free(batch_t *b)
{
    buf_free(&b->buf);
    b->n = 0;
}

bool
batch_can_hold(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && jsontext_is_ws(text[i]))
        i++;
    if (len + 2 > BATCH_BYTES || i >= len || text[i] != '{')
        return false;
    size_t end = jsontext_value_end(text, len);
    if (end == 0)
        return false;
    while (end < len && jsontext_is_ws(text[end]))
        end++;
    return end == len;
}

batch_add_t
batch_add(batch_t *b, const char *text, size_t len)
{
    /* room for the separator and the closing ']' */
    if (b->n == BATCH_MAX || b->buf.len + 1 + len + 1 > BATCH_BYTES)
        return BATCH_ADD_FULL;
    if (buf_reserve(&b->buf, len + 2) < 0) {
        errno = ENOMEM;
        return BATCH_ADD_ERROR;
    }
    b->buf.data[b->buf.len++] = b->n ? ',' : '[';
    memcpy(b->buf.data + b->buf.len, text, len);
    b->buf.len += len;
    b->n++;
    return BATCH_ADD_OK;
}

void
batch_frame(batch_t *b, const char **p, size_t *len)
{
    if (b->n == 1) {
        *p = b->buf.data + 1;
        *len = b->buf.len - 1;
        return;
    }
    /* room reserved by batch_add */
    b->buf.data[b->buf.len] = ']';
    *p = b->buf.data;
    *len = b->buf.len + 1;
}
