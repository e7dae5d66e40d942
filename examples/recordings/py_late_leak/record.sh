#!/bin/sh
# Records py_late_leak: CPython worker that keeps nothing for 5 minutes, then appends each result (256-byte payload) to a global list: ~55 MiB/h from t=300 s.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=14m] ./record.sh
# Writes py_late_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-14m}
rm -f py_late_leak.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_late_leak.csv -- python3 worker.py --mode leak --rate 30 --retain 256 --onset 300
