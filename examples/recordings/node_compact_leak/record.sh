#!/bin/sh
# Records node_compact_leak: Node handler with ~60 KB of garbage per request at 150 req/s and a 60 s warm-up cache (~60 MiB) then dropped (V8 compacts, RSS falls ~35-40% once), keeping a 700-byte string per request: ~6 MiB/min (~360 MiB/h).
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=14m] ./record.sh
# Writes node_compact_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-14m}
rm -f node_compact_leak.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o node_compact_leak.csv -- node server.js --rate 150 --warm-kb 7 --retain 700
