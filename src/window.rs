//! `--since/--until` on log lines. EMG writes UTC ISO-8601 timestamps (`toISOString()`), which
//! sort as text, so the current format is compared byte-wise with no parsing; the 2.x format
//! starts with epoch milliseconds. Lines without a timestamp (stack traces) follow their record.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

pub(crate) struct TimeWindow {
    since: Option<(String, i64)>,
    until: Option<(String, i64)>,
}

impl TimeWindow {
    pub(crate) fn new(since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Self {
        let bound = |t: DateTime<Utc>| {
            (
                t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                t.timestamp_millis(),
            )
        };
        TimeWindow {
            since: since.map(bound),
            until: until.map(bound),
        }
    }

    /// True when no bound is set: every line is kept.
    pub(crate) fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// A file last written before `--since` holds no line inside the window.
    pub(crate) fn older_than_since(&self, modified: SystemTime) -> bool {
        let Some((_, since_ms)) = &self.since else {
            return false;
        };
        let modified_ms = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        modified_ms < *since_ms
    }

    /// `Some(keep)` for a line that starts with a timestamp, `None` for one that does not.
    pub(crate) fn keeps(&self, line: &[u8]) -> Option<bool> {
        if self.is_open() {
            return Some(true);
        }
        if line.len() >= 19
            && line[4] == b'-'
            && line[10] == b'T'
            && line[..4].iter().all(u8::is_ascii_digit)
        {
            let ts = &line[..19];
            let after_since = self.since.as_ref().is_none_or(|(s, _)| ts >= s.as_bytes());
            let before_until = self.until.as_ref().is_none_or(|(u, _)| ts <= u.as_bytes());
            return Some(after_since && before_until);
        }
        // 2.x format: `<epoch ms> <level> …`
        let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 13 && line.get(13) == Some(&b' ') {
            let ms: i64 = std::str::from_utf8(&line[..13]).ok()?.parse().ok()?;
            let after_since = self.since.as_ref().is_none_or(|(_, s)| ms >= *s);
            let before_until = self.until.as_ref().is_none_or(|(_, u)| ms <= *u);
            return Some(after_since && before_until);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn both_formats_and_continuation_lines() {
        let w = TimeWindow::new(
            Some(at("2021-06-23T03:00:00Z")),
            Some(at("2021-06-23T04:00:00Z")),
        );
        assert_eq!(
            w.keeps(b"2021-06-23T03:52:24.110Z [error][0:8000]"),
            Some(true)
        );
        assert_eq!(w.keeps(b"2021-06-23T02:59:59.999Z [error]"), Some(false));
        assert_eq!(w.keeps(b"2021-06-23T04:00:01.000Z info 1 x"), Some(false));
        assert_eq!(
            w.keeps(b"    at Socket.socketOnEnd (node:_http_client:1)"),
            None
        );
        let ms = at("2021-06-23T03:30:00Z").timestamp_millis();
        assert_eq!(
            w.keeps(format!("{ms} info targetRequest m=GET").as_bytes()),
            Some(true)
        );
        assert_eq!(w.keeps(b"1000000000000 info old"), Some(false));
        assert!(TimeWindow::new(None, None).is_open());
    }
}
