//! Human units: parsing sizes and rates from the command line, and formatting
//! bytes, rates and durations for people.

use std::time::Duration;

/// Parses a size such as `2GiB`, `512 KiB`, `10KB`, `1.5M` or `4096` into bytes.
///
/// Binary prefixes (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024; decimal ones
/// (`KB`, `MB`, `GB`, `TB`) are powers of 1000. A bare `K`/`M`/`G`/`T` means the
/// binary unit, as `ps` and `free` use it. A bare number is bytes.
pub fn parse_size(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num = num.replace('_', "");
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size; write e.g. 512KiB, 10MB or 2GiB"))?;
    let mult = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "k" | "KiB" | "kiB" => 1024.0,
        "KB" | "kB" | "kb" => 1e3,
        "M" | "m" | "MiB" => 1024.0 * 1024.0,
        "MB" | "mb" => 1e6,
        "G" | "g" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "GB" | "gb" => 1e9,
        "T" | "t" | "TiB" => 1024f64.powi(4),
        "TB" | "tb" => 1e12,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{text}'; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB"
            ));
        }
    };
    if !value.is_finite() {
        return Err(format!("'{text}' is not a finite size"));
    }
    Ok(value * mult)
}

/// Parses a rate such as `1MiB/h`, `10KB/s` or `512KiB/min` into bytes per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (size, per) = text.split_once('/').ok_or_else(|| {
        format!(
            "'{text}' is not a rate; write a size per time unit, e.g. 1MiB/h, 10KB/s or 512KiB/min"
        )
    })?;
    let bytes = parse_size(size)?;
    let secs = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hr" | "hour" => 3600.0,
        "d" | "day" => 86400.0,
        other => {
            return Err(format!(
                "unknown time unit '{other}' in rate '{text}'; use s, min, h or day"
            ));
        }
    };
    Ok(bytes / secs)
}

/// Parses a humantime duration (`90s`, `5m`, `500ms`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("'{text}' is not a duration ({e}); write e.g. 500ms, 1s, 90s, 5m or 1h")
    })
}

/// Formats a byte count with a binary unit: `512 B`, `1.5 KiB`, `230.4 MiB`, `2.00 GiB`.
pub fn format_bytes(bytes: f64) -> String {
    let sign = if bytes < 0.0 { "-" } else { "" };
    let b = bytes.abs();
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{sign}{v:.0} B")
    } else if v >= 100.0 {
        format!("{sign}{v:.0} {}", UNITS[i])
    } else if v >= 10.0 {
        format!("{sign}{v:.1} {}", UNITS[i])
    } else {
        format!("{sign}{v:.2} {}", UNITS[i])
    }
}

/// What a series counts: bytes, or things (file descriptors, threads);
/// in JSON, `bytes` or `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantity {
    #[default]
    /// Sizes in bytes, shown in binary units.
    Bytes,
    /// Plain counts.
    Count,
}

impl Quantity {
    /// `Bytes` when `bytes`, else `Count`.
    pub fn of(bytes: bool) -> Quantity {
        if bytes {
            Quantity::Bytes
        } else {
            Quantity::Count
        }
    }

    /// The unit's name in JSON: `bytes` or `count`.
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::Bytes => "bytes",
            Quantity::Count => "count",
        }
    }

    /// Formats a value: bytes in binary units (`1.50 KiB`), counts plain (`37`, `0.6`).
    pub fn value(self, v: f64) -> String {
        match self {
            Quantity::Bytes => format_bytes(v),
            Quantity::Count if v.abs() >= 100.0 || v.fract() == 0.0 => format!("{v:.0}"),
            Quantity::Count => format!("{v:.1}"),
        }
    }

    /// Formats a rate per second as a signed amount per `unit` (`s`, `min`,
    /// `h`, else a day), e.g. `+12.0 MiB/h` or `+120/min`.
    pub fn rate(self, per_s: f64, unit: &str) -> String {
        let per = match unit {
            "s" => 1.0,
            "min" => 60.0,
            "h" => 3600.0,
            _ => 86400.0,
        };
        let v = per_s * per;
        let sign = if v >= 0.0 { "+" } else { "" };
        format!("{sign}{}/{unit}", self.value(v))
    }
}

/// Formats seconds as a short human duration: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub fn format_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "forever".into();
    }
    let s = secs.max(0.0);
    if s < 10.0 {
        let r = (s * 10.0).round() / 10.0;
        return format!("{r}s");
    }
    let s = s.round() as u64;
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// Formats seconds as [`format_secs`] does, but keeps the tenths of a
/// second a span under an hour has (`19.5s`, `9m 59.5s`), so that a window
/// from `0.5s` to `20s` reads as lasting `19.5s`, not a rounded `20s`.
pub fn format_span(secs: f64) -> String {
    let s = secs.max(0.0);
    let tenths = (s * 10.0).round() / 10.0;
    if !(10.0..3600.0).contains(&s) || tenths.fract() == 0.0 {
        return format_secs(s);
    }
    let m = (tenths / 60.0).floor();
    let sec = tenths - m * 60.0;
    if m > 0.0 {
        format!("{m}m {sec:.1}s")
    } else {
        format!("{sec:.1}s")
    }
}

/// A command line as a table shows it, in at most `max` characters: the
/// program's base name and its arguments (`python3 server.py --mode leak`
/// for `/usr/bin/python3 server.py --mode leak`), cut in the middle so both
/// the program and the last arguments, which tell processes apart, stay:
/// the program's name whole (with the first whole arguments that fit in a
/// third of `max`), and the rest of the room for the end (`python3 …
/// --mode leak`).
pub fn short_command(command: &str, max: usize) -> String {
    let (program, args) = command.split_once(' ').unwrap_or((command, ""));
    let base = program
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(program);
    let shown = if args.is_empty() {
        base.to_string()
    } else {
        format!("{base} {args}")
    };
    let n = shown.chars().count();
    // "python3 " whole, and at least as much room left for the end.
    let head = (base.chars().count() + 1).max(max.saturating_sub(1) / 3);
    if n <= max || args.is_empty() || 2 * head + 1 > max {
        return cut_middle(&shown, max);
    }
    // The first arguments only whole: a word cut short gives its room to the end.
    let mut s: String = shown.chars().take(head).collect();
    if let Some(i) = s.rfind(' ') {
        s.truncate(i + 1);
    }
    let tail = max - 1 - s.chars().count();
    s.push('…');
    s.extend(shown.chars().skip(n - tail));
    s
}

/// `text` in at most `max` characters: whole, or its start and end with `…`
/// between them.
pub fn cut_middle(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut s: String = text.chars().take(head).collect();
    s.push('…');
    s.extend(text.chars().skip(n - tail));
    s
}

/// `text` quoted for a one-line message: escaped (no control characters or
/// newlines) and cut to about 80 characters.
pub fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::from("'");
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('\'');
    out
}

/// A message of several lines whose every part was escaped already
/// (with [`quoted`]): its newlines are its own, printed as they are.
#[derive(Debug)]
pub struct Escaped(pub String);

impl std::fmt::Display for Escaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Escaped {}

/// `text` with every control character (newline, ESC, …) escaped as
/// `\n`, `\u{1b}`: safe to print on a terminal as one line.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\x1b[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(escape_controls("plain ü"), "plain ü");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096.0);
        assert_eq!(parse_size("2GiB").unwrap(), 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(parse_size("10KB").unwrap(), 10_000.0);
        assert_eq!(parse_size("1.5 MiB").unwrap(), 1.5 * 1048576.0);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1MiB/h").unwrap(), 1048576.0 / 3600.0);
        assert_eq!(parse_rate("10KB/s").unwrap(), 10_000.0);
        assert_eq!(parse_rate("512KiB/min").unwrap(), 512.0 * 1024.0 / 60.0);
        assert!(parse_rate("10KB").is_err());
        assert!(parse_rate("10KB/fortnight").is_err());
    }

    #[test]
    fn quoting_is_bounded_and_escaped() {
        assert_eq!(quoted("a\nb"), "'a\\nb'");
        assert_eq!(quoted(&"x".repeat(1000)).chars().count(), 83);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1536.0), "1.50 KiB");
        assert_eq!(format_bytes(230.4 * 1048576.0), "230 MiB");
        assert_eq!(
            Quantity::Bytes.rate(1048576.0 / 60.0, "min"),
            "+1.00 MiB/min"
        );
        assert_eq!(Quantity::Count.rate(2.0, "min"), "+120/min");
        assert_eq!(Quantity::Count.rate(0.01, "min"), "+0.6/min");
        assert_eq!(Quantity::Count.value(37.0), "37");
        assert_eq!(format_secs(3725.0), "1h 2m");
        assert_eq!(format_secs(65.0), "1m 5s");
        assert_eq!(format_span(19.5), "19.5s");
        assert_eq!(format_span(20.0), "20s");
        assert_eq!(format_span(599.5), "9m 59.5s");
        assert_eq!(format_span(0.5), "0.5s");
        assert_eq!(format_span(20.04), "20s");
        assert_eq!(format_span(7200.5), "2h 0m");
    }

    #[test]
    fn commands_keep_their_program_and_last_arguments() {
        let cmd = "/root/.pyenv/versions/3.11.7/bin/python3 examples/leaky_server.py --mode leak";
        assert_eq!(
            short_command(cmd, 80),
            "python3 examples/leaky_server.py --mode leak"
        );
        // The program whole, and what tells it apart whole: the end.
        assert_eq!(short_command(cmd, 21), "python3 … --mode leak");
        let long = "/usr/bin/python3 /srv/app/examples/leaky_server.py --mode leak --load 40";
        assert_eq!(short_command(long, 24), "python3 … leak --load 40");
        assert_eq!(short_command(long, 31), "python3 … --mode leak --load 40");
        // A program name too long to keep whole: cut in the middle.
        assert_eq!(short_command("/x/averyveryverylongname -v", 9), "aver…e -v");
        assert_eq!(short_command("[kthreadd]", 20), "[kthreadd]");
        assert_eq!(short_command("/usr/bin/", 20), "bin");
        assert_eq!(cut_middle("abcdef", 1), "…");
        assert_eq!(cut_middle("abcdef", 0), "");
    }
}
