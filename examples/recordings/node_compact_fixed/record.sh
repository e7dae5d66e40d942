#!/bin/sh
# Records node_compact_fixed: The no-leak twin of node_compact_leak: same garbage, same warm-up cache dropped at 60 s, nothing kept per request.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=14m] ./record.sh
# Writes node_compact_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-14m}
rm -f node_compact_fixed.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o node_compact_fixed.csv -- node server.js --rate 150 --warm-kb 7 --retain 0
