/* libFuzzer target: the broker's control dispatch (broker_control) with
 * arbitrary multi-frame requests.  The input is frames, each a 1-byte
 * length then that many bytes (a frame past the input's end is cut
 * short); the first frame is the op.  Every reply must decode as a reply
 * to that op (ctl_decode_reply), and nothing may crash or leak. */
// (its other sources: tests/fuzz/Makefile.inc)
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "ctl_harness.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ctl_arg_t f[CTL_ARGS_MAX + 8];
    static ctl_reply_t out;
    static int init;
    char err[256];
    broker_t *b = ctlh_broker(err, sizeof(err));
    size_t n = 0, i = 0;

    if (!b) {
        fprintf(stderr, "fuzz_ctl: no broker: %s\n", err);
        __builtin_trap();
    }
    if (!init) {
        ctl_reply_init(&out);
        init = 1;
    }
    while (i < size && n < sizeof(f) / sizeof(f[0])) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        f[n++] = (ctl_arg_t){ (const char *)data + i, len };
        i += len;
    }
    /* the identity: the input's first byte picks one of a few peers */
    char ident[2] = { 'p', size ? (char)('0' + data[0] % 4) : '0' };
    broker_control(b, ident, sizeof(ident), f, n, &out);
    if (ctlh_check_reply(f, n, &out) < 0)
        __builtin_trap();
    return 0;
}
