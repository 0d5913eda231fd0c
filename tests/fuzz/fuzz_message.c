/* libFuzzer target: the publish-message parser (proto/message.c), which
 * has its own JSON scanner: it must agree with jansson on what is JSON. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "message.h"
#include "channel.h"
#include <jansson.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_t m;
    const char *reason = NULL;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    /* jansson refuses numbers it cannot hold; we pass them through */
    int numeric = !j && (strstr(je.text, "too big") || strstr(je.text, "overflow"));
    json_decref(j);

    if (msg_parse(&m, (const char *)data, size, 65536, &reason) == 0) {
        /* what was accepted must satisfy the rules the broker relies on */
        if (m.ev.nchannels < 1 || m.ev.nchannels > ZSSE_MAX_CHANNELS)
            __builtin_trap();
        for (size_t i = 0; i < m.ev.nchannels; i++)
            if (!channel_valid(m.ev.channels[i], m.ev.channel_lens[i]))
                __builtin_trap();
        if (m.ev.event && (memchr(m.ev.event, '\n', m.ev.event_len) || memchr(m.ev.event, '\r', m.ev.event_len)))
            __builtin_trap();
        if (m.ev.kind == ZSSE_KIND_JSON && memchr(m.ev.data, '\n', m.ev.data_len))
            __builtin_trap();
        if (!j && !numeric)
            __builtin_trap();               /* we took what is not JSON */
        msg_clear(&m);
    } else if (!reason) {
        __builtin_trap();
    } else if (j && strcmp(reason, ZSSE_R_INVALID_JSON) == 0 && !memchr(data, 0, size) &&
        !memmem(data, size, "\\u0000", 6)) {
        /* valid JSON called invalid: only for a duplicate top-level key */
        json_t *d = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (d)
            __builtin_trap();
        json_decref(d);
    }
    return 0;
}
