#!/usr/bin/env bash
# contrib/js/zsse.js's reconnect paths in headless Chromium against the test
# server of tests/browser/reconnect.mjs (node http, 127.0.0.1, random port):
# - issue 13 item 7: `retry: 0` before a failing server, servers that end
#   every stream at once (with an event, a comment, nothing, an auth-expiry
#   event), streams cut mid-way: attempts stay at least 1 s apart;
# - issue 13 item 1 (client side): 50 consecutive token expiries under a
#   steady event flow (the server sends `event: auth_expired` at the token's
#   exp and ends the stream): a fresh token() and an immediate reconnect with
#   Last-Event-ID each time, nothing lost, nothing repeated.
. "$top_srcdir/tests/lib.sh"
t_init js-reconnect
for m in rate expiry; do
    rc=0
    node "$top_srcdir/tests/browser/reconnect.mjs" $m > "$T/$m.out" 2> "$T/$m.err" || rc=$?
    cat "$T/$m.out"
    [ -s "$T/$m.err" ] && sed 's/^/# /' "$T/$m.err"
    ok "reconnect.mjs $m: every check passed" test "$rc" = 0
done
t_done
