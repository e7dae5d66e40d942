#!/usr/bin/env bash
# The memory of a scan under a churn of short processes (issue 23, item 0):
# a shell starts about RATE processes a second, each living 0.3 s, and
# `leakwatch scan --children-of` that shell watches them at 100 ms for
# SECS seconds. Prints the scan's VmRSS after 10 s, its VmRSS and VmHWM
# (peak) at the end, and how many processes were started.
#
#   examples/churn-scan.sh [SECS] [RATE] [LEAKWATCH]
#   examples/churn-scan.sh 180 100 target/release/leakwatch
set -euo pipefail
secs=${1:-180}
rate=${2:-100}
lw=${3:-target/release/leakwatch}
pause=$(awk "BEGIN { print 1 / $rate }")
count=$(mktemp)
bash -c "n=0; while :; do sleep 0.3 & n=\$((n+1)); echo \$n > $count; sleep $pause; done" &
churn=$!
trap 'kill $churn 2>/dev/null; rm -f $count' EXIT
"$lw" scan --children-of "$churn" -i 100ms -d "${secs}s" --format json -q > ${out:-/tmp/churn-scan.json} &
scan=$!
sleep 10
early=$(awk '/VmRSS/ { print $2 }' "/proc/$scan/status")
last=""
while kill -0 "$scan" 2>/dev/null; do
    s=$(awk '/VmRSS|VmHWM/ { printf "%s ", $2 }' "/proc/$scan/status" 2>/dev/null || true)
    [ -n "$s" ] && last=$s
    sleep 1
done
wait "$scan" || true
read -r hwm rss <<< "$last"
echo "started: $(cat "$count") processes in ${secs} s"
echo "scan VmRSS at 10 s: ${early} kB; at the end: ${rss} kB; peak (VmHWM): ${hwm} kB"
python3 -c "import json; c = json.load(open('${out:-/tmp/churn-scan.json}'))['counts']; print('report: targets', c['targets'], 'exited kept', c['exited'], 'short-lived left out', c.get('exited_short_lived'), 'over the cap', c.get('exited_over_cap'))" 2>/dev/null \
  || python3 -c "import json; c = json.load(open('${out:-/tmp/churn-scan.json}'))['counts']; print('report: targets', c['targets'], 'exited', c['exited'])"
