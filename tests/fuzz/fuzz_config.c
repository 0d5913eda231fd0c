/* libFuzzer target: the strict config loader (proto/config.c) */
#include <stdint.h>
#include <stddef.h>
#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    config_t *c = config_parse((const char *)data, size, err, sizeof(err));

    if (c)
        config_destroy(&c);
    else if (err[0] == '\0')
        __builtin_trap();           /* every refusal says why */
    return 0;
}
