#!/usr/bin/env python3
"""sse.py -- a strict SSE test client (stdlib only).

    sse.py URL [-H 'Name: value']... [-n EVENTS] [-t SECONDS] [--comments]
           [--status] [--raw] [--times]

Prints one JSON object per dispatched event:
    {"id": "12", "event": "task_moved", "data": "..."}
("event" is null for unnamed events, "id" the lastEventId at dispatch), and,
with --comments, {"comment": "heartbeat"} for comment lines.  With --status
the first line is {"status": 200, "headers": {...}}.  Stops after EVENTS
events, at EOF (prints {"eof": true}) or after SECONDS (prints
{"timeout": true}).  --times adds "t", seconds since the request was
sent, to each comment and event (and the status line) (to measure heartbeat intervals and
first-event delays).  Parsing follows WHATWG: CR, LF, CRLF line ends.
"""
import http.client, json, socket, sys, time, urllib.parse

def main():
    args = sys.argv[1:]
    url, headers, limit, timeout = None, {}, 10**9, 10.0
    comments = status = raw = times = False
    while args:
        a = args.pop(0)
        if a == '-H':
            k, v = args.pop(0).split(':', 1); headers[k.strip()] = v.strip()
        elif a == '-n': limit = int(args.pop(0))
        elif a == '-t': timeout = float(args.pop(0))
        elif a == '--comments': comments = True
        elif a == '--status': status = True
        elif a == '--raw': raw = True
        elif a == '--times': times = True
        else: url = a
    u = urllib.parse.urlsplit(url)
    start = time.monotonic()
    deadline = start + timeout
    def stamp(o):
        if times: o["t"] = round(time.monotonic() - start, 3)
        return json.dumps(o)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ('?' + u.query if u.query else '')
    conn.request('GET', path, headers=headers)
    resp = conn.getresponse()
    out = sys.stdout
    if status:
        print(stamp({"status": resp.status, "headers": {k.lower(): v for k, v in resp.getheaders()}}), flush=True)
    if resp.status != 200 or raw:
        body = resp.read(65536).decode('utf-8', 'replace')
        print(json.dumps({"body": body}), flush=True)
        return
    sock = resp.fp.raw._sock if hasattr(resp.fp, 'raw') else None
    n, buf, cr = 0, b'', False
    data, has_data, etype, last_id = [], False, None, ''
    def line(l):
        nonlocal data, has_data, etype, last_id, n
        if l == '':
            if has_data:
                print(stamp({"id": last_id, "event": etype, "data": '\n'.join(data)}), flush=True)
                n += 1
            data, has_data, etype = [], False, None
            return
        if l.startswith(':'):
            if comments: print(stamp({"comment": l[1:]}), flush=True)
            return
        f, _, v = l.partition(':')
        if v.startswith(' '): v = v[1:]
        if f == 'data': data.append(v); has_data = True
        elif f == 'event': etype = v
        elif f == 'id' and '\0' not in v: last_id = v
        elif f == 'retry' and v.isdigit() and comments: print(json.dumps({"retry": int(v)}), flush=True)
    while n < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            print(json.dumps({"timeout": True}), flush=True); return
        if sock: sock.settimeout(left)
        try:
            chunk = resp.read1(65536)
        except (socket.timeout, TimeoutError):
            print(json.dumps({"timeout": True}), flush=True); return
        except Exception as e:
            print(json.dumps({"error": str(e)}), flush=True); return
        if not chunk:
            print(json.dumps({"eof": True}), flush=True); return
        buf += chunk
        while True:
            i = min([x for x in (buf.find(b'\r'), buf.find(b'\n')) if x >= 0], default=-1)
            if i < 0: break
            if buf[i:i+1] == b'\r' and i + 1 == len(buf): break  # maybe CRLF split
            l = buf[:i].decode('utf-8', 'replace')
            step = 2 if buf[i:i+2] == b'\r\n' else 1
            buf = buf[i+step:]
            line(l)
            if n >= limit: return

if __name__ == '__main__':
    try:
        main()
    except BrokenPipeError:         # the caller read what it wanted (head -1)
        sys.stderr.close()
    except (ConnectionError, OSError) as e:
        print(json.dumps({"error": str(e)}), flush=True)
