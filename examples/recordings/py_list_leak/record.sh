#!/bin/sh
# Records py_list_leak: CPython job worker (40 jobs/s of JSON garbage) appending each result with a 400-byte payload to a module-level list: about 30 KB/s, ~100 MiB/h.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes py_list_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f py_list_leak.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_list_leak.csv -- python3 worker.py --mode leak --rate 40 --retain 400
