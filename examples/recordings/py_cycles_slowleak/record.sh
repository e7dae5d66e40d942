#!/bin/sh
# Records py_cycles_slowleak: The gc sawtooth of py_cycles_gc plus a slow leak: 64 bytes kept per job in a global list, about 5 KB/s, ~15-20 MiB/h; the swing is 12 MiB at first, then the freed buffers stay in the heap and the floor rises slowly.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=15m] ./record.sh
# Writes py_cycles_slowleak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-15m}
rm -f py_cycles_slowleak.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_cycles_slowleak.csv -- python3 worker.py --mode cycles --rate 40 --retain 65536 --keep 64
