/* libFuzzer target: token handling (proto/auth.c), HS256 pinned, issuer
 * and audience configured.
 *
 * First byte even: the rest is a token as a client sends it -- a random
 * input must never pass the signature check.
 * First byte odd: the rest is a claims object, signed here with the test
 * key by libjwt (an independent signer), so the claim checks are reached.
 * Properties: a signed token is never refused for its signature or
 * algorithm; one accepted has a numeric exp not past (with leeway), nbf
 * (when present) not in the future, the configured issuer and audience. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jwt.h>
#include "auth.h"

#define KEY    "fuzz-secret-0123456789abcdef0123456789"
#define NOW    1700000000
#define LEEWAY 30

static auth_t *auth;

static int
aud_ok(json_t *aud)
{
    size_t i;
    json_t *v;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), "zsse") == 0;
    if (json_is_array(aud))
        json_array_foreach(aud, i, v)
            if (json_is_string(v) && strcmp(json_string_value(v), "zsse") == 0)
                return 1;
    return 0;
}

static void
signed_claims(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *c = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(c)) {
        json_decref(c);
        return;
    }
    char *text = json_dumps(c, JSON_COMPACT);
    jwt_t *jwt = NULL;
    char *tok = NULL;
    if (text && jwt_new(&jwt) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)KEY, (int)strlen(KEY)) == 0 &&
        jwt_add_grants_json(jwt, text) == 0)
        tok = jwt_encode_str(jwt);
    if (tok) {
        json_t *got = NULL;
        int r = auth_verify(auth, tok, strlen(tok), NOW, &got, err, sizeof(err));
        if (r < 0 && (strstr(err, "signature") || strstr(err, "algorithm")))
            __builtin_trap();               /* our own signature refused */
        if (r == 0) {
            json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
            if (!json_is_number(exp) || (double)NOW > json_number_value(exp) + LEEWAY)
                __builtin_trap();           /* expired or no exp, accepted */
            if (nbf && (!json_is_number(nbf) || (double)NOW + LEEWAY < json_number_value(nbf)))
                __builtin_trap();           /* not yet valid, accepted */
            json_t *iss = json_object_get(c, "iss");
            if (!json_is_string(iss) || strcmp(json_string_value(iss), "https://id.example") != 0)
                __builtin_trap();           /* another issuer's */
            if (!aud_ok(json_object_get(c, "aud")))
                __builtin_trap();           /* another audience's */
        }
        json_decref(got);
    }
    free(tok);
    jwt_free(jwt);
    free(text);
    json_decref(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];

    if (!auth) {
        char path[] = "/tmp/zsse-fuzz-key.XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0 || write(fd, KEY, strlen(KEY)) != (ssize_t)strlen(KEY))
            abort();
        close(fd);
        auth_conf_t c = { .alg = (char *)"HS256", .key_file = path, .leeway = LEEWAY,
                          .require_exp = true, .issuer = (char *)"https://id.example",
                          .audience = (char *)"zsse" };
        if (!(auth = auth_new(&c, err, sizeof(err))))
            abort();
        unlink(path);
    }
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        signed_claims(data + 1, size - 1);
        return 0;
    }
    json_t *claims = NULL;
    if (auth_verify(auth, (const char *)data + 1, size - 1, NOW, &claims, err, sizeof(err)) == 0) {
        /* a random input must never pass the signature check */
        __builtin_trap();
    }
    json_decref(claims);
    return 0;
}
