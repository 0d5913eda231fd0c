/* libFuzzer target: a PUSH frame that may be a batch (proto/batch.c).
 * batch_split must refuse or split within its bounds, every span must lie
 * inside the frame, in order and without overlap, and a batch it accepts
 * must be a JSON array of exactly that many elements (jansson agrees),
 * with nothing between its elements but whitespace and one comma, and
 * nothing after the last but whitespace and one ']'. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <jansson.h>
#include "batch.h"
#include "message.h"

/* [P, E) is whitespace, exactly one SEP, whitespace */
static int
fuzz_batch_gap(const char *p, const char *e, char sep)
{
    int seps = 0;
    for (; p < e; p++) {
        if (*p == sep)
            seps++;
        else if (!strchr(" \t\r\n", *p) || *p == '\0')
            return 0;
    }
    return seps == 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *reason = NULL;
    batch_span_t spans[BATCH_MAX];
    size_t n = 0;
    batch_split_t rc = batch_split(text, size, spans, &n, &reason);

    if (rc == BATCH_SPLIT_REFUSED) {
        if (!reason)
            __builtin_trap();
        return 0;
    }
    if (rc == BATCH_SPLIT_ONE)
        return 0;                       /* one message: fuzz_message's job */
    if (n < 1 || n > BATCH_MAX || size > BATCH_BYTES)
        __builtin_trap();
    const char *end = text;
    for (size_t i = 0; i < n; i++) {
        if (spans[i].p < end || spans[i].p + spans[i].len > text + size || spans[i].len == 0)
            __builtin_trap();
        /* the gap before it: '[' first, else one ',' (whitespace around) */
        if (!fuzz_batch_gap(end, spans[i].p, i == 0 ? '[' : ','))
            __builtin_trap();
        end = spans[i].p + spans[i].len;
        msg_t m;                        /* each element on its own */
        if (msg_parse(&m, spans[i].p, spans[i].len, 65536, &reason) == 0)
            msg_clear(&m);
        else if (!reason)
            __builtin_trap();
    }
    if (!fuzz_batch_gap(end, text + size, ']'))
        __builtin_trap();
    json_t *j = json_loadb(text, size, JSON_DECODE_ANY, NULL);
    if (j && (!json_is_array(j) || json_array_size(j) != n))
        __builtin_trap();
    json_decref(j);
    return 0;
}
