/*
 * cmocka tests for proto/curve.c: which endpoints count as local, the
 * start-up rule and its message, key files (keygen modes, bad keys), the
 * allowed-client lookup, and the broker.curve config keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "config.h"
#include "curve.h"

static void
test_endpoint_local(void **st)
{
    (void)st;
    assert_true(curve_endpoint_local("tcp://127.0.0.1:7701"));
    assert_true(curve_endpoint_local("tcp://127.9.8.7:1"));
    assert_true(curve_endpoint_local("tcp://localhost:7701"));
    assert_true(curve_endpoint_local("tcp://[::1]:7701"));
    assert_true(curve_endpoint_local("ipc:///run/zsse/pub.sock"));
    assert_false(curve_endpoint_local("tcp://0.0.0.0:7701"));
    assert_false(curve_endpoint_local("tcp://*:7701"));
    assert_false(curve_endpoint_local("tcp://eth0:7701"));
    assert_false(curve_endpoint_local("tcp://10.0.0.1:7701"));
    assert_false(curve_endpoint_local("tcp://127.0.0.1.example.com:7701"));
    assert_false(curve_endpoint_local("tcp://127.0.0.1;10.0.0.1:7701"));
    assert_false(curve_endpoint_local("tcp://[::]:7701"));
    assert_false(curve_endpoint_local("tcp://[::1.2]:7701"));
    assert_false(curve_endpoint_local("tcp://:7701"));
}

static config_t *
parse(const char *text)
{
    char err[512];
    config_t *cfg = config_parse(text, strlen(text), err, sizeof(err));
    if (!cfg)
        fprintf(stderr, "config: %s\n", err);
    return cfg;
}

static void
test_check_binds(void **st)
{
    (void)st;
    char err[512];
    config_t *cfg = parse("{\"broker\": {\"events\": \"tcp://0.0.0.0:7702\"}}");
    assert_non_null(cfg);
    assert_int_equal(curve_check_binds(&cfg->broker, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "broker.events: tcp://0.0.0.0:7702 is not loopback and CURVE is off"));
    config_destroy(&cfg);
    cfg = parse("{\"broker\": {\"events\": \"tcp://0.0.0.0:7702\", \"trusted_network\": true}}");
    assert_non_null(cfg);
    assert_int_equal(curve_check_binds(&cfg->broker, err, sizeof(err)), 0);
    config_destroy(&cfg);
    cfg = parse("{\"broker\": {\"events\": \"tcp://0.0.0.0:7702\", \"curve\": "
        "{\"secret_key_file\": \"/x\", \"clients\": []}}}");
    assert_non_null(cfg);
    assert_int_equal(curve_check_binds(&cfg->broker, err, sizeof(err)), 0);
    config_destroy(&cfg);
    cfg = parse("{}");
    assert_int_equal(curve_check_binds(&cfg->broker, err, sizeof(err)), 0);
    config_destroy(&cfg);
}

static void
test_config_errors(void **st)
{
    (void)st;
    static const struct { const char *json, *err; } cases[] = {
        { "{\"broker\": {\"curve\": {\"frob\": 1}}}", "broker.curve.frob: unknown key" },
        { "{\"broker\": {\"curve\": 5}}", "broker.curve: must be an object" },
        { "{\"broker\": {\"curve\": {\"secret_key_file\": \"/x\"}}}",
          "broker.curve.clients: is required" },
        { "{\"broker\": {\"curve\": {\"clients\": \"/d\"}}}",
          "broker.curve.secret_key_file: is required" },
        { "{\"broker\": {\"curve\": {\"server_public_key_file\": \"/p\"}}}",
          "broker.curve.client_secret_key_file: is required" },
        { "{\"broker\": {\"curve\": {\"client_secret_key_file\": \"/s\"}}}",
          "broker.curve.server_public_key_file: is required" },
        { "{\"broker\": {\"curve\": {\"secret_key_file\": \"/x\", \"clients\": [\"abc\"]}}}",
          "broker.curve.clients[0]: must be a public key" },
        { "{\"broker\": {\"curve\": {\"secret_key_file\": \"/x\", \"clients\": 7}}}",
          "broker.curve.clients: must be a directory" },
        { "{\"broker\": {\"trusted_network\": \"yes\"}}", "broker.trusted_network: must be true" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        config_t *cfg = config_parse(cases[i].json, strlen(cases[i].json), err, sizeof(err));
        assert_null(cfg);
        if (!strstr(err, cases[i].err))
            fail_msg("%s: got '%s', want '%s'", cases[i].json, err, cases[i].err);
    }
}

static void
test_keys(void **st)
{
    (void)st;
    char dir[] = "/tmp/zsse-test-curve.XXXXXX", prefix[256], path[400], err[600];
    char key[CURVE_Z85_LEN + 1], cfgtext[2048];
    struct stat sb;

    if (!zmq_has("curve"))
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(prefix, sizeof(prefix), "%s/broker", dir);
    assert_int_equal(curve_keygen(prefix, err, sizeof(err)), 0);
    assert_int_equal(curve_keygen(prefix, err, sizeof(err)), -1);   /* no overwrite */
    snprintf(path, sizeof(path), "%s.secret", prefix);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(curve_read_key(path, key, err, sizeof(err)), 0);
    assert_int_equal(strlen(key), CURVE_Z85_LEN);
    snprintf(path, sizeof(path), "%s.public", prefix);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);

    /* a file that is not a key */
    snprintf(path, sizeof(path), "%s/bad.public", dir);
    FILE *fp = fopen(path, "w");
    fputs("not a key\n", fp);
    fclose(fp);
    assert_int_equal(curve_read_key(path, key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a CURVE key"));
    unlink(path);

    /* two allowed clients: one in a directory, one listed */
    char cdir[300], cpre[320], apub[CURVE_Z85_LEN + 1], asec[CURVE_Z85_LEN + 1];
    snprintf(cdir, sizeof(cdir), "%s/clients", dir);
    mkdir(cdir, 0755);
    snprintf(cpre, sizeof(cpre), "%s/w1", cdir);
    assert_int_equal(curve_keygen(cpre, err, sizeof(err)), 0);
    assert_int_equal(zmq_curve_keypair(apub, asec), 0);
    snprintf(cfgtext, sizeof(cfgtext), "{\"broker\": {\"curve\": {\"secret_key_file\": "
        "\"%s.secret\", \"clients\": [\"%s\"], \"server_public_key_file\": \"%s.public\", "
        "\"client_secret_key_file\": \"%s.secret\"}}}", prefix, apub, prefix, cpre);
    config_t *cfg = parse(cfgtext);
    assert_non_null(cfg);
    curve_server_t srv;
    assert_int_equal(curve_server_load(&cfg->broker, &srv, err, sizeof(err)), 0);
    assert_true(srv.on);
    assert_int_equal(srv.nallowed, 1);
    free(cfg->broker.curve.clients_dir);
    cfg->broker.curve.clients_dir = strdup(cdir);
    curve_server_clear(&srv);
    assert_int_equal(curve_server_load(&cfg->broker, &srv, err, sizeof(err)), 0);
    assert_int_equal(srv.nallowed, 2);
    uint8_t bin[CURVE_KEY_LEN], other[CURVE_KEY_LEN];
    zmq_z85_decode(bin, apub);
    assert_true(curve_server_allows(&srv, bin));
    memset(other, 0x5a, sizeof(other));
    assert_false(curve_server_allows(&srv, other));
    char wpub[CURVE_Z85_LEN + 1];
    snprintf(path, sizeof(path), "%s.public", cpre);
    assert_int_equal(curve_read_key(path, wpub, err, sizeof(err)), 0);
    zmq_z85_decode(bin, wpub);
    assert_true(curve_server_allows(&srv, bin));
    curve_server_clear(&srv);

    /* the client side: the public key derived from the secret one */
    curve_client_t cl;
    assert_int_equal(curve_client_load(&cfg->broker, &cl, err, sizeof(err)), 0);
    assert_true(cl.on);
    assert_string_equal(cl.public_, wpub);
    config_destroy(&cfg);

    /* off without keys */
    cfg = parse("{}");
    assert_int_equal(curve_client_load(&cfg->broker, &cl, err, sizeof(err)), 0);
    assert_false(cl.on);
    assert_int_equal(curve_server_load(&cfg->broker, &srv, err, sizeof(err)), 0);
    assert_false(srv.on);
    config_destroy(&cfg);

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_local),
        cmocka_unit_test(test_check_binds),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
