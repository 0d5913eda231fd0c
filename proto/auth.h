/*
 * auth.h -- JWT verification with the algorithm pinned (SPEC 3, auth).
 *
 * libjwt 1.10 verifies signatures but has no claim validator, and it
 * trusts the token's own "alg" header to pick the verification.  So the
 * checks that matter are ours, in this order:
 *   1. bounded size (AUTH_TOKEN_MAX), three base64url parts;
 *   2. the header's "alg" equals the configured one, exactly (so "none"
 *      and HS256-signed-with-the-RSA-public-key are both refused);
 *   3. libjwt checks the signature with the configured key;
 *   4. exp (required unless require_exp is false), nbf, iss, aud, each
 *      with `leeway` seconds of clock skew.
 *
 * On failure, ERR gets a short message fit for the 401 body
 * ("token expired", "bad signature", ...).
 */
#ifndef ZSSE_AUTH_H
#define ZSSE_AUTH_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include "config.h"

#define AUTH_TOKEN_MAX 8192

typedef struct auth auth_t;

/* Read the key file and pin the algorithm.  NULL with ERR on failure. */
auth_t *auth_new(const auth_conf_t *conf, char *err, size_t errlen);
void    auth_destroy(auth_t **ap);

/* Is KEY (LEN bytes, as read from conf->key_file, trailing newline
 * dropped) fit for conf->alg?  HS256/384/512: at least 32/48/64 bytes
 * (RFC 7518 3.2); RS and ES: a PEM public key, not a private one.  -1 with
 * "auth.key_file: FILE: why" in ERR.  auth_new() calls it. */
int auth_key_check(const auth_conf_t *conf, const unsigned char *key, size_t len,
    char *err, size_t errlen);

/* Verify TOKEN (LEN bytes) at time NOW.  0 with *claims set (a new
 * reference: json_decref it), or -1 with ERR set. */
int auth_verify(const auth_t *a, const char *token, size_t len, time_t now,
    json_t **claims, char *err, size_t errlen);

/* Sign CLAIMS with the configured algorithm.  For HS* the configured key
 * is used; for the RS and ES algorithms pass the private key in PRIVKEY_FILE.  Returns a
 * malloc'd token, or NULL with ERR set. */
char *auth_mint(const auth_t *a, json_t *claims, const char *privkey_file,
    char *err, size_t errlen);

#endif
