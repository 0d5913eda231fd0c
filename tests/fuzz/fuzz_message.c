/* libFuzzer target: the publish-message parser (proto/message.c) */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "message.h"
#include "channel.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_t m;
    const char *reason = NULL;

    if (msg_parse(&m, (const char *)data, size, 65536, &reason) == 0) {
        /* what was accepted must satisfy the rules the broker relies on */
        if (m.nchannels < 1 || m.nchannels > ZSSE_MAX_CHANNELS)
            __builtin_trap();
        for (size_t i = 0; i < m.nchannels; i++)
            if (!channel_valid(m.channels[i], m.channel_lens[i]))
                __builtin_trap();
        if (m.event && (memchr(m.event, '\n', m.event_len) || memchr(m.event, '\r', m.event_len)))
            __builtin_trap();
        if (m.kind == ZSSE_KIND_JSON && memchr(m.data, '\n', m.data_len))
            __builtin_trap();
        msg_clear(&m);
    } else if (!reason) {
        __builtin_trap();
    }
    return 0;
}
