#!/bin/sh
# Records jvm_g1_fixed: The G1 worker keeping nothing: heap grows to its working size and G1 cycles it.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes jvm_g1_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f jvm_g1_fixed.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
javac -d "$build" Worker.java
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o jvm_g1_fixed.csv -- java -Xms64m -Xmx384m -XX:+UseG1GC -cp "$build" Worker --rate 100 --retain 0
