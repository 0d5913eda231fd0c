#!/usr/bin/env bash
# zsse-handoff (fcgi/handoff.h): Apache + mod_fcgid and lighttpd bin-path run
# the thin process, which passes each connection to one zsse-fcgi --handoff.
# Streams through it get their events, with auth; a process per stream is
# a libc-only process; a client that leaves releases its lease; datagrams
# that are not a connection are closed and change nothing; zsse-fcgi
# absent: 503 with Retry-After, a restart within the retry window loses
# no request, and one that stays away is answered at once.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init handoff
t_key
t_config ', "routes": [
  { "path": "/a/{room}/events", "channels": ["room/{room}"], "heartbeat": { "interval": 1 } },
  { "path": "/many/events", "channels": ["many"], "auth": "none", "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"
HO="$top_srcdir/tests/handoff.py"
alice=$(zsse token --sub alice --channels 'room/r1')
st() { "$SSE" "$@" --status -t 5 | head -1 | jget status; }

out=$(zsse-handoff < /dev/null 2>&1); rc=$?
eq "zsse-handoff outside a web server: exit 2" 2 "$rc"
ok "...saying why" grep -q "fd 0 is not a listening socket" <<<"$out"
out=$(timeout 10 zsse-fcgi --handoff "$T/$(printf 'x%.0s' $(seq 120)).sock" 2>&1); rc=$?
eq "zsse-fcgi --handoff with a path too long: exit 1" 1 "$rc"
ok "...saying which" grep -q "^zsse-fcgi: --handoff .*: cannot bind: File name too long" <<<"$out"

srv_fcgi_handoff 4

# ------------------------- the socket, directly ----------------------------------
out=$("$HO" "$HANDOFF_SOCK" hostile)
echo "$out" | sed 's/^/# /'
for c in "wrong tag" "two descriptors" "a pipe" "a datagram socket" "two bytes"; do
    eq "handoff socket: $c: every descriptor closed" "$c: closed" "$(grep "^$c:" <<<"$out")"
done
ok "...and logged" grep -q "handoff: a datagram of 1 bytes with 0 descriptors is not a connection" \
    "$T/fcgi.log"
eq "after them, a connection handed over is served: 200" "Status: 200 OK" \
    "$("$HO" "$HANDOFF_SOCK" request /many/events | jget status)"

# ------------------------- Apache + mod_fcgid ------------------------------------
SRV_APACHE_EXTRA="FcgidSpawnScoreUpLimit 1000" srv_apache 12
A="http://127.0.0.1:$WEB_PORT"
eq "Apache -> zsse-handoff: Bearer token reaches zsse-fcgi: 200" 200 \
    "$(st "$A/a/r1/events" -H "Authorization: Bearer $alice")"
eq "...alice's token does not open another room: 403" 403 \
    "$(st "$A/a/r2/events" -H "Authorization: Bearer $alice")"
eq "...no token: 401" 401 "$(st "$A/a/r1/events")"
t_until 50 leases_le 0              # the streams above are released
base=$(leases)
for i in $(seq 10); do
    "$SSE" "$A/a/r1/events" -H "Authorization: Bearer $alice" -n 1 -t 20 > "$T/s$i.out" &
    eval "s$i=\$!"
done
ok "10 streams open through Apache at once" t_until 150 leases_ge $((base + 10))
zsse publish -C room/r1 -e ping -d '"all"'
for i in $(seq 10); do eval "wait \$s$i"; done
eq "every one of them got the event" 10 "$(cat "$T"/s*.out | grep -c '"ping"')"
# mod_fcgid's process manager is a child of Apache's parent; its children
# are the FastCGI processes
pm=$(pgrep -P "$WEB_PID" | while read -r p; do pgrep -P "$p" -x zsse-handoff >/dev/null && echo "$p"; done | head -1)
nho=$(pgrep -P "${pm:-0}" -x zsse-handoff | wc -l)
nfc=$(pgrep -P "${pm:-0}" -x zsse-fcgi | wc -l)
echo "# mod_fcgid processes: $nho zsse-handoff, $nfc zsse-fcgi"
ok "a process per stream, each a zsse-handoff" test "$nho" -ge 10
eq "...and no zsse-fcgi among them" 0 "$nfc"
pss=$(for p in $(pgrep -P "${pm:-0}" -x zsse-handoff); do awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup; done |
    awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n }')
echo "# PSS of a zsse-handoff process: $pss KiB"

# a client that leaves: the lease goes (the next heartbeat fails)
curl -sN -H "Authorization: Bearer $alice" "$A/a/r1/events" > "$T/gone.out" &
g=$!
t_until 100 grep -q '^:' "$T/gone.out"
lg=$(leases)
kill $g; wait $g 2>/dev/null
ok "Apache: a client that left releases its lease" t_until 50 leases_le $((lg - 1))

# zsse-fcgi away: the thin process answers 503 itself
t_stop "$FCGI_PID"
out=$("$SSE" "$A/many/events" --status -t 10 2>/dev/null | head -2)
eq "zsse-fcgi stopped: 503" 503 "$(head -1 <<<"$out" | jget status)"
eq "...with Retry-After" 5 "$(head -1 <<<"$out" | jget headers.retry-after)"
eq "...and a JSON error" '{"error": "unavailable", "message": "zsse-fcgi unreachable"}' \
    "$(sed -n 2p <<<"$out" | jget body)"

t_stop "$WEB_PID"

# ------------------------- lighttpd bin-path -------------------------------------
# (lighttpd runs zsse-handoff as root here: Apache's www-data could race
# the test's chmod of the new socket)
srv_lighttpd binpath 4
L="http://127.0.0.1:$WEB_PORT"
# a restart within HANDOFF_RETRY_MS: the request waits for it
"$SSE" "$L/many/events" --status -n 1 -t 10 > "$T/restart.out" &
r=$!
sleep 0.5
srv_fcgi_unix --handoff "$HANDOFF_SOCK" 4
# the status line: headers, written once the stream is subscribed
ok "zsse-fcgi back: the waiting request's stream opens" t_until 100 grep -q '"status"' "$T/restart.out"
zsse publish -C many -e back -d 1
wait $r
eq "zsse-fcgi restarted during a request: 200" 200 "$(head -1 "$T/restart.out" | jget status)"
ok "...and the stream gets events" grep -q '"back"' "$T/restart.out"

# 4 thin processes, 40 streams: lighttpd puts many on each
LG="$top_builddir/tests/bench/loadgen"
out=$("$LG" --url "$L/many/events" --clients 40 --rate 5 --duration 2 \
    --settle 2 --publish "tcp://127.0.0.1:$P_PUB" --channel many --ramp 10 | tail -1)
echo "# lighttpd bin-path zsse-handoff: $out"
ok "lighttpd -> 4 zsse-handoff -> zsse-fcgi: 40 streams open" grep -q ' open=40 ' <<<"$out"
ok "...every event reached every stream, once, in order" grep -q ' lost=0 reordered=0 gaps=0 ' <<<"$out"
eq "lighttpd's FastCGI processes are zsse-handoff" "4" \
    "$(cat /proc/$WEB_PID/task/*/children | xargs -n1 | while read -r p; do cat /proc/$p/comm; done | grep -cx zsse-handoff)"

# zsse-fcgi away for good: the first request waits its 2 s, then every one
# is answered at once (one backend takes all four here: in turn they would
# wait 2 s each, and the last two run out of curl's 6 s)
t_stop "$WEB_PID"; t_stop "$FCGI_PID"
srv_lighttpd binpath 1
for i in 1 2 3 4; do
    curl -s -o /dev/null -w '%{http_code}\n' -m 6 "http://127.0.0.1:$WEB_PORT/many/events" \
        > "$T/away$i.out" &
    eval "a$i=\$!"
done
for i in 1 2 3 4; do eval "wait \$a$i"; done
eq "zsse-fcgi away: 4 requests to one zsse-handoff, all answered 503 within 6 s" \
    "503 503 503 503" "$(cat "$T"/away[1-4].out | paste -sd' ')"
t_done
