//! Parsing of sizes (`500M`, `2GiB`) and times (RFC 3339 or an age such as `2h`) for flags.

use chrono::{DateTime, Utc};

/// A point in time given on the command line, resolved against "now" when parsed.
pub(crate) type TimeBound = DateTime<Utc>;

/// `123`, `64K`, `500M`, `2G`, `1GiB`, `10MB`: binary multiples (K = 1024).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let trimmed = upper.trim_end_matches('B').trim_end_matches('I');
    let (num, unit) = trimmed.split_at(
        trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len()),
    );
    let mult: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}` is not a size; use e.g. 500M or 2G")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{text}` is not a size; use e.g. 500M or 2G"))
}

/// RFC 3339 (`2026-01-01T10:00:00Z`) or an age before now (`2h`, `90m`, `7d`, `1h 30m`).
pub(crate) fn parse_time(text: &str) -> Result<TimeBound, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let age = humantime::parse_duration(text.trim()).map_err(|_| {
        format!("`{text}` is neither RFC 3339 (2026-01-01T10:00:00Z) nor an age (2h, 30m, 7d)")
    })?;
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| format!("`{text}` is too far back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("10mb"), Ok(10 << 20));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn times() {
        let t = parse_time("2021-06-23T03:52:24Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2021-06-23T03:52:24+00:00");
        let age = Utc::now() - parse_time("2h").unwrap();
        assert!((age.num_seconds() - 7200).abs() < 5);
        assert!(parse_time("yesterday").is_err());
        for far in ["300000y", "99999999999999d", "18446744073709551615s"] {
            assert!(parse_time(far).is_err(), "{far}");
        }
    }
}
