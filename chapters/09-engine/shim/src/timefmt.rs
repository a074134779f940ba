//! Times as docker reads and prints them, without a calendar crate: RFC 3339 in
//! UTC (the json-file `time` field, `logs -t`), Go durations (`--since 10m`) and
//! unix timestamps (`--since 1136073600.000000001`). The calendar itself, and the
//! `time` field as the log has it, are the supervisor program's
//! (`dockyard_supervisor::time`), which writes the log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dockyard_supervisor::time::{civil_from_days, days_from_civil};

/// Why a `--since`/`--until` value was refused, in docker's words.
#[derive(Debug, thiserror::Error)]
#[error("failed to parse value as time or duration: {value:?}")]
pub struct TimeError {
    /// The value as given.
    pub value: String,
}

/// Seconds and nanoseconds since the epoch, negative before it.
fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

fn from_parts(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nanos.into())
    }
}

fn date_time(t: SystemTime) -> (String, u32) {
    let (secs, nanos) = split(t);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        ),
        nanos,
    )
}

/// Docker's `RFC3339NanoFixed` in UTC, as `docker logs -t` prints it: always
/// nine digits, so the columns line up.
pub fn rfc3339_nano_fixed(t: SystemTime) -> String {
    let (base, nanos) = date_time(t);
    format!("{base}.{nanos:09}Z")
}

/// Parses the RFC 3339 forms docker accepts: a date, a date and hour, minutes,
/// seconds and a fraction, each with `Z` or an offset. Without a zone the time
/// is taken as UTC (docker takes it in the daemon's zone; the engine runs in UTC).
pub fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let (date, rest) = value.split_at_checked(10)?;
    let mut parts = date.split('-');
    let y: i64 = digits(parts.next()?, 4)?;
    let mo: u32 = digits(parts.next()?, 2)?;
    let d: u32 = digits(parts.next()?, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    // The zone: Z, +HH:MM or -HH:MM at the end.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if rest.len() >= 6 && matches!(rest.as_bytes()[rest.len() - 6], b'+' | b'-') {
        let (c, z) = rest.split_at(rest.len() - 6);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let h: i64 = digits(&z[1..3], 2)?;
        let m: i64 = digits(z.get(4..6)?, 2)?;
        (c, sign * (h * 3600 + m * 60))
    } else {
        (rest, 0)
    };
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut nanos = 0u32;
    if !clock.is_empty() {
        let clock = clock.strip_prefix(['T', 't'])?;
        let (hms, frac) = match clock.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (clock, None),
        };
        let fields: Vec<&str> = hms.split(':').collect();
        if fields.is_empty() || fields.len() > 3 {
            return None;
        }
        let mut scale = 3600;
        for field in &fields {
            let v: i64 = digits(field, 2)?;
            secs += v * scale;
            scale /= 60;
        }
        if let Some(frac) = frac {
            if fields.len() != 3 || frac.is_empty() || frac.len() > 9 {
                return None;
            }
            nanos = digits::<u32>(frac, frac.len())? * 10u32.pow(9 - frac.len() as u32);
        }
    }
    Some(from_parts(secs - offset, nanos))
}

fn digits<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a Go duration (`time.ParseDuration`): `300ms`, `1.5h`, `2h45m`,
/// optionally signed; returns nanoseconds.
pub fn parse_go_duration(value: &str) -> Option<i128> {
    let (sign, mut rest) = match value.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, value.strip_prefix('+').unwrap_or(value)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&e| e > 0)?;
        let number: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * unit;
        rest = &rest[unit_end..];
    }
    Some(sign * total as i128)
}

/// Parses `--since`/`--until` as docker does (`GetTimestamp`): a Go duration
/// back from `now` (`10m`), an RFC 3339 time, or a unix timestamp
/// (`1136073600` or `1136073600.000000001`).
pub fn parse_time(value: &str, now: SystemTime) -> Result<SystemTime, TimeError> {
    let err = || TimeError {
        value: value.to_string(),
    };
    if value != "0"
        && let Some(nanos) = parse_go_duration(value)
    {
        let (s, n) = split(now);
        let at = i128::from(s) * 1_000_000_000 + i128::from(n) - nanos;
        return Ok(from_parts(
            at.div_euclid(1_000_000_000) as i64,
            at.rem_euclid(1_000_000_000) as u32,
        ));
    }
    if let Some(t) = parse_rfc3339(value) {
        return Ok(t);
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().map_err(|_| err())?;
    let nanos = if frac.is_empty() {
        0
    } else {
        let frac = &frac[..frac.len().min(9)];
        digits::<u32>(frac, frac.len()).ok_or_else(err)? * 10u32.pow(9 - frac.len() as u32)
    };
    Ok(from_parts(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// The `time` field as the supervisor program writes it in the log.
    fn rfc3339_nano(t: SystemTime) -> String {
        use dockyard_supervisor::time;
        let (secs, nanos) = split(t);
        let mut out = [0u8; time::RFC3339_MAX];
        let n = time::rfc3339_nano(secs, nanos, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    /// What the log has (Go's `RFC3339Nano`) and what `logs -t` prints
    /// (docker's `RFC3339NanoFixed`) for the same times.
    #[test]
    fn formats_like_go() {
        // 2019-01-01T11:11:11Z is 1546341071.
        assert_eq!(
            rfc3339_nano(at(1_546_341_071, 111_111_111)),
            "2019-01-01T11:11:11.111111111Z"
        );
        assert_eq!(
            rfc3339_nano(at(1_546_341_071, 100_000_000)),
            "2019-01-01T11:11:11.1Z"
        );
        assert_eq!(rfc3339_nano(at(1_546_341_071, 0)), "2019-01-01T11:11:11Z");
        assert_eq!(
            rfc3339_nano_fixed(at(1_546_341_071, 100_000_000)),
            "2019-01-01T11:11:11.100000000Z"
        );
        assert_eq!(rfc3339_nano(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_what_docker_accepts() {
        let now = at(1_546_341_071, 0);
        let t = |v| parse_time(v, now).unwrap();
        assert_eq!(t("2019-01-01T11:11:11Z"), at(1_546_341_071, 0));
        assert_eq!(t("2019-01-01T11:11:11.5Z"), at(1_546_341_071, 500_000_000));
        assert_eq!(t("2019-01-01T12:11:11+01:00"), at(1_546_341_071, 0));
        assert_eq!(t("2019-01-01T11:11"), at(1_546_341_060, 0));
        assert_eq!(t("2019-01-01"), at(1_546_300_800, 0));
        assert_eq!(t("10m"), at(1_546_340_471, 0));
        assert_eq!(t("1h30m"), at(1_546_335_671, 0));
        assert_eq!(t("1.5s"), at(1_546_341_069, 500_000_000));
        assert_eq!(t("1136073600"), at(1_136_073_600, 0));
        assert_eq!(t("1136073600.000000001"), at(1_136_073_600, 1));
        assert_eq!(t("0"), UNIX_EPOCH);
        let err = parse_time("yesterday", now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert!(parse_time("2019-13-01", now).is_err());
        assert!(parse_time("10x", now).is_err());
    }

    /// What the supervisor program writes, the reader reads back.
    #[test]
    fn round_trips() {
        for secs in [0, 1, 86_399, 951_782_400, 4_102_444_800] {
            let t = at(secs, 123_456_789);
            assert_eq!(parse_rfc3339(&rfc3339_nano(t)), Some(t));
        }
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(rfc3339_nano(before), "1969-12-31T23:59:58.5Z");
        assert_eq!(parse_rfc3339(&rfc3339_nano(before)), Some(before));
    }
}
