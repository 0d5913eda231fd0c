#!/usr/bin/env bash
# contrib/demo/run's page in headless Chromium (tests/browser/demo.mjs):
# the task board is drawn from the board's state, a card moves to another
# column as a task_moved event arrives and flashes, the balance and the
# broker's figures (/metrics) show numbers, two screenshots differ, and a
# reload in the middle resumes from the Last-Event-ID without a gap.
. "$top_srcdir/tests/lib.sh"
t_init demo-board
if [ ! -x "$top_srcdir/build/default/zsse-fcgi" ]; then
    echo "demo: no build/default (tests/run makes it); skipped"
    exit 77
fi
PORT=$(t_port)
ZSSE_DEMO_PORT=$PORT ZSSE_DEMO_INTERVAL=0.5 setsid "$top_srcdir/contrib/demo/run" > "$T/demo.out" 2>&1 &
demo=$!
T_PIDS+=("$demo")
ok "the demo comes up" t_until 600 grep -q "http://127.0.0.1:$PORT/" "$T/demo.out"
ok "/metrics answers Prometheus text" bash -c \
    "curl -s http://127.0.0.1:$PORT/metrics | grep -q '^zsse_events_published_total '"

(cd "$top_srcdir/tests/browser" && timeout 120 node demo.mjs "http://127.0.0.1:$PORT/" "$T") \
    > "$T/browser.out" 2> "$T/browser.err"
r=$(grep '^{' "$T/browser.out" | tail -1)
[ -n "$r" ] || cat "$T/browser.err"
echo "# $r"
j() { jget "$1" <<<"$r"; }
eq "six cards on the board" 6 "$(j cards)"
mv=$(j moved)
ok "a card moved to another column ($mv)" eval '[ "$mv" != None ] && [ "$(j moved.from)" != "$(j moved.to)" ]'
eq "a card flashed when its event arrived" True "$(j flashed)"
ok "the balance is a number ($(j balance))" eval '[[ "$(j balance)" =~ ^[0-9,]+$ ]]'
ok "the broker's figures: streams open ($(j streams)), events/s ($(j rate))" \
    eval '[[ "$(j streams)" =~ ^[0-9]+$ ]] && [ "$(j streams)" -ge 1 ] && [[ "$(j rate)" =~ ^[0-9.]+$ ]]'
ok "two screenshots taken, and they differ" eval \
    '[ -s "$T/demo-1.png" ] && [ -s "$T/demo-2.png" ] && ! cmp -s "$T/demo-1.png" "$T/demo-2.png"'
eq "after a reload: resumed from the Last-Event-ID" True "$(j resumed)"
eq "after a reload: no gap" 0 "$(j gapsAfter)"
ok "after a reload: the next move is the one after the last seen ($(j lastNBefore) -> $(j firstNAfter))" \
    eval 'd=$(( $(j firstNAfter) - $(j lastNBefore) )); [ "$d" -ge 1 ] && [ "$d" -le 3 ]'
kill -INT -- -"$demo" 2>/dev/null
wait "$demo" 2>/dev/null
ok "Ctrl-C stops it" grep -q 'demo: stopped' "$T/demo.out"
t_done
