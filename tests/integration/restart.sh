#!/usr/bin/env bash
# tests/integration/restart.sh -- a graceful worker restart under 2,000
# streams (nginx -> zsse-fcgi on a unix socket): SIGTERM ends every stream
# with "retry: R", R uniform in [W/10, W] (--restart-window W), in a
# shuffled order; the clients (EventSource's rules: retry, Last-Event-ID,
# tests/restart_clients.py) come back to the new zsse-fcgi spread over the
# window: in no second more than FACTOR x streams / (0.9 W) reconnects (the
# uniform rate, FACTOR 2 for the randomness), all within W + 5 s, none
# refused, and not one event lost or repeated across the restart.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init restart

N=${RESTART_STREAMS:-2000}
W=${RESTART_WINDOW:-20}            # s
FACTOR=2
export ZSSE_RESTART_WINDOW=$W      # for the zsse-fcgi servers.sh starts
t_key
t_config ', "routes": [{"path": "/r/{id}/events", "channels": ["r/{id}"], "auth": "none",
    "retry": 1000, "heartbeat": {"interval": 30}}]' > "$ZSSE_CONFIG"
t_start_broker
SRV_FCGI_UNIX=1 srv_fcgi_listen 16
SRV_CONNS=$(( N * 2 + 512 )) srv_nginx
ok "zsse-fcgi and nginx up" kill -0 "$FCGI_PID"

python3 "$top_srcdir/tests/restart_clients.py" "http://127.0.0.1:$WEB_PORT/r/1/events" "$N" r/1 \
    > "$T/clients.out" 2> "$T/clients.err" &
CLIENTS=$!
T_PIDS+=("$CLIENTS")
ok "$N streams open" t_until 1800 grep -q '^ready' "$T/clients.out"

# the restart: what systemd does (TERM, wait for the exit, start again)
sleep 1                                     # a few events before it
t_stop "$FCGI_PID" TERM
ok "the old zsse-fcgi logged its drain" grep -q "stopping: $N streams ended, their clients return within $(( W * 1000 )) ms" "$T/fcgi.log"
rm -f "$FCGI_SOCK"                          # (the new one binds it afresh)
t_spawn fcgi $ZSSE_FCGI_WRAP zsse-fcgi -c "$ZSSE_CONFIG" --listen "$FCGI_SOCK" --threads 16 \
    --restart-window "$W"
FCGI_PID=$T_LASTPID
ok "a new zsse-fcgi on the socket" t_until 100 test -S "$FCGI_SOCK"
chmod 666 "$FCGI_SOCK"

for _ in $(seq 1 1800); do
    grep -q '^{' "$T/clients.out" && break
    kill -0 "$CLIENTS" 2>/dev/null || break
    sleep 0.1
done
res=$(grep '^{' "$T/clients.out")
[ -n "$res" ] || { cat "$T/clients.out" "$T/clients.err"; }
python3 - "$N" "$W" "$FACTOR" <<PY > "$T/figures"
import json, sys, collections
n, w, factor = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
r = json.loads('''$res''' or '{}')
t = r.get("reconnect_s", [])
per_s = collections.Counter(int(x) for x in t)
limit = factor * n / (0.9 * w)
print("streams", r.get("streams", 0))
print("reconnected", len(t))
print("back", r.get("back", 0))
print("failed", r.get("failed", -1))
print("lost", r.get("lost", -1))
print("repeated", r.get("repeated", -1))
print("max_per_s", max(per_s.values()) if per_s else -1)
print("limit_per_s", int(limit))
print("first_s", min(t) if t else -1)
print("last_s", max(t) if t else -1)
print("published", r.get("published", 0))
PY
fig() { awk -v k="$1" '$1 == k { print $2 }' "$T/figures"; }
echo "# $(tr '\n' ' ' < "$T/figures")"
eq "every client came back" "$N" "$(fig back)"
eq "no reconnect refused (a browser's EventSource would give up)" 0 "$(fig failed)"
ok "reconnects per second <= $FACTOR x $N / (0.9 x $W s) = $(fig limit_per_s) (max $(fig max_per_s))" \
    test "$(fig max_per_s)" -le "$(fig limit_per_s)" -a "$(fig max_per_s)" -gt 0
ok "the first not before W/10 - 0.5 s ($(fig first_s) s)" \
    python3 -c "import sys; sys.exit(not ($(fig first_s) >= $W / 10 - 0.5))"
ok "all within W + 5 s ($(fig last_s) s)" python3 -c "import sys; sys.exit(not (0 <= $(fig last_s) <= $W + 5))"
eq "events lost across the restart" 0 "$(fig lost)"
eq "events repeated" 0 "$(fig repeated)"
ok "events were published throughout ($(fig published))" test "$(fig published)" -ge 4
t_done
