#!/usr/bin/env python3
"""Opens N TCP connections to HOST:PORT with nonblocking sockets and holds them.

Prints `ESTABLISHED <n>` once every connection is up (or `FAILED <reason>`), then waits until
the file GO exists, closes every socket gracefully (FIN) and prints `CLOSED <n>`.
"""
import errno
import os
import selectors
import socket
import sys
import time

host, port, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + float(os.environ.get("CONNS_TIMEOUT", "60"))
sel = selectors.DefaultSelector()
socks = []
pending = 0
up = 0
# Open in waves so the SYN backlog of neither side is the thing under test.
WAVE = 1000
while len(socks) < n or pending:
    while len(socks) < n and pending < WAVE:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        r = s.connect_ex((host, port))
        if r not in (0, errno.EINPROGRESS):
            print(f"FAILED connect #{len(socks)}: {os.strerror(r)}", flush=True)
            sys.exit(1)
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
        pending += 1
    for key, _ in sel.select(timeout=1.0):
        s = key.fileobj
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            print(f"FAILED connection: {os.strerror(err)}", flush=True)
            sys.exit(1)
        sel.unregister(s)
        pending -= 1
        up += 1
    if time.monotonic() > deadline:
        print(f"FAILED timeout with {up} of {n} up", flush=True)
        sys.exit(1)
print(f"ESTABLISHED {up}", flush=True)
while not os.path.exists(go):
    if time.monotonic() > deadline + 120:
        print("FAILED never told to close", flush=True)
        sys.exit(1)
    time.sleep(0.05)
for s in socks:
    s.close()
print(f"CLOSED {len(socks)}", flush=True)
