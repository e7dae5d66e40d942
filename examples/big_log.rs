//! Writes a large leakwatch CSV log on stdout: ROWS samples at 10 ms of a
//! slow leak under a GC sawtooth, for timing `analyze` and `plot` (and the
//! same query in other tools) on logs of millions of rows.
//!
//! `cargo run --release --example big_log -- [ROWS] > big.csv` (default
//! 5,000,000 rows, about 300 MB).

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    writeln!(f, "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes").unwrap();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    for i in 0..rows {
        let ms = i * 10;
        let ts = humantime::format_rfc3339_millis(t0 + Duration::from_millis(ms));
        let rss = 200_000_000 + i * 3 + (i % 3000) * 20_000;
        writeln!(
            f,
            "{ts},{}.{:03},4242,{rss},{}",
            ms / 1000,
            ms % 1000,
            rss * 3
        )
        .unwrap();
    }
}
