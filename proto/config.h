/*
 * config.h -- the one JSON config file shared by every program (SPEC 3).
 *
 * config_load() reads and checks the whole file.  It is strict: an unknown
 * key, a value of the wrong type or out of range, an unknown route
 * placeholder -- each is an error, reported as one line that names the
 * JSON path of the offending value, e.g.
 *
 *     routes[2].channels[0]: unknown placeholder {foo}
 *
 * Missing sections take defaults (broker endpoints tcp://127.0.0.1:7701..3,
 * buffer 100, ttl 3600, max_message 65536, alg HS256, leeway 30, ...).
 * The key file is not read here: auth_new() does that.
 *
 * Extensions beyond SPEC 3 (noted on the issues):
 *   broker.log            file the broker logs to (null: stderr with -f,
 *                         else syslog); SIGHUP reopens it.
 *   broker.journal_fsync  "always" (default) or milliseconds between fsyncs.
 *   routes[].type         "stream" (default), "stats" (Prometheus text),
 *                         "publish" or "mercure" (issue 15; no "channels").
 *   broker.curve          CURVE keys of the broker and of its clients, and
 *   broker.trusted_network  (issue 12; see curve.h).
 *   broker.cluster        the cluster mode on NATS JetStream (issue 14; see
 *                         broker/cluster.h): servers, creds, stream,
 *                         subject, leases_bucket, replicas, max_age,
 *                         max_bytes, id_offset.
 */
#ifndef ZSSE_CONFIG_H
#define ZSSE_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "route.h"

/* broker.max_memory, bytes (issue 12): buffered events and state */
#define CONFIG_MEMORY_DEFAULT  (256ull << 20)
#define CONFIG_MEMORY_MIN      (16ll << 20)
#define CONFIG_MEMORY_MAX      (1ll << 50)

typedef struct {
    char *match;            /* channel pattern */
    int   buffer;           /* events kept, -1: inherit */
    int   ttl;              /* seconds, -1: inherit */
} chanrule_t;

/* broker.curve (curve.h reads the files) */
typedef struct {
    char   *secret_key_file;        /* the broker's secret key; NULL: CURVE off */
    char   *clients_dir;            /* allowed client keys: *.public files ... */
    char  **clients;                /* ... and/or Z85 keys */
    size_t  nclients;
    char   *server_public_key_file; /* the broker's public key; NULL: clients plain */
    char   *client_secret_key_file; /* this client's secret key */
} curve_conf_t;

/* broker.cluster (broker/cluster.h): NULL servers, the single broker */
#define CONFIG_CLUSTER_SERVERS_MAX  16
#define CONFIG_CLUSTER_ID_OFFSET    4000000000000000ull /* above every single-broker
                                     * id (the clock in us) until the year 2096 */
#define CONFIG_CLUSTER_ID_OFFSET_MAX 8000000000000000ull /* leaves 1e15 ids below 2^53 */
#define CONFIG_CLUSTER_NAME_MAX     64  /* bytes of a stream, bucket or subject name */
#define CONFIG_CLUSTER_PER_USER_MAX 256 /* a route's max_per_user: slot keys a user has
                                     * in the leases bucket (broker/lease_kv.h) */
typedef struct {
    char      **servers;        /* nats:// or tls:// URLs; NULL: cluster off */
    size_t      nservers;
    char       *creds;          /* NATS credentials file (JWT + NKey); NULL: none */
    char       *stream;         /* JetStream stream, default "ZSSE" */
    char       *subject;        /* subject prefix, default "zsse.events" */
    char       *leases_bucket;  /* key-value bucket of leases, default "ZSSE_LEASES" */
    int         replicas;       /* of the stream and the bucket, 1..5, default 3 */
    int         max_age;        /* s the stream keeps an event; default the longest ttl */
    int64_t     max_bytes;      /* bytes the stream keeps, default 1 GiB */
    uint64_t    id_offset;      /* id = stream sequence + id_offset */
} cluster_conf_t;

typedef struct {
    char       *publish;    /* PULL endpoint */
    char       *events;     /* PUB endpoint */
    char       *control;    /* ROUTER endpoint */
    int         buffer;
    int         ttl;
    size_t      max_message;
    char       *journal;    /* NULL: memory only */
    int         journal_fsync_ms;   /* 0: fsync every event */
    char       *log;        /* NULL: stderr/syslog */
    uint64_t    max_memory;         /* bytes of buffered events and state */
    int         max_state_keys;     /* state keys per channel */
    int         max_state_bytes;    /* bytes of state per channel */
    chanrule_t *channels;
    size_t      nchannels;
    curve_conf_t curve;
    cluster_conf_t cluster;
    bool        trusted_network;    /* non-loopback tcp:// without CURVE allowed */
} broker_conf_t;

typedef struct {
    char *alg;              /* "HS256" ... "ES512" */
    char *key_file;
    char *issuer;           /* NULL: not checked */
    char *audience;         /* NULL: not checked */
    int   leeway;
    bool  require_exp;
    char *query_param;      /* NULL: disabled */
    char *cookie;           /* NULL: disabled */
} auth_conf_t;

typedef struct {
    char       *path;       /* the file it came from */
    broker_conf_t broker;
    auth_conf_t   auth;
    route_t    *routes;
    size_t      nroutes;
} config_t;

/* Load FILE.  NULL on error, with "PATH: what is wrong" in ERR (the file
 * name is not included, the caller prefixes it). */
config_t *config_load(const char *file, char *err, size_t errlen);
/* Same, from a JSON text (for tests and fuzzing). */
config_t *config_parse(const char *text, size_t len, char *err, size_t errlen);
void config_destroy(config_t **cfgp);

/* The config file to use: FLAG if given, else $ZSSE_CONFIG, else
 * /etc/zsse/zsse.json */
const char *config_default_path(const char *flag);

/* Buffer size and ttl for CHANNEL after the first matching channels[] rule */
void config_channel_limits(const broker_conf_t *b, const char *channel,
    int *buffer, int *ttl);

#endif
