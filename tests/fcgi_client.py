#!/usr/bin/env python3
"""fcgi_client.py -- one FastCGI request straight to zsse-fcgi, with no web
server in front to refuse it first (lighttpd answers 431 to large headers
before zsse-fcgi ever sees them).

    fcgi_client.py HOST:PORT|UNIXPATH NAME=VALUE... [-t SECONDS]

Each NAME=VALUE is a FastCGI parameter (REQUEST_METHOD=GET is added unless
given).  A VALUE of "*N:C" is the character C repeated N times; "@FILE" is
the file's bytes.  Long names and values use the 4-byte length form; the
parameters are split over records of at most 65,535 bytes, as web servers
do.  Prints the response's status (from "Status:", else 200 when headers
came) and the first 200 bytes of the body on a second line, or "closed" /
"timeout" when there was no response.
"""
import socket, struct, sys, time

def nvlen(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)

def value(v):
    if v.startswith("*") and ":" in v:
        n, c = v[1:].split(":", 1)
        return c.encode() * int(n)
    if v.startswith("@"):
        return open(v[1:], "rb").read()
    return v.encode()

def main():
    args, timeout = sys.argv[1:], 10.0
    if "-t" in args:
        i = args.index("-t"); timeout = float(args[i + 1]); del args[i:i + 2]
    where, params = args[0], []
    for a in args[1:]:
        k, v = a.split("=", 1)
        params.append((k.encode(), value(v)))
    if not any(k == b"REQUEST_METHOD" for k, _ in params):
        params.insert(0, (b"REQUEST_METHOD", b"GET"))
    def rec(t, body):
        return struct.pack(">BBHHBB", 1, t, 1, len(body), 0, 0) + body
    blob = b"".join(nvlen(len(k)) + nvlen(len(v)) + k + v for k, v in params)
    out = rec(1, struct.pack(">HB5x", 1, 0))
    for i in range(0, len(blob), 65535):
        out += rec(4, blob[i:i + 65535])
    out += rec(4, b"") + rec(5, b"")
    if ":" in where and not where.startswith("/"):
        host, port = where.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX); s.settimeout(timeout); s.connect(where)
    try:
        s.sendall(out)
    except OSError:
        pass                        # it may answer and close before taking all
    data, end = b"", time.monotonic() + timeout
    try:
        while True:
            s.settimeout(max(0.01, end - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if time.monotonic() > end:
                break
            body = stdout(data)
            if b"\r\n\r\n" in body or b"\n\n" in body:
                break
    except (socket.timeout, TimeoutError):
        if not data:
            print("timeout"); return
    except OSError:
        pass
    body = stdout(data)
    if not body:
        print("closed"); return
    head, _, rest = body.partition(b"\r\n\r\n")
    status = 200
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            status = int(line.split()[1])
    print(status)
    print(rest[:200].decode("utf-8", "replace").replace("\n", " "))

def stdout(data):
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

if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:         # the caller read what it wanted (head -1)
        sys.stderr.close()
