//! EMG's log records, parsed in one place for the redactor (the clientId by position) and the
//! triage (every field): the 3.x event record, the 2.x `<epoch ms> <level> k=v` record, and
//! either behind a transport's prefix (docker, kubectl, journald) or after a torn record.
//!
//! The event record is `<time> [level][host][pid][org][env][url][clientIP][clientId][corr]
//! [component][message][method][status][errMessage][errCode][ms]` (microgateway-core's
//! lib/logging.js, 3.0.2 on). Fields are separated by `][`. A field may hold `]` (a host `[::1]:8000`) and the URL may even
//! hold `][` (`?a[x][y]=1`): the five fields before the URL are counted from the left, the ten
//! after it from the right, and the URL is what lies between.

/// Fields of an event record, the time not included.
pub(crate) const FIELDS: usize = 16;
/// Field numbers (0-based) the consumers name.
pub(crate) const HOST: usize = 1;
pub(crate) const URL: usize = 5;
pub(crate) const CLIENT_IP: usize = 6;
pub(crate) const CLIENT_ID: usize = 7;
pub(crate) const CORRELATION: usize = 8;

/// Where each part of one record lies in its line (byte ranges, end excluded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRecord {
    pub(crate) time: (usize, usize),
    pub(crate) fields: [(usize, usize); FIELDS],
    /// Exactly fifteen separators: no field needed the counting from both ends. Only such a
    /// record is trusted to place the clientId by position.
    pub(crate) exact: bool,
}

/// The record that makes up `line` from its first byte (a line ending may follow), or `None`
/// when the line does not read as one whole event record.
pub(crate) fn event_record(line: &[u8]) -> Option<EventRecord> {
    let text_end = line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    let text = &line[..text_end];
    if !text.first()?.is_ascii_digit() || text.last() != Some(&b']') {
        return None;
    }
    let space = memchr::memchr(b' ', text)?;
    if text.get(space + 1) != Some(&b'[') {
        return None;
    }
    let (start, end) = (space + 2, text_end - 1);
    let body = &text[start..end];
    let separator = |close: &usize| body.get(close + 1) == Some(&b'[');
    let mut left = [0usize; 5];
    let mut found = 0;
    for close in memchr::memchr_iter(b']', body).filter(separator) {
        left[found] = close;
        found += 1;
        if found == left.len() {
            break;
        }
    }
    if found < left.len() {
        return None;
    }
    let mut right = [0usize; 10];
    let mut found = 0;
    let mut total = 0;
    for close in memchr::memrchr_iter(b']', body).filter(separator) {
        if close <= left[4] {
            break;
        }
        total += 1;
        if found < right.len() {
            right[found] = close;
            found += 1;
        }
    }
    if found < right.len() {
        return None;
    }
    // Separator positions in order: the left five, then the right ten (found last first).
    let mut seps = [0usize; FIELDS - 1];
    seps[..5].copy_from_slice(&left);
    for (i, close) in right.iter().rev().enumerate() {
        seps[5 + i] = *close;
    }
    let mut fields = [(0, 0); FIELDS];
    let mut from = 0;
    for (i, field) in fields.iter_mut().enumerate() {
        let to = seps.get(i).copied().unwrap_or(body.len());
        *field = (start + from, start + to);
        from = to + 2;
    }
    let exact = total == right.len();
    // Counted from both ends, the URL must still be one: a request target holds no space, and
    // a space there is a second record spliced after a torn one (`…[e][torn2026-… [error]…`).
    let (url_from, url_to) = fields[URL];
    if !exact && memchr::memchr(b' ', &line[url_from..url_to]).is_some() {
        return None;
    }
    Some(EventRecord {
        time: (0, space),
        fields,
        exact,
    })
}

/// One record's fields, whichever format it came in.
pub(crate) struct Record<'a> {
    pub(crate) time: &'a str,
    pub(crate) millis: Option<i64>,
    /// The worker (each has its own pool of target sockets); empty when not logged.
    pub(crate) pid: &'a str,
    /// How long the request took (ms), when logged.
    pub(crate) taken_ms: Option<i64>,
    pub(crate) target: Option<&'a str>,
    pub(crate) proxy: &'a str,
    pub(crate) corr: &'a str,
    /// The client's `address:port` (2.x `r=`), to find a 2.x status record's request.
    pub(crate) client: &'a str,
    pub(crate) message: &'a str,
    pub(crate) status: &'a str,
    pub(crate) err: &'a str,
    pub(crate) code: &'a str,
}

/// A record in any format EMG writes: the 3.x event record, the 2.x `<epoch ms> <level> k=v`
/// record, or either behind a transport's prefix or after a torn record.
pub(crate) fn read(text: &str) -> Option<Record<'_>> {
    event(text)
        .or_else(|| legacy(text))
        .or_else(|| framed(text))
}

/// An event record (`crate::record`, the parser the redactor shares), whatever brackets its URL
/// holds.
fn event(text: &str) -> Option<Record<'_>> {
    let r = event_record(text.as_bytes())?;
    // The parser splits at ASCII brackets only, so every span lies on character boundaries.
    let f = |i: usize| text.get(r.fields[i].0..r.fields[i].1).unwrap_or("");
    let time = text.get(r.time.0..r.time.1)?;
    let target = f(10).starts_with("target").then(|| f(HOST));
    Some(Record {
        client: "",
        time,
        millis: iso_millis(time),
        pid: f(2),
        taken_ms: f(15).parse().ok(),
        target,
        proxy: f(5),
        corr: f(8),
        message: f(10),
        status: f(12),
        err: f(13),
        code: f(14),
    })
}

static ISO_THEN_FIELDS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("Z ["));

/// A record behind a prefix its transport added (`svc_1  | ` from docker compose, a `kubectl
/// logs --timestamps` time, journald's `Mon DD HH:MM:SS host edgemicro[pid]: `, a CR or NUL
/// padding), or the whole record after a torn one on the same line: found by its own grammar,
/// an ISO time right before the fields, a 13-digit epoch before a level word, or a level word
/// right after the prefix.
pub(crate) fn framed(text: &str) -> Option<Record<'_>> {
    for z in ISO_THEN_FIELDS.find_iter(text.as_bytes()) {
        let Some(start) = z.checked_sub(23) else {
            continue;
        };
        if let Some(rec) = text
            .get(start..)
            .filter(|t| t.get(..24).and_then(iso_millis).is_some())
            .and_then(event)
        {
            return Some(rec);
        }
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    while at + 14 < bytes.len() {
        let digits = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        // A whole run of 13 digits (runs are skipped whole, so none precedes it).
        if digits == 13 {
            let rest = &text[at + 14..];
            let level = rest.split(' ').next().unwrap_or("");
            if is_level(level) {
                return legacy(&text[at..]);
            }
        }
        at += digits.max(1);
        while at < bytes.len() && !text.is_char_boundary(at) {
            at += 1;
        }
    }
    // A 2.x console record without its epoch, after docker compose's `svc_1  | ` or journald's
    // `edgemicro[pid]: `.
    ["| ", ": "].iter().find_map(|sep| {
        let (_, after) = text.split_once(sep)?;
        legacy(after).filter(|r| r.millis.is_none())
    })
}

/// microgateway-core 2.x: `<epoch ms> <level> [text ]k=v, k=v`; errors carry `s=`, `message=`,
/// `code=` (then `stack=` running over several lines), requests `u=` and the target `h=`.
/// Core 2.5.13 and older drop the epoch when logging to the console: `<level> <text> k=v, …`,
/// read the same way, without a time.
pub(crate) fn legacy(text: &str) -> Option<Record<'_>> {
    let (first, rest) = text.split_once(' ')?;
    if first.len() == 13 && first.bytes().all(|b| b.is_ascii_digit()) {
        return legacy_fields(first, Some(first.parse().ok()?), rest);
    }
    // Without the epoch: a level word, then no pid (3.x plain records have one), then items.
    if !is_level(first) {
        return None;
    }
    let pid_next = rest
        .split(' ')
        .next()
        .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()));
    const ITEMS: [&str; 6] = ["m=", "u=", "h=", "i=", "s=", "code="];
    let has_items = rest.split(", ").any(|item| {
        ITEMS.iter().any(|k| {
            item.starts_with(k)
                || item
                    .match_indices(k)
                    .any(|(at, _)| item[..at].ends_with(' '))
        })
    });
    if has_items && !pid_next {
        return legacy_fields("", None, text);
    }
    None
}

fn is_level(word: &str) -> bool {
    matches!(
        word,
        "trace" | "debug" | "info" | "warn" | "error" | "fatal"
    )
}

/// The fields of a 2.x record from its level on.
fn legacy_fields<'a>(ms: &'a str, millis: Option<i64>, from_level: &'a str) -> Option<Record<'a>> {
    let (_level, rest) = from_level.split_once(' ')?;
    // `k=v` items are joined by ", "; the first may follow free text (`targetRequest m=GET`).
    let value = |key: &str| -> &str {
        let needle = format!("{key}=");
        rest.split(", ")
            .enumerate()
            .find_map(|(i, item)| match item.strip_prefix(&needle) {
                Some(v) => Some(v),
                None if i == 0 => item.split_once(&format!(" {needle}")).map(|(_, v)| v),
                None => None,
            })
            .unwrap_or("")
    };
    let message = if rest.starts_with("targetRequest error") {
        "targetRequest error"
    } else if rest.starts_with("targetResponse ") {
        "targetResponse"
    } else if rest.starts_with("targetRequest m=") {
        "targetRequest"
    } else if rest.starts_with("sourceRequest m=") {
        "sourceRequest"
    } else {
        ""
    };
    let host = value("h");
    Some(Record {
        client: value("r"),
        time: ms,
        millis,
        pid: "",
        taken_ms: value("d").parse().ok(),
        target: (!host.is_empty() && message.starts_with("target")).then_some(host),
        proxy: value("u").trim_start_matches('/'),
        corr: value("i"),
        message,
        status: value("s"),
        err: value("message"),
        code: value("code"),
    })
}

/// `2021-06-23T03:52:24.110Z` (what `toISOString()` writes) to epoch ms without a date library
/// on the hot path; anything else goes through chrono.
pub(crate) fn iso_millis(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + (d - b'0') as i64)
        })
    };
    if b.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z' {
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
        let secs = days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
        return Some(secs * 1000 + num(20..23)?);
    }
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> Option<(String, Vec<String>, bool)> {
        let r = event_record(line.as_bytes())?;
        Some((
            line[r.time.0..r.time.1].to_string(),
            r.fields
                .iter()
                .map(|&(a, z)| line[a..z].to_string())
                .collect(),
            r.exact,
        ))
    }

    /// Many hosts, URLs and messages, with and without brackets: every field comes back as
    /// written, and only records whose fields hold no `][` are exact.
    #[test]
    fn every_field_comes_back_whatever_brackets_the_url_and_host_hold() {
        let hosts = [
            "127.0.0.1:8000",
            "[::1]:8000",
            "0:8000",
            "",
            "orders.internal:443",
        ];
        let urls = [
            "orders/v1",
            "orders?x[a]=1&y[]=2",
            "p/x?a[x][y]=1",
            "q?f=][&g=[[]]",
            "",
        ];
        let messages = [
            ("targetRequest error", "socket hang up"),
            ("", ""),
            ("m", "a [b] c"),
        ];
        for host in hosts {
            for url in urls {
                for (message, err) in messages {
                    let want = [
                        "error",
                        host,
                        "12",
                        "o",
                        "e",
                        url,
                        "::ffff:10.0.0.1",
                        "KEY123",
                        "f88e-d3d6",
                        "plugins-middleware",
                        message,
                        "GET",
                        "502",
                        err,
                        "ECONNRESET",
                        "5",
                    ];
                    let line = format!("2026-01-01T00:00:00.000Z [{}]\r\n", want.join("]["));
                    let (time, got, exact) = parts(&line).unwrap_or_else(|| panic!("{line}"));
                    assert_eq!(time, "2026-01-01T00:00:00.000Z");
                    assert_eq!(got, want, "{line}");
                    assert_eq!(exact, !url.contains("]["), "{line}");
                }
            }
        }
    }

    #[test]
    fn lines_that_are_not_one_whole_record_are_not_read_as_one() {
        for line in [
            "2021-06-23T03:52:24.110Z info 7928 worker 1 is online",
            "[info][a]",
            "x 2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][][]",
            "2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][]",
            "2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][][] tail",
            // A torn record, then a whole one: not one record with a long URL.
            "2026-01-01T00:00:00.000Z [error][0:8000][3][o][e][torn2026-01-01T00:00:00.001Z [error][h:1][3][o][e][u][1.2.3.4][][c][m][x][GET][502][][][]",
            "",
        ] {
            assert!(event_record(line.as_bytes()).is_none(), "{line}");
        }
    }
}
