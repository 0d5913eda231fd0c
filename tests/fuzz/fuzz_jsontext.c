/* libFuzzer target: raw JSON scanning (proto/jsontext.c) must agree with
 * jansson on every valid document: compacting it and parsing the result
 * gives the same value jansson saw. */
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
    char *out = malloc(size ? size : 1);
    size_t n = jsontext_compact((const char *)data, size, out);
    json_t *got = json_loadb(out, n, JSON_REJECT_DUPLICATES, NULL);
    if (!got || !json_equal(got, doc)) __builtin_trap();
    json_decref(got);
    free(out);
    json_decref(doc);
    return 0;
}
