#!/bin/sh
# Re-records one recording (or several) by name: ./record.sh py_list_leak [...]
# Each NAME/record.sh starts its program under leakwatch (-i 500ms, its own
# -d) and writes NAME/NAME.csv. Set LEAKWATCH to the leakwatch binary (default:
# `leakwatch` on PATH) and DURATION to override the length (e.g. 30s to try).
# With no name: lists the recordings.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    tail -n +2 "$here/manifest.csv" | cut -d, -f1
    exit 0
fi
for name in "$@"; do
    if [ ! -x "$here/$name/record.sh" ]; then
        echo "no recording named $name" >&2
        exit 2
    fi
    "$here/$name/record.sh"
done
