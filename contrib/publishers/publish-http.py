#!/usr/bin/env python3
"""publish-http.py -- publish to zsse over HTTP from Python, standard
library only: POST SPEC 4 messages to a route of "type": "publish" and
get the ids the broker assigned.

    python3 publish-http.py URL TOKEN CHANNEL EVENT JSON_DATA

TOKEN: a JWT whose "publish" claim covers CHANNEL, e.g.
    zsse token --sub app --claim 'publish=["user/*"]'
"""
import json
import sys
import urllib.error
import urllib.request


def zsse_publish(url, token, messages, timeout=10):
    """POST one message (a dict) or a list of them; returns the ids."""
    req = urllib.request.Request(
        url, data=json.dumps(messages).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)["ids"]
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"publish failed: HTTP {e.code} {e.read().decode(errors='replace')}")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: publish-http.py URL TOKEN CHANNEL EVENT JSON_DATA")
    url, token, channel, event, data = sys.argv[1:]
    try:
        ids = zsse_publish(url, token, {"channel": channel, "event": event, "data": json.loads(data)})
    except (RuntimeError, OSError) as e:
        sys.exit(str(e))
    print("\n".join(ids))
