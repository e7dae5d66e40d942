#!/usr/bin/env python3
"""A parent that forks --workers worker processes and waits on them (watch it
with leakwatch --children). Each worker takes --rate jobs a second, each job
building short-lived garbage. With --leaky-worker K, worker K also appends
each job's result (about --retain bytes) to a list it never trims; the other
workers and the parent keep nothing. On SIGTERM the parent ends its workers.

  tree.py --workers 3                         # no leak anywhere
  tree.py --workers 3 --leaky-worker 1        # worker 1 leaks
"""
import argparse
import json
import os
import random
import signal
import sys
import time


def work(index, a):
    rng = random.Random(index)
    kept = []  # only used by the leaky worker
    leaky = index == a.leaky_worker
    t0 = time.monotonic()
    job = 0
    while True:
        now = time.monotonic() - t0
        while job < now * a.rate:
            doc = {"id": job, "rows": [[rng.random() for _ in range(8)] for _ in range(30)]}
            parsed = json.loads(json.dumps(doc))
            result = {"id": job, "sum": sum(map(sum, parsed["rows"]))}
            if leaky:
                result["payload"] = os.urandom(a.retain)
                kept.append(result)
            job += 1
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--retain", type=int, default=300)
    ap.add_argument("--leaky-worker", type=int, default=-1)
    a = ap.parse_args()
    pids = []
    for i in range(a.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            work(i, a)
            os._exit(0)
        pids.append(pid)

    def stop(*_):
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        os.wait()  # a worker that dies is not restarted
        stop()


if __name__ == "__main__":
    main()
