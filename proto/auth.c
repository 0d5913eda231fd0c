/*
 * auth.c -- JWT verification with the algorithm pinned.  The order of the
 * checks, and why they are ours and not libjwt's, is in auth.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jwt.h>
#include "auth.h"

#define KEY_MAX (64u << 10)
#define HDR_MAX 1024            /* a JWT header is tiny; refuse big ones early */

struct auth {
    jwt_alg_t      alg;
    char           alg_name[8];
    unsigned char *key;
    size_t         keylen;
    int            hmac;
    char          *issuer;
    char          *audience;
    int            leeway;
    int            require_exp;
};

static int
auth_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static unsigned char *
auth_read_key(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *k;
    size_t n;

    if (!fp) {
        snprintf(err, errlen, "auth.key_file: %s: %s", path, strerror(errno));
        return NULL;
    }
    if (!(k = malloc(KEY_MAX + 1))) {
        fclose(fp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n = fread(k, 1, KEY_MAX + 1, fp);
    fclose(fp);
    if (n == 0 || n > KEY_MAX) {
        snprintf(err, errlen, "auth.key_file: %s: %s", path, n ? "larger than 64 KiB" : "empty");
        free(k);
        return NULL;
    }
    *len = n;
    return k;
}

/* RFC 7518 3.2: an HS key must be at least as long as the hash (32, 48,
 * 64 bytes); RS and ES keys are a PEM public key.  The file's bytes are the
 * secret (one trailing newline dropped), so a base64 text works as is. */
int
auth_key_check(const auth_conf_t *conf, const unsigned char *key, size_t len,
    char *err, size_t errlen)
{
    if (conf->alg[0] == 'H') {
        size_t need = (size_t)atoi(conf->alg + 2) / 8;
        if (len < need) {
            snprintf(err, errlen, "auth.key_file: %s: %zu bytes, %s needs at least %zu "
                "(RFC 7518 3.2); make one: head -c %zu /dev/urandom | base64 -w0 > %s",
                conf->key_file, len, conf->alg, need, need, conf->key_file);
            return -1;
        }
        return 0;
    }
    if (!memmem(key, len, "-----BEGIN ", 11)) {
        snprintf(err, errlen, "auth.key_file: %s: not a PEM public key (%s)",
            conf->key_file, conf->alg);
        return -1;
    }
    if (memmem(key, len, "PRIVATE KEY-----", 16)) {
        snprintf(err, errlen, "auth.key_file: %s: holds a private key: give zsse the "
            "public key only (openssl pkey -pubout)", conf->key_file);
        return -1;
    }
    return 0;
}

auth_t *
auth_new(const auth_conf_t *conf, char *err, size_t errlen)
{
    auth_t *a = calloc(1, sizeof(*a));

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->alg = jwt_str_alg(conf->alg);
    if (a->alg == JWT_ALG_INVAL || a->alg == JWT_ALG_NONE) {
        snprintf(err, errlen, "auth.alg: %s is not supported", conf->alg);
        free(a);
        return NULL;
    }
    snprintf(a->alg_name, sizeof(a->alg_name), "%s", conf->alg);
    a->hmac = conf->alg[0] == 'H';
    if (!(a->key = auth_read_key(conf->key_file, &a->keylen, err, errlen))) {
        free(a);
        return NULL;
    }
    /* an HMAC secret in a text file usually ends in a newline that is not
     * part of the secret */
    if (a->hmac && a->keylen > 1 && a->key[a->keylen - 1] == '\n')
        a->keylen--;
    if (a->hmac && a->keylen > 1 && a->key[a->keylen - 1] == '\r')
        a->keylen--;
    if (auth_key_check(conf, a->key, a->keylen, err, errlen) < 0) {
        auth_destroy(&a);
        return NULL;
    }
    a->leeway = conf->leeway;
    a->require_exp = conf->require_exp;
    if ((conf->issuer && !(a->issuer = strdup(conf->issuer))) ||
        (conf->audience && !(a->audience = strdup(conf->audience)))) {
        auth_destroy(&a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return a;
}

void
auth_destroy(auth_t **ap)
{
    auth_t *a = *ap;
    if (!a)
        return;
    if (a->key)
        memset(a->key, 0, a->keylen);
    free(a->key);
    free(a->issuer);
    free(a->audience);
    free(a);
    *ap = NULL;
}

/* base64url without padding; -1 on a bad character */
static int
auth_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int d;
        if (c >= 'A' && c <= 'Z') d = c - 'A';
        else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
        else if (c >= '0' && c <= '9') d = c - '0' + 52;
        else if (c == '-') d = 62;
        else if (c == '_') d = 63;
        else if (c == '=' && i + 2 >= len) break;
        else return -1;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return (int)o;
}

/* the header's "alg" must be exactly ours */
static int
auth_check_header(const auth_t *a, const char *tok, size_t hlen, char *err, size_t errlen)
{
    unsigned char raw[HDR_MAX];
    int n;
    json_t *h, *alg;
    int ok;

    if (hlen == 0 || hlen > HDR_MAX * 4 / 3 ||
        (n = auth_b64url_decode(tok, hlen, raw, sizeof(raw))) <= 0)
        return auth_fail(err, errlen, "malformed token");
    if (!(h = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL)))
        return auth_fail(err, errlen, "malformed token");
    alg = json_object_get(h, "alg");
    ok = json_is_string(alg) && strcmp(json_string_value(alg), a->alg_name) == 0;
    json_decref(h);
    return ok ? 0 : auth_fail(err, errlen, "algorithm not allowed");
}

static int
auth_check_claims(const auth_t *a, json_t *c, time_t now, char *err, size_t errlen)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    json_t *iss = json_object_get(c, "iss"), *aud = json_object_get(c, "aud");

    if (exp) {
        if (!json_is_number(exp))
            return auth_fail(err, errlen, "malformed token");
        if ((double)now > json_number_value(exp) + a->leeway)
            return auth_fail(err, errlen, "token expired");
    } else if (a->require_exp) {
        return auth_fail(err, errlen, "exp required");
    }
    if (nbf) {
        if (!json_is_number(nbf))
            return auth_fail(err, errlen, "malformed token");
        if ((double)now + a->leeway < json_number_value(nbf))
            return auth_fail(err, errlen, "token not yet valid");
    }
    if (a->issuer && (!json_is_string(iss) || strcmp(json_string_value(iss), a->issuer) != 0))
        return auth_fail(err, errlen, "wrong issuer");
    if (a->audience) {
        int found = 0;
        if (json_is_string(aud)) {
            found = strcmp(json_string_value(aud), a->audience) == 0;
        } else if (json_is_array(aud)) {
            size_t i;
            json_t *v;
            json_array_foreach(aud, i, v)
                if (json_is_string(v) && strcmp(json_string_value(v), a->audience) == 0)
                    found = 1;
        }
        if (!found)
            return auth_fail(err, errlen, "wrong audience");
    }
    return 0;
}

int
auth_verify(const auth_t *a, const char *token, size_t len, time_t now,
    json_t **claims, char *err, size_t errlen)
{
    const char *dot1, *dot2;
    char *copy;
    jwt_t *jwt = NULL;
    char *grants;
    int rc;

    *claims = NULL;
    if (len > AUTH_TOKEN_MAX)
        return auth_fail(err, errlen, "token too long");
    if (len == 0 || memchr(token, '\0', len) ||
        !(dot1 = memchr(token, '.', len)) ||
        !(dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return auth_fail(err, errlen, "malformed token");
    if (auth_check_header(a, token, (size_t)(dot1 - token), err, errlen) < 0)
        return -1;
    if (dot2 + 1 == token + len)
        return auth_fail(err, errlen, "bad signature");      /* unsigned */
    if (!(copy = strndup(token, len)))
        return auth_fail(err, errlen, "out of memory");
    rc = jwt_decode(&jwt, copy, a->key, (int)a->keylen);
    free(copy);
    if (rc != 0 || !jwt) {
        jwt_free(jwt);
        return auth_fail(err, errlen, rc == EINVAL ? "bad signature" : "malformed token");
    }
    if (jwt_get_alg(jwt) != a->alg) {               /* belt and braces */
        jwt_free(jwt);
        return auth_fail(err, errlen, "algorithm not allowed");
    }
    grants = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    if (!grants)
        return auth_fail(err, errlen, "malformed token");
    *claims = json_loads(grants, JSON_REJECT_DUPLICATES, NULL);
    free(grants);
    if (!json_is_object(*claims)) {
        json_decref(*claims);
        *claims = NULL;
        return auth_fail(err, errlen, "malformed token");
    }
    if (auth_check_claims(a, *claims, now, err, errlen) < 0) {
        json_decref(*claims);
        *claims = NULL;
        return -1;
    }
    return 0;
}

char *
auth_mint(const auth_t *a, json_t *claims, const char *privkey_file, char *err, size_t errlen)
{
    jwt_t *jwt = NULL;
    unsigned char *key = a->key, *own = NULL;
    size_t keylen = a->keylen;
    char *text = NULL, *tok = NULL;

    if (!a->hmac) {
        if (!privkey_file) {
            snprintf(err, errlen, "%s needs the private key (--key FILE)", a->alg_name);
            return NULL;
        }
        if (!(own = auth_read_key(privkey_file, &keylen, err, errlen)))
            return NULL;
        key = own;
    }
    if (jwt_new(&jwt) != 0 || !(text = json_dumps(claims, JSON_COMPACT)) ||
        jwt_add_grants_json(jwt, text) != 0 ||
        jwt_set_alg(jwt, a->alg, key, (int)keylen) != 0 ||
        !(tok = jwt_encode_str(jwt)))
        snprintf(err, errlen, "cannot sign the token (is the key right for %s?)", a->alg_name);
    free(text);
    jwt_free(jwt);
    if (own) {
        memset(own, 0, keylen);
        free(own);
    }
    return tok;
}
