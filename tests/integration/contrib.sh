#!/usr/bin/env bash
# tests/integration/contrib.sh -- the lighttpd and nginx snippets of
# contrib/ as shipped (the generated build/contrib/lighttpd/zsse.conf and
# contrib/nginx/zsse.conf, every directive kept; only the socket and log
# paths moved into this test's directory), in front of one
# `zsse-fcgi --listen SOCKET` as zsse-fcgi-unix.service runs it, with the
# board example: a stream on its route, an event, and zsse's 404 naming a
# path the snippet passes but no route has.  (Apache's snippet is run as
# installed by tests/integration/debian.sh.)
. "$top_srcdir/tests/lib.sh"
t_init contrib
chmod 755 "$T"

t_key
t_example board
t_start_broker
SOCK="$T/fcgi.sock"
t_spawn fcgi zsse-fcgi -c "$ZSSE_CONFIG" --listen "$SOCK" --threads 4
ok "zsse-fcgi on a unix socket" t_until 100 test -S "$SOCK"
chmod 666 "$SOCK"          # the unit gives it the web server's group
TOKEN=$(zsse token --sub u1 --channels 'board/*')

# shipped: the paths of the unit and of Debian's servers, moved here
moved() { sed -e "s|/run/zsse/fcgi.sock|$SOCK|g" -e "s|/var/log/lighttpd/|$T/|g" "$1"; }

# stream NAME PORT: a stream on the board route through the server, an event
stream() {
    local name=$1 port=$2 out="$T/$1.out"
    curl -sN --max-time 20 "http://127.0.0.1:$port/boards/b1/events?token=$TOKEN" > "$out" &
    T_PIDS+=($!)
    ok "$name: the board route streams (hello)" t_until 100 grep -q '^event: connected' "$out"
    zsse publish -C board/b1 -e task_moved -d "{\"via\":\"$name\"}"
    ok "$name: an event arrives" t_until 100 grep -q "^data: {\"via\":\"$name\"}" "$out"
    eq "$name: a path the snippet passes, no route: zsse's 404 names it" \
        '{"error": "not_found", "message": "no route for /rooms/r1/events"}' \
        "$(curl -s --max-time 10 "http://127.0.0.1:$port/rooms/r1/events")"
    eq "$name: a path outside the snippet is not zsse's" "" \
        "$(curl -s --max-time 10 "http://127.0.0.1:$port/events/b1" | grep -o 'no route')"
}

# --- lighttpd: the conf-available file, included as lighty-enable-mod does --
L_PORT=$(t_port)
moved "$top_builddir/contrib/lighttpd/zsse.conf" > "$T/50-zsse.conf"
ok "lighttpd snippet: breakagelog set" grep -q '^server.breakagelog' "$T/50-zsse.conf"
cat > "$T/lighttpd.conf" <<CONF
server.bind = "127.0.0.1"
server.port = $L_PORT
server.document-root = "$T"
server.errorlog = "$T/lighttpd-error.log"
include "$T/50-zsse.conf"
CONF
t_spawn lighttpd lighttpd -D -f "$T/lighttpd.conf"
ok "lighttpd starts with the snippet" t_wait_port "$L_PORT" "$T_LASTPID"
stream lighttpd "$L_PORT"

# --- nginx: the snippet included in a server, as its comment says -------------
N_PORT=$(t_port)
mkdir -p "$T/nginx"
cp /etc/nginx/fastcgi_params "$T/nginx/"
moved "$top_srcdir/contrib/nginx/zsse.conf" > "$T/nginx/zsse.conf"
cat > "$T/nginx/nginx.conf" <<CONF
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
        include zsse.conf;
    }
}
CONF
t_spawn nginx nginx -p "$T/nginx" -c "$T/nginx/nginx.conf"
ok "nginx starts with the snippet" t_wait_port "$N_PORT" "$T_LASTPID"
stream nginx "$N_PORT"

t_done
