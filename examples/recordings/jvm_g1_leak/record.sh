#!/bin/sh
# Records jvm_g1_leak: Java 17 G1 worker (-Xmx384m) adding a byte[160] per request to a static list at 100 req/s: ~18 KB/s, ~62 MiB/h.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes jvm_g1_leak.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f jvm_g1_leak.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
javac -d "$build" Worker.java
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o jvm_g1_leak.csv -- java -Xms64m -Xmx384m -XX:+UseG1GC -cp "$build" Worker --rate 100 --retain 160
