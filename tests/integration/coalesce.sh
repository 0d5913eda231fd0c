#!/usr/bin/env bash
# Coalesced EVENTS frames (proto/wire.h, RUNS) keep the order across
# channels.  The broker merges consecutive events of one channel into one
# frame; only consecutive ones, so a reader of several channels still gets
# every event, ids strictly increasing, in the order they were published.
# One PUSH batch (proto/batch.h) alternating a/u1 and b/u1 in runs of 1 to
# 3 is read by `zsse tail` of both channels and by a stream on both through
# zsse-fcgi behind lighttpd; plain and under CURVE.  Merging by channel
# instead (all of a, then all of b) fails both.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init coalesce
t_key
ZT="$top_builddir/tests/zmqtool"
PUB="tcp://127.0.0.1:$P_PUB"
SSE="$top_srcdir/tests/sse.py"
PATTERN="a a b a b b a a a b a b b b a"       # the channel of each message, in order
N=$(wc -w <<<"$PATTERN")
python3 - "$T/batch" $PATTERN <<'PY'
import json, sys
json.dump([{"channel": ch + "/u1", "event": "e", "data": i}
           for i, ch in enumerate(sys.argv[2:])], open(sys.argv[1], "w"))
PY
want_chans=$(sed 's/\([ab]\)/\1\/u1/g' <<<"$PATTERN")
want_data=$(seq 0 $((N - 1)) | paste -sd' ')

# on stdin: lines "ID DATA"; prints the DATAs, or "ids out of order"
in_order() {
    awk '{ if ($1 <= last) { printf "%s%s", sep, "ids out of order"; exit } last = $1; printf "%s%s", sep, $2; sep = " " } END { print "" }'
}

run() {
    local mode=$1 zt=("$ZT")
    mkdir -p "$T/keys/clients"
    [ -f "$T/keys/broker.public" ] || { zsse keygen "$T/keys/broker" >/dev/null &&
        zsse keygen "$T/keys/clients/me" >/dev/null; }
    t_config ', "routes": [
      { "path": "/mix/events", "channels": ["a/{sub}", "b/{sub}"] } ]' > "$ZSSE_CONFIG"
    if [ "$mode" = curve ]; then
        python3 - "$ZSSE_CONFIG" "$T" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); t = sys.argv[2]
c["broker"]["curve"] = {"secret_key_file": t + "/keys/broker.secret",
    "clients": t + "/keys/clients", "server_public_key_file": t + "/keys/broker.public",
    "client_secret_key_file": t + "/keys/clients/me.secret"}
json.dump(c, open(sys.argv[1], "w"))
PY
        zt=(env ZMQTOOL_SERVER_KEY="$T/keys/broker.public"
            ZMQTOOL_SECRET_KEY="$T/keys/clients/me.secret" "$ZT")
    fi
    t_start_broker || return 1
    srv_fcgi_listen 4
    srv_lighttpd listen
    ok "$mode: tail of both channels ready" t_tail "tail-$mode" -n "$N" --timeout 10 a/u1 b/u1
    local tl=$TAIL_PID
    ok "$mode: stream of both channels open" t_sse "sse-$mode" \
        "http://127.0.0.1:$WEB_PORT/mix/events?token=$(zsse token --sub u1)" -n "$N" -t 10
    local sp=$SSE_PID
    "${zt[@]}" push "$PUB" "@$T/batch"
    wait "$tl"
    wait "$sp"
    eq "$mode: tail: every event, ids increasing, in publish order" "$want_data" \
        "$(tail_out "tail-$mode" | awk '{print $1, $4}' | in_order)"
    eq "$mode: tail: the channels in publish order" "$want_chans" \
        "$(tail_out "tail-$mode" | awk '{print $2}' | paste -sd' ')"
    eq "$mode: stream: every event, ids increasing, in publish order" "$want_data" \
        "$(sse_events "sse-$mode" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if "data" in e: print(e["id"], e["data"])' | in_order)"
    t_stop "$WEB_PID" 2>/dev/null
    t_stop "$FCGI_PID"
    t_stop "$BROKER_PID"
}

run plain
run curve
t_done
