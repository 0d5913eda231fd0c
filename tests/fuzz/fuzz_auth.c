/* libFuzzer target: token handling (proto/auth.c) with HS256 pinned */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "auth.h"

static auth_t *auth;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];

    if (!auth) {
        char path[] = "/tmp/zsse-fuzz-key.XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0 || write(fd, "fuzz-secret-0123456789abcdef0123456789", 38) != 38)
            abort();
        close(fd);
        auth_conf_t c = { .alg = "HS256", .key_file = path, .leeway = 30,
                          .require_exp = true };
        if (!(auth = auth_new(&c, err, sizeof(err))))
            abort();
        unlink(path);
    }
    json_t *claims = NULL;
    if (auth_verify(auth, (const char *)data, size, 1700000000, &claims, err, sizeof(err)) == 0) {
        /* a random input must never pass the signature check */
        __builtin_trap();
    }
    json_decref(claims);
    return 0;
}
