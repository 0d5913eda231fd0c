/*
 * test_ctl.c -- the control codec (proto/ctl.c) and the broker's control
 * dispatch (broker_control, in-process): every operation with 0..N
 * argument frames, every argument past its size bound, the 3-frame replay
 * that once aborted the broker, replies that decode as what they answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <cmocka.h>
#include "ctl_harness.h"
#include "wire.h"

static char big[CTL_REPLY_MAX + 2];

/* a valid-looking argument I of OP */
static ctl_arg_t
arg_for(ctl_op_t op, size_t i)
{
    const ctl_opdef_t *d = &ctl_ops[op];
    if (op == CTL_REPLAY && i == 0) return (ctl_arg_t){ "0", 1 };
    if (op == CTL_REPLAY && i == 1) return (ctl_arg_t){ "c", 1 };
    if (op == CTL_PUBLISH)
        return (ctl_arg_t){ "{\"channel\":\"user/1\",\"data\":1}", 29 };
    if (op == CTL_LEASE && i == 2) return (ctl_arg_t){ "2", 1 };
    size_t lo = i < d->nfixed ? d->fixed[i].min : d->rest_min;
    if (op == CTL_REPLAY || op == CTL_STATE || (op == CTL_LEASE && i == 0))
        return (ctl_arg_t){ "user/1", 6 };
    return (ctl_arg_t){ "0123456789abcdef0123456789abcdef", lo ? lo : 1 };
}

/* frame counts worth trying for OP: 0..max+2, sampled for long lists */
static int
counts(ctl_op_t op, size_t *out)
{
    int n = 0;
    for (size_t k = 0; k <= ctl_ops[op].max + 2; k++)
        if (k < 24 || k + 3 > ctl_ops[op].max)
            out[n++] = k;
    return n;
}

static void
every_op_every_count(void **state)
{
    (void)state;
    static ctl_arg_t f[CTL_ARGS_MAX + 4];
    char err[256];
    broker_t *b = ctlh_broker(err, sizeof(err));
    ctl_reply_t out;
    ctl_req_t q;
    size_t ks[64];

    assert_non_null(b);
    ctl_reply_init(&out);
    for (int op = 0; op < CTL_NOPS; op++) {
        int nk = counts((ctl_op_t)op, ks);
        for (int j = 0; j < nk; j++) {
            size_t nargs = ks[j];
            f[0] = (ctl_arg_t){ ctl_ops[op].name, strlen(ctl_ops[op].name) };
            for (size_t i = 0; i < nargs; i++)
                f[1 + i] = arg_for((ctl_op_t)op, i);
            int fits = nargs >= ctl_ops[op].min && nargs <= ctl_ops[op].max;
            ctl_err_t e = ctl_decode(f, 1 + nargs, &q);
            if (fits) {
                assert_int_equal(e, CTL_E_OK);
                assert_int_equal(q.op, op);
                assert_int_equal(q.nargs, nargs);
            } else {
                assert_int_equal(e, CTL_E_COUNT);
            }
            broker_control(b, "peer", 4, f, 1 + nargs, &out);
            assert_int_equal(ctlh_check_reply(f, 1 + nargs, &out), 0);
            if (!fits) {
                ctl_arg_t st = ctl_reply_frame(&out, 0);
                assert_true(ctl_arg_is(&st, "error"));
            }
        }
    }
    ctl_reply_free(&out);
}

/* each argument one byte past its bound (and one short of its minimum) */
static void
sizes_checked_first(void **state)
{
    (void)state;
    ctl_arg_t f[8];
    ctl_req_t q;

    for (int op = 0; op < CTL_NOPS; op++) {
        const ctl_opdef_t *d = &ctl_ops[op];
        if (d->min == 0)
            continue;
        for (size_t bad = 0; bad < d->min; bad++) {
            f[0] = (ctl_arg_t){ d->name, strlen(d->name) };
            for (size_t i = 0; i < d->min; i++)
                f[1 + i] = arg_for((ctl_op_t)op, i);
            size_t hi = bad < d->nfixed ? d->fixed[bad].max : d->rest_max;
            size_t lo = bad < d->nfixed ? d->fixed[bad].min : d->rest_min;
            f[1 + bad] = (ctl_arg_t){ big, hi + 1 };
            assert_int_equal(ctl_decode(f, 1 + d->min, &q), CTL_E_SIZE);
            if (lo) {
                f[1 + bad] = (ctl_arg_t){ big, lo - 1 };
                assert_int_equal(ctl_decode(f, 1 + d->min, &q), CTL_E_SIZE);
            }
        }
    }
    f[0] = (ctl_arg_t){ "frobnicate", 10 };
    assert_int_equal(ctl_decode(f, 1, &q), CTL_E_UNKNOWN);
    assert_int_equal(ctl_decode(f, 0, &q), CTL_E_EMPTY);
    /* the encoder refuses what the decoder would (no socket is touched) */
    errno = 0;
    assert_int_equal(ctl_send(NULL, CTL_REPLAY, f, 1), -1);
    assert_int_equal(errno, EINVAL);
}

/* the request that aborted the broker: empty delimiter, replay, 0 */
static void
replay_three_frames(void **state)
{
    (void)state;
    char err[256];
    broker_t *b = ctlh_broker(err, sizeof(err));
    ctl_arg_t f[2] = { { "replay", 6 }, { "0", 1 } };
    ctl_reply_t out;

    assert_non_null(b);
    ctl_reply_init(&out);
    broker_control(b, "peer", 4, f, 2, &out);
    ctl_arg_t st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "error"));
    ctl_reply_free(&out);
}

/* a publish is stored at once; replay and state return it, decodable */
static void
publish_then_replay(void **state)
{
    (void)state;
    char err[256];
    broker_t *b = ctlh_broker(err, sizeof(err));
    const char *msg = "{\"channel\":\"t/1\",\"event\":\"e\",\"key\":\"k\",\"data\":{\"x\":1}}";
    ctl_arg_t pub[2] = { { "publish", 7 }, { msg, strlen(msg) } };
    ctl_arg_t rp[4] = { { "replay", 6 }, { "0", 1 }, { "c", 1 }, { "t/1", 3 } };
    ctl_arg_t stq[2] = { { "state", 5 }, { "t/1", 3 } };
    ctl_arg_t v[16];
    ctl_reply_t out;
    ctl_rep_t rep;
    wire_event_t ev;

    ctl_reply_init(&out);
    broker_control(b, "peer", 4, pub, 2, &out);
    assert_int_equal(out.n, 0);                 /* acknowledged at commit */
    broker_commit(b);                           /* stored only then (journal.h) */
    for (int k = 0; k < 2; k++) {
        broker_control(b, "peer", 4, k ? stq : rp, k ? 2 : 4, &out);
        assert_true(out.n <= 16);
        for (size_t i = 0; i < out.n; i++)
            v[i] = ctl_reply_frame(&out, i);
        assert_int_equal(ctl_decode_reply(k ? CTL_STATE : CTL_REPLAY, v, out.n, &rep), CTL_E_OK);
        assert_int_equal(rep.status, CTL_OK);
        assert_int_equal(rep.nevents, 1);
        ctl_rep_event(v, &rep, 0, &ev);
        assert_int_equal(ev.channel_len, 3);
        assert_int_equal(ev.data_len, 7);
        assert_memory_equal(ev.data, "{\"x\":1}", 7);
    }
    ctl_reply_free(&out);
}

/* replies: wrong status, count, or a malformed event are refused */
static void
replies_checked(void **state)
{
    (void)state;
    unsigned char pl[WIRE_PAYLOAD_MIN];
    ctl_arg_t v[6];
    ctl_rep_t rep;

    wire_hdr_put(pl, 42, 'j');
    pl[WIRE_HDR_LEN] = 0;
    v[0] = (ctl_arg_t){ "ok", 2 };
    v[1] = (ctl_arg_t){ "42", 2 };
    v[2] = (ctl_arg_t){ "c/1", 3 };
    v[3] = (ctl_arg_t){ (char *)pl, sizeof(pl) };
    assert_int_equal(ctl_decode_reply(CTL_REPLAY, v, 4, &rep), CTL_E_OK);
    assert_int_equal(ctl_decode_reply(CTL_REPLAY, v, 3, &rep), CTL_E_COUNT);
    assert_int_equal(ctl_decode_reply(CTL_PING, v, 2, &rep), CTL_E_COUNT);
    assert_int_equal(ctl_decode_reply(CTL_HEAD, v, 2, &rep), CTL_E_OK);
    v[3].len = WIRE_HDR_LEN;                    /* a payload cut short */
    assert_int_equal(ctl_decode_reply(CTL_REPLAY, v, 4, &rep), CTL_E_EVENT);
    v[0] = (ctl_arg_t){ "maybe", 5 };
    assert_int_equal(ctl_decode_reply(CTL_HEAD, v, 2, &rep), CTL_E_STATUS);
    v[0] = (ctl_arg_t){ "full", 4 };
    assert_int_equal(ctl_decode_reply(CTL_HEAD, v, 2, &rep), CTL_E_STATUS);
}

/* leases: the connection's own, bounded per connection */
static void
leases_owned_and_bounded(void **state)
{
    (void)state;
    char err[256], sub[16], id[CTL_LEASE_ID_LEN + 1];
    broker_t *b = ctlh_broker(err, sizeof(err));
    ctl_arg_t take[4] = { { "lease", 5 }, { "/u/events", 9 }, { "u1", 2 }, { "t", 1 } };
    ctl_arg_t rel[2] = { { "release", 7 }, { NULL, CTL_LEASE_ID_LEN } };
    ctl_reply_t out;
    ctl_arg_t st;
    int i;

    ctl_reply_init(&out);
    broker_control(b, "A", 1, take, 4, &out);
    st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "ok"));
    st = ctl_reply_frame(&out, 2);
    assert_int_equal(st.len, CTL_LEASE_ID_LEN);
    memcpy(id, st.p, CTL_LEASE_ID_LEN);
    rel[1].p = id;
    broker_control(b, "A", 1, take, 4, &out);                  /* limit 2 */
    broker_control(b, "A", 1, take, 4, &out);
    st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "full"));
    broker_control(b, "B", 1, rel, 2, &out);                   /* not B's */
    broker_control(b, "A", 1, take, 4, &out);
    st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "full"));
    broker_control(b, "A", 1, rel, 2, &out);                   /* A's own */
    broker_control(b, "A", 1, take, 4, &out);
    st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "ok"));
    /* one connection: at most LEASE_PER_OWNER_MAX (100,000) */
    take[2] = (ctl_arg_t){ sub, 0 };
    for (i = 0; i < 100001; i++) {
        take[2].len = (size_t)snprintf(sub, sizeof(sub), "c%d", i);
        broker_control(b, "C", 1, take, 4, &out);
        st = ctl_reply_frame(&out, 0);
        if (!ctl_arg_is(&st, "ok"))
            break;
    }
    assert_int_equal(i, 100000);
    assert_true(ctl_arg_is(&st, "refused"));
    broker_control(b, "D", 1, take, 4, &out);                  /* another may */
    st = ctl_reply_frame(&out, 0);
    assert_true(ctl_arg_is(&st, "ok"));
    ctl_reply_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_op_every_count),
        cmocka_unit_test(sizes_checked_first),
        cmocka_unit_test(replay_three_frames),
        cmocka_unit_test(publish_then_replay),
        cmocka_unit_test(replies_checked),
        cmocka_unit_test(leases_owned_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
