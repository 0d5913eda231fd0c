/*
 * curve.h -- ZeroMQ CURVE for the broker plane (issue 12, SPEC 7): key
 * files, the socket options of both sides, and the rule that a broker
 * endpoint off loopback needs CURVE.
 *
 * Everything that opens a socket to or on the broker goes through here:
 * the broker (curve_server_*), zsse-fcgi's SUB and control sockets, the CLI
 * and libzsse's publisher (curve_client_*).  The cryptography is libzmq's
 * own (CURVE, RFC 26, over libsodium); keys are the 40-character Z85 text
 * zmq_curve_keypair() makes, one per file (trailing white space allowed).
 * Which clients may connect is decided by the broker's ZAP handler (RFC 27,
 * broker/zap.c) with curve_server_allows().
 *
 * Config (broker section, config.h):
 *   curve.secret_key_file         the broker's secret key            (broker)
 *   curve.clients                 allowed client public keys: a directory
 *                                 whose *.public files hold one key each,
 *                                 or an array of Z85 keys            (broker)
 *   curve.server_public_key_file  the broker's public key            (clients)
 *   curve.client_secret_key_file  this client's secret key; its public
 *                                 key is derived from it             (clients)
 *   trusted_network               true: allow a non-loopback tcp://
 *                                 bind without CURVE
 */
#ifndef ZSSE_CURVE_H
#define ZSSE_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define CURVE_Z85_LEN 40            /* a key as Z85 text, without the NUL */
#define CURVE_KEY_LEN 32            /* a key in binary */
#define CURVE_CLIENTS_MAX 65536     /* allowed client keys */

/* a client's side: off when broker.curve.server_public_key_file is unset */
typedef struct {
    bool on;
    char server[CURVE_Z85_LEN + 1];     /* the broker's public key */
    char public_[CURVE_Z85_LEN + 1];
    char secret[CURVE_Z85_LEN + 1];
} curve_client_t;

/* the broker's side: off when broker.curve.secret_key_file is unset */
typedef struct {
    bool     on;
    char     secret[CURVE_Z85_LEN + 1];
    uint8_t (*allowed)[CURVE_KEY_LEN];  /* sorted, for bsearch */
    size_t   nallowed;
} curve_server_t;

/* Read a key file into OUT (Z85, NUL-terminated).  0, or -1 with
 * "FILE: what is wrong" in ERR. */
int  curve_read_key(const char *file, char out[CURVE_Z85_LEN + 1], char *err, size_t errlen);

/* Load the client keys B names.  0 (C->on false when CURVE is not
 * configured for clients), or -1 with the reason in ERR. */
int  curve_client_load(const broker_conf_t *b, curve_client_t *c, char *err, size_t errlen);
/* Set SOCK's CURVE client options (call before zmq_connect); nothing when
 * C is off.  0, or -1 with errno set by zmq_setsockopt. */
int  curve_client_apply(void *sock, const curve_client_t *c);

/* Load the broker's secret key and the allowed client keys.  0 (S->on
 * false without CURVE), or -1 with the reason in ERR. */
int  curve_server_load(const broker_conf_t *b, curve_server_t *s, char *err, size_t errlen);
/* Make SOCK a CURVE server (before zmq_bind), ZAP domain "zsse"; nothing
 * when S is off.  0, or -1 with errno set. */
int  curve_server_apply(void *sock, const curve_server_t *s);
/* Is KEY (binary) one of the allowed client keys? */
bool curve_server_allows(const curve_server_t *s, const uint8_t key[CURVE_KEY_LEN]);
void curve_server_clear(curve_server_t *s);

/* Is EP an ipc:// endpoint or a tcp:// one on a loopback address
 * (127.0.0.0/8, ::1, localhost)?  "*", 0.0.0.0 and interface names are not. */
bool curve_endpoint_local(const char *ep);
/* The start-up rule: with CURVE off on the broker and trusted_network
 * false, every endpoint must be local.  0, or -1 with
 * "broker.publish: tcp://0.0.0.0:7701 is not loopback and CURVE is off ..."
 * in ERR. */
int  curve_check_binds(const broker_conf_t *b, char *err, size_t errlen);

/* Write a new key pair: PREFIX.public (mode 0644) and PREFIX.secret (0600);
 * neither may exist yet.  0, or -1 with the reason in ERR. */
int  curve_keygen(const char *prefix, char *err, size_t errlen);

#endif
