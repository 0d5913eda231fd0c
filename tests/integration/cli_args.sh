#!/usr/bin/env bash
# Command lines read strictly (issue 16): every number an option takes
# is digits within bounds, else a usage error (exit 2, naming the option);
# zsse exits 2 on every usage error (doc/reference.md, EXIT STATUS);
# `zsse revoke` checks its arguments itself (too long, control characters)
# instead of blaming the broker; `zsse tail --ready` says when it cannot
# reach the broker; `zsse-fcgi --listen` takes HOST:PORT with a port from
# 1 to 65535 or a unix socket path (with a '/'), nothing else.  And the
# 401 / 405 heads of the publish and Mercure routes: no error code in the
# challenge when no token was sent (RFC 6750 3.1), and Mercure's Allow
# names POST.  Every command here runs under `timeout`: the faults ran
# forever.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init cli_args
t_key
t_config ', "routes": [
  { "path": "/publish", "type": "publish" },
  { "path": "/.well-known/mercure", "type": "mercure" }
]' > "$ZSSE_CONFIG"

# usage CMD...: "STATUS first-line-of-stderr" of CMD, at most 5 s
usage() {
    timeout 5 "$@" > "$T/u.out" 2> "$T/u.err"
    echo "$? $(head -1 "$T/u.err")"
}
# code NAME WORD CMD...: exit status 2, and stderr names WORD
code2() {
    local name=$1 word=$2 r; shift 2
    r=$(usage "$@")
    ok "$name: exit 2 naming $word ($r)" bash -c '[[ "$1" == "2 "*"$2"* ]]' _ "$r" "$word"
}

# --- numbers (no broker: each must be refused before it matters) ----------
code2 "tail --timeout abc" --timeout zsse tail --timeout abc news/a
code2 "tail --timeout -1" --timeout zsse tail --timeout -1 news/a
code2 "tail --timeout inf" --timeout zsse tail --timeout inf news/a
code2 "tail -n -1" -n zsse tail -n -1 news/a
code2 "tail -n 0" -n zsse tail -n 0 news/a
code2 "tail -n 2x" -n zsse tail -n 2x news/a
code2 "publish --ttl 10x" --ttl zsse publish --ttl 10x -C a -d 1
code2 "publish --ttl 0" --ttl zsse publish --ttl 0 -C a -d 1
code2 "token --ttl 5abc" --ttl zsse token --sub u --ttl 5abc
code2 "token --ttl 99999999999999999999" --ttl zsse token --sub u --ttl 99999999999999999999
code2 "revoke --ttl abc" --ttl zsse revoke --sub bob --ttl abc
code2 "revoke --ttl 0" --ttl zsse revoke --sub bob --ttl 0
# still accepted: plain numbers (the token is printed)
ok "token --ttl 60: accepted" bash -c 'zsse token --sub u --ttl 60 | grep -q "\."'
ok "tail -n 1 --timeout 0.2: accepted, exits 0" timeout 5 zsse tail -n 1 --timeout 0.2 news/a

# --- usage errors exit 2 ---------------------------------------------------
code2 "unknown command" bogus zsse bogus
code2 "unknown global option" --bogus zsse --bogus stats
code2 "publish: unknown option" --bogus zsse publish --bogus
code2 "publish: no -C" -C zsse publish -d 1
code2 "stats: extra argument" extra zsse stats extra
code2 "check-config: unknown option" --bogus zsse check-config --bogus
code2 "tail: no channel" CHANNEL zsse tail
code2 "tail: bad channel" "not a valid channel" zsse tail "a b"
code2 "revoke: neither --sub nor --jti" --sub zsse revoke
code2 "keygen: no prefix" PREFIX zsse keygen

# check-config reads an endpoint's port as digits too
sed 's|"tcp://127.0.0.1:\([0-9]*\)",|"tcp://127.0.0.1:+\1",|' "$ZSSE_CONFIG" > "$T/plus.json"
r=$(usage zsse check-config -c "$T/plus.json")
ok "check-config: a port '+N' is a problem ($r)" \
    bash -c '[[ "$1" == "1 "* ]] && grep -q "+[0-9]*: not tcp://HOST:PORT" "$2"' _ "$r" "$T/u.err"

# --- revoke: its own arguments ---------------------------------------------
long=$(printf 'u%.0s' $(seq 1 300))
r=$(usage zsse revoke --sub "$long")
ok "revoke --sub of 300 bytes: exit 2, not 'broker unreachable' ($r)" \
    bash -c '[[ "$1" == "2 "*--sub* && "$1" != *unreachable* ]]' _ "$r"
code2 "revoke --sub with a newline" "control character" zsse revoke --sub $'bob\nzsse-broker: forged line'
code2 "revoke --jti with a tab" "control character" zsse revoke --jti $'a\tb'
code2 "revoke --sub empty" --sub zsse revoke --sub ''

# --- tail --ready, no broker: says so ----------------------------------------
r=$(usage zsse tail --ready --timeout 4.5 news/a)
ok "tail --ready, no broker: says it cannot reach it, still trying ($r)" \
    bash -c '[[ "$1" == "1 "*"cannot reach the broker"*"still trying" ]]' _ "$r"
ok "tail --ready, no broker: exits 1 at --timeout, never ready" grep -q "never ready" "$T/u.err"
ok "tail --ready, no broker: no 'ready'" bash -c "! grep -q ready '$T/u.out'"
t_start_broker
r=$(usage zsse tail --ready --timeout 1 news/a)
ok "tail --ready, broker up: ready, exit 0, nothing on stderr ($r)" \
    bash -c '[[ "$1" == "0 " ]] && grep -qx ready "$2"' _ "$r" "$T/u.out"

# --- zsse-fcgi --listen ----------------------------------------------------
cd "$T" || exit 1
for a in 127.0.0.1:99999 127.0.0.1:0 127.0.0.1:abc 127.0.0.1: 127.0.0.1:80x 127.0.0.1 fcgi.sock; do
    code2 "zsse-fcgi --listen $a" "--listen" zsse-fcgi --listen "$a"
done
ok "zsse-fcgi --listen 127.0.0.1:abc: no socket file made" test ! -e "$T/127.0.0.1:abc"
ok "zsse-fcgi --listen fcgi.sock: no socket file made" test ! -e "$T/fcgi.sock"
# the good ones still listen
srv_fcgi_listen 2
ok "zsse-fcgi --listen 127.0.0.1:PORT listens" t_wait_port "$FCGI_PORT" "$FCGI_PID"
t_spawn fcgi-unix zsse-fcgi --listen "$T/f.sock"
ok "zsse-fcgi --listen $T/f.sock: a unix socket, mode 0660" \
    t_until 50 bash -c "test -S '$T/f.sock' && [ \"\$(stat -c %a '$T/f.sock')\" = 660 ]"

# --- 401 challenges and 405 Allow --------------------------------------------
srv_nginx
B="http://127.0.0.1:$WEB_PORT"
# head NAME CURL-ARGS...: the response head, CRs dropped
head_of() { curl -s -o /dev/null -D - --max-time 10 "$@" | tr -d '\r'; }
h=$(head_of -X POST -H 'Content-Type: application/json' -d '{"channel":"a","data":1}' "$B/publish")
ok "publish, no token: 401 with a challenge without error (RFC 6750 3.1)" \
    bash -c 'grep -q "^HTTP/1.1 401" <<<"$1" && grep -qx "WWW-Authenticate: Bearer realm=\"zsse\"" <<<"$1"' _ "$h"
h=$(head_of -X POST -H 'Authorization: Bearer x.y.z' -H 'Content-Type: application/json' \
    -d '{"channel":"a","data":1}' "$B/publish")
ok "publish, bad token: 401 with error=\"invalid_token\"" \
    bash -c 'grep -q "^HTTP/1.1 401" <<<"$1" && grep -q "^WWW-Authenticate: Bearer .*error=\"invalid_token\"" <<<"$1"' _ "$h"
h=$(head_of -X POST --data-urlencode topic=x --data-urlencode data=1 "$B/.well-known/mercure")
ok "mercure publish, no token: 401 with a challenge without error" \
    bash -c 'grep -q "^HTTP/1.1 401" <<<"$1" && grep -qx "WWW-Authenticate: Bearer realm=\"zsse\"" <<<"$1"' _ "$h"
h=$(head_of "$B/.well-known/mercure?topic=x")
ok "mercure subscribe, no token: 401 with a challenge without error" \
    bash -c 'grep -q "^HTTP/1.1 401" <<<"$1" && grep -qx "WWW-Authenticate: Bearer realm=\"zsse\"" <<<"$1"' _ "$h"
h=$(head_of -X PUT "$B/.well-known/mercure")
ok "mercure PUT: 405, Allow: GET, POST" \
    bash -c 'grep -q "^HTTP/1.1 405" <<<"$1" && grep -qx "Allow: GET, POST" <<<"$1"' _ "$h"
t_done
