#!/usr/bin/env python3
"""fcgiclient.py -- speak FastCGI to zsse-fcgi --listen directly, as a web
server would, and as slow or hostile peers do (issue 13 items 3, 5).

    fcgiclient.py ADDR get URI [NAME=VALUE]...
        one GET with these extra params (HTTP_ORIGIN=..., with \\r \\n
        escapes decoded); prints {"status": ..., "headers": [...],
        "seconds": ...} of the response (its head only)
    fcgiclient.py ADDR slow N SECONDS [body]
        N peers that each send a valid request one byte every SECONDS
        (with "body": the params at once, then a GET body one byte every
        SECONDS); runs until killed
    fcgiclient.py ADDR idle N [SECONDS]
        N peers that connect and send nothing; runs until killed, or
        after SECONDS prints how many got a 503 with Retry-After
    fcgiclient.py HOST:PORT httpslow N SECONDS
        N HTTP clients (to a web server) sending a GET whose 100-byte body
        comes one byte every SECONDS
    fcgiclient.py ADDR probe URI TOKEN COUNT INTERVAL
        COUNT valid requests, one every INTERVAL s; prints the seconds
        each took to its status line, and the status
    fcgiclient.py ADDR raw NAME=VALUE... [-t SECONDS]
        one request with exactly these params (REQUEST_METHOD=GET added
        unless given), with no web server in front to refuse it first
        (lighttpd answers 431 to large headers before zsse-fcgi sees them).
        A VALUE of "*N:C" is C repeated N times, "@FILE" the file's bytes;
        long values use the 4-byte length form and the params are split
        over records of at most 65,535 bytes, as web servers do.  Prints
        the status (from "Status:", else 200 when headers came) and the
        first 200 bytes of the body on a second line, or "closed" /
        "timeout" when there was no response.

ADDR is HOST:PORT or a unix socket path.
"""
import json, socket, struct, sys, time

def rec(t, body, rid=1):
    return struct.pack(">BBHHBB", 1, t, rid, len(body), 0, 0) + body

def nv(k, v):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(k)) + ln(len(v)) + k + v

def request(uri, extra=(), body=b"", method="GET"):
    path, _, query = uri.partition("?")
    p = [("REQUEST_METHOD", method), ("REQUEST_URI", uri), ("QUERY_STRING", query),
         ("SERVER_PROTOCOL", "HTTP/1.1")] + list(extra)
    params = b"".join(nv(k.encode(), v.encode()) for k, v in p)
    head = rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, params) + rec(4, b"")
    return head, (rec(5, body) if body else b"") + rec(5, b"")

def connect(addr, timeout=10):
    if "/" in addr:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
    else:
        h, p = addr.rsplit(":", 1)
        s = socket.create_connection((h, int(p)), timeout=timeout)
    return s

def response_head(s, timeout):
    """the STDOUT bytes up to the end of the headers (or EOF / TIMEOUT)"""
    buf, out, end = b"", b"", time.monotonic() + timeout
    while b"\r\n\r\n" not in out and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            d = s.recv(65536)
        except (socket.timeout, ConnectionError):
            break
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
    head = out.split(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n") if head else []
    status = None
    for l in lines:
        if l.lower().startswith("status:"):
            status = int(l.split()[1])
    return status, lines

def raw_value(v):
    if v.startswith("*") and ":" in v:
        n, c = v[1:].split(":", 1)
        return c.encode() * int(n)
    if v.startswith("@"):
        return open(v[1:], "rb").read()
    return v.encode()

def stdout_of(data):
    """the STDOUT records' content in DATA (complete records only)"""
    out, i = b"", 0
    while i + 8 <= len(data):
        _, t, _, n, pad = struct.unpack(">BBHHB", data[i:i + 7])
        if i + 8 + n + pad > len(data):
            break
        if t == 6:
            out += data[i + 8:i + 8 + n]
        i += 8 + n + pad
    return out

def raw(addr, args):
    timeout = 10.0
    if "-t" in args:
        i = args.index("-t"); timeout = float(args[i + 1]); del args[i:i + 2]
    params = [(k.encode(), raw_value(v)) for k, v in (a.split("=", 1) for a in args)]
    if not any(k == b"REQUEST_METHOD" for k, _ in params):
        params.insert(0, (b"REQUEST_METHOD", b"GET"))
    blob = b"".join(nv(k, v) for k, v in params)
    out = rec(1, struct.pack(">HB5x", 1, 0))
    for i in range(0, len(blob), 65535):
        out += rec(4, blob[i:i + 65535])
    out += rec(4, b"") + rec(5, b"")
    s = connect(addr, timeout)
    try:
        s.sendall(out)
    except OSError:
        pass                        # it may answer and close before taking all
    data, end = b"", time.monotonic() + timeout
    try:
        while time.monotonic() <= end:
            s.settimeout(max(0.01, end - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            body = stdout_of(data)
            if b"\r\n\r\n" in body or b"\n\n" in body:
                break
    except (socket.timeout, TimeoutError):
        if not data:
            print("timeout"); return
    except OSError:
        pass
    body = stdout_of(data)
    if not body:
        print("closed"); return
    head, _, rest = body.partition(b"\r\n\r\n")
    status = 200
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            status = int(line.split()[1])
    print(status)
    print(rest[:200].decode("utf-8", "replace").replace("\n", " "))

def get(addr, uri, extra, timeout=5):
    t0 = time.monotonic()
    s = connect(addr)
    head, tail = request(uri, extra)
    s.sendall(head + tail)
    status, lines = response_head(s, timeout)
    s.close()
    return {"status": status, "headers": lines, "seconds": round(time.monotonic() - t0, 3)}

def slow(addr, n, every, body_mode):
    peers = []
    for _ in range(n):
        s = connect(addr)
        head, tail = request("/x/events", body=b"x" * 4096 if body_mode else b"")
        data = tail if body_mode else head + tail
        if body_mode:
            s.sendall(head)
        peers.append([s, data, 0])
    while True:
        for p in peers:
            s, data, i = p
            if i < len(data):
                try:
                    s.send(data[i:i + 1])
                except OSError:
                    p[2] = len(data)
                    continue
                p[2] = i + 1
        time.sleep(every)

def idle(addr, n, report=None):
    peers = [connect(addr) for _ in range(n)]
    print(json.dumps({"idle": len(peers)}), flush=True)
    if report is None:
        while True:
            time.sleep(60)
    time.sleep(report)
    got = {"503": 0, "retry_after": 0, "open": 0, "closed": 0}
    for s in peers:
        s.setblocking(False)
        try:
            d = s.recv(65536)
        except BlockingIOError:
            got["open"] += 1
            continue
        except OSError:
            got["closed"] += 1
            continue
        if b"Status: 503" in d:
            got["503"] += 1
        if b"Retry-After:" in d:
            got["retry_after"] += 1
        if not d:
            got["closed"] += 1
    print(json.dumps(got), flush=True)

def http_slow(addr, n, every):
    """N HTTP clients sending a GET with a 100-byte body one byte every
    EVERY seconds (through a web server that streams request bodies)"""
    h, p = addr.rsplit(":", 1)
    peers = []
    for _ in range(n):
        s = socket.create_connection((h, int(p)))
        s.sendall(b"GET /x/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        peers.append(s)
    for _ in range(100):
        for s in peers:
            try:
                s.send(b"x")
            except OSError:
                pass
        time.sleep(every)

def main():
    addr, cmd = sys.argv[1], sys.argv[2]
    if cmd == "get":
        extra = [tuple(a.split("=", 1)) for a in sys.argv[4:]]
        extra = [(k, v.encode().decode("unicode_escape")) for k, v in extra]
        print(json.dumps(get(addr, sys.argv[3], extra)))
    elif cmd == "slow":
        slow(addr, int(sys.argv[3]), float(sys.argv[4]), len(sys.argv) > 5)
    elif cmd == "idle":
        idle(addr, int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif cmd == "httpslow":
        http_slow(addr, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "raw":
        raw(addr, sys.argv[3:])
    elif cmd == "probe":
        uri, tok, count, every = sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
        for _ in range(count):
            r = get(addr, uri, [("HTTP_AUTHORIZATION", "Bearer " + tok)])
            print(json.dumps({"status": r["status"], "seconds": r["seconds"]}), flush=True)
            time.sleep(every)

if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:         # the caller read what it wanted (head -1)
        sys.stderr.close()
