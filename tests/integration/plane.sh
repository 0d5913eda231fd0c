#!/usr/bin/env bash
# The broker's control plane (issue 12), driven as a hostile peer would
# with raw ZeroMQ (tests/zmqtool): malformed requests refused without
# harm, the reply size bound and replays in parts.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init plane
t_key
ZT="$top_builddir/tests/zmqtool"
CTL="tcp://127.0.0.1:$P_CTL"
t_config ', "routes": [
  { "path": "/big/events", "channels": ["big/1"], "auth": "none", "heartbeat": { "interval": 1 } } ]' \
    > "$ZSSE_CONFIG"
t_start_broker
srv_fcgi_listen 8
srv_lighttpd socket
alive() { kill -0 "$BROKER_PID" 2>/dev/null && zsse stats > /dev/null; }

# --- malformed requests: refused, the broker carries on -------------------
# (this 3-frame request -- delimiter, replay, 0 -- aborted the broker)
eq "replay with one argument: refused" "error bad request: wrong number of arguments" \
    "$("$ZT" req "$CTL" replay 0 | paste -sd' ')"
ok "...and the broker is still up" alive
for req in "replay" "replay 0 c" "state" "lease" "lease /r" "lease /r u" "renew" "release" \
        "publish" "stats extra" "ping extra" "head 1 2"; do
    # shellcheck disable=SC2086
    "$ZT" req "$CTL" $req > "$T/bad.out" 2>&1
    ok "'$req': an error reply" grep -q '^error$' "$T/bad.out"
done
ok "...and the broker is still up" alive
# more channels than a route may name (16): refused
chans=$(for i in $(seq 1 17); do printf 'c/%d ' "$i"; done)
# shellcheck disable=SC2086
eq "17 channels in one request: refused" error "$("$ZT" req "$CTL" state $chans | head -1)"
ok "control_refused counted" test "$(zsse stats | jget control_refused)" -eq 14

# --- a reply's bytes are capped: a large replay goes in parts ---------------
python3 -c "
import sys
for i in range(40):
    sys.stdout.write('{\"channel\":\"big/1\",\"event\":\"n\",\"data\":\"%05d%s\"}\n' % (i, 'x' * 60000))
" | zsse publish --stdin --ack > "$T/big.ids"
eq "40 events of 60 kB stored" 40 "$(wc -l < "$T/big.ids")"
"$ZT" req "$CTL" replay 0 c big/1 > "$T/part1"
eq "replay of 2.4 MB: the first part says more" more "$(head -1 "$T/part1")"
n1=$(grep -c '^id=' "$T/part1")
ok "...and holds at most 1 MiB ($n1 events)" test "$n1" -ge 1 -a "$n1" -le 17
last=$(grep '^id=' "$T/part1" | tail -1 | sed 's/^id=\([0-9]*\) .*/\1/')
"$ZT" req "$CTL" replay "$last" c big/1 > "$T/part2"
n2=$(grep -c '^id=' "$T/part2")
ok "the next part starts after it" test "$n2" -ge 1
ok "replies_split counted" test "$(zsse stats | jget replies_split)" -ge 2
# through zsse-fcgi: the stream asks for every part
first=$(head -1 "$T/big.ids")
curl -sN --max-time 4 -H "Last-Event-ID: $((first - 1))" \
    "http://127.0.0.1:$WEB_PORT/big/events" > "$T/big.sse"
eq "a stream from before them gets all 40, in order" "$(paste -sd' ' "$T/big.ids")" \
    "$(sed -n 's/^id: //p' "$T/big.sse" | paste -sd' ')"

t_done
