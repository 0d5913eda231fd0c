/*
 * writer.c -- FastCGI STDOUT records written without blocking, the unsent
 * tail kept (design in writer.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "record.h"
#include "writer.h"

/* the records BODY (LEN bytes) makes */
static size_t
writer_nrec(size_t len)
{
    return (len + RECORD_MAX - 1) / RECORD_MAX;
}

/* Records R0.. (at most WRITER_BATCH) of BODY as W's STDOUT records: their
 * headers in H, header and body pieces in IOV.  Returns the pieces'
 * count, their bytes in *WANT. */
static int
writer_iov(const writer_t *w, const char *body, size_t len, size_t r0,
    unsigned char h[WRITER_BATCH][RECORD_HDR], struct iovec iov[2 * WRITER_BATCH],
    size_t *want)
{
    size_t nrec = writer_nrec(len);
    int k = 0;

    *want = 0;
    for (size_t r = r0; r < nrec && r < r0 + WRITER_BATCH; r++, k++) {
        size_t off = r * RECORD_MAX;
        size_t cl = len - off < RECORD_MAX ? len - off : RECORD_MAX;
        record_header(h[k], RECORD_STDOUT, w->reqid, cl);
        iov[2 * k] = (struct iovec){ h[k], RECORD_HDR };
        iov[2 * k + 1] = (struct iovec){ (void *)(body + off), cl };
        *want += RECORD_HDR + cl;
    }
    return 2 * k;
}

/* BODY as STDOUT records, less the first SKIP bytes the socket took, into
 * W's pending tail.  0, or -1 when out of memory. */
static int
writer_keep_rest(writer_t *w, const char *body, size_t len, size_t skip)
{
    size_t nrec = writer_nrec(len), total = len + RECORD_HDR * nrec;
    size_t pos = 0, want;
    unsigned char h[WRITER_BATCH][RECORD_HDR];
    struct iovec iov[2 * WRITER_BATCH];
    char *p, *out;

    assert(skip < total && !w->pend);
    if (!(p = out = malloc(total - skip)))
        return -1;
    for (size_t r0 = 0; r0 < nrec; r0 += WRITER_BATCH) {
        int n = writer_iov(w, body, len, r0, h, iov, &want);
        for (int i = 0; i < n; i++) {
            size_t l = iov[i].iov_len, from = pos < skip ? skip - pos : 0;
            if (from < l) {
                memcpy(out, (char *)iov[i].iov_base + from, l - from);
                out += l - from;
            }
            pos += l;
        }
    }
    assert((size_t)(out - p) == total - skip);
    w->pend = p;
    w->pend_len = total - skip;
    w->pend_off = 0;
    return 0;
}

void
writer_init(writer_t *w, int fd, unsigned reqid)
{
    assert(reqid <= 0xffff);        /* (FastCGI: a 16-bit request id) */
    free(w->pend);
    *w = (writer_t){ .fd = fd, .reqid = (uint16_t)reqid };
}

writer_result_t
writer_send(writer_t *w, const char *body, size_t len)
{
    size_t nrec = writer_nrec(len), sent = 0, want;
    unsigned char h[WRITER_BATCH][RECORD_HDR];
    struct iovec iov[2 * WRITER_BATCH];

    assert(!w->pend);               /* records never interleave */
    if (len == 0)
        return WRITER_DONE;
    for (size_t r0 = 0; r0 < nrec; r0 += WRITER_BATCH) {
        struct msghdr m = { .msg_iov = iov };
        m.msg_iovlen = (size_t)writer_iov(w, body, len, r0, h, iov, &want);
        ssize_t n;
        do
            n = sendmsg(w->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return WRITER_FAILED;
        if (n > 0)
            sent += (size_t)n;
        if (n < (ssize_t)want)
            break;
    }
    if (sent == len + RECORD_HDR * nrec)
        return WRITER_DONE;
    if (sent == 0)
        return WRITER_BLOCKED;
    return writer_keep_rest(w, body, len, sent) < 0 ? WRITER_FAILED : WRITER_PARTIAL;
}

writer_result_t
writer_flush(writer_t *w)
{
    size_t before = w->pend_off;

    while (w->pend) {
        ssize_t n = send(w->fd, w->pend + w->pend_off, w->pend_len - w->pend_off,
            MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return w->pend_off > before ? WRITER_PARTIAL : WRITER_BLOCKED;
        if (n <= 0)
            return WRITER_FAILED;
        w->pend_off += (size_t)n;
        assert(w->pend_off <= w->pend_len);
        if (w->pend_off == w->pend_len) {
            free(w->pend);
            w->pend = NULL;
            w->pend_len = w->pend_off = 0;
        }
    }
    return WRITER_DONE;
}

bool
writer_pending(const writer_t *w)
{
    return w->pend != NULL;
}

void
writer_end(writer_t *w)
{
    unsigned char b[RECORD_TAIL];

    if (w->pend || w->fd < 0)
        return;
    record_tail(b, w->reqid);
    ssize_t n = send(w->fd, b, sizeof(b), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;                        /* the connection closes next either way */
}

void
writer_free(writer_t *w)
{
    free(w->pend);
    w->pend = NULL;
    w->pend_len = w->pend_off = 0;
}
