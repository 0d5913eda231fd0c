#!/usr/bin/env bash
# contrib/js/zsse.js in headless Chromium through 50 consecutive token
# expiries under a steady publish rate (issue 13, item 1), against the real
# parts: zsse-broker, zsse-fcgi --listen behind nginx, a route with
# auth.leeway 0 and tokens of 1 s (`zsse token --ttl 1`, minted by the
# page's token() each time zsse.js says the last one expired).  At each exp
# zsse-fcgi sends `event: auth_expired` and ends the stream; zsse.js must
# get a fresh token and reconnect at once with Last-Event-ID.  Checked:
# every acknowledged event arrives exactly once and in order, every request
# after the first carries the id of the last event received before it, each
# reconnect follows an expiry (no backoff, no other reason) with a fresh
# token, and nothing answers 401.  Prints the reconnect gap (the old
# token's exp to the new stream's 200) median and max.
: "${ZSSE_TEST_TIMEOUT:=170}"
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init js-expiry
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 0 } }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["leeway"] = 0
c["auth"]["query_param"] = None         # the token travels in Authorization only
json.dump(c, open(sys.argv[1], "w"))
PY
EXPIRIES=50         # consecutive expiries with events flowing, at least
RATE=20             # events/s
EVENTS=1200         # 60 s of them: one expiry a second

t_start_broker
srv_fcgi_listen 4
srv_nginx
U="http://127.0.0.1:$WEB_PORT"
CLIENT="$top_srcdir/tests/browser/client.mjs"

# the client ends by itself after the EVENTS ticks and one "done" (or its
# timeout: a SIGTERM only closes its browser)
node "$CLIENT" "$U/me/events" --token-cmd 'zsse token --sub u1 --ttl 1' --listen tick,done \
    --count $(( EVENTS + 1 )) --timeout $(( EVENTS / RATE + 30 )) --min-interval 250 \
    --log-requests 1 > "$T/c.out" 2> "$T/c.err" &
client=$!
T_PIDS+=("$client")
ok "the stream opened" t_until 300 grep -q '"k":"open"' "$T/c.out"

# the publisher: EVENTS at RATE a second, acknowledged (it stops at a 401:
# no use going on)
python3 - "$T/c.out" "$RATE" "$EVENTS" <<'PY' | zsse publish --stdin --ack > "$T/ids" 2> "$T/pub.err" &
import json, sys, time
out, rate, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.monotonic()
for i in range(count):
    if i % rate == 0 and '"status":401' in open(out).read():
        break
    print(json.dumps({"channel": "user/u1", "event": "tick", "data": {"n": i}}), flush=True)
    time.sleep(max(0, t0 + (i + 1) / rate - time.monotonic()))
PY
pub=$!
T_PIDS+=("$pub")
wait "$pub"
acked=$(wc -l < "$T/ids")
# all of them delivered, then one more expiry and reconnect (a repeat after
# the last event would show there), then "done" ends the client
t_until 100 bash -c "[ \$(grep -c '\"type\":\"tick\"' '$T/c.out') -ge $acked ]"
e=$(grep -c '"k":"token","expired":true' "$T/c.out")
t_until 40 bash -c "[ \$(grep -c '\"k\":\"token\",\"expired\":true' '$T/c.out') -gt $e ] &&
    [ \$(grep -c '\"k\":\"open\"' '$T/c.out') -gt \$(( $e + 1 )) ]"
sleep 0.3
zsse publish -C user/u1 -e done -d 0 > /dev/null
wait "$client"

ok "the publisher sent $acked events, all acknowledged" \
    test "$acked" = "$EVENTS" -a ! -s "$T/pub.err"
grep '"k":"event","type":"tick"' "$T/c.out" | jcol id > "$T/got"
same() {     # the two id lists equal; else their lengths and first difference
    python3 - "$1" "$2" <<'PY'
import sys
a, b = (open(f).read().split() for f in sys.argv[1:3])
if a == b:
    sys.exit(0)
i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print("#   published %d, received %d; first difference at %d: %s / %s"
      % (len(a), len(b), i, a[i:i + 2], b[i:i + 2]))
sys.exit(1)
PY
}
ok "every acknowledged event received exactly once, in order" same "$T/ids" "$T/got"
python3 - "$T/c.out" "$EXPIRIES" > "$T/check" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
want = int(sys.argv[2])
bad = []
last_id, prev_exp, requests, gaps, expiries_live = None, None, 0, [], 0
seen_tick = False
pending = None      # the exp of the stream that just expired, until the next 200
for l in lines:
    k = l["k"]
    if k == "event" and l["type"] == "tick":
        last_id, seen_tick = l["id"], True
    elif k == "token" and l["expired"]:
        expiries_live += seen_tick
    elif k == "request":
        requests += 1
        # before any event, the id-only block (id: HEAD) of the first
        # stream's opening; then the last event's id
        if requests > 1 and (l["lastEventId"] != last_id if seen_tick else not l["lastEventId"]):
            bad.append("request %d: Last-Event-ID %r, last event received %r"
                       % (requests, l["lastEventId"], last_id))
        if requests == 1 and l["lastEventId"] is not None:
            bad.append("first request: Last-Event-ID %r" % l["lastEventId"])
        if prev_exp is not None and not (l["exp"] and l["exp"] > prev_exp):
            bad.append("request %d: token exp %r, not fresh after %r" % (requests, l["exp"], prev_exp))
        pending, prev_exp = prev_exp, l["exp"]
    elif k == "response":
        if l["status"] != 200:
            bad.append("answer %d" % l["status"])
        elif pending is not None:
            gaps.append(l["t"] - pending * 1000)
            pending = None
    elif k == "reconnect" and l["reason"] != "auth_expired":
        bad.append("reconnect for %s (delay %s ms)" % (l["reason"], l["delay"]))
    elif k in ("error", "close", "fallback", "poll"):
        bad.append(json.dumps(l))
print("expiries=%d requests=%d" % (expiries_live, requests))
if gaps:
    print("gap_ms median=%d max=%d n=%d" % (statistics.median(gaps), max(gaps), len(gaps)))
for b in bad[:10]:
    print("bad: " + b)
sys.exit(1 if bad or expiries_live < want or len(gaps) < want else 0)
PY
rc=$?
sed 's/^/# /' "$T/check"
ok "$EXPIRIES expiries or more with events flowing, each followed at once by a reconnect" \
    test "$rc" = 0
ok "no request answered 401" bash -c "! grep -q '\"status\":401' '$T/c.out'"
t_done
