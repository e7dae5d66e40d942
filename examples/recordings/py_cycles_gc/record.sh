#!/bin/sh
# Records py_cycles_gc: CPython jobs whose state is a reference cycle holding a 64 KiB buffer; only the cyclic gc frees them, so memory saws by tens of MiB over a flat floor.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes py_cycles_gc.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f py_cycles_gc.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_cycles_gc.csv -- python3 worker.py --mode cycles --rate 40 --retain 65536
