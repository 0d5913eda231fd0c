#!/usr/bin/env bash
# Request values of any length the web server lets through (issue 13,
# item 2), behind nginx and lighttpd: a Last-Event-ID header longer than
# 64 bytes, a lastEventId / last_event_id query value longer than 31, an
# id that is not digits -- each gives a 200 stream that starts with the
# reset event (an EventSource that gets a 400 stops reconnecting for
# good; a dropped id silently skipped events).  A long Accept or Origin
# header still gets its stream; a known id still replays.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init long_values
t_key
t_config ', "routes": [
  { "path": "/me/events", "channels": ["user/{sub}"], "heartbeat": { "interval": 1 },
    "cors": { "origins": ["*"] } }
]' > "$ZSSE_CONFIG"
t_start_broker
SSE="$top_srcdir/tests/sse.py"
tok=$(zsse token --sub alice)
digits() { python3 -c "print('1' * $1)"; }

# the first event of a stream (and its status): "STATUS EVENTNAME"
first() {
    local out; out=$("$SSE" "$@" --status -n 1 -t 3)
    printf '%s %s\n' "$(printf '%s\n' "$out" | head -1 | jget status)" \
        "$(printf '%s\n' "$out" | sed -n 2p | jget event 2>/dev/null)"
}

run() {
    local name=$1 U="http://127.0.0.1:$WEB_PORT/me/events"
    eq "$name: Last-Event-ID of 65 digits: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok" -H "Last-Event-ID: $(digits 65)")"
    eq "$name: Last-Event-ID of 4000 digits: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok" -H "Last-Event-ID: $(digits 4000)")"
    eq "$name: Last-Event-ID of 100 letters: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok" -H "Last-Event-ID: $(python3 -c "print('x' * 100)")")"
    eq "$name: lastEventId query of 40 digits: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok&lastEventId=$(digits 40)")"
    eq "$name: last_event_id query of 3000 digits: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok&last_event_id=$(digits 3000)")"
    eq "$name: lastEventId query with a bad escape: 200 + reset" "200 reset" \
        "$(first "$U?token=$tok&lastEventId=12%zz")"
    local out
    out=$(curl -s -m 5 -H 'Accept: application/json' "$U?token=$tok&mode=poll&lastEventId=$(digits 50)")
    eq "$name: poll with a 50-digit lastEventId: the reset" "unknown id" \
        "$(printf '%s' "$out" | jget reset)"
    # the known id replays what came after it
    local id; id=$(zsse publish -C user/alice -e one -d 1 --ack)
    zsse publish -C user/alice -e two -d 2 --ack >/dev/null
    eq "$name: a known id still replays" "200 two" \
        "$(first "$U?token=$tok" -H "Last-Event-ID: $id")"
    # other headers of any length
    local acc; acc="text/event-stream, $(python3 -c "print(', '.join('x/y%d' % i for i in range(600)))")"
    eq "$name: Accept of ${#acc} bytes: 200" 200 \
        "$("$SSE" "$U?token=$tok" -H "Accept: $acc" --status -t 1 | head -1 | jget status)"
    local org; org="https://$(python3 -c "print('a' * 2000)").example"
    out=$("$SSE" "$U?token=$tok" -H "Origin: $org" --status -t 1 | head -1)
    eq "$name: Origin of ${#org} bytes: 200" 200 "$(printf '%s' "$out" | jget status)"
    ok "$name: ... and not echoed" bash -c "! printf '%s' '$out' | grep -q access-control-allow-origin"
}

srv_fcgi_listen 4
srv_nginx
run nginx
srv_lighttpd binpath 2
run lighttpd
t_done
