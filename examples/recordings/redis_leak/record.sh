#!/bin/sh
# Records redis_leak: redis-server with no memory cap, a client SETting 20 new 1000-byte keys a second, never deleted: ~22 KB/s, ~80 MiB/h for the whole run.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes redis_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f redis_leak.csv
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o redis_leak.csv -- redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --logfile "" >/dev/null 2>&1 &
lw=$!
nice -n 10 python3 kvclient.py --port "$port" --proto redis --rate 20 --size 1000 --duration 1500 &
client=$!
wait "$lw"
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
