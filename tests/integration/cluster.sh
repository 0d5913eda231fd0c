#!/usr/bin/env bash
# Three hosts on a NATS JetStream cluster (issue 14, broker.cluster).  The
# test makes the hosts itself: three network namespaces h1 h2 h3,
# 10.232.0.1-3/24, each joined by a veth pair to a Linux bridge in a fourth
# namespace (the switch); only those addresses and loopback are used, and
# all four namespaces are deleted on exit.  Needs root (ip netns).
#
# Each host runs what a web host of contrib/cluster/ runs:
#   nats-server   contrib/cluster/nats-server-hN.conf: one cluster of three, JetStream
#                 on, its store in $T/hN/js
#   zsse-broker   contrib/cluster/zsse-hN.json: the stream ZSSE, three replicas; its
#                 sockets on the host's loopback, as the single broker's
#   zsse-fcgi     --listen 127.0.0.1:9000
#   web server    lighttpd on h1 and h2, nginx on h3, on 10.232.0.N:8080
# Each broker lists the three NATS servers, its own first (and libnats
# learns the cluster's servers from NATS itself).
#
# Sections:
#   1. a host dies: clients on the three hosts (tests/cluster_client.py:
#      a client whose host is gone moves to the next host with its
#      Last-Event-ID, once 50 more events were acknowledged), publishers
#      on h1 and h2 (`zsse publish --ack`, one unique payload each, the
#      acknowledged id recorded); kill -9 every process of h2 while they
#      publish.  Every ACKNOWLEDGED event reaches every client exactly
#      once, in order (ids increasing); unacknowledged ones may or not.
#      (Fails with a client that does not move, or moves without its
#      Last-Event-ID, or with one host's ids offset differently.)
#   2. h2 comes back: its broker catches up (the same last_id as h1's),
#      and a client there with an early Last-Event-ID gets everything since.
#   3. h3 loses NATS.  a: only its nats-server is killed: its broker goes
#      on through another server (publishes acknowledged, streams served).
#      b: h3 is cut off from the bridge (a partition: its NATS in the
#      minority, a publish there is not acknowledged), then its nats-server
#      killed: h3's broker has no NATS, its new streams get 503, a publish
#      is refused (cluster_unavailable); its open streams stay open and,
#      once h3 is back, receive everything acknowledged meanwhile (through
#      h1), exactly once, in order, on the same connection.
#   4. max_per_user 1, the same user on the three hosts at once: exactly
#      one stream (the leases in the JetStream key-value bucket);
#      ZSSE_CLUSTER_LEASES=0 skips it.
. "$top_srcdir/tests/lib.sh"
t_init cluster
if [ "$(id -u)" != 0 ]; then
    echo "cluster.sh: needs root to create network namespaces (ip netns add); run it as root" >&2
    exit 1
fi
for p in ip nats-server lighttpd nginx curl; do
    command -v "$p" >/dev/null || { echo "cluster.sh: needs $p" >&2; exit 1; }
done
: "${ZSSE_CLUSTER_LEASES:=1}"
CLIENT="$top_srcdir/tests/cluster_client.py"
SSE="$top_srcdir/tests/sse.py"

NS_SW="zsse-sw-$$"
declare -A NS ADDR
for h in 1 2 3; do
    NS[$h]="zsse-h$h-$$"
    ADDR[$h]="10.232.0.$h"
done
cl_netns_del() {
    for h in 1 2 3; do ip netns del "${NS[$h]}" 2>/dev/null; done
    ip netns del "$NS_SW" 2>/dev/null
}
T_AFTER_STOP=cl_netns_del    # t_cleanup calls it once our processes are stopped
in_h() { local h=$1; shift; ip netns exec "${NS[$h]}" "$@"; }
# within SECONDS cmd...: until cmd succeeds, at most SECONDS of wall time
# (lib.sh's t_until counts tries, and a try here may take seconds: a curl,
# a publish waiting for its answer); cmd setting GIVE_UP=1 means it never
# will
within() {
    local end=$((SECONDS + $1))
    shift
    GIVE_UP=0
    while :; do
        "$@" && return 0
        [ "$GIVE_UP" = 1 ] && return 1
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}
quiet() { "$@" >/dev/null 2>&1; }

# --- the network: a bridge in the switch, a veth pair per host ------------------
ip netns add "$NS_SW" || exit 1
ip -n "$NS_SW" link add br0 type bridge || exit 1
ip -n "$NS_SW" link set br0 up
ip -n "$NS_SW" link set lo up
for h in 1 2 3; do
    ip netns add "${NS[$h]}" || exit 1
    ip link add eth0 netns "${NS[$h]}" type veth peer name "p$h" netns "$NS_SW" || exit 1
    ip -n "$NS_SW" link set "p$h" master br0
    ip -n "$NS_SW" link set "p$h" up
    ip -n "${NS[$h]}" addr add "${ADDR[$h]}/24" dev eth0
    ip -n "${NS[$h]}" link set lo up
    ip -n "${NS[$h]}" link set eth0 up
done

# --- configs ----------------------------------------------------------------------
t_key
chmod 600 "$T/jwt.key"
# contrib/cluster/'s files as shipped (its hosts are ours), every setting
# kept but the paths (store, key) and what the test needs: a long buffer,
# its two routes, a smaller store
for h in 1 2 3; do
    d="$T/h$h"
    mkdir -p "$d/js"
    sed -e "s|^\( *store_dir:\).*|\1 \"$d/js\"|" -e "s|^\( *max_file_store:\).*|\1 1GB|" \
        -e "s|^\( *max_memory_store:\).*|\1 64MB|" \
        "$top_srcdir/contrib/cluster/nats-server-h$h.conf" > "$d/nats.conf"
    python3 - "$top_srcdir/contrib/cluster/zsse-h$h.json" "$d/zsse.json" "$T/jwt.key" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["auth"]["key_file"] = sys.argv[3]
c["auth"]["require_exp"] = True
c["broker"]["buffer"] = 100000
c["broker"]["cluster"]["max_age"] = 3600
# JetStream reserves the stream's max_bytes in every server's store: the
# leases' bucket needs room beside it (64 MiB of 1 GB here)
c["broker"]["cluster"]["max_bytes"] = 64 << 20
c["routes"] = [
    {"path": "/feed/events", "channels": ["feed"], "heartbeat": {"interval": 1}},
    {"path": "/one/events", "channels": ["one/{sub}"], "max_per_user": 1,
     "heartbeat": {"interval": 1}}]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
done
ok "contrib/cluster: its hosts are the test's (nats-server-h2.conf routes to h1 and h3)" \
    grep -q "nats-route://${ADDR[1]}:6222" "$T/h2/nats.conf"
ok "contrib/cluster: each broker lists its own NATS server first" \
    grep -q "\"nats://${ADDR[3]}:4222\", \"nats://${ADDR[1]}:4222\"" "$top_srcdir/contrib/cluster/zsse-h3.json"
export ZSSE_CONFIG="$T/h1/zsse.json"
for h in 1 2 3; do
    ok "zsse check-config takes h$h's config" quiet zsse -c "$T/h$h/zsse.json" check-config
done

# --- processes: start_* HOST records the PID in PID_<what>[HOST] ------------------------
declare -A PID_NATS PID_BROKER PID_FCGI PID_WEB
start_nats() {
    local h=$1
    t_spawn "h$h-nats" ip netns exec "${NS[$h]}" nats-server -c "$T/h$h/nats.conf"
    PID_NATS[$h]=$T_LASTPID
}
# healthz: JetStream enabled (js-enabled-only) or, without it, also current
# with its cluster (meta leader known, streams caught up)
nats_health() {
    in_h "$1" curl -sf --max-time 2 "http://127.0.0.1:8222/healthz${2:-}" 2>/dev/null | grep -q '"ok"'
}
start_broker() {
    local h=$1
    t_spawn "h$h-broker" ip netns exec "${NS[$h]}" $ZSSE_BROKER_WRAP zsse-broker -f -c "$T/h$h/zsse.json"
    PID_BROKER[$h]=$T_LASTPID
}
start_fcgi() {
    local h=$1
    t_spawn "h$h-fcgi" ip netns exec "${NS[$h]}" $ZSSE_FCGI_WRAP zsse-fcgi -c "$T/h$h/zsse.json" \
        --listen 127.0.0.1:9000 --threads 8
    PID_FCGI[$h]=$T_LASTPID
}
start_web() {
    local h=$1 d="$T/h$1"
    if [ "$h" = 3 ]; then
        mkdir -p "$d/nginx"
        cat > "$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/nginx/body;
    fastcgi_temp_path $d/nginx/fcgi;
    proxy_temp_path $d/nginx/proxy;
    uwsgi_temp_path $d/nginx/uwsgi;
    scgi_temp_path $d/nginx/scgi;
    server {
        listen ${ADDR[$h]}:8080;
        location ~ ^/(feed|one)/events\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_pass 127.0.0.1:9000;
            fastcgi_buffering off;
            fastcgi_buffer_size 2k;
            fastcgi_read_timeout 120s;
            fastcgi_keep_conn off;
        }
    }
}
CONF
        t_spawn "h$h-web" ip netns exec "${NS[$h]}" nginx -c "$d/nginx.conf"
    else
        t_lighttpd_conf "$d/lighttpd.conf" "$d" "${ADDR[$h]}" 9000
        t_spawn "h$h-web" ip netns exec "${NS[$h]}" lighttpd -D -f "$d/lighttpd.conf"
    fi
    PID_WEB[$h]=$T_LASTPID
}
port_open() { in_h "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
TOKEN=$(zsse token --sub reader --ttl 3600)
feed_url() { echo "http://${ADDR[$1]}:8080/feed/events?token=$TOKEN"; }
# the HTTP status of a new stream on HOST (poll mode: answers at once)
http_code() {
    in_h "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        "http://${ADDR[$1]}:8080/feed/events?token=$TOKEN&mode=poll&wait=0"
}
serves() { [ "$(http_code "$1")" = 200 ]; }
# serves, but gives up at once if HOST's broker exited: says why
broker_serves() {
    if ! kill -0 "${PID_BROKER[$1]}" 2>/dev/null; then
        echo "# h$1's broker exited; its log ends:"; tail -n 3 "$T/h$1-broker.log" | sed 's/^/#   /'
        GIVE_UP=1
        return 1
    fi
    serves "$1"
}
last_id() { in_h "$1" zsse -c "$T/h$1/zsse.json" stats 2>/dev/null | jget last_id; }
# start_zsse HOST: the zsse side of a host (its NATS already up)
start_zsse() {
    local h=$1
    start_broker "$h"
    start_fcgi "$h"
    start_web "$h"
    ok "h$h: zsse-fcgi listens" within 10 port_open "$h" 127.0.0.1 9000
    ok "h$h: the web server listens on ${ADDR[$h]}:8080" within 10 port_open "$h" "${ADDR[$h]}" 8080
    # the broker answers head once caught up with the stream: then 200
    ok "h$h: a new stream is served (the broker caught up)" within 30 broker_serves "$h"
}

for h in 1 2 3; do start_nats "$h"; done
for h in 1 2 3; do
    ok "h$h: nats-server up, JetStream on" within 15 nats_health "$h" '?js-enabled-only=true'
done
for h in 1 2 3; do
    ok "h$h: nats-server current with its cluster (healthz)" within 15 nats_health "$h"
done
peers=$(in_h 1 curl -s --max-time 5 "http://127.0.0.1:8222/jsz?leader-only=false" | jget meta_cluster.cluster_size)
eq "JetStream meta group of three" 3 "$peers"
for h in 1 2 3; do start_zsse "$h"; done
info=$(in_h 1 curl -s --max-time 5 "http://127.0.0.1:8222/jsz?streams=true&config=true")
eq "the stream ZSSE, three replicas" "ZSSE 3" "$(python3 -c '
import json, sys
j = json.load(sys.stdin)
for a in j.get("account_details", []):
    for s in a.get("stream_detail", []):
        if s["name"] == "ZSSE":
            print(s["name"], s["config"]["num_replicas"])' <<<"$info")"

# --- 1. a host dies while h1 and h2 publish ---------------------------------------------
echo "# 1. a host dies: at ${SECONDS} s"
# clients: two on each host, starting there and moving on round robin
urls_from() { local h=$1; for o in 0 1 2; do feed_url $(( (h - 1 + o) % 3 + 1 )); done; }
STOP="stop-$$"
# publish_stop HOST STOP: "STOP-N" until one is acknowledged (for 30 s,
# 0.5 s apart): prints its id.  The clients stop at the first they see:
# one that timed out but was stored may come first, and after every event
# acknowledged before it, so the stop events are not among the ones
# checked.  (Right after a server rejoined, h1 was seen refusing
# publishes for seconds.)
publish_stop() {
    local n end=$((SECONDS + 30)) id
    for n in $(seq 1 60); do
        id=$(in_h "$1" zsse -c "$T/h$1/zsse.json" publish --ack -C feed -e stop -d "\"$2-$n\"" \
            2>>"$T/publish-stop.err") && [[ "$id" =~ ^[0-9]+$ ]] && { echo "$id"; return 0; }
        [ "$SECONDS" -ge "$end" ] && break
        sleep 0.5
    done
    return 1
}
CPIDS=()
for h in 1 2 3; do
    for k in 1 2; do
        ip netns exec "${NS[$h]}" "$CLIENT" --hold "$T/go" "$T/client-h$h-$k.out" "$STOP" 90 $(urls_from "$h") \
            2>>"$T/client-h$h-$k.err" &
        T_PIDS+=($!); CPIDS+=($!)
    done
done
connected() {
    local h k
    for h in 1 2 3; do for k in 1 2; do
        grep -qs '"status": 200' "$T/client-h$h-$k.out" || return 1
    done; done
}
ok "six clients connected (two on each host)" within 10 connected

# publisher HOST: `zsse publish --ack` on HOST until $T/stop-pub exists (at
# most 3000 tries); each acknowledged "ID PAYLOAD" to $T/acked-hHOST, each
# refused or unanswered to $T/failed-hHOST
publisher() {
    local h=$1 n=0 id
    while [ ! -e "$T/stop-pub" ] && [ "$n" -lt 3000 ]; do
        n=$((n + 1))
        if id=$(in_h "$h" zsse -c "$T/h$h/zsse.json" publish --ack -C feed -e tick \
                -d "{\"p\":\"h$h-$n\"}" 2>>"$T/publisher-h$h.err") && [[ "$id" =~ ^[0-9]+$ ]]; then
            echo "$id h$h-$n" >> "$T/acked-h$h"
        else
            echo "h$h-$n" >> "$T/failed-h$h"
            sleep 0.05
        fi
    done
}
: > "$T/acked-h1"; : > "$T/acked-h2"; : > "$T/failed-h1"; : > "$T/failed-h2"
publisher 1 & T_PIDS+=($!); PUB1=$!
publisher 2 & T_PIDS+=($!); PUB2=$!
count() { wc -l < "$1"; }
count_ge() { [ "$(count "$1")" -ge "$2" ]; }
ok "h1 and h2: publishes acknowledged" within 30 bash -c \
    "[ \$(wc -l < '$T/acked-h1') -ge 30 ] && [ \$(wc -l < '$T/acked-h2') -ge 30 ]"

# kill -9 every process of h2 (its clients are not its processes: they
# stay, find h2 gone and move on)
# (bash's "Killed" notices to /dev/null)
{ for p in "${PID_WEB[2]}" "${PID_FCGI[2]}" "${PID_BROKER[2]}" "${PID_NATS[2]}"; do
      kill -9 "$p"
  done
  for p in "${PID_WEB[2]}" "${PID_FCGI[2]}" "${PID_BROKER[2]}" "${PID_NATS[2]}"; do
      wait "$p"
  done; } 2>/dev/null
a1=$(count "$T/acked-h1")
ok "h2 killed: h1 goes on acknowledging (two of three NATS servers)" \
    within 30 count_ge "$T/acked-h1" $((a1 + 50))
ok "h2 killed: its publisher is refused or unanswered" within 30 count_ge "$T/failed-h2" 1
# h2's clients wait (--hold) until h1 has acknowledged 50 more: those they
# get only from the replay of the host they move to
touch "$T/go"
moved() { grep -qs '"status": 200, "last": "[0-9]' "$T/client-h2-1.out" &&
          grep -qs '"status": 200, "last": "[0-9]' "$T/client-h2-2.out"; }
ok "h2's clients moved to another host, with their Last-Event-ID" within 10 moved

# --- 2. h2 comes back --------------------------------------------------------------------
echo "# 2. h2 comes back: at ${SECONDS} s"
start_nats 2
ok "h2: nats-server back, JetStream on" within 15 nats_health 2 '?js-enabled-only=true'
start_zsse 2
a2=$(count "$T/acked-h2")
ok "h2: its publisher acknowledged again" within 30 count_ge "$T/acked-h2" $((a2 + 20))
touch "$T/stop-pub"
wait "$PUB1" "$PUB2"
stop_id=$(publish_stop 1 "$STOP")
ok "the stop event acknowledged ($stop_id)" bash -c "[[ '$stop_id' =~ ^[0-9]+$ ]]"
for p in "${CPIDS[@]}"; do wait "$p"; done
cat "$T/acked-h1" "$T/acked-h2" | sort -n > "$T/acked"
echo "# acknowledged: $(count "$T/acked-h1") from h1, $(count "$T/acked-h2") from h2;" \
     "refused or unanswered: $(count "$T/failed-h1") from h1, $(count "$T/failed-h2") from h2"

# check_client OUT: ids increasing, no payload twice, every acknowledged
# event there with its id (payload "p" of the data; the stop event's data
# is the string itself).  Prints what is wrong, exits 1.
check_client() {
    python3 - "$1" "$T/acked" <<'PY'
import json, sys
events, bad = [], []
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "id" in o:
        try:
            d = json.loads(o["data"])
            p = d.get("p", o["data"]) if isinstance(d, dict) else str(d)
        except ValueError:
            p = o["data"]
        if not (o["id"] or "").isdigit():
            bad.append("an event without a numeric id: %s" % line.strip())
            continue
        events.append((int(o["id"]), p))
ids = [i for i, _ in events]
for a, b in zip(ids, ids[1:]):
    if b <= a:
        bad.append("id %d after %d" % (b, a))
seen = {}
for i, p in events:
    if p in seen:
        bad.append("payload %s twice (ids %d and %d)" % (p, seen[p], i))
    seen[p] = i
got = dict(events)
missing = 0
for line in open(sys.argv[2]):
    i, p = line.split()
    i = int(i)
    if p not in seen:
        missing += 1
        if missing <= 5:
            bad.append("acknowledged %d %s missing" % (i, p))
    elif seen[p] != i:
        bad.append("acknowledged %d %s came as id %d" % (i, p, seen[p]))
if missing > 5:
    bad.append("... %d acknowledged events missing in all" % missing)
for b in bad[:20]:
    print("#   " + b)
sys.exit(1 if bad else 0)
PY
}
for h in 1 2 3; do
    for k in 1 2; do
        ok "client h$h-$k: every acknowledged event once, in order" check_client "$T/client-h$h-$k.out"
    done
done
ok "the acknowledged ids are distinct" bash -c "[ -z \"\$(cut -d' ' -f1 '$T/acked' | uniq -d)\" ]"

# --- 2. (continued) h2 caught up ----------------------------------------------------------
echo "# 2. (continued): at ${SECONDS} s"
same_head() { local a; a=$(last_id 1); [ -n "$a" ] && [ "$a" = "$(last_id 2)" ] && [ "$a" = "$(last_id 3)" ]; }
ok "h2's broker caught up: the same last_id on the three ($(last_id 1))" within 10 same_head
first=$(head -1 "$T/acked" | cut -d' ' -f1)
for h in 1 2; do
    in_h "$h" "$CLIENT" --last $((first - 1)) "$T/late-h$h.out" "$STOP" 30 "$(feed_url "$h")" \
        2>>"$T/late-h$h.err"
done
ok "h2: a client from before the first acknowledged id gets every acknowledged one since" \
    check_client "$T/late-h2.out"
ids_in() { grep '^{"id"' "$1" | jcol id | paste -sd' '; }
eq "h2 replays what h1 replays" "$(ids_in "$T/late-h1.out")" "$(ids_in "$T/late-h2.out")"

# --- 3. h3 loses its NATS server, then all NATS ----------------------------------------------
echo "# 3. h3 loses NATS: at ${SECONDS} s"
ok "h2's nats-server current again before h3's goes" within 15 nats_health 2
STOP3="stop3-$$"
for k in 1 2; do
    ip netns exec "${NS[3]}" "$CLIENT" "$T/open-h3-$k.out" "$STOP3" 90 "$(feed_url 3)" \
        2>>"$T/open-h3-$k.err" &
    T_PIDS+=($!); eval "OPEN$k=\$!"
done
open_h3() { grep -qs '"status": 200' "$T/open-h3-1.out" && grep -qs '"status": 200' "$T/open-h3-2.out"; }
ok "two streams open on h3" within 10 open_h3
: > "$T/acked3"
# pub3 HOST PAYLOAD: an acknowledged publish on HOST, recorded in acked3
pub3() {
    local id
    id=$(in_h "$1" zsse -c "$T/h$1/zsse.json" publish --ack -C feed -e tick -d "{\"p\":\"$2\"}" \
        2>>"$T/pub3.err") && [[ "$id" =~ ^[0-9]+$ ]] && echo "$id $2" >> "$T/acked3"
}

# 3a. only h3's nats-server: its broker moves to another server of the
# cluster (its list, and the ones NATS tells it of), and h3 goes on
{ kill -9 "${PID_NATS[3]}"; wait "${PID_NATS[3]}"; } 2>/dev/null
n3=0
pub_h3_again() { n3=$((n3 + 1)); pub3 3 "via-h3-$n3"; }
# (seen: 4 s, and 16 s when its consumer could not be made again at once:
# "cannot follow it: Timeout" twice, JetStream electing a meta leader)
ok "h3's nats-server killed: h3's broker publishes through another server" within 30 pub_h3_again
for n in $(seq 1 10); do
    for k in 1 2 3 4 5; do pub3 1 "a-$n-$k" && break; done
done
ok "h3's nats-server killed: new streams on h3 served" within 10 serves 3
start_nats 3
ok "h3's nats-server back, current with its cluster" within 15 nats_health 3

# 3b. h3 cut off from the others (its port off the bridge: h3's own
# address and loopback still work, so its open streams stay open), then
# its nats-server killed: h3's broker has no NATS at all
ip -n "$NS_SW" link set p3 nomaster
out=$(in_h 3 zsse -c "$T/h3/zsse.json" publish --ack -C feed -e tick -d '{"p":"minority-h3"}' 2>&1)
rc=$?
ok "h3 cut off (its NATS in the minority): a publish there is not acknowledged ($out)" \
    [ "$rc" != 0 ]
echo "# cut off, a new stream on h3 is answered $(http_code 3)"
{ kill -9 "${PID_NATS[3]}"; wait "${PID_NATS[3]}"; } 2>/dev/null
not_served() { [ "$(http_code 3)" = 503 ]; }
ok "h3 without NATS: a new stream gets 503" within 15 not_served
out=$(in_h 3 zsse -c "$T/h3/zsse.json" publish --ack -C feed -e tick -d '{"p":"refused-h3"}' 2>&1)
rc=$?
ok "h3 without NATS: a publish is refused, cluster_unavailable ($out)" \
    bash -c "[ $rc != 0 ] && grep -q cluster_unavailable <<<'$out'"
# (each tried up to 5 times, a new payload each time: if h3's server led
# the stream, h1 and h2 elect another first, refusing meanwhile)
for n in $(seq 1 20); do
    for k in 1 2 3 4 5; do pub3 1 "b-$n-$k" && break; done
done
eq "h1 acknowledges meanwhile (h1 and h2 are a majority)" 20 "$(grep -c ' b-' "$T/acked3")"
ok "h3 without NATS: still 503" not_served
ip -n "$NS_SW" link set p3 master br0
start_nats 3
ok "h3 back: its nats-server up" within 15 nats_health 3 '?js-enabled-only=true'
ok "h3 back: new streams served again" within 30 broker_serves 3
s3=$(publish_stop 1 "$STOP3")
ok "the stop event acknowledged ($s3)" bash -c "[[ '$s3' =~ ^[0-9]+$ ]]"
wait "$OPEN1" "$OPEN2"
cp "$T/acked3" "$T/acked"
for k in 1 2; do
    eq "h3's open stream $k stayed open (one connection)" 1 "$(grep -c '"conn"' "$T/open-h3-$k.out")"
    ok "h3's open stream $k got everything acknowledged meanwhile, once, in order" \
        check_client "$T/open-h3-$k.out"
    ok "h3's open stream $k: not the publish refused without NATS" \
        bash -c "! grep -q refused-h3 '$T/open-h3-$k.out'"
done

# --- 4. max_per_user, cluster-wide --------------------------------------------------------------
echo "# 4. max_per_user: at ${SECONDS} s"
if [ "$ZSSE_CLUSTER_LEASES" = 1 ]; then
    # after section 3 the leases' bucket may still be electing a leader
    # (its broker then refuses the lease: 503): wait for the three servers
    # to be current with every stream and bucket
    for h in 1 2 3; do
        ok "h$h: nats-server current again (healthz)" within 15 nats_health "$h"
    done
    # and until each broker takes a lease (another user each, a stream
    # held 1 s): the bucket answers on the three
    lease_ok() {
        local tok
        tok=$(zsse token --sub "warm-h$1" --ttl 600)
        [ "$(in_h "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
            "http://${ADDR[$1]}:8080/one/events?token=$tok")" = 200 ]
    }
    for h in 1 2 3; do
        ok "h$h: a max_per_user stream opens (its broker takes a lease)" within 20 lease_ok "$h"
    done
    ONE=$(zsse token --sub solo --ttl 600)
    for h in 1 2 3; do
        in_h "$h" "$SSE" "http://${ADDR[$h]}:8080/one/events?token=$ONE" --status -t 15 \
            > "$T/one-h$h.out" 2>&1 &
        T_PIDS+=($!)
    done
    answered() { local h; for h in 1 2 3; do grep -q '^{"status": ' "$T/one-h$h.out" || return 1; done; }
    ok "max_per_user: the three answered" within 10 answered
    codes=$(for h in 1 2 3; do head -1 "$T/one-h$h.out" | jget status; done | sort | paste -sd' ')
    eq "max_per_user 1 on three hosts at once: one stream, two refused" "200 429 429" "$codes"
else
    echo "# max_per_user across hosts: skipped (ZSSE_CLUSTER_LEASES=0)"
fi
t_done
