#!/usr/bin/env python3
"""cluster_client.py -- an SSE client that moves to another host when its
own goes away, resuming with Last-Event-ID (tests/integration/cluster.sh).

    cluster_client.py [--last ID] [--hold FILE] OUT STOP SECONDS URL [URL...]

Connects to the first URL; whenever the stream ends, fails, answers other
than 200 or is silent for IDLE_S (the route's heartbeat is 1 s), it
connects to the next URL in the list (round robin) with the Last-Event-ID
it last saw (at first: --last ID, if given), as a browser behind a load
balancer would.  With --hold FILE, it waits after a stream ends until
FILE exists before it reconnects (as a browser with a long retry: the
test publishes meanwhile, so the events missed must come from the replay).  It stops once an
event whose data contains STOP has arrived, or after SECONDS (then it
exits 1).  OUT gets one JSON object a line, flushed as they come:
    {"conn": HOST, "status": 200, "last": "4000000000000012"}  each attempt
    {"error": "..."}                                           a failed one
    {"id": "...", "data": "..."}                               each event
    {"stop": true} or {"timeout": true}                        the end
Bounded: every wait has a deadline; attempts are at least 0.1 s apart.
"""
import http.client, json, os, socket, sys, time, urllib.parse

IDLE_S = 4.0

def main():
    args, last, hold = sys.argv[1:], None, None
    while args[0].startswith("--"):
        if args[0] == "--last":
            last = args[1]
        elif args[0] == "--hold":
            hold = args[1]
        args = args[2:]
    out_path, stop, seconds, urls = args[0], args[1], float(args[2]), args[3:]
    end = time.monotonic() + seconds
    out = open(out_path, "a")
    def put(o):
        out.write(json.dumps(o) + "\n")
        out.flush()
    i = 0
    while time.monotonic() < end:
        url = urls[i % len(urls)]
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        headers = {"Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        started = time.monotonic()
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=IDLE_S)
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            put({"conn": u.hostname, "status": r.status, "last": last})
            if r.status == 200:
                buf, cur_id, data, has_data = b"", None, [], False
                while time.monotonic() < end:
                    try:
                        chunk = r.read1(65536)
                    except (socket.timeout, TimeoutError):
                        put({"error": "idle %.0f s on %s" % (IDLE_S, u.hostname)})
                        break
                    if not chunk:
                        put({"error": "eof on %s" % u.hostname})
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        line = line.rstrip(b"\r").decode()
                        if line.startswith("id:"):
                            cur_id = line[3:].lstrip(" ")
                        elif line.startswith("data:"):
                            v = line[5:]
                            data.append(v[1:] if v.startswith(" ") else v)
                            has_data = True
                        elif line == "":
                            if cur_id is not None:
                                last = cur_id
                            if has_data:
                                d = "\n".join(data)
                                put({"id": cur_id, "data": d})
                                if stop in d:
                                    put({"stop": True})
                                    return 0
                            cur_id, data, has_data = None, [], False
            c.close()
        except OSError as e:
            put({"error": "%s on %s" % (e, u.hostname)})
        except http.client.HTTPException as e:
            put({"error": "%r on %s" % (e, u.hostname)})
        i += 1
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
        while hold and not os.path.exists(hold) and time.monotonic() < end:
            time.sleep(0.05)
    put({"timeout": True})
    return 1

if __name__ == "__main__":
    sys.exit(main())
