/*
 * ctl_harness.h -- a broker on inproc:// endpoints whose control dispatch
 * (broker_control) is driven in-process, for tests/fuzz/fuzz_ctl.c and
 * tests/unit/test_ctl.c (abstract ipc:// sockets, no files, no ports).
 * CTLH_CONFIG is its config: a small buffer and
 * one max_per_user route.
 */
#ifndef ZSSE_CTL_HARNESS_H
#define ZSSE_CTL_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "broker.h"
#include "config.h"
#include "ctl.h"

#define CTLH_CONFIG \
    "{\"broker\": {\"publish\": \"ipc://@zsse-ctlh-%d-pub\", \"events\": \"ipc://@zsse-ctlh-%d-evt\"," \
    " \"control\": \"ipc://@zsse-ctlh-%d-ctl\", \"buffer\": 8, \"max_message\": 4096}," \
    " \"auth\": {\"alg\": \"HS256\", \"key_file\": \"/nonexistent\"}," \
    " \"routes\": [{\"path\": \"/u/events\", \"channels\": [\"user/{sub}\"]," \
    " \"max_per_user\": 2}]}"

/* the broker, made on first use; NULL on failure (err says why) */
static inline broker_t *
ctlh_broker(char *err, size_t errlen)
{
    static broker_t *b;
    static config_t *cfg;
    char text[1024];
    int pid = (int)getpid();        /* abstract unix sockets: no files */
    snprintf(text, sizeof(text), CTLH_CONFIG, pid, pid, pid);
    if (!b && (cfg = config_parse(text, strlen(text), err, errlen)))
        b = broker_new(cfg, err, errlen);
    return b;
}

/* Every reply must decode as a reply to the request's op (or, when the
 * request was refused before an op was known, as an error).  0 / -1. */
static inline int
ctlh_check_reply(const ctl_arg_t *req, size_t nreq, const ctl_reply_t *out)
{
    ctl_arg_t v[64];
    ctl_rep_t rep;
    ctl_req_t q;
    ctl_op_t op = CTL_PING;         /* an error reply fits every op */
    size_t n = out->n < 64 ? out->n : 64;

    if (out->n == 0)
        return 0;                   /* an acknowledged publish: later */
    if (nreq && ctl_decode(req, nreq, &q) == CTL_E_OK)
        op = q.op;
    for (size_t i = 0; i < n; i++)
        v[i] = ctl_reply_frame(out, i);
    if (out->n > 64 && op != CTL_REPLAY && op != CTL_STATE)
        return -1;
    if (out->n > 64)
        return 0;                   /* (checked up to 64 frames) */
    return ctl_decode_reply(op, v, n, &rep) == CTL_E_OK ? 0 : -1;
}

#endif
