#!/usr/bin/env bash
# Faults: a worker killed with -9 (the browser reconnects with
# Last-Event-ID, nothing lost); the broker killed with -9 under load with a
# journal (every acknowledged event reaches the client once); a worker
# started while the broker is down; a client that stops reading (dropped
# after stall_timeout, the others unaffected, memory bounded); 1,500
# streams on one worker across a broker restart.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init faults
t_key
T_BUFFER=100000 t_config ', "routes": [
  { "path": "/f/events", "channels": ["f"], "auth": "none", "retry": 300, "heartbeat": { "interval": 1 } },
  { "path": "/big/events", "channels": ["big"], "auth": "none", "stall_timeout": 2,
    "heartbeat": { "interval": 1 } },
  { "path": "/slow/events", "channels": ["big"], "auth": "none", "stall_timeout": 60,
    "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" "$T/journal" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["journal"] = sys.argv[2]
c["broker"]["max_message"] = 1048576
json.dump(c, open(sys.argv[1], "w"))
PY
ES="$top_srcdir/tests/browser/es.mjs"
SSE="$top_srcdir/tests/sse.py"

# a worker started while the broker is down: 503, then fine once it is up
srv_fcgi_listen 16
srv_nginx
U="http://127.0.0.1:$WEB_PORT"
eq "broker unreachable when the worker started: 503" 503 \
    "$("$SSE" "$U/f/events" --status -t 8 | head -1 | jget status)"
t_start_broker
ok "...and streams once the broker is up" t_until 50 bash -c \
    "\"$SSE\" \"$U/f/events\" --status -t 1 | head -1 | grep -q '\"status\": 200'"

# a browser; the worker is killed -9 and restarted; then the broker
node "$ES" "$U/f/events" --listen n --count 30 --timeout 60 > "$T/b.out" &
b=$!
t_until 150 grep -q '!open' "$T/b.out"
: > "$T/ids"
pub() { for i in $(seq "$1"); do zsse publish --ack -C f -e n -d "$i" >> "$T/ids"; done; }
pub 10
kill -9 "$FCGI_PID"; wait "$FCGI_PID" 2>/dev/null
pub 5                                   # while no worker runs
SRV_PORT=$FCGI_PORT
FCGI_PORT_OLD=$FCGI_PORT
t_spawn fcgi $ZSSE_FCGI_WRAP zsse-fcgi -c "$ZSSE_CONFIG" --listen "127.0.0.1:$FCGI_PORT_OLD" --threads 16
FCGI_PID=$T_LASTPID
t_wait_port "$FCGI_PORT_OLD" "$FCGI_PID"
pub 5
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
t_start_broker
pub 10
wait $b
eq "browser: 30 acknowledged events across a worker and a broker kill -9, once each, in order" \
    "$(paste -sd' ' "$T/ids")" "$(grep '"type":"n"' "$T/b.out" | jcol lastEventId | paste -sd' ')"

# a client that stops reading
rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
python3 - "$WEB_PORT" > "$T/stalled.out" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /big/events HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(25)                          # and never read
print("done")
PY
stalled=$!
"$SSE" "$U/big/events" -n 150 -t 40 > "$T/reader.out" &
reader=$!
# a client that stops reading for a while and then reads on: the worker
# cannot write everything at once (the hub hands the stream back to its
# thread mid-record), yet every event arrives whole, once, in order
python3 - "$WEB_PORT" > "$T/paused.out" <<'PY' &
import json, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /slow/events HTTP/1.0\r\nHost: x\r\n\r\n")
time.sleep(6)                           # the events pile up meanwhile
s.settimeout(40)
buf, seen, bad = b"", [], 0
while len(seen) < 150:
    d = s.recv(65536)
    if not d:
        break
    buf += d
    while b"\n\n" in buf:
        block, buf = buf.split(b"\n\n", 1)
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                try:
                    v = json.loads(line[6:])
                    seen.append(v["i"])
                    bad += len(v["pad"]) != 60000
                except Exception:
                    bad += 1
print(" ".join(map(str, seen)))
print("bad", bad)
PY
paused=$!
sleep 1
base=$(leases)           # the reader, the paused and the stalled client
fcgi_before=$(rss "$FCGI_PID")
python3 -c '
import sys
pad = "x" * 60000
for i in range(150):
    sys.stdout.write("{\"channel\":\"big\",\"data\":{\"i\":%d,\"pad\":\"%s\"}}\n" % (i, pad))' |
    zsse publish --stdin
wait $reader
eq "the reading client got all 150 large events" 150 "$(grep -c '"data"' "$T/reader.out")"
wait $paused
eq "a client that paused reading got all 150, whole and in order" "$(seq -s' ' 0 149)" \
    "$(head -1 "$T/paused.out")"
eq "...none torn" "bad 0" "$(tail -1 "$T/paused.out")"
ok "the stalled client's stream is dropped (stall_timeout 2 s)" \
    t_until 150 leases_le "$((base - 3))"   # the readers left; the stalled one was dropped
fcgi_after=$(rss "$FCGI_PID")
echo "# worker RSS: $fcgi_before KiB before, $fcgi_after KiB after 9 MB to a stalled client"
ok "worker memory stays bounded (< +64 MiB)" test $((fcgi_after - fcgi_before)) -lt 65536
ok "broker memory bounded (< 256 MiB)" test "$(rss "$BROKER_PID")" -lt 262144
kill $stalled 2>/dev/null; wait $stalled 2>/dev/null

# a broker restart with 1,500 streams on one worker: each re-syncs with a
# marker of its own -- more subscriptions than ZeroMQ's default send HWM
# of 1,000 on the SUB, past which it drops them -- and gets what follows
"$top_builddir/tests/bench/loadgen" --url "$U/f/events" --clients 1500 --rate 2 --duration 10 \
    --settle 8 --publish "tcp://127.0.0.1:$P_PUB" --channel f --ramp 60 > "$T/many.out" &
l=$!
t_until 600 grep -q '^# open' "$T/many.out"
sleep 2
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
t_start_broker
wait $l
out=$(tail -1 "$T/many.out")
echo "# 1,500 streams across a broker restart: $out"
ok "1,500 streams across a broker restart: all open" grep -q ' open=1500 ' <<<"$out"
ok "...and every event reached every stream, in order" \
    grep -q ' lost=0 reordered=0 gaps=0 ' <<<"$out"
t_done
