#!/usr/bin/env python3
"""A job worker: it takes --rate jobs a second, each building short-lived
garbage (a parsed record, a few hundred small objects), and then:

  --mode leak    appends each job's result (about --retain bytes) to the
                 module-level list _HISTORY, never trimmed (a leak);
  --mode fixed   drops the result (no leak);
  --mode cache   keeps results in an LRU cache of --cache-cap entries, keyed
                 by a customer id drawn from a bigger space: it fills, then
                 evicts (a warm-up that levels off; no leak);
  --mode cycles  gives each job's state a reference cycle holding a
                 --retain-byte buffer; only the cyclic gc frees them, so
                 memory saws up and down over a flat floor (no leak);
                 with --keep N it also appends N bytes per job to
                 _HISTORY (a slow leak under the sawtooth).

--onset S (leak mode): keep nothing for the first S seconds (a late leak).
"""
import argparse
import collections
import gc
import json
import random
import signal
import sys
import time

_HISTORY = []  # the leak: a module-level list that outlives every job


class JobState:
    def __init__(self, job_id, buf):
        self.job_id = job_id
        self.buf = buf
        self.steps = [Step(self, i) for i in range(2)]


class Step:
    def __init__(self, owner, i):
        self.owner = owner  # points back: a reference cycle
        self.i = i


def do_job(job_id, rng):
    """Parse a request, compute on it: garbage that dies with the call."""
    record = {"id": job_id, "user": "u%06d" % rng.randrange(10**6),
              "items": [{"sku": "s%d" % rng.randrange(5000), "qty": rng.randrange(1, 9),
                         "price": rng.random() * 100} for _ in range(40)]}
    text = json.dumps(record)
    parsed = json.loads(text)
    total = sum(it["qty"] * it["price"] for it in parsed["items"])
    return {"id": job_id, "total": round(total, 2), "user": parsed["user"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["leak", "fixed", "cache", "cycles"], required=True)
    ap.add_argument("--rate", type=float, default=40.0, help="jobs a second")
    ap.add_argument("--retain", type=int, default=400, help="payload bytes per job")
    ap.add_argument("--onset", type=float, default=0.0)
    ap.add_argument("--keep", type=int, default=0, help="cycles mode: bytes kept per job")
    ap.add_argument("--cache-cap", type=int, default=10000)
    ap.add_argument("--keys", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    rng = random.Random(a.seed)
    cache = collections.OrderedDict()
    t0 = time.monotonic()
    job = 0
    while True:
        now = time.monotonic() - t0
        # catch up to the rate, in 20 ms steps
        while job < now * a.rate:
            result = do_job(job, rng)
            if a.mode == "leak" and now >= a.onset:
                result["payload"] = bytes(rng.getrandbits(8) for _ in range(8)) * (a.retain // 8)
                _HISTORY.append(result)
            elif a.mode == "cache":
                key = rng.randrange(a.keys)
                result["payload"] = b"%08d" % key * (a.retain // 8)
                cache[key] = result
                cache.move_to_end(key)
                while len(cache) > a.cache_cap:
                    cache.popitem(last=False)
            elif a.mode == "cycles":
                JobState(job, bytearray(a.retain))  # unreachable at once, but cyclic
                if a.keep:
                    _HISTORY.append(rng.randbytes(a.keep))
            job += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main()
