/* libFuzzer target: Last-Event-ID parsing (proto/wire.c) */
#include <stdint.h>
#include <stddef.h>
#include "wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t id;
    char back[32];

    if (wire_parse_id((const char *)data, size, &id) == 0) {
        if (id > WIRE_ID_MAX)
            __builtin_trap();
        size_t n = wire_fmt_id(back, id);
        uint64_t again;
        if (wire_parse_id(back, n, &again) != 0 || again != id)
            __builtin_trap();
    }
    return 0;
}
