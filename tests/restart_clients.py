#!/usr/bin/env python3
"""tests/restart_clients.py URL N CHANNEL -- N EventSource-like clients for
tests/integration/restart.sh (asyncio, plain HTTP/1.0 so the body is the
raw stream).

Each client does what a browser's EventSource does: keeps the last `id:`,
obeys `retry:`, and when its stream ends waits `retry` ms and reconnects
with Last-Event-ID.  The program prints "ready" once all N streams are
open, then publishes event seq=1, 2, ... on CHANNEL twice a second (with
`zsse publish`).  Once every client has reconnected (the test restarts
zsse-fcgi meanwhile: the only streams that end), it publishes a last event, waits
until every client has it (at most 30 s), and prints one JSON line: the
reconnect times (s since the first stream ended) and, per client, the
events lost (a gap in seq) and repeated.
"""
import asyncio
import json
import resource
import sys
import time
import urllib.parse

URL, N, CHANNEL = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlsplit(URL)
HOST, PORT, PATH = u.hostname, u.port, u.path + ("?" + u.query if u.query else "")

ends = []           # monotonic times a stream ended
reconnects = []     # monotonic times a reconnect got its 200
failed = 0          # reconnects answered otherwise (a browser would give up)
open_now = 0
seqs = [[] for _ in range(N)]
back = [False] * N   # reconnected since the restart


async def client(i, gate):
    global failed, open_now
    last_id, retry, first = None, 3000, True
    while not STOP.is_set():
        try:
            async with gate if first else NOGATE:
                r, w = await asyncio.open_connection(HOST, PORT)
                hdr = "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n" % (PATH, HOST)
                if last_id:
                    hdr += "Last-Event-ID: %s\r\n" % last_id
                w.write((hdr + "\r\n").encode())
                await w.drain()
                status = await r.readline()
            if b" 200 " not in status:
                if not first:
                    failed += 1
                w.close()
                await asyncio.sleep(retry / 1000)
                continue
            while (await r.readline()) not in (b"\r\n", b"\n", b""):
                pass
            if not first:
                reconnects.append(time.monotonic())
                back[i] = True
            first = False
            open_now += 1
            ev_id, data = None, None
            while True:
                line = await r.readline()
                if not line:
                    break
                line = line.rstrip(b"\r\n").decode()
                if line == "":
                    if ev_id is not None:
                        last_id = ev_id
                    if data is not None:
                        seqs[i].append(json.loads(data)["seq"])
                    ev_id, data = None, None
                elif line.startswith("retry:"):
                    retry = int(line[6:].strip())
                elif line.startswith("id:"):
                    ev_id = line[3:].strip()
                elif line.startswith("data:") and line[5:].strip().startswith('{"seq"'):
                    data = line[5:].strip()
            open_now -= 1
            w.close()
            if not STOP.is_set():
                ends.append(time.monotonic())
            await asyncio.sleep(retry / 1000)
        except (ConnectionError, OSError):
            if not first:
                failed += 1
            await asyncio.sleep(retry / 1000)


class _NoGate:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        return False


NOGATE = _NoGate()
STOP = None


async def publish(seq):
    p = await asyncio.create_subprocess_exec(
        "zsse", "publish", "-C", CHANNEL, "-e", "tick", "-d", json.dumps({"seq": seq}))
    await p.wait()


async def main():
    global STOP
    STOP = asyncio.Event()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 1000), hard))
    gate = asyncio.Semaphore(200)
    tasks = [asyncio.create_task(client(i, gate)) for i in range(N)]
    t0 = time.monotonic()
    while open_now < N:
        if time.monotonic() - t0 > 120:
            print(json.dumps({"error": "only %d of %d streams opened" % (open_now, N)}), flush=True)
            return 1
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    seq = 0
    t1 = time.monotonic()
    # tick until every client is back after the restart (at most 120 s)
    while not all(back) and time.monotonic() - t1 < 120:
        seq += 1
        await publish(seq)
        await asyncio.sleep(0.5)
    seq += 1
    await publish(seq)
    last = seq
    t2 = time.monotonic()
    while time.monotonic() - t2 < 30 and not all(s and s[-1] == last for s in seqs):
        await asyncio.sleep(0.1)
    STOP.set()
    for t in tasks:
        t.cancel()
    t_end = min(ends) if ends else 0
    lost = repeated = 0
    for s in seqs:
        if not s:
            lost += last
            continue
        repeated += len(s) - len(set(s))
        # every seq from the first this client saw to the last published
        lost += len(set(range(s[0], last + 1)) - set(s))
    print(json.dumps({
        "streams": N, "ended": len(ends), "reconnected": len(reconnects),
        "back": sum(back), "failed": failed, "published": last,
        "lost": lost, "repeated": repeated,
        "reconnect_s": sorted(round(t - t_end, 3) for t in reconnects),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
