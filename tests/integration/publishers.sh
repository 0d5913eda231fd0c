#!/usr/bin/env bash
# The publisher examples of contrib/publishers (issue 15 item 4), each run
# for real: PHP over HTTP (curl extension) and Python over HTTP (standard
# library) through nginx and lighttpd to a publish route; PHP (php-zmq)
# and Python (python3-zmq) over ZeroMQ to the broker.  Each event must
# reach a stream with its data as published; each publisher must fail
# (non-zero) when it cannot publish.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init publishers
t_key
t_config ', "routes": [
  { "path": "/publish", "type": "publish" },
  { "path": "/s/{ch}", "channels": ["app/{ch}"], "auth": "none" }
]' > "$ZSSE_CONFIG"
t_start_broker
srv_fcgi_listen 4
P="$top_srcdir/contrib/publishers"
# Debian's interpreter, where python3-zmq is (PATH may lead to another)
DEBPY=/usr/bin/python3; [ -x "$DEBPY" ] || DEBPY=python3
tok=$(zsse token --sub app --claim 'publish=["app/*"]')
ro=$(zsse token --sub app --claim 'publish=["other/*"]')

# the head id now; then the last event of app/CH after it
mark() { MARK=$(curl -s "$B/s/x?mode=poll" | jget last_event_id); }
last_event() {
    curl -s "$B/s/$1?mode=poll&lastEventId=$MARK" | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"]
print(json.dumps(e[-1], separators=(",", ":"), sort_keys=True) if e else "none")'
}
# wait until app/CH has an event after the mark
has_event() { [ "$(last_event "$1")" != none ]; }

check_http() {
    local name=$1 out
    B="http://127.0.0.1:$WEB_PORT"
    mark
    out=$(php "$P/publish-http.php" "$B/publish" "$tok" "app/php-$name" score '{"n":1,"p":0.57}')
    ok "$name: PHP (curl) over HTTP: an id" grep -Eq '^[0-9]+$' <<<"$out"
    eq "$name: PHP (curl) over HTTP: the event" \
        "{\"data\":{\"n\":1,\"p\":0.57},\"event\":\"score\",\"id\":\"$out\"}" "$(last_event "php-$name")"
    ok "$name: PHP (curl) over HTTP: a forbidden channel fails" \
        bash -c "! php '$P/publish-http.php' '$B/publish' '$ro' app/x e 1 2>'$T/php.err'"
    ok "$name: ... saying 403" grep -q 'HTTP 403' "$T/php.err"

    mark
    out=$(python3 "$P/publish-http.py" "$B/publish" "$tok" "app/py-$name" score '"text"')
    ok "$name: Python (urllib) over HTTP: an id" grep -Eq '^[0-9]+$' <<<"$out"
    eq "$name: Python (urllib) over HTTP: the event" \
        "{\"data\":\"text\",\"event\":\"score\",\"id\":\"$out\"}" "$(last_event "py-$name")"
    ok "$name: Python over HTTP: a forbidden channel fails" \
        bash -c "! python3 '$P/publish-http.py' '$B/publish' '$ro' app/x e 1 2>'$T/py.err'"
    ok "$name: ... saying 403" grep -q 'HTTP 403' "$T/py.err"
}

srv_nginx
check_http nginx
srv_lighttpd socket
check_http lighttpd

# over ZeroMQ, to the broker's publish endpoint
mark
php "$P/publish-zmq.php" "tcp://127.0.0.1:$P_PUB" app/phpzmq score '{"n":2}'
ok "PHP (php-zmq) over ZeroMQ: exit 0" test $? -eq 0
t_until 50 has_event phpzmq
ok "PHP (php-zmq) over ZeroMQ: the event" grep -q '"data":{"n":2},"event":"score"' <<<"$(last_event phpzmq)"
mark
"$DEBPY" "$P/publish-zmq.py" "tcp://127.0.0.1:$P_PUB" app/pyzmq score '[1,2]'
ok "Python (python3-zmq) over ZeroMQ: exit 0" test $? -eq 0
t_until 50 has_event pyzmq
ok "Python (python3-zmq) over ZeroMQ: the event" grep -q '"data":\[1,2\],"event":"score"' <<<"$(last_event pyzmq)"

# no broker: the ZeroMQ publishers say so and exit non-zero
t_stop "$BROKER_PID"
ok "PHP over ZeroMQ, no broker: fails" \
    bash -c "! php '$P/publish-zmq.php' 'tcp://127.0.0.1:$P_PUB' app/x e 1 2>'$T/pz.err'"
ok "... saying so" grep -q 'no broker' "$T/pz.err"
ok "Python over ZeroMQ, no broker: fails" \
    bash -c "! $DEBPY '$P/publish-zmq.py' 'tcp://127.0.0.1:$P_PUB' app/x e 1 2>'$T/yz.err'"
ok "... saying so" grep -q 'no broker' "$T/yz.err"
t_done
