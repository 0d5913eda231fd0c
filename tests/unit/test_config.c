/*
 * cmocka tests for proto/config.c: the config loader, its defaults, per-
 * channel limits and its error messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "config.h"
#include "route.h"
#include "sse.h"

static void
config_error(const char *text, const char *want)
{
    char err[512];
    config_t *c = config_parse(text, strlen(text), err, sizeof(err));
    if (c) {
        config_destroy(&c);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void
test_config(void **st)
{
    (void)st;
    char err[512];
    const char *t = "{\"broker\":{\"buffer\":10,\"channels\":[{\"match\":\"sync/*\",\"buffer\":16,\"ttl\":600}]},"
        "\"auth\":{\"alg\":\"RS256\",\"issuer\":\"me\",\"query_param\":null},"
        "\"routes\":[{\"path\":\"/b/{board}/events\",\"channels\":[\"board/{board}\",\"user/{sub}\"],"
        "\"format\":\"envelope\",\"hello\":{\"event\":\"connected\",\"data\":{\"status\":\"ok\"}},"
        "\"cors\":{\"origins\":[\"https://a.example\"],\"credentials\":true},\"max_per_user\":2}]}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->broker.buffer, 10);
    assert_int_equal(c->broker.ttl, 3600);
    assert_string_equal(c->broker.publish, "tcp://127.0.0.1:7701");
    assert_string_equal(c->auth.alg, "RS256");
    assert_null(c->auth.query_param);
    assert_string_equal(c->auth.cookie, "zsse_token");
    assert_int_equal(c->nroutes, 1);
    route_t *r = &c->routes[0];
    assert_int_equal(r->nchannels, 2);
    assert_true(r->channels[0].needs_grant);
    assert_false(r->channels[1].needs_grant);
    assert_int_equal(r->format, SSE_ENVELOPE);
    assert_string_equal(r->hello_data, "{\"status\":\"ok\"}");
    assert_int_equal(r->heartbeat, 30);
    assert_int_equal(r->stall_timeout, 120);
    assert_string_equal(r->reset_event, "reset");
    int buffer, ttl;
    config_channel_limits(&c->broker, "sync/a/b", &buffer, &ttl);
    assert_int_equal(buffer, 16);
    assert_int_equal(ttl, 600);
    config_channel_limits(&c->broker, "other", &buffer, &ttl);
    assert_int_equal(buffer, 10);
    config_destroy(&c);
    assert_null(c);

    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"x\"]},{\"path\":\"/b\",\"channels\":[\"x\"]},"
        "{\"path\":\"/c/{id}\",\"channels\":[\"c/{foo}\"]}]}",
        "routes[2].channels[0]: unknown placeholder {foo}");
    config_error("{\"broker\":{\"bufer\":1}}", "broker.bufer: unknown key");
    config_error("{\"colour\":1}", "colour: unknown key");
    config_error("{\"broker\":{\"buffer\":0}}", "broker.buffer: must be an integer");
    config_error("{\"broker\":{\"publish\":\"http://x\"}}", "broker.publish: must be a tcp:// or ipc://");
    config_error("{\"auth\":{\"alg\":\"none\"}}", "auth.alg:");
    config_error("{\"routes\":[{\"path\":\"x\",\"channels\":[\"a\"]}]}", "routes[0].path: must start with /");
    config_error("{\"routes\":[{\"path\":\"/a/x{id}\",\"channels\":[\"a\"]}]}", "routes[0].path:");
    config_error("{\"routes\":[{\"path\":\"/a\"}]}", "routes[0].channels: is required");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"cors\":{\"origins\":[\"*\"],\"credentials\":true}}]}",
        "routes[0].cors.origins[0]: \"*\" is not allowed with credentials");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"heartbeat\":{\"every\":3}}]}",
        "routes[0].heartbeat.every: unknown key");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a\"],\"format\":\"xml\"}]}", "routes[0].format:");
    config_error("{\"routes\":[{\"path\":\"/a\",\"channels\":[\"a{\"]}]}", "routes[0].channels[0]: unbalanced {");
    config_error("{\"broker\":", "line 1");
}

/* broker.cluster (issue 14): defaults, and each bad value named */
static void
test_cluster(void **st)
{
    (void)st;
    char err[512];
    const char *t = "{\"broker\":{\"cluster\":{\"servers\":[\"nats://u:p@h1:4222\","
        "\"tls://[::1]:4222\",\"nats://h3\"]}}}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->broker.cluster.nservers, 3);
    assert_string_equal(c->broker.cluster.stream, "ZSSE");
    assert_string_equal(c->broker.cluster.subject, "zsse.events");
    assert_string_equal(c->broker.cluster.leases_bucket, "ZSSE_LEASES");
    assert_int_equal(c->broker.cluster.replicas, 3);
    assert_true(c->broker.cluster.id_offset == CONFIG_CLUSTER_ID_OFFSET);
    config_destroy(&c);

#define CL(x) "{\"broker\":{\"cluster\":{\"servers\":[\"nats://h:4222\"]" x "}}}"
    config_error("{\"broker\":{\"cluster\":{\"servers\":[]}}}", "broker.cluster.servers: must be");
    config_error("{\"broker\":{\"cluster\":{\"servers\":[\"http://h\"]}}}",
        "broker.cluster.servers[0]: must be a nats:// or tls:// URL");
    config_error("{\"broker\":{\"cluster\":{\"servers\":[\"nats://h:99999\"]}}}",
        "broker.cluster.servers[0]: has a port that is not 1 to 65535");
    config_error("{\"broker\":{\"cluster\":{\"servers\":[\"nats://a b:4222\"]}}}",
        "broker.cluster.servers[0]: holds white space");
    config_error("{\"broker\":{\"cluster\":{\"servers\":[\"nats://\"]}}}",
        "broker.cluster.servers[0]: has no host");
    config_error(CL(",\"replicas\":9"), "broker.cluster.replicas: must be an integer from 1 to 5");
    config_error(CL(",\"stream\":\"ZS.SE\""), "broker.cluster.stream: must be a NATS name");
    config_error(CL(",\"subject\":\"a..b\""), "broker.cluster.subject: must be NATS subject tokens");
    config_error(CL(",\"id_offset\":9007199254740992"), "broker.cluster.id_offset: must be");
    config_error(CL(",\"max_bytes\":0"), "broker.cluster.max_bytes: must be bytes");
    config_error(CL(",\"colour\":1"), "broker.cluster.colour: unknown key");
    config_error("{\"broker\":{\"journal\":\"/var/lib/zsse\",\"cluster\":{\"servers\":[\"nats://h\"]}}}",
        "broker.journal: must be null with broker.cluster");
#undef CL
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
