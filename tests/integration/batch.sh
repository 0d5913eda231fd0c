#!/usr/bin/env bash
# Batches on the publish endpoint (proto/batch.h, README "Contract notes"):
# one PUSH frame holding a JSON array of messages.  With the real broker,
# plain and under CURVE: a batch of valid and invalid messages delivers
# the valid ones in order to a subscriber (zsse tail) and refuses and
# counts each invalid one on its own; a batch past a bound (too many, too
# large) or malformed is refused whole and counted, nothing of it
# published; zsse publish --stdin batches its lines (publish_batches) and
# still sends a lone line while stdin stays open.
. "$top_srcdir/tests/lib.sh"
t_init batch
t_key
ZT="$top_builddir/tests/zmqtool"
PUB="tcp://127.0.0.1:$P_PUB"
sget() { zsse stats | jget "$1"; }
stat_eq() { [ "$(sget "$1")" = "$2" ]; }
datas() { tail_out "$1" | awk '{print $4}' | paste -sd' '; }

# the frames (files for zmqtool's @FILE)
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
m = lambda ch, d, **kw: dict(channel=ch, event="e", data=d, **kw)
def frame(name, text):
    open(f"{t}/{name}", "w").write(text)
mixed = [m("batch/a", 1), {"event": "e", "data": "no channel"}, m("batch/a", 2),
         m("bad chan", 0), m("batch/a", "a" * 1100), m("batch/a", 3, colour="red"), 7,
         m("batch/a", 3), m("batch/a", 4)]
frame("mixed", " [ " + ",\n".join(json.dumps(x) for x in mixed) + " ]\n")
frame("too_many", json.dumps([m("batch/b", i) for i in range(257)]))
frame("too_large", json.dumps([m("batch/b", 1)]) + " " * (256 * 1024))
frame("malformed", json.dumps([m("batch/b", 1), m("batch/b", 2)])[:-1] + ",")
frame("full", json.dumps([m("batch/c", i) for i in range(256)]))
PY

run() {
    local mode=$1 zt=("$ZT")
    t_config > "$ZSSE_CONFIG"
    python3 - "$ZSSE_CONFIG" "$T" "$mode" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); t = sys.argv[2]
c["broker"]["max_message"] = 1024
if sys.argv[3] == "curve":
    c["broker"]["curve"] = {"secret_key_file": t + "/keys/broker.secret",
        "clients": t + "/keys/clients", "server_public_key_file": t + "/keys/broker.public",
        "client_secret_key_file": t + "/keys/clients/me.secret"}
json.dump(c, open(sys.argv[1], "w"))
PY
    if [ "$mode" = curve ]; then
        zt=(env ZMQTOOL_SERVER_KEY="$T/keys/broker.public"
            ZMQTOOL_SECRET_KEY="$T/keys/clients/me.secret" "$ZT")
    fi
    t_start_broker || return 1
    eq "$mode: CURVE as configured" "$([ "$mode" = curve ] && echo True || echo False)" "$(sget curve)"

    # --- one batch, valid and invalid messages mixed -------------------------------
    ok "$mode: tail --ready" t_tail "mixed-$mode" -n 4 --timeout 10 batch/a
    local tl=$TAIL_PID
    "${zt[@]}" push "$PUB" "@$T/mixed"
    wait "$tl"
    eq "$mode: the valid messages of the batch, delivered in order" "1 2 3 4" "$(datas "mixed-$mode")"
    ok "$mode: ...with increasing ids" bash -c "tail_out() { grep -vx ready \"\$1\"; }; \
        tail_out '$T/mixed-$mode.out' | awk '{print \$1}' | sort -nc"
    ok "$mode: the invalid ones refused, each counted" t_until 50 stat_eq rejected 5
    local r
    r=$(zsse stats)
    for reason in missing_channel bad_channel too_large unknown_field not_object; do
        eq "$mode: rejected in the batch: $reason" 1 "$(jget "rejected_reasons.$reason" <<<"$r")"
    done
    eq "$mode: published: the 4 valid ones" 4 "$(jget published <<<"$r")"
    eq "$mode: one batch frame" 1 "$(jget publish_batches <<<"$r")"

    # --- bounds: refused whole, counted once, nothing of them published -------------
    "${zt[@]}" push "$PUB" "@$T/too_many"
    "${zt[@]}" push "$PUB" "@$T/too_large"
    "${zt[@]}" push "$PUB" "@$T/malformed"
    ok "$mode: three batches refused" t_until 50 stat_eq rejected 8
    r=$(zsse stats)
    eq "$mode: 257 messages: batch_too_many" 1 "$(jget rejected_reasons.batch_too_many <<<"$r")"
    eq "$mode: over 256 KiB: batch_too_large" 1 "$(jget rejected_reasons.batch_too_large <<<"$r")"
    eq "$mode: no closing bracket: bad_batch" 1 "$(jget rejected_reasons.bad_batch <<<"$r")"
    eq "$mode: nothing of them published" 4 "$(jget published <<<"$r")"
    "${zt[@]}" push "$PUB" "@$T/full"
    ok "$mode: 256 messages, the bound, all published" t_until 50 stat_eq published 260

    # --- zsse publish --stdin ---------------------------------------------------------
    ok "$mode: tail --ready (--stdin)" t_tail "stdin-$mode" -n 1000 --timeout 20 batch/d
    tl=$TAIL_PID
    python3 -c '
import json
for i in range(1000):
    print(json.dumps({"channel": "batch/d", "event": "e", "data": i}))' | zsse publish --stdin
    wait "$tl"
    eq "$mode: --stdin: 1,000 lines delivered in order" "$(seq -s' ' 0 999)" "$(datas "stdin-$mode")"
    ok "$mode: --stdin: in batches (fewer frames than lines)" \
        bash -c "b=\$(zsse stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"publish_batches\"])'); \
            [ \$b -ge 3 ] && [ \$b -lt 1000 ]"
    # a lone line goes at once, while stdin stays open (no wait for more)
    ok "$mode: tail --ready (lone line)" t_tail "lone-$mode" -n 2 --timeout 20 batch/e
    tl=$TAIL_PID
    rm -f "$T/fifo"; mkfifo "$T/fifo"
    zsse publish --stdin < "$T/fifo" &
    local pp=$!
    exec 3> "$T/fifo"
    echo '{"channel":"batch/e","event":"e","data":"first"}' >&3
    ok "$mode: --stdin: a lone line is published while stdin stays open" \
        t_until 100 grep -q ' first$' "$T/lone-$mode.out"
    echo '{"channel":"batch/e","event":"e","data":"second"}' >&3
    exec 3>&-
    wait "$pp"
    eq "$mode: --stdin exits 0" 0 $?
    wait "$tl"
    eq "$mode: ...then the next" 'first second' "$(datas "lone-$mode")"
    t_stop "$BROKER_PID"
}

mkdir -p "$T/keys/clients"
zsse keygen "$T/keys/broker" > /dev/null
zsse keygen "$T/keys/clients/me" > /dev/null
run plain
run curve
t_done
