#!/usr/bin/env bash
# contrib/demo/run as a newcomer runs it: it comes up, the page is served,
# both demo streams deliver events, and Ctrl-C stops everything it started.
. "$top_srcdir/tests/lib.sh"
t_init demo-run
if [ ! -x "$top_srcdir/build/default/zsse-fcgi" ]; then
    echo "demo: no build/default (tests/run makes it); skipped"
    exit 77
fi
PORT=$(t_port)
ZSSE_DEMO_PORT=$PORT setsid "$top_srcdir/contrib/demo/run" > "$T/demo.out" 2>&1 &
demo=$!
T_PIDS+=("$demo")
ok "the demo comes up and says what to open" t_until 600 grep -q "http://127.0.0.1:$PORT/" "$T/demo.out"
ok "the page is served" bash -c "curl -s http://127.0.0.1:$PORT/ | grep -q EventSource"
ok "the board stream delivers the publisher's events" bash -c \
    "timeout 5 curl -sN http://127.0.0.1:$PORT/boards/demo/events | grep -m1 -q 'event: task_moved'"
tokfile=$(sed -n 's/.*token=\$(cat \([^)]*\)).*/\1/p' "$T/demo.out")
ok "the per-user stream (JWT, envelope, snapshot) delivers" bash -c \
    "timeout 6 curl -sN \"http://127.0.0.1:$PORT/me/events?token=\$(cat $tokfile)\" | grep -m1 -q 'balance.changed'"
# the page itself, in a real browser: its own EventSources fill both lists
# and say "live" (nothing intercepted; the token is fetched as the page does)
node "$top_srcdir/tests/browser/page.mjs" "http://127.0.0.1:$PORT/" --lists board,me --min 2 \
    --timeout 30 > "$T/page.out" 2> "$T/page.err"
echo "# the page showed: $(cut -c1-300 "$T/page.out")"
eq "browser: the page's board list fills (>= 2 items)" 1 \
    "$(jget lists.board < "$T/page.out" | python3 -c 'import json,sys; print(int(len(json.load(sys.stdin)) >= 2))')"
eq "browser: the page's balance list fills (>= 2 items)" 1 \
    "$(jget lists.me < "$T/page.out" | python3 -c 'import json,sys; print(int(len(json.load(sys.stdin)) >= 2))')"
eq "browser: both streams say live" "live live" \
    "$(jget status.board-st < "$T/page.out") $(jget status.me-st < "$T/page.out")"
eq "browser: no page errors" "[]" "$(jget errors < "$T/page.out")"
kill -INT -- -"$demo" 2>/dev/null
wait "$demo" 2>/dev/null
ok "Ctrl-C stops everything it started" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
ok "and says so" grep -q 'demo: stopped' "$T/demo.out"
t_done
