#!/usr/bin/env bash
# The real broker on loopback ports, driven with zsse publish / tail / stats
# and raw ZeroMQ (tests/zmqtool): order, exact topics, replay, too-old and
# unknown ids, state, ttl, every rejection counted, ids across restarts,
# SIGHUP, leases, sync markers, bad config and flags.
. "$top_srcdir/tests/lib.sh"
t_init broker
t_key
T_BUFFER=5 t_config > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" "$T/broker-file.log" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["channels"] = [{"match": "short/*", "ttl": 1}]
c["broker"]["log"] = sys.argv[2]
c["broker"]["max_message"] = 1024
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
ZT="$top_builddir/tests/zmqtool"
CTL="tcp://127.0.0.1:$P_CTL"
PUB="tcp://127.0.0.1:$P_PUB"
EVT="tcp://127.0.0.1:$P_EVT"
stat() { zsse stats | jget "$1"; }

# --- order and exact topics -------------------------------------------------
ok "tail --ready: subscribed" t_tail tail1 -n 3 --timeout 10 user/1
tail1=$TAIL_PID
"$ZT" sub "$EVT" 'user/1' 60 10 > "$T/prefix.out" &
pre=$!
t_until 50 grep -qx ready "$T/prefix.out"
# the raw SUB says "ready" before its subscription reaches the broker: a
# sync marker on the same pipe as tail's would not cover it, so publish
# until it has seen one (bounded), then the checked ones
for _ in $(seq 50); do
    zsse publish -C user/12 -e warm -d 0
    grep -q 'user/12' "$T/prefix.out" && break
    sleep 0.1
done
for i in 1 2 3; do
    zsse publish -C user/12 -e n -d "$i"
    zsse publish -C user/1 -e n -d "$i"
done
wait $tail1 $pre
eq "tail user/1: three events, in order" "1 2 3" "$(tail_out tail1 | awk '{print $4}' | paste -sd' ')"
ok "tail user/1 never sees user/12" bash -c "! grep -q 'user/12' $T/tail1.out"
ok "a raw prefix subscription would see user/12 (why topics end in NUL)" grep -q 'user/12' "$T/prefix.out"
ids=$(tail_out tail1 | awk '{print $1}')
ok "ids increase" bash -c "[ \"\$(sort -n <<<'$ids')\" = '$ids' ] && [ \$(sort -u <<<'$ids' | wc -l) = 3 ]"

# --- replay, too old, unknown ---------------------------------------------------
first=$(zsse publish --ack -C board/a -e e -d '{"n":1}')
for i in 2 3 4; do last=$(zsse publish --ack -C board/a -e e -d "{\"n\":$i}"); done
out=$("$ZT" req "$CTL" replay "$first" "" board/a)
eq "replay after the first: 3 events" 3 "$(grep -c '^id=' <<<"$out")"
eq "replay status" ok "$(head -1 <<<"$out")"
eq "replay: the last is the last published" "id=$last kind=j" "$(grep '^id=' <<<"$out" | tail -1)"
eq "replay after the last: nothing" 0 "$("$ZT" req "$CTL" replay "$last" "" board/a | grep -c '^id=')"
for i in $(seq 10); do zsse publish --ack -C board/a -d "$i" > /dev/null; done
out=$("$ZT" req "$CTL" replay "$first" "" board/a)
eq "buffer 5, 14 published: too old" "reset too old" "$(head -2 <<<"$out" | paste -sd' ')"
out=$("$ZT" req "$CTL" replay 9007199254740990 "" board/a)
eq "an id from the future: unknown" "reset unknown id" "$(head -2 <<<"$out" | paste -sd' ')"
eq "a malformed id: bad request" "error bad request" "$("$ZT" req "$CTL" replay 12x "" board/a | paste -sd' ')"
zsse publish --ack -C board/fresh -d 1 > /dev/null
out=$("$ZT" req "$CTL" replay 5 "" board/fresh)
eq "an id from before this broker ran: reset" "reset broker restarted" "$(head -2 <<<"$out" | paste -sd' ')"
eq "...unless the asker says it saw everything ('c')" ok "$("$ZT" req "$CTL" replay 5 c board/fresh | head -1)"

# --- state per key ----------------------------------------------------------------
zsse publish --ack -C user/9 -e bal -k gold -d '{"gold":1}' > /dev/null
zsse publish --ack -C user/9 -e bal -k gold -d '{"gold":2}' > /dev/null
zsse publish --ack -C user/9 -e bal -k silver -d '{"silver":7}' > /dev/null
zsse publish --ack -C user/9 -e other -d '{"nokey":1}' > /dev/null
out=$("$ZT" req "$CTL" state user/9)
eq "state: two keys" 2 "$(grep -c '^id=' <<<"$out")"
ok "state: the newest gold" grep -qx '{"gold":2}' <<<"$out"
ok "state: silver" grep -qx '{"silver":7}' <<<"$out"
ok "state: not the unkeyed event" bash -c "! grep -q nokey <<<'$out'"

# --- ttl ----------------------------------------------------------------------------
zsse publish --ack -C short/x -k k -d '"gone soon"' > /dev/null
zsse publish --ack -C keep/x -k k --ttl 1 -d '"gone soon too"' > /dev/null
zsse publish --ack -C keep/y -k k -d '"stays"' > /dev/null
eq "before the ttl: buffered" 1 "$("$ZT" req "$CTL" replay 0 c short/x | grep -c '^id=')"
sleep 2.5
eq "channel rule ttl 1 s: replay empty" 0 "$("$ZT" req "$CTL" replay 0 c short/x | grep -c '^id=')"
eq "channel rule ttl 1 s: state gone" 0 "$("$ZT" req "$CTL" state short/x | grep -c '^id=')"
eq "message ttl 1 s: state gone" 0 "$("$ZT" req "$CTL" state keep/x | grep -c '^id=')"
eq "default ttl: still there" 1 "$("$ZT" req "$CTL" state keep/y | grep -c '^id=')"

# --- every rejection counted, the broker still serving -------------------------------
big=$(head -c 2000 /dev/zero | tr '\0' a)
"$ZT" push "$PUB" "{\"channel\":\"a\",\"data\":\"$big\"}"
"$ZT" push "$PUB" 'not json'
"$ZT" push "$PUB" '7'
"$ZT" push "$PUB" '{"channel":"a","data":1,"colour":"red"}'
"$ZT" push "$PUB" '{"data":1}'
"$ZT" push "$PUB" '{"channel":"a b","data":1}'
"$ZT" push "$PUB" "{\"channels\":[$(seq -s, 1 65 | sed 's/[0-9]*/"c&"/g')],\"data\":1}"
"$ZT" push "$PUB" '{"channel":"a"}'
"$ZT" push "$PUB" '{"channel":"a","event":"x\ny","data":1}'
"$ZT" push "$PUB" '{"channel":"a","key":"","data":1}'
"$ZT" push "$PUB" '{"channel":"a","ttl":-5,"data":1}'
"$ZT" push "$PUB" '{"channel":"a","data":1}' 'second frame'
printf '{"channel":"caf\xc3","data":1}' > "$T/badutf8"
"$ZT" push "$PUB" "@$T/badutf8"
"$ZT" push "$PUB" '{"channel":"a","data":1,"data":2}'
# (pushed on separate connections: wait for the 14th to be counted)
t_until 50 stat_ge rejected 14
r=$(zsse stats)
for reason in too_large not_object unknown_field missing_channel bad_channel \
    too_many_channels missing_data bad_event bad_key bad_ttl multipart; do
    eq "rejected: $reason counted" 1 "$(jget "rejected_reasons.$reason" <<<"$r" | sed 's/None/0/')"
done
eq "not JSON, bad UTF-8, a duplicate key: invalid_json" 3 "$(jget rejected_reasons.invalid_json <<<"$r")"
eq "rejected total" 14 "$(jget rejected <<<"$r")"
# (600,000 bytes: past the publish endpoint's bound for batch frames too,
# 2 x BATCH_BYTES + 4096, proto/batch.h)
head -c 600000 /dev/zero | tr '\0' a > "$T/huge"
"$ZT" push "$PUB" "@$T/huge"
# then a frame within the bound (1,500 bytes: too_large, counted) on a new
# connection: once it is counted, the huge frame, in the broker's socket
# before it, has been taken too
printf '{"channel":"a","data":"%s"}' "$(head -c 1500 /dev/zero | tr '\0' a)" > "$T/big2"
"$ZT" push "$PUB" "@$T/big2"
ok "a frame up to twice max_message is counted (too_large)" \
    t_until 50 stat_ge rejected_reasons.too_large 2
# the control socket answers every request it parses: no answer means the
# frame never reached the parser (ZeroMQ dropped the connection)
ok "control: a frame past twice max_message gets no answer" \
    bash -c "! '$ZT' req '$CTL' publish '@$T/huge' > '$T/huge.out' 2>&1"
ok "still serving after all that" bash -c "zsse publish --ack -C a -d 1 | grep -q '^[0-9]'"
eq "a frame past twice max_message never reaches the parser (the 14, the 1,500-byte one)" 15 \
    "$(zsse stats | jget rejected)"
ok "rejections are logged with the reason" grep -q 'rejected a message: bad_channel\|rejected a message: too_large' "$T/broker-file.log"
eq "--ack with a bad message: the reason" "zsse: rejected: bad_channel" \
    "$(zsse publish --ack --stdin <<<'{"channel":"a b","data":1}' 2>&1)"

# --- sync markers, leases ---------------------------------------------------------------
eq "sync marker comes back" synced "$("$ZT" sync "$EVT")"
# (leases in depth: plane.sh; the limit is the broker's own config's)
eq "lease on a route the broker does not know: refused" "refused t1 unknown route" \
    "$("$ZT" req "$CTL" lease /r u1 t1 | paste -sd' ')"
eq "unknown op" "error unknown op" "$("$ZT" req "$CTL" frobnicate | paste -sd' ')"

# --- SIGHUP reopens the log; ids keep increasing across a restart ---------------------------
mv "$T/broker-file.log" "$T/broker-file.log.1"
kill -HUP "$BROKER_PID"
sleep 0.3
zsse publish -C a -d '"x"' ; "$ZT" push "$PUB" 'junk after hup'
ok "SIGHUP: a new log file" t_until 30 test -s "$T/broker-file.log"
before=$(zsse publish --ack -C a -d 1)
t_stop "$BROKER_PID"
ok "SIGTERM: clean exit" grep -q stopping "$T/broker-file.log"
t_start_broker
# no journal: the new run's counter starts above every id of the last
# (the clock in microseconds), before anything is published in it; and an
# id of the last run asks for a reset (this run knows nothing of it)
floor=$(zsse stats | jget last_id)
ok "no journal: the counter starts above the last run's ids ($before < $floor)" test "$floor" -gt "$before"
eq "no journal: an id of the last run: reset" "reset broker restarted" \
    "$("$ZT" req "$CTL" replay "$before" "" a | head -2 | paste -sd' ')"
after=$(zsse publish --ack -C a -d 2)
ok "ids increase across a restart ($before < $after)" test "$after" -gt "$before"
ok "ids stay below 2^53" test "$after" -lt 9007199254740992

# --- config and flag errors ------------------------------------------------------------------
echo '{"routes":[{"path":"/x","channels":["a/{foo}"]}]}' > "$T/bad.json"
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1); rc=$?
eq "bad config: exit 1" 1 "$rc"
eq "bad config: one line naming the path" 1 "$(wc -l <<<"$out")"
ok "bad config: routes[0].channels[0]: unknown placeholder {foo}" \
    grep -q 'routes\[0\].channels\[0\]: unknown placeholder {foo}' <<<"$out"
echo '{"broker":{"bufer":10}}' > "$T/bad2.json"
ok "unknown key is an error" bash -c "timeout 10 zsse-broker -f -c $T/bad2.json 2>&1 | grep -q 'broker.bufer: unknown key'"
ok "unknown flag: non-zero" bash -c "! timeout 10 zsse-broker --frobnicate 2>/dev/null"
for p in zsse-broker zsse-fcgi zsse; do
    ok "$p --help" bash -c "$p --help | grep -q usage"
    ok "$p --version" bash -c "$p --version | grep -q '0\.'"
done
ok "zsse publish --help" bash -c "zsse publish --help | grep -q usage"
out=$(zsse publish -C a -d hello 2>&1); rc=$?
eq "-d must be JSON: exit 1, saying so" "1 zsse: -d: not valid JSON" "$rc ${out%% (*}"
t_done
