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

#define LEASEKV_FREE         "- 0"             /* a released slot's value */
#define LEASEKV_VALUE_MAX    (LEASEKV_ID_MAX + 24)
/* the bucket's max_msg_size: JetStream counts the headers too (the
 * expected-revision header of a Create / Update is some 50 bytes) */
#define LEASEKV_MSG_MAX      1024

struct leasekv {
    natsConnection *nc;
    jsCtx          *js;
    kvStore        *kv;
    ratelimit_t     rl;
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
 * and the expiry.  A value that does not parse is a free slot (a slot is
 * only ever written by the compare-and-set, so taking it is safe). */
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
        c.TTL = (int64_t)LEASEKV_GC_S * 1000000000;          /* ns */
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
    /* a bucket made by hand: its TTL must not drop a live slot's key */
    kvStatus *st = NULL;
    if ((s = kvStore_Status(&st, lk->kv)) != NATS_OK) {
        snprintf(err, errlen, "key-value bucket %s: %s", bucket, natsStatus_GetText(s));
        goto fail;
    }
    int64_t ttl_ns = kvStatus_TTL(st);
    kvStatus_Destroy(st);
    if (ttl_ns > 0 && ttl_ns < LEASEKV_TTL_MIN_S * 1000000000ll) {
        snprintf(err, errlen, "key-value bucket %s: its TTL (%" PRId64 " s) must be 0 or at "
            "least %d s", bucket, ttl_ns / 1000000000, LEASEKV_TTL_MIN_S);
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

/* Try to make KEY hold VALUE (a lease live until after NOW_MS): see the
 * header.  On SLOT_TAKEN *REV is the revision written. */
static leasekv_slot_t
leasekv_try_slot(leasekv_t *lk, const char *key, const char *value, int vlen, int64_t now_ms,
    uint64_t *rev)
{
    for (int t = 0; t < LEASEKV_TRIES; t++) {
        kvEntry *e = NULL;
        natsStatus s = kvStore_Get(&e, lk->kv, key);
        if (s == NATS_NOT_FOUND)
            s = kvStore_Create(rev, lk->kv, key, value, vlen);
        else if (s == NATS_OK) {
            int mine;
            int64_t exp = leasekv_parse(e, NULL, &mine);
            uint64_t seen = kvEntry_Revision(e);
            kvEntry_Destroy(e);
            if (exp > now_ms)
                return SLOT_BUSY;
            s = kvStore_Update(rev, lk->kv, key, value, vlen, seen);
        } else {
            leasekv_log(lk, "read a slot", s);
            return SLOT_ERROR;
        }
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
    const char *lease_id, int64_t now_us, unsigned *slot, uint64_t *rev)
{
    char key[LEASEKV_KEY_MAX], value[LEASEKV_VALUE_MAX];
    int64_t now_ms = now_us / 1000, deadline = mono_ms() + LEASEKV_DEADLINE_MS;
    int vlen = leasekv_value(value, lease_id, now_ms + WIRE_LEASE_TTL * 1000ll);

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
        switch (leasekv_try_slot(lk, key, value, vlen, now_ms, rev)) {
        case SLOT_TAKEN:
            *slot = i;
            return LEASE_TAKEN;
        case SLOT_ERROR:
            return LEASE_TABLE_FULL;
        case SLOT_BUSY:
            break;
        }
    }
    return LEASE_FULL;
}

/* Write VALUE into KEY if LEASE_ID holds it at *REV, or (the revision
 * moved) holds it still at the slot's current revision. */
static leasekv_rc_t
leasekv_rewrite(leasekv_t *lk, const char *key, const char *lease_id, const char *value,
    int vlen, uint64_t *rev)
{
    natsStatus s = kvStore_Update(rev, lk->kv, key, value, vlen, *rev);
    if (s == NATS_OK)
        return LEASEKV_DONE;
    if (s != NATS_ERR) {
        leasekv_log(lk, "rewrite a slot", s);
        return LEASEKV_ERROR;
    }
    kvEntry *e = NULL;
    if ((s = kvStore_Get(&e, lk->kv, key)) == NATS_NOT_FOUND)
        return LEASEKV_LOST;
    if (s != NATS_OK) {
        leasekv_log(lk, "read a slot", s);
        return LEASEKV_ERROR;
    }
    int mine;
    (void)leasekv_parse(e, lease_id, &mine);
    uint64_t seen = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    if (!mine)
        return LEASEKV_LOST;
    s = kvStore_Update(rev, lk->kv, key, value, vlen, seen);
    if (s == NATS_OK)
        return LEASEKV_DONE;
    if (s == NATS_ERR)                  /* taken over in between */
        return LEASEKV_LOST;
    leasekv_log(lk, "rewrite a slot", s);
    return LEASEKV_ERROR;
}

leasekv_rc_t
leasekv_renew(leasekv_t *lk, const char *group, size_t glen, unsigned slot,
    const char *lease_id, int64_t now_us, uint64_t *rev)
{
    char key[LEASEKV_KEY_MAX], value[LEASEKV_VALUE_MAX];
    int vlen = leasekv_value(value, lease_id, now_us / 1000 + WIRE_LEASE_TTL * 1000ll);

    if (vlen < 0 || leasekv_key(group, glen, slot, key) < 0)
        return LEASEKV_LOST;
    if (!leasekv_up(lk))
        return LEASEKV_ERROR;
    return leasekv_rewrite(lk, key, lease_id, value, vlen, rev);
}

leasekv_rc_t
leasekv_release(leasekv_t *lk, const char *group, size_t glen, unsigned slot,
    const char *lease_id, uint64_t rev)
{
    char key[LEASEKV_KEY_MAX];

    if (leasekv_key(group, glen, slot, key) < 0)
        return LEASEKV_LOST;
    if (!leasekv_up(lk))
        return LEASEKV_ERROR;
    return leasekv_rewrite(lk, key, lease_id, LEASEKV_FREE, (int)strlen(LEASEKV_FREE), &rev);
}
