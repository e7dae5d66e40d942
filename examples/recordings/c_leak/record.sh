#!/bin/sh
# Records c_leak: C request loop (malloc/free scratch buffers, 100 req/s) that also mallocs 64 bytes per request and never frees them: ~8 KB/s, ~27 MiB/h.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes c_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f c_leak.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
gcc -O2 -o "$build/worker" worker.c
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o c_leak.csv -- "$build/worker" --rate 100 --leak 64
