#!/bin/sh
# Records py_list_fixed: The same CPython worker that drops each result: steady after start-up.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes py_list_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f py_list_fixed.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o py_list_fixed.csv -- python3 worker.py --mode fixed --rate 40
