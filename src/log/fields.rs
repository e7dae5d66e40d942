//! Reading one field of a log row: a number, or an RFC 3339 time. Each has a
//! fast path for the forms leakwatch writes (`123456789`, `12.345`,
//! `2024-05-01T12:00:00.250Z`) that gives exactly what the general parser
//! gives, and falls back to the general parser for anything else.

use std::time::Duration;

/// Powers of ten that an `f64` holds exactly.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A field's number, if it is one: what `str::parse::<f64>` makes of it,
/// spaces around it trimmed.
pub fn number(field: &[u8]) -> Option<f64> {
    match plain_decimal(field) {
        Some(v) => Some(v),
        None => std::str::from_utf8(field).ok()?.trim().parse::<f64>().ok(),
    }
}

/// `digits` or `digits.digits` with at most 15 digits in all, as the
/// correctly rounded `f64` (the mantissa and the power of ten are exact, and
/// one IEEE division rounds correctly); `None` for any other form.
#[inline]
fn plain_decimal(field: &[u8]) -> Option<f64> {
    match decimal_at(field, 0)? {
        (v, end) if end == field.len() => Some(v),
        _ => None,
    }
}

/// The plain decimal (as [`number`] reads it) that starts `line` at `i`
/// and ends at a comma or the line's end, and where it ends; `None` for a
/// field of any other form.
#[inline]
pub fn decimal_at(line: &[u8], i: usize) -> Option<(f64, usize)> {
    let mut mantissa: u64 = 0;
    let mut point = None;
    let mut end = i;
    while let Some(&b) = line.get(end) {
        match b {
            b'0'..=b'9' => mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0')),
            b'.' if point.is_none() && end > i => point = Some(end),
            b',' => break,
            _ => return None,
        }
        end += 1;
    }
    let digits = end - i - usize::from(point.is_some());
    if digits == 0 || digits > 15 {
        return None;
    }
    // Below 10^15, so exact as an i64, whose conversion is one instruction.
    let m = mantissa as i64 as f64;
    match point {
        None => Some((m, end)),
        Some(p) if p + 1 < end => Some((m / POW10[end - p - 1], end)),
        Some(_) => None,
    }
}

/// An RFC 3339 UTC time as seconds since the Unix epoch, as
/// [`parse_timestamp`](super::parse_timestamp) reads it.
pub fn timestamp(field: &[u8]) -> Option<f64> {
    Times::default().read(field)
}

/// Reads the times of one log's rows, which mostly share their date, hour
/// and minute with the row before: those are worked out once a minute.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// `YYYY-MM-DDTHH:MM:` of the last millisecond time read, and its
    /// seconds since the epoch.
    minute: Option<([u8; 17], u64)>,
}

impl Times {
    /// The time in `field`, as [`timestamp`] reads it.
    #[inline]
    pub fn read(&mut self, field: &[u8]) -> Option<f64> {
        if let (Some((prefix, base)), Some(head)) = (&self.minute, field.get(..17))
            && head == prefix
            && field.len() == 24
            && let Some((sec, millis)) = seconds_millis(&field[17..])
        {
            return Some(Duration::new(base + sec, millis).as_secs_f64());
        }
        match millis_utc(field) {
            Some(d) => {
                let mut prefix = [0u8; 17];
                prefix.copy_from_slice(&field[..17]);
                self.minute = Some((prefix, d.as_secs() - d.as_secs() % 60));
                Some(d.as_secs_f64())
            }
            None => super::parse_timestamp(std::str::from_utf8(field).ok()?),
        }
    }
}

/// `SS.mmmZ` with a second below 60: the second and the nanoseconds.
#[inline]
fn seconds_millis(b: &[u8]) -> Option<(u64, u32)> {
    let d = |k: usize| u64::from(b[k].wrapping_sub(b'0'));
    if b.len() != 7 || b[2] != b'.' || b[6] != b'Z' || [0, 1, 3, 4, 5].iter().any(|&k| d(k) > 9) {
        return None;
    }
    let sec = d(0) * 10 + d(1);
    let millis = d(3) * 100 + d(4) * 10 + d(5);
    (sec < 60).then_some((sec, (millis * 1_000_000) as u32))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from 1970 on, with a valid date and a second
/// below 60, as the time since the epoch (humantime's arithmetic); `None`
/// for any other form, which the general parser then reads.
fn millis_utc(b: &[u8]) -> Option<Duration> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    // Each digit's value; any byte that is no digit makes one above 9.
    let d = |k: usize| u64::from(b[k].wrapping_sub(b'0'));
    let all = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    if all.iter().any(|&k| d(k) > 9) {
        return None;
    }
    let (year, month, day) = (
        d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3),
        d(5) * 10 + d(6),
        d(8) * 10 + d(9),
    );
    let (hour, minute, second) = (d(11) * 10 + d(12), d(14) * 10 + d(15), d(17) * 10 + d(18));
    let millis = d(20) * 100 + d(21) * 10 + d(22);
    if year < 1970 || hour > 23 || minute > 59 || second > 59 || !(1..=12).contains(&month) {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    const BEFORE: [u64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    const DAYS: [u64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let m = (month - 1) as usize;
    let in_month = DAYS[m] + u64::from(leap && month == 2);
    if day == 0 || day > in_month {
        return None;
    }
    let ydays = BEFORE[m] + day - 1 + u64::from(leap && month > 2);
    let leap_years =
        ((year - 1) - 1968) / 4 - ((year - 1) - 1900) / 100 + ((year - 1) - 1600) / 400;
    let days = (year - 1970) * 365 + leap_years + ydays;
    let secs = days * 86400 + hour * 3600 + minute * 60 + second;
    Some(Duration::new(secs, (millis * 1_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next value of a seeded xorshift generator.
    fn next(x: &mut u64) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }

    fn general(field: &str) -> Option<f64> {
        field.trim().parse::<f64>().ok()
    }

    #[test]
    fn numbers_are_what_the_general_parser_makes_of_them() {
        let cases = [
            "0",
            "7",
            "123456789",
            "0.000",
            "12.345",
            "86399.999",
            "1.5",
            "999999999999999",
            "9999999999999999",
            "18446744073709551615",
            "12.",
            ".5",
            "-1",
            "+1",
            "1e9",
            " 42",
            "4 2",
            "",
            ".",
            "1.2.3",
            "NaN",
            "inf",
            "0.1",
            "0.3",
            "2.675",
            "1.0000000000001",
        ];
        for c in cases {
            assert_eq!(
                number(c.as_bytes()).map(f64::to_bits),
                general(c).map(f64::to_bits),
                "{c:?}"
            );
        }
    }

    #[test]
    fn seeded_decimals_are_what_the_general_parser_makes_of_them() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            next(&mut x);
            let int = x % 10u64.pow((x >> 60) as u32 % 12 + 1);
            let frac_digits = (x >> 40) as usize % 5;
            let s = if frac_digits == 0 {
                int.to_string()
            } else {
                let f = (x >> 20) % 10u64.pow(frac_digits as u32);
                format!("{int}.{f:0frac_digits$}")
            };
            assert_eq!(
                number(s.as_bytes()).map(f64::to_bits),
                general(&s).map(f64::to_bits),
                "{s}"
            );
        }
    }

    #[test]
    fn seeded_fields_of_any_bytes_are_what_the_general_parser_makes_of_them() {
        let alphabet: &[u8] = b"0123456789012345678901234567890123456789..,,-+e /:\xfa\xff\x00\x7f";
        let mut x: u64 = 0xDEAD_BEEF_1234_5678;
        for _ in 0..300_000 {
            next(&mut x);
            let len = (x % 24) as usize;
            let field: Vec<u8> = (0..len)
                .map(|j| alphabet[((x >> (j * 2 % 60)) as usize + j * 7) % alphabet.len()])
                .collect();
            let want = std::str::from_utf8(&field)
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok());
            assert_eq!(
                number(&field).map(f64::to_bits),
                want.map(f64::to_bits),
                "{field:?}"
            );
            let mut line = field.clone();
            line.extend_from_slice(b",9");
            if let Some((v, end)) = decimal_at(&line, 0).filter(|_| !field.contains(&b',')) {
                assert_eq!(end, field.len(), "{field:?}");
                assert_eq!(Some(v.to_bits()), want.map(f64::to_bits), "{field:?}");
            }
        }
    }

    #[test]
    fn timestamps_are_what_the_general_parser_makes_of_them() {
        let slow = |s: &str| super::super::parse_timestamp(s);
        let cases = [
            "2024-05-01T12:00:00.250Z",
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "2023-02-29T00:00:00.000Z",
            "2100-02-29T00:00:00.000Z",
            "2000-02-29T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "2024-13-01T00:00:00.000Z",
            "2024-00-01T00:00:00.000Z",
            "2024-04-31T00:00:00.000Z",
            "2024-05-01T24:00:00.000Z",
            "2024-05-01T12:60:00.000Z",
            "2024-05-01T12:00:60.000Z",
            "2024-05-01 12:00:00.250Z",
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.25Z",
            "2024-05-01T12:00:00.250",
            "2024-05-01T12:00:00.2a0Z",
            "9999-12-31T23:59:59.999Z",
            " 2024-05-01T12:00:00.250Z",
        ];
        for c in cases {
            assert_eq!(
                timestamp(c.as_bytes()).map(f64::to_bits),
                slow(c).map(f64::to_bits),
                "{c}"
            );
        }
        let mut x: u64 = 12345;
        for _ in 0..100_000 {
            next(&mut x);
            let s = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                1960 + x % 300,
                (x >> 9) % 14,
                (x >> 13) % 33,
                (x >> 19) % 25,
                (x >> 24) % 61,
                (x >> 30) % 61,
                (x >> 36) % 1000
            );
            assert_eq!(
                timestamp(s.as_bytes()).map(f64::to_bits),
                slow(&s).map(f64::to_bits),
                "{s}"
            );
        }
    }
}
