/*
 * cmocka tests for proto/route.c: matching paths, expanding channel
 * templates, grants, the publish claim, route types, query strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "config.h"
#include "route.h"

static config_t *
routes(void)
{
    char err[256];
    const char *t = "{\"routes\":["
        "{\"path\":\"/boards/{board}/events\",\"channels\":[\"board/{board}\"]},"
        "{\"path\":\"/me\",\"channels\":[\"user/{sub}\",\"t/{claim.tenant}\"]},"
        "{\"path\":\"/sync\",\"channels\":[\"sync/{query.app}/{sub}\"]}]}";
    config_t *c = config_parse(t, strlen(t), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    return c;
}

static void
test_routes(void **st)
{
    (void)st;
    config_t *c = routes();
    route_params_t p;
    buf_t out;
    char err[256];
    const route_t *r;

    buf_init(&out, 1024);
    assert_non_null(r = route_find(c->routes, c->nroutes, "/boards/b%31/events", 19, &p));
    assert_string_equal(p.values[0], "b1");
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, NULL, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "board/b1");
    assert_null(route_find(c->routes, c->nroutes, "/boards/b1", 10, &p));
    assert_null(route_find(c->routes, c->nroutes, "/boards/b1/events/x", 19, &p));
    assert_null(route_find(c->routes, c->nroutes, "/boards/b%2A/events", 19, &p));  /* '*' */
    assert_null(route_find(c->routes, c->nroutes, "/boards/a%2Fb/events", 20, &p)); /* '/' */
    assert_null(route_find(c->routes, c->nroutes, "/boards/%20/events", 18, &p));   /* space */
    assert_null(route_find(c->routes, c->nroutes, "/boards/%zz/events", 18, &p));

    json_t *alice = json_pack("{s:s, s:s, s:[s]}", "sub", "alice", "tenant", "acme",
        "channels", "board/b*");
    json_t *mallory = json_pack("{s:s, s:[s]}", "sub", "mallory", "channels", "board/other");
    assert_non_null(r = route_find(c->routes, c->nroutes, "/me", 3, &p));
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "user/alice");
    assert_int_equal(tpl_expand(&r->channels[1], &p, NULL, alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "t/acme");
    assert_int_equal(tpl_expand(&r->channels[1], &p, NULL, mallory, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, NULL, NULL, &out, err, sizeof(err)), -1);

    /* grants: one user's token cannot open another's board */
    assert_true(grant_allows(alice, "board/b1"));
    assert_false(grant_allows(mallory, "board/b1"));
    assert_false(grant_allows(NULL, "board/b1"));

    assert_non_null(r = route_find(c->routes, c->nroutes, "/sync", 5, &p));
    assert_int_equal(tpl_expand(&r->channels[0], &p, "x=1&app=my%2Dapp", alice, &out, err, sizeof(err)), 0);
    assert_string_equal(out.data, "sync/my-app/alice");
    assert_int_equal(tpl_expand(&r->channels[0], &p, "x=1", alice, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, "app=a*", alice, &out, err, sizeof(err)), -1);
    assert_int_equal(tpl_expand(&r->channels[0], &p, "app=a+b", alice, &out, err, sizeof(err)), -1);
    json_decref(alice);
    json_decref(mallory);
    buf_free(&out);
    config_destroy(&c);
}

static void
test_query(void **st)
{
    (void)st;
    char v[16];
    assert_int_equal(query_get("a=1&token=abc&token=def", "token", v, sizeof(v)), 3);
    assert_string_equal(v, "abc");
    assert_int_equal(query_get("a=1", "token", v, sizeof(v)), -1);
    assert_int_equal(query_get("tok=1", "token", v, sizeof(v)), -1);
    assert_int_equal(query_get("x=%41%42+c", "x", v, sizeof(v)), 4);
    assert_string_equal(v, "AB c");
    assert_int_equal(query_get("x=%4", "x", v, sizeof(v)), -1);
    assert_int_equal(query_get("x=0123456789abcdefXYZ", "x", v, sizeof(v)), -1);   /* too long */
    /* 10,000 parameters: linear, and still finds the last */
    size_t n = 10000 * 8 + 16;
    char *q = malloc(n), *p = q;
    for (int i = 0; i < 10000; i++)
        p += sprintf(p, "k%d=1&", i % 1000);
    strcpy(p, "want=yes");
    assert_int_equal(query_get(q, "want", v, sizeof(v)), 3);
    free(q);
}

static void
expect_config_error(const char *routes, const char *want)
{
    char text[1024], err[256];
    snprintf(text, sizeof(text), "{\"routes\": [%s]}", routes);
    config_t *c = config_parse(text, strlen(text), err, sizeof(err));
    if (want == NULL) {
        assert_non_null(c);
        config_destroy(&c);
        return;
    }
    assert_null(c);
    assert_string_equal(err, want);
}

static void
test_route_types(void **st)
{
    route_type_t t;

    assert_int_equal(route_type_parse("publish", &t), 0);
    assert_int_equal(t, ROUTE_PUBLISH);
    assert_int_equal(route_type_parse("mercure", &t), 0);
    assert_int_equal(t, ROUTE_MERCURE);
    assert_int_equal(route_type_parse("Publish", &t), -1);
    expect_config_error("{\"path\": \"/p\", \"type\": \"publish\"}", NULL);
    expect_config_error("{\"path\": \"/.well-known/mercure\", \"type\": \"mercure\", "
        "\"auth\": \"optional\"}", NULL);
    expect_config_error("{\"path\": \"/a\", \"channels\": [\"a\"]}, "
        "{\"path\": \"/p\", \"type\": \"publish\", \"channels\": [\"x\"]}",
        "routes[1].channels: not used by a publish route (the messages name their channels)");
    expect_config_error("{\"path\": \"/p\", \"type\": \"push\"}",
        "routes[0].type: must be \"stream\", \"stats\", \"publish\" or \"mercure\"");
}

static void
test_publish_claim(void **st)
{
    json_t *c = json_loads("{\"publish\": [\"news/*\", \"exact\"], \"channels\": [\"*\"]}", 0, NULL);
    assert_true(claim_allows(c, "publish", "news/a/b"));
    assert_true(claim_allows(c, "publish", "exact"));
    assert_false(claim_allows(c, "publish", "exactly"));
    assert_false(claim_allows(c, "publish", "other"));
    assert_false(claim_allows(c, "nothing", "news/a"));
    json_decref(c);
    assert_false(claim_allows(NULL, "publish", "news/a"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_route_types),
        cmocka_unit_test(test_publish_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
