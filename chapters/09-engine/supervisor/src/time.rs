//! The json-file log's `time` field: Go's `time.RFC3339Nano` in UTC,
//! written without a calendar crate or an allocator.

/// Days since 1970-01-01 -> (year, month, day); Howard Hinnant's
/// `civil_from_days`. The shim's `timefmt` (`docker logs -t`) and the
/// engine's human-readable times use it too: the calendar is written once.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) -> days since 1970-01-01; Hinnant's `days_from_civil`,
/// the inverse of [`civil_from_days`] (the shim reads `--since` dates with it).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The longest text [`rfc3339_nano`] writes: a year of up to 12 digits and
/// a sign, then `-MM-DDTHH:MM:SS.NNNNNNNNNZ`.
pub const RFC3339_MAX: usize = 13 + 26;

/// Writes `secs.nanos` after the epoch as the json-file `time` field has it
/// (`2019-01-01T11:11:11.1Z`: trailing zeros of the fraction dropped, no
/// fraction at all on a whole second) into `out`; returns the length.
pub fn rfc3339_nano(secs: i64, nanos: u32, out: &mut [u8; RFC3339_MAX]) -> usize {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut w = Writer { out, len: 0 };
    // As Rust's `{y:04}`: at least four characters, a sign included.
    if y < 0 {
        w.push(b'-');
        w.number(y.unsigned_abs(), 3);
    } else {
        w.number(y as u64, 4);
    }
    for (sep, value) in [
        (b'-', u64::from(mo)),
        (b'-', u64::from(d)),
        (b'T', (s / 3600) as u64),
        (b':', (s / 60 % 60) as u64),
        (b':', (s % 60) as u64),
    ] {
        w.push(sep);
        w.number(value, 2);
    }
    if nanos != 0 {
        let mut digits = 9;
        let mut frac = nanos;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        w.push(b'.');
        w.number(u64::from(frac), digits);
    }
    w.push(b'Z');
    w.len
}

/// Appends to a fixed buffer.
struct Writer<'a> {
    out: &'a mut [u8; RFC3339_MAX],
    len: usize,
}

impl Writer<'_> {
    fn push(&mut self, b: u8) {
        self.out[self.len] = b;
        self.len += 1;
    }

    /// `value` in decimal, zero-padded to `width` digits.
    fn number(&mut self, mut value: u64, width: usize) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        while value > 0 || n < width {
            digits[n] = b'0' + (value % 10) as u8;
            value /= 10;
            n += 1;
        }
        for &digit in digits[..n].iter().rev() {
            self.push(digit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(secs: i64, nanos: u32) -> String {
        let mut out = [0u8; RFC3339_MAX];
        let n = rfc3339_nano(secs, nanos, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn formats_like_go() {
        // 2019-01-01T11:11:11Z is 1546341071.
        assert_eq!(
            format(1_546_341_071, 111_111_111),
            "2019-01-01T11:11:11.111111111Z"
        );
        assert_eq!(format(1_546_341_071, 100_000_000), "2019-01-01T11:11:11.1Z");
        assert_eq!(format(1_546_341_071, 0), "2019-01-01T11:11:11Z");
        assert_eq!(format(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(format(0, 500_000_000), "1970-01-01T00:00:00.5Z");
        assert_eq!(format(0, 1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(format(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(format(4_102_444_800, 120), "2100-01-01T00:00:00.00000012Z");
        assert_eq!(format(-62_198_755_200, 0), "-001-01-01T00:00:00Z");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(47_482), (2100, 1, 1));
        for (days, date) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (11_016, (2000, 2, 29)),
        ] {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days);
        }
        // Each the other's inverse, over some 3,000 years either side.
        for days in (-1_100_000..1_100_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
