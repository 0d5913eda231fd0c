#!/usr/bin/env bash
# contrib/js/zsse.js against Chromium's own EventSource as the oracle (issue
# 13 item 7): every stream of tests/browser/corpus served in every chunking
# (whole, byte by byte, split inside CRLF and inside UTF-8 characters,
# random) to both side by side in headless Chromium; the events, the
# requests with their Last-Event-ID bytes, and whether each client stopped
# must match.  tests/browser/diff.mjs holds its own test server (node http
# on 127.0.0.1, random ports).
. "$top_srcdir/tests/lib.sh"
t_init js-diff
rc=0
node "$top_srcdir/tests/browser/diff.mjs" "$top_srcdir/tests/browser/corpus" \
    > "$T/diff.out" 2> "$T/diff.err" || rc=$?
cat "$T/diff.out"
[ -s "$T/diff.err" ] && sed 's/^/# /' "$T/diff.err"
ok "zsse.js = EventSource on every corpus case in every chunking ($(tail -1 "$T/diff.out"))" \
    test "$rc" = 0
t_done
