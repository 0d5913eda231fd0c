#!/usr/bin/env python3
"""publish-zmq.py -- publish to zsse's broker over ZeroMQ from Python
(Debian: python3-zmq): one JSON message (SPEC 4) per frame to the broker's
"publish" endpoint.  Fire and forget, like `zsse publish` without --ack:
the send waits (up to 3 s) only for a connected broker; for a stored and
acknowledged publish use the HTTP route (publish-http.py).

    python3 publish-zmq.py tcp://127.0.0.1:7701 CHANNEL EVENT JSON_DATA
"""
import json
import sys

import zmq


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: publish-zmq.py ENDPOINT CHANNEL EVENT JSON_DATA")
    endpoint, channel, event, data = sys.argv[1:]
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.setsockopt(zmq.IMMEDIATE, 1)       # queue only on a live connection
    push.setsockopt(zmq.SNDTIMEO, 3000)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(endpoint)
    try:
        push.send_string(json.dumps({"channel": channel, "event": event, "data": json.loads(data)}))
    except zmq.Again:
        sys.exit(f"no broker took the message within 3 s ({endpoint})")
    finally:
        push.close()


if __name__ == "__main__":
    main()
