//! The detector's finding in words: one sentence a person can check against
//! a plot.

use crate::detector::{Finding, Hold, Verdict};
use crate::units::{Quantity, format_secs, format_span};

/// The sentence for `v`, on a series of `q`.
pub fn reason(v: &Verdict, q: Quantity) -> String {
    let rate = |r: f64| q.rate(r, "h");
    let val = |x: f64| q.value(x);
    let secs = format_secs;
    let floor = match v.period_s {
        Some(p) => format!("the floor under a {} swing", secs(p)),
        None => "the floor".to_string(),
    };
    match v.finding {
        Finding::NoSamples => "no samples to judge".to_string(),
        Finding::AllInWarmup { samples: 1 } => "the one sample falls inside the warm-up".into(),
        Finding::AllInWarmup { samples } => {
            format!("all {samples} samples fall inside the warm-up")
        }
        Finding::TooFewSamples { judged, needed } => format!(
            "only {} to judge; at least {needed} are needed",
            plural(judged, "sample")
        ),
        Finding::SwingTooLong { period_s, need_s } => format!(
            "memory swings with a period of about {}; judging its floor needs a watch of at least {}",
            secs(period_s),
            secs(need_s)
        ),
        Finding::TooShort { judged_s, need_s } => format!(
            "{} of data is too short to judge; watch at least {}",
            secs(judged_s),
            secs(need_s)
        ),
        Finding::StillRising {
            rise,
            span_s,
            rate: r,
            z,
        } => format!(
            "{floor} rose steadily by {} over the last {} ({}, {}) and is still rising",
            val(rise),
            format_span(span_s),
            rate(r),
            z_text(z)
        ),
        Finding::LevelledOff {
            rise,
            span_s,
            recent_rate,
            recent_s,
        } => format!(
            "{floor} rose by {} over the last {} but has levelled off: over the last {} its rate is {}",
            val(rise),
            format_span(span_s),
            format_span(recent_s),
            rate(recent_rate)
        ),
        Finding::Fell {
            fall,
            span_s,
            rate: r,
        } => format!(
            "{floor} fell by {} over the last {} ({})",
            val(fall),
            format_span(span_s),
            rate(r)
        ),
        Finding::Unchanged { span_s } => {
            format!(
                "{floor} did not change over the last {}",
                format_span(span_s)
            )
        }
        Finding::HeldWithin {
            within,
            span_s,
            rate: r,
            min_rate,
        } => format!(
            "{floor} held within {} over the last {} ({}, below the {} threshold)",
            val(within),
            format_span(span_s),
            rate(r),
            rate(min_rate)
        ),
        _ => uncertain(v.finding, &floor, q),
    }
}

/// The sentences for findings of doubt: inconclusive growth, and growth that
/// did not stand out.
fn uncertain(f: Finding, floor: &str, q: Quantity) -> String {
    let rate = |r: f64| q.rate(r, "h");
    let val = |x: f64| q.value(x);
    match f {
        Finding::FewSwings {
            blocks,
            swings,
            up_to,
            after_warmup,
        } => format!(
            "{floor} is judged in only {blocks} blocks (about {}){}: too few to rule out growth of up to {}",
            plural(swings as u64, "swing"),
            if after_warmup {
                " of the run after its warm-up"
            } else {
                ""
            },
            rate(up_to)
        ),
        Finding::NotRuledOut {
            rate: r,
            slowing,
            from,
            up_to,
            min_rate,
            span_s,
        } => not_ruled_out(floor, q, (r, [from, up_to], span_s), min_rate, slowing),
        Finding::MayBeRising {
            rate: r,
            z,
            span_s,
            held,
        } => may_be_rising(floor, q, (r, z, span_s), held),
        Finding::CreptUp {
            rise,
            span_s,
            rate: r,
            noise,
            z,
            z_needed,
        } => format!(
            "{floor} crept up by {} over the last {} ({}), not significant against its noise of {} ({}, {z_needed} needed to suspect growth)",
            val(rise),
            format_span(span_s),
            rate(r),
            val(noise),
            z_text(z)
        ),
        Finding::NoGrowth {
            noise,
            span_s,
            rate: r,
            z,
        } => format!(
            "{floor} shows no growth beyond its noise of {} over the last {} ({}, {})",
            val(noise),
            format_span(span_s),
            rate(r),
            z_text(z)
        ),
        Finding::Wanders { moved, span_s } => format!(
            "{floor} moved by {} over the last {} but stayed within its earlier range: it wanders, it does not climb",
            val(moved),
            format_span(span_s)
        ),
        Finding::LevellingOff {
            rise,
            span_s,
            recent_rate,
            recent_s,
            curve_rate,
        } => match curve_rate {
            // The curve is fitted to the whole floor: its rise is no
            // window's, and the window shown is the recent part.
            Some(now) => format!(
                "{floor} follows a warm-up curve that is levelling off, rising {} now; over the last {} its rate is {}",
                rate(now),
                format_span(recent_s),
                rate(recent_rate)
            ),
            None => format!(
                "{floor} rose by {} over the last {} but is levelling off: over the last {} its rate is {}",
                val(rise),
                format_span(span_s),
                format_span(recent_s),
                rate(recent_rate)
            ),
        },
        other => format!("{other:?}"),
    }
}

/// Growth at `min_rate` not ruled out: the window's rate `r`, its 95%
/// interval and length; `slowing`: the growth slows as a warm-up does.
fn not_ruled_out(
    floor: &str,
    q: Quantity,
    (r, ci, span_s): (f64, [f64; 2], f64),
    min_rate: f64,
    slowing: bool,
) -> String {
    let rate = |r: f64| q.rate(r, "h");
    let grew = format!("{floor} grew at {} over {}", rate(r), format_span(span_s));
    if ci[0] >= min_rate {
        // Faster than a leak's minimum, but not as a leak grows.
        format!(
            "{grew}, faster than a leak's {} (95% interval {} to {}), but {}",
            rate(min_rate),
            rate(ci[0]),
            rate(ci[1]),
            if slowing {
                "is slowing as a warm-up does: not levelled off yet, nor a steady climb"
            } else {
                "not yet as a steady climb"
            }
        )
    } else if r >= min_rate {
        format!(
            "{grew}, but its 95% interval, {} to {}, reaches both below and above a leak's {}",
            rate(ci[0]),
            rate(ci[1]),
            rate(min_rate)
        )
    } else {
        format!(
            "{grew}, but growth of up to {} is not ruled out (a leak is at least {})",
            rate(ci[1]),
            rate(min_rate)
        )
    }
}

/// The sentence for growth that may be rising at rate `r` (with its `z`)
/// over `span_s`, and what holds it back from `leaking`.
fn may_be_rising(floor: &str, q: Quantity, (r, z, span_s): (f64, f64, f64), held: Hold) -> String {
    let rate = |r: f64| q.rate(r, "h");
    let val = |x: f64| q.value(x);
    let head = format!("{floor} may be rising ({}, {})", rate(r), z_text(z));
    let over = format_span(span_s);
    match held {
        Hold::Significance { needed, .. } => {
            format!("{head} but not yet significantly over {over} (z of {needed:.1} needed)")
        }
        Hold::Noise { rise, noise } => format!(
            "{head} but its rise of {} over {over} is not yet clear of the noise ({})",
            val(rise),
            val(noise)
        ),
        Hold::Sampling { rise, drift } => format!(
            "{head} but its rise of {} over {over} is not yet more than sampling the swing at few points can fake ({})",
            val(rise),
            val(drift)
        ),
        Hold::Swing { rise, swing } => format!(
            "{head} but its rise over {over}, at least {} at the interval's low end, is not yet more than the fall of {} it has shown: it may be a swing's rising phase",
            val(rise),
            val(swing)
        ),
        Hold::NoNewHigh { below } => {
            format!("{head} but is still {} under its earlier high", val(below))
        }
        Hold::OneStep => {
            format!("{head} but only in the second half of the last {over}: one step so far")
        }
        Hold::Slowing { recent } => format!("{head} but has slowed to {} lately", rate(recent)),
    }
}

/// The z score for people: `z = 3.4`, or `z > 999` for growth without noise.
fn z_text(z: f64) -> String {
    if z > 999.0 {
        "z > 999".to_string()
    } else if z < -999.0 {
        "z < -999".to_string()
    } else {
        format!("z = {z:.1}")
    }
}

/// `n` things: `1 sample`, `2 samples`.
pub fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_numbers() {
        assert_eq!(z_text(f64::INFINITY), "z > 999");
        assert_eq!(z_text(f64::NEG_INFINITY), "z < -999");
        assert_eq!(z_text(3.04), "z = 3.0");
        assert_eq!(plural(1, "sample"), "1 sample");
        assert_eq!(plural(0, "sample"), "0 samples");
    }
}
