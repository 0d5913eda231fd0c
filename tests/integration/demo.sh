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
# the page itself runs in headless Chromium in demo_board.sh (cards move,
# the balance updates, a reload resumes without a gap)
kill -INT -- -"$demo" 2>/dev/null
wait "$demo" 2>/dev/null
ok "Ctrl-C stops everything it started" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
ok "and says so" grep -q 'demo: stopped' "$T/demo.out"
t_done
