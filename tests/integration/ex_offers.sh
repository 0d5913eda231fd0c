#!/usr/bin/env bash
# contrib/examples/offers.json behind nginx -> zsse-fcgi --listen --threads:
# offers pushed to a player, :heartbeat every 30 s, one stream per player
# (a second connect is refused with 429 while the first is open).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init ex-offers
t_key
t_example offers
t_start_broker
srv_fcgi_listen 8
srv_nginx
U="http://127.0.0.1:$WEB_PORT/sse/connect"
SSE="$top_srcdir/tests/sse.py"

p1=$(zsse token --sub player_1)
p2=$(zsse token --sub player_2)

# the heartbeat of the example itself (30 s): watched in the background
"$SSE" "$U" -H "Authorization: Bearer $p2" --status --comments --times -t 34 > "$T/hb.out" &
hb=$!

eq "Bearer only: ?token= is refused" 401 \
    "$("$SSE" "$U?token=$p1" --status -t 5 | head -1 | jget status)"

"$SSE" "$U" -H "Authorization: Bearer $p1" -n 1 -t 10 --status > "$T/first.out" &
first=$!
t_until 100 grep -q '"status": 200' "$T/first.out"
out=$("$SSE" "$U" -H "Authorization: Bearer $p1" --status -t 5)
eq "second stream of a player: 429" 429 "$(head -1 <<<"$out" | jget status)"
ok "429 has Retry-After" bash -c "head -1 <<<'$out' | grep -q retry-after"

zsse publish -C player/player_1 -e offer_surfaced \
    -d '{"offer":{"id":"off_1","sku":"gems_500","price":4.99,"expiresAt":1716100200000}}'
wait $first
eq "named offer_surfaced event" offer_surfaced "$(nth "$T/first.out" 2 | jget event)"
eq "offer data" '{"offer":{"id":"off_1","sku":"gems_500","price":4.99,"expiresAt":1716100200000}}' \
    "$(nth "$T/first.out" 2 | jget data)"

# the first stream is gone (its client left): the player may connect again
ok "after the first stream ends, a new one is accepted" t_until 50 bash -c \
    "\"$SSE\" \"$U\" -H 'Authorization: Bearer $p1' --status -t 1 | head -1 | grep -q '\"status\": 200'"

wait $hb
ok "a :heartbeat comment within 30 s" grep -q '{"comment": "heartbeat"' "$T/hb.out"
# measured from the stream's headers: after 30 s of silence, not before
t=$(grep -m1 '{"comment": "heartbeat"' "$T/hb.out" | jget t)
t0=$(head -1 "$T/hb.out" | jget t)
ok "...the first 30-31.5 s after the stream opened (${t} - ${t0} s)" \
    awk -v t="$t" -v t0="$t0" 'BEGIN { exit !(t - t0 >= 29.9 && t - t0 <= 31.5) }'
t_done
