"""Runs leakwatch and DuckDB on one log in turn; see vs_duckdb.sh."""
import os, subprocess, sys, time

log, rounds = sys.argv[1], int(sys.argv[2])
lw = "target/release/leakwatch"
svg = log + ".svg"
query = f"SELECT regr_slope(rss_bytes, elapsed_s) FROM read_csv('{log}')"
duck_script = (
    "import time, duckdb\n"
    "t = time.perf_counter()\n"
    f"r = duckdb.sql(\"{query}\").fetchall()\n"
    "print(time.perf_counter() - t, r)\n"
)
commands = {
    "leakwatch analyze --format json": [lw, "analyze", log, "--format", "json"],
    "leakwatch plot -o x.svg": [lw, "plot", log, "-o", svg, "--force"],
    "DuckDB (python3 -c, import included)": [sys.executable, "-c", duck_script],
}


def run(argv):
    """Wall seconds, CPU seconds, peak RSS (MiB) and stdout of one run."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out


best = {name: (float("inf"), 0.0, 0.0) for name in commands}
query_best = float("inf")
verdicts = set()
for _ in range(rounds):
    for name, argv in commands.items():
        wall, cpu, rss, out = run(argv)
        if wall < best[name][0]:
            best[name] = (wall, cpu, rss)
        if name.startswith("DuckDB"):
            query_best = min(query_best, float(out.split()[0]))
        elif "analyze" in name:
            verdicts.add(out)

size = os.path.getsize(log)
with open(log, "rb") as f:
    nrows = sum(1 for _ in f) - 1
print(f"log: {nrows} rows, {size / 1e6:.0f} MB; best of {rounds} runs each, in turn; {os.cpu_count()} cores")
for name, (wall, cpu, rss) in best.items():
    print(f"  {name:40} {wall:6.3f} s wall  {cpu:6.3f} s CPU  peak {rss:6.1f} MiB")
print(f"  {'DuckDB query alone (after import)':40} {query_best:6.3f} s wall")
duck = best["DuckDB (python3 -c, import included)"][0]
a, p = best["leakwatch analyze --format json"][0], best["leakwatch plot -o x.svg"][0]
print(f"analyze / DuckDB: {a / duck:.2f} (target <= 0.5); against the query alone: {a / query_best:.2f}")
print(f"plot / DuckDB:    {p / duck:.2f} (target <= 1.0); against the query alone: {p / query_best:.2f}")
print(f"analyze gave the same verdict every run: {len(verdicts) == 1}")
