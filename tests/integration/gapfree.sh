#!/usr/bin/env bash
# No gap and no duplicate between replay and live (SPEC 5): a publisher
# paced over the churn (GAPFREE_EVENTS in 6 s, in bursts every 10 ms)
# while 50 clients connect and reconnect with Last-Event-ID, through
# lighttpd (socket) to one zsse-fcgi --threads 64; at least 150
# reconnections must fall inside the publishing (measured, not assumed).
# (lighttpd notices a client that hung up only when it next writes to it:
# the 1 s heartbeat frees those workers.)  Every client must see every id
# of the channel after its join point
# exactly once, in order.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init gapfree
t_key
T_BUFFER=100000 t_config ', "routes": [
  { "path": "/g/events", "channels": ["gap"], "auth": "none", "heartbeat": { "interval": 1 } } ]' \
    > "$ZSSE_CONFIG"
t_start_broker
srv_fcgi_listen 64
srv_lighttpd socket
N=${GAPFREE_EVENTS:-20000}
mkdir -p "$T/clients"
python3 "$top_srcdir/tests/gapfree.py" "http://127.0.0.1:$WEB_PORT/g/events" 50 8 "$T/clients" &
clients=$!
t_until 100 leases_ge 25
# paced: N events spread over 6 s of the clients' 8 s of churn, bursts
# every 10 ms; the start and end times go to $T/window
python3 -c "
import sys, time
n, secs = $N, 6.0
t0 = time.time(); sent = 0
while sent < n:
    due = min(n, int(n * (time.time() - t0) / secs) + 1)
    while sent < due:
        sys.stdout.write('{\"channel\":\"gap\",\"event\":\"n\",\"data\":%d}\n' % sent)
        sent += 1
    sys.stdout.flush()
    time.sleep(0.01)
open('$T/window', 'w').write('%.3f %.3f\n' % (t0, time.time()))
" | zsse publish --stdin
wait $clients
# the truth: every id of the channel, from the broker's buffer
"$top_builddir/tests/zmqtool" req "tcp://127.0.0.1:$P_CTL" replay 0 c gap |
    sed -n 's/^id=\([0-9]*\) .*/\1/p' > "$T/all"
eq "the broker has all $N events" "$N" "$(wc -l < "$T/all")"
python3 - "$T/all" "$T/clients" <<'PY' > "$T/verdict"
import os, sys
all_ids = [int(x) for x in open(sys.argv[1])]
bad, conns = [], 0
for name in sorted(os.listdir(sys.argv[2])):
    if name.startswith("conns-"):
        conns += int(open(os.path.join(sys.argv[2], name)).read())
        continue
    if name.startswith("times-"):
        continue
    lines = open(os.path.join(sys.argv[2], name)).read().splitlines()
    join = int(lines[0]) if lines and lines[0] != "None" else None
    got = [int(x) for x in lines[1:] if x.isdigit()]
    want = [i for i in all_ids if join is None or i > join]
    if got != want:
        missing = len(set(want) - set(got)); dup = len(got) - len(set(got))
        bad.append("%s: %d events, want %d (missing %d, repeated %d)" % (name, len(got), len(want), missing, dup))
print("connections %d" % conns)
print("bad %d" % len(bad))
for b in bad[:10]:
    print(b)
PY
cat "$T/verdict" | sed 's/^/# /'
eq "every client saw every id after its join exactly once, in order" "bad 0" "$(grep '^bad' "$T/verdict")"
ok "clients reconnected (>= 3 each: > 150 connections)" \
    test "$(sed -n 's/^connections //p' "$T/verdict")" -gt 150
read -r w0 w1 < "$T/window"
during=$(cat "$T"/clients/times-* | awk -v a="$w0" -v b="$w1" '$1 >= a && $1 <= b { n++ } END { print n + 0 }')
echo "# publishing took $(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", b - a }') s; $during reconnections with Last-Event-ID during it"
ok "publishing lasted the churn (>= 5 s)" awk -v a="$w0" -v b="$w1" 'BEGIN { exit !(b - a >= 5) }'
ok "reconnections overlapped the publishing (>= 150 within it: $during)" test "$during" -ge 150
t_done
