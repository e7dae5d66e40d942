//! Prints one synthetic case and the detector's verdict on it, for tuning.
//! `cargo run --release --example detector_case SHAPE SEED DURATION INTERVAL`
use leakwatch::detector::{DetectorConfig, judge};
use leakwatch::synth::{Shape, generate};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let shape = Shape::ALL
        .into_iter()
        .find(|s| s.name() == a[1])
        .expect("shape");
    let s = generate(
        shape,
        a[2].parse().unwrap(),
        a[3].parse().unwrap(),
        a[4].parse().unwrap(),
    );
    let v = judge(DetectorConfig::default(), s.samples.iter().copied());
    println!(
        "{:?} {} block {:.2}s window {:.1}-{:.1}",
        v.kind,
        leakwatch::report::reason(&v, leakwatch::units::Quantity::Bytes),
        v.block_s,
        v.window_start_s,
        v.window_end_s
    );
    for (t, f) in &v.floor {
        println!("{t:8.2} {:10.3}", f / 1e6);
    }
}
