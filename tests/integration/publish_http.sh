#!/usr/bin/env bash
# The publish route (issue 15 item 1) behind real nginx and lighttpd, and
# `zsse publish --url` (item 5): POSTed SPEC 4 messages stored by the
# broker and answered with their ids; 400/401/403/405/413/503 with JSON
# bodies; an array with one bad or forbidden message publishes nothing.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init publish-http
t_key
t_config ', "routes": [
  { "path": "/publish", "type": "publish" },
  { "path": "/admin/publish", "type": "publish", "require": { "role": "admin" } },
  { "path": "/open/publish", "type": "publish", "auth": "none" },
  { "path": "/s/{ch}", "channels": ["news/{ch}"], "auth": "none" }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["broker"]["max_message"] = 1024
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
srv_fcgi_listen 4

tok=$(zsse token --sub app --claim 'publish=["news/*","shared"]')
admin=$(zsse token --sub ops --claim 'publish=["*"]' --claim role=admin)
nopub=$(zsse token --sub reader --channels 'news/*')

# post URL [curl args]: prints "STATUS BODY" on one line
post() {
    local url=$1; shift
    curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        "$@" "$url" > "$T/code"
    echo "$(cat "$T/code") $(tr -d '\n' < "$T/body")"
}
published() { zsse stats | jget published; }
# the head id now, then the events of channel news/CH after it (stream route)
mark() { MARK=$(curl -s "$B/s/x?mode=poll" | jget last_event_id); }
events() { curl -s "$B/s/$1?mode=poll&lastEventId=$MARK"; }

check_server() {
    local name=$1
    B="http://127.0.0.1:$WEB_PORT"
    local n0 out id

    out=$(post "$B/publish" -d '{"channel":"news/a","data":1}')
    eq "$name: no token: 401" 401 "${out%% *}"
    ok "$name: no token: JSON error body" grep -q '"error": "invalid_token"' <<<"$out"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok.x" -d '{"channel":"news/a","data":1}')
    eq "$name: bad token: 401" 401 "${out%% *}"
    out=$(post "$B/publish" -H "Authorization: Bearer $nopub" -d '{"channel":"news/a","data":1}')
    eq "$name: no publish claim: 403" 403 "${out%% *}"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" -d '{"channel":"other/a","data":1}')
    eq "$name: channel outside the publish claim: 403" 403 "${out%% *}"
    out=$(post "$B/admin/publish" -H "Authorization: Bearer $tok" -d '{"channel":"news/a","data":1}')
    eq "$name: require claim missing: 403" 403 "${out%% *}"
    eq "$name: GET: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$B/publish")"

    # one message: its id back, and the event carries it, data as written
    mark
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" \
        -d '{"channel":"news/'$name'","event":"price","data":{"p":0.57}}')
    eq "$name: one message: 200" 200 "${out%% *}"
    id=$(cut -d' ' -f2- <<<"$out" | jget ids.0)
    ok "$name: one message: a decimal id" grep -Eq '^[0-9]+$' <<<"$id"
    eq "$name: the stream has it with that id" "$id price {\"p\":0.57}" \
        "$(events "$name" | python3 -c 'import json,sys; e=json.load(sys.stdin)["events"][-1]; print(e["id"], e["event"], json.dumps(e["data"],separators=(",",":")))')"
    ok "$name: data spelled as posted" bash -c "curl -s '$B/s/$name?mode=poll&lastEventId=$MARK' | grep -q '\"p\":0.57}'"

    # an array: ids in order; one bad or forbidden message publishes none
    n0=$(published)
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" \
        -d '[{"channel":"news/'$name'","data":"a"}, {"channels":["news/x","shared"],"data":"b"}]')
    eq "$name: array: 200" 200 "${out%% *}"
    ok "$name: array: two increasing ids" python3 -c '
import json, sys; i = json.loads(sys.argv[1])["ids"]; assert len(i) == 2 and int(i[0]) < int(i[1])' \
        "$(cut -d' ' -f2- <<<"$out")"
    eq "$name: array: both stored" $((n0 + 2)) "$(published)"
    n0=$(published)
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" \
        -d '[{"channel":"news/a","data":1}, {"channel":"news/b"}]')
    eq "$name: array with a message without data: 400" 400 "${out%% *}"
    ok "$name: the 400 names the message" grep -q 'messages\[1\]: missing_data' <<<"$out"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" \
        -d '[{"channel":"news/a","data":1}, {"channel":"secret/b","data":2}]')
    eq "$name: array with a forbidden channel: 403" 403 "${out%% *}"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" -d '[{"channel":"news/a","data":1},')
    eq "$name: malformed array: 400" 400 "${out%% *}"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" -d '{"channel":"news/a","data":1,"x":2}')
    eq "$name: unknown field: 400" 400 "${out%% *}"
    eq "$name: nothing of the refused requests published" "$n0" "$(published)"

    # 413: one message over max_message; a body over max_message x 64
    big=$(python3 -c 'print("{\"channel\":\"news/a\",\"data\":\"" + "x" * 2000 + "\"}")')
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" -d "$big")
    eq "$name: message over max_message: 413" 413 "${out%% *}"
    python3 -c 'import json; print(json.dumps([{"channel":"news/a","data":"x"*900}]*80))' > "$T/huge.json"
    out=$(post "$B/publish" -H "Authorization: Bearer $tok" --data-binary "@$T/huge.json")
    eq "$name: body over max_message x 64: 413" 413 "${out%% *}"
    eq "$name: nothing of those published" "$n0" "$(published)"

    # auth none: the site's own access control in front
    out=$(post "$B/open/publish" -d '{"channel":"anything/here","data":true}')
    eq "$name: auth none: 200" 200 "${out%% *}"
    out=$(post "$B/admin/publish" -H "Authorization: Bearer $admin" -d '{"channel":"ops/x","data":1}')
    eq "$name: require met: 200" 200 "${out%% *}"

    # zsse publish --url: over HTTP with a token
    mark
    id=$(zsse publish --url "$B/publish" --token "$tok" -C "news/$name" -e cli -d '"from cron"')
    ok "$name: zsse publish --url prints the id" grep -Eq '^[0-9]+$' <<<"$id"
    ok "$name: ... and the event is there" bash -c "curl -s '$B/s/$name?mode=poll&lastEventId=$MARK' | grep -q '\"id\": \"$id\", \"event\": \"cli\"'" 
    ok "$name: zsse publish --url: a forbidden channel fails" \
        bash -c "! zsse publish --url '$B/publish' --token '$tok' -C nope/x -d 1 2>'$T/cli.err'"
    ok "$name: ... saying why" grep -q '403' "$T/cli.err"
}

# request bodies in memory (nginx's temp dir is not the test's to open)
SRV_NGINX_EXTRA="client_body_buffer_size 2m; client_max_body_size 2m;"
srv_nginx
check_server nginx
srv_lighttpd socket
check_server lighttpd

# the broker gone: 503 with Retry-After and a JSON body
t_stop "$BROKER_PID"
B="http://127.0.0.1:$WEB_PORT"
curl -s -D "$T/h503" -o "$T/b503" -X POST -H "Authorization: Bearer $tok" \
    -d '{"channel":"news/a","data":1}' "$B/publish" > /dev/null
ok "broker down: 503" grep -q '^HTTP/1.1 503' "$T/h503"
ok "broker down: Retry-After" grep -qi '^Retry-After:' "$T/h503"
eq "broker down: JSON error" unavailable "$(jget error < "$T/b503")"

# zsse publish without --ack, broker down: says so and exits non-zero
start=$(date +%s%N)
zsse publish -C news/a -d 1 2> "$T/noack.err"
rc=$?
ok "publish without --ack, no broker: non-zero exit" test "$rc" -ne 0
ok "... with a message saying so" grep -qi 'broker' "$T/noack.err"
ok "... within 10 s" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 10000
t_start_broker
ok "publish without --ack, broker up: exit 0" zsse publish -C news/a -d 1
t_done
