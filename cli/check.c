/*
 * check.c -- `zsse check-config [-c FILE]`, what `nginx -t` is for nginx:
 * run before a start or a reload (the systemd units do), it says whether
 * every program would start with this config, and if not, everything that
 * is wrong, one line each with its JSON path.
 *
 * It loads the file with config_load(), the loader every program uses (so
 * a syntax or type error is reported exactly as zsse-broker would, and
 * the loader stops at it), then checks what the loader leaves to run
 * time:
 *   - the key file: read and checked by auth_new() as zsse-fcgi does
 *     (readable by the user running the check, long enough for HS*, a PEM
 *     public key for RS and ES, parsed with OpenSSL: an RSA key of at least
 *     2048 bits for RS*, an EC key on the curve ES* names) and not readable
 *     by every user;
 *   - endpoints: tcp://HOST:PORT with a port from 1 to 65535, or
 *     ipc://PATH; the three are distinct; one off loopback without CURVE
 *     is refused unless trusted_network (curve_check_binds(), the
 *     broker's own rule; not for a config with only the client half of
 *     CURVE: that host runs no broker);
 *   - CURVE (broker.curve, curve.h): each key file read by
 *     curve_read_key(), the parser every program uses; the broker's
 *     clients loaded by curve_server_load() as the broker loads them; the
 *     client half by curve_client_load(); the secret key files not
 *     readable by every user; and when both halves are in one config (the
 *     broker's host), the client key among the allowed ones;
 *   - routes: a template that takes {sub} or {claim.NAME} on a route
 *     without a token ("auth": "none": it can never be filled; "optional":
 *     an anonymous request cannot be served), a `require` on a route
 *     without a token, and a route that an earlier one always shadows
 *     (first match wins).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zmq.h>
#include "auth.h"
#include "args.h"
#include "check.h"
#include "config.h"
#include "curve.h"

typedef struct {
    const char *file;
    FILE       *err;
    int         problems;
} check_t;

static void
check_problem(check_t *c, const char *path, const char *fmt, const char *a, const char *b)
{
    fprintf(c->err, "%s: %s: ", c->file, path);
    fprintf(c->err, fmt, a, b);
    fputc('\n', c->err);
    c->problems++;
}

/* tcp://HOST:PORT (HOST may be *, a name, an address or [v6]) or ipc://PATH */
static bool
check_endpoint_ok(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0)
        return ep[6] != '\0';
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6, *colon = strrchr(host, ':');
    if (!colon || colon == host || strchr(host, '/'))
        return false;
    long port;
    return args_long(colon + 1, 1, 65535, &port) == 0;     /* digits only */
}

static void
check_endpoints(check_t *c, const broker_conf_t *b)
{
    const char *names[] = { "publish", "events", "control" };
    const char *eps[] = { b->publish, b->events, b->control };
    char path[64];

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "broker.%s", names[i]);
        if (!check_endpoint_ok(eps[i]))
            check_problem(c, path, "%s: not tcp://HOST:PORT (port 1-65535) or ipc://PATH%s", eps[i], "");
        for (int j = 0; j < i; j++)
            if (strcmp(eps[i], eps[j]) == 0)
                check_problem(c, path, "%s: the same endpoint as broker.%s", eps[i], names[j]);
    }
}

/* RS*: an RSA public key of 2048 bits or more (RFC 7518 3.3); ES256/384/512:
 * an EC public key on P-256/P-384/P-521 (RFC 7518 3.4).  NULL when fine,
 * else why not. */
static const char *
check_pubkey_problem(const char *alg, const char *file, char *why, size_t whylen)
{
    FILE *fp = fopen(file, "r");
    EVP_PKEY *k = fp ? PEM_read_PUBKEY(fp, NULL, NULL, NULL) : NULL;
    const char *res = NULL;

    if (fp)
        fclose(fp);
    if (!k)
        return "cannot be parsed as a PEM public key";
    if (alg[0] == 'R') {
        if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA)
            res = "not an RSA key";
        else if (EVP_PKEY_bits(k) < 2048) {
            snprintf(why, whylen, "an RSA key of %d bits: RS* needs 2048 or more "
                "(RFC 7518 3.3)", EVP_PKEY_bits(k));
            res = why;
        }
    } else {
        int want = strcmp(alg, "ES256") == 0 ? 256 : strcmp(alg, "ES384") == 0 ? 384 : 521;
        if (EVP_PKEY_base_id(k) != EVP_PKEY_EC)
            res = "not an EC key";
        else if (EVP_PKEY_bits(k) != want) {
            snprintf(why, whylen, "an EC key of %d bits: %s needs the %d-bit curve "
                "(RFC 7518 3.4)", EVP_PKEY_bits(k), alg, want);
            res = why;
        }
    }
    EVP_PKEY_free(k);
    return res;
}

static void
check_key(check_t *c, const config_t *cfg)
{
    char err[512];
    struct stat st;
    bool needed = false;

    for (size_t i = 0; i < cfg->nroutes; i++)
        needed |= cfg->routes[i].auth != AUTH_NONE;
    if (!needed)
        return;                 /* zsse-fcgi does not read it either */
    auth_t *a = auth_new(&cfg->auth, err, sizeof(err));
    if (!a) {
        /* err is "auth.key_file: FILE: why" (or "auth.alg: ...") */
        char *sep = strstr(err, ": ");
        if (sep) {
            *sep = '\0';
            check_problem(c, err, "%s%s", sep + 2, "");
        } else {
            check_problem(c, "auth", "%s%s", err, "");
        }
        return;
    }
    auth_destroy(&a);
    if (cfg->auth.alg[0] != 'H') {
        char why[128];
        const char *p = check_pubkey_problem(cfg->auth.alg, cfg->auth.key_file, why, sizeof(why));
        if (p)
            check_problem(c, "auth.key_file", "%s: %s", cfg->auth.key_file, p);
    }
    if (stat(cfg->auth.key_file, &st) == 0 && (st.st_mode & S_IROTH))
        check_problem(c, "auth.key_file", "%s: readable by every user: chmod o-r %s",
            cfg->auth.key_file, cfg->auth.key_file);
}

/* report ERR ("broker.publish: why", "FILE: why") at its own path, else at PATH */
static void
check_problem_err(check_t *c, const char *path, char *err)
{
    char *sep = strstr(err, ": ");

    if (strncmp(err, "broker.", 7) == 0 && sep && !memchr(err, ' ', (size_t)(sep - err))) {
        *sep = '\0';
        check_problem(c, err, "%s%s", sep + 2, "");
    } else {
        check_problem(c, path, "%s%s", err, "");
    }
}

/* a secret key file other users can read */
static void
check_private(check_t *c, const char *path, const char *file)
{
    struct stat st;

    if (file && stat(file, &st) == 0 && (st.st_mode & S_IROTH))
        check_problem(c, path, "%s: readable by every user: chmod o-r %s", file, file);
}

/* one key file through the loader's parser; true when it is a key */
static bool
check_keyfile(check_t *c, const char *path, const char *file)
{
    char key[CURVE_Z85_LEN + 1], err[600];

    if (!file)
        return false;
    if (curve_read_key(file, key, err, sizeof(err)) < 0) {
        check_problem(c, path, "%s%s", err, "");
        return false;
    }
    memset(key, 0, sizeof(key));
    return true;
}

static void
check_curve(check_t *c, const broker_conf_t *b)
{
    const curve_conf_t *cc = &b->curve;
    curve_server_t srv = { 0 };
    curve_client_t cli = { 0 };
    char err[600];
    bool sec, spub, csec;

    /* the broker binds: the start-up rule, unless this host is only a client */
    if ((cc->secret_key_file || !cc->server_public_key_file) &&
        curve_check_binds(b, err, sizeof(err)) < 0)
        check_problem_err(c, "broker", err);

    sec = check_keyfile(c, "broker.curve.secret_key_file", cc->secret_key_file);
    check_private(c, "broker.curve.secret_key_file", cc->secret_key_file);
    spub = check_keyfile(c, "broker.curve.server_public_key_file", cc->server_public_key_file);
    csec = check_keyfile(c, "broker.curve.client_secret_key_file", cc->client_secret_key_file);
    check_private(c, "broker.curve.client_secret_key_file", cc->client_secret_key_file);

    if (sec && curve_server_load(b, &srv, err, sizeof(err)) < 0)
        check_problem_err(c, "broker.curve.clients", err);
    if (spub && csec && curve_client_load(b, &cli, err, sizeof(err)) < 0)
        check_problem_err(c, "broker.curve.client_secret_key_file", err);
    if (srv.on && cli.on) {
        uint8_t pub[CURVE_KEY_LEN];
        if (zmq_z85_decode(pub, cli.public_) && !curve_server_allows(&srv, pub))
            check_problem(c, "broker.curve.client_secret_key_file", "%s: its public key is not in "
                "broker.curve.clients: the programs on this host would be refused",
                cc->client_secret_key_file, "");
    }
    curve_server_clear(&srv);
    memset(&cli, 0, sizeof(cli));
}

/* does route A match every path route B matches? */
static bool
check_shadows(const route_t *a, const route_t *b)
{
    if (a->nsegs != b->nsegs)
        return false;
    for (size_t i = 0; i < a->nsegs; i++)
        if (a->segs[i] && (!b->segs[i] || strcmp(a->segs[i], b->segs[i]) != 0))
            return false;
    return true;
}

static void
check_routes(check_t *c, const config_t *cfg)
{
    char path[96];

    for (size_t i = 0; i < cfg->nroutes; i++) {
        const route_t *r = &cfg->routes[i];
        const char *mode = r->auth == AUTH_NONE ? "none" : "optional";
        for (size_t j = 0; j < r->nchannels && r->auth != AUTH_REQUIRED; j++)
            for (size_t k = 0; k < r->channels[j].nparts; k++) {
                const tpl_part_t *p = &r->channels[j].parts[k];
                if (p->kind != TPL_SUB && p->kind != TPL_CLAIM)
                    continue;
                snprintf(path, sizeof(path), "routes[%zu].channels[%zu]", i, j);
                check_problem(c, path, r->auth == AUTH_NONE ?
                    "takes %s from the token, but auth is \"%s\": there is never a token" :
                    "takes %s from the token, but auth is \"%s\": an anonymous request "
                    "cannot be served (make it \"required\")",
                    p->kind == TPL_SUB ? "{sub}" : "a {claim.*}", mode);
                break;
            }
        if (r->require && r->auth == AUTH_NONE) {
            snprintf(path, sizeof(path), "routes[%zu].require", i);
            check_problem(c, path, "can never be met: auth is \"%s\"%s", mode, "");
        }
        for (size_t k = 0; k < i; k++)
            if (check_shadows(&cfg->routes[k], r)) {
                char earlier[32];
                snprintf(path, sizeof(path), "routes[%zu].path", i);
                snprintf(earlier, sizeof(earlier), "routes[%zu]", k);
                check_problem(c, path, "never reached: %s (first match wins) takes every path "
                    "it does (%s)", earlier, cfg->routes[k].path);
                break;
            }
    }
}

int
check_config(const char *file, FILE *out, FILE *err)
{
    check_t c = { .file = file, .err = err };
    char msg[512];
    config_t *cfg = config_load(file, msg, sizeof(msg));

    if (!cfg) {
        fprintf(err, "%s: %s\n", file, msg);
        return 1;
    }
    check_endpoints(&c, &cfg->broker);
    check_curve(&c, &cfg->broker);
    check_key(&c, cfg);
    check_routes(&c, cfg);
    config_destroy(&cfg);
    if (c.problems == 0)
        fprintf(out, "ok\n");
    return c.problems;
}
