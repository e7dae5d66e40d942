#!/usr/bin/env bash
# CI smoke check for memory leaks: start a service, drive load, watch it with
# leakwatch, and fail the job on unbounded growth (not on a warm-up or a GC
# sawtooth).
#
#   examples/ci-smoke.sh leak    # the article's leaking server: exits 1
#   examples/ci-smoke.sh fixed   # the fixed server: exits 0
#
# Exit codes are leakwatch's: 0 no leak; 1 leaking; 3 inconclusive (watch
# longer); 2 error. Environment: LEAKWATCH (the binary; default
# target/release/leakwatch, else leakwatch on PATH), DURATION (default 40s),
# INTERVAL (default 500ms), LOAD (clients per second, default 40), OUT (folder
# for smoke.csv, verdict.json and smoke.svg; default .).
set -u
cd "$(dirname "$0")/.."
mode=${1:-leak}
duration=${DURATION:-40s}
interval=${INTERVAL:-500ms}
load=${LOAD:-40}
out=${OUT:-.}
lw=${LEAKWATCH:-}
if [ -z "$lw" ]; then
  if [ -x target/release/leakwatch ]; then lw=target/release/leakwatch; else lw=leakwatch; fi
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
rate=$(sed -n 's/.*"growth_rate_bytes_per_s": \([-0-9.e+]*\).*/\1/p' "$out/verdict.json")
reason=$(sed -n 's/.*"reason": "\(.*\)",*$/\1/p' "$out/verdict.json")
case $code in
  0) echo "ci-smoke: no leak ($mode server): $reason" ;;
  1) echo "ci-smoke: LEAK in the $mode server, growing at $rate bytes/s: $reason" >&2 ;;
  3) echo "ci-smoke: inconclusive ($mode server): $reason; watch longer (DURATION)" >&2 ;;
  *) echo "ci-smoke: leakwatch failed (exit $code)" >&2 ;;
esac
exit "$code"
