#!/bin/sh
# Records redis_cap: redis-server with --maxmemory 48mb allkeys-lru, a client SETting 200 new 1000-byte keys a second: rises to the cap in ~4 minutes, then evicts and holds.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes redis_cap.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f redis_cap.csv
port=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o redis_cap.csv -- redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --logfile "" --maxmemory 48mb --maxmemory-policy allkeys-lru >/dev/null 2>&1 &
lw=$!
nice -n 10 python3 kvclient.py --port "$port" --proto redis --rate 200 --size 1000 --duration 1500 &
client=$!
wait "$lw"
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
