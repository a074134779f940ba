//! Times and sizes as docker prints them: "3 seconds ago", "4.26MB",
//! "2026-11-22T23:58:17.123456789Z" (docker's CLI uses the go-units package;
//! these are its rules, written out).

use std::time::{SystemTime, UNIX_EPOCH};

use dockyard_shim::{civil_from_days, days_from_civil};

/// Now, in seconds and nanoseconds since the Unix epoch.
pub fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

/// go-units `HumanDuration`: "Less than a second", "1 second", "3 minutes",
/// "About an hour", "2 days", ...
pub fn duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    // Hours are rounded, as Go's d.Round(time.Hour) does.
    let hours = (seconds + 1800) / 3600;
    match seconds {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// "3 seconds ago": how long before now `time` (epoch seconds) was.
pub fn ago(time: u64) -> String {
    format!("{} ago", duration(now().0.saturating_sub(time)))
}

/// go-units `HumanSizeWithPrecision`: decimal units, `precision` significant
/// digits (`docker images` uses 3: "4.26MB"; `system df` 4: "4.261MB").
pub fn size(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g(value, precision), UNITS[unit])
}

/// Go's `%.{precision}g`: `precision` significant digits, trailing zeros dropped,
/// an exponent only when the number needs one.
fn format_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let scientific = format!("{:.*e}", precision.saturating_sub(1), value);
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an e");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

fn split(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, mo, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// RFC 3339 with nanoseconds in UTC, as image configs and `inspect` write
/// times: `2026-11-22T23:58:17.123456789Z` (Go drops trailing zeros).
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    let (y, mo, d, h, mi, s) = split(secs);
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}Z")
}

/// The form `docker ps --format '{{.CreatedAt}}'` prints: `2026-11-22 23:58:17 +0000 UTC`.
pub fn go_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = split(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} +0000 UTC")
}

/// Seconds since the epoch of an RFC 3339 time (`Z` or a `+hh:mm` offset);
/// `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = text.get(19..)?;
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(59), "59 seconds");
        assert_eq!(duration(60), "About a minute");
        assert_eq!(duration(150), "2 minutes");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(3 * 3600), "3 hours");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(duration(30 * 86_400), "4 weeks");
        assert_eq!(duration(100 * 86_400), "3 months");
        assert_eq!(duration(800 * 86_400), "2 years");
    }

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(size(0, 3), "0B");
        assert_eq!(size(12, 3), "12B");
        assert_eq!(size(4_261_376, 3), "4.26MB");
        assert_eq!(size(4_261_376, 4), "4.261MB");
        assert_eq!(size(1_000, 3), "1kB");
        assert_eq!(size(999_999, 3), "1e+03kB");
        assert_eq!(size(2_048, 3), "2.05kB");
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_390_345, 5_000_000),
            "2026-11-22T23:32:25.005Z"
        );
        assert_eq!(go_time(1_795_390_345), "2026-11-22 23:32:25 +0000 UTC");
        assert_eq!(
            parse_rfc3339("2026-11-22T23:32:25.005Z"),
            Some(1_795_390_345)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T01:32:25+02:00"),
            Some(1_795_390_345)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
