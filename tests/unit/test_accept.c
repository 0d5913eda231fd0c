/*
 * cmocka tests for fcgi/accept.c's checks of what the operator gives:
 * --listen ADDR (accept_listen_addr: HOST:PORT with a port of 1 to 65535
 * in digits, or a unix socket path with a '/', before libfcgi, which
 * wraps ports and takes any other text for a path) and
 * FCGI_WEB_SERVER_ADDRS (accept_allow: IP addresses, bounded).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "accept.h"

static void
test_listen_addr(void **st)
{
    char err[128], longpath[200];

    assert_int_equal(accept_listen_addr("127.0.0.1:9000", err, sizeof(err)), ACCEPT_ADDR_TCP);
    assert_int_equal(accept_listen_addr("localhost:1", err, sizeof(err)), ACCEPT_ADDR_TCP);
    assert_int_equal(accept_listen_addr(":65535", err, sizeof(err)), ACCEPT_ADDR_TCP);
    assert_int_equal(accept_listen_addr("*:9000", err, sizeof(err)), ACCEPT_ADDR_TCP);
    assert_int_equal(accept_listen_addr("/run/zsse/fcgi.sock", err, sizeof(err)),
        ACCEPT_ADDR_UNIX);
    assert_int_equal(accept_listen_addr("./fcgi.sock", err, sizeof(err)), ACCEPT_ADDR_UNIX);
    const char *bad[] = { "127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:0", "127.0.0.1:abc",
        "127.0.0.1:", "127.0.0.1", "127.0.0.1:80x", "127.0.0.1:+80", "127.0.0.1: 80",
        "127.0.0.1:-1", "127.0.0.1:999999999999999999999", "fcgi.sock", "", "/tmp/a:1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (accept_listen_addr(bad[i], err, sizeof(err)) != ACCEPT_ADDR_BAD)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* a path longer than a unix socket address holds */
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(accept_listen_addr(longpath, err, sizeof(err)), ACCEPT_ADDR_BAD);
    assert_non_null(strstr(err, "at most"));
}

static void
test_allow(void **st)
{
    char err[128], many[1024] = "";

    assert_int_equal(accept_allow(NULL, err, sizeof(err)), 0);
    assert_int_equal(accept_allow("", err, sizeof(err)), 0);
    assert_int_equal(accept_allow("127.0.0.1, ::1", err, sizeof(err)), 0);
    assert_int_equal(accept_allow("127.0.0.1,example.com", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'example.com' is not an IP address"));
    for (int i = 0; i < ACCEPT_ADDRS_MAX + 1; i++)
        sprintf(many + strlen(many), "10.0.0.%d,", i);
    assert_int_equal(accept_allow(many, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more than"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_addr),
        cmocka_unit_test(test_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
