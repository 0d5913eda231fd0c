#!/usr/bin/env bash
# contrib/examples/sync.json behind lighttpd (socket) -> external zsse-fcgi:
# "something changed, pull now" per (app, user): event "changed" with empty
# data, ": keepalive" comments, a buffer of 16 and the reset event beyond.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init ex-sync
t_key
# only the keepalive interval is shortened (30 s -> 1 s) to keep this quick
t_example sync routes.0.heartbeat.interval=1
t_start_broker
srv_fcgi_listen 8
srv_lighttpd socket
B="http://127.0.0.1:$WEB_PORT/api/sync/subscribe"
SSE="$top_srcdir/tests/sse.py"
ES="$top_srcdir/tests/browser/es.mjs"

tok=$(zsse token --sub usr_1 --channels 'sync/app_1/usr_1')
H="Authorization: Bearer $tok"

eq "app not granted: 403" 403 "$("$SSE" "$B?app_id=app_2" -H "$H" --status -t 5 | head -1 | jget status)"
eq "no app_id: 400" 400 "$("$SSE" "$B" -H "$H" --status -t 5 | head -1 | jget status)"

"$SSE" "$B?app_id=app_1" -H "$H" -n 1 -t 10 --comments > "$T/live.out" &
c=$!
t_until 100 grep -q keepalive "$T/live.out"
ok "': keepalive' comment" grep -q '{"comment": " keepalive"}' "$T/live.out"
id1=$(zsse publish --ack -C sync/app_1/usr_1 -e changed -d '""')
wait $c
eq "changed event with empty data" '{"id": "'"$id1"'", "event": "changed", "data": ""}' \
    "$(grep '"event"' "$T/live.out")"

# missed 10 (fits the buffer of 16): replayed; missed 20: reset, pull
for i in $(seq 10); do zsse publish --ack -C sync/app_1/usr_1 -e changed -d '""' > /dev/null; done
"$SSE" "$B?app_id=app_1" -H "$H" -H "Last-Event-ID: $id1" -n 10 -t 10 > "$T/replay.out"
eq "10 missed changes replayed" 10 "$(grep -c '"changed"' "$T/replay.out")"
last=$(tail -1 "$T/replay.out" | jget id)
for i in $(seq 20); do zsse publish --ack -C sync/app_1/usr_1 -e changed -d '""' > /dev/null; done
"$SSE" "$B?app_id=app_1" -H "$H" -H "Last-Event-ID: $last" -n 1 -t 10 > "$T/reset.out"
eq "20 missed: told to pull" reset "$(nth "$T/reset.out" 1 | jget event)"
eq "reset reason" "too old" "$(nth "$T/reset.out" 1 | jget data | jget reason)"

# a browser EventSource listener gets the empty-data event (cookie auth)
node "$ES" "$B?app_id=app_1" --listen changed --count 1 --timeout 20 \
    --cookie "zsse_token=$tok" > "$T/browser.out" &
b=$!
# (open: the headers are in, and zsse-fcgi writes them once subscribed)
ok "browser: the stream opens" t_until 150 grep -q '!open' "$T/browser.out"
zsse publish -C sync/app_1/usr_1 -e changed -d '""'
wait $b
ok "browser listener got 'changed' with data \"\"" \
    grep -q '{"type":"changed","data":"","lastEventId":"[0-9]*"}' "$T/browser.out"
t_done
