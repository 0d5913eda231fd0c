/*
 * cmocka tests for proto/message.c: the publish message parser, what it
 * keeps and every reason it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "message.h"

static const char *
reject_reason(const char *text)
{
    msg_t m;
    const char *reason = NULL;
    if (msg_parse(&m, text, strlen(text), 1024, &reason) == 0) {
        msg_clear(&m);
        return "accepted";
    }
    return reason;
}

static void
test_message_ok(void **st)
{
    (void)st;
    msg_t m;
    const char *r;
    const char *t = "{ \"channel\": \"user/1\", \"event\": \"balance.changed\",\n"
        "  \"data\": { \"currency\" : \"gold\", \"amount\": 0.57, \"l\": [1, 2] },\n"
        "  \"key\": \"balance/gold\", \"ttl\": 600 }";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_int_equal(m.ev.nchannels, 1);
    assert_memory_equal(m.ev.channels[0], "user/1", 6);
    assert_int_equal(m.ev.event_len, 15);
    assert_int_equal(m.ev.key_len, 12);
    assert_int_equal(m.ev.ttl, 600);
    assert_int_equal(m.ev.kind, ZSSE_KIND_JSON);
    /* the publisher's spelling, compacted */
    assert_int_equal(m.ev.data_len, strlen("{\"currency\":\"gold\",\"amount\":0.57,\"l\":[1,2]}"));
    assert_memory_equal(m.ev.data, "{\"currency\":\"gold\",\"amount\":0.57,\"l\":[1,2]}", m.ev.data_len);
    msg_clear(&m);

    t = "{\"channels\":[\"a\",\"b\",\"a\"],\"data\":\"two\\nlines\",\"event\":\"\"}";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_int_equal(m.ev.nchannels, 2);                /* a duplicate, once */
    assert_int_equal(m.ev.kind, ZSSE_KIND_STRING);
    assert_memory_equal(m.ev.data, "two\nlines", 9);
    assert_null(m.ev.event);                            /* "" is unnamed */
    assert_int_equal(m.ev.ttl, 0);                  /* none: the channel's */
    msg_clear(&m);

    t = "{\"channel\":\"a\",\"data\":null}";
    assert_int_equal(msg_parse(&m, t, strlen(t), 0, &r), 0);
    assert_memory_equal(m.ev.data, "null", 4);
    msg_clear(&m);
}

static void
test_message_rejects(void **st)
{
    (void)st;
    char big[2000];
    snprintf(big, sizeof(big), "{\"channel\":\"a\",\"data\":\"%01500d\"}", 0);
    char many[2000] = "{\"channels\":[";
    for (int i = 0; i < 65; i++)
        sprintf(many + strlen(many), "%s\"c%d\"", i ? "," : "", i);
    strcat(many, "],\"data\":1}");
    assert_string_equal(reject_reason(big), ZSSE_R_TOO_LARGE);
    assert_string_equal(reject_reason("{"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"data\":1,\"data\":2}"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("{\"channel\":\"caf\xc3\",\"data\":1}"), ZSSE_R_INVALID_JSON);
    assert_string_equal(reject_reason("[1]"), ZSSE_R_NOT_OBJECT);
    assert_string_equal(reject_reason("\"x\""), ZSSE_R_NOT_OBJECT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"data\":1,\"chanel\":1}"), ZSSE_R_UNKNOWN_FIELD);
    assert_string_equal(reject_reason("{\"data\":1}"), ZSSE_R_NO_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"a b\",\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"\",\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":7,\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channels\":[],\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"channels\":[\"b\"],\"data\":1}"), ZSSE_R_BAD_CHANNEL);
    assert_string_equal(reject_reason(many), ZSSE_R_TOO_MANY_CHANNELS);
    assert_string_equal(reject_reason("{\"channel\":\"a\"}"), ZSSE_R_NO_DATA);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":\"x\\ny\",\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":\"x\\ry\",\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"event\":5,\"data\":1}"), ZSSE_R_BAD_EVENT);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"key\":\"\",\"data\":1}"), ZSSE_R_BAD_KEY);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"key\":\"a\\u0001\",\"data\":1}"), ZSSE_R_BAD_KEY);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":0,\"data\":1}"), ZSSE_R_BAD_TTL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":1.5,\"data\":1}"), ZSSE_R_BAD_TTL);
    assert_string_equal(reject_reason("{\"channel\":\"a\",\"ttl\":99999999999,\"data\":1}"), ZSSE_R_BAD_TTL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_ok),
        cmocka_unit_test(test_message_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
