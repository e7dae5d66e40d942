#!/bin/sh
# Records jvm_serial_leak: Java 17 SerialGC worker (-Xmx384m), ~40 KB garbage per request at 100 req/s, adds a byte[300] per request to a static list: ~32 KB/s, ~110 MiB/h.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes jvm_serial_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f jvm_serial_leak.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
javac -d "$build" Worker.java
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o jvm_serial_leak.csv -- java -Xms64m -Xmx384m -XX:+UseSerialGC -cp "$build" Worker --rate 100 --retain 300
