#!/usr/bin/env bash
# zsse-fcgi behind a real lighttpd (bin-path): token sources, every status
# code, stream headers, retry/hello/replay/reset/snapshot, formats,
# heartbeats, max_lifetime + Last-Event-ID, poll mode, CORS, stats route,
# broker down / back, a client that leaves frees its worker.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init fcgi
t_key
t_config ', "routes": [
  { "path": "/s/{room}/events", "channels": ["room/{room}"], "retry": 1000,
    "hello": { "event": "hello", "data": { "ok": true } },
    "heartbeat": { "interval": 1, "comment": "hb" }, "snapshot": true },
  { "path": "/me/events", "channels": ["user/{sub}"], "format": "envelope", "heartbeat": { "interval": 0 } },
  { "path": "/life/events", "channels": ["life"], "auth": "none", "max_lifetime": 2 },
  { "path": "/one/events", "channels": ["user/{sub}"], "max_per_user": 1 },
  { "path": "/admin/events", "channels": ["admin"], "require": { "role": "admin" } },
  { "path": "/q/events", "channels": ["q/{query.topic}"] },
  { "path": "/cors/events", "channels": ["pub"], "auth": "none",
    "cors": { "origins": ["https://app.example.com"], "credentials": true } },
  { "path": "/metrics", "type": "stats", "auth": "none" },
  { "path": "/public/{room}/events", "channels": ["pub/{room}"], "auth": "none" }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["leeway"] = 0
c["broker"]["channels"] = [{"match": "room/small", "buffer": 2}]
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
# 16 processes: a stream whose client left holds its process until its
# next write (lighttpd tells the worker only then), and several routes
# here write nothing for 30 s; the broker-down check needs a free one
srv_lighttpd binpath 16
U="http://127.0.0.1:$WEB_PORT"
SSE="$top_srcdir/tests/sse.py"
st() { "$SSE" "$@" --status -t 5 | head -1 | jget status; }

alice=$(zsse token --sub alice --channels 'room/r1,room/small,q/news')
admin=$(zsse token --sub root --claim role=admin)
bob=$(zsse token --sub bob --claim role=user)

# --- token sources and headers -------------------------------------------------------
out=$("$SSE" "$U/s/r1/events?token=$alice" --status -n 1 -t 5)
eq "token in the query string: 200" 200 "$(head -1 <<<"$out" | jget status)"
eq "Content-Type" "text/event-stream; charset=utf-8" "$(head -1 <<<"$out" | jget headers.content-type)"
eq "Cache-Control" "no-cache" "$(head -1 <<<"$out" | jget headers.cache-control)"
eq "X-Accel-Buffering" "no" "$(head -1 <<<"$out" | jget headers.x-accel-buffering)"
eq "Bearer header: 200" 200 "$(st "$U/s/r1/events" -H "Authorization: Bearer $alice")"
eq "cookie: 200" 200 "$(st "$U/s/r1/events" -H "Cookie: a=b; zsse_token=$alice")"

# --- 401 / 403 / 404 / 405 -----------------------------------------------------------------
out=$("$SSE" "$U/s/r1/events" --status -t 5)
eq "no token: 401" 401 "$(head -1 <<<"$out" | jget status)"
# RFC 6750 3.1: no credentials sent, so no error code in the challenge
eq "WWW-Authenticate" 'Bearer realm="zsse"' "$(head -1 <<<"$out" | jget headers.www-authenticate)"
eq "JSON body" '{"error": "invalid_token", "message": "token missing"}' "$(sed -n 2p <<<"$out" | jget body | head -1)"
eq "malformed token: 401" 401 "$(st "$U/s/r1/events?token=abc.def")"
eq "bad token: error=invalid_token" 'Bearer realm="zsse", error="invalid_token"' \
    "$("$SSE" "$U/s/r1/events?token=abc.def" --status -t 5 | head -1 | jget headers.www-authenticate)"
echo "a-different-secret-0123456789abcdef" > "$T/other.key"
python3 - "$ZSSE_CONFIG" "$T/other.json" "$T/other.key" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["auth"]["key_file"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"))
PY
forged=$(zsse -c "$T/other.json" token --sub alice --channels 'room/*')
eq "signed with another key: 401" 401 "$(st "$U/s/r1/events?token=$forged")"
none=$(python3 -c 'import base64,json,time;e=lambda o:base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode();print(e({"alg":"none","typ":"JWT"})+"."+e({"sub":"alice","exp":int(time.time())+600,"channels":["room/*"]})+".")')
eq "alg none: 401" 401 "$(st "$U/s/r1/events?token=$none")"
short=$(zsse token --sub alice --ttl 1 --channels 'room/r1')
sleep 2.2
out=$("$SSE" "$U/s/r1/events?token=$short" --status -t 5)
eq "expired: 401" 401 "$(head -1 <<<"$out" | jget status)"
ok "expired: says so" grep -q 'token expired' <<<"$out"
eq "room not granted: 403" 403 "$(st "$U/s/r2/events?token=$alice")"
eq "query channel not granted: 403" 403 "$(st "$U/q/events?topic=sports&token=$alice")"
eq "query channel granted: 200" 200 "$(st "$U/q/events?topic=news&token=$alice")"
eq "query parameter missing: 400" 400 "$(st "$U/q/events?token=$alice")"
eq "'*' in a path value: refused, no route matches (a grant cannot be widened)" 404 "$(st "$U/s/r%2A/events?token=$alice")"
eq "require role=admin, user: 403" 403 "$(st "$U/admin/events?token=$bob")"
eq "require role=admin, admin: 200" 200 "$(st "$U/admin/events?token=$admin")"
eq "auth none: a path channel needs no grant (public route)" 200 "$(st "$U/public/lobby/events")"
eq "no route: 404" 404 "$(st "$U/nothing/here")"
eq "POST: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -d '' "$U/s/r1/events?token=$alice")"
ok "405 has Allow" bash -c "curl -s -i -X DELETE '$U/s/r1/events' | grep -qi '^Allow: GET'"

# --- the stream: retry, hello, snapshot, replay, reset ---------------------------------------
zsse publish --ack -C room/r1 -e price -k eur -d '{"eur":1}' > /dev/null
zsse publish --ack -C room/r1 -e price -k eur -d '{"eur":2}' > /dev/null
i3=$(zsse publish --ack -C room/r1 -e news -d '"line one\nline two"')
"$SSE" "$U/s/r1/events?token=$alice" --comments -n 2 -t 5 > "$T/open.out"
eq "retry first" '{"retry": 1000}' "$(nth "$T/open.out" 1)"
eq "hello second" '{"id": "", "event": "hello", "data": "{\"ok\":true}"}' "$(nth "$T/open.out" 2)"
eq "snapshot: the state" '{"eur":2}' "$(nth "$T/open.out" 3 | jget data)"
"$SSE" "$U/s/r1/events?token=$alice" -H "Last-Event-ID: $((i3 - 1))" -n 2 -t 5 > "$T/le.out"
eq "Last-Event-ID: a multi-line string arrives as two data lines" "line one
line two" "$(nth "$T/le.out" 2 | jget data)"
for i in 1 2 3 4; do zsse publish --ack -C room/small -d "$i" > /dev/null; done
s1=$(zsse publish --ack -C room/small -d 5)
"$SSE" "$U/s/small/events?lastEventId=1" -H "Authorization: Bearer $alice" -n 2 -t 5 > "$T/reset.out"
eq "too old: reset event" reset "$(nth "$T/reset.out" 2 | jget event)"
eq "reset data" '{"reason":"too old"}' "$(nth "$T/reset.out" 2 | jget data)"
"$SSE" "$U/s/small/events?last_event_id=$((s1 - 1))&token=$alice" -n 2 -t 5 > "$T/q.out"
eq "last_event_id query parameter" "$s1" "$(nth "$T/q.out" 2 | jget id)"

# --- envelope format, heartbeats ---------------------------------------------------------------
t_sse env "$U/me/events" -H "Authorization: Bearer $alice" -n 1 -t 8
e=$SSE_PID
zsse publish -C user/alice -e balance.changed -d '{"gold":5}'
wait $e
eq "envelope format" '{"type":"balance.changed","data":{"gold":5}}' "$(sse_events env | jget data)"
eq "envelope: no event line" None "$(sse_events env | jget event)"
"$SSE" "$U/s/r1/events?token=$alice" --comments --times -t 4.5 > "$T/hb.out"
ok "heartbeat comments (interval 1 s)" bash -c "[ \$(grep -c '{\"comment\": \"hb\"' $T/hb.out) -ge 2 ]"
gaps=$(hb_gaps "$T/hb.out" hb | paste -sd' ')
ok "heartbeat interval 1 s: measured gaps within 0.5-1.8 s ($gaps)" \
    all_between 0.5 1.8 <<<"${gaps// /$'\n'}"

# --- max_lifetime ends cleanly; Last-Event-ID gets what was missed -----------------------------------
t0=$(date +%s%N)
t_sse life "$U/life/events" -t 10
l=$SSE_PID
a=$(zsse publish --ack -C life -d '"a"')
wait $l
t1=$(date +%s%N)
ok "max_lifetime: the stream ends (EOF)" grep -q '"eof": true' "$T/life.out"
eq "...after the event" "$a" "$(grep '"data"' "$T/life.out" | jget id)"
ms=$(( (t1 - t0) / 1000000 ))
ok "max_lifetime 2 s: ended after 2 s, before 4 (${ms} ms)" test "$ms" -ge 2000 -a "$ms" -lt 4000
b=$(zsse publish --ack -C life -d '"b"')
c=$(zsse publish --ack -C life -d '"c"')
"$SSE" "$U/life/events" -H "Last-Event-ID: $a" -n 2 -t 5 > "$T/life2.out"
eq "reconnect with Last-Event-ID: what was missed" "$b $c" "$(jcol id < "$T/life2.out" | paste -sd' ')"

# --- max_per_user ---------------------------------------------------------------------------------------
t_sse one "$U/one/events?token=$bob" -t 4
one=$SSE_PID
eq "max_per_user 1: the first stream: 200" 200 "$(sse_status one)"
out=$("$SSE" "$U/one/events?token=$bob" --status -t 3)
eq "max_per_user 1: 429" 429 "$(head -1 <<<"$out" | jget status)"
eq "429 Retry-After" 5 "$(head -1 <<<"$out" | jget headers.retry-after)"
eq "another user is not counted" 200 "$(st "$U/one/events?token=$alice")"
wait $one

# --- poll mode ------------------------------------------------------------------------------------------------
p1=$(zsse publish --ack -C room/r1 -e news -d '{"n":1}')
p2=$(zsse publish --ack -C room/r1 -d '"two"')
out=$(curl -s "$U/s/r1/events?mode=poll&lastEventId=$((p1 - 1))&token=$alice")
eq "poll: events after the id" "$p1 $p2" "$(python3 -c 'import json,sys; print(" ".join(e["id"] for e in json.loads(sys.argv[1])["events"]))' "$out")"
eq "poll: data as JSON values" '{"n":1} two' "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps(d["events"][0]["data"],separators=(",",":")), d["events"][1]["data"])' "$out")"
eq "poll: last_event_id" "$p2" "$(jget last_event_id <<<"$out")"
eq "Accept: application/json is poll mode too" "$p2" \
    "$(curl -s -H 'Accept: application/json' "$U/s/r1/events?lastEventId=$p1&token=$alice" | jget events.0.id)"
curl -s "$U/s/r1/events?mode=poll&wait=5&lastEventId=$p2&token=$alice" > "$T/lp.out" &
lp=$!
sleep 1
p3=$(zsse publish --ack -C room/r1 -d '"three"')
wait $lp
eq "long poll: held until an event" "$p3" "$(jget events.0.id < "$T/lp.out")"

# --- CORS -------------------------------------------------------------------------------------------------------------
out=$(curl -s -i -X OPTIONS -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: GET' "$U/cors/events")
ok "preflight: 204" grep -q '^HTTP/1.1 204' <<<"$out"
ok "preflight: origin echoed" grep -qi '^Access-Control-Allow-Origin: https://app.example.com' <<<"$out"
ok "preflight: Vary: Origin" grep -qi '^Vary: Origin' <<<"$out"
ok "preflight: credentials" grep -qi '^Access-Control-Allow-Credentials: true' <<<"$out"
out=$("$SSE" "$U/cors/events" -H 'Origin: https://app.example.com' --status -t 2)
eq "stream: origin echoed" https://app.example.com "$(head -1 <<<"$out" | jget headers.access-control-allow-origin)"
out=$("$SSE" "$U/cors/events" -H 'Origin: https://evil.example' --status -t 2)
eq "another origin: the stream opens (200)" 200 "$(head -1 <<<"$out" | jget status)"
eq "another origin: no CORS header" None "$(head -1 <<<"$out" | jget headers.access-control-allow-origin)"

# --- Prometheus ---------------------------------------------------------------------------------------------------------
out=$(curl -s "$U/metrics")
ok "stats route: Prometheus text" grep -q '^zsse_events_published_total [0-9]' <<<"$out"
ok "stats route: rejections by reason" grep -q 'zsse_events_rejected_by_reason_total' <<<"$out"
ok "stats route: publish-to-PUB latency" grep -q '^zsse_publish_latency_microseconds [0-9]' <<<"$out"
ok "stats route: events replayed" grep -q '^zsse_events_replayed_total [0-9]' <<<"$out"
# the same figures as `zsse stats`, read with nothing published in between
# (a rejection first, so that a by-reason line exists)
zsse publish --ack --stdin <<<'{"channel":"a b","data":1}' > /dev/null 2>&1
s1=$(zsse stats); m=$(curl -s "$U/metrics"); s2=$(zsse stats)
for pair in published:zsse_events_published_total rejected:zsse_events_rejected_total \
    replayed:zsse_events_replayed_total resets:zsse_resets_total channels:zsse_channels \
    events_buffered:zsse_buffer_events state_keys:zsse_state_keys \
    rejected_reasons.bad_channel:'zsse_events_rejected_by_reason_total{reason="bad_channel"}'; do
    k=${pair%%:*} name=${pair#*:}
    v=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$m")
    eq "stats route: $name = zsse stats $k" "$(jget "$k" <<<"$s1") $(jget "$k" <<<"$s1")" \
        "$v $(jget "$k" <<<"$s2")"
done
curl -sN "$U/cors/events" > /dev/null &
held=$!
t_until 50 bash -c "curl -s '$U/metrics' | grep -q 'zsse_route_streams_open{route=\"/cors/events\"} [1-9]'"
ok "stats route: open streams per route" bash -c "curl -s '$U/metrics' | grep -q 'zsse_route_streams_open{route=\"/cors/events\"} [1-9]'"
kill $held; wait $held 2>/dev/null

# --- the broker goes away and comes back ------------------------------------------------------------------------------
t_sse survive "$U/s/r1/events?token=$alice" -n 3 -t 25
sv=$SSE_PID
t_stop "$BROKER_PID"
out=$("$SSE" "$U/s/r1/events?token=$alice" --status -t 8)
eq "broker down: 503" 503 "$(head -1 <<<"$out" | jget status)"
eq "503 Retry-After" 5 "$(head -1 <<<"$out" | jget headers.retry-after)"
t_start_broker
sleep 1.5
back=$(zsse publish --ack -C room/r1 -e after -d '"back"')
wait $sv
eq "an open stream resumes when the broker is back" "$back" "$(grep '"after"' "$T/survive.out" | jget id)"

# --- a client that leaves frees its worker (one worker process) -----------------------------------------------------------
srv_lighttpd binpath 1
U1="http://127.0.0.1:$WEB_PORT"
curl -sN "$U1/s/r1/events?token=$alice" > "$T/gone.out" &
g=$!
t_until 50 grep -q retry "$T/gone.out"
kill $g; wait $g 2>/dev/null
# lighttpd tells the worker at its next write: the 1 s heartbeat
eq "the only worker serves the next client" 200 "$("$SSE" "$U1/s/r1/events?token=$alice" --status -n 1 -t 8 | head -1 | jget status)"

# --- ... and holds many streams at once: it hands each to its hub ---------------------------
out=$("$top_builddir/tests/bench/loadgen" --url "$U1/public/many/events" --clients 40 --rate 5 \
    --duration 2 --settle 2 --ramp 20 --publish "tcp://127.0.0.1:$P_PUB" --channel pub/many | tail -1)
echo "# one bin-path worker: $out"
ok "one bin-path worker holds 40 streams at once" grep -q ' open=40 ' <<<"$out"
ok "...and every event reaches every one of them, once, in order" awk '{ for (i = 1; i <= NF; i++) {
    split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { exit !(v["expected"] >= 200 && v["delivered"] == v["expected"] && v["lost"] == 0 &&
                 v["reordered"] == 0 && v["gaps"] == 0) }' <<<"$out"
t_done
