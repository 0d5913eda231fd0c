#!/usr/bin/env bash
# Apache + mod_fcgid and nginx for real (issue: web servers): Bearer auth
# through Apache (CGIPassAuth), no buffering (the first event arrives at
# once), heartbeats, a client that leaves frees its worker, a stream
# outliving Apache's default FcgidIOTimeout (40 s) with the contrib
# settings, max_lifetime reconnects in a real browser losing nothing,
# nginx noticing a gone client within a second, 500 streams in one
# threaded process behind nginx and behind lighttpd, FCGI_WEB_SERVER_ADDRS.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init webservers
t_key
t_config ', "routes": [
  { "path": "/a/{room}/events", "channels": ["room/{room}"], "heartbeat": { "interval": 1, "comment": "hb" } },
  { "path": "/idle/events", "channels": ["idle"], "auth": "none", "heartbeat": { "interval": 15 } },
  { "path": "/quiet/events", "channels": ["quiet"], "auth": "none", "heartbeat": { "interval": 0 } },
  { "path": "/life/events", "channels": ["life"], "auth": "none", "max_lifetime": 2, "retry": 200 },
  { "path": "/many/events", "channels": ["many"], "auth": "none", "heartbeat": { "interval": 0 } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"
ES="$top_srcdir/tests/browser/es.mjs"
tok=$(zsse token --sub alice --channels 'room/*')

# ================================ Apache =====================================
srv_apache 6
A="http://127.0.0.1:$WEB_PORT"
APACHE_PID=$WEB_PID

# an idle stream (heartbeat 15 s) kept 45 s: past mod_fcgid's default
# FcgidIOTimeout of 40 s; runs while the other checks go on
"$SSE" "$A/idle/events" --comments -t 46 > "$T/idle.out" &
idle=$!

eq "Apache: Bearer header reaches zsse-fcgi (CGIPassAuth): 200" 200 \
    "$("$SSE" "$A/a/r1/events" -H "Authorization: Bearer $tok" --status -t 2 | head -1 | jget status)"
ok "Apache: a stream opens (headers once subscribed)" t_sse first "$A/a/r1/events" -H "Authorization: Bearer $tok" -n 1 -t 10
f=$SSE_PID
t0=$(date +%s%N)
zsse publish -C room/r1 -e ping -d '"x"'
t_until 100 grep -q '"ping"' "$T/first.out"
t1=$(date +%s%N)
wait $f
ok "Apache: a single small event arrives (no 64 KiB output buffer)" grep -q '"ping"' "$T/first.out"
# measured, not assumed: 1 s is far above a loopback publish (a few ms)
# and far below the 64 KiB buffer's never
ms=$(( (t1 - t0) / 1000000 ))
echo "# Apache: publish to client: $ms ms"
ok "Apache: the first event at once (${ms} ms < 1000)" test "$ms" -lt 1000
"$SSE" "$A/a/r1/events" -H "Authorization: Bearer $tok" --comments --times -t 4.5 > "$T/hb.out"
ok "Apache: heartbeats pass" bash -c "[ \$(grep -c '\"hb\"' $T/hb.out) -ge 2 ]"
gaps=$(hb_gaps "$T/hb.out" hb | paste -sd' ')
ok "Apache: heartbeat interval 1 s: measured gaps within 0.5-1.8 s ($gaps)" \
    all_between 0.5 1.8 <<<"${gaps// /$'\n'}"

# a real browser across max_lifetime reconnects: EventSource sends
# Last-Event-ID itself; nothing may be lost
node "$ES" "$A/life/events" --listen n --count 12 --timeout 30 > "$T/life.out" &
b=$!
t_until 150 grep -q '!open' "$T/life.out"
: > "$T/life.ids"
for i in $(seq 12); do
    zsse publish --ack -C life -e n -d "$i" >> "$T/life.ids"
    sleep 0.5
done
wait $b
eq "Apache + browser: 12 events over max_lifetime reconnects, none lost" \
    "$(paste -sd' ' "$T/life.ids")" \
    "$(grep '"type":"n"' "$T/life.out" | jcol lastEventId | paste -sd' ')"
ok "...the browser did reconnect" bash -c "[ \$(grep -c '!open' $T/life.out) -ge 3 ]"

wait $idle
ok "Apache: an idle stream outlives FcgidIOTimeout's default 40 s" \
    bash -c "! grep -q '\"eof\"' $T/idle.out && [ \$(grep -c comment $T/idle.out) -ge 2 ]"
t_stop "$APACHE_PID"

# a client that leaves frees the (only) worker process
srv_apache 1
A1="http://127.0.0.1:$WEB_PORT"
curl -sN -H "Authorization: Bearer $tok" "$A1/a/r2/events" > "$T/gone.out" &
g=$!
t_until 100 grep -q hb "$T/gone.out"
kill $g; wait $g 2>/dev/null
eq "Apache: the only worker serves the next client after one left" 200 \
    "$("$SSE" "$A1/a/r2/events" -H "Authorization: Bearer $tok" --status -t 15 | head -1 | jget status)"
t_stop "$WEB_PID"

# ================================ nginx ======================================
# 4 threads set streams up; the hub thread holds them, however many
srv_fcgi_listen 4
srv_nginx
N="http://127.0.0.1:$WEB_PORT"
eq "nginx: X-Accel-Buffering is consumed" None \
    "$("$SSE" "$N/a/r1/events?token=$tok" --status -t 2 | head -1 | jget headers.x-accel-buffering)"
t_sse nfirst "$N/a/r1/events?token=$tok" -n 1 -t 10
f=$SSE_PID
zsse publish -C room/r1 -e ping -d '"y"'
wait $f
ok "nginx: a single small event arrives (fastcgi_buffering off)" grep -q '"ping"' "$T/nfirst.out"
# the streams above have gone: wait for their leases to go (a client
# killed at Apache is noticed at its next heartbeat, 1 s)
t_until 50 leases_le 0 || echo "# leases still held: $(leases)"
base=$(leases)
curl -sN "$N/quiet/events" > /dev/null &
q=$!
ok "nginx: the quiet stream holds a lease" t_until 50 leases_gt "$base"
kill $q; wait $q 2>/dev/null
# nothing is written on /quiet (no heartbeat): only nginx closing the
# FastCGI connection can tell the worker
ok "nginx: a gone client is noticed with nothing written (lease released)" \
    t_until 20 leases_le "$base"

# 500 concurrent streams in one process with 4 setup threads, events to all
LG="$top_builddir/tests/bench/loadgen"
out=$("$LG" --url "$N/many/events" --clients 500 --rate 2 --duration 2 --settle 3 \
    --publish "tcp://127.0.0.1:$P_PUB" --channel many --ramp 60 | tail -1)
echo "# nginx threads: $out"
ok "nginx -> one zsse-fcgi: 500 streams open" grep -q ' open=500 ' <<<"$out"
ok "nginx -> one zsse-fcgi: every event reached every stream, once, in order" grep -q ' lost=0 reordered=0 gaps=0 ' <<<"$out"
nt=$(ls /proc/$FCGI_PID/task | wc -l)
echo "# zsse-fcgi threads while it held 500 streams: $nt"
ok "the hub holds the 500 streams: no thread per stream" test "$nt" -lt 16
t_stop "$WEB_PID"
# nginx closed its 500 FastCGI connections: the same worker lets go of
# every stream (within a second each) before lighttpd brings 500 more
ok "nginx gone: the worker released all 500 streams" t_until 150 leases_le "$base"

srv_lighttpd socket
out=$("$LG" --url "http://127.0.0.1:$WEB_PORT/many/events" --clients 500 --rate 2 --duration 2 \
    --settle 3 --publish "tcp://127.0.0.1:$P_PUB" --channel many --ramp 60 | tail -1)
echo "# lighttpd threads: $out"
grep -q ' open=500 ' <<<"$out" || tail -5 "$T"/lighttpd-error-*.log
ok "lighttpd socket -> one zsse-fcgi: 500 streams open" grep -q ' open=500 ' <<<"$out"
ok "lighttpd socket -> one zsse-fcgi: every event reached every stream, once, in order" grep -q ' lost=0 reordered=0 gaps=0 ' <<<"$out"
t_stop "$WEB_PID"; t_stop "$FCGI_PID"

# FCGI_WEB_SERVER_ADDRS, as libfcgi reads it: over TCP, only the web
# servers listed may connect
out=$(FCGI_WEB_SERVER_ADDRS="127.0.0.1, nonsense" timeout 10 zsse-fcgi --listen "127.0.0.1:$(t_port)" 2>&1)
eq "FCGI_WEB_SERVER_ADDRS with a bad entry: exit 1, naming it" \
    "1 zsse-fcgi: FCGI_WEB_SERVER_ADDRS: 'nonsense' is not an IP address" "$? $out"
FCGI_WEB_SERVER_ADDRS="127.0.0.2" srv_fcgi_listen 2
srv_nginx
eq "nginx not in FCGI_WEB_SERVER_ADDRS: its connection is closed (502)" 502 \
    "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$WEB_PORT/many/events")"
ok "...and logged" grep -q "127.0.0.1 is not in FCGI_WEB_SERVER_ADDRS: closed" "$T/fcgi.log"
t_stop "$WEB_PID"; t_stop "$FCGI_PID"
FCGI_WEB_SERVER_ADDRS="::1, 127.0.0.1" srv_fcgi_listen 2
srv_nginx
eq "nginx in FCGI_WEB_SERVER_ADDRS: 200" 200 \
    "$("$SSE" "http://127.0.0.1:$WEB_PORT/many/events" --status -t 2 | head -1 | jget status)"
t_done
