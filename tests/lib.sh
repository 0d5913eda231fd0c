# tests/lib.sh -- shared helpers for the integration tests (bash).
#
#   . "$top_srcdir/tests/lib.sh"
#   t_init broker            # temp dir $T, free ports, cleanup trap
#   t_config > "$T/zsse.json"  (or write your own; $P_PUB $P_EVT $P_CTL)
#   t_start_broker            # starts zsse-broker -f, waits until it answers
#   ok "name" some command    # runs a check, counts it
#   t_done                    # prints "N passed, N failed", exit status
#
# Every process a test starts is recorded with t_spawn and killed by PID
# in the EXIT trap: we never kill anything we did not start.

set -u
: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export PATH="$top_builddir:$PATH"
# Debian's python3 (tests/run installs it with python3-zmq), not a version
# manager's shim ahead of it on PATH: pyenv's costs ~0.25 s a call (against
# 0.015 s), the scripts call python3 hundreds of times (jget, sse.py), and
# its interpreter lacks python3-zmq.  A link in the build tree, so the
# scripts' "#!/usr/bin/env python3" get it too.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
    mkdir -p "$top_builddir/tests/python" 2>/dev/null &&
        { [ -e "$top_builddir/tests/python/python3" ] ||
          ln -s /usr/bin/python3 "$top_builddir/tests/python/python3" 2>/dev/null; }
    [ -x "$top_builddir/tests/python/python3" ] && PATH="$top_builddir/tests/python:$PATH"
fi
# valgrind or other wrapper for the broker, e.g. ZSSE_BROKER_WRAP="valgrind -q",
# and for an external zsse-fcgi (servers.sh srv_fcgi_listen)
: "${ZSSE_BROKER_WRAP:=}"
: "${ZSSE_FCGI_WRAP:=}"

T_PASS=0
T_FAIL=0
T_PIDS=()
T_NAME=test
T_AFTER_STOP=          # a function t_cleanup calls once our processes are stopped

t_cleanup() {
    local pid rc=$?
    [ -n "${T_WATCHDOG:-}" ] && kill "$T_WATCHDOG" 2>/dev/null
    for pid in "${T_PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    for pid in "${T_PIDS[@]:-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null
    done
    # what a script made beside its processes (network namespaces): once
    # they are stopped
    [ -n "${T_AFTER_STOP:-}" ] && "$T_AFTER_STOP"
    t_sanitizer_reports || rc=1
    if [ "${T_KEEP:-0}" = 1 ] || [ "$T_FAIL" -gt 0 ] || [ "$rc" != 0 ]; then
        echo "# kept $T for inspection" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}

# A daemon's sanitizer report (the sanitize build of tests/run) lands in its
# log, not in the check that drove it: once the daemons are stopped, any
# report in this test's logs fails the test.  Returns 1 when there is one.
T_SANITIZER_RE='ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: UndefinedBehaviorSanitizer'
t_sanitizer_reports() {
    local f bad=0
    [ -d "${T:-}" ] || return 0
    while IFS= read -r f; do
        if grep -Eq "$T_SANITIZER_RE" "$f" 2>/dev/null; then
            echo "not ok - $T_NAME: sanitizer report in ${f#$T/}"
            grep -E -m 5 -A 12 "$T_SANITIZER_RE" "$f" | sed 's/^/#   /'
            T_FAIL=$((T_FAIL + 1)); bad=1
        fi
    done < <(find "$T" -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' \) -size -64M 2>/dev/null)
    return $bad
}

# The whole script gets ZSSE_TEST_TIMEOUT seconds (default 1200): past
# that it is stopped (its daemons with it) and fails, instead of hanging
# tests/run on a regression that never answers.
t_watchdog() {
    local me=$$ limit=${ZSSE_TEST_TIMEOUT:-1200}
    ( sleep "$limit" &
      sp=$!
      trap 'kill $sp 2>/dev/null; exit 0' TERM
      wait $sp
      echo "not ok - $T_NAME: timed out after $limit s (ZSSE_TEST_TIMEOUT)"
      kill -TERM "$me" 2>/dev/null
      # a foreground command holds the script's trap: stop the script's
      # own children (by its PID, nothing else)
      pkill -TERM -P "$me" 2>/dev/null ) &
    T_WATCHDOG=$!
}

# a free TCP port on 127.0.0.1 (not reserved by this run yet), below the
# kernel's ephemeral range: a port there may be the source port of some
# outgoing connection, free to connect() to but not to bind()
T_USED_PORTS=" "
t_port() {
    local p lo
    read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    [ "$lo" -gt 11000 ] || lo=32768
    for _ in $(seq 1 200); do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
        case "$T_USED_PORTS" in *" $p "*) continue ;; esac
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            T_USED_PORTS="$T_USED_PORTS$p "
            echo "$p"
            return 0
        fi
    done
    echo "t_port: no free port" >&2
    return 1
}

t_init() {
    T_PIDS=()
    T_NAME=$1
    T=$(mktemp -d "${TMPDIR:-/tmp}/zsse-$T_NAME.XXXXXX")
    trap t_cleanup EXIT
    trap 'exit 130' INT TERM
    t_watchdog
    P_PUB=$(t_port); P_EVT=$(t_port); P_CTL=$(t_port)
    export ZSSE_CONFIG="$T/zsse.json"
}

# t_spawn LOGNAME cmd args... : start in background, remember the PID in $!
t_spawn() {
    local log=$1; shift
    "$@" >>"$T/$log.log" 2>&1 &
    T_LASTPID=$!
    T_PIDS+=("$T_LASTPID")
}

# t_stop PID [SIGNAL]: stop one process we started and reap it
t_stop() {
    kill "-${2:-TERM}" "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# a minimal config; extra JSON for the top level may be passed as $1
# (e.g. ', "routes": [...]')
t_config() {
    cat <<JSON
{
  "broker": {
    "publish": "tcp://127.0.0.1:$P_PUB",
    "events":  "tcp://127.0.0.1:$P_EVT",
    "control": "tcp://127.0.0.1:$P_CTL",
    "buffer": ${T_BUFFER:-100},
    "ttl": ${T_TTL:-3600}
  },
  "auth": { "alg": "HS256", "key_file": "$T/jwt.key", "require_exp": true }
  ${1:-}
}
JSON
}

t_key() {
    printf '%s' "test-secret-$(date +%s%N)-0123456789abcdef0123456789abcdef" > "$T/jwt.key"
}

# start the broker and wait until its control socket answers
t_start_broker() {
    t_spawn broker $ZSSE_BROKER_WRAP zsse-broker -f -c "$ZSSE_CONFIG"
    BROKER_PID=$T_LASTPID
    t_wait_broker
}

t_wait_broker() {
    for _ in $(seq 1 100); do
        # ours must answer: not another process that holds the port
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "broker exited; log:" >&2
            tail -5 "$T/broker.log" >&2
            return 1
        fi
        if zsse stats -c "$ZSSE_CONFIG" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "broker did not come up; log:" >&2
    cat "$T/broker.log" >&2
    return 1
}

# wait until a TCP port accepts connections (max ~10 s); with a PID, that
# process must still be alive (not someone else answering on the port)
t_wait_port() {
    for _ in $(seq 1 100); do
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            echo "process $2 exited before listening on $1" >&2
            return 1
        fi
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

# wait until command succeeds, up to $1 tenths of a second
t_until() {
    local n=$1; shift
    for _ in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

ok() {
    local name=$1; shift
    if "$@"; then
        T_PASS=$((T_PASS + 1)); echo "ok - $T_NAME: $name"
    else
        T_FAIL=$((T_FAIL + 1)); echo "not ok - $T_NAME: $name"
    fi
}

# compare: eq "name" expected actual
eq() {
    if [ "$2" = "$3" ]; then
        T_PASS=$((T_PASS + 1)); echo "ok - $T_NAME: $1"
    else
        T_FAIL=$((T_FAIL + 1)); echo "not ok - $T_NAME: $1"
        printf '#   expected: %s\n#   got:      %s\n' "$2" "$3"
    fi
}

t_done() {
    echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# t_example NAME [PATH=JSON]...: $ZSSE_CONFIG := contrib/examples/NAME.json
# with this test's broker ports and key file, and the given overrides
# (e.g. routes.0.heartbeat.interval=1, used only to avoid a long wait)
t_example() {
    python3 - "$top_srcdir/contrib/examples/$1.json" "$ZSSE_CONFIG" "${@:2}" <<PY
import json, sys
c = json.load(open(sys.argv[1]))
for o in sys.argv[3:]:
    path, val = o.split("=", 1)
    keys = path.split(".")
    d = c
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    d[int(keys[-1]) if isinstance(d, list) else keys[-1]] = json.loads(val)
b = c.setdefault("broker", {})
b["publish"] = "tcp://127.0.0.1:$P_PUB"
b["events"] = "tcp://127.0.0.1:$P_EVT"
b["control"] = "tcp://127.0.0.1:$P_CTL"
c.setdefault("auth", {})["key_file"] = "$T/jwt.key"
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
}

# field of a JSON object on stdin: jget KEY  (nested: jget a.b)
jget() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print(v if not isinstance(v, (dict, list)) else json.dumps(v, separators=(",", ":")))' "$1"
}

# nth line (1-based) of a file
nth() { sed -n "${2}p" "$1"; }

# jcol KEY: the KEY field of each JSON line on stdin, one per line
jcol() {
    python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line:
        v = json.loads(line).get(sys.argv[1])
        print(v if not isinstance(v, (dict, list)) else json.dumps(v, separators=(",", ":")))' "$1"
}

# the broker's open-stream count (leases), for t_until checks
leases() { zsse stats | jget leases; }
leases_le() { [ "$(leases)" -le "$1" ]; }
leases_gt() { [ "$(leases)" -gt "$1" ]; }
leases_ge() { [ "$(leases)" -ge "$1" ]; }

# t_tail NAME [tail options] CHANNEL...: `zsse tail --ready` in the
# background into $T/NAME.out, returning once its subscriptions are in
# force (the broker echoed its sync marker), not after a guessed sleep.
# TAIL_PID is its PID; the "ready" line is the file's first line (tail_out
# prints the rest).  Returns 1 if it was not ready within 10 s.
t_tail() {
    local name=$1; shift
    : > "$T/$name.out"
    zsse tail --ready "$@" > "$T/$name.out" 2>>"$T/$name.err" &
    TAIL_PID=$!
    T_PIDS+=("$TAIL_PID")
    t_until 100 grep -qx ready "$T/$name.out" && return 0
    echo "t_tail $name: not ready within 10 s" >&2
    return 1
}
tail_out() { grep -vx ready "$T/$1.out"; }

# broker statistics for t_until: stat_ge KEY N (KEY as jget: a.b)
stat_ge() { local v; v=$(zsse stats | jget "$1"); [ "${v:-0}" != None ] && [ "${v:-0}" -ge "$2" ]; }

# t_sse NAME URL [sse.py options]: tests/sse.py --status in the background
# into $T/NAME.out, returning once the response's status line is in: for a
# 200 stream, zsse-fcgi writes its headers only after the stream's
# subscriptions are in force (fcgi/request.c: register, wait for the sync
# marker, then the headers), so what is published after this reaches it.
# SSE_PID is its PID; sse_events NAME prints the lines after the status.
# Returns 1 without a status line within 10 s.
t_sse() {
    local name=$1; shift
    : > "$T/$name.out"
    "$top_srcdir/tests/sse.py" "$@" --status > "$T/$name.out" 2>>"$T/$name.err" &
    SSE_PID=$!
    T_PIDS+=("$SSE_PID")
    t_until 100 grep -q '^{"status": ' "$T/$name.out" && return 0
    echo "t_sse $name: no status line within 10 s" >&2
    return 1
}
sse_events() { tail -n +2 "$T/$1.out"; }
sse_status() { head -1 "$T/$1.out" | jget status; }

# hb_gaps FILE TEXT: the seconds between consecutive comments TEXT in an
# sse.py --comments --times output, one per line
hb_gaps() {
    python3 -c '
import json, sys
ts = [o["t"] for o in map(json.loads, open(sys.argv[1])) if o.get("comment") == sys.argv[2]]
for a, b in zip(ts, ts[1:]): print("%.3f" % (b - a))' "$1" "$2"
}
# all_between LO HI: every number on stdin within [LO, HI], and at least one
all_between() { awk -v lo="$1" -v hi="$2" '{ n++; if ($1 < lo || $1 > hi) bad++ } END { exit !(n > 0 && !bad) }'; }

# t_lighttpd_conf FILE DIR ADDR FCGI_PORT: a lighttpd config in FILE that
# serves ADDR:8080 and passes every request to zsse-fcgi on
# 127.0.0.1:FCGI_PORT, its error log in DIR (the hosts of twohost.sh and
# cluster.sh, each in its network namespace)
t_lighttpd_conf() {
    cat > "$1" <<CONF
server.modules = ( "mod_fastcgi" )
server.bind = "$3"
server.port = 8080
server.document-root = "$2"
server.errorlog = "$2/lighttpd-error.log"
server.stream-response-body = 2
fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => $4, "check-local" => "disable" )))
CONF
}
