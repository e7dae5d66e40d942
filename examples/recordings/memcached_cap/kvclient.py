#!/usr/bin/env python3
"""Writes keys to a Redis or memcached server on loopback at a steady rate.

  kvclient.py --proto redis --port P --rate 200 --size 1000      # SET key:N, N always new
  kvclient.py --proto memcached --port P --rate 250 --size 1000

Every key is new (key:0, key:1, ...) and none is ever deleted or given an
expiry: a server with a memory cap evicts old ones; one without keeps them all.
Stops by itself after --duration seconds (default 1500). Standard library only.
"""
import argparse
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=["redis", "memcached"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=200.0, help="SETs a second")
    ap.add_argument("--size", type=int, default=1000, help="value bytes")
    ap.add_argument("--duration", type=float, default=1500.0)
    a = ap.parse_args()
    deadline = time.monotonic() + 60
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", a.port))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    f = sock.makefile("rb")
    t0 = time.monotonic()
    n = 0
    while True:
        now = time.monotonic() - t0
        if now > a.duration:
            break
        batch = []
        while n < now * a.rate:
            key = b"key:%d" % n
            val = (b"%d:" % n).ljust(a.size, b"v")
            if a.proto == "redis":
                batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
            else:
                batch.append(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val))
            n += 1
        if batch:
            try:
                sock.sendall(b"".join(batch))
                replies = [f.readline() for _ in batch]
            except OSError:
                return  # the server is gone: the recording is over
            for line in replies:
                if not line:
                    return
                if not (line.startswith(b"+OK") or line.startswith(b"STORED")):
                    raise SystemExit("unexpected reply: %r" % line)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
