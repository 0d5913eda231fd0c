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
T_BUFFER=100000 t_config ', "routes": [
  { "path": "/big/events", "channels": ["big/1"], "auth": "none", "heartbeat": { "interval": 1 } },
  { "path": "/p/{ch}/events", "channels": ["p/{ch}"], "auth": "none", "heartbeat": { "interval": 5 } },
  { "path": "/u/events", "channels": ["user/{sub}"], "max_per_user": 1, "heartbeat": { "interval": 1 } },
  { "path": "/metrics", "type": "stats", "auth": "none" } ]' \
    > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" "$T/journal" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["journal"] = sys.argv[2]
c["broker"]["max_memory"] = 32 << 20
c["broker"]["max_state_keys"] = 100
c["broker"]["max_state_bytes"] = 1 << 20
json.dump(c, open(sys.argv[1], "w"))
PY
# RSS says nothing under AddressSanitizer (freed memory is quarantined)
# or a wrapper: those checks are skipped there
rss_ok=1
if [ -n "$ZSSE_BROKER_WRAP" ] || ldd "$top_builddir/zsse-broker" 2>/dev/null | grep -q libasan; then
    rss_ok=0
fi
rss_le() {  # rss_le NAME KIB LIMIT
    if [ $rss_ok = 1 ]; then ok "$1" test "$2" -le "$3"; else echo "# skipped (sanitizer): $1"; fi
}
# PLANE_ONLY="crash restart ...": run only those sections (development)
want() { [ -z "${PLANE_ONLY:-}" ] || [[ " $PLANE_ONLY " == *" $1 "* ]]; }
t_start_broker
srv_fcgi_listen 16
srv_lighttpd socket
alive() { kill -0 "$BROKER_PID" 2>/dev/null && zsse stats > /dev/null; }

# --- malformed requests: refused, the broker carries on -------------------
if want crash; then
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
fi

# --- a reply's bytes are capped: a large replay goes in parts ---------------
if want parts; then
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
# replies nobody reads: 100 replays of 2.4 MB on one connection that reads
# none (they pinned the whole 240 MB in the broker)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }      # KiB
rssf=$(rss "$BROKER_PID")
"$ZT" flood "$CTL" 100 replay 0 c big/1
rssg=$(rss "$BROKER_PID")
echo "# broker RSS: $rssf KiB before, $rssg KiB after 100 unread replays of 2.4 MB"
rss_le "unread replies pin at most 32 x 1 MiB (+ 8 MiB)" "$rssg" $((rssf + 40960))

fi

# --- leases: the broker's limit, random ids, only the taker's ---------------
if want leases; then
# one connection: two leases for one user on a max_per_user 1 route
"$ZT" req "$CTL" lease /u/events alice t1 -- lease /u/events alice t2 > "$T/l1"
ok "a lease: ok, the tag echoed, a 128-bit random id" grep -Eq '^ok t1 [0-9a-f]{32}$' \
    <(paste -sd' ' <(sed -n 1,3p "$T/l1"))
eq "the second of max_per_user 1 (the broker's config): full" "full t2" \
    "$(sed -n 4,5p "$T/l1" | paste -sd' ')"
eq "a requester cannot choose the limit: refused" error \
    "$("$ZT" req "$CTL" lease /u/events alice 100 L1 | head -1)"
eq "a route the broker's config lacks: refused" "refused t3 unknown route" \
    "$("$ZT" req "$CTL" lease /x/events alice t3 | paste -sd' ')"
eq "no subject on a max_per_user route: refused" "refused t4 no subject" \
    "$("$ZT" req "$CTL" lease /u/events '' t4 | paste -sd' ')"
id1=$(sed -n 3p "$T/l1")
id2=$("$ZT" req "$CTL" lease /u/events bob t5 | sed -n 3p)
ok "ids differ" test "$id1" != "$id2" -a -n "$id2"
# another connection releases bob's lease: ignored, counted
eq "a release by another connection: answered" ok "$("$ZT" req "$CTL" release "$id2")"
eq "...but bob's lease holds" "full t6" "$("$ZT" req "$CTL" lease /u/events bob t6 | paste -sd' ')"
ok "...and leases_foreign counts it" test "$(zsse stats | jget leases_foreign)" -ge 1
# the taker's own renew and release work
"$ZT" req "$CTL" lease /u/events carol t7 -- renew %1 -- release %1 -- lease /u/events carol t8 \
    > "$T/l3"
eq "the taker renews and releases its own; then carol gets one again" "ok ok ok ok t8" \
    "$(sed -n '1p;4p;5p;6,7p' "$T/l3" | paste -sd' ')"

# --- through zsse-fcgi: the subject as {sub} spells it --------------------
# a token whose sub is a number: its own group ("5"), not a shared ""
tok() {  # tok SUB_JSON -> an HS256 token with that sub (any JSON value)
    python3 - "$T/jwt.key" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
key, sub = open(sys.argv[1], "rb").read(), json.loads(sys.argv[2])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
claims = {"exp": int(time.time()) + 600}
if sub is not None:
    claims["sub"] = sub
h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b64(json.dumps(claims).encode())
sig = b64(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
print(h + "." + p + "." + sig)
PY
}
U="http://127.0.0.1:$WEB_PORT/u/events"
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Authorization: Bearer $1" "$U"; }
t5=$(tok 5)
base=$(leases)
curl -sN --max-time 30 -H "Authorization: Bearer $t5" "$U" > "$T/u5.out" &
u5=$!
t_until 50 leases_gt "$base"
eq "sub 6 (a number) while sub 5 streams: 200" 200 "$(status "$(tok 6)")"
eq "sub 5 again: 429 (max_per_user 1)" 429 "$(status "$(tok 5)")"
eq "sub \"5\" is the same user as 5 (channel user/5): 429" 429 "$(status "$(tok '"5"')")"
eq "no sub on a max_per_user route: 401" 401 "$(status "$(tok null)")"
eq "a sub that is an object: 401" 401 "$(status "$(tok '{"a":1}')")"
kill $u5 2>/dev/null; wait $u5 2>/dev/null
ok "the stream's lease is released when it ends (by its own connection)" \
    t_until 100 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Authorization: Bearer $(tok 5)' '$U')\" = 200 ]"
fi

# --- broker.max_memory: the oldest buffered events go first ----------------
if want budget; then
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }      # KiB
budget=$((32 << 20))
rss0=$(rss "$BROKER_PID")
# 2,000 events of 60 kB (120 MB) to 200 channels, acknowledged one by one
python3 -c "
import sys
for i in range(2000):
    sys.stdout.write('{\"channel\":\"mem/%d\",\"data\":\"%05d%s\"}\n' % (i % 200, i, 'x' * 60000))
" | zsse publish --stdin --ack > "$T/mem.ids"
rss1=$(rss "$BROKER_PID")
zsse stats > "$T/mem.stats"
mem=$(jget memory < "$T/mem.stats")
echo "# broker RSS: $rss0 KiB before, $rss1 KiB after 120 MB into a 32 MiB budget (counted: $mem bytes, evicted: $(jget evicted < "$T/mem.stats"))"
eq "every one accepted" 2000 "$(wc -l < "$T/mem.ids")"
ok "memory counted within max_memory" test "$mem" -le "$budget"
ok "the oldest were evicted (counted)" test "$(jget evicted < "$T/mem.stats")" -ge 1000
rss_le "broker RSS within the budget + its RSS before + 16 MiB" \
    "$rss1" $((rss0 + budget / 1024 + 16384))
eq "a replay from before the evicted ones: the reset" "reset too old" \
    "$("$ZT" req "$CTL" replay "$(head -1 "$T/mem.ids")" c mem/0 | head -2 | paste -sd' ')"
eq "the newest are kept" 1 "$("$ZT" req "$CTL" replay "$(sed -n 1999p "$T/mem.ids")" c mem/199 |
    grep -c '^id=')"
# state: at most max_state_keys keys and max_state_bytes per channel
python3 -c "
import sys
for i in range(101):
    sys.stdout.write('{\"channel\":\"k/1\",\"key\":\"k%d\",\"data\":%d}\n' % (i, i))
for i in range(20):
    sys.stdout.write('{\"channel\":\"k/2\",\"key\":\"k%d\",\"data\":\"%s\"}\n' % (i, 'y' * 60000))
" | zsse publish --stdin --ack > "$T/keys.ids" 2> "$T/keys.err"
zsse stats > "$T/keys.stats"
eq "the 101st key of a channel: refused (max_state_keys 100)" 1 \
    "$(jget rejected_reasons.state_keys < "$T/keys.stats")"
eq "60 kB keyed events past 1 MiB of state: refused (max_state_bytes)" 3 \
    "$(jget rejected_reasons.state_bytes < "$T/keys.stats")"
out=$(curl -s --max-time 5 "http://127.0.0.1:$WEB_PORT/metrics")
ok "Prometheus: memory and evictions" grep -q '^zsse_events_evicted_total [1-9]' <<<"$out"
ok "Prometheus: publish_batches" grep -q '^zsse_publish_batches_total [0-9]' <<<"$out"
ok "Prometheus: bytes against the budget" grep -q '^zsse_memory_max_bytes 33554432' <<<"$out"
eq "a key already there may be replaced" ok "$(zsse publish --ack -C k/1 -k k5 -d 1 > /dev/null && echo ok)"
fi

# --- 50 broker restarts under steady publishing to many channels ----------
# After a restart the worker's SUB sends all its subscriptions again in
# sorted order, sync markers ("\1...") first: a marker answered before
# the channels it should follow let an event slip between the stream's
# replay and its live subscription.  One stream per channel, held open
# across every restart; each must get every event of its channel after
# its join point (the broker's journal-backed buffer is the truth), once,
# in order.
if want restart; then
N=${PLANE_STREAMS:-1000}
mkdir -p "$T/streams"
python3 "$top_srcdir/tests/plane_streams.py" 127.0.0.1 "$WEB_PORT" "/p/{i}/events" "$N" \
    "$T/stop" "$T/streams" 170 > "$T/streams.out" &
sp=$!
t_until 600 grep -q '^open' "$T/streams.out"
eq "$N streams open" "open $N" "$(head -1 "$T/streams.out")"
# steady publishing to every channel (fire and forget: what the broker
# accepted is the truth, read from its buffer at the end)
python3 -c "
import os, sys, time
n, stop, i = int(sys.argv[1]), sys.argv[2], 0
while not os.path.exists(stop):
    for _ in range(20):
        sys.stdout.write('{\"channel\":\"p/%d\",\"data\":%d}\n' % (i % n, i)); i += 1
    sys.stdout.flush(); time.sleep(0.02)
" "$N" "$T/pubstop" | zsse publish --stdin &
pp=$!
started=$SECONDS
restarts=0
for k in $(seq 1 50); do
    sleep 0.3
    t_stop "$BROKER_PID"
    t_start_broker || break
    restarts=$k
done
sleep 2
touch "$T/pubstop"; wait $pp
sleep 1
touch "$T/stop"; wait $sp
echo "# $restarts restarts in $((SECONDS - started)) s"
eq "50 broker restarts" 50 "$restarts"
python3 - "$ZT" "$CTL" "$N" "$T/streams" <<'PY' > "$T/restart.verdict"
import subprocess, sys
zt, ctl, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
bad, events = [], 0
for i in range(n):
    out = subprocess.run([zt, "req", ctl, "replay", "0", "c", "p/%d" % i],
                         capture_output=True, text=True).stdout.split("\n")
    truth = [l.split()[0][3:] for l in out if l.startswith("id=")]
    got = open("%s/client-%d" % (d, i)).read().split("\n")[:-1]
    join, ids = int(got[0]), got[1:]
    # the first id block may be an event itself (the join is then its id)
    want = [x for x in truth if int(x) > join or (ids and x == ids[0] == got[0])]
    events += len(want)
    if ids != want:
        missing = sorted(set(want) - set(ids))
        bad.append("p/%d: %d expected, %d got, %d missing%s" % (i, len(want), len(ids),
                   len(missing), " (closed)" if "closed" in ids else ""))
print("# %d events over %d channels" % (events, n))
for b in bad[:10]:
    print("# " + b)
print("bad %d" % len(bad))
PY
cat "$T/restart.verdict" | grep '^#'
echo "# streams that ended and reconnected with Last-Event-ID: $(cat "$T/streams/reconnects")"
eq "every stream got every event of its channel, once, in order" "bad 0" "$(tail -1 "$T/restart.verdict")"
fi

t_done
