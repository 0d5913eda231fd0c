#!/usr/bin/env python3
"""gapfree.py -- many SSE clients that keep reconnecting with Last-Event-ID.

    gapfree.py URL CLIENTS SECONDS OUTDIR

Each client thread connects, reads for a random 0.2-1.0 s, hangs up, and
reconnects with the Last-Event-ID it last saw (an id-only block counts, as
in a browser), until SECONDS have passed; then it reads until the stream is
quiet for 2 s.  It writes OUTDIR/client-N: the join id (the first id: it
saw) on line 1, then every event id in the order received; and
OUTDIR/times-N: the wall-clock time (s) of each reconnection that sent a
Last-Event-ID, one a line (to measure how many overlapped the publishing).
"""
import http.client, os, random, socket, sys, threading, time, urllib.parse

url, nclients, seconds, outdir = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlsplit(url)
path = u.path + ('?' + u.query if u.query else '')
end = time.monotonic() + seconds

def client(n):
    rnd = random.Random(n)
    last, join, ids, conns, times = None, None, [], 0, []
    while True:
        final = time.monotonic() >= end
        hold = 2.0 if final else rnd.uniform(0.2, 1.0)
        headers = {"Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            if r.status != 200:
                ids.append("status %d" % r.status)
                time.sleep(0.2)
                continue
            conns += 1
            if last:
                times.append(time.time())
            sock = r.fp.raw._sock
            buf, cur_id, has_data, got = b"", None, False, 0
            deadline = time.monotonic() + hold
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    chunk = r.read1(65536)
                except (socket.timeout, TimeoutError):
                    break
                if not chunk:
                    break
                buf += chunk
                before = got
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"id: "):
                        cur_id = line[4:].decode()
                    elif line.startswith(b"data:"):
                        has_data = True
                    elif line == b"":
                        if cur_id is not None:
                            last = cur_id
                            if join is None:
                                join = cur_id
                            if has_data:
                                ids.append(cur_id)
                                got += 1
                        cur_id, has_data = None, False
                if final and got > before:
                    deadline = time.monotonic() + 2.0    # until quiet
            c.close()
        except OSError as e:
            ids.append("error %s" % e)
            time.sleep(0.1)
        if final:
            break
    with open(os.path.join(outdir, "client-%d" % n), "w") as f:
        f.write("%s\n" % join)
        f.write("".join("%s\n" % i for i in ids))
    with open(os.path.join(outdir, "conns-%d" % n), "w") as f:
        f.write("%d\n" % conns)
    with open(os.path.join(outdir, "times-%d" % n), "w") as f:
        f.write("".join("%.3f\n" % t for t in times))

threads = [threading.Thread(target=client, args=(i,)) for i in range(nclients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
