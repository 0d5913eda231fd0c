#!/usr/bin/env python3
"""handoff.py -- talk to zsse-fcgi's handoff socket as zsse-handoff would,
and as it must not (fcgi/handoff.h).

    handoff.py SOCK request PATH    hand over one end of a socketpair,
                                    write a FastCGI request for PATH on the
                                    other and print the response's status
                                    line and first event (JSON)
    handoff.py SOCK hostile         send datagrams that are not a
                                    connection; print one line per case,
                                    "closed" when zsse-fcgi closed every
                                    descriptor it was sent, else "LEAKED"
"""
import json, os, select, socket, struct, sys, time

def fcgi_request(path, rid=1):
    def rec(t, body):
        return struct.pack(">BBHHBB", 1, t, rid, len(body), 0, 0) + body
    def nv(k, v):
        return bytes([len(k), len(v)]) + k + v
    params = b"".join(nv(k.encode(), v.encode()) for k, v in
                      [("REQUEST_METHOD", "GET"), ("REQUEST_URI", path),
                       ("SERVER_PROTOCOL", "HTTP/1.1")])
    return (rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, params) + rec(4, b"")
            + rec(5, b""))

def read_stdout(s, want, timeout):
    """the STDOUT bytes until WANT appears in them, EOF or TIMEOUT"""
    buf, out, end = b"", b"", time.time() + timeout
    s.settimeout(0.2)
    while want not in out and time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        while len(buf) >= 8:
            _, t, _, n, pad = struct.unpack(">BBHHB", buf[:7])
            if len(buf) < 8 + n + pad:
                break
            if t == 6:
                out += buf[8:8 + n]
            buf = buf[8 + n + pad:]
    return out

def send(sock_path, data, fds):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        c.connect(sock_path)
        if fds:
            socket.send_fds(c, [data], fds)
        else:
            c.send(data)
    finally:
        c.close()

def request(sock_path, path):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    send(sock_path, b"F", [b.fileno()])
    b.close()
    a.sendall(fcgi_request(path))
    out = read_stdout(a, b"\n\n", 5).decode(errors="replace")
    head, _, body = out.partition("\r\n\r\n")
    status = head.split("\r\n")[0] if head else ""
    print(json.dumps({"status": status, "body": body}))

def gone_stream(s):
    """a stream socket whose peer was closed reads EOF"""
    r, _, _ = select.select([s], [], [], 5)
    return bool(r) and s.recv(1) == b""

def hostile(sock_path):
    cases = []
    # the tag and no descriptor: nothing to close; what follows shows that
    # zsse-fcgi still takes datagrams
    send(sock_path, b"F", [])
    # 1. a stream socket behind the wrong tag
    a, b = socket.socketpair()
    send(sock_path, b"X", [b.fileno()]); b.close()
    cases.append(("wrong tag", gone_stream(a)))
    # 2. two connections in one datagram: both closed
    a1, b1 = socket.socketpair(); a2, b2 = socket.socketpair()
    send(sock_path, b"F", [b1.fileno(), b2.fileno()]); b1.close(); b2.close()
    cases.append(("two descriptors", gone_stream(a1) and gone_stream(a2)))
    # 3. a pipe, not a socket: the write end sees no reader left
    r, w = os.pipe()
    send(sock_path, b"F", [r]); os.close(r)
    try:
        time.sleep(0.5)
        os.write(w, b"x")
        closed = False
    except BrokenPipeError:
        closed = True
    os.close(w)
    cases.append(("a pipe", closed))
    # 4. a datagram socket: not a connection
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    send(sock_path, b"F", [b.fileno()]); b.close()
    time.sleep(0.5)
    try:
        a.send(b"x"); closed = False
    except OSError:
        closed = True
    cases.append(("a datagram socket", closed))
    # 5. more than the tag
    a, b = socket.socketpair()
    send(sock_path, b"FF", [b.fileno()]); b.close()
    cases.append(("two bytes", gone_stream(a)))
    for name, closed in cases:
        print(f"{name}: {'closed' if closed else 'LEAKED'}")
    return all(c for _, c in cases)

def main():
    if len(sys.argv) >= 3 and sys.argv[2] == "hostile":
        sys.exit(0 if hostile(sys.argv[1]) else 1)
    if len(sys.argv) == 4 and sys.argv[2] == "request":
        request(sys.argv[1], sys.argv[3])
        return
    sys.exit(__doc__)

main()
