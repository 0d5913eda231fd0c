#!/usr/bin/env bash
# contrib/js/zsse.js in headless Chromium against lighttpd + zsse-fcgi:
# Authorization header, resume with Last-Event-ID across a web-server and a
# broker restart with no event lost or repeated, and the fallback to
# polling when streams are refused.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init js-client
t_key
t_config ', "routes": [
  { "path": "/feed/events", "channels": ["feed/{sub}"], "heartbeat": { "interval": 1 } },
  { "path": "/limited/events", "channels": ["feed/{sub}"], "max_per_user": 1 }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["auth"]["query_param"] = None
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
srv_lighttpd binpath 4
U="http://127.0.0.1:$WEB_PORT"
CLIENT="$top_srcdir/tests/browser/client.mjs"
tok=$(zsse token --sub u1)

node "$CLIENT" "$U/feed/events" --token "$tok" --listen tick --count 30 --timeout 90 \
    --base-delay 200 --max-delay 1000 > "$T/c1.out" 2>"$T/c1.err" &
c1=$!
t_until 200 grep -q '"k":"open"' "$T/c1.out"
: > "$T/ids"
pub() { for i in $(seq "$1"); do zsse publish --ack -C feed/u1 -e tick -d "{\"n\":$i}" >> "$T/ids"; done; }
pub 10
# web server restart: events published while it is down come on resume
t_stop "$WEB_PID"
pub 10
SRV_PORT=$WEB_PORT srv_lighttpd binpath 4
t_until 200 bash -c "[ \$(grep -c '\"k\":\"open\"' $T/c1.out) -ge 2 ]"
# broker restart under an open stream
t_stop "$BROKER_PID"
t_start_broker
sleep 1
pub 10
wait $c1
grep '"k":"event"' "$T/c1.out" | jcol id > "$T/got"
eq "30 events across both restarts, none lost or repeated, in order" \
    "$(paste -sd' ' "$T/ids")" "$(paste -sd' ' "$T/got")"
ok "it reconnected after the web-server restart" \
    bash -c "[ \$(grep -c '\"k\":\"open\"' $T/c1.out) -ge 2 ]"

# streams refused (max_per_user 1 held by another client): after 5
# failures the client falls back to polling, and still gets events
tok2=$(zsse token --sub u2)
curl -sN -H "Authorization: Bearer $tok2" "$U/limited/events" > "$T/holder.out" &
holder=$!
T_PIDS+=("$holder")
# its first bytes come after the lease is taken and the subscription is in
ok "the holder's stream is open" t_until 100 test -s "$T/holder.out"
node "$CLIENT" "$U/limited/events" --token "$tok2" --listen tick --count 1 --timeout 40 \
    --base-delay 100 --max-delay 400 --poll-wait 2 > "$T/c2.out" 2>"$T/c2.err" &
c2=$!
t_until 300 grep -q '"k":"poll"' "$T/c2.out"
id=$(zsse publish --ack -C feed/u2 -e tick -d '{"n":"polled"}')
wait $c2
ok "429s counted as failures" grep -q '"status":429' "$T/c2.out"
ok "fell back to polling" grep -q '"k":"fallback"' "$T/c2.out"
eq "event received by polling" "$id" "$(grep '"k":"event"' "$T/c2.out" | jget id)"
t_done
