# tests/servers.sh -- start real web servers in front of zsse-fcgi for the
# integration tests (source after tests/lib.sh and t_init).
#
#   srv_lighttpd binpath [PROCS]   lighttpd runs zsse-fcgi itself (bin-path)
#   srv_fcgi_listen [THREADS]      external zsse-fcgi --listen 127.0.0.1:PORT
#                                  (SRV_FCGI_UNIX=1: a unix socket in $T)
#   srv_lighttpd socket            lighttpd -> the external zsse-fcgi
#   srv_nginx                      nginx    -> the external zsse-fcgi
#   srv_apache [PROCS]             Apache + mod_fcgid runs zsse-fcgi
#   srv_fcgi_handoff [THREADS]     external zsse-fcgi --handoff SOCK: after
#                                  it, srv_apache and srv_lighttpd binpath
#                                  run zsse-handoff, which passes each
#                                  connection to it (unset HANDOFF_SOCK to
#                                  go back)
#
# Each sets WEB_PORT and WEB_PID (FCGI_PORT/FCGI_PID for the external
# worker); the PIDs are recorded, so lib.sh stops them on exit.  Set
# SRV_PORT to start a server again on the port it had (restart tests);
# SRV_WORKERS (nginx worker processes, default 1) and SRV_CONNS (connections
# per nginx worker / lighttpd, default 4096) size them for benchmarks;
# SRV_APACHE_EXTRA adds lines to Apache's config.  All of
# them route every path to zsse-fcgi: the zsse config decides the rest.
# The configs follow contrib/: keep them in step.

ZSSE_FCGI_BIN="$top_builddir/zsse-fcgi"
ZSSE_HANDOFF_BIN="$top_builddir/zsse-handoff"
HANDOFF_SOCK=""

# zsse-fcgi OPTION SOCK (--listen or --handoff a unix socket) with THREADS,
# reachable by the web server's user: nginx's nobody, Apache's www-data
# (zsse-fcgi makes it 0660: in production the web server's group owns it)
srv_fcgi_unix() {
    t_spawn fcgi $ZSSE_FCGI_WRAP zsse-fcgi -c "$ZSSE_CONFIG" "$1" "$2" --threads "$3"
    FCGI_PID=$T_LASTPID
    t_until 100 test -S "$2"
    chmod 755 "$T"; chmod 666 "$2"
}

srv_fcgi_handoff() {
    FCGI_PORT=$(t_port)
    HANDOFF_SOCK="$T/handoff-$FCGI_PORT.sock"
    srv_fcgi_unix --handoff "$HANDOFF_SOCK" "${1:-16}"
}

srv_fcgi_listen() {
    FCGI_PORT=$(t_port)
    if [ "${SRV_FCGI_UNIX:-0}" = 1 ]; then     # a unix socket instead of TCP
        FCGI_SOCK="$T/fcgi-$FCGI_PORT.sock"
        srv_fcgi_unix --listen "$FCGI_SOCK" "${1:-16}"
        return
    fi
    FCGI_SOCK=""
    t_spawn fcgi $ZSSE_FCGI_WRAP zsse-fcgi -c "$ZSSE_CONFIG" --listen "127.0.0.1:$FCGI_PORT" \
        --threads "${1:-16}"
    FCGI_PID=$T_LASTPID
    t_wait_port "$FCGI_PORT" "$FCGI_PID"
}

srv_lighttpd() {
    local mode=$1 procs=${2:-4} backend
    WEB_PORT=${SRV_PORT:-$(t_port)}
    if [ "$mode" = binpath ] && [ -n "$HANDOFF_SOCK" ]; then
        backend="\"bin-path\" => \"$ZSSE_HANDOFF_BIN\",
    \"socket\" => \"$T/lighttpd-fcgi-$WEB_PORT.sock\",
    \"bin-environment\" => ( \"ZSSE_HANDOFF\" => \"$HANDOFF_SOCK\" ),
    \"min-procs\" => $procs, \"max-procs\" => $procs,"
    elif [ "$mode" = binpath ]; then
        backend="\"bin-path\" => \"$ZSSE_FCGI_BIN\",
    \"socket\" => \"$T/lighttpd-fcgi-$WEB_PORT.sock\",
    \"bin-environment\" => ( \"ZSSE_CONFIG\" => \"$ZSSE_CONFIG\" ),
    \"min-procs\" => $procs, \"max-procs\" => $procs,"
    elif [ -n "${FCGI_SOCK:-}" ]; then
        backend="\"socket\" => \"$FCGI_SOCK\","
    else
        backend="\"host\" => \"127.0.0.1\", \"port\" => $FCGI_PORT,"
    fi
    cat > "$T/lighttpd-$WEB_PORT.conf" <<CONF
server.modules = ( "mod_fastcgi" )
server.bind = "127.0.0.1"
server.port = $WEB_PORT
server.document-root = "$T"
server.errorlog = "$T/lighttpd-error-$WEB_PORT.log"
server.stream-response-body = 2
server.max-connections = ${SRV_CONNS:-4096}
server.max-fds = $(( ${SRV_CONNS:-4096} * 4 ))
fastcgi.server = ( "/" => ((
    $backend
    "check-local" => "disable"
)))
CONF
    t_spawn lighttpd lighttpd -D -f "$T/lighttpd-$WEB_PORT.conf"
    WEB_PID=$T_LASTPID
    t_wait_port "$WEB_PORT" "$WEB_PID"
}

srv_nginx() {
    WEB_PORT=${SRV_PORT:-$(t_port)}
    mkdir -p "$T/nginx"
    cat > "$T/nginx.conf" <<CONF
daemon off;
worker_processes ${SRV_WORKERS:-1};
worker_rlimit_nofile $(( ${SRV_CONNS:-4096} * 2 + 64 ));
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections ${SRV_CONNS:-4096}; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    fastcgi_temp_path $T/nginx/fcgi;
    proxy_temp_path $T/nginx/proxy;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    ${SRV_NGINX_EXTRA:-}
    server {
        listen 127.0.0.1:$WEB_PORT;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_pass ${FCGI_SOCK:+unix:}${FCGI_SOCK:-127.0.0.1:$FCGI_PORT};
            fastcgi_buffering off;
            fastcgi_buffer_size ${SRV_NGINX_FCGI_BUF:-2k};
            fastcgi_read_timeout 3600s;
            fastcgi_keep_conn off;
        }
    }
}
CONF
    t_spawn nginx nginx -c "$T/nginx.conf"
    WEB_PID=$T_LASTPID
    t_wait_port "$WEB_PORT" "$WEB_PID"
}

srv_apache() {
    local procs=${1:-8} wrapper=$ZSSE_FCGI_BIN
    [ -n "$HANDOFF_SOCK" ] && wrapper=$ZSSE_HANDOFF_BIN
    WEB_PORT=${SRV_PORT:-$(t_port)}
    # Apache's children run as www-data: let them read the test's files.
    mkdir -p "$T/apache/fcgid"
    chmod 755 "$T" "$T/apache"
    chmod 777 "$T/apache/fcgid"
    chmod a+r "$T"/*.json "$T"/*.key 2>/dev/null
    cat > "$T/apache.conf" <<CONF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$WEB_PORT
PidFile $T/apache/apache.pid
ErrorLog $T/apache/error.log
LogLevel warn
DefaultRuntimeDir $T/apache
Mutex file:$T/apache
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
User www-data
Group www-data
# the settings of contrib/apache/zsse.conf
FcgidIPCDir $T/apache/fcgid
FcgidProcessTableFile $T/apache/fcgid/shm
FcgidInitialEnv ZSSE_CONFIG $ZSSE_CONFIG
FcgidInitialEnv ZSSE_HANDOFF ${HANDOFF_SOCK:-/nonexistent}
FcgidOutputBufferSize 0
FcgidBusyTimeout ${APACHE_BUSY_TIMEOUT:-3600}
FcgidIOTimeout ${APACHE_IO_TIMEOUT:-120}
FcgidMaxProcessesPerClass $procs
FcgidMaxProcesses $((procs + 8))
FcgidMinProcessesPerClass 0
${SRV_APACHE_EXTRA:-}
<Location />
    SetHandler fcgid-script
    FcgidWrapper $wrapper virtual
    Options +ExecCGI
    CGIPassAuth On
    SetEnv no-gzip 1
    Require all granted
</Location>
CONF
    t_spawn apache /usr/sbin/apache2 -f "$T/apache.conf" -DFOREGROUND
    WEB_PID=$T_LASTPID
    t_wait_port "$WEB_PORT" "$WEB_PID"
}
