/* cmocka tests for broker/natskey.c: every byte value round-trips, every
 * encoding is one NATS subject token and a valid JetStream KV key (the
 * rules of nats.c's kv.c validKey and of subjects, checked here by hand),
 * the SPEC's channel characters and a 255-byte channel, dots and
 * wildcards, the bounds of OUT, and strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "natskey.h"

/* a valid one-token subject and KV key: [-_=A-Za-z0-9]+, no '.', '*',
 * '>', '/', whitespace */
static void
assert_token(const char *s, size_t n)
{
    assert_true(n > 0);
    assert_int_equal(strlen(s), n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '=');
    }
}

static void
round_trip(const char *in, size_t len)
{
    char enc[NATSKEY_MAX(1024)], dec[1024];

    assert_true(len <= 1024);
    ssize_t n = natskey_encode(in, len, enc, sizeof(enc));
    assert_true(n > 0);
    assert_true((size_t)n < NATSKEY_MAX(len));
    assert_token(enc, (size_t)n);
    ssize_t m = natskey_decode(enc, (size_t)n, dec, sizeof(dec));
    assert_int_equal(m, (ssize_t)len);
    assert_memory_equal(dec, in, len);
}

static void
test_every_byte(void **st)
{
    (void)st;
    char all[256];

    for (int c = 0; c < 256; c++) {
        char one = (char)c, two[2] = { (char)c, 'x' };
        round_trip(&one, 1);
        round_trip(two, 2);
        all[c] = (char)c;
    }
    round_trip(all, sizeof(all));

    /* kept bytes stay as they are, the rest become =XX (uppercase) */
    char enc[64];
    assert_int_equal(natskey_encode("aZ09_-", 6, enc, sizeof(enc)), 6);
    assert_string_equal(enc, "aZ09_-");
    assert_int_equal(natskey_encode("a.b", 3, enc, sizeof(enc)), 5);
    assert_string_equal(enc, "a=2Eb");
    assert_int_equal(natskey_encode("=", 1, enc, sizeof(enc)), 3);
    assert_string_equal(enc, "=3D");
    assert_int_equal(natskey_encode("caf\xc3\xa9", 5, enc, sizeof(enc)), 9);
    assert_string_equal(enc, "caf=C3=A9");
    assert_int_equal(natskey_encode("\0\xff", 2, enc, sizeof(enc)), 6);
    assert_string_equal(enc, "=00=FF");
}

/* SPEC 4: 1..255 bytes of UTF-8 without whitespace or control characters,
 * so every printable ASCII byte, and multibyte UTF-8 */
static void
test_spec_channels(void **st)
{
    (void)st;
    const char *names[] = {
        "user/usr_demo_123", "news", "a.b.c", "*", ">", "a.*", "a.>", "..", ".", "a..b",
        "$SYS", "%2F", "a=b", "=3D", "x\\y", "\"q\"", "{}[]()", "café", "日本語", "😀",
        "#tag?x=1&y=2", "~!@^`|';:,<>",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        round_trip(names[i], strlen(names[i]));

    char printable[95];
    for (int c = 0x21; c < 0x7f; c++)
        printable[c - 0x21] = (char)c;
    round_trip(printable, 0x7f - 0x21);

    /* the longest channel, all escaped: 765 bytes and a NUL */
    char longest[255], enc[NATSKEY_MAX(255)];
    memset(longest, '.', sizeof(longest));
    round_trip(longest, sizeof(longest));
    assert_int_equal(natskey_encode(longest, sizeof(longest), enc, sizeof(enc)), 765);
    assert_int_equal(natskey_encode(longest, sizeof(longest), enc, sizeof(enc) - 1), -1);
    assert_string_equal(enc, "");
    /* and 255 bytes of multibyte UTF-8 */
    char utf[255];
    for (size_t i = 0; i + 3 <= sizeof(utf); i += 3)
        memcpy(utf + i, "\xe6\x97\xa5", 3);
    round_trip(utf, sizeof(utf));
    /* different names never share an encoding */
    char e1[16], e2[16];
    natskey_encode("a.b", 3, e1, sizeof(e1));
    natskey_encode("a=2Eb", 5, e2, sizeof(e2));
    assert_string_not_equal(e1, e2);
}

static void
test_bounds(void **st)
{
    (void)st;
    char out[8];

    assert_int_equal(natskey_encode("", 0, out, sizeof(out)), -1);     /* empty: refused */
    assert_int_equal(natskey_encode("abc", 3, out, 0), -1);
    assert_int_equal(natskey_encode("abc", 3, out, 3), -1);            /* no room for the NUL */
    assert_int_equal(natskey_encode("abc", 3, out, 4), 3);
    assert_int_equal(natskey_encode("ab.", 3, out, 5), -1);            /* "ab=2E" needs 6 */
    assert_string_equal(out, "");
    assert_int_equal(natskey_encode("ab.", 3, out, 6), 5);
    assert_string_equal(out, "ab=2E");
    /* decode into too little */
    assert_int_equal(natskey_decode("abc", 3, out, 2), -1);
    assert_int_equal(natskey_decode("=2E=2E", 6, out, 1), -1);
    assert_int_equal(natskey_decode("=2E=2E", 6, out, 2), 2);
    assert_memory_equal(out, "..", 2);
}

static void
test_malformed(void **st)
{
    (void)st;
    char out[64];
    const char *bad[] = {
        "",             /* empty */
        "a.b",          /* a separator */
        "a*", ">", "a/b", "a b", "caf\xc3\xa9",
        "=",            /* truncated escapes */
        "=2", "ab=", "ab=4",
        "=2e",          /* lowercase hex */
        "=G0", "=-1", "==3D",
        "=41",          /* 'A' escaped: encode keeps it, so not canonical */
        "=5F", "=2D", "=30",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(natskey_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -1);
    /* LEN bounds the read: a valid prefix of a longer buffer */
    assert_int_equal(natskey_decode("ab=2Ezz", 2, out, sizeof(out)), 2);
    assert_int_equal(natskey_decode("ab=2Ezz", 4, out, sizeof(out)), -1);   /* "ab=2" */
    assert_int_equal(natskey_decode("=00", 3, out, sizeof(out)), 1);
    assert_int_equal(out[0], '\0');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_spec_channels),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
