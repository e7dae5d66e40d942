#!/bin/sh
# Records c_fixed: The C loop freeing everything (fixed size classes, no fragmentation): flat after the ring of recent responses fills.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes c_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f c_fixed.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
gcc -O2 -o "$build/worker" worker.c
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o c_fixed.csv -- "$build/worker" --rate 100 --leak 0
