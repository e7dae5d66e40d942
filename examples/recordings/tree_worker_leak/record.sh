#!/bin/sh
# Records tree_worker_leak: Python parent forking 3 workers (30 jobs/s each), watched with --children; worker 1 keeps each result with a 300-byte payload: ~17 KB/s, ~55 MiB/h.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes tree_worker_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f tree_worker_leak.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q --children -o tree_worker_leak.csv -- python3 tree.py --workers 3 --rate 30 --leaky-worker 1 --retain 300
