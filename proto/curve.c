/*
 * curve.c -- CURVE keys and socket options for every program (see curve.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "curve.h"

#define KEYFILE_MAX 256             /* bytes read from a key file */

/* the reason in ERR; returns -1 */
static int __attribute__((format(printf, 3, 4)))
curve_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int
curve_have_curve(char *err, size_t errlen)
{
    if (!zmq_has("curve"))
        return curve_fail(err, errlen, "libzmq was built without CURVE (libsodium)");
    return 0;
}

/* a Z85 key text: exactly 40 characters that decode */
static bool
curve_z85_key_valid(const char *s, size_t n)
{
    uint8_t bin[CURVE_KEY_LEN];
    char tmp[CURVE_Z85_LEN + 1];

    if (n != CURVE_Z85_LEN)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return zmq_z85_decode(bin, tmp) != NULL;
}

int
curve_read_key(const char *file, char out[CURVE_Z85_LEN + 1], char *err, size_t errlen)
{
    char buf[KEYFILE_MAX + 1];
    size_t n;
    FILE *fp = fopen(file, "r");

    if (!fp)
        return curve_fail(err, errlen, "%s: cannot open: %s", file, strerror(errno));
    n = fread(buf, 1, KEYFILE_MAX + 1, fp);
    fclose(fp);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
        buf[n - 1] == '\t'))
        n--;
    if (!curve_z85_key_valid(buf, n))
        return curve_fail(err, errlen, "%s: not a CURVE key (40 characters of Z85 text, as "
            "zsse keygen writes)", file);
    memcpy(out, buf, CURVE_Z85_LEN);
    out[CURVE_Z85_LEN] = '\0';
    return 0;
}

/* --- clients --------------------------------------------------------------- */

int
curve_client_load(const broker_conf_t *b, curve_client_t *c, char *err, size_t errlen)
{
    const curve_conf_t *cc = &b->curve;

    memset(c, 0, sizeof(*c));
    if (!cc->server_public_key_file)
        return 0;
    if (!cc->client_secret_key_file)        /* config.c requires the pair */
        return curve_fail(err, errlen, "broker.curve.client_secret_key_file: is required "
            "with server_public_key_file");
    if (curve_have_curve(err, errlen) < 0 ||
        curve_read_key(cc->server_public_key_file, c->server, err, errlen) < 0 ||
        curve_read_key(cc->client_secret_key_file, c->secret, err, errlen) < 0)
        return -1;
    if (zmq_curve_public(c->public_, c->secret) < 0)
        return curve_fail(err, errlen, "%s: %s", cc->client_secret_key_file, zmq_strerror(errno));
    c->on = true;
    return 0;
}

int
curve_client_apply(void *sock, const curve_client_t *c)
{
    if (!c || !c->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->server, CURVE_Z85_LEN + 1) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_, CURVE_Z85_LEN + 1) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret, CURVE_Z85_LEN + 1) < 0)
        return -1;
    return 0;
}

/* --- the broker ------------------------------------------------------------ */

static int
curve_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CURVE_KEY_LEN);
}

static int
curve_allow(curve_server_t *s, const char *z85, char *err, size_t errlen, const char *where)
{
    if (s->nallowed == CURVE_CLIENTS_MAX)
        return curve_fail(err, errlen, "%s: more than %d client keys", where, CURVE_CLIENTS_MAX);
    if (s->nallowed % 64 == 0) {
        void *p = realloc(s->allowed, (s->nallowed + 64) * CURVE_KEY_LEN);
        if (!p)
            return curve_fail(err, errlen, "%s: out of memory", where);
        s->allowed = p;
    }
    if (!zmq_z85_decode(s->allowed[s->nallowed], z85))
        return curve_fail(err, errlen, "%s: not a CURVE key", where);
    s->nallowed++;
    return 0;
}

static int
curve_allow_dir(curve_server_t *s, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return curve_fail(err, errlen, "broker.curve.clients: %s: %s", dir, strerror(errno));
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char path[4096], key[CURVE_Z85_LEN + 1];
        if (n <= 7 || strcmp(e->d_name + n - 7, ".public") != 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            rc = curve_fail(err, errlen, "broker.curve.clients: %s/%s: path too long", dir, e->d_name);
        else if (curve_read_key(path, key, err, errlen) < 0 ||
            curve_allow(s, key, err, errlen, path) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int
curve_server_load(const broker_conf_t *b, curve_server_t *s, char *err, size_t errlen)
{
    const curve_conf_t *cc = &b->curve;

    memset(s, 0, sizeof(*s));
    if (!cc->secret_key_file)
        return 0;
    if (!cc->clients_dir && !cc->clients)
        return curve_fail(err, errlen, "broker.curve.clients: is required with secret_key_file");
    if (curve_have_curve(err, errlen) < 0 ||
        curve_read_key(cc->secret_key_file, s->secret, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < cc->nclients; i++)
        if (curve_allow(s, cc->clients[i], err, errlen, "broker.curve.clients") < 0)
            goto fail;
    if (cc->clients_dir && curve_allow_dir(s, cc->clients_dir, err, errlen) < 0)
        goto fail;
    if (s->nallowed)
        qsort(s->allowed, s->nallowed, CURVE_KEY_LEN, curve_key_cmp);
    s->on = true;
    return 0;
fail:
    curve_server_clear(s);
    return -1;
}

int
curve_server_apply(void *sock, const curve_server_t *s)
{
    int one = 1;

    if (!s || !s->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret, CURVE_Z85_LEN + 1) < 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "zsse", 4) < 0)
        return -1;
    return 0;
}

bool
curve_server_allows(const curve_server_t *s, const uint8_t key[CURVE_KEY_LEN])
{
    return s->nallowed && bsearch(key, s->allowed, s->nallowed, CURVE_KEY_LEN, curve_key_cmp);
}

void
curve_server_clear(curve_server_t *s)
{
    free(s->allowed);
    memset(s, 0, sizeof(*s));       /* the secret too */
}

/* --- the start-up rule ------------------------------------------------------- */

bool
curve_endpoint_local(const char *ep)
{
    char host[256];
    const char *h, *colon;
    size_t n;

    if (strncmp(ep, "ipc://", 6) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    h = ep + 6;
    if (*h == '[') {                        /* tcp://[::1]:7701 */
        const char *close = strchr(h, ']');
        return close && (size_t)(close - h - 1) == 3 && strncmp(h + 1, "::1", 3) == 0;
    }
    if (!(colon = strrchr(h, ':')) || (n = (size_t)(colon - h)) == 0 || n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strchr(host, ';'))                  /* "source;dest": judge by dest */
        return false;
    if (strcmp(host, "localhost") == 0)
        return true;
    /* 127.a.b.c with digits only */
    if (strncmp(host, "127.", 4) != 0)
        return false;
    int dots = 0;
    for (const char *p = host + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 2;
}

int
curve_check_binds(const broker_conf_t *b, char *err, size_t errlen)
{
    const char *names[] = { "publish", "events", "control" };
    const char *eps[] = { b->publish, b->events, b->control };

    if (b->curve.secret_key_file || b->trusted_network)
        return 0;
    for (int i = 0; i < 3; i++)
        if (!curve_endpoint_local(eps[i])) {
            snprintf(err, errlen, "broker.%s: %s is not loopback and CURVE is off (set "
                "broker.curve, see zsse keygen, or \"trusted_network\": true if every host "
                "that can reach it may publish and read every channel)", names[i], eps[i]);
            return -1;
        }
    return 0;
}

/* --- zsse keygen --------------------------------------------------------------- */

static int
curve_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    size_t n = strlen(text);

    if (fd < 0)
        return curve_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (fchmod(fd, mode) < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return curve_fail(err, errlen, "%s: %s", path, strerror(e));
    }
    return close(fd) < 0 ? curve_fail(err, errlen, "%s: %s", path, strerror(errno)) : 0;
}

int
curve_keygen(const char *prefix, char *err, size_t errlen)
{
    char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
    char ppath[4096], spath[4096], line[CURVE_Z85_LEN + 2];
    int rc = -1;

    if (curve_have_curve(err, errlen) < 0)
        return -1;
    if ((size_t)snprintf(ppath, sizeof(ppath), "%s.public", prefix) >= sizeof(ppath) ||
        (size_t)snprintf(spath, sizeof(spath), "%s.secret", prefix) >= sizeof(spath))
        return curve_fail(err, errlen, "%s: name too long", prefix);
    if (zmq_curve_keypair(pub, sec) < 0)
        return curve_fail(err, errlen, "zmq_curve_keypair: %s", zmq_strerror(errno));
    snprintf(line, sizeof(line), "%s\n", sec);
    if (curve_write_new(spath, line, 0600, err, errlen) == 0) {
        snprintf(line, sizeof(line), "%s\n", pub);
        if (curve_write_new(ppath, line, 0644, err, errlen) == 0)
            rc = 0;
        else
            unlink(spath);
    }
    memset(sec, 0, sizeof(sec));
    memset(line, 0, sizeof(line));
    return rc;
}
