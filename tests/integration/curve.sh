#!/usr/bin/env bash
# CURVE on the broker plane (issue 12 item 2): with broker.curve set, every
# anonymous peer is refused on all three endpoints -- control reads
# (replay, state), publishing (PULL and the control publish op),
# subscribing (events, the empty prefix) and leases -- and so is a peer
# with a key the broker does not list; the configured key pair (CLI,
# libzsse, tests/zmqtool) is accepted; refused peers are counted in
# zsse stats and logged.  A non-loopback bind without CURVE refuses to
# start and names the endpoint, unless trusted_network says so.
. "$top_srcdir/tests/lib.sh"
t_init curve
t_key
ZT="$top_builddir/tests/zmqtool"
CTL="tcp://127.0.0.1:$P_CTL"
PUB="tcp://127.0.0.1:$P_PUB"
EVT="tcp://127.0.0.1:$P_EVT"
sget() { zsse stats | jget "$1"; }

# --- keys ---------------------------------------------------------------------
mkdir "$T/clients"
ok "zsse keygen: the broker's pair" zsse keygen "$T/broker"
ok "zsse keygen: a client's pair, in the allowed directory" zsse keygen "$T/clients/worker"
ok "zsse keygen: a key the broker does not list" zsse keygen "$T/stranger"
eq "the secret key is mode 0600" 600 "$(stat -c %a "$T/broker.secret")"
eq "the public key is 40 characters of Z85" 40 "$(tr -d '\n' < "$T/broker.public" | wc -c)"
ok "keygen does not overwrite a key" bash -c "! zsse keygen '$T/broker' 2>/dev/null"

t_config > "$T/plain.json"
python3 - "$T/plain.json" "$ZSSE_CONFIG" "$T" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); t = sys.argv[3]
c["broker"]["curve"] = {
    "secret_key_file": t + "/broker.secret", "clients": t + "/clients",
    "server_public_key_file": t + "/broker.public",
    "client_secret_key_file": t + "/clients/worker.secret"}
c["routes"] = [{"path": "/rooms/{room}/events", "channels": ["room/{room}"],
                "max_per_user": 1, "hello": {"event": "hello"}}]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
t_start_broker || { t_done; exit 1; }
ok "stats: CURVE is on" [ "$(sget curve)" = True ]

# the test's three kinds of peer for tests/zmqtool (in the foreground: a
# background one is started without a function, so that $! is its PID)
anon() { ZMQTOOL_WAIT_MS=1500 "$ZT" "$@"; }
keyed() { ZMQTOOL_SERVER_KEY="$T/broker.public" ZMQTOOL_SECRET_KEY="$T/clients/worker.secret" "$ZT" "$@"; }
stranger() { ZMQTOOL_WAIT_MS=1500 ZMQTOOL_SERVER_KEY="$T/broker.public" \
    ZMQTOOL_SECRET_KEY="$T/stranger.secret" "$ZT" "$@"; }

# --- the configured key: CLI and libzsse ------------------------------------------
first=$(zsse publish --ack -C board/a -e e -k k -d '{"n":1}')
ok "zsse publish --ack with the config's keys: an id" bash -c "[[ '$first' =~ ^[0-9]+$ ]]"
ok "zsse publish (PUSH) with the config's keys" zsse publish -C board/a -e e -d '{"n":2}'
ok "...and it is stored" t_until 50 bash -c '[ "$(zsse stats | python3 -c "import json,sys; print(json.load(sys.stdin)[\"published\"])")" = 2 ]'

# --- control reads --------------------------------------------------------------------
out=$(keyed req "$CTL" replay 0 c board/a)
eq "keyed replay: ok" ok "$(head -1 <<<"$out")"
eq "keyed replay: both events" 2 "$(grep -c '^id=' <<<"$out")"
eq "keyed state: the keyed event" 1 "$(keyed req "$CTL" state board/a | grep -c '^id=')"
out=$(anon req "$CTL" replay 0 c board/a 2>&1)
eq "anonymous replay: refused" "zmqtool: no reply" "$out"
eq "anonymous state: refused" "zmqtool: no reply" "$(anon req "$CTL" state board/a 2>&1)"
eq "anonymous stats: refused" "zmqtool: no reply" "$(anon req "$CTL" stats 2>&1)"
eq "wrong key, replay: refused" "zmqtool: no reply" "$(stranger req "$CTL" replay 0 c board/a 2>&1)"

# --- publishing ----------------------------------------------------------------------------
anon push "$PUB" '{"channel":"anon/pull","data":1}'
stranger push "$PUB" '{"channel":"anon/stranger","data":1}'
eq "anonymous publish on control: refused" "zmqtool: no reply" \
    "$(anon req "$CTL" publish '{"channel":"anon/ctl","data":1}' 2>&1)"
eq "wrong key, publish on control: refused" "zmqtool: no reply" \
    "$(stranger req "$CTL" publish '{"channel":"anon/ctl2","data":1}' 2>&1)"
# a keyed push after them must arrive; the refused ones never do
keyed push "$PUB" '{"channel":"keyed/pull","data":1}'
ok "keyed PUSH: stored" t_until 50 bash -c "[ \"\$(ZMQTOOL_SERVER_KEY='$T/broker.public' ZMQTOOL_SECRET_KEY='$T/clients/worker.secret' '$ZT' req '$CTL' replay 0 c keyed/pull | grep -c '^id=')\" = 1 ]"
eq "keyed publish on control: ok" ok "$(keyed req "$CTL" publish '{"channel":"keyed/ctl","data":1}' | head -1)"
for ch in anon/pull anon/stranger anon/ctl anon/ctl2; do
    eq "nothing stored from a refused peer: $ch" 0 "$(keyed req "$CTL" replay 0 c "$ch" | grep -c '^id=')"
done
eq "published: only the keyed ones" 4 "$(sget published)"

# --- subscribing: the empty prefix ------------------------------------------------------------
ZMQTOOL_SERVER_KEY="$T/broker.public" ZMQTOOL_SECRET_KEY="$T/clients/worker.secret" \
    "$ZT" sub "$EVT" '' 1 8 > "$T/sub-keyed.out" &
sk=$!
"$ZT" sub "$EVT" '' 1 8 > "$T/sub-anon.out" &
sa=$!
ZMQTOOL_SERVER_KEY="$T/broker.public" ZMQTOOL_SECRET_KEY="$T/stranger.secret" \
    "$ZT" sub "$EVT" '' 1 8 > "$T/sub-stranger.out" &
ss=$!
# publish until the keyed subscriber has one (it needs its handshake first)
for i in $(seq 1 60); do
    zsse publish -C live/x -d "$i"
    grep -q '^live/x ' "$T/sub-keyed.out" && break
    sleep 0.1
done
ok "keyed subscriber on the empty prefix: gets the event" grep -q '^live/x ' "$T/sub-keyed.out"
for i in $(seq 1 10); do zsse publish -C live/x -d "$i"; sleep 0.1; done
wait $sk
kill $sa $ss 2>/dev/null; wait $sa $ss 2>/dev/null
ok "anonymous subscriber on the empty prefix: nothing" bash -c "! grep -q live/ '$T/sub-anon.out'"
ok "wrong-key subscriber on the empty prefix: nothing" bash -c "! grep -q live/ '$T/sub-stranger.out'"

# --- leases -------------------------------------------------------------------------------------
R1="/rooms/{room}/events"     # lease ROUTE SUB TAG (the route's limit: the broker's config)
eq "anonymous lease: refused" "zmqtool: no reply" "$(anon req "$CTL" lease "$R1" alice t1 2>&1)"
eq "wrong-key lease: refused" "zmqtool: no reply" "$(stranger req "$CTL" lease "$R1" alice t2 2>&1)"
eq "no lease taken by them" 0 "$(sget leases)"
eq "keyed lease: ok" ok "$(keyed req "$CTL" lease "$R1" alice t3 | head -1)"
eq "...and held" 1 "$(sget leases)"

# --- zsse-fcgi behind lighttpd, on this host: its SUB socket, its control
# pool (lease, replay) and its hub all take the config's keys --------------------------
. "$top_srcdir/tests/servers.sh"
srv_fcgi_listen 4
srv_lighttpd socket
SSE="$top_srcdir/tests/sse.py"
URL="http://127.0.0.1:$WEB_PORT/rooms/r1/events"
tok=$(zsse token --sub carol --channels 'room/*')
before=$(zsse publish --ack -C room/r1 -e said -d '"before"')
"$SSE" "$URL" -H "Authorization: Bearer $tok" -H "Last-Event-ID: $((before - 1))" \
    -n 3 -t 15 > "$T/stream.out" &
sp=$!
ok "a stream through zsse-fcgi: the hello" t_until 100 grep -q '"hello"' "$T/stream.out"
ok "...and the replay from the control socket" t_until 50 grep -q '"before"' "$T/stream.out"
out=$("$SSE" "$URL" -H "Authorization: Bearer $tok" --status -t 5 | head -1)
eq "the lease is held at the broker: a second stream of carol gets 429" 429 "$(jget status <<<"$out")"
zsse publish -C room/r1 -e said -d '"live"'
wait $sp
ok "...and the live event through the SUB socket" grep -q '"live"' "$T/stream.out"

# --- counted and logged ----------------------------------------------------------------------------
refused=$(sget auth_refused)
ok "auth_refused counts the refused peers ($refused)" [ "$refused" -ge 10 ]
ok "unknown keys counted apart ($(sget auth_refused_reasons.unknown_key))" \
    [ "$(sget auth_refused_reasons.unknown_key)" -ge 3 ]
ok "failed handshakes counted ($(sget auth_refused_reasons.handshake))" \
    [ "$(sget auth_refused_reasons.handshake)" -ge 5 ]
ok "logged: an anonymous peer" grep -q 'refused a peer on .*it does not use CURVE' "$T/broker.log"
ok "logged: the stranger's key" grep -q 'refused a peer from 127.0.0.1: CURVE key' "$T/broker.log"
ok "logged rate-limited (not a line per refusal)" \
    [ "$(grep -c 'refused a peer' "$T/broker.log")" -lt "$refused" ]

# --- SIGHUP reads the clients directory again ---------------------------------------------
cp "$T/stranger.public" "$T/clients/"
kill -HUP "$BROKER_PID"
ok "SIGHUP: the directory read again (2 keys)" \
    t_until 50 grep -q "CURVE clients reloaded: 2 keys allowed" "$T/broker.log"
eq "...and the new key gets in" ok "$(stranger req "$CTL" ping | head -1)"
rm "$T/clients/stranger.public"
kill -HUP "$BROKER_PID"
ok "SIGHUP: a key removed (1 key)" \
    t_until 50 grep -q "CURVE clients reloaded: 1 keys allowed" "$T/broker.log"
eq "...and the removed key is refused again" "zmqtool: no reply" "$(stranger req "$CTL" ping 2>&1)"
echo "not a key" > "$T/clients/broken.public"
kill -HUP "$BROKER_PID"
ok "SIGHUP with a broken key file: logged, the keys in force stay" \
    t_until 50 grep -q "CURVE clients not reloaded: .*broken.public: not a CURVE key" "$T/broker.log"
eq "...the configured key still gets in" ok "$(keyed req "$CTL" ping | head -1)"
rm "$T/clients/broken.public"

# --- clients without keys, clients with a bad key file ------------------------------------------------
python3 - "$ZSSE_CONFIG" "$T/nokey.json" "$T" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["broker"]["curve"]["server_public_key_file"], c["broker"]["curve"]["client_secret_key_file"]
json.dump(c, open(sys.argv[2], "w"))
c["broker"]["curve"]["server_public_key_file"] = sys.argv[3] + "/broker.public"
c["broker"]["curve"]["client_secret_key_file"] = sys.argv[3] + "/missing.secret"
json.dump(c, open(sys.argv[3] + "/badkey.json", "w"))
PY
ok "zsse stats without client keys: the broker does not answer" \
    bash -c "! timeout 10 zsse -c '$T/nokey.json' stats >/dev/null 2>&1"
out=$(zsse -c "$T/badkey.json" stats 2>&1)
ok "a missing key file is named" grep -q "missing.secret: cannot open" <<<"$out"

t_stop "$BROKER_PID"

# --- config: the start-up rule -------------------------------------------------------------------------
# 10.231.9.1 is on no interface here: the old code fails to bind it (exit
# 1 without the message), the new one refuses before binding anything
bad_cfg() {   # bad_cfg KEY ENDPOINT [EXTRA_PY]
    python3 - "$T/plain.json" "$T/bad.json" "$1" "$2" "${3:-}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"][sys.argv[3]] = sys.argv[4]
if sys.argv[5]: exec(sys.argv[5])
json.dump(c, open(sys.argv[2], "w"))
PY
}
P9=$(t_port)
bad_cfg publish "tcp://10.231.9.1:$P9"
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1); rc=$?
eq "non-loopback publish without CURVE: exit 1" 1 "$rc"
ok "...naming the endpoint" grep -q "broker.publish: tcp://10.231.9.1:$P9 is not loopback and CURVE is off" <<<"$out"
bad_cfg control "tcp://*:$P9"
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1); rc=$?
eq "control on tcp://*: exit 1" 1 "$rc"
ok "...naming it" grep -q "broker.control: tcp://\*:$P9 is not loopback and CURVE is off" <<<"$out"
bad_cfg events "tcp://0.0.0.0:$P9"
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1)
ok "events on 0.0.0.0: named" grep -q "broker.events: tcp://0.0.0.0:$P9 is not loopback" <<<"$out"
bad_cfg publish "tcp://10.231.9.1:$P9" 'c["broker"]["trusted_network"] = True'
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1)
ok "trusted_network: true lets it try (and fail to bind an address it lacks)" \
    grep -q "bind tcp://10.231.9.1:$P9" <<<"$out"
bad_cfg publish "tcp://10.231.9.1:$P9"
python3 - "$T/bad.json" "$T" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["curve"] = {"secret_key_file": sys.argv[2] + "/broker.secret",
                        "clients": [open(sys.argv[2] + "/clients/worker.public").read().strip()]}
json.dump(c, open(sys.argv[1], "w"))
PY
out=$(timeout 10 zsse-broker -f -c "$T/bad.json" 2>&1)
ok "with CURVE (clients as a list) it goes on to bind" grep -q "bind tcp://10.231.9.1:$P9" <<<"$out"
bad_cfg publish "tcp://127.0.0.1:$P9" 'c["broker"]["curve"] = {"secret_key_file": "x", "frobs": 1}'
out=$(zsse-broker -f -c "$T/bad.json" 2>&1)
ok "an unknown key under broker.curve is an error" grep -q "broker.curve.frobs: unknown key" <<<"$out"
bad_cfg publish "tcp://127.0.0.1:$P9" 'c["broker"]["curve"] = {"secret_key_file": "x"}'
out=$(zsse-broker -f -c "$T/bad.json" 2>&1)
ok "a secret key without clients is an error" grep -q "broker.curve.clients: is required" <<<"$out"
bad_cfg publish "tcp://127.0.0.1:$P9" 'c["broker"]["curve"] = {"secret_key_file": "x", "clients": ["short"]}'
out=$(zsse-broker -f -c "$T/bad.json" 2>&1)
ok "a client key that is not Z85 is an error" grep -q "broker.curve.clients\[0\]: must be a public key" <<<"$out"
t_done
