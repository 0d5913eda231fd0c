#!/usr/bin/env bash
# tests/integration/debian.sh -- the Debian packages as an operator meets
# them: build them (dpkg-buildpackage -us -uc -b, from a copy of the source
# so the tree tests/run builds in stays clean), install them on this
# machine, check what they put where (user, key, config, units, snippets,
# zsse.pc), enable the Apache snippet with a2enconf, run the broker and
# zsse-fcgi-handoff as their units say (this machine has no systemd: the
# units' User=, Group=, Environment=, RuntimeDirectory=, ExecStartPre= and
# ExecStart= lines are followed by hand), get an event through Apache to
# curl -- published with the zsse command and with a C program built
# against libzsse-dev -- then purge the packages and check the machine is
# as it was.
#
# Needs root (it installs packages).  tests/run runs it once, after the
# default build; it is not in TESTS, so neither `make check` nor the
# sanitizer build runs it.  ZSSE_DEB_DIR=DIR takes already built .debs
# from DIR instead of building them.
. "$top_srcdir/tests/lib.sh"
t_init debian
chmod 755 "$T"
unset ZSSE_CONFIG           # the package's /etc/zsse/zsse.json, as installed

if [ "$(id -u)" != 0 ]; then
    echo "debian.sh: needs root (it installs the packages)" >&2
    exit 1
fi
for c in dpkg-buildpackage dh apache2 setpriv curl; do
    command -v $c >/dev/null || { echo "debian.sh: $c missing (tests/run installs it)" >&2; exit 1; }
done
[ -e /usr/lib/apache2/modules/mod_fcgid.so ] ||
    { echo "debian.sh: libapache2-mod-fcgid missing" >&2; exit 1; }

PKGS="zsse-broker zsse-fcgi zsse libzsse0 libzsse-dev"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed\|config-files'; }
for p in $PKGS; do
    if installed "$p"; then
        echo "debian.sh: $p is installed already: this test installs and purges it" >&2
        echo "debian.sh: (dpkg --purge $PKGS, if it is left from an aborted run)" >&2
        exit 1
    fi
done
for f in /etc/zsse /run/zsse /var/lib/zsse /var/log/zsse; do
    [ -e "$f" ] && { echo "debian.sh: $f exists: not a machine without zsse" >&2; exit 1; }
done
getent passwd zsse >/dev/null && { echo "debian.sh: user zsse exists" >&2; exit 1; }
# the package's config uses the default endpoints
for p in 7701 7702 7703; do
    if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
        echo "debian.sh: port $p is taken; the package's broker needs it" >&2
        exit 1
    fi
done

# --- what the machine looks like before -----------------------------------
snapshot() {
    {
        getent passwd | cut -d: -f1 | sort
        getent group | cut -d: -f1 | sort
        ls -l /etc/apache2/conf-enabled /etc/apache2/mods-enabled /etc/lighttpd/conf-enabled \
            /etc/nginx/snippets 2>&1
        ls -d /etc/zsse /run/zsse /var/lib/zsse /var/log/zsse /usr/share/zsse 2>&1
        ls /var/log/nginx /var/log/lighttpd /var/log/apache2 2>&1
        ls /lib/systemd/system /etc/systemd/system /etc/systemd/system/*.wants /etc/logrotate.d 2>&1
        ls /usr/bin /usr/include /usr/lib/x86_64-linux-gnu/pkgconfig 2>&1
    } | grep -v '^total '
}
snapshot > "$T/before"
fcgid_was=$(a2query -q -m fcgid && echo on || echo off)

# --- build ------------------------------------------------------------------
debs=${ZSSE_DEB_DIR:-}
if [ -z "$debs" ]; then
    debs="$T/deb"
    mkdir -p "$debs/src"
    if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
        # what is checked out, with uncommitted changes, nothing ignored
        (cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -C "$debs/src" -xf -
    else
        (cd "$top_srcdir" && tar --exclude=./build --exclude=node_modules -cf - .) |
            tar -C "$debs/src" -xf -
    fi
    if (cd "$debs/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
            dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1; then
        ok "dpkg-buildpackage -us -uc -b" true
    else
        tail -40 "$T/build.log"
        ok "dpkg-buildpackage -us -uc -b" false
        t_done; exit
    fi
fi
deb() { ls "$debs"/$1_*.deb 2>/dev/null | head -1; }
for p in $PKGS; do
    ok "package $p built" test -n "$(deb $p)"
done
contents() { dpkg-deb -c "$(deb $1)" | awk '{print $6}' | sed 's|^\./|/|'; }
has() { contents "$1" | grep -qx "$2"; }
ok "zsse-broker: the program and its unit" \
    eval 'has zsse-broker /usr/bin/zsse-broker && has zsse-broker /lib/systemd/system/zsse-broker.service'
ok "zsse-fcgi: zsse-fcgi, zsse-handoff, three units" eval 'has zsse-fcgi /usr/bin/zsse-fcgi &&
    has zsse-fcgi /usr/bin/zsse-handoff && has zsse-fcgi /lib/systemd/system/zsse-fcgi-handoff.service &&
    has zsse-fcgi /lib/systemd/system/zsse-fcgi-unix.service && has zsse-fcgi "/lib/systemd/system/zsse-fcgi@.service"'
ok "zsse-fcgi: snippets where each web server expects them" eval '
    has zsse-fcgi /etc/apache2/conf-available/zsse.conf &&
    has zsse-fcgi /etc/lighttpd/conf-available/50-zsse.conf && has zsse-fcgi /etc/nginx/snippets/zsse.conf'
ok "libzsse-dev: zsse.h and zsse.pc" eval 'has libzsse-dev /usr/include/zsse.h &&
    contents libzsse-dev | grep -q "/pkgconfig/zsse.pc$"'
ok "man pages: zsse(1), zsse.json(5) in zsse" eval 'has zsse /usr/share/man/man1/zsse.1.gz &&
    has zsse /usr/share/man/man5/zsse.json.5.gz'
ok "man pages: zsse-broker(8), zsse-fcgi(8), zsse-handoff(8)" eval '
    has zsse-broker /usr/share/man/man8/zsse-broker.8.gz &&
    has zsse-fcgi /usr/share/man/man8/zsse-fcgi.8.gz && has zsse-fcgi /usr/share/man/man8/zsse-handoff.8.gz'
ok "libzsse0: the shared library" eval 'contents libzsse0 | grep -q "/libzsse\.so\.0$"'

# --- install ----------------------------------------------------------------
purged=0
deb_cleanup() {
    local pid
    for pid in "${T_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
    for pid in "${T_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null; done
    T_PIDS=()
    if [ $purged = 0 ]; then
        [ -L /etc/apache2/conf-enabled/zsse.conf ] && a2disconf -q zsse >/dev/null 2>&1
        dpkg --purge $PKGS >/dev/null 2>&1
        rm -rf /run/zsse
    fi
    if [ "$fcgid_was" = off ]; then a2dismod -q fcgid >/dev/null 2>&1; fi
}
trap 'deb_cleanup; t_cleanup' EXIT

# no systemd here (no /run/systemd/system): the maintainer scripts enable
# zsse-broker.service but start nothing
if dpkg -i $(for p in $PKGS; do deb $p; done) > "$T/install.log" 2>&1; then
    ok "dpkg -i installs all five" true
else
    cat "$T/install.log"; ok "dpkg -i installs all five" false; t_done; exit
fi
ok "the system user zsse" eval 'getent passwd zsse | grep -q ":/nonexistent:"'
ok "/etc/zsse/zsse.json installed" test -f /etc/zsse/zsse.json
eq "/etc/zsse/jwt.key: generated, zsse's, mode 0600" "zsse zsse 600" \
    "$(stat -c '%U %G %a' /etc/zsse/jwt.key 2>&1)"
ok "/etc/zsse/jwt.key: at least 32 bytes (HS256)" test "$(wc -c < /etc/zsse/jwt.key)" -ge 32
key1=$(md5sum < /etc/zsse/jwt.key)
ok "man zsse.json works once installed" eval 'MANWIDTH=80 man zsse.json 2>/dev/null | grep -q "max_lifetime"'
ok "zsse.pc: pkg-config finds libzsse" eval 'pkg-config --libs zsse | grep -q -- -lzsse'
eq "zsse check-config as user zsse: ok" "ok" \
    "$(setpriv --reuid=zsse --regid=zsse --init-groups /usr/bin/zsse check-config 2>&1)"
ok "units name the installed programs" \
    grep -q '^ExecStart=/usr/bin/zsse-broker ' /lib/systemd/system/zsse-broker.service
ok "zsse-broker enabled at install" test -L /etc/systemd/system/multi-user.target.wants/zsse-broker.service

# --- run the units' command lines as systemd would ---------------------------
# unit FILE: follow User/Group/Environment/RuntimeDirectory/ExecStartPre,
# then start ExecStart in the background (t_spawn, killed at the end)
unit() {
    local file=$1 name user=root group=root line cmd rtdir="" rtmode=0755 logsdir=""
    local -a envs=() pre=()
    name=$(basename "$file" .service)
    while IFS= read -r line; do
        case "$line" in
            User=*) user=${line#User=} ;;
            Group=*) group=${line#Group=} ;;
            Environment=*) envs+=("${line#Environment=}") ;;
            RuntimeDirectory=*) rtdir=${line#RuntimeDirectory=} ;;
            RuntimeDirectoryMode=*) rtmode=${line#RuntimeDirectoryMode=} ;;
            LogsDirectory=*) logsdir=${line#LogsDirectory=} ;;
            ExecStartPre=*) pre+=("${line#ExecStartPre=}") ;;
            ExecStart=*) cmd=${line#ExecStart=} ;;
        esac
    done < "$file"
    if [ -n "$rtdir" ]; then
        mkdir -p "/run/$rtdir"; chown "$user:$group" "/run/$rtdir"; chmod "$rtmode" "/run/$rtdir"
    fi
    if [ -n "$logsdir" ]; then
        mkdir -p "/var/log/$logsdir"; chown "$user:$group" "/var/log/$logsdir"
    fi
    for line in "${pre[@]}"; do
        # shellcheck disable=SC2086
        env "${envs[@]}" setpriv --reuid="$user" --regid="$group" --init-groups $line \
            >> "$T/$name.log" 2>&1 ||
            { echo "$name: ExecStartPre failed: $line"; cat "$T/$name.log"; return 1; }
    done
    # ${ZSSE_FCGI_THREADS} as systemd expands it, from Environment=
    cmd=$(env "${envs[@]}" bash -c "echo \"$cmd\"")
    # shellcheck disable=SC2086
    t_spawn "$name" env "${envs[@]}" setpriv --reuid="$user" --regid="$group" --init-groups $cmd
}
unit /lib/systemd/system/zsse-broker.service
BROKER_PID=$T_LASTPID
ok "zsse-broker up as its unit runs it" t_until 100 eval '/usr/bin/zsse stats >/dev/null 2>&1'
eq "zsse-broker runs as zsse" "zsse" "$(ps -o user= -p "$BROKER_PID" 2>&1)"
unit /lib/systemd/system/zsse-fcgi-handoff.service
FCGI_PID=$T_LASTPID
ok "zsse-fcgi-handoff: its socket in /run/zsse" t_until 100 test -S /run/zsse/handoff.sock
eq "/run/zsse/handoff.sock: zsse:www-data 0660" "zsse www-data 660" \
    "$(stat -c '%U %G %a' /run/zsse/handoff.sock 2>&1)"
ok "zsse-fcgi logs its start" t_until 50 grep -q 'zsse-fcgi .* started: config /etc/zsse/zsse.json' \
    "$T/zsse-fcgi-handoff.log"

# --- Apache: the system's enabled modules and confs, on a port of ours ------
a2enmod -q fcgid >/dev/null 2>&1
ok "a2enconf zsse" eval 'a2enconf -q zsse >/dev/null 2>&1 && test -L /etc/apache2/conf-enabled/zsse.conf'
WEB_PORT=$(t_port)
mkdir -p "$T/apache/run" "$T/apache/log" "$T/apache/lock" "$T/apache/fcgid"
chown www-data "$T/apache/fcgid"
cat > "$T/apache.conf" <<CONF
ServerRoot /etc/apache2
ServerName localhost
Listen 127.0.0.1:$WEB_PORT
PidFile $T/apache/run/apache2.pid
ErrorLog $T/apache/log/error.log
DefaultRuntimeDir $T/apache/run
Mutex file:$T/apache/lock default
User www-data
Group www-data
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
IncludeOptional conf-enabled/*.conf
FcgidIPCDir $T/apache/fcgid
FcgidProcessTableFile $T/apache/fcgid/shm
CONF
(
    set +u
    . /etc/apache2/envvars
    export APACHE_LOG_DIR=$T/apache/log APACHE_RUN_DIR=$T/apache/run APACHE_LOCK_DIR=$T/apache/lock
    exec /usr/sbin/apache2 -f "$T/apache.conf" -DFOREGROUND
) >> "$T/apache.log" 2>&1 &
T_PIDS+=($!)
APACHE_PID=$!
ok "Apache starts with the snippet enabled" t_wait_port "$WEB_PORT" "$APACHE_PID"

TOKEN=$(/usr/bin/zsse token --sub ops1 --channels 'board/*' 2>&1)
curl -sN --max-time 30 "http://127.0.0.1:$WEB_PORT/boards/b1/events?token=$TOKEN" \
    > "$T/curl.out" 2> "$T/curl.err" &
T_PIDS+=($!)
ok "stream open through Apache (hello event)" t_until 150 grep -q '^event: connected' "$T/curl.out"
/usr/bin/zsse publish -C board/b1 -e task_moved -d '{"id":"t1","to":"done"}'
ok "an event published with zsse reaches curl through Apache" \
    t_until 100 grep -q '^data: {"id":"t1","to":"done"}' "$T/curl.out"

# a C program against libzsse-dev, as its README says: <zsse.h>, pkg-config
cat > "$T/pub.c" <<'C'
#include <zsse.h>
#include <stdio.h>
int main(void)
{
    zsse_publisher_t *pub = zsse_publisher_new("tcp://127.0.0.1:7701");
    if (!pub || zsse_publish(pub, "board/b1", "task_created", "{\"id\":\"t2\"}") != 0)
        return 1;
    zsse_publisher_destroy(&pub);
    return 0;
}
C
# shellcheck disable=SC2046
ok "a program builds against libzsse-dev (pkg-config zsse)" \
    cc -o "$T/pub" "$T/pub.c" $(pkg-config --cflags --libs zsse)
ok "... and publishes (libzsse0 at run time)" "$T/pub"
ok "its event reaches curl through Apache" t_until 100 grep -q '^data: {"id":"t2"}' "$T/curl.out"
# a path the snippet sends to zsse but no route of the package's config has
eq "a path without a route: zsse's 404, naming it" \
    '{"error": "not_found", "message": "no route for /rooms/r1/events"}' \
    "$(curl -s "http://127.0.0.1:$WEB_PORT/rooms/r1/events")"

# --- nginx: the snippet as installed, to zsse-fcgi-unix.service's socket -----
unit /lib/systemd/system/zsse-fcgi-unix.service
ok "zsse-fcgi-unix: /run/zsse/fcgi.sock" t_until 100 test -S /run/zsse/fcgi.sock
eq "/run/zsse/fcgi.sock: zsse:www-data 0660 (nginx may connect)" "zsse www-data 660" \
    "$(stat -c '%U %G %a' /run/zsse/fcgi.sock 2>&1)"
N_PORT=$(t_port)
mkdir -p "$T/nginx"
cp /etc/nginx/fastcgi_params "$T/nginx/"    # (relative to nginx.conf, as in /etc/nginx)
cat > "$T/nginx/nginx.conf" <<CONF
user www-data;
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 768; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    fastcgi_temp_path $T/nginx/fcgi;
    proxy_temp_path $T/nginx/proxy;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$N_PORT;
        include /etc/nginx/snippets/zsse.conf;
    }
}
CONF
t_spawn nginx nginx -p /etc/nginx -c "$T/nginx/nginx.conf"
ok "nginx starts with /etc/nginx/snippets/zsse.conf" t_wait_port "$N_PORT" "$T_LASTPID"
curl -sN --max-time 30 "http://127.0.0.1:$N_PORT/boards/b2/events?token=$TOKEN" \
    > "$T/nginx.out" 2>&1 &
T_PIDS+=($!)
ok "stream open through nginx (as www-data, over the unit's socket)" \
    t_until 150 grep -q '^event: connected' "$T/nginx.out"
/usr/bin/zsse publish -C board/b2 -e task_moved -d '{"id":"n1"}'
ok "an event reaches curl through nginx" t_until 100 grep -q '^data: {"id":"n1"}' "$T/nginx.out"

# --- stop, purge, compare -----------------------------------------------------
for pid in "${T_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
for pid in "${T_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
T_PIDS=()
dpkg --purge $PKGS > "$T/purge.log" 2>&1
ok "dpkg --purge removes all five" eval '! dpkg -l zsse zsse-broker zsse-fcgi libzsse0 libzsse-dev 2>/dev/null | grep -q "^[ir][ic]"'
purged=1
ok "purge disabled the Apache snippet" test ! -e /etc/apache2/conf-enabled/zsse.conf
ok "purge removed the user, the key, /etc/zsse" eval '! getent passwd zsse >/dev/null && test ! -e /etc/zsse'
rm -rf /run/zsse               # systemd removes a RuntimeDirectory at stop
[ "$fcgid_was" = off ] && a2dismod -q fcgid >/dev/null 2>&1
snapshot > "$T/after"
if diff "$T/before" "$T/after" > "$T/diff"; then
    ok "the machine is as it was (users, groups, /etc, units, /usr)" true
else
    cat "$T/diff"; ok "the machine is as it was (users, groups, /etc, units, /usr)" false
fi
t_done
