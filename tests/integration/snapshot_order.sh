#!/usr/bin/env bash
# Merged events go out in id order, none dropped (issue 13, item 6),
# behind nginx and lighttpd.  The issue's case: on a snapshot route,
# user/u1 gets balance/gold (1100), mission/daily-streak progress, then
# completed, then balance/gold (1200) -- interleaved keys.  A new stream
# must get the state of both keys (mission.completed, then balance 1200),
# as must a reset with state (an unknown Last-Event-ID) and a resumed
# stream; state of several channels interleaved arrives whole and in id
# order; poll mode's replay of several channels is in id order too.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init snapshot_order
t_key
t_config ', "routes": [
  { "path": "/u/events", "channels": ["user/{sub}"], "snapshot": true, "format": "envelope",
    "heartbeat": { "interval": 1 } },
  { "path": "/multi/events", "channels": ["a/{sub}", "b/{sub}", "c/{sub}"], "snapshot": true,
    "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"
pub() { zsse publish -C "$1" -e "$2" -k "$3" -d "$4" --ack; }

pub user/u1 balance.changed balance/gold '{"currency":"gold","amount":1100}' >/dev/null
pub user/u1 mission.progress mission/daily-streak '{"day":3}' >/dev/null
pub user/u1 mission.completed mission/daily-streak '{"day":3}' >/dev/null
pub user/u1 balance.changed balance/gold '{"currency":"gold","amount":1200}' >/dev/null
want_u1='mission.completed,balance.changed:1200'
# several channels, keys interleaved across them; the state is the last of each
ids=()
for i in 1 2 3; do
    for ch in c a b; do
        ids+=("$(pub "$ch/u1" "$ch$i" "k$((i % 2))" "$i")")
    done
done
want_multi='c2,a2,b2,c3,a3,b3'      # keys k0 (i=2) and k1 (i=3) of each channel

# the events of a stream (envelope: type[:amount]) as one comma list, ids
# strictly increasing or "ids out of order"
events() {
    "$SSE" "$@" -t 2 | python3 -c '
import json, sys
out, last = [], 0
for line in sys.stdin:
    e = json.loads(line)
    if "data" not in e: continue
    if e["event"] == "reset" or e["data"].startswith("{\"type\":\"reset\""):
        out.append("reset"); continue
    i = int(e["id"]) if e["id"] else 0
    if i <= last: print("ids out of order"); sys.exit()
    last = i
    if e["event"]:
        out.append(e["event"])
    else:
        d = json.loads(e["data"]); t = d["type"]
        if isinstance(d["data"], dict) and "amount" in d["data"]: t += ":%d" % d["data"]["amount"]
        out.append(t)
print(",".join(out))'
}

run() {
    local name=$1 U="http://127.0.0.1:$WEB_PORT"
    local t1 t2; t1=$(zsse token --sub u1)
    eq "$name: snapshot of interleaved keys on one channel" "$want_u1" "$(events "$U/u/events?token=$t1")"
    eq "$name: reset with state (unknown Last-Event-ID)" "reset,$want_u1" \
        "$(events "$U/u/events?token=$t1" -H "Last-Event-ID: 9007199254740990")"
    eq "$name: snapshot of several channels" "$want_multi" "$(events "$U/multi/events?token=$t1")"
    eq "$name: reset with the state of several channels" "reset,$want_multi" \
        "$(events "$U/multi/events?token=$t1&lastEventId=abc")"
    eq "$name: replay of several channels from the first id" "a1,b1,c2,a2,b2,c3,a3,b3" \
        "$(events "$U/multi/events?token=$t1" -H "Last-Event-ID: ${ids[0]}")"
    local poll
    poll=$(curl -s -m 5 "$U/multi/events?token=$t1&mode=poll&lastEventId=${ids[0]}" | python3 -c '
import json, sys
d = json.load(sys.stdin); ids = [int(e["id"]) for e in d["events"]]
print(",".join(e["event"] for e in d["events"]) if ids == sorted(ids) else "ids out of order")')
    eq "$name: poll of several channels" "a1,b1,c2,a2,b2,c3,a3,b3" "$poll"
}

srv_fcgi_listen 4
srv_nginx
run nginx
srv_lighttpd binpath 2
run lighttpd
t_done
