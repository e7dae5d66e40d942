#!/usr/bin/env bash
# CI smoke check for memory leaks: start a service, drive load, watch it with
# leakwatch, and fail the job on unbounded growth (not on a warm-up or a GC
# sawtooth).
#
#   examples/ci-smoke.sh leak    # the article's leaking server: exits 1
#   examples/ci-smoke.sh fixed   # the fixed server: exits 0
#
# Exit codes are leakwatch's: 0 no leak; 1 leaking; 3 inconclusive (watch
# longer); 2 error. Environment: LEAKWATCH (the binary; default: built here
# with cargo, wherever CARGO_TARGET_DIR puts it), DURATION (default 40s),
# INTERVAL (default 500ms), LOAD (clients per second, default 40), OUT (folder
# for smoke.csv, verdict.json and smoke.svg; default .).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-leak}
duration=${DURATION:-40s}
interval=${INTERVAL:-500ms}
load=${LOAD:-40}
out=${OUT:-.}
lw=${LEAKWATCH:-}
if [ -z "$lw" ]; then
  cargo build --release --quiet || exit 2
  target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') || exit 2
  lw=$target/release/leakwatch
fi
mkdir -p "$out"
rm -f "$out/smoke.csv"

# 1. Start the service (here the article's server, which drives its own load).
python3 examples/leaky_server.py --mode "$mode" --load "$load" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT

# 2. Watch it under load; the verdict becomes the exit code.
"$lw" --pid "$server" --interval "$interval" --duration "$duration" \
  --fail-on-leak --format json --quiet -o "$out/smoke.csv" > "$out/verdict.json"
code=$?

# 3. Keep a picture for the job's artifacts, and say what happened.
"$lw" plot "$out/smoke.csv" -o "$out/smoke.svg" > /dev/null 2>&1 || true
# The top-level verdict's fields (each metric has a reason of its own too).
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$out/verdict.json" "$1" 2>/dev/null; }
rate=$(field growth_rate_bytes_per_s)
reason=$(field reason)
case $code in
  0) echo "ci-smoke: no leak ($mode server): $reason" ;;
  1) echo "ci-smoke: LEAK in the $mode server, growing at $rate bytes/s: $reason" >&2 ;;
  3) echo "ci-smoke: inconclusive ($mode server): $reason; watch longer (DURATION)" >&2 ;;
  *) echo "ci-smoke: leakwatch failed (exit $code)" >&2 ;;
esac
exit "$code"
