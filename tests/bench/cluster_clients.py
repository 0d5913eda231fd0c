#!/usr/bin/env python3
"""cluster_clients.py -- SSE clients that fail over between hosts, for
tests/bench/cluster (stdlib only, one asyncio loop).

    cluster_clients.py --urls URL1,URL2,URL3 --clients N --duration S --out FILE

Client i starts on URL i mod the number of URLs.  When its stream ends or
breaks (its host was killed), it connects at once to the next URL, then the
one after (a refused connection moves on; at most 20 attempts a second),
sending Last-Event-ID: the id of the last event it received, as a browser's
EventSource does.  Every event's id, its data's "n" and "t" (the publisher's
CLOCK_MONOTONIC ns, ack_bench.c) and the receive time (time.monotonic_ns,
the same clock) are kept.  Prints "ready" once every client's first stream
has answered 200 (zsse-fcgi answers only once its subscriptions are in
force, so what is published after that reaches it), and at the end (after
S seconds) writes FILE: one JSON object per client
    {"client": i, "events": [[id, n, t_pub, t_recv], ...],
     "breaks": [[t_break, url_index, t_first_event_after or null,
                 t_reconnected (the 200's headers) or null], ...]}
HTTP/1.0 (no chunking), loopback URLs only.
"""
import asyncio, json, sys, time, urllib.parse

def opts():
    a, o = sys.argv[1:], {}
    while a:
        k = a.pop(0)
        o[k.lstrip('-')] = a.pop(0)
    return o

async def client(i, urls, deadline, rec, ready):
    k = i % len(urls)
    last_id = None
    first = True
    pending = None              # the break we wait to see an event after
    fails = 0
    while time.monotonic() < deadline:
        u = urllib.parse.urlsplit(urls[k])
        w = None
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(u.hostname, u.port), 2)
            hdr = "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n" % (u.path, u.netloc)
            if last_id is not None:
                hdr += "Last-Event-ID: %s\r\n" % last_id
            w.write((hdr + "\r\n").encode())
            status = await asyncio.wait_for(r.readline(), 5)
            if b" 200 " not in status:
                raise ConnectionError(status)
            while (await asyncio.wait_for(r.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            fails = 0
            if pending is not None and pending[3] is None:
                pending[3] = time.monotonic_ns()
            if first:
                first = False
                ready.append(i)
            ev_id, data = None, []
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    line = await asyncio.wait_for(r.readline(), left)
                except asyncio.TimeoutError:
                    return
                if not line:
                    break               # the stream ended: fail over
                line = line.rstrip(b"\r\n")
                if line.startswith(b"id:"):
                    ev_id = line[3:].strip().decode()
                elif line.startswith(b"data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    now = time.monotonic_ns()
                    try:
                        d = json.loads(b"\n".join(data))
                        n, t = d.get("n"), d.get("t")
                    except ValueError:
                        n = t = None
                    rec["events"].append([ev_id, n, t, now])
                    if ev_id:
                        last_id = ev_id
                    if pending is not None:
                        pending[2] = now
                        if pending[3] is None:
                            pending[3] = now
                        pending = None
                    data = []
                elif not line:
                    data = []
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            fails += 1
        finally:
            if w:
                w.close()
        if first:
            await asyncio.sleep(0.1)    # not yet started: try the same host again
            continue
        if pending is None:
            pending = [time.monotonic_ns(), None, None, None]
            rec["breaks"].append(pending)
        k = (k + 1) % len(urls)
        pending[1] = k
        if fails and fails % len(urls) == 0:
            await asyncio.sleep(0.05)   # every host refused: at most 20 rounds a second

async def main():
    o = opts()
    urls = o["urls"].split(",")
    n = int(o.get("clients", "30"))
    duration = float(o.get("duration", "30"))
    assert 1 <= n <= 2000 and 0 < duration <= 600
    deadline = time.monotonic() + duration
    recs = [{"client": i, "events": [], "breaks": []} for i in range(n)]
    ready = []
    tasks = [asyncio.ensure_future(client(i, urls, deadline, recs[i], ready)) for i in range(n)]
    while len(ready) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if len(ready) == n:
        print("ready", flush=True)
    await asyncio.gather(*tasks)
    with open(o["out"], "w") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")

asyncio.run(main())
