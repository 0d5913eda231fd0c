/*
 * natskey.h -- any bytes as one NATS subject token that is also a
 * JetStream key-value key (issue 14 item 3; broker/cluster.h, lease_kv.h).
 *
 * Why: a NATS subject is tokens separated by '.', where '*' and '>' are
 * wildcards and whitespace ends the subject (NATS protocol, "Subject-based
 * messaging"); a JetStream KV key may hold only [-/_=.a-zA-Z0-9] (nats.c
 * kv.c validKey, ADR-8).  zsse channel names are 1..255 bytes of UTF-8
 * with no whitespace or control characters (SPEC 4: "user/a.b", "*",
 * "café" are all valid), route paths hold '/', a JWT sub anything.  So
 * every such name is encoded before it goes into a subject or a key.
 *
 * The encoding: a byte in [A-Za-z0-9_-] is kept; every other byte
 * becomes '=' and its two hex digits, uppercase ("a.b" -> "a=2Eb",
 * "caf\xc3\xa9" -> "caf=C3=A9", "=" -> "=3D").  The result holds no '.',
 * no wildcard and no '/', so it is exactly one token, and it is a valid KV
 * key.  It is injective (decoding gives back the bytes) and readable for
 * the usual names (an operator can `nats sub ZSSE.user=2Fusr_demo`).
 * Empty input is refused: an empty token is not a valid subject or key.
 * Decoding is strict: only what natskey_encode can produce is accepted
 * (so every name has exactly one encoding, and equal names give equal
 * keys).
 */
#ifndef ZSSE_NATSKEY_H
#define ZSSE_NATSKEY_H

#include <stddef.h>
#include <sys/types.h>

/* bytes natskey_encode needs for LEN input bytes, with the NUL: every
 * byte escaped (3 each) */
#define NATSKEY_MAX(len) (3 * (size_t)(len) + 1)

/* Encode IN (LEN bytes, any values, LEN >= 1) into OUT (CAP bytes),
 * NUL-terminated.  Returns the length written (without the NUL), or -1
 * when LEN is 0 or the encoding with its NUL does not fit in CAP (OUT is
 * then "" if CAP > 0).  CAP >= NATSKEY_MAX(LEN) always fits. */
ssize_t natskey_encode(const char *in, size_t len, char *out, size_t cap);

/* Decode IN (LEN bytes) into OUT (CAP bytes; not NUL-terminated: the
 * result may hold NULs).  Returns the length decoded, or -1 when IN is
 * empty, is not an encoding natskey_encode gives (a byte outside
 * [A-Za-z0-9_-=], a '=' not followed by two uppercase hex digits, or an
 * escaped byte that is kept as itself), or the result does not fit in
 * CAP.  Reads at most LEN bytes of IN; LEN bytes of OUT always suffice. */
ssize_t natskey_decode(const char *in, size_t len, char *out, size_t cap);

#endif
