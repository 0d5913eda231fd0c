#!/usr/bin/env bash
# The journal under faults (issue 19), with a real zsse-broker:
#  1. a full disk (LD_PRELOAD shim tests/shim/failwrite.c: a short write,
#     then ENOSPC): the batch is rejected (journal_full, counted), answered
#     error, never published; what is acknowledged before and after it is
#     all there after kill -9 and a restart
#  2. "journal_fsync": 1000 syncs from a timer, not on every batch (the
#     shim counts fdatasync calls), and does sync without more traffic
#  3. after a restart, a Last-Event-ID below a channel's floor gets the
#     reset although the segments with the evicted events are gone
#  4. a journal whose live events alone exceed four segments is compacted
#     once, not every second while idle
#  5. a compaction whose new file cannot be written: the events
#     acknowledged after it survive a kill -9
#  6. a damaged record in a segment that is not the last: a replay across
#     it gets the reset ("events lost"), the range is logged and the
#     damaged bytes are kept
#  7. kill -9 five times in the middle of acknowledged streams while
#     segments are dropped and compacted: every acknowledged event is
#     there, no id is given twice
. "$top_srcdir/tests/lib.sh"
t_init journal_faults
t_key
ZT="$top_builddir/tests/zmqtool"
CTL="tcp://127.0.0.1:$P_CTL"
EVT="tcp://127.0.0.1:$P_EVT"
SHIM="$top_builddir/tests/shim/.libs/libfailwrite.so"
[ -f "$SHIM" ] || { echo "not ok - journal_faults: $SHIM not built"; exit 1; }

# conf DIR FSYNC: a config with the journal in $T/DIR
conf() {
    T_BUFFER=100 t_config > "$ZSSE_CONFIG"
    python3 - "$ZSSE_CONFIG" "$T/$1" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["journal"] = sys.argv[2]
c["broker"]["journal_fsync"] = sys.argv[3] if sys.argv[3] == "always" else int(sys.argv[3])
c["broker"]["channels"] = [{"match": "f/*", "buffer": 5}, {"match": "st", "buffer": 5},
                          {"match": "dead", "buffer": 5}, {"match": "acked", "buffer": 100000}]
json.dump(c, open(sys.argv[1], "w"))
PY
}

# start_broker SEGMENT_BYTES [MATCH]: the broker, with the shim on files
# whose path contains MATCH ($T/full present: a full disk; fdatasync
# calls counted in $T/syncs)
# (a sanitizer build: ASan need not come first before the shim)
start_broker() {
    t_spawn broker env ZSSE_JOURNAL_SEGMENT_BYTES="$1" LD_PRELOAD="${2:+$SHIM}" \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        FAILWRITE_MATCH="${2:-}" FAILWRITE_FLAG="$T/full" FAILWRITE_SYNCS="$T/syncs" \
        $ZSSE_BROKER_WRAP zsse-broker -f -c "$ZSSE_CONFIG"
    BROKER_PID=$T_LASTPID
    t_wait_broker
}
stat() { zsse stats | jget "$1"; }
reason() { zsse stats | python3 -c "import json,sys; print(json.load(sys.stdin)['rejected_reasons'].get('$1', 0))"; }
ids() { "$ZT" req "$CTL" replay "${2:-0}" c "$1" | sed -n 's/^id=\([0-9]*\) .*/\1/p'; }
head2() { "$ZT" req "$CTL" replay "$2" c "$1" | head -2 | paste -sd' '; }
seg() { printf '%s/journal-%016d.zj' "$1" "$2"; }
nsegs() { ls "$1" | grep -c '^journal-.*\.zj$'; }

# --- 1. a full disk -------------------------------------------------------------
conf j1 always
start_broker $((64 << 20)) "/j1/journal-"
"$ZT" sub "$EVT" 'disk\0' 100 20 > "$T/sub1" &
sub=$!
: > "$T/acked1"
# the subscription is in force once a probe arrives
t_until 50 bash -c "zsse publish --ack -C disk -d '\"probe\"' >> $T/acked1; grep -q '^disk' $T/sub1"
zsse publish --ack -C disk -d 1 >> "$T/acked1"
zsse publish --ack -C disk -d 2 >> "$T/acked1"
touch "$T/full"
out=$(zsse publish --ack -C disk -d 3 2>&1)
rc=$?
ok "full disk: the acknowledged publish fails ($out)" test "$rc" -ne 0
ok "full disk: with the reason journal_full" grep -q journal_full <<<"$out"
zsse publish -C disk -d 33          # not acknowledged: rejected all the same
t_until 50 bash -c "[ \"\$(zsse stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rejected_reasons\"].get(\"journal_full\", 0))')\" = 2 ]"
eq "full disk: both counted as journal_full" 2 "$(reason journal_full)"
rm -f "$T/full"
zsse publish --ack -C disk -d 4 >> "$T/acked1"
last=$(zsse publish --ack -C disk -d 5 | tee -a "$T/acked1")
t_until 50 grep -q " $last\$" "$T/sub1"
kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null
eq "full disk: subscribers got exactly the acknowledged events" \
    "$(sort -n "$T/acked1" | paste -sd' ')" "$(awk '/^disk/ {print $2}' "$T/sub1" | sort -n | paste -sd' ')"
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
start_broker $((64 << 20))
eq "full disk, kill -9, restart: exactly the acknowledged events are stored" \
    "$(sort -n "$T/acked1" | paste -sd' ')" "$(ids disk | paste -sd' ')"
t_stop "$BROKER_PID"

# --- 2. journal_fsync 1000 ------------------------------------------------------
conf j2 1000
rm -f "$T/syncs"
start_broker $((64 << 20)) "/j2/journal-"
t0=$(date +%s%N)
python3 -c '
for i in range(50): print("{\"channel\":\"sync\",\"data\":%d}" % i)' |
    zsse publish --stdin --ack > "$T/acked2"
t1=$(date +%s%N)
n=$(cat "$T/syncs" 2>/dev/null | wc -l)
ms=$(( (t1 - t0) / 1000000 ))
echo "# 50 acknowledged publishes in $ms ms: $n fdatasync calls"
eq "fsync 1000: 50 acknowledged" 50 "$(wc -l < "$T/acked2")"
ok "fsync 1000: at most one fdatasync a second (+1), not one per batch ($n in $ms ms)" \
    test "$n" -le $(( ms / 1000 + 2 ))
zsse publish --ack -C sync -d '"one more"' > /dev/null
n=$(cat "$T/syncs" 2>/dev/null | wc -l)
ok "fsync 1000: the timer syncs it without further traffic" \
    t_until 30 bash -c "[ \$(cat $T/syncs 2>/dev/null | wc -l) -gt $n ]"
t_stop "$BROKER_PID"

# --- 3. the floor after a restart -------------------------------------------------
conf j3 always
start_broker 1
for i in $(seq 10); do zsse publish --ack -C f/1 -d "$i"; done > "$T/burst1"
b10=$(tail -1 "$T/burst1")
# segments close at the broker's next maintenance: probes (gone in 1 s)
# until one opens after the first burst, so that the second is not in a
# segment with any of the first
segs() { ls "$T/j3" | sed -n 's/^journal-0*\([0-9]*\)\.zj$/\1/p' | sort -n; }
export -f segs; export T
t_until 50 bash -c "zsse publish --ttl 1 -C probe -d 0; [ \$(segs | tail -1) -gt $b10 ]"
for i in $(seq 11 15); do zsse publish --ack -C f/1 -d "$i"; done > "$T/burst2"
ok "floor: the segments of the evicted events are dropped" \
    t_until 50 bash -c "[ \$(segs | head -1) -gt $b10 ]"
b3=$(sed -n 3p "$T/burst1")
eq "floor: before the restart, a replay from an evicted id is too old" "reset too old" \
    "$(head2 f/1 "$b3")"
t_stop "$BROKER_PID"
start_broker 1
eq "floor: after the restart too (not ok and a silent gap)" "reset too old" \
    "$(head2 f/1 "$b3")"
eq "floor: from the floor itself: the 5 buffered events" \
    "$(paste -sd' ' "$T/burst2")" "$(ids f/1 "$b10" | paste -sd' ')"
t_stop "$BROKER_PID"

mv "$T/broker.log" "$T/broker.log.1-3"

# --- 4. compaction: once, not every idle second ------------------------------------
conf j4 always
start_broker 20000
python3 -c '
for i in range(300): print("{\"channel\":\"st\",\"key\":\"k%d\",\"data\":\"%s\"}" % (i, "x" * 1000))' |
    zsse publish --stdin --ack > /dev/null
ok "compaction: the journal of 300 live keys (> 4 segments) is compacted" \
    t_until 100 grep -q 'compacted to' "$T/broker.log"
# a window to observe that it is not repeated while idle (not a readiness wait)
sleep 4
n=$(grep -c 'compacted to' "$T/broker.log")
echo "# compactions in the 4 idle seconds after the first: $((n - 1))"
eq "compaction: not repeated while idle (it would free nothing)" 1 "$n"
t_stop "$BROKER_PID"
start_broker 20000
eq "compaction: every key is there after a restart" 300 \
    "$("$ZT" req "$CTL" state st | grep -c '^id=')"
t_stop "$BROKER_PID"
mv "$T/broker.log" "$T/broker.log.4"

# --- 5. a compaction that cannot write its new file ---------------------------------
conf j5 always
touch "$T/full"
start_broker 20000 "/compact-|.zj.tmp"
python3 -c '
for i in range(300): print("{\"channel\":\"st\",\"key\":\"k%d\",\"data\":\"%s\"}" % (i, "x" * 1000))' |
    zsse publish --stdin --ack > /dev/null
ok "failed compaction: it fails (the shim)" t_until 100 grep -q 'compaction failed' "$T/broker.log"
rm -f "$T/full"
for i in 1 2 3 4 5; do zsse publish --ack -C after -d "$i"; done > "$T/acked5"
kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
eq "failed compaction: no temporary file left as the journal's active one" \
    0 "$(ls "$T/j5" | grep -c tmp)"
start_broker 20000
eq "failed compaction, kill -9: the 5 events acknowledged after it are there" \
    "$(paste -sd' ' "$T/acked5")" "$(ids after | paste -sd' ')"
t_stop "$BROKER_PID"
mv "$T/broker.log" "$T/broker.log.5"

# --- 6. a damaged segment that is not the last ----------------------------------------
conf j6 always
start_broker 1
for i in $(seq 10); do zsse publish --ack -C d -d "\"first $i\""; done > "$T/seg1"
t_until 50 bash -c "zsse publish -C probe -d 0; [ \$(ls $T/j6 | grep -c '^journal-.*zj\$') -ge 2 ]"
for i in $(seq 10); do zsse publish --ack -C d -d "\"second $i\""; done > "$T/seg2"
t_stop "$BROKER_PID"
f=$(grep -l 'first 5' "$T"/j6/journal-*.zj)
size=$(wc -c < "$f")
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'first 5')        # inside the fifth record's data
b[i + 1] ^= 0x01
open(p, "wb").write(b)
PY
start_broker 1
eq "damage: a replay from before it gets the reset" "reset events lost" \
    "$(head2 d "$(head -1 "$T/seg1")")"
eq "damage: the intact events after it in that segment are kept" \
    "$(sed -n '7,10p' "$T/seg1" | paste -sd' ') $(paste -sd' ' "$T/seg2")" \
    "$(ids d "$(sed -n 6p "$T/seg1")" | paste -sd' ')"
ok "damage: the lost range is logged" grep -q 'may be lost' "$T/broker.log"
ok "damage: the damaged bytes are kept aside" bash -c "ls $T/j6 | grep -q damaged"
eq "damage: the segment itself is left whole" "$size" "$(wc -c < "$f")"
t_stop "$BROKER_PID"
mv "$T/broker.log" "$T/broker.log.6"

# --- 7. kill -9 in the middle of acknowledged streams, segments dropped and compacted --
conf j7 always
# five runs, and up to three more until a compaction has started in one
# (whether it starts before a kill depends on the machine's speed)
cycle=0
while [ $cycle -lt 5 ] || { [ $cycle -lt 8 ] && ! grep -q 'compacting' "$T/broker.log"; }; do
    cycle=$((cycle + 1))
    start_broker 16384
    python3 -c '
for i in range(3000): print("{\"channel\":\"dead\",\"data\":\"%s\"}" % ("x" * 500))' |
        zsse publish --stdin &
    dead=$!
    python3 -c '
import sys
for i in range(100000): print("{\"channel\":\"acked\",\"data\":%d}" % i)' 2>/dev/null |
        zsse publish --stdin --ack > "$T/acked7.$cycle" 2>/dev/null &
    pub=$!
    # killed ever later: before, while and after compactions run
    t_until 300 bash -c "[ \$(wc -l < $T/acked7.$cycle) -ge $((cycle * 500)) ]"
    kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
    kill "$pub" "$dead" 2>/dev/null; wait "$pub" "$dead" 2>/dev/null
done
start_broker 16384
cat "$T"/acked7.* > "$T/acked7"
ids acked > "$T/stored7"
echo "# $(wc -l < "$T/acked7") acknowledged across $cycle kill -9; $(grep -c 'compacting' "$T/broker.log") compactions started, $(grep -c 'torn tail' "$T/broker.log") torn tails cut"
ok "kill -9 x$cycle: at least 500 acknowledged in each run" \
    test "$(for f in "$T"/acked7.*; do wc -l < "$f"; done | sort -n | head -1)" -ge 500
eq "kill -9 x$cycle: every acknowledged event is there" 0 \
    "$(comm -23 <(sort "$T/acked7") <(sort "$T/stored7") | wc -l)"
eq "kill -9 x$cycle: no id given twice" 0 "$(sort "$T/acked7" | uniq -d | wc -l)"
eq "kill -9 x$cycle: ids increase across the restarts" "$(sort -n "$T/acked7" | paste -sd' ')" \
    "$(paste -sd' ' "$T/acked7")"
ok "kill -9 x$cycle: the journal was compacted meanwhile" grep -q 'compacting' "$T/broker.log"
t_stop "$BROKER_PID"
t_done
