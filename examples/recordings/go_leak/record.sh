#!/bin/sh
# Records go_leak: Go worker (JSON encode/decode garbage, 200 req/s) appending a 48-byte slice per request to a global: ~14 KB/s live, ~50 MiB/h of heap, about twice that in RSS (GOGC=100 heap goal).
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes go_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f go_leak.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
go build -o "$build/worker" main.go
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o go_leak.csv -- "$build/worker" -rate 200 -retain 48
