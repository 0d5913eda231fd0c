/*
 * test_writer.c -- fcgi/writer.h over a real socketpair: records split at
 * 65,535 bytes, a small SO_SNDBUF forcing partial writes and the pending
 * tail, a full socket, a peer gone, the end of a response.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "record.h"
#include "writer.h"

#define REQID 0x1234

typedef struct {
    int fd[2];                      /* [0]: the writer's, [1]: the web server's */
} pair_t;

static void
pair_open(pair_t *p, int sndbuf)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
    if (sndbuf)
        assert_int_equal(setsockopt(p->fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
            sizeof(sndbuf)), 0);
    fcntl(p->fd[1], F_SETFL, O_NONBLOCK);
}

static void
pair_close(pair_t *p)
{
    if (p->fd[0] >= 0)
        close(p->fd[0]);
    if (p->fd[1] >= 0)
        close(p->fd[1]);
}

/* everything readable now from the web server's side, appended to *BUF */
static size_t
drain(int fd, unsigned char **buf, size_t *len)
{
    unsigned char tmp[8192];
    size_t got = 0;
    ssize_t n;

    while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
        *buf = realloc(*buf, *len + (size_t)n);
        assert_non_null(*buf);
        memcpy(*buf + *len, tmp, (size_t)n);
        *len += (size_t)n;
        got += (size_t)n;
    }
    return got;
}

/* check that IN[0..LEN) is STDOUT records of REQID carrying BODY, of
 * RECORD_MAX bytes each but the last; returns the bytes used */
static size_t
check_records(const unsigned char *in, size_t len, const char *body, size_t blen)
{
    size_t pos = 0, off = 0;

    while (off < blen) {
        assert_true(pos + RECORD_HDR <= len);
        const unsigned char *h = in + pos;
        size_t cl = (size_t)h[4] << 8 | h[5];
        assert_int_equal(h[0], 1);                      /* FCGI_VERSION_1 */
        assert_int_equal(h[1], RECORD_STDOUT);
        assert_int_equal((unsigned)h[2] << 8 | h[3], REQID);
        assert_int_equal(h[6], 0);                      /* no padding */
        assert_int_equal(cl, blen - off < RECORD_MAX ? blen - off : RECORD_MAX);
        assert_true(pos + RECORD_HDR + cl <= len);
        assert_memory_equal(in + pos + RECORD_HDR, body + off, cl);
        pos += RECORD_HDR + cl;
        off += cl;
    }
    return pos;
}

static char *
pattern(size_t n)
{
    char *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + (i * 31 + i / 7) % 26);
    return b;
}

static void
test_small_body_one_record(void **st)
{
    (void)st;
    pair_t p;
    writer_t w = { 0 };
    unsigned char *in = NULL;
    size_t len = 0;

    pair_open(&p, 0);
    writer_init(&w, p.fd[0], REQID);
    assert_int_equal(writer_send(&w, "", 0), WRITER_DONE);   /* nothing at all */
    assert_int_equal(writer_send(&w, "data: x\n\n", 9), WRITER_DONE);
    assert_false(writer_pending(&w));
    drain(p.fd[1], &in, &len);
    assert_int_equal(len, RECORD_HDR + 9);
    assert_int_equal(check_records(in, len, "data: x\n\n", 9), len);
    writer_end(&w);
    free(in);
    in = NULL;
    len = 0;
    drain(p.fd[1], &in, &len);
    assert_int_equal(len, RECORD_TAIL);
    assert_int_equal(in[1], RECORD_STDOUT);           /* empty: the end of STDOUT */
    assert_int_equal(in[5], 0);
    assert_int_equal(in[8 + 1], RECORD_END);
    assert_int_equal((unsigned)in[8 + 2] << 8 | in[8 + 3], REQID);
    writer_free(&w);
    free(in);
    pair_close(&p);
}

/* 3 x 65,535 + 1 bytes: four records, split exactly at the maximum */
static void
test_split_at_record_max(void **st)
{
    (void)st;
    pair_t p;
    writer_t w = { 0 };
    size_t blen = 3 * RECORD_MAX + 1;
    char *body = pattern(blen);
    unsigned char *in = NULL;
    size_t len = 0;
    int bigbuf = 4 << 20;

    pair_open(&p, bigbuf);
    setsockopt(p.fd[1], SOL_SOCKET, SO_RCVBUF, &bigbuf, sizeof(bigbuf));
    writer_init(&w, p.fd[0], REQID);
    writer_result_t r = writer_send(&w, body, blen);
    /* (the kernel may not take it all at once: then the tail follows) */
    for (int i = 0; i < 1000 && r != WRITER_DONE; i++) {
        assert_int_not_equal(r, WRITER_FAILED);
        drain(p.fd[1], &in, &len);
        r = writer_flush(&w);
    }
    assert_int_equal(r, WRITER_DONE);
    drain(p.fd[1], &in, &len);
    assert_int_equal(len, blen + 4 * RECORD_HDR);
    assert_int_equal(check_records(in, len, body, blen), len);
    writer_free(&w);
    free(in);
    free(body);
    pair_close(&p);
}

/* a small send buffer: the first write is partial, the tail is pending
 * and goes out, in order and whole, as the web server reads */
static void
test_partial_write_keeps_tail(void **st)
{
    (void)st;
    pair_t p;
    writer_t w = { 0 };
    size_t blen = 300000;
    char *body = pattern(blen);
    unsigned char *in = NULL;
    size_t len = 0;
    int flushes = 0;

    pair_open(&p, 4096);
    writer_init(&w, p.fd[0], REQID);
    assert_int_equal(writer_send(&w, body, blen), WRITER_PARTIAL);
    assert_true(writer_pending(&w));
    assert_true(w.pend_len > 0 && w.pend_len < blen + 5 * RECORD_HDR);
    /* nothing read yet: the socket is still full */
    assert_int_equal(writer_flush(&w), WRITER_BLOCKED);
    /* no end records while a record is cut */
    writer_end(&w);
    for (int i = 0; i < 100000 && writer_pending(&w); i++) {
        drain(p.fd[1], &in, &len);
        writer_result_t r = writer_flush(&w);
        assert_int_not_equal(r, WRITER_FAILED);
        flushes += r != WRITER_BLOCKED;
    }
    assert_false(writer_pending(&w));
    assert_true(flushes > 1);                   /* it took several rounds */
    assert_int_equal(writer_flush(&w), WRITER_DONE);   /* nothing left */
    drain(p.fd[1], &in, &len);
    assert_int_equal(len, blen + 5 * RECORD_HDR);
    assert_int_equal(check_records(in, len, body, blen), len);
    writer_free(&w);
    free(in);
    free(body);
    pair_close(&p);
}

/* a full socket takes nothing: WRITER_BLOCKED, and nothing is kept */
static void
test_full_socket_blocks(void **st)
{
    (void)st;
    pair_t p;
    writer_t w = { 0 };
    char *body = pattern(65536);

    pair_open(&p, 4096);
    writer_init(&w, p.fd[0], REQID);
    /* fill it */
    while (send(p.fd[0], body, 4096, MSG_DONTWAIT) > 0)
        ;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(writer_send(&w, body, 100), WRITER_BLOCKED);
    assert_false(writer_pending(&w));
    writer_free(&w);
    free(body);
    pair_close(&p);
}

/* the peer is gone: WRITER_FAILED, for a send and for a pending tail */
static void
test_peer_gone_fails(void **st)
{
    (void)st;
    pair_t p;
    writer_t w = { 0 };
    char *body = pattern(200000);

    pair_open(&p, 4096);
    writer_init(&w, p.fd[0], REQID);
    assert_int_equal(writer_send(&w, body, 200000), WRITER_PARTIAL);
    close(p.fd[1]);
    p.fd[1] = -1;
    assert_int_equal(writer_flush(&w), WRITER_FAILED);
    writer_free(&w);
    writer_init(&w, p.fd[0], REQID);
    assert_int_equal(writer_send(&w, body, 10), WRITER_FAILED);
    writer_free(&w);
    free(body);
    pair_close(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_body_one_record),
        cmocka_unit_test(test_split_at_record_max),
        cmocka_unit_test(test_partial_write_keeps_tail),
        cmocka_unit_test(test_full_socket_blocks),
        cmocka_unit_test(test_peer_gone_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
