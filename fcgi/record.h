/*
 * record.h -- the FastCGI records zsse writes itself, where libfcgi does
 * not: the hub's live events and ends of response (writer.c), zsse-handoff's
 * 503 (handoff.c).  Header-only: zsse-handoff links libc alone.
 *
 * A record is an 8-byte header (version 1, type, request id, body length,
 * no padding) and at most FCGI_REC_MAX bytes of body.  A response ends
 * with an empty STDOUT record and END_REQUEST (application status 0,
 * FCGI_REQUEST_COMPLETE).
 */
#ifndef ZSSE_RECORD_H
#define ZSSE_RECORD_H

#include <stddef.h>
#include <string.h>

#define FCGI_REC_HDR        8
#define FCGI_REC_MAX        65535   /* a record's body */
#define FCGI_REC_STDOUT     6
#define FCGI_REC_END        3       /* END_REQUEST */
#define FCGI_REC_TAIL       24      /* the end of a response */

static inline void
fcgi_rec_header(unsigned char h[FCGI_REC_HDR], int type, unsigned reqid, size_t len)
{
    h[0] = 1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)(reqid >> 8);
    h[3] = (unsigned char)reqid;
    h[4] = (unsigned char)(len >> 8);
    h[5] = (unsigned char)len;
    h[6] = h[7] = 0;
}

/* the end of request REQID's response */
static inline void
fcgi_rec_tail(unsigned char b[FCGI_REC_TAIL], unsigned reqid)
{
    fcgi_rec_header(b, FCGI_REC_STDOUT, reqid, 0);
    fcgi_rec_header(b + 8, FCGI_REC_END, reqid, 8);
    memset(b + 16, 0, 8);
}

#endif
