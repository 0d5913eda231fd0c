#!/usr/bin/env bash
# Contract behaviours no other script touches (issue 18, item 6), against a
# real broker and zsse-fcgi behind nginx: routes with several channels
# (merged replay in id order, one delivery of a message on two of a
# stream's channels), "auth": "optional", poll mode's wait (expiring with
# no events, capped at 60 s) and reset, reset then state on a snapshot
# route with a custom reset_event and a future id, leases released on
# SIGTERM and expired after a worker's kill -9, journal_fsync in ms, every
# `zsse stats` field SPEC and README name, heartbeats suppressed while
# events flow and interval 0, CORS ("*" without credentials, Vary: Origin
# on the stream, a disallowed origin's preflight, CORS on 401/403),
# {claim.NAME} end to end, HS384 / HS512 / ES256 keys.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init contract
t_key
t_config ', "routes": [
  { "path": "/m/events", "channels": ["m/a", "m/b"], "auth": "none", "heartbeat": { "interval": 0 } },
  { "path": "/opt/events", "channels": ["lobby"], "auth": "optional" },
  { "path": "/optg/{room}/events", "channels": ["room/{room}"], "auth": "optional" },
  { "path": "/snap/events", "channels": ["snap/x"], "auth": "none", "snapshot": true,
    "reset_event": "gone", "heartbeat": { "interval": 0 } },
  { "path": "/hb/events", "channels": ["hb"], "auth": "none", "heartbeat": { "interval": 1, "comment": "hb" } },
  { "path": "/nohb/events", "channels": ["nohb"], "auth": "none", "heartbeat": { "interval": 0 } },
  { "path": "/star/events", "channels": ["star"], "auth": "none", "cors": { "origins": ["*"] } },
  { "path": "/ca/events", "channels": ["ca/{sub}"], "require": { "role": "admin" },
    "cors": { "origins": ["https://app.example.com"], "credentials": true } },
  { "path": "/t/events", "channels": ["t/{claim.tenant}/news"], "heartbeat": { "interval": 0 } },
  { "path": "/lim/events", "channels": ["lim/{sub}"], "max_per_user": 1, "heartbeat": { "interval": 1 } }
]' > "$ZSSE_CONFIG"
python3 - "$ZSSE_CONFIG" "$T/journal" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["broker"]["channels"] = [{"match": "snap/*", "buffer": 2}]
c["broker"]["journal"] = sys.argv[2]
c["broker"]["journal_fsync"] = 50
json.dump(c, open(sys.argv[1], "w"))
PY
t_start_broker
srv_fcgi_listen 8
srv_nginx
N="http://127.0.0.1:$WEB_PORT"
SSE="$top_srcdir/tests/sse.py"
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "$@"; }
pub() { zsse publish --ack "$@"; }
ids_of() { sse_events "$1" | jcol id | paste -sd' '; }

# poll wait above 60: capped (held 60 s, not 120); runs while the rest goes on
h0=$(pub -C idle/x -d 0)
t0=$(date +%s%N)
( curl -s -m 90 "$N/nohb/events?mode=poll&wait=120&lastEventId=$h0" > "$T/cap.out"
  echo $(( ($(date +%s%N) - t0) / 1000000 )) > "$T/cap.ms" ) &
capper=$!

# --- routes with several channels -------------------------------------------
i0=$(pub -C m/a -d 0)
i1=$(pub -C m/b -e n -d 1)
i2=$(pub -C m/a -e n -d 2)
i3=$(pub -C m/a -C m/b -e both -d 3)
i4=$(pub -C m/b -e n -d 4)
"$SSE" "$N/m/events" -H "Last-Event-ID: $i0" -n 4 -t 5 > "$T/merged.out"
eq "two channels: the replay merges them in id order, a message on both once" \
    "$i1 $i2 $i3 $i4" "$(jcol id < "$T/merged.out" | paste -sd' ')"
t_sse live "$N/m/events" -n 3 -t 8
j1=$(pub -C m/b -d 5)
j2=$(pub -C m/a -C m/b -e both -d 6)
j3=$(pub -C m/a -d 7)
wait "$SSE_PID"
eq "two channels live: each event once, in order, the one on both once" "$j1 $j2 $j3" "$(ids_of live)"
# replay and live overlap on a message that is on both channels: once
# (from j2: j3 is replayed, so the headers come with a body, nginx passes them)
t_sse join "$N/m/events" -H "Last-Event-ID: $j2" -n 3 -t 8
k1=$(pub -C m/a -C m/b -d 8)
k2=$(pub -C m/b -d 9)
wait "$SSE_PID"
eq "two channels, joined with Last-Event-ID: replayed, then the live ones, each once" \
    "$j3 $k1 $k2" "$(ids_of join)"

# --- auth optional --------------------------------------------------------------
alice=$(zsse token --sub alice --channels 'room/r1')
eq "optional: anonymous allowed" 200 "$("$SSE" "$N/opt/events" --status -t 1 | head -1 | jget status)"
eq "optional: with a token" 200 "$("$SSE" "$N/opt/events?token=$alice" --status -t 1 | head -1 | jget status)"
eq "optional: a bad token is still refused (401)" 401 "$(code "$N/opt/events?token=not.a.token")"
eq "optional: a path channel still needs the grant (anonymous: 403)" 403 "$(code "$N/optg/r1/events")"
eq "optional: ...which the token gives" 200 \
    "$("$SSE" "$N/optg/r1/events?token=$alice" --status -t 1 | head -1 | jget status)"
eq "optional: ...not for another room" 403 "$(code "$N/optg/r2/events?token=$alice")"

# --- poll mode: wait expires with no events; reset --------------------------------------
h=$(pub -C m/a -d 10)
t0=$(date +%s%N)
out=$(curl -s -m 10 "$N/m/events?mode=poll&wait=2&lastEventId=$h")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
eq "poll wait=2 with nothing new: no events" '[]' "$(jget events <<<"$out")"
ok "poll wait=2: held 2 s, then answered (${ms} ms)" test "$ms" -ge 1900 -a "$ms" -lt 3500
eq "poll wait: last_event_id stays" "$h" "$(jget last_event_id <<<"$out")"
for i in 1 2 3; do pub -C snap/x -d "$i" > /dev/null; done
out=$(curl -s -m 5 "$N/snap/events?mode=poll&lastEventId=1")
eq "poll with a Last-Event-ID older than the buffer: reset named" "too old" "$(jget reset <<<"$out")"

# --- reset then state (snapshot route, custom reset_event) ----------------------------------
s1=$(pub -C snap/x -e price -k eur -d '{"eur":1}')
s2=$(pub -C snap/x -e price -k usd -d '{"usd":2}')
for i in 1 2 3; do pub -C snap/x -e tick -d "$i" > /dev/null; done
"$SSE" "$N/snap/events" -H "Last-Event-ID: $s1" -n 3 -t 5 > "$T/snapreset.out"
eq "too old on a snapshot route: the reset event, named as configured" gone "$(nth "$T/snapreset.out" 1 | jget event)"
eq "...its reason" '{"reason":"too old"}' "$(nth "$T/snapreset.out" 1 | jget data)"
eq "...then the state, key by key" '{"eur":1} {"usd":2}' \
    "$(sed -n 2,3p "$T/snapreset.out" | jcol data | sort | paste -sd' ')"
"$SSE" "$N/snap/events" -H "Last-Event-ID: 9007199254740990" -n 1 -t 5 > "$T/future.out"
eq "an id from the future: reset, unknown id" 'gone {"reason":"unknown id"}' \
    "$(jget event < "$T/future.out") $(jget data < "$T/future.out")"

# --- heartbeats: suppressed while events flow; interval 0 ---------------------------------------
"$SSE" "$N/hb/events" --comments --times -t 6 > "$T/busy.out" &
b=$!
t_until 50 leases_ge 1
for i in $(seq 12); do zsse publish -C hb -d "$i"; sleep 0.25; done
wait $b
nev=$(grep -c '"data"' "$T/busy.out")
nhb=$(awk -F'"t": ' '/"comment": "hb"/ { if ($2 + 0 < 3) n++ } END { print n + 0 }' "$T/busy.out")
ok "events every 0.25 s: delivered ($nev)" test "$nev" -ge 10
eq "heartbeat 1 s while events flow every 0.25 s: none in the first 3 s" 0 "$nhb"
ok "...and they come back once it is quiet" grep -q '"comment": "hb"' "$T/busy.out"
"$SSE" "$N/nohb/events" --comments -t 2.5 > "$T/nohb.out"
eq "heartbeat interval 0: no comment in 2.5 s" 0 "$(grep -c comment "$T/nohb.out")"
ok "...the stream was open" grep -q timeout "$T/nohb.out"

# --- CORS ----------------------------------------------------------------------------------------
out=$("$SSE" "$N/star/events" -H 'Origin: https://any.example' --status -t 1 | head -1)
eq "cors *: the origin is echoed" https://any.example "$(jget headers.access-control-allow-origin <<<"$out")"
eq "cors *: no credentials" None "$(jget headers.access-control-allow-credentials <<<"$out")"
eq "cors: Vary: Origin on the stream" Origin "$(jget headers.vary <<<"$out")"
out=$(curl -s -i -m 5 -X OPTIONS -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET' "$N/ca/events")
ok "a disallowed origin's preflight: no Access-Control-Allow-Origin" \
    bash -c "! grep -qi '^Access-Control-Allow-Origin' <<<'$out'"
ok "...and it is answered (a status line)" grep -q '^HTTP/1.1 [0-9]' <<<"$out"
out=$(curl -s -i -m 5 -H 'Origin: https://app.example.com' "$N/ca/events")
ok "CORS on a 401: status" grep -q '^HTTP/1.1 401' <<<"$out"
ok "CORS on a 401: origin echoed (the page can read the error)" \
    grep -qi '^Access-Control-Allow-Origin: https://app.example.com' <<<"$out"
user=$(zsse token --sub bob --claim role=user)
out=$(curl -s -i -m 5 -H 'Origin: https://app.example.com' "$N/ca/events?token=$user")
ok "CORS on a 403: status" grep -q '^HTTP/1.1 403' <<<"$out"
ok "CORS on a 403: origin echoed, with credentials" bash -c \
    "grep -qi '^Access-Control-Allow-Origin: https://app.example.com' <<<'$out' && grep -qi '^Access-Control-Allow-Credentials: true' <<<'$out'"
python3 - "$ZSSE_CONFIG" "$T/starcred.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["routes"][6]["cors"]["credentials"] = True
json.dump(c, open(sys.argv[2], "w"))
PY
out=$(timeout 10 zsse-fcgi -c "$T/starcred.json" --listen "127.0.0.1:$(t_port)" 2>&1); rc=$?
ok "cors * with credentials: refused at start, naming it ($rc: $out)" \
    bash -c "[ $rc != 0 ] && grep -q 'routes\[6\].cors' <<<'$out'"

# --- {claim.NAME} ------------------------------------------------------------------------------------
acme=$(zsse token --sub carol --claim tenant=acme)
t_sse claim "$N/t/events?token=$acme" -n 1 -t 8
pub -C t/other/news -d '"not yours"' > /dev/null
c1=$(pub -C t/acme/news -d '"yours"')
wait "$SSE_PID"
eq "{claim.tenant}: the token's tenant's channel, not another's" "$c1 yours" \
    "$(sse_events claim | jget id) $(sse_events claim | jget data)"
eq "{claim.tenant}: a token without the claim: 403" 403 "$(code "$N/t/events?token=$alice")"

# --- stats: every field SPEC and README name --------------------------------------------------------
s=$(zsse stats)
for f in uptime_s channels published rejected rejected_reasons events_buffered state_keys \
    replays resets leases journal last_id; do
    ok "zsse stats has $f" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(sys.argv[2] not in d or d[sys.argv[2]] is None)' "$s" "$f"
done
ok "stats: journal bytes > 0 (journal on)" test "$(jget journal <<<"$s")" -gt 0
eq "stats: last_id is the newest id" "$c1" "$(jget last_id <<<"$s")"

# --- journal_fsync in milliseconds: one sync per 50 ms at most, not per batch ---------------------------
ok "strace is installed (tests/run installs it)" strace -V > /dev/null 2>&1
if strace -V > /dev/null 2>&1; then
    strace -f -qq -e trace=fsync,fdatasync -p "$BROKER_PID" -o "$T/strace.out" 2>/dev/null &
    st=$!
    sleep 0.5                       # strace attaches (no signal to wait on)
    t0=$(date +%s%N)
    python3 -c '
for i in range(5000):
    print("{\"channel\":\"fs/x\",\"data\":%d}" % i)' | zsse publish --stdin --ack > "$T/fs.acks"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    last=$(pub -C fs/x -d '"last"')
    kill -INT $st; wait $st 2>/dev/null
    n=$(grep -c 'sync' "$T/strace.out")
    max=$(( ms / 50 + 4 ))
    echo "# journal_fsync 50: $n syncs while 5,000 acknowledged events took $ms ms"
    ok "journal_fsync 50 ms: at most one sync per 50 ms ($n <= $max)" test "$n" -le "$max"
    ok "...and some (>= 1)" test "$n" -ge 1
    eq "...every event acknowledged" 5000 "$(grep -c '^[0-9]' "$T/fs.acks")"
else
    last=$(pub -C fs/x -d '"last"')
fi
t_stop "$BROKER_PID"
t_start_broker
out=$("$top_builddir/tests/zmqtool" req "tcp://127.0.0.1:$P_CTL" replay $((last - 1)) c fs/x)
eq "journal_fsync 50: the last event is there after a restart" "id=$last kind=s last" \
    "$(grep -A1 "^id=$last " <<<"$out" | paste -sd' ')"

# (the capped poll must end before zsse-fcgi restarts below)
wait $capper
ms=$(cat "$T/cap.ms")
eq "poll wait=120: no events" '[]' "$(jget events < "$T/cap.out")"
ok "poll wait=120 capped at 60 s (${ms} ms)" test "$ms" -ge 59000 -a "$ms" -lt 65000

# --- leases: released on SIGTERM, expired after kill -9 -------------------------------------------------
dave=$(zsse token --sub dave)
t_sse lim1 "$N/lim/events?token=$dave" -t 60
eq "max_per_user 1: the first stream" 200 "$(sse_status lim1)"
eq "max_per_user 1: the second refused" 429 "$(code "$N/lim/events?token=$dave")"
base=$(leases)
t_stop "$FCGI_PID"
ok "zsse-fcgi SIGTERM: its lease released at once" t_until 30 leases_le $((base - 1))
t_stop "$WEB_PID"
srv_fcgi_listen 8
srv_nginx
N="http://127.0.0.1:$WEB_PORT"
eq "after SIGTERM: the user may connect again" 200 \
    "$("$SSE" "$N/lim/events?token=$dave" --status -t 1 | head -1 | jget status)"
t_sse lim2 "$N/lim/events?token=$dave" -t 60
t1=$(date +%s)
kill -9 "$FCGI_PID"; wait "$FCGI_PID" 2>/dev/null
t_stop "$WEB_PID"
srv_fcgi_listen 8
srv_nginx
N="http://127.0.0.1:$WEB_PORT"
eq "kill -9: the dead worker's lease still counts (429)" 429 "$(code "$N/lim/events?token=$dave")"
ok "kill -9: the lease expires (WIRE_LEASE_TTL 30 s)" t_until 450 leases_le 0
el=$(( $(date +%s) - t1 ))
# (renewed every 10 s, dropped 30 s after the last renewal)
ok "...after 15-45 s ($el s)" test "$el" -ge 15 -a "$el" -le 45
eq "kill -9: the user may connect again" 200 \
    "$("$SSE" "$N/lim/events?token=$dave" --status -t 1 | head -1 | jget status)"

# --- HS384 / HS512 / ES256 -------------------------------------------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ec.pem" 2>/dev/null
openssl ec -in "$T/ec.pem" -pubout -out "$T/ec.pub" 2>/dev/null
for alg in HS384 HS512 ES256; do
    python3 - "$ZSSE_CONFIG" "$T/$alg.json" "$alg" "$T/ec.pub" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["alg"] = sys.argv[3]
if sys.argv[3].startswith("ES"):
    c["auth"]["key_file"] = sys.argv[4]
json.dump(c, open(sys.argv[2], "w"))
PY
    FP=$(t_port)
    t_spawn "fcgi-$alg" $ZSSE_FCGI_WRAP zsse-fcgi -c "$T/$alg.json" --listen "127.0.0.1:$FP" --threads 2
    t_wait_port "$FP" "$T_LASTPID"
    key=""
    [ "$alg" = ES256 ] && key="--key $T/ec.pem"
    tok=$(zsse -c "$T/$alg.json" token --sub erin $key)
    hs=$(zsse token --sub erin)         # HS256 with the HMAC key
    FC() { python3 "$top_srcdir/tests/fcgiclient.py" "127.0.0.1:$FP" raw "$@" -t 2 | head -1; }
    eq "$alg: a token it signed: 200" 200 "$(FC REQUEST_URI=/opt/events HTTP_AUTHORIZATION="Bearer $tok")"
    eq "$alg: an HS256 token: 401" 401 "$(FC REQUEST_URI=/opt/events HTTP_AUTHORIZATION="Bearer $hs")"
    t_stop "$T_LASTPID"
done

t_done
