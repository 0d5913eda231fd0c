/*
 * lease_kv.c -- lease slots in a JetStream key-value bucket; the design
 * is in lease_kv.h.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nats/nats.h>
#include "clock.h"
#include "lease_kv.h"
#include "log.h"
#include "natskey.h"
#include "wire.h"

#define LEASEKV_VALUE_MAX    (LEASEKV_ID_MAX + 24)
/* the bucket's max_msg_size: JetStream counts the headers too (the
 * expected-revision header of a Create / Update is some 50 bytes) */
#define LEASEKV_MSG_MAX      1024

struct leasekv {
    natsConnection *nc;
    jsCtx          *js;
    kvStore        *kv;
    ratelimit_t     rl;
    char            bucket[CONFIG_CLUSTER_NAME_MAX + 1];
};

/* what one slot gave */
typedef enum { SLOT_TAKEN, SLOT_BUSY, SLOT_ERROR } leasekv_slot_t;

/* log the failed NATS call WHAT (status S), rate-limited */
static void
leasekv_log(leasekv_t *lk, const char *what, natsStatus s)
{
    natsStatus ls;
    const char *detail = nats_GetLastError(&ls);
    log_limited(&lk->rl, LOG_WARNING, "leases: %s: %s%s%s", what, natsStatus_GetText(s),
        detail && *detail ? ": " : "", detail && *detail ? detail : "");
}

int
leasekv_key(const char *group, size_t glen, unsigned slot, char out[LEASEKV_KEY_MAX])
{
    if (slot >= LEASEKV_SLOTS_MAX || glen == 0 || glen > LEASEKV_GROUP_MAX)
        return -1;
    ssize_t n = natskey_encode(group, glen, out, NATSKEY_MAX(LEASEKV_GROUP_MAX));
    assert(n > 0);
    int k = snprintf(out + n, LEASEKV_KEY_MAX - (size_t)n, ".%u", slot);
    assert(k > 0 && (size_t)n + (size_t)k < LEASEKV_KEY_MAX);
    return (int)n + k;
}

/* "<id> <expiry ms>" into OUT; its length, or -1 for a bad id */
static int
leasekv_value(char out[LEASEKV_VALUE_MAX], const char *id, int64_t expiry_ms)
{
    size_t n = strlen(id);
    if (n == 0 || n > LEASEKV_ID_MAX || strpbrk(id, " \t\r\n"))
        return -1;
    return snprintf(out, LEASEKV_VALUE_MAX, "%s %" PRId64, id, expiry_ms);
}

/* Parse entry E's value: *HOLDER (whether ID holds it, ID may be NULL)
 * and the expiry.  A value that does not parse is a free slot (the
 * take-over removes it only if it is still that revision, so that is
 * safe). */
static int64_t
leasekv_parse(kvEntry *e, const char *id, int *holder)
{
    char v[LEASEKV_VALUE_MAX];
    int len = kvEntry_ValueLen(e);
    const char *sp;

    *holder = 0;
    if (len <= 0 || len >= (int)sizeof(v))
        return 0;
    memcpy(v, kvEntry_Value(e), (size_t)len);
    v[len] = '\0';
    if (!(sp = strchr(v, ' ')) || sp == v)
        return 0;
    char *end;
    long long exp = strtoll(sp + 1, &end, 10);
    if (*end != '\0' || end == sp + 1 || exp < 0)
        return 0;
    *holder = id && strlen(id) == (size_t)(sp - v) && memcmp(v, id, (size_t)(sp - v)) == 0;
    return exp;
}

static int
leasekv_up(leasekv_t *lk)
{
    if (natsConnection_Status(lk->nc) == NATS_CONN_STATUS_CONNECTED)
        return 1;
    log_limited(&lk->rl, LOG_WARNING, "leases: NATS not connected");
    return 0;
}

leasekv_t *
leasekv_new(natsConnection *nc, const char *bucket, int replicas, char *err, size_t errlen)
{
    leasekv_t *lk = calloc(1, sizeof(*lk));
    natsStatus s;
    jsOptions o;

    if (!lk) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lk->nc = nc;
    if (strlen(bucket) > CONFIG_CLUSTER_NAME_MAX) {
        snprintf(err, errlen, "key-value bucket name longer than %d", CONFIG_CLUSTER_NAME_MAX);
        goto fail;
    }
    strcpy(lk->bucket, bucket);
    jsOptions_Init(&o);
    o.Wait = LEASEKV_TIMEOUT_MS;
    if ((s = natsConnection_JetStream(&lk->js, nc, &o)) != NATS_OK) {
        snprintf(err, errlen, "JetStream: %s", natsStatus_GetText(s));
        goto fail;
    }
    s = js_KeyValue(&lk->kv, lk->js, bucket);
    if (s == NATS_NOT_FOUND) {
        kvConfig c;
        kvConfig_Init(&c);
        c.Bucket = bucket;
        c.Description = "zsse max_per_user lease slots (broker/lease_kv.h)";
        c.History = 1;
        c.Replicas = replicas;
        c.MaxValueSize = LEASEKV_MSG_MAX;
        c.StorageType = js_FileStorage;
        s = js_CreateKeyValue(&lk->kv, lk->js, &c);
    }
    if (s != NATS_OK) {
        const char *detail = nats_GetLastError(NULL);
        snprintf(err, errlen, "key-value bucket %s: %s%s%s", bucket, natsStatus_GetText(s),
            detail && *detail ? ": " : "", detail && *detail ? detail : "");
        goto fail;
    }
    /* a bucket made by hand: no TTL (see the header) */
    kvStatus *st = NULL;
    if ((s = kvStore_Status(&st, lk->kv)) != NATS_OK) {
        snprintf(err, errlen, "key-value bucket %s: %s", bucket, natsStatus_GetText(s));
        goto fail;
    }
    int64_t ttl_ns = kvStatus_TTL(st);
    kvStatus_Destroy(st);
    if (ttl_ns != 0) {
        snprintf(err, errlen, "key-value bucket %s: its TTL (%" PRId64 " s) must be 0: a "
            "lease's expiry is in its value", bucket, ttl_ns / 1000000000);
        goto fail;
    }
    return lk;
fail:
    leasekv_destroy(&lk);
    return NULL;
}

void
leasekv_destroy(leasekv_t **lkp)
{
    leasekv_t *lk = *lkp;
    if (!lk)
        return;
    if (lk->kv)
        kvStore_Destroy(lk->kv);
    if (lk->js)
        jsCtx_Destroy(lk->js);
    free(lk);
    *lkp = NULL;
}

/* Remove every message of KEY up to revision REV: a compare-and-delete,
 * as a write after REV (a renewal, a take-over) stays.  0, or -1 with
 * *ERR (the status) when NATS failed. */
static int
leasekv_purge(leasekv_t *lk, const char *key, uint64_t rev, natsStatus *err)
{
    char stream[CONFIG_CLUSTER_NAME_MAX + 8], subject[LEASEKV_KEY_MAX + CONFIG_CLUSTER_NAME_MAX + 8];
    jsOptions o;
    jsErrCode jerr = 0;

    snprintf(stream, sizeof(stream), "KV_%s", lk->bucket);
    snprintf(subject, sizeof(subject), "$KV.%s.%s", lk->bucket, key);
    jsOptions_Init(&o);
    o.Wait = LEASEKV_TIMEOUT_MS;
    o.Stream.Purge.Subject = subject;
    o.Stream.Purge.Sequence = rev + 1;          /* up to, not including */
    if ((*err = js_PurgeStream(lk->js, stream, &o, &jerr)) != NATS_OK) {
        leasekv_log(lk, "purge a slot", *err);
        return -1;
    }
    return 0;
}

/* Try to make KEY hold VALUE (a lease live until after NOW_MS): see the
 * header.  On SLOT_TAKEN *REV is the revision written. */
static leasekv_slot_t
leasekv_try_slot(leasekv_t *lk, const char *key, const char *value, int vlen, int64_t now_ms,
    uint64_t *rev)
{
    for (int t = 0; t < LEASEKV_TRIES; t++) {
        kvEntry *e = NULL;
        natsStatus s = kvStore_Get(&e, lk->kv, key);
        if (s == NATS_OK) {
            int mine;
            int64_t exp = leasekv_parse(e, NULL, &mine);
            uint64_t seen = kvEntry_Revision(e);
            kvEntry_Destroy(e);
            if (exp > now_ms)
                return SLOT_BUSY;
            /* expired, or not a lease: clear it (unless rewritten since) */
            if (leasekv_purge(lk, key, seen, &s) < 0)
                return SLOT_ERROR;
        } else if (s != NATS_NOT_FOUND) {
            leasekv_log(lk, "read a slot", s);
            return SLOT_ERROR;
        }
        /* create: only if the key has no message at all, checked by every
         * replica as it applies the write (not kvStore_Create: on a delete
         * marker it falls back to an update) */
        s = kvStore_Update(rev, lk->kv, key, value, vlen, 0);
        if (s == NATS_OK)
            return SLOT_TAKEN;
        if (s != NATS_ERR) {            /* NATS_ERR: JetStream refused the write */
            leasekv_log(lk, "write a slot", s);
            return SLOT_ERROR;
        }
        /* another broker wrote the slot between our read and write: again */
    }
    return SLOT_BUSY;
}

lease_take_t
leasekv_take(leasekv_t *lk, const char *group, size_t glen, unsigned limit,
    const char *lease_id, int64_t now_us, lease_slot_t *out)
{
    char key[LEASEKV_KEY_MAX], value[LEASEKV_VALUE_MAX];
    int64_t now_ms = now_us / 1000, deadline = mono_ms() + LEASEKV_DEADLINE_MS;
    int64_t expires_ms = now_ms + WIRE_LEASE_TTL * 1000ll;
    int vlen = leasekv_value(value, lease_id, expires_ms);

    if (limit == 0 || limit > LEASEKV_SLOTS_MAX || glen == 0 || glen > LEASEKV_GROUP_MAX ||
        vlen < 0) {
        log_limited(&lk->rl, LOG_WARNING, "leases: refused: a limit of %u (1..%d), a group of "
            "%zu bytes, a lease id of %zu", limit, LEASEKV_SLOTS_MAX, glen, strlen(lease_id));
        return LEASE_TABLE_FULL;
    }
    if (!leasekv_up(lk))
        return LEASE_TABLE_FULL;
    for (unsigned i = 0; i < limit; i++) {
        if (mono_ms() > deadline) {
            log_limited(&lk->rl, LOG_WARNING, "leases: a take gave up after %d ms",
                LEASEKV_DEADLINE_MS);
            return LEASE_TABLE_FULL;
        }
        if (leasekv_key(group, glen, i, key) < 0)
            return LEASE_TABLE_FULL;
        switch (leasekv_try_slot(lk, key, value, vlen, now_ms, &out->rev)) {
        case SLOT_TAKEN:
            out->held = 1;
            out->slot = i;
            out->expires_ms = expires_ms;
            return LEASE_TAKEN;
        case SLOT_ERROR:
            return LEASE_TABLE_FULL;
        case SLOT_BUSY:
            break;
        }
    }
    return LEASE_FULL;
}

/* The revision KEY holds for LEASE_ID: 1 and *REV, 0 when it holds
 * another's or nothing, -1 when NATS failed */
static int
leasekv_mine(leasekv_t *lk, const char *key, const char *lease_id, uint64_t *rev)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, lk->kv, key);
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK) {
        leasekv_log(lk, "read a slot", s);
        return -1;
    }
    int mine;
    (void)leasekv_parse(e, lease_id, &mine);
    *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    return mine;
}

leasekv_rc_t
leasekv_renew(leasekv_t *lk, const char *group, size_t glen, const char *lease_id,
    int64_t now_us, lease_slot_t *hold)
{
    char key[LEASEKV_KEY_MAX], value[LEASEKV_VALUE_MAX];
    int64_t now_ms = now_us / 1000, expires_ms = now_ms + WIRE_LEASE_TTL * 1000ll;
    int vlen = leasekv_value(value, lease_id, expires_ms);
    natsStatus s;

    if (!hold->held || vlen < 0 || leasekv_key(group, glen, hold->slot, key) < 0)
        return LEASEKV_LOST;
    if (!leasekv_up(lk))
        return LEASEKV_ERROR;
    if (now_ms >= hold->expires_ms - LEASEKV_SKEW_MS) {
        /* too late: another broker may be taking it over; free it if no
         * one has yet, and give it up */
        (void)leasekv_purge(lk, key, hold->rev, &s);
        hold->held = 0;
        return LEASEKV_LOST;
    }
    /* an update at the revision we hold: no other broker writes a live
     * slot, so this cannot race (see the header) */
    s = kvStore_Update(&hold->rev, lk->kv, key, value, vlen, hold->rev);
    if (s == NATS_ERR) {
        /* the revision moved: a renewal that landed but whose answer was
         * lost leaves the slot ours at a later revision */
        uint64_t rev;
        int m = leasekv_mine(lk, key, lease_id, &rev);
        if (m < 0)
            return LEASEKV_ERROR;
        if (m == 0) {
            hold->held = 0;
            return LEASEKV_LOST;
        }
        s = kvStore_Update(&hold->rev, lk->kv, key, value, vlen, rev);
        if (s == NATS_ERR) {
            hold->held = 0;
            return LEASEKV_LOST;
        }
    }
    if (s != NATS_OK) {
        leasekv_log(lk, "renew a slot", s);
        return LEASEKV_ERROR;
    }
    hold->expires_ms = expires_ms;
    return LEASEKV_DONE;
}

leasekv_rc_t
leasekv_release(leasekv_t *lk, const char *group, size_t glen, const char *lease_id,
    const lease_slot_t *hold)
{
    char key[LEASEKV_KEY_MAX];
    natsStatus s;
    uint64_t rev;

    if (!hold->held || leasekv_key(group, glen, hold->slot, key) < 0)
        return LEASEKV_LOST;
    if (!leasekv_up(lk))
        return LEASEKV_ERROR;
    if (leasekv_purge(lk, key, hold->rev, &s) < 0)
        return LEASEKV_ERROR;
    /* a renewal whose answer was lost may have left it ours, later */
    int m = leasekv_mine(lk, key, lease_id, &rev);
    if (m < 0)
        return LEASEKV_ERROR;
    if (m == 1 && leasekv_purge(lk, key, rev, &s) < 0)
        return LEASEKV_ERROR;
    return LEASEKV_DONE;
}
