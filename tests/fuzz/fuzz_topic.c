/* libFuzzer target for issue 15's parsing: Mercure topic selectors and
 * topic encoding (proto/topic.c), Mercure payload headers (proto/sse.c),
 * and splitting a POSTed array (proto/jsontext.c).
 *
 * Input: SELECTOR '\n' TOPIC.  Checks: a match ends (within its budget);
 * an exact selector matches exactly itself; "*" matches anything; every
 * encodable topic gives a valid channel that decodes back to it; the
 * whole input as a payload frames without reading out of bounds; an
 * array jansson accepts splits into elements jansson accepts, as many. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "channel.h"
#include "jsontext.h"
#include "route.h"
#include "sse.h"
#include "topic.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = memchr(in, '\n', size);
    if (nl && !memchr(in, '\0', size)) {
        *nl = '\0';
        const char *sel = in, *topic = nl + 1;
        bool m = topic_match(sel, topic);
        if (!strchr(sel, '{') && strcmp(sel, "*") != 0 && m != (strcmp(sel, topic) == 0))
            __builtin_trap();
        if (!topic_match("*", topic))
            __builtin_trap();
        (void)topic_selector_valid(sel, strlen(sel));
        buf_t b;
        buf_init(&b, 0);
        if (topic_channel(&b, topic, strlen(topic)) == 0) {
            char back[512];
            if (!channel_valid(b.data, b.len))
                __builtin_trap();
            const char *enc = b.data + strlen(TOPIC_PREFIX);
            int n = url_decode(enc, strlen(enc), back, sizeof(back), false);
            if (n < 0 || strcmp(back, topic) != 0)
                __builtin_trap();
        }
        buf_free(&b);
    }
    /* the raw input as a Mercure datum */
    buf_t out;
    buf_init(&out, 0);
    sse_mercure_t mp;
    (void)sse_mercure_parse((const char *)data, size, &mp);
    (void)sse_event(&out, SSE_MERCURE, 7, "e", 1, (const char *)data, size, 's');
    buf_free(&out);
    /* an array split */
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (json_is_array(doc)) {
        size_t pos = 0, vl, count = 0;
        const char *v;
        int r;
        while ((r = jsontext_array_next((const char *)data, size, &pos, &v, &vl)) == 0) {
            json_t *e = json_loadb(v, vl, JSON_DECODE_ANY, NULL);
            if (!e || !json_equal(e, json_array_get(doc, count)))
                __builtin_trap();
            json_decref(e);
            count++;
        }
        if (r != 1 || count != json_array_size(doc))
            __builtin_trap();
    }
    json_decref(doc);
    free(in);
    return 0;
}
