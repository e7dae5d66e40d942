#!/usr/bin/env python3
"""The article's TCP server, in every variant, with its own load.

Each connection is wrapped in a ``Connection`` object. In the leaking version it
is also appended to the module-level ``_CONNECTIONS`` list and never removed,
so every closed connection stays alive with its buffers. The fixed version
removes it on close. The cycle versions drop it from the list but give it a
reference cycle: ``gc`` collects those (memory saws up and down around a flat
floor), unless ``gc.disable()`` was called, when they leak too. The sockets
version forgets the ``Connection`` but never closes the socket, so it leaks
a file descriptor per client; its memory grows too, but slowly: only the small
socket objects kept in ``_SOCKETS`` (about +13 MiB/h at 40 clients a second,
which leakwatch also calls leaking).

    python3 examples/leaky_server.py --mode leak --load 40
    leakwatch -i 500ms -d 40s -- python3 examples/leaky_server.py --mode fixed --load 40

``--load N`` starts a client thread that connects, sends a packet and
disconnects N times a second, so a single command shows the behaviour. Without
it the server just serves; drive it with ``--client-only --port P``.
"""

import argparse
import gc
import socket
import sys
import threading
import time

# The article's culprit: a module-level container that outlives every connection.
_CONNECTIONS = []
# The sockets variant keeps only the sockets, never closing them.
_SOCKETS = []

BUFFER_BYTES = 16 * 1024


class Handler:
    """Per-connection protocol state; points back at its connection (a cycle)."""

    def __init__(self, connection):
        self.connection = connection


class Connection:
    """One client connection with its buffers, as servers usually keep them."""

    def __init__(self, sock, addr, cycle):
        self.sock = sock
        self.addr = addr
        self.buffer = bytearray(BUFFER_BYTES)
        self.received = b""
        if cycle:
            self.handler = Handler(self)

    def serve(self):
        self.received = self.sock.recv(4096)
        self.buffer[: len(self.received)] = self.received
        self.sock.sendall(b"ok " + self.received[:32])

    def close(self):
        self.sock.close()


def serve_forever(listener, mode):
    cycle = mode in ("cycles", "cycles-nogc")
    while True:
        sock, addr = listener.accept()
        conn = Connection(sock, addr, cycle)
        if mode in ("leak", "fixed"):
            _CONNECTIONS.append(conn)
        try:
            conn.serve()
        except OSError:
            pass
        if mode == "sockets":
            _SOCKETS.append(sock)  # never closed: a file descriptor per client
            continue
        conn.close()
        if mode == "fixed":
            _CONNECTIONS.remove(conn)
        # leak: still in _CONNECTIONS; cycles: freed by gc; cycles-nogc: never freed.


def drive_load(host, port, rate, count=None):
    """Connects, sends a packet and disconnects `rate` times a second (`count`
    times in all, if given)."""
    period = 1.0 / rate
    next_at = time.monotonic()
    payload = b"x" * 512
    done = 0
    while count is None or done < count:
        done += 1
        try:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(payload)
                c.recv(64)
        except OSError as e:
            print(f"client: {e}", file=sys.stderr)
            time.sleep(0.5)
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--mode",
        choices=["leak", "fixed", "cycles", "cycles-nogc", "sockets"],
        default="leak",
        help="which version of the server to run (default: leak)",
    )
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    p.add_argument("--load", type=float, default=0, help="clients per second to drive itself (default: none)")
    p.add_argument("--client-only", action="store_true", help="only drive load against --port")
    p.add_argument(
        "--connections",
        type=int,
        default=None,
        help="with --client-only: make this many connections, then exit (for leakwatch repeat)",
    )
    args = p.parse_args()

    if args.client_only:
        drive_load("127.0.0.1", args.port, args.load or 10, args.connections)
        return
    if args.mode == "cycles-nogc":
        gc.disable()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)
    port = listener.getsockname()[1]
    print(f"leaky_server: mode={args.mode} listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    if args.load > 0:
        t = threading.Thread(target=drive_load, args=("127.0.0.1", port, args.load), daemon=True)
        t.start()
    try:
        serve_forever(listener, args.mode)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
