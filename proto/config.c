/*
 * config.c -- the strict JSON config loader.  See config.h.
 *
 * Each section is checked by one function that knows its keys; any other
 * key is an error.  Errors are "PATH: problem", PATH being the JSON path
 * of the value (routes[2].channels[0]), built as we descend.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "config.h"
#include "jsontext.h"
#include "message.h"
#include "sse.h"

#define CONFIG_PATH_MAX       300   /* a key's path in an error, "routes[3].cors.origins" */
#define CONFIG_INDEX_PATH_MAX 64    /* "routes[N]", "broker.channels[N]" */

typedef struct {
    char  *err;
    size_t errlen;
} config_ctx_t;

static int
config_bad(config_ctx_t *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->err, c->errlen, "%s: ", path);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errlen)
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* every key of OBJ must be in KEYS (NULL-terminated) */
static int
config_check_keys(config_ctx_t *c, const char *path, json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        size_t i;
        for (i = 0; keys[i]; i++)
            if (strcmp(k, keys[i]) == 0)
                break;
        if (!keys[i]) {
            char p[CONFIG_PATH_MAX];
            snprintf(p, sizeof(p), "%s%s%.64s", path, *path ? "." : "", k);
            return config_bad(c, p, "unknown key");
        }
    }
    return 0;
}

static void
config_subpath(char *out, size_t n, const char *path, const char *key)
{
    snprintf(out, n, "%s%s%s", path, *path ? "." : "", key);
}

static int
config_get_int(config_ctx_t *c, const char *path, json_t *obj, const char *key, long min, long max,
    int *out)
{
    json_t *v = json_object_get(obj, key);
    char p[CONFIG_PATH_MAX];

    if (!v)
        return 0;
    config_subpath(p, sizeof(p), path, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return config_bad(c, p, "must be an integer from %ld to %ld", min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

static int
config_get_bool(config_ctx_t *c, const char *path, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    char p[CONFIG_PATH_MAX];

    if (!v)
        return 0;
    config_subpath(p, sizeof(p), path, key);
    if (!json_is_boolean(v))
        return config_bad(c, p, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

/* string (replacing *out), or null when NULLABLE (setting *out NULL) */
static int
config_get_str(config_ctx_t *c, const char *path, json_t *obj, const char *key, bool nullable,
    char **out)
{
    json_t *v = json_object_get(obj, key);
    char p[CONFIG_PATH_MAX];

    if (!v)
        return 0;
    config_subpath(p, sizeof(p), path, key);
    if (json_is_null(v) && nullable) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return config_bad(c, p, nullable ? "must be a non-empty string or null"
                                  : "must be a non-empty string");
    free(*out);
    if (!(*out = strdup(json_string_value(v))))
        return config_bad(c, p, "out of memory");
    return 0;
}

static int
config_set_default(char **field, const char *value)
{
    return (*field = value ? strdup(value) : NULL) || !value ? 0 : -1;
}

/* --- broker ------------------------------------------------------------ */

static int
config_check_endpoint(config_ctx_t *c, const char *path, const char *key, const char *ep)
{
    char p[CONFIG_PATH_MAX];

    config_subpath(p, sizeof(p), path, key);
    if (strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0)
        return config_bad(c, p, "must be a tcp:// or ipc:// endpoint");
    if (strlen(ep) > 255)
        return config_bad(c, p, "longer than 255 bytes");
    return 0;
}

/* broker.curve: the key files and the allowed clients (curve.h) */
static int
config_load_curve(config_ctx_t *c, json_t *o, curve_conf_t *cc)
{
    static const char *const keys[] = { "secret_key_file", "clients",
        "server_public_key_file", "client_secret_key_file", NULL };
    const char *path = "broker.curve";
    json_t *v;

    if (!json_is_object(o))
        return config_bad(c, path, "must be an object");
    if (config_check_keys(c, path, o, keys) < 0 ||
        config_get_str(c, path, o, "secret_key_file", false, &cc->secret_key_file) < 0 ||
        config_get_str(c, path, o, "server_public_key_file", false, &cc->server_public_key_file) < 0 ||
        config_get_str(c, path, o, "client_secret_key_file", false, &cc->client_secret_key_file) < 0)
        return -1;
    if ((v = json_object_get(o, "clients"))) {
        size_t i;
        json_t *k;
        if (json_is_string(v)) {
            if (config_get_str(c, path, o, "clients", false, &cc->clients_dir) < 0)
                return -1;
        } else if (json_is_array(v) && json_array_size(v) <= 65536) {
            if (!(cc->clients = calloc(json_array_size(v) + 1, sizeof(char *))))
                return config_bad(c, "broker.curve.clients", "out of memory");
            json_array_foreach(v, i, k) {
                char p[CONFIG_INDEX_PATH_MAX];
                snprintf(p, sizeof(p), "broker.curve.clients[%zu]", i);
                if (!json_is_string(k) || json_string_length(k) != 40 ||
                    strspn(json_string_value(k), "0123456789abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#") != 40)
                    return config_bad(c, p, "must be a public key: 40 characters of Z85 text");
                if (!(cc->clients[cc->nclients++] = strdup(json_string_value(k))))
                    return config_bad(c, p, "out of memory");
            }
        } else {
            return config_bad(c, "broker.curve.clients", "must be a directory of *.public key files "
                "or an array of Z85 public keys");
        }
    }
    /* each side's keys come in pairs */
    if (cc->secret_key_file && !cc->clients_dir && !cc->clients)
        return config_bad(c, "broker.curve.clients", "is required with secret_key_file");
    if ((cc->clients_dir || cc->clients) && !cc->secret_key_file)
        return config_bad(c, "broker.curve.secret_key_file", "is required with clients");
    if (cc->server_public_key_file && !cc->client_secret_key_file)
        return config_bad(c, "broker.curve.client_secret_key_file", "is required with "
            "server_public_key_file");
    if (cc->client_secret_key_file && !cc->server_public_key_file)
        return config_bad(c, "broker.curve.server_public_key_file", "is required with "
            "client_secret_key_file");
    return 0;
}

/* a NATS name (stream, bucket: one token) or subject (tokens joined by
 * '.'): [A-Za-z0-9_-], at most CONFIG_CLUSTER_NAME_MAX bytes */
static int
config_nats_name(config_ctx_t *c, const char *path, const char *v, int subject)
{
    size_t n = strlen(v);
    const char *ok = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

    if (n > CONFIG_CLUSTER_NAME_MAX)
        return config_bad(c, path, "longer than %d bytes", CONFIG_CLUSTER_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!strchr(ok, v[i]) && !(subject && v[i] == '.' && i > 0 && i + 1 < n && v[i + 1] != '.'))
            return config_bad(c, path, subject ? "must be NATS subject tokens ([A-Za-z0-9_-]) "
                "joined by '.'" : "must be a NATS name: [A-Za-z0-9_-]");
    return 0;
}

/* a nats:// or tls:// URL as libnats takes it: [user[:password]@]host[:port],
 * no white space or control character, a port from 1 to 65535 in digits.
 * NULL, or what is wrong. */
static const char *
config_nats_url(const char *url)
{
    const char *rest = strstr(url, "://") + 3, *at = strrchr(rest, '@');
    const char *host = at ? at + 1 : rest;
    const char *end = host[0] == '[' ? strchr(host, ']') : host;
    const char *colon = end ? strchr(end, ':') : NULL;

    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "holds white space or a control character";
    if (!end || host[0] == '\0' || host[0] == ':' || (host[0] == '[' && end == host + 1))
        return "has no host";
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (colon[1] < '0' || colon[1] > '9' || *e || port < 1 || port > 65535)
            return "has a port that is not 1 to 65535";
    }
    return NULL;
}

/* broker.cluster: where the NATS JetStream cluster is (broker/cluster.h) */
static int
config_load_cluster(config_ctx_t *c, json_t *o, broker_conf_t *b)
{
    static const char *const keys[] = { "servers", "creds", "stream", "subject",
        "leases_bucket", "replicas", "max_age", "max_bytes", "id_offset", NULL };
    const char *path = "broker.cluster";
    cluster_conf_t *cl = &b->cluster;
    json_t *v, *u;
    size_t i;

    if (!json_is_object(o))
        return config_bad(c, path, "must be an object");
    if (config_check_keys(c, path, o, keys) < 0 ||
        config_get_str(c, path, o, "creds", true, &cl->creds) < 0 ||
        config_get_str(c, path, o, "stream", false, &cl->stream) < 0 ||
        config_get_str(c, path, o, "subject", false, &cl->subject) < 0 ||
        config_get_str(c, path, o, "leases_bucket", false, &cl->leases_bucket) < 0 ||
        config_nats_name(c, "broker.cluster.stream", cl->stream, 0) < 0 ||
        config_nats_name(c, "broker.cluster.subject", cl->subject, 1) < 0 ||
        config_nats_name(c, "broker.cluster.leases_bucket", cl->leases_bucket, 0) < 0 ||
        config_get_int(c, path, o, "replicas", 1, 5, &cl->replicas) < 0 ||
        config_get_int(c, path, o, "max_age", 1, ZSSE_TTL_MAX, &cl->max_age) < 0)
        return -1;
    v = json_object_get(o, "servers");
    if (!json_is_array(v) || json_array_size(v) < 1 ||
        json_array_size(v) > CONFIG_CLUSTER_SERVERS_MAX)
        return config_bad(c, "broker.cluster.servers", "must be an array of 1 to %d NATS URLs",
            CONFIG_CLUSTER_SERVERS_MAX);
    if (!(cl->servers = calloc(json_array_size(v) + 1, sizeof(char *))))
        return config_bad(c, "broker.cluster.servers", "out of memory");
    json_array_foreach(v, i, u) {
        char p[CONFIG_INDEX_PATH_MAX];
        const char *url = json_string_value(u);
        snprintf(p, sizeof(p), "broker.cluster.servers[%zu]", i);
        if (!url || (strncmp(url, "nats://", 7) != 0 && strncmp(url, "tls://", 6) != 0) ||
            strlen(url) > 255 || strlen(url) != json_string_length(u))
            return config_bad(c, p, "must be a nats:// or tls:// URL of at most 255 bytes");
        const char *why = config_nats_url(url);
        if (why)
            return config_bad(c, p, "%s", why);
        if (!(cl->servers[cl->nservers++] = strdup(url)))
            return config_bad(c, p, "out of memory");
    }
    if ((v = json_object_get(o, "max_bytes"))) {
        if (!json_is_integer(v) || json_integer_value(v) < (1 << 20))
            return config_bad(c, "broker.cluster.max_bytes", "must be bytes, at least 1048576");
        cl->max_bytes = json_integer_value(v);
    }
    if ((v = json_object_get(o, "id_offset"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) > CONFIG_CLUSTER_ID_OFFSET_MAX)
            return config_bad(c, "broker.cluster.id_offset", "must be an integer from 0 to %llu",
                (unsigned long long)CONFIG_CLUSTER_ID_OFFSET_MAX);
        cl->id_offset = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static int
config_load_broker(config_ctx_t *c, json_t *o, broker_conf_t *b)
{
    static const char *const keys[] = { "publish", "events", "control", "buffer", "ttl",
        "max_message", "journal", "journal_fsync", "log", "channels", "curve",
        "trusted_network", "max_memory", "max_state_keys", "max_state_bytes", "cluster", NULL };
    static const char *const rule_keys[] = { "match", "buffer", "ttl", NULL };
    int mm = (int)b->max_message;
    json_t *v;

    if (!json_is_object(o))
        return config_bad(c, "broker", "must be an object");
    if (config_check_keys(c, "broker", o, keys) < 0 ||
        config_get_str(c, "broker", o, "publish", false, &b->publish) < 0 ||
        config_get_str(c, "broker", o, "events", false, &b->events) < 0 ||
        config_get_str(c, "broker", o, "control", false, &b->control) < 0 ||
        config_check_endpoint(c, "broker", "publish", b->publish) < 0 ||
        config_check_endpoint(c, "broker", "events", b->events) < 0 ||
        config_check_endpoint(c, "broker", "control", b->control) < 0 ||
        config_get_int(c, "broker", o, "buffer", 1, 1000000, &b->buffer) < 0 ||
        config_get_int(c, "broker", o, "ttl", 1, ZSSE_TTL_MAX, &b->ttl) < 0 ||
        config_get_int(c, "broker", o, "max_message", 64, 16777216, &mm) < 0 ||
        config_get_str(c, "broker", o, "journal", true, &b->journal) < 0 ||
        config_get_str(c, "broker", o, "log", true, &b->log) < 0 ||
        config_get_bool(c, "broker", o, "trusted_network", &b->trusted_network) < 0)
        return -1;
    if ((v = json_object_get(o, "curve")) && config_load_curve(c, v, &b->curve) < 0)
        return -1;
    if ((v = json_object_get(o, "cluster")) && config_load_cluster(c, v, b) < 0)
        return -1;
    if (b->cluster.servers && b->journal)
        return config_bad(c, "broker.journal", "must be null with broker.cluster (the JetStream "
            "stream is the journal)");
    b->max_message = (size_t)mm;
    if (config_get_int(c, "broker", o, "max_state_keys", 1, 1000000, &b->max_state_keys) < 0 ||
        config_get_int(c, "broker", o, "max_state_bytes", 1024, 1 << 30, &b->max_state_bytes) < 0)
        return -1;
    if ((v = json_object_get(o, "max_memory"))) {
        if (!json_is_integer(v) || json_integer_value(v) < CONFIG_MEMORY_MIN ||
            json_integer_value(v) > CONFIG_MEMORY_MAX)
            return config_bad(c, "broker.max_memory", "must be bytes from 16777216 to 2^50");
        b->max_memory = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(o, "journal_fsync"))) {
        if (json_is_string(v) && strcmp(json_string_value(v), "always") == 0)
            b->journal_fsync_ms = 0;
        else if (json_is_integer(v) && json_integer_value(v) >= 1 &&
            json_integer_value(v) <= 60000)
            b->journal_fsync_ms = (int)json_integer_value(v);
        else
            return config_bad(c, "broker.journal_fsync", "must be \"always\" or milliseconds from 1 to 60000");
    }
    if ((v = json_object_get(o, "channels"))) {
        size_t i;
        json_t *r;
        if (!json_is_array(v) || json_array_size(v) > 1024)
            return config_bad(c, "broker.channels", "must be an array of at most 1024 rules");
        if (!(b->channels = calloc(json_array_size(v) + 1, sizeof(chanrule_t))))
            return config_bad(c, "broker.channels", "out of memory");
        json_array_foreach(v, i, r) {
            char p[CONFIG_INDEX_PATH_MAX], pm[CONFIG_INDEX_PATH_MAX + 16];
            chanrule_t *rule = &b->channels[b->nchannels++];
            rule->buffer = rule->ttl = -1;
            snprintf(p, sizeof(p), "broker.channels[%zu]", i);
            if (!json_is_object(r))
                return config_bad(c, p, "must be an object");
            if (config_check_keys(c, p, r, rule_keys) < 0 ||
                config_get_str(c, p, r, "match", false, &rule->match) < 0 ||
                config_get_int(c, p, r, "buffer", 1, 1000000, &rule->buffer) < 0 ||
                config_get_int(c, p, r, "ttl", 1, ZSSE_TTL_MAX, &rule->ttl) < 0)
                return -1;
            snprintf(pm, sizeof(pm), "%s.match", p);
            if (!rule->match)
                return config_bad(c, pm, "is required");
            if (!channel_valid(rule->match, strlen(rule->match)))
                return config_bad(c, pm, "not a valid channel pattern");
        }
    }
    return 0;
}

/* --- auth -------------------------------------------------------------- */

static int
config_load_auth(config_ctx_t *c, json_t *o, auth_conf_t *a)
{
    static const char *const keys[] = { "alg", "key_file", "issuer", "audience", "leeway",
        "require_exp", "query_param", "cookie", NULL };
    static const char *const algs[] = { "HS256", "HS384", "HS512", "RS256", "RS384",
        "RS512", "ES256", "ES384", "ES512", NULL };
    size_t i;

    if (!json_is_object(o))
        return config_bad(c, "auth", "must be an object");
    if (config_check_keys(c, "auth", o, keys) < 0 ||
        config_get_str(c, "auth", o, "alg", false, &a->alg) < 0 ||
        config_get_str(c, "auth", o, "key_file", false, &a->key_file) < 0 ||
        config_get_str(c, "auth", o, "issuer", true, &a->issuer) < 0 ||
        config_get_str(c, "auth", o, "audience", true, &a->audience) < 0 ||
        config_get_int(c, "auth", o, "leeway", 0, 3600, &a->leeway) < 0 ||
        config_get_bool(c, "auth", o, "require_exp", &a->require_exp) < 0 ||
        config_get_str(c, "auth", o, "query_param", true, &a->query_param) < 0 ||
        config_get_str(c, "auth", o, "cookie", true, &a->cookie) < 0)
        return -1;
    for (i = 0; algs[i]; i++)
        if (strcmp(a->alg, algs[i]) == 0)
            break;
    if (!algs[i])
        return config_bad(c, "auth.alg", "must be one of HS256 HS384 HS512 RS256 RS384 RS512 "
            "ES256 ES384 ES512 (\"none\" is never accepted)");
    return 0;
}

/* --- routes ------------------------------------------------------------ */

/* normalise a JSON value like publish data: raw string, or compact JSON */
static int
config_normalise(json_t *v, char **data, size_t *len, char *kind)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        *data = malloc(*len + 1);
        if (!*data)
            return -1;
        memcpy(*data, json_string_value(v), *len + 1);
        *kind = ZSSE_KIND_STRING;
        return 0;
    }
    if (!(*data = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))))
        return -1;
    *len = strlen(*data);
    *kind = ZSSE_KIND_JSON;
    return 0;
}

static int
config_load_hello(config_ctx_t *c, const char *path, json_t *o, route_t *r)
{
    static const char *const keys[] = { "event", "data", NULL };
    char p[CONFIG_PATH_MAX];
    json_t *d;

    config_subpath(p, sizeof(p), path, "hello");
    if (!json_is_object(o))
        return config_bad(c, p, "must be an object");
    if (config_check_keys(c, p, o, keys) < 0 || config_get_str(c, p, o, "event", false, &r->hello_event) < 0)
        return -1;
    if (!r->hello_event)
        return config_bad(c, p, "needs an event name");
    if (strpbrk(r->hello_event, "\r\n") || strlen(r->hello_event) > ZSSE_EVENT_MAX) {
        char pe[320];
        snprintf(pe, sizeof(pe), "%s.event", p);
        return config_bad(c, pe, "must be at most 255 bytes with no line break");
    }
    d = json_object_get(o, "data");
    json_t *empty = d ? NULL : json_object();
    int rc = config_normalise(d ? d : empty, &r->hello_data, &r->hello_len, &r->hello_kind);
    json_decref(empty);
    return rc < 0 ? config_bad(c, p, "out of memory") : 0;
}

static int
config_load_heartbeat(config_ctx_t *c, const char *path, json_t *o, route_t *r)
{
    static const char *const keys[] = { "interval", "comment", NULL };
    char p[CONFIG_PATH_MAX];

    config_subpath(p, sizeof(p), path, "heartbeat");
    if (!json_is_object(o))
        return config_bad(c, p, "must be an object");
    if (config_check_keys(c, p, o, keys) < 0 ||
        config_get_int(c, p, o, "interval", 0, 3600, &r->heartbeat) < 0)
        return -1;
    json_t *v = json_object_get(o, "comment");
    if (v) {
        char pc[320];
        snprintf(pc, sizeof(pc), "%s.comment", p);
        if (!json_is_string(v) || json_string_length(v) > 255 ||
            strpbrk(json_string_value(v), "\r\n"))
            return config_bad(c, pc, "must be a string of at most 255 bytes with no line break");
        free(r->heartbeat_comment);
        if (!(r->heartbeat_comment = strdup(json_string_value(v))))
            return config_bad(c, pc, "out of memory");
    }
    return 0;
}

static int
config_load_cors(config_ctx_t *c, const char *path, json_t *o, route_t *r)
{
    static const char *const keys[] = { "origins", "credentials", NULL };
    char p[CONFIG_PATH_MAX], po[CONFIG_PATH_MAX + 20];
    json_t *v, *origins;
    size_t i;

    config_subpath(p, sizeof(p), path, "cors");
    snprintf(po, sizeof(po), "%s.origins", p);
    if (!json_is_object(o))
        return config_bad(c, p, "must be an object");
    if (config_check_keys(c, p, o, keys) < 0 || config_get_bool(c, p, o, "credentials", &r->cors_credentials) < 0)
        return -1;
    origins = json_object_get(o, "origins");
    if (!json_is_array(origins) || json_array_size(origins) == 0 || json_array_size(origins) > 64)
        return config_bad(c, po, "must be an array of 1 to 64 origins");
    if (!(r->cors_origins = calloc(json_array_size(origins), sizeof(char *))))
        return config_bad(c, po, "out of memory");
    json_array_foreach(origins, i, v) {
        char pi[400];
        snprintf(pi, sizeof(pi), "%s[%zu]", po, i);
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255)
            return config_bad(c, pi, "must be an origin string");
        const char *s = json_string_value(v);
        if (strcmp(s, "*") == 0 && r->cors_credentials)
            return config_bad(c, pi, "\"*\" is not allowed with credentials");
        if (strcmp(s, "*") != 0 && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
            return config_bad(c, pi, "must be \"*\" or start with http:// or https://");
        if (!(r->cors_origins[r->ncors++] = strdup(s)))
            return config_bad(c, pi, "out of memory");
    }
    return 0;
}

/* routes[i].path: required, a path pattern (route.h) */
static int
config_route_path(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    char pp[96], msg[200];

    if (config_get_str(c, p, o, "path", false, &r->path) < 0)
        return -1;
    snprintf(pp, sizeof(pp), "%s.path", p);
    if (!r->path)
        return config_bad(c, pp, "is required");
    if (route_parse_path(r, r->path, msg, sizeof(msg)) < 0)
        return config_bad(c, pp, "%s", msg);
    return 0;
}

/* routes[i].type, .auth, .format: one of their names */
static int
config_route_names(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    char pp[96];
    json_t *v;

    if ((v = json_object_get(o, "type"))) {
        snprintf(pp, sizeof(pp), "%s.type", p);
        if (!json_is_string(v) || route_type_parse(json_string_value(v), &r->type) < 0)
            return config_bad(c, pp, "must be " ROUTE_TYPE_NAMES);
    }
    if ((v = json_object_get(o, "auth"))) {
        snprintf(pp, sizeof(pp), "%s.auth", p);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "required") == 0) r->auth = AUTH_REQUIRED;
        else if (strcmp(s, "optional") == 0) r->auth = AUTH_OPTIONAL;
        else if (strcmp(s, "none") == 0) r->auth = AUTH_NONE;
        else return config_bad(c, pp, "must be \"required\", \"optional\" or \"none\"");
    }
    if ((v = json_object_get(o, "format"))) {
        snprintf(pp, sizeof(pp), "%s.format", p);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "named") == 0) r->format = SSE_NAMED;
        else if (strcmp(s, "envelope") == 0) r->format = SSE_ENVELOPE;
        else return config_bad(c, pp, "must be \"named\" or \"envelope\"");
    }
    return 0;
}

/* routes[i].channels: 1..ROUTE_MAX_CHANNELS templates, required by a
 * stream route, refused by a publish or mercure route (after .type) */
static int
config_route_channels(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    json_t *v = json_object_get(o, "channels"), *t;
    char pp[96], msg[200];
    size_t i;

    snprintf(pp, sizeof(pp), "%s.channels", p);
    if (r->type == ROUTE_STREAM && !v)
        return config_bad(c, pp, "is required");
    if (r->type == ROUTE_MERCURE)
        r->format = SSE_MERCURE;            /* Mercure's own ids, retry (sse.h) */
    if (v && (r->type == ROUTE_PUBLISH || r->type == ROUTE_MERCURE))
        return config_bad(c, pp, "not used by a %s route (the messages name their channels)",
            r->type == ROUTE_PUBLISH ? "publish" : "mercure");
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) < 1 ||
        json_array_size(v) > ROUTE_MAX_CHANNELS)
        return config_bad(c, pp, "must be an array of 1 to %d channel templates", ROUTE_MAX_CHANNELS);
    if (!(r->channels = calloc(json_array_size(v), sizeof(tpl_t))))
        return config_bad(c, pp, "out of memory");
    json_array_foreach(v, i, t) {
        char pi[128];
        snprintf(pi, sizeof(pi), "%s[%zu]", pp, i);
        if (!json_is_string(t))
            return config_bad(c, pi, "must be a string");
        if (tpl_parse(r, json_string_value(t), &r->channels[i], msg, sizeof(msg)) < 0) {
            r->nchannels = i + 1;
            return config_bad(c, pi, "%s", msg);
        }
        r->nchannels = i + 1;
    }
    return 0;
}

/* routes[i].require: claim -> string, number or boolean */
static int
config_route_require(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    json_t *v = json_object_get(o, "require"), *x;
    const char *k;
    char pp[96];

    if (!v)
        return 0;
    snprintf(pp, sizeof(pp), "%s.require", p);
    if (!json_is_object(v))
        return config_bad(c, pp, "must be an object of claim: value");
    json_object_foreach(v, k, x)
        if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x)) {
            char pk[200];
            snprintf(pk, sizeof(pk), "%s.%.64s", pp, k);
            return config_bad(c, pk, "must be a string, number or boolean");
        }
    r->require = json_incref(v);
    return 0;
}

/* the scalar settings, then the event names' rules */
static int
config_route_scalars(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    bool snapshot = false;
    char pp[96];

    if (config_get_int(c, p, o, "retry", 0, 3600000, &r->retry) < 0 ||
        config_get_bool(c, p, o, "snapshot", &snapshot) < 0 ||
        config_get_str(c, p, o, "reset_event", false, &r->reset_event) < 0 ||
        config_get_str(c, p, o, "auth_expired_event", true, &r->auth_expired_event) < 0 ||
        config_get_int(c, p, o, "max_lifetime", 0, 604800, &r->max_lifetime) < 0 ||
        config_get_int(c, p, o, "stall_timeout", 1, 3600, &r->stall_timeout) < 0 ||
        config_get_int(c, p, o, "max_per_user", 0, 100000, &r->max_per_user) < 0)
        return -1;
    r->snapshot = snapshot;
    if (strpbrk(r->reset_event, "\r\n") || strlen(r->reset_event) > ZSSE_EVENT_MAX) {
        snprintf(pp, sizeof(pp), "%s.reset_event", p);
        return config_bad(c, pp, "must be at most 255 bytes with no line break");
    }
    if (r->auth_expired_event && (strpbrk(r->auth_expired_event, "\r\n") ||
        strlen(r->auth_expired_event) > ZSSE_EVENT_MAX)) {
        snprintf(pp, sizeof(pp), "%s.auth_expired_event", p);
        return config_bad(c, pp, "must be null or at most 255 bytes with no line break");
    }
    return 0;
}

/* routes[i].hello, .heartbeat, .cors: objects of their own */
static int
config_route_objects(config_ctx_t *c, const char *p, json_t *o, route_t *r)
{
    json_t *v;

    if ((v = json_object_get(o, "hello")) && config_load_hello(c, p, v, r) < 0)
        return -1;
    if ((v = json_object_get(o, "heartbeat")) && config_load_heartbeat(c, p, v, r) < 0)
        return -1;
    if ((v = json_object_get(o, "cors")) && config_load_cors(c, p, v, r) < 0)
        return -1;
    return 0;
}

/* A route's steps, in the order its errors are reported (a later step
 * may rely on an earlier one: channels on type). */
static int (*const config_route_steps[])(config_ctx_t *, const char *, json_t *, route_t *) = {
    config_route_path, config_route_names, config_route_channels, config_route_require,
    config_route_scalars, config_route_objects,
};

static int
config_load_route(config_ctx_t *c, size_t idx, json_t *o, route_t *r)
{
    static const char *const keys[] = { "path", "type", "channels", "auth", "require",
        "format", "retry", "hello", "heartbeat", "snapshot", "reset_event", "max_lifetime",
        "stall_timeout", "max_per_user", "cors", "auth_expired_event", NULL };
    char p[CONFIG_INDEX_PATH_MAX];

    snprintf(p, sizeof(p), "routes[%zu]", idx);
    r->retry = -1;
    r->heartbeat = 30;
    r->stall_timeout = 120;
    if (config_set_default(&r->heartbeat_comment, "") < 0 || config_set_default(&r->reset_event, "reset") < 0 ||
        config_set_default(&r->auth_expired_event, "auth_expired") < 0)
        return config_bad(c, p, "out of memory");
    if (!json_is_object(o))
        return config_bad(c, p, "must be an object");
    if (config_check_keys(c, p, o, keys) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(config_route_steps) / sizeof(config_route_steps[0]); i++)
        if (config_route_steps[i](c, p, o, r) < 0)
            return -1;
    return 0;
}

/* --- the whole file -------------------------------------------------- */

static config_t *
config_new(void)
{
    config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    broker_conf_t *b = &cfg->broker;
    auth_conf_t *a = &cfg->auth;
    b->buffer = 100;
    b->ttl = 3600;
    b->max_message = 65536;
    b->max_memory = CONFIG_MEMORY_DEFAULT;
    b->max_state_keys = 1024;
    b->max_state_bytes = 4 << 20;
    a->leeway = 30;
    a->require_exp = true;
    b->cluster.replicas = 3;
    b->cluster.max_bytes = 1ll << 30;
    b->cluster.id_offset = CONFIG_CLUSTER_ID_OFFSET;
    if (config_set_default(&b->cluster.stream, "ZSSE") < 0 ||
        config_set_default(&b->cluster.subject, "zsse.events") < 0 ||
        config_set_default(&b->cluster.leases_bucket, "ZSSE_LEASES") < 0 ||
        config_set_default(&b->publish, "tcp://127.0.0.1:7701") < 0 ||
        config_set_default(&b->events, "tcp://127.0.0.1:7702") < 0 ||
        config_set_default(&b->control, "tcp://127.0.0.1:7703") < 0 ||
        config_set_default(&a->alg, "HS256") < 0 ||
        config_set_default(&a->key_file, "/etc/zsse/jwt.key") < 0 ||
        config_set_default(&a->query_param, "token") < 0 ||
        config_set_default(&a->cookie, "zsse_token") < 0) {
        config_destroy(&cfg);
        return NULL;
    }
    return cfg;
}

config_t *
config_parse(const char *text, size_t len, char *err, size_t errlen)
{
    static const char *const keys[] = { "broker", "auth", "routes", NULL };
    config_ctx_t c = { err, errlen };
    json_error_t je;
    json_t *root, *v;
    config_t *cfg;

    err[0] = '\0';
    if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je))) {
        snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!(cfg = config_new())) {
        snprintf(err, errlen, "out of memory");
        json_decref(root);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the config must be a JSON object");
        goto fail;
    }
    if (config_check_keys(&c, "", root, keys) < 0)
        goto fail;
    if ((v = json_object_get(root, "broker")) && config_load_broker(&c, v, &cfg->broker) < 0)
        goto fail;
    if ((v = json_object_get(root, "auth")) && config_load_auth(&c, v, &cfg->auth) < 0)
        goto fail;
    if ((v = json_object_get(root, "routes"))) {
        size_t i;
        json_t *r;
        if (!json_is_array(v) || json_array_size(v) > 1024) {
            config_bad(&c, "routes", "must be an array of at most 1024 routes");
            goto fail;
        }
        if (!(cfg->routes = calloc(json_array_size(v) + 1, sizeof(route_t)))) {
            config_bad(&c, "routes", "out of memory");
            goto fail;
        }
        json_array_foreach(v, i, r) {
            cfg->nroutes = i + 1;
            if (config_load_route(&c, i, r, &cfg->routes[i]) < 0)
                goto fail;
        }
    }
    for (size_t i = 0; cfg->broker.cluster.servers && i < cfg->nroutes; i++)
        if (cfg->routes[i].max_per_user > CONFIG_CLUSTER_PER_USER_MAX) {
            char p[64];
            snprintf(p, sizeof(p), "routes[%zu].max_per_user", i);
            config_bad(&c, p, "must be at most %d with broker.cluster",
                CONFIG_CLUSTER_PER_USER_MAX);
            goto fail;
        }
    json_decref(root);
    return cfg;
fail:
    json_decref(root);
    config_destroy(&cfg);
    return NULL;
}

config_t *
config_load(const char *file, char *err, size_t errlen)
{
    FILE *fp = fopen(file, "r");
    char *text = NULL;
    size_t len = 0, cap = 0;
    config_t *cfg = NULL;

    if (!fp) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= (16u << 20)) {
                snprintf(err, errlen, "larger than 16 MiB");
                goto out;
            }
            char *p = realloc(text, cap = cap ? cap * 2 : 8192);
            if (!p) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            text = p;
        }
        size_t n = fread(text + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "read: %s", strerror(errno));
        goto out;
    }
    if ((cfg = config_parse(text, len, err, errlen)) && !(cfg->path = strdup(file)))
        config_destroy(&cfg);
out:
    fclose(fp);
    free(text);
    return cfg;
}

void
config_destroy(config_t **cfgp)
{
    config_t *cfg = *cfgp;
    if (!cfg)
        return;
    broker_conf_t *b = &cfg->broker;
    auth_conf_t *a = &cfg->auth;
    free(b->publish);
    free(b->events);
    free(b->control);
    free(b->journal);
    free(b->log);
    for (size_t i = 0; i < b->nchannels; i++)
        free(b->channels[i].match);
    free(b->channels);
    free(b->curve.secret_key_file);
    free(b->curve.clients_dir);
    for (size_t i = 0; i < b->curve.nclients; i++)
        free(b->curve.clients[i]);
    free(b->curve.clients);
    free(b->curve.server_public_key_file);
    free(b->curve.client_secret_key_file);
    for (size_t i = 0; i < b->cluster.nservers; i++)
        free(b->cluster.servers[i]);
    free(b->cluster.servers);
    free(b->cluster.creds);
    free(b->cluster.stream);
    free(b->cluster.subject);
    free(b->cluster.leases_bucket);
    free(a->alg);
    free(a->key_file);
    free(a->issuer);
    free(a->audience);
    free(a->query_param);
    free(a->cookie);
    for (size_t i = 0; i < cfg->nroutes; i++)
        route_free(&cfg->routes[i]);
    free(cfg->routes);
    free(cfg->path);
    free(cfg);
    *cfgp = NULL;
}

const char *
config_default_path(const char *flag)
{
    const char *env = getenv("ZSSE_CONFIG");

    if (flag)
        return flag;
    if (env && *env)
        return env;
    return "/etc/zsse/zsse.json";
}

void
config_channel_limits(const broker_conf_t *b, const char *channel, int *buffer, int *ttl)
{
    *buffer = b->buffer;
    *ttl = b->ttl;
    for (size_t i = 0; i < b->nchannels; i++) {
        if (channel_match(b->channels[i].match, channel)) {
            if (b->channels[i].buffer > 0)
                *buffer = b->channels[i].buffer;
            if (b->channels[i].ttl > 0)
                *ttl = b->channels[i].ttl;
            return;
        }
    }
}
