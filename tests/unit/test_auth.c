/*
 * cmocka tests for proto/auth.c: JWT verification (exp, nbf, leeway, iss,
 * aud, pinned algorithms) and minting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"

static char keyfile[64];

static auth_t *
hs256(int require_exp, const char *iss, const char *aud)
{
    char err[256];
    auth_conf_t c = { .alg = "HS256", .key_file = keyfile, .leeway = 30,
                      .require_exp = require_exp, .issuer = (char *)iss, .audience = (char *)aud };
    auth_t *a = auth_new(&c, err, sizeof(err));
    if (!a)
        fail_msg("%s", err);
    return a;
}

static char *
mint(auth_t *a, json_t *claims)
{
    char err[256];
    char *t = auth_mint(a, claims, NULL, err, sizeof(err));
    json_decref(claims);
    if (!t)
        fail_msg("%s", err);
    return t;
}

static const char *
verify(auth_t *a, const char *tok, time_t now)
{
    static char err[256];
    json_t *claims = NULL;
    if (auth_verify(a, tok, strlen(tok), now, &claims, err, sizeof(err)) == 0) {
        json_decref(claims);
        return "ok";
    }
    return err;
}

static void
test_auth(void **st)
{
    (void)st;
    strcpy(keyfile, "/tmp/zsse-test-key.XXXXXX");
    int fd = mkstemp(keyfile);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef\n", 33), 33);
    close(fd);
    time_t now = 1800000000;
    auth_t *a = hs256(1, NULL, NULL);

    char *t = mint(a, json_pack("{s:s, s:I}", "sub", "u", "exp", (json_int_t)now + 60));
    assert_string_equal(verify(a, t, now), "ok");
    assert_string_equal(verify(a, t, now + 89), "ok");                 /* leeway */
    assert_string_equal(verify(a, t, now + 91), "token expired");
    t[strlen(t) - 3] ^= 1;
    assert_string_equal(verify(a, t, now), "bad signature");
    free(t);

    t = mint(a, json_pack("{s:s, s:I, s:I}", "sub", "u", "exp", (json_int_t)now + 600,
        "nbf", (json_int_t)now + 100));
    assert_string_equal(verify(a, t, now), "token not yet valid");
    assert_string_equal(verify(a, t, now + 80), "ok");
    free(t);

    t = mint(a, json_pack("{s:s}", "sub", "u"));
    assert_string_equal(verify(a, t, now), "exp required");
    auth_t *lax = hs256(0, "issuer-1", "aud-1");
    assert_string_equal(verify(lax, t, now), "wrong issuer");
    free(t);
    t = mint(a, json_pack("{s:s, s:s, s:[s,s]}", "sub", "u", "iss", "issuer-1", "aud", "x", "aud-1"));
    assert_string_equal(verify(lax, t, now), "ok");
    free(t);
    t = mint(a, json_pack("{s:s, s:s, s:s}", "sub", "u", "iss", "issuer-1", "aud", "other"));
    assert_string_equal(verify(lax, t, now), "wrong audience");
    free(t);
    auth_destroy(&lax);

    /* alg none, and another HMAC size: refused before any signature check */
    assert_string_equal(verify(a, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ.", now),
        "algorithm not allowed");
    assert_string_equal(verify(a,
        "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl", now),
        "algorithm not allowed");
    assert_string_equal(verify(a, "garbage", now), "malformed token");
    assert_string_equal(verify(a, "a.b.c.d", now), "malformed token");
    assert_string_equal(verify(a, "!!!.e30.x", now), "malformed token");
    char *huge = malloc(AUTH_TOKEN_MAX + 10);
    memset(huge, 'a', AUTH_TOKEN_MAX + 9);
    huge[AUTH_TOKEN_MAX + 9] = '\0';
    assert_string_equal(verify(a, huge, now), "token too long");
    free(huge);
    auth_destroy(&a);
    assert_null(a);
    unlink(keyfile);
}

/* alg confusion: RS256 configured, a token "signed" with HS256 using the
 * RSA public key as the HMAC secret must be refused */
static void
test_auth_alg_confusion(void **st)
{
    (void)st;
    char dir[] = "/tmp/zsse-rsa.XXXXXX", cmd[512], priv[128], pub[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
    snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
        "-out %s 2>/dev/null && openssl pkey -in %s -pubout -out %s", priv, priv, pub);
    if (system(cmd) != 0)
        skip();
    auth_conf_t rc = { .alg = "RS256", .key_file = pub, .leeway = 0, .require_exp = true };
    auth_t *rs = auth_new(&rc, err, sizeof(err));
    assert_non_null(rs);
    json_t *claims = json_pack("{s:s, s:I}", "sub", "u", "exp", (json_int_t)time(NULL) + 60);
    char *good = auth_mint(rs, claims, priv, err, sizeof(err));
    assert_non_null(good);
    assert_string_equal(verify(rs, good, time(NULL)), "ok");
    /* the attacker's HS256 token keyed with the public PEM */
    auth_conf_t hc = { .alg = "HS256", .key_file = pub, .leeway = 0, .require_exp = true };
    auth_t *hs = auth_new(&hc, err, sizeof(err));
    char *evil = auth_mint(hs, claims, NULL, err, sizeof(err));
    assert_non_null(evil);
    assert_string_equal(verify(rs, evil, time(NULL)), "algorithm not allowed");
    json_decref(claims);
    free(good);
    free(evil);
    auth_destroy(&rs);
    auth_destroy(&hs);
    unlink(priv);
    unlink(pub);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_auth_alg_confusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
