/*
 * cmocka tests for fcgi/gate.c, where new connections wait, holding no
 * thread, until the head of their FastCGI request is in: over socketpairs,
 * a head that comes in pieces goes to the queue only once whole (with its
 * request id and deadline); something not FastCGI goes on (libfcgi
 * answers it); a peer gone is closed; a head not in by its deadline, and
 * the oldest connection when the gate is full, get a 503 with Retry-After
 * on their request id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "accept.h"
#include "gate.h"

#define DEADLINE_MS (ACCEPT_READ_TIMEOUT * 1000)
#define FD_LIMIT    80              /* the gate holds at most half: 40 */

static int ready_fd = -1, ready_count;
static int64_t ready_deadline;
static unsigned ready_reqid;

static void
on_ready(int fd, int64_t deadline, unsigned reqid)
{
    ready_fd = fd;
    ready_deadline = deadline;
    ready_reqid = reqid;
    ready_count++;
}

static void
put_record(int fd, int type, unsigned reqid, const char *body, size_t len)
{
    unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(reqid >> 8),
                           (unsigned char)reqid, (unsigned char)(len >> 8),
                           (unsigned char)len, 0, 0 };
    assert_int_equal(write(fd, h, 8), 8);
    if (len)
        assert_int_equal(write(fd, body, len), (ssize_t)len);
}

static void
pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static int
is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* what the gate answered on SV[1]: the STDOUT text, and the END_REQUEST's
 * request id in *REQID */
static const char *
answer(int fd, unsigned *reqid)
{
    static char out[4096];
    unsigned char b[8192];
    ssize_t n = read(fd, b, sizeof(b));
    size_t off = 0, o = 0;

    *reqid = 0;
    while (n > 0 && off + 8 <= (size_t)n) {
        size_t len = (size_t)b[off + 4] << 8 | b[off + 5];
        if (b[off + 1] == 6 && o + len < sizeof(out)) {
            memcpy(out + o, b + off + 8, len);
            o += len;
        }
        if (b[off + 1] == 3)
            *reqid = (unsigned)b[off + 2] << 8 | b[off + 3];
        off += 8 + len + b[off + 6];
    }
    out[o] = '\0';
    return out;
}

static int
setup(void **st)
{
    struct rlimit rl = { FD_LIMIT, FD_LIMIT };
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = FD_LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    return gate_init(on_ready);
}

static void
test_head_in_pieces(void **st)
{
    static const char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
    int sv[2];

    pair(sv);
    assert_int_equal(gate_timeout(1000), -1);           /* none waits */
    gate_add(sv[0], 1000);
    assert_int_equal(gate_timeout(1000), DEADLINE_MS);
    put_record(sv[1], 1, 7, begin, 8);
    put_record(sv[1], 4, 7, "\x04\x03" "PATHabc", 9);
    gate_run(1500);
    assert_int_equal(ready_count, 0);                   /* the PARAMS go on */
    put_record(sv[1], 4, 7, "", 0);
    gate_run(1600);
    assert_int_equal(ready_count, 1);
    assert_int_equal(ready_fd, sv[0]);
    assert_int_equal(ready_reqid, 7);
    assert_true(ready_deadline == 1000 + DEADLINE_MS);
    assert_int_equal(gate_timeout(1600), -1);
    close(sv[0]);
    close(sv[1]);

    /* not FastCGI: on to libfcgi, which answers it */
    pair(sv);
    gate_add(sv[0], 2000);
    assert_int_equal(write(sv[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
    gate_run(2000);
    assert_int_equal(ready_count, 2);
    assert_int_equal(ready_fd, sv[0]);
    close(sv[0]);
    close(sv[1]);
}

static void
test_gone_and_late(void **st)
{
    static const char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
    int sv[2], late[2];
    unsigned reqid;

    ready_count = 0;
    pair(sv);
    gate_add(sv[0], 3000);
    close(sv[1]);                               /* gone before its request */
    gate_run(3000);
    assert_int_equal(ready_count, 0);
    assert_false(is_open(sv[0]));

    pair(late);
    gate_add(late[0], 4000);
    put_record(late[1], 1, 9, begin, 8);        /* BEGIN, then nothing */
    gate_run(4000 + DEADLINE_MS - 1);
    assert_int_equal(ready_count, 0);
    gate_run(4000 + DEADLINE_MS);
    assert_int_equal(ready_count, 0);
    const char *a = answer(late[1], &reqid);
    assert_non_null(strstr(a, "Status: 503 Service Unavailable\r\n"));
    assert_non_null(strstr(a, "Retry-After: 1\r\n"));
    assert_int_equal(reqid, 9);
    close(late[1]);
}

static void
test_full(void **st)
{
    int first[2], sv[2];
    int max = FD_LIMIT / 2;
    unsigned reqid;

    ready_count = 0;
    pair(first);
    gate_add(first[0], 5000);
    for (int i = 1; i < max; i++) {             /* the gate is full */
        pair(sv);
        gate_add(sv[0], 5000 + i);
        close(sv[1]);
    }
    assert_int_equal(read(first[1], &reqid, 1), -1);    /* nothing yet */
    pair(sv);
    gate_add(sv[0], 6000);                      /* one more: the oldest goes */
    const char *a = answer(first[1], &reqid);
    assert_non_null(strstr(a, "Status: 503"));
    assert_int_equal(reqid, 1);                 /* no BEGIN_REQUEST came */
    close(first[1]);
    gate_run(6000);                             /* the closed peers: closed */
    assert_int_equal(ready_count, 0);
    assert_int_equal(gate_timeout(6000), DEADLINE_MS);  /* only the last waits */
    close(sv[1]);
    gate_run(6001);
    assert_int_equal(gate_timeout(6001), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_in_pieces),
        cmocka_unit_test(test_gone_and_late),
        cmocka_unit_test(test_full),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
