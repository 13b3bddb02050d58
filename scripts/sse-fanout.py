#!/usr/bin/env python3
"""SSE fan-out driver for scripts/load-events.sh (standard library only).

Opens N Server-Sent Events streams on the gateway, waits until every one is subscribed,
publishes M messages through the gateway's publish route, and waits until every stream has
received all M events. Prints the gateway's resident memory before the streams were opened,
with them open, and after the messages went through.

Usage: sse-fanout.py HOST PORT STREAM_PATH PUBLISH_PATH GATEWAY_PID [N=1000] [M=20]
"""
import asyncio
import http.client
import json
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def subscriber(host, port, path, subscribed, want, done):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: gw\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    seen = b""
    announced = False
    events = 0
    while events < want:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError(f"stream closed after {events} events")
        seen += chunk
        if not announced and b": subscribed" in seen:
            announced = True
            subscribed.release()
        events = seen.count(b"\nevent: ")
    done.append(events)
    writer.close()


def publish(host, port, path, n):
    conn = http.client.HTTPConnection(host, port)
    for i in range(n):
        body = json.dumps({"id": f"m{i}"})
        conn.request("POST", path, body, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"publish answered {response.status}")


async def main():
    host, port, stream, publish_path, pid = sys.argv[1:6]
    n = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
    m = int(sys.argv[7]) if len(sys.argv) > 7 else 20
    port = int(port)
    before = rss_kib(pid)
    subscribed = asyncio.Semaphore(0)
    done = []
    tasks = [
        asyncio.create_task(subscriber(host, port, stream, subscribed, m, done))
        for _ in range(n)
    ]
    for _ in range(n):
        await asyncio.wait_for(subscribed.acquire(), 60)
    with_streams = rss_kib(pid)
    started = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, publish, host, port, publish_path, m)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    elapsed = time.monotonic() - started
    after = rss_kib(pid)
    delivered = sum(done)
    print(
        f"SSE fan-out: {n} subscribers x {m} messages = {delivered} events delivered "
        f"(expected {n * m}) in {elapsed:.2f}s; gateway RSS {before} KiB idle, "
        f"{with_streams} KiB with {n} streams open "
        f"({(with_streams - before) / n:.1f} KiB per stream), {after} KiB after"
    )
    if delivered != n * m:
        sys.exit(1)


asyncio.run(main())
