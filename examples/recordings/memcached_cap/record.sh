#!/bin/sh
# Records memcached_cap: memcached -m 48, a client setting 250 new 1000-byte keys a second: fills its 48 MiB of slabs in ~3.5 minutes, then evicts (LRU) and holds.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes memcached_cap.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f memcached_cap.csv
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o memcached_cap.csv -- memcached -l 127.0.0.1 -p "$port" -U 0 -u "$(id -un)" -m 48 >/dev/null 2>&1 &
lw=$!
nice -n 10 python3 kvclient.py --port "$port" --proto memcached --rate 250 --size 1000 --duration 1500 &
client=$!
wait "$lw"
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
