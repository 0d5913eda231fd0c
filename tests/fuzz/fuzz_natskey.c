/* libFuzzer target for broker/natskey.c (issue 14 item 3).
 *
 * Input: any bytes.  Checks: the input encodes (unless empty) into
 * [-_=A-Za-z0-9] only, at most NATSKEY_MAX bytes, and decodes back to
 * itself; one byte less of room is refused; the input taken as an
 * encoding either fails to decode or decodes to bytes that encode back to
 * exactly it (decoding is strict, one encoding per name).  The buffers are
 * malloc'ed to their exact sizes, so ASan sees any read or write past
 * LEN or CAP. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "natskey.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t cap = NATSKEY_MAX(size);
    char *enc = malloc(cap), *dec = malloc(size ? size : 1);

    ssize_t n = natskey_encode(in, size, enc, cap);
    if (size == 0) {
        if (n != -1)
            __builtin_trap();
    } else {
        if (n <= 0 || (size_t)n >= cap || enc[n] != '\0')
            __builtin_trap();
        for (ssize_t i = 0; i < n; i++) {
            char c = enc[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '='))
                __builtin_trap();
        }
        if (natskey_decode(enc, (size_t)n, dec, size) != (ssize_t)size ||
            memcmp(dec, in, size) != 0)
            __builtin_trap();
        /* exactly the room it needs, and not a byte less */
        char *tight = malloc((size_t)n + 1);
        if (natskey_encode(in, size, tight, (size_t)n + 1) != n ||
            natskey_encode(in, size, tight, (size_t)n) != -1)
            __builtin_trap();
        free(tight);
    }

    /* the input as an encoding: strict, canonical */
    ssize_t m = natskey_decode(in, size, dec, size);
    if (m >= 0) {
        char *back = malloc(NATSKEY_MAX((size_t)m));
        if (natskey_encode(dec, (size_t)m, back, NATSKEY_MAX((size_t)m)) != (ssize_t)size ||
            memcmp(back, in, size) != 0)
            __builtin_trap();
        free(back);
    }
    free(enc);
    free(dec);
    return 0;
}
