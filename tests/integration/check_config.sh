#!/usr/bin/env bash
# tests/integration/check_config.sh -- `zsse check-config`: "ok" and exit 0
# for a good config (the package's and every example's); for a bad one each
# problem on a line with its JSON path, exit 1.  And the programs refuse an
# HS256 key shorter than 32 bytes at start (RFC 7518 3.2), as check-config
# says they will.
. "$top_srcdir/tests/lib.sh"
t_init check_config

t_key
chmod 600 "$T/jwt.key"
t_config ', "routes": [{"path": "/s/{id}/events", "channels": ["s/{id}"]}]' > "$ZSSE_CONFIG"

# cc FILE: "rc|output" of zsse check-config -c FILE
cc() { local out rc=0; out=$(zsse check-config -c "$1" 2>&1) || rc=$?; printf '%s|%s' "$rc" "$out"; }
# with JSON edits: mk NAME PY-STATEMENTS (c is the config)
mk() {
    python3 - "$ZSSE_CONFIG" "$T/$1.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
}

eq "a good config: ok" "0|ok" "$(cc "$ZSSE_CONFIG")"
out=$(zsse check-config 2>/dev/null); ok "\$ZSSE_CONFIG by default; ok on stdout" test "$out" = ok
out=$(zsse -c "$ZSSE_CONFIG" check-config 2>/dev/null); ok "-c before the command too" test "$out" = ok

# every example (the package's default config among them) is fine once its key exists
for f in "$top_srcdir"/contrib/examples/*.json "$top_srcdir"/contrib/zsse.json; do
    python3 - "$f" "$T/ex.json" "$T/jwt.key" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c.setdefault("auth", {})["key_file"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"))
PY
    eq "$(basename "$f"): ok" "0|ok" "$(cc "$T/ex.json")"
done

# --- what the loader finds, reported as every program reports it ------------
printf '{ "broker": ' > "$T/syntax.json"
r=$(cc "$T/syntax.json"); ok "JSON syntax error: exit 1, names the file" \
    eval '[[ "$r" == "1|$T/syntax.json: "* ]]'
mk unknown 'c["routes"] = [{"path": "/x/{a}", "channels": ["x/{b}"]}]'
eq "unknown placeholder: the loader's message and path" \
    "1|$T/unknown.json: routes[0].channels[0]: unknown placeholder {b}" "$(cc "$T/unknown.json")"

# --- keys ---------------------------------------------------------------------
mk nokey 'c["auth"]["key_file"] = "'"$T"'/missing.key"'
eq "missing key file" "1|$T/nokey.json: auth.key_file: $T/missing.key: No such file or directory" \
    "$(cc "$T/nokey.json")"
printf 'x' > "$T/short.key"; chmod 600 "$T/short.key"
mk short 'c["auth"]["key_file"] = "'"$T"'/short.key"'
r=$(cc "$T/short.json")
ok "a 1-byte HS256 key: refused, says 32 bytes are needed" \
    eval '[[ "$r" == *"1|$T/short.json: auth.key_file: $T/short.key: 1 bytes, HS256 needs at least 32 (RFC 7518 3.2)"* ]]'
head -c 40 /dev/urandom | base64 -w0 > "$T/k40"; chmod 600 "$T/k40"
mk hs512 'c["auth"].update({"alg": "HS512", "key_file": "'"$T"'/k40"})'
r=$(cc "$T/hs512.json"); ok "HS512 with a 56-byte key: needs 64" eval '[[ "$r" == *"56 bytes, HS512 needs at least 64"* ]]'
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl pkey -in "$T/rsa.pem" -pubout -out "$T/rsa.pub" 2>/dev/null
chmod 600 "$T/rsa.pem" "$T/rsa.pub"
mk rs_pub 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/rsa.pub"})'
eq "RS256 with a PEM public key: ok" "0|ok" "$(cc "$T/rs_pub.json")"
mk rs_priv 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/rsa.pem"})'
r=$(cc "$T/rs_priv.json"); ok "RS256 with the private key: refused" eval '[[ "$r" == 1*"holds a private key"* ]]'
mk rs_raw 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/jwt.key"})'
r=$(cc "$T/rs_raw.json"); ok "RS256 with an HMAC secret: not a PEM public key" eval '[[ "$r" == 1*"not a PEM public key"* ]]'
printf -- '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n' > "$T/bad.pub"
chmod 600 "$T/bad.pub"
mk rs_bad 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/bad.pub"})'
r=$(cc "$T/rs_bad.json"); ok "RS256 with a PEM block that is no key: cannot be parsed" \
    eval '[[ "$r" == 1*"auth.key_file: $T/bad.pub: cannot be parsed as a PEM public key"* ]]'
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout -out "$T/rsa1024.pub" 2>/dev/null
chmod 600 "$T/rsa1024.pub"
mk rs_short 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/rsa1024.pub"})'
r=$(cc "$T/rs_short.json"); ok "RS256 with a 1024-bit key: 2048 needed" eval '[[ "$r" == 1*"an RSA key of 1024 bits"* ]]'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -out "$T/ec256.pub" 2>/dev/null
chmod 600 "$T/ec256.pub"
mk es256 'c["auth"].update({"alg": "ES256", "key_file": "'"$T"'/ec256.pub"})'
eq "ES256 with a P-256 key: ok" "0|ok" "$(cc "$T/es256.json")"
mk es384 'c["auth"].update({"alg": "ES384", "key_file": "'"$T"'/ec256.pub"})'
r=$(cc "$T/es384.json"); ok "ES384 with a P-256 key: the wrong curve" eval '[[ "$r" == 1*"ES384 needs the 384-bit curve"* ]]'
mk rs_ec 'c["auth"].update({"alg": "RS256", "key_file": "'"$T"'/ec256.pub"})'
r=$(cc "$T/rs_ec.json"); ok "RS256 with an EC key: not an RSA key" eval '[[ "$r" == 1*"not an RSA key"* ]]'
cp "$T/jwt.key" "$T/open.key"; chmod 644 "$T/open.key"
mk open 'c["auth"]["key_file"] = "'"$T"'/open.key"'
r=$(cc "$T/open.json"); ok "a key every user can read" eval '[[ "$r" == "1|$T/open.json: auth.key_file: "*"readable by every user"* ]]'
mk nokey_noauth 'c["auth"]["key_file"] = "/nonexistent"; c["routes"] = [{"path": "/p", "channels": ["pub"], "auth": "none"}]'
eq "no route needs a token: the key is not read (as zsse-fcgi)" "0|ok" "$(cc "$T/nokey_noauth.json")"

# --- endpoints ----------------------------------------------------------------
mk noport 'c["broker"]["publish"] = "tcp://127.0.0.1"'
r=$(cc "$T/noport.json"); ok "tcp:// without a port" eval '[[ "$r" == "1|$T/noport.json: broker.publish: tcp://127.0.0.1: not tcp://HOST:PORT"* ]]'
mk badport 'c["broker"]["events"] = "tcp://127.0.0.1:70000"'
r=$(cc "$T/badport.json"); ok "port 70000" eval '[[ "$r" == 1*"broker.events: tcp://127.0.0.1:70000: not"* ]]'
mk same 'c["broker"]["control"] = c["broker"]["events"]'
r=$(cc "$T/same.json"); ok "two endpoints the same" eval '[[ "$r" == 1*"broker.control: "*"the same endpoint as broker.events"* ]]'
mk ipc 'c["broker"]["publish"] = "ipc://'"$T"'/p.sock"'
eq "ipc:// is fine" "0|ok" "$(cc "$T/ipc.json")"

# --- CURVE (issue 12 item 2): keys parse, secrets private, off-loopback rule --
mkdir -p "$T/curve/clients"
zsse keygen "$T/curve/broker" && zsse keygen "$T/curve/clients/admin" && zsse keygen "$T/curve/web1"
K="$T/curve"
PB=$(t_port)     # never bound: the configs are only checked, or refused
# cv NAME PY: a config with both halves of CURVE (the broker host's), then PY
cv() { mk "$1" 'c["broker"]["curve"] = {"secret_key_file": "'"$K"'/broker.secret",
  "clients": "'"$K"'/clients", "server_public_key_file": "'"$K"'/broker.public",
  "client_secret_key_file": "'"$K"'/clients/admin.secret"}
c["broker"]["publish"] = "tcp://0.0.0.0:'"$PB"'"
'"$2"; }
cv cv_ok ''
eq "CURVE on, keys good, off loopback: ok" "0|ok" "$(cc "$T/cv_ok.json")"
cv cv_arr 'c["broker"]["curve"]["clients"] = [open("'"$K"'/clients/admin.public").read().strip()]'
eq "clients as an array: ok" "0|ok" "$(cc "$T/cv_arr.json")"
cv cv_nosec 'c["broker"]["curve"]["secret_key_file"] = "'"$K"'/missing.secret"'
eq "broker secret key missing" \
    "1|$T/cv_nosec.json: broker.curve.secret_key_file: $K/missing.secret: cannot open: No such file or directory" \
    "$(cc "$T/cv_nosec.json")"
printf 'not a key\n' > "$K/junk.secret"; chmod 600 "$K/junk.secret"
cv cv_junk 'c["broker"]["curve"]["secret_key_file"] = "'"$K"'/junk.secret"'
r=$(cc "$T/cv_junk.json"); ok "broker secret key not Z85" \
    eval '[[ "$r" == "1|$T/cv_junk.json: broker.curve.secret_key_file: $K/junk.secret: not a CURVE key"* ]]'
cp "$K/broker.secret" "$K/open.secret"; chmod 644 "$K/open.secret"
cv cv_open 'c["broker"]["curve"]["secret_key_file"] = "'"$K"'/open.secret"'
r=$(cc "$T/cv_open.json"); ok "broker secret key readable by every user" \
    eval '[[ "$r" == "1|$T/cv_open.json: broker.curve.secret_key_file: $K/open.secret: readable by every user"* ]]'
cp "$K/clients/admin.secret" "$K/admin-open.secret"; chmod 644 "$K/admin-open.secret"
cv cv_copen 'c["broker"]["curve"]["client_secret_key_file"] = "'"$K"'/admin-open.secret"'
r=$(cc "$T/cv_copen.json"); ok "client secret key readable by every user" \
    eval '[[ "$r" == "1|$T/cv_copen.json: broker.curve.client_secret_key_file: $K/admin-open.secret: readable by every user"* ]]'
cv cv_spub 'c["broker"]["curve"]["server_public_key_file"] = "'"$K"'/junk.secret"'
r=$(cc "$T/cv_spub.json"); ok "server public key not Z85" \
    eval '[[ "$r" == "1|$T/cv_spub.json: broker.curve.server_public_key_file: $K/junk.secret: not a CURVE key"* ]]'
cv cv_nodir 'c["broker"]["curve"]["clients"] = "'"$K"'/nodir"'
r=$(cc "$T/cv_nodir.json"); ok "clients directory missing" \
    eval '[[ "$r" == "1|$T/cv_nodir.json: broker.curve.clients: $K/nodir: No such file or directory"* ]]'
mkdir -p "$K/badclients"; cp "$K/clients/admin.public" "$K/badclients/"
printf 'short\n' > "$K/badclients/bad.public"
cv cv_badcl 'c["broker"]["curve"]["clients"] = "'"$K"'/badclients"'
r=$(cc "$T/cv_badcl.json"); ok "a *.public file in clients that is not a key" \
    eval '[[ "$r" == "1|$T/cv_badcl.json: broker.curve.clients: $K/badclients/bad.public: not a CURVE key"* ]]'
cv cv_notin 'c["broker"]["curve"]["client_secret_key_file"] = "'"$K"'/web1.secret"'
r=$(cc "$T/cv_notin.json"); ok "this config's client key is not among the clients" \
    eval '[[ "$r" == "1|$T/cv_notin.json: broker.curve.client_secret_key_file: $K/web1.secret: its public key is not in broker.curve.clients"* ]]'
mk open_bind 'c["broker"]["publish"] = "tcp://0.0.0.0:'"$PB"'"'
eq "off loopback without CURVE: the broker's own refusal" \
    "1|$T/open_bind.json: broker.publish: tcp://0.0.0.0:$PB is not loopback and CURVE is off (set broker.curve, see zsse keygen, or \"trusted_network\": true if every host that can reach it may publish and read every channel)" \
    "$(cc "$T/open_bind.json")"
mk trusted 'c["broker"]["publish"] = "tcp://0.0.0.0:'"$PB"'"; c["broker"]["trusted_network"] = True'
eq "off loopback with trusted_network: ok" "0|ok" "$(cc "$T/trusted.json")"
mk web 'c["broker"].update({"publish": "tcp://10.0.0.1:7701", "events": "tcp://10.0.0.1:7702",
  "control": "tcp://10.0.0.1:7703", "curve": {"server_public_key_file": "'"$K"'/broker.public",
  "client_secret_key_file": "'"$K"'/web1.secret"}})'
eq "a client-only CURVE config (the web host's) binds nothing: ok" "0|ok" "$(cc "$T/web.json")"
r=$(timeout 10 zsse-broker -c "$T/open_bind.json" -f 2>&1 </dev/null); rc=$?
ok "zsse-broker refuses that config as check-config says" \
    eval '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ "$r" == *"broker.publish: tcp://0.0.0.0:$PB is not loopback"* ]]'

# --- routes: templates and grants ---------------------------------------------
mk routes 'c["routes"] = [
  {"path": "/u/events", "channels": ["user/{sub}"], "auth": "none"},
  {"path": "/o/events", "channels": ["org/{claim.org}"], "auth": "optional"},
  {"path": "/a/events", "channels": ["admin"], "auth": "none", "require": {"role": "admin"}},
  {"path": "/b/{id}/events", "channels": ["board/{id}"]},
  {"path": "/b/{x}/events", "channels": ["b/{x}"]},
  {"path": "/b/fixed/events", "channels": ["fixed"]},
  {"path": "/fine/{id}", "channels": ["f/{id}", "user/{sub}"]}]'
zsse check-config -c "$T/routes.json" > "$T/routes.out" 2>&1; rc=$?
eq "route problems: exit 1" 1 "$rc"
eq "every problem reported, one line each" 5 "$(wc -l < "$T/routes.out")"
has() { grep -qF -- "$1" "$T/routes.out"; }
ok "{sub} on an auth none route" has "$T/routes.json: routes[0].channels[0]: takes {sub} from the token, but auth is \"none\""
ok "{claim.*} on an auth optional route" has "routes[1].channels[0]: takes a {claim.*} from the token, but auth is \"optional\""
ok "require on an auth none route" has "routes[2].require: can never be met"
ok "a route shadowed by an earlier one" has "routes[4].path: never reached: routes[3]"
ok "a literal route after a placeholder one" has "routes[5].path: never reached: routes[3]"
ok "a good route is not reported" eval '! grep -q "routes\[6\]" "$T/routes.out"'

# --- the programs refuse the short key too ---------------------------------
r=$(timeout 10 zsse-fcgi -c "$T/short.json" --listen 127.0.0.1:$(t_port) 2>&1); rc=$?
ok "zsse-fcgi refuses a 1-byte HS256 key at start" eval '[ $rc -ne 0 ] && [[ "$r" == *"HS256 needs at least 32"* ]]'
r=$(zsse -c "$T/short.json" token --sub u 2>&1); rc=$?
ok "zsse token refuses it too" eval '[ $rc -ne 0 ] && [[ "$r" == *"HS256 needs at least 32"* ]]'

t_done
