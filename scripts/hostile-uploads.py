#!/usr/bin/env python3
"""Bounded work under hostile uploads: N concurrent ~8 MB alias-amplified YAML specs against a
running control plane, sampling its RSS. Not a test (it measures); run it by hand:

    BARBACANE_CONTROL_ADMIN_TOKEN=t DATABASE_URL=... barbacane-control serve --listen 127.0.0.1:19191 &
    scripts/hostile-uploads.py http://127.0.0.1:19191 <PID> [N=50]

The token is read from BARBACANE_CONTROL_ADMIN_TOKEN. Each upload should end 422 (the
document is not a valid spec) or 503 `busy` (no check slot within 30 s; the server answers
before reading the body, so the client may see a broken pipe instead).
"""
import json, os, sys, threading, time, urllib.error, urllib.request

url, pid = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
token = os.environ.get("BARBACANE_CONTROL_ADMIN_TOKEN", "")
auth = {"Authorization": f"Bearer {token}"} if token else {}


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))


req = urllib.request.Request(f"{url}/projects", data=b'{"name":"hostile-%d"}' % time.time_ns(),
                             headers={"Content-Type": "application/json", **auth}, method="POST")
project = json.load(urllib.request.urlopen(req))["id"]
# An anchor holding a long list, referenced many times: small to send, large once expanded.
anchor = "x: &a [" + ",".join(['"' + "y" * 64 + '"'] * 2000) + "]\n"
refs = "".join(f"k{i}: *a\n" for i in range(8_000_000 // 12))
doc = ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n" + anchor + refs).encode()
results = []


def upload(i):
    r = urllib.request.Request(f"{url}/projects/{project}/specs?name=s{i}.yaml", data=doc, method="POST",
                               headers={"Content-Type": "application/yaml", **auth})
    try:
        with urllib.request.urlopen(r, timeout=600) as resp:
            results.append(str(resp.status))
    except urllib.error.HTTPError as e:
        results.append(str(e.code))
    except OSError as e:
        results.append(type(e).__name__)


base = peak = rss_kib()
threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    peak = max(peak, rss_kib())
    time.sleep(0.05)
time.sleep(3)
counts = {r: results.count(r) for r in sorted(set(results))}
print(f"{n} uploads of {len(doc) / 1e6:.1f} MB: RSS before {base // 1024} MiB, "
      f"peak {peak // 1024} MiB, 3 s after {rss_kib() // 1024} MiB; outcomes {counts}")
