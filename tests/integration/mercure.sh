#!/usr/bin/env bash
# The Mercure route (issue 15 items 2 and 3) behind real nginx and
# lighttpd: the protocol's subscription and publication cases in headless
# Chromium (tests/browser/mercure.mjs), Symfony's Mercure publisher
# (Debian's php-symfony-mercure) to a browser EventSource, private updates
# kept from unauthorised subscribers, topics that round-trip through
# channel names, reconnection with Last-Event-ID and earliest.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init mercure
t_key
t_config ', "routes": [
  { "path": "/.well-known/mercure", "type": "mercure", "auth": "optional" },
  { "path": "/closed/mercure", "type": "mercure" }
]' > "$ZSSE_CONFIG"
t_start_broker
srv_fcgi_listen 8
CASES="$top_srcdir/tests/browser/mercure.mjs"
ES="$top_srcdir/tests/browser/es.mjs"
PHPPUB="$top_srcdir/contrib/publishers/mercure-symfony.php"
BOOKS='https://example.com/books'

pubtok=$(zsse token --sub app --claim 'mercure={"publish":["*"]}')
booktok=$(zsse token --sub app --claim "mercure={\"publish\":[\"$BOOKS/{id}\"]}")
subtok=$(zsse token --sub alice --claim 'mercure={"subscribe":["*"]}')
othertok=$(zsse token --sub bob --claim 'mercure={"subscribe":["https://example.com/other/{id}"]}')

# mpost HUB TOKEN FORM...: "STATUS CONTENT-TYPE BODY"
mpost() {
    local hub=$1 tok=$2; shift 2
    local args=()
    for f in "$@"; do args+=(--data-urlencode "$f"); done
    curl -s -o "$T/mbody" -D "$T/mhead" -H "Authorization: Bearer $tok" "${args[@]}" "$hub" >/dev/null
    echo "$(awk 'NR==1{print $2}' "$T/mhead") $(grep -i '^content-type:' "$T/mhead" | cut -d' ' -f2 | tr -d '\r;') $(cat "$T/mbody")"
}

check_server() {
    local name=$1 out
    local HUB="http://127.0.0.1:$WEB_PORT/.well-known/mercure"

    # publication rules
    out=$(curl -s -o /dev/null -w '%{http_code}' -d 'topic=a&data=x' "$HUB")
    eq "$name: publish without a token: 401" 401 "$out"
    out=$(mpost "$HUB" "$subtok" topic=a data=x)
    eq "$name: publish without mercure.publish: 403" 403 "${out%% *}"
    out=$(mpost "$HUB" "$booktok" "topic=$BOOKS/1" "topic=https://example.com/authors/1" data=x)
    eq "$name: publish with a topic outside mercure.publish: 403" 403 "${out%% *}"
    out=$(mpost "$HUB" "$booktok" "topic=$BOOKS/1" data=x)
    ok "$name: publish: 200 text/plain with the id" grep -Eq '^200 text/plain [0-9]+$' <<<"$out"
    out=$(mpost "$HUB" "$pubtok" data=x)
    eq "$name: publish without a topic: 400" 400 "${out%% *}"
    out=$(mpost "$HUB" "$pubtok" topic=a data=x 'id=#frag')
    eq "$name: an id starting with #: 400" 400 "${out%% *}"
    out=$(mpost "$HUB" "$pubtok" topic=a data=x "type=a
b")
    eq "$name: a type with a line break: 400" 400 "${out%% *}"
    eq "$name: subscribe without topic: 400" 400 \
        "$(curl -s -o /dev/null -w '%{http_code}' "$HUB")"
    eq "$name: auth required route, no token: 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/closed/mercure?topic=a")"

    # the protocol's cases, anonymous and with a subscribe claim
    node "$CASES" "$HUB" "$pubtok" > "$T/cases-anon.out" 2> "$T/cases-anon.err"
    node "$CASES" "$HUB" "$pubtok" --subscriber-token "$subtok" > "$T/cases-auth.out" 2> "$T/cases-auth.err"
    for who in anon auth; do
        ok "$name: $who: every case ran" test "$(wc -l < "$T/cases-$who.out")" -eq 14
        while read -r line; do
            c=$(jget name <<<"$line")
            ok "$name: $who: $c: received = expected ($(jget expected <<<"$line"))" \
                test "$(jget received <<<"$line")" = "$(jget expected <<<"$line")"
            if [ "$(jget received <<<"$line")" = True ]; then
                ok "$name: $who: $c: 200 text/plain" \
                    test "$(jget status <<<"$line") $(jget contentType <<<"$line")" = "200 text/plain; charset=utf-8"
                ok "$name: $who: $c: the event's id is the answered id" \
                    test "$(jget body <<<"$line")" = "$(jget lastEventId <<<"$line")"
                [ "$(jget id <<<"$line")" != None ] &&
                    ok "$name: $who: $c: the publisher's id" \
                        test "$(jget id <<<"$line")" = "$(jget lastEventId <<<"$line")"
            fi
        done < "$T/cases-$who.out"
    done

    # Symfony's publisher to browsers: the private update only to those
    # whose mercure.subscribe matches (published first: a browser that must
    # not get it stops at its first event, which would be that one)
    local topic="$BOOKS/$name-$RANDOM"
    node "$ES" "$HUB?topic=$BOOKS/{id}" --listen book --count 1 --timeout 20 > "$T/es-anon.out" &
    local e1=$!
    node "$ES" "$HUB?topic=$BOOKS/{id}" --listen book --count 2 --timeout 20 --cookie "mercureAuthorization=$subtok" > "$T/es-alice.out" &
    local e2=$!
    node "$ES" "$HUB?topic=$BOOKS/{id}" --listen book --count 1 --timeout 20 --cookie "mercureAuthorization=$othertok" > "$T/es-bob.out" &
    local e3=$!
    t_until 300 bash -c "grep -q '!open' $T/es-anon.out && grep -q '!open' $T/es-alice.out && grep -q '!open' $T/es-bob.out"
    php "$PHPPUB" "$HUB" "$booktok" "$topic" '{"title":"secret"}' --private > "$T/php-priv.out" 2>&1
    ok "$name: php-symfony-mercure: private update published" grep -Eq '^[0-9]+$' "$T/php-priv.out"
    php "$PHPPUB" "$HUB" "$booktok" "$topic" '{"title":"public"}' --type book > "$T/php-pub.out" 2>&1
    ok "$name: php-symfony-mercure: public update published" grep -Eq '^[0-9]+$' "$T/php-pub.out"
    wait "$e2"
    ok "$name: browser with mercure.subscribe: the private update" grep -q 'secret' "$T/es-alice.out"
    ok "$name: browser with mercure.subscribe: the public one (type book)" \
        grep -q '"type":"book".*public' "$T/es-alice.out"
    wait "$e1" "$e3"
    ok "$name: anonymous browser: the public update" grep -q 'public' "$T/es-anon.out"
    ok "$name: anonymous browser: not the private one" bash -c "! grep -q secret $T/es-anon.out"
    ok "$name: browser whose claim does not match: not the private one" \
        bash -c "! grep -q secret $T/es-bob.out"
    ok "$name: ... but the public one" grep -q 'public' "$T/es-bob.out"

    # topics that are not channel names round-trip (space, %, *, unicode,
    # a Unicode space)
    local odd="urn:odd topic/100%/*/$(printf '\xc3\xa9\xe2\x80\x80')-$name"
    curl -gsN -m 4 -o "$T/odd.out" "$HUB?topic=$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$odd")" &
    local c1=$!
    sleep 1
    out=$(mpost "$HUB" "$pubtok" "topic=$odd" data=odd-ok)
    ok "$name: an odd topic: published" grep -q '^200 ' <<<"$out"
    wait "$c1"
    ok "$name: an odd topic: delivered to its exact selector" grep -q 'data: odd-ok' "$T/odd.out"

    # reconnection: the id-only block after a custom-id event resumes
    local rt="urn:resume-$name"
    mpost "$HUB" "$pubtok" "topic=$rt" data=r1 id=urn:r1 > /dev/null
    curl -gs -m 2 "$HUB?topic=$rt&lastEventID=earliest" > "$T/early.out"
    ok "$name: earliest: the buffered update" grep -q 'data: r1' "$T/early.out"
    ok "$name: the custom id as the SSE id" grep -q '^id: urn:r1$' "$T/early.out"
    resume=$(grep -A3 '^id: urn:r1$' "$T/early.out" | grep -E '^id: [0-9]+$' | head -1 | cut -d' ' -f2)
    ok "$name: ... followed by an id-only block with zsse's id" test -n "$resume"
    mpost "$HUB" "$pubtok" "topic=$rt" data=r2 > /dev/null
    curl -gs -m 2 -H "Last-Event-ID: $resume" "$HUB?topic=$rt" > "$T/resume.out"
    ok "$name: Last-Event-ID: the later update" grep -q 'data: r2' "$T/resume.out"
    ok "$name: Last-Event-ID: not the earlier one" bash -c "! grep -q 'data: r1' $T/resume.out"
    curl -gs -m 2 "$HUB?topic=$rt&lastEventID=$resume" > "$T/resume2.out"
    ok "$name: lastEventID query parameter" grep -q 'data: r2' "$T/resume2.out"
}

srv_nginx
check_server nginx
srv_lighttpd socket
check_server lighttpd
t_done
