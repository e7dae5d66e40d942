#!/bin/sh
# Records jvm_serial_fixed: The SerialGC worker keeping nothing: young-gen churn plus recent responses promoted and collected (old-gen sawtooth).
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes jvm_serial_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f jvm_serial_fixed.csv
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT INT TERM
javac -d "$build" Worker.java
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q -o jvm_serial_fixed.csv -- java -Xms64m -Xmx384m -XX:+UseSerialGC -cp "$build" Worker --rate 100 --retain 0
