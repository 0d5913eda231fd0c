/*
 * fcgi_conn.h -- a real FastCGI request for the unit tests of fcgi/: the
 * records a web server writes (BEGIN_REQUEST, PARAMS, STDIN) go into one
 * end of a socketpair, libfcgi reads them from the other (FCGX_Accept_r
 * on a given connection, as zsse-fcgi's setup threads do: fcgi/main.c),
 * and what the code under test wrote comes back from the STDOUT records.
 * The request is parsed with http_parse into C->h (C->parsed its result).
 * Call FCGX_Init() once first.
 *
 *     fc_open(&c, params)  or  fc_open_body(&c, params, body)
 *     ...the code under test, on &c.h...
 *     out = fc_close(&c)   the response (static, NUL-terminated)
 */
#ifndef ZSSE_FCGI_CONN_H
#define ZSSE_FCGI_CONN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "buf.h"
#include "http.h"

#define REC_BEGIN   1               /* FastCGI record types (FastCGI spec 8) */
#define REC_END     3
#define REC_PARAMS  4
#define REC_STDIN   5
#define REC_STDOUT  6

typedef struct {
    FCGX_Request req;
    int          client;            /* the web server's end */
    http_t       h;
    int          parsed;            /* http_parse's result */
} fc_conn_t;

static inline void
fc_record(buf_t *b, int type, const void *body, size_t len)
{
    unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
                           (unsigned char)len, 0, 0 };
    buf_append(b, h, 8);
    buf_append(b, body, len);
}

static inline void
fc_nv_len(buf_t *b, size_t n)
{
    unsigned char l[4] = { (unsigned char)(n >> 24 | 0x80), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n };
    if (n < 128)
        buf_putc(b, (char)n);
    else
        buf_append(b, l, 4);
}

/* a request with PARAMS ("NAME=VALUE", NULL-terminated) and BODY (NULL:
 * none) accepted by libfcgi and parsed into C->h */
static inline void
fc_open_body(fc_conn_t *c, const char *const *params, const char *body)
{
    int sv[2];
    buf_t w, nv;
    static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };   /* responder */

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    buf_init(&w, 0);
    buf_init(&nv, 0);
    fc_record(&w, REC_BEGIN, begin, 8);
    for (const char *const *p = params; *p; p++) {
        const char *eq = strchr(*p, '=');
        fc_nv_len(&nv, (size_t)(eq - *p));
        fc_nv_len(&nv, strlen(eq + 1));
        buf_append(&nv, *p, (size_t)(eq - *p));
        buf_puts(&nv, eq + 1);
    }
    for (size_t off = 0; off < nv.len; off += 65535)
        fc_record(&w, REC_PARAMS, nv.data + off, nv.len - off < 65535 ? nv.len - off : 65535);
    fc_record(&w, REC_PARAMS, "", 0);
    for (size_t off = 0, n = body ? strlen(body) : 0; off < n; off += 65535)
        fc_record(&w, REC_STDIN, body + off, n - off < 65535 ? n - off : 65535);
    fc_record(&w, REC_STDIN, "", 0);
    assert_int_equal(write(sv[1], w.data, w.len), (ssize_t)w.len);
    buf_free(&w);
    buf_free(&nv);
    assert_int_equal(FCGX_InitRequest(&c->req, -1, 0), 0);
    /* given a connection, libfcgi reads it instead of accepting one
     * (fcgi/main.c does the same) */
    c->req.ipcFd = sv[0];
    c->req.keepConnection = 1;
    assert_int_equal(FCGX_Accept_r(&c->req), 0);
    c->client = sv[1];
    c->parsed = http_parse(&c->h, &c->req);
}

static inline void
fc_open(fc_conn_t *c, const char *const *params)
{
    fc_open_body(c, params, NULL);
}

/* finish the request; what it wrote on STDOUT (static, NUL-terminated) */
static inline const char *
fc_close(fc_conn_t *c)
{
    static char out[65536];
    unsigned char hdr[8];
    size_t n = 0;

    c->req.keepConnection = 1;     /* the connection is ours to close */
    FCGX_Finish_r(&c->req);
    close(c->req.ipcFd);
    for (;;) {
        if (read(c->client, hdr, 8) != 8)
            break;
        size_t len = (size_t)hdr[4] << 8 | hdr[5], pad = hdr[6];
        char body[65536 + 256];
        size_t got = 0;
        while (got < len + pad) {
            ssize_t r = read(c->client, body + got, len + pad - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (hdr[1] == REC_STDOUT && n + len < sizeof(out)) {
            memcpy(out + n, body, len);
            n += len;
        }
        if (hdr[1] == REC_END)
            break;
    }
    out[n] = '\0';
    close(c->client);
    return out;
}

#endif
