#!/usr/bin/env bash
# contrib/examples/user-updates.json behind Apache + mod_fcgid:
# a per-user update stream in the envelope format, state on open.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/servers.sh"
t_init ex-user-updates
t_key
t_example user-updates
t_start_broker
srv_apache 8
U="http://127.0.0.1:$WEB_PORT/v1/sse/updates"
SSE="$top_srcdir/tests/sse.py"
ES="$top_srcdir/tests/browser/es.mjs"

tok=$(zsse token --sub usr_demo_123)
other=$(zsse token --sub usr_other)

# 401 without or with a bad token, with the Bearer challenge
out=$("$SSE" "$U" --status -t 5)
eq "no token: 401" 401 "$(head -1 <<<"$out" | jget status)"
# RFC 6750 3.1: no credentials sent, so the challenge carries no error code
ok "no token: WWW-Authenticate" eval 'grep -q "Bearer realm" <<<"$out" && ! grep -q "error=" <<<"$(head -1 <<<"$out")"'
eq "no token: JSON error" invalid_token "$(sed -n 2p <<<"$out" | jget body | jget error)"
echo 'another-secret-key-0123456789-0123456789' > "$T/other.key"
bad=$(python3 - "$tok" <<'PY'
import sys; h, p, s = sys.argv[1].split("."); print(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])
PY
)
eq "tampered token: 401" 401 "$("$SSE" "$U" --status -t 5 -H "Authorization: Bearer $bad" | head -1 | jget status)"
eq "garbage token: 401" 401 "$("$SSE" "$U?token=not.a.jwt" --status -t 5 | head -1 | jget status)"

# state first: the newest balance and mission progress per key
zsse publish --ack -C user/usr_demo_123 -e balance.changed -k balance/gold -d '{"currency":"gold","amount":1100}' > /dev/null
zsse publish --ack -C user/usr_demo_123 -e balance.changed -k balance/gold -d '{"currency":"gold","amount":1200}' > /dev/null
MP='{"userId":"usr_demo_123","missionId":"daily-streak","status":"active","progress":0.57,"currentCount":4,"targetCount":7,"updatedAt":1716100200000}'
zsse publish --ack -C user/usr_demo_123 -e mission.progress -k mission/daily-streak -d "$MP" > /dev/null
zsse publish --ack -C user/usr_other -e balance.changed -k balance/gold -d '{"currency":"gold","amount":5}' > /dev/null

"$SSE" "$U" -H "Authorization: Bearer $tok" -n 2 -t 10 > "$T/snap.out"
eq "new tab: balance state" '{"type":"balance.changed","data":{"currency":"gold","amount":1200}}' \
    "$(nth "$T/snap.out" 1 | jget data)"
eq "new tab: mission state, publisher's JSON as written" \
    "{\"type\":\"mission.progress\",\"data\":$MP}" "$(nth "$T/snap.out" 2 | jget data)"
eq "unnamed events (envelope format)" "None" "$(nth "$T/snap.out" 1 | jget event)"

# two tabs of one user each get a live event once; another user none
"$SSE" "$U" -H "Authorization: Bearer $tok" -n 4 -t 15 > "$T/tab1.out" &
t1=$!
"$SSE" "$U?token=$tok" -n 4 -t 15 > "$T/tab2.out" &
t2=$!
"$SSE" "$U?token=$other" --status -n 3 -t 6 > "$T/other.out" &
t3=$!
# each opened: the snapshot is sent after the subscription is in force
t_until 100 bash -c "[ \$(wc -l < $T/tab1.out) -ge 2 ] && [ \$(wc -l < $T/tab2.out) -ge 2 ] && [ \$(wc -l < $T/other.out) -ge 2 ]"
zsse publish -C user/usr_demo_123 -e mission.completed -d '{"missionId":"daily-streak"}'
zsse publish -C user/usr_demo_123 -e reward.granted -d '{"reward":"chest"}'
wait $t1 $t2 $t3
for tab in tab1 tab2; do
    eq "$tab: mission.completed" '{"type":"mission.completed","data":{"missionId":"daily-streak"}}' \
        "$(nth "$T/$tab.out" 3 | jget data)"
    eq "$tab: reward.granted" 'reward.granted' "$(nth "$T/$tab.out" 4 | jget data | jget type)"
    eq "$tab: each event once" 1 "$(grep -c mission.completed "$T/$tab.out")"
done
eq "another user's stream opened (200)" 200 "$(head -1 "$T/other.out" | jget status)"
eq "...and got its own state (balance 5)" '{"type":"balance.changed","data":{"currency":"gold","amount":5}}' \
    "$(nth "$T/other.out" 2 | jget data)"
ok "another user's stream saw none of it" bash -c "! grep -q daily-streak $T/other.out"

# a real browser EventSource with ?token= (it cannot send headers)
node "$ES" "$U?token=$tok" --count 3 --timeout 20 > "$T/browser.out" &
b=$!
t_until 150 grep -q '"type":"message"' "$T/browser.out" || true
zsse publish -C user/usr_demo_123 -e recommendation -d '{"items":["sword"]}'
wait $b
ok "browser: snapshot + live recommendation" grep -q 'recommendation' "$T/browser.out"
ok "browser: lastEventId set" bash -c "grep recommendation $T/browser.out | grep -q '\"lastEventId\":\"[0-9]'"
t_done
