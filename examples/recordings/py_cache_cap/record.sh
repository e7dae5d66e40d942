#!/bin/sh
# Records py_cache_cap: CPython worker with an LRU cache of 10,000 results (2 KiB each) keyed by customer: fills over ~5 minutes to about 25 MiB, then evicts and holds.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes py_cache_cap.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f py_cache_cap.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_cache_cap.csv -- python3 worker.py --mode cache --rate 40 --retain 2048 --cache-cap 10000 --keys 200000
