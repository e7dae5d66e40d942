#!/bin/sh
# Records c_slow_leak: The C loop at 20 req/s never freeing a 112-byte block per request: ~2.5 KB/s, ~9 MiB/h (about 2 MiB over the run).
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=15m] ./record.sh
# Writes c_slow_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-15m}
rm -f c_slow_leak.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
gcc -O2 -o "$build/worker" worker.c
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o c_slow_leak.csv -- "$build/worker" --rate 20 --leak 112
