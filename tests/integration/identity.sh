#!/usr/bin/env bash
# One rule for identities (issue 13, item 4), behind nginx and lighttpd:
# a token or request value with '/', '*', white space or a control
# character never becomes a channel segment or a lease subject -- it is
# refused with 403 and a JSON reason.  The attack of the issue: a token
# with sub "bob/admin" on /me/events (channel user/{sub}) would open
# user/bob/admin, the channel of a route that requires role=admin.
# Integer subs are spelled as in the token (user/42), numbers with a
# fraction refused, and two numeric subs are two users for max_per_user.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init identity
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 1 },
    "hello": { "event": "hello", "data": 1 } },
  { "path": "/admin/events", "channels": ["user/bob/admin"], "require": { "role": "admin" },
    "heartbeat": { "interval": 1 } },
  { "path": "/team/events", "channels": ["team/{claim.team}"], "heartbeat": { "interval": 1 } },
  { "path": "/q/events", "channels": ["q/{query.topic}"], "heartbeat": { "interval": 1 } },
  { "path": "/one/events", "channels": ["one/{sub}"], "max_per_user": 1,
    "heartbeat": { "interval": 1 } },
  { "path": "/lease/events", "channels": ["lease/all"], "max_per_user": 1,
    "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"

# mint CLAIMS_JSON: an HS256 token with the test key, exp 10 min ahead
mint() {
    python3 - "$T/jwt.key" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
key = open(sys.argv[1], "rb").read()
claims = json.loads(sys.argv[2])
claims.setdefault("exp", int(time.time()) + 600)
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps(claims, separators=(",", ":")).encode())
s = b(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
print(h + "." + p + "." + s)
PY
}
# status and body of a request: "CODE BODY"
get() { curl -s -m 5 -w ' %{http_code}' "$@" | python3 -c '
import sys; t = sys.stdin.read(); b, _, c = t.rpartition(" "); print(c, b.strip())'; }
# a stream's status only (the stream is cut after 1 s)
status() { "$SSE" "$1" --status -t 1 | head -1 | jget status; }

run() {
    local name=$1 r
    U="http://127.0.0.1:$WEB_PORT"
    # the issue's attack, before and after the fix
    local bob_admin; bob_admin=$(mint '{"sub": "bob/admin"}')
    r=$(get "$U/me/events?token=$bob_admin" -H 'Accept: text/event-stream')
    eq "$name: sub bob/admin on user/{sub}: 403" 403 "${r%% *}"
    ok "$name: ... with a JSON reason" bash -c "printf '%s' '${r#* }' | python3 -c '
import json, sys; d = json.load(sys.stdin); assert d[\"error\"] == \"forbidden\" and \"sub\" in d[\"message\"], d'"
    eq "$name: the admin route itself still wants role=admin" 403 \
        "$(status "$U/admin/events?token=$bob_admin")"
    local c
    for c in 'a*' 'a b' 'a/b' $'a\tb' $'a\x01b'; do
        local v; v=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$c")
        eq "$name: sub $(printf %q "$c"): 403" 403 "$(status "$U/me/events?token=$(mint "{\"sub\": $v}")")"
        eq "$name: claim team $(printf %q "$c"): 403" 403 \
            "$(status "$U/team/events?token=$(mint "{\"sub\": \"u\", \"team\": $v}")")"
    done
    local any; any=$(mint '{"sub": "u", "channels": ["q/*"]}')
    eq "$name: query value with /: 403" 403 "$(status "$U/q/events?topic=a%2Fb&token=$any")"
    eq "$name: query value with a space: 403" 403 "$(status "$U/q/events?topic=a+b&token=$any")"
    eq "$name: query value with *: 403" 403 "$(status "$U/q/events?topic=a%2A&token=$any")"
    eq "$name: query value, plain: 200" 200 "$(status "$U/q/events?topic=ab&token=$any")"
    eq "$name: team claim, plain: 200" 200 \
        "$(status "$U/team/events?token=$(mint '{"sub": "u", "team": "red"}')")"

    # numbers: spelled as in the token
    "$SSE" "$U/me/events?token=$(mint '{"sub": 42}')" -n 2 -t 5 > "$T/$name-42.out" &
    local pid=$!
    t_until 50 grep -qs hello "$T/$name-42.out"
    zsse publish -C user/42 -e n -d '"forty-two"' >/dev/null
    wait "$pid"
    ok "$name: integer sub 42 reads user/42" grep -q 'forty-two' "$T/$name-42.out"
    eq "$name: sub 4.5: 403" 403 "$(status "$U/me/events?token=$(mint '{"sub": 4.5}')")"
    eq "$name: sub true: 403" 403 "$(status "$U/me/events?token=$(mint '{"sub": true}')")"

    # lease subjects: subs 7 and 8 are two users (max_per_user 1 each)
    "$SSE" "$U/lease/events?token=$(mint '{"sub": 7}')" --status -t 4 > "$T/$name-7.out" &
    pid=$!
    t_until 50 grep -qs status "$T/$name-7.out"
    eq "$name: numeric sub 8 beside numeric sub 7 (max_per_user 1): 200" 200 \
        "$(status "$U/lease/events?token=$(mint '{"sub": 8}')")"
    eq "$name: numeric sub 7 twice: 429" 429 \
        "$(status "$U/lease/events?token=$(mint '{"sub": 7}')")"
    wait "$pid"
    eq "$name: max_per_user with sub a/b: 403" 403 \
        "$(status "$U/lease/events?token=$(mint '{"sub": "a/b"}')")"
}

srv_fcgi_listen 4
srv_nginx
run nginx
srv_lighttpd binpath 4
run lighttpd
t_done
