#!/usr/bin/env bash
# contrib/examples/rooms.json behind nginx -> zsse-fcgi --threads 1:
# rooms for any signed-in user, /admin/events for role=admin only, retry on
# open, a stream ends when its client leaves and frees the worker.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init ex-rooms
t_key
t_example rooms
t_start_broker
srv_fcgi_listen 1
srv_nginx
R="http://127.0.0.1:$WEB_PORT"
SSE="$top_srcdir/tests/sse.py"
ES="$top_srcdir/tests/browser/es.mjs"

user=$(zsse token --sub bob --channels 'room/*' --claim role=member)
admin=$(zsse token --sub root --channels 'room/*' --claim role=admin)

eq "not signed in: 401" 401 "$("$SSE" "$R/rooms/r1/events" --status -t 5 | head -1 | jget status)"
eq "admin stream, member: 403" 403 \
    "$("$SSE" "$R/admin/events" -H "Authorization: Bearer $user" --status -t 5 | head -1 | jget status)"
eq "wrong method: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$R/rooms/r1/events")"

# the only worker thread: a stream, its client leaves, the next is served
curl -sN "$R/rooms/r1/events" -H "Authorization: Bearer $user" > "$T/gone.out" &
gone=$!
t_until 100 grep -q 'retry: 3000' "$T/gone.out"
kill $gone; wait $gone 2>/dev/null
"$SSE" "$R/admin/events" -H "Authorization: Bearer $admin" -n 1 -t 10 --comments > "$T/admin.out" &
a=$!
ok "the worker is free again after the client left" t_until 50 grep -q retry "$T/admin.out"
zsse publish -C admin -e audit -d '{"who":"bob"}'
wait $a
eq "retry: 3000 sent on open" '{"retry": 3000}' "$(nth "$T/admin.out" 1)"
eq "admin event" audit "$(grep audit "$T/admin.out" | jget event)"

# a room in a real browser
node "$ES" "$R/rooms/lobby/events?token=$user" --listen said --count 1 --timeout 20 > "$T/browser.out" &
b=$!
# (open: the headers are in, and zsse-fcgi writes them once subscribed)
ok "browser: the room stream opens" t_until 150 grep -q '!open' "$T/browser.out"
zsse publish -C room/lobby -e said -d '{"text":"hi"}'
wait $b
ok "browser: room event" grep -q '"type":"said","data":"{\\"text\\":\\"hi\\"}"' "$T/browser.out"
t_done
