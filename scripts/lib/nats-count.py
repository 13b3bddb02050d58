#!/usr/bin/env python3
"""Counts the messages a NATS subject delivers (standard library only; the NATS text
protocol): subscribes, prints "ready", then counts `MSG`/`HMSG` frames until it receives
SIGTERM, and prints the count.

Usage: nats-count.py PORT SUBJECT
"""
import signal
import socket
import sys

port, subject = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(f'CONNECT {{"verbose":false,"headers":true}}\r\nSUB {subject} 1\r\nPING\r\n'.encode())
count = 0
stop = False


def finish(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, finish)
buffer = b""
ready = False
sock.settimeout(0.2)
while not stop:
    try:
        chunk = sock.recv(1 << 20)
    except socket.timeout:
        continue
    if not chunk:
        break
    buffer += chunk
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            break
        line = buffer[:end]
        rest = buffer[end + 2 :]
        if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
            size = int(line.split()[-1])
            if len(rest) < size + 2:
                break
            count += 1
            buffer = rest[size + 2 :]
            continue
        if line == b"PING":
            sock.sendall(b"PONG\r\n")
        elif line == b"PONG" and not ready:
            ready = True
            print("ready", flush=True)
        buffer = rest
print(count, flush=True)
