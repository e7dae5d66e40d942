//! Writes a large leakwatch CSV log on stdout: ROWS samples at 10 ms of a
//! slow leak under a GC sawtooth, for timing `analyze` and `plot` (and the
//! same query in other tools) on logs of millions of rows.
//!
//! `cargo run --release --example big_log -- [ROWS] > big.csv` (default
//! 5,000,000 rows, about 300 MB).

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    if let Err(e) = leakwatch::synth::write_big_log(rows, std::io::stdout().lock()) {
        eprintln!("big_log: {e}");
        std::process::exit(2);
    }
}
