#!/usr/bin/env bash
# A stream lives no longer than its token (issue 13, item 1), behind nginx
# (zsse-fcgi --listen, the hub writes) and lighttpd bin-path: a token
# with exp a few seconds ahead opens a stream; an event before exp is
# delivered; at exp (+ leeway 0) the route's auth_expired_event goes out
# and the response ends; an event published after exp never reaches it.
# A route with "auth_expired_event": null ends without the event.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init token_life
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "hello": { "event": "hello", "data": 1 },
    "heartbeat": { "interval": 0 } },
  { "path": "/quiet/events", "channels": ["user/{sub}"], "hello": { "event": "hello", "data": 1 },
    "heartbeat": { "interval": 0 }, "auth_expired_event": null },
  { "path": "/named/events", "channels": ["user/{sub}"], "hello": { "event": "hello", "data": 1 },
    "heartbeat": { "interval": 0 }, "auth_expired_event": "relogin", "format": "envelope" }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["leeway"] = 0
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
SSE="$top_srcdir/tests/sse.py"

# the token's exp, from its payload
token_exp() {
    python3 -c '
import base64, json, sys
p = sys.argv[1].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["exp"])' "$1"
}

# life URLPATH SUB EXPECTED_EVENT: open a stream with a 5 s token, publish
# before and after its exp, check what arrived and when the response ended
life() {
    local path=$1 sub=$2 want=$3 name=$4 tok exp out t0 t1
    tok=$(zsse token --sub "$sub" --ttl 5)
    exp=$(token_exp "$tok")
    out="$T/$name-$sub.out"
    t0=$(date +%s.%N)
    "$SSE" "$U$path?token=$tok" -t 15 > "$out" &
    local pid=$!
    t_until 50 grep -q 'hello' "$out"
    zsse publish -C "user/$sub" -e before -d '"b"' >/dev/null
    t_until 50 grep -q 'before' "$out"
    # past exp by 1.5 s: the stream must have ended by then
    local now; now=$(date +%s.%N)
    sleep "$(python3 -c "print(max(0, $exp + 1.5 - $now))")"
    zsse publish -C "user/$sub" -e after -d '"a"' >/dev/null
    wait "$pid"
    t1=$(date +%s.%N)
    ok "$name $path: the event before exp arrived" grep -q 'before' "$out"
    if [ -n "$want" ]; then
        ok "$name $path: the $want event came at exp" grep -q "\"event\": \"$want\"" "$out"
    else
        ok "$name $path: no event at exp" test "$(grep -vc 'hello\|before\|"eof"' "$out")" = 0
    fi
    ok "$name $path: the response ended (EOF), not the client's timeout" grep -q '"eof"' "$out"
    ok "$name $path: the event after exp never arrived" bash -c "! grep -q 'after' '$out'"
    ok "$name $path: ended within 2 s of exp" python3 -c "import sys; sys.exit(not $t1 < $exp + 2)"
    if [ "$T_FAIL" -gt 0 ]; then sed 's/^/#   /' "$out"; fi
}

srv_fcgi_listen 4
srv_nginx
U="http://127.0.0.1:$WEB_PORT"
life /me/events alice auth_expired nginx
life /quiet/events bob "" nginx
life /named/events carol relogin nginx

srv_lighttpd binpath 2
U="http://127.0.0.1:$WEB_PORT"
life /me/events dave auth_expired lighttpd

t_done
