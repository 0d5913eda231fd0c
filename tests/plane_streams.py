#!/usr/bin/env python3
"""plane_streams.py -- many SSE streams held open, one channel each.

    plane_streams.py HOST PORT PATH_TEMPLATE N STOPFILE OUTDIR [MAXSECS]

Opens N HTTP/1.0 streams (one thread, epoll) to PATH_TEMPLATE with "{i}"
replaced by 0..N-1, prints "open N" once every one answered 200, and reads
until STOPFILE exists and no event came for 2 s (or MAXSECS pass).  A
stream that ends is opened again with the Last-Event-ID it last saw, as a
browser would (counted in OUTDIR/reconnects).  Writes
OUTDIR/client-I: the join id (the first "id:" seen, an id-only block
counts; 0: none came before the first event) on line 1, then every event id in the order received.
"""
import os, selectors, socket, sys, time

host, port, tpl, n, stopfile, outdir = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                        int(sys.argv[4]), sys.argv[5], sys.argv[6])
maxsecs = float(sys.argv[7]) if len(sys.argv) > 7 else 300
sel = selectors.DefaultSelector()
st = []
reconnects = 0

def connect(c, last=None):
    s = socket.create_connection((host, port))
    leid = "Last-Event-ID: %s\r\n" % last if last else ""
    s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n%s\r\n"
               % (tpl.replace("{i}", str(c["i"])), leid)).encode())
    s.setblocking(False)
    c.update(buf=b"", head=True, cur=None, data=False)
    sel.register(s, selectors.EVENT_READ, c)

for i in range(n):
    c = {"i": i, "status": None, "join": None, "ids": [], "last": None, "closed": False}
    st.append(c)
    connect(c)

def lines(c, chunk):
    c["buf"] += chunk
    if c["head"]:
        if b"\r\n\r\n" not in c["buf"]:
            return
        hdr, c["buf"] = c["buf"].split(b"\r\n\r\n", 1)
        c["status"] = int(hdr.split(b" ")[1])
        c["head"] = False
    *ls, c["buf"] = c["buf"].split(b"\n")
    got = 0
    for line in ls:
        if line.startswith(b"id: "):
            c["cur"] = line[4:].decode()
        elif line.startswith(b"data:"):
            c["data"] = True
        elif line == b"":
            if c["cur"] is not None:
                c["last"] = c["cur"]
                if c["join"] is None:
                    c["join"] = c["cur"]
                if c["data"]:
                    c["ids"].append(c["cur"])
                    got += 1
            c["cur"], c["data"] = None, False
    return got

start = time.monotonic()
opened = False
quiet_since = time.monotonic()
while time.monotonic() - start < maxsecs:
    for key, _ in sel.select(timeout=0.2):
        c = key.data
        try:
            chunk = key.fileobj.recv(65536)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            reconnects += 1
            if reconnects > 10 * n:
                c["closed"] = True
            else:
                connect(c, c["last"])
            continue
        if lines(c, chunk):
            quiet_since = time.monotonic()
    if not opened and all(c["status"] is not None for c in st):
        opened = True
        print("open %d" % sum(1 for c in st if c["status"] == 200), flush=True)
    if os.path.exists(stopfile) and time.monotonic() - quiet_since > 2:
        break
with open(os.path.join(outdir, "reconnects"), "w") as f:
    f.write("%d\n" % reconnects)
for c in st:
    with open(os.path.join(outdir, "client-%d" % c["i"]), "w") as f:
        f.write("%s\n" % (c["join"] or 0))
        f.write("".join("%s\n" % x for x in c["ids"]))
        if c["closed"]:
            f.write("closed\n")
