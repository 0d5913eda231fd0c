#!/usr/bin/env bash
# contrib/examples/board.json behind lighttpd (bin-path): a live task board
# with named events, id: lines, a connected event, Last-Event-ID replay from
# a buffer of 100, readable only with a granting token.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init ex-board
t_key
t_example board
t_start_broker
srv_lighttpd binpath 4
B="http://127.0.0.1:$WEB_PORT/boards"
SSE="$top_srcdir/tests/sse.py"
ES="$top_srcdir/tests/browser/es.mjs"

tok=$(zsse token --sub alice --channels 'board/b1,board/b3')
H="Authorization: Bearer $tok"

eq "no token: 401" 401 "$("$SSE" "$B/b1/events" --status -t 5 | head -1 | jget status)"
eq "board not granted: 403" 403 "$("$SSE" "$B/b2/events" -H "$H" --status -t 5 | head -1 | jget status)"
eq "unknown path: 404" 404 "$("$SSE" "http://127.0.0.1:$WEB_PORT/boards/b1" -H "$H" --status -t 5 | head -1 | jget status)"

"$SSE" "$B/b1/events" -H "$H" -n 4 -t 10 --comments > "$T/live.out" &
c=$!
t_until 100 grep -q connected "$T/live.out"
i1=$(zsse publish --ack -C board/b1 -e task_created -d '{"id":"t1","title":"Write tests","column":"todo"}')
i2=$(zsse publish --ack -C board/b1 -e task_moved -d '{"id":"t1","from":"todo","to":"doing"}')
i3=$(zsse publish --ack -C board/b1 -e task_deleted -d '{"id":"t1"}')
wait $c
eq "retry: 3000 first" '{"retry": 3000}' "$(nth "$T/live.out" 1)"
eq "connected on open" '{"status":"ok"}' "$(grep '"connected"' "$T/live.out" | jget data)"
eq "task_created with its id" "$i1 task_created" "$(grep task_created "$T/live.out" | jget id) $(grep task_created "$T/live.out" | jget event)"
eq "task_moved with its id" "$i2" "$(grep task_moved "$T/live.out" | jget id)"
eq "task_deleted with its id" "$i3" "$(grep task_deleted "$T/live.out" | jget id)"

# Last-Event-ID: what came after
"$SSE" "$B/b1/events" -H "$H" -H "Last-Event-ID: $i1" -n 3 -t 10 > "$T/replay.out"
eq "replay after Last-Event-ID" "task_moved task_deleted" \
    "$(sed -n 2,3p "$T/replay.out" | jcol event | paste -sd' ')"

# 120 more events: the oldest 20+3 fall out of the buffer of 100
first=""
for i in $(seq 120); do
    id=$(zsse publish --ack -C board/b1 -e task_created -d "{\"id\":\"n$i\"}")
    [ -n "$first" ] || first=$id
    [ $i = 30 ] && i30=$id
done
"$SSE" "$B/b1/events?lastEventId=$i30" -H "$H" -n 91 -t 10 > "$T/r2.out"
eq "replay from the 30th: 90 events" 90 "$(grep -c task_created "$T/r2.out")"
eq "...the first is the 31st" '{"id":"n31"}' "$(nth "$T/r2.out" 2 | jget data)"
"$SSE" "$B/b1/events" -H "$H" -H "Last-Event-ID: $first" -n 2 -t 10 > "$T/r3.out"
eq "dropped from the buffer: reset" reset "$(nth "$T/r3.out" 2 | jget event)"

# a real browser: named listeners, the board's token in the query
node "$ES" "$B/b3/events?token=$tok" --listen connected,task_created,task_moved \
    --count 3 --timeout 20 > "$T/browser.out" &
b=$!
t_until 150 grep -q '"type":"connected"' "$T/browser.out"
zsse publish -C board/b3 -e task_created -d '{"id":"x"}'
zsse publish -C board/b3 -e task_moved -d '{"id":"x","to":"done"}'
wait $b
ok "browser: connected" grep -q '"type":"connected","data":"{\\"status\\":\\"ok\\"}"' "$T/browser.out"
ok "browser: task_created" grep -q '"type":"task_created"' "$T/browser.out"
ok "browser: task_moved with lastEventId" grep -q '"type":"task_moved".*"lastEventId":"[0-9]' "$T/browser.out"
t_done
