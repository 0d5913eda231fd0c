/*
 * cmocka tests for proto/log.c: level names, the level filter, a log file
 * reopened after it was moved (logrotate), and log_limited() -- at most
 * a line a second per limit, and no line lost from the count: the lines
 * written plus the "(and N more ...)" they report add up to the calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

static char dir[] = "/tmp/zsse-test-log.XXXXXX";
static char path[128], moved[128];

/* the lines of FILE holding WHAT, and the sum of their "(and N more" */
static int
count(const char *file, const char *what, unsigned *more)
{
    char line[2048];
    int n = 0;
    FILE *fp = fopen(file, "r");

    *more = 0;
    if (!fp)
        return 0;
    while (fgets(line, sizeof(line), fp)) {
        if (!strstr(line, what))
            continue;
        n++;
        const char *m = strstr(line, "(and ");
        if (m)
            *more += (unsigned)strtoul(m + 5, NULL, 10);
    }
    fclose(fp);
    return n;
}

static void
test_levels(void **st)
{
    assert_int_equal(log_level_parse("error"), LOG_ERR);
    assert_int_equal(log_level_parse("warning"), LOG_WARNING);
    assert_int_equal(log_level_parse("notice"), LOG_NOTICE);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("Info"), -1);
    assert_int_equal(log_level_parse(""), -1);
}

static void
test_file(void **st)
{
    unsigned more;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/zsse.log", dir);
    snprintf(moved, sizeof(moved), "%s/zsse.log.1", dir);
    assert_int_equal(log_open("test", 0, path), 0);
    log_set_level(LOG_NOTICE);
    log_msg(LOG_INFO, "filtered %d", 1);
    log_msg(LOG_NOTICE, "kept %d", 2);
    assert_int_equal(count(path, "filtered", &more), 0);
    assert_int_equal(count(path, "test[", &more), 1);
    assert_int_equal(count(path, "kept 2", &more), 1);
    /* logrotate: moved away, then reopened on SIGHUP */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(log_reopen(), 0);
    log_msg(LOG_ERR, "after %s", "reopen");
    assert_int_equal(count(path, "after reopen", &more), 1);
    assert_int_equal(count(moved, "after reopen", &more), 0);
    log_set_level(LOG_INFO);
}

static void
test_limited(void **st)
{
    ratelimit_t rl = { 0 }, other = { 0 };
    unsigned more;

    for (int i = 0; i < 1000; i++)
        log_limited(&rl, LOG_WARNING, "flood %d", i);
    log_limited(&other, LOG_WARNING, "another reason");
    int lines = count(path, "flood ", &more);
    /* a line a second: the loop takes far less than a second, maybe
     * across one boundary */
    assert_true(lines >= 1 && lines <= 2);
    assert_int_equal(count(path, "another reason", &more), 1);  /* its own limit */
    /* a second later, the held-back count comes with the next line */
    rl.last -= 1;
    log_limited(&rl, LOG_WARNING, "flood %s", "end");
    lines = count(path, "flood ", &more);
    assert_int_equal((unsigned)lines + more, 1001);
    /* below the level: neither written nor counted */
    log_set_level(LOG_ERR);
    rl.last -= 1;
    log_limited(&rl, LOG_WARNING, "flood %s", "hidden");
    log_set_level(LOG_INFO);
    assert_int_equal(count(path, "flood hidden", &more), 0);
    log_close();
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
