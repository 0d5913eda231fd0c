/*
 * record.h -- the FastCGI records zsse writes itself, where libfcgi does
 * not: the hub's live events and ends of response (writer.c), zsse-handoff's
 * 503 (handoff.c).  Header-only: zsse-handoff links libc alone.
 *
 * A record is an 8-byte header (version 1, type, request id, body length,
 * no padding) and at most RECORD_MAX bytes of body.  A response ends
 * with an empty STDOUT record and END_REQUEST (application status 0,
 * FCGI_REQUEST_COMPLETE).
 */
#ifndef ZSSE_RECORD_H
#define ZSSE_RECORD_H

#include <fastcgi.h>     /* libfcgi's: the FastCGI 1.0 spec's constants (defines only) */
#include <stddef.h>
#include <string.h>

#define RECORD_HDR        FCGI_HEADER_LEN     /* 8 bytes (spec 3.3) */
#define RECORD_MAX        FCGI_MAX_LENGTH     /* a record's body: 65,535 bytes */
#define RECORD_STDOUT     FCGI_STDOUT         /* 6 (spec 5.3) */
#define RECORD_END        FCGI_END_REQUEST    /* 3 (spec 5.5) */
#define RECORD_TAIL       (2 * RECORD_HDR + 8)  /* the end of a response:
                                     * empty STDOUT, END_REQUEST and its body */

static inline void
record_header(unsigned char h[RECORD_HDR], int type, unsigned reqid, size_t len)
{
    h[0] = FCGI_VERSION_1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(reqid >> 8);
    h[3] = (unsigned char)reqid;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)len;
    h[6] = h[7] = 0;
}

/* the end of request REQID's response */
static inline void
record_tail(unsigned char b[RECORD_TAIL], unsigned reqid)
{
    record_header(b, RECORD_STDOUT, reqid, 0);
    /* END_REQUEST's body: appStatus 0, FCGI_REQUEST_COMPLETE, reserved */
    record_header(b + RECORD_HDR, RECORD_END, reqid, 8);
    memset(b + 2 * RECORD_HDR, 0, 8);
    b[2 * RECORD_HDR + 4] = FCGI_REQUEST_COMPLETE;
}

#endif
