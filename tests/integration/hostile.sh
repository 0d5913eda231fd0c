#!/usr/bin/env bash
# Hostile input, end to end through lighttpd and nginx: huge headers, a
# 1 MB token, 10,000 query parameters, invalid UTF-8 in a channel name,
# tokens that are not yet valid, for another issuer or audience, or
# signed HS256 with the RSA public key where RS256 is configured; one
# user's token trying another's channels through path, query and cookie.
# Every case gets a clear 4xx, and the workers keep serving.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init hostile
t_key
t_config ', "routes": [
  { "path": "/s/{room}/events", "channels": ["room/{room}"], "heartbeat": { "interval": 1 } },
  { "path": "/q/events", "channels": ["q/{query.topic}"], "heartbeat": { "interval": 1 } },
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"].update({"leeway": 0, "issuer": "https://id.example", "audience": "zsse"})
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
srv_lighttpd binpath 4
U="http://127.0.0.1:$WEB_PORT"
SSE="$top_srcdir/tests/sse.py"
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }   # (a stream opened by mistake: 000, not a hang)
alive() { [ "$("$SSE" "$U/me/events?token=$alice" --status -t 1 | head -1 | jget status)" = 200 ]; }
alice=$(zsse token --sub alice --channels 'room/a,q/a')
bob=$(zsse token --sub bob --channels 'room/b,q/b')

# sizes
big=$(head -c 65536 /dev/zero | tr '\0' x)
c=$(code -H "X-Big: $big" "$U/me/events?token=$alice")
ok "64 KiB header: refused with a 4xx ($c)" test "$c" -ge 400 -a "$c" -lt 500
c=$(code -H "Authorization: Bearer $(head -c 20000 /dev/zero | tr '\0' a)" "$U/me/events")
ok "20 KB Authorization: refused with a 4xx ($c)" test "$c" -ge 400 -a "$c" -lt 500
c=$(python3 - "$WEB_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b"GET /me/events HTTP/1.1\r\nHost: x\r\nCookie: zsse_token=" + b"a" * (1 << 20) + b"\r\n\r\n")
except OSError:
    pass            # the server may close before taking it all
print(s.recv(64).split(b" ")[1].decode())
PY
)
ok "1 MB token: refused with a 4xx ($c)" test "$c" -ge 400 -a "$c" -lt 500
q=$(python3 -c 'print("&".join("p%d=%d" % (i, i) for i in range(10000)))')
c=$(code "$U/q/events?$q&topic=a&token=$alice")
ok "10,000 query parameters: refused with a 4xx ($c)" test "$c" -ge 400 -a "$c" -lt 500
q=$(python3 -c 'print("&".join("p%d=1" % i for i in range(900)))')
eq "900 query parameters (under the server's limit): still answered" 200 \
    "$("$SSE" "$U/q/events?$q&topic=a&token=$alice" --status -t 1 | head -1 | jget status)"
eq "invalid UTF-8 in a channel from the path: no route" 404 "$(code "$U/s/%C3%28/events?token=$alice")"
c=$(code "$U/s/a%0Ab/events?token=$alice")
ok "a control character in a channel from the path: refused with a 4xx ($c)" test "$c" -ge 400 -a "$c" -lt 500
eq "invalid UTF-8 in a channel from the query: 400" 400 "$(code "$U/q/events?topic=%FF&token=$alice")"
ok "the workers still serve" alive

# the same sizes straight to zsse-fcgi's FastCGI socket: lighttpd answers
# 431 to large headers itself, so above zsse-fcgi's own limits (16 KiB
# query, Authorization and Cookie; Accept 4 KiB, Origin 1 KiB,
# Last-Event-ID 64 bytes) were never reached
srv_fcgi_listen 4
FC() { python3 "$top_srcdir/tests/fcgiclient.py" "127.0.0.1:$FCGI_PORT" raw "$@" | head -1; }
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }
long 20000 > "$T/auth20k"; sed -i '1s/^/Bearer /' "$T/auth20k"
eq "FastCGI: 20 KB Authorization: 400" 400 "$(FC REQUEST_URI=/me/events HTTP_AUTHORIZATION=@"$T/auth20k")"
{ printf 'zsse_token='; long 1048576; } > "$T/cookie1m"
# a token past its 8 KiB bound is refused as a token, wherever it came from
eq "FastCGI: 1 MB Cookie (the token in it too long): 401" 401 "$(FC REQUEST_URI=/me/events HTTP_COOKIE=@"$T/cookie1m")"
python3 -c 'print("&".join("p%d=%d" % (i, i) for i in range(10000)), end="&topic=a")' > "$T/q10k"
eq "FastCGI: 10,000 query parameters: 400" 400 \
    "$(FC REQUEST_URI=/q/events QUERY_STRING=@"$T/q10k" HTTP_AUTHORIZATION="Bearer $alice")"
# values of any length the server passes are taken (issue 13 item 2): a
# long Accept is read whole, a long Origin is not echoed, a long
# Last-Event-ID is an unknown id: 200 and the reset event
FB() { python3 "$top_srcdir/tests/fcgiclient.py" "127.0.0.1:$FCGI_PORT" raw "$@" | paste -sd' '; }
eq "FastCGI: 5,000-byte Accept: 200" 200 \
    "$(FC REQUEST_URI=/me/events HTTP_ACCEPT="*5000:a" HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
eq "FastCGI: 2,000-byte Origin: 200" 200 \
    "$(FC REQUEST_URI=/me/events HTTP_ORIGIN="*2000:o" HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
ok "FastCGI: 100-digit Last-Event-ID: 200 and the reset event" \
    grep -q '^200 .*event: reset' <<<"$(FB REQUEST_URI=/me/events HTTP_LAST_EVENT_ID="*100:1" HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
eq "FastCGI: just under the limits (16 KiB query): answered (200)" 200 \
    "$(FC REQUEST_URI=/q/events QUERY_STRING="topic=a&pad=$(long 16000 p)" HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
eq "FastCGI: a 64 KiB header zsse-fcgi does not read: ignored (200)" 200 \
    "$(FC REQUEST_URI=/me/events HTTP_X_BIG="*65536:x" HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
eq "FastCGI: the worker still serves" 200 "$(FC REQUEST_URI=/me/events HTTP_AUTHORIZATION="Bearer $alice" -t 2)"
t_stop "$FCGI_PID"

# token validity
now=$(date +%s)
eq "not yet valid (nbf): 401" 401 \
    "$(code "$U/me/events?token=$(zsse token --sub alice --claim nbf=$((now + 600)))")"
python3 - "$ZSSE_CONFIG" "$T/iss.json" "$T/aud.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["issuer"] = "https://evil.example"; json.dump(c, open(sys.argv[2], "w"))
c["auth"]["issuer"] = "https://id.example"; c["auth"]["audience"] = "other"; json.dump(c, open(sys.argv[3], "w"))
PY
eq "wrong issuer: 401" 401 "$(code "$U/me/events?token=$(zsse -c "$T/iss.json" token --sub alice)")"
eq "wrong audience: 401" 401 "$(code "$U/me/events?token=$(zsse -c "$T/aud.json" token --sub alice)")"
ok "the body says which" bash -c "curl -s '$U/me/events?token=$(zsse -c "$T/aud.json" token --sub alice)' | grep -q 'wrong audience'"

# one user's token, another user's channels
eq "path: alice's token, bob's room: 403" 403 "$(code "$U/s/b/events?token=$alice")"
eq "query: alice's token, bob's topic: 403" 403 "$(code "$U/q/events?topic=b&token=$alice")"
eq "cookie: alice's token, bob's room: 403" 403 "$(code -H "Cookie: zsse_token=$alice" "$U/s/b/events")"
eq "a grant pattern in the path is not a pattern: 404" 404 "$(code "$U/s/%2A/events?token=$alice")"
# the header wins over query and cookie: a stolen query token cannot widen it
t_sse who "$U/me/events?token=$bob" -H "Authorization: Bearer $alice" -H "Cookie: zsse_token=$bob" \
    -n 1 -t 5
w=$SSE_PID
zsse publish --ack -C user/bob -e secret -d '"for bob"' > /dev/null
zsse publish --ack -C user/alice -e mine -d '"for alice"' > /dev/null
wait $w
eq "Bearer beats query and cookie: alice's stream gets alice's events only" mine "$(sse_events who | jget event)"

# RS256 pinned: an HS256 token signed with the RSA public key is refused
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl pkey -in "$T/rsa.pem" -pubout -out "$T/rsa.pub" 2>/dev/null
python3 - "$ZSSE_CONFIG" "$T/rs.json" "$T/rsa.pub" "$T/hs-pub.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"].update({"alg": "RS256", "key_file": sys.argv[3]})
json.dump(c, open(sys.argv[2], "w"))
c["auth"]["alg"] = "HS256"; json.dump(c, open(sys.argv[4], "w"))
PY
FCGI_PORT=$(t_port)
t_spawn fcgi-rs zsse-fcgi -c "$T/rs.json" --listen "127.0.0.1:$FCGI_PORT" --threads 4
t_wait_port "$FCGI_PORT" "$T_LASTPID"
srv_nginx
N="http://127.0.0.1:$WEB_PORT"
good=$(zsse -c "$T/rs.json" token --sub alice --key "$T/rsa.pem")
eq "RS256: a token signed with the private key: 200" 200 \
    "$("$SSE" "$N/me/events?token=$good" --status -t 1 | head -1 | jget status)"
evil=$(zsse -c "$T/hs-pub.json" token --sub alice)
out=$(curl -s "$N/me/events?token=$evil")
eq "RS256: HS256 signed with the public key: 401" 401 "$(code "$N/me/events?token=$evil")"
ok "...'algorithm not allowed'" grep -q 'algorithm not allowed' <<<"$out"
t_done
