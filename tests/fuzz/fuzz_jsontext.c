/* libFuzzer target: raw JSON scanning (proto/jsontext.c) must agree with
 * jansson on every valid document: compacting the "data" member and
 * parsing it gives the same value jansson saw. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <jansson.h>
#include "jsontext.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!doc)
        return 0;
    const char *v;
    size_t vlen;
    int r = json_member((const char *)data, size, "data", &v, &vlen);
    json_t *want = json_is_object(doc) ? json_object_get(doc, "data") : NULL;
    if (!json_is_object(doc)) {
        if (r != -1) __builtin_trap();
    } else if (!want) {
        if (r != 1) __builtin_trap();
    } else {
        if (r != 0) __builtin_trap();
        char *out = malloc(vlen ? vlen : 1);
        size_t n = json_compact(v, vlen, out);
        json_t *got = json_loadb(out, n, JSON_DECODE_ANY, NULL);
        if (!got || !json_equal(got, want)) __builtin_trap();
        json_decref(got);
        free(out);
    }
    json_decref(doc);
    return 0;
}
