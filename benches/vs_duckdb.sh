#!/usr/bin/env bash
# leakwatch analyze and plot against DuckDB on the same log, side by side in
# one run (issue 22). `bash benches/vs_duckdb.sh` (ROWS=N for another size;
# the default 5,000,000 rows make a 299 MB log with the README's schema).
#
# It builds leakwatch, writes the log with `examples/big_log.rs`, installs
# the `duckdb` Python package into a virtual environment under target/ if
# it is missing, then runs each command ROUNDS times (default 3) in turn and
# prints the best wall time of each, the ratios and leakwatch's peak RSS:
#   - leakwatch analyze --format json            (the verdict on every metric column)
#   - leakwatch plot -o x.svg
#   - DuckDB, as a user runs it: python3 -c "import duckdb; SELECT regr_slope(...)"
#   - DuckDB's query alone (timed inside Python, after its import)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-5000000}
rounds=${ROUNDS:-3}
cargo build --release --quiet --bin leakwatch --example big_log
venv=target/bench-venv
if ! "$venv/bin/python3" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/examples/big_log "$rows" > "$dir/big.csv"
exec "$venv/bin/python3" benches/vs_duckdb.py "$dir/big.csv" "$rounds"
