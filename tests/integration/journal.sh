#!/usr/bin/env bash
# The journal: kill -9 of the broker while `zsse publish --ack` runs loses
# no acknowledged event; a restart rebuilds buffers, state and the id
# counter; the journal stays bounded by the buffers.
. "$top_srcdir/tests/lib.sh"
t_init journal
t_key
T_BUFFER=200000 t_config > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" "$T/journal" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["journal"] = sys.argv[2]
c["broker"]["journal_fsync"] = "always"
c["broker"]["channels"] = [{"match": "small/*", "buffer": 10}]
json.dump(c, open(sys.argv[1], "w"))
PY
export ZSSE_JOURNAL_SEGMENT_BYTES=65536
t_start_broker
ZT="$top_builddir/tests/zmqtool"
CTL="tcp://127.0.0.1:$P_CTL"

zsse publish --ack -C user/1 -e bal -k gold -d '{"gold":1}' > /dev/null
zsse publish --ack -C user/1 -e bal -k gold -d '{"gold":2}' > /dev/null
zsse publish --ack -C user/1 -e bal -k silver -d '{"silver":3}' > /dev/null

# acknowledged publishes, and a kill -9 in the middle of them
python3 -c '
import sys
for i in range(200000):
    sys.stdout.write("{\"channel\":\"acked\",\"data\":%d}\n" % i)' 2>/dev/null |
    zsse publish --stdin --ack > "$T/acked" 2> "$T/acked.err" &
pub=$!
ok "500 publishes acknowledged while the broker runs" \
    t_until 100 bash -c "[ \$(cat $T/acked | wc -l) -ge 500 ]"
kill -9 "$BROKER_PID"
wait $pub
n=$(wc -l < "$T/acked")
echo "# $n publishes were acknowledged before the kill"
t_start_broker
"$ZT" req "$CTL" replay 0 c acked | sed -n 's/^id=\([0-9]*\) .*/\1/p' > "$T/stored"
missing=$(comm -23 <(sort "$T/acked") <(sort "$T/stored") | wc -l)
ok "kill -9: at least 500 acknowledged ($n), each an id" \
    bash -c "[ $n -ge 500 ] && ! grep -qv '^[0-9][0-9]*\$' $T/acked"
eq "kill -9: every acknowledged event is there after the restart ($n)" 0 "$missing"
out=$("$ZT" req "$CTL" state user/1)
ok "state restored: gold 2" grep -qx '{"gold":2}' <<<"$out"
ok "state restored: silver 3" grep -qx '{"silver":3}' <<<"$out"
last=$(sort -n "$T/stored" | tail -1)
# ids follow the clock too: only the counter read before any publish shows
# the journal restored it (a fresh counter would read 0)
eq "the id counter is restored from the journal (stats last_id)" "$last" "$(zsse stats | jget last_id)"
next=$(zsse publish --ack -C acked -d '"after"')
ok "the id counter goes on ($last < $next)" test "$next" -gt "$last"
eq "a replay from before the restart is honoured (no reset)" ok \
    "$("$ZT" req "$CTL" replay "$(head -1 "$T/stored")" "" acked | head -1)"

# bounded: 20,000 events into buffers of 10; old segments are dropped
python3 -c '
import sys
for i in range(20000):
    sys.stdout.write("{\"channel\":\"small/%d\",\"data\":{\"i\":%d,\"pad\":\"%s\"}}\n" % (i % 4, i, "x" * 100))' |
    zsse publish --stdin
zsse publish --ack -C small/0 -d '"last"' > /dev/null    # all of them stored
jsmall() { [ "$(du -sb "$T/journal" | cut -f1)" -lt 1048576 ]; }
ok "journal bounded (< 1 MiB within 10 s: the live events, not the 20,000)" t_until 100 jsmall
size=$(du -sb "$T/journal" | cut -f1)
echo "# journal after 20,000 events into 4 buffers of 10 (+ the acknowledged ones, kept): $size bytes"
# (counted by replaying: stats' events_buffered is as of the last sweep)
buffered() { "$ZT" req "$CTL" replay 1 c acked | grep -c '^id='; }
before=$(buffered)
t_stop "$BROKER_PID"
t_start_broker
eq "after a clean restart: acked holds the same $before events" "$before" "$(buffered)"
# its floor is kept too: a replay from before it gets the reset (issue 19)
eq "after a clean restart: small/1's floor is kept" "reset too old" \
    "$("$ZT" req "$CTL" replay 0 c small/1 | head -2 | paste -sd' ')"
t_done
