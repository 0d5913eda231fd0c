#!/usr/bin/env bash
# CORS "*" echoes only an Origin that is scheme://host[:port] (issue 13,
# item 5).  Spoken to straight on the FastCGI socket (where no web server
# cleans the header), an Origin with CR/LF, a path, user info or spaces
# is not echoed -- no header injection -- and the request is still
# served; a proper origin is echoed with Vary: Origin.  Then through
# nginx, the same for what a browser can send.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init cors_origin
t_key
t_config ', "routes": [
  { "path": "/pub/events", "channels": ["pub"], "auth": "none", "heartbeat": { "interval": 1 },
    "cors": { "origins": ["*"] } }
]' > "$ZSSE_CONFIG"
t_start_broker
srv_fcgi_listen 4
FC="$top_srcdir/tests/fcgiclient.py"
A="127.0.0.1:$FCGI_PORT"

acao() {    # ORIGIN: the Access-Control-Allow-Origin line(s) and injected ones
    "$FC" "$A" get /pub/events "HTTP_ORIGIN=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
bad = [h for h in r["headers"] if h.lower().startswith(("x-injected", "set-cookie"))]
acao = [h.split(":", 1)[1].strip() for h in r["headers"] if h.lower().startswith("access-control-allow-origin")]
print(r["status"], "|".join(acao) or "-", "INJECTED" if bad else "")' | sed 's/ $//'
}
eq "https://app.example.com: echoed" "200 https://app.example.com" "$(acao https://app.example.com)"
eq "http://127.0.0.1:8080: echoed" "200 http://127.0.0.1:8080" "$(acao http://127.0.0.1:8080)"
eq "http://[::1]:3000: echoed" "200 http://[::1]:3000" "$(acao 'http://[::1]:3000')"
eq "CR LF and a header: not echoed, not injected" "200 -" \
    "$(acao 'https://a.example\r\nX-Injected: 1')"
eq "LF Set-Cookie: not echoed" "200 -" "$(acao 'https://a.example\nSet-Cookie: s=1')"
eq "a path: not echoed" "200 -" "$(acao https://a.example/x)"
eq "user info: not echoed" "200 -" "$(acao https://u@a.example)"
eq "a space: not echoed" "200 -" "$(acao 'https://a.example x')"
eq "a port past 65535: not echoed" "200 -" "$(acao https://a.example:70000)"
eq "no scheme: not echoed" "200 -" "$(acao a.example)"
eq "null: not echoed" "200 -" "$(acao null)"

srv_nginx
U="http://127.0.0.1:$WEB_PORT/pub/events"
out=$(curl -s -m 2 -D - -o /dev/null -H 'Origin: https://app.example.com' "$U")
ok "nginx: a proper origin is echoed" grep -qi '^access-control-allow-origin: https://app.example.com' <<<"$out"
ok "nginx: with Vary: Origin" grep -qi '^vary: origin' <<<"$out"
out=$(curl -s -m 2 -D - -o /dev/null -H 'Origin: https://app.example.com/evil path' "$U")
ok "nginx: an origin with a path is not echoed" bash -c "! grep -qi '^access-control-allow-origin' <<<'$out'"
t_done
