/*
 * writer.h -- the hub's non-blocking writer of FastCGI STDOUT records
 * (FastCGI 1.0 spec, section 3.3 "Records" and 5.3 "FCGI_STDOUT"), one
 * per adopted stream.
 *
 * A body goes out as STDOUT records of at most RECORD_MAX (65,535)
 * bytes each, their headers and bodies gathered into one sendmsg() for up
 * to WRITER_BATCH records -- no copy of the body on the way.  The socket
 * is never waited for: what it does not take (a slow client) is kept, as
 * the exact bytes still due, in the writer's pending tail, and
 * writer_flush() sends it when the socket is writable again (the hub arms
 * EPOLLOUT).  A record is never interleaved with another: while a tail is
 * pending the caller queues its output instead of writing (writer_send()
 * asserts it).  A response whose tail was never written ends without its
 * end records: the web server then sees the connection close.
 *
 * A writer is used by one thread at a time (the hub's, once the stream is
 * adopted).  Header-only record layout: record.h.
 */
#ifndef ZSSE_WRITER_H
#define ZSSE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRITER_BATCH 32             /* records per sendmsg() */

typedef struct writer {
    int      fd;                    /* the FastCGI connection; -1: none */
    uint16_t reqid;                 /* its FastCGI request id */
    char    *pend;                  /* unsent tail of records; NULL: none */
    size_t   pend_len, pend_off;    /* its bytes, and those sent of them */
} writer_t;

typedef enum {
    WRITER_DONE,                    /* everything was written */
    WRITER_BLOCKED,                 /* the socket is full: nothing written */
    WRITER_PARTIAL,                 /* a part written, the rest pending */
    WRITER_FAILED                   /* the connection failed (errno), or no
                                     * memory for the tail */
} writer_result_t;

/* a writer of request REQID's records to FD (-1: none yet), nothing pending */
void writer_init(writer_t *w, int fd, unsigned reqid);

/* Write BODY (LEN bytes, 0: nothing) as STDOUT records without blocking.
 * Nothing may be pending (assert).  WRITER_PARTIAL: the rest is in the
 * pending tail. */
writer_result_t writer_send(writer_t *w, const char *body, size_t len);

/* Write what the pending tail holds without blocking.  WRITER_DONE: none
 * is left (or none was); WRITER_PARTIAL: some went, some is left;
 * WRITER_BLOCKED: none went; WRITER_FAILED: the connection failed. */
writer_result_t writer_flush(writer_t *w);

/* is a tail pending? */
bool writer_pending(const writer_t *w);

/* End the response: an empty STDOUT and END_REQUEST (status 0,
 * FCGI_REQUEST_COMPLETE), best effort, unless a tail is pending (a record
 * was cut: the connection closing ends it).  Does not close the fd. */
void writer_end(writer_t *w);

/* free the pending tail (the fd is the caller's) */
void writer_free(writer_t *w);

#endif
