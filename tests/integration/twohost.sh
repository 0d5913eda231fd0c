#!/usr/bin/env bash
# Two hosts (issue 12): the broker on one, zsse-fcgi and a web server on
# the other, joined by a network that is not loopback -- so CURVE.  The
# test makes the hosts itself: two network namespaces joined by a veth
# pair, 10.231.0.1/24 (A) and 10.231.0.2/24 (B), the only addresses it ever
# contacts; both are deleted on exit.  Needs root (ip netns).
#
#   A: zsse-broker, CURVE, bound to 10.231.0.1; the publishing CLI
#   B: zsse-fcgi --listen 127.0.0.1 (its SUB and control sockets reach A
#      with B's client key), lighttpd on 10.231.0.2:8080, headless
#      Chromium (EventSource) and curl
#
# An event published in A reaches the browser and curl in B; an anonymous
# peer in B is refused by the broker, and counted.
. "$top_srcdir/tests/lib.sh"
t_init twohost
if [ "$(id -u)" != 0 ]; then
    echo "twohost.sh: needs root to create network namespaces (ip netns add); run it as root" >&2
    exit 1
fi
command -v ip >/dev/null || { echo "twohost.sh: needs ip (iproute2)" >&2; exit 1; }

NA="zsse-a-$$"
NB="zsse-b-$$"
A=10.231.0.1
B=10.231.0.2
tw_netns_del() {
    ip netns del "$NA" 2>/dev/null
    ip netns del "$NB" 2>/dev/null
}
T_AFTER_STOP=tw_netns_del    # t_cleanup calls it once our processes are stopped
                             # (it exits: a line after it never ran)
# (in the foreground; a background process is started with ip netns exec
# itself, which execs it: $! is then its PID, for the cleanup to stop)
inA() { ip netns exec "$NA" "$@"; }
quiet() { "$@" >/dev/null; }
inB() { ip netns exec "$NB" "$@"; }

ip netns add "$NA" && ip netns add "$NB" || exit 1
ip link add "zva$$" netns "$NA" type veth peer name "zvb$$" netns "$NB" || exit 1
ip -n "$NA" addr add "$A/24" dev "zva$$"
ip -n "$NB" addr add "$B/24" dev "zvb$$"
for ns in "$NA" "$NB"; do
    ip -n "$ns" link set lo up
done
ip -n "$NA" link set "zva$$" up
ip -n "$NB" link set "zvb$$" up

# --- keys: the broker's, one per host's clients ---------------------------------
mkdir -p "$T/a/clients" "$T/b"
zsse keygen "$T/a/broker" >/dev/null
zsse keygen "$T/a/clients/admin" >/dev/null       # the CLI on A
zsse keygen "$T/b/worker" >/dev/null               # zsse-fcgi on B
cp "$T/b/worker.public" "$T/a/clients/"            # B's public key to A
cp "$T/a/broker.public" "$T/b/"                    # A's public key to B
ok "B's secret key never left B" test ! -e "$T/a/clients/worker.secret"

cat > "$T/a/zsse.json" <<JSON
{
  "broker": {
    "publish": "tcp://$A:7701", "events": "tcp://$A:7702", "control": "tcp://$A:7703",
    "curve": {
      "secret_key_file": "$T/a/broker.secret",
      "clients": "$T/a/clients",
      "server_public_key_file": "$T/a/broker.public",
      "client_secret_key_file": "$T/a/clients/admin.secret"
    }
  }
}
JSON
cat > "$T/b/zsse.json" <<JSON
{
  "broker": {
    "publish": "tcp://$A:7701", "events": "tcp://$A:7702", "control": "tcp://$A:7703",
    "curve": {
      "server_public_key_file": "$T/b/broker.public",
      "client_secret_key_file": "$T/b/worker.secret"
    }
  },
  "routes": [
    { "path": "/news/events", "channels": ["news"], "auth": "none",
      "hello": { "event": "connected" }, "heartbeat": { "interval": 5 } },
    { "path": "/metrics", "type": "stats", "auth": "none" }
  ]
}
JSON

# --- A: the broker ------------------------------------------------------------------
python3 - "$T/a/zsse.json" "$T/a/plain.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["broker"]["curve"]
json.dump(c, open(sys.argv[2], "w"))
PY
out=$(inA timeout 10 zsse-broker -f -c "$T/a/plain.json" 2>&1)
ok "A: without CURVE the broker refuses $A" grep -q "broker.publish: tcp://$A:7701 is not loopback and CURVE is off" <<<"$out"
t_spawn broker ip netns exec "$NA" zsse-broker -f -c "$T/a/zsse.json"
BROKER_PID=$T_LASTPID
ok "A: the broker answers its own CLI with CURVE" t_until 100 quiet inA zsse -c "$T/a/zsse.json" stats
ok "A: listening on $A only" bash -c "ip netns exec '$NA' ss -ltn | grep -q '$A:7703'"

# --- B: the worker and the web server -------------------------------------------------
ok "B: the worker's key reaches the broker over the veth pair" t_until 50 quiet inB zsse -c "$T/b/zsse.json" stats
t_spawn fcgi ip netns exec "$NB" zsse-fcgi -c "$T/b/zsse.json" --listen 127.0.0.1:9000 --threads 8
FCGI_PID=$T_LASTPID
t_lighttpd_conf "$T/b/lighttpd.conf" "$T/b" "$B" 9000
t_spawn lighttpd ip netns exec "$NB" lighttpd -D -f "$T/b/lighttpd.conf"
WEB_PID=$T_LASTPID
port_open() { inB bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
ok "B: zsse-fcgi listens" t_until 100 port_open 127.0.0.1 9000
ok "B: lighttpd listens on $B:8080" t_until 100 port_open "$B" 8080
URL="http://$B:8080/news/events"

# --- an event from A reaches a browser in B ------------------------------------------------
ES="$top_srcdir/tests/browser/es.mjs"
# es.mjs's page is made by playwright, with no address of its own, so
# Chromium's Private Network Access takes it for a public, insecure page
# and blocks its requests to a private address such as 10.231.0.2 ("the
# request client is not a secure context and the resource is in
# more-private address space").  A real site would serve its page over
# https: the wrapper has Chromium treat this one origin as such.
printf '#!/bin/sh\nexec /usr/bin/chromium --unsafely-treat-insecure-origin-as-secure=http://%s:8080 "$@"\n' "$B" > "$T/chromium"
chmod +x "$T/chromium"
export CHROMIUM="$T/chromium"
ip netns exec "$NB" node "$ES" "$URL" --listen connected,headline --count 2 --timeout 40 > "$T/browser.out" 2>"$T/browser.err" &
br=$!
T_PIDS+=("$br")
ok "browser in B: connected through lighttpd and zsse-fcgi" \
    t_until 300 grep -q '"type":"connected"' "$T/browser.out"
id=$(inA zsse -c "$T/a/zsse.json" publish --ack -C news -e headline -d '{"title":"from host A"}')
ok "A: published with CURVE, id $id" bash -c "[[ '$id' =~ ^[0-9]+$ ]]"
wait $br
ok "browser in B: the event from A" \
    grep -q '"type":"headline","data":"{\\"title\\":\\"from host A\\"}","lastEventId":"'"$id"'"' "$T/browser.out"
[ "$T_FAIL" = 0 ] || { cat "$T/browser.out" "$T/browser.err" >&2; }

# --- and curl in B ------------------------------------------------------------------------------
ip netns exec "$NB" curl -sN --max-time 30 "$URL" > "$T/curl.out" 2>/dev/null &
cu=$!
T_PIDS+=("$cu")
ok "curl in B: connected" t_until 100 grep -q '^event: connected' "$T/curl.out"
id2=$(inA zsse -c "$T/a/zsse.json" publish --ack -C news -e headline -d '"second"')
ok "curl in B: the event from A" t_until 100 grep -qx "id: $id2" "$T/curl.out"
ok "curl in B: its data" grep -qx 'data: second' "$T/curl.out"
kill $cu 2>/dev/null

# --- strangers in B are refused -------------------------------------------------------------------
ZT="$top_builddir/tests/zmqtool"
eq "B: an anonymous replay request is refused" "zmqtool: no reply" \
    "$(ZMQTOOL_WAIT_MS=1500 inB "$ZT" req "tcp://$A:7703" replay 0 c news 2>&1)"
ip netns exec "$NB" "$ZT" sub "tcp://$A:7702" '' 1 3 > "$T/anon-sub.out" &
as=$!
# publish all through its 3 s of waiting
while kill -0 $as 2>/dev/null; do
    inA zsse -c "$T/a/zsse.json" publish -C news -d '"third"'
    sleep 0.2
done
wait $as
ok "B: an anonymous subscriber gets nothing" bash -c "! grep -q news '$T/anon-sub.out'"
eq "B: the worker's key still works for zmqtool" ok \
    "$(ZMQTOOL_SERVER_KEY="$T/b/broker.public" ZMQTOOL_SECRET_KEY="$T/b/worker.secret" \
        inB "$ZT" req "tcp://$A:7703" ping | head -1)"
refused=$(inA zsse -c "$T/a/zsse.json" stats | jget auth_refused)
ok "A: the refused peers are counted ($refused)" [ "${refused:-0}" -ge 2 ]
ok "A: and logged" grep -q "refused a peer" "$T/broker.log"
ok "B: Prometheus text from A's figures: zsse_auth_refused_total" \
    bash -c "ip netns exec '$NB' curl -sf --max-time 10 http://$B:8080/metrics | grep -Eq '^zsse_auth_refused_total [1-9]'"
t_done
