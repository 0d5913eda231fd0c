#!/usr/bin/env bash
# zsse revoke (issue 13, item 1): `zsse revoke --sub ID` ends that user's
# open streams on every worker within a second -- one zsse-fcgi behind
# nginx, two lighttpd bin-path processes -- and refuses the tokens issued
# until then (a token issued later passes); `--jti ID` does the same for
# one token.  Other users' streams stay.  A worker started after the
# revocation learns it within a second or two.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init revoke
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 1 },
    "hello": { "event": "hello", "data": 1 } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"
FC="$top_srcdir/tests/fcgiclient.py"
srv_fcgi_listen 4
A1="127.0.0.1:$FCGI_PORT"
srv_nginx
N="http://127.0.0.1:$WEB_PORT/me/events"
srv_lighttpd binpath 2
L="http://127.0.0.1:$WEB_PORT/me/events"

bob=$(zsse token --sub bob)
alice=$(zsse token --sub alice)
# open: bob through nginx and twice through lighttpd, alice through nginx
i=0
for u in "$N?token=$bob" "$L?token=$bob" "$L?token=$bob" "$N?token=$alice"; do
    i=$((i + 1))
    "$SSE" "$u" -t 20 > "$T/s$i.out" &
    eval "P$i=\$!"
done
for i in 1 2 3 4; do t_until 50 grep -qs hello "$T/s$i.out"; done
ok "four streams open" bash -c "grep -c hello $T/s[1-4].out | grep -c ':1' | grep -qx 4"
sleep 1.1           # a token issued after the revocation has a later iat (seconds)
t0=$(date +%s.%N)
zsse revoke --sub bob
ok "zsse revoke --sub bob: ok" test $? = 0
for i in 1 2 3; do
    t_until 30 grep -qs '"eof"' "$T/s$i.out"
done
t1=$(date +%s.%N)
for i in 1 2 3; do
    ok "bob's stream $i ended" grep -q '"eof"' "$T/s$i.out"
done
ok "within a second ($(python3 -c "print(round($t1 - $t0, 2))") s)" python3 -c "import sys; sys.exit(not $t1 - $t0 < 1.5)"
zsse publish -C user/alice -e after -d 1 >/dev/null
t_until 50 grep -qs '"after"' "$T/s4.out"
ok "alice's stream stays and gets events" grep -q '"after"' "$T/s4.out"
code() { "$SSE" "$1" --status -t 1 | head -1 | jget status; }
eq "bob's old token: 401 (nginx)" 401 "$(code "$N?token=$bob")"
eq "bob's old token: 401 (lighttpd)" 401 "$(code "$L?token=$bob")"
ok "... saying it was revoked" bash -c "curl -s '$N?token=$bob' | grep -q 'token revoked'"
sleep 1.1
bob2=$(zsse token --sub bob)
eq "a token bob got after the revocation: 200" 200 "$(code "$N?token=$bob2")"

# jti
carol1=$(zsse token --sub carol --claim jti=c-1)
carol2=$(zsse token --sub carol --claim jti=c-2)
"$SSE" "$N?token=$carol1" -t 20 > "$T/c1.out" &
t_until 50 grep -qs hello "$T/c1.out"
zsse revoke --jti c-1 --ttl 60
t_until 30 grep -qs '"eof"' "$T/c1.out"
ok "revoke --jti c-1: its stream ended" grep -q '"eof"' "$T/c1.out"
eq "the token c-1: 401" 401 "$(code "$N?token=$carol1")"
eq "carol's other token c-2: 200" 200 "$(code "$L?token=$carol2")"

# a worker started after the revocations
srv_fcgi_listen 2
A2="127.0.0.1:$FCGI_PORT"
status_new() { "$FC" "$A2" get "/me/events?mode=poll" "HTTP_AUTHORIZATION=Bearer $bob" | jget status; }
for _ in $(seq 1 30); do [ "$(status_new)" = 401 ] && break; sleep 0.1; done
eq "a new worker refuses bob's old token within a few seconds" 401 "$(status_new)"
ok "bad usage: neither --sub nor --jti" bash -c "! zsse revoke 2>/dev/null"
kill "$P4" 2>/dev/null; wait "$P4" 2>/dev/null
t_done
