#!/bin/sh
# Records tree_fixed: The same forked tree with no worker keeping anything, watched with --children.
# Usage: [LEAKWATCH=/path/to/leakwatch] [DURATION=12m] ./record.sh
# Writes tree_fixed.csv beside this script (replacing an older one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
LEAKWATCH=${LEAKWATCH:-leakwatch}
DURATION=${DURATION:-12m}
rm -f tree_fixed.csv
nice -n 10 "$LEAKWATCH" -i 500ms -d "$DURATION" -q --children -o tree_fixed.csv -- python3 tree.py --workers 3 --rate 30
