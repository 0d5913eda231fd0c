#!/usr/bin/env bash
# Slow and idle peers hold no setup thread (issue 13, item 3).  Straight
# on zsse-fcgi --listen with --threads 2, and through nginx with
# fastcgi_request_buffering off, while
#   - two peers send a whole request one byte every 3 s,
#   - two anonymous GETs send their body one byte every 3 s,
#   - 600 peers connect and send nothing,
# a valid request is answered within 2 s, throughout (over 12 s, longer
# than the 10 s a thread was held).  With the gate full (a descriptor
# limit of 160: 80 waiting connections), the oldest waiting connections
# get 503 with Retry-After at once and a valid request still gets in.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init slowpeer
t_key
t_config ', "routes": [
  { "path": "/x/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 5 } }
]' > "$ZSSE_CONFIG"
t_start_broker
FC="$top_srcdir/tests/fcgiclient.py"
tok=$(zsse token --sub alice)

# probe NAME COUNT: COUNT valid requests a second apart; all 200, the
# slowest under 2 s
probe() {
    local out; out=$("$FC" "$A" probe "/x/events?mode=poll" "$tok" "$2" 1)
    local worst; worst=$(printf '%s\n' "$out" | python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin if l.strip()]
bad = [x for x in r if x["status"] != 200]
print("%s %.3f" % ("ok" if r and not bad else "failed", max(x["seconds"] for x in r)))')
    echo "# $1: $worst (status, slowest seconds)"
    ok "$1: every valid request answered" test "${worst% *}" = ok
    ok "$1: each within 2 s (slowest ${worst#* } s)" python3 -c "import sys; sys.exit(not ${worst#* } < 2)"
}

srv_fcgi_listen 2
A="127.0.0.1:$FCGI_PORT"
probe "no load" 2
t_spawn slow "$FC" "$A" slow 2 3; S1=$T_LASTPID
probe "two peers sending their request a byte every 3 s" 12
t_stop "$S1"
t_spawn slowbody "$FC" "$A" slow 2 3 body; S2=$T_LASTPID
probe "two anonymous GETs sending their body a byte every 3 s" 12
t_stop "$S2"
t_spawn idle "$FC" "$A" idle 600; S3=$T_LASTPID
t_until 100 grep -q idle "$T/idle.log"
probe "600 idle connections" 12
t_stop "$S3"

# through nginx, request bodies streamed to zsse-fcgi as they come
SRV_NGINX_EXTRA="fastcgi_request_buffering off;" srv_nginx
t_spawn httpslow "$FC" "127.0.0.1:$WEB_PORT" httpslow 2 3; S4=$T_LASTPID
t_spawn slow2 "$FC" "$A" slow 2 3; S5=$T_LASTPID
worst=0
for i in $(seq 1 12); do
    r=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' "http://127.0.0.1:$WEB_PORT/x/events?mode=poll&token=$tok")
    [ "${r% *}" = 200 ] || worst=99
    worst=$(python3 -c "print(max($worst, ${r#* }))")
    sleep 1
done
echo "# nginx: slowest $worst s"
ok "nginx, two slow anonymous bodies and two slow peers: answered within 2 s ($worst s)" \
    python3 -c "import sys; sys.exit(not $worst < 2)"
t_stop "$S4"; t_stop "$S5"

# a full gate: the oldest waiting connections get 503 + Retry-After at once
t_stop "$FCGI_PID"
FCGI_PORT=$(t_port)
A="127.0.0.1:$FCGI_PORT"
t_spawn fcgi2 bash -c "ulimit -n 160; exec zsse-fcgi -c '$ZSSE_CONFIG' --listen $A --threads 2"
t_wait_port "$FCGI_PORT" "$T_LASTPID"
t_spawn idle2 "$FC" "$A" idle 120 2
t_until 100 grep -q 503 "$T/idle2.log"
got=$(grep 503 "$T/idle2.log")
echo "# $got"
ok "gate full: the oldest 40 got 503" test "$(printf '%s' "$got" | jget 503)" -ge 40
ok "gate full: with Retry-After" test "$(printf '%s' "$got" | jget retry_after)" -ge 40
probe "gate full" 3
ok "the refusals are logged" grep -q '503 for a connection' "$T/fcgi2.log"
t_done
