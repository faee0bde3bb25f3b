//! Human forms of durations (`"10s"`, `"1m30s"`, `"250us"`) and sizes
//! (`"2MiB"`, `"64KiB"`, `"1GB"`).

use std::time::Duration;

/// Why a duration or size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// The text is empty.
    Empty,
    /// A number was expected at this byte offset.
    MissingNumber(usize),
    /// A unit was missing after the number ending at this byte offset.
    MissingUnit(usize),
    /// This unit is not known.
    UnknownUnit(String),
    /// The value does not fit.
    Overflow,
}

/// Duration units, longest spelling first so `ms` is not read as `m` + `s`.
const DURATION_UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The duration units, for error messages.
pub const DURATION_UNIT_NAMES: &str = "ns, us, ms, s, m, h";

/// Size units, matched case-sensitively.
const SIZE_UNITS: &[(&str, u128)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

/// The size units, for error messages.
pub const SIZE_UNIT_NAMES: &str = "B, KiB, MiB, GiB, KB, MB, GB";

/// Splits `"1m30s"` into `[(1, "m"), (30, "s")]`, with optional spaces between
/// a number and its unit, and a decimal fraction on any number.
fn split_terms(text: &str) -> Result<Vec<(u128, u128, &str)>, UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let bytes = text.as_bytes();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(UnitError::MissingNumber(start));
        }
        let whole: u128 = text[start..i].parse().map_err(|_| UnitError::Overflow)?;
        // Fraction, kept as numerator/denominator to stay exact.
        let mut frac_num = 0u128;
        let mut frac_den = 1u128;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fstart = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == fstart || i - fstart > 9 {
                return Err(UnitError::MissingNumber(fstart));
            }
            frac_num = text[fstart..i].parse().map_err(|_| UnitError::Overflow)?;
            frac_den = 10u128.pow((i - fstart) as u32);
        }
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b' ' {
            i += 1;
        }
        if i == ustart {
            return Err(UnitError::MissingUnit(ustart));
        }
        let unit = &text[ustart..i];
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let numerator = whole
            .checked_mul(frac_den)
            .and_then(|w| w.checked_add(frac_num))
            .ok_or(UnitError::Overflow)?;
        terms.push((numerator, frac_den, unit));
    }
    Ok(terms)
}

fn sum_terms(text: &str, units: &[(&str, u128)]) -> Result<u128, UnitError> {
    let mut total: u128 = 0;
    for (numerator, denominator, unit) in split_terms(text)? {
        let scale = units
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| UnitError::UnknownUnit(unit.to_owned()))?;
        let value = numerator.checked_mul(scale).ok_or(UnitError::Overflow)? / denominator;
        total = total.checked_add(value).ok_or(UnitError::Overflow)?;
    }
    Ok(total)
}

/// Parses a duration such as `"10s"`, `"1ms"`, `"1m30s"` or `"0.5s"`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let nanos = sum_terms(text, DURATION_UNITS)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| UnitError::Overflow)?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Parses a size such as `"2MiB"`, `"64 KiB"` or `"4096B"`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    u64::try_from(sum_terms(text, SIZE_UNITS)?).map_err(|_| UnitError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 10 ms "), Ok(Duration::from_millis(10)));
    }

    #[test]
    fn bad_durations() {
        assert_eq!(parse_duration(""), Err(UnitError::Empty));
        assert_eq!(parse_duration("10"), Err(UnitError::MissingUnit(2)));
        assert_eq!(parse_duration("s"), Err(UnitError::MissingNumber(0)));
        assert_eq!(
            parse_duration("1 fortnight"),
            Err(UnitError::UnknownUnit("fortnight".into()))
        );
        assert_eq!(
            parse_duration("10S"),
            Err(UnitError::UnknownUnit("S".into()))
        );
        assert_eq!(
            parse_duration("99999999999999999999999999999999999999999h"),
            Err(UnitError::Overflow)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("2mb"), Err(UnitError::UnknownUnit("mb".into())));
    }
}
