#!/usr/bin/env bash
# A stream resumed with Last-Event-ID and nothing to replay (no retry, no
# hello) answers its 200 at once behind every web server: nginx holds a
# FastCGI response's headers until body bytes come, so without a first
# comment from zsse-fcgi the client saw no 200 (no EventSource/zsse.js
# "open") until the next event or heartbeat -- found by js_expiry.sh,
# where each reconnect after a token expiry is such a resume.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init resume-open
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 0 } }
]' > "$ZSSE_CONFIG"
t_start_broker
id=$(zsse publish --ack -C user/u1 -e tick -d 1)
tok=$(zsse token --sub u1 --ttl 60)
# open SERVER: the status and headers of a resume from the newest id, 3 s
# at most (curl ends there; the stream itself stays open)
open() {
    curl -s -D "$T/$1.head" -o "$T/$1.body" -m 3 -H "Authorization: Bearer $tok" \
        -H "Last-Event-ID: $id" "http://127.0.0.1:$WEB_PORT/me/events"
    ok "$1: the resumed stream's 200 came within 3 s" grep -q '^HTTP/1.1 200' "$T/$1.head"
    ok "$1: nothing replayed (the newest id was given)" bash -c "! grep -qs '^data:' '$T/$1.body'"
}
srv_fcgi_listen 2
srv_nginx
open nginx
srv_lighttpd binpath 2
open lighttpd
t_done
