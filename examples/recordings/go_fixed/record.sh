#!/bin/sh
# Records go_fixed: The same Go worker keeping nothing beyond a fixed ring of recent responses.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes go_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f go_fixed.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
go build -o "$build/worker" main.go
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o go_fixed.csv -- "$build/worker" -rate 200 -retain 0
