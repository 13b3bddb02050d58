#!/usr/bin/env python3
"""Memory held per idle keep-alive connection, and whether it comes back.

Usage: scripts/idle-connections.py PID PORT [COUNT] [PATH]

Against a running gateway (PID, traffic PORT on 127.0.0.1): reads the server's RSS, opens
COUNT connections (default 5000) that each send one GET PATH (default /hello) and read the
answer, then stay idle; reads RSS again; closes them all, waits, reads RSS; repeats the wave
once (memory the allocator kept is reused by the second wave). Prints KiB per connection.
Raise the file limit first (`ulimit -n 20000`) for both the gateway and this script.
"""

import resource
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wave(port, count, path):
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        conns.append(s)
    for s in conns:
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("a connection closed before answering")
            got += chunk
        if not got.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {got[:80]!r}")
    return conns


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    path = sys.argv[4] if len(sys.argv) > 4 else "/hello"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 100)), hard))
    base = rss_kib(pid)
    print(f"baseline RSS {base / 1024:.1f} MiB")
    for n in (1, 2):
        conns = wave(port, count, path)
        time.sleep(1)
        held = rss_kib(pid)
        print(
            f"wave {n}: {count} idle connections, RSS {held / 1024:.1f} MiB, "
            f"+{(held - base) / count:.1f} KiB per connection over the baseline"
        )
        for s in conns:
            s.close()
        samples = []
        for _ in range(6):
            time.sleep(1)
            samples.append(rss_kib(pid))
        after = samples[-1]
        print(
            f"wave {n}: closed, RSS each second for 6 s: "
            + ", ".join(f"{k / 1024:.0f}" for k in samples)
            + f" MiB ({(after - base) / 1024:+.1f} MiB over the baseline)"
        )


if __name__ == "__main__":
    main()
